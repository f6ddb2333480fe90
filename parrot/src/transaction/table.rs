//! The live transactions and the two match tables (server side, §17.2.3;
//! client side, §17.1.3) that find them by key.
//!
//! Each entry keeps its key once, as a short canonical byte string
//! (`ServerKey::encode`, `ClientKey::encode`): nothing in a live
//! transaction points into its request's receive buffer. A match table is
//! a `hashbrown::HashTable` of 8-byte entries: 32 bits of a keyed hash of
//! the key and where the key is stored. A hit is confirmed against the
//! stored key, so keys whose hashes collide are told apart without a side
//! table of full keys.

use super::slab::Slab;
use super::{ServerKey, Transaction};
use crate::keyed::KeyedState;
use crate::memory::far_below;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry as Slot;
use std::fmt;
use std::time::Instant;

/// Identifies a live transaction within one
/// [`TransactionLayer`](super::TransactionLayer). Ids are never reused:
/// once the transaction ends, its id matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    /// Counts the transactions the layer created (ids order by creation).
    pub(super) serial: u64,
    /// Where the transaction lives in the layer's slab.
    pub(super) slot: u32,
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.serial)
    }
}

/// A canonical key encoding (`ServerKey::encode`, `ClientKey::encode`)
/// followed by the 4 bytes of its hash, so that removing a transaction
/// need not hash its key again. Same allocation as the bare key, 4 bytes
/// longer.
pub(super) struct StoredKey(Box<[u8]>);

impl StoredKey {
    /// Stores `key`, whose hash is `hash`.
    pub(super) fn new(key: &[u8], hash: KeyHash) -> Self {
        let mut bytes = Vec::with_capacity(key.len() + 4);
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(&hash.0.to_ne_bytes());
        StoredKey(bytes.into_boxed_slice())
    }

    /// The key encoding.
    fn bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - 4]
    }

    /// The key's hash.
    fn hash(&self) -> KeyHash {
        let (_, tail) = self.0.split_at(self.0.len() - 4);
        KeyHash(u32::from_ne_bytes(tail.try_into().unwrap_or_default()))
    }
}

/// One live transaction and what the layer keeps beside it.
pub(super) struct Entry<P> {
    pub(super) tx: Transaction,
    pub(super) peer: P,
    /// The key the transaction is matched under: a server key for a server
    /// transaction, a client key for a client one.
    key: StoredKey,
    /// Only for an RFC 2543 INVITE server transaction.
    pub(super) rfc2543: Option<Box<Rfc2543Invite>>,
    /// The deadline currently in the heap for this transaction.
    pub(super) deadline: Option<Instant>,
    pub(super) serial: u64,
}

/// What an RFC 2543 INVITE server transaction needs for its ACK, whose
/// key carries the To tag of the response (§17.2.3).
pub(super) struct Rfc2543Invite {
    /// The transaction's key (an owned copy).
    pub(super) key: ServerKey,
    /// The key its ACK will have, registered once a final response went
    /// out ([`ServerKey::ack_alias`]).
    ack_alias: Option<StoredKey>,
}

impl Rfc2543Invite {
    /// The bookkeeping for an RFC 2543 INVITE whose key is `key`.
    pub(super) fn new(key: ServerKey) -> Self {
        Rfc2543Invite {
            key,
            ack_alias: None,
        }
    }

    /// Whether the ACK alias is registered already.
    pub(super) fn has_ack_alias(&self) -> bool {
        self.ack_alias.is_some()
    }
}

impl<P> Entry<P> {
    /// The key a [`KeyRef`] to this entry names.
    fn key(&self, alias: bool) -> Option<&StoredKey> {
        if alias {
            self.rfc2543.as_ref()?.ack_alias.as_ref()
        } else {
            Some(&self.key)
        }
    }

    fn is_server(&self) -> bool {
        matches!(
            self.tx,
            Transaction::ServerInvite(_) | Transaction::ServerNonInvite(_)
        )
    }
}

/// Hashes key encodings for the match tables with keys drawn at random
/// (see `crate::keyed`), so hashes cannot be predicted (or collisions
/// provoked) from outside.
struct KeyHasher {
    state: KeyedState,
    /// Tests: every key hashes to 0, so every lookup meets every key.
    #[cfg(test)]
    colliding: bool,
}

impl KeyHasher {
    fn new() -> Self {
        KeyHasher {
            state: KeyedState::new(),
            #[cfg(test)]
            colliding: false,
        }
    }

    fn hash(&self, key: &[u8]) -> KeyHash {
        #[cfg(test)]
        if self.colliding {
            return KeyHash(0);
        }
        // 32 bits are plenty to tell keys apart in a probe sequence; a hit
        // is confirmed against the stored key anyway.
        KeyHash(self.state.hash_one(key) as u32)
    }
}

/// The hash of a key encoding, as stored in a match table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyHash(u32);

impl KeyHash {
    /// The 64-bit hash the table probes with: `hashbrown` takes its control
    /// byte from the top bits and the bucket from the low ones, so both
    /// halves carry the 32 bits.
    fn wide(self) -> u64 {
        u64::from(self.0) << 32 | u64::from(self.0)
    }
}

/// Names one key stored in the slab: the key of the entry in a slot, or
/// its ACK alias; packed as `slot << 1 | alias`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyRef(u32);

impl KeyRef {
    fn new(slot: u32, alias: bool) -> Self {
        debug_assert!(slot < 1 << 31);
        KeyRef(slot << 1 | u32::from(alias))
    }

    fn slot(self) -> u32 {
        self.0 >> 1
    }

    fn alias(self) -> bool {
        self.0 & 1 == 1
    }
}

/// A match-table entry.
#[derive(Clone, Copy)]
struct Indexed {
    hash: KeyHash,
    at: KeyRef,
}

/// One match table (server or client side): key → slot. Keys are stored
/// once, in their entry; a key is in the table at most once.
struct KeyIndex(HashTable<Indexed>);

impl KeyIndex {
    /// Where the key the table maps `key` (whose hash is `hash`) is
    /// stored.
    fn find<P>(&self, slab: &Slab<Entry<P>>, hash: KeyHash, key: &[u8]) -> Option<KeyRef> {
        self.0
            .find(hash.wide(), |e| {
                e.hash == hash && stored(slab, e.at) == Some(key)
            })
            .map(|e| e.at)
    }

    /// Maps `key` (stored at `at`) to its transaction, replacing any
    /// previous mapping of `key`.
    fn insert<P>(&mut self, slab: &Slab<Entry<P>>, hash: KeyHash, key: &[u8], at: KeyRef) {
        let eq = |e: &Indexed| e.hash == hash && stored(slab, e.at) == Some(key);
        match self.0.entry(hash.wide(), eq, |e| e.hash.wide()) {
            Slot::Occupied(mut e) => e.get_mut().at = at,
            Slot::Vacant(v) => {
                v.insert(Indexed { hash, at });
            }
        }
    }

    /// Points the mapping to `from` of the key whose hash is `hash` at `to`.
    fn relink(&mut self, hash: KeyHash, from: KeyRef, to: KeyRef) {
        if let Some(e) = self.0.find_mut(hash.wide(), |e| e.at == from) {
            e.at = to;
        }
    }

    /// Removes the mapping to `at` of the key whose hash is `hash`, if
    /// there is one (a later transaction may have taken the key over).
    fn remove(&mut self, hash: KeyHash, at: KeyRef) {
        if let Ok(e) = self.0.find_entry(hash.wide(), |e| e.at == at) {
            e.remove();
        }
    }
}

/// Whether `entry` (in `slot`) is a server transaction, and the mappings
/// its key and its ACK alias have in that side's match table.
fn mapped_keys<P>(entry: &Entry<P>, slot: u32) -> (bool, [Option<(KeyHash, KeyRef)>; 2]) {
    let mapping = |alias| {
        let key = entry.key(alias)?;
        Some((key.hash(), KeyRef::new(slot, alias)))
    };
    (entry.is_server(), [mapping(false), mapping(true)])
}

/// The key stored at `at`.
fn stored<P>(slab: &Slab<Entry<P>>, at: KeyRef) -> Option<&[u8]> {
    slab.get(at.slot())?.key(at.alias()).map(StoredKey::bytes)
}

/// The live transactions, by slot and by key.
pub(super) struct Table<P> {
    slab: Slab<Entry<P>>,
    serial: u64,
    hasher: KeyHasher,
    server_keys: KeyIndex,
    client_keys: KeyIndex,
}

impl<P> Table<P> {
    pub(super) fn new() -> Self {
        Table {
            slab: Slab::new(),
            serial: 0,
            hasher: KeyHasher::new(),
            server_keys: KeyIndex(HashTable::new()),
            client_keys: KeyIndex(HashTable::new()),
        }
    }

    /// Number of live transactions.
    pub(super) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Number of entries in the server and the client match tables.
    pub(super) fn index_sizes(&self) -> (usize, usize) {
        (self.server_keys.0.len(), self.client_keys.0.len())
    }

    /// The entry in `slot`, whichever transaction holds it.
    pub(super) fn get(&self, slot: u32) -> Option<&Entry<P>> {
        self.slab.get(slot)
    }

    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut Entry<P>> {
        self.slab.get_mut(slot)
    }

    /// The entry `id` names, if it is still live.
    pub(super) fn entry(&self, id: TransactionId) -> Option<&Entry<P>> {
        self.slab.get(id.slot).filter(|e| e.serial == id.serial)
    }

    pub(super) fn entry_mut(&mut self, id: TransactionId) -> Option<&mut Entry<P>> {
        self.slab.get_mut(id.slot).filter(|e| e.serial == id.serial)
    }

    /// The hash of a key encoding.
    pub(super) fn hash(&self, key: &[u8]) -> KeyHash {
        self.hasher.hash(key)
    }

    /// The slot of the server transaction matched under `key`.
    pub(super) fn find_server(&self, hash: KeyHash, key: &[u8]) -> Option<u32> {
        let at = self.server_keys.find(&self.slab, hash, key)?;
        Some(at.slot())
    }

    /// The slot of the client transaction matched under `key`.
    pub(super) fn find_client(&self, hash: KeyHash, key: &[u8]) -> Option<u32> {
        let at = self.client_keys.find(&self.slab, hash, key)?;
        Some(at.slot())
    }

    /// Stores a new transaction and maps its `key` to it, in the server or
    /// the client table as `tx` is.
    // Inlined into its callers so that the transaction is built in place
    // rather than copied once more on the way into the slab.
    #[inline]
    pub(super) fn insert(
        &mut self,
        tx: Transaction,
        peer: P,
        key: StoredKey,
        rfc2543: Option<Box<Rfc2543Invite>>,
    ) -> TransactionId {
        self.serial += 1;
        let serial = self.serial;
        let entry = Entry {
            tx,
            peer,
            key,
            rfc2543,
            deadline: None,
            serial,
        };
        let server = entry.is_server();
        let slot = self.slab.insert(entry);
        assert!(slot < 1 << 31, "fewer than 2^31 live transactions");
        let index = if server {
            &mut self.server_keys
        } else {
            &mut self.client_keys
        };
        if let Some(entry) = self.slab.get(slot) {
            let key = &entry.key;
            index.insert(
                &self.slab,
                key.hash(),
                key.bytes(),
                KeyRef::new(slot, false),
            );
        }
        TransactionId { serial, slot }
    }

    /// Registers `alias` as the ACK key of the RFC 2543 INVITE server
    /// transaction `id` (§17.2.3), unless one is registered already.
    pub(super) fn add_ack_alias(&mut self, id: TransactionId, alias: &[u8]) {
        let hash = self.hasher.hash(alias);
        let Some(rfc2543) = self.entry_mut(id).and_then(|e| e.rfc2543.as_mut()) else {
            return;
        };
        if rfc2543.ack_alias.is_some() {
            return;
        }
        rfc2543.ack_alias = Some(StoredKey::new(alias, hash));
        if let Some(alias) = self.slab.get(id.slot).and_then(|e| e.key(true)) {
            let at = KeyRef::new(id.slot, true);
            self.server_keys.insert(&self.slab, hash, alias.bytes(), at);
        }
    }

    /// Removes the transaction in `slot` and its keys' mappings.
    pub(super) fn remove(&mut self, slot: u32) -> Option<Entry<P>> {
        let entry = self.slab.remove(slot)?;
        let (server, keys) = mapped_keys(&entry, slot);
        let index = self.index_mut(server);
        for (hash, at) in keys.into_iter().flatten() {
            index.remove(hash, at);
        }
        Some(entry)
    }

    /// The match table of the server or the client side.
    fn index_mut(&mut self, server: bool) -> &mut KeyIndex {
        if server {
            &mut self.server_keys
        } else {
            &mut self.client_keys
        }
    }

    /// Moves the transaction in `slot` to the lowest vacant slot if that is
    /// below it, keeping its key mappings (its serial too: a stale
    /// [`TransactionId`] naming the old slot names nothing). The new slot,
    /// or `None` when there is none lower.
    pub(super) fn relocate(&mut self, slot: u32) -> Option<u32> {
        if self.slab.lowest_vacant()? >= slot {
            return None;
        }
        let entry = self.slab.remove(slot)?;
        let (server, keys) = mapped_keys(&entry, slot);
        let to = self.slab.insert(entry);
        let index = self.index_mut(server);
        for (hash, at) in keys.into_iter().flatten() {
            index.relink(hash, at, KeyRef::new(to, at.alias()));
        }
        Some(to)
    }

    /// One past the highest slot that may hold a transaction.
    pub(super) fn slots(&self) -> u32 {
        self.slab.end()
    }

    /// Whether the live transactions fill at most half the slots in use
    /// (up to the highest one allocated): packing them down would let at
    /// least half go. In a steady state new entries take the lowest
    /// vacant slots and the range stays close to the count.
    pub(super) fn sparse(&self) -> bool {
        self.slab.len() * 2 <= self.slab.end() as usize
    }

    /// Room the slab and the match tables have, in entries.
    pub(super) fn capacity(&self) -> usize {
        self.slab.capacity() + self.server_keys.0.capacity() + self.client_keys.0.capacity()
    }

    /// Shrinks the slab and the match tables when far below their
    /// capacity (see [`TransactionLayer::shrink`](super::TransactionLayer::shrink)).
    pub(super) fn shrink(&mut self) {
        self.slab.shrink();
        for index in [&mut self.server_keys, &mut self.client_keys] {
            let t = &mut index.0;
            if far_below(t.len(), t.capacity()) {
                t.shrink_to(t.len() * 2, |e| e.hash.wide());
            }
        }
    }

    /// Tests: make every key hash to the same value.
    #[cfg(test)]
    pub(super) fn set_colliding(&mut self, colliding: bool) {
        self.hasher.colliding = colliding;
    }

    /// Tests: the slab's chunks.
    #[cfg(test)]
    pub(super) fn chunks(&self) -> &[Vec<Option<Entry<P>>>] {
        &self.slab.chunks
    }

    /// Tests: slots per chunk of the slab.
    #[cfg(test)]
    pub(super) fn chunk_slots(&self) -> usize {
        Slab::<Entry<P>>::CHUNK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn index_entries_are_eight_bytes() {
        // Hash and key reference; the table adds one control byte.
        assert_eq!(size_of::<Indexed>(), 8);
    }
}
