//! Which client transactions in progress sent their request over which
//! stream connection, so that the connection's closing fails them at once
//! (RFC 3261 §17.1.4, RFC 5626 §4.4): over a reliable transport nothing
//! is retransmitted, so without this a request written just before its
//! connection died would wait for Timer B or F (64·T1) for an answer that
//! can no longer come back.
//!
//! Only transactions still waiting for their final response are kept: the
//! layer drops an entry once its transaction settles or ends, so the index
//! stays as small as the work in progress over streams.

use super::TransactionId;
use crate::memory::shrink_map;
use crate::transport::ConnectionId;
use std::collections::{HashMap, HashSet};

/// Client transactions by the connection their request went over, and
/// back.
#[derive(Debug, Default)]
pub(super) struct ConnectionIndex {
    by_connection: HashMap<ConnectionId, HashSet<TransactionId>>,
    by_transaction: HashMap<TransactionId, ConnectionId>,
}

impl ConnectionIndex {
    /// Records that `id` sent its request over `connection` (the latest
    /// connection wins: a transaction waits on one connection only).
    pub(super) fn insert(&mut self, id: TransactionId, connection: ConnectionId) {
        match self.by_transaction.insert(id, connection) {
            Some(old) if old == connection => return,
            Some(old) => self.detach(old, id),
            None => {}
        }
        self.by_connection.entry(connection).or_default().insert(id);
    }

    /// Forgets `id` (it settled or ended). Cheap when nothing is indexed,
    /// the usual case over UDP.
    pub(super) fn remove(&mut self, id: TransactionId) {
        if self.by_transaction.is_empty() {
            return;
        }
        if let Some(connection) = self.by_transaction.remove(&id) {
            self.detach(connection, id);
        }
    }

    /// Takes out every transaction waiting on `connection`, oldest first.
    pub(super) fn take(&mut self, connection: ConnectionId) -> Vec<TransactionId> {
        let Some(ids) = self.by_connection.remove(&connection) else {
            return Vec::new();
        };
        let mut ids: Vec<TransactionId> = ids.into_iter().collect();
        for id in &ids {
            self.by_transaction.remove(id);
        }
        ids.sort_unstable();
        ids
    }

    /// The connections some transaction waits on.
    pub(super) fn connections(&self) -> impl Iterator<Item = ConnectionId> + '_ {
        self.by_connection.keys().copied()
    }

    /// Number of transactions indexed.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_transaction.len()
    }

    /// Room the maps have, in entries.
    pub(super) fn capacity(&self) -> usize {
        self.by_connection.capacity() + self.by_transaction.capacity()
    }

    /// Gives memory back after a peak (see [`shrink_map`]).
    pub(super) fn shrink(&mut self) {
        shrink_map(&mut self.by_connection);
        shrink_map(&mut self.by_transaction);
    }

    fn detach(&mut self, connection: ConnectionId, id: TransactionId) {
        if let Some(ids) = self.by_connection.get_mut(&connection) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_connection.remove(&connection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(serial: u64) -> TransactionId {
        TransactionId {
            serial,
            slot: serial as u32,
        }
    }

    #[test]
    fn take_returns_the_transactions_of_one_connection_only() {
        let mut index = ConnectionIndex::default();
        index.insert(id(2), ConnectionId(7));
        index.insert(id(1), ConnectionId(7));
        index.insert(id(3), ConnectionId(8));
        assert_eq!(index.take(ConnectionId(7)), [id(1), id(2)]);
        assert_eq!(index.take(ConnectionId(7)), []);
        assert_eq!(index.len(), 1);
        assert_eq!(index.connections().collect::<Vec<_>>(), [ConnectionId(8)]);
    }

    #[test]
    fn a_transaction_waits_on_its_latest_connection_and_leaves_no_trace() {
        let mut index = ConnectionIndex::default();
        index.insert(id(1), ConnectionId(7));
        index.insert(id(1), ConnectionId(8));
        assert_eq!(index.take(ConnectionId(7)), []);
        index.remove(id(1));
        assert_eq!(index.len(), 0);
        assert_eq!(index.connections().count(), 0);
        assert_eq!(index.take(ConnectionId(8)), []);
    }
}
