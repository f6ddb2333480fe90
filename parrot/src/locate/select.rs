//! The rules of RFC 3263 §4 and RFC 2782 as pure functions: what a URI
//! asks for before any lookup, which NAPTR records apply and in what
//! order, which SRV names to try without them, and the order SRV targets
//! are contacted in. No I/O and no clock; randomness is passed in, so
//! every rule is tested deterministically. [`Locator`](super::Locator)
//! performs the lookups between these steps.

use super::error::LocateError;
use super::records::{Naptr, Srv};
use crate::message::{Host, Uri};
use crate::transport::{Protocol, Target};
use std::net::{IpAddr, SocketAddr};

/// What a URI asks for before any DNS lookup (RFC 3263 §4.1, §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The target is a numeric IP address: no DNS at all (§4.2), the port
    /// the URI gives or the protocol's default.
    Direct(Target),
    /// A domain with an explicit port: A/AAAA lookups only (§4.2), over
    /// the protocol the `transport` parameter names or, without one, UDP
    /// for `sip:` and TLS for `sips:` (§4.1).
    Address {
        /// The domain to look up.
        host: String,
        /// The port the URI gives.
        port: u16,
        /// The protocol.
        protocol: Protocol,
    },
    /// A domain with a `transport` parameter and no port: an SRV query for
    /// that transport, then A/AAAA at the protocol's default port if
    /// there is no SRV record (§4.1, §4.2). No NAPTR.
    Srv {
        /// The domain.
        host: String,
        /// The SRV name and its protocol.
        query: SrvQuery,
    },
    /// A domain with neither transport nor port: the full procedure,
    /// NAPTR first (§4.1).
    Naptr {
        /// The domain.
        host: String,
        /// Whether the URI is `sips:` (TLS only, §4.1).
        secure: bool,
    },
}

/// An SRV name to query and the protocol its targets are reached over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvQuery {
    /// The protocol.
    pub protocol: Protocol,
    /// The SRV owner name, such as `_sip._udp.example.com`.
    pub name: String,
}

/// What the NAPTR records of a domain say to do next (RFC 3263 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NaptrChoice {
    /// Query these SRV names, in this order: the applicable `s` records by
    /// order, then preference (RFC 3403 §4.1).
    Srv(Vec<SrvQuery>),
    /// The most preferred applicable record is non-terminal (empty
    /// flags): its replacement is the next name whose NAPTR records are
    /// read (RFC 3403 §4).
    Next(String),
    /// No record applies: proceed as if there were none, with SRV queries
    /// (RFC 3263 §4.1).
    None,
}

/// The first step for `uri`, for a client that supports `supported`
/// (RFC 3263 §4).
///
/// The TARGET is the `maddr` parameter if there is one, else the host
/// (§4: "If the URI contains an maddr parameter, TARGET is set to
/// maddr"). A `transport` parameter is used as given (§4.1), except that
/// over a `sips:` URI `tcp` means TLS and `ws` means WSS (RFC 3261
/// §26.2.2) and `udp` is refused. Without one, a numeric TARGET or an
/// explicit port means UDP for `sip:` and TLS for `sips:` (§4.1); a
/// client without UDP takes the first of TCP and TLS it supports.
///
/// Errors: a URI that is not `sip:`/`sips:`, a transport that is unknown
/// or not supported.
pub fn plan(uri: &Uri, supported: &[Protocol]) -> Result<Plan, LocateError> {
    let Some(sip) = uri.as_sip() else {
        return Err(LocateError::Unsupported(format!(
            "{uri}: only sip: and sips: URIs are located (RFC 3263)"
        )));
    };
    let secure = sip.is_secure();
    let transport = match sip.transport() {
        Some(t) => Some(transport_param(&t, secure).ok_or_else(|| {
            LocateError::Unsupported(format!("{uri}: transport={t} cannot be used"))
        })?),
        None => None,
    };
    let target = match sip.maddr() {
        Some(m) => {
            let bare = m.trim_start_matches('[').trim_end_matches(']');
            bare.parse::<IpAddr>().map_err(|_| bare.to_owned())
        }
        None => match sip.host() {
            Host::Domain(d) => Err(d.to_string()),
            Host::Ipv4(a) => Ok(IpAddr::V4(*a)),
            Host::Ipv6(a) => Ok(IpAddr::V6(*a)),
        },
    };
    let chosen = |transport: Option<Protocol>| match transport {
        Some(p) => require(p, supported, uri),
        None => default_protocol(secure, supported).ok_or_else(|| {
            LocateError::Unsupported(format!("{uri}: no supported protocol can reach it"))
        }),
    };
    Ok(match (target, sip.port(), transport) {
        (Ok(ip), port, t) => {
            let protocol = chosen(t)?;
            let port = port.unwrap_or(protocol.default_port());
            Plan::Direct(Target::new(protocol, SocketAddr::new(ip, port)))
        }
        (Err(host), Some(port), t) => Plan::Address {
            host,
            port,
            protocol: chosen(t)?,
        },
        (Err(host), None, Some(t)) => {
            let protocol = require(t, supported, uri)?;
            let query = SrvQuery {
                protocol,
                name: srv_name(&host, protocol),
            };
            Plan::Srv { host, query }
        }
        (Err(host), None, None) => {
            if secure && !supported.iter().any(|p| p.is_secure()) {
                return Err(LocateError::Unsupported(format!(
                    "{uri}: a sips: URI needs TLS, which is not supported here"
                )));
            }
            Plan::Naptr { host, secure }
        }
    })
}

/// The protocol a `transport` URI parameter names (RFC 3261 §19.1.1),
/// read for a `sips:` URI when `secure` (RFC 3261 §26.2.2: TLS only, so
/// `tcp` is TLS, `ws` is WSS and `udp` is impossible). `None` for a value
/// that cannot be used.
pub fn transport_param(transport: &str, secure: bool) -> Option<Protocol> {
    let t = transport.to_ascii_lowercase();
    match (t.as_str(), secure) {
        ("udp", false) => Some(Protocol::Udp),
        ("tcp", false) => Some(Protocol::Tcp),
        ("tcp" | "tls", _) => Some(Protocol::Tls),
        ("ws", false) => Some(Protocol::Ws),
        ("ws" | "wss", _) => Some(Protocol::Wss),
        _ => None,
    }
}

/// The protocol without a `transport` parameter (RFC 3263 §4.1): UDP for
/// `sip:` and TLS for `sips:`. A `sip:` client without UDP takes TCP,
/// then TLS; `None` when nothing fits.
pub fn default_protocol(secure: bool, supported: &[Protocol]) -> Option<Protocol> {
    let choices: &[Protocol] = if secure {
        &[Protocol::Tls]
    } else {
        &[Protocol::Udp, Protocol::Tcp, Protocol::Tls]
    };
    choices.iter().copied().find(|p| supported.contains(p))
}

fn require(p: Protocol, supported: &[Protocol], uri: &Uri) -> Result<Protocol, LocateError> {
    if supported.contains(&p) {
        Ok(p)
    } else {
        Err(LocateError::Unsupported(format!(
            "{uri}: transport {p} is not supported here"
        )))
    }
}

/// The plan for locating the server a response goes to from its Via's
/// sent-by (RFC 3263 §5): a numeric address needs no DNS; a host with a
/// port, A/AAAA lookups only; a host without one, the SRV records for the
/// Via's transport, else the host's addresses at the transport's default
/// port. Never NAPTR: the transport is known.
pub fn sent_by_plan(host: &str, port: Option<u16>, protocol: Protocol) -> Plan {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let port = port.unwrap_or_else(|| protocol.default_port());
        return Plan::Direct(Target::new(protocol, SocketAddr::new(ip, port)));
    }
    match port {
        Some(port) => Plan::Address {
            host: host.to_owned(),
            port,
            protocol,
        },
        None => Plan::Srv {
            host: host.to_owned(),
            query: SrvQuery {
                protocol,
                name: srv_name(host, protocol),
            },
        },
    }
}

/// The SRV owner name for `protocol` at `domain` (RFC 3263 §4.1, §4.2,
/// RFC 2782): `_sips` for TLS, which a `sip:` URI over TLS uses too
/// (§4.2), `_sip` otherwise; `_udp` for UDP, `_tcp` for TCP and TLS.
/// WebSocket has no label in RFC 3263; `_ws` is used, as deployments do.
pub fn srv_name(domain: &str, protocol: Protocol) -> String {
    let label = match protocol {
        Protocol::Udp => "_sip._udp",
        Protocol::Tcp => "_sip._tcp",
        Protocol::Tls => "_sips._tcp",
        Protocol::Ws => "_sip._ws",
        Protocol::Wss => "_sips._ws",
    };
    format!("{label}.{domain}")
}

/// The protocol a NAPTR service field names (RFC 3263 §4.1, RFC 7118),
/// if the record applies to a `sips:` URI when `secure`: "a client
/// resolving a SIPS URI MUST discard any services that do not contain
/// "SIPS" as the protocol in the service field", while a `sip:` URI may
/// be reached over TLS (`SIPS+D2T`). `None` for any other service
/// (`SIP+D2S`, SCTP, among them).
pub fn naptr_protocol(service: &str, secure: bool) -> Option<Protocol> {
    let is = |s: &str| service.eq_ignore_ascii_case(s);
    if is("SIPS+D2T") {
        Some(Protocol::Tls)
    } else if is("SIPS+D2W") {
        Some(Protocol::Wss)
    } else if secure {
        None
    } else if is("SIP+D2U") {
        Some(Protocol::Udp)
    } else if is("SIP+D2T") {
        Some(Protocol::Tcp)
    } else if is("SIP+D2W") {
        Some(Protocol::Ws)
    } else {
        None
    }
}

/// Whether a NAPTR record applies: a terminal `s` record whose service
/// names a supported protocol (RFC 3263 §4.1), or a non-terminal record
/// (empty flags, RFC 3403 §4.1) whose service is empty or applicable.
/// Other flags (`a`, `u`, `p`) are not used by SIP.
fn applicable(r: &Naptr, secure: bool, supported: &[Protocol]) -> bool {
    if r.replacement.is_empty() || r.replacement == "." {
        return false;
    }
    let protocol = naptr_protocol(&r.service, secure).filter(|p| supported.contains(p));
    if r.flags.eq_ignore_ascii_case("s") {
        protocol.is_some()
    } else {
        r.flags.is_empty() && (r.service.is_empty() || protocol.is_some())
    }
}

/// What to do with the NAPTR records of a domain (RFC 3263 §4.1): the
/// records that do not apply are discarded (a `sips:` URI keeps only
/// `SIPS+` services; services of unsupported transports go), the rest
/// are taken by order, then preference (RFC 3403 §4.1). If the first is
/// non-terminal, its replacement is the next key; otherwise every
/// applicable `s` record gives an SRV name, the most preferred first and
/// the others after it, for failover.
pub fn choose_naptr(records: &[Naptr], secure: bool, supported: &[Protocol]) -> NaptrChoice {
    let mut usable: Vec<&Naptr> = records
        .iter()
        .filter(|r| applicable(r, secure, supported))
        .collect();
    usable.sort_by_key(|r| (r.order, r.preference));
    let Some(first) = usable.first() else {
        return NaptrChoice::None;
    };
    if first.flags.is_empty() {
        return NaptrChoice::Next(first.replacement.clone());
    }
    let mut out: Vec<SrvQuery> = Vec::new();
    for r in usable.iter().filter(|r| !r.flags.is_empty()) {
        if let Some(protocol) = naptr_protocol(&r.service, secure) {
            let q = SrvQuery {
                protocol,
                name: r.replacement.clone(),
            };
            if !out.contains(&q) {
                out.push(q);
            }
        }
    }
    NaptrChoice::Srv(out)
}

/// The SRV names to query when a domain has no applicable NAPTR record
/// (RFC 3263 §4.1: "the client constructs SRV queries for those transport
/// protocols it supports"): `_sips._tcp`, `_sip._tcp`, `_sip._udp`, in
/// this order of preference, those the client supports; only
/// `_sips._tcp` for a `sips:` URI.
pub fn srv_fallback(domain: &str, secure: bool, supported: &[Protocol]) -> Vec<SrvQuery> {
    let order: &[Protocol] = if secure {
        &[Protocol::Tls]
    } else {
        &[Protocol::Tls, Protocol::Tcp, Protocol::Udp]
    };
    order
        .iter()
        .filter(|p| supported.contains(p))
        .map(|&protocol| SrvQuery {
            protocol,
            name: srv_name(domain, protocol),
        })
        .collect()
}

/// The order to contact SRV targets in (RFC 2782, "Usage rules"; RFC 3263
/// §4.3): by priority, lowest first; within a priority, by repeated
/// weighted random selection. Records whose target is `.` (the service is
/// "decidedly not available") are dropped.
///
/// Selection follows RFC 2782's running-sum algorithm: the records not
/// yet ordered are arranged with the weight-0 ones first, a number is
/// drawn uniformly between 0 and the sum of their weights inclusive, and
/// the first record whose running sum reaches it is next. A weight-0
/// record thus has a small chance of coming first among heavier ones.
///
/// `random(n)` must return a number drawn uniformly from `0..=n`.
pub fn order_srv(records: Vec<Srv>, random: &mut impl FnMut(u32) -> u32) -> Vec<Srv> {
    let mut records: Vec<Srv> = records
        .into_iter()
        .filter(|r| !r.is_unavailable())
        .collect();
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        let mut set = vec![first];
        while let Some(r) = rest.next_if(|r| r.priority == priority) {
            set.push(r);
        }
        // Weight 0 first; the sort is stable, so DNS order otherwise.
        set.sort_by_key(|r| r.weight != 0);
        while !set.is_empty() {
            let total: u32 = set.iter().map(|r| u32::from(r.weight)).sum();
            let pick = random(total).min(total);
            let mut running = 0u32;
            let i = set
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(set.remove(i));
        }
    }
    out
}

/// `targets` without repeats, each kept where it first appears.
pub fn dedup(targets: Vec<Target>) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::with_capacity(targets.len());
    for t in targets {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// `targets` with those `failed` says have failed recently moved to the
/// end, each group keeping its order. RFC 3263 §4.3 moves on to the next
/// target when one fails; remembering the failure keeps the next
/// requests from waiting on that target again.
pub fn failed_last(targets: Vec<Target>, failed: impl Fn(&Target) -> bool) -> Vec<Target> {
    let (bad, good): (Vec<Target>, Vec<Target>) = targets.into_iter().partition(|t| failed(t));
    good.into_iter().chain(bad).collect()
}

#[cfg(test)]
mod tests;
