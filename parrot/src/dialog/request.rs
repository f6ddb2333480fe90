//! Building our requests within a dialog (RFC 3261 §12.2.1.1) and their
//! next hop (§8.1.2).

use super::state::{Dialog, DialogError, DialogState};
use crate::message::typed::{CSeq, Contact, From, MaxForwards, Route, To, Via};
use crate::message::{HeaderName, Method, NameAddr, Request, Uri};

/// A request built by [`Dialog::create_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogRequest {
    /// The request, without a Via unless one was given: the caller adds
    /// its own (with a fresh branch, [`new_branch`](super::new_branch)) before
    /// handing it to a client transaction.
    pub request: Request,
    /// Where to send it (§8.1.2): the first Route URI if the route set
    /// starts with a loose router; else the Request-URI (the remote target
    /// without a route set, the strict router with one). The runtime
    /// resolves it (RFC 3263).
    pub next_hop: Uri,
}

/// `uri` fit for a Request-URI: SIP URIs lose the `method` parameter and
/// header components, which a Request-URI may not carry (§19.1.1 table 1;
/// §12.2.1.1: "stripping any parameters that are not allowed in a
/// Request-URI").
fn request_uri(uri: &Uri) -> Uri {
    match uri {
        Uri::Sip(u) => Uri::Sip(u.to_request_uri()),
        other => other.clone(),
    }
}

/// Whether a route set element is a loose router (§16.12: the `lr`
/// parameter). Anything that is not a SIP URI with `lr` is taken for a
/// strict router.
fn is_loose(uri: &Uri) -> bool {
    uri.as_sip().is_some_and(|u| u.lr())
}

impl Dialog {
    /// Builds a request of ours within the dialog (§12.2.1.1), e.g. a BYE,
    /// and takes the next local sequence number for it.
    ///
    /// * Request-URI and Route: with an empty route set, the Request-URI is
    ///   the remote target and there is no Route. If the first element of
    ///   the route set is a loose router (`lr`), the Request-URI is the
    ///   remote target and the Route headers are the route set, in order.
    ///   Otherwise (a strict router) the Request-URI is the first route
    ///   URI with the parameters a Request-URI may not carry stripped, and
    ///   the Route headers are the rest of the route set followed by the
    ///   remote target.
    /// * From = the local address with the local tag; To = the remote
    ///   address with the remote tag (none if the peer sent none); the
    ///   dialog's Call-ID; CSeq = the local sequence number plus one (an
    ///   ACK carries our INVITE's number instead, §13.2.2.4);
    ///   `Max-Forwards: 70` (§8.1.1.6).
    /// * `Via: via` first if given (else the caller adds its Via), and
    ///   `Contact: <contact>` if given ("A UAC SHOULD include a Contact
    ///   header field in any target refresh requests within a dialog").
    ///
    /// A BYE ends the dialog (§15.1.1: the session is over once the BYE is
    /// handed to its client transaction); the callee may not send one on
    /// an early dialog (§15). A new INVITE may not start while another
    /// INVITE transaction is in progress (§14.1); once sent, pass its
    /// responses to [`Dialog::handle_response`]. Nothing changes on error.
    pub fn create_request(
        &mut self,
        method: Method,
        via: Option<&Via>,
        contact: Option<&Uri>,
    ) -> Result<DialogRequest, DialogError> {
        if self.state() == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        match method {
            // §9.1: a CANCEL copies the request it cancels.
            Method::Cancel => return Err(DialogError::UnsupportedMethod),
            // §15: "the callee's UA MUST NOT send a BYE on early dialogs".
            Method::Bye if self.state() == DialogState::Early => {
                return Err(DialogError::ByeOnEarlyDialog);
            }
            // §14.1
            Method::Invite if self.invite_in_progress() => {
                return Err(DialogError::InviteInProgress);
            }
            _ => {}
        }
        // §12.2.1.1: requests within a dialog "MUST contain strictly
        // monotonically increasing and contiguous CSeq sequence numbers
        // (increasing-by-one) in each direction (excepting ACK and CANCEL
        // of course, whose numbers equal the requests being acknowledged
        // or cancelled)".
        let seq = if method == Method::Ack {
            self.local_seq()
        } else {
            self.next_local_seq()?
        };

        let target = self.remote_target();
        let (uri, routes, next_hop): (Uri, Vec<Uri>, Uri) = match self.route_set().split_first() {
            // §12.2.1.1: "If the route set is empty, the UAC MUST place the
            // remote target URI into the Request-URI. The UAC MUST NOT add
            // a Route header field to the request."
            None => {
                let uri = request_uri(&target);
                (uri.clone(), Vec::new(), uri)
            }
            // "If the route set is not empty, and the first URI in the
            // route set contains the lr parameter, the UAC MUST place the
            // remote target URI into the Request-URI and MUST include a
            // Route header field containing the route set values in order,
            // including all parameters."
            Some((first, _)) if is_loose(first) => (
                request_uri(&target),
                self.route_set().to_vec(),
                first.clone(),
            ),
            // "If the route set is not empty, and its first URI does not
            // contain the lr parameter, the UAC MUST place the first URI
            // from the route set into the Request-URI, stripping any
            // parameters that are not allowed in a Request-URI. The UAC
            // MUST add a Route header field containing the remainder of the
            // route set values in order, including all parameters. The UAC
            // MUST then place the remote target URI into the Route header
            // field as the last value." §8.1.2: the request then goes to
            // its Request-URI.
            Some((first, rest)) => {
                let uri = request_uri(first);
                let mut routes = rest.to_vec();
                routes.push(target);
                (uri.clone(), routes, uri)
            }
        };

        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        if let Some(via) = via {
            h.push_typed(via);
        }
        for r in routes {
            h.push_typed(&Route::new(NameAddr::new(r)));
        }
        h.push_typed(&MaxForwards::DEFAULT);
        // §12.2.1.1: "The URI in the To field of the request MUST be set to
        // the remote URI from the dialog state. The tag in the To header
        // field of the request MUST be set to the remote tag of the dialog
        // ID. The From URI of the request MUST be set to the local URI from
        // the dialog state. The tag in the From header field of the request
        // MUST be set to the local tag of the dialog ID."
        let id = self.id();
        h.push_typed(&From::new(self.local_address()).with_tag(id.local_tag.clone()));
        let mut to = To::new(self.remote_address());
        if !id.remote_tag.is_empty() {
            to.set_tag(id.remote_tag.clone());
        }
        h.push_typed(&to);
        // "The Call-ID of the request MUST be set to the Call-ID of the
        // dialog."
        h.append(HeaderName::CallId, id.call_id.clone());
        h.push_typed(&CSeq::new(seq, method.clone()));
        if let Some(c) = contact {
            h.push_typed(&Contact::new(NameAddr::new(c.clone())));
        }

        match method {
            Method::Invite => self.start_local_invite(seq),
            // §15.1.1; RFC 5057 §5.4: only the call ends while
            // subscriptions use the dialog.
            Method::Bye if !self.is_subscribed() => {
                self.set_state_internal(DialogState::Terminated, "BYE sent")
            }
            _ => {}
        }
        tracing::debug!(
            call_id = %self.id().call_id,
            method = %method,
            cseq = seq,
            next_hop = %next_hop,
            "in-dialog request built"
        );
        Ok(DialogRequest {
            request: req,
            next_hop,
        })
    }
}
