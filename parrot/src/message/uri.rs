//! URIs (RFC 3261 §19.1, RFC 3966). Placeholder until the full model lands.

use super::error::{ParseError, ParseErrorKind};
use super::text::Text;
use std::fmt;

/// A URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    raw: Text,
}

impl Uri {
    /// Parses `s`, a sub-slice of `src`.
    pub fn parse(src: &Text, s: &str) -> Result<Uri, ParseError> {
        if s.is_empty() || s.contains([' ', '<', '>']) {
            return Err(ParseError::new(ParseErrorKind::Uri, "Bad Request-URI"));
        }
        Ok(Uri { raw: src.slice_ref(s) })
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
