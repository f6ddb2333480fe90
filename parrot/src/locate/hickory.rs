//! [`DnsResolver`] over DNS servers, with hickory-resolver.

use super::error::DnsError;
use super::records::{Answer, Naptr, Srv};
use super::resolver::{DnsFuture, DnsResolver, DnsResult};
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, TokioResolver};
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How [`HickoryResolver`] asks its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolverOptions {
    /// How long one attempt waits for an answer. Default 2 s.
    pub timeout: Duration,
    /// How many attempts a lookup makes (at least one). Default 2. A
    /// lookup gives up with [`DnsError::Timeout`] after
    /// `timeout × attempts` at most.
    pub attempts: usize,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }
}

impl ResolverOptions {
    /// The longest a lookup may take.
    fn deadline(&self) -> Duration {
        self.timeout
            .saturating_mul(u32::try_from(self.attempts.max(1)).unwrap_or(u32::MAX))
    }

    /// Applies the options to hickory's, and leaves caching to
    /// [`CachingResolver`](super::CachingResolver) (whose TTL handling is
    /// ours and tested).
    fn apply(&self, opts: &mut ResolverOpts) {
        opts.timeout = self.timeout;
        // hickory counts retries after the first attempt.
        opts.attempts = self.attempts.max(1) - 1;
        opts.cache_size = 0;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    }
}

/// A [`DnsResolver`] asking DNS servers, built on hickory-resolver (on
/// tokio). It caches nothing itself: wrap it in a
/// [`CachingResolver`](super::CachingResolver).
pub struct HickoryResolver {
    resolver: TokioResolver,
    deadline: Duration,
}

impl fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HickoryResolver")
            .field("name_servers", &self.resolver.config().name_servers())
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl HickoryResolver {
    /// The system's resolver configuration (`/etc/resolv.conf` on Unix:
    /// its servers, search domains and `ndots`) with the default
    /// [`ResolverOptions`].
    pub fn system() -> Result<Self, DnsError> {
        HickoryResolver::system_with(ResolverOptions::default())
    }

    /// The system's resolver configuration with `options`.
    pub fn system_with(options: ResolverOptions) -> Result<Self, DnsError> {
        let mut builder = TokioResolver::builder_tokio()
            .map_err(|e| DnsError::Failed(format!("reading the system DNS configuration: {e}")))?;
        options.apply(builder.options_mut());
        Ok(HickoryResolver {
            resolver: builder.build(),
            deadline: options.deadline(),
        })
    }

    /// One DNS server at `server`, over UDP and, for truncated answers,
    /// TCP, with the default [`ResolverOptions`]: for a private server,
    /// or a test server on loopback. No search domains and no hosts file.
    pub fn with_nameserver(server: SocketAddr) -> Self {
        HickoryResolver::with_nameserver_options(server, ResolverOptions::default())
    }

    /// [`with_nameserver`](Self::with_nameserver) with `options`.
    pub fn with_nameserver_options(server: SocketAddr, options: ResolverOptions) -> Self {
        let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let config = ResolverConfig::from_parts(None, vec![], servers);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        let opts = builder.options_mut();
        options.apply(opts);
        opts.use_hosts_file = ResolveHosts::Never;
        HickoryResolver {
            resolver: builder.build(),
            deadline: options.deadline(),
        }
    }

    /// `lookup` bounded by the deadline, its records mapped by `read`.
    async fn ask<T>(
        &self,
        lookup: impl Future<Output = Result<Lookup, ResolveError>>,
        read: impl Fn(&RData) -> Option<T>,
    ) -> DnsResult<T> {
        let lookup = match tokio::time::timeout(self.deadline, lookup).await {
            Err(_) => return Err(DnsError::Timeout),
            Ok(Err(e)) => return Err(dns_error(&e)),
            Ok(Ok(lookup)) => lookup,
        };
        let answers: Vec<Answer<T>> = lookup
            .record_iter()
            .filter_map(|r| {
                let ttl = Duration::from_secs(u64::from(r.ttl()));
                read(r.data()).map(|record| Answer::new(record, ttl))
            })
            .collect();
        if answers.is_empty() {
            // Only aliases, or records of another type.
            Err(DnsError::NotFound)
        } else {
            Ok(answers)
        }
    }
}

/// A hickory error as a [`DnsError`]: NXDOMAIN and empty answers are
/// negative answers.
fn dns_error(e: &ResolveError) -> DnsError {
    if e.is_no_records_found() {
        return DnsError::NotFound;
    }
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::Timeout) => DnsError::Timeout,
        _ => DnsError::Failed(e.to_string()),
    }
}

impl DnsResolver for HickoryResolver {
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr> {
        Box::pin(
            self.ask(self.resolver.lookup(name, RecordType::NAPTR), |d| {
                let RData::NAPTR(n) = d else { return None };
                Some(Naptr {
                    order: n.order(),
                    preference: n.preference(),
                    flags: String::from_utf8_lossy(n.flags()).into_owned(),
                    service: String::from_utf8_lossy(n.services()).into_owned(),
                    replacement: n.replacement().to_ascii(),
                })
            }),
        )
    }

    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv> {
        Box::pin(self.ask(self.resolver.lookup(name, RecordType::SRV), |d| {
            let RData::SRV(s) = d else { return None };
            Some(Srv {
                priority: s.priority(),
                weight: s.weight(),
                port: s.port(),
                target: s.target().to_ascii(),
            })
        }))
    }

    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr> {
        let lookup = async move { self.resolver.lookup_ip(name).await.map(Lookup::from) };
        Box::pin(self.ask(lookup, |d| match d {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        }))
    }
}
