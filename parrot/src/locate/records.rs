//! The DNS records RFC 3263 reads: NAPTR (RFC 3403) and SRV (RFC 2782),
//! and the TTL every answer carries (RFC 1035 §3.2.1).

use std::time::Duration;

/// A NAPTR record (RFC 3403 §4.1), as RFC 3263 §4.1 uses it: the
/// transport a domain's SIP servers prefer and the SRV name to query for
/// it. The regular expression is not kept: for SIP it is empty and the
/// replacement is the result (RFC 3263 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Naptr {
    /// The order the records must be processed in, lowest first
    /// (RFC 3403 §4.1).
    pub order: u16,
    /// Among records of equal order, the preferred one first (RFC 3403
    /// §4.1).
    pub preference: u16,
    /// The flags: `s` when the replacement is an SRV name (RFC 3263
    /// §4.1), empty for a non-terminal record whose replacement is the
    /// next NAPTR key (RFC 3403 §4.1).
    pub flags: String,
    /// The service: `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, `SIP+D2W`,
    /// `SIPS+D2W` and others (RFC 3263 §4.1, RFC 7118).
    pub service: String,
    /// The replacement domain name: the SRV name to query.
    pub replacement: String,
}

impl Naptr {
    /// A NAPTR record.
    pub fn new(
        order: u16,
        preference: u16,
        flags: &str,
        service: &str,
        replacement: &str,
    ) -> Naptr {
        Naptr {
            order,
            preference,
            flags: flags.to_owned(),
            service: service.to_owned(),
            replacement: replacement.to_owned(),
        }
    }
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Srv {
    /// The priority: lower values are contacted first (RFC 2782).
    pub priority: u16,
    /// The relative weight among records of equal priority (RFC 2782).
    pub weight: u16,
    /// The port the service listens on.
    pub port: u16,
    /// The host to contact; `.` means the service is decidedly not
    /// available at this domain (RFC 2782).
    pub target: String,
}

impl Srv {
    /// An SRV record.
    pub fn new(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port,
            target: target.to_owned(),
        }
    }

    /// Whether the target is `.`: "the service is decidedly not available
    /// at this domain" (RFC 2782).
    pub fn is_unavailable(&self) -> bool {
        self.target == "." || self.target.is_empty()
    }
}

/// One record of a DNS answer and how long it may be cached (its TTL,
/// RFC 1035 §3.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Answer<T> {
    /// The record.
    pub record: T,
    /// The time to live: how long the record may be cached.
    pub ttl: Duration,
}

impl<T> Answer<T> {
    /// An answer of `record` valid for `ttl`.
    pub fn new(record: T, ttl: Duration) -> Self {
        Answer { record, ttl }
    }
}

/// A domain name as compared and cached: lower case (DNS names compare
/// case-insensitively, RFC 4343 §3) and without the final dot.
pub(crate) fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}
