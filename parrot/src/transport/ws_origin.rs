//! Which browser pages may open a WebSocket to a listener (RFC 6455
//! §10.2, RFC 7118 §8): a setting of the transport, apart from the
//! WebSocket machinery in `ws`.

use std::fmt;
use std::sync::Arc;

/// Decides whether a WebSocket upgrade from a page of this `Origin` (RFC
/// 6455 §10.2) is accepted; upgrades without an `Origin` (not from a
/// browser) are not asked about. For
/// [`TransportConfig::ws_origin`](super::TransportConfig::ws_origin).
#[derive(Clone)]
pub struct OriginCheck(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl OriginCheck {
    /// A check by `allow`, which gets the `Origin` header's value.
    pub fn new(allow: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        OriginCheck(Arc::new(allow))
    }

    /// Accepts exactly these origins (e.g. `"https://phone.example.com"`),
    /// compared without regard to case.
    pub fn allow_only<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let allowed: Vec<String> = origins.into_iter().map(Into::into).collect();
        OriginCheck::new(move |o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
    }

    pub(crate) fn allows(&self, origin: &str) -> bool {
        (self.0)(origin)
    }
}

impl fmt::Debug for OriginCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OriginCheck(..)")
    }
}

impl PartialEq for OriginCheck {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for OriginCheck {}
