//! Socket addresses: canonical forms and host resolution (A/AAAA only;
//! RFC 3263 SRV/NAPTR lookups are left to the layers above).

use super::TransportError;
use crate::message::Host;
use std::net::{IpAddr, SocketAddr};

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) as plain IPv4.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Resolves a host (IP literal, bracketed IPv6 reference or domain name;
/// A/AAAA lookup through `tokio::net::lookup_host`, no SRV) and port.
pub async fn resolve(host: &str, port: u16) -> Result<SocketAddr, TransportError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if bare.is_empty() || bare.contains([':', '[', ']', ' ']) {
        return Err(TransportError::Resolve(host.to_owned()));
    }
    let mut addrs = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|_| TransportError::Resolve(host.to_owned()))?;
    addrs
        .next()
        .map(canonical)
        .ok_or_else(|| TransportError::Resolve(host.to_owned()))
}

/// Resolves a parsed host (a response destination, §18.2.2).
pub(crate) async fn resolve_host(host: &Host, port: u16) -> Result<SocketAddr, TransportError> {
    match host {
        Host::Domain(d) => resolve(d, port).await,
        ip => match ip.ip() {
            Some(ip) => Ok(SocketAddr::new(ip, port)),
            None => Err(TransportError::Resolve(ip.to_string())),
        },
    }
}
