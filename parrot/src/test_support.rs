//! Helpers shared by the crate's unit tests.

use crate::message::{Message, Request, Response, parse_datagram};

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
