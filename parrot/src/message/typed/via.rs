//! `Via` (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`).
//!
//! ```text
//! via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//! sent-protocol = protocol-name SLASH protocol-version SLASH transport
//! sent-by       = host [ COLON port ]
//! ```

use super::TypedHeader;
use super::simple::{leading, parse_params};
use crate::message::grammar::{find_byte, is_token, is_token_byte, is_ws, skip_ws, trim_ws};
use crate::message::{HeaderName, Host, Params, ParseError, Text, parse_hostport};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The branch prefix of RFC 3261 transactions (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// The transport of a Via (`transport` in RFC 3261 §20.42). Known names are
/// recognised case-insensitively (tokens are case-insensitive, §7.3.1) and
/// written in upper case; any other token is kept as written.
#[derive(Debug, Clone)]
pub enum Transport {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS over TCP
    Tls,
    /// SCTP (RFC 4168)
    Sctp,
    /// WebSocket (RFC 7118)
    Ws,
    /// Secure WebSocket (RFC 7118)
    Wss,
    /// Any other transport token, as written.
    Other(Text),
}

impl Transport {
    /// The transport for a known name (case-insensitive), without
    /// allocating.
    pub fn from_known(s: &str) -> Option<Transport> {
        // The length and the first two letters leave one candidate; one
        // comparison confirms it (every Via of every message comes here).
        let b = s.as_bytes();
        let first = b.first()?.to_ascii_uppercase();
        let t = match (b.len(), first) {
            (3, b'U') => Transport::Udp,
            (3, b'T') if b[1].eq_ignore_ascii_case(&b'C') => Transport::Tcp,
            (3, b'T') => Transport::Tls,
            (4, b'S') => Transport::Sctp,
            (2, b'W') => Transport::Ws,
            (3, b'W') => Transport::Wss,
            _ => return None,
        };
        if t.as_str().eq_ignore_ascii_case(s) {
            Some(t)
        } else {
            None
        }
    }

    /// Parses a transport token; unknown names share storage with `src`.
    pub fn parse(src: &Text, s: &str) -> Result<Transport, ParseError> {
        if let Some(t) = Transport::from_known(s) {
            return Ok(t);
        }
        if !is_token(s) {
            return Err(ParseError::header("Via", "bad transport"));
        }
        Ok(Transport::Other(src.slice_ref(s)))
    }

    /// The name as written in a Via.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(t) => t,
        }
    }

    /// Whether the transport is reliable (RFC 3261 §17.1.1.2: timers A, E
    /// and G are not used over reliable transports). Unknown transports
    /// are assumed unreliable.
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp | Transport::Other(_))
    }

    /// Whether the transport is secured with TLS.
    pub fn is_secure(&self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// The port implied when sent-by has none: 5060, or 5061 for TLS
    /// (RFC 3261 §18.2.2, §19.1.2). `None` for transports the RFC gives
    /// no default for.
    pub fn default_port(&self) -> Option<u16> {
        match self {
            Transport::Udp | Transport::Tcp | Transport::Sctp => Some(5060),
            Transport::Tls => Some(5061),
            _ => None,
        }
    }
}

impl PartialEq for Transport {
    /// Transports compare case-insensitively, like all tokens (§7.3.1).
    fn eq(&self, other: &Transport) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

impl Eq for Transport {}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `via-parm`: a hop of the path a request took (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `protocol-name`, normally `SIP`, as written.
    pub protocol: Text,
    /// `protocol-version`, normally `2.0`, as written.
    pub version: Text,
    /// The transport.
    pub transport: Transport,
    /// The host of `sent-by`.
    pub host: Host,
    /// The port of `sent-by`, if written.
    pub port: Option<u16>,
    /// The parameters (`branch`, `received`, `rport`, `maddr`, `ttl`, ...).
    pub params: Params,
}

impl Via {
    /// A `SIP/2.0` Via for `transport`, sent by `host[:port]`, with a
    /// `branch` parameter. Callers should make `branch` start with
    /// [`MAGIC_COOKIE`] (§8.1.1.7).
    pub fn new(
        transport: Transport,
        host: impl Into<Host>,
        port: Option<u16>,
        branch: impl Into<Text>,
    ) -> Via {
        let mut params = Params::new();
        params.set_raw("branch", Some(branch.into()));
        Via {
            protocol: Text::from_static("SIP"),
            version: Text::from_static("2.0"),
            transport,
            host: host.into(),
            port,
            params,
        }
    }

    /// Whether the sent-protocol is `SIP/2.0` (case-insensitive).
    pub fn is_sip_2_0(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("SIP") && self.version == "2.0"
    }

    /// The sent-by port, or the transport's default (§18.2.2).
    pub fn port_or_default(&self) -> Option<u16> {
        self.port.or_else(|| self.transport.default_port())
    }

    /// The `branch` parameter (§8.1.1.7).
    pub fn branch(&self) -> Option<&str> {
        self.params.raw("branch").map(Text::as_str)
    }

    /// Sets the `branch` parameter.
    pub fn set_branch(&mut self, branch: impl Into<Text>) {
        self.params.set_raw("branch", Some(branch.into()));
    }

    /// Whether the branch starts with the magic cookie `z9hG4bK`, i.e. the
    /// sender follows RFC 3261 transaction matching (§8.1.1.7, §17.2.3).
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter (§18.2.1). Both the RFC 3261 form
    /// (`received=2001:db8::1`) and the bracketed form RFC 5118 §4.5 says
    /// to accept (`received=[2001:db8::1]`) are read.
    pub fn received(&self) -> Option<IpAddr> {
        self.params.raw("received").and_then(|v| parse_received(v))
    }

    /// Sets `received` to the source address of the request (§18.2.1).
    /// IPv6 addresses are written without brackets, as the RFC 3261
    /// grammar (`IPv4address / IPv6address`) requires.
    pub fn set_received(&mut self, ip: IpAddr) {
        self.params
            .set_raw("received", Some(crate::message::ip_text(ip)));
    }

    /// The `rport` parameter (RFC 3581 §3, §4): `None` if absent,
    /// `Some(None)` if present without a value (the client asks for it),
    /// `Some(Some(port))` once a server filled it in.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.find("rport")?;
        match &p.value {
            None => Some(None),
            Some(v) => parse_port(v).map(Some),
        }
    }

    /// Adds a valueless `rport` (RFC 3581 §3: the client asks for
    /// symmetric response routing).
    pub fn request_rport(&mut self) {
        self.params.set("rport", None);
    }

    /// Sets `rport` to the source port of the request (RFC 3581 §4).
    pub fn set_rport(&mut self, port: u16) {
        self.params
            .set_raw("rport", Some(Text::from(port.to_string())));
    }

    /// The `maddr` parameter (§18.2.2).
    pub fn maddr(&self) -> Option<Host> {
        self.params
            .raw("maddr")
            .and_then(|v| Host::parse(v, v).ok())
    }

    /// The `ttl` parameter (`1*3DIGIT`, 0 to 255).
    pub fn ttl(&self) -> Option<u8> {
        self.params.raw("ttl").and_then(|v| parse_ttl(v))
    }
}

/// `received` value: an IPv4 or IPv6 address, the latter with or without
/// brackets (RFC 3261 §20.42 grammar; RFC 5118 §4.5).
fn parse_received(v: &str) -> Option<IpAddr> {
    if let Some(inner) = v.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .and_then(|i| i.parse::<Ipv6Addr>().ok())
            .map(IpAddr::V6);
    }
    v.parse().ok()
}

/// `ttl = 1*3DIGIT ; 0 to 255` (RFC 3261 §25.1).
fn parse_ttl(v: &str) -> Option<u8> {
    if v.is_empty() || v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// `port = 1*DIGIT` that fits 16 bits.
fn parse_port(v: &str) -> Option<u16> {
    crate::message::grammar::parse_u64(v).and_then(|n| u16::try_from(n).ok())
}

/// Splits a leading token off `s`; `what` names it in the error.
fn take_token<'s>(s: &'s str, what: &'static str) -> Result<(&'s str, &'s str), ParseError> {
    let n = leading(s, is_token_byte);
    if n == 0 {
        return Err(ParseError::header("Via", what));
    }
    Ok(s.split_at(n))
}

/// `SLASH = SWS "/" SWS` (§25.1).
fn take_slash(s: &str) -> Result<&str, ParseError> {
    skip_ws(s)
        .strip_prefix('/')
        .map(skip_ws)
        .ok_or_else(|| ParseError::header("Via", "bad sent-protocol"))
}

/// Checks the values of the parameters RFC 3261 §20.42 and RFC 3581 give
/// a grammar to.
fn check_params(params: &Params) -> Result<(), ParseError> {
    for p in params {
        let v = p.value.as_deref();
        let name = p.name.as_str();
        let ok = if name.eq_ignore_ascii_case("branch") {
            // via-branch = "branch" EQUAL token
            v.is_some_and(is_token)
        } else if name.eq_ignore_ascii_case("received") {
            v.and_then(parse_received).is_some()
        } else if name.eq_ignore_ascii_case("rport") {
            // response-port = "rport" [EQUAL 1*DIGIT] (RFC 3581 §3)
            v.is_none_or(|v| parse_port(v).is_some())
        } else if name.eq_ignore_ascii_case("ttl") {
            v.and_then(parse_ttl).is_some()
        } else if name.eq_ignore_ascii_case("maddr") {
            p.value.as_ref().is_some_and(|t| Host::parse(t, t).is_ok())
        } else {
            true
        };
        if !ok {
            let what = match name.to_ascii_lowercase().as_str() {
                "branch" => "bad branch",
                "received" => "bad received",
                "rport" => "bad rport",
                "ttl" => "bad ttl",
                _ => "bad maddr",
            };
            return Err(ParseError::header("Via", what));
        }
    }
    Ok(())
}

impl TypedHeader for Via {
    const NAME: HeaderName = HeaderName::Via;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        let s = trim_ws(value);
        // Fast path for `SIP/2.0/`, as nearly every Via starts: what the
        // token and slash steps below would find, without the steps.
        let (protocol, version, r) = match s.get(..8) {
            Some("SIP/2.0/") => (&s[..3], &s[4..7], &s[8..]),
            _ => {
                let (protocol, r) = take_token(s, "missing protocol")?;
                let (version, r) = take_token(take_slash(r)?, "bad sent-protocol")?;
                (protocol, version, take_slash(r)?)
            }
        };
        let (transport, r) = take_token(r, "bad sent-protocol")?;
        // sent-protocol LWS sent-by: the whitespace is mandatory.
        if !r.bytes().next().is_some_and(is_ws) {
            return Err(ParseError::header(
                "Via",
                if r.is_empty() {
                    "missing sent-by"
                } else {
                    "bad transport"
                },
            ));
        }
        let r = skip_ws(r);
        // `;` cannot occur in a host, so it ends sent-by. Comments are not
        // part of the Via grammar and fail as a bad sent-by.
        let end = find_byte(r, b';').unwrap_or(r.len());
        let sent_by = trim_ws(&r[..end]);
        if sent_by.is_empty() {
            return Err(ParseError::header("Via", "missing sent-by"));
        }
        let (host, port) =
            parse_hostport(src, sent_by).map_err(|_| ParseError::header("Via", "bad sent-by"))?;
        let params = parse_params(src, &r[end..], "Via")?;
        check_params(&params)?;
        Ok(Via {
            protocol: src.slice_ref(protocol),
            version: src.slice_ref(version),
            transport: Transport::parse(src, transport)?,
            host,
            port,
            params,
        })
    }
}

impl fmt::Display for Via {
    /// Writes the canonical form `SIP/2.0/UDP host:port;params`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::grammar::split_list;
    use std::net::Ipv4Addr;

    fn via(s: &str) -> Via {
        let v = Via::parse_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        let again = Via::parse_str(&v.to_string()).unwrap();
        assert_eq!(v, again, "round trip of {s:?}");
        v
    }

    #[test]
    fn basic() {
        let v = via("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
        assert_eq!(v.protocol, "SIP");
        assert_eq!(v.version, "2.0");
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.host, Host::Domain("pc33.atlanta.com".into()));
        assert_eq!(v.port, None);
        assert_eq!(v.port_or_default(), Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert!(v.has_magic_cookie());
        assert!(v.is_sip_2_0());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"
        );
    }

    #[test]
    fn lws_everywhere() {
        let v = via("SIP  /   2.0 /UDP  host : 5060 ;branch = z9hG4bK1");
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.host, Host::Domain("host".into()));
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(v.to_string(), "SIP/2.0/UDP host:5060;branch=z9hG4bK1");
        let v = via("SIP\t/\t2.0\t/\tTCP\thost\t:\t5060\t;\tbranch\t=\tz9hG4bK1\t");
        assert_eq!(v.to_string(), "SIP/2.0/TCP host:5060;branch=z9hG4bK1");
    }

    #[test]
    fn rfc4475_wsinv() {
        // §3.1.1.1, after unfolding:
        // "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw"
        let v = via("SIP  /   2.0  /UDP     192.0.2.2;branch=390skdjuw");
        assert_eq!(v.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
        // "v:  SIP / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =
        //  z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=
        //  \r\n z9hG4bK30239"
        let line = "SIP / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  , \
                    SIP  /    2.0   / UDP  192.168.255.111   ; branch=  z9hG4bK30239";
        let vias: Vec<Via> = split_list(line).map(via).collect();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[0].transport, Transport::Tcp);
        assert_eq!(vias[0].branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(vias[1].host, Host::Ipv4(Ipv4Addr::new(192, 168, 255, 111)));
        assert_eq!(vias[1].branch(), Some("z9hG4bK30239"));
    }

    #[test]
    fn rfc4475_transports() {
        // §3.1.1.10: unknown transports are kept.
        let v = via("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en");
        assert_eq!(v.transport, Transport::Other("UNKNOWN".into()));
        assert_eq!(v.transport.as_str(), "UNKNOWN");
        assert!(!v.transport.is_reliable());
        assert_eq!(v.port_or_default(), None);
        assert_eq!(
            via("SIP/2.0/SCTP t2.example.com").transport,
            Transport::Sctp
        );
        assert_eq!(
            via("SIP/2.0/TLS t3.example.com").port_or_default(),
            Some(5061)
        );
        assert_eq!(via("SIP/2.0/WSS ws.example.com").transport, Transport::Wss);
        // Case-insensitive recognition; written canonically.
        let v = via("SIP/2.0/udp host");
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.to_string(), "SIP/2.0/UDP host");
        assert_eq!(
            Transport::Other("foo".into()),
            Transport::Other("FOO".into())
        );
    }

    #[test]
    fn rfc4475_badinv01_empty_params() {
        // §3.1.2.1: "Via: SIP/2.0/UDP 192.0.2.15;;,;,,"
        let elems: Vec<_> = split_list("SIP/2.0/UDP 192.0.2.15;;,;,,").collect();
        assert!(Via::parse_str(elems[0]).is_err());
        assert!(Via::parse_str(elems[1]).is_err());
    }

    #[test]
    fn ipv6() {
        // RFC 5118 §4.5: received with and without brackets.
        let v = via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111");
        assert_eq!(v.host, Host::Ipv6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        let v = via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        // RFC 5118 §4.4-style port after an IPv6 reference.
        let v = via("SIP/2.0/UDP [2001:db8::9:1] : 6050;branch=z9hG4bKas3-111");
        assert_eq!(v.port, Some(6050));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111"
        );
        let v = via("SIP/2.0/UDP host;received=[::1]");
        assert_eq!(v.received(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        // An IPv6 sent-by must be bracketed.
        assert!(Via::parse_str("SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1").is_err());
    }

    #[test]
    fn params_and_setters() {
        let mut v =
            via("SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bKx;ttl=16;maddr=224.2.0.1;x=y");
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some(Host::Ipv4(Ipv4Addr::new(224, 2, 0, 1))));
        assert_eq!(v.received(), None);
        v.set_received(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4)));
        v.set_rport(9988);
        assert_eq!(v.rport(), Some(Some(9988)));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 10.0.0.1:5062;rport=9988;branch=z9hG4bKx;ttl=16;maddr=224.2.0.1;x=y;received=192.0.2.4"
        );
        via(&v.to_string());
        v.set_received("2001:db8::1".parse().unwrap());
        assert!(v.to_string().contains(";received=2001:db8::1"));
        assert_eq!(
            via(&v.to_string()).received(),
            Some("2001:db8::1".parse().unwrap())
        );
        let mut v = via("SIP/2.0/UDP h");
        assert_eq!(v.rport(), None);
        assert_eq!(v.branch(), None);
        assert!(!v.has_magic_cookie());
        v.request_rport();
        v.set_branch("z9hG4bKnew");
        assert_eq!(v.to_string(), "SIP/2.0/UDP h;rport;branch=z9hG4bKnew");
    }

    #[test]
    fn constructor() {
        let v = Via::new(
            Transport::Tcp,
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            Some(5060),
            "z9hG4bK74bf9",
        );
        assert_eq!(
            v.to_string(),
            "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK74bf9"
        );
        assert!(v.has_magic_cookie());
        assert_eq!(Via::parse_str(&v.to_string()).unwrap(), v);
        let v = Via::new(
            Transport::Udp,
            Host::Domain("a.example".into()),
            None,
            "z9hG4bK1",
        );
        assert_eq!(v.to_string(), "SIP/2.0/UDP a.example;branch=z9hG4bK1");
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "SIP",
            "SIP/2.0",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP ",
            "SIP/2.0/UDPhost",
            "SIP/2.0 UDP host",
            "SIP//UDP host",
            "SIP/2.0/UDP/x host",
            "SIP/2.0/UDP host (comment)",
            "SIP/2.0/UDP host;branch=z9hG4bK1 (comment)",
            "SIP/2.0/UDP host junk",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDP [::1",
            "SIP/2.0/UDP host;branch",
            "SIP/2.0/UDP host;branch=\"z9hG4bK1\"",
            "SIP/2.0/UDP host;received=example.com",
            "SIP/2.0/UDP host;received=[1.2.3.4]",
            "SIP/2.0/UDP host;rport=x",
            "SIP/2.0/UDP host;rport=70000",
            "SIP/2.0/UDP host;ttl=256",
            "SIP/2.0/UDP host;ttl=0001",
            "SIP/2.0/UDP host;ttl",
            "SIP/2.0/UDP host;maddr=a..b",
            "SIP/2.0/UDP host;=x",
            "SIP/2.0/UDP ;branch=z9hG4bK1",
            "SIP/2.0/UDP é",
            "SIP/é/UDP host",
        ] {
            assert!(Via::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Via::parse_str("SIP/2.0/UDP host (c)").unwrap_err().reason(),
            "Bad Via header: bad sent-by"
        );
        assert_eq!(
            Via::parse_str("SIP/2.0/UDP h;ttl=300")
                .unwrap_err()
                .reason(),
            "Bad Via header: bad ttl"
        );
        assert_eq!(
            Via::parse_str("SIP/2.0/UDP h;;").unwrap_err().reason(),
            "Bad Via header: empty parameter name"
        );
    }

    #[test]
    fn rfc4475_longreq_token_branch() {
        // §3.1.1.7 uses every token character in branch and params.
        let v = via("SIP/2.0/TCP sip33.example.com;branch=z9hG4bK-.!%66*_+`'~;x-.!%*_+`'~=1");
        assert_eq!(v.branch(), Some("z9hG4bK-.!%66*_+`'~"));
        assert_eq!(v.transport, Transport::Tcp);
    }

    #[test]
    fn shares_storage() {
        // A transport name long enough not to be copied inline.
        let src = Text::from("SIP/2.0/XYZ-QUITE-LONG-TRANSPORT-NAME example.com;branch=z9hG4bK1");
        let v = Via::decode(&src, &src).unwrap();
        let Transport::Other(t) = &v.transport else {
            panic!()
        };
        assert_eq!(t.as_bytes().as_ptr(), src.as_bytes()[8..].as_ptr());
    }
}
