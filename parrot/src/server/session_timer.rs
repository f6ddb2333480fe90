//! Session timers on the server (RFC 4028): the `Session-Expires` our 2xx
//! to INVITE and UPDATE carry, the timer they start, and what the session
//! does when it fires — refresh with UPDATE (when the peer allows it) or
//! re-INVITE at half the interval when we are the refresher, and BYE when
//! the session expires unrefreshed (§10).

use super::duties::Duties;
use super::inbox::Mailbox;
use super::session_state::Session;
use crate::dialog::{
    Negotiated, SessionTimer, SessionTimerAction, SessionTimerConfig, uac_negotiated, uac_prepare,
    uas_negotiate,
};
use crate::message::{HeaderName, Method, Request, Response};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// What ends a session when its timer fires.
pub(crate) enum Fired {
    /// Nothing to do, or a refresh went out.
    GoOn,
    /// The session is over: send BYE (RFC 4028 §10).
    Expired,
    /// The peer says the dialog is gone (481): end without BYE.
    Gone,
}

impl<E: Send + 'static> Session<E> {
    /// The session timer settings for this call: the server's, with the
    /// handler's own interval if it set one. `None` when the server does
    /// not do session timers.
    fn timer_config(&self) -> Option<SessionTimerConfig> {
        let mut config = self.shared.policy.session_timer?;
        if let Some(secs) = self.timer_override {
            config.interval = std::time::Duration::from_secs(secs.into());
        }
        Some(config)
    }

    /// Completes our 2xx to an INVITE or UPDATE with `Session-Expires`
    /// (RFC 4028 §9) when a session timer applies: the request asks for
    /// one, the server or the handler imposes one, one is running, or the
    /// handler wrote its own `Session-Expires`.
    pub(crate) fn negotiate_timer(&mut self, req: &Request, resp: &mut Response) {
        if !resp.status.is_success() || !matches!(req.method, Method::Invite | Method::Update) {
            return;
        }
        let Some(config) = self.timer_config() else {
            return;
        };
        let applies = req.headers.contains(HeaderName::SessionExpires)
            || self.shared.policy.impose_timer
            || self.timer_override.is_some()
            || self.timer.is_some()
            || resp.headers.contains(HeaderName::SessionExpires);
        if applies {
            let negotiated = uas_negotiate(req, resp, &config);
            if let Some(p) = &mut self.pending {
                p.timer_written = negotiated.and_then(|n| {
                    let written = resp.headers.get(HeaderName::SessionExpires)?;
                    Some((written.clone(), n))
                });
            }
        }
    }

    /// Starts, restarts or stops the session timer with our 2xx `resp` to
    /// an INVITE or UPDATE, as sent: a 2xx without `Session-Expires` turns
    /// it off (§9).
    pub(crate) fn timer_from_response(&mut self, resp: &Response) {
        let Some(config) = self.timer_config() else {
            return;
        };
        // What completing the 2xx negotiated, while its Session-Expires
        // is still the one written then (a value decodes one way only).
        let written = self.pending.as_mut().and_then(|p| p.timer_written.take());
        if let Some((text, negotiated)) = written
            && resp.headers.get(HeaderName::SessionExpires) == Some(&text)
        {
            self.set_timer(Some(negotiated));
            return;
        }
        // Our 2xx as the peer reads it, turned around: `refresher=uas`
        // means us.
        let in_force = uac_negotiated(resp, &config, false).map(|n| Negotiated {
            we_refresh: !n.we_refresh,
            ..n
        });
        self.set_timer(in_force);
    }

    /// Puts `in_force` in force from now.
    fn set_timer(&mut self, in_force: Option<Negotiated>) {
        let now = Instant::now().into_std();
        match (in_force, &mut self.timer) {
            (Some(n), Some(t)) => t.refreshed(n, now),
            (Some(n), None) => self.timer = Some(Box::new(SessionTimer::new(n, now))),
            (None, _) => self.timer = None,
        }
        if let Some(n) = in_force {
            debug!(
                call_id = %self.id.call_id,
                interval = n.interval.as_secs(),
                we_refresh = n.we_refresh,
                "session timer set"
            );
        }
    }

    /// When the session timer next needs the session.
    /// When the session needs waking: its session timer or a
    /// subscription's expiry.
    pub(crate) fn wake_deadline(&self) -> Option<Instant> {
        match (self.timer_deadline(), self.usage_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn timer_deadline(&self) -> Option<Instant> {
        self.timer
            .as_ref()
            .and_then(|t| t.poll_timeout())
            .map(Instant::from_std)
    }

    /// Fires the session timer if it is due, sending the refresh while
    /// serving the session's duties.
    pub(crate) async fn timer_due(&mut self, mailbox: &mut Mailbox<'_, E>) -> Fired {
        let action = match &mut self.timer {
            Some(t) => t.handle_timeout(Instant::now().into_std()),
            None => None,
        };
        match action {
            None => Fired::GoOn,
            Some(SessionTimerAction::Expire) => {
                info!(call_id = %self.id.call_id, "session expired without a refresh (RFC 4028 §10)");
                Fired::Expired
            }
            Some(SessionTimerAction::Refresh) => {
                let duties = self.duties();
                Box::pin(self.refresh(duties, mailbox)).await
            }
        }
    }

    /// Sends UPDATE with `sdp` (or none) for the handler, carrying the
    /// session timer in force (a 2xx refreshes it, RFC 4028 §7.4).
    pub(crate) async fn update(
        &mut self,
        sdp: Option<bytes::Bytes>,
    ) -> Result<Response, crate::server::error::RequestError> {
        self.offer_refreshing(Method::Update, sdp).await
    }

    /// Sends `method` (UPDATE or re-INVITE) with `sdp` (or none) for the
    /// handler, carrying the session timer in force: a 2xx refreshes it
    /// (RFC 4028 §7.4, §8.1).
    pub(crate) async fn offer_refreshing(
        &mut self,
        method: Method,
        sdp: Option<bytes::Bytes>,
    ) -> Result<Response, crate::server::error::RequestError> {
        if self.dialog.is_none() {
            return Err(crate::server::error::RequestError::NoDialog);
        }
        let config = self.timer_config();
        let in_force = self.timer.as_ref().map(|t| t.negotiated());
        let resp = self
            .offer(method, sdp, |req| {
                if let (Some(c), Some(n)) = (&config, &in_force) {
                    uac_prepare(req, c, Some(n));
                }
            })
            .await?;
        if resp.status.is_success()
            && let (Some(c), Some(_)) = (&config, &in_force)
        {
            self.set_timer(uac_negotiated(&resp, c, true));
        }
        Ok(resp)
    }

    /// Refreshes the session (RFC 4028 §7.4, §10): an UPDATE without a
    /// body when the peer allows UPDATE, else a re-INVITE with the session
    /// description in force (unchanged, RFC 3264 §8); once more by
    /// re-INVITE if the UPDATE is refused as unknown.
    async fn refresh(&mut self, duties: Option<Duties>, mailbox: &mut Mailbox<'_, E>) -> Fired {
        let (Some(config), Some(in_force)) = (
            self.timer_config(),
            self.timer.as_ref().map(|t| t.negotiated()),
        ) else {
            return Fired::GoOn;
        };
        loop {
            let (method, body) = if self.peer_allows_update {
                (Method::Update, None)
            } else {
                (Method::Invite, self.local_sdp.clone())
            };
            info!(call_id = %self.id.call_id, %method, "refreshing the session");
            let sent = self.offer(method.clone(), body, |req| {
                uac_prepare(req, &config, Some(&in_force))
            });
            let result = match &duties {
                Some(d) => d.serve_while(sent, mailbox).await,
                None => sent.await,
            };
            let resp = match result {
                Ok(resp) => resp,
                Err(e) => {
                    // The session expires unless the peer refreshes it.
                    warn!(error = %e, "session refresh not sent");
                    return Fired::GoOn;
                }
            };
            match resp.status.as_u16() {
                200..=299 => {
                    let in_force = uac_negotiated(&resp, &config, true);
                    self.set_timer(in_force);
                    return Fired::GoOn;
                }
                // §10: a refresh that times out or gets 408/481 ends the
                // session.
                408 => return Fired::Expired,
                481 => return Fired::Gone,
                405 | 501 if method == Method::Update => {
                    debug!("UPDATE refused: refreshing by re-INVITE");
                    self.peer_allows_update = false;
                }
                _ => {
                    warn!(status = %resp.status, "session refresh refused");
                    return Fired::GoOn;
                }
            }
        }
    }
}
