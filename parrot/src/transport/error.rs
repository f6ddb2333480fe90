//! Transport errors.

use super::Protocol;
use std::io;

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The protocol is not implemented, or no listener can send to that
    /// address family over it.
    #[error("transport {0} not available")]
    Unsupported(Protocol),
    /// A host name did not resolve to any address.
    #[error("cannot resolve {0:?}")]
    Resolve(String),
    /// The message is too large to send over the chosen protocol.
    #[error("message of {size} bytes exceeds {max} bytes")]
    TooLarge {
        /// The message size in bytes.
        size: usize,
        /// The largest size the protocol allows.
        max: usize,
    },
    /// The response cannot be routed: its top Via is missing or malformed,
    /// or names a transport this layer does not implement.
    #[error("cannot route response: {0}")]
    NoRoute(String),
    /// The connection limit ([`super::TransportConfig::max_connections`])
    /// is reached.
    #[error("connection limit reached")]
    ConnectionLimit,
    /// The connection closed before the message was written.
    #[error("connection closed")]
    ConnectionClosed,
    /// The flow a request had to take (its connection, RFC 5626 §5.3) has
    /// closed; a proxy answers `430 Flow Failed` upstream.
    #[error("flow {0} has closed")]
    FlowFailed(super::ConnectionId),
    /// Connecting, or queueing and writing, took too long.
    #[error("timed out")]
    Timeout,
    /// A TLS handshake failed: the server's certificate did not verify
    /// for the name or address asked for, no common protocol version, and
    /// the like (the reason is in the text and in the log).
    #[error("TLS: {0}")]
    Tls(String),
    /// The transport layer has been shut down.
    #[error("transport shut down")]
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
