//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25.1), `tel:` (RFC 3966) and any
//! other scheme as an opaque absolute URI.
//!
//! Parsed URIs keep every component exactly as written (escapes included),
//! so [`Display`](fmt::Display) reproduces the input; accessors return the
//! `%`-decoded value, and `*_raw` accessors the written form.
//!
//! ```
//! use parrot::message::Uri;
//!
//! let uri: Uri = "sip:%61lice@atlanta.com;transport=TCP".parse().unwrap();
//! let sip = uri.as_sip().unwrap();
//! assert_eq!(sip.user().as_deref(), Some("alice"));
//! assert_eq!(sip.transport().as_deref(), Some("TCP"));
//! assert_eq!(uri.to_string(), "sip:%61lice@atlanta.com;transport=TCP");
//!
//! let other: Uri = "sip:alice@AtLanTa.CoM;Transport=tcp".parse().unwrap();
//! assert!(uri.equivalent(&other)); // RFC 3261 §19.1.4
//! ```

use super::error::{ParseError, ParseErrorKind};
use super::grammar::{find_any, find_byte, parse_u64, split_once_byte};
use super::host::Host;
use super::method::Method;
use super::text::Text;
use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A short description of what is wrong, without the `Bad URI:` prefix.
pub(crate) type Detail = Cow<'static, str>;

// ---------------------------------------------------------------------------
// Character classes (RFC 3261 §25.1, RFC 3966 §3).
// ---------------------------------------------------------------------------

/// `unreserved = alphanum / mark`, `mark = - _ . ! ~ * ' ( )`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// `user = 1*( unreserved / escaped / user-unreserved )`,
/// `user-unreserved = & = + $ , ; ? /`.
fn is_user_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

/// `password = *( unreserved / escaped / & = + $ , )`.
fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// `paramchar = param-unreserved / unreserved / escaped`,
/// `param-unreserved = [ ] / : & + $` (the same set in RFC 3966).
fn is_param_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// `hname`/`hvalue` characters: `hnv-unreserved / unreserved / escaped`,
/// `hnv-unreserved = [ ] / ? : + $`.
fn is_header_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// `reserved = ; / ? : @ & = + $ ,` (RFC 2396 §2.2).
fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
    )
}

/// `uric = reserved / unreserved / escaped`; `[`, `]` (RFC 2732) and `#`
/// are accepted as well so that common absolute URIs parse.
fn is_uric(b: u8) -> bool {
    is_reserved(b) || is_unreserved(b) || matches!(b, b'[' | b']' | b'#')
}

/// `visual-separator = - . ( )` (RFC 3966 §3).
fn is_visual_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Checks that every character of `s` is allowed or a valid `%HH` escape.
fn check_chars(s: &str, allowed: fn(u8) -> bool, what: &'static str) -> Result<(), Detail> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            // escaped = "%" HEXDIG HEXDIG (RFC 3261 §25.1)
            let ok = matches!(
                (b.get(i + 1), b.get(i + 2)),
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
            );
            if !ok {
                return Err(format!("bad escape in {what}").into());
            }
            i += 3;
        } else if allowed(c) {
            i += 1;
        } else {
            return Err(format!("bad character in {what}").into());
        }
    }
    Ok(())
}

/// Resolves `%HH` escapes. Invalid escapes are kept literally and byte
/// sequences that are not UTF-8 are replaced by U+FFFD.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1).copied().and_then(hex_val);
            let l = b.get(i + 2).copied().and_then(hex_val);
            if let (Some(h), Some(l)) = (h, l) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Escapes every byte of `s` that `allowed` refuses (and `%` itself).
fn percent_encode(s: &str, allowed: fn(u8) -> bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b != b'%' && allowed(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    out
}

/// The canonical form used for comparison (RFC 3261 §19.1.4): characters
/// other than `reserved` ones are equivalent to their `%HH` encoding, so
/// those escapes are resolved; escaped reserved characters stay escaped
/// (with upper-case hex) and so differ from their literal form.
fn canonical(s: &str) -> Cow<'_, [u8]> {
    if !s.contains('%') {
        return Cow::Borrowed(s.as_bytes());
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1).copied().and_then(hex_val);
            let l = b.get(i + 2).copied().and_then(hex_val);
            if let (Some(h), Some(l)) = (h, l) {
                let v = h * 16 + l;
                if is_reserved(v) {
                    out.extend_from_slice(&[b'%', HEX[usize::from(h)], HEX[usize::from(l)]]);
                } else {
                    out.push(v);
                }
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// [`canonical`], lower-cased (for case-insensitive components).
fn canonical_lower(s: &str) -> Vec<u8> {
    let mut v = canonical(s).into_owned();
    v.make_ascii_lowercase();
    v
}

/// Whether the written (possibly escaped) name `raw` is `name`, ignoring case.
fn name_is(raw: &str, name: &str) -> bool {
    if raw.contains('%') {
        percent_decode(raw).eq_ignore_ascii_case(name)
    } else {
        raw.eq_ignore_ascii_case(name)
    }
}

// ---------------------------------------------------------------------------
// URI parameters and headers.
// ---------------------------------------------------------------------------

/// One URI parameter `name[=value]`, kept as written (escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriParam {
    name: Text,
    value: Option<Text>,
}

impl UriParam {
    /// The name as written (may contain `%HH` escapes).
    pub fn name_raw(&self) -> &Text {
        &self.name
    }

    /// The name with escapes resolved.
    pub fn name(&self) -> Cow<'_, str> {
        percent_decode(&self.name)
    }

    /// The value as written, or `None` for a parameter without a value.
    pub fn value_raw(&self) -> Option<&Text> {
        self.value.as_ref()
    }

    /// The value with escapes resolved, or `None` for a parameter without
    /// a value (such as `lr`).
    pub fn value(&self) -> Option<Cow<'_, str>> {
        self.value.as_deref().map(percent_decode)
    }
}

/// The ordered `;name[=value]` parameters of a URI. Names compare
/// case-insensitively; values are kept escaped and decoded on access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriParams {
    list: Vec<UriParam>,
}

impl UriParams {
    /// No parameters.
    pub const fn new() -> Self {
        UriParams { list: Vec::new() }
    }

    /// Parses `;`-separated parameters (`s` without the leading `;`).
    fn parse(src: &Text, s: &str) -> Result<UriParams, Detail> {
        let mut list = Vec::new();
        for p in s.split(';') {
            let (name, value) = match split_once_byte(p, b'=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            // uri-parameter: pname = 1*paramchar, pvalue = 1*paramchar
            // (RFC 3261 §25.1).
            if name.is_empty() {
                return Err("empty parameter name".into());
            }
            check_chars(name, is_param_byte, "parameter")?;
            if let Some(v) = value {
                if v.is_empty() {
                    return Err("empty parameter value".into());
                }
                check_chars(v, is_param_byte, "parameter")?;
            }
            list.push(UriParam {
                name: src.slice_ref(name),
                value: value.map(|v| src.slice_ref(v)),
            });
        }
        Ok(UriParams { list })
    }

    /// The first parameter called `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<&UriParam> {
        self.list.iter().find(|p| name_is(&p.name, name))
    }

    /// Whether a parameter `name` is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The decoded value of `name`; `None` if absent or without a value.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.find(name).and_then(UriParam::value)
    }

    /// The value of `name` as written; `None` if absent or without a value.
    pub fn raw(&self, name: &str) -> Option<&Text> {
        self.find(name).and_then(|p| p.value.as_ref())
    }

    /// Sets `name` to `value` (`None` for a bare flag such as `lr`),
    /// replacing the first parameter of that name or appending. Both are
    /// given unescaped; characters the grammar does not allow are escaped.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(|v| Text::from(percent_encode(v, is_param_byte)));
        if let Some(p) = self.list.iter_mut().find(|p| name_is(&p.name, name)) {
            p.value = value;
        } else {
            self.list.push(UriParam {
                name: Text::from(percent_encode(name, is_param_byte)),
                value,
            });
        }
    }

    /// Removes every parameter called `name`; returns whether any was.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|p| !name_is(&p.name, name));
        before != self.list.len()
    }

    /// The parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, UriParam> {
        self.list.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// (lower-cased canonical name, lower-cased canonical value), first
    /// occurrence of each name only.
    fn canonical(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(self.list.len());
        for p in &self.list {
            let n = canonical_lower(&p.name);
            if out.iter().all(|(m, _)| *m != n) {
                out.push((n, p.value.as_deref().map(canonical_lower)));
            }
        }
        out
    }
}

impl fmt::Display for UriParams {
    /// Writes `;name=value` for each parameter, as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.list {
            f.write_str(";")?;
            f.write_str(&p.name)?;
            if let Some(v) = &p.value {
                f.write_str("=")?;
                f.write_str(v)?;
            }
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a UriParams {
    type Item = &'a UriParam;
    type IntoIter = std::slice::Iter<'a, UriParam>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// One URI header component `name=value`, kept as written (escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriHeader {
    name: Text,
    value: Text,
}

impl UriHeader {
    /// The name as written.
    pub fn name_raw(&self) -> &Text {
        &self.name
    }

    /// The name with escapes resolved.
    pub fn name(&self) -> Cow<'_, str> {
        percent_decode(&self.name)
    }

    /// The value as written (may be empty).
    pub fn value_raw(&self) -> &Text {
        &self.value
    }

    /// The value with escapes resolved.
    pub fn value(&self) -> Cow<'_, str> {
        percent_decode(&self.value)
    }
}

/// The ordered `?name=value&...` header components of a SIP URI
/// (RFC 3261 §19.1.1). Names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriHeaders {
    list: Vec<UriHeader>,
}

impl UriHeaders {
    /// No headers.
    pub const fn new() -> Self {
        UriHeaders { list: Vec::new() }
    }

    /// Parses `&`-separated headers (`s` without the leading `?`).
    fn parse(src: &Text, s: &str) -> Result<UriHeaders, Detail> {
        let mut list = Vec::new();
        for h in s.split('&') {
            // header = hname "=" hvalue; hname = 1*(...); hvalue = *(...)
            // (RFC 3261 §25.1).
            let Some((name, value)) = h.split_once('=') else {
                return Err("header without '='".into());
            };
            if name.is_empty() {
                return Err("empty header name".into());
            }
            check_chars(name, is_header_byte, "header")?;
            check_chars(value, is_header_byte, "header")?;
            list.push(UriHeader {
                name: src.slice_ref(name),
                value: src.slice_ref(value),
            });
        }
        Ok(UriHeaders { list })
    }

    /// The decoded value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.list
            .iter()
            .find(|h| name_is(&h.name, name))
            .map(UriHeader::value)
    }

    /// Whether a header called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.list.iter().any(|h| name_is(&h.name, name))
    }

    /// Appends a header; `name` and `value` are given unescaped.
    pub fn append(&mut self, name: &str, value: &str) {
        self.list.push(UriHeader {
            name: Text::from(percent_encode(name, is_header_byte)),
            value: Text::from(percent_encode(value, is_header_byte)),
        });
    }

    /// Removes every header called `name`; returns whether any was.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|h| !name_is(&h.name, name));
        before != self.list.len()
    }

    /// The headers in order.
    pub fn iter(&self) -> std::slice::Iter<'_, UriHeader> {
        self.list.iter()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Header components as an order-independent multiset.
    fn canonical(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<_> = self
            .list
            .iter()
            .map(|h| (canonical_lower(&h.name), canonical(&h.value).into_owned()))
            .collect();
        v.sort();
        v
    }
}

impl fmt::Display for UriHeaders {
    /// Writes `?a=b&c=d` as written, or nothing when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, h) in self.list.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            f.write_str(&h.name)?;
            f.write_str("=")?;
            f.write_str(&h.value)?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a UriHeaders {
    type Item = &'a UriHeader;
    type IntoIter = std::slice::Iter<'a, UriHeader>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

// ---------------------------------------------------------------------------
// SIP URIs.
// ---------------------------------------------------------------------------

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
    raw: Option<Text>,
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
    fn parse_parts(src: &Text, whole: &str, secure: bool, rest: &str) -> Result<SipUri, Detail> {
        // userinfo = ( user / telephone-subscriber ) [ ":" password ] "@".
        // '@' cannot appear unescaped after the userinfo, so the first one
        // ends it.
        let (userinfo, rest) = match split_once_byte(rest, b'@') {
            Some((u, r)) => (Some(u), r),
            None => (None, rest),
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
        let hp_end = find_any(rest, b";?").unwrap_or(rest.len());
        let (hostport, mut rest) = rest.split_at(hp_end);
        let (host, port) = parse_host_port(src, hostport)?;
        let mut params = UriParams::new();
        if let Some(r) = rest.strip_prefix(';') {
            let end = find_byte(r, b'?').unwrap_or(r.len());
            params = UriParams::parse(src, &r[..end])?;
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
        u.headers_mut().list.clear();
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
    let (ca, cb) = (a.canonical(), b.canonical());
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
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}{}", self.params, self.headers())
    }
}

impl FromStr for SipUri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = Text::from(s.to_owned());
        SipUri::parse(&t, &t)
    }
}

// ---------------------------------------------------------------------------
// tel URIs.
// ---------------------------------------------------------------------------

/// A `tel:` URI (RFC 3966): a global (`+1-201-555-0123`) or local number
/// (which must carry `phone-context`) and parameters.
#[derive(Debug, Clone)]
pub struct TelUri {
    number: Text,
    params: UriParams,
    raw: Option<Text>,
}

impl PartialEq for TelUri {
    fn eq(&self, o: &Self) -> bool {
        self.number == o.number && self.params == o.params
    }
}

impl Eq for TelUri {}

/// Checks a `global-number-digits` or `local-number-digits` (RFC 3966 §3).
fn check_tel_number(n: &str) -> Result<(), Detail> {
    let bad = || Detail::from("bad telephone number");
    if let Some(d) = n.strip_prefix('+') {
        // global-number-digits = "+" *phonedigit DIGIT *phonedigit
        if !d
            .bytes()
            .all(|b| b.is_ascii_digit() || is_visual_separator(b))
            || !d.bytes().any(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
    } else {
        // local-number-digits =
        //   *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
        let key = |b: u8| b.is_ascii_hexdigit() || b == b'*' || b == b'#';
        if !n.bytes().all(|b| key(b) || is_visual_separator(b)) || !n.bytes().any(key) {
            return Err(bad());
        }
    }
    Ok(())
}

impl TelUri {
    /// A global number such as `+1-201-555-0123`.
    pub fn global(number: &str) -> Result<TelUri, ParseError> {
        if !number.starts_with('+') {
            return Err(uri_error("global number must start with '+'".into()));
        }
        check_tel_number(number).map_err(uri_error)?;
        Ok(TelUri {
            number: Text::from(number.to_owned()),
            params: UriParams::new(),
            raw: None,
        })
    }

    /// A local number with its `phone-context` (a domain name or a global
    /// number prefix), required by RFC 3966 §5.1.5.
    pub fn local(number: &str, context: &str) -> Result<TelUri, ParseError> {
        if number.starts_with('+') || context.is_empty() {
            return Err(uri_error("bad local number".into()));
        }
        check_tel_number(number).map_err(uri_error)?;
        let mut params = UriParams::new();
        params.set("phone-context", Some(context));
        Ok(TelUri {
            number: Text::from(number.to_owned()),
            params,
            raw: None,
        })
    }

    /// Parses what follows `tel:`.
    fn parse_parts(src: &Text, whole: &str, rest: &str) -> Result<TelUri, Detail> {
        let (number, params) = match rest.split_once(';') {
            Some((n, p)) => (n, Some(p)),
            None => (rest, None),
        };
        if number.is_empty() {
            return Err("missing telephone number".into());
        }
        check_tel_number(number)?;
        let params = match params {
            Some(p) => UriParams::parse(src, p)?,
            None => UriParams::new(),
        };
        // local-number = local-number-digits *par context *par
        // (RFC 3966 §3, §5.1.5).
        if !number.starts_with('+') && !params.contains("phone-context") {
            return Err("local number without phone-context".into());
        }
        Ok(TelUri {
            number: src.slice_ref(number),
            params,
            raw: Some(src.slice_ref(whole)),
        })
    }

    /// The number as written, visual separators included.
    pub fn number(&self) -> &Text {
        &self.number
    }

    /// The number without visual separators (`+12015550123`).
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    /// Whether the number is global (starts with `+`).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The decoded `phone-context` parameter.
    pub fn phone_context(&self) -> Option<Cow<'_, str>> {
        self.params.get("phone-context")
    }

    /// The parameters.
    pub fn params(&self) -> &UriParams {
        &self.params
    }

    /// The parameters, mutably.
    pub fn params_mut(&mut self) -> &mut UriParams {
        self.raw = None;
        &mut self.params
    }

    /// Builder: with the parameter `name[=value]` (unescaped).
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Self {
        self.params_mut().set(name, value);
        self
    }

    /// tel URI comparison (RFC 3966 §4): numbers compare without visual
    /// separators, case-insensitively; both must have the same parameter
    /// names, with case-insensitively equal values (a global-number
    /// `phone-context` compares without separators too).
    pub fn equivalent(&self, other: &TelUri) -> bool {
        if !self.digits().eq_ignore_ascii_case(&other.digits()) {
            return false;
        }
        let canon = |p: &UriParams| {
            let mut v = p.canonical();
            for (n, val) in &mut v {
                if n.as_slice() == b"phone-context"
                    && let Some(val) = val
                    && val.first() == Some(&b'+')
                {
                    val.retain(|&b| !is_visual_separator(b));
                }
            }
            v.sort();
            v
        };
        canon(&self.params) == canon(&other.params)
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(raw) = &self.raw {
            return f.write_str(raw);
        }
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

impl FromStr for TelUri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = Text::from(s.to_owned());
        match Uri::parse(&t, &t)? {
            Uri::Tel(u) => Ok(u),
            _ => Err(uri_error("not a tel URI".into())),
        }
    }
}

// ---------------------------------------------------------------------------
// Other schemes.
// ---------------------------------------------------------------------------

/// A URI of any other scheme (`absoluteURI`, RFC 3261 §25.1), kept opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsoluteUri {
    scheme: Text,
    rest: Text,
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

impl AbsoluteUri {
    /// A URI `scheme:rest`, checked against the `absoluteURI` grammar.
    pub fn new(scheme: &str, rest: &str) -> Result<AbsoluteUri, ParseError> {
        let whole = Text::from(format!("{scheme}:{rest}"));
        match Uri::parse(&whole, &whole)? {
            Uri::Other(u) => Ok(u),
            _ => Err(uri_error("use SipUri or TelUri for this scheme".into())),
        }
    }

    fn parse_parts(src: &Text, scheme: &str, rest: &str) -> Result<AbsoluteUri, Detail> {
        if rest.is_empty() {
            return Err("empty URI body".into());
        }
        check_chars(rest, is_uric, "URI")?;
        Ok(AbsoluteUri {
            scheme: src.slice_ref(scheme),
            rest: src.slice_ref(rest),
        })
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &Text {
        &self.scheme
    }

    /// Everything after `scheme:`, as written.
    pub fn rest(&self) -> &Text {
        &self.rest
    }
}

impl fmt::Display for AbsoluteUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.rest)
    }
}

// ---------------------------------------------------------------------------
// Uri.
// ---------------------------------------------------------------------------

/// A URI as found in a Request-URI or an address header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:` (RFC 3261 §19.1).
    Sip(SipUri),
    /// `tel:` (RFC 3966).
    Tel(TelUri),
    /// Any other scheme, kept opaque.
    Other(AbsoluteUri),
}

fn uri_error(detail: Detail) -> ParseError {
    ParseError::new(ParseErrorKind::Uri, format!("Bad URI: {detail}"))
}

impl Uri {
    /// Parses `s`, a sub-slice of `src`. The whole of `s` must be the URI:
    /// whitespace or `<`/`>` anywhere is an error.
    pub fn parse(src: &Text, s: &str) -> Result<Uri, ParseError> {
        Uri::parse_detail(src, s).map_err(uri_error)
    }

    /// [`Uri::parse`], reporting only what is wrong (for callers that put
    /// it in their own message).
    pub(crate) fn parse_detail(src: &Text, s: &str) -> Result<Uri, Detail> {
        if s.is_empty() {
            return Err("empty URI".into());
        }
        // One test per byte in the common case; the error says which
        // class the first offending byte is in.
        if let Some(b) = s
            .bytes()
            .find(|&b| b <= b' ' || b == 0x7f || b == b'<' || b == b'>')
        {
            return Err(match b {
                b' ' | b'\t' | b'\r' | b'\n' => "whitespace in URI",
                b'<' | b'>' => "angle bracket in URI",
                _ => "control character in URI",
            }
            .into());
        }
        let Some((scheme, rest)) = split_once_byte(s, b':') else {
            return Err("missing scheme".into());
        };
        if !is_scheme(scheme) {
            return Err("bad scheme".into());
        }
        // Schemes are case-insensitive (RFC 3261 §19.1.4).
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let secure = scheme.len() == 4;
            SipUri::parse_parts(src, s, secure, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_parts(src, s, rest).map(Uri::Tel)
        } else {
            AbsoluteUri::parse_parts(src, scheme, rest).map(Uri::Other)
        }
    }

    /// The scheme: `sip`, `sips` or `tel` in lower case, else as written.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(_) => "tel",
            Uri::Other(u) => u.scheme(),
        }
    }

    /// Whether this is a `sip:` or `sips:` URI.
    pub fn is_sip(&self) -> bool {
        matches!(self, Uri::Sip(_))
    }

    /// The SIP URI, if it is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The SIP URI, mutably, if it is one.
    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The tel URI, if it is one.
    pub fn as_tel(&self) -> Option<&TelUri> {
        match self {
            Uri::Tel(u) => Some(u),
            _ => None,
        }
    }

    /// URI equivalence: RFC 3261 §19.1.4 for SIP URIs, RFC 3966 §4 for tel
    /// URIs, and scheme (case-insensitive) plus escape-normalized text for
    /// others. URIs of different schemes are never equivalent.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (Uri::Other(a), Uri::Other(b)) => {
                a.scheme.eq_ignore_ascii_case(&b.scheme) && canonical(&a.rest) == canonical(&b.rest)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => fmt::Display::fmt(u, f),
            Uri::Tel(u) => fmt::Display::fmt(u, f),
            Uri::Other(u) => fmt::Display::fmt(u, f),
        }
    }
}

impl FromStr for Uri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = Text::from(s.to_owned());
        Uri::parse(&t, &t)
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Self {
        Uri::Sip(u)
    }
}

impl From<TelUri> for Uri {
    fn from(u: TelUri) -> Self {
        Uri::Tel(u)
    }
}

impl From<AbsoluteUri> for Uri {
    fn from(u: AbsoluteUri) -> Self {
        Uri::Other(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn p(s: &str) -> Uri {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn sip(s: &str) -> SipUri {
        match p(s) {
            Uri::Sip(u) => u,
            other => panic!("not sip: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match s.parse::<Uri>() {
            Ok(u) => panic!("{s} parsed as {u:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ParseErrorKind::Uri);
                e.reason().to_owned()
            }
        }
    }

    fn equiv(a: &str, b: &str) -> bool {
        let (a, b) = (p(a), p(b));
        assert_eq!(a.equivalent(&b), b.equivalent(&a), "symmetry");
        a.equivalent(&b)
    }

    #[test]
    fn full_sip_uri() {
        let u = sip("sip:alice:secretword@atlanta.com;transport=tcp");
        assert!(!u.is_secure());
        assert_eq!(u.user().as_deref(), Some("alice"));
        assert_eq!(u.password().as_deref(), Some("secretword"));
        assert_eq!(u.host(), &Host::Domain("atlanta.com".into()));
        assert_eq!(u.port(), None);
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert_eq!(
            u.to_string(),
            "sip:alice:secretword@atlanta.com;transport=tcp"
        );
    }

    #[test]
    fn rfc3261_19_1_3_examples() {
        for s in [
            "sip:alice@atlanta.com",
            "sip:alice:secretword@atlanta.com;transport=tcp",
            "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:+1-212-555-1212:1234@gateway.com;user=phone",
            "sips:1212@gateway.com",
            "sip:alice@192.0.2.4",
            "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
            "sip:alice;day=tuesday@atlanta.com",
        ] {
            let u = p(s);
            assert_eq!(u.to_string(), s);
            assert_eq!(p(&u.to_string()), u);
        }
        let u = sip("sips:alice@atlanta.com?subject=project%20x&priority=urgent");
        assert!(u.is_secure());
        assert_eq!(u.scheme(), "sips");
        assert_eq!(u.headers().get("Subject").as_deref(), Some("project x"));
        assert_eq!(u.headers().get("priority").as_deref(), Some("urgent"));
        assert_eq!(u.headers().len(), 2);

        let u = sip("sip:+1-212-555-1212:1234@gateway.com;user=phone");
        assert_eq!(u.user().as_deref(), Some("+1-212-555-1212"));
        assert_eq!(u.password().as_deref(), Some("1234"));
        assert_eq!(u.user_param().as_deref(), Some("phone"));

        let u = sip("sip:alice@192.0.2.4");
        assert_eq!(u.host(), &Host::Ipv4(Ipv4Addr::new(192, 0, 2, 4)));

        let u = sip("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com");
        assert_eq!(u.user(), None);
        assert_eq!(u.method(), Some(Method::Register));
        assert_eq!(u.headers().get("to").as_deref(), Some("alice@atlanta.com"));
        assert_eq!(
            u.headers().iter().next().unwrap().value_raw(),
            "alice%40atlanta.com"
        );

        let u = sip("sip:alice;day=tuesday@atlanta.com");
        assert_eq!(u.user().as_deref(), Some("alice;day=tuesday"));
        assert!(u.params().is_empty());
    }

    #[test]
    fn scheme_is_case_insensitive_and_preserved() {
        let u = p("SIP:Alice@AtLanTa.CoM;Transport=UDP");
        assert_eq!(u.scheme(), "sip");
        assert_eq!(u.to_string(), "SIP:Alice@AtLanTa.CoM;Transport=UDP");
        assert_eq!(u.as_sip().unwrap().transport().as_deref(), Some("UDP"));
        assert!(p("SiPs:a@b").as_sip().unwrap().is_secure());
        assert_eq!(p("TEL:+1234").scheme(), "tel");
    }

    #[test]
    fn rfc4475_escaped_user() {
        // RFC 4475 §3.1.1.3 / RFC 3261 §19.1.4
        let u = sip("sip:%61lice@atlanta.com;transport=TCP");
        assert_eq!(u.user().as_deref(), Some("alice"));
        assert_eq!(u.user_raw().unwrap(), "%61lice");
        assert_eq!(u.to_string(), "sip:%61lice@atlanta.com;transport=TCP");

        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user().as_deref(), Some("sips:user@example.com"));
        assert_eq!(u.host().to_string(), "example.net");

        let u = sip("sip:%75se%72@example.com");
        assert_eq!(u.user().as_deref(), Some("user"));

        let u = sip("sip:I%20have%20spaces@example.net");
        assert_eq!(u.user().as_deref(), Some("I have spaces"));

        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(u.user().as_deref(), Some("caller"));
        assert!(u.lr());
        assert_eq!(u.params().get("name").as_deref(), Some("value%41"));
        assert_eq!(u.params().iter().nth(1).unwrap().name(), "name");
        assert_eq!(
            u.to_string(),
            "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"
        );

        // RFC 4475 §3.1.1.4: %00 is a legal escape.
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(u.user().as_deref(), Some("null-\0-null"));
    }

    #[test]
    fn rfc4475_semicolon_in_user() {
        // RFC 4475 §3.1.1.9
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user().as_deref(), Some("user;par=u@example.net"));
        assert_eq!(u.host().to_string(), "example.com");
        assert!(u.params().is_empty());
    }

    #[test]
    fn rfc4475_wide_range_of_characters() {
        // RFC 4475 §3.1.1.2
        let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = sip(s);
        assert_eq!(
            u.user().as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password().as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn rfc4475_escaped_headers() {
        // RFC 4475 §3.1.2.10 (escaped) — syntactically valid.
        let u = sip("sip:user@example.com?Route=%3Csip:example.com%3E");
        assert_eq!(
            u.headers().get("route").as_deref(),
            Some("<sip:example.com>")
        );
        let u = sip("sip:user@host?Subject=foo&Call-Info=%3Chttp://www.foo.com%3E");
        assert_eq!(u.headers().get("Subject").as_deref(), Some("foo"));
        assert_eq!(
            u.headers().get("call-info").as_deref(),
            Some("<http://www.foo.com>")
        );
        assert_eq!(
            u.to_string(),
            "sip:user@host?Subject=foo&Call-Info=%3Chttp://www.foo.com%3E"
        );
        // Unescaped '<' '>' are not allowed.
        err("sip:user@host?Subject=foo&Call-Info=<http://www.foo.com>");
        // Empty header values are allowed; missing '=' is not.
        assert_eq!(sip("sip:a@b?x=").headers().get("x").as_deref(), Some(""));
        err("sip:a@b?x");
        err("sip:a@b?");
        err("sip:a@b?=v");
        err("sip:a@b?x=1&&y=2");
    }

    #[test]
    fn ipv6_hosts() {
        // RFC 5118 §4
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.host(), &Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.host_port(), "[2001:db8::10]:5070");
        assert_eq!(
            u.socket_addr(),
            Some(SocketAddr::new(
                "2001:db8::10".parse::<IpAddr>().unwrap(),
                5070
            ))
        );
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.port(), None);
        assert!(!equiv("sip:[2001:db8::10]:5070", "sip:[2001:db8::10:5070]"));
        let u = sip("sip:user@[::ffff:192.0.2.10];transport=udp");
        assert_eq!(
            u.host().ip(),
            Some(IpAddr::V6("::ffff:192.0.2.10".parse().unwrap()))
        );
        assert!(equiv("sip:[2001:DB8::10]", "sip:[2001:db8:0::10]"));
        assert_eq!(p("sip:[2001:DB8::10]").to_string(), "sip:[2001:DB8::10]");
        // Missing brackets (RFC 5118 §4.2), unterminated bracket, junk.
        err("sip:2001:db8::10");
        err("sip:user@[2001:db8::10");
        err("sip:user@[2001:db8::10]x");
        err("sip:user@[2001:db8::zz]");
        assert_eq!(
            sip("sip:[::1]").socket_addr(),
            Some(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 5060))
        );
    }

    #[test]
    fn ports() {
        assert_eq!(sip("sip:a@b:0").port(), Some(0));
        assert_eq!(sip("sip:a@b:65535").port(), Some(65535));
        assert_eq!(sip("sip:a@b:05060").port(), Some(5060));
        assert!(err("sip:a@b:65536").contains("port"));
        assert!(err("sip:a@b:").contains("port"));
        assert!(err("sip:a@b:x").contains("port"));
        assert!(err("sip:a@b:-1").contains("port"));
        assert!(err("sip:a@b:4294967301").contains("port"));
        assert!(err("sip:a@b:1:2").contains("port"));
        assert_eq!(sip("sip:a@b").port_or_default(), 5060);
        assert_eq!(sip("sips:a@b").port_or_default(), 5061);
        assert_eq!(sip("sip:a@b;transport=TLS").port_or_default(), 5061);
        assert_eq!(sip("sips:a@b:5070").port_or_default(), 5070);
        assert_eq!(
            sip("sip:10.0.0.1").socket_addr(),
            Some("10.0.0.1:5060".parse().unwrap())
        );
        assert_eq!(sip("sip:example.com:1").socket_addr(), None);
        assert_eq!(sip("sip:example.com").host_port(), "example.com");
    }

    #[test]
    fn params() {
        let u = sip(
            "sip:proxy.example.com;lr;transport=udp;ttl=15;maddr=239.255.255.1;method=INVITE;x=%41;Y",
        );
        assert!(u.lr());
        assert_eq!(u.ttl(), Some(15));
        assert_eq!(u.maddr().as_deref(), Some("239.255.255.1"));
        assert_eq!(u.method(), Some(Method::Invite));
        assert_eq!(u.params().get("X").as_deref(), Some("A"));
        assert_eq!(u.params().raw("x").unwrap(), "%41");
        assert!(u.params().contains("y"));
        assert_eq!(u.params().get("y"), None);
        assert_eq!(u.params().len(), 7);
        assert_eq!(sip("sip:a@b;ttl=256").ttl(), None);
        assert_eq!(sip("sip:a@b;method=%20").method(), None);
        assert_eq!(sip("sip:a@b;maddr=[::1]").maddr().as_deref(), Some("[::1]"));
        err("sip:a@b;");
        err("sip:a@b;;lr");
        err("sip:a@b;x=");
        err("sip:a@b;=x");
        err("sip:a@b;x=a=b");
        err("sip:a@b;x=a@b");
        err("sip:a@b;x=\"q\"");
    }

    #[test]
    fn rejects_malformed() {
        assert!(err("").contains("empty"));
        assert!(err("sip:user@example.com; lr").contains("whitespace"));
        assert!(err(" sip:a@b").contains("whitespace"));
        assert!(err("sip:a@b\r\n").contains("whitespace"));
        assert!(err("sip:a@b\0").contains("control"));
        // RFC 4475 §3.1.2.6: <> enclosing the Request-URI.
        assert!(err("<sip:user@example.com>").contains("angle"));
        assert!(err("alice@example.com").contains("scheme"));
        assert!(err("1sip:a@b").contains("scheme"));
        assert!(err(":a@b").contains("scheme"));
        assert!(err("sip:").contains("host"));
        assert!(err("sip:alice@").contains("host"));
        assert!(err("sip:@example.com").contains("user"));
        assert!(err("sip:;lr").contains("host"));
        assert!(err("sip:a@b@c").contains("host"));
        assert!(err("sip:exa_mple..com").contains("host"));
        assert!(err("sip:al\"ice@b").contains("user"));
        assert!(err("sip:alice:pa;ss@b").contains("password"));
        assert!(err("sip:alicé@b").contains("user"));
        assert!(err("sip:a@hóst").contains("host"));
    }

    #[test]
    fn bad_escapes() {
        for s in [
            "sip:%6Glice@atlanta.com",
            "sip:a%2@atlanta.com",
            "sip:a%@atlanta.com",
            "sip:a:p%zz@atlanta.com",
            "sip:a@b;x=%",
            "sip:a@b;x%4=1",
            "sip:a@b?h=%4",
            "mailto:a%4",
        ] {
            assert!(err(s).contains("escape"), "{s}");
        }
        // An escape cut in the middle of a multi-byte character must not panic.
        assert!("sip:a%é@b".parse::<Uri>().is_err());
        assert!("sip:a%4é@b".parse::<Uri>().is_err());
    }

    #[test]
    fn error_reason_is_phrase() {
        let e = "sip:a@b:x".parse::<Uri>().unwrap_err();
        assert_eq!(e.reason(), "Bad URI: bad port");
        let e = "sip:%zz@b".parse::<Uri>().unwrap_err();
        assert_eq!(e.reason(), "Bad URI: bad escape in user part");
    }

    #[test]
    fn tel_uris() {
        let u = p("tel:+1-201-555-0123");
        let t = u.as_tel().unwrap();
        assert!(t.is_global());
        assert_eq!(t.number(), "+1-201-555-0123");
        assert_eq!(t.digits(), "+12015550123");
        assert_eq!(u.to_string(), "tel:+1-201-555-0123");

        let t: TelUri = "tel:7042;phone-context=example.com".parse().unwrap();
        assert!(!t.is_global());
        assert_eq!(t.phone_context().as_deref(), Some("example.com"));
        let t: TelUri = "tel:863-1234;phone-context=+1-914-555".parse().unwrap();
        assert_eq!(t.phone_context().as_deref(), Some("+1-914-555"));
        let t: TelUri = "tel:+1-201-555-0123;ext=1234;isub=%40x".parse().unwrap();
        assert_eq!(t.params().get("ext").as_deref(), Some("1234"));
        assert_eq!(t.params().get("isub").as_deref(), Some("@x"));
        let t: TelUri = "tel:*23#;phone-context=example.com".parse().unwrap();
        assert_eq!(t.number(), "*23#");

        // RFC 3966 §5.1.5: local numbers need phone-context.
        assert!(err("tel:7042").contains("phone-context"));
        err("tel:");
        err("tel:+");
        err("tel:+1-x");
        err("tel:;phone-context=a");
        err("tel:+1;x=");
        err("tel:+1?h=1");

        // Builders.
        let t = TelUri::global("+1-201-555-0123")
            .unwrap()
            .with_param("ext", Some("22"));
        assert_eq!(t.to_string(), "tel:+1-201-555-0123;ext=22");
        let t = TelUri::local("7042", "example.com").unwrap();
        assert_eq!(t.to_string(), "tel:7042;phone-context=example.com");
        assert_eq!(p(&t.to_string()).as_tel(), Some(&t));
        assert!(TelUri::global("7042").is_err());
        assert!(TelUri::local("+1", "x").is_err());
        assert!("sip:a@b".parse::<TelUri>().is_err());
    }

    #[test]
    fn tel_equivalence() {
        // RFC 3966 §4
        assert!(equiv("tel:+1-201-555-0123", "tel:+1(201)555.0123"));
        assert!(equiv("TEL:+12015550123", "tel:+12015550123"));
        assert!(!equiv("tel:+12015550123", "tel:+12015550124"));
        assert!(equiv(
            "tel:7042;phone-context=example.com",
            "tel:7042;Phone-Context=EXAMPLE.com"
        ));
        assert!(equiv(
            "tel:863-1234;phone-context=+1-914-555",
            "tel:8631234;phone-context=+1914555"
        ));
        assert!(equiv("tel:+1;a=1;b=2", "tel:+1;b=2;a=1"));
        assert!(!equiv("tel:+1;a=1", "tel:+1"));
        assert!(!equiv("tel:+1", "sip:+1@example.com"));
    }

    #[test]
    fn other_schemes() {
        let u = p("http://www.example.com/a?b=c#d");
        assert_eq!(u.scheme(), "http");
        let Uri::Other(a) = &u else { panic!() };
        assert_eq!(a.rest(), "//www.example.com/a?b=c#d");
        assert_eq!(u.to_string(), "http://www.example.com/a?b=c#d");
        assert_eq!(
            p("mailto:watson@bell-telephone.com").to_string(),
            "mailto:watson@bell-telephone.com"
        );
        assert_eq!(p("urn:service:sos").scheme(), "urn");
        assert!(equiv("HTTP://x/%7e", "http://x/~"));
        assert!(!equiv("http://x/%2F", "http://x//"));
        err("http:");
        err("http:a{b}");
        err("im:\"x\"");
        let a = AbsoluteUri::new("im", "alice@example.com").unwrap();
        assert_eq!(a.to_string(), "im:alice@example.com");
        assert_eq!(a.scheme(), "im");
        assert!(AbsoluteUri::new("sip", "a@b").is_err());
        assert!(AbsoluteUri::new("im", "a b").is_err());
    }

    #[test]
    fn builders() {
        let u = SipUri::new(Host::Domain("example.com".into()))
            .with_user("alice")
            .with_port(5070)
            .with_transport("tcp")
            .with_lr()
            .with_param("x", Some("a b"))
            .with_header("Subject", "hi there");
        assert_eq!(
            u.to_string(),
            "sip:alice@example.com:5070;transport=tcp;lr;x=a%20b?Subject=hi%20there"
        );
        assert_eq!(u.params().get("x").as_deref(), Some("a b"));
        let again: Uri = u.to_string().parse().unwrap();
        assert_eq!(again, Uri::Sip(u.clone()));

        let u = SipUri::new(IpAddr::from([10, 0, 0, 1]))
            .secure()
            .with_user("a@b:c")
            .with_password("p@ss");
        assert_eq!(u.to_string(), "sips:a%40b%3Ac:p%40ss@10.0.0.1");
        assert_eq!(u.user().as_deref(), Some("a@b:c"));
        assert_eq!(u.password().as_deref(), Some("p@ss"));

        // A percent sign given to a builder is escaped, not taken as an escape.
        let u = SipUri::new(Host::Domain("h".into())).with_user("100%");
        assert_eq!(u.to_string(), "sip:100%25@h");
        assert_eq!(sip(&u.to_string()).user().as_deref(), Some("100%"));

        // Modifying a parsed URI re-serializes it from its components.
        let mut u = sip("SIP:bob@Biloxi.com:05060;transport=udp");
        assert_eq!(u.to_string(), "SIP:bob@Biloxi.com:05060;transport=udp");
        u.params_mut().set("transport", Some("tcp"));
        assert_eq!(u.to_string(), "sip:bob@Biloxi.com:5060;transport=tcp");
        u.params_mut().remove("transport");
        u.set_user(None);
        u.set_port(None);
        assert_eq!(u.to_string(), "sip:Biloxi.com");
        u.set_host(Host::Ipv6(Ipv6Addr::LOCALHOST));
        u.set_secure(true);
        assert_eq!(u.to_string(), "sips:[::1]");

        // Password without a user is not written.
        let u = SipUri::new(Host::Domain("h".into())).with_password("x");
        assert_eq!(u.to_string(), "sip:h");
        assert!("sip:alice@example.com".parse::<SipUri>().is_ok());
        assert!("tel:+1".parse::<SipUri>().is_err());
    }

    #[test]
    fn request_uri_form() {
        let u = sip("sip:bob@b.com;method=INVITE;lr?Subject=x");
        let r = u.to_request_uri();
        assert_eq!(r.to_string(), "sip:bob@b.com;lr");
        let u = sip("sip:bob@b.com;lr");
        assert_eq!(u.to_request_uri().to_string(), "sip:bob@b.com;lr");
    }

    #[test]
    fn structural_equality_ignores_spelling_of_scheme_and_port() {
        assert_eq!(p("SIP:a@b:05060"), p("sip:a@b:5060"));
        assert_ne!(p("sip:a@b"), p("sips:a@b"));
        assert_eq!(
            Uri::from(SipUri::new(Host::Domain("b".into())).with_user("a")),
            p("sip:a@b")
        );
    }

    #[test]
    fn rfc3261_19_1_4_equivalent() {
        assert!(equiv(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(equiv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(equiv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(equiv(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(equiv(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(equiv(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    #[test]
    fn rfc3261_19_1_4_not_equivalent() {
        assert!(!equiv(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!equiv("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!equiv(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!equiv(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!equiv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!equiv(
            "sip:bob@phone21.boxesbybob.com",
            "sip:bob@192.0.2.4"
        ));
    }

    #[test]
    fn equivalence_details() {
        assert!(!equiv("sip:a@b", "sips:a@b"));
        // user, ttl, method, maddr in only one URI never match.
        for p in [
            "user=phone",
            "ttl=1",
            "method=INVITE",
            "maddr=1.2.3.4",
            "transport=tcp",
        ] {
            assert!(!equiv("sip:a@b", &format!("sip:a@b;{p}")), "{p}");
        }
        assert!(!equiv("sip:a@b;x=1", "sip:a@b;x=2"));
        assert!(!equiv("sip:a@b;lr", "sip:a@b;lr=on"));
        assert!(equiv("sip:a@b;lr", "sip:a@b"));
        assert!(equiv("sip:a@b;x=%41", "sip:a@b;X=a"));
        // Reserved characters differ from their escapes.
        assert!(!equiv("sip:a%3Bb@h", "sip:a;b@h"));
        assert!(equiv("sip:a%3bb@h", "sip:a%3Bb@h"));
        assert!(!equiv("sip:a:x@h", "sip:a:X@h"));
        assert!(!equiv("sip:a:x@h", "sip:a@h"));
        assert!(!equiv("sip:h", "sip:a@h"));
        assert!(!equiv("sip:a@h?x=1", "sip:a@h?x=2"));
        assert!(equiv("sip:a@h?X=1", "sip:a@h?x=1"));
        assert!(!equiv("sip:a@h?x=1&x=1", "sip:a@h?x=1"));
        assert!(!equiv("sip:a@h", "tel:+1"));
        assert!(!equiv("sip:a@h", "http://h"));
    }

    #[test]
    fn percent_helpers() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
        assert!(matches!(percent_decode("plain"), Cow::Borrowed(_)));
        assert_eq!(percent_encode("a b%é", is_user_byte), "a%20b%25%C3%A9");
    }

    #[test]
    fn zero_copy() {
        // A user part long enough not to be copied inline.
        let t = Text::from(String::from(
            "sip:alice-with-a-long-user-name@example.com;transport=tcp",
        ));
        let Uri::Sip(u) = Uri::parse(&t, &t).unwrap() else {
            panic!()
        };
        assert_eq!(u.user_raw().unwrap().as_ptr(), t[4..].as_ptr());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_round_trips(s in "\\PC{0,40}") {
            if let Ok(u) = s.parse::<Uri>() {
                proptest::prop_assert_eq!(u.to_string(), s.clone());
                let again: Uri = u.to_string().parse().unwrap();
                proptest::prop_assert!(again.equivalent(&u));
            }
        }

        #[test]
        fn sip_like_never_panics(s in "(sips?|tel|SIP):[a-z%0-9@:;=?&\\[\\]+.\\-]{0,30}") {
            if let Ok(u) = s.parse::<Uri>() {
                proptest::prop_assert_eq!(u.to_string(), s.clone());
                proptest::prop_assert!(u.equivalent(&u));
            }
        }

        #[test]
        fn built_uris_reparse(user in "\\PC{1,10}", v in "\\PC{1,10}", h in "\\PC{0,10}") {
            let u = SipUri::new(Host::Domain("example.com".into()))
                .with_user(&user)
                .with_param("p", Some(&v))
                .with_header("h", &h);
            let again: SipUri = u.to_string().parse().unwrap();
            proptest::prop_assert_eq!(again.user().map(Cow::into_owned), Some(user.clone()));
            proptest::prop_assert_eq!(again.params().get("p").map(Cow::into_owned), Some(v.clone()));
            proptest::prop_assert_eq!(again.headers().get("h").map(Cow::into_owned), Some(h.clone()));
            proptest::prop_assert_eq!(again, u);
        }
    }
}
