//! `CSeq` (RFC 3261 §20.16): `1*DIGIT LWS Method`.

use super::TypedHeader;
use super::simple::{leading, parse_uint};
use crate::message::grammar::{is_ws, trim_ws};
use crate::message::{HeaderName, Method, ParseError, Text};
use std::fmt;

/// The `CSeq` header: a sequence number and the request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number; always at most [`CSeq::MAX`] when parsed.
    pub seq: u32,
    /// The method of the request (case-sensitive, RFC 3261 §7.1).
    pub method: Method,
}

impl CSeq {
    /// The largest sequence number: it "MUST be less than 2**31"
    /// (RFC 3261 §8.1.1.5).
    pub const MAX: u32 = (1 << 31) - 1;

    /// A CSeq of `seq` and `method`.
    pub fn new(seq: u32, method: Method) -> Self {
        CSeq { seq, method }
    }

    /// The CSeq for the next request of a dialog: the number plus one
    /// (RFC 3261 §12.2.1.1), with `method`. `None` once [`CSeq::MAX`] is
    /// reached.
    pub fn next(&self, method: Method) -> Option<CSeq> {
        self.seq
            .checked_add(1)
            .filter(|&n| n <= CSeq::MAX)
            .map(|seq| CSeq { seq, method })
    }
}

impl TypedHeader for CSeq {
    const NAME: HeaderName = HeaderName::CSeq;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        let s = trim_ws(value);
        let n = leading(s, |b| b.is_ascii_digit());
        let (digits, rest) = s.split_at(n);
        if n == 0 {
            let why = parse_uint(s, 0).err().unwrap_or("missing number");
            return Err(ParseError::header("CSeq", why));
        }
        // §8.1.1.5: expressible in 32 bits and less than 2**31.
        let seq =
            parse_uint(digits, CSeq::MAX.into()).map_err(|w| ParseError::header("CSeq", w))?;
        // LWS is mandatory between the number and the method.
        if !rest.bytes().next().is_some_and(is_ws) {
            let why = if rest.is_empty() {
                "missing method"
            } else {
                "not a number"
            };
            return Err(ParseError::header("CSeq", why));
        }
        let method = Method::parse(src, trim_ws(rest))
            .map_err(|_| ParseError::header("CSeq", "bad method"))?;
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<CSeq, ParseError> {
        CSeq::parse_str(s)
    }

    #[test]
    fn parses_and_round_trips() {
        let c = parse("4711 INVITE").unwrap();
        assert_eq!(c, CSeq::new(4711, Method::Invite));
        assert_eq!(c.to_string(), "4711 INVITE");
        for s in ["1 ACK", "  63104 OPTIONS ", "0 REGISTER", "2147483647 BYE"] {
            let c = parse(s).unwrap();
            assert_eq!(parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn rfc4475_wsinv_leading_zeros_and_lws() {
        // §3.1.1.1: "CSeq: 0009\r\n  INVITE", unfolded.
        let c = parse("0009   INVITE").unwrap();
        assert_eq!(c.seq, 9);
        assert_eq!(c.method, Method::Invite);
        assert_eq!(parse("0009\tINVITE").unwrap().seq, 9);
    }

    #[test]
    fn rfc4475_intmeth_extension_method() {
        // §3.1.1.2: the method is any token.
        let m = "!interesting-Method0123456789_*+`.%indeed'~";
        let c = parse(&format!("139122385 {m}")).unwrap();
        assert_eq!(c.seq, 139122385);
        assert_eq!(c.method.as_str(), m);
        assert!(matches!(c.method, Method::Extension(_)));
        // Methods are case-sensitive: `invite` is not INVITE.
        assert!(matches!(
            parse("1 invite").unwrap().method,
            Method::Extension(_)
        ));
    }

    #[test]
    fn rfc4475_scalar02_number_too_large() {
        // §3.1.2.4: "CSeq: 36893488147419103232 REGISTER".
        let e = parse("36893488147419103232 REGISTER").unwrap_err();
        assert_eq!(e.reason(), "Bad CSeq header: number too large");
        // 2**31 is one too many (§8.1.1.5); 2**32 as well.
        assert!(parse("2147483648 INVITE").is_err());
        assert!(parse("4294967296 INVITE").is_err());
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "INVITE",
            "1",
            "1 ",
            "1INVITE",
            "-1 INVITE",
            "1.5 INVITE",
            "1 INVITE extra",
            "1 INV;ITE",
            "x1 INVITE",
            "١ INVITE",
            "1 é",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse("-1 INVITE").unwrap_err().reason(),
            "Bad CSeq header: negative number"
        );
        assert_eq!(
            parse("1").unwrap_err().reason(),
            "Bad CSeq header: missing method"
        );
        assert_eq!(
            parse("1 a b").unwrap_err().reason(),
            "Bad CSeq header: bad method"
        );
    }

    #[test]
    fn next() {
        let c = CSeq::new(1, Method::Invite);
        assert_eq!(c.next(Method::Bye), Some(CSeq::new(2, Method::Bye)));
        assert_eq!(CSeq::new(CSeq::MAX, Method::Bye).next(Method::Bye), None);
    }
}
