//! The table of open stream connections and the handle each one is
//! reached through.

use super::{ConnectionId, Protocol, Sent, TransportError};
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::timeout;

/// Information about an open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Its identifier.
    pub id: ConnectionId,
    /// Its protocol.
    pub protocol: Protocol,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Our address.
    pub local: SocketAddr,
}

/// One message queued for writing, with where to report the result.
pub(crate) struct Outgoing {
    pub(crate) data: Bytes,
    pub(crate) done: oneshot::Sender<io::Result<()>>,
}

/// A handle on an open connection.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub(crate) id: ConnectionId,
    pub(crate) protocol: Protocol,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    tx: mpsc::Sender<Outgoing>,
    pub(crate) close: Arc<Notify>,
}

impl ConnHandle {
    /// A handle whose messages are queued on `tx` for the connection task.
    pub(crate) fn new(
        id: ConnectionId,
        protocol: Protocol,
        remote: SocketAddr,
        local: SocketAddr,
        tx: mpsc::Sender<Outgoing>,
    ) -> Self {
        ConnHandle {
            id,
            protocol,
            remote,
            local,
            tx,
            close: Arc::new(Notify::new()),
        }
    }

    /// Queues `data` and waits until it is written, within `limit`.
    pub(crate) async fn send(&self, data: Bytes, limit: Duration) -> Result<(), TransportError> {
        let (done, result) = oneshot::channel();
        let attempt = async {
            self.tx
                .send(Outgoing { data, done })
                .await
                .map_err(|_| TransportError::ConnectionClosed)?;
            match result.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(TransportError::Io(e)),
                Err(_) => Err(TransportError::ConnectionClosed),
            }
        };
        timeout(limit, attempt)
            .await
            .unwrap_or(Err(TransportError::Timeout))
    }

    /// Asks the connection task to close the connection.
    pub(crate) fn close(&self) {
        self.close.notify_one();
    }

    /// What a message sent on this connection reports.
    pub(crate) fn sent(&self) -> Sent {
        Sent {
            protocol: self.protocol,
            local: self.local,
            remote: self.remote,
            connection: Some(self.id),
        }
    }
}

/// The open connections, by id and by remote address.
#[derive(Default)]
pub(crate) struct ConnTable {
    by_id: HashMap<ConnectionId, ConnHandle>,
    /// The connection a message to a remote address reuses (RFC 3261
    /// §18.1.1, §18.2.2): the most recent one to that address.
    by_remote: HashMap<(Protocol, SocketAddr), ConnectionId>,
}

impl ConnTable {
    /// Adds a connection unless `max` are open already; returns how many
    /// are open.
    pub(crate) fn insert(
        &mut self,
        handle: ConnHandle,
        max: usize,
    ) -> Result<usize, TransportError> {
        if self.by_id.len() >= max {
            return Err(TransportError::ConnectionLimit);
        }
        self.by_remote
            .insert((handle.protocol, handle.remote), handle.id);
        self.by_id.insert(handle.id, handle);
        Ok(self.by_id.len())
    }

    /// Removes a connection; returns how many are left open, or `None` if
    /// it was not open. If another connection to the same remote is open,
    /// it becomes the one reused.
    pub(crate) fn remove(&mut self, id: ConnectionId) -> Option<usize> {
        let h = self.by_id.remove(&id)?;
        let key = (h.protocol, h.remote);
        if self.by_remote.get(&key) == Some(&id) {
            self.by_remote.remove(&key);
            let other = self
                .by_id
                .values()
                .filter(|o| (o.protocol, o.remote) == key)
                .map(|o| o.id)
                .max();
            if let Some(other) = other {
                self.by_remote.insert(key, other);
            }
        }
        Some(self.by_id.len())
    }

    /// The connection `id`, if open.
    pub(crate) fn get(&self, id: ConnectionId) -> Option<ConnHandle> {
        self.by_id.get(&id).cloned()
    }

    /// The connection a message to `remote` over `protocol` reuses.
    pub(crate) fn to(&self, protocol: Protocol, remote: SocketAddr) -> Option<ConnHandle> {
        let id = self.by_remote.get(&(protocol, remote))?;
        self.by_id.get(id).cloned()
    }

    /// The open connections, by id.
    pub(crate) fn infos(&self) -> Vec<ConnectionInfo> {
        let mut v: Vec<_> = self
            .by_id
            .values()
            .map(|h| ConnectionInfo {
                id: h.id,
                protocol: h.protocol,
                remote: h.remote,
                local: h.local,
            })
            .collect();
        v.sort_by_key(|i| i.id);
        v
    }
}
