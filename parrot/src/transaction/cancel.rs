//! Building the CANCEL of a pending INVITE (RFC 3261 §9.1), which the
//! client side and the proxy both send: the CANCEL matches the INVITE's
//! client transaction, so the rule lives at this floor.

use crate::message::typed::{CSeq, MaxForwards};
use crate::message::{HeaderName, Method, Request};

/// The CANCEL for `invite` (§9.1): "The Request-URI, Call-ID, To, the
/// numeric part of CSeq, and From header fields in the CANCEL request MUST
/// be identical to those in the request being cancelled, including tags. A
/// CANCEL constructed by a client MUST have only a single Via header field
/// value matching the top Via value in the request being cancelled." Route
/// header fields are copied too ("If the request being cancelled contains a
/// Route header field, the CANCEL request MUST include that Route header
/// field's values"). `None` if the INVITE has no CSeq or Via.
pub(crate) fn cancel_request(invite: &Request) -> Option<Request> {
    let h = &invite.headers;
    let via = h.top_via()?.into_owned();
    let cseq = h.cseq()?;
    let mut req = Request::new(Method::Cancel, invite.uri.clone());
    req.headers.push_typed(&via);
    for r in h.get_all(HeaderName::Route) {
        req.headers.push(r.clone());
    }
    req.headers.push_typed(&MaxForwards::DEFAULT);
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        for f in h.get_all(name) {
            req.headers.push(f.clone());
        }
    }
    req.headers.push_typed(&CSeq::new(cseq.seq, Method::Cancel));
    Some(req)
}
