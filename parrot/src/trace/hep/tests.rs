use super::*;
use crate::transport::Direction;
use std::time::{Duration, SystemTime};

const OPTIONS: &[u8] = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1\r\n\
call-id :  abc@192.0.2.1 \r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

/// A chunk as the spec lays it out, written by hand.
fn chunk(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut c = vec![0, 0];
    c.extend_from_slice(&kind.to_be_bytes());
    c.extend_from_slice(&((6 + value.len()) as u16).to_be_bytes());
    c.extend_from_slice(value);
    c
}

#[test]
fn ipv4_packet_is_byte_exact() {
    let p = HepPacket {
        source: "192.0.2.1:5062".parse().unwrap(),
        destination: "10.0.0.2:5060".parse().unwrap(),
        ip_protocol: IPPROTO_UDP,
        seconds: 0x6543_2100,
        micros: 123_456,
        protocol_type: PROTOCOL_SIP,
        capture_id: 2001,
        auth_key: None,
        correlation_id: Some(b"abc@192.0.2.1"),
        payload: OPTIONS,
    };
    let bytes = p.encode().unwrap();
    let body: Vec<u8> = [
        chunk(1, &[2]),
        chunk(2, &[17]),
        chunk(3, &[192, 0, 2, 1]),
        chunk(4, &[10, 0, 0, 2]),
        chunk(7, &[0x13, 0xc6]),
        chunk(8, &[0x13, 0xc4]),
        chunk(9, &[0x65, 0x43, 0x21, 0x00]),
        chunk(10, &[0x00, 0x01, 0xe2, 0x40]),
        chunk(11, &[1]),
        chunk(12, &[0, 0, 0x07, 0xd1]),
        chunk(17, b"abc@192.0.2.1"),
        chunk(15, OPTIONS),
    ]
    .concat();
    let mut expected = b"HEP3".to_vec();
    expected.extend_from_slice(&((6 + body.len()) as u16).to_be_bytes());
    expected.extend_from_slice(&body);
    assert_eq!(bytes, expected);
    assert_eq!(bytes.len(), p.encoded_len());
    // The fixed part: header 6, family 7, protocol 7, addresses 2 × 10,
    // ports 2 × 8, time 2 × 10, protocol type 7, capture id 10.
    assert_eq!(p.encoded_len(), 93 + 6 + 13 + 6 + OPTIONS.len());
    assert_eq!(HepPacket::decode(&bytes), Ok(p));
}

#[test]
fn ipv6_packet_is_byte_exact_with_a_key() {
    let p = HepPacket {
        source: "[2001:db8::1]:5061".parse().unwrap(),
        destination: "[2001:db8::2]:40000".parse().unwrap(),
        ip_protocol: IPPROTO_TCP,
        seconds: 1,
        micros: 2,
        protocol_type: PROTOCOL_SIP,
        capture_id: 0x0102_0304,
        auth_key: Some(b"secret"),
        correlation_id: None,
        payload: b"SIP/2.0 200 OK\r\n\r\n",
    };
    let bytes = p.encode().unwrap();
    let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let body: Vec<u8> = [
        chunk(1, &[10]),
        chunk(2, &[6]),
        chunk(5, &src.octets()),
        chunk(6, &dst.octets()),
        chunk(7, &5061u16.to_be_bytes()),
        chunk(8, &40000u16.to_be_bytes()),
        chunk(9, &[0, 0, 0, 1]),
        chunk(10, &[0, 0, 0, 2]),
        chunk(11, &[1]),
        chunk(12, &[1, 2, 3, 4]),
        chunk(14, b"secret"),
        chunk(15, b"SIP/2.0 200 OK\r\n\r\n"),
    ]
    .concat();
    assert_eq!(&bytes[..4], b"HEP3");
    assert_eq!(
        u16::from_be_bytes([bytes[4], bytes[5]]) as usize,
        bytes.len()
    );
    assert_eq!(&bytes[6..], &body[..]);
    assert_eq!(HepPacket::decode(&bytes), Ok(p));
}

#[test]
fn mixed_families_are_sent_as_ipv6() {
    let p = HepPacket {
        source: "192.0.2.1:5062".parse().unwrap(),
        destination: "[::]:5060".parse().unwrap(),
        ip_protocol: IPPROTO_UDP,
        seconds: 0,
        micros: 0,
        protocol_type: PROTOCOL_SIP,
        capture_id: 0,
        auth_key: None,
        correlation_id: None,
        payload: b"x",
    };
    let d = p.encode().unwrap();
    let back = HepPacket::decode(&d).unwrap();
    assert_eq!(
        back.source,
        SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped().into(), 5062)
    );
    assert_eq!(back.destination, p.destination);
}

#[test]
fn from_a_tapped_message() {
    let at = UNIX_EPOCH + Duration::new(1_700_000_000, 987_654_321);
    let m = TappedMessage {
        direction: Direction::In,
        protocol: Protocol::Tls,
        local: "127.0.0.1:5061".parse().unwrap(),
        peer: "127.0.0.1:40000".parse().unwrap(),
        timestamp: at,
        data: OPTIONS,
    };
    let p = HepPacket::from_tapped(&m, 7, Some(b"k"), true);
    assert_eq!(p.source, m.peer);
    assert_eq!(p.destination, m.local);
    assert_eq!(p.ip_protocol, IPPROTO_TCP);
    assert_eq!((p.seconds, p.micros), (1_700_000_000, 987_654));
    assert_eq!(p.correlation_id, Some(&b"abc@192.0.2.1"[..]));
    assert_eq!(p.capture_id, 7);
    let out = TappedMessage {
        direction: Direction::Out,
        protocol: Protocol::Udp,
        timestamp: SystemTime::UNIX_EPOCH - Duration::from_secs(1),
        ..m
    };
    let p = HepPacket::from_tapped(&out, 7, None, false);
    assert_eq!((p.source, p.destination), (out.local, out.peer));
    assert_eq!((p.ip_protocol, p.seconds), (IPPROTO_UDP, 0));
    assert_eq!(p.correlation_id, None);
}

#[test]
fn too_large_is_refused() {
    let big = vec![b'a'; 65_535];
    let p = HepPacket {
        source: "192.0.2.1:1".parse().unwrap(),
        destination: "192.0.2.2:2".parse().unwrap(),
        ip_protocol: IPPROTO_UDP,
        seconds: 0,
        micros: 0,
        protocol_type: PROTOCOL_SIP,
        capture_id: 0,
        auth_key: None,
        correlation_id: None,
        payload: &big,
    };
    assert!(matches!(p.encode(), Err(HepError::TooLarge(_))));
}

#[test]
fn bad_packets_are_errors_not_panics() {
    let good = HepPacket {
        source: "192.0.2.1:1".parse().unwrap(),
        destination: "192.0.2.2:2".parse().unwrap(),
        ip_protocol: IPPROTO_UDP,
        seconds: 0,
        micros: 0,
        protocol_type: PROTOCOL_SIP,
        capture_id: 0,
        auth_key: None,
        correlation_id: None,
        payload: b"hello",
    }
    .encode()
    .unwrap();
    assert_eq!(HepPacket::decode(b""), Err(HepError::NotHep3));
    assert_eq!(HepPacket::decode(b"HEP2\0\x06"), Err(HepError::NotHep3));
    assert_eq!(HepPacket::decode(b"HEP3\0\x06"), Err(HepError::BadChunk(3)));
    for cut in 0..good.len() {
        assert!(HepPacket::decode(&good[..cut]).is_err(), "{cut}");
    }
    // A chunk claiming more than there is.
    let mut bad = good.clone();
    bad[6 + 4..6 + 6].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(HepPacket::decode(&bad), Err(HepError::Truncated));
    // A port of the wrong size.
    let mut bad = b"HEP3\0\x0d".to_vec();
    bad.extend_from_slice(&chunk(7, &[1]));
    assert_eq!(HepPacket::decode(&bad), Err(HepError::BadChunk(7)));
    // Every byte value in every position: no panic.
    for i in 0..good.len() {
        for v in [0u8, 1, 5, 6, 0x7f, 0xff] {
            let mut m = good.clone();
            m[i] = v;
            let _ = HepPacket::decode(&m);
        }
    }
    // Chunks of another vendor are skipped.
    let mut with_vendor = good[6..].to_vec();
    with_vendor.extend_from_slice(&[0, 9, 0, 1, 0, 7, 42]);
    let mut p = b"HEP3".to_vec();
    p.extend_from_slice(&((6 + with_vendor.len()) as u16).to_be_bytes());
    p.extend_from_slice(&with_vendor);
    assert_eq!(HepPacket::decode(&p).unwrap().payload, b"hello");
}

#[test]
fn call_ids() {
    assert_eq!(call_id(OPTIONS), Some(&b"abc@192.0.2.1"[..]));
    assert_eq!(
        call_id(b"BYE sip:a@b SIP/2.0\r\nI: x1\r\n\r\n"),
        Some(&b"x1"[..])
    );
    assert_eq!(
        call_id(b"SIP/2.0 200 OK\nCall-ID: lf\n\n"),
        Some(&b"lf"[..])
    );
    // Not past the header block, nor the start line, nor empty.
    assert_eq!(
        call_id(b"BYE sip:a@b SIP/2.0\r\n\r\nCall-ID: body\r\n"),
        None
    );
    assert_eq!(call_id(b"Call-ID: first-line\r\n\r\n"), None);
    assert_eq!(call_id(b"BYE sip:a@b SIP/2.0\r\nCall-ID:  \r\n\r\n"), None);
    assert_eq!(call_id(b""), None);
    assert_eq!(call_id(b"\xff\xfe:\n:\n"), None);
}
