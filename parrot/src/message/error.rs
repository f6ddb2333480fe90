//! Parse errors: what went wrong, in words fit for a `400` reason phrase,
//! and where.

use std::borrow::Cow;
use std::fmt;

/// The category of a parse failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The request or status line is malformed.
    StartLine,
    /// The SIP version is not `SIP/2.0`.
    Version,
    /// The method token is malformed.
    Method,
    /// A URI is malformed.
    Uri,
    /// A header line or a header value is malformed.
    Header,
    /// A mandatory header is absent (RFC 3261 §8.1.1).
    MissingHeader,
    /// Content-Length is missing, malformed, repeated or disagrees with the body.
    ContentLength,
    /// The body is shorter than Content-Length says.
    Body,
    /// The message or one of its parts exceeds a configured limit.
    TooLarge,
    /// The message needs more bytes (stream framing only).
    Incomplete,
}

/// A message or header that could not be parsed.
///
/// [`ParseError::reason`] is short, free of CR/LF and suitable as the reason
/// phrase of a `400 Bad Request`. It displays as the reason, followed by
/// ` (at byte N)` when the offset is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}{}", AtByte(*.offset))]
pub struct ParseError {
    kind: ParseErrorKind,
    reason: Cow<'static, str>,
    offset: Option<usize>,
}

impl ParseError {
    /// A new error of `kind` with a human-readable `reason`.
    pub fn new(kind: ParseErrorKind, reason: impl Into<Cow<'static, str>>) -> Self {
        let mut reason: Cow<'static, str> = reason.into();
        if reason.contains(['\r', '\n']) {
            reason = Cow::Owned(reason.replace(['\r', '\n'], " "));
        }
        ParseError {
            kind,
            reason,
            offset: None,
        }
    }

    /// A header-value error for the header `name`.
    pub fn header(name: &str, what: impl fmt::Display) -> Self {
        ParseError::new(ParseErrorKind::Header, format!("Bad {name} header: {what}"))
    }

    /// Records the byte offset in the input where the problem was found.
    pub fn at(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The category.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The reason, in words (no CR/LF), e.g. `Bad CSeq header: number too large`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The byte offset of the problem in the parsed input, where known.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }
}

/// Writes ` (at byte N)` for a known offset, nothing otherwise.
struct AtByte(Option<usize>);

impl fmt::Display for AtByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(o) => write!(f, " (at byte {o})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_reason_and_the_offset() {
        let e = ParseError::new(ParseErrorKind::Header, "Bad To header:\r\nx");
        assert_eq!(e.to_string(), "Bad To header:  x");
        assert_eq!(
            e.clone().at(17).to_string(),
            "Bad To header:  x (at byte 17)"
        );
        let _: &dyn std::error::Error = &e;
    }
}
