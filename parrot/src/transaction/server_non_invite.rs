//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
//!
//! ```text
//!                   |Request received
//!                   |pass to TU
//!                   V
//!             +-----------+
//!             |  Trying   |-------------+
//!             +-----------+             |
//!    1xx from TU |                      | 200-699 from TU
//!  send response |                      | send response
//!                V                      |
//!  Request  +-----------+  1xx from TU  |
//!  send resp|Proceeding |<--- send resp |
//!           +-----------+               |  Transport Err.
//!   200-699 from TU | send response     |  inform TU
//!                   V                   V
//!  Request  +-----------+   Timer J   +------------+
//!  send resp| Completed |------------->| Terminated |
//!           +-----------+             +------------+
//! ```

use super::config::{Timing, after};
use super::{
    Output, OutputQueue, SendError, StoredResponse, TimerConfig, TuEvent, owned_top_branch,
};
use crate::message::{Message, Request, Response, StatusCode, Text};
use std::time::Instant;

/// The states of Figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerNonInviteState {
    /// The request was passed to the TU, which has not answered yet.
    Trying,
    /// The TU sent a provisional response.
    Proceeding,
    /// The TU sent a final response; request retransmissions are answered
    /// with it until Timer J fires.
    Completed,
    /// Done: the caller should drop the transaction.
    Terminated,
}

/// A non-INVITE server transaction (RFC 3261 §17.2.2): passes the request
/// to the TU once, answers retransmissions with the last response and
/// absorbs them for Timer J after the final one.
#[derive(Debug)]
pub struct ServerNonInviteTransaction {
    /// The last response the TU sent, in compact form (independent of the
    /// request's receive buffer).
    response: Option<StoredResponse>,
    /// An owned copy of the top Via's branch.
    branch: Text,
    out: OutputQueue,
    timer_j: Option<Instant>,
    timing: Timing,
    state: ServerNonInviteState,
}

impl ServerNonInviteTransaction {
    /// Creates the transaction for a request that matched none (§17.2.3)
    /// and queues it for the TU.
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
        let _ = now;
        tracing::debug!(branch = %branch, method = %request.method, reliable, state = ?ServerNonInviteState::Trying, "non-INVITE server transaction created");
        let mut out = OutputQueue::default();
        out.push(Output::ToTu(TuEvent::Request(Box::new(request))));
        ServerNonInviteTransaction {
            response: None,
            branch,
            out,
            timer_j: None,
            timing: Timing::new(timers, reliable),
            state: ServerNonInviteState::Trying,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// Whether the transaction reached the Terminated state.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// The branch parameter of the request's top Via (empty if none).
    pub fn branch(&self) -> &Text {
        &self.branch
    }

    /// The last response the TU sent, if any, rebuilt from the compact
    /// copy the transaction keeps.
    pub fn last_response(&self) -> Option<Response> {
        self.response.as_ref().map(StoredResponse::to_response)
    }

    /// The status of [`last_response`](Self::last_response), without
    /// rebuilding it.
    pub fn last_status(&self) -> Option<StatusCode> {
        self.response.as_ref().map(StoredResponse::status)
    }

    /// Whether the transport is reliable (Timer J = 0).
    pub fn is_reliable(&self) -> bool {
        self.timing.reliable()
    }

    /// The next queued output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// The running timer's deadline (Timer J), if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    /// Fires Timer J if it is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_j.is_some_and(|t| t <= now) {
            // §17.2.2: Timer J → Terminated.
            self.terminate();
        }
    }

    /// Handles a retransmission of the request (one that matched this
    /// transaction, §17.2.3). It is never passed to the TU again.
    pub fn handle_request(&mut self, request: Request, now: Instant) {
        let _ = now;
        match self.state {
            // §17.2.2: "Once in the "Trying" state, any further request
            // retransmissions are discarded."
            ServerNonInviteState::Trying | ServerNonInviteState::Terminated => {
                tracing::trace!(branch = %self.branch, method = %request.method, "absorbed request retransmission");
            }
            // §17.2.2: in Proceeding the last provisional response, in
            // Completed the final response, is sent again.
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed => {
                if let Some(resp) = &self.response {
                    tracing::trace!(branch = %self.branch, status = %resp.status(), "request retransmission: re-sending response");
                    self.out
                        .push(Output::Retransmit(Message::Response(resp.to_response())));
                }
            }
        }
    }

    /// Sends a response from the TU. Provisional responses move Trying to
    /// Proceeding; a final one moves to Completed and starts Timer J (zero
    /// on reliable transports, which terminates at once). Once a final
    /// response was sent, further ones are refused (§17.2.2).
    pub fn send_response(&mut self, response: Response, now: Instant) -> Result<(), SendError> {
        use ServerNonInviteState::*;
        match self.state {
            Completed => return Err(SendError::FinalResponseSent),
            Terminated => return Err(SendError::Terminated),
            Trying | Proceeding => {}
        }
        let provisional = response.status.is_provisional();
        self.response = Some(StoredResponse::new(&response));
        self.out.push(Output::Transmit(Message::Response(response)));
        if provisional {
            if self.state == Trying {
                self.set_state(Proceeding);
            }
        } else {
            self.set_state(Completed);
            // §17.2.2: Timer J = 64*T1 on unreliable transports, zero on
            // reliable ones.
            let j = self.timing.timer_j();
            if j == 0 {
                self.terminate();
            } else {
                self.timer_j = after(now, j);
            }
        }
        Ok(())
    }

    /// Reports that the transport failed to send a response: the TU is
    /// informed and the transaction terminates (§17.2.4).
    pub fn on_transport_error(&mut self) {
        if self.state != ServerNonInviteState::Terminated {
            tracing::debug!(branch = %self.branch, "transport error");
            self.out.push(Output::ToTu(TuEvent::TransportError));
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.timer_j = None;
        self.set_state(ServerNonInviteState::Terminated);
        self.out.push(Output::Terminated);
    }

    fn set_state(&mut self, to: ServerNonInviteState) {
        tracing::debug!(branch = %self.branch, from = ?self.state, to = ?to, "non-INVITE server transaction state");
        self.state = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Method;
    use crate::test_support::*;

    fn start(reliable: bool) -> (ServerNonInviteTransaction, Request, Instant) {
        let t0 = Instant::now();
        let req = request(Method::Bye, "z9hG4bKsni");
        let mut tx =
            ServerNonInviteTransaction::new(req.clone(), &TimerConfig::default(), reliable, t0);
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::Request(Box::new(req.clone())))]
        );
        assert_eq!(tx.state(), ServerNonInviteState::Trying);
        assert_eq!(tx.poll_timeout(), None);
        (tx, req, t0)
    }

    #[test]
    fn trying_absorbs_retransmissions() {
        let (mut tx, req, t0) = start(false);
        tx.handle_request(req.clone(), at(t0, 500));
        tx.handle_request(req, at(t0, 1500));
        assert_eq!(tx.poll_output(), None, "TU sees the request only once");
        assert_eq!(tx.state(), ServerNonInviteState::Trying);
    }

    #[test]
    fn trying_proceeding_completed_terminated() {
        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 100), at(t0, 10)).unwrap();
        assert_eq!(tx.state(), ServerNonInviteState::Proceeding);
        let first = tx.poll_output().unwrap();
        assert!(is_tx_response(&first, 100));
        assert!(matches!(first, Output::Transmit(_)), "a first send is not");
        tx.send_response(response(&req, 183), at(t0, 20)).unwrap();
        assert!(is_tx_response(&tx.poll_output().unwrap(), 183));
        // A retransmission in Proceeding re-sends the last provisional.
        tx.handle_request(req.clone(), at(t0, 500));
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 1);
        assert!(is_tx_response(&out[0], 183));
        assert!(
            matches!(out[0], Output::Retransmit(_)),
            "a repeated response is marked as a retransmission"
        );

        tx.send_response(response(&req, 200), at(t0, 600)).unwrap();
        assert_eq!(tx.state(), ServerNonInviteState::Completed);
        assert!(is_tx_response(&tx.poll_output().unwrap(), 200));
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_600)));
        // Retransmissions in Completed get the final response again.
        tx.handle_request(req.clone(), at(t0, 1500));
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 1);
        assert!(is_tx_response(&out[0], 200));
        // Further responses from the TU are discarded.
        assert_eq!(
            tx.send_response(response(&req, 500), at(t0, 1600)),
            Err(SendError::FinalResponseSent)
        );
        assert_eq!(
            tx.send_response(response(&req, 180), at(t0, 1600)),
            Err(SendError::FinalResponseSent)
        );
        assert_eq!(tx.poll_output(), None);
        assert_eq!(tx.last_response().unwrap().status.as_u16(), 200);
        assert_eq!(tx.last_status(), Some(StatusCode::OK));
        tx.handle_timeout(at(t0, 32_599));
        assert_eq!(tx.poll_output(), None);
        tx.handle_timeout(at(t0, 32_600));
        assert_eq!(drain(|| tx.poll_output()), [Output::Terminated]);
        assert!(tx.is_terminated());
        assert_eq!(
            tx.send_response(response(&req, 200), at(t0, 40_000)),
            Err(SendError::Terminated)
        );
    }

    #[test]
    fn trying_straight_to_completed() {
        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 404), t0).unwrap();
        assert_eq!(tx.state(), ServerNonInviteState::Completed);
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_000)));
    }

    #[test]
    fn reliable_timer_j_is_zero() {
        let (mut tx, req, t0) = start(true);
        assert!(tx.is_reliable());
        tx.send_response(response(&req, 200), t0).unwrap();
        assert!(tx.is_terminated());
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 2);
        assert!(is_tx_response(&out[0], 200));
        assert_eq!(out[1], Output::Terminated);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn transport_errors() {
        for provisional in [false, true] {
            let (mut tx, req, t0) = start(false);
            if provisional {
                tx.send_response(response(&req, 100), t0).unwrap();
                drain(|| tx.poll_output());
            }
            tx.on_transport_error();
            assert_eq!(
                drain(|| tx.poll_output()),
                [Output::ToTu(TuEvent::TransportError), Output::Terminated]
            );
        }
        // Completed → Terminated as well (Figure 8).
        let (mut tx, req, t0) = start(false);
        tx.send_response(response(&req, 200), t0).unwrap();
        drain(|| tx.poll_output());
        tx.on_transport_error();
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_timeout(), None);
    }
}
