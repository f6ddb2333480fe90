//! Why a session description was refused.

use std::fmt;

/// Why a session description was refused: what is wrong, and on which line.
/// Displays as `SDP line N: <kind>`, or `SDP: <kind>` for the description
/// as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{kind}", LinePrefix(*.line))]
pub struct SdpError {
    line: usize,
    kind: SdpErrorKind,
}

/// The kinds of [`SdpError`]; each displays as what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpErrorKind {
    /// The description is empty.
    #[error("empty description")]
    Empty,
    /// The description is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// A line is not `<letter>=<value>`, is empty, or holds a NUL or CR.
    #[error("not a <type>=<value> line")]
    BadLine,
    /// A type letter RFC 4566 does not define (§5: such a description
    /// must be ignored as a whole).
    #[error("unknown type {0:?}")]
    UnknownType(char),
    /// A line of this type where it may not stand (RFC 4566 §5 order).
    #[error("{0}= out of order")]
    OutOfOrder(char),
    /// A second line of a type allowed once per level.
    #[error("{0}= repeated")]
    Repeated(char),
    /// A mandatory line (`v`, `o`, `s`, `t`) is missing.
    #[error("missing {0}= line")]
    Missing(char),
    /// The value of a line of this type does not follow its syntax.
    #[error("malformed {0}= line")]
    BadValue(char),
    /// A known attribute (`rtpmap`, `ptime`, a direction) is malformed or,
    /// for a direction, repeated; holds the attribute name.
    #[error("malformed a={0} attribute")]
    BadAttribute(String),
    /// A media description has no connection address and the session has
    /// none either (RFC 4566 §5.7).
    #[error("media description without a connection address (c=)")]
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

/// Writes `SDP line N: `, or `SDP: ` for line 0 (the whole description).
struct LinePrefix(usize);

impl fmt::Display for LinePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("SDP: "),
            n => write!(f, "SDP line {n}: "),
        }
    }
}
