//! The transaction layer as one sans-IO object: the tables that match
//! messages to transactions (§17.1.3, §17.2.3), one deadline heap for every
//! live transaction's timers, CANCEL handling (§9.2), and the events the
//! transaction user (TU) sees.
//!
//! `P` is the transport's description of a peer (where a request came from,
//! where a request goes). The layer stores it and hands it back with every
//! transmit, without looking inside.

use super::{
    ClientInviteTransaction, ClientKey, ClientNonInviteTransaction, KeyError, Output, SendError,
    ServerInviteState, ServerInviteTransaction, ServerKey, ServerNonInviteTransaction, Timer,
    TimerConfig, Transaction, TuEvent,
};
use crate::message::{HeaderName, Message, Method, Request, Response, StatusCode};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::time::Instant;

/// Identifies a live transaction within one [`TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(u64);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
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
    /// Tell the TU.
    Event(LayerEvent<P>),
}

struct Entry<P> {
    tx: Transaction,
    peer: P,
    server_key: Option<ServerKey>,
    ack_alias: Option<ServerKey>,
    client_key: Option<ClientKey>,
    /// The deadline currently in the heap for this transaction.
    deadline: Option<Instant>,
}

/// All live transactions of an endpoint.
pub struct TransactionLayer<P> {
    timers: TimerConfig,
    next_id: u64,
    txs: HashMap<TransactionId, Entry<P>>,
    server_keys: HashMap<ServerKey, TransactionId>,
    client_keys: HashMap<ClientKey, TransactionId>,
    /// Deadlines of all transactions. Entries are never removed in place;
    /// a popped entry that no longer equals its transaction's deadline is
    /// stale and skipped, which keeps every operation O(log n).
    heap: BinaryHeap<Reverse<(Instant, TransactionId)>>,
    out: VecDeque<LayerOutput<P>>,
}

impl<P: Clone> TransactionLayer<P> {
    /// An empty layer using `timers`.
    pub fn new(timers: TimerConfig) -> Self {
        TransactionLayer {
            timers,
            next_id: 0,
            txs: HashMap::new(),
            server_keys: HashMap::new(),
            client_keys: HashMap::new(),
            heap: BinaryHeap::new(),
            out: VecDeque::new(),
        }
    }

    /// The timer settings.
    pub fn timers(&self) -> &TimerConfig {
        &self.timers
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
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
        self.txs.get(&id).map(|e| &e.tx)
    }

    /// The peer stored with transaction `id`.
    pub fn peer(&self, id: TransactionId) -> Option<&P> {
        self.txs.get(&id).map(|e| &e.peer)
    }

    /// Next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<LayerOutput<P>> {
        self.out.pop_front()
    }

    /// The earliest deadline of any transaction.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if self.txs.get(&id).is_some_and(|e| e.deadline == Some(at)) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(entry) = self.txs.get_mut(&id) else {
                continue;
            };
            if entry.deadline != Some(at) {
                continue;
            }
            entry.deadline = None;
            entry.tx.handle_timeout(now);
            self.pump(id);
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
        if let Some(&id) = self.server_keys.get(&key) {
            // §17.2.3: a retransmission, or the ACK of a non-2xx final.
            if let Some(entry) = self.txs.get_mut(&id) {
                match &mut entry.tx {
                    Transaction::ServerInvite(tx) => tx.handle_request(request, now),
                    Transaction::ServerNonInvite(tx) => tx.handle_request(request, now),
                    _ => {}
                }
                self.pump(id);
            }
            return;
        }
        match request.method {
            Method::Ack => {
                self.out
                    .push_back(LayerOutput::Event(LayerEvent::Ack { request, peer }));
            }
            Method::Cancel => self.handle_cancel(now, key, request, peer, reliable),
            Method::Invite => {
                let tx = ServerInviteTransaction::new(request, &self.timers, reliable, now);
                let id = self.insert(Transaction::ServerInvite(tx), peer, Some(key), None);
                self.pump(id);
            }
            _ => {
                let tx = ServerNonInviteTransaction::new(request, &self.timers, reliable, now);
                let id = self.insert(Transaction::ServerNonInvite(tx), peer, Some(key), None);
                self.pump(id);
            }
        }
    }

    /// §9.2: a CANCEL gets its own server transaction, answered here: 481
    /// if it matches no INVITE transaction, else 200, and the INVITE gets
    /// 487 if it has no final response yet.
    fn handle_cancel(
        &mut self,
        now: Instant,
        key: ServerKey,
        cancel: Request,
        peer: P,
        reliable: bool,
    ) {
        let target = key
            .cancel_target()
            .and_then(|k| self.server_keys.get(&k).copied());
        let mut response = cancel.response(StatusCode::OK);
        let mut cancelled = None;
        match target.and_then(|id| self.txs.get_mut(&id).map(|e| (id, e))) {
            Some((id, entry)) => {
                if let Transaction::ServerInvite(invite) = &mut entry.tx {
                    // §9.2: the To tag of the CANCEL's response should be
                    // the one the INVITE's responses carry.
                    let tag = invite
                        .last_response()
                        .and_then(|r| r.headers.to_tag())
                        .unwrap_or_else(crate::random::tag);
                    add_to_tag(&mut response, &tag);
                    if invite.state() == ServerInviteState::Proceeding {
                        if let Some(mut terminated) =
                            invite.response_with(StatusCode::REQUEST_TERMINATED)
                        {
                            add_to_tag(&mut terminated, &tag);
                            if invite.send_response(terminated, now).is_ok() {
                                cancelled = Some(id);
                            }
                        }
                    }
                }
            }
            None => response = cancel.response(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
        }
        let tx = ServerNonInviteTransaction::new(cancel, &self.timers, reliable, now);
        let cancel_id = self.insert(Transaction::ServerNonInvite(tx), peer, Some(key), None);
        if let Some(Transaction::ServerNonInvite(tx)) =
            self.txs.get_mut(&cancel_id).map(|e| &mut e.tx)
        {
            // The CANCEL is handled here, so its request does not go up.
            while tx.poll_output().is_some() {}
            let _ = tx.send_response(response, now);
        }
        self.pump(cancel_id);
        if let Some(id) = cancelled {
            self.pump(id);
            self.out
                .push_back(LayerOutput::Event(LayerEvent::Cancelled { id }));
        }
    }

    /// A response arrived: it goes to its client transaction (§17.1.3), or
    /// up as a stray.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let id = ClientKey::from_response(&response)
            .ok()
            .and_then(|k| self.client_keys.get(&k).copied());
        let Some(id) = id else {
            self.out
                .push_back(LayerOutput::Event(LayerEvent::StrayResponse { response }));
            return;
        };
        if let Some(entry) = self.txs.get_mut(&id) {
            match &mut entry.tx {
                Transaction::ClientInvite(tx) => tx.handle_response(response, now),
                Transaction::ClientNonInvite(tx) => tx.handle_response(response, now),
                _ => {}
            }
        }
        self.pump(id);
    }

    /// Sends the TU's response on server transaction `id`.
    pub fn respond(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Response,
    ) -> Result<(), SendError> {
        let entry = self.txs.get_mut(&id).ok_or(SendError::Terminated)?;
        if entry.ack_alias.is_none()
            && response.status.is_final()
            && let Some(alias) = entry
                .server_key
                .as_ref()
                .and_then(|k| k.ack_alias(&response))
        {
            self.server_keys.insert(alias.clone(), id);
            entry.ack_alias = Some(alias);
        }
        let result = match &mut entry.tx {
            Transaction::ServerInvite(tx) => tx.send_response(response, now),
            Transaction::ServerNonInvite(tx) => tx.send_response(response, now),
            _ => Err(SendError::Terminated),
        };
        self.pump(id);
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
        let key = ClientKey::from_request(&request)?;
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
        let id = self.insert(tx, peer, None, Some(key));
        self.pump(id);
        Ok(id)
    }

    /// The transport could not deliver for transaction `id`.
    pub fn transport_error(&mut self, id: TransactionId) {
        if let Some(entry) = self.txs.get_mut(&id) {
            entry.tx.on_transport_error();
            self.pump(id);
        }
    }

    fn insert(
        &mut self,
        tx: Transaction,
        peer: P,
        server_key: Option<ServerKey>,
        client_key: Option<ClientKey>,
    ) -> TransactionId {
        self.next_id += 1;
        let id = TransactionId(self.next_id);
        if let Some(k) = &server_key {
            self.server_keys.insert(k.clone(), id);
        }
        if let Some(k) = &client_key {
            self.client_keys.insert(k.clone(), id);
        }
        self.txs.insert(
            id,
            Entry {
                tx,
                peer,
                server_key,
                ack_alias: None,
                client_key,
                deadline: None,
            },
        );
        id
    }

    /// Moves a transaction's outputs to the layer's queue, re-arms its
    /// deadline, and removes it once it has terminated.
    fn pump(&mut self, id: TransactionId) {
        let Some(entry) = self.txs.get_mut(&id) else {
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
            let entry = self.txs.remove(&id).expect("entry exists");
            for k in [entry.server_key, entry.ack_alias].into_iter().flatten() {
                if self.server_keys.get(&k) == Some(&id) {
                    self.server_keys.remove(&k);
                }
            }
            if let Some(k) = entry.client_key
                && self.client_keys.get(&k) == Some(&id)
            {
                self.client_keys.remove(&k);
            }
            self.out
                .push_back(LayerOutput::Event(LayerEvent::Terminated { id }));
            self.compact_heap();
            return;
        }
        let next = entry.tx.poll_timeout();
        if next != entry.deadline {
            entry.deadline = next;
            if let Some(at) = next {
                self.heap.push(Reverse((at, id)));
            }
        }
    }

    /// Drops stale heap entries when they outnumber live ones, so the heap
    /// stays proportional to the live transactions.
    fn compact_heap(&mut self) {
        if self.heap.len() > 64 && self.heap.len() > 2 * self.txs.len() {
            let txs = &self.txs;
            self.heap
                .retain(|Reverse((at, id))| txs.get(id).is_some_and(|e| e.deadline == Some(*at)));
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
