//! Transport errors.

use super::Protocol;
use std::fmt;
use std::io;

/// Why a transport operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// A socket operation failed.
    Io(io::Error),
    /// The protocol is not implemented, or no listener can send to that
    /// address family over it.
    Unsupported(Protocol),
    /// A host name did not resolve to any address.
    Resolve(String),
    /// The message is too large to send over the chosen protocol.
    TooLarge {
        /// The message size in bytes.
        size: usize,
        /// The largest size the protocol allows.
        max: usize,
    },
    /// The response cannot be routed: its top Via is missing or malformed,
    /// or names a transport this layer does not implement.
    NoRoute(String),
    /// The connection limit ([`super::TransportConfig::max_connections`])
    /// is reached.
    ConnectionLimit,
    /// The connection closed before the message was written.
    ConnectionClosed,
    /// Connecting, or queueing and writing, took too long.
    Timeout,
    /// The transport layer has been shut down.
    Shutdown,
}

impl TransportError {
    /// Whether the error is a refused or reset connection: RFC 3261 §18.1.1
    /// then retries a request that was switched to TCP over UDP.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            TransportError::Io(e) if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
            )
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Io(e) => write!(f, "I/O error: {e}"),
            TransportError::Unsupported(p) => write!(f, "transport {p} not available"),
            TransportError::Resolve(h) => write!(f, "cannot resolve {h:?}"),
            TransportError::TooLarge { size, max } => {
                write!(f, "message of {size} bytes exceeds {max} bytes")
            }
            TransportError::NoRoute(why) => write!(f, "cannot route response: {why}"),
            TransportError::ConnectionLimit => f.write_str("connection limit reached"),
            TransportError::ConnectionClosed => f.write_str("connection closed"),
            TransportError::Timeout => f.write_str("timed out"),
            TransportError::Shutdown => f.write_str("transport shut down"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for TransportError {
    fn from(e: io::Error) -> Self {
        TransportError::Io(e)
    }
}
