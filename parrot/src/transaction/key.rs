//! Transaction keys: how a message finds its transaction (RFC 3261
//! §17.1.3, §17.2.3, §9.2).
//!
//! Keys are plain hashable values a runtime can use in one `HashMap` per
//! side. They hold [`Text`] slices of the message (reference-counted, no
//! copies), and compare and hash case-insensitively where the RFC makes the
//! value case-insensitive: the branch parameter (parameter values are
//! case-insensitive unless stated otherwise, §7.3.1), the sent-by host
//! (host names are case-insensitive, §19.1.4), tags and the Via of RFC 2543
//! keys. Methods stay case-sensitive (§7.1) and so do Call-IDs (§20.8).
//!
//! * [`ClientKey`] (§17.1.3): the branch of the top Via plus the CSeq
//!   method, so the response to a CANCEL does not match the INVITE it
//!   cancels although both carry the same branch.
//! * [`ServerKey`] (§17.2.3): for requests whose branch starts with the
//!   magic cookie `z9hG4bK`, the branch plus the sent-by of the top Via plus
//!   the method, with ACK counted as INVITE so that the ACK for a non-2xx
//!   response finds its INVITE transaction. A CANCEL has its own
//!   transaction; [`ServerKey::cancel_target`] gives the key of the one it
//!   cancels (§9.2). Requests without the cookie come from RFC 2543
//!   clients and are matched on Request-URI, To tag, From tag, Call-ID,
//!   CSeq and top Via; their ACK carries the To tag of the response, so the
//!   runtime also registers [`ServerKey::ack_alias`] once the transaction
//!   has answered.
//!
//! For storage, a key is also written as a canonical byte string
//! (`encode`): the case-insensitive parts lower-cased, every field
//! length-prefixed, so two keys are equal exactly when their encodings are.
//! [`TransactionLayer`](super::TransactionLayer) keeps those few owned
//! bytes per transaction instead of the key, whose texts would keep the
//! request's receive buffer alive.

use super::compact::{put_bytes, put_len};
use crate::message::typed::{CSeq, CallId, From, To, TypedHeader, Via};
use crate::message::{HeaderName, Headers, Host, Method, Request, Response, Text};
use std::borrow::Cow;
use std::hash::{Hash, Hasher};

/// Why a message yields no transaction key. Such a message cannot be
/// matched; a server answers a request like this with 400 (§8.2.2 and
/// §16.3 make these headers mandatory), a client drops the response
/// (§18.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A header the key needs is absent.
    #[error("Missing {0} header")]
    Missing(HeaderName),
    /// A header the key needs does not parse.
    #[error("Bad {0} header")]
    Invalid(HeaderName),
    /// The top Via of a response has no branch parameter, so it cannot
    /// belong to any client transaction of ours (§17.1.3).
    #[error("Missing branch parameter in top Via")]
    MissingBranch,
}

/// Hashes `bytes` as if lower-cased, without allocating.
fn hash_lowercase<H: Hasher>(bytes: &[u8], state: &mut H) {
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len()) {
        let dst = &mut buf[..chunk.len()];
        for (d, s) in dst.iter_mut().zip(chunk) {
            *d = s.to_ascii_lowercase();
        }
        state.write(dst);
    }
    // Length suffix keeps consecutive fields unambiguous.
    state.write_usize(bytes.len());
}

/// Appends `bytes` lower-cased, preceded by their length.
fn put_lowercase(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_len(buf, bytes.len());
    buf.extend(bytes.iter().map(u8::to_ascii_lowercase));
}

/// Appends a method: the index of a known one, or 0xff and its name (an
/// extension method is never equal to a known one, as with `Method`'s `Eq`).
fn put_method(buf: &mut Vec<u8>, method: &Method) {
    match Method::KNOWN.iter().position(|m| m == method) {
        Some(i) => buf.push(i as u8),
        None => {
            buf.push(0xff);
            put_bytes(buf, method.as_str().as_bytes());
        }
    }
}

/// A copy of `text` that owns its storage.
fn owned(text: &Text) -> Text {
    if text.is_empty() {
        Text::new()
    } else {
        Text::from(text.as_str().to_owned())
    }
}

/// Tags that start each encoding, so no two kinds of key coincide.
const CLIENT: u8 = b'c';
const RFC3261: u8 = b's';
const RFC2543: u8 = b'l';

/// A text that compares and hashes ignoring ASCII case.
#[derive(Clone, Debug, Default)]
struct NoCase(Text);

impl PartialEq for NoCase {
    fn eq(&self, other: &NoCase) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for NoCase {}

impl Hash for NoCase {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_lowercase(self.0.as_bytes(), state);
    }
}

/// The sent-by of a Via: host (case-insensitive) and port (absent is not
/// the same as 5060, as with URIs, §19.1.4).
#[derive(Clone, Debug)]
struct SentBy {
    host: Host,
    port: Option<u16>,
}

impl PartialEq for SentBy {
    fn eq(&self, other: &SentBy) -> bool {
        self.port == other.port && self.host.eq_ignore_case(&other.host)
    }
}

impl Eq for SentBy {}

impl SentBy {
    fn encode(&self, buf: &mut Vec<u8>) {
        match &self.host {
            Host::Domain(d) => {
                buf.push(0);
                put_lowercase(buf, d.as_bytes());
            }
            Host::Ipv4(a) => {
                buf.push(1);
                buf.extend_from_slice(&a.octets());
            }
            Host::Ipv6(a) => {
                buf.push(2);
                buf.extend_from_slice(&a.octets());
            }
        }
        match self.port {
            None => buf.push(0),
            Some(p) => {
                buf.push(1);
                buf.extend_from_slice(&p.to_le_bytes());
            }
        }
    }
}

impl Hash for SentBy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.host {
            Host::Domain(d) => {
                state.write_u8(0);
                hash_lowercase(d.as_bytes(), state);
            }
            Host::Ipv4(a) => {
                state.write_u8(1);
                a.hash(state);
            }
            Host::Ipv6(a) => {
                state.write_u8(2);
                a.hash(state);
            }
        }
        self.port.hash(state);
    }
}

/// The top Via: the parser's decoded copy when there is one.
fn top_via(headers: &Headers) -> Result<Cow<'_, Via>, KeyError> {
    match headers.top_via_decoded() {
        None => Err(KeyError::Missing(HeaderName::Via)),
        Some(Err(_)) => Err(KeyError::Invalid(HeaderName::Via)),
        Some(Ok(v)) => Ok(v),
    }
}

fn typed<T: TypedHeader>(headers: &Headers) -> Result<T, KeyError> {
    match headers.typed::<T>() {
        None => Err(KeyError::Missing(T::NAME)),
        Some(Err(_)) => Err(KeyError::Invalid(T::NAME)),
        Some(Ok(v)) => Ok(v),
    }
}

/// The branch of `via`, or `None` if it has none (or an empty one).
fn branch_of(via: &Via) -> Option<Text> {
    via.params.raw("branch").filter(|b| !b.is_empty()).cloned()
}

/// The method a request is matched under: an ACK belongs to the INVITE
/// transaction (§17.2.3).
fn server_method(method: &Method) -> Method {
    match method {
        Method::Ack => Method::Invite,
        m => m.clone(),
    }
}

/// The key of a client transaction (RFC 3261 §17.1.3): the branch of the
/// top Via and the method.
///
/// ```
/// use parrot::message::{Method, Text};
/// use parrot::transaction::ClientKey;
///
/// let invite = ClientKey::new(Text::from("z9hG4bK776asdhds"), Method::Invite);
/// let cancel = ClientKey::new(Text::from("z9hG4bK776asdhds"), Method::Cancel);
/// assert_ne!(invite, cancel);
/// assert_eq!(invite, ClientKey::new(Text::from("Z9HG4BK776ASDHDS"), Method::Invite));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    branch: NoCase,
    method: Method,
}

impl ClientKey {
    /// A key for the transaction whose request has `branch` in its top Via
    /// and method `method`.
    pub fn new(branch: Text, method: Method) -> ClientKey {
        ClientKey {
            branch: NoCase(branch),
            method,
        }
    }

    /// The key of the transaction a request we send creates: the branch
    /// of its top Via and its method.
    pub fn from_request(request: &Request) -> Result<ClientKey, KeyError> {
        let via = top_via(&request.headers)?;
        let branch = branch_of(&via).ok_or(KeyError::MissingBranch)?;
        Ok(ClientKey::new(branch, request.method.clone()))
    }

    /// The key a response matches (§17.1.3): "the response matches a
    /// client transaction if it has the same value of the branch parameter
    /// in the top Via header field" and "the method parameter in the CSeq
    /// header field matches the method of the request that created the
    /// transaction".
    pub fn from_response(response: &Response) -> Result<ClientKey, KeyError> {
        let via = top_via(&response.headers)?;
        let branch = branch_of(&via).ok_or(KeyError::MissingBranch)?;
        let cseq: CSeq = typed(&response.headers)?;
        Ok(ClientKey::new(branch, cseq.method))
    }

    /// The branch parameter.
    pub fn branch(&self) -> &Text {
        &self.branch.0
    }

    /// The method of the request that created the transaction.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Appends the canonical encoding: equal keys, and only they, give
    /// equal bytes.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(CLIENT);
        put_lowercase(buf, self.branch.0.as_bytes());
        put_method(buf, &self.method);
    }
}

/// The key of a server transaction (RFC 3261 §17.2.3), for RFC 3261
/// requests (branch with the magic cookie) or, as a fallback, RFC 2543
/// ones.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerKey(Inner);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Inner {
    /// §17.2.3: branch (with magic cookie), sent-by, method (ACK → INVITE).
    Rfc3261 {
        branch: NoCase,
        sent_by: SentBy,
        method: Method,
    },
    /// The RFC 2543 fallback; boxed since it is rare and large.
    Rfc2543(Box<Rfc2543Key>),
}

/// §17.2.3 for requests without the magic cookie: Request-URI, To tag,
/// From tag, Call-ID, CSeq (number and method, ACK counted as INVITE) and
/// top Via.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Rfc2543Key {
    uri: Text,
    to_tag: Option<NoCase>,
    from_tag: Option<NoCase>,
    call_id: Text,
    cseq: u32,
    method: Method,
    via: NoCase,
}

impl ServerKey {
    /// The key of the server transaction `request` belongs to.
    ///
    /// If the top Via's branch starts with `z9hG4bK` (§8.1.1.7) the key is
    /// that branch, the sent-by and the method, where ACK counts as INVITE
    /// (the ACK for a non-2xx response belongs to the INVITE transaction;
    /// an ACK for a 2xx has a new branch and matches nothing, §17.1.1.3).
    /// A CANCEL gets a key of its own (see [`ServerKey::cancel_target`]).
    ///
    /// Otherwise (an RFC 2543 client) the key is the Request-URI, To tag,
    /// From tag, Call-ID, CSeq number, method (ACK as INVITE) and top Via.
    pub fn from_request(request: &Request) -> Result<ServerKey, KeyError> {
        let via = top_via(&request.headers)?;
        let method = server_method(&request.method);
        if via.has_magic_cookie() {
            let branch = branch_of(&via).unwrap_or_default();
            return Ok(ServerKey(Inner::Rfc3261 {
                branch: NoCase(branch),
                sent_by: SentBy {
                    host: via.host.clone(),
                    port: via.port,
                },
                method,
            }));
        }
        // RFC 2543 fallback (§17.2.3). The Via is compared as written (its
        // first list element), ignoring case.
        let raw_via = request
            .headers
            .get_all(HeaderName::Via)
            .find_map(|h| h.elements().next().map(|e| h.value().slice_ref(e)))
            .unwrap_or_default();
        let to: To = typed(&request.headers)?;
        let from: From = typed(&request.headers)?;
        let call_id: CallId = typed(&request.headers)?;
        let cseq: CSeq = typed(&request.headers)?;
        Ok(ServerKey(Inner::Rfc2543(Box::new(Rfc2543Key {
            uri: Text::from(request.uri.to_string()),
            to_tag: to.params.raw("tag").cloned().map(NoCase),
            from_tag: from.params.raw("tag").cloned().map(NoCase),
            call_id: call_id.as_text().clone(),
            cseq: cseq.seq,
            method,
            via: NoCase(raw_via),
        }))))
    }

    /// Whether `request` belongs to the transaction with this key.
    pub fn matches(&self, request: &Request) -> bool {
        ServerKey::from_request(request).is_ok_and(|k| &k == self)
    }

    /// For the key of a CANCEL, the key of the transaction it cancels
    /// (§9.2: "taking the CANCEL request, and then assuming that the
    /// request method is anything but CANCEL or ACK and applying the
    /// transaction matching procedures of Section 17.2.3"). Only INVITE
    /// transactions can usefully be cancelled, so the method assumed is
    /// INVITE. `None` for keys of other methods.
    pub fn cancel_target(&self) -> Option<ServerKey> {
        if *self.method() != Method::Cancel {
            return None;
        }
        let mut key = self.clone();
        match &mut key.0 {
            Inner::Rfc3261 { method, .. } => *method = Method::Invite,
            Inner::Rfc2543(k) => k.method = Method::Invite,
        }
        Some(key)
    }

    /// For an RFC 2543 INVITE key, the key its ACK will have once the
    /// transaction sent the final `response`: an RFC 2543 ACK matches "if
    /// the Request-URI, From tag, Call-ID, CSeq number (not the method),
    /// and top Via header field match those of the INVITE request which
    /// created the transaction, and the To tag of the ACK matches the To
    /// tag of the response sent by the server transaction" (§17.2.3). The
    /// runtime maps this alias to the same transaction.
    ///
    /// `None` for RFC 3261 keys (their ACK already has the INVITE's key),
    /// for other methods, and when the alias equals the key itself.
    pub fn ack_alias(&self, response: &Response) -> Option<ServerKey> {
        let Inner::Rfc2543(k) = &self.0 else {
            return None;
        };
        if k.method != Method::Invite {
            return None;
        }
        let tag = match response.headers.typed::<To>() {
            Some(Ok(to)) => to.params.raw("tag").cloned().map(NoCase),
            _ => None,
        };
        if tag == k.to_tag {
            return None;
        }
        let mut alias = k.clone();
        alias.to_tag = tag;
        Some(ServerKey(Inner::Rfc2543(alias)))
    }

    /// Whether this is an RFC 3261 key (branch with the magic cookie).
    pub fn is_rfc3261(&self) -> bool {
        matches!(self.0, Inner::Rfc3261 { .. })
    }

    /// The branch of the request's top Via as an owned copy, for the
    /// transaction to keep: the key's for an RFC 3261 key; for an RFC
    /// 2543 one (whose key does not hold it) decoded from `request`.
    pub(crate) fn owned_branch(&self, request: &Request) -> Text {
        match self.branch() {
            Some(b) => owned(b),
            None => super::owned_top_branch(&request.headers),
        }
    }

    /// The branch of an RFC 3261 key.
    pub fn branch(&self) -> Option<&Text> {
        match &self.0 {
            Inner::Rfc3261 { branch, .. } => Some(&branch.0),
            Inner::Rfc2543(_) => None,
        }
    }

    /// The method of the transaction (INVITE for an ACK).
    pub fn method(&self) -> &Method {
        match &self.0 {
            Inner::Rfc3261 { method, .. } => method,
            Inner::Rfc2543(k) => &k.method,
        }
    }

    /// Appends the canonical encoding: equal keys, and only they, give
    /// equal bytes. Never equal to the encoding of a [`ClientKey`].
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        match &self.0 {
            Inner::Rfc3261 {
                branch,
                sent_by,
                method,
            } => {
                buf.push(RFC3261);
                put_lowercase(buf, branch.0.as_bytes());
                sent_by.encode(buf);
                put_method(buf, method);
            }
            Inner::Rfc2543(k) => {
                buf.push(RFC2543);
                put_bytes(buf, k.uri.as_bytes());
                for tag in [&k.to_tag, &k.from_tag] {
                    match tag {
                        None => buf.push(0),
                        Some(t) => {
                            buf.push(1);
                            put_lowercase(buf, t.0.as_bytes());
                        }
                    }
                }
                put_bytes(buf, k.call_id.as_bytes());
                buf.extend_from_slice(&k.cseq.to_le_bytes());
                put_method(buf, &k.method);
                put_lowercase(buf, k.via.0.as_bytes());
            }
        }
    }

    /// An equal key whose texts own their storage instead of sharing the
    /// request's receive buffer, for keeping.
    pub(crate) fn detached(&self) -> ServerKey {
        ServerKey(match &self.0 {
            Inner::Rfc3261 {
                branch,
                sent_by,
                method,
            } => Inner::Rfc3261 {
                branch: NoCase(owned(&branch.0)),
                sent_by: SentBy {
                    host: match &sent_by.host {
                        Host::Domain(d) => Host::Domain(owned(d)),
                        ip => ip.clone(),
                    },
                    port: sent_by.port,
                },
                method: detached_method(method),
            },
            Inner::Rfc2543(k) => Inner::Rfc2543(Box::new(Rfc2543Key {
                uri: owned(&k.uri),
                to_tag: k.to_tag.as_ref().map(|t| NoCase(owned(&t.0))),
                from_tag: k.from_tag.as_ref().map(|t| NoCase(owned(&t.0))),
                call_id: owned(&k.call_id),
                cseq: k.cseq,
                method: detached_method(&k.method),
                via: NoCase(owned(&k.via.0)),
            })),
        })
    }
}

fn detached_method(method: &Method) -> Method {
    match method {
        Method::Extension(name) => Method::Extension(owned(name)),
        known => known.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{request, response};
    use std::collections::HashMap;

    fn with_via(mut req: Request, via: &str) -> Request {
        req.headers.remove(HeaderName::Via);
        req.headers
            .push_front(crate::message::Header::new("Via", via.to_owned()));
        req
    }

    fn ack_for(invite: &Request, resp: &Response) -> Request {
        let mut ack = invite.clone();
        ack.method = Method::Ack;
        ack.headers.set(HeaderName::CSeq, "314159 ACK");
        ack.headers.set(
            HeaderName::To,
            resp.headers.get(HeaderName::To).unwrap().clone(),
        );
        ack
    }

    #[test]
    fn client_key_from_request_and_response() {
        let invite = request(Method::Invite, "z9hG4bKc1");
        let key = ClientKey::from_request(&invite).unwrap();
        assert_eq!(key.branch(), "z9hG4bKc1");
        assert_eq!(key.method(), &Method::Invite);
        for code in [100, 180, 200, 486] {
            assert_eq!(
                ClientKey::from_response(&response(&invite, code)).unwrap(),
                key
            );
        }
        // A CANCEL shares the branch but is its own transaction (§9.1).
        let cancel = request(Method::Cancel, "z9hG4bKc1");
        let ckey = ClientKey::from_request(&cancel).unwrap();
        assert_ne!(ckey, key);
        assert_eq!(
            ClientKey::from_response(&response(&cancel, 200)).unwrap(),
            ckey
        );
        // Another branch is another transaction.
        let other = request(Method::Invite, "z9hG4bKc2");
        assert_ne!(
            ClientKey::from_response(&response(&other, 200)).unwrap(),
            key
        );
    }

    #[test]
    fn client_key_errors() {
        let mut resp = response(&request(Method::Options, "z9hG4bKe"), 200);
        resp.headers.remove(HeaderName::CSeq);
        assert_eq!(
            ClientKey::from_response(&resp),
            Err(KeyError::Missing(HeaderName::CSeq))
        );
        resp.headers.remove(HeaderName::Via);
        assert_eq!(
            ClientKey::from_response(&resp),
            Err(KeyError::Missing(HeaderName::Via))
        );
        let req = with_via(request(Method::Options, "x"), "SIP/2.0/UDP host");
        assert_eq!(ClientKey::from_request(&req), Err(KeyError::MissingBranch));
        let req = with_via(request(Method::Options, "x"), "garbage");
        assert_eq!(
            ClientKey::from_request(&req),
            Err(KeyError::Invalid(HeaderName::Via))
        );
        assert_eq!(
            KeyError::Missing(HeaderName::Via).to_string(),
            "Missing Via header"
        );
    }

    #[test]
    fn server_ack_matches_the_invite_transaction() {
        let invite = request(Method::Invite, "z9hG4bKs1");
        let key = ServerKey::from_request(&invite).unwrap();
        assert!(key.is_rfc3261());
        assert_eq!(key.branch().unwrap(), "z9hG4bKs1");
        assert!(key.matches(&invite), "retransmission");
        let resp = response(&invite, 486);
        let ack = ack_for(&invite, &resp);
        assert_eq!(ServerKey::from_request(&ack).unwrap(), key);
        assert_eq!(key.method(), &Method::Invite);
        // No alias needed for RFC 3261 keys.
        assert_eq!(key.ack_alias(&resp), None);
        // The ACK for a 2xx carries a new branch: no match (§17.1.1.3).
        let ack2xx = with_via(ack, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnew");
        assert!(!key.matches(&ack2xx));
    }

    #[test]
    fn server_cancel_has_its_own_key_and_finds_the_invite() {
        let invite = request(Method::Invite, "z9hG4bKs2");
        let ikey = ServerKey::from_request(&invite).unwrap();
        let cancel = request(Method::Cancel, "z9hG4bKs2");
        let ckey = ServerKey::from_request(&cancel).unwrap();
        assert_ne!(ckey, ikey);
        assert_eq!(ckey.method(), &Method::Cancel);
        assert_eq!(ckey.cancel_target(), Some(ikey.clone()));
        assert_eq!(ikey.cancel_target(), None);
        // A CANCEL for another branch finds nothing.
        let stray = request(Method::Cancel, "z9hG4bKs3");
        assert_ne!(
            ServerKey::from_request(&stray).unwrap().cancel_target(),
            Some(ikey)
        );
    }

    #[test]
    fn server_key_sent_by_and_branch_ignore_case() {
        let a = with_via(
            request(Method::Options, "x"),
            "SIP/2.0/UDP PC33.Atlanta.COM:5060;branch=z9hG4bKAbC",
        );
        let b = with_via(
            request(Method::Options, "x"),
            "SIP/2.0/UDP pc33.atlanta.com:5060;branch=z9hG4bKabc",
        );
        let ka = ServerKey::from_request(&a).unwrap();
        let kb = ServerKey::from_request(&b).unwrap();
        assert_eq!(ka, kb);
        let mut map = HashMap::new();
        map.insert(ka, 1);
        assert_eq!(map.get(&kb), Some(&1), "hashes agree");
        // A different port, host or method is a different transaction.
        for via in [
            "SIP/2.0/UDP pc33.atlanta.com:5061;branch=z9hG4bKabc",
            "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKabc",
            "SIP/2.0/UDP pc34.atlanta.com:5060;branch=z9hG4bKabc",
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc",
        ] {
            let k = ServerKey::from_request(&with_via(request(Method::Options, "x"), via)).unwrap();
            assert!(!map.contains_key(&k), "{via}");
        }
        let mut bye = b.clone();
        bye.method = Method::Bye;
        assert!(!map.contains_key(&ServerKey::from_request(&bye).unwrap()));
        // IP addresses compare as addresses.
        let v4a = with_via(
            request(Method::Options, "x"),
            "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1",
        );
        let v4b = with_via(
            request(Method::Options, "x"),
            "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1",
        );
        assert_eq!(
            ServerKey::from_request(&v4a).unwrap(),
            ServerKey::from_request(&v4b).unwrap()
        );
    }

    #[test]
    fn client_key_branch_ignores_case_in_hash_too() {
        let mut map = HashMap::new();
        map.insert(ClientKey::new(Text::from("z9hG4bKxYz"), Method::Invite), 7);
        assert_eq!(
            map.get(&ClientKey::new(Text::from("Z9HG4BKXYZ"), Method::Invite)),
            Some(&7)
        );
        // Methods are case-sensitive (§7.1).
        assert_eq!(
            map.get(&ClientKey::new(
                Text::from("z9hG4bKxYz"),
                "invite".parse().unwrap()
            )),
            None
        );
    }

    #[test]
    fn rfc2543_fallback_for_invite_ack_and_cancel() {
        // No magic cookie: RFC 2543 matching.
        let invite = with_via(
            request(Method::Invite, "x"),
            "SIP/2.0/UDP pc33.atlanta.com;branch=1234",
        );
        let key = ServerKey::from_request(&invite).unwrap();
        assert!(!key.is_rfc3261());
        assert_eq!(key.branch(), None);
        assert!(key.matches(&invite), "retransmission");
        // The ACK carries the To tag of the response: it matches the alias
        // registered once the response was sent, not the INVITE key.
        let resp = response(&invite, 486);
        let ack = ack_for(&invite, &resp);
        let ack_key = ServerKey::from_request(&ack).unwrap();
        assert_ne!(ack_key, key);
        let alias = key.ack_alias(&resp).unwrap();
        assert_eq!(ack_key, alias);
        assert_eq!(alias.method(), &Method::Invite);
        // An ACK with another To tag does not match.
        let mut other = resp.clone();
        other
            .headers
            .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=other");
        assert_ne!(
            ServerKey::from_request(&ack_for(&invite, &other)).unwrap(),
            alias
        );
        // CANCEL: own transaction, cancel_target finds the INVITE.
        let mut cancel = invite.clone();
        cancel.method = Method::Cancel;
        cancel.headers.set(HeaderName::CSeq, "314159 CANCEL");
        let ckey = ServerKey::from_request(&cancel).unwrap();
        assert_ne!(ckey, key);
        assert_eq!(ckey.cancel_target(), Some(key.clone()));
        // A response with the same To tag as the INVITE needs no alias.
        let mut same = response(&invite, 100);
        same.headers.set(HeaderName::To, "Bob <sip:bob@biloxi.com>");
        assert_eq!(key.ack_alias(&same), None);
    }

    #[test]
    fn rfc2543_fields_all_count() {
        let base = with_via(request(Method::Bye, "x"), "SIP/2.0/UDP pc33.atlanta.com");
        let key = ServerKey::from_request(&base).unwrap();
        assert!(key.matches(&base));
        assert_eq!(key.ack_alias(&response(&base, 200)), None, "not an INVITE");
        let mut variants = Vec::new();
        let mut r = base.clone();
        r.uri = "sip:carol@biloxi.com".parse().unwrap();
        variants.push(r);
        let mut r = base.clone();
        r.headers
            .set(HeaderName::From, "Alice <sip:alice@atlanta.com>;tag=other");
        variants.push(r);
        let mut r = base.clone();
        r.headers
            .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=t");
        variants.push(r);
        let mut r = base.clone();
        r.headers.set(HeaderName::CallId, "another-call");
        variants.push(r);
        let mut r = base.clone();
        r.headers.set(HeaderName::CSeq, "314160 BYE");
        variants.push(r);
        variants.push(with_via(base.clone(), "SIP/2.0/UDP pc34.atlanta.com"));
        for v in &variants {
            assert!(!key.matches(v), "{v:?}");
        }
        // The Via compares ignoring case.
        assert!(key.matches(&with_via(base.clone(), "SIP/2.0/UDP PC33.ATLANTA.COM")));
        // Missing headers are reported.
        let mut r = base.clone();
        r.headers.remove(HeaderName::CallId);
        assert_eq!(
            ServerKey::from_request(&r),
            Err(KeyError::Missing(HeaderName::CallId))
        );
    }

    fn encoded(key: &ServerKey) -> Vec<u8> {
        let mut buf = Vec::new();
        key.encode(&mut buf);
        buf
    }

    /// Equal keys, and only equal keys, have equal encodings; a detached
    /// copy is equal and shares nothing with the request.
    #[test]
    fn encoding_is_canonical() {
        let mut requests = Vec::new();
        for method in [Method::Invite, Method::Ack, Method::Cancel, Method::Bye] {
            for via in [
                "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKabc",
                "SIP/2.0/UDP PC33.Atlanta.COM;branch=z9hG4bKABC",
                "SIP/2.0/UDP pc33.atlanta.com:5060;branch=z9hG4bKabc",
                "SIP/2.0/UDP pc33.atlanta.com:5061;branch=z9hG4bKabc",
                "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKabc",
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc",
                "SIP/2.0/UDP [2001:db8::1];branch=z9hG4bKabc",
                "SIP/2.0/UDP [2001:db8::2];branch=z9hG4bKabc",
                "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKabd",
                "SIP/2.0/UDP pc33.atlanta.com;branch=1234",
                "SIP/2.0/UDP PC33.atlanta.com;branch=1234",
                "SIP/2.0/UDP pc33.atlanta.com",
            ] {
                requests.push(with_via(request(method.clone(), "x"), via));
            }
        }
        let base = with_via(request(Method::Invite, "x"), "SIP/2.0/UDP pc33.atlanta.com");
        let mut r = base.clone();
        r.headers
            .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=T1");
        requests.push(r.clone());
        r.headers
            .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=t1");
        requests.push(r);
        let mut r = base.clone();
        r.headers
            .set(HeaderName::CallId, "A84B4C76E66710@pc33.atlanta.com");
        requests.push(r);
        let mut r = base.clone();
        r.headers.set(HeaderName::CSeq, "314160 INVITE");
        requests.push(r);
        let mut r = base.clone();
        r.method = "invite".parse().unwrap();
        r.headers.set(HeaderName::CSeq, "314159 invite");
        requests.push(r);
        let mut r = base.clone();
        r.uri = "sip:BOB@biloxi.com".parse().unwrap();
        requests.push(r);

        let keys: Vec<ServerKey> = requests
            .iter()
            .map(|r| ServerKey::from_request(r).unwrap())
            .collect();
        let mut equal_pairs = 0;
        for a in &keys {
            for b in &keys {
                assert_eq!(a == b, encoded(a) == encoded(b), "{a:?} vs {b:?}");
                equal_pairs += usize::from(a == b);
            }
            let detached = a.detached();
            assert_eq!(&detached, a);
            assert_eq!(encoded(&detached), encoded(a));
        }
        assert!(
            equal_pairs > keys.len(),
            "some distinct requests share a key"
        );

        // Client keys: branch ignoring case, method exactly; never equal to
        // a server key's encoding.
        let client = |branch: &'static str, method: Method| {
            let mut buf = Vec::new();
            ClientKey::new(Text::from(branch), method).encode(&mut buf);
            buf
        };
        assert_eq!(
            client("z9hG4bKa", Method::Invite),
            client("Z9HG4BKA", Method::Invite)
        );
        assert_ne!(
            client("z9hG4bKa", Method::Invite),
            client("z9hG4bKa", Method::Cancel)
        );
        assert_ne!(
            client("z9hG4bKa", Method::Invite),
            client("z9hG4bKa", "INVITE2".parse().unwrap())
        );
        assert!(
            keys.iter()
                .all(|k| encoded(k)[0] != client("x", Method::Invite)[0])
        );
    }
}
