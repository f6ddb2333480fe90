use super::*;
use proptest::prelude::*;

fn header() -> RtpHeader {
    RtpHeader {
        marker: true,
        payload_type: 0,
        sequence: 0x1234,
        timestamp: 0xDEAD_BEEF,
        ssrc: 0x0102_0304,
    }
}

#[test]
fn parses_a_plain_packet() {
    let bytes = [
        0x80, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 0xFF, 0xFE,
    ];
    let p = RtpPacket::parse(&bytes).unwrap();
    assert!(p.marker);
    assert_eq!(p.payload_type, 0);
    assert_eq!(p.sequence, 0x1234);
    assert_eq!(p.timestamp, 0xDEAD_BEEF);
    assert_eq!(p.ssrc, 0x0102_0304);
    assert_eq!(p.payload, [0xFF, 0xFE]);
    assert_eq!(p.csrcs().len(), 0);
    assert_eq!(p.extension(), None);
    assert_eq!(p.padding(), 0);
    assert_eq!(p.header(), header());
}

#[test]
fn parses_csrcs_extension_and_padding() {
    let mut bytes = vec![0x80 | 0x20 | 0x10 | 2, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
    bytes.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 8]); // two CSRCs
    bytes.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]); // one word
    bytes.extend_from_slice(b"payload");
    bytes.extend_from_slice(&[0, 0, 3]); // three octets of padding
    let p = RtpPacket::parse(&bytes).unwrap();
    assert!(!p.marker);
    assert_eq!(p.payload_type, 8);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), [7, 8]);
    let ext = p.extension().unwrap();
    assert_eq!(ext.profile, 0xBEDE);
    assert_eq!(ext.data, [0x10, 0xAA, 0, 0]);
    assert_eq!(p.payload, b"payload");
    assert_eq!(p.padding(), 3);
    // Padding may take everything after the header: an empty payload.
    let mut only_padding = bytes[..28].to_vec();
    only_padding.extend_from_slice(&[0, 0, 0, 4]);
    let p = RtpPacket::parse(&only_padding).unwrap();
    assert_eq!(p.payload, b"");
}

#[test]
fn refuses_malformed_packets() {
    let good = [0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    assert_eq!(RtpPacket::parse(&[]), Err(RtpError::TooShort));
    assert_eq!(RtpPacket::parse(&good[..11]), Err(RtpError::TooShort));
    assert!(RtpPacket::parse(&good).is_ok());
    let with = |first: u8, second: u8, tail: &[u8]| {
        let mut b = good.to_vec();
        b[0] = first;
        b[1] = second;
        b.extend_from_slice(tail);
        RtpPacket::parse(&b).map(|p| p.payload.len())
    };
    assert_eq!(with(0x40, 0, &[]), Err(RtpError::BadVersion(1)));
    assert_eq!(with(0xC0, 0, &[]), Err(RtpError::BadVersion(3)));
    assert_eq!(with(0x00, 0, &[]), Err(RtpError::BadVersion(0)));
    // Four CSRCs announced, one present.
    assert_eq!(with(0x84, 0, &[0, 0, 0, 1]), Err(RtpError::CsrcPastEnd));
    // Extension header missing, or its length past the end.
    assert_eq!(with(0x90, 0, &[0xBE]), Err(RtpError::ExtensionPastEnd));
    assert_eq!(
        with(0x90, 0, &[0xBE, 0xDE, 0, 2, 0, 0, 0, 0]),
        Err(RtpError::ExtensionPastEnd)
    );
    // Pad count of zero, or longer than what follows the header.
    assert_eq!(with(0xA0, 0, &[1, 2, 0]), Err(RtpError::BadPadding));
    assert_eq!(with(0xA0, 0, &[1, 2, 4]), Err(RtpError::BadPadding));
    assert_eq!(with(0xA0, 0, &[]), Err(RtpError::BadPadding));
    assert!(with(0xA0, 0, &[1, 2, 3]).is_ok());
    // Payload types that would be RTCP packet types 200–204.
    for pt in 72..=76 {
        assert_eq!(
            with(0x80, 0x80 | pt, &[]),
            Err(RtpError::BadPayloadType(pt))
        );
        assert_eq!(with(0x80, pt, &[]), Err(RtpError::BadPayloadType(pt)));
    }
    assert!(with(0x80, 71, &[]).is_ok());
    assert!(with(0x80, 77, &[]).is_ok());
    for e in [RtpError::TooShort, RtpError::BufferTooSmall(12)] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn writes_what_it_parses() {
    let mut buf = [0u8; 64];
    let len = header().write(b"abc", &mut buf).unwrap();
    assert_eq!(len, 15);
    assert_eq!(buf[..2], [0x80, 0x80]);
    let p = RtpPacket::parse(&buf[..len]).unwrap();
    assert_eq!(p.header(), header());
    assert_eq!(p.payload, b"abc");
    let mut v = Vec::new();
    header().write_to(b"abc", &mut v).unwrap();
    assert_eq!(v, buf[..len]);
    assert_eq!(
        header().write(b"abc", &mut buf[..14]),
        Err(RtpError::BufferTooSmall(15))
    );
    for pt in [72, 76, 128, 255] {
        let h = RtpHeader {
            payload_type: pt,
            ..header()
        };
        assert_eq!(h.write(b"", &mut buf), Err(RtpError::BadPayloadType(pt)));
        assert_eq!(h.write_to(b"", &mut v), Err(RtpError::BadPayloadType(pt)));
    }
}

#[test]
fn classifies_by_the_first_octets() {
    let rtp = {
        let mut v = Vec::new();
        header().write_to(b"x", &mut v).unwrap();
        v
    };
    assert_eq!(classify(&rtp), PacketKind::Rtp);
    // A receiver report (packet type 201) and an SR (200), PT 206 (PSFB).
    assert_eq!(classify(&[0x81, 201, 0, 1]), PacketKind::Rtcp);
    assert_eq!(classify(&[0x80, 200]), PacketKind::Rtcp);
    assert_eq!(classify(&[0x80, 223]), PacketKind::Rtcp);
    assert_eq!(classify(&[0x80, 191]), PacketKind::Rtp);
    assert_eq!(classify(&[0x80, 224]), PacketKind::Rtp);
    assert_eq!(classify(&[0x00, 0x01]), PacketKind::Stun);
    assert_eq!(classify(&[17]), PacketKind::Zrtp);
    assert_eq!(classify(&[22, 0xFE]), PacketKind::Dtls);
    assert_eq!(classify(&[0x40, 0]), PacketKind::TurnChannel);
    assert_eq!(classify(&[]), PacketKind::Unknown);
    assert_eq!(classify(&[0x80]), PacketKind::Unknown);
    assert_eq!(classify(&[8, 0]), PacketKind::Unknown);
    assert_eq!(classify(&[0xC0, 0]), PacketKind::Unknown);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = RtpPacket::parse(&bytes) {
            // A view inside the datagram, with consistent lengths.
            let used = HEADER_LEN
                + 4 * p.csrcs().len()
                + p.extension().map_or(0, |e| 4 + e.data.len())
                + p.payload.len()
                + usize::from(p.padding());
            prop_assert_eq!(used, bytes.len());
        }
        let _ = classify(&bytes);
    }

    #[test]
    fn round_trips(
        marker: bool,
        payload_type in (0u8..128).prop_filter("not RTCP", |pt| !(72..=76).contains(pt)),
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let h = RtpHeader { marker, payload_type, sequence, timestamp, ssrc };
        let mut v = Vec::new();
        h.write_to(&payload, &mut v).unwrap();
        let p = RtpPacket::parse(&v).unwrap();
        prop_assert_eq!(p.header(), h);
        prop_assert_eq!(p.payload, &payload[..]);
        prop_assert_eq!(classify(&v), if (64..96).contains(&payload_type) && marker {
            PacketKind::Rtcp
        } else {
            PacketKind::Rtp
        });
    }
}
