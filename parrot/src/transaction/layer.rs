//! The transaction layer as one sans-IO object: the tables that match
//! messages to transactions (§17.1.3, §17.2.3), one deadline heap for every
//! live transaction's timers, CANCEL handling (§9.2), the failure of the
//! client transactions whose stream connection closes before their final
//! response (§17.1.4), and the events the transaction user (TU) sees.
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
//! * Transactions live in a slab (`slab.rs`): chunks of slots plus a free
//!   list, so the table grows by one chunk at a time and never moves an
//!   entry. A [`TransactionId`] names a slot plus a serial number that is
//!   never reused, so a stale id finds nothing.
//! * Each entry keeps its key once, as a short canonical byte string
//!   (`ServerKey::encode`): nothing in a live transaction points into its
//!   request's receive buffer. The match tables (`table.rs`) hold 8 bytes
//!   per key: part of a keyed hash of that string and the slot; a hit is
//!   confirmed against the entry's key, so matching stays exact.
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

use super::connections::ConnectionIndex;
use super::table::{KeyHash, Rfc2543Invite, StoredKey, Table};
use super::{
    ClientInviteTransaction, ClientKey, ClientNonInviteTransaction, KeyError, Output, SendError,
    ServerInviteState, ServerInviteTransaction, ServerKey, ServerNonInviteState,
    ServerNonInviteTransaction, Timer, TimerConfig, Transaction, TransactionId, TuEvent,
};
use crate::memory::far_below;
use crate::message::{HeaderName, Message, Method, Request, Response, StatusCode};
use crate::rate::TokenBucket;
use crate::transport::ConnectionId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

/// What the layer tells its transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent<P> {
    /// A new request created a server transaction; answer it with
    /// [`TransactionLayer::respond`].
    Request {
        /// The server transaction.
        id: TransactionId,
        /// The request (retransmissions are absorbed and never repeated).
        request: Box<Request>,
        /// Where it came from.
        peer: P,
    },
    /// An ACK that matched no transaction: the ACK for a 2xx, which belongs
    /// to the dialog (§13.2.2.4, §17.1.1.3). Also an ACK passed up by an
    /// INVITE server transaction in the Accepted state (RFC 6026).
    Ack {
        /// The ACK.
        request: Box<Request>,
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
    /// The transport failed to deliver for this transaction, or the
    /// connection a client transaction's request went over closed before
    /// its final response (§17.1.4, §17.2.4; the TU treats it as 503,
    /// §8.1.3.1).
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
        /// Whether the transaction sent `message` before (§17): a
        /// retransmission, for the caller's counters.
        retransmission: bool,
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

/// All live transactions of an endpoint.
pub struct TransactionLayer<P> {
    timers: TimerConfig,
    /// The live transactions and their match tables.
    table: Table<P>,
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
    /// Whether new out-of-dialog requests are refused (see
    /// [`set_shedding`](TransactionLayer::set_shedding)).
    shedding: bool,
    /// The `Retry-After` of a refusal, in seconds.
    retry_after: u32,
    /// New requests refused statelessly with 503 so far.
    refused: u64,
    /// Server transactions whose request the TU has not answered yet.
    awaiting_tu: usize,
    /// The budget of stateless refusals of unreliable requests while
    /// shedding.
    refusals: TokenBucket,
    /// Unreliable requests shed beyond that budget, dropped unanswered.
    dropped: u64,
    /// Received retransmissions their transaction absorbed (§17): requests
    /// matching a server transaction (ACK aside) and responses a client
    /// transaction did not pass up.
    absorbed: u64,
    /// New work is shed while this many requests await the TU.
    max_backlog: usize,
    /// Client transactions in progress by the stream connection their
    /// request went over (see [`sent_over`](TransactionLayer::sent_over)).
    connections: ConnectionIndex,
}

impl<P: Clone> TransactionLayer<P> {
    /// An empty layer using `timers`.
    pub fn new(timers: TimerConfig) -> Self {
        TransactionLayer {
            timers,
            table: Table::new(),
            scratch: Vec::new(),
            heap: BinaryHeap::new(),
            out: VecDeque::new(),
            max_transactions: usize::MAX,
            settled: 0,
            max_settled: usize::MAX,
            settled_order: VecDeque::new(),
            settled_cap_hit: false,
            shedding: false,
            retry_after: 5,
            refused: 0,
            awaiting_tu: 0,
            refusals: TokenBucket::new(2000),
            dropped: 0,
            absorbed: 0,
            max_backlog: usize::MAX,
            connections: ConnectionIndex::default(),
        }
    }

    /// While `on`, new out-of-dialog requests (no To tag, RFC 3261
    /// §12.2.2) other than ACK, CANCEL and OPTIONS are refused statelessly
    /// with `503` and a `Retry-After` before any transaction is made, as
    /// are requests beyond [`set_max_transactions`](Self::set_max_transactions).
    /// Retransmissions, requests inside dialogs, CANCELs and OPTIONS
    /// pings keep being served: shedding only the work that would start
    /// new calls keeps the calls in progress completing (RFC 6357 §3).
    pub fn set_shedding(&mut self, on: bool) {
        self.shedding = on;
    }

    /// Sets how many new requests over an unreliable transport shedding
    /// refuses with `503` per second (default 2000); beyond, they are
    /// dropped unanswered and counted ([`dropped`](Self::dropped)).
    pub fn set_refusals_per_second(&mut self, n: u32) {
        self.refusals = TokenBucket::new(n);
    }

    /// Sheds new work (as [`set_shedding`](Self::set_shedding) does) while
    /// at least `n` requests await the TU's first answer
    /// ([`awaiting_tu`](Self::awaiting_tu)); checked at every request, so
    /// the backlog stays bounded however late the TU looks at its load.
    /// Default: no limit.
    pub fn set_max_backlog(&mut self, n: usize) {
        self.max_backlog = n;
    }

    /// Whether the backlog is at its limit
    /// ([`set_max_backlog`](Self::set_max_backlog)): new work is shed.
    pub fn backlog_full(&self) -> bool {
        self.awaiting_tu >= self.max_backlog
    }

    /// New requests shed beyond the refusal budget and dropped unanswered.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Received retransmissions absorbed by their transactions so far
    /// (requests matching a server transaction, ACK aside, and responses a
    /// client transaction did not pass up to the TU).
    pub fn absorbed(&self) -> u64 {
        self.absorbed
    }

    /// Sets the `Retry-After` (seconds) of the `503` a refused request gets
    /// (default 5).
    pub fn set_retry_after(&mut self, seconds: u32) {
        self.retry_after = seconds;
    }

    /// Number of new requests refused statelessly with `503` so far
    /// (overload or shedding); they are logged at debug level only, so
    /// that an overload does not also flood the log.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Gives memory back after a peak: every table far below its capacity
    /// (less than a quarter used) shrinks to twice its length. Cheap when
    /// there is nothing to do; meant for a periodic sweep, not for every
    /// operation (a shrink right before growing again would only churn).
    pub fn shrink(&mut self) {
        self.move_settled_down();
        self.table.shrink();
        shrink_vec_deque(&mut self.out);
        shrink_vec_deque(&mut self.settled_order);
        self.connections.shrink();
        if far_below(self.heap.len(), self.heap.capacity()) {
            self.heap.shrink_to(self.heap.len() * 2);
        }
        if self.scratch.capacity() > 4096 {
            self.scratch = Vec::new();
        }
    }

    /// Moves settled non-INVITE server transactions down to the lowest
    /// vacant slots while the slab is sparse (live entries fill at most
    /// half the slots in use, as after a peak). Each lives on for
    /// up to 64×T1 (Timer J, §17.2.2) only to absorb retransmissions, and
    /// nothing outside the layer names it any more (its final response is
    /// sent, it has left the connection table): the ones a peak's end left
    /// high up would otherwise keep their chunk's memory until the last of
    /// them ended. O(slots) when there is something to move.
    fn move_settled_down(&mut self) {
        if !self.table.sparse() {
            return;
        }
        let mut moved = HashMap::new();
        for slot in (0..self.table.slots()).rev() {
            let Some(entry) = self.table.get(slot) else {
                continue;
            };
            if !matches!(entry.tx, Transaction::ServerNonInvite(_)) || !entry.tx.is_settled() {
                continue;
            }
            let (serial, deadline) = (entry.serial, entry.deadline);
            // None: no vacant slot below this one, nor below the rest.
            let Some(to) = self.table.relocate(slot) else {
                break;
            };
            if let Some(at) = deadline {
                self.heap.push(Reverse((at, to)));
            }
            moved.insert(serial, to);
        }
        if moved.is_empty() {
            return;
        }
        for id in &mut self.settled_order {
            if let Some(&to) = moved.get(&id.serial) {
                id.slot = to;
            }
        }
        self.compact_heap();
    }

    /// Room the tables have, in entries summed over all of them (slab
    /// slots, match-table buckets, heap and queue entries): for checks
    /// that [`shrink`](Self::shrink) gives memory back.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
            + self.heap.capacity()
            + self.settled_order.capacity()
            + self.out.capacity()
            + self.connections.capacity()
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
        self.table.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Number of live transactions that are
    /// [settled](Transaction::is_settled); the others are in progress.
    pub fn settled(&self) -> usize {
        self.settled
    }

    /// Server transactions whose request the transaction user has not
    /// answered yet (the layer's own `100 Trying` aside): received work
    /// nobody has got to yet, the backlog overload control watches. A call
    /// the TU is ringing is not in it.
    pub fn awaiting_tu(&self) -> usize {
        self.awaiting_tu
    }

    /// Number of live transactions still in progress (the ones
    /// [`set_max_transactions`](Self::set_max_transactions) caps).
    pub fn in_progress(&self) -> usize {
        self.table.len() - self.settled
    }

    /// Number of entries in the match tables and the timer heap, for leak
    /// checks: all return to 0 once every transaction has ended.
    pub fn table_sizes(&self) -> (usize, usize, usize) {
        let (server, client) = self.table.index_sizes();
        (server, client, self.heap.len())
    }

    /// The transaction `id`, if live.
    pub fn get(&self, id: TransactionId) -> Option<&Transaction> {
        self.table.entry(id).map(|e| &e.tx)
    }

    /// The peer stored with transaction `id`.
    pub fn peer(&self, id: TransactionId) -> Option<&P> {
        self.table.entry(id).map(|e| &e.peer)
    }

    /// Next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<LayerOutput<P>> {
        self.out.pop_front()
    }

    /// The earliest deadline of any transaction.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, slot))) = self.heap.peek().copied() {
            if self.table.get(slot).is_some_and(|e| e.deadline == Some(at)) {
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
            let Some(entry) = self.table.get_mut(slot) else {
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
            if let Some(entry) = self.table.get_mut(slot) {
                let was = entry.tx.is_settled();
                let retransmission = request.method != Method::Ack;
                match &mut entry.tx {
                    Transaction::ServerInvite(tx) => tx.handle_request(request, now),
                    Transaction::ServerNonInvite(tx) => tx.handle_request(request, now),
                    _ => {}
                }
                let id = TransactionId {
                    serial: entry.serial,
                    slot,
                };
                if retransmission {
                    self.absorbed += 1;
                }
                self.pump(id, was);
            }
            return;
        }
        // Settled transactions are not work in progress: they have their
        // own cap (`set_max_settled`).
        let shed = (self.shedding || self.backlog_full()) && request.starts_new_work();
        if request.method != Method::Ack && (shed || self.in_progress() >= self.max_transactions) {
            if shed && !reliable && !self.refusals.take(now) {
                // Beyond the refusal budget an unreliable request is
                // dropped: the peer's retransmission meets the budget
                // again, and answering a flood would use up the capacity
                // shedding protects (RFC 6357 §3). A stream peer gets its
                // 503 whatever the budget: it would not retransmit.
                self.dropped += 1;
                return;
            }
            // Counted, not logged at warn: the TU reports a summary.
            self.refused += 1;
            tracing::debug!(
                in_progress = self.in_progress(),
                method = %request.method,
                "overloaded: refusing request with 503"
            );
            let resp =
                request.service_unavailable(self.retry_after, crate::random::stateless_tag());
            self.out.push_back(LayerOutput::Reply {
                message: Message::Response(resp),
                peer,
            });
            return;
        }
        match request.method {
            Method::Ack => {
                self.out.push_back(LayerOutput::Event(LayerEvent::Ack {
                    request: Box::new(request),
                    peer,
                }));
            }
            Method::Cancel => self.handle_cancel(now, &key, hash, request, peer, reliable),
            Method::Invite => {
                // Only an RFC 2543 INVITE needs its key again (for the ACK
                // alias); it keeps an owned copy.
                let rfc2543 =
                    (!key.is_rfc3261()).then(|| Box::new(Rfc2543Invite::new(key.detached())));
                let branch = key.owned_branch(&request);
                let tx = ServerInviteTransaction::with_branch(
                    request,
                    branch,
                    &self.timers,
                    reliable,
                    now,
                );
                let key = self.scratch_key(hash);
                let id = self
                    .table
                    .insert(Transaction::ServerInvite(tx), peer, key, rfc2543);
                self.awaiting(id);
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
                let key = self.scratch_key(hash);
                let id = self
                    .table
                    .insert(Transaction::ServerNonInvite(tx), peer, key, None);
                self.awaiting(id);
                self.pump(id, false);
            }
        }
    }

    /// Encodes `key` into the scratch buffer and looks it up: its hash and
    /// the slot of its transaction, if any.
    fn find_server(&mut self, key: &ServerKey) -> (KeyHash, Option<u32>) {
        self.scratch.clear();
        key.encode(&mut self.scratch);
        let hash = self.table.hash(&self.scratch);
        let slot = self.table.find_server(hash, &self.scratch);
        (hash, slot)
    }

    /// Encodes `key` into the scratch buffer; returns its hash.
    fn encode_client(&mut self, key: &ClientKey) -> KeyHash {
        self.scratch.clear();
        key.encode(&mut self.scratch);
        self.table.hash(&self.scratch)
    }

    /// The key last encoded into the scratch buffer, to keep.
    fn scratch_key(&self, hash: KeyHash) -> StoredKey {
        StoredKey::new(&self.scratch, hash)
    }

    /// §9.2: a CANCEL gets its own server transaction, answered here: 481
    /// if it matches no INVITE transaction, else 200, and the INVITE gets
    /// 487 if it has no final response yet.
    fn handle_cancel(
        &mut self,
        now: Instant,
        key: &ServerKey,
        hash: KeyHash,
        cancel: Request,
        peer: P,
        reliable: bool,
    ) {
        // The CANCEL's own key, encoded before the scratch buffer is reused.
        let cancel_key = self.scratch_key(hash);
        let target = key.cancel_target().and_then(|k| self.find_server(&k).1);
        let mut response = cancel.reply(StatusCode::OK);
        let mut cancelled = None;
        match target.and_then(|slot| self.table.get_mut(slot).map(|e| (slot, e))) {
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
        let cancel_id = self
            .table
            .insert(Transaction::ServerNonInvite(tx), peer, cancel_key, None);
        if let Some(Transaction::ServerNonInvite(tx)) =
            self.table.entry_mut(cancel_id).map(|e| &mut e.tx)
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
            self.table.find_client(hash, &self.scratch)
        });
        let Some((slot, entry)) = slot.and_then(|slot| self.table.get_mut(slot).map(|e| (slot, e)))
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
        let queued = self.out.len();
        self.pump(id, was);
        let passed_up = self
            .out
            .range(queued..)
            .any(|o| matches!(o, LayerOutput::Event(LayerEvent::Response { .. })));
        if !passed_up {
            self.absorbed += 1;
        }
    }

    /// Sends the TU's response on server transaction `id`.
    pub fn respond(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Response,
    ) -> Result<(), SendError> {
        let entry = self.table.entry(id).ok_or(SendError::Terminated)?;
        if response.status.is_final()
            && let Some(rfc2543) = entry.rfc2543.as_ref()
            && !rfc2543.has_ack_alias()
            && let Some(alias) = rfc2543.key.ack_alias(&response)
        {
            // An RFC 2543 ACK carries the To tag of the final response: map
            // that key to this transaction too (§17.2.3).
            let mut bytes = Vec::new();
            alias.encode(&mut bytes);
            self.table.add_ack_alias(id, &bytes);
        }
        let entry = self.table.entry_mut(id).ok_or(SendError::Terminated)?;
        let awaited = awaits_tu(&entry.tx);
        let was = entry.tx.is_settled();
        let result = match &mut entry.tx {
            Transaction::ServerInvite(tx) => tx.send_response(response, now),
            Transaction::ServerNonInvite(tx) => tx.send_response(response, now),
            _ => Err(SendError::Terminated),
        };
        if awaited && self.table.entry(id).is_none_or(|e| !awaits_tu(&e.tx)) {
            self.awaiting_tu -= 1;
        }
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
        let key = self.scratch_key(hash);
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
        let id = self.table.insert(tx, peer, key, None);
        self.pump(id, false);
        Ok(id)
    }

    /// The transport could not deliver for transaction `id`.
    pub fn transport_error(&mut self, id: TransactionId) {
        if let Some(entry) = self.table.entry_mut(id) {
            let was = entry.tx.is_settled();
            entry.tx.on_transport_error();
            self.pump(id, was);
        }
    }

    /// Records that client transaction `id` sent its request over stream
    /// connection `connection` (the [`Sent::connection`] of the transmit),
    /// so that [`connection_closed`](Self::connection_closed) fails it.
    /// Ignored for a server transaction, and for a client transaction that
    /// has its final response already or has ended.
    ///
    /// [`Sent::connection`]: crate::transport::Sent::connection
    pub fn sent_over(&mut self, id: TransactionId, connection: ConnectionId) {
        let waiting = self.table.entry(id).is_some_and(|e| {
            matches!(
                e.tx,
                Transaction::ClientInvite(_) | Transaction::ClientNonInvite(_)
            ) && !e.tx.is_settled()
                && !e.tx.is_terminated()
        });
        if waiting {
            self.connections.insert(id, connection);
        }
    }

    /// Stream connection `connection` has closed: every client transaction
    /// whose request went over it ([`sent_over`](Self::sent_over)) and that
    /// has no final response yet fails with a transport error, as if the
    /// send had failed (RFC 3261 §17.1.4; the TU treats it as a 503,
    /// §8.1.3.1, and a proxy sending over a flow answers 430, RFC 5626
    /// §5.3). The answer could only have come back over that connection
    /// (§18.2.2), and nothing is retransmitted over a reliable transport,
    /// so waiting for Timer B or F would only delay the failure by 64·T1.
    /// Server transactions are left alone: their responses have the
    /// §18.2.2 fallbacks. Returns how many transactions failed.
    pub fn connection_closed(&mut self, connection: ConnectionId) -> usize {
        let mut failed = 0;
        for id in self.connections.take(connection) {
            // A transaction that got its final response has left the
            // index; checked again so that it is never disturbed.
            if self
                .table
                .entry(id)
                .is_some_and(|e| !e.tx.is_settled() && !e.tx.is_terminated())
            {
                tracing::debug!(%id, %connection, "connection closed before the final response: transport error (RFC 3261 §17.1.4)");
                self.transport_error(id);
                failed += 1;
            }
        }
        failed
    }

    /// The connections some client transaction in progress waits on (for
    /// a caller that missed closings and must check which are still open).
    pub fn awaited_connections(&self) -> Vec<ConnectionId> {
        let mut connections: Vec<ConnectionId> = self.connections.connections().collect();
        connections.sort_unstable();
        connections
    }

    /// Moves a transaction's outputs to the layer's queue, re-arms its
    /// deadline, keeps the settled count (`was`: whether it was settled
    /// before the input just handled), and removes it once it has
    /// terminated.
    fn pump(&mut self, id: TransactionId, was: bool) {
        let Some(entry) = self.table.entry_mut(id) else {
            return;
        };
        let mut terminated = false;
        while let Some(out) = entry.tx.poll_output() {
            match out {
                Output::Transmit(message) => self.out.push_back(LayerOutput::Transmit {
                    id,
                    message,
                    peer: entry.peer.clone(),
                    retransmission: false,
                }),
                Output::Retransmit(message) => self.out.push_back(LayerOutput::Transmit {
                    id,
                    message,
                    peer: entry.peer.clone(),
                    retransmission: true,
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
            // Its final response is in: a closing connection no longer
            // concerns it.
            self.connections.remove(id);
            self.settled += 1;
            self.settled_order.push_back(id);
            self.enforce_settled_cap();
        }
    }

    /// Counts new server transaction `id` as awaiting the TU's answer.
    fn awaiting(&mut self, id: TransactionId) {
        if self.table.entry(id).is_some_and(|e| awaits_tu(&e.tx)) {
            self.awaiting_tu += 1;
        }
    }

    /// Removes transaction `id` (`settled`: counted as settled) from every
    /// table and tells the TU.
    fn remove(&mut self, id: TransactionId, settled: bool) {
        let Some(entry) = self.table.remove(id.slot) else {
            return;
        };
        self.connections.remove(id);
        if awaits_tu(&entry.tx) {
            self.awaiting_tu -= 1;
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
        self.table.entry(id).is_some_and(|e| e.tx.is_settled())
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
            let table = &self.table;
            self.settled_order
                .retain(|id| table.entry(*id).is_some_and(|e| e.tx.is_settled()));
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
        if self.heap.len() > 64 && self.heap.len() > 2 * self.table.len() {
            let table = &self.table;
            self.heap.retain(|Reverse((at, slot))| {
                table.get(*slot).is_some_and(|e| e.deadline == Some(*at))
            });
        }
    }
}

/// Whether a server transaction's request still awaits the TU's first
/// answer: nothing sent yet, or only a `100 Trying` (the layer's own,
/// §17.2.1). Read from the state, so entries need no flag of their own.
fn awaits_tu(tx: &Transaction) -> bool {
    match tx {
        Transaction::ServerInvite(tx) => {
            tx.state() == ServerInviteState::Proceeding
                && tx.last_status().is_none_or(|s| s == StatusCode::TRYING)
        }
        Transaction::ServerNonInvite(tx) => tx.state() == ServerNonInviteState::Trying,
        _ => false,
    }
}

/// Shrinks `q` to twice its length when it is far below its capacity.
fn shrink_vec_deque<T>(q: &mut VecDeque<T>) {
    if far_below(q.len(), q.capacity()) {
        q.shrink_to(q.len() * 2);
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
mod tests;
