//! The transaction layer as one sans-IO object: the tables that match
//! messages to transactions (§17.1.3, §17.2.3), one deadline heap for every
//! live transaction's timers, CANCEL handling (§9.2), and the events the
//! transaction user (TU) sees.
//!
//! `P` is the transport's description of a peer (where a request came from,
//! where a request goes). The layer stores it and hands it back with every
//! transmit, without looking inside.
//!
//! # Memory
//!
//! A busy server holds 100,000 live transactions or more, so each costs
//! only what it must keep (`tests/transaction_memory.rs` measures it):
//!
//! * Transactions live in a slab: chunks of slots plus a free list, so the
//!   table grows by one chunk at a time and never rehashes. A
//!   [`TransactionId`] names a slot plus a serial number that is never
//!   reused, so a stale id finds nothing.
//! * Each entry keeps its key once, as a short canonical byte string
//!   (`ServerKey::encode`): nothing in a live transaction points into its
//!   request's receive buffer. The match tables map a keyed 64-bit hash of
//!   that string to the slot, and a hit is confirmed against the entry's
//!   key; keys whose hash collides with another live key's go to a side
//!   table of full keys, so matching stays exact.
//! * The rare RFC 2543 INVITE bookkeeping (for its ACK alias) is boxed.
//! * The deadline heap holds one `(Instant, slot)` per armed deadline;
//!   stale entries are skipped lazily and compacted when they outnumber
//!   the live transactions.
//!
//! # Limits
//!
//! Most live transactions are *settled* ([`Transaction::is_settled`]): the
//! final response is out and they only absorb retransmissions until their
//! wait timer ends, up to 64·T1 = 32 s over UDP (Timers J and L). A server
//! answering N calls/s holds about 64·N of them (the INVITE's and the
//! BYE's), so they are capped apart from the transactions still in
//! progress, which are the work the overload limit protects:
//!
//! * [`set_max_transactions`](TransactionLayer::set_max_transactions)
//!   caps the transactions in progress; a new request beyond it gets a
//!   stateless `503` (RFC 3261 §21.5.4).
//! * [`set_max_settled`](TransactionLayer::set_max_settled) caps the
//!   settled ones, which bounds their memory; beyond it the oldest settled
//!   transaction ends early. It has absorbed retransmissions the longest,
//!   and a UDP peer stops retransmitting after 64·T1 anyway (Timers B, F),
//!   so at worst a very late retransmission is taken for a new request.

use super::{
    ClientInviteTransaction, ClientKey, ClientNonInviteTransaction, KeyError, Output, SendError,
    ServerInviteState, ServerInviteTransaction, ServerKey, ServerNonInviteTransaction, Timer,
    TimerConfig, Transaction, TuEvent,
};
use crate::message::{HeaderName, Message, Method, Request, Response, StatusCode};
use std::cmp::Reverse;
use std::collections::hash_map::{Entry as MapEntry, RandomState};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::time::Instant;

/// Identifies a live transaction within one [`TransactionLayer`]. Ids are
/// never reused: once the transaction ends, its id matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    /// Counts the transactions the layer created (ids order by creation).
    serial: u64,
    /// Where the transaction lives in the layer's slab.
    slot: u32,
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.serial)
    }
}

/// What the layer tells its transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent<P> {
    /// A new request created a server transaction; answer it with
    /// [`TransactionLayer::respond`].
    Request {
        /// The server transaction.
        id: TransactionId,
        /// The request (retransmissions are absorbed and never repeated).
        request: Request,
        /// Where it came from.
        peer: P,
    },
    /// An ACK that matched no transaction: the ACK for a 2xx, which belongs
    /// to the dialog (§13.2.2.4, §17.1.1.3). Also an ACK passed up by an
    /// INVITE server transaction in the Accepted state (RFC 6026).
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        peer: P,
    },
    /// A CANCEL matched this INVITE server transaction before it sent a
    /// final response: the layer answered the CANCEL with 200 and the
    /// INVITE with 487 (§9.2). The TU should stop working on it.
    Cancelled {
        /// The INVITE server transaction.
        id: TransactionId,
    },
    /// A response for a client transaction.
    Response {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Response,
    },
    /// A response that matched no client transaction (e.g. a retransmitted
    /// 2xx after the INVITE transaction ended, §17.1.1.2); the UAC core may
    /// need to re-ACK it.
    StrayResponse {
        /// The response.
        response: Response,
    },
    /// A transaction timed out (Timer B or F: the TU treats it as 408,
    /// §8.1.3.1; Timer H: the ACK never came; Timer L/M: the Accepted wait
    /// ended).
    Timeout {
        /// The transaction.
        id: TransactionId,
        /// Which timer fired.
        timer: Timer,
    },
    /// The transport failed to deliver for this transaction (§17.1.4,
    /// §17.2.4; the TU treats it as 503, §8.1.3.1).
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// The transaction ended and was removed from every table.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// Something the layer wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerOutput<P> {
    /// Send `message` for transaction `id` to/through `peer`.
    Transmit {
        /// The transaction (responses are sent along the request's path).
        id: TransactionId,
        /// The message to send.
        message: Message,
        /// The peer stored with the transaction.
        peer: P,
    },
    /// Send `message`, a response outside any transaction (a stateless
    /// refusal such as 503 under overload), to/through `peer`.
    Reply {
        /// The response.
        message: Message,
        /// Where the request came from.
        peer: P,
    },
    /// Tell the TU.
    Event(LayerEvent<P>),
}

/// A canonical key encoding (`ServerKey::encode`, `ClientKey::encode`).
type KeyBytes = Box<[u8]>;

struct Entry<P> {
    tx: Transaction,
    peer: P,
    /// The key the transaction is matched under: a server key for a server
    /// transaction, a client key for a client one.
    key: KeyBytes,
    /// Only for an RFC 2543 INVITE server transaction.
    rfc2543: Option<Box<Rfc2543Invite>>,
    /// The deadline currently in the heap for this transaction.
    deadline: Option<Instant>,
    serial: u64,
}

/// What an RFC 2543 INVITE server transaction needs for its ACK, whose
/// key carries the To tag of the response (§17.2.3).
struct Rfc2543Invite {
    /// The transaction's key (an owned copy).
    key: ServerKey,
    /// The key its ACK will have, registered once a final response went
    /// out ([`ServerKey::ack_alias`]).
    ack_alias: Option<KeyBytes>,
}

impl<P> Entry<P> {
    /// The key a [`KeyRef`] to this entry names.
    fn key(&self, alias: bool) -> Option<&[u8]> {
        if alias {
            self.ack_alias()
        } else {
            Some(&self.key)
        }
    }

    fn ack_alias(&self) -> Option<&[u8]> {
        self.rfc2543.as_ref()?.ack_alias.as_deref()
    }

    fn is_server(&self) -> bool {
        matches!(
            self.tx,
            Transaction::ServerInvite(_) | Transaction::ServerNonInvite(_)
        )
    }
}

/// Slots per slab chunk.
const CHUNK: usize = 1024;

/// The live transactions: chunks of `CHUNK` slots (only the last one
/// partly allocated) and a free list of vacant slots. Growing never moves
/// an entry and never allocates more than one chunk ahead.
struct Slab<P> {
    chunks: Vec<Vec<Option<Entry<P>>>>,
    free: Vec<u32>,
    len: usize,
}

impl<P> Slab<P> {
    fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    fn get(&self, slot: u32) -> Option<&Entry<P>> {
        let slot = slot as usize;
        self.chunks.get(slot / CHUNK)?.get(slot % CHUNK)?.as_ref()
    }

    fn get_mut(&mut self, slot: u32) -> Option<&mut Entry<P>> {
        let slot = slot as usize;
        self.chunks
            .get_mut(slot / CHUNK)?
            .get_mut(slot % CHUNK)?
            .as_mut()
    }

    /// The entry `id` names, if it is still live.
    fn entry(&self, id: TransactionId) -> Option<&Entry<P>> {
        self.get(id.slot).filter(|e| e.serial == id.serial)
    }

    fn entry_mut(&mut self, id: TransactionId) -> Option<&mut Entry<P>> {
        self.get_mut(id.slot).filter(|e| e.serial == id.serial)
    }

    fn insert(&mut self, entry: Entry<P>) -> u32 {
        self.len += 1;
        if let Some(slot) = self.free.pop() {
            let s = slot as usize;
            self.chunks[s / CHUNK][s % CHUNK] = Some(entry);
            return slot;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::new());
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        if chunk.len() == chunk.capacity() {
            // Double, but never past one chunk.
            let more = chunk.len().max(4).min(CHUNK - chunk.len());
            chunk.reserve_exact(more);
        }
        chunk.push(Some(entry));
        let slot = n * CHUNK + chunk.len() - 1;
        u32::try_from(slot).expect("fewer than 2^32 live transactions")
    }

    fn remove(&mut self, slot: u32) -> Option<Entry<P>> {
        let s = slot as usize;
        let entry = self.chunks.get_mut(s / CHUNK)?.get_mut(s % CHUNK)?.take()?;
        self.len -= 1;
        self.free.push(slot);
        Some(entry)
    }
}

/// A `Hasher` for keys that already are hashes.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are `u64`s); FNV-1a otherwise.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Hashes key encodings for the match tables: SipHash with keys drawn per
/// layer, so hashes cannot be predicted (or collisions provoked) from
/// outside.
struct KeyHasher {
    state: RandomState,
    /// Tests: every key hashes to 0, so every lookup takes the collision
    /// path.
    #[cfg(test)]
    colliding: bool,
}

impl KeyHasher {
    fn new() -> Self {
        KeyHasher {
            state: RandomState::new(),
            #[cfg(test)]
            colliding: false,
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        #[cfg(test)]
        if self.colliding {
            return 0;
        }
        self.state.hash_one(key)
    }
}

/// Names one key stored in the slab: the key of the entry in `slot`, or
/// its ACK alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyRef {
    slot: u32,
    alias: bool,
}

/// One match table (server or client side): key → slot.
///
/// Keys are stored once, in their entry. `by_hash` maps the key's hash to
/// where the key is stored, and a hit counts only if the key there is the
/// one looked up. A key whose hash is taken by a different live key (with
/// a keyed 64-bit hash: practically never) goes to `collided`, a plain map
/// of full keys; a key is in at most one of the two.
struct KeyIndex {
    by_hash: HashMap<u64, KeyRef, BuildHasherDefault<PreHashed>>,
    collided: HashMap<KeyBytes, KeyRef>,
}

impl KeyIndex {
    fn new() -> Self {
        KeyIndex {
            by_hash: HashMap::default(),
            collided: HashMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    /// The slot of the transaction matched under `key` (whose hash is
    /// `hash`).
    fn find<P>(&self, slab: &Slab<P>, hash: u64, key: &[u8]) -> Option<u32> {
        if let Some(&at) = self.by_hash.get(&hash)
            && stored(slab, at) == Some(key)
        {
            return Some(at.slot);
        }
        if self.collided.is_empty() {
            return None;
        }
        self.collided.get(key).map(|at| at.slot)
    }

    /// Maps `key` (stored at `at`) to its transaction, replacing any
    /// previous mapping of `key`.
    fn insert<P>(&mut self, slab: &Slab<P>, hash: u64, key: &[u8], at: KeyRef) {
        if let Some(old) = self.collided.get_mut(key) {
            *old = at;
            return;
        }
        match self.by_hash.entry(hash) {
            MapEntry::Vacant(v) => {
                v.insert(at);
            }
            MapEntry::Occupied(mut o) => {
                if stored(slab, *o.get()) == Some(key) {
                    o.insert(at);
                } else {
                    self.collided.insert(key.into(), at);
                }
            }
        }
    }

    /// Removes the mapping of `key` (stored at `at`), if it is still to
    /// `at`.
    fn remove(&mut self, hash: u64, key: &[u8], at: KeyRef) {
        if self.by_hash.get(&hash) == Some(&at) {
            self.by_hash.remove(&hash);
        } else if !self.collided.is_empty() && self.collided.get(key) == Some(&at) {
            self.collided.remove(key);
        }
    }
}

/// The key stored at `at`.
fn stored<P>(slab: &Slab<P>, at: KeyRef) -> Option<&[u8]> {
    slab.get(at.slot)?.key(at.alias)
}

/// All live transactions of an endpoint.
pub struct TransactionLayer<P> {
    timers: TimerConfig,
    serial: u64,
    slab: Slab<P>,
    hasher: KeyHasher,
    server_keys: KeyIndex,
    client_keys: KeyIndex,
    /// Reused buffer for encoding the key of an incoming message.
    scratch: Vec<u8>,
    /// Deadlines of all transactions, by slot. Entries are never removed in
    /// place; a popped entry that does not equal the deadline of the
    /// transaction in its slot is stale and skipped, which keeps every
    /// operation O(log n).
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    out: VecDeque<LayerOutput<P>>,
    /// Most transactions in progress (live and not settled); beyond it new
    /// requests are refused.
    max_transactions: usize,
    /// Live transactions that are settled ([`Transaction::is_settled`]).
    settled: usize,
    /// Most settled transactions; beyond it the oldest ends early.
    max_settled: usize,
    /// Transactions in the order they settled (the oldest first), to find
    /// the one to end at the cap. Entries of transactions that ended are
    /// skipped, popped from the front, and compacted when they outnumber
    /// the settled ones.
    settled_order: VecDeque<TransactionId>,
    /// Whether the settled cap was reached (warned about once).
    settled_cap_hit: bool,
}

impl<P: Clone> TransactionLayer<P> {
    /// An empty layer using `timers`.
    pub fn new(timers: TimerConfig) -> Self {
        TransactionLayer {
            timers,
            serial: 0,
            slab: Slab::new(),
            hasher: KeyHasher::new(),
            server_keys: KeyIndex::new(),
            client_keys: KeyIndex::new(),
            scratch: Vec::new(),
            heap: BinaryHeap::new(),
            out: VecDeque::new(),
            max_transactions: usize::MAX,
            settled: 0,
            max_settled: usize::MAX,
            settled_order: VecDeque::new(),
            settled_cap_hit: false,
        }
    }

    /// Caps the number of transactions in progress (live and not
    /// [settled](Transaction::is_settled)). A new request beyond the cap
    /// is refused statelessly with `503 Service Unavailable` and a
    /// `Retry-After` (RFC 3261 §21.5.4) instead of growing without bound.
    pub fn set_max_transactions(&mut self, max: usize) {
        self.max_transactions = max;
    }

    /// Caps the number of [settled](Transaction::is_settled) transactions:
    /// beyond it the one that settled first ends early (see the module
    /// documentation). At least 1.
    pub fn set_max_settled(&mut self, max: usize) {
        self.max_settled = max.max(1);
        self.enforce_settled_cap();
    }

    /// The timer settings.
    pub fn timers(&self) -> &TimerConfig {
        &self.timers
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.slab.len
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.slab.len == 0
    }

    /// Number of live transactions that are
    /// [settled](Transaction::is_settled); the others are in progress.
    pub fn settled(&self) -> usize {
        self.settled
    }

    /// Number of live transactions still in progress (the ones
    /// [`set_max_transactions`](Self::set_max_transactions) caps).
    pub fn in_progress(&self) -> usize {
        self.slab.len - self.settled
    }

    /// Number of entries in the match tables and the timer heap, for leak
    /// checks: all return to 0 once every transaction has ended.
    pub fn table_sizes(&self) -> (usize, usize, usize) {
        (
            self.server_keys.len(),
            self.client_keys.len(),
            self.heap.len(),
        )
    }

    /// The transaction `id`, if live.
    pub fn get(&self, id: TransactionId) -> Option<&Transaction> {
        self.slab.entry(id).map(|e| &e.tx)
    }

    /// The peer stored with transaction `id`.
    pub fn peer(&self, id: TransactionId) -> Option<&P> {
        self.slab.entry(id).map(|e| &e.peer)
    }

    /// Next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<LayerOutput<P>> {
        self.out.pop_front()
    }

    /// The earliest deadline of any transaction.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, slot))) = self.heap.peek().copied() {
            if self.slab.get(slot).is_some_and(|e| e.deadline == Some(at)) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, slot))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            // Whichever transaction holds the slot now: a deadline equal to
            // its own is its own (a heap entry left by an earlier holder of
            // the slot is stale and skipped).
            let Some(entry) = self.slab.get_mut(slot) else {
                continue;
            };
            if entry.deadline != Some(at) {
                continue;
            }
            entry.deadline = None;
            let was = entry.tx.is_settled();
            entry.tx.handle_timeout(now);
            let id = TransactionId {
                serial: entry.serial,
                slot,
            };
            self.pump(id, was);
        }
    }

    /// A request arrived from `peer` (`reliable`: over a stream transport).
    /// Retransmissions are absorbed by their transaction; ACKs for 2xx and
    /// new requests are passed to the TU; CANCEL is answered here (§9.2).
    pub fn handle_request(&mut self, now: Instant, request: Request, peer: P, reliable: bool) {
        let key = match ServerKey::from_request(&request) {
            Ok(k) => k,
            Err(e) => {
                // The parser guarantees the headers a key needs; this is a
                // request built by hand.
                tracing::warn!(error = %e, method = %request.method, "request cannot be matched; dropped");
                return;
            }
        };
        let (hash, found) = self.find_server(&key);
        if let Some(slot) = found {
            // §17.2.3: a retransmission, or the ACK of a non-2xx final.
            if let Some(entry) = self.slab.get_mut(slot) {
                let was = entry.tx.is_settled();
                match &mut entry.tx {
                    Transaction::ServerInvite(tx) => tx.handle_request(request, now),
                    Transaction::ServerNonInvite(tx) => tx.handle_request(request, now),
                    _ => {}
                }
                let id = TransactionId {
                    serial: entry.serial,
                    slot,
                };
                self.pump(id, was);
            }
            return;
        }
        // Settled transactions are not work in progress: they have their
        // own cap (`set_max_settled`).
        if request.method != Method::Ack && self.in_progress() >= self.max_transactions {
            tracing::warn!(
                in_progress = self.in_progress(),
                method = %request.method,
                "overloaded: refusing request with 503"
            );
            let mut resp = request.reply(StatusCode::SERVICE_UNAVAILABLE);
            resp.headers.append(HeaderName::RetryAfter, "5");
            self.out.push_back(LayerOutput::Reply {
                message: Message::Response(resp),
                peer,
            });
            return;
        }
        match request.method {
            Method::Ack => {
                self.out
                    .push_back(LayerOutput::Event(LayerEvent::Ack { request, peer }));
            }
            Method::Cancel => self.handle_cancel(now, &key, hash, request, peer, reliable),
            Method::Invite => {
                // Only an RFC 2543 INVITE needs its key again (for the ACK
                // alias); it keeps an owned copy.
                let rfc2543 = (!key.is_rfc3261()).then(|| {
                    Box::new(Rfc2543Invite {
                        key: key.detached(),
                        ack_alias: None,
                    })
                });
                let branch = key.owned_branch(&request);
                let tx = ServerInviteTransaction::with_branch(
                    request,
                    branch,
                    &self.timers,
                    reliable,
                    now,
                );
                let key = self.scratch_key();
                let id = self.insert(Transaction::ServerInvite(tx), peer, key, hash, rfc2543);
                self.pump(id, false);
            }
            _ => {
                let branch = key.owned_branch(&request);
                let tx = ServerNonInviteTransaction::with_branch(
                    request,
                    branch,
                    &self.timers,
                    reliable,
                    now,
                );
                let key = self.scratch_key();
                let id = self.insert(Transaction::ServerNonInvite(tx), peer, key, hash, None);
                self.pump(id, false);
            }
        }
    }

    /// Encodes `key` into the scratch buffer and looks it up: its hash and
    /// the slot of its transaction, if any.
    fn find_server(&mut self, key: &ServerKey) -> (u64, Option<u32>) {
        self.scratch.clear();
        key.encode(&mut self.scratch);
        let hash = self.hasher.hash(&self.scratch);
        let slot = self.server_keys.find(&self.slab, hash, &self.scratch);
        (hash, slot)
    }

    /// Encodes `key` into the scratch buffer; returns its hash.
    fn encode_client(&mut self, key: &ClientKey) -> u64 {
        self.scratch.clear();
        key.encode(&mut self.scratch);
        self.hasher.hash(&self.scratch)
    }

    /// The key last encoded into the scratch buffer, to keep.
    fn scratch_key(&self) -> KeyBytes {
        self.scratch.as_slice().into()
    }

    /// §9.2: a CANCEL gets its own server transaction, answered here: 481
    /// if it matches no INVITE transaction, else 200, and the INVITE gets
    /// 487 if it has no final response yet.
    fn handle_cancel(
        &mut self,
        now: Instant,
        key: &ServerKey,
        hash: u64,
        cancel: Request,
        peer: P,
        reliable: bool,
    ) {
        // The CANCEL's own key, encoded before the scratch buffer is reused.
        let cancel_key = self.scratch_key();
        let target = key.cancel_target().and_then(|k| self.find_server(&k).1);
        let mut response = cancel.reply(StatusCode::OK);
        let mut cancelled = None;
        match target.and_then(|slot| self.slab.get_mut(slot).map(|e| (slot, e))) {
            Some((slot, entry)) => {
                if let Transaction::ServerInvite(invite) = &mut entry.tx {
                    // §9.2: the To tag of the CANCEL's response should be
                    // the one the INVITE's responses carry.
                    let tag = invite
                        .last_response()
                        .and_then(|r| r.headers.to_tag())
                        .unwrap_or_else(crate::random::tag);
                    add_to_tag(&mut response, &tag);
                    if invite.state() == ServerInviteState::Proceeding
                        && let Some(mut terminated) =
                            invite.response_with(StatusCode::REQUEST_TERMINATED)
                    {
                        add_to_tag(&mut terminated, &tag);
                        if invite.send_response(terminated, now).is_ok() {
                            cancelled = Some(TransactionId {
                                serial: entry.serial,
                                slot,
                            });
                        }
                    }
                }
            }
            None => response = cancel.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
        }
        let tx = ServerNonInviteTransaction::new(cancel, &self.timers, reliable, now);
        let cancel_id = self.insert(
            Transaction::ServerNonInvite(tx),
            peer,
            cancel_key,
            hash,
            None,
        );
        if let Some(Transaction::ServerNonInvite(tx)) =
            self.slab.entry_mut(cancel_id).map(|e| &mut e.tx)
        {
            // The CANCEL is handled here, so its request does not go up.
            while tx.poll_output().is_some() {}
            let _ = tx.send_response(response, now);
        }
        self.pump(cancel_id, false);
        if let Some(id) = cancelled {
            // It was in Proceeding until its 487 above.
            self.pump(id, false);
            self.out
                .push_back(LayerOutput::Event(LayerEvent::Cancelled { id }));
        }
    }

    /// A response arrived: it goes to its client transaction (§17.1.3), or
    /// up as a stray.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let slot = ClientKey::from_response(&response).ok().and_then(|k| {
            let hash = self.encode_client(&k);
            self.client_keys.find(&self.slab, hash, &self.scratch)
        });
        let Some((slot, entry)) = slot.and_then(|slot| self.slab.get_mut(slot).map(|e| (slot, e)))
        else {
            self.out
                .push_back(LayerOutput::Event(LayerEvent::StrayResponse { response }));
            return;
        };
        let was = entry.tx.is_settled();
        match &mut entry.tx {
            Transaction::ClientInvite(tx) => tx.handle_response(response, now),
            Transaction::ClientNonInvite(tx) => tx.handle_response(response, now),
            _ => {}
        }
        let id = TransactionId {
            serial: entry.serial,
            slot,
        };
        self.pump(id, was);
    }

    /// Sends the TU's response on server transaction `id`.
    pub fn respond(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Response,
    ) -> Result<(), SendError> {
        let entry = self.slab.entry_mut(id).ok_or(SendError::Terminated)?;
        if response.status.is_final()
            && let Some(rfc2543) = entry.rfc2543.as_mut()
            && rfc2543.ack_alias.is_none()
            && let Some(alias) = rfc2543.key.ack_alias(&response)
        {
            // An RFC 2543 ACK carries the To tag of the final response: map
            // that key to this transaction too (§17.2.3).
            let mut bytes = Vec::new();
            alias.encode(&mut bytes);
            let hash = self.hasher.hash(&bytes);
            rfc2543.ack_alias = Some(bytes.into_boxed_slice());
            if let Some(alias) = self.slab.get(id.slot).and_then(Entry::ack_alias) {
                let at = KeyRef {
                    slot: id.slot,
                    alias: true,
                };
                self.server_keys.insert(&self.slab, hash, alias, at);
            }
        }
        let entry = self.slab.entry_mut(id).ok_or(SendError::Terminated)?;
        let was = entry.tx.is_settled();
        let result = match &mut entry.tx {
            Transaction::ServerInvite(tx) => tx.send_response(response, now),
            Transaction::ServerNonInvite(tx) => tx.send_response(response, now),
            _ => Err(SendError::Terminated),
        };
        self.pump(id, was);
        result
    }

    /// Starts a client transaction for `request` towards `peer`. The
    /// request's top Via must carry a unique branch (§8.1.1.7).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        peer: P,
        reliable: bool,
    ) -> Result<TransactionId, KeyError> {
        let hash = self.encode_client(&ClientKey::from_request(&request)?);
        let key = self.scratch_key();
        let tx = if request.method == Method::Invite {
            Transaction::ClientInvite(ClientInviteTransaction::new(
                request,
                &self.timers,
                reliable,
                now,
            ))
        } else {
            Transaction::ClientNonInvite(ClientNonInviteTransaction::new(
                request,
                &self.timers,
                reliable,
                now,
            ))
        };
        let id = self.insert(tx, peer, key, hash, None);
        self.pump(id, false);
        Ok(id)
    }

    /// The transport could not deliver for transaction `id`.
    pub fn transport_error(&mut self, id: TransactionId) {
        if let Some(entry) = self.slab.entry_mut(id) {
            let was = entry.tx.is_settled();
            entry.tx.on_transport_error();
            self.pump(id, was);
        }
    }

    /// Stores a new transaction and maps its `key` (whose hash is `hash`)
    /// to it.
    fn insert(
        &mut self,
        tx: Transaction,
        peer: P,
        key: KeyBytes,
        hash: u64,
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
        let index = if server {
            &mut self.server_keys
        } else {
            &mut self.client_keys
        };
        if let Some(entry) = self.slab.get(slot) {
            let at = KeyRef { slot, alias: false };
            index.insert(&self.slab, hash, &entry.key, at);
        }
        TransactionId { serial, slot }
    }

    /// Moves a transaction's outputs to the layer's queue, re-arms its
    /// deadline, keeps the settled count (`was`: whether it was settled
    /// before the input just handled), and removes it once it has
    /// terminated.
    fn pump(&mut self, id: TransactionId, was: bool) {
        let Some(entry) = self.slab.entry_mut(id) else {
            return;
        };
        let mut terminated = false;
        while let Some(out) = entry.tx.poll_output() {
            match out {
                Output::Transmit(message) => self.out.push_back(LayerOutput::Transmit {
                    id,
                    message,
                    peer: entry.peer.clone(),
                }),
                Output::ToTu(ev) => {
                    let ev = match ev {
                        TuEvent::Request(request) if request.method == Method::Ack => {
                            LayerEvent::Ack {
                                request,
                                peer: entry.peer.clone(),
                            }
                        }
                        TuEvent::Request(request) => LayerEvent::Request {
                            id,
                            request,
                            peer: entry.peer.clone(),
                        },
                        TuEvent::Response(response) => LayerEvent::Response { id, response },
                        TuEvent::Timeout(timer) => LayerEvent::Timeout { id, timer },
                        TuEvent::TransportError => LayerEvent::TransportError { id },
                    };
                    self.out.push_back(LayerOutput::Event(ev));
                }
                Output::Terminated => terminated = true,
            }
        }
        if terminated || entry.tx.is_terminated() {
            self.remove(id, was);
            return;
        }
        let next = entry.tx.poll_timeout();
        if next != entry.deadline {
            entry.deadline = next;
            if let Some(at) = next {
                self.heap.push(Reverse((at, id.slot)));
            }
        }
        if entry.tx.is_settled() && !was {
            self.settled += 1;
            self.settled_order.push_back(id);
            self.enforce_settled_cap();
        }
    }

    /// Removes transaction `id` (`settled`: counted as settled) from every
    /// table and tells the TU.
    fn remove(&mut self, id: TransactionId, settled: bool) {
        let Some(entry) = self.slab.remove(id.slot) else {
            return;
        };
        let index = if entry.is_server() {
            &mut self.server_keys
        } else {
            &mut self.client_keys
        };
        for alias in [false, true] {
            if let Some(key) = entry.key(alias) {
                let at = KeyRef {
                    slot: id.slot,
                    alias,
                };
                index.remove(self.hasher.hash(key), key, at);
            }
        }
        if settled {
            self.settled -= 1;
            self.tidy_settled_order();
        }
        self.out
            .push_back(LayerOutput::Event(LayerEvent::Terminated { id }));
        self.compact_heap();
    }

    /// Whether `id` is live and settled (its entry in `settled_order` is
    /// current).
    fn is_settled_id(&self, id: TransactionId) -> bool {
        self.slab.entry(id).is_some_and(|e| e.tx.is_settled())
    }

    /// Drops the entries of ended transactions from `settled_order`: from
    /// the front (the common case: they end in the order they settled),
    /// and all of them once they outnumber the settled transactions, so
    /// the queue stays proportional to them.
    fn tidy_settled_order(&mut self) {
        while let Some(&front) = self.settled_order.front()
            && !self.is_settled_id(front)
        {
            self.settled_order.pop_front();
        }
        if self.settled_order.len() > 64 && self.settled_order.len() > 2 * self.settled {
            let slab = &self.slab;
            self.settled_order
                .retain(|id| slab.entry(*id).is_some_and(|e| e.tx.is_settled()));
        }
    }

    /// Ends the oldest settled transactions while there are more than the
    /// cap.
    fn enforce_settled_cap(&mut self) {
        while self.settled > self.max_settled {
            let Some(id) = self.settled_order.pop_front() else {
                break;
            };
            if !self.is_settled_id(id) {
                continue;
            }
            if !self.settled_cap_hit {
                self.settled_cap_hit = true;
                tracing::warn!(
                    max = self.max_settled,
                    "settled transactions at their cap: the oldest end early"
                );
            }
            tracing::debug!(%id, "settled transaction ended early (cap)");
            self.remove(id, true);
        }
    }

    /// Drops stale heap entries when they outnumber live ones, so the heap
    /// stays proportional to the live transactions.
    fn compact_heap(&mut self) {
        if self.heap.len() > 64 && self.heap.len() > 2 * self.slab.len {
            let slab = &self.slab;
            self.heap.retain(|Reverse((at, slot))| {
                slab.get(*slot).is_some_and(|e| e.deadline == Some(*at))
            });
        }
    }
}

fn add_to_tag(resp: &mut Response, tag: &str) {
    let Some(to) = resp.headers.to_header() else {
        return;
    };
    if to.tag().is_some() {
        return;
    }
    let value = format!("{to};tag={tag}");
    resp.headers.set(HeaderName::To, value);
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{at, request, response};
    use super::*;
    use crate::message::Method;
    use std::time::Duration;

    type Layer = TransactionLayer<&'static str>;

    thread_local! {
        /// Whether `new_layer` makes every key hash to the same value.
        static COLLIDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// A layer with the default timers (see [`COLLIDING`]).
    fn new_layer() -> Layer {
        let mut layer = Layer::new(TimerConfig::default());
        layer.hasher.colliding = COLLIDING.get();
        layer
    }

    fn drain(layer: &mut Layer) -> Vec<LayerOutput<&'static str>> {
        std::iter::from_fn(|| layer.poll_output()).collect()
    }

    fn events<'a>(out: &'a [LayerOutput<&'static str>]) -> Vec<&'a LayerEvent<&'static str>> {
        out.iter()
            .filter_map(|o| match o {
                LayerOutput::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn sent_statuses(out: &[LayerOutput<&'static str>]) -> Vec<(u16, String)> {
        out.iter()
            .filter_map(|o| match o {
                LayerOutput::Transmit {
                    message: Message::Response(r),
                    ..
                } => Some((
                    r.status.as_u16(),
                    r.headers.cseq().unwrap().method.to_string(),
                )),
                _ => None,
            })
            .collect()
    }

    /// Runs every deadline up to `until`, returning all outputs.
    fn run_until(layer: &mut Layer, until: Instant) -> Vec<LayerOutput<&'static str>> {
        let mut all = Vec::new();
        while let Some(t) = layer.poll_timeout() {
            if t > until {
                break;
            }
            layer.handle_timeout(t);
            all.extend(drain(layer));
        }
        all
    }

    fn request_id(out: &[LayerOutput<&'static str>]) -> TransactionId {
        events(out)
            .into_iter()
            .find_map(|e| match e {
                LayerEvent::Request { id, .. } => Some(*id),
                _ => None,
            })
            .expect("a request event")
    }

    #[test]
    fn new_request_goes_up_once_and_retransmissions_are_absorbed() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let req = request(Method::Options, "z9hG4bKopt");
        layer.handle_request(t0, req.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        layer.handle_request(at(t0, 100), req.clone(), "peer", false);
        assert!(drain(&mut layer).is_empty(), "retransmission absorbed");
        layer.respond(at(t0, 150), id, response(&req, 200)).unwrap();
        let out = drain(&mut layer);
        assert_eq!(sent_statuses(&out), [(200, "OPTIONS".into())]);
        // A retransmission now re-sends the 200 (§17.2.2) without the TU.
        layer.handle_request(at(t0, 300), req.clone(), "peer", false);
        let out = drain(&mut layer);
        assert_eq!(sent_statuses(&out), [(200, "OPTIONS".into())]);
        assert!(events(&out).is_empty());
        // Timer J ends it; every table empties.
        let out = run_until(&mut layer, at(t0, 60_000));
        assert!(matches!(events(&out)[..], [LayerEvent::Terminated { .. }]));
        assert_eq!(layer.len(), 0);
        assert_eq!(layer.table_sizes(), (0, 0, 0));
    }

    #[test]
    fn invite_gets_100_trying_after_200ms_when_the_tu_is_silent() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        layer.handle_request(t0, request(Method::Invite, "z9hG4bKinv"), "peer", false);
        drain(&mut layer);
        assert_eq!(layer.poll_timeout(), Some(at(t0, 200)));
        let out = run_until(&mut layer, at(t0, 200));
        assert_eq!(sent_statuses(&out), [(100, "INVITE".into())]);
    }

    #[test]
    fn cancel_answers_200_and_487_and_tells_the_tu() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let invite = request(Method::Invite, "z9hG4bKc1");
        layer.handle_request(t0, invite.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        let mut ringing = response(&invite, 180);
        ringing
            .headers
            .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=tu-tag");
        layer.respond(at(t0, 10), id, ringing).unwrap();
        drain(&mut layer);

        let mut cancel = request(Method::Cancel, "z9hG4bKc1");
        cancel.headers.set(HeaderName::CSeq, "314159 CANCEL");
        layer.handle_request(at(t0, 20), cancel.clone(), "peer", false);
        let out = drain(&mut layer);
        let statuses = sent_statuses(&out);
        assert_eq!(statuses, [(200, "CANCEL".into()), (487, "INVITE".into())]);
        assert!(events(&out).contains(&&LayerEvent::Cancelled { id }));
        // Both carry the To tag of the INVITE's provisional response (§9.2).
        for o in &out {
            if let LayerOutput::Transmit {
                message: Message::Response(r),
                ..
            } = o
            {
                assert_eq!(r.headers.to_tag().unwrap(), "tu-tag");
            }
        }
        // The TU's late 200 is refused: the INVITE is already answered.
        assert!(
            layer
                .respond(at(t0, 30), id, response(&invite, 200))
                .is_err()
        );
        // The ACK for the 487 is absorbed by the INVITE transaction.
        let mut ack = request(Method::Ack, "z9hG4bKc1");
        ack.headers
            .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=tu-tag");
        layer.handle_request(at(t0, 40), ack, "peer", false);
        assert!(events(&drain(&mut layer)).is_empty());
        run_until(&mut layer, at(t0, 120_000));
        assert_eq!(layer.len(), 0);
        assert_eq!(layer.table_sizes(), (0, 0, 0));
    }

    #[test]
    fn cancel_without_a_matching_invite_gets_481() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let mut cancel = request(Method::Cancel, "z9hG4bKnone");
        cancel.headers.set(HeaderName::CSeq, "314159 CANCEL");
        layer.handle_request(t0, cancel, "peer", false);
        let out = drain(&mut layer);
        assert_eq!(sent_statuses(&out), [(481, "CANCEL".into())]);
        assert!(events(&out).is_empty(), "the TU never sees the CANCEL");
    }

    #[test]
    fn cancel_after_the_final_response_gets_200_only() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let invite = request(Method::Invite, "z9hG4bKlate");
        layer.handle_request(t0, invite.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        layer
            .respond(at(t0, 10), id, response(&invite, 486))
            .unwrap();
        drain(&mut layer);
        let mut cancel = request(Method::Cancel, "z9hG4bKlate");
        cancel.headers.set(HeaderName::CSeq, "314159 CANCEL");
        layer.handle_request(at(t0, 20), cancel, "peer", false);
        let out = drain(&mut layer);
        assert_eq!(sent_statuses(&out), [(200, "CANCEL".into())]);
        assert!(events(&out).is_empty());
    }

    #[test]
    fn ack_for_a_2xx_goes_to_the_tu() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        layer.handle_request(t0, request(Method::Ack, "z9hG4bKack2xx"), "peer", false);
        let out = drain(&mut layer);
        assert!(matches!(events(&out)[..], [LayerEvent::Ack { .. }]));
        assert_eq!(layer.len(), 0);
    }

    #[test]
    fn client_transaction_times_out_with_timer_f_and_is_removed() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let id = layer
            .send_request(
                t0,
                request(Method::Options, "z9hG4bKcli"),
                "next-hop",
                false,
            )
            .unwrap();
        let first = drain(&mut layer);
        assert_eq!(first.len(), 1, "the request is transmitted at once");
        let out = run_until(&mut layer, at(t0, 40_000));
        let resent: Vec<_> = out
            .iter()
            .filter(|o| matches!(o, LayerOutput::Transmit { .. }))
            .collect();
        // 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, ... 31.5 s: 10 retransmissions.
        assert_eq!(resent.len(), 10);
        let ev = events(&out);
        assert!(ev.contains(&&LayerEvent::Timeout {
            id,
            timer: Timer::F
        }));
        assert!(ev.contains(&&LayerEvent::Terminated { id }));
        assert_eq!(layer.table_sizes(), (0, 0, 0));
    }

    #[test]
    fn responses_reach_their_client_transaction_or_come_up_as_strays() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let req = request(Method::Invite, "z9hG4bKuac");
        let id = layer.send_request(t0, req.clone(), "hop", false).unwrap();
        drain(&mut layer);
        layer.handle_response(at(t0, 5), response(&req, 180));
        let out = drain(&mut layer);
        assert!(matches!(events(&out)[..], [LayerEvent::Response { id: i, .. }] if *i == id));
        let other = request(Method::Invite, "z9hG4bKother");
        layer.handle_response(at(t0, 6), response(&other, 200));
        let out = drain(&mut layer);
        assert!(matches!(
            events(&out)[..],
            [LayerEvent::StrayResponse { .. }]
        ));
    }

    #[test]
    fn requests_beyond_the_cap_get_503_with_retry_after() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        layer.set_max_transactions(1);
        layer.handle_request(t0, request(Method::Invite, "z9hG4bKcap1"), "peer", false);
        drain(&mut layer);
        layer.handle_request(t0, request(Method::Invite, "z9hG4bKcap2"), "peer", false);
        let out = drain(&mut layer);
        let [
            LayerOutput::Reply {
                message: Message::Response(r),
                ..
            },
        ] = &out[..]
        else {
            panic!("expected a stateless reply, got {out:?}");
        };
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers.get("Retry-After").unwrap(), "5");
        assert_eq!(layer.len(), 1);
        // ACKs are never refused (they are never answered).
        layer.handle_request(t0, request(Method::Ack, "z9hG4bKcap3"), "peer", false);
        assert!(matches!(
            events(&drain(&mut layer))[..],
            [LayerEvent::Ack { .. }]
        ));
    }

    #[test]
    fn settled_transactions_do_not_count_toward_the_cap() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        layer.set_max_transactions(1);
        // A call's INVITE, answered 200 (Accepted, Timer L), and its BYE,
        // answered 200 (Completed, Timer J): both only absorb
        // retransmissions for 32 s and leave room for new work.
        let invite = request(Method::Invite, "z9hG4bKset1");
        layer.handle_request(t0, invite.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        assert_eq!((layer.in_progress(), layer.settled()), (1, 0));
        layer.respond(t0, id, response(&invite, 200)).unwrap();
        drain(&mut layer);
        assert_eq!((layer.in_progress(), layer.settled()), (0, 1));
        let bye = request(Method::Bye, "z9hG4bKset2");
        layer.handle_request(at(t0, 1), bye.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        layer.respond(at(t0, 1), id, response(&bye, 200)).unwrap();
        drain(&mut layer);
        assert_eq!((layer.in_progress(), layer.settled()), (0, 2));
        // One request in progress fills the cap; the next gets 503.
        layer.handle_request(
            at(t0, 2),
            request(Method::Invite, "z9hG4bKset3"),
            "peer",
            false,
        );
        assert!(matches!(
            events(&drain(&mut layer))[..],
            [LayerEvent::Request { .. }]
        ));
        layer.handle_request(
            at(t0, 3),
            request(Method::Invite, "z9hG4bKset4"),
            "peer",
            false,
        );
        assert!(matches!(
            &drain(&mut layer)[..],
            [LayerOutput::Reply { message: Message::Response(r), .. }]
                if r.status == StatusCode::SERVICE_UNAVAILABLE
        ));
        assert_eq!((layer.in_progress(), layer.settled()), (1, 2));
        // The settled ones still absorb their retransmissions.
        layer.handle_request(at(t0, 4), bye, "peer", false);
        assert_eq!(sent_statuses(&drain(&mut layer)), [(200, "BYE".into())]);
        assert_eq!(layer.len(), 3);
    }

    #[test]
    fn settled_transactions_beyond_their_cap_end_oldest_first() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        layer.set_max_settled(2);
        let mut reqs = Vec::new();
        let mut ids = Vec::new();
        for i in 0..3 {
            let req = request(Method::Register, &format!("z9hG4bKold{i}"));
            layer.handle_request(at(t0, i), req.clone(), "peer", false);
            let id = request_id(&drain(&mut layer));
            layer.respond(at(t0, i), id, response(&req, 200)).unwrap();
            let out = drain(&mut layer);
            if i == 2 {
                // The third to settle ends the first.
                assert!(
                    events(&out).contains(&&LayerEvent::Terminated { id: ids[0] }),
                    "{out:?}"
                );
            }
            reqs.push(req);
            ids.push(id);
        }
        assert_eq!((layer.len(), layer.settled()), (2, 2));
        assert!(layer.get(ids[0]).is_none());
        // The second still absorbs its retransmission; the first's is new
        // to the layer (the price of ending it early).
        layer.handle_request(at(t0, 5), reqs[1].clone(), "peer", false);
        assert_eq!(
            sent_statuses(&drain(&mut layer)),
            [(200, "REGISTER".into())]
        );
        layer.handle_request(at(t0, 6), reqs[0].clone(), "peer", false);
        assert!(matches!(
            events(&drain(&mut layer))[..],
            [LayerEvent::Request { .. }]
        ));
        assert_eq!((layer.in_progress(), layer.settled()), (1, 2));
        // Lowering the cap ends the oldest at once.
        layer.set_max_settled(1);
        assert!(layer.get(ids[1]).is_none());
        assert!(layer.get(ids[2]).is_some());
        assert_eq!((layer.len(), layer.settled()), (2, 1));
        // Everything still ends and leaves nothing behind.
        run_until(&mut layer, at(t0, 100) + Duration::from_secs(64));
        assert_eq!(layer.len(), 1, "the unanswered REGISTER is still live");
        assert_eq!(layer.settled(), 0);
        assert!(layer.settled_order.is_empty());
    }

    #[test]
    fn a_burst_of_transactions_leaves_nothing_behind() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        for i in 0..2000 {
            let method = if i % 2 == 0 {
                Method::Invite
            } else {
                Method::Register
            };
            let req = request(method, &format!("z9hG4bKburst{i}"));
            layer.handle_request(at(t0, i), req.clone(), "peer", false);
            let id = request_id(&drain(&mut layer));
            let code = if i % 3 == 0 { 200 } else { 404 };
            layer
                .respond(at(t0, i + 1), id, response(&req, code))
                .unwrap();
            drain(&mut layer);
        }
        assert_eq!(layer.len(), 2000);
        // Two chunks of slots, neither allocated beyond its size.
        assert_eq!(layer.slab.chunks.len(), 2);
        assert!(layer.slab.chunks.iter().all(|c| c.capacity() <= CHUNK));
        assert_eq!(layer.table_sizes().0, 2000);
        assert_eq!(layer.settled(), 2000);
        assert_eq!(layer.in_progress(), 0);
        run_until(&mut layer, at(t0, 2000) + Duration::from_secs(64));
        assert_eq!(layer.len(), 0);
        assert_eq!(layer.table_sizes(), (0, 0, 0));
        assert_eq!(layer.settled(), 0);
        assert!(layer.settled_order.is_empty());
    }

    #[test]
    fn entries_are_small() {
        use std::mem::size_of;
        println!("slot: {}", size_of::<Option<Entry<()>>>());
        // The machine, plus the key (a boxed byte string), the boxed RFC
        // 2543 extra, the deadline and the serial; no tag for the slot.
        assert!(size_of::<Option<Entry<()>>>() <= size_of::<Transaction>() + 48);
        // A match-table bucket: hash and key reference.
        assert_eq!(size_of::<(u64, KeyRef)>(), 16);
        // A heap entry: deadline and slot.
        assert_eq!(size_of::<Reverse<(Instant, u32)>>(), 24);
    }

    fn rfc2543(method: Method) -> Request {
        let cancel = method == Method::Cancel;
        let mut req = request(method, "unused");
        req.headers
            .set(HeaderName::Via, "SIP/2.0/UDP pc33.atlanta.com;branch=1234");
        if cancel {
            req.headers.set(HeaderName::CSeq, "314159 CANCEL");
        }
        req
    }

    #[test]
    fn rfc2543_invite_absorbs_the_ack_that_carries_its_to_tag() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let invite = rfc2543(Method::Invite);
        layer.handle_request(t0, invite.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        // A retransmission matches on the RFC 2543 key.
        layer.handle_request(at(t0, 50), invite.clone(), "peer", false);
        assert!(drain(&mut layer).is_empty());
        let busy = response(&invite, 486);
        layer.respond(at(t0, 100), id, busy.clone()).unwrap();
        drain(&mut layer);
        // The key plus the alias for the ACK, which carries the To tag.
        assert_eq!(layer.table_sizes().0, 2);
        let mut ack = rfc2543(Method::Ack);
        ack.headers.set(HeaderName::CSeq, "314159 ACK");
        let mut stray = ack.clone();
        ack.headers.set(
            HeaderName::To,
            busy.headers.get(HeaderName::To).unwrap().clone(),
        );
        layer.handle_request(at(t0, 200), ack, "peer", false);
        assert!(drain(&mut layer).is_empty(), "absorbed by the transaction");
        assert_eq!(
            layer.get(id).map(|tx| match tx {
                Transaction::ServerInvite(tx) => tx.state(),
                _ => unreachable!(),
            }),
            Some(ServerInviteState::Confirmed)
        );
        // An ACK with another To tag is not this transaction's.
        stray
            .headers
            .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=other");
        layer.handle_request(at(t0, 300), stray, "peer", false);
        assert!(matches!(
            events(&drain(&mut layer))[..],
            [LayerEvent::Ack { .. }]
        ));
        run_until(&mut layer, at(t0, 60_000));
        assert_eq!(layer.len(), 0);
        assert_eq!(layer.table_sizes(), (0, 0, 0));
    }

    #[test]
    fn rfc2543_invite_can_be_cancelled() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        layer.handle_request(t0, rfc2543(Method::Invite), "peer", false);
        let id = request_id(&drain(&mut layer));
        layer.handle_request(at(t0, 10), rfc2543(Method::Cancel), "peer", false);
        let out = drain(&mut layer);
        assert_eq!(
            sent_statuses(&out),
            [(200, "CANCEL".into()), (487, "INVITE".into())]
        );
        assert!(events(&out).contains(&&LayerEvent::Cancelled { id }));
        // The 487 and the 200 carry the same To tag (§9.2).
        let tags: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                LayerOutput::Transmit {
                    message: Message::Response(r),
                    ..
                } => r.headers.to_tag(),
                _ => None,
            })
            .collect();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0], tags[1]);
        run_until(&mut layer, at(t0, 60_000));
        assert_eq!(layer.table_sizes(), (0, 0, 0));
    }

    #[test]
    fn ids_are_never_reused_and_stale_ids_find_nothing() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let invite = request(Method::Invite, "z9hG4bKold");
        layer.handle_request(t0, invite.clone(), "peer", false);
        let old = request_id(&drain(&mut layer));
        // Its 100 Trying deadline stays in the heap after it ends.
        layer.transport_error(old);
        assert!(events(&drain(&mut layer)).contains(&&LayerEvent::Terminated { id: old }));
        assert!(layer.get(old).is_none());
        assert_eq!(layer.table_sizes(), (0, 0, 1));

        // The next transaction takes the freed slot, under a new id.
        let req = request(Method::Invite, "z9hG4bKnew");
        layer.handle_request(at(t0, 100), req.clone(), "peer", false);
        let new = request_id(&drain(&mut layer));
        assert_eq!(new.slot, old.slot);
        assert_ne!(new, old);
        assert!(old < new);
        assert_eq!(
            (old.to_string(), new.to_string()),
            ("tx1".into(), "tx2".into())
        );
        assert!(layer.get(old).is_none() && layer.peer(old).is_none());
        assert_eq!(
            layer.respond(at(t0, 150), old, response(&invite, 486)),
            Err(SendError::Terminated)
        );
        layer.transport_error(old);
        assert!(drain(&mut layer).is_empty());
        assert!(layer.get(new).is_some());
        // The stale deadline (200 ms) is skipped: the new transaction's is
        // 300 ms.
        assert_eq!(layer.poll_timeout(), Some(at(t0, 300)));
        let out = run_until(&mut layer, at(t0, 300));
        assert_eq!(sent_statuses(&out), [(100, "INVITE".into())]);
    }

    #[test]
    fn client_keys_match_responses_exactly() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let invite = request(Method::Invite, "z9hG4bKsame");
        let cancel = request(Method::Cancel, "z9hG4bKsame");
        let i = layer
            .send_request(t0, invite.clone(), "hop", false)
            .unwrap();
        let c = layer
            .send_request(t0, cancel.clone(), "hop", false)
            .unwrap();
        drain(&mut layer);
        assert_eq!(layer.table_sizes().1, 2);
        // Same branch, told apart by the CSeq method (§17.1.3); the branch
        // compares ignoring case.
        let mut ok = response(&cancel, 200);
        ok.headers.set(
            HeaderName::Via,
            "SIP/2.0/UDP pc33.atlanta.com;branch=Z9HG4BKSAME",
        );
        layer.handle_response(at(t0, 5), ok);
        layer.handle_response(at(t0, 6), response(&invite, 487));
        let out = drain(&mut layer);
        let ids: Vec<_> = events(&out)
            .into_iter()
            .filter_map(|e| match e {
                LayerEvent::Response { id, response } => Some((*id, response.status.as_u16())),
                _ => None,
            })
            .collect();
        assert_eq!(ids, [(c, 200), (i, 487)]);
    }

    /// A live transaction keeps owned copies of what it needs, never a
    /// slice of the buffer its request (or the TU's response, built from
    /// the request) was parsed from.
    #[test]
    fn live_transactions_keep_nothing_of_their_receive_buffers() {
        let t0 = Instant::now();
        let mut layer = new_layer();
        let parse = |buffer: &bytes::Bytes| match crate::message::parse_datagram(buffer.clone()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        };
        let text = |method: &str, branch: &str, cseq: &str| {
            bytes::Bytes::from(format!(
                "{method} sip:bob@biloxi.com SIP/2.0\r\n\
                 Via: SIP/2.0/UDP pc33.atlanta.com;branch={branch}\r\n\
                 Max-Forwards: 70\r\n\
                 To: Bob <sip:bob@biloxi.com>\r\n\
                 From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
                 Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
                 CSeq: {cseq} {method}\r\n\
                 Timestamp: 54\r\n\
                 Content-Length: 0\r\n\r\n"
            ))
        };
        let buffers = [
            text("INVITE", "z9hG4bKown1", "1"),
            text("REGISTER", "z9hG4bKown2", "2"),
            text("INVITE", "2543own", "3"),
            text("OPTIONS", "z9hG4bKown4", "4"),
            text("INVITE", "z9hG4bKown5", "5"),
            text("CANCEL", "z9hG4bKown5", "5"),
            text("INVITE", "z9hG4bKown7", "7"),
        ];
        for (i, buffer) in buffers.iter().enumerate() {
            layer.handle_request(t0, parse(buffer), "peer", false);
            let out = drain(&mut layer);
            let Some(id) = events(&out).into_iter().find_map(|e| match e {
                LayerEvent::Request { id, .. } => Some(*id),
                _ => None,
            }) else {
                continue;
            };
            drop(out);
            let req = parse(buffer);
            let answer = match i {
                0 => Some(180),
                1 | 2 => Some(486),
                _ => None,
            };
            if let Some(code) = answer {
                layer.respond(t0, id, response(&req, code)).unwrap();
                drain(&mut layer);
            }
        }
        assert_eq!(layer.len(), 7);
        for (i, buffer) in buffers.iter().enumerate() {
            assert!(
                buffer.is_unique(),
                "transaction {i} keeps its receive buffer"
            );
        }
        // They still answer from what they kept: the 180 to a
        // retransmission, the 100 Trying after 200 ms.
        layer.handle_request(at(t0, 100), parse(&buffers[0]), "peer", false);
        let out = drain(&mut layer);
        assert_eq!(sent_statuses(&out), [(180, "INVITE".into())]);
        let LayerOutput::Transmit {
            message: Message::Response(ringing),
            ..
        } = &out[0]
        else {
            unreachable!()
        };
        assert_eq!(ringing, &response(&parse(&buffers[0]), 180));
        let out = run_until(&mut layer, at(t0, 200));
        assert_eq!(sent_statuses(&out), [(100, "INVITE".into())]);
    }

    /// Every test above, with every key hashing to the same value: matching
    /// must stay exact through the collision table.
    #[test]
    fn matching_is_exact_when_every_hash_collides() {
        COLLIDING.set(true);
        new_request_goes_up_once_and_retransmissions_are_absorbed();
        invite_gets_100_trying_after_200ms_when_the_tu_is_silent();
        cancel_answers_200_and_487_and_tells_the_tu();
        cancel_without_a_matching_invite_gets_481();
        cancel_after_the_final_response_gets_200_only();
        ack_for_a_2xx_goes_to_the_tu();
        client_transaction_times_out_with_timer_f_and_is_removed();
        responses_reach_their_client_transaction_or_come_up_as_strays();
        requests_beyond_the_cap_get_503_with_retry_after();
        settled_transactions_do_not_count_toward_the_cap();
        settled_transactions_beyond_their_cap_end_oldest_first();
        a_burst_of_transactions_leaves_nothing_behind();
        rfc2543_invite_absorbs_the_ack_that_carries_its_to_tag();
        rfc2543_invite_can_be_cancelled();
        ids_are_never_reused_and_stale_ids_find_nothing();
        client_keys_match_responses_exactly();
        live_transactions_keep_nothing_of_their_receive_buffers();
        COLLIDING.set(false);
    }
}
