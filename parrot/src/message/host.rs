//! Hosts and host:port pairs (RFC 3261 §25.1 `hostport`).

use super::error::{ParseError, ParseErrorKind};
use super::grammar::find_byte;
use super::text::Text;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host: a domain name, an IPv4 address or an IPv6 reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name (as written; compare with [`Host::eq_ignore_case`]).
    Domain(Text),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host. IPv6 references must be in brackets.
    pub fn parse(src: &Text, s: &str) -> Result<Host, ParseError> {
        let bad = || ParseError::new(ParseErrorKind::Uri, format!("Bad host {s:?}"));
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(bad)?;
            return inner.parse().map(Host::Ipv6).map_err(|_| bad());
        }
        if s.is_empty() {
            return Err(bad());
        }
        let b = s.as_bytes();
        if b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
            && let Ok(v4) = s.parse::<Ipv4Addr>()
        {
            return Ok(Host::Ipv4(v4));
        }
        // hostname = *( domainlabel "." ) toplabel [ "." ]; labels are
        // alphanum with inner '-'. Underscores are accepted as many deployed
        // names carry them. One pass over the bytes.
        let name = b.strip_suffix(b".").unwrap_or(b);
        let mut prev = b'.';
        for &c in name {
            let ok = match c {
                b'.' => prev != b'.' && prev != b'-',
                b'-' => prev != b'.',
                _ => c.is_ascii_alphanumeric() || c == b'_',
            };
            if !ok {
                return Err(bad());
            }
            prev = c;
        }
        if name.is_empty() || prev == b'-' || prev == b'.' {
            return Err(bad());
        }
        Ok(Host::Domain(src.slice_ref(s)))
    }

    /// Whether two hosts are the same (domain names compare case-insensitively).
    pub fn eq_ignore_case(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
            Host::Domain(_) => None,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]` (IPv6 in brackets) and parses both parts.
/// Whitespace around the colon is allowed (it appears in Via sent-by).
pub fn parse_hostport(src: &Text, s: &str) -> Result<(Host, Option<u16>), ParseError> {
    let bad_port = || ParseError::new(ParseErrorKind::Uri, format!("Bad port in {s:?}"));
    let (host, port) = if s.starts_with('[') {
        match find_byte(s, b']') {
            Some(i) => (&s[..=i], s[i + 1..].trim_start()),
            None => return Err(ParseError::new(ParseErrorKind::Uri, "Bad IPv6 reference")),
        }
    } else {
        match find_byte(s, b':') {
            Some(i) => (s[..i].trim_end(), &s[i..]),
            None => (s, ""),
        }
    };
    let host = Host::parse(src, host)?;
    let port = if port.is_empty() {
        None
    } else {
        let digits = port.strip_prefix(':').ok_or_else(bad_port)?.trim_start();
        let n = super::grammar::parse_u64(digits).ok_or_else(bad_port)?;
        Some(u16::try_from(n).map_err(|_| bad_port())?)
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> Result<(Host, Option<u16>), ParseError> {
        let t = Text::from(s.to_owned());
        parse_hostport(&t, &t)
    }

    #[test]
    fn hosts() {
        assert_eq!(
            hp("10.0.0.1:5060").unwrap(),
            (Host::Ipv4([10, 0, 0, 1].into()), Some(5060))
        );
        assert_eq!(hp("[::1]:5061").unwrap().0, Host::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(hp("[::1]").unwrap().1, None);
        assert_eq!(hp("Example.COM").unwrap().0.to_string(), "Example.COM");
        assert_eq!(hp("example.com : 05060").unwrap().1, Some(5060));
        assert!(hp("exa mple.com").is_err());
        assert!(hp("example.com:99999").is_err());
        assert!(hp("example.com:").is_err());
        assert!(hp("[::1").is_err());
        assert!(hp("").is_err());
        assert!(Host::parse(&Text::new(), "a..b").is_err());
        assert!(Host::Domain("A.b".into()).eq_ignore_case(&Host::Domain("a.B".into())));
    }
}
