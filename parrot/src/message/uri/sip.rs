//! `sip:` and `sips:` URIs (RFC 3261 §19.1).

use super::escape::{
    canonical, check_chars, is_password_byte, is_user_byte, percent_decode, percent_encode,
};
use super::{Detail, Marks, Uri, UriHeaders, UriParams, params, uri_error};
use crate::message::error::ParseError;
use crate::message::grammar::{find_byte, parse_u64, split_once_byte};
use crate::message::host::Host;
use crate::message::method::Method;
use crate::message::text::Text;
use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A `sip:` or `sips:` URI (RFC 3261 §19.1):
/// `sip:user:password@host:port;uri-parameters?headers`.
///
/// A parsed URI remembers its text and writes it back unchanged; any
/// modification makes it write its components instead. `==` compares the
/// components; use [`SipUri::equivalent`] for the RFC 3261 §19.1.4 rules.
#[derive(Debug, Clone)]
pub struct SipUri {
    secure: bool,
    user: Option<Text>,
    // Rare parts are boxed to keep `SipUri` (and every message) small.
    password: Option<Box<Text>>,
    host: Host,
    port: Option<u16>,
    params: UriParams,
    headers: Option<Box<UriHeaders>>,
    pub(super) raw: Option<Text>,
}

/// Headers of a URI without any, for [`SipUri::headers`].
static NO_HEADERS: UriHeaders = UriHeaders::new();

impl PartialEq for SipUri {
    fn eq(&self, o: &Self) -> bool {
        self.secure == o.secure
            && self.user == o.user
            && self.password == o.password
            && self.host == o.host
            && self.port == o.port
            && self.params == o.params
            && self.headers() == o.headers()
    }
}

impl Eq for SipUri {}

impl SipUri {
    /// `sip:host`, with no user, port, parameters or headers.
    pub fn new(host: impl Into<Host>) -> Self {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host: host.into(),
            port: None,
            params: UriParams::new(),
            headers: None,
            raw: None,
        }
    }

    /// Parses a `sip:`/`sips:` URI; any other scheme is an error.
    pub fn parse(src: &Text, s: &str) -> Result<SipUri, ParseError> {
        match Uri::parse(src, s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(uri_error("not a SIP URI".into())),
        }
    }

    /// Parses what follows `sip:` or `sips:` (RFC 3261 §25.1 `SIP-URI`).
    /// Inlined into its one caller, which wraps it in a `Uri`: the URI is
    /// then built in place rather than moved.
    #[inline]
    pub(super) fn parse_parts(
        src: &Text,
        whole: &str,
        secure: bool,
        rest: &str,
        marks: Marks,
    ) -> Result<SipUri, Detail> {
        // userinfo = ( user / telephone-subscriber ) [ ":" password ] "@".
        // '@' cannot appear unescaped after the userinfo, so the first one
        // ends it.
        let (userinfo, rest, hp_end) = match marks.at {
            Some(at) => (
                Some(&rest[..at]),
                &rest[at + 1..],
                marks.delimiter_after_at.map(|d| d - at - 1),
            ),
            None => (None, rest, marks.delimiter),
        };
        let (mut user, mut password) = (None, None);
        if let Some(ui) = userinfo {
            let (u, p) = match split_once_byte(ui, b':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if u.is_empty() {
                return Err("empty user part".into());
            }
            check_chars(u, is_user_byte, "user part")?;
            if let Some(p) = p {
                check_chars(p, is_password_byte, "password")?;
                password = Some(Box::new(src.slice_ref(p)));
            }
            user = Some(src.slice_ref(u));
        }
        // The host and port end at the parameters or the headers.
        let (hostport, mut rest) = rest.split_at(hp_end.unwrap_or(rest.len()));
        let (host, port) = parse_host_port(src, hostport)?;
        let mut params = UriParams::new();
        if let Some(r) = rest.strip_prefix(';') {
            let end = find_byte(r, b'?').unwrap_or(r.len());
            params = params::parse(src, &r[..end])?;
            rest = &r[end..];
        }
        let mut headers = None;
        if let Some(r) = rest.strip_prefix('?') {
            headers = Some(Box::new(UriHeaders::parse(src, r)?));
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
            raw: Some(src.slice_ref(whole)),
        })
    }

    /// Whether this is a `sips:` URI.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// `"sips"` or `"sip"`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "sips" } else { "sip" }
    }

    /// The user part with escapes resolved (`%61lice` gives `alice`).
    pub fn user(&self) -> Option<Cow<'_, str>> {
        self.user.as_deref().map(percent_decode)
    }

    /// The user part as written.
    pub fn user_raw(&self) -> Option<&Text> {
        self.user.as_ref()
    }

    /// The password with escapes resolved.
    pub fn password(&self) -> Option<Cow<'_, str>> {
        self.password.as_deref().map(|p| percent_decode(p))
    }

    /// The password as written.
    pub fn password_raw(&self) -> Option<&Text> {
        self.password.as_deref()
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The explicit port, else the default: 5061 for `sips:` or
    /// `transport=tls`, 5060 otherwise (RFC 3261 §19.1.2, RFC 3263 §4.2).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or_else(|| {
            let tls = self.secure
                || self
                    .transport()
                    .is_some_and(|t| t.eq_ignore_ascii_case("tls"));
            if tls { 5061 } else { 5060 }
        })
    }

    /// `host[:port]` as it appears in the URI (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// The socket address to send to when the host is an IP address
    /// (using [`SipUri::port_or_default`]); `None` for a domain name, which
    /// needs resolution (RFC 3263).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.host
            .ip()
            .map(|ip| SocketAddr::new(ip, self.port_or_default()))
    }

    /// The URI parameters.
    pub fn params(&self) -> &UriParams {
        &self.params
    }

    /// The URI parameters, mutably.
    pub fn params_mut(&mut self) -> &mut UriParams {
        self.raw = None;
        &mut self.params
    }

    /// The header components (`?a=b&c=d`).
    pub fn headers(&self) -> &UriHeaders {
        self.headers.as_deref().unwrap_or(&NO_HEADERS)
    }

    /// The header components, mutably.
    pub fn headers_mut(&mut self) -> &mut UriHeaders {
        self.raw = None;
        self.headers.get_or_insert_with(Default::default)
    }

    /// The decoded `transport` parameter (`udp`, `tcp`, `tls`, `sctp`, ...).
    pub fn transport(&self) -> Option<Cow<'_, str>> {
        self.params.get("transport")
    }

    /// The decoded `user` parameter (`phone`, `ip`, ...).
    pub fn user_param(&self) -> Option<Cow<'_, str>> {
        self.params.get("user")
    }

    /// The `method` parameter, if present and a valid method.
    pub fn method(&self) -> Option<Method> {
        let m = self.params.get("method")?;
        m.parse().ok()
    }

    /// The `ttl` parameter, if present and within 0..=255.
    pub fn ttl(&self) -> Option<u8> {
        let t = self.params.get("ttl")?;
        parse_u64(&t).and_then(|n| u8::try_from(n).ok())
    }

    /// The decoded `maddr` parameter.
    pub fn maddr(&self) -> Option<Cow<'_, str>> {
        self.params.get("maddr")
    }

    /// Whether the `lr` parameter is present (loose routing, RFC 3261 §16.12).
    pub fn lr(&self) -> bool {
        self.params.contains("lr")
    }

    /// Sets the user part (unescaped; escaped as needed), or removes it.
    pub fn set_user(&mut self, user: Option<&str>) {
        self.raw = None;
        self.user = user.map(|u| Text::from(percent_encode(u, is_user_byte)));
    }

    /// Sets the password (unescaped; escaped as needed), or removes it. It
    /// is only written when there is a user part.
    pub fn set_password(&mut self, password: Option<&str>) {
        self.raw = None;
        self.password = password.map(|p| Box::new(Text::from(percent_encode(p, is_password_byte))));
    }

    /// Sets the host.
    pub fn set_host(&mut self, host: impl Into<Host>) {
        self.raw = None;
        self.host = host.into();
    }

    /// Sets or removes the port.
    pub fn set_port(&mut self, port: Option<u16>) {
        self.raw = None;
        self.port = port;
    }

    /// Makes this a `sips:` (`true`) or `sip:` URI.
    pub fn set_secure(&mut self, secure: bool) {
        self.raw = None;
        self.secure = secure;
    }

    /// Builder: with the user part `user` (unescaped).
    pub fn with_user(mut self, user: &str) -> Self {
        self.set_user(Some(user));
        self
    }

    /// Builder: with a password (unescaped).
    pub fn with_password(mut self, password: &str) -> Self {
        self.set_password(Some(password));
        self
    }

    /// Builder: with an explicit port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.set_port(Some(port));
        self
    }

    /// Builder: `sips:` instead of `sip:`.
    pub fn secure(mut self) -> Self {
        self.set_secure(true);
        self
    }

    /// Builder: with the parameter `name[=value]` (unescaped).
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Self {
        self.params_mut().set(name, value);
        self
    }

    /// Builder: with `transport=<transport>`.
    pub fn with_transport(self, transport: &str) -> Self {
        self.with_param("transport", Some(transport))
    }

    /// Builder: with the `lr` flag.
    pub fn with_lr(self) -> Self {
        self.with_param("lr", None)
    }

    /// Builder: with the header component `name=value` (unescaped).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers_mut().append(name, value);
        self
    }

    /// A copy fit for a Request-URI: without the `method` parameter and
    /// header components, which are not allowed there (RFC 3261 §19.1.1,
    /// table 1; §12.2.1.1).
    pub fn to_request_uri(&self) -> SipUri {
        if !self.params.contains("method") && self.headers().is_empty() {
            return self.clone();
        }
        let mut u = self.clone();
        u.params_mut().remove("method");
        u.headers = None;
        u
    }

    /// URI comparison (RFC 3261 §19.1.4).
    pub fn equivalent(&self, other: &SipUri) -> bool {
        // A SIP and a SIPS URI are never equivalent.
        if self.secure != other.secure {
            return false;
        }
        // Userinfo is case-sensitive; escapes of unreserved characters are
        // equivalent to the characters.
        let userinfo_eq = |a: Option<&Text>, b: Option<&Text>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => canonical(a) == canonical(b),
            _ => false,
        };
        if !userinfo_eq(self.user.as_ref(), other.user.as_ref())
            || !userinfo_eq(self.password.as_deref(), other.password.as_deref())
        {
            return false;
        }
        // Hosts compare case-insensitively; a name never equals an address.
        // A default port is not the same as an absent one.
        if !self.host.eq_ignore_case(&other.host) || self.port != other.port {
            return false;
        }
        params_equivalent(&self.params, &other.params)
            && self.headers().canonical() == other.headers().canonical()
    }
}

/// The uri-parameter rules of RFC 3261 §19.1.4: parameters present in both
/// must match (case-insensitively); `transport`, `user`, `ttl`, `method` and
/// `maddr` present in only one make the URIs differ; other parameters
/// present in only one are ignored.
fn params_equivalent(a: &UriParams, b: &UriParams) -> bool {
    const SIGNIFICANT: [&[u8]; 5] = [b"transport", b"user", b"ttl", b"method", b"maddr"];
    let (ca, cb) = (params::canonical(a), params::canonical(b));
    for (n, v) in &ca {
        match cb.iter().find(|(m, _)| m == n) {
            Some((_, w)) if v != w => return false,
            Some(_) => {}
            None if SIGNIFICANT.contains(&n.as_slice()) => return false,
            None => {}
        }
    }
    cb.iter()
        .all(|(n, _)| !SIGNIFICANT.contains(&n.as_slice()) || ca.iter().any(|(m, _)| m == n))
}

/// Splits and parses `host[:port]` of a SIP URI.
fn parse_host_port(src: &Text, s: &str) -> Result<(Host, Option<u16>), Detail> {
    if s.is_empty() {
        return Err("missing host".into());
    }
    let (host, port) = if s.starts_with('[') {
        match find_byte(s, b']') {
            Some(i) => s.split_at(i + 1),
            None => return Err("bad IPv6 reference".into()),
        }
    } else {
        match find_byte(s, b':') {
            Some(i) => s.split_at(i),
            None => (s, ""),
        }
    };
    let host = Host::parse(src, host).map_err(|_| Detail::from("bad host"))?;
    let port = if port.is_empty() {
        None
    } else {
        // port = 1*DIGIT (RFC 3261 §25.1), and it must fit 16 bits.
        let n = port
            .strip_prefix(':')
            .and_then(parse_u64)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| Detail::from("bad port"))?;
        Some(n)
    };
    Ok((host, port))
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(raw) = &self.raw {
            return f.write_str(raw);
        }
        f.write_str(self.scheme())?;
        f.write_str(":")?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                f.write_str(":")?;
                f.write_str(p)?;
            }
            f.write_str("@")?;
        }
        fmt::Display::fmt(&self.host, f)?;
        if let Some(p) = self.port {
            f.write_str(":")?;
            f.write_str(itoa::Buffer::new().format(p))?;
        }
        fmt::Display::fmt(&self.params, f)?;
        fmt::Display::fmt(self.headers(), f)
    }
}

impl FromStr for SipUri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = Text::from(s.to_owned());
        SipUri::parse(&t, &t)
    }
}
