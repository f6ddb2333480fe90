//! Where a response goes when its Via names a host rather than an address
//! (RFC 3261 §18.2.2, RFC 3263 §5): the transport asks a
//! [`SentByResolver`] for the servers the sent-by host stands for.
//!
//! The resolver is a hook because RFC 3263's SRV lookups live above the
//! transport (in [`locate`](crate::locate)); without one, the sent-by host
//! is looked up by A/AAAA only, at the sent-by port or the transport's
//! default port.

use super::{Protocol, TransportError, resolve};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

/// The future a [`SentByResolver`] returns.
pub type SentByFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, TransportError>> + Send + 'a>>;

/// Finds the servers a Via's sent-by host names (RFC 3263 §5): with a
/// port, that host's addresses at that port; without one, its SRV records
/// for `protocol`, else its addresses at the protocol's default port.
/// The list is in the order to try; it is empty or an error when the host
/// cannot be found.
pub trait SentByResolver: Send + Sync + 'static {
    /// The addresses to try, in order, for a response over `protocol` to
    /// the sent-by `host` and optional `port`.
    fn servers<'a>(
        &'a self,
        host: &'a str,
        port: Option<u16>,
        protocol: Protocol,
    ) -> SentByFuture<'a>;
}

/// The resolver used when none is set: A/AAAA through the system only
/// (no SRV).
pub(crate) struct AddressOnly;

impl SentByResolver for AddressOnly {
    fn servers<'a>(
        &'a self,
        host: &'a str,
        port: Option<u16>,
        protocol: Protocol,
    ) -> SentByFuture<'a> {
        Box::pin(async move {
            let port = port.unwrap_or_else(|| protocol.default_port());
            Ok(vec![resolve(host, port).await?])
        })
    }
}
