//! `Content-Type` (RFC 3261 §20.15) and the media ranges of `Accept`
//! (§20.1).
//!
//! ```text
//! media-type  = m-type SLASH m-subtype *(SEMI m-parameter)
//! media-range = ( "*/*" / ( m-type SLASH "*" ) / ( m-type SLASH m-subtype ) )
//!               *( SEMI accept-param )
//! ```
//!
//! Types, subtypes and parameter names compare case-insensitively
//! (RFC 2045 §5.1).

use super::TypedHeader;
use super::simple::{leading, parse_params};
use crate::message::grammar::{is_token, is_token_byte, quote, skip_ws, trim_ws};
use crate::message::{HeaderName, Params, ParseError, Text};
use std::borrow::Cow;
use std::fmt;

/// Parses `type SLASH subtype *(SEMI param)` for `header`.
fn parse_media(src: &Text, s: &str, header: &str) -> Result<(Text, Text, Params), ParseError> {
    let s = trim_ws(s);
    let n = leading(s, is_token_byte);
    if n == 0 {
        return Err(ParseError::header(header, "missing media type"));
    }
    let (mtype, rest) = s.split_at(n);
    // SLASH = SWS "/" SWS
    let rest = skip_ws(rest)
        .strip_prefix('/')
        .map(skip_ws)
        .ok_or_else(|| ParseError::header(header, "missing subtype"))?;
    let n = leading(rest, is_token_byte);
    if n == 0 {
        return Err(ParseError::header(header, "missing subtype"));
    }
    let (subtype, rest) = rest.split_at(n);
    let params = parse_params(src, rest, header)?;
    Ok((src.slice_ref(mtype), src.slice_ref(subtype), params))
}

/// Writes `value` as a parameter value: bare if it is a token, else quoted.
fn param_value(value: &str) -> Text {
    if is_token(value) {
        Text::from(value.to_owned())
    } else {
        Text::from(quote(value))
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
/// (RFC 3261 §25.1), in thousandths (0 to 1000).
pub(super) fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Defines the accessors shared by [`ContentType`] and [`MediaRange`].
macro_rules! media_common {
    ($ty:ident) => {
        impl $ty {
            /// `mtype/subtype` with no parameters.
            pub fn new(mtype: impl Into<Text>, subtype: impl Into<Text>) -> Self {
                $ty {
                    mtype: mtype.into(),
                    subtype: subtype.into(),
                    params: Params::new(),
                }
            }

            /// Whether this is `mtype/subtype` (case-insensitive; parameters
            /// are ignored).
            pub fn is(&self, mtype: &str, subtype: &str) -> bool {
                self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
            }

            /// Adds (or replaces) the parameter `name`, quoting `value` if
            /// it is not a token.
            pub fn with_param(mut self, name: impl Into<Text>, value: &str) -> Self {
                self.params.set_raw(name, Some(param_value(value)));
                self
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}{}", self.mtype, self.subtype, self.params)
            }
        }
    };
}

/// The `Content-Type` header (RFC 3261 §20.15): the media type of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// The top-level type (`m-type`), e.g. `application`.
    pub mtype: Text,
    /// The subtype (`m-subtype`), e.g. `sdp`.
    pub subtype: Text,
    /// The parameters (`charset`, `boundary`, ...); values keep their quotes.
    pub params: Params,
}

media_common!(ContentType);

impl ContentType {
    /// `application/sdp`, the body type of offers and answers (RFC 3261
    /// §13.2.1, RFC 3264).
    pub fn sdp() -> Self {
        ContentType::new(Text::from_static("application"), Text::from_static("sdp"))
    }

    /// Whether this is `application/sdp`.
    pub fn is_sdp(&self) -> bool {
        self.is("application", "sdp")
    }

    /// Whether the top-level type is `multipart` (RFC 2046 §5.1).
    pub fn is_multipart(&self) -> bool {
        self.mtype.eq_ignore_ascii_case("multipart")
    }

    /// The `boundary` parameter of a multipart type (RFC 2046 §5.1.1),
    /// unquoted.
    pub fn boundary(&self) -> Option<Cow<'_, str>> {
        self.params.get("boundary")
    }

    /// The `charset` parameter, unquoted.
    pub fn charset(&self) -> Option<Cow<'_, str>> {
        self.params.get("charset")
    }

    /// Whether `self` and `other` name the same type and subtype
    /// (case-insensitive; parameters ignored).
    pub fn same_type(&self, other: &ContentType) -> bool {
        self.is(&other.mtype, &other.subtype)
    }
}

impl TypedHeader for ContentType {
    const NAME: HeaderName = HeaderName::ContentType;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        const H: &str = "Content-Type";
        let (mtype, subtype, params) = parse_media(src, value, H)?;
        if &*mtype == "*" || &*subtype == "*" {
            return Err(ParseError::header(H, "wildcard not allowed"));
        }
        // m-parameter = m-attribute EQUAL m-value
        if params.iter().any(|p| p.value.is_none()) {
            return Err(ParseError::header(H, "parameter without value"));
        }
        Ok(ContentType {
            mtype,
            subtype,
            params,
        })
    }
}

/// One `media-range` of an `Accept` header (RFC 3261 §20.1): a media type
/// where the type and subtype may be `*`, with `accept-param`s such as `q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    /// The top-level type, or `*`.
    pub mtype: Text,
    /// The subtype, or `*`.
    pub subtype: Text,
    /// The parameters, including `q`.
    pub params: Params,
}

media_common!(MediaRange);

impl MediaRange {
    /// `*/*`: any media type.
    pub fn any() -> Self {
        MediaRange::new(Text::from_static("*"), Text::from_static("*"))
    }

    /// Parses one media-range; `s` is a sub-slice of `src`.
    pub fn parse(src: &Text, s: &str) -> Result<MediaRange, ParseError> {
        const H: &str = "Accept";
        let (mtype, subtype, params) = parse_media(src, s, H)?;
        // "*/subtype" is not a media-range.
        if &*mtype == "*" && &*subtype != "*" {
            return Err(ParseError::header(H, "bad media range"));
        }
        if let Some(q) = params.find("q")
            && q.value.as_deref().and_then(parse_qvalue).is_none()
        {
            return Err(ParseError::header(H, "bad q value"));
        }
        Ok(MediaRange {
            mtype,
            subtype,
            params,
        })
    }

    /// The `q` parameter in thousandths (0 to 1000), if present and valid.
    pub fn q(&self) -> Option<u16> {
        self.params.raw("q").and_then(|v| parse_qvalue(v))
    }

    /// Whether `ct` falls in this range (wildcards match anything;
    /// parameters are ignored).
    pub fn matches(&self, ct: &ContentType) -> bool {
        let sub = &*self.subtype == "*" || self.subtype.eq_ignore_ascii_case(&ct.subtype);
        let top = &*self.mtype == "*" || self.mtype.eq_ignore_ascii_case(&ct.mtype);
        top && sub
    }
}

impl From<ContentType> for MediaRange {
    fn from(ct: ContentType) -> Self {
        MediaRange {
            mtype: ct.mtype,
            subtype: ct.subtype,
            params: ct.params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(s: &str) -> ContentType {
        let v = ContentType::parse_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(ContentType::parse_str(&v.to_string()).unwrap(), v);
        v
    }

    #[test]
    fn sdp() {
        let c = ct("application/sdp");
        assert!(c.is_sdp());
        assert_eq!(c, ContentType::sdp());
        assert_eq!(ContentType::sdp().to_string(), "application/sdp");
        assert!(ct("Application/SDP").is_sdp());
        assert!(ct("application / sdp ; charset = UTF-8").is_sdp());
        assert_eq!(
            ct("application / sdp ; charset = UTF-8").to_string(),
            "application/sdp;charset=UTF-8"
        );
        assert!(!ct("text/plain").is_sdp());
    }

    #[test]
    fn rfc4475_mpart01_boundary() {
        // §3.1.1.11
        let c = ct("multipart/mixed;boundary=7a9cbec02ceef655");
        assert!(c.is_multipart());
        assert_eq!(c.boundary().as_deref(), Some("7a9cbec02ceef655"));
        let c = ct(r#"multipart/related; type="application/sdp"; boundary="--=_b:1""#);
        assert_eq!(c.boundary().as_deref(), Some("--=_b:1"));
        assert_eq!(c.params.get("type").as_deref(), Some("application/sdp"));
        assert_eq!(
            c.to_string(),
            r#"multipart/related;type="application/sdp";boundary="--=_b:1""#
        );
    }

    #[test]
    fn rfc4475_invut_unknown_type() {
        // §3.3.6: an unknown type still parses.
        let c = ct("application/unknownformat");
        assert!(c.is("APPLICATION", "UnknownFormat"));
        assert!(!c.same_type(&ContentType::sdp()));
    }

    #[test]
    fn builder() {
        let c = ContentType::new("text", "plain").with_param("charset", "utf-8");
        assert_eq!(c.charset().as_deref(), Some("utf-8"));
        let c = ContentType::new("multipart", "mixed").with_param("boundary", "a b");
        assert_eq!(c.to_string(), r#"multipart/mixed;boundary="a b""#);
        assert_eq!(ct(&c.to_string()).boundary().as_deref(), Some("a b"));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "application",
            "application/",
            "/sdp",
            "application sdp",
            "application/sdp junk",
            "application/sdp;charset",
            "application/sdp;=x",
            "application/sdp;x=\"open",
            "*/*",
            "text/*",
            "é/sdp",
            "application/sdp,text/plain",
        ] {
            assert!(ContentType::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ContentType::parse_str("application").unwrap_err().reason(),
            "Bad Content-Type header: missing subtype"
        );
    }

    #[test]
    fn media_ranges() {
        let t = Text::from("*/*");
        let any = MediaRange::parse(&t, &t).unwrap();
        assert_eq!(any, MediaRange::any());
        assert!(any.matches(&ContentType::sdp()));
        let t = Text::from("application/* ; q=0.5");
        let app = MediaRange::parse(&t, &t).unwrap();
        assert_eq!(app.q(), Some(500));
        assert!(app.matches(&ContentType::sdp()));
        assert!(!app.matches(&ContentType::new("text", "plain")));
        assert_eq!(app.to_string(), "application/*;q=0.5");
        let exact = MediaRange::from(ContentType::sdp());
        assert!(exact.matches(&ct("APPLICATION/SDP;x=1")));
        assert!(!exact.matches(&ct("application/pidf+xml")));
        for bad in [
            "*/sdp",
            "text/plain;q=2",
            "text/plain;q=0.1234",
            "text/plain;q",
            "x",
        ] {
            let t = Text::from(bad.to_owned());
            assert!(MediaRange::parse(&t, &t).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("0.7"), Some(700));
        assert_eq!(parse_qvalue("0.123"), Some(123));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.001"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("2"), None);
        assert_eq!(parse_qvalue(""), None);
        assert_eq!(parse_qvalue("0.é"), None);
        assert_eq!(parse_qvalue(".5"), None);
    }
}
