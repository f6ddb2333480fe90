//! A UAS session's reliable provisional responses (RFC 3262) at run time:
//! the sans-IO [`ReliableProvisionals`] behind a lock, so that the handler
//! (sending responses and awaiting their PRACK) and the session (matching
//! PRACKs and retransmitting while the handler runs) share it.

use crate::dialog::{Acknowledged, NoMatch, ReliableOutput, ReliableProvisionals};
use crate::endpoint::Endpoint;
use crate::message::{Request, Response};
use crate::transaction::{TimerConfig, TransactionId};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

/// How a session's reliable provisional responses ended, if they have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Still going (or done with every response acknowledged).
    Going,
    /// One went unacknowledged for 64·T1: the INVITE was refused with the
    /// give-up response.
    GaveUp,
    /// The INVITE was cancelled.
    Cancelled,
}

struct Inner {
    machine: ReliableProvisionals,
    /// PRACKs awaited by `Context::send_reliable`, by RSeq.
    waiters: Vec<(u32, oneshot::Sender<Request>)>,
    outcome: Outcome,
}

/// The reliable provisional responses of one INVITE.
pub(crate) struct Reliable {
    inner: Mutex<Inner>,
    /// The INVITE's server transaction.
    transaction: TransactionId,
    /// The `5xx` sent when a response goes unacknowledged (§3), completed
    /// for the dialog when the session was set up.
    give_up: Response,
    /// Whether provisional responses go reliably without being asked to
    /// (the INVITE requires 100rel, or the server prefers it).
    pub(crate) by_default: bool,
    /// Whether the INVITE had no offer: a body in our provisional
    /// response is then an offer, answered in the PRACK (RFC 3262 §5).
    offers: bool,
    /// Woken when something changed: a new deadline, a PRACK, the end.
    changed: Notify,
}

impl Reliable {
    /// For the INVITE answered in transaction `transaction`, whose CSeq
    /// number is `invite_seq`.
    pub(crate) fn new(
        invite_seq: u32,
        timers: &TimerConfig,
        reliable_transport: bool,
        transaction: TransactionId,
        give_up: Response,
        by_default: bool,
        offers: bool,
    ) -> Self {
        Reliable {
            inner: Mutex::new(Inner {
                machine: ReliableProvisionals::new(invite_seq, timers, reliable_transport),
                waiters: Vec::new(),
                outcome: Outcome::Going,
            }),
            transaction,
            give_up,
            by_default,
            offers,
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends what the machine asks for.
    fn flush(&self, inner: &mut Inner, endpoint: &Endpoint) {
        while let Some(out) = inner.machine.poll_output() {
            match out {
                ReliableOutput::Send(resp) => endpoint.respond(self.transaction, resp),
                ReliableOutput::GiveUp => {
                    // RFC 3262 §3: "the UAS SHOULD reject the original
                    // request with a 5xx response".
                    warn!("reliable provisional response never acknowledged: refusing the INVITE");
                    inner.outcome = Outcome::GaveUp;
                    inner.waiters.clear();
                    endpoint.respond(self.transaction, self.give_up.clone());
                }
            }
        }
        self.changed.notify_waiters();
        self.changed.notify_one();
    }

    /// Sends `resp` (completed for the dialog) reliably, now or once the
    /// one before it is acknowledged. Its RSeq, and a receiver for its
    /// PRACK; `None` when responses can no longer be sent.
    pub(crate) fn send(
        &self,
        resp: Response,
        endpoint: &Endpoint,
    ) -> Option<(u32, oneshot::Receiver<Request>)> {
        let mut inner = self.lock();
        if inner.outcome != Outcome::Going {
            return None;
        }
        let rseq = inner.machine.send(resp, Instant::now().into_std())?;
        let (tx, rx) = oneshot::channel();
        inner.waiters.push((rseq, tx));
        self.flush(&mut inner, endpoint);
        Some((rseq, rx))
    }

    /// Matches a PRACK (RFC 3262 §3) and hands it to whoever awaits it.
    pub(crate) fn prack(
        &self,
        prack: &Request,
        endpoint: &Endpoint,
    ) -> Result<Acknowledged, NoMatch> {
        let mut inner = self.lock();
        let ack = inner
            .machine
            .handle_prack(prack, Instant::now().into_std())?;
        if let Some(i) = inner.waiters.iter().position(|(r, _)| *r == ack.rseq) {
            let (_, tx) = inner.waiters.swap_remove(i);
            let _ = tx.send(prack.clone());
        }
        debug!(rseq = ack.rseq, again = ack.again, "PRACK matched");
        self.flush(&mut inner, endpoint);
        Ok(ack)
    }

    /// The next retransmission or give-up.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.lock().machine.poll_timeout().map(Instant::from_std)
    }

    /// Fires what is due.
    pub(crate) fn on_timeout(&self, endpoint: &Endpoint) {
        let mut inner = self.lock();
        inner.machine.handle_timeout(Instant::now().into_std());
        self.flush(&mut inner, endpoint);
    }

    /// The INVITE has its final response, or was cancelled: nothing more
    /// is sent, and nobody waits any longer.
    pub(crate) fn stop(&self, cancelled: bool) {
        let mut inner = self.lock();
        inner.machine.stop();
        inner.waiters.clear();
        if cancelled && inner.outcome == Outcome::Going {
            inner.outcome = Outcome::Cancelled;
        }
        self.changed.notify_waiters();
    }

    /// How it ended, if it has.
    pub(crate) fn outcome(&self) -> Outcome {
        self.lock().outcome
    }

    /// Whether a response with a body awaits its PRACK (a 2xx must wait
    /// for it, §3).
    pub(crate) fn body_unacknowledged(&self) -> bool {
        self.lock().machine.body_unacknowledged()
    }

    /// Whether an offer of ours in a provisional response awaits its
    /// answer (an incoming offer then gets 491, RFC 3311 §5.2).
    pub(crate) fn offer_unanswered(&self) -> bool {
        self.offers && self.body_unacknowledged()
    }

    /// Resolves once no response with a body awaits its PRACK, or the
    /// responses ended.
    pub(crate) async fn bodies_acknowledged(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !self.body_unacknowledged() || self.outcome() != Outcome::Going {
                return;
            }
            changed.await;
        }
    }

    /// Resolves when something changed (to look at the deadline again).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }
}
