//! Subscription usages of a UAS dialog (RFC 6665 §4.2, and REFER's
//! implicit subscription, RFC 3515 §2.4): the runtime's checks on a
//! SUBSCRIBE or REFER before the handler runs, the `Expires` its 2xx must
//! carry, the NOTIFY every accepted SUBSCRIBE or REFER calls for, pending
//! subscriptions and their authorization, expiry, and the NOTIFYs
//! reporting a REFER's progress. A dialog may carry an INVITE usage and
//! subscription usages at once (RFC 5057); it ends when the last one does.
//!
//! Nothing here waits for a NOTIFY's answer: the state changes, the
//! NOTIFYs due go out (see `notifying`), and the session applies their
//! outcomes as they come, serving the dialog's requests meanwhile.

use super::error::RequestError;
use super::inbox::ReferReport;
use super::session_state::Session;
use super::usage::{REFER_EXPIRES, Usage};
use crate::dialog::{
    Notifier, SIPFRAG, SubscribeKind, check_refer, check_subscribe, refer_event, refer_sub_false,
    sipfrag,
};
use crate::message::typed::Expires;
use crate::message::{Method, Request, Response, StatusCode};
use bytes::Bytes;
use tokio::time::Instant;
use tracing::{debug, info};

impl<E: Send + 'static> Session<E> {
    /// The runtime's checks on a SUBSCRIBE (RFC 6665 §4.2.1.1) or REFER
    /// (RFC 3515 §2.4.1) before the handler sees it; `Err` is the refusal
    /// to send. `packages` are the handler's event packages.
    pub(crate) fn check_usage_request(
        &mut self,
        req: &Request,
        packages: &[&str],
    ) -> Result<(), Response> {
        match req.method {
            Method::Subscribe => {
                // A terminated subscription awaiting its last NOTIFY's
                // answer is over: a refresh of it is a 481 (RFC 6665
                // §4.2.1.2), a SUBSCRIBE in the dialog creates another.
                let existing = self
                    .subs
                    .iter()
                    .flat_map(|s| s.usages.iter().map(|u| &u.notifier))
                    .filter(|n| !n.is_terminated());
                let policy = &self.shared.policy.subscription_expires;
                let desc = check_subscribe(req, packages, policy, existing)?;
                let subs = self.subs.get_or_insert_default();
                subs.current = Some(desc);
                subs.current_state = None;
                subs.current_pending = false;
                Ok(())
            }
            Method::Refer => check_refer(req),
            _ => Ok(()),
        }
    }

    /// Completes the handler's 2xx to a SUBSCRIBE or REFER: the duration
    /// granted in `Expires` (RFC 6665 §4.2.1.1: a 2xx to SUBSCRIBE carries
    /// it; a handler's own shorter value wins), and `Refer-Sub: false`
    /// when the REFER asked for no subscription (RFC 4488 §4).
    pub(crate) fn complete_usage_response(&mut self, req: &Request, resp: &mut Response) {
        if !resp.status.is_success() {
            return;
        }
        match req.method {
            Method::Subscribe => {
                let Some(desc) = self.subs.as_mut().and_then(|s| s.current.as_mut()) else {
                    return;
                };
                if let Some(Ok(Expires(own))) = resp.headers.typed::<Expires>() {
                    desc.expires = desc.expires.min(own);
                }
                resp.headers.set_typed(&Expires(desc.expires));
            }
            Method::Refer if refer_sub_false(req) => {
                resp.headers.remove("Refer-Sub");
                resp.headers
                    .push(crate::message::Header::new("Refer-Sub", "false"));
            }
            _ => {}
        }
    }

    /// Once the final response to a SUBSCRIBE or REFER is sent: a 2xx
    /// creates, refreshes or ends the subscription, and the NOTIFY that
    /// must follow goes out (RFC 6665 §4.2.1.2: "immediately", with the
    /// current state, or `pending` without it for a subscription the
    /// handler has not authorized yet; RFC 3515 §2.4.4: `100 Trying` for a
    /// new REFER). It does not wait for the NOTIFY's answer.
    pub(crate) fn after_usage_response(&mut self, req: &Request, resp_status: StatusCode) {
        let current = self.subs.as_mut().and_then(|s| s.current.take());
        let state = self.subs.as_mut().and_then(|s| s.current_state.take());
        let pending = self
            .subs
            .as_mut()
            .is_some_and(|s| std::mem::take(&mut s.current_pending));
        if !resp_status.is_success() {
            return;
        }
        let now = Instant::now().into_std();
        match (req.method.clone(), current) {
            (Method::Subscribe, Some(desc)) => {
                let subs = self.subs.get_or_insert_default();
                let found = subs
                    .usages
                    .iter()
                    .position(|u| !u.notifier.is_terminated() && u.notifier.matches(&desc.event));
                match (desc.kind, found) {
                    (SubscribeKind::New | SubscribeKind::Fetch, _) => {
                        let mut notifier = if pending {
                            Notifier::new_pending(desc.event, desc.expires, now)
                        } else {
                            Notifier::new(desc.event, desc.expires, now)
                        };
                        if desc.kind == SubscribeKind::Fetch {
                            // RFC 6665 §4.4.3: one NOTIFY with the state,
                            // and the subscription is over.
                            notifier.terminate("timeout");
                        }
                        subs.usages.push(Usage::new(notifier, state));
                    }
                    (SubscribeKind::Refresh, Some(i)) => {
                        // A pending subscription stays pending.
                        subs.usages[i].notifier.refresh(desc.expires, now);
                        if state.is_some() {
                            subs.usages[i].state = state;
                        }
                    }
                    (SubscribeKind::Unsubscribe, Some(i)) => {
                        // RFC 6665 §4.1.2.3: the last NOTIFY says so.
                        subs.usages[i].notifier.terminate("timeout");
                    }
                    (_, None) => return,
                }
            }
            (Method::Refer, _) if !refer_sub_false(req) => {
                let notifier = Notifier::new(refer_event(req), REFER_EXPIRES, now);
                let body = Bytes::from(sipfrag(StatusCode::TRYING));
                let subs = self.subs.get_or_insert_default();
                subs.usages
                    .push(Usage::new(notifier, Some((SIPFRAG.to_owned(), body))));
            }
            _ => return,
        }
        self.start_notifies();
        self.end_if_unused();
    }

    /// Tells the dialog whether subscriptions share it, and ends it when
    /// no usage is left on it: no INVITE usage and no subscription.
    pub(crate) fn end_if_unused(&mut self) {
        let subscribed = self.has_subscriptions();
        if let Some(d) = &mut self.dialog {
            d.set_subscribed(subscribed);
            if !self.invite_usage && !subscribed {
                d.terminate();
            }
        }
    }

    /// Whether the dialog has subscriptions (a terminated one counts
    /// until its last NOTIFY is answered).
    pub(crate) fn has_subscriptions(&self) -> bool {
        self.subs.as_ref().is_some_and(|s| !s.usages.is_empty())
    }

    /// When the first subscription expires.
    pub(crate) fn usage_deadline(&self) -> Option<Instant> {
        self.subs
            .as_ref()?
            .usages
            .iter()
            .filter_map(|u| u.notifier.poll_timeout())
            .min()
            .map(Instant::from_std)
    }

    /// Ends the subscriptions that expired with a NOTIFY saying `timeout`
    /// (RFC 6665 §4.2.2), pending ones included.
    pub(crate) fn usages_due(&mut self) {
        let now = Instant::now().into_std();
        if let Some(subs) = self.subs.as_mut() {
            for usage in &mut subs.usages {
                if usage.notifier.handle_timeout(now) {
                    info!(call_id = %self.id.call_id, package = %usage.notifier.event().package, "subscription expired");
                }
            }
        }
        self.start_notifies();
        self.end_if_unused();
    }

    /// Sends a REFER's progress report (RFC 3515 §2.4.5); a final status
    /// ends the implicit subscription (§2.4.7: `noresource`). Behind a
    /// NOTIFY in flight, the report waits, and a later one replaces it:
    /// the referrer learns the newest status (a final one is never lost).
    pub(crate) fn refer_report(&mut self, report: ReferReport) {
        let Some(usage) = self.subs.as_mut().and_then(|s| {
            s.usages.iter_mut().find(|u| {
                u.notifier.is_refer() && u.notifier.event().id() == Some(report.id.as_str())
            })
        }) else {
            debug!("REFER progress for no subscription: dropped");
            return;
        };
        if usage.notifier.is_terminated() {
            debug!("REFER progress after its final report: dropped");
            return;
        }
        usage.state = Some((SIPFRAG.to_owned(), Bytes::from(sipfrag(report.status))));
        if report.status.is_final() {
            usage.notifier.terminate("noresource");
        } else {
            usage.notifier.state_changed();
        }
        self.start_notifies();
        self.end_if_unused();
    }

    /// Sets the state of the application's subscriptions (not REFER's):
    /// the one being subscribed while `subscribe` runs, else all of them.
    pub(crate) fn set_state(&mut self, content_type: &str, body: Bytes) {
        let Some(subs) = self.subs.as_mut() else {
            return;
        };
        if subs.current.is_some() {
            subs.current_state = Some((content_type.to_owned(), body));
            return;
        }
        for u in subs.usages.iter_mut().filter(|u| !u.notifier.is_refer()) {
            u.state = Some((content_type.to_owned(), body.clone()));
        }
    }

    /// Accepts the SUBSCRIBE being handled as pending (RFC 6665
    /// §4.2.1.3); `false` unless it creates a subscription (a new one or
    /// a fetch): a refresh keeps the subscription's state.
    pub(crate) fn set_pending(&mut self) -> bool {
        let Some(subs) = self.subs.as_mut() else {
            return false;
        };
        let creates = subs
            .current
            .as_ref()
            .is_some_and(|c| matches!(c.kind, SubscribeKind::New | SubscribeKind::Fetch));
        if creates {
            subs.current_pending = true;
        }
        creates
    }

    /// Authorizes the application's pending subscriptions (RFC 6665
    /// §4.2.2: `pending` to `active`), each with a NOTIFY carrying the
    /// state; returns how many were pending.
    pub(crate) fn activate_subscriptions(&mut self) -> Result<usize, RequestError> {
        let Some(subs) = self.subs.as_mut() else {
            return Err(RequestError::NoSubscription);
        };
        // In `subscribe`: the subscription being created is not pending.
        let mut count = usize::from(std::mem::take(&mut subs.current_pending));
        let mut any = count > 0;
        for u in subs.usages.iter_mut().filter(|u| !u.notifier.is_refer()) {
            any = true;
            count += usize::from(u.notifier.activate());
        }
        if !any {
            return Err(RequestError::NoSubscription);
        }
        self.start_notifies();
        Ok(count)
    }

    /// Notifies the current state to every active subscription of the
    /// application (not REFER's; a pending one learns nothing, RFC 6665
    /// §6.2), or ends them all with `end` as the reason; returns how many
    /// were notified or ended. The NOTIFYs go out at once, or after the
    /// one in flight on the same subscription (coalesced); their
    /// outcomes come later.
    pub(crate) fn notify_subscriptions(
        &mut self,
        end: Option<&str>,
    ) -> Result<usize, RequestError> {
        let Some(subs) = self.subs.as_mut() else {
            return Err(RequestError::NoSubscription);
        };
        let mut any = false;
        let mut count = 0;
        for u in subs.usages.iter_mut().filter(|u| !u.notifier.is_refer()) {
            any = true;
            let n = &mut u.notifier;
            let counted = match end {
                Some(reason) if !n.is_terminated() => {
                    n.terminate(reason);
                    true
                }
                Some(_) => false,
                None => n.state_changed(),
            };
            count += usize::from(counted);
        }
        if !any {
            return Err(RequestError::NoSubscription);
        }
        self.start_notifies();
        self.end_if_unused();
        Ok(count)
    }

    /// Ends every subscription with a last NOTIFY (reason `noresource`;
    /// a REFER's with `487` as its final report) and waits, bounded, for
    /// the answers: the dialog is ending.
    pub(crate) async fn end_subscriptions(&mut self) {
        if let Some(subs) = self.subs.as_mut() {
            for usage in &mut subs.usages {
                if usage.notifier.is_refer() && !usage.notifier.is_terminated() {
                    let body = sipfrag(StatusCode::REQUEST_TERMINATED);
                    usage.state = Some((SIPFRAG.to_owned(), Bytes::from(body)));
                }
                usage.notifier.terminate("noresource");
            }
        }
        self.start_notifies();
        self.finish_notifies().await;
        // Whatever the answers, the usages go.
        if let Some(subs) = self.subs.as_mut() {
            subs.usages.clear();
        }
    }
}
