//! Single-valued headers with simple grammars: Call-ID, Max-Forwards,
//! Content-Length, Expires, Min-Expires, Retry-After, Subject, User-Agent
//! and Server (RFC 3261 §20).
//!
//! Also holds small lexical helpers shared by the other typed headers.

use super::TypedHeader;
use crate::message::grammar::{is_word, parse_u64, skip_ws, split_once_byte, trim_ws};
use crate::message::{HeaderName, Params, ParseError, ParseErrorKind, Text};
use std::fmt;

// ---------------------------------------------------------------------------
// Shared helpers (visible to the sibling modules of `typed`).
// ---------------------------------------------------------------------------

/// Parses `1*DIGIT` (leading zeros allowed) that must not exceed `max`.
/// The error is a short phrase to put after `Bad <header> header: `.
pub(super) fn parse_uint(s: &str, max: u64) -> Result<u64, &'static str> {
    if s.is_empty() {
        return Err("missing number");
    }
    if s.starts_with('-') {
        return Err("negative number");
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a number");
    }
    match parse_u64(s) {
        Some(n) if n <= max => Ok(n),
        _ => Err("number too large"),
    }
}

/// Parses `delta-seconds = 1*DIGIT` (RFC 3261 §25.1). Values above
/// 2**32-1, the largest the RFC allows (§20.19), are clamped to 2**32-1
/// instead of being refused. `None` if `s` is not all digits.
pub(super) fn parse_delta_seconds(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        parse_u64(s)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(u32::MAX),
    )
}

/// Parses a whole `*( SEMI generic-param )` string, reporting errors
/// against `header`.
pub(super) fn parse_params(src: &Text, s: &str, header: &str) -> Result<Params, ParseError> {
    Params::parse_all(src, s).map_err(|e| rename_error(e, header))
}

/// Re-labels an error from a shared sub-parser (parameters, quoted
/// strings) so that its reason names `header`.
pub(super) fn rename_error(e: ParseError, header: &str) -> ParseError {
    let what = e
        .reason()
        .split_once(": ")
        .map_or("malformed value", |(_, w)| w)
        .to_owned();
    ParseError::header(header, what)
}

/// Splits a leading `comment` off `s`, which must start with `(`
/// (RFC 3261 §25.1: `comment = LPAREN *(ctext / quoted-pair / comment)
/// RPAREN`; comments nest). Returns the text between the outer
/// parentheses, as written, and the rest after the closing one.
pub(super) fn split_comment(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    // `(` and `)` are ASCII, so both slices fall on char
                    // boundaries.
                    return Some((&s[1..i], &s[i + 1..]));
                }
            }
            b'\r' | b'\n' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Counts the leading bytes of `s` that satisfy `pred` (all ASCII
/// predicates, so the count is always a char boundary).
pub(super) fn leading(s: &str, pred: impl Fn(u8) -> bool) -> usize {
    s.bytes().take_while(|&b| b.is_ascii() && pred(b)).count()
}

// ---------------------------------------------------------------------------
// Call-ID
// ---------------------------------------------------------------------------

/// `Call-ID` (RFC 3261 §20.8): `word [ "@" word ]`. Call-IDs are
/// case-sensitive and compared byte by byte, which is what `==` does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(Text);

impl CallId {
    /// A Call-ID, checked against the `callid` grammar.
    pub fn new(value: impl Into<Text>) -> Result<CallId, ParseError> {
        let t = value.into();
        CallId::decode(&t, &t)
    }

    /// The Call-ID as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Call-ID as a shared [`Text`].
    pub fn as_text(&self) -> &Text {
        &self.0
    }
}

impl TypedHeader for CallId {
    const NAME: HeaderName = HeaderName::CallId;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        let s = trim_ws(value);
        if s.is_empty() {
            return Err(ParseError::header("Call-ID", "empty value"));
        }
        // `@` is not a word character, so at most one may appear.
        let ok = match split_once_byte(s, b'@') {
            Some((a, b)) => is_word(a) && is_word(b),
            None => is_word(s),
        };
        if !ok {
            return Err(ParseError::header("Call-ID", "invalid characters"));
        }
        Ok(CallId(src.slice_ref(s)))
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for CallId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

// ---------------------------------------------------------------------------
// Numeric headers
// ---------------------------------------------------------------------------

macro_rules! numeric_header {
    ($(#[$doc:meta])* $ty:ident($int:ty), $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub $int);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;

            fn decode(_src: &Text, value: &str) -> Result<Self, ParseError> {
                let parse: fn(&str) -> Result<$int, ParseError> = $parse;
                parse(trim_ws(value)).map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$int> for $ty {
            fn from(v: $int) -> Self {
                $ty(v)
            }
        }
    };
}

/// Parses a `delta-seconds` value for `header`, clamping large values.
fn delta_seconds_for(header: &'static str, s: &str) -> Result<u32, ParseError> {
    parse_delta_seconds(s).ok_or_else(|| {
        // Reuse parse_uint's wording for the failure cases.
        let why = parse_uint(s, u64::MAX).err().unwrap_or("not a number");
        ParseError::header(header, why)
    })
}

numeric_header!(
    /// `Max-Forwards` (RFC 3261 §20.22): `1*DIGIT`, 0 to 255. Leading zeros
    /// are accepted (RFC 4475 §3.1.1.1 sends `0068`).
    MaxForwards(u8),
    MaxForwards,
    |s| {
        parse_uint(s, u8::MAX.into())
            .map(|n| n as u8)
            .map_err(|why| ParseError::header("Max-Forwards", why))
    }
);

impl MaxForwards {
    /// The initial value a UAC should use (RFC 3261 §8.1.1.6).
    pub const DEFAULT: MaxForwards = MaxForwards(70);

    /// The value a proxy forwards with: one less, or `None` when it is
    /// already zero and the request must be answered with 483 Too Many
    /// Hops (RFC 3261 §16.3 item 3, §16.6 item 3).
    pub fn decrement(self) -> Option<MaxForwards> {
        self.0.checked_sub(1).map(MaxForwards)
    }
}

impl Default for MaxForwards {
    fn default() -> Self {
        MaxForwards::DEFAULT
    }
}

numeric_header!(
    /// `Content-Length` (RFC 3261 §20.14): the body size in octets,
    /// `1*DIGIT`. Negative or non-numeric values are refused (RFC 4475
    /// §3.1.2.3, `ncl`), as are values that do not fit 32 bits.
    ContentLength(u32),
    ContentLength,
    |s| {
        parse_uint(s, u32::MAX.into())
            .map(|n| n as u32)
            .map_err(|why| {
                ParseError::new(
                    ParseErrorKind::ContentLength,
                    format!("Bad Content-Length header: {why}"),
                )
            })
    }
);

numeric_header!(
    /// `Expires` (RFC 3261 §20.19): `delta-seconds`. Values above 2**32-1
    /// are clamped to 2**32-1.
    Expires(u32),
    Expires,
    |s| delta_seconds_for("Expires", s)
);

numeric_header!(
    /// `Min-Expires` (RFC 3261 §20.23): `delta-seconds`, clamped like
    /// [`Expires`].
    MinExpires(u32),
    MinExpires,
    |s| delta_seconds_for("Min-Expires", s)
);

// ---------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------

/// `Retry-After` (RFC 3261 §20.33):
/// `delta-seconds [ comment ] *( SEMI retry-param )`, where
/// `retry-param = ("duration" EQUAL delta-seconds) / generic-param`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// Seconds to wait before retrying (clamped to 2**32-1).
    pub seconds: u32,
    /// The comment, without its outer parentheses, as written.
    pub comment: Option<Text>,
    /// The parameters, including `duration`.
    pub params: Params,
}

impl RetryAfter {
    /// A Retry-After of `seconds`, with no comment or parameters.
    pub fn new(seconds: u32) -> Self {
        RetryAfter {
            seconds,
            comment: None,
            params: Params::new(),
        }
    }

    /// The `duration` parameter: how long the callee will be available
    /// after `seconds` have passed.
    pub fn duration(&self) -> Option<u32> {
        self.params
            .raw("duration")
            .and_then(|v| parse_delta_seconds(v))
    }

    /// Sets the `duration` parameter.
    pub fn set_duration(&mut self, seconds: u32) {
        self.params
            .set_raw("duration", Some(Text::from(seconds.to_string())));
    }
}

impl TypedHeader for RetryAfter {
    const NAME: HeaderName = HeaderName::RetryAfter;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        const H: &str = "Retry-After";
        let s = trim_ws(value);
        let n = leading(s, |b| b.is_ascii_digit());
        let seconds = delta_seconds_for(H, &s[..n])?;
        let mut rest = skip_ws(&s[n..]);
        let mut comment = None;
        if rest.starts_with('(') {
            let (c, after) =
                split_comment(rest).ok_or_else(|| ParseError::header(H, "unbalanced comment"))?;
            comment = Some(src.slice_ref(c));
            rest = after;
        }
        let params = parse_params(src, rest, H)?;
        // retry-param = "duration" EQUAL delta-seconds (§20.33)
        if let Some(p) = params.find("duration")
            && p.value.as_deref().and_then(parse_delta_seconds).is_none()
        {
            return Err(ParseError::header(H, "bad duration"));
        }
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seconds)?;
        if let Some(c) = &self.comment {
            write!(f, " ({c})")?;
        }
        write!(f, "{}", self.params)
    }
}

// ---------------------------------------------------------------------------
// Free-text headers
// ---------------------------------------------------------------------------

macro_rules! text_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, allow_empty = $empty:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub Text);

        impl $ty {
            /// The value as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;

            fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
                let s = trim_ws(value);
                if !$empty && s.is_empty() {
                    return Err(ParseError::header(HeaderName::$name.as_str(), "empty value"));
                }
                Ok($ty(src.slice_ref(s)))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&'static str> for $ty {
            fn from(s: &'static str) -> Self {
                $ty(Text::from_static(s))
            }
        }
    };
}

text_header!(
    /// `Subject` (RFC 3261 §20.36): free text, which may be empty.
    Subject,
    Subject,
    allow_empty = true
);

text_header!(
    /// `User-Agent` (RFC 3261 §20.41): products and comments, kept as
    /// text.
    UserAgent,
    UserAgent,
    allow_empty = false
);

text_header!(
    /// `Server` (RFC 3261 §20.35): products and comments, kept as text.
    Server,
    Server,
    allow_empty = false
);

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) -> T {
        let v = T::parse_str(s).unwrap();
        let again = T::parse_str(&v.to_string()).unwrap();
        assert_eq!(v, again, "round trip of {s:?}");
        v
    }

    #[test]
    fn call_id() {
        let c: CallId = roundtrip("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com");
        assert_eq!(
            c.as_str(),
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com"
        );
        assert_eq!(
            roundtrip::<CallId>("  a84b4c76e66710 ").as_str(),
            "a84b4c76e66710"
        );
        // word characters include ( ) < > : \ " / [ ] ? { }
        assert!(CallId::parse_str(r#"a(b)<c>:d\"e/[f]?{g}@h"#).is_ok());
        // Case-sensitive comparison (§20.8).
        assert_ne!(
            CallId::parse_str("ABC").unwrap(),
            CallId::parse_str("abc").unwrap()
        );
        for bad in ["", "a b", "a@b@c", "@b", "a@", "a;b", "é"] {
            assert!(CallId::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            CallId::parse_str("a b").unwrap_err().reason(),
            "Bad Call-ID header: invalid characters"
        );
        assert!(CallId::new("x@y").is_ok());
        assert!(CallId::new("x y").is_err());
    }

    #[test]
    fn call_id_shares_storage() {
        // Long enough not to be copied inline.
        let src = Text::from("  a84b4c76e66710-long-call-id@pc33.atlanta.com ");
        let c = CallId::decode(&src, &src).unwrap();
        assert_eq!(
            c.as_text().as_bytes().as_ptr(),
            src.as_bytes()[2..].as_ptr()
        );
    }

    #[test]
    fn max_forwards() {
        // RFC 4475 §3.1.1.1 (wsinv): leading zeros.
        assert_eq!(roundtrip::<MaxForwards>("0068"), MaxForwards(68));
        assert_eq!(MaxForwards::parse_str("0068").unwrap().to_string(), "68");
        assert_eq!(roundtrip::<MaxForwards>("0"), MaxForwards(0));
        assert_eq!(roundtrip::<MaxForwards>("255"), MaxForwards(255));
        // RFC 4475 §3.1.2.4 (scalar02): 300 is out of range.
        let e = MaxForwards::parse_str("300").unwrap_err();
        assert_eq!(e.reason(), "Bad Max-Forwards header: number too large");
        for bad in ["", "-1", "7 0", "0x10", "70a", "99999999999999999999999"] {
            assert!(MaxForwards::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(MaxForwards(1).decrement(), Some(MaxForwards(0)));
        assert_eq!(MaxForwards(0).decrement(), None);
        assert_eq!(MaxForwards::default(), MaxForwards(70));
    }

    #[test]
    fn content_length() {
        assert_eq!(roundtrip::<ContentLength>("0"), ContentLength(0));
        assert_eq!(roundtrip::<ContentLength>(" 000150 "), ContentLength(150));
        assert_eq!(
            roundtrip::<ContentLength>("4294967295"),
            ContentLength(u32::MAX)
        );
        // RFC 4475 §3.1.2.3 (ncl): negative Content-Length.
        let e = ContentLength::parse_str("-999").unwrap_err();
        assert_eq!(e.kind(), ParseErrorKind::ContentLength);
        assert_eq!(e.reason(), "Bad Content-Length header: negative number");
        for bad in ["", "abc", "1 2", "4294967296", "+5", "١"] {
            assert!(ContentLength::parse_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn expires_and_min_expires() {
        assert_eq!(roundtrip::<Expires>("3600"), Expires(3600));
        assert_eq!(roundtrip::<Expires>("0"), Expires(0));
        assert_eq!(roundtrip::<Expires>("004294967295"), Expires(u32::MAX));
        // Over 2**32-1 is clamped (RFC 4475 scalar02 sends 1 followed by
        // 100 zeros).
        assert_eq!(Expires::parse_str("4294967296").unwrap(), Expires(u32::MAX));
        let huge = format!("1{}", "0".repeat(100));
        assert_eq!(Expires::parse_str(&huge).unwrap(), Expires(u32::MAX));
        for bad in ["", "-1", "soon", "1.5", "Thu, 01 Dec 1994 16:00:00 GMT"] {
            assert!(Expires::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Expires::parse_str("-1").unwrap_err().reason(),
            "Bad Expires header: negative number"
        );
        assert_eq!(roundtrip::<MinExpires>("60"), MinExpires(60));
        assert!(MinExpires::parse_str("x").is_err());
    }

    #[test]
    fn retry_after() {
        let r: RetryAfter = roundtrip("18000;duration=3600");
        assert_eq!(r.seconds, 18000);
        assert_eq!(r.duration(), Some(3600));
        assert_eq!(r.comment, None);

        let r: RetryAfter = roundtrip("120 (I'm in a meeting)");
        assert_eq!(r.seconds, 120);
        assert_eq!(r.comment.as_deref(), Some("I'm in a meeting"));
        assert_eq!(r.to_string(), "120 (I'm in a meeting)");

        let r: RetryAfter = roundtrip("5 (nested (comment) \\) here) ; duration = 10;x");
        assert_eq!(r.comment.as_deref(), Some("nested (comment) \\) here"));
        assert_eq!(r.duration(), Some(10));
        assert!(r.params.contains("x"));
        assert_eq!(r.to_string(), "5 (nested (comment) \\) here);duration=10;x");

        for bad in [
            "",
            "abc",
            "5 (open",
            "5 junk",
            "5;duration=x",
            "5;duration",
            "-5",
            "5x",
        ] {
            assert!(RetryAfter::parse_str(bad).is_err(), "{bad:?}");
        }
        let mut r = RetryAfter::new(30);
        r.set_duration(60);
        assert_eq!(r.to_string(), "30;duration=60");
    }

    #[test]
    fn text_headers() {
        assert_eq!(roundtrip::<Subject>("").as_str(), "");
        assert_eq!(
            roundtrip::<Subject>("  Need more boxes ").as_str(),
            "Need more boxes"
        );
        assert_eq!(
            roundtrip::<UserAgent>("Softphone Beta1.5").as_str(),
            "Softphone Beta1.5"
        );
        assert_eq!(
            roundtrip::<Server>("HomeServer v2").as_str(),
            "HomeServer v2"
        );
        assert!(UserAgent::parse_str(" ").is_err());
        assert!(Server::parse_str("").is_err());
        assert_eq!(Server::from("parrot").to_string(), "parrot");
    }

    #[test]
    fn comments() {
        assert_eq!(split_comment("(a(b)c) d"), Some(("a(b)c", " d")));
        assert_eq!(split_comment(r"(a\)b) d"), Some((r"a\)b", " d")));
        assert_eq!(split_comment("(é)"), Some(("é", "")));
        assert_eq!(split_comment("(a"), None);
        assert_eq!(split_comment("a)"), None);
        assert_eq!(split_comment("(\\"), None);
    }

    #[test]
    fn no_panics_on_odd_input() {
        for s in [
            "(", ")", "\\", "é(", "9é", "((((", "1 (\\é)", ";", "1;", "\u{0}",
        ] {
            let _ = RetryAfter::parse_str(s);
            let _ = CallId::parse_str(s);
            let _ = MaxForwards::parse_str(s);
            let _ = Expires::parse_str(s);
            let _ = ContentLength::parse_str(s);
        }
    }
}

/// Property tests over every typed header of this module and its
/// siblings: parsing never panics, and whatever parses is written back in
/// a form that parses to the same value.
#[cfg(test)]
mod roundtrip_props {
    use super::super::*;
    use proptest::prelude::*;
    use std::fmt;

    fn check<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) {
        if let Ok(v) = T::parse_str(s) {
            let out = v.to_string();
            let again = T::parse_str(&out).unwrap_or_else(|e| panic!("{s:?} -> {out:?}: {e}"));
            assert_eq!(again, v, "{s:?} -> {out:?}");
        }
    }

    fn check_all(s: &str) {
        check::<Via>(s);
        check::<CSeq>(s);
        check::<CallId>(s);
        check::<MaxForwards>(s);
        check::<ContentLength>(s);
        check::<Expires>(s);
        check::<MinExpires>(s);
        check::<RetryAfter>(s);
        check::<Subject>(s);
        check::<UserAgent>(s);
        check::<Server>(s);
        check::<ContentType>(s);
        check::<Allow>(s);
        check::<Supported>(s);
        check::<Require>(s);
        check::<ProxyRequire>(s);
        check::<Unsupported>(s);
        check::<Accept>(s);
        check::<AllowEvents>(s);
        check::<Event>(s);
        check::<SubscriptionState>(s);
        check::<WwwAuthenticate>(s);
        check::<ProxyAuthenticate>(s);
        check::<Authorization>(s);
        check::<ProxyAuthorization>(s);
    }

    proptest! {
        #[test]
        fn arbitrary_text(s in "[ -~\t\u{e9}\u{2028}]{0,40}") {
            check_all(&s);
        }

        #[test]
        fn via_like(s in "(SIP|sip) ?/ ?2\\.0 ?/ ?(UDP|tcp|X-1) +(host|\\[::1\\]|1\\.2\\.3\\.4|a\\.b\\.)( ?: ?[0-9]{1,5})?( ?; ?(branch|rport|received|ttl|maddr|x)( ?= ?[a-z0-9:\\[\\]\\.\"]{0,6})?){0,4} ?") {
            check::<Via>(&s);
        }

        #[test]
        fn params_like(s in "[a-z*]{0,5}( ?/ ?[a-z*+]{1,5})?( ?\\(([a-z ()\\\\]){0,6}\\))?( ?; ?[a-z-]{0,6}( ?= ?(\"[a-z ,;\\\\\"]{0,5}\"|[a-z0-9.]{1,4}))?){0,3}( ?, ?[a-z/*]{1,5}){0,2}") {
            check_all(&s);
        }

        #[test]
        fn auth_like(s in "(Digest|Bearer|X) {1,2}([a-z]{1,6} ?= ?(\"[a-zA-Z0-9 ,=\\\\\"]{0,8}\"|[a-zA-Z0-9]{1,8}) ?, ?){0,4}[a-zA-Z0-9=]{0,6}") {
            check::<WwwAuthenticate>(&s);
            check::<Authorization>(&s);
        }

        #[test]
        fn numbers(s in "[0-9 -]{0,25}( [A-Z]{1,6})?") {
            check_all(&s);
        }
    }
}
