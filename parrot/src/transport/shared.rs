//! The state every handle and task of one transport shares: the
//! configuration, the bound sockets, the connection table, the channel
//! upward and the shutdown signal.

use super::config::TransportConfig;
use super::connections::{
    Admission, ConnHandle, ConnTable, ConnectionInfo, ConnectionState, Outgoing, Refusal,
};
use super::feedback::Feedback;
use super::sent_by::{AddressOnly, SentByResolver};
use super::shards::{ShardRoute, ShardSocket};
use super::stats::{Counters, TransportStats, bump};
use super::{ConnectionId, Incoming, Listener, Protocol, TransportError};
use crate::message::Message;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tracing::debug;

/// A bound UDP socket.
pub(crate) struct UdpEndpoint {
    pub(crate) local: SocketAddr,
    pub(crate) socket: Arc<super::datagram::DatagramSocket>,
}

/// State shared by the handles and every task.
pub(crate) struct Shared {
    pub(crate) config: TransportConfig,
    pub(crate) incoming: mpsc::Sender<Box<Incoming>>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) udp: Vec<UdpEndpoint>,
    // The connection table and the counters are shared by a server's
    // shards (see `ConnectionState`).
    pub(crate) conns: Arc<Mutex<ConnTable>>,
    pub(crate) conn_count: Arc<watch::Sender<usize>>,
    pub(crate) next_id: Arc<AtomicU64>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// When the transport started: connection activity is timed from it.
    pub(crate) epoch: Instant,
    pub(crate) counters: Arc<Counters>,
    /// Whether new work is shed as it is received
    /// ([`super::TransportLayer::set_shedding`]).
    pub(crate) shedding: AtomicBool,
    /// Overload feedback stamped into responses (RFC 7339).
    pub(crate) feedback: Feedback,
    /// Told each connection's identifier as it leaves the table.
    pub(crate) closed: broadcast::Sender<ConnectionId>,
    /// Finds the servers a response's sent-by host names (RFC 3263 §5),
    /// once set ([`super::TransportLayer::set_sent_by_resolver`]).
    pub(crate) sent_by: OnceLock<Arc<dyn SentByResolver>>,
    /// The other shards' queues, when this transport is one shard of a
    /// server (see [`super::shards`]).
    pub(crate) shards: Option<ShardRoute>,
    /// Copies of the listeners' sockets for the other shards, kept by the
    /// first shard of a server.
    pub(crate) shareable: Vec<ShardSocket>,
}

impl Shared {
    /// The addresses to try for a response to the sent-by `host` and
    /// `port` over `protocol` (RFC 3263 §5); an error when there are none.
    pub(crate) async fn sent_by_servers(
        &self,
        host: &str,
        port: Option<u16>,
        protocol: Protocol,
    ) -> Result<Vec<SocketAddr>, TransportError> {
        let servers = match self.sent_by.get() {
            Some(resolver) => resolver.servers(host, port, protocol).await?,
            None => AddressOnly.servers(host, port, protocol).await?,
        };
        if servers.is_empty() {
            return Err(TransportError::Resolve(host.to_owned()));
        }
        Ok(servers)
    }
}

/// Resolves when shutdown is signalled (or the signal's sender is gone).
pub(crate) async fn shutdown_signal(rx: &mut watch::Receiver<bool>) {
    // The guard returned by `wait_for` is not `Send`: drop it here.
    let _ = rx.wait_for(|s| *s).await;
}

/// Removes its connection from the table, and its buffer from the byte
/// budget, when dropped.
pub(crate) struct ConnGuard {
    shared: Arc<Shared>,
    handle: ConnHandle,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.unregister(self.handle.id);
        self.shared.set_held(&self.handle, 0);
    }
}

impl Shared {
    /// The connection table and counters, for another shard to share.
    pub(crate) fn connection_state(&self) -> ConnectionState {
        ConnectionState {
            conns: self.conns.clone(),
            conn_count: self.conn_count.clone(),
            next_id: self.next_id.clone(),
            closed: self.closed.clone(),
            epoch: self.epoch,
            counters: self.counters.clone(),
        }
    }

    /// Where a message received here goes: to the shard that owns its
    /// Call-ID, or to this one.
    pub(crate) fn queue_for(&self, message: &Message) -> &mpsc::Sender<Box<Incoming>> {
        self.shards
            .as_ref()
            .and_then(|r| r.elsewhere(message))
            .unwrap_or(&self.incoming)
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn table(&self) -> MutexGuard<'_, ConnTable> {
        // A panic elsewhere while holding the lock cannot leave the table
        // inconsistent (every update is a single insert/remove), so a
        // poisoned lock is still usable.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since the transport started.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The limits a new connection is admitted under now.
    fn admission(&self) -> Admission {
        let quiet = u64::try_from(self.config.evict_idle_after.as_millis()).unwrap_or(u64::MAX);
        Admission {
            max: self.config.max_connections,
            per_source: self.config.max_connections_per_source,
            evict_quiet_since: self.now_ms().checked_sub(quiet),
        }
    }

    /// Whether a new outbound connection could be registered now.
    pub(crate) fn has_room(&self) -> bool {
        self.table().has_room(self.admission())
    }

    /// Adds a connection, unless a connection limit forbids it; at the cap
    /// an idle inbound connection may be evicted to make room.
    pub(crate) fn register(
        self: &Arc<Self>,
        protocol: Protocol,
        remote: SocketAddr,
        local: SocketAddr,
        inbound: bool,
    ) -> Result<(ConnHandle, mpsc::Receiver<Outgoing>, ConnGuard), TransportError> {
        if self.is_shutdown() {
            return Err(TransportError::Shutdown);
        }
        let (tx, rx) = mpsc::channel(self.config.connection_queue.max(1));
        let id = ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let handle = ConnHandle::new(id, protocol, remote, local, inbound, tx, self.now_ms());
        let admission = self.admission();
        let admitted = self.table().insert(handle.clone(), admission);
        let admitted = match admitted {
            Ok(a) => a,
            Err(refusal) => {
                bump(match refusal {
                    Refusal::Cap => &self.counters.refused_at_cap,
                    Refusal::PerSource => &self.counters.refused_per_source,
                });
                return Err(TransportError::ConnectionLimit);
            }
        };
        self.conn_count.send_replace(admitted.count);
        if let Some(victim) = admitted.evicted {
            debug!(conn = %victim.id, peer = %victim.remote, "evicting an idle connection at the cap");
            bump(&self.counters.evicted);
            victim.close();
            let _ = self.closed.send(victim.id);
        }
        let guard = ConnGuard {
            shared: self.clone(),
            handle: handle.clone(),
        };
        Ok((handle, rx, guard))
    }

    /// Records that `handle`'s receive buffer now holds `bytes`.
    pub(crate) fn set_held(&self, handle: &ConnHandle, bytes: usize) {
        let old = handle.activity.held.swap(bytes, Ordering::Relaxed);
        if old != bytes {
            self.counters.rebalance(old, bytes);
        }
    }

    /// Keeps the bytes buffered by all connections within
    /// [`TransportConfig::max_buffered_bytes`] by closing the connections
    /// holding the most, largest first. Returns whether `me` is one of
    /// them. A closed connection leaves the table and the budget at once,
    /// so it is never chosen twice.
    pub(crate) fn enforce_budget(&self, me: ConnectionId) -> bool {
        let budget = self.config.max_buffered_bytes;
        let mut closed_me = false;
        while self.counters.buffered.load(Ordering::Relaxed) > budget {
            let Some(victim) = self.table().largest_holder() else {
                break;
            };
            self.unregister(victim.id);
            let held = victim.activity.held.load(Ordering::Relaxed);
            debug!(conn = %victim.id, peer = %victim.remote, held, budget, "closing the largest receive buffer: over the byte budget");
            bump(&self.counters.over_budget);
            self.set_held(&victim, 0);
            victim.close();
            closed_me |= victim.id == me;
        }
        closed_me
    }

    /// A snapshot of the connection counters.
    pub(crate) fn stats(&self) -> TransportStats {
        let open = self.table().len();
        self.counters.snapshot(open)
    }

    /// Removes a connection (idempotent). If another connection to the
    /// same remote is open, it becomes the one reused.
    pub(crate) fn unregister(&self, id: ConnectionId) {
        // Bound first: the table's lock is released before the watchers
        // are told.
        let left = self.table().remove(id);
        if let Some(count) = left {
            self.conn_count.send_replace(count);
            // No receiver is the usual case, and not an error.
            let _ = self.closed.send(id);
        }
    }

    /// Lets connection `id` carry requests to `host:port` (RFC 5923).
    pub(crate) fn alias(&self, host: String, port: u16, id: ConnectionId) {
        self.table().alias(host, port, id);
    }

    /// The connection aliased for `host:port`, if any.
    pub(crate) fn aliased(&self, host: &str, port: u16) -> Option<ConnHandle> {
        self.table().aliased(host, port)
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
