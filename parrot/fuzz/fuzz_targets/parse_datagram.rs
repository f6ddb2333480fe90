//! Arbitrary bytes into `parse_datagram`; whatever parses must survive a
//! round trip through `to_bytes`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use parrot::message::{HeaderName, Message, parse_datagram};

/// The message without its Content-Length headers. `to_bytes` adds one when
/// a datagram had none (the body then ran to the end of the packet), so
/// that header is the one expected difference after a round trip.
fn without_content_length(msg: &Message) -> Message {
    let mut m = msg.clone();
    m.headers_mut().remove(HeaderName::ContentLength);
    m
}

fuzz_target!(|data: &[u8]| {
    let Ok(first) = parse_datagram(Bytes::copy_from_slice(data)) else {
        return;
    };
    let wire = first.to_bytes();
    let second = match parse_datagram(wire.clone()) {
        Ok(m) => m,
        Err(e) => panic!(
            "re-parse failed: {e}\nfirst: {first:?}\nwire: {:?}",
            String::from_utf8_lossy(&wire)
        ),
    };
    if first.headers().contains(HeaderName::ContentLength) {
        assert_eq!(first, second, "round trip changed the message");
    } else {
        assert_eq!(
            without_content_length(&first),
            without_content_length(&second),
            "round trip changed the message (ignoring the added Content-Length)"
        );
    }
    // Serialization is a fixed point after one round trip.
    assert_eq!(wire, second.to_bytes(), "second serialization differs");
});
