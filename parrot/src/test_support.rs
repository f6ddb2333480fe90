//! Helpers shared by the crate's unit tests: message parsing, and the
//! transaction fixtures (a request with every header a transaction reads,
//! its responses, output checks).

use crate::message::{Message, Method, Request, Response, StatusCode, parse_datagram};
use crate::transaction::Output;
use std::time::{Duration, Instant};

/// `s` parsed as a request; panics (failing the test) otherwise.
pub(crate) fn parse_req(s: &str) -> Request {
    match parse_datagram(bytes::Bytes::from(s.to_owned())) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}\n{s}"),
    }
}

/// `s` parsed as a response; panics (failing the test) otherwise.
pub(crate) fn parse_resp(s: &str) -> Response {
    match parse_datagram(bytes::Bytes::from(s.to_owned())) {
        Ok(Message::Response(r)) => r,
        other => panic!("not a response: {other:?}\n{s}"),
    }
}

/// `t0 + ms`.
pub(crate) fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// A request with the mandatory headers and the given branch.
pub(crate) fn request(method: Method, branch: &str) -> Request {
    let cseq = match method {
        Method::Ack => "314159 ACK".to_owned(),
        ref m => format!("314159 {m}"),
    };
    Request::builder(method, "sip:bob@biloxi.com".parse().unwrap())
        .header(
            "Via",
            format!("SIP/2.0/UDP pc33.atlanta.com;branch={branch}"),
        )
        .header("Via", "SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bKp1")
        .header("Route", "<sip:p1.example.com;lr>")
        .header("Route", "<sip:p2.example.com;lr>")
        .header("Max-Forwards", "70")
        .header("To", "Bob <sip:bob@biloxi.com>")
        .header("From", "Alice <sip:alice@atlanta.com>;tag=1928301774")
        .header("Call-ID", "a84b4c76e66710@pc33.atlanta.com")
        .header("CSeq", cseq)
        .header("Contact", "<sip:alice@pc33.atlanta.com>")
        .header("Timestamp", "54")
        .build_unchecked()
}

/// A response to `req` with `code`; finals carry a To tag.
pub(crate) fn response(req: &Request, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap();
    let mut resp = Response::new(status);
    for h in req.headers.iter() {
        use crate::message::HeaderName as H;
        match h.known_name() {
            Some(H::Via | H::From | H::CallId | H::CSeq) => resp.headers.push(h.clone()),
            Some(H::To) if code > 100 => {
                resp.headers
                    .append(H::To, format!("{};tag=8321234356", h.value()));
            }
            Some(H::To) => resp.headers.push(h.clone()),
            _ => {}
        }
    }
    resp
}

/// Drains every queued output.
pub(crate) fn drain(mut poll: impl FnMut() -> Option<Output>) -> Vec<Output> {
    std::iter::from_fn(&mut poll).collect()
}

/// Whether `out` transmits (or retransmits) a request with `method`.
pub(crate) fn is_tx_request(out: &Output, method: &Method) -> bool {
    matches!(out, Output::Transmit(Message::Request(r)) | Output::Retransmit(Message::Request(r)) if &r.method == method)
}

/// Whether `out` transmits (or retransmits) a response with `code`.
pub(crate) fn is_tx_response(out: &Output, code: u16) -> bool {
    matches!(out, Output::Transmit(Message::Response(r)) | Output::Retransmit(Message::Response(r)) if r.status.as_u16() == code)
}

/// A seeded generator (SplitMix64) in the shape SRV ordering takes:
/// `random(n)` in `0..=n`, the same sequence for the same seed.
pub(crate) fn seeded_random(seed: u64) -> impl FnMut(u32) -> u32 + Send + 'static {
    let mut state = seed;
    move |n| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % (u64::from(n) + 1)) as u32
    }
}
