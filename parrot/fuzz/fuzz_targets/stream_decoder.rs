//! Arbitrary bytes through `StreamDecoder`, fed whole and in chunks.
//!
//! Input layout: the first byte seeds the chunk sizes, the rest is the
//! stream. Checked: no panics; the frames do not depend on how the stream
//! was chunked (keep-alives excepted: CRLF CRLF split across reads is
//! legitimately two pongs instead of one ping, so keep-alives are left out
//! of the comparison); every decoded message survives `to_bytes` and a
//! fresh decoder unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parrot::message::{Frame, Limits, ParseError, StreamDecoder};

/// Small limits so the fuzzer reaches the "too large" paths.
fn limits() -> Limits {
    Limits {
        max_head: 2048,
        max_body: 2048,
        max_headers: 32,
    }
}

/// What a decoder produced, keep-alives dropped.
#[derive(Debug, PartialEq)]
enum Event {
    Frame(Frame),
    Fatal(ParseError),
}

/// Drains every available frame; returns false once the decoder failed.
fn drain(dec: &mut StreamDecoder, out: &mut Vec<Event>) -> bool {
    loop {
        match dec.decode() {
            Ok(None) => return true,
            Ok(Some(Frame::Ping | Frame::Pong)) => {}
            Ok(Some(frame)) => out.push(Event::Frame(frame)),
            Err(e) => {
                out.push(Event::Fatal(e));
                return false;
            }
        }
    }
}

fn decode_whole(stream: &[u8]) -> Vec<Event> {
    let mut dec = StreamDecoder::new(limits());
    let mut out = Vec::new();
    dec.push(stream);
    drain(&mut dec, &mut out);
    out
}

fn decode_chunked(stream: &[u8], mut seed: u8) -> Vec<Event> {
    let mut dec = StreamDecoder::new(limits());
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        // xorshift on one byte: chunk sizes 1..=64 in a seed-dependent order.
        seed ^= seed << 3;
        seed ^= seed >> 5;
        seed ^= seed << 1;
        let n = usize::from(seed % 64 + 1).min(rest.len());
        dec.push(&rest[..n]);
        rest = &rest[n..];
        if !drain(&mut dec, &mut out) {
            break;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let whole = decode_whole(stream);
    let chunked = decode_chunked(stream, seed | 1);
    assert_eq!(whole, chunked, "frames depend on chunking");

    for event in &whole {
        let Event::Frame(Frame::Message(msg)) = event else {
            continue;
        };
        let wire = msg.to_bytes();
        let mut dec = StreamDecoder::new(Limits::default());
        dec.push(&wire);
        match dec.decode() {
            Ok(Some(Frame::Message(again))) => {
                assert_eq!(msg, &again, "round trip changed the message")
            }
            other => panic!(
                "re-decode failed: {other:?}\nwire: {:?}",
                String::from_utf8_lossy(&wire)
            ),
        }
        assert_eq!(dec.buffered(), 0, "re-decode left bytes behind");
    }
});
