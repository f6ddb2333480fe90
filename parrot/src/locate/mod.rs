//! Locating SIP servers with DNS (RFC 3263 §4): from a URI to the ordered
//! list of transport, address and port to try.
//!
//! A [`Locator`] runs the procedure of RFC 3263 §4 against a
//! [`DnsResolver`]:
//!
//! 1. **Transport** (§4.1). A `transport` parameter, a numeric IP address
//!    or an explicit port decide it without NAPTR. Otherwise the NAPTR
//!    records of the domain name the transports the server prefers; those
//!    the client does not support are discarded, and a `sips:` URI keeps
//!    only TLS. Without a usable NAPTR record, SRV queries for the
//!    supported transports are tried (`_sips._tcp`, `_sip._tcp`,
//!    `_sip._udp`).
//! 2. **Address and port** (§4.2). A numeric IP address needs no DNS; an
//!    explicit port, A/AAAA lookups only; otherwise the SRV records, each
//!    target's A/AAAA records in turn, ordered by priority and weight
//!    (RFC 2782, §4.3); without SRV records, the domain's A/AAAA records
//!    at the transport's default port.
//! 3. **Failover** (§4.3). [`Locator::failed`] marks a target that did not
//!    answer; for a while [`Locator::locate`] puts it last.
//!
//! The rules themselves are pure functions in [`select`] (no I/O, no
//! clock, randomness passed in). The resolvers: [`HickoryResolver`] asks
//! DNS servers, [`StaticResolver`] answers from a table built in code, and
//! [`CachingResolver`] keeps either's answers for their TTL.
//!
//! ```
//! use parrot::locate::{Locator, Naptr, Srv, StaticResolver};
//! use parrot::transport::{Protocol, Target};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dns = StaticResolver::new()
//!     .naptr("example.com", [Naptr::new(10, 10, "s", "SIP+D2T", "_sip._tcp.example.com")])
//!     .srv("_sip._tcp.example.com", [Srv::new(10, 0, 5070, "sip.example.com")])
//!     .host("sip.example.com", ["192.0.2.7".parse().unwrap()]);
//! let locator = Locator::new(Arc::new(dns), &[Protocol::Udp, Protocol::Tcp]);
//! let targets = locator.locate(&"sip:alice@example.com".parse().unwrap()).await.unwrap();
//! assert_eq!(targets, [Target::tcp("192.0.2.7:5070".parse().unwrap())]);
//! # }
//! ```

mod cache;
mod error;
mod hickory;
mod records;
mod resolver;
pub mod select;
mod system;

pub use cache::{CacheConfig, CachingResolver};
pub use error::{DnsError, LocateError};
pub use hickory::{HickoryResolver, ResolverOptions};
pub use records::{Answer, Naptr, Srv};
pub use resolver::{DnsFuture, DnsResolver, DnsResult, StaticResolver};
pub use system::SystemResolver;

use crate::message::Uri;
use crate::transport::{Protocol, SentByFuture, SentByResolver, Target, TransportError};
use records::normalize;
use select::{NaptrChoice, Plan, SrvQuery};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;
use tracing::debug;

/// How long a failed target is put last, unless set with
/// [`Locator::with_failure_memory`].
pub const DEFAULT_FAILURE_MEMORY: Duration = Duration::from_secs(30);

/// How many DNS lookups one [`Locator::locate`] may make, unless set with
/// [`Locator::with_max_lookups`].
pub const DEFAULT_MAX_LOOKUPS: usize = 32;

/// How many failed targets are remembered at most.
const MAX_FAILED: usize = 10_000;

/// A source of random numbers for SRV weights: `random(n)` returns a
/// number drawn uniformly from `0..=n`.
type Random = Box<dyn FnMut(u32) -> u32 + Send>;

/// Locates SIP servers (RFC 3263 §4): turns a URI into the ordered list of
/// [`Target`]s to try, and remembers the targets that failed (§4.3).
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Locator {
    resolver: Arc<dyn DnsResolver>,
    protocols: Vec<Protocol>,
    failed: Mutex<HashMap<(Protocol, SocketAddr), Instant>>,
    failure_memory: Duration,
    max_lookups: usize,
    random: Mutex<Random>,
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locator")
            .field("protocols", &self.protocols)
            .field("failure_memory", &self.failure_memory)
            .field("max_lookups", &self.max_lookups)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update leaves the state consistent: a poisoned lock is usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Locator {
    /// A locator asking `resolver`, for a client that can send over
    /// `protocols` (transports outside it are never chosen, §4.1).
    pub fn new(resolver: Arc<dyn DnsResolver>, protocols: &[Protocol]) -> Locator {
        Locator {
            resolver,
            protocols: protocols.to_vec(),
            failed: Mutex::new(HashMap::new()),
            failure_memory: DEFAULT_FAILURE_MEMORY,
            max_lookups: DEFAULT_MAX_LOOKUPS,
            random: Mutex::new(Box::new(|n| {
                (crate::random::u64() % (u64::from(n) + 1)) as u32
            })),
        }
    }

    /// A locator asking the system: NAPTR and SRV from its DNS servers
    /// (`/etc/resolv.conf`), addresses from its own lookup
    /// ([`SystemResolver`]), behind a [`CachingResolver`] with the default
    /// [`CacheConfig`].
    pub fn system(protocols: &[Protocol]) -> Locator {
        let dns = CachingResolver::new(SystemResolver::new());
        Locator::new(Arc::new(dns), protocols)
    }

    /// How long [`failed`](Self::failed) puts a target last (default
    /// [`DEFAULT_FAILURE_MEMORY`]).
    pub fn with_failure_memory(mut self, period: Duration) -> Self {
        self.failure_memory = period;
        self
    }

    /// How many DNS lookups one [`locate`](Self::locate) may make before it
    /// fails with [`LocateError::TooManyLookups`] (default
    /// [`DEFAULT_MAX_LOOKUPS`]): a bound on NAPTR replacement chains and
    /// SRV sets with many targets.
    pub fn with_max_lookups(mut self, limit: usize) -> Self {
        self.max_lookups = limit;
        self
    }

    /// The random numbers that order SRV records of equal priority by
    /// weight (RFC 2782): `random(n)` must return a number drawn uniformly
    /// from `0..=n`. The default draws from the operating system's
    /// generator; tests pass a seeded one.
    pub fn with_random(mut self, random: impl FnMut(u32) -> u32 + Send + 'static) -> Self {
        self.random = Mutex::new(Box::new(random));
        self
    }

    /// The protocols the client can send over.
    pub fn protocols(&self) -> &[Protocol] {
        &self.protocols
    }

    /// The resolver asked.
    pub fn resolver(&self) -> &Arc<dyn DnsResolver> {
        &self.resolver
    }

    /// The targets for a request whose next hop is `uri`, in the order to
    /// try them (RFC 3263 §4): see the [module documentation](self). Each
    /// SRV target contributes its addresses in turn; SRV targets without
    /// an address are skipped. Targets marked [`failed`](Self::failed)
    /// within the failure memory come last. The list is never empty.
    ///
    /// A lookup that times out ends the procedure only at the NAPTR step
    /// (no server answers: the SRV and A lookups would wait as long);
    /// further on, a failed lookup is skipped and reported only if no
    /// target is found.
    pub async fn locate(&self, uri: &Uri) -> Result<Vec<Target>, LocateError> {
        let targets = self.follow(select::plan(uri, &self.protocols)?).await?;
        debug!(%uri, ?targets, "located (RFC 3263)");
        Ok(targets)
    }

    /// The servers to try, in order, for a response whose top Via's
    /// sent-by is `host` and `port` over `protocol`, when the response
    /// cannot go to the `received` address (RFC 3263 §5, RFC 3261
    /// §18.2.2): with a port, `host`'s addresses; without one, the SRV
    /// records of the Via's transport, else `host`'s addresses at the
    /// transport's default port ([`select::sent_by_plan`]).
    pub async fn locate_sent_by(
        &self,
        host: &str,
        port: Option<u16>,
        protocol: Protocol,
    ) -> Result<Vec<Target>, LocateError> {
        let targets = self
            .follow(select::sent_by_plan(host, port, protocol))
            .await?;
        debug!(%host, ?port, ?targets, "located sent-by (RFC 3263 §5)");
        Ok(targets)
    }

    /// Carries out `plan`: the targets without duplicates, failed ones last.
    async fn follow(&self, plan: Plan) -> Result<Vec<Target>, LocateError> {
        let targets = match plan {
            Plan::Direct(t) => vec![t],
            Plan::Address { .. } | Plan::Srv { .. } | Plan::Naptr { .. } => {
                Walk::new(self, &plan).run(plan).await?
            }
        };
        Ok(select::failed_last(select::dedup(targets), |t| {
            self.is_failed(t)
        }))
    }

    /// Marks `target` as failed (RFC 3263 §4.3: it did not answer, or its
    /// connection failed): [`locate`](Self::locate) puts it last for the
    /// failure memory ([`with_failure_memory`](Self::with_failure_memory)).
    /// Its flow, if any, is ignored.
    pub fn failed(&self, target: &Target) {
        let now = Instant::now();
        let mut failed = lock(&self.failed);
        if failed.len() >= MAX_FAILED {
            failed.retain(|_, until| *until > now);
            if failed.len() >= MAX_FAILED
                && let Some(first) = failed.iter().min_by_key(|(_, u)| **u).map(|(k, _)| *k)
            {
                failed.remove(&first);
            }
        }
        failed.insert((target.protocol, target.addr), now + self.failure_memory);
    }

    /// Whether `target` was marked [`failed`](Self::failed) within the
    /// failure memory.
    pub fn is_failed(&self, target: &Target) -> bool {
        let key = (target.protocol, target.addr);
        let mut failed = lock(&self.failed);
        match failed.get(&key) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                failed.remove(&key);
                false
            }
            None => false,
        }
    }

    fn order_srv(&self, records: Vec<Srv>) -> Vec<Srv> {
        let mut random = lock(&self.random);
        select::order_srv(records, &mut *random)
    }
}

/// A [`Locator`] finds the servers of a response's sent-by for the
/// transport (RFC 3263 §5).
impl SentByResolver for Locator {
    fn servers<'a>(
        &'a self,
        host: &'a str,
        port: Option<u16>,
        protocol: Protocol,
    ) -> SentByFuture<'a> {
        Box::pin(async move {
            match self.locate_sent_by(host, port, protocol).await {
                Ok(targets) => Ok(targets.into_iter().map(|t| t.addr).collect()),
                Err(error) => {
                    debug!(%host, %error, "sent-by not found (RFC 3263 §5)");
                    Err(TransportError::Resolve(format!("{host}: {error}")))
                }
            }
        })
    }
}

/// One run of the procedure: the lookups made so far, and the first
/// lookup error met along the way.
struct Walk<'a> {
    locator: &'a Locator,
    domain: String,
    lookups: usize,
    error: Option<LocateError>,
}

impl<'a> Walk<'a> {
    fn new(locator: &'a Locator, plan: &Plan) -> Self {
        let domain = match plan {
            Plan::Direct(t) => t.addr.ip().to_string(),
            Plan::Address { host, .. } | Plan::Srv { host, .. } | Plan::Naptr { host, .. } => {
                host.clone()
            }
        };
        Walk {
            locator,
            domain,
            lookups: 0,
            error: None,
        }
    }

    /// Counts one lookup against the limit.
    fn count(&mut self) -> Result<(), LocateError> {
        self.lookups += 1;
        if self.lookups > self.locator.max_lookups {
            return Err(LocateError::TooManyLookups {
                domain: self.domain.clone(),
                limit: self.locator.max_lookups,
            });
        }
        Ok(())
    }

    /// Keeps the first lookup error, reported if nothing is found.
    fn note(&mut self, name: &str, error: DnsError) {
        debug!(name, %error, "DNS lookup failed");
        self.error.get_or_insert(LocateError::Dns {
            name: name.to_owned(),
            error,
        });
    }

    async fn run(mut self, plan: Plan) -> Result<Vec<Target>, LocateError> {
        let (host, queries, fallback) = match plan {
            Plan::Direct(t) => return Ok(vec![t]),
            Plan::Address {
                host,
                port,
                protocol,
            } => return self.host(&host, port, protocol).await,
            Plan::Srv { host, query } => {
                let protocol = query.protocol;
                (host, vec![query], protocol)
            }
            Plan::Naptr { host, secure } => {
                let supported = &self.locator.protocols;
                let chosen = self.naptr(&host, secure).await?;
                // §4.2: without SRV records, the transport NAPTR chose,
                // else UDP for sip: and TLS for sips: (§4.1).
                let fallback = match chosen.as_ref().and_then(|q| q.first()) {
                    Some(q) => q.protocol,
                    None => select::default_protocol(secure, supported).ok_or_else(|| {
                        LocateError::Unsupported(format!("{host}: no supported protocol"))
                    })?,
                };
                let queries =
                    chosen.unwrap_or_else(|| select::srv_fallback(&host, secure, supported));
                (host, queries, fallback)
            }
        };
        match self.srv(&queries).await? {
            Some(targets) if !targets.is_empty() => Ok(targets),
            Some(_) => Err(self.error.take().unwrap_or(LocateError::NoAddress {
                domain: self.domain.clone(),
            })),
            None => {
                debug!(%host, protocol = %fallback, "no SRV records: A/AAAA at the default port (RFC 3263 §4.2)");
                self.host(&host, fallback.default_port(), fallback).await
            }
        }
    }

    /// Follows the NAPTR records of `host` (§4.1), through non-terminal
    /// replacements (RFC 3403 §4): the SRV names to query, or `None` to
    /// proceed without NAPTR.
    async fn naptr(
        &mut self,
        host: &str,
        secure: bool,
    ) -> Result<Option<Vec<SrvQuery>>, LocateError> {
        let mut chain = vec![normalize(host)];
        let mut name = host.to_owned();
        loop {
            self.count()?;
            let records: Vec<Naptr> = match self.locator.resolver.naptr(&name).await {
                Ok(answers) => answers.into_iter().map(|a| a.record).collect(),
                Err(DnsError::NotFound) => return Ok(None),
                Err(DnsError::Timeout) => {
                    return Err(LocateError::Dns {
                        name,
                        error: DnsError::Timeout,
                    });
                }
                Err(e) => {
                    // A server that refuses NAPTR queries may still
                    // answer SRV and A ones.
                    self.note(&name, e);
                    return Ok(None);
                }
            };
            match select::choose_naptr(&records, secure, &self.locator.protocols) {
                NaptrChoice::Srv(queries) => return Ok(Some(queries)),
                NaptrChoice::None => return Ok(None),
                NaptrChoice::Next(next) => {
                    let key = normalize(&next);
                    let looped = chain.contains(&key);
                    chain.push(key);
                    if looped {
                        return Err(LocateError::Loop { chain });
                    }
                    name = next;
                }
            }
        }
    }

    /// The targets of the SRV records of `queries`, in order (§4.2, RFC
    /// 2782); `None` when none of the names has SRV records.
    async fn srv(&mut self, queries: &[SrvQuery]) -> Result<Option<Vec<Target>>, LocateError> {
        let mut found = false;
        let mut failed = None;
        let mut targets = Vec::new();
        for q in queries {
            self.count()?;
            let records = match self.locator.resolver.srv(&q.name).await {
                Ok(answers) => answers.into_iter().map(|a| a.record).collect(),
                Err(DnsError::NotFound) => continue,
                Err(error) => {
                    debug!(name = %q.name, %error, "SRV lookup failed");
                    failed.get_or_insert(LocateError::Dns {
                        name: q.name.clone(),
                        error,
                    });
                    continue;
                }
            };
            found = true;
            for srv in self.locator.order_srv(records) {
                match self.addresses(&srv.target, srv.port, q.protocol).await? {
                    Ok(t) => targets.extend(t),
                    Err(DnsError::NotFound) => {
                        debug!(name = %q.name, target = %srv.target, "SRV target without an address, skipped");
                    }
                    Err(e) => self.note(&srv.target, e),
                }
            }
        }
        if !found && let Some(e) = failed {
            // Lookups failed: the absence of SRV records is not
            // established, so no fallback to A/AAAA.
            return Err(e);
        }
        Ok(found.then_some(targets))
    }

    /// The targets at `host`'s addresses, or why there are none.
    async fn host(
        &mut self,
        host: &str,
        port: u16,
        protocol: Protocol,
    ) -> Result<Vec<Target>, LocateError> {
        match self.addresses(host, port, protocol).await? {
            Ok(targets) if !targets.is_empty() => Ok(targets),
            Ok(_) | Err(DnsError::NotFound) => Err(LocateError::NotFound {
                domain: host.to_owned(),
            }),
            Err(error) => Err(LocateError::Dns {
                name: host.to_owned(),
                error,
            }),
        }
    }

    /// The A/AAAA lookup of `host` as targets (an IP literal, which an SRV
    /// target should not be but may be, needs none).
    async fn addresses(
        &mut self,
        host: &str,
        port: u16,
        protocol: Protocol,
    ) -> Result<Result<Vec<Target>, DnsError>, LocateError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Ok(vec![Target::new(protocol, SocketAddr::new(ip, port))]));
        }
        self.count()?;
        Ok(self.locator.resolver.ip(host).await.map(|answers| {
            answers
                .into_iter()
                .map(|a| Target::new(protocol, SocketAddr::new(a.record, port)))
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests;
