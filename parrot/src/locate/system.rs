//! The resolver a program gets by default: NAPTR and SRV from the DNS
//! servers the system is configured with (`/etc/resolv.conf`, through
//! hickory), and addresses from the system's own lookup (`getaddrinfo`,
//! which also reads `/etc/hosts` and whatever the system adds), as SIP
//! programs resolved host names before RFC 3263 support.

use super::error::DnsError;
use super::hickory::HickoryResolver;
use super::records::{Answer, Naptr, Srv};
use super::resolver::{DnsFuture, DnsResolver};
use std::net::IpAddr;
use std::time::Duration;

/// How long an address from the system's lookup is kept: it gives no TTL.
const ADDRESS_TTL: Duration = Duration::from_secs(30);

/// NAPTR and SRV from the system's DNS servers, addresses from the
/// system's lookup. Without a usable DNS configuration it still resolves
/// addresses, and has no NAPTR or SRV records.
#[derive(Debug)]
pub struct SystemResolver {
    dns: Option<HickoryResolver>,
}

impl SystemResolver {
    /// Reads the system's DNS configuration; without one, only addresses
    /// are resolved.
    pub fn new() -> SystemResolver {
        let dns = HickoryResolver::system()
            .inspect_err(
                |e| tracing::info!(error = %e, "no DNS configuration: no NAPTR or SRV lookups"),
            )
            .ok();
        SystemResolver { dns }
    }
}

impl Default for SystemResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl DnsResolver for SystemResolver {
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr> {
        match &self.dns {
            Some(dns) => dns.naptr(name),
            None => Box::pin(async { Err(DnsError::NotFound) }),
        }
    }

    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv> {
        match &self.dns {
            Some(dns) => dns.srv(name),
            None => Box::pin(async { Err(DnsError::NotFound) }),
        }
    }

    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr> {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name, 0))
                .await
                .map_err(|_| DnsError::NotFound)?;
            let mut ips: Vec<Answer<IpAddr>> = Vec::new();
            for addr in found {
                let ip = addr.ip().to_canonical();
                if !ips.iter().any(|a| a.record == ip) {
                    ips.push(Answer::new(ip, ADDRESS_TTL));
                }
            }
            if ips.is_empty() {
                return Err(DnsError::NotFound);
            }
            Ok(ips)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_comes_from_the_system() {
        let r = SystemResolver::new();
        let ips = r.ip("localhost").await.unwrap();
        assert!(ips.iter().all(|a| a.record.is_loopback()), "{ips:?}");
    }
}
