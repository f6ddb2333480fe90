//! The NOTIFYs of a UAS dialog's subscription usages in flight (RFC 6665
//! §4.2.2, RFC 3515 §2.4.5). The runtime's NOTIFYs do not hold the
//! dialog: each is built at once, with its CSeq from the dialog (RFC 3261
//! §12.2.1.1), and sent by a task of its own, while the session goes on
//! serving its requests; the session polls the tasks along with its
//! inbox and applies each outcome as it comes. The sans-IO [`Notifier`]
//! says when a NOTIFY is due and keeps one in flight per subscription,
//! coalescing what changes meanwhile.
//!
//! While a handler method runs it holds the session: the outcomes that
//! come meanwhile are applied once it returns (the NOTIFYs themselves go
//! out and are retransmitted by their tasks regardless). The session does
//! not park while a NOTIFY is in flight, and when the dialog ends its
//! last NOTIFYs are awaited, within a bound (`finish_notifies`).
//!
//! [`Notifier`]: crate::dialog::Notifier

use super::in_dialog::{is_challenge, resolve_hop};
use super::session_state::{Session, contact};
use super::usage::Sent;
use crate::endpoint::Endpoint;
use crate::locate::Locator;
use crate::message::{Header, HeaderName, Method, Request, StatusCode, Uri};
use crate::transport::{Protocol, Target};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Where a NOTIFY goes: the dialog's next hop to resolve, or the target a
/// challenged one went to.
enum Hop {
    Resolve(Uri),
    Resolved(Target),
}

impl<E: Send + 'static> Session<E> {
    /// Sends the NOTIFYs that are due on subscriptions with none in
    /// flight (the others go once theirs is answered).
    pub(crate) fn start_notifies(&mut self) {
        let now = Instant::now().into_std();
        let mut i = 0;
        while let Some(usage) = self.subs.as_mut().and_then(|s| s.usages.get_mut(i)) {
            let Some(state) = usage.notifier.poll_notify(now) else {
                i += 1;
                continue;
            };
            let event = usage.notifier.event().clone();
            // RFC 6665 §4.2.1.2, §6.2: no state for a subscriber not
            // authorized (yet).
            let body = usage
                .notifier
                .reveals_state()
                .then(|| usage.state.clone())
                .flatten();
            debug!(call_id = %self.id.call_id, package = %event.package, %state, "sending NOTIFY");
            let built = self.build_request(Method::Notify).map(|(mut req, hop)| {
                req.headers.push_typed(&event);
                req.headers.push_typed(&state);
                if let Some((content_type, bytes)) = body {
                    req.headers.set(HeaderName::ContentType, content_type);
                    req.body = bytes;
                }
                (req, hop)
            });
            match built {
                Some((req, hop)) => {
                    let task = self.spawn_notify(req, Hop::Resolve(hop));
                    if let Some(u) = self.subs.as_mut().and_then(|s| s.usages.get_mut(i)) {
                        u.sending = Some(task);
                    }
                    i += 1;
                }
                None => {
                    // The dialog is over: the subscription goes with it.
                    warn!(call_id = %self.id.call_id, "no dialog for the NOTIFY: subscription removed");
                    if let Some(subs) = self.subs.as_mut() {
                        subs.usages.remove(i);
                    }
                }
            }
        }
    }

    /// A request of `method` in the dialog (our Contact on a target
    /// refresh, §12.2.1.1), with the dialog's next CSeq, and its next
    /// hop; `None` without a dialog that can send it.
    fn build_request(&mut self, method: Method) -> Option<(Request, Uri)> {
        let our_contact = match (&self.origin, crate::dialog::is_target_refresh(&method)) {
            (Some(origin), true) => {
                let sips = self.dialog.as_ref().is_some_and(|d| d.is_secure());
                Some(contact(&self.shared, origin, sips, None))
            }
            _ => None,
        };
        let built = self
            .dialog
            .as_mut()?
            .create_request(method, None, our_contact.as_ref())
            .ok()?;
        Some((built.request, built.next_hop))
    }

    /// Starts the task sending `req` towards `hop`.
    fn spawn_notify(&self, req: Request, hop: Hop) -> tokio::task::JoinHandle<Sent> {
        let endpoint = self.shared.endpoint.clone();
        let locator = self.shared.locator.clone();
        tokio::spawn(send(endpoint, locator, self.transport, req, hop))
    }

    /// Whether a NOTIFY of the dialog is in flight (the session then
    /// stays up, not parked, to take in its outcome).
    pub(crate) fn notifying(&self) -> bool {
        self.subs
            .as_ref()
            .is_some_and(|s| s.usages.iter().any(|u| u.sending.is_some()))
    }

    /// The next NOTIFY answered (or failed): its subscription's index and
    /// what became of it. Pending while none is in flight.
    pub(crate) fn poll_notified(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<(usize, Result<Sent, String>)> {
        let Some(subs) = self.subs.as_mut() else {
            return Poll::Pending;
        };
        for (i, usage) in subs.usages.iter_mut().enumerate() {
            let Some(task) = &mut usage.sending else {
                continue;
            };
            if let Poll::Ready(done) = Pin::new(task).poll(cx) {
                usage.sending = None;
                let sent = done.map_err(|e| format!("NOTIFY task failed: {e}"));
                return Poll::Ready((i, sent));
            }
        }
        Poll::Pending
    }

    /// Applies the outcome of subscription `index`'s NOTIFY: the dialog
    /// takes in the response (§12.2.1.2); a challenge is answered with the
    /// server's credentials (§22.2); a failure or the answer to the last
    /// NOTIFY removes the subscription (RFC 6665 §4.2.2), and the dialog
    /// ends with its last usage (RFC 5057); what became due meanwhile is
    /// sent.
    pub(crate) fn notified(&mut self, index: usize, outcome: Result<Sent, String>) {
        let sent = outcome.unwrap_or_else(|e| Sent {
            request: None,
            target: None,
            response: Err(e),
        });
        let status = match &sent.response {
            Ok(resp) => {
                if let Some(d) = &mut self.dialog {
                    d.handle_response(resp);
                }
                resp.status
            }
            Err(e) => {
                debug!(error = %e, "NOTIFY not sent");
                StatusCode::REQUEST_TIMEOUT
            }
        };
        if let (Ok(resp), Some(target), Some(req)) = (&sent.response, sent.target, &sent.request)
            && is_challenge(resp)
            && let Some(next) = self.authorized(req, resp)
        {
            info!(call_id = %self.id.call_id, status = %resp.status, "NOTIFY challenged: sending again with credentials");
            let task = self.spawn_notify(next, Hop::Resolved(target));
            if let Some(u) = self.subs.as_mut().and_then(|s| s.usages.get_mut(index)) {
                u.sending = Some(task);
            }
            return;
        }
        if let Some(subs) = self.subs.as_mut()
            && let Some(usage) = subs.usages.get_mut(index)
            && usage.notifier.notify_answered(status)
        {
            if !status.is_success() {
                info!(%status, "NOTIFY refused: subscription removed");
            }
            subs.usages.remove(index);
        }
        self.start_notifies();
        self.end_if_unused();
    }

    /// Waits until no NOTIFY is in flight, applying each outcome (a
    /// last NOTIFY due behind one in flight is sent meanwhile). Each
    /// NOTIFY's transaction ends within Timer F (RFC 3261 §17.1.2.2), and
    /// one subscription sends at most two here (the one in flight, then
    /// its last), so the wait is bounded by twice that; the bound is
    /// enforced too.
    pub(crate) async fn finish_notifies(&mut self) {
        let bound = self.shared.timers.timer_f() * 2 + self.shared.timers.t1;
        let drain = async {
            while self.notifying() {
                let (i, sent) = poll_fn(|cx| self.poll_notified(cx)).await;
                self.notified(i, sent);
            }
        };
        if tokio::time::timeout(bound, drain).await.is_err() {
            warn!(call_id = %self.id.call_id, "NOTIFYs unanswered: given up");
        }
    }
}

/// Sends `req` towards `hop` in a client transaction and waits for its
/// final response: the body of a NOTIFY's task.
async fn send(
    endpoint: Endpoint,
    locator: Arc<Locator>,
    transport: Protocol,
    mut request: Request,
    hop: Hop,
) -> Sent {
    let target = match hop {
        Hop::Resolved(t) => Ok(t),
        Hop::Resolve(uri) => resolve_hop(&locator, &uri, transport).await,
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            return Sent {
                request: Some(request),
                target: None,
                response: Err(e),
            };
        }
    };
    if request.headers.top_via().is_none() {
        let Some(via) = endpoint.via(target.protocol) else {
            return Sent {
                request: Some(request),
                target: Some(target),
                response: Err(format!("no {:?} listener", target.protocol)),
            };
        };
        request
            .headers
            .push_front(Header::known(HeaderName::Via, via.to_string()));
    }
    let response = match endpoint.request(request.clone(), target).await {
        Ok(tx) => Ok(tx.final_response(&request).await),
        Err(e) => Err(e.to_string()),
    };
    Sent {
        request: Some(request),
        target: Some(target),
        response,
    }
}
