//! The DNS lookups RFC 3263 needs, behind a trait, and a resolver that
//! answers from a table built in code.

use super::error::DnsError;
use super::records::{Answer, Naptr, Srv, normalize};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a lookup returns: the records of the answer with their TTLs, or
/// why there are none. An empty list is never returned for a name
/// without records: that is [`DnsError::NotFound`].
pub type DnsResult<T> = Result<Vec<Answer<T>>, DnsError>;

/// A lookup in progress (boxed so that [`DnsResolver`] stays object
/// safe).
pub type DnsFuture<'a, T> = Pin<Box<dyn Future<Output = DnsResult<T>> + Send + 'a>>;

/// The lookups of RFC 3263 §4: NAPTR, SRV, and A/AAAA.
///
/// [`HickoryResolver`](super::HickoryResolver) asks DNS servers,
/// [`StaticResolver`] answers from a table, and
/// [`CachingResolver`](super::CachingResolver) keeps the answers of
/// another for their TTL. A [`Locator`](super::Locator) holds one as
/// `Arc<dyn DnsResolver>`.
pub trait DnsResolver: Send + Sync + 'static {
    /// The NAPTR records of `name` (RFC 3403).
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr>;

    /// The SRV records of `name` (RFC 2782), such as
    /// `_sip._udp.example.com`.
    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv>;

    /// The addresses of `name`: its A and AAAA records together.
    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr>;
}

impl<R: DnsResolver + ?Sized> DnsResolver for Arc<R> {
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr> {
        (**self).naptr(name)
    }

    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv> {
        (**self).srv(name)
    }

    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr> {
        (**self).ip(name)
    }
}

/// How many aliases [`StaticResolver`] follows before it reports
/// [`DnsError::Loop`].
const MAX_ALIASES: usize = 8;

/// A resolver answering from a table built in code: for tests, and for
/// deployments without DNS that still want SRV-style failover.
///
/// Names compare case-insensitively, with or without the final dot. A
/// name absent from the table is [`DnsError::NotFound`]. Every answer
/// carries the same TTL ([`StaticResolver::ttl`], one hour unless set).
///
/// The builder methods [`naptr`](StaticResolver::naptr) and
/// [`srv`](StaticResolver::srv) share their names with the lookups: to
/// look up directly, call them through the trait
/// (`DnsResolver::srv(&table, name)`).
///
/// ```
/// use parrot::locate::{Naptr, Srv, StaticResolver};
///
/// let dns = StaticResolver::new()
///     .naptr("example.com", [Naptr::new(10, 10, "s", "SIP+D2U", "_sip._udp.example.com")])
///     .srv("_sip._udp.example.com", [Srv::new(10, 60, 5060, "sip1.example.com")])
///     .host("sip1.example.com", ["192.0.2.1".parse().unwrap()]);
/// # let _ = dns;
/// ```
#[derive(Debug, Clone)]
pub struct StaticResolver {
    naptr: HashMap<String, Vec<Naptr>>,
    srv: HashMap<String, Vec<Srv>>,
    hosts: HashMap<String, Vec<IpAddr>>,
    aliases: HashMap<String, String>,
    ttl: Duration,
}

impl Default for StaticResolver {
    fn default() -> Self {
        StaticResolver::new()
    }
}

impl StaticResolver {
    /// An empty table: every lookup is [`DnsError::NotFound`].
    pub fn new() -> Self {
        StaticResolver {
            naptr: HashMap::new(),
            srv: HashMap::new(),
            hosts: HashMap::new(),
            aliases: HashMap::new(),
            ttl: Duration::from_secs(3600),
        }
    }

    /// Adds NAPTR records for `name`.
    pub fn naptr(mut self, name: &str, records: impl IntoIterator<Item = Naptr>) -> Self {
        self.naptr
            .entry(normalize(name))
            .or_default()
            .extend(records);
        self
    }

    /// Adds SRV records for `name`.
    pub fn srv(mut self, name: &str, records: impl IntoIterator<Item = Srv>) -> Self {
        self.srv.entry(normalize(name)).or_default().extend(records);
        self
    }

    /// Adds addresses (A and AAAA records) for `name`.
    pub fn host(mut self, name: &str, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.hosts.entry(normalize(name)).or_default().extend(ips);
        self
    }

    /// Makes `alias` a CNAME of `target`: lookups of `alias` of any type
    /// answer what `target` has. Aliases that loop, or chains longer than
    /// eight, are [`DnsError::Loop`].
    pub fn cname(mut self, alias: &str, target: &str) -> Self {
        self.aliases.insert(normalize(alias), normalize(target));
        self
    }

    /// The TTL every answer carries.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    fn find<T: Clone>(&self, table: &HashMap<String, Vec<T>>, name: &str) -> DnsResult<T> {
        let mut name = normalize(name);
        for _ in 0..=MAX_ALIASES {
            if let Some(records) = table.get(&name).filter(|r| !r.is_empty()) {
                return Ok(records
                    .iter()
                    .map(|r| Answer::new(r.clone(), self.ttl))
                    .collect());
            }
            match self.aliases.get(&name) {
                Some(target) => name = target.clone(),
                None => return Err(DnsError::NotFound),
            }
        }
        Err(DnsError::Loop)
    }
}

impl DnsResolver for StaticResolver {
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr> {
        let answer = self.find(&self.naptr, name);
        Box::pin(std::future::ready(answer))
    }

    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv> {
        let answer = self.find(&self.srv, name);
        Box::pin(std::future::ready(answer))
    }

    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr> {
        let answer = self.find(&self.hosts, name);
        Box::pin(std::future::ready(answer))
    }
}
