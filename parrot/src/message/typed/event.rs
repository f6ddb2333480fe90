//! `Event` and `Subscription-State` (RFC 6665 §8.2.1, §8.2.3).
//!
//! ```text
//! Event              = ( "Event" / "o" ) HCOLON event-type *( SEMI event-param )
//! event-type         = event-package *( "." event-template )
//! event-package      = token-nodot
//! event-template     = token-nodot
//! Subscription-State = "Subscription-State" HCOLON substate-value
//!                      *( SEMI subexp-params )
//! ```

use super::TypedHeader;
use super::simple::{leading, parse_delta_seconds, parse_params};
use crate::message::grammar::{is_token, is_token_byte, trim_ws};
use crate::message::{HeaderName, Params, ParseError, Text};
use std::fmt;

/// Whether `s` is an `event-type`: dot-separated, non-empty `token-nodot`s
/// (RFC 6665 §8.4).
pub(super) fn is_event_type(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(is_token_byte))
}

/// Splits a leading token off `s` (trimmed) and parses the rest as
/// parameters, for headers of the form `token *(SEMI param)`.
fn token_and_params<'s>(
    src: &Text,
    s: &'s str,
    header: &str,
) -> Result<(&'s str, Params), ParseError> {
    let s = trim_ws(s);
    let n = leading(s, is_token_byte);
    if n == 0 {
        return Err(ParseError::header(header, "missing value"));
    }
    let (tok, rest) = s.split_at(n);
    Ok((tok, parse_params(src, rest, header)?))
}

/// The `Event` header (RFC 6665 §8.2.1): the event package a SUBSCRIBE or
/// NOTIFY is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event-type`, including any templates (`presence.winfo`).
    pub package: Text,
    /// The parameters, including `id`.
    pub params: Params,
}

impl Event {
    /// An Event for `package`, with no parameters.
    pub fn new(package: impl Into<Text>) -> Self {
        Event {
            package: package.into(),
            params: Params::new(),
        }
    }

    /// Sets the `id` parameter.
    pub fn with_id(mut self, id: impl Into<Text>) -> Self {
        self.params.set_raw("id", Some(id.into()));
        self
    }

    /// The `id` parameter, which tells subscriptions in one dialog apart.
    pub fn id(&self) -> Option<&str> {
        self.params.raw("id").map(Text::as_str)
    }

    /// The event package without templates (`presence` for
    /// `presence.winfo`).
    pub fn base_package(&self) -> &str {
        self.package.split('.').next().unwrap_or_default()
    }

    /// The templates after the package, in order (`winfo` for
    /// `presence.winfo`).
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.package.split('.').skip(1)
    }

    /// Whether `self` and `other` identify the same subscription: the
    /// event-type and the `id` compare byte by byte, an Event with an id
    /// never matches one without, and other parameters are ignored
    /// (RFC 6665 §8.2.1).
    pub fn matches(&self, other: &Event) -> bool {
        self.package == other.package && self.id() == other.id()
    }
}

impl TypedHeader for Event {
    const NAME: HeaderName = HeaderName::Event;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        const H: &str = "Event";
        let (package, params) = token_and_params(src, value, H)?;
        if !is_event_type(package) {
            return Err(ParseError::header(H, "bad event type"));
        }
        // event-param = generic-param / ( "id" EQUAL token )
        if let Some(p) = params.find("id")
            && !p.value.as_deref().is_some_and(is_token)
        {
            return Err(ParseError::header(H, "bad id"));
        }
        Ok(Event {
            package: src.slice_ref(package),
            params,
        })
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.package, self.params)
    }
}

/// The state of a subscription (`substate-value`, RFC 6665 §8.2.3).
/// Known values are recognised case-insensitively (RFC 3261 §7.3.1).
#[derive(Debug, Clone)]
pub enum SubState {
    /// `active`: the subscription has been accepted.
    Active,
    /// `pending`: the notifier has not yet decided.
    Pending,
    /// `terminated`: the subscription is over.
    Terminated,
    /// An `extension-substate`, as written.
    Other(Text),
}

impl SubState {
    /// The value as written in the header.
    pub fn as_str(&self) -> &str {
        match self {
            SubState::Active => "active",
            SubState::Pending => "pending",
            SubState::Terminated => "terminated",
            SubState::Other(t) => t,
        }
    }

    fn parse(src: &Text, s: &str) -> SubState {
        [SubState::Active, SubState::Pending, SubState::Terminated]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .unwrap_or_else(|| SubState::Other(src.slice_ref(s)))
    }
}

impl PartialEq for SubState {
    /// Compares case-insensitively, like all tokens (RFC 3261 §7.3.1).
    fn eq(&self, other: &SubState) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

impl Eq for SubState {}

impl fmt::Display for SubState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `Subscription-State` header of a NOTIFY (RFC 6665 §8.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// The state.
    pub state: SubState,
    /// The parameters: `expires`, `reason`, `retry-after`, ...
    pub params: Params,
}

impl SubscriptionState {
    /// `active;expires=<expires>`.
    pub fn active(expires: u32) -> Self {
        SubscriptionState::new(SubState::Active).with_expires(expires)
    }

    /// `pending;expires=<expires>`.
    pub fn pending(expires: u32) -> Self {
        SubscriptionState::new(SubState::Pending).with_expires(expires)
    }

    /// `terminated;reason=<reason>` (e.g. `timeout`, `noresource`,
    /// `rejected`; RFC 6665 §4.1.3).
    pub fn terminated(reason: impl Into<Text>) -> Self {
        let mut s = SubscriptionState::new(SubState::Terminated);
        s.params.set_raw("reason", Some(reason.into()));
        s
    }

    /// A state with no parameters.
    pub fn new(state: SubState) -> Self {
        SubscriptionState {
            state,
            params: Params::new(),
        }
    }

    /// Sets the `expires` parameter.
    pub fn with_expires(mut self, seconds: u32) -> Self {
        self.params
            .set_raw("expires", Some(Text::from(seconds.to_string())));
        self
    }

    /// Sets the `retry-after` parameter.
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.params
            .set_raw("retry-after", Some(Text::from(seconds.to_string())));
        self
    }

    /// The `expires` parameter (delta-seconds).
    pub fn expires(&self) -> Option<u32> {
        self.params
            .raw("expires")
            .and_then(|v| parse_delta_seconds(v))
    }

    /// The `reason` parameter.
    pub fn reason(&self) -> Option<&str> {
        self.params.raw("reason").map(Text::as_str)
    }

    /// The `retry-after` parameter (delta-seconds).
    pub fn retry_after(&self) -> Option<u32> {
        self.params
            .raw("retry-after")
            .and_then(|v| parse_delta_seconds(v))
    }

    /// Whether the state is `terminated`.
    pub fn is_terminated(&self) -> bool {
        self.state == SubState::Terminated
    }
}

impl TypedHeader for SubscriptionState {
    const NAME: HeaderName = HeaderName::SubscriptionState;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        const H: &str = "Subscription-State";
        let (state, params) = token_and_params(src, value, H)?;
        for p in &params {
            let v = p.value.as_deref();
            // subexp-params: reason EQUAL event-reason-value (a token);
            // expires / retry-after EQUAL delta-seconds (§8.4).
            let (ok, what) = if p.name.eq_ignore_ascii_case("reason") {
                (v.is_some_and(is_token), "bad reason")
            } else if p.name.eq_ignore_ascii_case("expires") {
                (v.and_then(parse_delta_seconds).is_some(), "bad expires")
            } else if p.name.eq_ignore_ascii_case("retry-after") {
                (v.and_then(parse_delta_seconds).is_some(), "bad retry-after")
            } else {
                (true, "")
            };
            if !ok {
                return Err(ParseError::header(H, what));
            }
        }
        Ok(SubscriptionState {
            state: SubState::parse(src, state),
            params,
        })
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.state, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) -> T {
        let v = T::parse_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(
            T::parse_str(&v.to_string()).unwrap(),
            v,
            "round trip of {s:?}"
        );
        v
    }

    #[test]
    fn event() {
        let e: Event = rt("presence");
        assert_eq!(e.package, "presence");
        assert_eq!(e.id(), None);
        let e: Event = rt("presence.winfo ; id = 1234;x");
        assert_eq!(e.base_package(), "presence");
        assert_eq!(e.templates().collect::<Vec<_>>(), vec!["winfo"]);
        assert_eq!(e.id(), Some("1234"));
        assert_eq!(e.to_string(), "presence.winfo;id=1234;x");
        let e: Event = rt("refer;id=93809824");
        assert_eq!(e, Event::new("refer").with_id("93809824"));
        for bad in [
            "",
            ";id=1",
            "a..b",
            ".a",
            "a.",
            "a b",
            "a;id",
            "a;id=\"1\"",
            "a;=1",
            "é",
        ] {
            assert!(Event::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Event::parse_str("a;id").unwrap_err().reason(),
            "Bad Event header: bad id"
        );
    }

    #[test]
    fn event_matching() {
        // RFC 6665 §8.2.1: "foo; id=1234" matches "foo; param=abcd; id=1234"
        // but not "Foo; id=1234".
        let a: Event = rt("foo; id=1234");
        assert!(a.matches(&rt("foo; param=abcd; id=1234")));
        assert!(!a.matches(&rt("Foo; id=1234")));
        assert!(!a.matches(&rt("foo")));
        assert!(!a.matches(&rt("foo;id=12345")));
        assert!(rt::<Event>("foo").matches(&rt("foo;x=1")));
    }

    #[test]
    fn subscription_state() {
        let s: SubscriptionState = rt("active;expires=3600");
        assert_eq!(s.state, SubState::Active);
        assert_eq!(s.expires(), Some(3600));
        assert!(!s.is_terminated());
        assert_eq!(s, SubscriptionState::active(3600));
        let s: SubscriptionState = rt("Terminated ; reason = timeout ; retry-after=30");
        assert!(s.is_terminated());
        assert_eq!(s.reason(), Some("timeout"));
        assert_eq!(s.retry_after(), Some(30));
        assert_eq!(s.to_string(), "terminated;reason=timeout;retry-after=30");
        let s: SubscriptionState = rt("waiting;x=y");
        assert_eq!(s.state, SubState::Other("WAITING".into()));
        assert_eq!(s.to_string(), "waiting;x=y");
        assert_eq!(
            SubscriptionState::terminated("noresource").to_string(),
            "terminated;reason=noresource"
        );
        assert_eq!(
            SubscriptionState::pending(60)
                .with_retry_after(5)
                .to_string(),
            "pending;expires=60;retry-after=5"
        );
        for bad in [
            "",
            ";expires=1",
            "active junk",
            "active;expires=x",
            "active;expires",
            "terminated;reason=\"a b\"",
            "terminated;retry-after=-1",
            "é",
        ] {
            assert!(SubscriptionState::parse_str(bad).is_err(), "{bad:?}");
        }
        // Large expires are clamped like every delta-seconds.
        let s: SubscriptionState = rt("active;expires=99999999999");
        assert_eq!(s.expires(), Some(u32::MAX));
    }
}
