//! [`Error`] and [`Result`]: one error type for the whole crate, so that a
//! program's `main` can use `?` on anything Parrot returns.
//!
//! Each module keeps its own precise error type (a [`ParseError`] says
//! which header was malformed, a [`ClientError`] why a request failed);
//! each converts into this one, which keeps the original as its
//! [`source`](std::error::Error::source) and sorts it by [`ErrorKind`].
//! The module sits at the bottom floor and names no other module: the
//! conversions live beside the types they convert.
//!
//! [`ParseError`]: crate::message::ParseError
//! [`ClientError`]: crate::client::ClientError

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is incomplete or invalid (e.g. a bad listen
    /// address, no listener).
    Config,
    /// A socket could not be bound, or a message could not be sent.
    Transport,
    /// A SIP message could not be parsed.
    Parse,
    /// An SDP body could not be parsed.
    Sdp,
    /// Digest authentication failed or could not be answered.
    Auth,
    /// A request or call placed by the client side failed.
    Client,
    /// A request inside a dialog could not be sent or got no answer.
    Dialog,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "configuration",
            ErrorKind::Transport => "transport",
            ErrorKind::Parse => "parse",
            ErrorKind::Sdp => "sdp",
            ErrorKind::Auth => "authentication",
            ErrorKind::Client => "client",
            ErrorKind::Dialog => "dialog",
        })
    }
}

/// Any error Parrot returns: a kind and the module's own error (or a
/// message) as its source.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Message(String),
    Source(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// An error of `kind` described by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            inner: Inner::Message(message.into()),
        }
    }

    /// An error of `kind` wrapping a module's own error.
    pub fn from_source(
        kind: ErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error {
            kind,
            inner: Inner::Source(Box::new(source)),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The module's own error, if it is of type `T` (e.g.
    /// `err.downcast_ref::<parrot::client::ClientError>()`).
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        match &self.inner {
            Inner::Source(s) => s.downcast_ref(),
            Inner::Message(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Message(m) => write!(f, "{}: {m}", self.kind),
            Inner::Source(s) => write!(f, "{}: {s}", self.kind),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner {
            Inner::Source(s) => Some(s.as_ref()),
            Inner::Message(_) => None,
        }
    }
}

/// A result whose error is Parrot's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Inner2;
    impl fmt::Display for Inner2 {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("inner failure")
        }
    }
    impl std::error::Error for Inner2 {}

    #[test]
    fn kind_message_and_source() {
        let e = Error::new(ErrorKind::Config, "no listener");
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.to_string(), "configuration: no listener");
        assert!(std::error::Error::source(&e).is_none());

        let e = Error::from_source(ErrorKind::Transport, Inner2);
        assert_eq!(e.to_string(), "transport: inner failure");
        assert!(e.downcast_ref::<Inner2>().is_some());
        assert!(std::error::Error::source(&e).is_some());
    }
}
