use super::*;
use proptest::prelude::*;
use std::time::{Duration, SystemTime};

fn block(ssrc: u32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 64,
        cumulative_lost: 1234,
        highest_sequence: 0x0001_0010,
        jitter: 37,
        last_sr: 0xB705_2000,
        delay_since_last_sr: 0x0005_4000,
    }
}

fn compound() -> Vec<RtcpPacket> {
    vec![
        RtcpPacket::SenderReport(SenderReport {
            ssrc: 0xAAAA_0001,
            sender: SenderInfo {
                ntp: NtpTimestamp(0xE000_0000_8000_0000),
                rtp_timestamp: 160_000,
                packet_count: 1000,
                octet_count: 160_000,
            },
            reports: vec![block(1), block(2)],
        }),
        RtcpPacket::SourceDescription(vec![SdesChunk {
            ssrc: 0xAAAA_0001,
            cname: Some("parrot@192.0.2.1".into()),
        }]),
        RtcpPacket::Goodbye(Goodbye {
            sources: vec![0xAAAA_0001],
            reason: Some("bye".into()),
        }),
    ]
}

fn write(packets: &[RtcpPacket]) -> Vec<u8> {
    let mut out = Vec::new();
    write_compound(packets, &mut out).unwrap();
    out
}

#[test]
fn a_compound_packet_round_trips() {
    let bytes = write(&compound());
    // SR: 4 + 4 + 20 + 2·24; SDES: 4 + 4 + 2 + 16 + 2 nulls; BYE: 4 + 4
    // + 1 + 3.
    assert_eq!(bytes.len(), 76 + 28 + 12);
    assert_eq!(bytes[..4], [0x82, 200, 0, 18]);
    assert_eq!(bytes[76..80], [0x81, 202, 0, 6]);
    assert_eq!(bytes[104..108], [0x81, 203, 0, 2]);
    assert_eq!(parse_compound(&bytes).unwrap(), compound());
    // Appending after other bytes: the padding follows each packet, not
    // the vector.
    let mut out = vec![1, 2, 3];
    write_compound(&compound(), &mut out).unwrap();
    assert_eq!(out[3..], bytes[..]);
}

#[test]
fn parses_a_receiver_report_written_by_hand() {
    let bytes = [
        0x81, 201, 0, 7, // RR, one block, 8 words
        0, 0, 0, 9, // reporter
        0, 0, 0, 5, // source
        25, 0xFF, 0xFF, 0xFE, // 10 % lost, cumulative −2
        0, 2, 0xFF, 0xF0, // two cycles, highest 0xFFF0
        0, 0, 1, 0, // jitter 256
        0x12, 0x34, 0x56, 0x78, // LSR
        0, 1, 0, 0, // DLSR: 1 s
    ];
    let packets = parse_compound(&bytes).unwrap();
    let [RtcpPacket::ReceiverReport(rr)] = &packets[..] else {
        panic!("{packets:?}");
    };
    assert_eq!(rr.ssrc, 9);
    assert_eq!(
        rr.reports,
        [ReportBlock {
            ssrc: 5,
            fraction_lost: 25,
            cumulative_lost: -2,
            highest_sequence: 0x0002_FFF0,
            jitter: 256,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }]
    );
    assert_eq!(write(&packets), bytes);
}

#[test]
fn the_cumulative_loss_is_clamped_to_24_bits() {
    for (lost, wire) in [
        (10_000_000, 0x7F_FFFF),
        (-10_000_000, -0x80_0000),
        (-1, -1),
        (0x7F_FFFF, 0x7F_FFFF),
    ] {
        let rr = RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock {
                cumulative_lost: lost,
                ..block(2)
            }],
        });
        let back = parse_compound(&write(&[rr])).unwrap();
        let RtcpPacket::ReceiverReport(rr) = &back[0] else {
            panic!();
        };
        assert_eq!(rr.reports[0].cumulative_lost, wire);
    }
}

#[test]
fn sdes_items_other_than_cname_are_skipped() {
    let mut sdes = vec![0x82, 202, 0, 0];
    // Chunk 1: NAME "Al", CNAME "a@h", TOOL "x", end, padding.
    sdes.extend_from_slice(&[0, 0, 0, 1, 2, 2, b'A', b'l', 1, 3, b'a', b'@', b'h']);
    sdes.extend_from_slice(&[6, 1, b'x', 0, 0, 0, 0]);
    // Chunk 2: no items at all: four nulls.
    sdes.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0]);
    let words = (sdes.len() / 4 - 1) as u8;
    sdes[3] = words;
    let mut bytes = vec![0x80, 201, 0, 1, 0, 0, 0, 1];
    bytes.extend_from_slice(&sdes);
    let packets = parse_compound(&bytes).unwrap();
    assert_eq!(
        packets[1],
        RtcpPacket::SourceDescription(vec![
            SdesChunk {
                ssrc: 1,
                cname: Some("a@h".into())
            },
            SdesChunk {
                ssrc: 2,
                cname: None
            },
        ])
    );
    // Invalid UTF-8 is replaced, not refused.
    let mut odd = bytes.clone();
    odd[8 + 4 + 4 + 2 + 2 + 2] = 0xFF;
    let RtcpPacket::SourceDescription(chunks) = &parse_compound(&odd).unwrap()[1] else {
        panic!();
    };
    assert_eq!(chunks[0].cname.as_deref(), Some("\u{FFFD}@h"));
}

#[test]
fn unknown_packet_types_are_stepped_over() {
    let mut bytes = write(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: 7,
        reports: vec![],
    })]);
    // APP with a name and 4 octets of data, then an RTPFB NACK.
    bytes.extend_from_slice(&[
        0x80, 204, 0, 3, 0, 0, 0, 7, b'P', b'R', b'O', b'T', 1, 2, 3, 4,
    ]);
    bytes.extend_from_slice(&[0x81, 205, 0, 3, 0, 0, 0, 7, 0, 0, 0, 9, 0, 10, 0, 0]);
    let packets = parse_compound(&bytes).unwrap();
    assert_eq!(packets.len(), 3);
    assert_eq!(
        packets[1],
        RtcpPacket::Other {
            packet_type: APP,
            count: 0,
            len: 16
        }
    );
    assert_eq!(packets[2].packet_type(), 205);
    let mut out = Vec::new();
    assert_eq!(
        write_compound(&packets, &mut out),
        Err(RtcpError::Unwritable(APP))
    );
    assert!(out.is_empty(), "nothing is left behind on error");
}

#[test]
fn the_validity_checks_of_a_2() {
    let rr = write(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: 7,
        reports: vec![],
    })]);
    let sdes = [0x81, 202, 0, 2, 0, 0, 0, 7, 0, 0, 0, 0];
    let with = |parts: &[&[u8]]| parse_compound(&parts.concat());
    assert_eq!(parse_compound(&[]), Err(RtcpError::TooShort));
    assert_eq!(with(&[&rr[..3]]), Err(RtcpError::TooShort));
    assert!(with(&[&rr, &sdes]).is_ok());
    // First packet neither SR nor RR.
    assert_eq!(with(&[&sdes, &rr]), Err(RtcpError::FirstNotReport(SDES)));
    // Version 1 anywhere.
    let mut v1 = sdes;
    v1[0] = 0x41;
    assert_eq!(with(&[&rr, &v1]), Err(RtcpError::BadVersion(1)));
    // Lengths: one past the datagram, or trailing octets.
    assert_eq!(with(&[&rr, &sdes[..8]]), Err(RtcpError::LengthMismatch));
    assert_eq!(with(&[&rr, &[0x81, 202]]), Err(RtcpError::LengthMismatch));
    assert_eq!(
        with(&[&rr, &[0x80, 202, 0, 0, 0]]),
        Err(RtcpError::LengthMismatch)
    );
    // Padding: on the last packet only, with a valid count.
    let mut padded_rr = rr.clone();
    padded_rr[0] |= 0x20;
    assert_eq!(with(&[&padded_rr, &sdes]), Err(RtcpError::PaddingNotLast));
    let padded_sdes = [0xA1, 202, 0, 3, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 4];
    assert!(with(&[&rr, &padded_sdes]).is_ok());
    let mut bad_count = padded_sdes;
    bad_count[15] = 0;
    assert_eq!(with(&[&rr, &bad_count]), Err(RtcpError::BadPadding));
    bad_count[15] = 13;
    assert_eq!(with(&[&rr, &bad_count]), Err(RtcpError::BadPadding));
    // Counts that do not fit the length.
    assert_eq!(
        with(&[&[0x81, 201, 0, 1, 0, 0, 0, 1]]),
        Err(RtcpError::Malformed(RR))
    );
    assert_eq!(
        with(&[&[0x80, 200, 0, 1, 0, 0, 0, 1]]),
        Err(RtcpError::Malformed(SR))
    );
    assert_eq!(
        with(&[&rr, &[0x82, 203, 0, 1, 0, 0, 0, 1]]),
        Err(RtcpError::Malformed(BYE))
    );
    // A BYE reason past the end; an SDES item past the end, or no null.
    assert_eq!(
        with(&[&rr, &[0x81, 203, 0, 2, 0, 0, 0, 1, 9, b'a', b'b', b'c']]),
        Err(RtcpError::Malformed(BYE))
    );
    assert_eq!(
        with(&[&rr, &[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', b'b']]),
        Err(RtcpError::Malformed(SDES))
    );
    assert_eq!(
        with(&[&rr, &[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b']]),
        Err(RtcpError::Malformed(SDES))
    );
    for e in [
        RtcpError::TooShort,
        RtcpError::Malformed(SR),
        RtcpError::TextTooLong,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn the_writer_refuses_what_the_wire_cannot_hold() {
    let rr = |n: usize| {
        RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 1,
            reports: (0..n as u32).map(block).collect(),
        })
    };
    let mut out = Vec::new();
    assert!(write_compound(&[rr(31)], &mut out).is_ok());
    assert_eq!(
        write_compound(&[rr(32)], &mut out),
        Err(RtcpError::TooManyItems)
    );
    assert_eq!(
        write_compound(&[], &mut out),
        Err(RtcpError::NotReportFirst)
    );
    let bye = RtcpPacket::Goodbye(Goodbye {
        sources: vec![1],
        reason: None,
    });
    assert_eq!(
        write_compound(std::slice::from_ref(&bye), &mut out),
        Err(RtcpError::NotReportFirst)
    );
    let long = RtcpPacket::SourceDescription(vec![SdesChunk {
        ssrc: 1,
        cname: Some("x".repeat(256)),
    }]);
    assert_eq!(
        write_compound(&[rr(0), long], &mut out),
        Err(RtcpError::TextTooLong)
    );
    let long_reason = RtcpPacket::Goodbye(Goodbye {
        sources: vec![1],
        reason: Some("x".repeat(300)),
    });
    assert_eq!(
        write_compound(&[rr(0), long_reason], &mut out),
        Err(RtcpError::TextTooLong)
    );
    // A BYE without a reason, and an empty RR, are fine.
    let bytes = write(&[rr(0), bye.clone()]);
    assert_eq!(parse_compound(&bytes).unwrap(), [rr(0), bye]);
}

#[test]
fn the_interval_follows_a_7() {
    let two_party = RtcpInterval {
        members: 2,
        senders: 2,
        rtcp_bandwidth: 500.0,
        we_sent: true,
        avg_rtcp_size: 100.0,
        initial: false,
    };
    let secs = |i: RtcpInterval, r: f64| i.interval(r).as_secs_f64();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let c = std::f64::consts::E - 1.5;
    // A small session: the 5 s minimum, randomized over [0.5, 1.5).
    assert!(close(secs(two_party, 0.5), 5.0 / c));
    assert!(close(secs(two_party, 0.0), 2.5 / c));
    assert!(close(secs(two_party, 1.0), 7.5 / c));
    // Halved before the first report.
    let first = RtcpInterval {
        initial: true,
        ..two_party
    };
    assert!(close(secs(first, 0.5), 2.5 / c));
    // A large session: 10 senders among 1000 members; receivers share
    // 75 % of the bandwidth, senders 25 %.
    let large = RtcpInterval {
        members: 1000,
        senders: 10,
        we_sent: false,
        ..two_party
    };
    assert!(close(secs(large, 0.5), 100.0 * 990.0 / 375.0 / c));
    let sender = RtcpInterval {
        we_sent: true,
        ..large
    };
    assert!(close(secs(sender, 0.5), 100.0 * 10.0 / 125.0 / c));
    // Senders over a quarter: everyone shares the whole bandwidth.
    let busy = RtcpInterval {
        members: 1000,
        senders: 600,
        ..two_party
    };
    assert!(close(secs(busy, 0.5), 100.0 * 1000.0 / 500.0 / c));
    // Nonsense in, a bounded interval out.
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let i = RtcpInterval {
            rtcp_bandwidth: bad,
            avg_rtcp_size: bad,
            ..two_party
        };
        let t = i.interval(f64::NAN);
        assert!(
            t >= Duration::from_secs(2) && t <= Duration::from_secs(3600),
            "{t:?}"
        );
    }
    let zero = RtcpInterval {
        members: 0,
        senders: 0,
        rtcp_bandwidth: 1e-9,
        ..two_party
    };
    assert_eq!(zero.interval(2.0), Duration::from_secs(3600));
    // The running average moves a sixteenth of the way.
    assert!(close(average_packet_size(100.0, 260), 110.0));
}

#[test]
fn ntp_timestamps() {
    let epoch = NtpTimestamp::from_unix(Duration::ZERO);
    assert_eq!(epoch.seconds(), 2_208_988_800);
    assert_eq!(epoch.fraction(), 0);
    let half = NtpTimestamp::from_unix(Duration::from_millis(1500));
    assert_eq!(half.fraction(), 0x8000_0000);
    assert_eq!(half.middle(), (2_208_988_801u32 << 16) | 0x8000);
    assert_eq!(half.to_unix(), Duration::from_millis(1500));
    assert_eq!(
        NtpTimestamp::from_system_time(SystemTime::UNIX_EPOCH + Duration::from_secs(5)),
        NtpTimestamp::from_unix(Duration::from_secs(5))
    );
    // Era 1: after 7 February 2036 the seconds wrap, and read back.
    let later = Duration::from_secs((1 << 32) + 1_000 - 2_208_988_800);
    let t = NtpTimestamp::from_unix(later);
    assert_eq!(t.seconds(), 1_000);
    assert_eq!(t.to_unix(), later);
    // Nanoseconds survive the round trip within a nanosecond.
    let d = Duration::new(1_700_000_000, 123_456_789);
    let back = NtpTimestamp::from_unix(d).to_unix();
    assert!(d - back <= Duration::from_nanos(1));
}

#[test]
fn delays_and_round_trips() {
    assert_eq!(to_delay_units(Duration::from_secs(1)), 65536);
    assert_eq!(to_delay_units(Duration::from_millis(5250)), 0x0005_4000);
    assert_eq!(to_delay_units(Duration::from_secs(1 << 20)), u32::MAX);
    // RFC 3550 §6.4.1's figure: A 46864.500 s, LSR 46853.125 s, DLSR
    // 5.250 s: a round trip of 6.125 s.
    let arrival = NtpTimestamp(0xB710_8000 << 16);
    assert_eq!(
        round_trip_time(arrival, 0xB705_2000, 0x0005_4000),
        Some(Duration::from_millis(6125))
    );
    assert_eq!(round_trip_time(arrival, 0, 0x0005_4000), None);
    assert_eq!(round_trip_time(arrival, 0xB710_8001, 0), None);
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (any::<[u32; 6]>(), any::<u8>(), -0x80_0000i32..=0x7F_FFFF).prop_map(|(w, fraction, lost)| {
        ReportBlock {
            ssrc: w[0],
            fraction_lost: fraction,
            cumulative_lost: lost,
            highest_sequence: w[1],
            jitter: w[2],
            last_sr: w[3],
            delay_since_last_sr: w[4] ^ w[5],
        }
    })
}

fn packet() -> impl Strategy<Value = RtcpPacket> {
    let blocks = || proptest::collection::vec(report_block(), 0..4);
    prop_oneof![
        (any::<u32>(), any::<(u64, u32, u32, u32)>(), blocks()).prop_map(|(ssrc, s, reports)| {
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                sender: SenderInfo {
                    ntp: NtpTimestamp(s.0),
                    rtp_timestamp: s.1,
                    packet_count: s.2,
                    octet_count: s.3,
                },
                reports,
            })
        }),
        (any::<u32>(), blocks()).prop_map(|(ssrc, reports)| RtcpPacket::ReceiverReport(
            ReceiverReport { ssrc, reports }
        )),
        proptest::collection::vec((any::<u32>(), proptest::option::of("[ -~]{0,20}")), 0..4)
            .prop_map(|c| RtcpPacket::SourceDescription(
                c.into_iter()
                    .map(|(ssrc, cname)| SdesChunk { ssrc, cname })
                    .collect()
            )),
        (
            proptest::collection::vec(any::<u32>(), 0..4),
            proptest::option::of("[ -~]{1,20}")
        )
            .prop_map(|(sources, reason)| RtcpPacket::Goodbye(Goodbye { sources, reason })),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = parse_compound(&bytes);
        // Starting like an RR, to get past the first checks more often.
        let mut rr = vec![0x80, 201, 0, 1, 0, 0, 0, 1];
        rr.extend_from_slice(&bytes);
        if let Ok(packets) = parse_compound(&rr) {
            prop_assert!(packets.len() <= rr.len() / 4);
        }
    }

    #[test]
    fn written_compounds_parse_back(
        first in packet().prop_filter("a report", |p| matches!(p.packet_type(), SR | RR)),
        rest in proptest::collection::vec(packet(), 0..4),
    ) {
        let mut packets = vec![first];
        packets.extend(rest);
        let bytes = write(&packets);
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(parse_compound(&bytes).unwrap(), packets);
    }
}
