//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as updated
//! by RFC 6026 §8.5–§8.7 with the Accepted state).
//!
//! ```text
//!                                |INVITE
//!                                |pass INV to TU
//!             INVITE             V send 100 if TU won't in 200 ms
//!             send response+------------+
//!                 +--------| Proceeding |--------+ 101-199 from TU
//!                 +------->|            |<-------+ send response
//!                          +------------+
//!          300-699 from TU |            | 2xx from TU
//!          send response   |            | send response
//!                          V            V
//!  INVITE      +------------+          +------------+ INVITE: absorbed
//!  send resp.  | Completed  |          |  Accepted  | ACK: to TU
//!  Timer G     +------------+          +------------+ 2xx from TU: send
//!  send resp.   |ACK      |Timer H           | Timer L
//!               V         |inform TU         |
//!        +------------+   |                  |
//!        | Confirmed  |   |                  |
//!        +------------+   |                  |
//!               |Timer I  |                  |
//!               V         V                  V
//!        +------------------------------------------+
//!        |                Terminated                |
//!        +------------------------------------------+
//! ```
//!
//! RFC 3261 moved straight to Terminated when the TU sent a 2xx, so a
//! retransmitted INVITE arriving afterwards matched no transaction and was
//! handed to the TU as a new request, and an ACK for the 2xx had no
//! transaction to absorb it. RFC 6026 fixes this with the Accepted state:
//! INVITE retransmissions are absorbed, the TU's 2xx retransmissions (it
//! still owns them, §13.3.1.4) are passed through, matching ACKs go to the
//! TU, and Timer L (64·T1) ends it. This machine implements RFC 6026.

use super::config::{TRYING_DELAY, Timing, after, next_retransmit};
use super::deadlines::{Due, due, earliest};
use super::{
    Output, OutputQueue, SendError, StoredResponse, Timer, TimerConfig, TuEvent, owned_top_branch,
};
use crate::message::{Message, Method, Request, Response, StatusCode, Text};
use std::time::Instant;

/// The states of Figure 7 (with RFC 6026's Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerInviteState {
    /// The INVITE was passed to the TU; no final response yet.
    Proceeding,
    /// A 300–699 response was sent; waiting for the ACK (Timers G, H).
    Completed,
    /// The ACK arrived; its retransmissions are absorbed until Timer I.
    Confirmed,
    /// A 2xx was sent (RFC 6026): INVITE retransmissions are absorbed
    /// until Timer L.
    Accepted,
    /// Done: the caller should drop the transaction.
    Terminated,
}

/// An INVITE server transaction (RFC 3261 §17.2.1 with RFC 6026).
#[derive(Debug)]
pub struct ServerInviteTransaction {
    /// In Proceeding before anything was sent: the transaction's own
    /// `100 Trying`, built up front (its headers are the request's Via,
    /// From, To, Call-ID, CSeq and Timestamp, from which the 487 for a
    /// CANCEL is built too). Afterwards: the last provisional or the
    /// non-2xx final response sent. `None` once a 2xx was sent. Kept in
    /// compact form, independent of the request's receive buffer.
    response: Option<StoredResponse>,
    /// An owned copy of the top Via's branch.
    branch: Text,
    out: OutputQueue,
    /// The 200 ms `100 Trying` timer in Proceeding, Timer G in Completed.
    timer_g: Option<Instant>,
    /// Timer H in Completed, I in Confirmed, L in Accepted.
    timer_hil: Option<Instant>,
    timing: Timing,
    /// The current Timer G interval in milliseconds.
    interval: u32,
    /// Whether `response` has been transmitted.
    response_sent: bool,
    state: ServerInviteState,
}

impl ServerInviteTransaction {
    /// Creates the transaction for an INVITE that matched none (§17.2.3),
    /// queues it for the TU and starts the 200 ms timer after which the
    /// transaction sends `100 Trying` itself unless the TU has responded
    /// (§17.2.1).
    pub fn new(request: Request, timers: &TimerConfig, reliable: bool, now: Instant) -> Self {
        let branch = owned_top_branch(&request.headers);
        Self::with_branch(request, branch, timers, reliable, now)
    }

    /// [`new`](Self::new), given the top Via's branch as an owned copy
    /// (the layer has it from the key: no second decoding of the Via).
    pub(crate) fn with_branch(
        request: Request,
        branch: Text,
        timers: &TimerConfig,
        reliable: bool,
        now: Instant,
    ) -> Self {
        let timing = Timing::new(timers, reliable);
        tracing::debug!(branch = %branch, reliable, state = ?ServerInviteState::Proceeding, "INVITE server transaction created");
        // §8.2.6: the 100 is built from the request (Via, From, To,
        // Call-ID, CSeq, Timestamp); built now so the request itself can
        // go to the TU without a copy.
        let trying = StoredResponse::response_to(&request, StatusCode::TRYING);
        let mut out = OutputQueue::default();
        out.push(Output::ToTu(TuEvent::Request(Box::new(request))));
        ServerInviteTransaction {
            response: Some(trying),
            branch,
            out,
            timer_g: now.checked_add(TRYING_DELAY),
            timer_hil: None,
            interval: timing.t1(),
            timing,
            response_sent: false,
            state: ServerInviteState::Proceeding,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// Whether the transaction reached the Terminated state.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// The branch parameter of the INVITE's top Via (empty if none).
    pub fn branch(&self) -> &Text {
        &self.branch
    }

    /// The last response transmitted (a provisional or a non-2xx final),
    /// if any, rebuilt from the compact copy the transaction keeps. A 2xx
    /// is not kept: the TU retransmits it (§13.3.1.4).
    pub fn last_response(&self) -> Option<Response> {
        self.response
            .as_ref()
            .filter(|_| self.response_sent)
            .map(StoredResponse::to_response)
    }

    /// The status of [`last_response`](Self::last_response), without
    /// rebuilding it.
    pub fn last_status(&self) -> Option<StatusCode> {
        self.response
            .as_ref()
            .filter(|_| self.response_sent)
            .map(StoredResponse::status)
    }

    /// A response to the INVITE with `status` (§8.2.6), built from the last
    /// response or the pending 100 Trying, which carry the request's Via,
    /// From, To, Call-ID and CSeq — so the transaction need not keep the
    /// request itself. Used for the 487 that answers a CANCEL (§9.2).
    pub fn response_with(&self, status: StatusCode) -> Option<Response> {
        self.response
            .as_ref()
            .map(|r| r.to_response().sibling(status))
    }

    /// Whether the transport is reliable (no Timer G, Timer I = 0).
    pub fn is_reliable(&self) -> bool {
        self.timing.reliable()
    }

    /// The next queued output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// The earliest running timer's deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.timer_g, self.timer_hil)
    }

    /// Fires every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(due) = due(self.timer_g, self.timer_hil, now) {
            match due {
                Due::Retransmit(at) => self.fire_g(at, now),
                Due::End => self.fire_hil(),
            }
        }
    }

    /// Handles a request matched to this transaction (§17.2.3): a
    /// retransmission of the INVITE, or an ACK. Neither is passed to the
    /// TU, except an ACK in the Accepted state (RFC 6026 §8.7).
    pub fn handle_request(&mut self, request: Request, now: Instant) {
        use ServerInviteState::*;
        match (self.state, &request.method) {
            (Proceeding | Completed, Method::Invite) => {
                // §17.2.1: in Proceeding the most recent provisional
                // response, in Completed the final response, is passed to
                // the transport again. Before any response there is
                // nothing to repeat (the 100 timer will answer).
                let sent = self.response_sent;
                if let Some(resp) = self.response.as_ref().filter(|_| sent) {
                    tracing::trace!(branch = %self.branch, status = %resp.status(), "INVITE retransmission: re-sending response");
                    self.out
                        .push(Output::Retransmit(Message::Response(resp.to_response())));
                }
            }
            (Completed, Method::Ack) => {
                // §17.2.1: ACK in Completed → Confirmed; Timer G stops and
                // Timer I (T4, zero on reliable transports) starts.
                self.timer_g = None;
                self.set_state(Confirmed);
                let i = self.timing.t4_or_zero();
                if i == 0 {
                    self.terminate();
                } else {
                    self.timer_hil = after(now, i);
                }
            }
            (Accepted, Method::Ack) => {
                // RFC 6026 §8.7: an ACK matching the transaction in
                // Accepted is passed to the TU.
                self.out
                    .push(Output::ToTu(TuEvent::Request(Box::new(request))));
            }
            _ => {
                // Confirmed absorbs ACKs (and INVITEs, §17.2.1), Accepted
                // absorbs INVITEs (RFC 6026 §8.7).
                tracing::trace!(branch = %self.branch, method = %request.method, state = ?self.state, "absorbed request");
            }
        }
    }

    /// Sends a response from the TU. Provisional responses keep the
    /// transaction in Proceeding (and cancel the automatic 100); a 2xx moves
    /// to Accepted (RFC 6026) and a 300–699 to Completed (§17.2.1). After a
    /// final response only further 2xx in the Accepted state are accepted
    /// (the TU retransmits its 2xx itself, §13.3.1.4).
    pub fn send_response(&mut self, response: Response, now: Instant) -> Result<(), SendError> {
        use ServerInviteState::*;
        let status = response.status;
        match self.state {
            Proceeding => {}
            Accepted if status.is_success() => {
                self.out.push(Output::Transmit(Message::Response(response)));
                return Ok(());
            }
            Accepted | Completed | Confirmed => return Err(SendError::FinalResponseSent),
            Terminated => return Err(SendError::Terminated),
        }
        // Any response from the TU within 200 ms replaces the automatic
        // 100 Trying (§17.2.1).
        self.timer_g = None;
        if status.is_provisional() {
            // §17.2.1: 101-199 from TU → send, stay in Proceeding.
            self.response = Some(StoredResponse::new(&response));
            self.out.push(Output::Transmit(Message::Response(response)));
            self.response_sent = true;
        } else if status.is_success() {
            // §17.2.1 / RFC 6026 §8.5: 2xx → send, Accepted, Timer L.
            self.out.push(Output::Transmit(Message::Response(response)));
            self.response = None;
            self.response_sent = false;
            self.set_state(Accepted);
            self.timer_hil = after(now, self.timing.t1x64());
        } else {
            // §17.2.1: 300-699 → send, Completed; Timer G (unreliable
            // transports only) at T1, Timer H at 64*T1.
            self.response = Some(StoredResponse::new(&response));
            self.out.push(Output::Transmit(Message::Response(response)));
            self.response_sent = true;
            self.set_state(Completed);
            self.interval = self.timing.t1();
            if !self.timing.reliable() {
                self.timer_g = after(now, u64::from(self.interval));
            }
            self.timer_hil = after(now, self.timing.t1x64());
        }
        Ok(())
    }

    /// Reports that the transport failed to send a response: the TU is
    /// informed and the transaction terminates (§17.2.4). In the Accepted
    /// state the TU is informed but the transaction stays until Timer L so
    /// that INVITE retransmissions are still absorbed (RFC 6026, Figure 7
    /// as updated).
    pub fn on_transport_error(&mut self) {
        match self.state {
            ServerInviteState::Terminated => {}
            ServerInviteState::Accepted => {
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

    fn fire_g(&mut self, fired: Instant, now: Instant) {
        match self.state {
            ServerInviteState::Proceeding => {
                // §17.2.1: the TU was silent for 200 ms → send 100 Trying.
                self.timer_g = None;
                let sent = self.response_sent;
                if let Some(trying) = self.response.as_ref().filter(|_| !sent) {
                    tracing::trace!(branch = %self.branch, "TU silent for 200 ms: sending 100 Trying");
                    self.out
                        .push(Output::Transmit(Message::Response(trying.to_response())));
                    self.response_sent = true;
                }
            }
            ServerInviteState::Completed => {
                // §17.2.1: Timer G → re-send the final response and reset G
                // to MIN(2*previous, T2).
                if let Some(resp) = &self.response {
                    tracing::trace!(branch = %self.branch, status = %resp.status(), "Timer G: retransmitting response");
                    self.out
                        .push(Output::Retransmit(Message::Response(resp.to_response())));
                }
                self.interval = self.interval.saturating_mul(2).min(self.timing.t2());
                self.timer_g = next_retransmit(fired, now, self.interval);
            }
            _ => self.timer_g = None,
        }
    }

    fn fire_hil(&mut self) {
        self.timer_hil = None;
        match self.state {
            ServerInviteState::Completed => {
                // §17.2.1: Timer H → the ACK never came: inform the TU,
                // Terminated.
                tracing::debug!(branch = %self.branch, "Timer H: no ACK");
                self.out.push(Output::ToTu(TuEvent::Timeout(Timer::H)));
                self.terminate();
            }
            // Timer I (Confirmed) and Timer L (Accepted, RFC 6026).
            ServerInviteState::Confirmed | ServerInviteState::Accepted => self.terminate(),
            ServerInviteState::Proceeding | ServerInviteState::Terminated => {}
        }
    }

    fn terminate(&mut self) {
        self.timer_g = None;
        self.timer_hil = None;
        self.set_state(ServerInviteState::Terminated);
        self.out.push(Output::Terminated);
    }

    fn set_state(&mut self, to: ServerInviteState) {
        tracing::debug!(branch = %self.branch, from = ?self.state, to = ?to, "INVITE server transaction state");
        self.state = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::HeaderName;
    use crate::test_support::*;

    fn start(reliable: bool) -> (ServerInviteTransaction, Request, Instant) {
        let t0 = Instant::now();
        let req = request(Method::Invite, "z9hG4bKsinv");
        let mut tx =
            ServerInviteTransaction::new(req.clone(), &TimerConfig::default(), reliable, t0);
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::Request(Box::new(req.clone())))]
        );
        assert_eq!(tx.state(), ServerInviteState::Proceeding);
        assert_eq!(tx.branch(), "z9hG4bKsinv");
        (tx, req, t0)
    }

    fn ack(invite: &Request) -> Request {
        let mut ack = invite.clone();
        ack.method = Method::Ack;
        ack.headers.set(HeaderName::CSeq, "314159 ACK");
        ack
    }

    fn run(tx: &mut ServerInviteTransaction, t0: Instant) -> Vec<(u64, Output)> {
        let mut log = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            tx.handle_timeout(t);
            let ms = (t - t0).as_millis() as u64;
            log.extend(drain(|| tx.poll_output()).into_iter().map(|o| (ms, o)));
        }
        log
    }

    #[test]
    fn sends_100_trying_after_200ms_of_tu_silence() {
        let (mut tx, req, t0) = start(false);
        assert_eq!(tx.poll_timeout(), Some(at(t0, 200)));
        // A retransmission before anything was sent: absorbed silently.
        tx.handle_request(req.clone(), at(t0, 100));
        assert_eq!(tx.poll_output(), None);
        tx.handle_timeout(at(t0, 199));
        assert_eq!(tx.poll_output(), None);
        tx.handle_timeout(at(t0, 200));
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 1);
        let Output::Transmit(Message::Response(trying)) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(trying.status.as_u16(), 100);
        // §8.2.6: Via (all, in order), To (no tag), From, Call-ID, CSeq,
        // Timestamp copied; nothing else.
        let names: Vec<&str> = trying.headers.iter().map(|h| h.name().as_str()).collect();
        assert_eq!(
            names,
            ["Via", "Via", "To", "From", "Call-ID", "CSeq", "Timestamp"]
        );
        for name in [
            HeaderName::To,
            HeaderName::From,
            HeaderName::CallId,
            HeaderName::CSeq,
        ] {
            assert_eq!(trying.headers.get(name), req.headers.get(name));
        }
        assert_eq!(
            trying.headers.values(HeaderName::Via).collect::<Vec<_>>(),
            req.headers.values(HeaderName::Via).collect::<Vec<_>>()
        );
        assert_eq!(trying.headers.get(HeaderName::Timestamp).unwrap(), "54");
        assert_eq!(tx.poll_timeout(), None);
        // Now a retransmission gets the 100 again and the TU never sees it.
        tx.handle_request(req, at(t0, 500));
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::Retransmit(Message::Response(trying.clone()))]
        );
        assert_eq!(tx.last_response().as_ref(), Some(trying));
        assert_eq!(tx.last_status(), Some(StatusCode::TRYING));
    }

    #[test]
    fn no_100_when_tu_answers_within_200ms() {
        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 180), at(t0, 150)).unwrap();
        assert!(is_tx_response(&tx.poll_output().unwrap(), 180));
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_timeout(at(t0, 200));
        assert_eq!(tx.poll_output(), None);
        // Retransmission in Proceeding → last provisional.
        tx.send_response(response(&req, 183), at(t0, 300)).unwrap();
        drain(|| tx.poll_output());
        tx.handle_request(req, at(t0, 500));
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 1);
        assert!(is_tx_response(&out[0], 183));
        assert_eq!(tx.state(), ServerInviteState::Proceeding);
    }

    #[test]
    fn timer_g_doubles_to_t2_then_timer_h() {
        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 486), t0).unwrap();
        assert_eq!(tx.state(), ServerInviteState::Completed);
        assert!(is_tx_response(&tx.poll_output().unwrap(), 486));
        let log = run(&mut tx, t0);
        let sends: Vec<u64> = log
            .iter()
            .filter(|(_, o)| is_tx_response(o, 486))
            .map(|(t, _)| *t)
            .collect();
        // Gaps of 500 ms, 1 s, 2 s, 4 s, 4 s, ... (capped at T2).
        assert_eq!(
            sends,
            [
                500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
            ]
        );
        assert_eq!(
            log[sends.len()..],
            [
                (32_000, Output::ToTu(TuEvent::Timeout(Timer::H))),
                (32_000, Output::Terminated)
            ]
        );
    }

    #[test]
    fn completed_confirmed_terminated() {
        let (mut tx, req, t0) = start(false);
        tx.handle_timeout(at(t0, 200)); // 100 Trying
        tx.send_response(response(&req, 404), at(t0, 1000)).unwrap();
        drain(|| tx.poll_output());
        // INVITE retransmission in Completed → the final response again.
        tx.handle_request(req.clone(), at(t0, 1200));
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 1);
        assert!(is_tx_response(&out[0], 404));
        // Further responses from the TU are refused.
        assert_eq!(
            tx.send_response(response(&req, 200), at(t0, 1300)),
            Err(SendError::FinalResponseSent)
        );
        // ACK → Confirmed: G and H stop, Timer I (T4) starts.
        tx.handle_request(ack(&req), at(t0, 1400));
        assert_eq!(tx.state(), ServerInviteState::Confirmed);
        assert_eq!(tx.poll_output(), None, "the ACK is not passed to the TU");
        assert_eq!(tx.poll_timeout(), Some(at(t0, 6400)));
        // ACK and INVITE retransmissions are absorbed in Confirmed.
        tx.handle_request(ack(&req), at(t0, 2000));
        tx.handle_request(req.clone(), at(t0, 2000));
        assert_eq!(tx.poll_output(), None);
        assert_eq!(
            tx.send_response(response(&req, 500), at(t0, 2000)),
            Err(SendError::FinalResponseSent)
        );
        tx.handle_timeout(at(t0, 6400));
        assert_eq!(drain(|| tx.poll_output()), [Output::Terminated]);
        assert!(tx.is_terminated());
        assert_eq!(
            tx.send_response(response(&req, 500), at(t0, 7000)),
            Err(SendError::Terminated)
        );
    }

    #[test]
    fn success_enters_accepted_until_timer_l() {
        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 180), at(t0, 50)).unwrap();
        tx.send_response(response(&req, 200), at(t0, 1000)).unwrap();
        assert_eq!(tx.state(), ServerInviteState::Accepted);
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 2);
        assert!(is_tx_response(&out[1], 200));
        assert_eq!(tx.last_response(), None);
        assert_eq!(tx.poll_timeout(), Some(at(t0, 33_000)));
        // INVITE retransmissions are absorbed (not passed to the TU).
        tx.handle_request(req.clone(), at(t0, 1500));
        assert_eq!(tx.poll_output(), None);
        // The TU's own 2xx retransmissions pass through.
        tx.send_response(response(&req, 200), at(t0, 1500)).unwrap();
        assert!(is_tx_response(&tx.poll_output().unwrap(), 200));
        // A non-2xx is refused.
        assert_eq!(
            tx.send_response(response(&req, 486), at(t0, 1600)),
            Err(SendError::FinalResponseSent)
        );
        // A matching ACK goes to the TU (RFC 6026).
        let a = ack(&req);
        tx.handle_request(a.clone(), at(t0, 1700));
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::Request(Box::new(a)))]
        );
        tx.handle_timeout(at(t0, 33_000));
        assert_eq!(drain(|| tx.poll_output()), [Output::Terminated]);
    }

    #[test]
    fn reliable_no_timer_g_and_timer_i_zero() {
        let (mut tx, req, t0) = start(true);
        assert!(tx.is_reliable());
        // The 100 Trying rule applies on every transport.
        assert_eq!(tx.poll_timeout(), Some(at(t0, 200)));
        tx.send_response(response(&req, 603), at(t0, 10)).unwrap();
        drain(|| tx.poll_output());
        // Only Timer H.
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_010)));
        tx.handle_request(ack(&req), at(t0, 100));
        assert!(tx.is_terminated());
        assert_eq!(drain(|| tx.poll_output()), [Output::Terminated]);

        let (mut tx, req, t0) = start(true);
        tx.send_response(response(&req, 603), t0).unwrap();
        drain(|| tx.poll_output());
        assert_eq!(
            run(&mut tx, t0),
            [
                (32_000, Output::ToTu(TuEvent::Timeout(Timer::H))),
                (32_000, Output::Terminated)
            ]
        );
    }

    #[test]
    fn transport_errors() {
        let (mut tx, _, _) = start(false);
        tx.on_transport_error();
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::TransportError), Output::Terminated]
        );
        assert_eq!(tx.poll_timeout(), None);

        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 486), t0).unwrap();
        drain(|| tx.poll_output());
        tx.on_transport_error();
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_timeout(), None);

        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 200), t0).unwrap();
        drain(|| tx.poll_output());
        tx.on_transport_error();
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::TransportError)]
        );
        assert_eq!(tx.state(), ServerInviteState::Accepted);
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_000)));
    }

    #[test]
    fn stray_requests_are_ignored() {
        let (mut tx, req, t0) = start(false);
        // An ACK before any final response, or an unrelated method.
        tx.handle_request(ack(&req), at(t0, 10));
        let mut other = req.clone();
        other.method = Method::Cancel;
        tx.handle_request(other, at(t0, 20));
        assert_eq!(tx.poll_output(), None);
        assert_eq!(tx.state(), ServerInviteState::Proceeding);
    }
}
