//! The UAC side of dialog creation (RFC 3261 §12.1.2): a dialog built from
//! the request we sent and a dialog-creating response we received.
//!
//! A child of the `uas` module so that it fills in the same [`Dialog`]
//! state; everything else (in-dialog requests, §12.2.1.1; checking the
//! peer's requests, §12.2.2; BYE, §15) is shared with the UAS side.

use super::{Dialog, DialogError, DialogState, contact_uri, detach_addr, detach_uri};
use crate::dialog::detach;
use crate::dialog::id::DialogId;
use crate::dialog::response::creates_dialog;
use crate::message::typed::{CSeq, RecordRoute};
use crate::message::{Method, Request, Response, Text};

impl Dialog {
    /// The dialog created by `response`, received for `request`, which we
    /// sent outside any dialog (§12.1.2):
    ///
    /// * the local tag is the From tag of the request, the remote tag the
    ///   To tag of the response (empty if the peer sent none, §12.1.2:
    ///   "the remote tag MUST be set to null");
    /// * "The route set MUST be set to the list of URIs in the
    ///   Record-Route header field from the response, taken in reverse
    ///   order and preserving all URI parameters";
    /// * "The remote target MUST be set to the URI from the Contact header
    ///   field of the response" (a 1xx without Contact keeps the
    ///   Request-URI until the 2xx brings one; a 2xx without Contact is an
    ///   error);
    /// * "The local sequence number MUST be set to the value of the
    ///   sequence number in the CSeq header field of the request. The
    ///   remote sequence number MUST be empty";
    /// * "The local URI MUST be set to the URI in the From field, and the
    ///   remote URI MUST be set to the URI in the To field";
    /// * secure if the request was sent over TLS to a SIPS Request-URI;
    /// * Early for a 1xx (101–199), Confirmed for a 2xx (§12.1). An early
    ///   dialog is replaced by the one its 2xx creates (§13.2.2.4: "the
    ///   route set for the dialog MUST be recomputed based on the 2xx").
    ///
    /// The request must be an INVITE or SUBSCRIBE without a To tag, with a
    /// From tag; the response must match its Call-ID and CSeq and create a
    /// dialog ([`creates_dialog`]).
    pub fn new_uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let h = &request.headers;
        if h.to_tag().is_some() || !creates_dialog(&request.method, response.status) {
            return Err(DialogError::NotDialogCreating);
        }
        let call_id = h
            .call_id()
            .filter(|c| !c.is_empty())
            .ok_or(DialogError::BadHeader("Call-ID"))?;
        let cseq = h
            .cseq()
            .filter(|c| c.method == request.method)
            .ok_or(DialogError::BadHeader("CSeq"))?;
        if response.headers.call_id() != Some(call_id)
            || response.headers.cseq().as_ref() != Some(&cseq)
        {
            return Err(DialogError::ResponseMismatch);
        }
        let from = h.from_header().ok_or(DialogError::BadHeader("From"))?;
        let local_tag = from
            .tag()
            .filter(|t| !t.is_empty())
            .ok_or(DialogError::BadHeader("From"))?;
        let to = response
            .headers
            .to_header()
            .ok_or(DialogError::BadHeader("To"))?;
        let rh = &response.headers;
        let remote_target = match contact_uri(rh) {
            Ok(Some(uri)) => uri,
            Ok(None) if !response.status.is_success() => detach_uri(&request.uri),
            _ => return Err(DialogError::BadHeader("Contact")),
        };
        let mut route_set = rh
            .typed_all::<RecordRoute>()
            .map(|r| r.map(|r| detach_uri(r.addr.uri())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DialogError::BadHeader("Record-Route"))?;
        route_set.reverse();
        // §12.1.2: "If the request was sent over TLS, and the Request-URI
        // contained a SIPS URI, the secure flag is set to TRUE."
        let secure = request.uri.as_sip().is_some_and(|u| u.is_secure())
            && h.top_via().is_some_and(|v| v.transport.is_secure());
        let id = DialogId {
            call_id: detach(call_id),
            local_tag: Text::from(local_tag.to_owned()),
            remote_tag: to
                .tag()
                .map(|t| Text::from(t.to_owned()))
                .unwrap_or_default(),
        };
        let state = if response.status.is_success() {
            DialogState::Confirmed
        } else {
            DialogState::Early
        };
        // Until its final response, our INVITE is in progress (§14.1).
        let local_invite =
            (request.method == Method::Invite && !response.status.is_final()).then_some(cseq.seq);
        tracing::debug!(
            call_id = %id.call_id,
            local_tag = %id.local_tag,
            remote_tag = %id.remote_tag,
            state = ?state,
            routes = route_set.len(),
            secure,
            "UAC dialog created"
        );
        Ok(Dialog {
            id,
            state,
            local_seq: cseq.seq,
            remote_seq: None,
            local: detach_addr(&from.addr),
            remote: detach_addr(&to.addr),
            remote_target,
            route_set,
            secure,
            initial: CSeq::new(cseq.seq, cseq.method.clone()),
            // Record-Route is copied into responses by a UAS only.
            record_route: Vec::new(),
            remote_invite: None,
            local_invite,
        })
    }
}
