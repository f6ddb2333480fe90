//! Session timers (RFC 4028) as sans-IO logic: the negotiation of the
//! session interval and of who refreshes, on both sides of an INVITE or
//! UPDATE, and the timer that says when to refresh and when to give up.
//!
//! Nothing here sends anything or reads a clock. A UAS calls
//! [`uas_check`] on an incoming INVITE or UPDATE (a 422 to send, or go on)
//! and [`uas_negotiate`] on the 2xx it is about to send; a UAC calls
//! [`uac_prepare`] on its outgoing INVITE or UPDATE, [`uac_retry_config`]
//! after a 422 and [`uac_negotiated`] on the 2xx. Either way the result is
//! a [`Negotiated`], which drives a [`SessionTimer`]: the runtime sleeps
//! until [`SessionTimer::poll_timeout`], calls
//! [`SessionTimer::handle_timeout`] and sends the refresh or the BYE it
//! asks for.
//!
//! ```
//! use parrot::dialog::{SessionTimer, SessionTimerAction, SessionTimerConfig, uas_negotiate};
//! use parrot::message::{Message, StatusCode, parse_datagram};
//! use std::time::{Duration, Instant};
//!
//! let invite = "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
//!     Max-Forwards: 70\r\n\
//!     To: Bob <sip:bob@biloxi.com>\r\n\
//!     From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
//!     Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
//!     CSeq: 314159 INVITE\r\n\
//!     Supported: timer\r\n\
//!     Session-Expires: 600\r\n\
//!     Content-Length: 0\r\n\r\n";
//! let Message::Request(invite) = parse_datagram(invite.into()).unwrap() else { panic!() };
//!
//! // The UAC supports timers and left the refresher to us: it refreshes.
//! let mut ok = invite.reply(StatusCode::OK);
//! let n = uas_negotiate(&invite, &mut ok, &SessionTimerConfig::default()).unwrap();
//! assert_eq!(ok.headers.get("session-expires").unwrap(), "600;refresher=uac");
//! assert_eq!(ok.headers.get("require").unwrap(), "timer");
//! assert!(!n.we_refresh);
//!
//! // Without a refresh, we send BYE 32 s before the 600 s are up.
//! let t0 = Instant::now();
//! let mut timer = SessionTimer::new(n, t0);
//! assert_eq!(timer.poll_timeout(), Some(t0 + Duration::from_secs(568)));
//! assert_eq!(timer.handle_timeout(t0 + Duration::from_secs(568)), Some(SessionTimerAction::Expire));
//! ```

use crate::message::typed::{MinSe, Refresher, SessionExpires};
use crate::message::{HeaderName, Headers, Method, Request, Response, StatusCode};
use std::time::{Duration, Instant};

/// The smallest session interval any element may ask for (RFC 4028 §4,
/// §5: Min-SE, and so any Session-Expires, is never below 90 s).
const ABSOLUTE_MIN_SE: Duration = Duration::from_secs(90);

/// The interval RFC 4028 §4 recommends.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1800);

/// The option tag of the extension (RFC 4028 §3).
pub const TAG_TIMER: &str = "timer";

/// Server- or client-wide session timer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// The interval we ask for / grant (default 1800 s, RFC 4028 §4
    /// recommends 1800).
    pub interval: Duration,
    /// The smallest interval we accept (default and floor 90 s, RFC 4028
    /// §4/§5: Min-SE never below 90).
    pub min_se: Duration,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        SessionTimerConfig {
            interval: DEFAULT_INTERVAL,
            min_se: ABSOLUTE_MIN_SE,
        }
    }
}

impl SessionTimerConfig {
    /// Settings that ask for / grant `interval`, with the smallest
    /// `min_se` allowed (90 s).
    pub fn new(interval: Duration) -> Self {
        SessionTimerConfig {
            interval,
            min_se: ABSOLUTE_MIN_SE,
        }
    }

    /// The same settings with `min_se` as the smallest interval accepted,
    /// raised to 90 s if lower (RFC 4028 §5).
    pub fn min_se(self, d: Duration) -> Self {
        SessionTimerConfig {
            min_se: d.max(ABSOLUTE_MIN_SE),
            ..self
        }
    }

    /// The Min-SE in force: the fields are public, so the 90 s floor is
    /// applied again here (RFC 4028 §5).
    fn floor(&self) -> Duration {
        self.min_se.max(ABSOLUTE_MIN_SE)
    }

    /// The interval we ask for: never below our own Min-SE, which would
    /// have us refuse our own request.
    fn ask(&self) -> Duration {
        self.interval.max(self.floor())
    }
}

/// The outcome of a negotiation: the interval in force and whether we
/// send the refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The session interval: the longest the session lives without a
    /// refresh (RFC 4028 §3).
    pub interval: Duration,
    /// Whether this side is the refresher (and so sends the refreshes,
    /// RFC 4028 §10).
    pub we_refresh: bool,
    /// The `refresher` parameter of the transaction that negotiated it:
    /// `Uac` for the side that sent the INVITE or UPDATE, `Uas` for the
    /// side that answered it.
    pub refresher: Refresher,
}

/// UAS (RFC 4028 §8.1 / §9): `Some(422 Session Interval Too Small)` with
/// `Min-SE: <ours>` when an INVITE or UPDATE carries a Session-Expires
/// smaller than our `min_se`; `None` to go on.
///
/// As §9 says, the 422 is only sent to a UAC that supports the extension
/// (`timer` in its Supported or Require): without it, the Session-Expires
/// was put in by a proxy and the UAC could not act on a 422, so the
/// request goes on and [`uas_negotiate`] works with the interval given. A
/// Session-Expires that does not parse counts as absent.
pub fn uas_check(req: &Request, config: &SessionTimerConfig) -> Option<Response> {
    if !is_session_method(&req.method) || !req.headers.supports(TAG_TIMER) {
        return None;
    }
    let se = session_expires(&req.headers)?;
    let floor = config.floor();
    if secs_to_duration(se.delta) >= floor {
        return None;
    }
    // §9: the 422 carries our minimum, which the UAC retries with (§7.3).
    let mut resp = req.reply(StatusCode::SESSION_INTERVAL_TOO_SMALL);
    resp.headers.push_typed(&MinSe(duration_to_secs(floor)));
    Some(resp)
}

/// UAS (RFC 4028 §9): completes our 2xx `resp` to the INVITE or UPDATE
/// `req` with `Session-Expires` (and `Require: timer` when the UAC
/// supports the extension) and returns what is then in force.
///
/// The interval:
/// * a Session-Expires already in `resp` (the handler's per-call choice)
///   is kept as it is;
/// * else, when `req` has one, ours (`config.interval`) if smaller, as §9
///   lets the UAS reduce it, but never below the request's Min-SE and
///   never above the request's value (§9: the UAS "MUST NOT increase" it);
/// * else `config.interval`, raised to the request's Min-SE if that is
///   higher: a UAS may start a session timer the UAC did not ask for (§9).
///
/// The refresher (the table of §9): `uas` when the UAC does not support
/// the extension (it would never refresh), even if the handler or the
/// request said otherwise; else the handler's choice, else the request's
/// `refresher` parameter, else `uac`.
///
/// `None`, with `resp` untouched, when `resp` is not a 2xx or the method is
/// not INVITE or UPDATE.
pub fn uas_negotiate(
    req: &Request,
    resp: &mut Response,
    config: &SessionTimerConfig,
) -> Option<Negotiated> {
    if !is_session_method(&req.method) || !resp.status.is_success() {
        return None;
    }
    let supported = req.headers.supports(TAG_TIMER);
    let requested = session_expires(&req.headers);
    let mut se = match session_expires(&resp.headers) {
        Some(own) => own,
        None => {
            let floor = min_se(&req.headers).unwrap_or(Duration::ZERO);
            let interval = config.ask().max(floor);
            let interval = match &requested {
                Some(r) => interval.min(secs_to_duration(r.delta)),
                None => interval,
            };
            SessionExpires::new(duration_to_secs(interval), None)
        }
    };
    let refresher = if supported {
        se.refresher
            .or(requested.and_then(|r| r.refresher))
            .unwrap_or(Refresher::Uac)
    } else {
        Refresher::Uas
    };
    se.refresher = Some(refresher);
    resp.headers.set_typed(&se);
    // §9: Require: timer MUST accompany refresher=uac and SHOULD accompany
    // refresher=uas when the UAC supports timers; a UAC that does not
    // would refuse a 2xx requiring what it does not know.
    if supported {
        add_option_tag(&mut resp.headers, HeaderName::Require, TAG_TIMER);
    }
    Some(Negotiated {
        interval: secs_to_duration(se.delta),
        we_refresh: refresher == Refresher::Uas,
        refresher,
    })
}

/// UAC (RFC 4028 §7.1, §7.4): adds to an outgoing INVITE or UPDATE
/// `Supported: timer` (merged into an existing Supported),
/// `Session-Expires` and `Min-SE`, replacing any Session-Expires or Min-SE
/// already there. Other methods are left untouched.
///
/// `in_force` is `None` for an initial request: Session-Expires is then
/// `config.interval` without a refresher, leaving the choice to the UAS
/// (§7.1). For a refresh it is the current negotiation: Session-Expires
/// repeats the current interval (§7.4) with `refresher=uac` when we
/// refresh and `refresher=uas` when the peer does, so that a re-INVITE or
/// UPDATE sent for another reason does not swap the roles.
///
/// Min-SE is our `min_se`, lowered to the Session-Expires if that is
/// smaller, so that the request never asks for an interval below its own
/// minimum.
pub fn uac_prepare(req: &mut Request, config: &SessionTimerConfig, in_force: Option<&Negotiated>) {
    if !is_session_method(&req.method) {
        return;
    }
    let (interval, refresher) = match in_force {
        None => (config.ask(), None),
        Some(n) => {
            let r = if n.we_refresh {
                Refresher::Uac
            } else {
                Refresher::Uas
            };
            (n.interval, Some(r))
        }
    };
    add_option_tag(&mut req.headers, HeaderName::Supported, TAG_TIMER);
    req.headers
        .set_typed(&SessionExpires::new(duration_to_secs(interval), refresher));
    req.headers
        .set_typed(&MinSe(duration_to_secs(config.floor().min(interval))));
}

/// UAC (RFC 4028 §7.2): what a 2xx to our INVITE or UPDATE puts in force.
///
/// * With a Session-Expires, its `refresher` decides: `uac` means we
///   refresh, `uas` the peer. §7.2 says a 2xx with Session-Expires "will"
///   have a refresher; if it does not, we take the role, since a needless
///   refresh costs one transaction while no refresher loses the call.
/// * Without one (or with one that does not parse) there is no session
///   timer, even mid-dialog: a 2xx without Session-Expires turns it off
///   (§7.2). Unless `want`: §7.2 lets a UAC that asked for a timer keep one
///   for its own sake, refreshing with the interval it asked for
///   (`config.interval`, as given to [`uac_prepare`]).
///
/// `None` for a response that is not a 2xx or not to INVITE or UPDATE.
pub fn uac_negotiated(
    resp: &Response,
    config: &SessionTimerConfig,
    want: bool,
) -> Option<Negotiated> {
    if !resp.status.is_success() {
        return None;
    }
    if let Some(cseq) = resp.headers.cseq()
        && !is_session_method(&cseq.method)
    {
        return None;
    }
    match session_expires(&resp.headers) {
        Some(se) => {
            let refresher = se.refresher.unwrap_or(Refresher::Uac);
            Some(Negotiated {
                interval: secs_to_duration(se.delta),
                we_refresh: refresher == Refresher::Uac,
                refresher,
            })
        }
        None if want => Some(Negotiated {
            interval: config.ask(),
            we_refresh: true,
            refresher: Refresher::Uac,
        }),
        None => None,
    }
}

/// UAC (RFC 4028 §7.3): the settings to retry with after a 422 Session
/// Interval Too Small: the interval raised to the 422's Min-SE if that is
/// higher, and the 422's Min-SE as our Min-SE if that is higher (§7.3: the
/// retry carries the largest Min-SE seen). Pass the result to
/// [`uac_prepare`] for the retried request.
///
/// `None` if `resp` is not a 422 or has no Min-SE that parses. The caller
/// retries once: a 422 whose Min-SE is not above what we asked for would
/// only be answered by another 422.
pub fn uac_retry_config(
    resp: &Response,
    config: &SessionTimerConfig,
) -> Option<SessionTimerConfig> {
    if resp.status != StatusCode::SESSION_INTERVAL_TOO_SMALL {
        return None;
    }
    let MinSe(m) = resp.headers.typed::<MinSe>()?.ok()?;
    let m = secs_to_duration(m);
    Some(SessionTimerConfig {
        interval: config.ask().max(m),
        min_se: config.floor().max(m),
    })
}

/// UAC (RFC 4028 §7.3): the Session-Expires to retry with after a 422:
/// the larger of the 422's Min-SE and our interval. `None` if the 422 has
/// no usable Min-SE (see [`uac_retry_config`], which also gives the Min-SE
/// to retry with).
pub fn uac_retry_interval(resp: &Response, config: &SessionTimerConfig) -> Option<Duration> {
    uac_retry_config(resp, config).map(|c| c.interval)
}

/// What a running session timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerAction {
    /// We are the refresher and half the interval has passed: send a
    /// refresh (UPDATE or re-INVITE).
    Refresh,
    /// The session expired without a refresh (§10: the non-refresher sends
    /// BYE at interval - min(32 s, interval/3); the refresher too if its
    /// refreshes never succeeded by then): send BYE and end the dialog.
    Expire,
}

/// The sans-IO session timer of one dialog (in the style of quinn-proto):
/// the runtime asks [`SessionTimer::poll_timeout`] when to wake up, calls
/// [`SessionTimer::handle_timeout`] then, and reports every successful
/// refresh with [`SessionTimer::refreshed`].
///
/// Both deadlines run from the last (re)start (RFC 4028 §10):
/// * the refresh, for the refresher only, at half the interval;
/// * the expiry, for both sides, at the interval minus min(32 s, a third
///   of the interval), so the BYE goes out before the peer or a proxy
///   drops the session.
#[derive(Debug, Clone)]
pub struct SessionTimer {
    negotiated: Negotiated,
    /// When to ask for a refresh; `None` for the non-refresher and once
    /// the refresh of this interval has been asked for.
    refresh_at: Option<Instant>,
    /// When the session expires; `None` if that is too far away for an
    /// `Instant`.
    expire_at: Option<Instant>,
    /// Whether [`SessionTimerAction::Expire`] has been returned.
    expired: bool,
}

impl SessionTimer {
    /// A timer for `negotiated`, started at `now` (when the 2xx that
    /// negotiated it was sent or received).
    pub fn new(negotiated: Negotiated, now: Instant) -> Self {
        let interval = negotiated.interval;
        SessionTimer {
            negotiated,
            // §10: "half the session expiration" is when the refresher
            // sends its refresh.
            refresh_at: negotiated
                .we_refresh
                .then(|| now.checked_add(interval / 2))
                .flatten(),
            // §10: the BYE goes "slightly before" expiry, by the minimum
            // of 32 s and a third of the interval.
            expire_at: now.checked_add(interval - expiry_margin(interval)),
            expired: false,
        }
    }

    /// The negotiation in force.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// Whether the session has expired ([`SessionTimerAction::Expire`] was
    /// returned and no refresh came since).
    pub fn is_expired(&self) -> bool {
        self.expired
    }

    /// The next instant something is due; `None` once expired.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.expired {
            return None;
        }
        match (self.refresh_at, self.expire_at) {
            (Some(r), Some(e)) => Some(r.min(e)),
            (r, e) => r.or(e),
        }
    }

    /// Advances to `now`; returns what is due. Refresh at most once per
    /// interval: after Refresh is returned, the next due thing is Expire
    /// unless [`SessionTimer::refreshed`] is called. When the expiry has
    /// passed too (a late wake-up), Expire wins: a refresh would come too
    /// late.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<SessionTimerAction> {
        if self.expired {
            return None;
        }
        if self.expire_at.is_some_and(|t| now >= t) {
            self.expired = true;
            self.refresh_at = None;
            return Some(SessionTimerAction::Expire);
        }
        if self.refresh_at.is_some_and(|t| now >= t) {
            self.refresh_at = None;
            return Some(SessionTimerAction::Refresh);
        }
        None
    }

    /// A refresh succeeded (a 2xx to a re-INVITE or UPDATE in either
    /// direction, RFC 4028 §10): restarts with what is now in force.
    pub fn refreshed(&mut self, negotiated: Negotiated, now: Instant) {
        *self = SessionTimer::new(negotiated, now);
    }
}

/// How long before the end of `interval` the session counts as expired:
/// min(32 s, interval / 3) (RFC 4028 §10).
fn expiry_margin(interval: Duration) -> Duration {
    (interval / 3).min(Duration::from_secs(32))
}

/// Session-Expires and Min-SE are only for INVITE and UPDATE (RFC 4028 §4).
fn is_session_method(m: &Method) -> bool {
    matches!(m, Method::Invite | Method::Update)
}

/// Adds `tag` to the option-tag list `name` unless it is already there:
/// to the existing value (one field, the others merged into it, which
/// means the same, RFC 3261 §7.3.1), else as a new field.
fn add_option_tag(h: &mut Headers, name: HeaderName, tag: &str) {
    if h.values(name).any(|t| t.eq_ignore_ascii_case(tag)) {
        return;
    }
    let mut tags: Vec<&str> = h.values(name).collect();
    if tags.is_empty() {
        h.append(name, tag.to_owned());
    } else {
        tags.push(tag);
        let value = tags.join(", ");
        h.set(name, value);
    }
}

/// The Session-Expires of `h`, if present and well-formed.
fn session_expires(h: &Headers) -> Option<SessionExpires> {
    h.typed::<SessionExpires>()?.ok()
}

/// The Min-SE of `h`, if present and well-formed.
fn min_se(h: &Headers) -> Option<Duration> {
    h.typed::<MinSe>()?.ok().map(|MinSe(s)| secs_to_duration(s))
}

fn secs_to_duration(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// Whole seconds, clamped to the largest delta-seconds (RFC 3261 §25.1
/// values stop at 2**32-1 in practice).
fn duration_to_secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
