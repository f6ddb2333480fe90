//! `Session-Expires` and `Min-SE`, the headers of SIP session timers
//! (RFC 4028 §4, §5).
//!
//! ```text
//! Session-Expires  = ("Session-Expires" / "x") HCOLON delta-seconds
//!                    *(SEMI se-params)
//! se-params        = refresher-param / generic-param
//! refresher-param  = "refresher" EQUAL  ("uas" / "uac")
//! Min-SE           = "Min-SE" HCOLON delta-seconds *(SEMI generic-param)
//! ```
//!
//! Both are single-valued: their [`HeaderName`]s are not lists, so a comma
//! in the value is never a split point and [`TypedHeader::SPLIT`] keeps its
//! default, as for the other single-valued headers (`Retry-After`, ...).

use super::TypedHeader;
use super::simple::{leading, parse_delta_seconds, parse_params, parse_uint};
use crate::message::grammar::{is_ws, trim_ws};
use crate::message::{HeaderName, Params, ParseError, Text};
use std::fmt;

/// Splits `s` (trimmed) into its leading `delta-seconds` and the rest.
/// Values above 2**32-1 are clamped, as for `Expires`.
fn delta_and_rest<'s>(s: &'s str, header: &str) -> Result<(u32, &'s str), ParseError> {
    let s = trim_ws(s);
    // The number runs to the first `;` or whitespace, so that `1800abc`
    // is reported as "not a number" rather than as a bad parameter.
    let n = leading(s, |b| b != b';' && !is_ws(b));
    let (num, rest) = s.split_at(n);
    match parse_delta_seconds(num) {
        Some(d) => Ok((d, rest)),
        None => {
            let why = parse_uint(num, u64::MAX).err().unwrap_or("not a number");
            Err(ParseError::header(header, why))
        }
    }
}

// ---------------------------------------------------------------------------
// Session-Expires
// ---------------------------------------------------------------------------

/// Who sends the session refreshes (RFC 4028 §4, `refresher-param`):
/// relative to the transaction that carries the header, so `Uac` is the
/// sender of the request and `Uas` the one that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// `uac`: the client of the transaction refreshes.
    Uac,
    /// `uas`: the server of the transaction refreshes.
    Uas,
}

impl Refresher {
    /// The parameter value, `uac` or `uas`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }

    /// `uac` or `uas` in any case; `None` for anything else (a quoted
    /// value is not a `refresher-param`).
    fn parse(s: &str) -> Option<Refresher> {
        if s.eq_ignore_ascii_case("uac") {
            Some(Refresher::Uac)
        } else if s.eq_ignore_ascii_case("uas") {
            Some(Refresher::Uas)
        } else {
            None
        }
    }
}

impl fmt::Display for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Session-Expires` (RFC 4028 §4): the session interval in seconds and,
/// optionally, who refreshes. Compact form `x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExpires {
    /// The session interval, in seconds (clamped to 2**32-1).
    pub delta: u32,
    /// The `refresher` parameter, if present.
    pub refresher: Option<Refresher>,
    /// The other parameters (never `refresher`), kept so that the value
    /// is written back with them.
    pub params: Params,
}

impl SessionExpires {
    /// A Session-Expires of `delta` seconds, with an optional refresher and
    /// no other parameters.
    pub fn new(delta: u32, refresher: Option<Refresher>) -> Self {
        SessionExpires {
            delta,
            refresher,
            params: Params::new(),
        }
    }
}

impl TypedHeader for SessionExpires {
    const NAME: HeaderName = HeaderName::SessionExpires;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        const H: &str = "Session-Expires";
        let (delta, rest) = delta_and_rest(value, H)?;
        let mut params = parse_params(src, rest, H)?;
        // `refresher` with another value would match `generic-param`, but
        // only `uac`/`uas` mean anything; refusing the rest (and a second
        // `refresher`) keeps the role unambiguous.
        let mut found = params
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case("refresher"));
        let refresher = match (found.next(), found.next()) {
            (None, _) => None,
            (Some(_), Some(_)) => return Err(ParseError::header(H, "duplicate refresher")),
            (Some(p), None) => Some(
                p.value
                    .as_deref()
                    .and_then(Refresher::parse)
                    .ok_or_else(|| ParseError::header(H, "bad refresher"))?,
            ),
        };
        params.remove("refresher");
        Ok(SessionExpires {
            delta,
            refresher,
            params,
        })
    }
}

impl fmt::Display for SessionExpires {
    /// Writes `delta[;refresher=x]` and then the other parameters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Pieces rather than `write!`: every answer to a call carries one.
        f.write_str(itoa::Buffer::new().format(self.delta))?;
        if let Some(r) = self.refresher {
            f.write_str(";refresher=")?;
            f.write_str(r.as_str())?;
        }
        if self.params.is_empty() {
            return Ok(());
        }
        fmt::Display::fmt(&self.params, f)
    }
}

// ---------------------------------------------------------------------------
// Min-SE
// ---------------------------------------------------------------------------

/// `Min-SE` (RFC 4028 §5): the smallest session interval, in seconds, an
/// element on the path accepts. Its parameters carry no meaning and are
/// checked but dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinSe(pub u32);

impl TypedHeader for MinSe {
    const NAME: HeaderName = HeaderName::MinSe;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        const H: &str = "Min-SE";
        let (delta, rest) = delta_and_rest(value, H)?;
        parse_params(src, rest, H)?;
        Ok(MinSe(delta))
    }
}

impl fmt::Display for MinSe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for MinSe {
    fn from(v: u32) -> Self {
        MinSe(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::parse_req;
    use proptest::prelude::*;

    fn roundtrip<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) -> T {
        let v = T::parse_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        let again = T::parse_str(&v.to_string()).unwrap();
        assert_eq!(v, again, "round trip of {s:?}");
        v
    }

    #[test]
    fn session_expires() {
        let se: SessionExpires = roundtrip("1800;refresher=uac");
        assert_eq!(se, SessionExpires::new(1800, Some(Refresher::Uac)));
        assert_eq!(se.to_string(), "1800;refresher=uac");

        let se: SessionExpires = roundtrip("  4000 ");
        assert_eq!(se.delta, 4000);
        assert_eq!(se.refresher, None);
        assert_eq!(se.to_string(), "4000");

        // Leading zeros, whitespace around `;` and `=`.
        let se: SessionExpires = roundtrip("090 ; refresher = uas");
        assert_eq!((se.delta, se.refresher), (90, Some(Refresher::Uas)));
        assert_eq!(se.to_string(), "90;refresher=uas");

        // Over 2**32-1 is clamped like the other delta-seconds headers.
        assert_eq!(
            SessionExpires::parse_str("99999999999").unwrap().delta,
            u32::MAX
        );
        assert_eq!(
            SessionExpires::new(600, Some(Refresher::Uas)).to_string(),
            "600;refresher=uas"
        );
    }

    #[test]
    fn session_expires_generic_params() {
        // Generic parameters survive, after the refresher.
        let se: SessionExpires = roundtrip("1800;x-foo=bar;refresher=uac;flag");
        assert_eq!(se.refresher, Some(Refresher::Uac));
        assert_eq!(se.params.len(), 2);
        assert_eq!(se.params.get("x-foo").as_deref(), Some("bar"));
        assert!(se.params.contains("flag"));
        assert!(!se.params.contains("refresher"));
        assert_eq!(se.to_string(), "1800;refresher=uac;x-foo=bar;flag");
    }

    #[test]
    fn refresher_is_case_insensitive() {
        for s in [
            "1800;refresher=UAC",
            "1800;REFRESHER=Uac",
            "1800;Refresher=uAc",
        ] {
            let se = SessionExpires::parse_str(s).unwrap();
            assert_eq!(se.refresher, Some(Refresher::Uac), "{s:?}");
            assert_eq!(se.to_string(), "1800;refresher=uac");
        }
        let se = SessionExpires::parse_str("1800;REFRESHER=UAS").unwrap();
        assert_eq!(se.refresher, Some(Refresher::Uas));
        assert_eq!(Refresher::Uac.as_str(), "uac");
        assert_eq!(Refresher::Uas.to_string(), "uas");
    }

    #[test]
    fn session_expires_bad_input() {
        for bad in [
            "",
            " ",
            "abc",
            "-1800",
            "18.5",
            "1800abc",
            "1800 junk",
            "1800;",
            "1800;refresher",
            "1800;refresher=",
            "1800;refresher=proxy",
            "1800;refresher=\"uac\"",
            "1800;refresher=uac;refresher=uas",
            ";refresher=uac",
            "1800, 900",
        ] {
            assert!(SessionExpires::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            SessionExpires::parse_str("").unwrap_err().reason(),
            "Bad Session-Expires header: missing number"
        );
        assert_eq!(
            SessionExpires::parse_str("-5").unwrap_err().reason(),
            "Bad Session-Expires header: negative number"
        );
        assert_eq!(
            SessionExpires::parse_str("1800abc").unwrap_err().reason(),
            "Bad Session-Expires header: not a number"
        );
        assert_eq!(
            SessionExpires::parse_str("1800;refresher=both")
                .unwrap_err()
                .reason(),
            "Bad Session-Expires header: bad refresher"
        );
        assert_eq!(
            SessionExpires::parse_str("1800;refresher=uac;refresher=uac")
                .unwrap_err()
                .reason(),
            "Bad Session-Expires header: duplicate refresher"
        );
        assert!(
            SessionExpires::parse_str("1800 x")
                .unwrap_err()
                .reason()
                .starts_with("Bad Session-Expires header: ")
        );
    }

    #[test]
    fn min_se() {
        assert_eq!(roundtrip::<MinSe>("90"), MinSe(90));
        assert_eq!(roundtrip::<MinSe>(" 0120 "), MinSe(120));
        // Parameters are checked, then dropped.
        let m: MinSe = roundtrip("600;foo=bar");
        assert_eq!(m, MinSe(600));
        assert_eq!(m.to_string(), "600");
        assert_eq!(MinSe::parse_str("4294967296").unwrap(), MinSe(u32::MAX));
        assert_eq!(MinSe::from(90), MinSe(90));
        for bad in ["", "x", "-90", "90;", "90 s", "90;a=\"", "9 0"] {
            assert!(MinSe::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            MinSe::parse_str("soon").unwrap_err().reason(),
            "Bad Min-SE header: not a number"
        );
    }

    #[test]
    fn from_a_message_with_compact_form() {
        let req = parse_req(
            "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
             Max-Forwards: 70\r\n\
             To: Bob <sip:bob@biloxi.example.com>\r\n\
             From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
             Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
             CSeq: 314159 INVITE\r\n\
             k: timer\r\n\
             x: 1800 ; Refresher=UAS ; ext=1\r\n\
             MIN-se: 120\r\n\
             Content-Length: 0\r\n\r\n",
        );
        let se = req.headers.typed::<SessionExpires>().unwrap().unwrap();
        assert_eq!(se.delta, 1800);
        assert_eq!(se.refresher, Some(Refresher::Uas));
        assert_eq!(se.to_string(), "1800;refresher=uas;ext=1");
        assert_eq!(req.headers.typed::<MinSe>().unwrap().unwrap(), MinSe(120));
        // Looked up by either name.
        assert!(req.headers.get("Session-Expires").is_some());
        assert!(req.headers.get("x").is_some());
    }

    #[test]
    fn written_back_into_headers() {
        let mut h = crate::message::Headers::new();
        h.push_typed(&SessionExpires::new(1800, Some(Refresher::Uac)));
        h.push_typed(&MinSe(90));
        assert_eq!(
            h.get(HeaderName::SessionExpires).unwrap(),
            "1800;refresher=uac"
        );
        assert_eq!(h.get(HeaderName::MinSe).unwrap(), "90");
        // A comma is not a list separator for these headers.
        h.set(HeaderName::SessionExpires, "1800, 900");
        assert!(h.typed::<SessionExpires>().unwrap().is_err());
    }

    fn check<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) {
        if let Ok(v) = T::parse_str(s) {
            let out = v.to_string();
            let again = T::parse_str(&out).unwrap_or_else(|e| panic!("{s:?} -> {out:?}: {e}"));
            assert_eq!(again, v, "{s:?} -> {out:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_round_trips(s in "[ -~\t\u{e9}]{0,30}") {
            check::<SessionExpires>(&s);
            check::<MinSe>(&s);
        }

        #[test]
        fn session_expires_like(s in " ?[0-9]{1,12} ?( ?; ?(refresher|REFRESHER|x|rr)( ?= ?(uac|UAS|uas|u|\"uac\"|[a-z0-9]{1,3}))?){0,3} ?") {
            check::<SessionExpires>(&s);
            check::<MinSe>(&s);
        }
    }
}
