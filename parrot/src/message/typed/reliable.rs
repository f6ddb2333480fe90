//! The headers of reliable provisional responses (RFC 3262 §7): `RSeq`
//! on the provisional response and `RAck` on the PRACK that acknowledges
//! it.

use super::TypedHeader;
use super::simple::parse_uint;
use crate::message::grammar::trim_ws;
use crate::message::{HeaderName, Method, ParseError, Text};
use std::fmt;

/// The largest response number: RFC 3262 §3 picks the first one "between
/// 1 and 2**31 - 1" and §7.1 bounds the header at 2**32 - 1.
const MAX_RESPONSE_NUM: u64 = u32::MAX as u64;

fn response_num(s: &str, header: &'static str) -> Result<u32, ParseError> {
    parse_uint(s, MAX_RESPONSE_NUM)
        .map(|n| n as u32)
        .map_err(|why| ParseError::header(header, why))
}

/// `RSeq: response-num` (RFC 3262 §7.1): the sequence number of a
/// reliable provisional response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RSeq(pub u32);

impl TypedHeader for RSeq {
    const NAME: HeaderName = HeaderName::RSeq;
    const SPLIT: bool = false;

    fn decode(_src: &Text, value: &str) -> Result<Self, ParseError> {
        response_num(trim_ws(value), "RSeq").map(RSeq)
    }
}

impl fmt::Display for RSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// `RAck: response-num LWS CSeq-num LWS Method` (RFC 3262 §7.2): which
/// reliable provisional response a PRACK acknowledges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RAck {
    /// The `RSeq` of the provisional response.
    pub rseq: u32,
    /// The CSeq number of the request it answered.
    pub cseq: u32,
    /// The method of that request (INVITE).
    pub method: Method,
}

impl TypedHeader for RAck {
    const NAME: HeaderName = HeaderName::RAck;
    const SPLIT: bool = false;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        let mut parts = trim_ws(value).split_ascii_whitespace();
        let (Some(rseq), Some(cseq), Some(method), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseError::header(
                "RAck",
                "expected response number, CSeq number and method",
            ));
        };
        Ok(RAck {
            rseq: response_num(rseq, "RAck")?,
            cseq: parse_uint(cseq, MAX_RESPONSE_NUM)
                .map(|n| n as u32)
                .map_err(|why| ParseError::header("RAck", why))?,
            method: Method::parse(src, method)
                .map_err(|_| ParseError::header("RAck", "bad method"))?,
        })
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rseq_round_trip_and_bounds() {
        assert_eq!(RSeq::parse_str(" 988789 ").unwrap(), RSeq(988789));
        assert_eq!(RSeq(42).to_string(), "42");
        assert!(RSeq::parse_str("").is_err());
        assert!(RSeq::parse_str("-1").is_err());
        assert!(RSeq::parse_str("12a").is_err());
        assert!(RSeq::parse_str("4294967296").is_err());
        assert_eq!(RSeq::parse_str("4294967295").unwrap(), RSeq(u32::MAX));
    }

    #[test]
    fn rack_round_trip_and_faults() {
        let r = RAck::parse_str("776656 1  INVITE").unwrap();
        assert_eq!((r.rseq, r.cseq, &r.method), (776656, 1, &Method::Invite));
        assert_eq!(r.to_string(), "776656 1 INVITE");
        assert!(RAck::parse_str("776656 1").is_err());
        assert!(RAck::parse_str("776656 1 INVITE extra").is_err());
        assert!(RAck::parse_str("x 1 INVITE").is_err());
        assert!(RAck::parse_str("1 y INVITE").is_err());
    }
}
