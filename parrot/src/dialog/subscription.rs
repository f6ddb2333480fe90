//! Subscription usages at the notifier (RFC 6665 §4.2), including the
//! implicit subscription a REFER creates (RFC 3515 §2.4.4), as sans-IO
//! state: the checks on a SUBSCRIBE before it reaches the application,
//! the `Expires` negotiation, and each subscription's state (pending,
//! active, terminated), expiry and NOTIFY sequencing (see [`Notifier`]).
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
        (false, 0) if req.headers.has_to_tag() => {
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

/// One subscription at the notifier: its `Event`, its state (pending,
/// active or terminated, RFC 6665 §4.2.2), its expiry, and the sequencing
/// of its NOTIFYs.
///
/// Every change that calls for a NOTIFY (creation, a refresh,
/// activation, a new state of the resource, termination) marks one as
/// due; [`poll_notify`](Self::poll_notify) hands out the
/// `Subscription-State` of the next NOTIFY to send, and
/// [`notify_answered`](Self::notify_answered) takes in its final
/// response. At most one NOTIFY of a subscription is in flight: changes
/// made meanwhile are coalesced into one NOTIFY sent after the response,
/// with the state as it is then. RFC 6665 §4.2.2 has the notifier report
/// the current state, not every step to it, and a failed NOTIFY ends the
/// subscription; two NOTIFYs in flight at once may reach the subscriber
/// out of order, and the older one, its CSeq lower than one already
/// seen, is refused (RFC 3261 §12.2.2: `500`), which would end the
/// subscription for nothing (and deliver a stale state before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    event: Event,
    expires_at: Instant,
    /// The termination reason, once terminated.
    ended: Option<String>,
    /// Not authorized yet (`pending`, RFC 6665 §4.2.1.3). Stays set when
    /// a pending subscription is terminated: its state was never shown.
    pending: bool,
    /// A NOTIFY is due: something changed since the last one was sent.
    due: bool,
    /// A NOTIFY awaits its final response: `Some(true)` when it was the
    /// last one (`terminated`).
    in_flight: Option<bool>,
}

impl Notifier {
    /// An active subscription to `event` granted for `expires` seconds
    /// from `now`; its first NOTIFY is due (RFC 6665 §4.2.1.2: "Upon
    /// successfully accepting or refreshing a subscription, notifiers MUST
    /// send a NOTIFY request immediately").
    pub fn new(event: Event, expires: u32, now: Instant) -> Self {
        Notifier {
            event,
            expires_at: now + Duration::from_secs(expires.into()),
            ended: None,
            pending: false,
            due: true,
            in_flight: None,
        }
    }

    /// A subscription accepted while its authorization is not decided
    /// yet (RFC 6665 §4.2.1.3: the notifier answers 200 at once and
    /// decides later): `Subscription-State: pending` until
    /// [`activate`](Self::activate), or until it ends (`rejected` when
    /// refused). Its first NOTIFY is due, as for [`new`](Self::new).
    pub fn new_pending(event: Event, expires: u32, now: Instant) -> Self {
        Notifier {
            pending: true,
            ..Notifier::new(event, expires, now)
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

    /// Extends it by `expires` seconds from `now` (a refresh); a NOTIFY is
    /// due (RFC 6665 §4.2.1.2). A pending subscription stays pending.
    pub fn refresh(&mut self, expires: u32, now: Instant) {
        if self.ended.is_some() {
            return;
        }
        self.expires_at = now + Duration::from_secs(expires.into());
        self.due = true;
    }

    /// Whether it awaits its authorization (`pending`, and not
    /// terminated).
    pub fn is_pending(&self) -> bool {
        self.pending && self.ended.is_none()
    }

    /// Authorizes a pending subscription: it becomes `active`, and a
    /// NOTIFY with the state is due (RFC 6665 §4.2.2: a change of the
    /// subscription's state is notified). Returns whether it was pending.
    pub fn activate(&mut self) -> bool {
        if !self.is_pending() {
            return false;
        }
        self.pending = false;
        self.due = true;
        true
    }

    /// Whether its NOTIFYs may carry the resource's state: not while it
    /// is pending, nor in the last NOTIFY of a subscription that never
    /// became active. RFC 6665 §4.2.1.2 lets the NOTIFY of a subscription
    /// without meaningful state to convey carry "an empty or neutral
    /// body"; a subscriber not (yet) authorized must learn nothing of the
    /// state (§4.2.1.3, §6.2).
    pub fn reveals_state(&self) -> bool {
        !self.pending
    }

    /// The resource's state changed: a NOTIFY is due, unless the
    /// subscription is pending (a NOTIFY then would tell the subscriber
    /// when the state changes, which it is not authorized to know,
    /// RFC 6665 §6.2) or terminated. Returns whether one is due.
    pub fn state_changed(&mut self) -> bool {
        if self.pending || self.ended.is_some() {
            return false;
        }
        self.due = true;
        true
    }

    /// Terminates it with `reason` (RFC 6665 §4.2.2: `timeout`,
    /// `noresource`, `rejected`, `deactivated`, `probation`, `giveup`); its
    /// last NOTIFY is due. The first reason stays.
    pub fn terminate(&mut self, reason: &str) {
        if self.ended.is_none() {
            self.ended = Some(reason.to_owned());
            self.due = true;
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

    /// The `Subscription-State` a NOTIFY sent at `now` carries (RFC 6665
    /// §4.2.2): `active` or `pending` with the seconds left in `expires`,
    /// or `terminated` with its reason.
    pub fn state(&self, now: Instant) -> SubscriptionState {
        match &self.ended {
            Some(reason) => SubscriptionState::terminated(reason.clone()),
            None if self.pending => SubscriptionState::pending(self.remaining(now)),
            None => SubscriptionState::active(self.remaining(now)),
        }
    }

    /// The `Subscription-State` of the NOTIFY to send now, if one is due
    /// and none is in flight; that NOTIFY is then in flight until
    /// [`notify_answered`](Self::notify_answered). `None` while one is in
    /// flight: what changed meanwhile goes in the next one.
    pub fn poll_notify(&mut self, now: Instant) -> Option<SubscriptionState> {
        if !self.due || self.in_flight.is_some() {
            return None;
        }
        self.due = false;
        self.in_flight = Some(self.is_terminated());
        Some(self.state(now))
    }

    /// Whether one of its NOTIFYs awaits its final response.
    pub fn is_notifying(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether a NOTIFY is due (sent once none is in flight).
    pub fn is_due(&self) -> bool {
        self.due
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

    /// Takes in the final response to its NOTIFY in flight; returns
    /// whether the subscription is to be removed: its last NOTIFY was
    /// answered, or the NOTIFY failed. RFC 6665 §4.2.2: a 481 or a
    /// transaction timeout removes it; so does any other failure here,
    /// since the subscriber refused the notification it was sent (a
    /// NOTIFY still due is dropped with it).
    pub fn notify_answered(&mut self, status: StatusCode) -> bool {
        let last = self.in_flight.take() == Some(true);
        if status.is_success() || status.is_provisional() {
            return last;
        }
        self.terminate("giveup");
        self.due = false;
        true
    }
}

#[cfg(test)]
mod tests;
