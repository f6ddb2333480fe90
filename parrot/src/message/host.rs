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
        if let Some(v4) = parse_ipv4(b) {
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
            Host::Ipv4(a) => f.write_str(Ipv4Text::new(*a).as_str()),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Parses a dotted-quad IPv4 address exactly as `Ipv4Addr::from_str`
/// does (four decimal octets of one to three digits, none above 255 and
/// none with a leading zero), in one pass: hosts, Via addresses and SDP
/// addresses are parsed on every message, and the standard parser's
/// generic machinery cost several times as much.
pub(crate) fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value = 0u16;
        while i - start < 3
            && let Some(d) = s.get(i).filter(|d| d.is_ascii_digit())
        {
            value = value * 10 + u16::from(d - b'0');
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || (digits > 1 && s[start] == b'0') || value > 255 {
            return None;
        }
        *octet = value as u8;
    }
    (i == s.len()).then_some(Ipv4Addr::from(octets))
}

/// An IPv4 address in dotted-quad text, written without the formatting
/// machinery (`Ipv4Addr`'s `Display` goes through it once per octet).
pub(crate) struct Ipv4Text {
    buf: [u8; 15],
    len: usize,
}

impl Ipv4Text {
    /// `ip` as text.
    pub(crate) fn new(ip: Ipv4Addr) -> Self {
        let mut text = Ipv4Text {
            buf: [0; 15],
            len: 0,
        };
        for (n, octet) in ip.octets().into_iter().enumerate() {
            if n > 0 {
                text.push(b'.');
            }
            if octet >= 100 {
                text.push(b'0' + octet / 100);
            }
            if octet >= 10 {
                text.push(b'0' + octet / 10 % 10);
            }
            text.push(b'0' + octet % 10);
        }
        text
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and dots were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Parses an IP address as `IpAddr::from_str` does, IPv4 through
/// [`parse_ipv4`].
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    match parse_ipv4(s.as_bytes()) {
        Some(a) => Some(IpAddr::V4(a)),
        None => s.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    }
}

/// An IP address as text: IPv4 through [`Ipv4Text`] (at most 15 bytes,
/// so inline: no allocation), IPv6 as the standard library writes it
/// (RFC 5952).
pub(crate) fn ip_text(ip: IpAddr) -> Text {
    match ip {
        IpAddr::V4(a) => Text::copy_of(Ipv4Text::new(a).as_str()),
        IpAddr::V6(a) => Text::from(a.to_string()),
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
            // Trimmed only when the host ends in something other than
            // printable ASCII (nearly never: the trim is a Unicode one).
            Some(i) if s.as_bytes()[..i].last().is_some_and(u8::is_ascii_graphic) => {
                (&s[..i], &s[i..])
            }
            Some(i) => (s[..i].trim_end(), &s[i..]),
            None => (s, ""),
        }
    };
    let host = Host::parse(src, host)?;
    let port = if port.is_empty() {
        None
    } else {
        let digits = port.strip_prefix(':').ok_or_else(bad_port)?;
        // As above: a port starting with a digit has nothing to trim.
        let digits = if digits.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            digits
        } else {
            digits.trim_start()
        };
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

    #[test]
    fn ipv4_parsed_and_written_as_the_standard_library_does() {
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.7",
            "10.0.0.1",
            "1.22.133.4",
        ] {
            let a: Ipv4Addr = s.parse().unwrap();
            assert_eq!(parse_ipv4(s.as_bytes()), Some(a), "{s}");
            assert_eq!(Ipv4Text::new(a).as_str(), s);
            assert_eq!(Host::Ipv4(a).to_string(), s);
        }
        for s in [
            "",
            "1.2.3",
            "1.2.3.4.",
            ".1.2.3.4",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.0444",
            "1.2.3.4444",
            "1..3.4",
            "1.2.3.4 ",
            "1.2.3.-4",
            "a.b.c.d",
            "1.2.3.4a",
            "١.2.3.4",
        ] {
            assert_eq!(parse_ipv4(s.as_bytes()), None, "{s:?}");
            assert!(s.parse::<Ipv4Addr>().is_err(), "{s:?}");
        }
        assert_eq!(parse_ip("::1"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(parse_ip("example.com"), None);
        assert_eq!(ip_text("2001:db8::1".parse().unwrap()), "2001:db8::1");
        assert_eq!(ip_text("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    proptest::proptest! {
        #[test]
        fn ipv4_parse_agrees_with_the_standard_library(s in "[0-9.]{0,18}|[0-9]{1,3}(\\.[0-9]{1,4}){3}") {
            proptest::prop_assert_eq!(parse_ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok());
        }

        #[test]
        fn ipv4_text_agrees_with_the_standard_library(octets in proptest::array::uniform4(0u8..)) {
            let a = Ipv4Addr::from(octets);
            let text = Ipv4Text::new(a);
            proptest::prop_assert_eq!(text.as_str(), a.to_string());
        }
    }
}
