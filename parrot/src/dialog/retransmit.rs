//! Retransmission of a 2xx to INVITE by the UAS core until the ACK
//! arrives (RFC 3261 §13.3.1.4), as a sans-IO timer machine.
//!
//! With RFC 6026 the INVITE server transaction passes a 2xx through and
//! leaves its retransmission to the transaction user: "The 2xx response is
//! passed to the transport with an interval that starts at T1 seconds and
//! doubles for each retransmission until it reaches T2 seconds. Response
//! retransmissions cease when an ACK request for the response is
//! received." (§13.3.1.4).

use super::id::DialogId;
use crate::message::{Method, Request};
use crate::transaction::TimerConfig;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Something a [`Retransmit2xx`] asks its caller to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retransmit2xxOutput {
    /// Send the 2xx again, unchanged.
    Retransmit,
    /// 64·T1 passed without an ACK: "the dialog is confirmed, but the
    /// session SHOULD be terminated. This is accomplished with a BYE"
    /// (§13.3.1.4). The runtime sends the BYE
    /// ([`Dialog::create_request`](super::Dialog::create_request)) and
    /// forgets the dialog. Always the last output.
    GiveUp,
}

/// Where a [`Retransmit2xx`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Acked,
    GaveUp,
    Stopped,
}

/// The UAS core's retransmission of a 2xx response to an INVITE (initial
/// or re-INVITE) until its ACK arrives (§13.3.1.4).
///
/// Start it when the 2xx is first sent. On an unreliable transport it asks
/// for a retransmission at T1, then at intervals doubling up to T2 (with
/// the RFC 3261 defaults: after 0.5, 1, 2, 4, 4, 4, ... seconds). On a
/// reliable transport the 2xx is not retransmitted, but the wait for the
/// ACK still applies. An ACK of the dialog carrying the INVITE's CSeq
/// number ([`handle_ack`](Retransmit2xx::handle_ack)) ends it; 64·T1 after
/// the start without one it outputs [`Retransmit2xxOutput::GiveUp`].
///
/// Driven like the transaction machines: [`poll_timeout`] gives the next
/// deadline, [`handle_timeout`] fires what is due, [`poll_output`] drains
/// the outputs.
///
/// [`poll_timeout`]: Retransmit2xx::poll_timeout
/// [`handle_timeout`]: Retransmit2xx::handle_timeout
/// [`poll_output`]: Retransmit2xx::poll_output
#[derive(Debug, Clone)]
pub struct Retransmit2xx {
    id: DialogId,
    invite_seq: u32,
    /// The next retransmission (never on a reliable transport).
    retransmit_at: Option<Instant>,
    /// 64·T1 after the start.
    give_up_at: Option<Instant>,
    /// The current retransmission interval.
    interval: Duration,
    /// The largest interval: T2 (or T1 if T2 is smaller).
    cap: Duration,
    out: VecDeque<Retransmit2xxOutput>,
    phase: Phase,
    reliable: bool,
}

impl Retransmit2xx {
    /// Starts waiting for the ACK of the 2xx just sent, at `now`, for the
    /// INVITE with CSeq number `invite_seq` in dialog `id`. T1 and T2 are
    /// taken from `timers`, each at least 1 ms.
    pub fn new(
        id: DialogId,
        invite_seq: u32,
        timers: &TimerConfig,
        reliable: bool,
        now: Instant,
    ) -> Self {
        let t1 = timers.t1.max(Duration::from_millis(1));
        let cap = timers.t2.max(t1);
        // §13.3.1.4: "If the server retransmits the 2xx response for 64*T1
        // seconds without receiving an ACK, the dialog is confirmed, but
        // the session SHOULD be terminated." Unrepresentable deadlines are
        // "never".
        let give_up_at = now.checked_add(t1.saturating_mul(64));
        // §13.3.1.4 retransmits "to the transport"; a reliable transport
        // delivers the 2xx itself (as in §17.2.1, Timer G is not used on
        // reliable transports).
        let retransmit_at = if reliable { None } else { now.checked_add(t1) };
        tracing::debug!(call_id = %id.call_id, invite_seq, reliable, "waiting for the ACK of a 2xx");
        Retransmit2xx {
            id,
            invite_seq,
            retransmit_at,
            give_up_at,
            interval: t1,
            cap,
            out: VecDeque::new(),
            phase: Phase::Waiting,
            reliable,
        }
    }

    /// The dialog of the 2xx.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// The CSeq number of the INVITE the 2xx answers.
    pub fn invite_seq(&self) -> u32 {
        self.invite_seq
    }

    /// Whether the transport is reliable (no retransmissions).
    pub fn is_reliable(&self) -> bool {
        self.reliable
    }

    /// Whether the ACK arrived.
    pub fn is_acked(&self) -> bool {
        self.phase == Phase::Acked
    }

    /// Whether it is over: ACK received, given up, or stopped. The caller
    /// drops it once its outputs are drained.
    pub fn is_done(&self) -> bool {
        self.phase != Phase::Waiting
    }

    /// The next deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.retransmit_at, self.give_up_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires what is due at `now`. A caller that is late gets a single
    /// retransmission, not a burst; once 64·T1 has passed it only gets
    /// [`Retransmit2xxOutput::GiveUp`] (on a tie the give-up wins: no
    /// point retransmitting first).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Waiting {
            return;
        }
        if self.give_up_at.is_some_and(|g| g <= now) {
            self.retransmit_at = None;
            self.give_up_at = None;
            self.phase = Phase::GaveUp;
            self.out.push_back(Retransmit2xxOutput::GiveUp);
            tracing::debug!(call_id = %self.id.call_id, invite_seq = self.invite_seq, "no ACK for the 2xx within 64*T1: giving up");
            return;
        }
        let Some(due) = self.retransmit_at.filter(|&r| r <= now) else {
            return;
        };
        self.out.push_back(Retransmit2xxOutput::Retransmit);
        // §13.3.1.4: the interval "doubles for each retransmission until
        // it reaches T2 seconds".
        self.interval = self.interval.saturating_mul(2).min(self.cap);
        let next = due
            .checked_add(self.interval)
            .filter(|&n| n > now)
            .or_else(|| now.checked_add(self.interval));
        self.retransmit_at = next;
        tracing::trace!(call_id = %self.id.call_id, invite_seq = self.invite_seq, "2xx retransmission");
    }

    /// The next queued output, if any.
    pub fn poll_output(&mut self) -> Option<Retransmit2xxOutput> {
        self.out.pop_front()
    }

    /// Offers a received ACK. Returns whether it acknowledges this 2xx: an
    /// ACK of the dialog (Call-ID, tags) with the INVITE's CSeq number
    /// (§13.2.2.4). The first one stops the retransmissions and the 64·T1
    /// wait ("Response retransmissions cease when an ACK request for the
    /// response is received", §13.3.1.4); a later one still returns `true`
    /// so that the caller can absorb it.
    pub fn handle_ack(&mut self, ack: &Request) -> bool {
        let matches = ack.method == Method::Ack
            && ack
                .headers
                .cseq()
                .is_some_and(|c| c.seq == self.invite_seq && c.method == Method::Ack)
            && self.id.is_of_incoming_request(ack);
        if matches && self.phase == Phase::Waiting {
            self.phase = Phase::Acked;
            self.retransmit_at = None;
            self.give_up_at = None;
            tracing::debug!(call_id = %self.id.call_id, invite_seq = self.invite_seq, "ACK received for the 2xx");
        }
        matches
    }

    /// Stops without output (e.g. the dialog ended by a BYE before the
    /// ACK came).
    pub fn stop(&mut self) {
        if self.phase == Phase::Waiting {
            self.phase = Phase::Stopped;
            self.retransmit_at = None;
            self.give_up_at = None;
            tracing::debug!(call_id = %self.id.call_id, invite_seq = self.invite_seq, "2xx retransmission stopped");
        }
    }
}
