//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25.1), `tel:` (RFC 3966) and any
//! other scheme as an opaque absolute URI.
//!
//! Parsed URIs keep every component exactly as written (escapes included),
//! so [`Display`](fmt::Display) reproduces the input; accessors return the
//! `%`-decoded value, and `*_raw` accessors the written form.
//!
//! ```
//! use parrot::message::Uri;
//!
//! let uri: Uri = "sip:%61lice@atlanta.com;transport=TCP".parse().unwrap();
//! let sip = uri.as_sip().unwrap();
//! assert_eq!(sip.user().as_deref(), Some("alice"));
//! assert_eq!(sip.transport().as_deref(), Some("TCP"));
//! assert_eq!(uri.to_string(), "sip:%61lice@atlanta.com;transport=TCP");
//!
//! let other: Uri = "sip:alice@AtLanTa.CoM;Transport=tcp".parse().unwrap();
//! assert!(uri.equivalent(&other)); // RFC 3261 §19.1.4
//! ```

mod absolute;
pub(crate) mod escape;
mod headers;
mod params;
mod sip;
mod tel;
#[cfg(test)]
mod tests;

pub use absolute::AbsoluteUri;
pub use headers::{UriHeader, UriHeaders};
pub use params::{UriParam, UriParams, UriSyntax};
pub use sip::SipUri;
pub use tel::TelUri;

use super::error::{ParseError, ParseErrorKind};
use super::text::Text;
use escape::{canonical, is_scheme};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A short description of what is wrong, without the `Bad URI:` prefix.
pub(crate) type Detail = Cow<'static, str>;

/// What one pass over a URI finds (see [`Marks::scan`]).
const PLAIN: u8 = 0;
/// Controls, space, DEL and the angle brackets that delimit a URI: no URI
/// holds them unescaped (RFC 3261 §25.1).
const FORBIDDEN: u8 = 1;
const COLON: u8 = 2;
const AT: u8 = 3;
/// `;` (parameters) and `?` (headers).
const DELIMITER: u8 = 4;

/// The class of each byte for [`Marks::scan`]: every byte of every URI of
/// a message is looked up.
static CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b':' => COLON,
            b'@' => AT,
            b';' | b'?' => DELIMITER,
            0..=b' ' | 0x7f | b'<' | b'>' => FORBIDDEN,
            _ => PLAIN,
        };
        i += 1;
    }
    t
};

/// Where a URI's parts begin, found in one pass over it rather than one
/// search per part.
#[derive(Debug, Clone, Copy)]
pub(super) struct Marks {
    /// The colon that ends the scheme.
    colon: usize,
    /// The first `@` after it (it ends the userinfo of a SIP URI).
    pub(super) at: Option<usize>,
    /// The first `;` or `?` after the scheme's colon.
    pub(super) delimiter: Option<usize>,
    /// The first `;` or `?` after `at`.
    pub(super) delimiter_after_at: Option<usize>,
}

impl Marks {
    /// Scans `s`, refusing the bytes no URI holds; the error says which
    /// class the first offending byte is in.
    fn scan(s: &str) -> Result<Marks, Detail> {
        let (mut colon, mut at, mut delimiter, mut delimiter_after_at) = (None, None, None, None);
        for (i, &b) in s.as_bytes().iter().enumerate() {
            match CLASS[usize::from(b)] {
                PLAIN => {}
                COLON => {
                    colon.get_or_insert(i);
                }
                AT if colon.is_some() => {
                    at.get_or_insert(i);
                }
                DELIMITER if colon.is_some() => {
                    delimiter.get_or_insert(i);
                    if at.is_some() {
                        delimiter_after_at.get_or_insert(i);
                    }
                }
                FORBIDDEN => {
                    return Err(match b {
                        b' ' | b'\t' | b'\r' | b'\n' => "whitespace in URI",
                        b'<' | b'>' => "angle bracket in URI",
                        _ => "control character in URI",
                    }
                    .into());
                }
                _ => {}
            }
        }
        let Some(colon) = colon else {
            return Err("missing scheme".into());
        };
        Ok(Marks {
            colon,
            at,
            delimiter,
            delimiter_after_at,
        })
    }

    /// The marks relative to the text after the scheme's colon.
    fn after_scheme(self) -> Marks {
        let shift = |p: Option<usize>| p.map(|p| p - self.colon - 1);
        Marks {
            colon: 0,
            at: shift(self.at),
            delimiter: shift(self.delimiter),
            delimiter_after_at: shift(self.delimiter_after_at),
        }
    }
}

/// A URI as found in a Request-URI or an address header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:` (RFC 3261 §19.1).
    Sip(SipUri),
    /// `tel:` (RFC 3966).
    Tel(TelUri),
    /// Any other scheme, kept opaque.
    Other(AbsoluteUri),
}

pub(super) fn uri_error(detail: Detail) -> ParseError {
    ParseError::new(ParseErrorKind::Uri, format!("Bad URI: {detail}"))
}

impl Uri {
    /// Parses `s`, a sub-slice of `src`. The whole of `s` must be the URI:
    /// whitespace or `<`/`>` anywhere is an error.
    pub fn parse(src: &Text, s: &str) -> Result<Uri, ParseError> {
        Uri::parse_detail(src, s).map_err(uri_error)
    }

    /// [`Uri::parse`], reporting only what is wrong (for callers that put
    /// it in their own message).
    pub(crate) fn parse_detail(src: &Text, s: &str) -> Result<Uri, Detail> {
        if s.is_empty() {
            return Err("empty URI".into());
        }
        let marks = Marks::scan(s)?;
        let (scheme, rest) = (&s[..marks.colon], &s[marks.colon + 1..]);
        // `sip` as nearly every URI spells it is a valid scheme: no need
        // to check its characters.
        if scheme != "sip" && !is_scheme(scheme) {
            return Err("bad scheme".into());
        }
        // Schemes are case-insensitive (RFC 3261 §19.1.4).
        if scheme == "sip"
            || scheme.eq_ignore_ascii_case("sip")
            || scheme.eq_ignore_ascii_case("sips")
        {
            let secure = scheme.len() == 4;
            SipUri::parse_parts(src, s, secure, rest, marks.after_scheme()).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_parts(src, s, rest).map(Uri::Tel)
        } else {
            AbsoluteUri::parse_parts(src, scheme, rest).map(Uri::Other)
        }
    }

    /// The scheme: `sip`, `sips` or `tel` in lower case, else as written.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(_) => "tel",
            Uri::Other(u) => u.scheme(),
        }
    }

    /// Whether this is a `sip:` or `sips:` URI.
    pub fn is_sip(&self) -> bool {
        matches!(self, Uri::Sip(_))
    }

    /// The SIP URI, if it is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The SIP URI, mutably, if it is one.
    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The tel URI, if it is one.
    pub fn as_tel(&self) -> Option<&TelUri> {
        match self {
            Uri::Tel(u) => Some(u),
            _ => None,
        }
    }

    /// The text this SIP URI was parsed from, while it is unchanged (what
    /// its `Display` writes), so that a copy of its text needs no writing.
    pub(crate) fn written(&self) -> Option<&Text> {
        match self {
            Uri::Sip(u) => u.raw.as_ref(),
            _ => None,
        }
    }

    /// URI equivalence: RFC 3261 §19.1.4 for SIP URIs, RFC 3966 §4 for tel
    /// URIs, and scheme (case-insensitive) plus escape-normalized text for
    /// others. URIs of different schemes are never equivalent.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (Uri::Other(a), Uri::Other(b)) => {
                a.scheme().eq_ignore_ascii_case(b.scheme())
                    && canonical(a.rest()) == canonical(b.rest())
            }
            _ => false,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => fmt::Display::fmt(u, f),
            Uri::Tel(u) => fmt::Display::fmt(u, f),
            Uri::Other(u) => fmt::Display::fmt(u, f),
        }
    }
}

impl FromStr for Uri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = Text::from(s.to_owned());
        Uri::parse(&t, &t)
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Self {
        Uri::Sip(u)
    }
}

impl From<TelUri> for Uri {
    fn from(u: TelUri) -> Self {
        Uri::Tel(u)
    }
}

impl From<AbsoluteUri> for Uri {
    fn from(u: AbsoluteUri) -> Self {
        Uri::Other(u)
    }
}
