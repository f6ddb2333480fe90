//! Why a session description was refused.

use std::fmt;

/// Why a session description was refused: what is wrong, and on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpError {
    line: usize,
    kind: SdpErrorKind,
}

/// The kinds of [`SdpError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpErrorKind {
    /// The description is empty.
    Empty,
    /// The description is not UTF-8.
    NotUtf8,
    /// A line is not `<letter>=<value>`, is empty, or holds a NUL or CR.
    BadLine,
    /// A type letter RFC 4566 does not define (§5: such a description
    /// must be ignored as a whole).
    UnknownType(char),
    /// A line of this type where it may not stand (RFC 4566 §5 order).
    OutOfOrder(char),
    /// A second line of a type allowed once per level.
    Repeated(char),
    /// A mandatory line (`v`, `o`, `s`, `t`) is missing.
    Missing(char),
    /// The value of a line of this type does not follow its syntax.
    BadValue(char),
    /// A known attribute (`rtpmap`, `ptime`, a direction) is malformed or,
    /// for a direction, repeated; holds the attribute name.
    BadAttribute(String),
    /// A media description has no connection address and the session has
    /// none either (RFC 4566 §5.7).
    MissingConnection,
}

impl SdpError {
    pub(super) fn new(line: usize, kind: SdpErrorKind) -> Self {
        SdpError { line, kind }
    }

    /// The 1-based number of the offending line (0 when the error is about
    /// the description as a whole).
    pub fn line(&self) -> usize {
        self.line
    }

    /// What is wrong.
    pub fn kind(&self) -> &SdpErrorKind {
        &self.kind
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "SDP line {}: ", self.line)?;
        } else {
            f.write_str("SDP: ")?;
        }
        match &self.kind {
            SdpErrorKind::Empty => f.write_str("empty description"),
            SdpErrorKind::NotUtf8 => f.write_str("not UTF-8"),
            SdpErrorKind::BadLine => f.write_str("not a <type>=<value> line"),
            SdpErrorKind::UnknownType(c) => write!(f, "unknown type {c:?}"),
            SdpErrorKind::OutOfOrder(c) => write!(f, "{c}= out of order"),
            SdpErrorKind::Repeated(c) => write!(f, "{c}= repeated"),
            SdpErrorKind::Missing(c) => write!(f, "missing {c}= line"),
            SdpErrorKind::BadValue(c) => write!(f, "malformed {c}= line"),
            SdpErrorKind::BadAttribute(a) => write!(f, "malformed a={a} attribute"),
            SdpErrorKind::MissingConnection => {
                f.write_str("media description without a connection address (c=)")
            }
        }
    }
}

impl std::error::Error for SdpError {}
