//! One registered contact of an address-of-record, and the rules that name
//! it: the canonical address-of-record (RFC 3261 §10.3 step 5) and the
//! key under which a contact is the same binding (§10.3 step 7, RFC 5626
//! §6).

use crate::message::Uri;
use crate::message::typed::Contact;
use crate::transport::Target;
use std::time::Duration;

/// One registered contact of an address-of-record.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The Contact as registered, without its `expires` parameter (the
    /// registrar writes the remaining lifetime), the URI in angle brackets.
    pub contact: Contact,
    /// What makes two registrations the same binding ([`binding_key`]).
    pub key: String,
    /// The Call-ID of the REGISTER that last set it.
    pub call_id: String,
    /// The CSeq number of that REGISTER.
    pub cseq: u32,
    /// The lifetime: when written, how long from now it lasts; when read
    /// from a store, how long it has left.
    pub expires: Duration,
    /// The Path the REGISTER carried (RFC 3327 §5.3), first value first:
    /// requests to the contact are routed through it.
    pub path: Vec<Uri>,
    /// The flow requests to this contact must take (RFC 5626 §5.3): the
    /// connection (or UDP source) its REGISTER came over, for a contact
    /// registered over a WebSocket (a browser's `.invalid` host is reached
    /// no other way, RFC 7118 §5) or with outbound (`reg-id`). A binding
    /// whose connection closes is removed. Meaningful only to the process
    /// that received the REGISTER: a store shared by several keeps it for
    /// that one only.
    pub flow: Option<Target>,
    /// Its `+sip.instance` and `reg-id` (RFC 5626 §6) when registered with
    /// outbound: a later REGISTER with the same pair replaces it whatever
    /// its Contact URI.
    pub outbound: Option<(String, u32)>,
}

impl Binding {
    /// The contact URI.
    pub fn uri(&self) -> Option<&Uri> {
        self.contact.addr().map(|a| a.uri())
    }

    /// The contact's `q` (RFC 3261 §20.10), 1.0 when absent.
    pub fn q(&self) -> f32 {
        self.contact.q().unwrap_or(1.0)
    }

    /// Whole seconds left, rounded up.
    pub fn remaining_secs(&self) -> u32 {
        let e = self.expires;
        let secs = e.as_secs() + u64::from(e.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// The canonical address-of-record for a To or Request-URI (RFC 3261
/// §10.3 step 5): `sip:user@host[:port]` with escapes resolved, the host
/// in lower case and every parameter and header dropped; `sips:` is folded
/// into `sip:`. `None` for a URI that is not SIP or SIPS.
pub fn canonical_aor(uri: &Uri) -> Option<String> {
    let sip = uri.as_sip()?;
    let host = sip.host_port().to_ascii_lowercase();
    Some(match sip.user() {
        Some(user) => format!("sip:{user}@{host}"),
        None => format!("sip:{host}"),
    })
}

/// The key that makes two registrations of one address-of-record the same
/// binding: its `+sip.instance` and `reg-id` when registered with outbound
/// (RFC 5626 §6), otherwise its URI in a form where URIs equal by RFC 3261
/// §19.1.4 agree: scheme, user and password unescaped, host in lower
/// case, port, and the parameters that always take part in the comparison
/// (`user`, `ttl`, `method`, `maddr`, `transport`) and the headers.
pub fn binding_key(uri: &Uri, outbound: Option<&(String, u32)>) -> String {
    if let Some((instance, reg_id)) = outbound {
        return format!("outbound {instance} {reg_id}");
    }
    let Some(sip) = uri.as_sip() else {
        return format!("uri {}", uri.to_string().to_ascii_lowercase());
    };
    let mut key = format!("uri {}:", sip.scheme());
    if let Some(user) = sip.user() {
        key.push_str(&user);
        if let Some(password) = sip.password() {
            key.push(':');
            key.push_str(&password);
        }
        key.push('@');
    }
    key.push_str(&sip.host().to_string().to_ascii_lowercase());
    if let Some(port) = sip.port() {
        key.push_str(&format!(":{port}"));
    }
    for name in ["user", "ttl", "method", "maddr", "transport"] {
        if let Some(value) = sip.params().get(name) {
            key.push_str(&format!(";{name}={}", value.to_ascii_lowercase()));
        }
    }
    let mut headers: Vec<String> = sip
        .headers()
        .iter()
        .map(|h| format!("{}={}", h.name().to_ascii_lowercase(), h.value()))
        .collect();
    headers.sort();
    for h in headers {
        key.push('?');
        key.push_str(&h);
    }
    key
}

/// A Contact's `+sip.instance` and `reg-id` (RFC 5626 §4.2), when it has
/// both.
pub(crate) fn outbound_key(contact: &Contact) -> Option<(String, u32)> {
    let params = contact.params();
    let instance = params.get("+sip.instance")?;
    let reg_id = params.get("reg-id")?.parse().ok()?;
    Some((instance.trim_matches('"').to_owned(), reg_id))
}

/// A Contact as stored: no `expires` (the response writes the remaining
/// lifetime), the URI in angle brackets so parameters stay header
/// parameters.
pub(crate) fn stored_form(contact: Contact) -> Contact {
    match contact {
        Contact::Address {
            mut addr,
            mut params,
        } => {
            params.remove("expires");
            addr.set_angle_brackets(true);
            Contact::Address { addr, params }
        }
        star => star,
    }
}
