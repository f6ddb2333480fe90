//! `name-addr` / `addr-spec` (RFC 3261 §20.10, §25.1): the address part of
//! From, To, Contact, Route, Record-Route and similar headers.
//!
//! ```
//! use parrot::message::{NameAddr, Text};
//!
//! let src = Text::from(r#""Alice \"A\"" <sip:alice@atlanta.com>;tag=9fxced76sl"#);
//! let (addr, rest) = NameAddr::parse(&src, &src).unwrap();
//! assert_eq!(addr.display_name().as_deref(), Some(r#"Alice "A""#));
//! assert_eq!(addr.uri().to_string(), "sip:alice@atlanta.com");
//! assert_eq!(rest, ";tag=9fxced76sl");
//! assert_eq!(addr.to_string(), r#""Alice \"A\"" <sip:alice@atlanta.com>"#);
//! ```

use super::error::{ParseError, ParseErrorKind};
use super::grammar::{
    find_any, find_byte, is_token, is_token_byte, is_ws, quote, skip_ws, unquote,
};
use super::text::Text;
use super::uri::{Detail, Uri};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// An address: an optional display name and a URI, written either as
/// `name-addr` (`Display Name <uri>`) or as a bare `addr-spec` (`uri`).
///
/// The display name is kept as written (a quoted string keeps its quotes
/// and escapes) so that output reproduces input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    display: Option<Text>,
    uri: Uri,
    angle: bool,
}

impl NameAddr {
    /// `<uri>`, with no display name.
    pub fn new(uri: impl Into<Uri>) -> Self {
        NameAddr {
            display: None,
            uri: uri.into(),
            angle: true,
        }
    }

    /// A bare `addr-spec` (no angle brackets unless the URI needs them).
    pub fn addr_spec(uri: impl Into<Uri>) -> Self {
        NameAddr {
            display: None,
            uri: uri.into(),
            angle: false,
        }
    }

    /// Builder: with the display name `name` (unquoted text). A name made
    /// of tokens separated by single spaces is written as is, anything
    /// else as a quoted string. Control characters (CR, LF, ...) cannot be
    /// carried and are replaced by spaces.
    pub fn with_display(mut self, name: &str) -> Self {
        self.set_display(Some(name));
        self
    }

    /// Sets (see [`NameAddr::with_display`]) or removes the display name.
    pub fn set_display(&mut self, name: Option<&str>) {
        self.display = name.map(|n| {
            let tokens = !n.is_empty() && n.split(' ').all(is_token);
            if tokens {
                Text::from(n.to_owned())
            } else {
                // qdtext / quoted-pair cannot carry CR or LF (RFC 3261 §25.1).
                let clean: String = n
                    .chars()
                    .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                    .collect();
                Text::from(quote(&clean))
            }
        });
    }

    /// Parses a `name-addr` or an `addr-spec` at the start of `s` (a
    /// sub-slice of `src`, leading whitespace allowed). Returns the address
    /// and the rest of `s` after it, with leading whitespace skipped: the
    /// header parameters (`;tag=...`), if any.
    ///
    /// In the `addr-spec` form, the URI ends at the first `;`: what follows
    /// is header parameters, not URI parameters (RFC 3261 §20).
    pub fn parse<'s>(src: &Text, s: &'s str) -> Result<(NameAddr, &'s str), ParseError> {
        NameAddr::parse_detail(src, s)
            .map_err(|d| ParseError::new(ParseErrorKind::Header, format!("Bad address: {d}")))
    }

    /// [`NameAddr::parse`], reporting only what is wrong.
    pub(crate) fn parse_detail<'s>(src: &Text, s: &'s str) -> Result<(NameAddr, &'s str), Detail> {
        let s = skip_ws(s);
        let b = s.as_bytes();
        if b.is_empty() {
            return Err("missing address".into());
        }
        // name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
        // display-name = *(token LWS) / quoted-string
        let (display, after) = if b[0] == b'"' {
            let (q, rest) = split_quoted(s)?;
            let rest = skip_ws(rest);
            if !rest.starts_with('<') {
                return Err("missing '<' after display name".into());
            }
            (Some(q), rest)
        } else {
            // A run of tokens separated by whitespace, then '<'. Non-ASCII
            // characters are accepted in unquoted names (common in practice).
            let mut i = 0;
            let mut end = 0;
            loop {
                let start = i;
                while i < b.len() && (is_token_byte(b[i]) || b[i] >= 0x80) {
                    i += 1;
                }
                if i == start {
                    break;
                }
                end = i;
                while i < b.len() && is_ws(b[i]) {
                    i += 1;
                }
            }
            if b.get(i) == Some(&b'<') {
                // `i` and `end` sit on ASCII bytes (or the end): char boundaries.
                (s.get(..end).filter(|d| !d.is_empty()), &s[i..])
            } else {
                return NameAddr::parse_addr_spec(src, s);
            }
        };
        let inner = &after[1..];
        let Some(close) = find_byte(inner, b'>') else {
            return Err("missing '>'".into());
        };
        // `< sip:a@b >` breaks the grammar (no LWS inside the brackets), but
        // the spaces are unambiguous: be liberal, as RFC 4475 §3.1.2.13
        // (badaspec) allows.
        let uri =
            Uri::parse_detail(src, super::grammar::trim_ws(&inner[..close])).map_err(bad_uri)?;
        Ok((
            NameAddr {
                display: display.map(|d| src.slice_ref(d)),
                uri,
                angle: true,
            },
            skip_ws(&inner[close + 1..]),
        ))
    }

    /// The bare `addr-spec` form: the URI runs up to the first `;` or
    /// whitespace and may not contain `,` or `?` (RFC 3261 §20).
    fn parse_addr_spec<'s>(src: &Text, s: &'s str) -> Result<(NameAddr, &'s str), Detail> {
        let end = find_any(s, b"; \t").unwrap_or(s.len());
        let (u, rest) = s.split_at(end);
        if u.contains([',', '?']) {
            return Err("URI with ',' or '?' must be enclosed in '<>'".into());
        }
        if u.contains('"') {
            return Err("unexpected quote".into());
        }
        let uri = Uri::parse_detail(src, u).map_err(bad_uri)?;
        Ok((NameAddr::addr_spec(uri), skip_ws(rest)))
    }

    /// The display name with quotes and escapes removed.
    pub fn display_name(&self) -> Option<Cow<'_, str>> {
        self.display.as_deref().map(unquote)
    }

    /// The display name as written (a quoted string keeps its quotes).
    pub fn display_raw(&self) -> Option<&Text> {
        self.display.as_ref()
    }

    /// The URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The URI, mutably.
    pub fn uri_mut(&mut self) -> &mut Uri {
        &mut self.uri
    }

    /// Replaces the URI.
    pub fn set_uri(&mut self, uri: impl Into<Uri>) {
        self.uri = uri.into();
    }

    /// Takes the URI.
    pub fn into_uri(self) -> Uri {
        self.uri
    }

    /// Whether the address was written (or is set to be written) in the
    /// `name-addr` form, with `<>`.
    pub fn has_angle_brackets(&self) -> bool {
        self.angle || self.display.is_some()
    }

    /// Chooses the `name-addr` (`true`) or bare `addr-spec` form. The
    /// brackets are written anyway when there is a display name or the URI
    /// contains `,`, `;` or `?` (RFC 3261 §20).
    pub fn set_angle_brackets(&mut self, angle: bool) {
        self.angle = angle;
    }
}

fn bad_uri(d: Detail) -> Detail {
    format!("bad URI: {d}").into()
}

/// Splits a leading quoted string (starting with `"`) off `s`.
fn split_quoted(s: &str) -> Result<(&str, &str), Detail> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
            b'\\' => match b.get(i + 1) {
                Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => i += 2,
                _ => return Err("bad escape in display name".into()),
            },
            b'"' => return Ok((&s[..=i], &s[i + 1..])),
            b'\r' | b'\n' => return Err("line break in display name".into()),
            _ => i += 1,
        }
    }
    Err("unbalanced quotes".into())
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.display.is_none() && !self.angle {
            // The name-addr form is required when the URI contains a
            // comma, semicolon or question mark (RFC 3261 §20).
            let uri = self.uri.to_string();
            if !uri.contains([',', ';', '?']) {
                return f.write_str(&uri);
            }
            return write!(f, "<{uri}>");
        }
        if let Some(d) = &self.display {
            f.write_str(d)?;
            f.write_str(" ")?;
        }
        f.write_str("<")?;
        fmt::Display::fmt(&self.uri, f)?;
        f.write_str(">")
    }
}

impl FromStr for NameAddr {
    type Err = ParseError;
    /// Parses a whole string; trailing characters are an error.
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = Text::from(s.to_owned());
        let (a, rest) = NameAddr::parse(&t, &t)?;
        if !rest.is_empty() {
            return Err(ParseError::new(
                ParseErrorKind::Header,
                "Bad address: unexpected characters after address",
            ));
        }
        Ok(a)
    }
}

impl From<Uri> for NameAddr {
    fn from(uri: Uri) -> Self {
        NameAddr::new(uri)
    }
}

impl From<super::uri::SipUri> for NameAddr {
    fn from(uri: super::uri::SipUri) -> Self {
        NameAddr::new(uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Host;
    use crate::message::uri::SipUri;

    fn parse(s: &str) -> Result<(NameAddr, String), ParseError> {
        let t = Text::from(s.to_owned());
        NameAddr::parse(&t, &t).map(|(a, r)| (a, r.to_owned()))
    }

    fn ok(s: &str) -> (NameAddr, String) {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(a) => panic!("{s} parsed as {a:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ParseErrorKind::Header);
                e.reason().to_owned()
            }
        }
    }

    #[test]
    fn token_display_name() {
        let (a, rest) = ok("John Q Public <sip:jqp@example.com>;tag=1");
        assert_eq!(a.display_name().as_deref(), Some("John Q Public"));
        assert_eq!(a.display_raw().unwrap(), "John Q Public");
        assert_eq!(a.uri().to_string(), "sip:jqp@example.com");
        assert!(a.has_angle_brackets());
        assert_eq!(rest, ";tag=1");
        assert_eq!(a.to_string(), "John Q Public <sip:jqp@example.com>");
    }

    #[test]
    fn quoted_display_name() {
        let (a, rest) = ok(r#""A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s"#);
        assert_eq!(a.display_name().as_deref(), Some("A. G. Bell"));
        assert_eq!(rest, ";tag=a48s");
        assert_eq!(
            a.to_string(),
            r#""A. G. Bell" <sip:agb@bell-telephone.com>"#
        );

        // Escaped quotes and backslashes (RFC 4475 §3.1.1.1 style).
        let src = r#""\"Watson\" \\ Thomas, \"Jr.\"" <sip:t.watson@example.org>"#;
        let (a, _) = ok(src);
        assert_eq!(
            a.display_name().as_deref(),
            Some(r#""Watson" \ Thomas, "Jr.""#)
        );
        assert_eq!(
            a.display_raw().unwrap(),
            r#""\"Watson\" \\ Thomas, \"Jr.\"""#
        );
        assert_eq!(a.to_string(), src);

        // UTF-8 in display names.
        let (a, _) = ok("\"Bjørn Ærø\" <sip:b@example.no>");
        assert_eq!(a.display_name().as_deref(), Some("Bjørn Ærø"));
        let (a, _) = ok("Bjørn <sip:b@example.no>");
        assert_eq!(a.display_name().as_deref(), Some("Bjørn"));
        assert_eq!(a.to_string(), "Bjørn <sip:b@example.no>");

        // Empty quoted display name.
        let (a, _) = ok("\"\" <sip:b@x>");
        assert_eq!(a.display_name().as_deref(), Some(""));
        assert_eq!(a.to_string(), "\"\" <sip:b@x>");
    }

    #[test]
    fn no_space_before_angle() {
        // RFC 4475 §3.1.1.6: LAQUOT = SWS "<", so no whitespace is needed.
        let (a, rest) = ok("caller<sip:caller@example.com>;tag=323");
        assert_eq!(a.display_name().as_deref(), Some("caller"));
        assert_eq!(rest, ";tag=323");
        let (a, _) = ok(r#""Bob"<sip:bob@x>"#);
        assert_eq!(a.display_name().as_deref(), Some("Bob"));
        assert_eq!(a.to_string(), r#""Bob" <sip:bob@x>"#);
    }

    #[test]
    fn bare_uri_in_brackets() {
        let (a, rest) = ok("  <sip:carol@chicago.com;lr>");
        assert_eq!(a.display_name(), None);
        assert_eq!(rest, "");
        assert_eq!(a.uri().as_sip().unwrap().params().len(), 1);
        assert_eq!(a.to_string(), "<sip:carol@chicago.com;lr>");
    }

    #[test]
    fn addr_spec_form() {
        // The URI ends at the first ';': those are header parameters (§20).
        let (a, rest) = ok("sip:alice@atlanta.com;tag=88sja8x");
        assert!(!a.has_angle_brackets());
        assert_eq!(a.uri().to_string(), "sip:alice@atlanta.com");
        assert!(a.uri().as_sip().unwrap().params().is_empty());
        assert_eq!(rest, ";tag=88sja8x");
        assert_eq!(a.to_string(), "sip:alice@atlanta.com");

        let (a, rest) = ok("sip:a@b ;expires=60");
        assert_eq!(a.uri().to_string(), "sip:a@b");
        assert_eq!(rest, ";expires=60");

        let (a, rest) = ok("tel:+1-201-555-0123;x=y");
        assert_eq!(a.uri().to_string(), "tel:+1-201-555-0123");
        assert_eq!(rest, ";x=y");

        // RFC 4475 §3.1.2.12: '?' and ',' need the name-addr form.
        assert!(err("sip:user@example.com?Route=%3Csip:sip.example.com%3E").contains("<>"));
        assert!(err("sip:user,x@example.com").contains("<>"));
    }

    #[test]
    fn rest_is_returned() {
        let (_, rest) = ok("<sip:a@b> x");
        assert_eq!(rest, "x");
        let (_, rest) = ok("sip:a@b x");
        assert_eq!(rest, "x");
        assert!("<sip:a@b> x".parse::<NameAddr>().is_err());
        assert!("sip:a@b;tag=1".parse::<NameAddr>().is_err());
        assert!("<sip:a@b;lr>".parse::<NameAddr>().is_ok());
    }

    #[test]
    fn malformed() {
        // RFC 4475 §3.1.2.5: unterminated quoted string.
        assert!(err(r#""Mr. J. User <sip:j.user@example.com>"#).contains("unbalanced quotes"));
        assert!(err(r#""bad \"#).contains("escape"));
        assert!(err("\"a\r\nb\" <sip:a@b>").contains("line break"));
        assert!(err("<sip:a@b").contains("'>'"));
        assert!(err("Alice <sip:a@b").contains("'>'"));
        assert!(err(r#""Alice" sip:a@b"#).contains("'<'"));
        // RFC 4475 §3.1.2.13: spaces within addr-spec.
        // RFC 4475 §3.1.2.13: spaces inside the brackets are tolerated.
        let (a, _) = ok("\"Watson, Thomas\" < sip:t.watson@example.org >");
        assert_eq!(a.uri().to_string(), "sip:t.watson@example.org");
        // RFC 4475 §3.1.2.14: non-token characters in an unquoted display name.
        assert!(parse("Bell, Alexander <sip:a.g.bell@example.com>").is_err());
        assert!(err("").contains("missing"));
        assert!(err("   ").contains("missing"));
        assert!(err("<>").contains("bad URI"));
        assert!(err("<sip:a@b:x>").contains("bad URI"));
        assert!(err("John Q <sip:%zz@b>").contains("escape"));
        assert!(err("sip:\"a\"@b").contains("quote"));
        assert!(err("John sip:a@b").contains("bad URI"));
        assert_eq!(err("<sip:a@b"), "Bad address: missing '>'");
    }

    #[test]
    fn builders() {
        let uri = SipUri::new(Host::Domain("example.com".into())).with_user("alice");
        let a = NameAddr::new(uri.clone());
        assert_eq!(a.to_string(), "<sip:alice@example.com>");
        let a = NameAddr::new(uri.clone()).with_display("Alice Liddell");
        assert_eq!(a.to_string(), "Alice Liddell <sip:alice@example.com>");
        let a = NameAddr::new(uri.clone()).with_display("Liddell, Alice \"A\"");
        assert_eq!(
            a.to_string(),
            r#""Liddell, Alice \"A\"" <sip:alice@example.com>"#
        );
        assert_eq!(a.display_name().as_deref(), Some("Liddell, Alice \"A\""));
        let a = NameAddr::new(uri.clone()).with_display("evil\r\nVia: x");
        assert_eq!(a.to_string(), "\"evil  Via: x\" <sip:alice@example.com>");
        let a = NameAddr::new(uri.clone()).with_display("");
        assert_eq!(a.to_string(), "\"\" <sip:alice@example.com>");
        let a = NameAddr::new(uri.clone()).with_display("Two  spaces");
        assert_eq!(a.to_string(), "\"Two  spaces\" <sip:alice@example.com>");

        let mut a = NameAddr::addr_spec(uri.clone());
        assert_eq!(a.to_string(), "sip:alice@example.com");
        a.set_uri(uri.clone().with_lr());
        // §20: a URI with ';' is always written in brackets.
        assert_eq!(a.to_string(), "<sip:alice@example.com;lr>");
        a.set_uri(uri.clone().with_header("Subject", "x"));
        assert_eq!(a.to_string(), "<sip:alice@example.com?Subject=x>");
        a.set_uri(uri.clone());
        a.set_display(Some("A"));
        assert_eq!(a.to_string(), "A <sip:alice@example.com>");
        a.set_display(None);
        a.set_angle_brackets(true);
        assert_eq!(a.to_string(), "<sip:alice@example.com>");
        a.uri_mut().as_sip_mut().unwrap().set_port(Some(5070));
        assert_eq!(
            a.clone().into_uri().to_string(),
            "sip:alice@example.com:5070"
        );
        assert_eq!(NameAddr::from(a.uri().clone()), a);
    }

    #[test]
    fn round_trips() {
        for s in [
            "John Q Public <sip:jqp@example.com>",
            r#""A \"quoted\" name" <sips:a@[2001:db8::1]:5061;transport=tls>"#,
            "<sip:%61lice@atlanta.com;transport=TCP>",
            "sip:alice@atlanta.com",
            "<tel:+1-201-555-0123>",
            "<mailto:a@b.c>",
            "\"Ünïcödé\" <sip:u@x>",
            "<sip:user@host?Subject=foo&Call-Info=%3Chttp://www.foo.com%3E>",
        ] {
            let a: NameAddr = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
            assert_eq!(a.to_string().parse::<NameAddr>().unwrap(), a);
        }
    }

    #[test]
    fn zero_copy() {
        // Long enough not to be copied inline.
        let t = Text::from(String::from(
            "\"Alice Longdisplayname Example\" <sip:alice@x>",
        ));
        let (a, _) = NameAddr::parse(&t, &t).unwrap();
        assert_eq!(a.display_raw().unwrap().as_ptr(), t.as_ptr());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let t = Text::from(s.clone());
            if let Ok((a, _)) = NameAddr::parse(&t, &t) {
                let again: NameAddr = a.to_string().parse().unwrap();
                proptest::prop_assert_eq!(again, a);
            }
        }

        #[test]
        fn addressy_never_panics(s in "[\"a-z <>;:@\\\\é,?%]{0,30}") {
            let t = Text::from(s.clone());
            if let Ok((a, _)) = NameAddr::parse(&t, &t) {
                let again: NameAddr = a.to_string().parse().unwrap();
                proptest::prop_assert_eq!(again, a);
            }
        }

        #[test]
        fn any_display_name_round_trips(name in "\\PC{0,20}") {
            let uri: Uri = "sip:a@b".parse().unwrap();
            let a = NameAddr::new(uri).with_display(&name);
            let again: NameAddr = a.to_string().parse().unwrap();
            proptest::prop_assert_eq!(again.display_name(), a.display_name());
        }
    }
}
