//! Building the requests a UAC sends, as pure functions: requests outside
//! a dialog (§8.1.1), CANCEL (§9.1), the ACK for a 2xx (§13.2.2.4), the
//! resubmission of a challenged request (§22.2, §22.3), and the next hop of
//! a request (§8.1.2).

use super::ClientError;
use crate::dialog::{Dialog, DialogError, DialogRequest};
use crate::message::typed::{CSeq, Contact, From, MaxForwards, Route, To, Via};
use crate::message::{Header, HeaderName, Host, Method, NameAddr, Request, Response, Text, Uri};
use crate::transport::Protocol;

/// The parts of a request sent outside any dialog (RFC 3261 §8.1.1).
#[derive(Debug, Clone)]
pub(crate) struct OutOfDialog {
    /// The method.
    pub(crate) method: Method,
    /// The Request-URI: "the initial Request-URI of the message SHOULD be
    /// set to the value of the URI in the To field" (§8.1.1.1), except for
    /// REGISTER, where it names the registrar (§10.2).
    pub(crate) request_uri: Uri,
    /// The logical recipient (§8.1.1.2).
    pub(crate) to: NameAddr,
    /// The logical originator (§8.1.1.3).
    pub(crate) from: NameAddr,
    /// The From tag (§8.1.1.3: "MUST contain a new tag parameter").
    pub(crate) from_tag: Text,
    /// The Call-ID (§8.1.1.4).
    pub(crate) call_id: Text,
    /// The CSeq number (§8.1.1.5: below 2**31).
    pub(crate) cseq: u32,
    /// Our Via, with a fresh branch (§8.1.1.7).
    pub(crate) via: Via,
    /// Our Contact (§8.1.1.8: mandatory in a request that can create a
    /// dialog; §10.2.1 for REGISTER).
    pub(crate) contact: Option<Contact>,
    /// A pre-loaded route: the outbound proxy (§8.1.2).
    pub(crate) route: Option<Uri>,
    /// The `User-Agent` value, if any (§20.41).
    pub(crate) user_agent: Option<Text>,
}

impl OutOfDialog {
    /// The request, header fields in the order of §8.1.1's examples: Via,
    /// Route, Max-Forwards, From, To, Call-ID, CSeq, Contact, User-Agent.
    /// No body (see [`with_body`]).
    pub(crate) fn build(self) -> Request {
        let uri = match &self.request_uri {
            // §19.1.1 table 1: no `method` parameter or headers in a
            // Request-URI.
            Uri::Sip(u) => Uri::Sip(u.to_request_uri()),
            other => other.clone(),
        };
        let mut req = Request::new(self.method.clone(), uri);
        let h = &mut req.headers;
        h.push_typed(&self.via);
        if let Some(route) = self.route {
            h.push_typed(&Route::new(NameAddr::new(route)));
        }
        // §8.1.1.6: "A UAC MUST insert a Max-Forwards header field into
        // each request it originates with a value that SHOULD be 70."
        h.push_typed(&MaxForwards::DEFAULT);
        h.push_typed(&From::new(self.from).with_tag(self.from_tag));
        // §8.1.1.2: a request outside a dialog "MUST NOT contain a tag" in To.
        h.push_typed(&To::new(self.to));
        h.append(HeaderName::CallId, self.call_id);
        h.push_typed(&CSeq::new(self.cseq, self.method));
        if let Some(contact) = &self.contact {
            h.push_typed(contact);
        }
        if let Some(ua) = self.user_agent {
            h.append(HeaderName::UserAgent, ua);
        }
        req
    }
}

/// `req` with `body` of type `content_type` (no change for an empty body).
pub(crate) fn with_body(mut req: Request, content_type: &str, body: bytes::Bytes) -> Request {
    if !body.is_empty() {
        req.headers
            .set(HeaderName::ContentType, Text::from(content_type.to_owned()));
        req.body = body;
    }
    req
}

/// The ACK for a 2xx to `invite` (§13.2.2.4), without a Via (the caller
/// adds one with a fresh branch once the next hop is resolved): "The header
/// fields of the ACK are constructed in the same way as for any request
/// sent within a dialog (see Section 12) with the exception of the CSeq and
/// the header fields related to authentication. The sequence number of the
/// CSeq header field MUST be the same as the INVITE being acknowledged, but
/// the CSeq method MUST be ACK. The ACK MUST contain the same credentials
/// as the INVITE."
pub(crate) fn ack_for_2xx(
    dialog: &mut Dialog,
    invite: &Request,
) -> Result<DialogRequest, DialogError> {
    let mut ack = dialog.create_request(Method::Ack, None, None)?;
    // The dialog numbers an ACK with its last request; set the INVITE's
    // own number, whatever was sent since.
    if let Some(cseq) = invite.headers.cseq() {
        ack.request
            .headers
            .set_typed(&CSeq::new(cseq.seq, Method::Ack));
    }
    for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        for f in invite.headers.get_all(name) {
            ack.request.headers.push(f.clone());
        }
    }
    Ok(ack)
}

/// An ACK for a 2xx that cannot establish a dialog (no usable Contact,
/// §12.1.2), so that the peer stops retransmitting it (§13.3.1.4): built
/// from the INVITE like the transaction's own ACK (§17.1.1.3) — same
/// Request-URI, Route, From, Call-ID and credentials, the response's To,
/// CSeq number of the INVITE with method ACK — without a Via (the caller
/// adds one with a fresh branch).
pub(crate) fn ack_without_dialog(invite: &Request, response: &Response) -> Option<Request> {
    let cseq = invite.headers.cseq()?;
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    let h = &mut ack.headers;
    for r in invite.headers.get_all(HeaderName::Route) {
        h.push(r.clone());
    }
    h.push_typed(&MaxForwards::DEFAULT);
    for f in invite.headers.get_all(HeaderName::From) {
        h.push(f.clone());
    }
    for t in response.headers.get_all(HeaderName::To) {
        h.push(t.clone());
    }
    for c in invite.headers.get_all(HeaderName::CallId) {
        h.push(c.clone());
    }
    h.push_typed(&CSeq::new(cseq.seq, Method::Ack));
    for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        for f in invite.headers.get_all(name) {
            h.push(f.clone());
        }
    }
    Some(ack)
}

/// Puts `via` on top of `req`: before its other Via values, and first of
/// all its header fields when it has none (as §8.1.1's examples show it).
pub(crate) fn push_via(req: &mut Request, via: &Via) {
    let header = Header::known(HeaderName::Via, via.to_string());
    if req.headers.contains(HeaderName::Via) {
        req.headers.push_front(header);
    } else {
        let rest = std::mem::take(&mut req.headers);
        req.headers = std::iter::once(header)
            .chain(rest.iter().cloned())
            .collect();
    }
}

/// `req`, which already carries its new credentials, made a new request
/// for resubmission after a 401/407 (§22.2, §22.3): "it MUST increment the
/// CSeq header field value as it would normally when sending an updated
/// request"; a fresh branch, as any new transaction needs (§8.1.1.7); the
/// same Call-ID, From tag and To. `None` if the CSeq cannot be incremented
/// (2**31 - 1 reached) or the top Via is unusable.
pub(crate) fn resubmit(req: &Request) -> Option<Request> {
    let mut next = req.clone();
    let cseq = next.headers.cseq()?;
    let bumped = cseq.next(cseq.method.clone())?;
    let mut via = next.headers.top_via()?.into_owned();
    via.set_branch(crate::random::branch());
    via.params.remove("received");
    // Our requests carry one Via: rewrite it (and CSeq) in place.
    next.headers.set_typed(&via);
    next.headers.set_typed(&bumped);
    Some(next)
}

/// Whether a response may be processed: "If more than one Via header field
/// value is present in a response, the UAC SHOULD discard the message"
/// (§8.1.3.3).
pub(crate) fn acceptable(resp: &Response) -> bool {
    resp.headers
        .get_all(HeaderName::Via)
        .map(|h| h.elements().count())
        .sum::<usize>()
        == 1
}

/// Where a request goes, before name resolution (§8.1.2 with RFC 3263
/// §4.1/§4.2 without NAPTR or SRV): the `maddr` parameter or the host of
/// the URI, its port (else the protocol's default) and the protocol from
/// its `transport` parameter (default UDP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// The host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// The port, if the URI gives one.
    pub port: Option<u16>,
    /// The protocol.
    pub protocol: Protocol,
}

impl NextHop {
    /// The next hop of a request whose first hop is `uri`: the outbound
    /// proxy, the first loose router of a route set, or the Request-URI.
    ///
    /// A `sips:` URI goes over TLS (RFC 3261 §26.2.2: only ever TLS), as
    /// does `transport=tls`; `transport=tcp` over TCP; `transport=ws` over
    /// a WebSocket (WSS for a `sips:` URI, RFC 7118 §7); otherwise UDP.
    ///
    /// Refused: URIs that are not `sip:` or `sips:` (`tel:` and others need
    /// a gateway), `transport` values other than `udp`, `tcp` and `tls`,
    /// and a `sips:` URI with `transport=udp` (which cannot be secured).
    pub fn from_uri(uri: &Uri) -> Result<NextHop, ClientError> {
        let Some(sip) = uri.as_sip() else {
            return Err(ClientError::Unsupported(format!(
                "cannot route to a {}: URI ({uri}); give a sip: or sips: URI",
                uri.scheme()
            )));
        };
        let transport = sip.transport().map(|t| t.to_ascii_lowercase());
        let protocol = match (sip.is_secure(), transport.as_deref()) {
            (true, None | Some("tls" | "tcp")) | (false, Some("tls")) => Protocol::Tls,
            // RFC 7118 §7: reachable only down a connection the peer opened.
            (false, Some("ws")) => Protocol::Ws,
            (true, Some("ws")) => Protocol::Wss,
            (false, None | Some("udp")) => Protocol::Udp,
            (false, Some("tcp")) => Protocol::Tcp,
            (true, Some(other)) => {
                return Err(ClientError::Unsupported(format!(
                    "{uri}: a sips: URI needs TLS, not transport={other}"
                )));
            }
            (false, Some(other)) => {
                return Err(ClientError::Unsupported(format!(
                    "{uri}: transport={other} is not implemented (udp, tcp, tls and ws are)"
                )));
            }
        };
        // §18.1.1 / RFC 3263 §4: a maddr parameter overrides the host.
        let host = match sip.maddr() {
            Some(m) => m.trim_start_matches('[').trim_end_matches(']').to_owned(),
            None => match sip.host() {
                Host::Domain(d) => d.to_string(),
                Host::Ipv4(a) => a.to_string(),
                Host::Ipv6(a) => a.to_string(),
            },
        };
        Ok(NextHop {
            host,
            port: sip.port(),
            protocol,
        })
    }

    /// [`from_uri`](Self::from_uri) for a request inside a dialog whose
    /// INVITE went over `dialog`: a dialog set up over TLS stays on TLS
    /// when the next hop's URI names no transport (a `sip:` Contact
    /// without `transport=`), so its ACK and BYE never fall back to
    /// cleartext UDP; the port, when the URI gives none, is then 5061.
    /// Everything else is as the URI says.
    pub fn in_dialog(uri: &Uri, dialog: Protocol) -> Result<NextHop, ClientError> {
        let mut hop = NextHop::from_uri(uri)?;
        let named = uri
            .as_sip()
            .is_some_and(|u| u.is_secure() || u.transport().is_some());
        if dialog == Protocol::Tls && !named {
            hop.protocol = Protocol::Tls;
        }
        Ok(hop)
    }
}
