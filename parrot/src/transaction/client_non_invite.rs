//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
//!
//! ```text
//!                    |Request from TU
//!                    |send request
//!Timer E             V
//!send request +-----------+
//!    +--------|           |-------+ Timer F or Transport Err.
//!    |        |  Trying   |       | inform TU
//!    +------->|           |-----+ |
//!             +-----------+     | |
//!  200-699 / resp. to TU |  |1xx / resp. to TU
//!             +----------+  V
//!             | Timer E  +-----------+
//!             | send req |Proceeding |---> Timer F or Transport Err.
//!             |          +-----------+     inform TU
//!             |  200-699 / resp. to TU |
//!             V          V
//!          +-----------+  Timer K  +------------+
//!          | Completed |---------->| Terminated |
//!          +-----------+           +------------+
//! ```

use super::config::{Timing, after, next_retransmit};
use super::deadlines::{Due, due, earliest};
use super::{Output, OutputQueue, Timer, TimerConfig, TuEvent, top_branch};
use crate::message::{Message, Request, Response, Text};
use std::time::Instant;

/// The states of Figure 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientNonInviteState {
    /// The request was sent; no response yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived; response retransmissions are absorbed
    /// until Timer K fires.
    Completed,
    /// Done: the caller should drop the transaction.
    Terminated,
}

/// A non-INVITE client transaction (RFC 3261 §17.1.2): sends a request,
/// retransmits it on unreliable transports (Timer E), passes responses to
/// the TU and gives up after Timer F.
#[derive(Debug)]
pub struct ClientNonInviteTransaction {
    /// The request, boxed so that the machine stays small next to the
    /// server machines (one allocation, for the stored message).
    request: Box<Request>,
    branch: Text,
    out: OutputQueue,
    /// Timer E (retransmission), armed on unreliable transports only.
    timer_e: Option<Instant>,
    /// Timer F in Trying and Proceeding, Timer K in Completed.
    timer_fk: Option<Instant>,
    timing: Timing,
    /// The current Timer E interval in milliseconds.
    interval: u32,
    state: ClientNonInviteState,
}

impl ClientNonInviteTransaction {
    /// Starts a transaction for `request` (any method but INVITE and ACK)
    /// at `now`: queues the request for transmission and starts Timer F,
    /// and on unreliable transports Timer E (§17.1.2.2).
    pub fn new(request: Request, timers: &TimerConfig, reliable: bool, now: Instant) -> Self {
        let timing = Timing::new(timers, reliable);
        let branch = top_branch(&request.headers);
        let mut out = OutputQueue::default();
        out.push(Output::Transmit(Message::Request(request.clone())));
        tracing::debug!(branch = %branch, method = %request.method, reliable, state = ?ClientNonInviteState::Trying, "non-INVITE client transaction created");
        ClientNonInviteTransaction {
            request: Box::new(request),
            branch,
            out,
            // §17.1.2.2: "If an unreliable transport is in use, the client
            // transaction MUST set timer E to fire in T1 seconds."
            timer_e: if reliable {
                None
            } else {
                after(now, u64::from(timing.t1()))
            },
            // §17.1.2.2: Timer F fires in 64*T1 on every transport.
            timer_fk: after(now, timing.t1x64()),
            interval: timing.t1(),
            timing,
            state: ClientNonInviteState::Trying,
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// Whether the transaction reached the Terminated state.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    /// The branch parameter of the request's top Via (empty if none).
    pub fn branch(&self) -> &Text {
        &self.branch
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Whether the transport is reliable (no retransmissions, Timer K = 0).
    pub fn is_reliable(&self) -> bool {
        self.timing.reliable()
    }

    /// The next queued output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// The earliest running timer's deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.timer_e, self.timer_fk)
    }

    /// Fires every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(due) = due(self.timer_e, self.timer_fk, now) {
            match due {
                Due::Retransmit(at) => self.fire_e(at, now),
                Due::End => self.fire_fk(),
            }
        }
    }

    /// Handles a response matched to this transaction (§17.1.3).
    pub fn handle_response(&mut self, response: Response, now: Instant) {
        use ClientNonInviteState::*;
        match self.state {
            Trying | Proceeding if response.status.is_provisional() => {
                // §17.1.2.2: 1xx → Proceeding, passed to the TU.
                self.out.push(Output::ToTu(TuEvent::Response(response)));
                if self.state == Trying {
                    self.set_state(Proceeding);
                }
            }
            Trying | Proceeding => {
                // §17.1.2.2: a final response goes to the TU and the
                // transaction enters Completed for Timer K.
                self.out.push(Output::ToTu(TuEvent::Response(response)));
                self.timer_e = None;
                self.set_state(Completed);
                // Timer K: T4 on unreliable transports, zero otherwise.
                let k = self.timing.t4_or_zero();
                if k == 0 {
                    self.terminate();
                } else {
                    self.timer_fk = after(now, k);
                }
            }
            Completed => {
                // §17.1.2.2: retransmissions are absorbed in Completed.
                tracing::trace!(branch = %self.branch, status = %response.status, "absorbed response retransmission");
            }
            Terminated => {}
        }
    }

    /// Reports that the transport failed to send the request: the TU is
    /// informed and the transaction terminates (§17.1.4).
    pub fn on_transport_error(&mut self) {
        if self.state != ClientNonInviteState::Terminated {
            tracing::debug!(branch = %self.branch, "transport error");
            self.out.push(Output::ToTu(TuEvent::TransportError));
            self.terminate();
        }
    }

    fn fire_e(&mut self, fired: Instant, now: Instant) {
        let interval = match self.state {
            // §17.1.2.2: "the interval MUST be MIN(2*T1, T2)", doubling
            // each time up to T2.
            ClientNonInviteState::Trying => self.interval.saturating_mul(2).min(self.timing.t2()),
            // §17.1.2.2: in Proceeding Timer E is reset to T2.
            ClientNonInviteState::Proceeding => self.timing.t2(),
            _ => {
                self.timer_e = None;
                return;
            }
        };
        tracing::trace!(branch = %self.branch, "Timer E: retransmitting request");
        self.out
            .push(Output::Retransmit(Message::Request(Request::clone(
                &self.request,
            ))));
        self.interval = interval;
        self.timer_e = next_retransmit(fired, now, interval);
    }

    fn fire_fk(&mut self) {
        self.timer_fk = None;
        match self.state {
            ClientNonInviteState::Trying | ClientNonInviteState::Proceeding => {
                // §17.1.2.2: Timer F → inform the TU, Terminated.
                tracing::debug!(branch = %self.branch, "Timer F: transaction timed out");
                self.out.push(Output::ToTu(TuEvent::Timeout(Timer::F)));
                self.terminate();
            }
            ClientNonInviteState::Completed => self.terminate(),
            ClientNonInviteState::Terminated => {}
        }
    }

    fn terminate(&mut self) {
        self.timer_e = None;
        self.timer_fk = None;
        self.set_state(ClientNonInviteState::Terminated);
        self.out.push(Output::Terminated);
    }

    fn set_state(&mut self, to: ClientNonInviteState) {
        tracing::debug!(branch = %self.branch, from = ?self.state, to = ?to, "non-INVITE client transaction state");
        self.state = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Method;
    use crate::test_support::*;

    fn start(reliable: bool) -> (ClientNonInviteTransaction, Instant) {
        let t0 = Instant::now();
        let req = request(Method::Register, "z9hG4bKnonInv");
        let mut tx = ClientNonInviteTransaction::new(req, &TimerConfig::default(), reliable, t0);
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 1);
        assert!(is_tx_request(&out[0], &Method::Register));
        assert_eq!(tx.state(), ClientNonInviteState::Trying);
        (tx, t0)
    }

    /// Runs every timer until the transaction ends; returns each output
    /// with its time in ms since `t0`.
    fn run(tx: &mut ClientNonInviteTransaction, t0: Instant) -> Vec<(u64, Output)> {
        let mut log = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            tx.handle_timeout(t);
            let ms = (t - t0).as_millis() as u64;
            log.extend(drain(|| tx.poll_output()).into_iter().map(|o| (ms, o)));
        }
        log
    }

    #[test]
    fn timer_e_doubles_to_t2_then_timer_f_times_out() {
        let (mut tx, t0) = start(false);
        let log = run(&mut tx, t0);
        let sends: Vec<u64> = log
            .iter()
            .filter(|(_, o)| is_tx_request(o, &Method::Register))
            .map(|(t, _)| *t)
            .collect();
        // Gaps of 500 ms, 1 s, 2 s, 4 s, 4 s, ... (capped at T2).
        assert_eq!(
            sends,
            [
                500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
            ]
        );
        let gaps: Vec<u64> = std::iter::once(0)
            .chain(sends.iter().copied())
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect();
        assert_eq!(
            gaps,
            [500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000]
        );
        let tail: Vec<_> = log[sends.len()..].to_vec();
        assert_eq!(
            tail,
            [
                (32_000, Output::ToTu(TuEvent::Timeout(Timer::F))),
                (32_000, Output::Terminated)
            ]
        );
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn proceeding_retransmits_every_t2() {
        let (mut tx, t0) = start(false);
        tx.handle_timeout(at(t0, 500)); // first retransmission
        drain(|| tx.poll_output());
        let req = tx.request().clone();
        tx.handle_response(response(&req, 100), at(t0, 600));
        assert_eq!(tx.state(), ClientNonInviteState::Proceeding);
        assert!(matches!(
            tx.poll_output(),
            Some(Output::ToTu(TuEvent::Response(r))) if r.status.as_u16() == 100
        ));
        // The pending Timer E still fires at 1.5 s, then every T2.
        let log = run(&mut tx, t0);
        let sends: Vec<u64> = log
            .iter()
            .filter(|(_, o)| is_tx_request(o, &Method::Register))
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(sends, [1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]);
        assert_eq!(log.last(), Some(&(32_000, Output::Terminated)));
        assert!(log.contains(&(32_000, Output::ToTu(TuEvent::Timeout(Timer::F)))));
    }

    #[test]
    fn trying_to_completed_absorbs_retransmissions_until_timer_k() {
        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 200), at(t0, 100));
        assert_eq!(tx.state(), ClientNonInviteState::Completed);
        assert!(matches!(
            drain(|| tx.poll_output()).as_slice(),
            [Output::ToTu(TuEvent::Response(r))] if r.status.as_u16() == 200
        ));
        // Only Timer K runs (T4 = 5 s); E and F are stopped.
        assert_eq!(tx.poll_timeout(), Some(at(t0, 5100)));
        tx.handle_response(response(&req, 200), at(t0, 1000));
        tx.handle_response(response(&req, 180), at(t0, 1000));
        assert_eq!(tx.poll_output(), None);
        tx.handle_timeout(at(t0, 5099));
        assert_eq!(tx.poll_output(), None);
        tx.handle_timeout(at(t0, 5100));
        assert_eq!(drain(|| tx.poll_output()), [Output::Terminated]);
        assert!(tx.is_terminated());
    }

    #[test]
    fn proceeding_to_completed() {
        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 100), at(t0, 100));
        tx.handle_response(response(&req, 180), at(t0, 200));
        assert_eq!(tx.state(), ClientNonInviteState::Proceeding);
        tx.handle_response(response(&req, 404), at(t0, 300));
        assert_eq!(tx.state(), ClientNonInviteState::Completed);
        let codes: Vec<u16> = drain(|| tx.poll_output())
            .into_iter()
            .map(|o| match o {
                Output::ToTu(TuEvent::Response(r)) => r.status.as_u16(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(codes, [100, 180, 404]);
        assert_eq!(tx.poll_timeout(), Some(at(t0, 5300)));
    }

    #[test]
    fn reliable_transport_never_retransmits_and_timer_k_is_zero() {
        let (mut tx, t0) = start(true);
        assert!(tx.is_reliable());
        // Only Timer F.
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_000)));
        let req = tx.request().clone();
        tx.handle_response(response(&req, 100), at(t0, 100));
        assert_eq!(tx.poll_timeout(), Some(at(t0, 32_000)));
        tx.handle_response(response(&req, 200), at(t0, 200));
        // Timer K = 0: straight to Terminated.
        assert!(tx.is_terminated());
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 3);
        assert_eq!(out[2], Output::Terminated);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn reliable_timeout_without_retransmissions() {
        let (mut tx, t0) = start(true);
        let log = run(&mut tx, t0);
        assert_eq!(
            log,
            [
                (32_000, Output::ToTu(TuEvent::Timeout(Timer::F))),
                (32_000, Output::Terminated)
            ]
        );
    }

    #[test]
    fn transport_error_in_trying_and_proceeding() {
        let (mut tx, _) = start(false);
        tx.on_transport_error();
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::TransportError), Output::Terminated]
        );
        assert_eq!(tx.poll_timeout(), None);
        // Idempotent once terminated.
        tx.on_transport_error();
        assert_eq!(tx.poll_output(), None);

        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        tx.handle_response(response(&req, 100), at(t0, 10));
        drain(|| tx.poll_output());
        tx.on_transport_error();
        assert_eq!(
            drain(|| tx.poll_output()),
            [Output::ToTu(TuEvent::TransportError), Output::Terminated]
        );
    }

    #[test]
    fn late_caller_gets_one_retransmission_then_the_timeout() {
        let (mut tx, t0) = start(false);
        tx.handle_timeout(at(t0, 40_000));
        let out = drain(|| tx.poll_output());
        assert_eq!(out.len(), 3);
        assert!(is_tx_request(&out[0], &Method::Register));
        assert_eq!(out[1], Output::ToTu(TuEvent::Timeout(Timer::F)));
        assert_eq!(out[2], Output::Terminated);
    }

    #[test]
    fn inputs_after_termination_are_ignored() {
        let (mut tx, t0) = start(false);
        let req = tx.request().clone();
        tx.on_transport_error();
        drain(|| tx.poll_output());
        tx.handle_response(response(&req, 200), at(t0, 1));
        tx.handle_timeout(at(t0, 100_000));
        assert_eq!(tx.poll_output(), None);
        assert_eq!(tx.state(), ClientNonInviteState::Terminated);
    }
}
