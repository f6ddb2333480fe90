//! Subscription usages at the notifier (RFC 6665 §4.2), including the
//! implicit subscription a REFER creates (RFC 3515 §2.4.4), as sans-IO
//! state: the checks on a SUBSCRIBE before it reaches the application,
//! the `Expires` negotiation, and each subscription's state and expiry.
//!
//! A dialog may carry several subscription usages (and an INVITE usage) at
//! once (RFC 5057); they are told apart by their `Event` package and `id`
//! parameter (RFC 6665 §4.5.2).

use crate::message::typed::{Event, Expires, MinExpires, SubscriptionState};
use crate::message::{HeaderName, Request, Response, StatusCode};
use std::time::{Duration, Instant};

/// The event package of REFER's implicit subscription (RFC 3515 §2.4.4).
pub const REFER_PACKAGE: &str = "refer";

/// The `Content-Type` of a REFER progress report (RFC 3515 §2.4.5, RFC
/// 3420).
pub const SIPFRAG: &str = "message/sipfrag;version=2.0";

/// The durations a notifier grants (RFC 6665 §4.2.1.1), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiresPolicy {
    /// Granted when the SUBSCRIBE has no `Expires`.
    pub default: u32,
    /// Shorter requests (but 0) get `423 Interval Too Brief`.
    pub min: u32,
    /// Longer requests are shortened to this.
    pub max: u32,
}

impl Default for ExpiresPolicy {
    /// One hour by default, at least one minute, at most a day.
    fn default() -> Self {
        ExpiresPolicy {
            default: 3600,
            min: 60,
            max: 86_400,
        }
    }
}

impl ExpiresPolicy {
    /// The duration granted for `requested` seconds, or `Err(min)` when the
    /// request is too brief (RFC 6665 §4.2.1.1: the notifier may shorten
    /// the duration, never lengthen it, and answers a too brief one with
    /// 423). Zero (an unsubscription or a fetch) is always granted.
    pub fn grant(&self, requested: Option<u32>) -> Result<u32, u32> {
        match requested {
            None => Ok(self.default.min(self.max)),
            Some(0) => Ok(0),
            Some(s) if s < self.min => Err(self.min),
            Some(s) => Ok(s.min(self.max)),
        }
    }
}

/// What a SUBSCRIBE does to a dialog's subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeKind {
    /// Creates a subscription.
    New,
    /// Creates none: a one-time fetch of the state (`Expires: 0` on a new
    /// subscription, answered with one final NOTIFY, RFC 6665 §4.4.3).
    Fetch,
    /// Refreshes a subscription (RFC 6665 §4.2.1.2).
    Refresh,
    /// Ends a subscription (`Expires: 0`, RFC 6665 §4.1.2.3).
    Unsubscribe,
}

/// An accepted SUBSCRIBE's description: what it asks and what is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The `Event` it subscribes to.
    pub event: Event,
    /// What it does.
    pub kind: SubscribeKind,
    /// The duration granted, in seconds (0 for a fetch or unsubscription).
    pub expires: u32,
}

/// Checks a SUBSCRIBE before it reaches the application: exactly one
/// parsable `Event` (else 400), a package the notifier serves (else `489
/// Bad Event` with `Allow-Events`, RFC 6665 §8.3.1), a duration not too
/// brief (else 423 with `Min-Expires`), and, inside a dialog, a refresh or
/// unsubscription of a subscription that exists (else 481, RFC 6665
/// §4.2.1.2). `packages` empty serves every package. `existing` is the
/// dialog's subscriptions (none outside a dialog).
pub fn check_subscribe<'a>(
    req: &Request,
    packages: &[&str],
    policy: &ExpiresPolicy,
    existing: impl IntoIterator<Item = &'a Notifier>,
) -> Result<SubscribeRequest, Response> {
    let event = event_of(req)?;
    if !packages.is_empty() && !packages.contains(&event.package.as_str()) {
        let mut resp = req.reply(StatusCode::BAD_EVENT);
        resp.headers
            .append(HeaderName::AllowEvents, packages.join(", "));
        return Err(resp);
    }
    let requested = match req.headers.typed::<Expires>() {
        None => None,
        Some(Ok(Expires(s))) => Some(s),
        Some(Err(_)) => {
            return Err(req
                .reply(StatusCode::BAD_REQUEST)
                .reason("Malformed Expires header"));
        }
    };
    let expires = policy.grant(requested).map_err(|min| {
        let mut resp = req.reply(StatusCode::INTERVAL_TOO_BRIEF);
        resp.headers.push_typed(&MinExpires(min));
        resp
    })?;
    let found = existing.into_iter().any(|n| n.matches(&event));
    let kind = match (found, expires) {
        (true, 0) => SubscribeKind::Unsubscribe,
        (true, _) => SubscribeKind::Refresh,
        // §4.2.1.2: an unsubscription or refresh of a subscription the
        // dialog does not hold.
        (false, 0) if req.headers.to_tag().is_some() => {
            return Err(req
                .reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
                .reason("Subscription does not exist"));
        }
        (false, 0) => SubscribeKind::Fetch,
        (false, _) => SubscribeKind::New,
    };
    Ok(SubscribeRequest {
        event,
        kind,
        expires,
    })
}

/// The one `Event` of a SUBSCRIBE or NOTIFY (RFC 6665 §8.2.1); a request
/// without one, or with several, is refused with 400 naming the fault.
pub fn event_of(req: &Request) -> Result<Event, Response> {
    let bad = |reason: &'static str| req.reply(StatusCode::BAD_REQUEST).reason(reason);
    if req.headers.count(HeaderName::Event) > 1 {
        return Err(bad("More than one Event header"));
    }
    match req.headers.typed::<Event>() {
        Some(Ok(e)) => Ok(e),
        Some(Err(_)) => Err(bad("Malformed Event header")),
        None => Err(bad("Missing Event header")),
    }
}

/// Checks a REFER before it reaches the application: exactly one
/// `Refer-To` (RFC 3515 §2.4.1: 400 otherwise).
pub fn check_refer(req: &Request) -> Result<(), Response> {
    match req.headers.count(HeaderName::ReferTo) {
        1 => Ok(()),
        0 => Err(req
            .reply(StatusCode::BAD_REQUEST)
            .reason("Missing Refer-To header")),
        _ => Err(req
            .reply(StatusCode::BAD_REQUEST)
            .reason("More than one Refer-To header")),
    }
}

/// Whether a REFER asks for no implicit subscription (`Refer-Sub: false`,
/// RFC 4488 §4).
pub fn refer_sub_false(req: &Request) -> bool {
    req.headers
        .get("Refer-Sub")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
}

/// The `Event` of the implicit subscription a REFER creates: package
/// `refer` with the REFER's CSeq number as its `id` (RFC 3515 §2.4.6).
pub fn refer_event(req: &Request) -> Event {
    let seq = req.headers.cseq().map_or(0, |c| c.seq);
    Event::new(REFER_PACKAGE).with_id(seq.to_string())
}

/// The `message/sipfrag` body reporting `status` (RFC 3515 §2.4.5: at
/// least the status line of the response the referenced request got).
pub fn sipfrag(status: StatusCode) -> String {
    format!("SIP/2.0 {} {}\r\n", status.as_u16(), status.reason())
}

/// One subscription at the notifier: its `Event`, state and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    event: Event,
    expires_at: Instant,
    /// The termination reason, once terminated.
    ended: Option<String>,
}

impl Notifier {
    /// A subscription to `event` granted for `expires` seconds from `now`.
    pub fn new(event: Event, expires: u32, now: Instant) -> Self {
        Notifier {
            event,
            expires_at: now + Duration::from_secs(expires.into()),
            ended: None,
        }
    }

    /// Its `Event` (package and `id`).
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Whether it is REFER's implicit subscription.
    pub fn is_refer(&self) -> bool {
        self.event.package == REFER_PACKAGE
    }

    /// Whether a request's `event` is about this subscription (RFC 6665
    /// §8.2.1: same package, same `id` or none on both).
    pub fn matches(&self, event: &Event) -> bool {
        self.event.matches(event)
    }

    /// Extends it by `expires` seconds from `now` (a refresh).
    pub fn refresh(&mut self, expires: u32, now: Instant) {
        self.expires_at = now + Duration::from_secs(expires.into());
    }

    /// Terminates it with `reason` (RFC 6665 §4.2.2: `timeout`,
    /// `noresource`, `rejected`, `deactivated`, `probation`, `giveup`).
    pub fn terminate(&mut self, reason: &str) {
        if self.ended.is_none() {
            self.ended = Some(reason.to_owned());
        }
    }

    /// Whether it is terminated.
    pub fn is_terminated(&self) -> bool {
        self.ended.is_some()
    }

    /// The seconds left, rounded down.
    pub fn remaining(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_duration_since(now).as_secs();
        u32::try_from(left).unwrap_or(u32::MAX)
    }

    /// The `Subscription-State` a NOTIFY sent at `now` carries: active
    /// with the seconds left (RFC 6665 §4.2.2: the `expires` parameter), or
    /// terminated with its reason.
    pub fn state(&self, now: Instant) -> SubscriptionState {
        match &self.ended {
            Some(reason) => SubscriptionState::terminated(reason.clone()),
            None => SubscriptionState::active(self.remaining(now)),
        }
    }

    /// When it expires, while it is not terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ended.is_none().then_some(self.expires_at)
    }

    /// Terminates it with reason `timeout` if it expired by `now` (RFC
    /// 6665 §4.2.2: a subscription not refreshed in time ends with a
    /// NOTIFY saying so); returns whether it did.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.ended.is_none() && now >= self.expires_at {
            self.terminate("timeout");
            return true;
        }
        false
    }

    /// Takes in the final response to one of its NOTIFYs; returns whether
    /// the subscription is removed. RFC 6665 §4.2.2: a 481 or a
    /// transaction timeout removes it; so does any other failure here,
    /// since the subscriber refused the notification it was sent.
    pub fn notify_answered(&mut self, status: StatusCode) -> bool {
        if status.is_success() || status.is_provisional() {
            return self.is_terminated();
        }
        self.terminate("giveup");
        true
    }
}

#[cfg(test)]
mod tests;
