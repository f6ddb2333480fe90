//! URIs of any other scheme, kept opaque.

use super::escape::{check_chars, is_uric};
use super::{Detail, Uri, uri_error};
use crate::message::error::ParseError;
use crate::message::text::Text;
use std::fmt;

/// A URI of any other scheme (`absoluteURI`, RFC 3261 §25.1), kept opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsoluteUri {
    scheme: Text,
    rest: Text,
}

impl AbsoluteUri {
    /// A URI `scheme:rest`, checked against the `absoluteURI` grammar.
    pub fn new(scheme: &str, rest: &str) -> Result<AbsoluteUri, ParseError> {
        let whole = Text::from(format!("{scheme}:{rest}"));
        match Uri::parse(&whole, &whole)? {
            Uri::Other(u) => Ok(u),
            _ => Err(uri_error("use SipUri or TelUri for this scheme".into())),
        }
    }

    pub(super) fn parse_parts(src: &Text, scheme: &str, rest: &str) -> Result<AbsoluteUri, Detail> {
        if rest.is_empty() {
            return Err("empty URI body".into());
        }
        check_chars(rest, is_uric, "URI")?;
        Ok(AbsoluteUri {
            scheme: src.slice_ref(scheme),
            rest: src.slice_ref(rest),
        })
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &Text {
        &self.scheme
    }

    /// Everything after `scheme:`, as written.
    pub fn rest(&self) -> &Text {
        &self.rest
    }
}

impl fmt::Display for AbsoluteUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.rest)
    }
}
