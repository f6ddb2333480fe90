//! Subscription usages of a UAS dialog (RFC 6665 §4.2, and REFER's
//! implicit subscription, RFC 3515 §2.4): the runtime's checks on a
//! SUBSCRIBE or REFER before the handler runs, the `Expires` its 2xx must
//! carry, the NOTIFY every accepted SUBSCRIBE or REFER calls for, expiry,
//! and the NOTIFYs reporting a REFER's progress. A dialog may carry an
//! INVITE usage and subscription usages at once (RFC 5057); it ends when
//! the last one does.

use super::error::RequestError;
use super::inbox::Mailbox;
use super::inbox::ReferReport;
use super::session_state::Session;
use super::usage::{REFER_EXPIRES, Usage};
use crate::dialog::{
    Notifier, SIPFRAG, SubscribeKind, check_refer, check_subscribe, refer_event, refer_sub_false,
    sipfrag,
};
use crate::message::typed::Expires;
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
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
                let existing = self
                    .subs
                    .iter()
                    .flat_map(|s| s.usages.iter().map(|u| &u.notifier));
                let policy = &self.shared.policy.subscription_expires;
                let desc = check_subscribe(req, packages, policy, existing)?;
                let subs = self.subs.get_or_insert_default();
                subs.current = Some(desc);
                subs.current_state = None;
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
    /// current state; RFC 3515 §2.4.4: `100 Trying` for a new REFER).
    pub(crate) async fn after_usage_response(&mut self, req: &Request, resp_status: StatusCode) {
        let current = self.subs.as_mut().and_then(|s| s.current.take());
        let state = self.subs.as_mut().and_then(|s| s.current_state.take());
        if !resp_status.is_success() {
            return;
        }
        let now = Instant::now().into_std();
        let index = match (req.method.clone(), current) {
            (Method::Subscribe, Some(desc)) => {
                let subs = self.subs.get_or_insert_default();
                let found = subs
                    .usages
                    .iter()
                    .position(|u| u.notifier.matches(&desc.event));
                match (desc.kind, found) {
                    (SubscribeKind::New | SubscribeKind::Fetch, _) => {
                        let mut notifier = Notifier::new(desc.event, desc.expires, now);
                        if desc.kind == SubscribeKind::Fetch {
                            // RFC 6665 §4.4.3: one NOTIFY with the state,
                            // and the subscription is over.
                            notifier.terminate("timeout");
                        }
                        subs.usages.push(Usage { notifier, state });
                        subs.usages.len() - 1
                    }
                    (SubscribeKind::Refresh, Some(i)) => {
                        subs.usages[i].notifier.refresh(desc.expires, now);
                        if state.is_some() {
                            subs.usages[i].state = state;
                        }
                        i
                    }
                    (SubscribeKind::Unsubscribe, Some(i)) => {
                        // RFC 6665 §4.1.2.3: the last NOTIFY says so.
                        subs.usages[i].notifier.terminate("timeout");
                        i
                    }
                    (_, None) => return,
                }
            }
            (Method::Refer, _) if !refer_sub_false(req) => {
                let notifier = Notifier::new(refer_event(req), REFER_EXPIRES, now);
                let body = Bytes::from(sipfrag(StatusCode::TRYING));
                let subs = self.subs.get_or_insert_default();
                subs.usages.push(Usage {
                    notifier,
                    state: Some((SIPFRAG.to_owned(), body)),
                });
                subs.usages.len() - 1
            }
            _ => return,
        };
        self.notify_usage(index).await;
        self.end_if_unused();
    }

    /// Sends the NOTIFY of usage `index` with its state now, and removes
    /// the usage if it is terminated or the NOTIFY failed (RFC 6665
    /// §4.2.2).
    pub(crate) async fn notify_usage(&mut self, index: usize) -> Option<Response> {
        let usage = self.subs.as_ref()?.usages.get(index)?;
        let event = usage.notifier.event().clone();
        let state = usage.notifier.state(Instant::now().into_std());
        let body = usage.state.clone();
        debug!(call_id = %self.id.call_id, package = %event.package, %state, "sending NOTIFY");
        let sent = self
            .send_in_dialog(Method::Notify, None, move |req| {
                req.headers.push_typed(&event);
                req.headers.push_typed(&state);
                if let Some((content_type, bytes)) = body {
                    req.headers.set(HeaderName::ContentType, content_type);
                    req.body = bytes;
                }
            })
            .await;
        let status = match &sent {
            Ok(resp) => resp.status,
            Err(_) => StatusCode::REQUEST_TIMEOUT,
        };
        let subs = self.subs.as_mut()?;
        let usage = subs.usages.get_mut(index)?;
        if usage.notifier.notify_answered(status) || usage.notifier.is_terminated() {
            if !status.is_success() {
                info!(%status, "NOTIFY refused: subscription removed");
            }
            subs.usages.remove(index);
        }
        sent.ok()
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

    /// Whether the dialog has subscriptions.
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
    /// (RFC 6665 §4.2.2).
    pub(crate) async fn usages_due(&mut self) {
        let now = Instant::now().into_std();
        while let Some(i) = self.subs.as_mut().and_then(|s| {
            s.usages
                .iter_mut()
                .position(|u| u.notifier.handle_timeout(now))
        }) {
            info!(call_id = %self.id.call_id, "subscription expired");
            self.notify_usage(i).await;
        }
        self.end_if_unused();
    }

    /// Sends a REFER's progress report (RFC 3515 §2.4.5); a final status
    /// ends the implicit subscription (§2.4.7: `noresource`).
    pub(crate) async fn refer_report(&mut self, report: ReferReport) {
        let Some(i) = self.subs.as_ref().and_then(|s| {
            s.usages.iter().position(|u| {
                u.notifier.is_refer() && u.notifier.event().id() == Some(report.id.as_str())
            })
        }) else {
            debug!("REFER progress for no subscription: dropped");
            return;
        };
        if let Some(usage) = self.subs.as_mut().and_then(|s| s.usages.get_mut(i)) {
            usage.state = Some((SIPFRAG.to_owned(), Bytes::from(sipfrag(report.status))));
            if report.status.is_final() {
                usage.notifier.terminate("noresource");
            }
        }
        self.notify_usage(i).await;
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

    /// Sends a NOTIFY with the current state on every subscription of the
    /// application (not REFER's), or ends them with `end` as the reason;
    /// returns how many were notified.
    pub(crate) async fn notify_subscriptions(
        &mut self,
        end: Option<&str>,
    ) -> Result<usize, RequestError> {
        let mut sent = 0;
        let mut i = 0;
        while let Some(subs) = self.subs.as_mut()
            && let Some(usage) = subs.usages.get_mut(i)
        {
            if usage.notifier.is_refer() {
                i += 1;
                continue;
            }
            if let Some(reason) = end {
                usage.notifier.terminate(reason);
            }
            let before = subs.usages.len();
            self.notify_usage(i).await;
            sent += 1;
            if self.subs.as_ref().is_some_and(|s| s.usages.len() == before) {
                i += 1;
            }
        }
        self.end_if_unused();
        if sent == 0 {
            return Err(RequestError::NoSubscription);
        }
        Ok(sent)
    }

    /// Ends every subscription with a last NOTIFY (reason `noresource`;
    /// a REFER's with `487` as its final report): the dialog is ending.
    pub(crate) async fn end_subscriptions(&mut self) {
        while let Some(usage) = self.subs.as_mut().and_then(|s| s.usages.first_mut()) {
            if usage.notifier.is_refer() {
                let body = sipfrag(StatusCode::REQUEST_TERMINATED);
                usage.state = Some((SIPFRAG.to_owned(), Bytes::from(body)));
            }
            usage.notifier.terminate("noresource");
            let before = self.subs.as_ref().map_or(0, |s| s.usages.len());
            // Whatever the answer (Timer F bounds the wait), the usage goes.
            self.notify_usage(0).await;
            if let Some(subs) = self.subs.as_mut()
                && subs.usages.len() == before
            {
                subs.usages.remove(0);
            }
        }
    }
}

/// Runs `fut` while serving the session's duties, if it has any.
pub(crate) async fn serving<E: Send + 'static, F: std::future::Future>(
    duties: Option<super::duties::Duties>,
    fut: F,
    mailbox: &mut Mailbox<'_, E>,
) -> F::Output {
    match duties {
        Some(d) => d.serve_while(fut, mailbox).await,
        None => fut.await,
    }
}
