//! One subscription at the subscriber (RFC 6665 §4.1) as sans-IO state:
//! the checks on a NOTIFY, the duration in force, when to refresh and when
//! the subscription is over.
//!
//! A subscription forked by the network has one [`Subscriber`] per dialog
//! (RFC 6665 §4.1.2.4: each NOTIFY with a new From tag creates its own
//! dialog and subscription). Time is passed in as [`Instant`]s.

use crate::message::typed::{Event, SubscriptionState};
use crate::message::{HeaderName, Request, Response, StatusCode};
use std::time::{Duration, Instant};

/// How long before a subscription expires its refresh goes out, at the
/// most: 32 s, the time a non-INVITE transaction may take over UDP (Timer
/// F, 64·T1, RFC 3261 §17.1.2.2), so that the refresh is answered before
/// the subscription runs out.
const REFRESH_MARGIN: u32 = 32;

/// When a subscription granted for `expires` seconds is refreshed, from
/// the moment it was granted (RFC 6665 §4.1.2.2: "the subscriber will
/// need to refresh" before it expires): after 80% of the duration, or
/// 32 seconds before expiry if that is earlier, but never
/// before half the duration.
///
/// ```
/// use parrot::dialog::refresh_delay;
/// use std::time::Duration;
///
/// assert_eq!(refresh_delay(600), Duration::from_secs(480));
/// assert_eq!(refresh_delay(100), Duration::from_secs(68));
/// assert_eq!(refresh_delay(60), Duration::from_secs(30));
/// ```
pub fn refresh_delay(expires: u32) -> Duration {
    let eighty = expires / 5 * 4 + (expires % 5) * 4 / 5;
    let early = expires.saturating_sub(REFRESH_MARGIN).min(eighty);
    Duration::from_secs(u64::from(early.max(expires / 2)))
}

/// Whether a refused refresh ends the subscription (RFC 6665 §4.1.2.2: "If
/// a SUBSCRIBE request to refresh a subscription receives a 404, 405,
/// 410, 416, 480-485 (inclusive), 489, 501, or 604 response, the
/// subscriber MUST consider the subscription terminated"). After any
/// other failure it lasts until it expires.
pub fn refresh_ends_subscription(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        404 | 405 | 410 | 416 | 480..=485 | 489 | 501 | 604
    )
}

/// What a [`Subscriber`] asks for when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberAction {
    /// Send a refreshing SUBSCRIBE in the dialog.
    Refresh,
    /// The subscription expired without a refresh: it is over (RFC 6665
    /// §4.1.2.2: it lasts only as long as the duration last granted).
    Expired,
}

/// One subscription (dialog) at the subscriber: its `Event`, the duration
/// in force and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    event: Event,
    expires_at: Option<Instant>,
    refresh_at: Option<Instant>,
    /// The last `Subscription-State` received.
    state: Option<SubscriptionState>,
    terminated: bool,
}

impl Subscriber {
    /// A subscription to `event`, with no duration granted yet.
    pub fn new(event: Event) -> Self {
        Subscriber {
            event,
            expires_at: None,
            refresh_at: None,
            state: None,
            terminated: false,
        }
    }

    /// Its `Event`.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The last `Subscription-State` a NOTIFY carried.
    pub fn state(&self) -> Option<&SubscriptionState> {
        self.state.as_ref()
    }

    /// Whether it is over.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// When it expires, if a duration was granted.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Takes in a duration of `expires` seconds granted at `now`: the
    /// `Expires` of a 2xx to our SUBSCRIBE (RFC 6665 §4.1.2.1), or the
    /// `expires` parameter of a NOTIFY's `Subscription-State`, which the
    /// subscriber "SHOULD take as the authoritative subscription duration"
    /// (RFC 6665 §4.1.3). The refresh is due after [`refresh_delay`].
    pub fn granted(&mut self, expires: u32, now: Instant) {
        if self.terminated {
            return;
        }
        self.expires_at = Some(now + Duration::from_secs(expires.into()));
        self.refresh_at = (expires > 0).then(|| now + refresh_delay(expires));
    }

    /// Checks a NOTIFY received in this subscription's dialog and returns
    /// its `Subscription-State`, or the response refusing it: `400` without
    /// exactly one parsable `Event` or `Subscription-State` (RFC 6665
    /// §8.2.1, §8.2.3), `489 Bad Event` when its `Event` is not this
    /// subscription's (RFC 6665 §4.1.3: package and `id` must match).
    pub fn check_notify(&self, req: &Request) -> Result<SubscriptionState, Response> {
        let event = super::event_of(req)?;
        if !self.event.matches(&event) {
            return Err(req.reply(StatusCode::BAD_EVENT));
        }
        notify_state(req)
    }

    /// Takes in a NOTIFY's `state`, received at `now` (after
    /// [`check_notify`](Self::check_notify)): `active` or `pending` with
    /// an `expires` parameter set the duration (RFC 6665 §4.1.3);
    /// `terminated` ends the subscription (§4.1.3: "the subscriber
    /// considers the subscription terminated"). Returns whether it ended.
    pub fn on_notify(&mut self, state: &SubscriptionState, now: Instant) -> bool {
        if state.is_terminated() {
            self.terminated = true;
            self.refresh_at = None;
        } else if let Some(expires) = state.expires() {
            // The expiry moves to what the notifier says; the refresh
            // only ever comes earlier (a NOTIFY counting down the same
            // duration does not put it off).
            let refresh = self.refresh_at;
            let had_grant = self.expires_at.is_some();
            self.granted(expires, now);
            if let (Some(before), Some(after)) = (refresh, self.refresh_at) {
                self.refresh_at = Some(before.min(after));
            }
            if refresh.is_none() && had_grant {
                // Already refreshed (or refused): no second refresh.
                self.refresh_at = None;
            }
        }
        self.state = Some(state.clone());
        self.terminated
    }

    /// Takes in the final `status` of a refreshing SUBSCRIBE (the 2xx's
    /// duration goes to [`granted`](Self::granted)); returns whether the
    /// subscription ended ([`refresh_ends_subscription`]). After another
    /// failure it lasts until it expires, not refreshed again.
    pub fn refresh_answered(&mut self, status: StatusCode) -> bool {
        if status.is_success() {
            return self.terminated;
        }
        if refresh_ends_subscription(status) {
            self.terminated = true;
        }
        self.refresh_at = None;
        self.terminated
    }

    /// Ends it (an unsubscription answered, or given up).
    pub fn terminate(&mut self) {
        self.terminated = true;
        self.refresh_at = None;
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) has
    /// something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.terminated {
            return None;
        }
        match (self.refresh_at, self.expires_at) {
            (Some(r), Some(e)) => Some(r.min(e)),
            (r, e) => r.or(e),
        }
    }

    /// What is due at `now`: a refresh (once per granted duration), or
    /// the end of an expired subscription.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<SubscriberAction> {
        if self.terminated {
            return None;
        }
        if self.expires_at.is_some_and(|e| now >= e) {
            self.terminate();
            return Some(SubscriberAction::Expired);
        }
        if self.refresh_at.is_some_and(|r| now >= r) {
            self.refresh_at = None;
            return Some(SubscriberAction::Refresh);
        }
        None
    }
}

/// The one `Subscription-State` of a NOTIFY (RFC 6665 §8.2.3: mandatory
/// in NOTIFY), or the `400` refusing it.
pub fn notify_state(req: &Request) -> Result<SubscriptionState, Response> {
    let bad = |reason: &'static str| req.reply(StatusCode::BAD_REQUEST).reason(reason);
    if req.headers.count(HeaderName::SubscriptionState) > 1 {
        return Err(bad("More than one Subscription-State header"));
    }
    match req.headers.typed::<SubscriptionState>() {
        Some(Ok(s)) => Ok(s),
        Some(Err(_)) => Err(bad("Malformed Subscription-State header")),
        None => Err(bad("Missing Subscription-State header")),
    }
}

/// The status line a `message/sipfrag` body (a REFER's progress report,
/// RFC 3515 §2.4.5, RFC 3420) starts with: `SIP/2.0 180 Ringing` gives
/// 180. `None` if the body does not start with a status line.
pub fn sipfrag_status(body: &[u8]) -> Option<StatusCode> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return None;
    }
    let code: u16 = parts.next()?.parse().ok()?;
    if !(100..=699).contains(&code) {
        return None;
    }
    StatusCode::try_from(code).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse_datagram};

    fn notify(event: &str, state: &str) -> Request {
        let text = format!(
            "NOTIFY sip:alice@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:bob@127.0.0.1>;tag=b\r\n\
             To: <sip:alice@127.0.0.1>;tag=a\r\n\
             Call-ID: c1\r\n\
             CSeq: 1 NOTIFY\r\n\
             {event}{state}Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(text.into()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refresh_comes_before_expiry_and_after_half() {
        assert_eq!(refresh_delay(3600), Duration::from_secs(2880));
        assert_eq!(refresh_delay(600), Duration::from_secs(480));
        // 32 s before expiry is earlier than 80%.
        assert_eq!(refresh_delay(100), Duration::from_secs(68));
        // Never before half the duration.
        assert_eq!(refresh_delay(60), Duration::from_secs(30));
        assert_eq!(refresh_delay(1), Duration::ZERO);
        assert_eq!(refresh_delay(0), Duration::ZERO);
        assert_eq!(
            refresh_delay(u32::MAX),
            Duration::from_secs(u64::from(u32::MAX / 5 * 4))
        );
    }

    #[test]
    fn terminal_refresh_failures_follow_rfc_6665() {
        for code in [404, 405, 410, 416, 480, 481, 485, 489, 501, 604] {
            let s = StatusCode::try_from(code).unwrap();
            assert!(refresh_ends_subscription(s), "{code}");
        }
        for code in [408, 423, 486, 500, 503] {
            let s = StatusCode::try_from(code).unwrap();
            assert!(!refresh_ends_subscription(s), "{code}");
        }
    }

    #[test]
    fn a_notify_for_another_package_or_id_is_refused_489() {
        let sub = Subscriber::new(Event::new("refer").with_id("7"));
        let ok = notify("Event: refer;id=7\r\n", "Subscription-State: active\r\n");
        assert!(sub.check_notify(&ok).is_ok());
        for bad in [
            "Event: refer;id=8\r\n",
            "Event: refer\r\n",
            "Event: presence;id=7\r\n",
        ] {
            let n = notify(bad, "Subscription-State: active\r\n");
            assert_eq!(
                sub.check_notify(&n).unwrap_err().status,
                StatusCode::BAD_EVENT
            );
        }
        let n = notify("", "Subscription-State: active\r\n");
        assert_eq!(
            sub.check_notify(&n).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let n = notify("Event: refer;id=7\r\n", "");
        assert_eq!(
            sub.check_notify(&n).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn the_notify_expires_is_authoritative_and_moves_the_refresh() {
        let t0 = Instant::now();
        let mut sub = Subscriber::new(Event::new("message-summary"));
        sub.granted(600, t0);
        assert_eq!(sub.poll_timeout(), Some(t0 + Duration::from_secs(480)));
        let state = SubscriptionState::active(300);
        assert!(!sub.on_notify(&state, t0 + Duration::from_secs(10)));
        assert_eq!(sub.poll_timeout(), Some(t0 + Duration::from_secs(10 + 240)));
        assert_eq!(sub.handle_timeout(t0 + Duration::from_secs(100)), None);
        assert_eq!(
            sub.handle_timeout(t0 + Duration::from_secs(250)),
            Some(SubscriberAction::Refresh)
        );
        // Refreshed once per grant; then only the expiry is left.
        assert_eq!(sub.poll_timeout(), Some(t0 + Duration::from_secs(310)));
        assert_eq!(
            sub.handle_timeout(t0 + Duration::from_secs(310)),
            Some(SubscriberAction::Expired)
        );
        assert!(sub.is_terminated());
        assert_eq!(sub.poll_timeout(), None);
    }

    #[test]
    fn terminated_ends_it_and_refresh_failures_end_it_as_listed() {
        let t0 = Instant::now();
        let mut sub = Subscriber::new(Event::new("presence"));
        sub.granted(600, t0);
        assert!(sub.on_notify(&SubscriptionState::terminated("noresource"), t0));
        assert_eq!(sub.state().unwrap().reason(), Some("noresource"));
        assert_eq!(sub.poll_timeout(), None);

        let mut sub = Subscriber::new(Event::new("presence"));
        sub.granted(600, t0);
        // A 500 leaves it until it expires, without another refresh.
        assert!(!sub.refresh_answered(StatusCode::SERVER_INTERNAL_ERROR));
        assert_eq!(sub.poll_timeout(), Some(t0 + Duration::from_secs(600)));
        assert!(sub.refresh_answered(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST));
    }

    #[test]
    fn sipfrag_status_lines() {
        assert_eq!(
            sipfrag_status(b"SIP/2.0 180 Ringing\r\n"),
            Some(StatusCode::RINGING)
        );
        assert_eq!(sipfrag_status(b"SIP/2.0 200 OK"), Some(StatusCode::OK));
        assert_eq!(sipfrag_status(b"INVITE sip:x SIP/2.0\r\n"), None);
        assert_eq!(sipfrag_status(b"SIP/2.0 99 Nope\r\n"), None);
        assert_eq!(sipfrag_status(b""), None);
    }
}
