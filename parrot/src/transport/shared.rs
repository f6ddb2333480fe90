//! The state every handle and task of one transport shares: the
//! configuration, the bound sockets, the connection table, the channel
//! upward and the shutdown signal.

use super::config::TransportConfig;
use super::connections::{ConnHandle, ConnTable, ConnectionInfo, Outgoing};
use super::{ConnectionId, Incoming, Listener, Protocol, TransportError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// A bound UDP socket.
pub(crate) struct UdpEndpoint {
    pub(crate) local: SocketAddr,
    pub(crate) socket: Arc<UdpSocket>,
}

/// State shared by the handles and every task.
pub(crate) struct Shared {
    pub(crate) config: TransportConfig,
    pub(crate) incoming: mpsc::Sender<Incoming>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) udp: Vec<UdpEndpoint>,
    pub(crate) conns: Mutex<ConnTable>,
    pub(crate) conn_count: watch::Sender<usize>,
    pub(crate) next_id: AtomicU64,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Resolves when shutdown is signalled (or the signal's sender is gone).
pub(crate) async fn shutdown_signal(rx: &mut watch::Receiver<bool>) {
    // The guard returned by `wait_for` is not `Send`: drop it here.
    let _ = rx.wait_for(|s| *s).await;
}

/// Removes its connection from the table when dropped.
pub(crate) struct ConnGuard {
    shared: Arc<Shared>,
    id: ConnectionId,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
    }
}

impl Shared {
    pub(crate) fn is_shutdown(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn table(&self) -> MutexGuard<'_, ConnTable> {
        // A panic elsewhere while holding the lock cannot leave the table
        // inconsistent (every update is a single insert/remove), so a
        // poisoned lock is still usable.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connection, unless the connection cap is reached.
    pub(crate) fn register(
        self: &Arc<Self>,
        protocol: Protocol,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> Result<(ConnHandle, mpsc::Receiver<Outgoing>, ConnGuard), TransportError> {
        if self.is_shutdown() {
            return Err(TransportError::Shutdown);
        }
        let (tx, rx) = mpsc::channel(self.config.connection_queue.max(1));
        let id = ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let handle = ConnHandle::new(id, protocol, remote, local, tx);
        let count = self
            .table()
            .insert(handle.clone(), self.config.max_connections)?;
        self.conn_count.send_replace(count);
        let guard = ConnGuard {
            shared: self.clone(),
            id,
        };
        Ok((handle, rx, guard))
    }

    /// Removes a connection (idempotent). If another connection to the
    /// same remote is open, it becomes the one reused.
    pub(crate) fn unregister(&self, id: ConnectionId) {
        // Bound first: the table's lock is released before the watchers
        // are told.
        let left = self.table().remove(id);
        if let Some(count) = left {
            self.conn_count.send_replace(count);
        }
    }

    pub(crate) fn connection(&self, id: ConnectionId) -> Option<ConnHandle> {
        self.table().get(id)
    }

    pub(crate) fn connection_to(
        &self,
        protocol: Protocol,
        remote: SocketAddr,
    ) -> Option<ConnHandle> {
        self.table().to(protocol, remote)
    }

    pub(crate) fn connection_infos(&self) -> Vec<ConnectionInfo> {
        self.table().infos()
    }
}
