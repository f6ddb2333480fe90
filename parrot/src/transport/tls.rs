//! SIP over TLS (RFC 3261 §26.2, RFC 5630): accepting and connecting (the
//! settings are in `tls_config`).
//!
//! A TLS connection is a TCP connection with a handshake in front; once it
//! is done, the connection is served by the task every stream protocol
//! shares (`stream`), under the same limits, deadlines and table.

use super::connections::ConnHandle;
use super::shared::Shared;
use super::stream::{spawn_connection, spawn_handshaking};
use super::tcp::accept_loop;
use super::tls_config::TlsConfig;
use super::{Protocol, TransportError};
use crate::message::{HeaderName, Host, NameAddr, Request};
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tracing::{debug, warn};

/// Accepts TLS connections until shutdown. Each handshake runs in the
/// connection's own task, already counted in the connection table (so the
/// caps apply to handshakes too) and bounded by the header deadline.
pub(crate) async fn run_listener(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    tls: TlsConfig,
) {
    accept_loop(&shared, listener, local, |stream, peer, conn_local| {
        let Some(acceptor) = tls.acceptor() else {
            warn!(%peer, "TLS connection refused: no certificate configured");
            return;
        };
        let handshake = async move { acceptor.accept(stream).await };
        match spawn_handshaking(&shared, handshake, Protocol::Tls, peer, conn_local) {
            Ok(h) => debug!(conn = %h.id, %peer, "accepted TLS connection"),
            Err(error) => warn!(%peer, %error, "refused connection"),
        }
    })
    .await;
}

/// The name the server must prove for `request` (RFC 5922 §7.2): the host
/// of the URI its next hop was found from (the first Route's, else the
/// Request-URI's) when it is a domain name; `None` for an IP address, which
/// the server's certificate is then checked against.
pub(crate) fn server_name(request: &Request) -> Option<String> {
    let routed;
    let uri = match request.headers.get(HeaderName::Route) {
        Some(route) => {
            routed = NameAddr::parse(route, route.as_str()).ok()?.0;
            routed.uri()
        }
        None => &request.uri,
    };
    match uri.as_sip()?.host() {
        Host::Domain(d) => Some(d.to_string()),
        _ => None,
    }
}

/// Opens a TLS connection to `remote` (a canonical address), verifying
/// the server's certificate for `name` (RFC 5922 §7: the host of the URI
/// the request goes to), or for the address itself when there is none.
pub(crate) async fn connect(
    shared: &Arc<Shared>,
    remote: SocketAddr,
    name: Option<&str>,
) -> Result<ConnHandle, TransportError> {
    if shared.is_shutdown() {
        return Err(TransportError::Shutdown);
    }
    let tls = shared
        .config
        .tls
        .as_ref()
        .ok_or(TransportError::Unsupported(Protocol::Tls))?;
    if !shared.has_room() {
        return Err(TransportError::ConnectionLimit);
    }
    let server_name = match name {
        Some(n) => ServerName::try_from(n.to_owned())
            .map_err(|_| TransportError::NoRoute(format!("{n:?} is not a TLS server name")))?,
        None => ServerName::IpAddress(remote.ip().into()),
    };
    let stream = timeout(shared.config.connect_timeout, TcpStream::connect(remote))
        .await
        .map_err(|_| TransportError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let handshake = tls.connector().connect(server_name.clone(), stream);
    let stream = match timeout(shared.config.header_timeout, handshake).await {
        Ok(Ok(s)) => s,
        Ok(Err(error)) => {
            warn!(peer = %remote, name = ?server_name, %error, "TLS handshake failed");
            return Err(TransportError::Tls(error.to_string()));
        }
        Err(_) => {
            warn!(peer = %remote, "TLS handshake timed out");
            return Err(TransportError::Timeout);
        }
    };
    let h = spawn_connection(shared, stream, Protocol::Tls, remote, local, false)?;
    debug!(conn = %h.id, peer = %remote, %local, "connected over TLS");
    Ok(h)
}
