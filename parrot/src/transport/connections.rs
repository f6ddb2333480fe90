//! The table of open stream connections and the handle each one is
//! reached through.

use super::{ConnectionId, Protocol, Sent, TransportError};
use bytes::Bytes;
use rustls_pki_types::CertificateDer;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
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
///
/// Boxed: a connection's queue allocates a block of 32 slots when it is
/// made, so a slot of one pointer instead of the message and its sender
/// saves an idle connection about 1 KiB (the box is allocated per message,
/// only while it is queued).
pub(crate) struct Outgoing(Box<Queued>);

struct Queued {
    data: Bytes,
    done: oneshot::Sender<io::Result<()>>,
}

impl Outgoing {
    fn new(data: Bytes, done: oneshot::Sender<io::Result<()>>) -> Self {
        Outgoing(Box::new(Queued { data, done }))
    }

    /// The message, and where to report whether it was written.
    pub(crate) fn into_parts(self) -> (Bytes, oneshot::Sender<io::Result<()>>) {
        let Queued { data, done } = *self.0;
        (data, done)
    }
}

/// What the connection task tells the table about its connection, for
/// choosing one to evict or to close over the byte budget.
#[derive(Default)]
pub(crate) struct Activity {
    /// When traffic last passed, in milliseconds since the transport
    /// started.
    pub(crate) last_ms: AtomicU64,
    /// Whether received bytes are buffered (a message is incomplete) or a
    /// write is under way.
    pub(crate) busy: AtomicBool,
    /// Whether a SIP message has been received on it.
    pub(crate) delivered: AtomicBool,
    /// Bytes of receive buffer it holds (its share of the byte budget).
    pub(crate) held: AtomicUsize,
    /// Whether it has been asked to close: its task takes no more budget.
    pub(crate) closing: AtomicBool,
    /// The certificate a TLS client proved it holds (mutual TLS), which
    /// says for which names the connection may be reused (RFC 5923).
    pub(crate) peer_cert: OnceLock<CertificateDer<'static>>,
}

/// A handle on an open connection.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub(crate) id: ConnectionId,
    pub(crate) protocol: Protocol,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    /// Whether the peer opened it.
    pub(crate) inbound: bool,
    tx: mpsc::Sender<Outgoing>,
    pub(crate) close: Arc<Notify>,
    pub(crate) activity: Arc<Activity>,
}

impl ConnHandle {
    /// A handle whose messages are queued on `tx` for the connection task.
    pub(crate) fn new(
        id: ConnectionId,
        protocol: Protocol,
        remote: SocketAddr,
        local: SocketAddr,
        inbound: bool,
        tx: mpsc::Sender<Outgoing>,
        now_ms: u64,
    ) -> Self {
        let activity = Activity {
            last_ms: AtomicU64::new(now_ms),
            ..Activity::default()
        };
        ConnHandle {
            id,
            protocol,
            remote,
            local,
            inbound,
            tx,
            close: Arc::new(Notify::new()),
            activity: Arc::new(activity),
        }
    }

    /// Whether it may be evicted, having been quiet since `quiet_since_ms`
    /// or earlier: inbound, with nothing buffered, queued or being written.
    fn evictable(&self, quiet_since_ms: u64) -> bool {
        let a = &self.activity;
        self.inbound
            && !a.busy.load(Ordering::Relaxed)
            && self.tx.capacity() == self.tx.max_capacity()
            && a.last_ms.load(Ordering::Relaxed) <= quiet_since_ms
    }

    /// Queues `data` and waits until it is written, within `limit`.
    pub(crate) async fn send(&self, data: Bytes, limit: Duration) -> Result<(), TransportError> {
        let (done, result) = oneshot::channel();
        let attempt = async {
            self.tx
                .send(Outgoing::new(data, done))
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
        self.activity.closing.store(true, Ordering::Relaxed);
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

/// The limits a new connection is admitted under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    /// Most connections open at once.
    pub(crate) max: usize,
    /// Most inbound connections from one IP address.
    pub(crate) per_source: usize,
    /// Connections quiet since this time (ms since the transport started)
    /// or earlier may be evicted at the cap; `None`: none may.
    pub(crate) evict_quiet_since: Option<u64>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The cap is reached and nothing can be evicted.
    Cap,
    /// Its source address has too many inbound connections open.
    PerSource,
}

/// A connection admitted to the table.
pub(crate) struct Admitted {
    /// How many are open now.
    pub(crate) count: usize,
    /// The connection evicted to make room, already out of the table; the
    /// caller closes it.
    pub(crate) evicted: Option<ConnHandle>,
}

/// How many closings a slow receiver of a server's closings may fall
/// behind.
const CLOSED_BACKLOG: usize = 256;

/// The connections of a server, one table for all its shards: a response
/// goes back on the connection its request came in on whichever shard
/// read the request, and the connection limits count them all.
#[derive(Clone)]
pub(crate) struct ConnectionState {
    pub(crate) conns: Arc<std::sync::Mutex<ConnTable>>,
    pub(crate) conn_count: Arc<tokio::sync::watch::Sender<usize>>,
    pub(crate) next_id: Arc<AtomicU64>,
    pub(crate) closed: tokio::sync::broadcast::Sender<ConnectionId>,
    pub(crate) epoch: tokio::time::Instant,
    pub(crate) counters: Arc<super::stats::Counters>,
}

impl ConnectionState {
    /// An empty table, timed from now.
    pub(crate) fn new() -> Self {
        ConnectionState {
            conns: Arc::default(),
            conn_count: Arc::new(tokio::sync::watch::Sender::new(0)),
            next_id: Arc::new(AtomicU64::new(1)),
            closed: tokio::sync::broadcast::Sender::new(CLOSED_BACKLOG),
            epoch: tokio::time::Instant::now(),
            counters: Arc::default(),
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
    /// Open inbound connections per source IP address.
    per_source: HashMap<IpAddr, usize>,
    /// TLS connections a peer let us reuse for requests to it (RFC 5923):
    /// by the host (lower case) and port of its Via `sent-by`.
    aliases: HashMap<(String, u16), ConnectionId>,
}

impl ConnTable {
    /// Adds a connection if `limits` allow, evicting an idle one at the
    /// cap if need be.
    pub(crate) fn insert(
        &mut self,
        handle: ConnHandle,
        limits: Admission,
    ) -> Result<Admitted, Refusal> {
        let ip = handle.remote.ip();
        if handle.inbound && self.per_source.get(&ip).copied().unwrap_or(0) >= limits.per_source {
            return Err(Refusal::PerSource);
        }
        let mut evicted = None;
        if self.by_id.len() >= limits.max {
            let victim = limits
                .evict_quiet_since
                .and_then(|since| self.eviction_candidate(since))
                .ok_or(Refusal::Cap)?;
            evicted = self.remove_handle(victim);
        }
        if handle.inbound {
            *self.per_source.entry(ip).or_default() += 1;
        }
        self.by_remote
            .insert((handle.protocol, handle.remote), handle.id);
        self.by_id.insert(handle.id, handle);
        Ok(Admitted {
            count: self.by_id.len(),
            evicted,
        })
    }

    /// Whether a connection could be admitted now (ignoring the
    /// per-source limit, which outbound connections are not under).
    pub(crate) fn has_room(&self, limits: Admission) -> bool {
        self.by_id.len() < limits.max
            || limits
                .evict_quiet_since
                .is_some_and(|since| self.eviction_candidate(since).is_some())
    }

    /// The connection to evict: an idle inbound one quiet since `since`,
    /// preferring those that never carried a message, then the least
    /// recently active.
    fn eviction_candidate(&self, since: u64) -> Option<ConnectionId> {
        self.by_id
            .values()
            .filter(|h| h.evictable(since))
            .min_by_key(|h| {
                let a = &h.activity;
                (
                    a.delivered.load(Ordering::Relaxed),
                    a.last_ms.load(Ordering::Relaxed),
                    h.id,
                )
            })
            .map(|h| h.id)
    }

    /// The connection holding the most receive buffer, if any holds some.
    pub(crate) fn largest_holder(&self) -> Option<ConnHandle> {
        self.by_id
            .values()
            .filter(|h| h.activity.held.load(Ordering::Relaxed) > 0)
            .max_by_key(|h| (h.activity.held.load(Ordering::Relaxed), h.id))
            .cloned()
    }

    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Removes a connection; returns how many are left open, or `None` if
    /// it was not open. If another connection to the same remote is open,
    /// it becomes the one reused.
    pub(crate) fn remove(&mut self, id: ConnectionId) -> Option<usize> {
        self.remove_handle(id)?;
        Some(self.by_id.len())
    }

    /// Removes a connection and returns its handle.
    fn remove_handle(&mut self, id: ConnectionId) -> Option<ConnHandle> {
        let h = self.by_id.remove(&id)?;
        if h.inbound {
            let ip = h.remote.ip();
            if let Some(n) = self.per_source.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_source.remove(&ip);
                }
            }
        }
        if !self.aliases.is_empty() {
            self.aliases.retain(|_, c| *c != id);
        }
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
        Some(h)
    }

    /// The connection `id`, if open.
    pub(crate) fn get(&self, id: ConnectionId) -> Option<ConnHandle> {
        self.by_id.get(&id).cloned()
    }

    /// Lets connection `id` carry requests to `host:port` (RFC 5923).
    pub(crate) fn alias(&mut self, host: String, port: u16, id: ConnectionId) {
        if self.by_id.contains_key(&id) {
            self.aliases.insert((host, port), id);
        }
    }

    /// The connection aliased for `host:port`, if open.
    pub(crate) fn aliased(&self, host: &str, port: u16) -> Option<ConnHandle> {
        let id = self.aliases.get(&(host.to_ascii_lowercase(), port))?;
        self.by_id.get(id).cloned()
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
