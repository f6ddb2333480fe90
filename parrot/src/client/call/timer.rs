//! The session timer of a call (RFC 4028), on the caller's side: what the
//! 2xx to our INVITE put in force (§7.2), the headers our UPDATEs and
//! re-INVITEs carry (§7.4), the peer's refreshes answered as a UAS would
//! (§9), and the timer that says when we refresh and when the session is
//! over (§10). The requests themselves go out through the session
//! (`session.rs`).

use crate::dialog::{
    Negotiated, SessionTimer, SessionTimerAction, SessionTimerConfig, TAG_TIMER, uac_negotiated,
    uac_prepare, uas_check, uas_negotiate,
};
use crate::message::{HeaderName, Method, Request, Response};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info};

/// The session timer state of an established call.
pub(super) struct CallTimer {
    /// Our settings: the client's (raised after a 422), or the defaults
    /// when the client supports timers only passively.
    config: SessionTimerConfig,
    /// Whether the client asked for a session timer: then it keeps one
    /// even when a 2xx sets none (§7.2).
    want: bool,
    /// The timer in force, if any.
    timer: Option<SessionTimer>,
    /// Whether we refresh with UPDATE (the peer allows it, §10), else with
    /// re-INVITE.
    pub(super) peer_allows_update: bool,
    /// A refresh fell due while another request of ours was in progress:
    /// sent once that one ends without a 2xx (a 2xx refreshes anyway).
    pub(super) refresh_due: bool,
    /// The interval in force, for [`Call::session_interval`](super::Call::session_interval).
    published: watch::Sender<Option<Duration>>,
}

impl CallTimer {
    /// The timer the 2xx `ok` to our INVITE puts in force (§7.2), with
    /// `config` the settings we asked with (`None`: passive support);
    /// `published` receives the interval in force.
    pub(super) fn from_2xx(
        config: Option<SessionTimerConfig>,
        ok: &Response,
        published: watch::Sender<Option<Duration>>,
    ) -> CallTimer {
        let mut t = CallTimer {
            config: config.unwrap_or_default(),
            want: config.is_some(),
            timer: None,
            // §10: "the refresher ... SHOULD use UPDATE if the other side
            // supports it" — as its Allow says.
            peer_allows_update: ok.headers.lists(HeaderName::Allow, "UPDATE"),
            refresh_due: false,
            published,
        };
        let in_force = uac_negotiated(ok, &t.config, t.want);
        t.set(in_force);
        t
    }

    /// The negotiation in force, if a timer runs.
    pub(super) fn in_force(&self) -> Option<Negotiated> {
        self.timer.as_ref().map(|t| t.negotiated())
    }

    /// When the timer next needs the call.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.timer
            .as_ref()
            .and_then(|t| t.poll_timeout())
            .map(Instant::from_std)
    }

    /// Fires the timer if it is due: a refresh to send, or the end.
    pub(super) fn fire(&mut self) -> Option<SessionTimerAction> {
        let action = self
            .timer
            .as_mut()?
            .handle_timeout(Instant::now().into_std());
        if action == Some(SessionTimerAction::Expire) {
            info!("session expired without a refresh (RFC 4028 §10)");
        }
        action
    }

    /// Completes an UPDATE or re-INVITE of ours: `Supported: timer`, and
    /// while a timer runs the Session-Expires and Min-SE in force with the
    /// same refresher (§7.4), so that any 2xx to it refreshes the session.
    pub(super) fn prepare(&self, req: &mut Request) {
        match self.in_force() {
            Some(n) => uac_prepare(req, &self.config, Some(&n)),
            None if !req.headers.lists(HeaderName::Supported, TAG_TIMER) => {
                req.headers.append(HeaderName::Supported, TAG_TIMER);
            }
            None => {}
        }
    }

    /// A 2xx to our UPDATE or re-INVITE: what it puts in force (§7.2
    /// applied to the refresh, §7.4) restarts the timer (§10). A timer we
    /// had or asked for is kept even if the 2xx names none.
    pub(super) fn on_our_2xx(&mut self, resp: &Response) {
        let keep = self.want || self.timer.is_some();
        let in_force = uac_negotiated(resp, &self.config, keep);
        self.set(in_force);
    }

    /// §9: the `422` (with our Min-SE) for the peer's INVITE or UPDATE
    /// asking for a Session-Expires below it; `None` to go on.
    pub(super) fn check(&self, req: &Request) -> Option<Response> {
        uas_check(req, &self.config)
    }

    /// Completes our 2xx `resp` to the peer's UPDATE or re-INVITE `req`
    /// (a refresh from the peer, §9) when a timer runs or the request asks
    /// for one, and puts what it says in force from now (§10).
    pub(super) fn answer(&mut self, req: &Request, resp: &mut Response) {
        if !resp.status.is_success() || !matches!(req.method, Method::Invite | Method::Update) {
            return;
        }
        let asked = req.headers.contains(HeaderName::SessionExpires);
        let config = match (asked, self.in_force()) {
            (false, None) => return,
            // §9: without a Session-Expires in the request, the UAS may
            // put one in its 2xx: the interval already in force.
            (false, Some(n)) => SessionTimerConfig {
                interval: n.interval,
                ..self.config
            },
            (true, _) => self.config,
        };
        if uas_negotiate(req, resp, &config).is_none() {
            return;
        }
        // Our 2xx as the peer reads it, turned around: in it,
        // `refresher=uas` means us.
        let in_force = uac_negotiated(resp, &self.config, false).map(|n| Negotiated {
            we_refresh: !n.we_refresh,
            ..n
        });
        self.set(in_force);
    }

    /// Puts `in_force` in force from now (`None` stops the timer).
    fn set(&mut self, in_force: Option<Negotiated>) {
        let now = Instant::now().into_std();
        match (in_force, &mut self.timer) {
            (Some(n), Some(t)) => t.refreshed(n, now),
            (Some(n), None) => self.timer = Some(SessionTimer::new(n, now)),
            (None, _) => self.timer = None,
        }
        self.refresh_due = false;
        match in_force {
            Some(n) => debug!(
                interval = n.interval.as_secs(),
                we_refresh = n.we_refresh,
                "session timer set"
            ),
            None => debug!("no session timer"),
        }
        self.published.send_replace(in_force.map(|n| n.interval));
    }
}
