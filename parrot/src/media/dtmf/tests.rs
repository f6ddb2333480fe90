use super::*;
use proptest::prelude::*;
use std::time::Duration;

fn digit(c: char) -> Digit {
    Digit::from_char(c).unwrap()
}

fn send(c: char, timestamp: u32, ms: u64) -> Vec<EventPacket> {
    EventSender::new(
        digit(c),
        timestamp,
        Duration::from_millis(ms),
        EventSettings::default(),
    )
    .collect()
}

/// Feeds packets to a receiver; the digits it reports.
fn receive(rx: &mut EventReceiver, packets: &[EventPacket]) -> String {
    packets
        .iter()
        .filter_map(|p| rx.receive(p.marker, p.timestamp, &p.event))
        .map(|d| d.as_char())
        .collect()
}

#[test]
fn digits_and_event_codes() {
    let keys = "0123456789*#ABCD";
    for (code, key) in keys.chars().enumerate() {
        let d = Digit::from_event(code as u8).unwrap();
        assert_eq!(d.as_char(), key);
        assert_eq!(d.to_string(), key.to_string());
        assert_eq!(Digit::from_char(key), Some(d));
        assert_eq!(Digit::from_char(key.to_ascii_lowercase()), Some(d));
        assert_eq!(d.event(), code as u8);
    }
    assert_eq!(Digit::from_event(16), None);
    assert_eq!(Digit::from_char('E'), None);
    assert_eq!(Digit::from_char('é'), None);
}

#[test]
fn the_payload_round_trips() {
    // RFC 4733 §2.3: event 5, E set, volume 10, duration 800.
    let bytes = [5, 0x8A, 0x03, 0x20];
    let e = TelephoneEvent::parse(&bytes).unwrap();
    assert_eq!(
        e,
        TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: 800
        }
    );
    assert_eq!(e.to_bytes(), bytes);
    assert_eq!(e.digit(), Some(digit('5')));
    // The reserved bit is ignored; extra octets too.
    assert_eq!(TelephoneEvent::parse(&[5, 0xCA, 3, 0x20, 9, 9]).unwrap(), e);
    assert_eq!(
        TelephoneEvent::parse(&[5, 0x8A, 3]),
        Err(DtmfError::TooShort)
    );
    let loud = TelephoneEvent {
        volume: 70,
        end: false,
        ..e
    };
    assert_eq!(loud.to_bytes()[1], 70 & 0x3F);
    assert_eq!(TelephoneEvent { event: 16, ..e }.digit(), None);
}

#[test]
fn a_press_is_updates_then_three_end_packets() {
    let packets = send('7', 1000, 100);
    // 100 ms = 800 units: updates at 20, 40, 60, 80 ms, the end at 100,
    // 120, 140 ms.
    let offsets: Vec<u64> = packets
        .iter()
        .map(|p| p.offset.as_millis() as u64)
        .collect();
    assert_eq!(offsets, [20, 40, 60, 80, 100, 120, 140]);
    let durations: Vec<u16> = packets.iter().map(|p| p.event.duration).collect();
    assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
    let ends: Vec<bool> = packets.iter().map(|p| p.event.end).collect();
    assert_eq!(ends, [false, false, false, false, true, true, true]);
    assert!(packets[0].marker);
    assert!(packets[1..].iter().all(|p| !p.marker));
    assert!(packets.iter().all(|p| p.timestamp == 1000));
    assert!(
        packets
            .iter()
            .all(|p| p.event.event == 7 && p.event.volume == 10)
    );
    let sender = EventSender::new(
        digit('7'),
        u32::MAX - 100,
        Duration::from_millis(100),
        EventSettings::default(),
    );
    assert_eq!(sender.end_timestamp(), 699);
    // A duration shorter than one interval: just the end, with the
    // marker.
    let short = send('1', 0, 0);
    assert_eq!(short.len(), 3);
    assert!(short[0].marker && short.iter().all(|p| p.event.end && p.event.duration == 160));
    // Not a multiple of the interval: the end says exactly.
    let odd = send('1', 0, 50);
    assert_eq!(
        odd.iter().map(|p| p.event.duration).collect::<Vec<_>>(),
        [160, 320, 400, 400, 400]
    );
}

#[test]
fn long_events_are_cut_into_segments() {
    // 10 s at 8 kHz: 80 000 units, one full segment of 65 535 and a
    // second of 14 465.
    let packets = send('#', 0, 10_000);
    let first: Vec<_> = packets.iter().filter(|p| p.timestamp == 0).collect();
    let second: Vec<_> = packets.iter().filter(|p| p.timestamp == 65_535).collect();
    assert_eq!(first.len() + second.len(), packets.len());
    // The first segment ends with three copies of the largest duration,
    // without the E bit.
    let finals: Vec<_> = first
        .iter()
        .filter(|p| p.event.duration == u16::MAX)
        .collect();
    assert_eq!(finals.len(), 3);
    assert!(first.iter().all(|p| !p.event.end));
    assert!(first.iter().map(|p| p.event.duration).is_sorted());
    // The second continues without the marker and ends the event.
    assert!(second.iter().all(|p| !p.marker));
    assert_eq!(second.iter().filter(|p| p.event.end).count(), 3);
    assert_eq!(
        u32::from(second.last().unwrap().event.duration),
        80_000 - 65_535
    );
    // Offsets never go backwards.
    assert!(packets.windows(2).all(|w| w[0].offset <= w[1].offset));
    assert_eq!(packets.iter().filter(|p| p.marker).count(), 1);
    // The receiver hears one press.
    assert_eq!(receive(&mut EventReceiver::new(), &packets), "#");
}

#[test]
fn the_receiver_reports_each_press_once() {
    let mut rx = EventReceiver::new();
    let mut packets = send('1', 0, 100);
    packets.extend(send('2', 2000, 100));
    packets.extend(send('2', 4000, 100));
    assert_eq!(receive(&mut rx, &packets), "122");
    // Each packet twice (duplicated by the network): the same.
    let twice: Vec<_> = packets.iter().flat_map(|p| [*p, *p]).collect();
    assert_eq!(receive(&mut EventReceiver::new(), &twice), "122");
}

#[test]
fn the_receiver_survives_lost_and_late_packets() {
    let first = send('1', 0, 100);
    let second = send('1', 2000, 100);
    // Every end packet of the first press lost, and the start of the
    // second: still two presses.
    let mut rx = EventReceiver::new();
    let lossy: Vec<_> = first[..4].iter().chain(&second[2..]).copied().collect();
    assert_eq!(receive(&mut rx, &lossy), "11");
    // Only an end packet heard: the press is still reported, once.
    let mut rx = EventReceiver::new();
    assert_eq!(receive(&mut rx, &first[5..]), "1");
    // A retransmitted end of the first press arriving after the second
    // began is not a third press.
    let mut rx = EventReceiver::new();
    let late: Vec<_> = first[..5]
        .iter()
        .chain(&second[..2])
        .chain(&first[6..])
        .chain(&second[2..])
        .copied()
        .collect();
    assert_eq!(receive(&mut rx, &late), "11");
    // A sender whose timestamps restarted far back: a new press.
    let mut rx = EventReceiver::new();
    let restarted: Vec<_> = send('3', 1_000_000, 100)
        .into_iter()
        .chain(send('4', 0, 100))
        .collect();
    assert_eq!(receive(&mut rx, &restarted), "34");
    // Events that are not DTMF are followed but not reported.
    let mut rx = EventReceiver::new();
    let flash = TelephoneEvent {
        event: 16,
        end: false,
        volume: 10,
        duration: 160,
    };
    assert_eq!(rx.receive(true, 0, &flash), None);
    assert_eq!(receive(&mut rx, &send('9', 800, 100)), "9");
    rx.reset();
    assert_eq!(receive(&mut rx, &send('9', 800, 100)), "9");
}

#[test]
fn the_receiver_reads_rtp_packets() {
    use crate::media::rtp::{RtpHeader, RtpPacket};
    let mut rx = EventReceiver::new();
    let mut bytes = Vec::new();
    for (i, p) in send('*', 160, 60).iter().enumerate() {
        bytes.clear();
        RtpHeader {
            marker: p.marker,
            payload_type: 101,
            sequence: i as u16,
            timestamp: p.timestamp,
            ssrc: 1,
        }
        .write_to(&p.event.to_bytes(), &mut bytes)
        .unwrap();
        let digit = rx
            .receive_packet(&RtpPacket::parse(&bytes).unwrap())
            .unwrap();
        assert_eq!(digit, (i == 0).then(|| Digit::from_char('*').unwrap()));
    }
    bytes.truncate(14);
    assert_eq!(
        rx.receive_packet(&RtpPacket::parse(&bytes).unwrap()),
        Err(DtmfError::TooShort)
    );
}

#[test]
fn info_bodies() {
    let relay = |body: &str| parse_dtmf_relay(body.as_bytes());
    assert_eq!(
        relay("Signal=5\r\nDuration=160\r\n"),
        Ok(InfoDigit {
            digit: digit('5'),
            duration: Some(Duration::from_millis(160))
        })
    );
    assert_eq!(
        relay("signal = #\nDURATION= 250 ").unwrap().digit,
        digit('#')
    );
    assert_eq!(
        relay(" Duration=100\r\n Signal= d\r\n").unwrap().digit,
        digit('D')
    );
    assert_eq!(relay("Signal=*").unwrap().duration, None);
    assert_eq!(relay("Signal=11").unwrap().digit, digit('#'));
    assert_eq!(
        relay("Foo=bar\r\nSignal=0\r\nSignal=1").unwrap().digit,
        digit('0')
    );
    assert_eq!(relay(""), Err(DtmfError::NoSignal));
    assert_eq!(relay("Duration=100"), Err(DtmfError::NoSignal));
    assert_eq!(relay("Signal="), Err(DtmfError::NoSignal));
    assert_eq!(relay("Signal=E"), Err(DtmfError::BadSignal));
    assert_eq!(relay("Signal=16"), Err(DtmfError::BadSignal));
    assert_eq!(relay("Signal=55"), Err(DtmfError::BadSignal));
    assert_eq!(
        relay("Signal=5\r\nDuration=long"),
        Err(DtmfError::BadDuration)
    );
    assert_eq!(parse_dtmf_relay(b"Signal=\xFF"), Err(DtmfError::NotUtf8));
    assert_eq!(parse_dtmf(b"5\r\n"), Ok(digit('5')));
    assert_eq!(parse_dtmf(b" a "), Ok(digit('A')));
    assert_eq!(parse_dtmf(b"  "), Err(DtmfError::NoSignal));
    assert_eq!(parse_dtmf(b"56"), Err(DtmfError::BadSignal));
    assert_eq!(parse_dtmf(b"\xC3"), Err(DtmfError::NotUtf8));
    assert_eq!(
        parse_info_body("Application/DTMF-Relay; charset=x", b"Signal=9").map(|d| d.digit),
        Ok(digit('9'))
    );
    assert_eq!(
        parse_info_body("application/dtmf", b"#"),
        Ok(InfoDigit {
            digit: digit('#'),
            duration: None
        })
    );
    assert_eq!(parse_info_body("text/plain", b"5"), Err(DtmfError::NotDtmf));
    for e in [
        DtmfError::TooShort,
        DtmfError::NotDtmf,
        DtmfError::BadDuration,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

proptest! {
    #[test]
    fn any_press_is_heard_once(
        key in 0u8..16,
        start: u32,
        ms in 0u64..20_000,
        interval in 1u32..2000,
        drop in proptest::collection::vec(any::<bool>(), 0..64),
    ) {
        let settings = EventSettings { interval, ..EventSettings::default() };
        let d = Digit::from_event(key).unwrap();
        let packets: Vec<_> =
            EventSender::new(d, start, Duration::from_millis(ms), settings).collect();
        prop_assert!(packets[0].marker);
        prop_assert_eq!(packets.iter().filter(|p| p.event.end).count(), 3);
        prop_assert!(packets.windows(2).all(|w| w[0].offset <= w[1].offset));
        // Whatever is lost (but one packet at least heard), one digit.
        let heard: Vec<_> = packets
            .iter()
            .enumerate()
            .filter(|(i, _)| !drop.get(*i).copied().unwrap_or(false) || *i == packets.len() - 1)
            .map(|(_, p)| *p)
            .collect();
        let mut rx = EventReceiver::new();
        let digits: Vec<_> = heard.iter().filter_map(|p| rx.receive(p.marker, p.timestamp, &p.event)).collect();
        prop_assert_eq!(digits, vec![d]);
    }

    #[test]
    fn arbitrary_info_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_dtmf_relay(&body);
        let _ = parse_dtmf(&body);
        let _ = TelephoneEvent::parse(&body);
    }
}
