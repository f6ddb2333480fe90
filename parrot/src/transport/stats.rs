//! Counters of the stream-connection defences and of overload refusals
//! at receipt, and the snapshot of them
//! [`super::TransportLayer::stats`] reports.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of the transport's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// Stream connections open now.
    pub connections: usize,
    /// Bytes of receive buffer held by all stream connections now (what
    /// [`super::TransportConfig::max_buffered_bytes`] bounds).
    pub buffered_bytes: usize,
    /// Connections closed for not completing a header block in time.
    pub header_timeouts: u64,
    /// Connections closed for not completing a body in time.
    pub body_timeouts: u64,
    /// Connections closed for sending an incomplete message too slowly.
    pub slow_receives: u64,
    /// Inbound connections refused because their source address had too
    /// many open already.
    pub refused_per_source: u64,
    /// Connections refused at the connection cap with nothing to evict.
    pub refused_at_cap: u64,
    /// Idle inbound connections closed to make room for a new one.
    pub evicted: u64,
    /// Connections closed to keep the buffered bytes within their budget.
    pub over_budget: u64,
    /// Inbound connections closed because their handshake (TLS) failed:
    /// plain text on a TLS port, no common protocol version or cipher, a
    /// malformed hello.
    pub handshake_failures: u64,
    /// Inbound connections closed because their handshake did not finish
    /// within the header deadline.
    pub handshake_timeouts: u64,
    /// New requests refused with `503` as they were received: while the
    /// server sheds ([`super::TransportLayer::set_shedding`]) or the queue
    /// of received messages is at least half full (see
    /// [`super::TransportConfig::incoming_queue`]).
    pub shed_at_receive: u64,
    /// New requests dropped unanswered as they were received: shed beyond
    /// the refusal budget ([`super::TransportConfig::refusals_per_second`]).
    pub dropped_at_receive: u64,
}

/// The live counters behind [`TransportStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) buffered: AtomicUsize,
    pub(crate) header_timeouts: AtomicU64,
    pub(crate) body_timeouts: AtomicU64,
    pub(crate) slow_receives: AtomicU64,
    pub(crate) refused_per_source: AtomicU64,
    pub(crate) refused_at_cap: AtomicU64,
    pub(crate) evicted: AtomicU64,
    pub(crate) over_budget: AtomicU64,
    pub(crate) handshake_failures: AtomicU64,
    pub(crate) handshake_timeouts: AtomicU64,
    pub(crate) shed_at_receive: AtomicU64,
    pub(crate) dropped_at_receive: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// A snapshot, with `connections` open.
    pub(crate) fn snapshot(&self, connections: usize) -> TransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TransportStats {
            connections,
            buffered_bytes: self.buffered.load(Ordering::Relaxed),
            header_timeouts: get(&self.header_timeouts),
            body_timeouts: get(&self.body_timeouts),
            slow_receives: get(&self.slow_receives),
            refused_per_source: get(&self.refused_per_source),
            refused_at_cap: get(&self.refused_at_cap),
            evicted: get(&self.evicted),
            over_budget: get(&self.over_budget),
            handshake_failures: get(&self.handshake_failures),
            handshake_timeouts: get(&self.handshake_timeouts),
            shed_at_receive: get(&self.shed_at_receive),
            dropped_at_receive: get(&self.dropped_at_receive),
        }
    }

    /// Moves a connection's share of [`Counters::buffered`] from `old` to
    /// `new` bytes.
    pub(crate) fn rebalance(&self, old: usize, new: usize) {
        if new > old {
            self.buffered.fetch_add(new - old, Ordering::Relaxed);
        } else {
            self.buffered.fetch_sub(old - new, Ordering::Relaxed);
        }
    }
}
