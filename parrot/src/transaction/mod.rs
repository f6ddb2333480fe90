//! The transaction layer (RFC 3261 §17, with the RFC 6026 corrections) as
//! sans-IO state machines.
//!
//! Nothing here touches a socket or a clock. A machine is created from a
//! request and the current time, then driven by four kinds of input:
//!
//! * messages from the peer (`handle_request` / `handle_response`),
//! * responses from the transaction user (`send_response`, server side),
//! * time: the caller asks [`poll_timeout`](ClientInviteTransaction::poll_timeout)
//!   for the next deadline (a plain [`Instant`](std::time::Instant), so one
//!   timer heap or wheel can serve every transaction) and calls
//!   `handle_timeout(now)` once it has passed,
//! * transport failures (`on_transport_error`, §17.1.4, §17.2.4).
//!
//! Every input may queue [`Output`]s, which the caller drains with
//! `poll_output` after each input: messages to transmit (the caller picks
//! the destination, §18, and serializes), events for the transaction user
//! ([`TuEvent`]), and finally [`Output::Terminated`], after which the caller
//! drops the machine and its [`key`](ServerKey).
//!
//! ```
//! use parrot::message::{Message, Method, Request, StatusCode};
//! use parrot::transaction::{Output, ServerNonInviteTransaction, TimerConfig, TuEvent};
//! use std::time::{Duration, Instant};
//!
//! let req = Request::builder(Method::Options, "sip:bob@example.com".parse().unwrap())
//!     .header("Via", "SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds")
//!     .header("From", "<sip:alice@example.com>;tag=1928301774")
//!     .header("To", "<sip:bob@example.com>")
//!     .header("Call-ID", "a84b4c76e66710")
//!     .header("CSeq", "1 OPTIONS")
//!     .header("Max-Forwards", "70")
//!     .build()
//!     .unwrap();
//! let t0 = Instant::now();
//! let mut tx = ServerNonInviteTransaction::new(req, &TimerConfig::default(), false, t0);
//! let Some(Output::ToTu(TuEvent::Request(req))) = tx.poll_output() else { panic!() };
//! # let _ = req;
//! tx.send_response(parrot::message::Response::new(StatusCode::OK), t0).unwrap();
//! assert!(matches!(tx.poll_output(), Some(Output::Transmit(Message::Response(_)))));
//! // Timer J (64·T1 on UDP) absorbs retransmissions, then the machine ends.
//! assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
//! tx.handle_timeout(t0 + Duration::from_secs(32));
//! assert_eq!(tx.poll_output(), Some(Output::Terminated));
//! ```
//!
//! Sizes (x86-64): an INVITE / non-INVITE client machine is 112 / 104
//! bytes plus its boxed request; an INVITE / non-INVITE server machine is
//! 120 / 104 bytes. A server machine keeps its last response (and an
//! INVITE one, before it has sent anything, the headers of its own
//! `100 Trying`) as a compact owned copy: one allocation of exactly the
//! response's text, independent of the request's receive buffer, from
//! which the response is rebuilt when sent again. Deadlines are plain
//! `Instant`s. The output queue allocates only while outputs are pending
//! and frees everything once drained, so an idle transaction owns no
//! queue memory.

mod cancel;
mod client_invite;
mod client_non_invite;
mod compact;
mod config;
mod connections;
mod deadlines;
mod key;
mod layer;
mod server_invite;
mod server_non_invite;
mod slab;
mod table;

pub(crate) use cancel::cancel_request;
pub use client_invite::{ClientInviteState, ClientInviteTransaction};
pub use client_non_invite::{ClientNonInviteState, ClientNonInviteTransaction};
pub use config::{TRYING_DELAY, TimerConfig};
pub use key::{ClientKey, KeyError, ServerKey};
pub use layer::{LayerEvent, LayerOutput, TransactionLayer};
pub use server_invite::{ServerInviteState, ServerInviteTransaction};
pub use server_non_invite::{ServerNonInviteState, ServerNonInviteTransaction};
pub use table::TransactionId;

use compact::StoredResponse;

use crate::message::{Headers, Message, Request, Response, Text};
use std::collections::VecDeque;

/// Something a transaction asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this message to the peer. The caller serializes it and picks
    /// the destination (RFC 3261 §18).
    Transmit(Message),
    /// Send this message to the peer again: a request or response the
    /// transaction sent before, repeated by a timer or on a retransmitted
    /// message (§17). Handled as [`Transmit`](Self::Transmit); kept apart
    /// so the caller can count retransmissions.
    Retransmit(Message),
    /// Deliver this event to the transaction user.
    ToTu(TuEvent),
    /// The transaction reached the Terminated state: the caller should
    /// forget it (and its key). Always the last output.
    Terminated,
}

/// An event for the transaction user (TU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuEvent {
    /// A request: the one that created a server transaction (passed up
    /// exactly once, retransmissions are absorbed), or an ACK received in
    /// the RFC 6026 Accepted state of an INVITE server transaction.
    /// Boxed once here, it reaches the handler's session without being
    /// copied again on the way (the layers above move it several times).
    Request(Box<Request>),
    /// A response received by a client transaction.
    Response(Response),
    /// A timer fired that means the transaction failed: Timer B or F (no
    /// final response; the TU should act as if it received a 408, §8.1.3.1)
    /// or Timer H (the ACK never arrived, §17.2.1).
    Timeout(Timer),
    /// The transport reported a failure sending a message of this
    /// transaction (§17.1.4, §17.2.4).
    TransportError,
}

/// The transaction timers of RFC 3261 §17 (Table 4 of Appendix A), RFC
/// 6026 (L and M) and the 200 ms `100 Trying` timer of §17.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmission (client).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmissions (INVITE client).
    D,
    /// Non-INVITE request retransmission (client).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmission (server).
    G,
    /// Wait time for ACK receipt (INVITE server).
    H,
    /// Wait time for ACK retransmissions (INVITE server).
    I,
    /// Wait time for non-INVITE request retransmissions (server).
    J,
    /// Wait time for non-INVITE response retransmissions (client).
    K,
    /// Wait time in the Accepted state (INVITE server, RFC 6026).
    L,
    /// Wait time in the Accepted state (INVITE client, RFC 6026).
    M,
    /// The 200 ms after which an INVITE server transaction sends
    /// `100 Trying` itself (§17.2.1).
    Trying,
}

/// Why a server transaction refused a response from the TU. The response
/// was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A final response was already sent: a later one is discarded
    /// (§17.2.1; §17.2.2 "Any other final responses passed by the TU to the
    /// server transaction MUST be discarded while in the Completed state").
    /// In the RFC 6026 Accepted state only further 2xx are accepted.
    #[error("a final response was already sent")]
    FinalResponseSent,
    /// The transaction is terminated.
    #[error("the transaction is terminated")]
    Terminated,
}

/// Any of the four transaction machines, so a runtime can keep them in one
/// table and drive them uniformly.
#[derive(Debug)]
pub enum Transaction {
    /// An INVITE client transaction (Figure 5).
    ClientInvite(ClientInviteTransaction),
    /// A non-INVITE client transaction (Figure 6).
    ClientNonInvite(ClientNonInviteTransaction),
    /// An INVITE server transaction (Figure 7).
    ServerInvite(ServerInviteTransaction),
    /// A non-INVITE server transaction (Figure 8).
    ServerNonInvite(ServerNonInviteTransaction),
}

macro_rules! dispatch {
    ($self:ident, $tx:ident => $e:expr) => {
        match $self {
            Transaction::ClientInvite($tx) => $e,
            Transaction::ClientNonInvite($tx) => $e,
            Transaction::ServerInvite($tx) => $e,
            Transaction::ServerNonInvite($tx) => $e,
        }
    };
}

impl Transaction {
    /// The next deadline, if any timer is running.
    pub fn poll_timeout(&self) -> Option<std::time::Instant> {
        dispatch!(self, tx => tx.poll_timeout())
    }

    /// Fires every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: std::time::Instant) {
        dispatch!(self, tx => tx.handle_timeout(now))
    }

    /// The next queued output.
    pub fn poll_output(&mut self) -> Option<Output> {
        dispatch!(self, tx => tx.poll_output())
    }

    /// Reports a transport failure (§17.1.4, §17.2.4).
    pub fn on_transport_error(&mut self) {
        dispatch!(self, tx => tx.on_transport_error())
    }

    /// Whether the machine reached the Terminated state.
    pub fn is_terminated(&self) -> bool {
        dispatch!(self, tx => tx.is_terminated())
    }

    /// Whether the final response is out (sent or received) and the
    /// machine only waits for its wait timer, absorbing retransmissions:
    /// INVITE server Completed (G/H: resending its non-2xx until the ACK),
    /// Confirmed (I) or Accepted (L, RFC 6026); non-INVITE server Completed
    /// (J); INVITE client Completed (D) or Accepted (M); non-INVITE client
    /// Completed (K). No transaction user waits on it any more.
    pub fn is_settled(&self) -> bool {
        match self {
            Transaction::ServerInvite(tx) => matches!(
                tx.state(),
                ServerInviteState::Completed
                    | ServerInviteState::Confirmed
                    | ServerInviteState::Accepted
            ),
            Transaction::ServerNonInvite(tx) => tx.state() == ServerNonInviteState::Completed,
            Transaction::ClientInvite(tx) => matches!(
                tx.state(),
                ClientInviteState::Completed | ClientInviteState::Accepted
            ),
            Transaction::ClientNonInvite(tx) => tx.state() == ClientNonInviteState::Completed,
        }
    }

    /// The branch parameter of the top Via (empty if there is none).
    pub fn branch(&self) -> &Text {
        dispatch!(self, tx => tx.branch())
    }
}

/// The queue of pending outputs. It allocates only while outputs are
/// pending and releases everything once drained, so an idle transaction
/// owns no queue memory and spends one pointer on it. The oldest output
/// sits in the box itself: a single pending output (the usual case) costs
/// one allocation, not a box and a ring buffer.
#[derive(Debug, Default)]
pub(crate) struct OutputQueue(Option<Box<Pending>>);

/// The outputs of an [`OutputQueue`], oldest first.
#[derive(Debug)]
struct Pending {
    first: Output,
    rest: VecDeque<Output>,
}

impl OutputQueue {
    pub(crate) fn push(&mut self, out: Output) {
        match &mut self.0 {
            Some(pending) => pending.rest.push_back(out),
            None => {
                // Allocated before it is filled: `Box::new` would build the
                // output beside it first and copy it in (300 bytes).
                self.0 = Some(Box::write(
                    Box::new_uninit(),
                    Pending {
                        first: out,
                        rest: VecDeque::new(),
                    },
                ));
            }
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Output> {
        let pending = self.0.as_mut()?;
        match pending.rest.pop_front() {
            Some(next) => Some(std::mem::replace(&mut pending.first, next)),
            None => self.0.take().map(|p| p.first),
        }
    }
}

/// The `branch` parameter of the top Via, or an empty text if there is no
/// (parsable) Via or no branch.
pub(crate) fn top_branch(headers: &Headers) -> Text {
    match headers.top_via_decoded() {
        Some(Ok(via)) => via.params.raw("branch").cloned().unwrap_or_default(),
        _ => Text::new(),
    }
}

/// [`top_branch`] as an owned copy, so that a server transaction does not
/// keep its request's receive buffer alive through it.
pub(crate) fn owned_top_branch(headers: &Headers) -> Text {
    let branch = top_branch(headers);
    if branch.is_empty() {
        branch
    } else {
        Text::from(branch.as_str().to_owned())
    }
}

/// A response to `request` with the headers RFC 3261 §8.2.6.2 copies from
/// it: every Via (same order), From, To, Call-ID and CSeq, plus Timestamp
/// (§8.2.6.1). No To tag is added, which only a `100 Trying` may omit
/// (§8.2.6.2), so this is the transaction's own 100 (which it stores
/// directly with `StoredResponse::response_to`; this is the reference).
#[cfg(test)]
pub(crate) fn trying_response(request: &Request) -> Response {
    // §8.2.6: the same headers any response copies from its request.
    request.reply(crate::message::StatusCode::TRYING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{HeaderName, Method, StatusCode};
    use crate::test_support::*;
    use std::time::Instant;

    #[test]
    fn sizes() {
        use crate::message::Request;
        use std::mem::size_of;
        // Printed for the record (`cargo test -- --nocapture sizes`).
        let sizes = [
            (
                "ClientInviteTransaction",
                size_of::<ClientInviteTransaction>(),
            ),
            (
                "ClientNonInviteTransaction",
                size_of::<ClientNonInviteTransaction>(),
            ),
            (
                "ServerInviteTransaction",
                size_of::<ServerInviteTransaction>(),
            ),
            (
                "ServerNonInviteTransaction",
                size_of::<ServerNonInviteTransaction>(),
            ),
            ("Transaction", size_of::<Transaction>()),
            ("Output", size_of::<Output>()),
            ("ClientKey", size_of::<ClientKey>()),
            ("ServerKey", size_of::<ServerKey>()),
            ("Request", size_of::<Request>()),
            (
                "Option<StoredResponse>",
                size_of::<Option<StoredResponse>>(),
            ),
        ];
        for (name, size) in sizes {
            println!("{name:28} {size}");
        }
        // Nothing large inline: a server machine keeps its response as a
        // 24-byte compact copy, a client machine boxes its request, and
        // the output queue is one pointer. What remains is the branch, two
        // deadlines and the timing.
        assert!(size_of::<Option<StoredResponse>>() <= 24);
        assert!(size_of::<ClientInviteTransaction>() <= 112);
        assert!(size_of::<ClientNonInviteTransaction>() <= 104);
        assert!(size_of::<ServerInviteTransaction>() <= 120);
        assert!(size_of::<ServerNonInviteTransaction>() <= 104);
        assert!(size_of::<Transaction>() <= 128);
    }

    #[test]
    fn output_queue_frees_its_buffer_when_drained() {
        let mut q = OutputQueue::default();
        q.push(Output::Terminated);
        q.push(Output::Terminated);
        assert!(q.0.is_some());
        assert_eq!(q.pop(), Some(Output::Terminated));
        assert_eq!(q.pop(), Some(Output::Terminated));
        assert!(q.0.is_none());
        assert_eq!(q.pop(), None);
        assert_eq!(std::mem::size_of::<OutputQueue>(), 8);
    }

    #[test]
    fn output_queue_keeps_the_order_across_refills() {
        let timeout = |t| Output::ToTu(TuEvent::Timeout(t));
        let mut q = OutputQueue::default();
        q.push(timeout(Timer::A));
        q.push(timeout(Timer::B));
        assert_eq!(q.pop(), Some(timeout(Timer::A)));
        q.push(timeout(Timer::D));
        q.push(Output::Terminated);
        assert_eq!(q.pop(), Some(timeout(Timer::B)));
        assert_eq!(q.pop(), Some(timeout(Timer::D)));
        assert_eq!(q.pop(), Some(Output::Terminated));
        assert!(q.0.is_none());
        q.push(timeout(Timer::A));
        assert_eq!(q.pop(), Some(timeout(Timer::A)));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn trying_copies_the_8_2_6_headers() {
        let req = request(Method::Invite, "z9hG4bK74bf9");
        let resp = trying_response(&req);
        assert_eq!(resp.status, StatusCode::TRYING);
        let names: Vec<&str> = resp.headers.iter().map(|h| h.name().as_str()).collect();
        assert_eq!(
            names,
            ["Via", "Via", "To", "From", "Call-ID", "CSeq", "Timestamp"]
        );
        assert_eq!(
            resp.headers.get(HeaderName::To).unwrap(),
            "Bob <sip:bob@biloxi.com>"
        );
        assert!(resp.body.is_empty());
        // The transaction stores it without building it first: same bytes.
        assert!(
            StoredResponse::response_to(&req, StatusCode::TRYING) == StoredResponse::new(&resp)
        );
    }

    #[test]
    fn enum_dispatch() {
        let t0 = Instant::now();
        let req = request(Method::Options, "z9hG4bKdisp");
        let mut tx = Transaction::ClientNonInvite(ClientNonInviteTransaction::new(
            req,
            &TimerConfig::default(),
            true,
            t0,
        ));
        assert_eq!(tx.branch(), "z9hG4bKdisp");
        assert!(matches!(tx.poll_output(), Some(Output::Transmit(_))));
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_000)));
        tx.on_transport_error();
        assert!(tx.is_terminated());
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::TransportError), Output::Terminated]
        );
        tx.handle_timeout(at(t0, 40_000));
        assert_eq!(tx.poll_output(), None);
    }

    /// An input for the random-sequence test.
    #[derive(Debug, Clone)]
    enum Op {
        /// A response from the peer (client) or the TU (server).
        Response(u16),
        /// A request retransmission, or an ACK (server).
        Request(bool),
        TransportError,
        /// Let time pass (ms).
        Wait(u32),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            prop_oneof![
                Just(100u16),
                Just(180),
                Just(200),
                Just(202),
                Just(404),
                Just(603)
            ]
            .prop_map(Op::Response),
            any::<bool>().prop_map(Op::Request),
            Just(Op::TransportError),
            (0u32..70_000).prop_map(Op::Wait),
        ]
    }

    proptest::proptest! {
        /// Whatever the inputs: no panic, no deadline left in the past
        /// after `handle_timeout(now)`, `Terminated` is emitted exactly
        /// once as the last output, and a terminated machine is silent.
        #[test]
        fn random_inputs_keep_invariants(
            kind in 0u8..4,
            reliable in proptest::bool::ANY,
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let t0 = Instant::now();
            let mut now = t0;
            let config = TimerConfig::default();
            let invite = kind < 2;
            let req = request(if invite { Method::Invite } else { Method::Options }, "z9hG4bKprop");
            let mut tx = match kind {
                0 => Transaction::ClientInvite(ClientInviteTransaction::new(req.clone(), &config, reliable, now)),
                1 => Transaction::ServerInvite(ServerInviteTransaction::new(req.clone(), &config, reliable, now)),
                2 => Transaction::ClientNonInvite(ClientNonInviteTransaction::new(req.clone(), &config, reliable, now)),
                _ => Transaction::ServerNonInvite(ServerNonInviteTransaction::new(req.clone(), &config, reliable, now)),
            };
            let mut outputs = drain(|| tx.poll_output());
            for op in ops {
                match op {
                    Op::Response(code) => {
                        let resp = response(&req, code);
                        match &mut tx {
                            Transaction::ClientInvite(t) => t.handle_response(resp, now),
                            Transaction::ClientNonInvite(t) => t.handle_response(resp, now),
                            Transaction::ServerInvite(t) => { let _ = t.send_response(resp, now); }
                            Transaction::ServerNonInvite(t) => { let _ = t.send_response(resp, now); }
                        }
                    }
                    Op::Request(ack) => {
                        let mut r = req.clone();
                        if ack {
                            r.method = Method::Ack;
                        }
                        match &mut tx {
                            Transaction::ServerInvite(t) => t.handle_request(r, now),
                            Transaction::ServerNonInvite(t) => t.handle_request(r, now),
                            _ => {}
                        }
                    }
                    Op::TransportError => tx.on_transport_error(),
                    Op::Wait(ms) => now = at(now, u64::from(ms)),
                }
                tx.handle_timeout(now);
                if let Some(deadline) = tx.poll_timeout() {
                    proptest::prop_assert!(deadline > now);
                }
                outputs.extend(drain(|| tx.poll_output()));
            }
            // A server passes the request that created it up exactly once.
            if matches!(tx, Transaction::ServerInvite(_) | Transaction::ServerNonInvite(_)) {
                let ups = outputs
                    .iter()
                    .filter(|o| matches!(o, Output::ToTu(TuEvent::Request(r)) if r.method != Method::Ack))
                    .count();
                proptest::prop_assert_eq!(ups, 1);
            }
            let terminated = outputs.iter().filter(|o| **o == Output::Terminated).count();
            proptest::prop_assert!(terminated <= 1);
            proptest::prop_assert_eq!(terminated == 1, tx.is_terminated());
            if tx.is_terminated() {
                proptest::prop_assert_eq!(outputs.last(), Some(&Output::Terminated));
                proptest::prop_assert_eq!(tx.poll_timeout(), None);
            }
        }
    }
}
