//! Why a DNS lookup or the location of a SIP server failed.

use crate::message::StatusCode;
use crate::transport::TransportError;

/// Why a DNS lookup gave no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN) or has no record of the type
    /// asked: a negative answer, which may be cached (RFC 2308).
    #[error("no such record")]
    NotFound,
    /// No server answered in time.
    #[error("DNS lookup timed out")]
    Timeout,
    /// The lookup failed otherwise (a server failure, a refused query, a
    /// malformed name or answer).
    #[error("DNS lookup failed: {0}")]
    Failed(String),
    /// The name's aliases (CNAME records) lead back to themselves or are
    /// too many to follow.
    #[error("DNS alias loop")]
    Loop,
}

/// Why no target could be located for a URI.
///
/// A request whose next hop cannot be located was never sent: RFC 3261
/// §8.1.3.1 has the client treat such a transport failure as a
/// `503 (Service Unavailable)`, which [`LocateError::status`] gives. It
/// also converts into [`TransportError::Resolve`], which the client
/// already answers with a 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocateError {
    /// The URI cannot be located by RFC 3263: not a `sip:` or `sips:` URI,
    /// a `transport` parameter naming a protocol that is unknown or not
    /// among the supported ones, or a `sips:` URI over UDP.
    #[error("cannot locate {0}")]
    Unsupported(String),
    /// The domain has no NAPTR, SRV, A or AAAA record for SIP.
    #[error("{domain}: no SIP server found in DNS")]
    NotFound {
        /// The domain looked up.
        domain: String,
    },
    /// SRV records exist but none of their targets has an address (each
    /// target is `.` or has no A/AAAA record).
    #[error("{domain}: no SRV target has an address")]
    NoAddress {
        /// The domain whose SRV records were read.
        domain: String,
    },
    /// A lookup failed, and nothing else was found.
    #[error("{name}: {error}")]
    Dns {
        /// The name looked up.
        name: String,
        /// Why it failed.
        error: DnsError,
    },
    /// NAPTR replacements lead back to a name already visited (RFC 3403
    /// §4: non-terminal rules form a chain of keys).
    #[error("NAPTR replacement loop: {}", chain.join(" -> "))]
    Loop {
        /// The names visited, the repeated one last.
        chain: Vec<String>,
    },
    /// More lookups than the locator allows were needed (a long chain of
    /// NAPTR replacements, or too many SRV targets).
    #[error("{domain}: more than {limit} DNS lookups needed")]
    TooManyLookups {
        /// The domain being located.
        domain: String,
        /// The limit.
        limit: usize,
    },
}

impl LocateError {
    /// The status a client reports for a request it could not send for
    /// this reason: `503 Service Unavailable` (RFC 3261 §8.1.3.1: a
    /// transport failure is treated as a 503).
    pub fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

impl From<LocateError> for TransportError {
    /// [`TransportError::Resolve`] with the reason: the client answers it
    /// with a 503 like any transport failure (RFC 3261 §8.1.3.1).
    fn from(e: LocateError) -> Self {
        TransportError::Resolve(e.to_string())
    }
}
