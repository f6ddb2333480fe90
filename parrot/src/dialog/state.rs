//! The dialog state both sides share (RFC 3261 §12, §14.2, §15): built by
//! a UAS from the request it answers (§12.1.1), by a UAC (`uac.rs`) from
//! the response it received (§12.1.2).

use super::id::DialogId;
use super::kept::{addr_text, uri_text};
use super::response::{self, creates_dialog, is_target_refresh};
use crate::message::typed::{CSeq, Contact, RecordRoute, RetryAfter};
use crate::message::{
    Header, HeaderName, Method, NameAddr, Request, Response, StatusCode, Text, Uri,
};

// §12.1.2 (`Dialog::new_uac`): a child module, to fill in the same state.
#[path = "uac.rs"]
mod uac;

/// The states of a dialog (§12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Created by a provisional (101–199) response with a To tag (§12.1):
    /// the INVITE has no final response yet.
    Early,
    /// A 2xx was sent for the request that created the dialog.
    Confirmed,
    /// Ended: BYE sent or received (§15), the early dialog's INVITE was
    /// refused (§12.3), or [`Dialog::terminate`]. In-dialog requests are
    /// answered 481.
    Terminated,
}

/// Why a dialog could not be created or a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// The request cannot create a dialog with this response (§12.1): it
    /// is not an INVITE or SUBSCRIBE, it already has a To tag (it is inside
    /// a dialog), or the response status does not create a dialog (see
    /// [`creates_dialog`]).
    #[error("the response does not create a dialog")]
    NotDialogCreating,
    /// The response does not answer the request: its Call-ID or CSeq
    /// differs.
    #[error("the response does not match the request")]
    ResponseMismatch,
    /// A header the dialog needs is missing or malformed: Call-ID, CSeq,
    /// From, To, Contact (which must be one address, not `*`, §12.1.1) or
    /// Record-Route. Answer the request with 400.
    #[error("missing or malformed {0} header")]
    BadHeader(&'static str),
    /// The dialog is terminated: no request can be sent in it.
    #[error("the dialog is terminated")]
    Terminated,
    /// The callee "MUST NOT send a BYE on early dialogs" (§15); end the
    /// dialog by answering the INVITE with a final response instead.
    #[error("a UAS must not send BYE on an early dialog")]
    ByeOnEarlyDialog,
    /// An INVITE transaction is in progress in the dialog, in either
    /// direction: "a UAC MUST NOT initiate a new INVITE transaction within
    /// a dialog while another INVITE transaction is in progress in either
    /// direction" (§14.1).
    #[error("an INVITE transaction is in progress in the dialog")]
    InviteInProgress,
    /// The method cannot be sent by [`Dialog::create_request`]: CANCEL is
    /// built from the request it cancels (§9.1).
    #[error("this method cannot be sent as a new in-dialog request")]
    UnsupportedMethod,
    /// The local sequence number reached 2**31 - 1, the largest a CSeq may
    /// carry (§8.1.1.5).
    #[error("the local CSeq number is exhausted")]
    SequenceExhausted,
}

impl From<DialogError> for crate::Error {
    fn from(e: DialogError) -> crate::Error {
        crate::Error::from_source(crate::ErrorKind::Dialog, e)
    }
}

/// Why an in-dialog request was refused by [`Dialog::check_request`]. The
/// dialog is left unchanged; [`Refusal::response`] builds the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request's Call-ID or tags are not this dialog's: 481 (§12.2.2).
    #[error("the request belongs to another dialog")]
    WrongDialog,
    /// The dialog is terminated: 481 (§12.2.2, the request matches no
    /// existing dialog).
    #[error("the dialog is terminated")]
    Terminated,
    /// The CSeq is missing, malformed, or names another method than the
    /// request's (§8.2, §20.16): 400.
    #[error("missing or malformed CSeq")]
    BadCSeq,
    /// The Contact of a target refresh request is malformed or `*`: 400.
    #[error("malformed Contact in a target refresh")]
    BadContact,
    /// The CSeq number is lower than the remote sequence number (or, for a
    /// new request, equal to it): the request is out of order and answered
    /// 500 (§12.2.2).
    #[error("CSeq {cseq} is out of order (remote sequence number {remote_seq})")]
    OutOfOrder {
        /// The request's CSeq number.
        cseq: u32,
        /// The remote sequence number of the dialog.
        remote_seq: u32,
    },
    /// An INVITE arrived while an earlier INVITE of the dialog has no final
    /// response yet: 500 with a Retry-After of 0 to 10 seconds (§14.2).
    #[error("an earlier INVITE has no final response yet")]
    InvitePending {
        /// The Retry-After value, in seconds, chosen at random.
        retry_after: u32,
    },
    /// An INVITE arrived while our own INVITE in the dialog is in
    /// progress: 491 Request Pending (§14.2).
    #[error("our own INVITE is in progress")]
    RequestPending,
    /// An ACK or CANCEL whose CSeq number is above every request received
    /// in the dialog, so it matches no INVITE: an ACK is dropped, a CANCEL
    /// answered 481 (§9.2).
    #[error("the request matches no INVITE")]
    NoMatchingInvite,
}

impl Refusal {
    /// The status to answer the request with.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::WrongDialog | Refusal::Terminated | Refusal::NoMatchingInvite => {
                StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
            }
            Refusal::BadCSeq | Refusal::BadContact => StatusCode::BAD_REQUEST,
            Refusal::OutOfOrder { .. } | Refusal::InvitePending { .. } => {
                StatusCode::SERVER_INTERNAL_ERROR
            }
            Refusal::RequestPending => StatusCode::REQUEST_PENDING,
        }
    }

    /// The response to send for `req` (§8.2.6), with the Retry-After that
    /// §14.2 asks for where it applies; `None` for an ACK, which is never
    /// answered (§17.1.1.3).
    pub fn response(&self, req: &Request) -> Option<Response> {
        if req.method == Method::Ack {
            return None;
        }
        let mut resp = req.reply(self.status());
        if let Refusal::InvitePending { retry_after } = self {
            resp.headers.push_typed(&RetryAfter::new(*retry_after));
        }
        Some(resp)
    }
}

/// A dialog on the UAS side (RFC 3261 §12.1.1), as sans-IO state.
///
/// Created with [`Dialog::new_uas`] from the request (INVITE or SUBSCRIBE)
/// and the dialog-creating response we send. Then:
///
/// * pass every response sent in the dialog through
///   [`prepare_response`](Dialog::prepare_response) (To tag, Record-Route,
///   Contact; it also moves Early to Confirmed or Terminated, and tracks
///   the INVITE transactions for §14);
/// * pass every request received in the dialog (those for which
///   [`DialogId::from_incoming_request`] gives [`Dialog::id`]) through
///   [`check_request`](Dialog::check_request) before handling it (§12.2.2);
/// * build our own requests with [`create_request`](Dialog::create_request)
///   (§12.2.1.1) and pass their responses to
///   [`handle_response`](Dialog::handle_response) (§12.2.1.2).
///
/// Every value is copied out of the messages, so a dialog does not keep
/// any receive buffer alive.
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    /// Our last CSeq number: the next request uses one more (§12.2.1.1).
    local_seq: u32,
    /// The highest CSeq number received (§12.2.2).
    remote_seq: Option<u32>,
    /// The To of the creating request, without its tag (§12.1.1: local
    /// URI). The addresses are kept as their text, parsed when used: a
    /// held dialog is read rarely, and text is a fraction of the size.
    local: Text,
    /// The From of the creating request, without its tag (remote URI).
    remote: Text,
    remote_target: Text,
    route_set: Vec<Uri>,
    secure: bool,
    /// The CSeq of the request that created the dialog.
    initial: CSeq,
    /// The Record-Route fields of that request, verbatim (§12.1.1).
    record_route: Vec<Header>,
    /// The CSeq number of an INVITE received without a final response yet.
    remote_invite: Option<u32>,
    /// The CSeq number of an INVITE we sent without a final response yet.
    local_invite: Option<u32>,
    /// Whether subscription usages share the dialog (RFC 5057): then a
    /// BYE ends only the call, not the dialog.
    subscribed: bool,
}

/// A copy of `uri` that owns its text.
fn detach_uri(uri: &Uri) -> Uri {
    let t = Text::from(uri.to_string());
    Uri::parse(&t, &t).unwrap_or_else(|_| uri.clone())
}

/// A URI a dialog kept as text. The text came from a parsed value, so it
/// parses; the fallback only keeps this total.
fn stored_uri(t: &Text) -> Uri {
    Uri::parse(t, t).unwrap_or_else(|_| {
        tracing::error!(uri = %t, "stored dialog URI does not parse");
        unroutable()
    })
}

/// An address a dialog kept as text (see [`stored_uri`]).
fn stored_addr(t: &Text) -> NameAddr {
    match NameAddr::parse(t, t) {
        Ok((a, "")) => a,
        _ => {
            tracing::error!(addr = %t, "stored dialog address does not parse");
            NameAddr::new(unroutable())
        }
    }
}

/// `sip:0.0.0.0`: where nothing goes.
fn unroutable() -> Uri {
    let nowhere = std::net::IpAddr::from([0, 0, 0, 0]);
    Uri::Sip(crate::message::SipUri::new(crate::message::Host::from(
        nowhere,
    )))
}

/// The URI of the first Contact, which must be an address (§12.1.1,
/// §12.2.2), as the text a dialog keeps. `Ok(None)` if there is no
/// Contact.
fn contact_uri(req_headers: &crate::message::Headers) -> Result<Option<Text>, ()> {
    match req_headers.typed::<Contact>() {
        None => Ok(None),
        Some(Ok(c)) => c.addr().map(|a| Some(uri_text(a.uri()))).ok_or(()),
        Some(Err(_)) => Err(()),
    }
}

/// Which end of a dialog we are (§12.1.1 or §12.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// We answered the request that created the dialog.
    Uas,
    /// We sent the request that created the dialog.
    Uac,
}

/// An initial local sequence number (§12.2.1.1, chosen per §8.1.1.5: below
/// 2**31). Kept below 2**30 so that at least 2**30 requests can follow.
fn initial_local_seq() -> u32 {
    (crate::random::u64() & 0x3fff_ffff) as u32
}

impl Dialog {
    /// The dialog created by `response`, which we are about to send (or
    /// have sent) to `request` (§12.1.1):
    ///
    /// * the local tag is the response's To tag, or a fresh one
    ///   ([`new_tag`](super::new_tag)) if it has none yet — then pass the
    ///   response through [`prepare_response`](Dialog::prepare_response),
    ///   which adds it;
    /// * route set = the Record-Route URIs of the request, in order with
    ///   their parameters; remote target = the request's Contact URI;
    /// * remote sequence number = the request's CSeq number; local sequence
    ///   number = a random value below 2**30 (§12.2.1.1, §8.1.1.5);
    /// * local URI = the To address, remote URI = the From address;
    /// * secure if the Request-URI is a SIPS URI and the request arrived
    ///   over TLS (taken from the transport of its top Via, the transport
    ///   of the hop it arrived on);
    /// * Early for a 1xx, Confirmed for a 2xx.
    ///
    /// The request must be outside any dialog (no To tag) and the response
    /// must create a dialog ([`creates_dialog`]). A missing Contact is an
    /// error (§8.1.1.8: it "MUST be present" in a request that can create a
    /// dialog), as are a malformed Call-ID, CSeq, From, To or
    /// Record-Route: answer those requests 400.
    pub fn new_uas(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        Dialog::create(Side::Uas, request, response, None)
    }

    /// [`Dialog::new_uas`], with the remote target of a request whose
    /// Contact was already checked (`response::check_contact`), if it was.
    pub(crate) fn new_uas_checked(
        request: &Request,
        response: &Response,
        remote_target: Option<Text>,
    ) -> Result<Dialog, DialogError> {
        Dialog::create(Side::Uas, request, response, remote_target)
    }

    /// The dialog `response` creates for `request` (§12.1), seen from
    /// `side`. The two sides differ only in where the fields come from:
    ///
    /// | field          | UAS (§12.1.1)            | UAC (§12.1.2)                 |
    /// |----------------|--------------------------|-------------------------------|
    /// | To, Contact, Record-Route | the request   | the response                  |
    /// | route set      | Record-Route in order    | Record-Route reversed         |
    /// | remote target  | request Contact (needed) | response Contact (a 1xx may lack it) |
    /// | local/remote   | To / From                | From / To                     |
    /// | local tag      | response To tag or fresh | request From tag (needed)     |
    /// | sequence       | remote = CSeq, local random | local = CSeq, remote empty |
    fn create(
        side: Side,
        request: &Request,
        response: &Response,
        checked_target: Option<Text>,
    ) -> Result<Dialog, DialogError> {
        let h = &request.headers;
        // §12.1: dialogs are created by requests outside a dialog.
        if h.has_to_tag() || !creates_dialog(&request.method, response.status) {
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
        // §12.1.2: the local tag is the From tag of the request we sent.
        let uac_tag = match side {
            Side::Uas => None,
            Side::Uac => Some(
                from.tag()
                    .filter(|t| !t.is_empty())
                    .ok_or(DialogError::BadHeader("From"))?,
            ),
        };
        // The message of the peer's side: To, Contact and Record-Route
        // are taken from the request (§12.1.1) or the response (§12.1.2).
        let peer = match side {
            Side::Uas => h,
            Side::Uac => &response.headers,
        };
        let to = peer.to_header().ok_or(DialogError::BadHeader("To"))?;
        // "The remote target MUST be set to the URI from the Contact header
        // field" of the request (§12.1.1) or the response (§12.1.2). A 1xx
        // without Contact keeps the Request-URI until the 2xx brings one.
        let remote_target = match checked_target.map_or_else(|| contact_uri(peer), |t| Ok(Some(t)))
        {
            Ok(Some(uri)) => uri,
            Ok(None) if side == Side::Uac && !response.status.is_success() => {
                uri_text(&request.uri)
            }
            _ => return Err(DialogError::BadHeader("Contact")),
        };
        // "The route set MUST be set to the list of URIs in the
        // Record-Route header field", "taken in order" (§12.1.1) or "taken
        // in reverse order" (§12.1.2), "and preserving all URI parameters."
        let mut route_set = peer
            .typed_all::<RecordRoute>()
            .map(|r| r.map(|r| detach_uri(r.addr.uri())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DialogError::BadHeader("Record-Route"))?;
        let record_route = match side {
            Side::Uas => h
                .get_all(HeaderName::RecordRoute)
                .map(|f| Header::new(f.name().to_string(), f.value().to_string()))
                .collect(),
            Side::Uac => {
                route_set.reverse();
                // Record-Route is copied into responses by a UAS only.
                Vec::new()
            }
        };
        // "If the request arrived [was sent] over TLS, and the Request-URI
        // contained a SIPS URI, the secure flag is set to TRUE."
        let secure = request.uri.as_sip().is_some_and(|u| u.is_secure())
            && h.top_via().is_some_and(|v| v.transport.is_secure());
        let id = match uac_tag {
            None => DialogId {
                call_id: call_id.detached(),
                local_tag: match response.headers.to_tag() {
                    Some(t) => t.detached(),
                    None => crate::random::tag(),
                },
                remote_tag: h.from_tag().map(|t| t.detached()).unwrap_or_default(),
            },
            Some(local_tag) => DialogId {
                call_id: call_id.detached(),
                local_tag: Text::from(local_tag.to_owned()),
                // §12.1.2: "the remote tag MUST be set to null" if absent.
                remote_tag: to
                    .tag()
                    .map(|t| Text::from(t.to_owned()))
                    .unwrap_or_default(),
            },
        };
        // §12.1: a 1xx creates an early dialog, a 2xx a confirmed one.
        let state = if response.status.is_success() {
            DialogState::Confirmed
        } else {
            DialogState::Early
        };
        // Until its final response, the INVITE is in progress (§14.1).
        let invite =
            (request.method == Method::Invite && !response.status.is_final()).then_some(cseq.seq);
        tracing::debug!(
            call_id = %id.call_id,
            local_tag = %id.local_tag,
            remote_tag = %id.remote_tag,
            state = ?state,
            routes = route_set.len(),
            secure,
            "{} dialog created",
            match side {
                Side::Uas => "UAS",
                Side::Uac => "UAC",
            }
        );
        let (local_seq, remote_seq, local, remote, remote_invite, local_invite) = match side {
            // §12.1.1: "The remote sequence number MUST be set to the value
            // of the sequence number in the CSeq header field of the
            // request"; the local one is ours to choose.
            Side::Uas => (
                initial_local_seq(),
                Some(cseq.seq),
                &to.addr,
                &from.addr,
                invite,
                None,
            ),
            // §12.1.2: "The local sequence number MUST be set to the value
            // of the sequence number in the CSeq header field of the
            // request. The remote sequence number MUST be empty."
            Side::Uac => (cseq.seq, None, &from.addr, &to.addr, None, invite),
        };
        Ok(Dialog {
            id,
            state,
            local_seq,
            remote_seq,
            local: addr_text(local),
            remote: addr_text(remote),
            remote_target,
            route_set,
            secure,
            initial: CSeq::new(cseq.seq, cseq.method.clone()),
            record_route,
            remote_invite,
            local_invite,
            subscribed: false,
        })
    }

    /// The dialog identifier (§12).
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &Text {
        &self.id.call_id
    }

    /// The current state.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// Whether the dialog is terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == DialogState::Terminated
    }

    /// The local sequence number: the CSeq number of our last request (the
    /// next one uses one more, §12.2.1.1).
    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }

    /// The remote sequence number: the highest CSeq number received.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// The local URI: the To URI of the creating request (§12.1.1).
    pub fn local_uri(&self) -> Uri {
        self.local_address().uri().clone()
    }

    /// The remote URI: the From URI of the creating request (§12.1.1).
    pub fn remote_uri(&self) -> Uri {
        self.remote_address().uri().clone()
    }

    /// The local address (To of the creating request, display name
    /// included, tag excluded), the From of our requests.
    pub fn local_address(&self) -> NameAddr {
        stored_addr(&self.local)
    }

    /// The remote address (From of the creating request, display name
    /// included, tag excluded), the To of our requests.
    pub fn remote_address(&self) -> NameAddr {
        stored_addr(&self.remote)
    }

    /// The remote target: where our requests go (§12.1.1, updated by
    /// target refresh requests, §12.2.2).
    pub fn remote_target(&self) -> Uri {
        stored_uri(&self.remote_target)
    }

    /// The route set: the Record-Route URIs of the creating request, in
    /// order (§12.1.1).
    pub fn route_set(&self) -> &[Uri] {
        &self.route_set
    }

    /// Whether the dialog is secure (§12.1.1).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The CSeq of the request that created the dialog.
    pub fn initial_cseq(&self) -> &CSeq {
        &self.initial
    }

    /// Whether an INVITE transaction is in progress in the dialog, in
    /// either direction (§14.1).
    pub fn invite_in_progress(&self) -> bool {
        self.remote_invite.is_some() || self.local_invite.is_some()
    }

    fn set_state(&mut self, state: DialogState, why: &'static str) {
        if self.state == state {
            return;
        }
        tracing::debug!(
            call_id = %self.id.call_id,
            from = ?self.state,
            to = ?state,
            why,
            "dialog state change"
        );
        self.state = state;
    }

    /// Ends the dialog (for instance when the runtime gives up waiting for
    /// the ACK, §13.3.1.4, after sending the BYE; or when a request of ours
    /// timed out, §12.2.1.2).
    pub fn terminate(&mut self) {
        self.set_state(DialogState::Terminated, "terminated by the application");
    }

    /// Says whether subscription usages (RFC 6665, RFC 3515) share the
    /// dialog. While they do, a BYE received or sent ends only the INVITE
    /// usage and the dialog stays confirmed for their NOTIFYs (RFC 5057
    /// §5.4).
    pub fn set_subscribed(&mut self, subscribed: bool) {
        self.subscribed = subscribed;
    }

    /// Whether subscription usages share the dialog
    /// ([`set_subscribed`](Self::set_subscribed)).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// Completes a response we are about to send in this dialog (see
    /// [`response::prepare_response`](super::prepare_response) for the
    /// rules): our To tag (the same for every response of the dialog),
    /// and for a dialog-creating response to the creating request (1xx
    /// except 100, or 2xx) the request's Record-Route and
    /// `Contact: <contact>`; a 2xx to an in-dialog target refresh gets the
    /// Contact too.
    ///
    /// It also tracks the dialog: a 2xx to the creating request confirms an
    /// early dialog (§12.1, §13.3.1.4); a 300–699 to it ends the early
    /// dialog (§12.3: "if a request outside of a dialog generates a non-2xx
    /// final response, any early dialogs created through provisional
    /// responses to that request are terminated"); a final response to an
    /// INVITE ends that INVITE transaction (§14.2).
    pub fn prepare_response(&mut self, resp: &mut Response, contact: &Uri) {
        self.prepare_response_with(resp, || response::contact_value(contact));
    }

    /// [`Dialog::prepare_response`], with the Contact made only if the
    /// response needs one (a 200 to BYE does not).
    pub(crate) fn prepare_response_with(
        &mut self,
        resp: &mut Response,
        contact: impl FnOnce() -> Text,
    ) {
        let cseq = resp.headers.cseq();
        let initial = cseq.as_ref() == Some(&self.initial);
        let creating = initial && creates_dialog(&self.initial.method, resp.status);
        let refresh = !initial
            && resp.status.is_success()
            && cseq.as_ref().is_some_and(|c| is_target_refresh(&c.method));
        let record_route = self.record_route.iter().filter(|_| creating);
        response::apply(
            resp,
            &self.id.local_tag,
            record_route,
            (creating || refresh).then_some(contact),
        );
        let Some(cseq) = cseq else {
            return;
        };
        if resp.status.is_final()
            && cseq.method == Method::Invite
            && self.remote_invite == Some(cseq.seq)
        {
            self.remote_invite = None;
        }
        if initial && self.state == DialogState::Early {
            if resp.status.is_success() {
                self.set_state(DialogState::Confirmed, "2xx sent");
            } else if resp.status.is_final() {
                // §12.3
                self.set_state(DialogState::Terminated, "non-2xx final response sent");
            }
        }
    }

    /// Checks a request received in this dialog and updates the dialog
    /// with it (§12.2.2). On error nothing changes and the request must be
    /// answered with [`Refusal::response`] instead of being handled.
    ///
    /// * The request must carry this dialog's Call-ID and tags (else 481)
    ///   and the dialog must not be terminated (481).
    /// * ACK and CANCEL are not ordered: they carry the number of the
    ///   INVITE they belong to and leave the remote sequence number alone;
    ///   one numbered above every request received matches no INVITE.
    /// * Any other request must have a CSeq number above the remote
    ///   sequence number — "If the remote sequence number was not empty,
    ///   but the sequence number of the request is lower than the remote
    ///   sequence number, the request is out of order and MUST be rejected
    ///   with a 500"; an equal number is not a new request either — and
    ///   then becomes the remote sequence number.
    /// * A target refresh request (re-INVITE, UPDATE, SUBSCRIBE, NOTIFY)
    ///   with a Contact replaces the remote target with its URI (§12.2.2).
    /// * An INVITE while an INVITE transaction is in progress is refused
    ///   (§14.2: 500 with Retry-After if it is the peer's, 491 if ours).
    /// * A BYE terminates the dialog (§15.1.2); the runtime answers it 200
    ///   (and a pending INVITE 487). With subscriptions on the dialog
    ///   ([`set_subscribed`](Self::set_subscribed)) it ends only the call.
    pub fn check_request(&mut self, req: &Request) -> Result<(), Refusal> {
        if self.state == DialogState::Terminated {
            return Err(Refusal::Terminated);
        }
        if !self.id.is_of_incoming_request(req) {
            return Err(Refusal::WrongDialog);
        }
        // §20.16: the CSeq method "MUST match that of the request".
        let cseq = req
            .headers
            .cseq()
            .filter(|c| c.method == req.method)
            .ok_or(Refusal::BadCSeq)?;
        if matches!(req.method, Method::Ack | Method::Cancel) {
            // §13.2.2.4: the ACK carries the INVITE's number; §9.1: so does
            // the CANCEL. Neither is a new request in the CSeq space.
            if self.remote_seq.is_some_and(|r| cseq.seq > r) {
                return Err(Refusal::NoMatchingInvite);
            }
            tracing::trace!(call_id = %self.id.call_id, method = %req.method, cseq = cseq.seq, "in-dialog request accepted");
            return Ok(());
        }
        // §12.2.2: out of order.
        if let Some(remote_seq) = self.remote_seq
            && cseq.seq <= remote_seq
        {
            tracing::debug!(call_id = %self.id.call_id, cseq = cseq.seq, remote_seq, "out-of-order request");
            return Err(Refusal::OutOfOrder {
                cseq: cseq.seq,
                remote_seq,
            });
        }
        if req.method == Method::Invite {
            // §14.2: "A UAS that receives a second INVITE before it sends the
            // final response to a first INVITE with a lower CSeq sequence
            // number on the same dialog MUST return a 500 ... and MUST
            // include a Retry-After header field with a randomly chosen
            // value of between 0 and 10 seconds."
            if self.remote_invite.is_some() {
                return Err(Refusal::InvitePending {
                    retry_after: (crate::random::u64() % 11) as u32,
                });
            }
            // §14.2: "A UAS that receives an INVITE on a dialog while an
            // INVITE it had sent on that dialog is in progress MUST return
            // a 491 (Request Pending)".
            if self.local_invite.is_some() {
                return Err(Refusal::RequestPending);
            }
        }
        let new_target = if is_target_refresh(&req.method) {
            contact_uri(&req.headers).map_err(|()| Refusal::BadContact)?
        } else {
            None
        };
        // Every check passed: update the dialog.
        self.remote_seq = Some(cseq.seq);
        if let Some(target) = new_target {
            // §12.2.2: "When a UAS receives a target refresh request, it
            // MUST replace the dialog's remote target URI with the URI from
            // the Contact header field in that request, if present."
            if target != self.remote_target {
                tracing::debug!(call_id = %self.id.call_id, target = %target, "remote target refreshed");
            }
            self.remote_target = target;
        }
        match req.method {
            Method::Invite => self.remote_invite = Some(cseq.seq),
            // §15.1.2: the UAS core "SHOULD terminate the session".
            Method::Bye if !self.subscribed => {
                self.set_state(DialogState::Terminated, "BYE received")
            }
            _ => {}
        }
        tracing::trace!(call_id = %self.id.call_id, method = %req.method, cseq = cseq.seq, "in-dialog request accepted");
        Ok(())
    }

    /// Processes a response received to one of our in-dialog requests
    /// (§12.2.1.2). Responses for another dialog are ignored.
    ///
    /// * A 2xx to a target refresh request replaces the remote target with
    ///   its Contact URI, if present.
    /// * A 481 or 408 ends the dialog ("the UAC SHOULD terminate the
    ///   dialog"); so should a timeout of the client transaction, which the
    ///   runtime reports with [`terminate`](Dialog::terminate).
    /// * A final response to our INVITE ends that INVITE transaction
    ///   (§14.1).
    pub fn handle_response(&mut self, resp: &Response) {
        // Our requests carry our tag in From and the peer's in To.
        if DialogId::from_incoming_response(resp).as_ref() != Some(&self.id) {
            return;
        }
        let Some(cseq) = resp.headers.cseq() else {
            return;
        };
        if resp.status.is_final()
            && cseq.method == Method::Invite
            && self.local_invite == Some(cseq.seq)
        {
            self.local_invite = None;
        }
        let code = resp.status.as_u16();
        if code == 481 || code == 408 {
            self.set_state(
                DialogState::Terminated,
                "481 or 408 to an in-dialog request",
            );
        } else if resp.status.is_success()
            && is_target_refresh(&cseq.method)
            && let Ok(Some(target)) = contact_uri(&resp.headers)
        {
            // §12.2.1.2: "When a UAC receives a 2xx response to a target
            // refresh request, it MUST replace the dialog's remote target
            // URI with the URI from the Contact header field in that
            // response, if present."
            self.remote_target = target;
        }
    }

    /// Records our own INVITE with CSeq number `seq` as in progress.
    pub(super) fn start_local_invite(&mut self, seq: u32) {
        self.local_invite = Some(seq);
    }

    /// Takes the next local CSeq number for a new request (§12.2.1.1:
    /// "the local sequence number MUST be incremented by one").
    pub(super) fn next_local_seq(&mut self) -> Result<u32, DialogError> {
        let next = self
            .local_seq
            .checked_add(1)
            .filter(|&n| n <= CSeq::MAX)
            .ok_or(DialogError::SequenceExhausted)?;
        self.local_seq = next;
        Ok(next)
    }

    /// Raises the local sequence number to `seq` if it is lower, so that
    /// the next request of ours is numbered above every request already
    /// sent in the dialog (§12.2.1.1): the PRACKs of an early dialog the
    /// 2xx confirms (RFC 3262 §4), or a request resubmitted with
    /// credentials, whose CSeq was incremented outside the dialog (§22.2).
    /// Never lowers it; values above 2**31 - 1 are capped (§8.1.1.5).
    pub(crate) fn raise_local_seq(&mut self, seq: u32) {
        let seq = seq.min(CSeq::MAX);
        if seq > self.local_seq {
            tracing::trace!(call_id = %self.id.call_id, from = self.local_seq, to = seq, "local sequence number raised");
            self.local_seq = seq;
        }
    }

    /// Moves to `state` (used by the request builder for BYE).
    pub(super) fn set_state_internal(&mut self, state: DialogState, why: &'static str) {
        self.set_state(state, why);
    }

    #[cfg(test)]
    pub(super) fn set_local_seq(&mut self, seq: u32) {
        self.local_seq = seq;
    }
}
