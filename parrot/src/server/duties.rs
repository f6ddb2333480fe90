//! What a session keeps doing while its handler method runs (or while it
//! waits for a request of its own): the handler holds the session, so the
//! messages that cannot wait for it are served here — PRACKs matched and
//! answered (RFC 3262 §3), reliable provisional responses retransmitted, a
//! CANCEL ending the wait for a PRACK, and an offer that crosses one of
//! ours refused with `491` (RFC 3311 §5.2, RFC 3261 §14.2). Everything
//! else waits in the session's deferred queue, in order.

use super::inbox::{Inbox, Mailbox};
use super::reliable::Reliable;
use crate::endpoint::Endpoint;
use crate::message::{Method, Request, StatusCode};
use crate::time::sleep_until;
use crate::transaction::TransactionId;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::debug;

/// What the duties need, taken from the session before the handler
/// borrows it.
pub(crate) struct Duties {
    pub(crate) endpoint: Endpoint,
    pub(crate) reliable: Option<Arc<Reliable>>,
    /// Set while an offer of ours awaits its answer (our UPDATE or
    /// re-INVITE in flight).
    /// `None` while the session has never needed the flag (an ACK's
    /// duties do not make it: a held call does not carry it).
    pub(crate) offering: Option<Arc<AtomicBool>>,
    /// Our REFERs whose NOTIFYs are answered here (RFC 3515).
    pub(crate) referrals: Arc<super::referral::Referrals>,
}

impl Duties {
    /// Runs `fut` to completion while serving the inbox.
    pub(crate) async fn serve_while<F: Future, E>(
        &self,
        fut: F,
        mailbox: &mut Mailbox<'_, E>,
    ) -> F::Output {
        tokio::pin!(fut);
        let mut open = true;
        loop {
            let deadline = self.reliable.as_ref().and_then(|r| r.deadline());
            tokio::select! {
                biased;
                out = &mut fut => return out,
                msg = mailbox.inbox.recv(), if open => match msg {
                    Some(msg) => self.take(msg, mailbox),
                    None => open = false,
                },
                () = changed(&self.reliable) => {}
                () = sleep_until(deadline) => {
                    if let Some(r) = &self.reliable {
                        r.on_timeout(&self.endpoint);
                    }
                }
            }
        }
    }

    /// Serves `msg` now if it cannot wait, else defers it.
    fn take<E>(&self, msg: Inbox<E>, mailbox: &mut Mailbox<'_, E>) {
        match msg {
            Inbox::Request {
                id,
                request,
                origin,
            } => {
                if !self.serve(id, &request) {
                    mailbox.deferred.push_back(Inbox::Request {
                        id,
                        request,
                        origin,
                    });
                }
            }
            Inbox::Cancelled => {
                // The INVITE is over (487 sent): nobody awaits a PRACK.
                if let Some(r) = &self.reliable {
                    r.stop(true);
                }
                mailbox.deferred.push_back(Inbox::Cancelled);
            }
            other => mailbox.deferred.push_back(other),
        }
    }

    /// Answers `req` here if it is one of ours to answer; `false` to
    /// defer it to the handler.
    fn serve(&self, id: TransactionId, req: &Request) -> bool {
        if self.referrals.serve(&self.endpoint, id, req) {
            return true;
        }
        if req.method == Method::Prack {
            let Some(r) = &self.reliable else {
                return false;
            };
            return match r.prack(req, &self.endpoint) {
                // An offer in the PRACK (the provisional had no body) needs
                // the handler's answer; anything else is answered here.
                Ok(ack) if req.body.is_empty() || ack.had_body => {
                    self.endpoint.respond(id, req.reply(StatusCode::OK));
                    true
                }
                Ok(_) => false,
                Err(_) => {
                    debug!("PRACK matching no reliable provisional response: 481");
                    self.endpoint.respond(
                        id,
                        req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                    );
                    true
                }
            };
        }
        let offer = !req.body.is_empty() && matches!(req.method, Method::Update | Method::Invite);
        let our_offer_pending = self
            .offering
            .as_ref()
            .is_some_and(|o| o.load(Ordering::Acquire))
            || self.reliable.as_ref().is_some_and(|r| r.offer_unanswered());
        if offer && our_offer_pending && req.headers.has_to_tag() {
            // RFC 3311 §5.2 / RFC 3261 §14.2: offers crossed.
            debug!(method = %req.method, "offer crossed ours: 491");
            self.endpoint
                .respond(id, req.reply(StatusCode::REQUEST_PENDING));
            return true;
        }
        false
    }
}

/// Resolves when `reliable` changed; never without one.
async fn changed(reliable: &Option<Arc<Reliable>>) {
    match reliable {
        Some(r) => r.changed().await,
        None => std::future::pending().await,
    }
}
