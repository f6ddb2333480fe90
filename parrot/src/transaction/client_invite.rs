//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as updated
//! by RFC 6026 §8.4 with the Accepted state).
//!
//! ```text
//!                                |INVITE from TU
//!              Timer A fires     |INVITE sent      Timer B fires
//!              Reset A,          V                 or Transport Err.
//!              INVITE sent +-----------+           inform TU
//!                +---------|  Calling  |-----------------------------+
//!                +-------->|           |--------------+              |
//!                          +-----------+ 2xx          |              |
//!   300-699 / ACK sent,       |  1xx / 1xx to TU      | 2xx to TU    |
//!   resp. to TU               V                       |              |
//!           +-----------+<--+-----------+ 2xx         V              |
//!           | Completed |   |Proceeding |------> +-----------+       |
//!           +-----------+   +-----------+        | Accepted  |--+ 2xx to TU
//!     300-699 / ACK sent                         +-----------+<-+    |
//!           | Timer D                                  | Timer M     |
//!           V                                          V             |
//!       +------------------------------------------------------------+
//!       |                         Terminated                         |
//!       +------------------------------------------------------------+
//! ```
//!
//! RFC 3261 terminated the transaction on the first 2xx, leaving 2xx
//! retransmissions and forked 2xx responses with no transaction to match;
//! RFC 6026 adds the Accepted state (Timer M = 64·T1) in which every 2xx is
//! passed to the TU, which sends the ACK for 2xx itself (§13.2.2.4). This
//! machine implements RFC 6026.

use super::config::{Timing, after, next_retransmit};
use super::deadlines::{Due, due, earliest};
use super::{Output, OutputQueue, Timer, TimerConfig, TuEvent, top_branch};
use crate::message::typed::{CSeq, TypedHeader};
use crate::message::{HeaderName, Message, Method, Request, Response, Text};
use std::time::Instant;

/// The states of Figure 5 (with RFC 6026's Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientInviteState {
    /// The INVITE was sent; no response yet (Timers A and B run).
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 300–699 response arrived and was acknowledged; retransmissions of
    /// it are acknowledged again until Timer D fires.
    Completed,
    /// A 2xx arrived (RFC 6026): further 2xx go to the TU until Timer M
    /// fires.
    Accepted,
    /// Done: the caller should drop the transaction.
    Terminated,
}

/// An INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026).
#[derive(Debug)]
pub struct ClientInviteTransaction {
    /// The request, boxed so that the machine stays small next to the
    /// server machines (one allocation, for the stored message).
    request: Box<Request>,
    /// The ACK for the non-2xx final response, once one arrived.
    ack: Option<Box<Request>>,
    branch: Text,
    out: OutputQueue,
    /// Timer A (retransmission), unreliable transports only.
    timer_a: Option<Instant>,
    /// Timer B in Calling, D in Completed, M in Accepted.
    timer_bdm: Option<Instant>,
    timing: Timing,
    /// The current Timer A interval in milliseconds.
    interval: u32,
    state: ClientInviteState,
}

impl ClientInviteTransaction {
    /// Starts a transaction for the INVITE `request` at `now`: queues it
    /// for transmission and starts Timer B, and on unreliable transports
    /// Timer A (§17.1.1.2).
    pub fn new(request: Request, timers: &TimerConfig, reliable: bool, now: Instant) -> Self {
        let timing = Timing::new(timers, reliable);
        let branch = top_branch(&request.headers);
        let mut out = OutputQueue::default();
        out.push(Output::Transmit(Message::Request(request.clone())));
        tracing::debug!(branch = %branch, reliable, state = ?ClientInviteState::Calling, "INVITE client transaction created");
        ClientInviteTransaction {
            request: Box::new(request),
            ack: None,
            branch,
            out,
            // §17.1.1.2: "If an unreliable transport is being used, the
            // client transaction MUST start timer A with a value of T1."
            timer_a: if reliable {
                None
            } else {
                after(now, u64::from(timing.t1()))
            },
            // §17.1.1.2: "For any transport, the client transaction MUST
            // start timer B with a value of 64*T1 seconds."
            timer_bdm: after(now, timing.t1x64()),
            interval: timing.t1(),
            timing,
            state: ClientInviteState::Calling,
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// Whether the transaction reached the Terminated state.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }

    /// The branch parameter of the INVITE's top Via (empty if none).
    pub fn branch(&self) -> &Text {
        &self.branch
    }

    /// The INVITE this transaction sends (e.g. to build a CANCEL, §9.1).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The ACK this transaction built for a non-2xx final response
    /// (§17.1.1.3), once one arrived.
    pub fn ack(&self) -> Option<&Request> {
        self.ack.as_deref()
    }

    /// Whether the transport is reliable (no retransmissions, Timer D = 0).
    pub fn is_reliable(&self) -> bool {
        self.timing.reliable()
    }

    /// The next queued output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// The earliest running timer's deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.timer_a, self.timer_bdm)
    }

    /// Fires every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(due) = due(self.timer_a, self.timer_bdm, now) {
            match due {
                Due::Retransmit(at) => self.fire_a(at, now),
                Due::End => self.fire_bdm(),
            }
        }
    }

    /// Handles a response matched to this transaction (§17.1.3).
    pub fn handle_response(&mut self, response: Response, now: Instant) {
        use ClientInviteState::*;
        let status = response.status;
        match self.state {
            Calling | Proceeding if status.is_provisional() => {
                // §17.1.1.2: 1xx → Proceeding (no more retransmissions,
                // Timer B only runs in Calling), passed to the TU.
                self.out.push(Output::ToTu(TuEvent::Response(response)));
                if self.state == Calling {
                    self.timer_a = None;
                    self.timer_bdm = None;
                    self.set_state(Proceeding);
                }
            }
            Calling | Proceeding if status.is_success() => {
                // RFC 6026 §8.4: 2xx → Accepted, passed to the TU; the TU
                // acknowledges it (RFC 3261 §13.2.2.4).
                self.out.push(Output::ToTu(TuEvent::Response(response)));
                self.timer_a = None;
                self.timer_bdm = after(now, self.timing.t1x64());
                self.set_state(Accepted);
            }
            Calling | Proceeding => {
                // §17.1.1.2: 300-699 → ACK sent, response to the TU,
                // Completed with Timer D.
                let ack = build_ack(&self.request, &response);
                self.out.push(Output::ToTu(TuEvent::Response(response)));
                self.out
                    .push(Output::Transmit(Message::Request(ack.clone())));
                self.ack = Some(Box::new(ack));
                self.timer_a = None;
                self.set_state(Completed);
                let d = self.timing.timer_d();
                if d == 0 {
                    self.terminate();
                } else {
                    self.timer_bdm = after(now, d);
                }
            }
            Completed if status.is_final() && !status.is_success() => {
                // §17.1.1.2: "Any retransmissions of the final response
                // that are received while in the "Completed" state MUST
                // cause the ACK to be re-passed to the transport layer for
                // retransmission, but the newly received response MUST NOT
                // be passed up to the TU."
                if let Some(ack) = &self.ack {
                    tracing::trace!(branch = %self.branch, status = %status, "final response retransmission: re-sending ACK");
                    self.out
                        .push(Output::Retransmit(Message::Request(Request::clone(ack))));
                }
            }
            Accepted if status.is_success() => {
                // RFC 6026 §8.4: 2xx retransmissions (and 2xx from other
                // forks) go to the TU.
                self.out.push(Output::ToTu(TuEvent::Response(response)));
            }
            Completed | Accepted => {
                tracing::trace!(branch = %self.branch, status = %status, state = ?self.state, "discarded response");
            }
            Terminated => {}
        }
    }

    /// Reports that the transport failed to send a message of this
    /// transaction: the TU is informed and the transaction terminates
    /// (§17.1.4). In the Accepted state the transaction sends nothing
    /// itself (the TU sends the ACK for 2xx), so the TU is informed but the
    /// transaction keeps passing 2xx retransmissions up until Timer M.
    pub fn on_transport_error(&mut self) {
        match self.state {
            ClientInviteState::Terminated => {}
            ClientInviteState::Accepted => {
                tracing::debug!(branch = %self.branch, "transport error in Accepted");
                self.out.push(Output::ToTu(TuEvent::TransportError));
            }
            _ => {
                tracing::debug!(branch = %self.branch, "transport error");
                self.out.push(Output::ToTu(TuEvent::TransportError));
                self.terminate();
            }
        }
    }

    fn fire_a(&mut self, fired: Instant, now: Instant) {
        if self.state != ClientInviteState::Calling {
            self.timer_a = None;
            return;
        }
        // §17.1.1.2: retransmit and reset Timer A to twice its value (no
        // cap for INVITE).
        tracing::trace!(branch = %self.branch, "Timer A: retransmitting INVITE");
        self.out
            .push(Output::Retransmit(Message::Request(Request::clone(
                &self.request,
            ))));
        self.interval = self.interval.saturating_mul(2);
        self.timer_a = next_retransmit(fired, now, self.interval);
    }

    fn fire_bdm(&mut self) {
        self.timer_bdm = None;
        match self.state {
            ClientInviteState::Calling => {
                // §17.1.1.2: Timer B → inform the TU of the timeout (it
                // acts as on a 408, §8.1.3.1), Terminated.
                tracing::debug!(branch = %self.branch, "Timer B: INVITE timed out");
                self.out.push(Output::ToTu(TuEvent::Timeout(Timer::B)));
                self.terminate();
            }
            // Timer D (Completed) and Timer M (Accepted, RFC 6026).
            ClientInviteState::Completed | ClientInviteState::Accepted => self.terminate(),
            ClientInviteState::Proceeding | ClientInviteState::Terminated => {}
        }
    }

    fn terminate(&mut self) {
        self.timer_a = None;
        self.timer_bdm = None;
        self.set_state(ClientInviteState::Terminated);
        self.out.push(Output::Terminated);
    }

    fn set_state(&mut self, to: ClientInviteState) {
        tracing::debug!(branch = %self.branch, from = ?self.state, to = ?to, "INVITE client transaction state");
        self.state = to;
    }
}

/// The ACK for a non-2xx final `response` to `invite` (RFC 3261
/// §17.1.1.3): the INVITE's Request-URI, Call-ID, From and CSeq number
/// (method ACK), the To of the response, a single Via equal to the
/// INVITE's top Via, and the INVITE's Route headers. Max-Forwards is
/// copied (or set to 70) since every request carries one (§8.1.1). Header
/// order follows the INVITE.
fn build_ack(invite: &Request, response: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    ack.version = invite.version;
    let (mut via, mut to, mut cseq, mut max_forwards) = (false, false, false, false);
    for h in invite.headers.iter() {
        match h.known_name() {
            Some(HeaderName::Via) if !via => {
                via = true;
                // "The ACK MUST contain a single Via header field, and this
                // MUST be equal to the top Via header field of the original
                // request."
                if let Some(top) = h.elements().next() {
                    ack.headers
                        .append(HeaderName::Via, h.value().slice_ref(top));
                }
            }
            Some(HeaderName::To) if !to => {
                to = true;
                // "The To header field in the ACK MUST equal the To header
                // field in the response being acknowledged."
                let value = response.headers.get(HeaderName::To).unwrap_or(h.value());
                ack.headers.append(HeaderName::To, value.clone());
            }
            Some(HeaderName::CSeq) if !cseq => {
                cseq = true;
                // "the CSeq header field in the ACK MUST contain the same
                // value for the sequence number as was present in the
                // original request, but the method parameter MUST be equal
                // to "ACK"."
                ack.headers.append(HeaderName::CSeq, ack_cseq(h.value()));
            }
            Some(HeaderName::MaxForwards) if !max_forwards => {
                max_forwards = true;
                ack.headers.push(h.clone());
            }
            // "If the INVITE request whose response is being acknowledged
            // had Route header fields, those header fields MUST appear in
            // the ACK."
            Some(HeaderName::Route | HeaderName::From | HeaderName::CallId) => {
                ack.headers.push(h.clone())
            }
            _ => {}
        }
    }
    if !max_forwards {
        ack.headers.append(HeaderName::MaxForwards, "70");
    }
    ack
}

/// `<number of value> ACK`.
fn ack_cseq(value: &Text) -> Text {
    let seq = match CSeq::decode(value, value) {
        Ok(c) => c.seq.to_string(),
        // Unparsable: keep whatever number-ish token was there.
        Err(_) => value.split_whitespace().next().unwrap_or("0").to_owned(),
    };
    Text::from(format!("{seq} ACK"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    fn start(reliable: bool) -> (ClientInviteTransaction, Instant) {
        let t0 = Instant::now();
        let req = request(Method::Invite, "z9hG4bKinv1");
        let mut tx = ClientInviteTransaction::new(req, &TimerConfig::default(), reliable, t0);
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 1);
        assert!(is_tx_request(&out[0], &Method::Invite));
        assert_eq!(tx.state(), ClientInviteState::Calling);
        assert_eq!(tx.branch(), "z9hG4bKinv1");
        (tx, t0)
    }

    fn run(tx: &mut ClientInviteTransaction, t0: Instant) -> Vec<(u64, Output)> {
        let mut log = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            tx.handle_timeout(t);
            let ms = (t - t0).as_millis() as u64;
            log.extend(drain(|| tx.poll_output()).into_iter().map(|o| (ms, o)));
        }
        log
    }

    fn to_tu_code(out: &Output) -> Option<u16> {
        match out {
            Output::ToTu(TuEvent::Response(r)) => Some(r.status.as_u16()),
            _ => None,
        }
    }

    #[test]
    fn timer_a_doubles_without_cap_then_timer_b() {
        let (mut tx, t0) = start(false);
        let log = run(&mut tx, t0);
        let sends: Vec<u64> = log
            .iter()
            .filter(|(_, o)| is_tx_request(o, &Method::Invite))
            .map(|(t, _)| *t)
            .collect();
        // Gaps 500 ms, 1 s, 2 s, 4 s, 8 s, 16 s.
        assert_eq!(sends, [500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(
            log[sends.len()..],
            [
                (32_000, Output::ToTu(TuEvent::Timeout(Timer::B))),
                (32_000, Output::Terminated)
            ]
        );
        assert!(tx.is_terminated());
    }

    #[test]
    fn provisional_stops_timers_a_and_b() {
        let (mut tx, t0) = start(false);
        tx.handle_timeout(at(t0, 500));
        assert_eq!(drain(|| tx.poll_output()).len(), 1);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 100), at(t0, 700));
        assert_eq!(tx.state(), ClientInviteState::Proceeding);
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_response(response(&req, 180), at(t0, 900));
        let out = drain(|| tx.poll_output());
        assert_eq!(
            out.iter().filter_map(to_tu_code).collect::<Vec<_>>(),
            [100, 180]
        );
        // Nothing happens however long we wait.
        tx.handle_timeout(at(t0, 100_000));
        assert_eq!(tx.poll_output(), None);
        assert_eq!(tx.state(), ClientInviteState::Proceeding);
    }

    #[test]
    fn non_2xx_final_from_calling_builds_ack_and_waits_timer_d() {
        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        let resp = response(&req, 486);
        tx.handle_response(resp.clone(), at(t0, 300));
        assert_eq!(tx.state(), ClientInviteState::Completed);
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 2);
        assert_eq!(to_tu_code(&out[0]), Some(486));
        let Output::Transmit(Message::Request(ack)) = &out[1] else {
            panic!("expected ACK, got {:?}", out[1])
        };
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.uri, req.uri);
        let names: Vec<&str> = ack.headers.iter().map(|h| h.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "Via",
                "Route",
                "Route",
                "Max-Forwards",
                "To",
                "From",
                "Call-ID",
                "CSeq"
            ]
        );
        let h = &ack.headers;
        assert_eq!(
            h.get(HeaderName::Via).unwrap(),
            "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKinv1"
        );
        assert_eq!(h.count(HeaderName::Via), 1);
        assert_eq!(h.get(HeaderName::To), resp.headers.get(HeaderName::To));
        assert!(h.get(HeaderName::To).unwrap().ends_with(";tag=8321234356"));
        assert_eq!(h.get(HeaderName::From), req.headers.get(HeaderName::From));
        assert_eq!(
            h.get(HeaderName::CallId),
            req.headers.get(HeaderName::CallId)
        );
        assert_eq!(h.get(HeaderName::CSeq).unwrap(), "314159 ACK");
        let routes: Vec<&str> = h.values(HeaderName::Route).collect();
        assert_eq!(
            routes,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert!(ack.body.is_empty());
        assert_eq!(tx.ack(), Some(ack));

        // Timer A and B are stopped; Timer D (32 s) runs.
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_300)));
        // Each retransmitted final is acknowledged again, not passed up.
        for ms in [800, 1800] {
            tx.handle_response(resp.clone(), at(t0, ms));
            let out = drain(|| tx.poll_output());
            assert_eq!(out, [Output::Retransmit(Message::Request(ack.clone()))]);
        }
        // Provisional or 2xx responses in Completed are discarded.
        tx.handle_response(response(&req, 180), at(t0, 2000));
        tx.handle_response(response(&req, 200), at(t0, 2000));
        assert_eq!(tx.poll_output(), None);
        tx.handle_timeout(at(t0, 32_299));
        assert_eq!(tx.poll_output(), None);
        tx.handle_timeout(at(t0, 32_300));
        assert_eq!(drain(|| tx.poll_output()), [Output::Terminated]);
    }

    #[test]
    fn non_2xx_final_from_proceeding() {
        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 180), at(t0, 100));
        tx.handle_response(response(&req, 603), at(t0, 5000));
        assert_eq!(tx.state(), ClientInviteState::Completed);
        let out = drain(|| tx.poll_output());
        assert_eq!(
            out.iter().filter_map(to_tu_code).collect::<Vec<_>>(),
            [180, 603]
        );
        assert!(is_tx_request(out.last().unwrap(), &Method::Ack));
        assert_eq!(tx.poll_timeout(), Some(at(t0, 37_000)));
    }

    #[test]
    fn success_from_calling_enters_accepted_until_timer_m() {
        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 200), at(t0, 100));
        assert_eq!(tx.state(), ClientInviteState::Accepted);
        let out = drain(|| tx.poll_output());
        assert_eq!(out.iter().filter_map(to_tu_code).collect::<Vec<_>>(), [200]);
        assert_eq!(out.len(), 1, "no ACK for 2xx from the transaction");
        // Timer M (64·T1); Timer A stopped.
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_100)));
        // RFC 6026: 2xx retransmissions are passed up; others discarded.
        tx.handle_response(response(&req, 200), at(t0, 600));
        tx.handle_response(response(&req, 486), at(t0, 700));
        tx.handle_response(response(&req, 180), at(t0, 800));
        let out = drain(|| tx.poll_output());
        assert_eq!(out.iter().filter_map(to_tu_code).collect::<Vec<_>>(), [200]);
        assert_eq!(out.len(), 1);
        tx.handle_timeout(at(t0, 32_100));
        assert_eq!(drain(|| tx.poll_output()), [Output::Terminated]);
    }

    #[test]
    fn success_from_proceeding() {
        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 183), at(t0, 100));
        tx.handle_response(response(&req, 202), at(t0, 200));
        assert_eq!(tx.state(), ClientInviteState::Accepted);
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_200)));
    }

    #[test]
    fn reliable_transport_no_timer_a_and_timer_d_zero() {
        let (mut tx, t0) = start(true);
        assert!(tx.is_reliable());
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_000)));
        let req = tx.request().clone();
        tx.handle_response(response(&req, 500), at(t0, 100));
        assert!(tx.is_terminated());
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 3);
        assert_eq!(to_tu_code(&out[0]), Some(500));
        assert!(is_tx_request(&out[1], &Method::Ack));
        assert_eq!(out[2], Output::Terminated);

        let (mut tx, t0) = start(true);
        let log = run(&mut tx, t0);
        assert_eq!(
            log,
            [
                (32_000, Output::ToTu(TuEvent::Timeout(Timer::B))),
                (32_000, Output::Terminated)
            ]
        );
    }

    #[test]
    fn transport_errors() {
        let (mut tx, t0) = start(false);
        tx.on_transport_error();
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::TransportError), Output::Terminated]
        );
        assert_eq!(tx.poll_timeout(), None);

        // Completed: terminates too (Figure 5).
        let (mut tx, _) = start(false);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 404), t0);
        drain(|| tx.poll_output());
        tx.on_transport_error();
        assert!(tx.is_terminated());

        // Accepted: the TU is told; 2xx keep flowing until Timer M.
        let (mut tx, t0) = start(false);
        tx.handle_response(response(&req, 200), t0);
        drain(|| tx.poll_output());
        tx.on_transport_error();
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::TransportError)]
        );
        assert_eq!(tx.state(), ClientInviteState::Accepted);
        tx.handle_response(response(&req, 200), at(t0, 1));
        assert_eq!(drain(|| tx.poll_output()).len(), 1);
    }

    #[test]
    fn ack_has_a_single_via_even_from_a_comma_list() {
        let t0 = Instant::now();
        let invite = Request::builder(Method::Invite, "sip:bob@biloxi.com".parse().unwrap())
            .header(
                "v",
                "SIP/2.0/UDP a.example.com;branch=z9hG4bKa, SIP/2.0/UDP b.example.com",
            )
            .header("t", "<sip:bob@biloxi.com>")
            .header("f", "<sip:alice@atlanta.com>;tag=1")
            .header("i", "cid")
            .header("CSeq", "7 INVITE")
            .build_unchecked();
        let mut tx =
            ClientInviteTransaction::new(invite.clone(), &TimerConfig::default(), false, t0);
        drain(|| tx.poll_output());
        let mut resp = response(&invite, 480);
        resp.headers
            .set(HeaderName::To, "<sip:bob@biloxi.com>;tag=xyz");
        tx.handle_response(resp, t0);
        let ack = tx.ack().unwrap();
        assert_eq!(
            ack.headers.values(HeaderName::Via).collect::<Vec<_>>(),
            ["SIP/2.0/UDP a.example.com;branch=z9hG4bKa"]
        );
        assert_eq!(
            ack.headers.get(HeaderName::To).unwrap(),
            "<sip:bob@biloxi.com>;tag=xyz"
        );
        assert_eq!(ack.headers.get(HeaderName::CSeq).unwrap(), "7 ACK");
        // No Max-Forwards in the INVITE: the ACK gets 70 (§8.1.1.6).
        assert_eq!(ack.headers.get(HeaderName::MaxForwards).unwrap(), "70");
        assert_eq!(ack.headers.count(HeaderName::Route), 0);
    }

    #[test]
    fn unparsable_cseq_keeps_the_number() {
        assert_eq!(ack_cseq(&Text::from("12 INVITE")), "12 ACK");
        assert_eq!(ack_cseq(&Text::from("x")), "x ACK");
        assert_eq!(ack_cseq(&Text::from("")), "0 ACK");
    }
}
