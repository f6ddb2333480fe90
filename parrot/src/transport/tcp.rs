//! TCP: accepting and connecting (the connection task, shared by every
//! stream protocol, is in `stream`; the table of open connections in
//! `connections`).

use super::addr::canonical;
use super::connections::ConnHandle;
use super::shared::{Shared, shutdown_signal};
use super::stream::spawn_connection;
use super::{Protocol, TransportError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tracing::{debug, warn};

/// Pause after a failed `accept` (e.g. out of file descriptors) so the
/// listener does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts TCP connections until shutdown, handing each to `accepted`
/// with its peer (canonical) and local address, Nagle's algorithm off:
/// the accept loop of every stream listener (TCP, TLS, WebSocket).
pub(crate) async fn accept_loop(
    shared: &Shared,
    listener: TcpListener,
    local: SocketAddr,
    mut accepted: impl FnMut(TcpStream, SocketAddr, SocketAddr),
) {
    let mut shutdown = shared.shutdown.clone();
    let stop = shutdown_signal(&mut shutdown);
    tokio::pin!(stop);
    loop {
        let r = tokio::select! {
            () = &mut stop => break,
            r = listener.accept() => r,
        };
        match r {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let conn_local = stream.local_addr().unwrap_or(local);
                accepted(stream, canonical(peer), conn_local);
            }
            Err(error) => {
                warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    debug!("listener stopped");
}

/// Accepts TCP connections until shutdown.
pub(crate) async fn run_listener(shared: Arc<Shared>, listener: TcpListener, local: SocketAddr) {
    accept_loop(&shared, listener, local, |stream, peer, conn_local| {
        match spawn_connection(&shared, stream, Protocol::Tcp, peer, conn_local, true) {
            Ok(h) => debug!(conn = %h.id, %peer, "accepted connection"),
            // Dropping the stream closes it.
            Err(error) => warn!(%peer, %error, "refused connection"),
        }
    })
    .await;
}

/// Opens a TCP connection to `remote` (a canonical address).
pub(crate) async fn connect(
    shared: &Arc<Shared>,
    remote: SocketAddr,
) -> Result<ConnHandle, TransportError> {
    if shared.is_shutdown() {
        return Err(TransportError::Shutdown);
    }
    // Checked again (atomically) on registration; this avoids dialling out
    // when the cap is already reached.
    if !shared.has_room() {
        return Err(TransportError::ConnectionLimit);
    }
    let stream = timeout(shared.config.connect_timeout, TcpStream::connect(remote))
        .await
        .map_err(|_| TransportError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let h = spawn_connection(shared, stream, Protocol::Tcp, remote, local, false)?;
    debug!(conn = %h.id, peer = %remote, %local, "connected");
    Ok(h)
}
