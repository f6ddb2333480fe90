//! Outgoing calls: the INVITE client side of RFC 3261 §13.2 with CANCEL
//! (§9.1), the UAC dialog (§12.1.2), reliable provisional responses and
//! their PRACKs (RFC 3262 §4), UPDATE (RFC 3311) and BYE (§15.1).
//!
//! Each call runs in a task of its own, so that ACKs and PRACKs go out as
//! soon as their response arrives and the peer's requests are answered
//! whether or not the application is polling; [`PendingCall`] and
//! [`Call`] are handles on it.
//!
//! * `prack`: the PRACK of each new reliable provisional response, in its
//!   early dialog;
//! * `established`: the confirmed dialog: the ACK, the peer's requests,
//!   BYE;
//! * `session`: offer/answer in the call: the answers to the peer's UPDATE
//!   and re-INVITE;
//! * `ours`: our UPDATE, or re-INVITE with its ACK, and their retries;
//! * `requests`: the application's own requests in the call (INFO,
//!   MESSAGE, REFER...) and REFER's implicit subscription (RFC 3515);
//! * `timer`: the session timer (RFC 4028) of the call: its negotiation
//!   in both directions, its refreshes and its expiry.

mod calling;
mod established;
mod ours;
mod peer;
mod prack;
mod requests;
mod session;
mod timer;

use super::router::DialogInput;
use super::{Client, ClientError, Prepared};
use crate::dialog::{DialogId, SessionTimerConfig};
use crate::endpoint::ClientTransaction;
use crate::message::{HeaderName, Request, Response, StatusCode};
use crate::transport::Target;
use std::fmt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// The `Allow` header of our INVITEs and of the answers given in a call.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, NOTIFY";

pub use peer::{PeerRequest, PeerRequests, ReferReports};
pub use requests::Referral;

/// What a [`PendingCall`] yields.
// Moved out once per response; boxing the call would only add a step.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Progress {
    /// A provisional response (`100 Trying`, `180 Ringing`, `183 Session
    /// Progress`, ...).
    Provisional(Response),
    /// A 2xx: the call is established and acknowledged (§13.2.2.4).
    Answered(Call),
    /// The INVITE failed: a non-2xx final response, a timeout, a transport
    /// failure, or the CANCEL took effect.
    Failed(CallError),
}

/// Why a call could not be set up, or a request in it not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// A final response of 300–699 (redirection, client error, server
    /// error, global failure).
    #[error("call refused: {} {}", .0.status, .0.reason)]
    Rejected(Box<Response>),
    /// The call was cancelled ([`PendingCall::cancel`]): the final response
    /// to the INVITE, normally `487 Request Terminated` (a 2xx that crossed
    /// the CANCEL is acknowledged and hung up at once).
    #[error("call cancelled ({} {})", .0.status, .0.reason)]
    Cancelled(Box<Response>),
    /// No final response in time (Timer B, or 64·T1 after a CANCEL, §9.1):
    /// the `408` the client stands it for (§8.1.3.1).
    #[error("no final response in time (408)")]
    Timeout(Box<Response>),
    /// The request could not be delivered: the `503` the client stands it
    /// for (§8.1.3.1).
    #[error("the request could not be delivered (503)")]
    Unreachable(Box<Response>),
    /// The 2xx cannot establish a dialog (e.g. it has no Contact,
    /// §12.1.2); the call was acknowledged and hung up.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The call is not established yet (BYE before the 2xx).
    #[error("the call is not established")]
    NotEstablished,
    /// Another [`Call::update`] of this call, or a session refresh (RFC
    /// 4028), is still waiting for its final response (RFC 3311 §5.1: no
    /// new offer while one is pending).
    #[error("an UPDATE or refresh of this call is in progress")]
    UpdateInProgress,
    /// The call has already ended.
    #[error("the call has ended: {0}")]
    Ended(Box<CallEnd>),
    /// The call's task is gone (the runtime is shutting down).
    #[error("the call's task is gone")]
    Closed,
    /// Too many requests of the application (or REFER subscriptions) are
    /// in progress in this call at once.
    #[error("too many requests in progress in this call")]
    Busy,
    /// The request cannot be sent with [`Call::request`] (ACK, CANCEL,
    /// PRACK and INVITE are the runtime's; BYE is [`Call::bye`]).
    #[error("{0} is not sent with Call::request")]
    NotAllowed(crate::message::Method),
}

impl From<CallError> for crate::Error {
    fn from(e: CallError) -> crate::Error {
        crate::Error::from_source(crate::ErrorKind::Client, e)
    }
}

impl CallError {
    /// The final response behind the error (received, or synthesized for a
    /// timeout or transport failure), if there is one.
    pub fn response(&self) -> Option<&Response> {
        match self {
            CallError::Rejected(r)
            | CallError::Cancelled(r)
            | CallError::Timeout(r)
            | CallError::Unreachable(r) => Some(r),
            _ => None,
        }
    }

    /// The status of [`CallError::response`].
    pub fn status(&self) -> Option<StatusCode> {
        self.response().map(|r| r.status)
    }
}

/// How an established call ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallEnd {
    /// We hung up: the final response to our BYE (a `408`/`503` stands for
    /// a timeout or transport failure; the call is over either way,
    /// §15.1.1).
    LocalBye(Box<Response>),
    /// The peer hung up with this BYE, which was answered `200` (§15.1.2).
    RemoteBye(Box<Request>),
    /// The session timer ran out (RFC 4028 §10): no refresh succeeded in
    /// time — the peer, the refresher, sent none, or ours timed out or was
    /// answered `408` — so we hung up; the final response to our BYE.
    SessionExpired(Box<Response>),
    /// The call could not go on (a 2xx without a usable dialog, a request
    /// of ours answered `481`, the client shutting down).
    Terminated(String),
}

impl fmt::Display for CallEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallEnd::LocalBye(r) => {
                write!(f, "we hung up (BYE answered {} {})", r.status, r.reason)
            }
            CallEnd::RemoteBye(_) => f.write_str("the peer hung up (BYE received)"),
            CallEnd::SessionExpired(r) => write!(
                f,
                "the session expired unrefreshed (RFC 4028); BYE answered {} {}",
                r.status, r.reason
            ),
            CallEnd::Terminated(why) => write!(f, "terminated: {why}"),
        }
    }
}

/// The state a call's task publishes.
#[derive(Debug, Clone)]
enum Status {
    Active,
    Ended(CallEnd),
}

/// What the handles ask the task.
enum Command {
    /// CANCEL the INVITE (§9.1).
    Cancel,
    /// Send BYE (§15.1.1) and report its final response.
    Bye(oneshot::Sender<Result<Response, CallError>>),
    /// Send UPDATE (RFC 3311) with this SDP offer, if any, or a re-INVITE
    /// (§14.1) with this offer, and report its final response.
    Update(Offer, oneshot::Sender<Result<Response, CallError>>),
    /// Hang up or cancel, whichever applies, reporting nothing.
    Hangup,
    /// Send a request of the application in the dialog and report its
    /// final response.
    Request(
        Box<requests::OutRequest>,
        oneshot::Sender<Result<Response, CallError>>,
    ),
}

/// A new offer of the application (or a bodiless UPDATE), and the
/// request that carries it.
enum Offer {
    /// UPDATE (RFC 3311), with this SDP offer if any.
    Update(Option<String>),
    /// re-INVITE (RFC 3261 §14.1) with this SDP offer.
    Reinvite(String),
    /// re-INVITE offering the description in force on hold (`true`) or
    /// off hold (RFC 3264 §8.4, RFC 6337 §5.3).
    Hold(bool),
}

/// What the task tells the [`PendingCall`].
enum Update {
    Provisional(Response),
    Answered(Box<Answered>),
    Failed(CallError),
}

struct Answered {
    response: Response,
    id: DialogId,
    status: watch::Receiver<Status>,
    interval: watch::Receiver<Option<Duration>>,
    /// The peer's requests, when the application answers them.
    requests: Option<PeerRequests>,
}

/// An INVITE in progress, from [`Client::invite`].
///
/// [`PendingCall::next`] yields each provisional response, then either
/// [`Progress::Answered`] with the established [`Call`] or
/// [`Progress::Failed`]; after that, `None`. Dropping it before the
/// outcome cancels the INVITE.
pub struct PendingCall {
    updates: mpsc::UnboundedReceiver<Update>,
    commands: mpsc::UnboundedSender<Command>,
    request: Request,
    finished: bool,
    /// The SDP of the last provisional response yielded that had one.
    early_sdp: Option<String>,
}

impl fmt::Debug for PendingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCall")
            .field("call_id", &self.call_id())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl PendingCall {
    /// The next step: a provisional response, then the outcome; `None`
    /// once the outcome was returned.
    pub async fn next(&mut self) -> Option<Progress> {
        if self.finished {
            return None;
        }
        let update = self.updates.recv().await;
        let progress = match update {
            Some(Update::Provisional(r)) => {
                if let Some(sdp) = sdp_body(&r) {
                    self.early_sdp = Some(sdp.to_owned());
                }
                return Some(Progress::Provisional(r));
            }
            Some(Update::Answered(a)) => Progress::Answered(Call {
                response: a.response,
                id: a.id,
                commands: self.commands.clone(),
                status: a.status,
                interval: a.interval,
                requests: a.requests,
            }),
            Some(Update::Failed(e)) => Progress::Failed(e),
            None => Progress::Failed(CallError::Closed),
        };
        self.finished = true;
        Some(progress)
    }

    /// Waits for the outcome, skipping the provisional responses.
    pub async fn wait(mut self) -> Result<Call, CallError> {
        while let Some(p) = self.next().await {
            match p {
                Progress::Provisional(_) => {}
                Progress::Answered(call) => return Ok(call),
                Progress::Failed(e) => return Err(e),
            }
        }
        Err(CallError::Closed)
    }

    /// Cancels the INVITE (§9.1). The CANCEL goes out once a provisional
    /// response has arrived ("If no provisional response has been
    /// received, the CANCEL request MUST NOT be sent; rather, the client
    /// MUST wait for the arrival of a provisional response"); the call
    /// then ends with [`CallError::Cancelled`] (the `487`), or with a
    /// timeout if no final response comes within 64·T1. A 2xx that
    /// crosses the CANCEL is acknowledged and hung up at once.
    pub fn cancel(&self) {
        let _ = self.commands.send(Command::Cancel);
    }

    /// The INVITE as first sent (a resubmission with credentials has the
    /// same Call-ID, From tag and To).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The call's Call-ID.
    pub fn call_id(&self) -> &str {
        self.request.headers.call_id().map_or("", |c| c.as_str())
    }

    /// The SDP of the last provisional response [`next`](Self::next)
    /// yielded with an `application/sdp` body (early media, reliable or
    /// not: a `183 Session Progress` usually), if any.
    pub fn early_sdp(&self) -> Option<&str> {
        self.early_sdp.as_deref()
    }
}

/// An established call. Hang up with [`Call::bye`]; [`Call::ended`] tells
/// when and how it ended (the peer's BYE is answered `200` by the client).
/// Dropping an active call hangs it up in the background.
pub struct Call {
    response: Response,
    id: DialogId,
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
    /// The session interval in force (RFC 4028), as the task publishes it.
    interval: watch::Receiver<Option<Duration>>,
    /// The peer's requests, when the application answers them
    /// ([`InviteOptions::peer_requests`](super::InviteOptions::peer_requests)).
    requests: Option<PeerRequests>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("dialog", &self.id)
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

impl Call {
    /// The 2xx that established the call.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The SDP answer of the 2xx, if its body is `application/sdp`.
    pub fn remote_sdp(&self) -> Option<&str> {
        sdp_body(&self.response)
    }

    /// The dialog (§12): Call-ID, our tag, the peer's tag.
    pub fn dialog_id(&self) -> &DialogId {
        &self.id
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        &self.id.call_id
    }

    /// Whether the call is still up.
    pub fn is_active(&self) -> bool {
        matches!(*self.status.borrow(), Status::Active)
    }

    /// The session interval in force (RFC 4028 §3): the longest the call
    /// lives without a refresh, as the last 2xx to an INVITE or UPDATE (in
    /// either direction) set it; `None` without a session timer. See
    /// [`ClientBuilder::session_timer`](super::ClientBuilder::session_timer).
    pub fn session_interval(&self) -> Option<Duration> {
        *self.interval.borrow()
    }

    /// How the call ended, if it has.
    pub fn end(&self) -> Option<CallEnd> {
        match &*self.status.borrow() {
            Status::Active => None,
            Status::Ended(e) => Some(e.clone()),
        }
    }

    /// Waits until the call ends (the peer's BYE, ours, or the session
    /// timer's, [`CallEnd::SessionExpired`]).
    pub async fn ended(&mut self) -> CallEnd {
        wait_ended(&mut self.status).await
    }

    /// Hangs up (§15.1.1): sends BYE in the dialog and returns its final
    /// response (`408`/`503` standing for a timeout or transport failure).
    /// The call is over once the BYE is sent, whatever the answer. An
    /// ended call gives [`CallError::Ended`].
    pub async fn bye(&mut self) -> Result<Response, CallError> {
        if let Some(end) = self.end() {
            return Err(CallError::Ended(Box::new(end)));
        }
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Bye(tx)).is_err() {
            return Err(self.gone());
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(self.gone()),
        }
    }

    /// Sends UPDATE in the call's dialog (RFC 3311 §5.1) with `sdp`, if
    /// given, as its `application/sdp` offer (none for a session refresh),
    /// and returns its final response (`408`/`503` standing for a timeout
    /// or transport failure). The peer's requests are answered meanwhile;
    /// an offer of theirs that crosses ours is refused with `491`
    /// (RFC 3311 §5.2).
    ///
    /// A `491 Request Pending` is retried after a random 2.1–4 s (RFC 3261
    /// §14.1: we own the Call-ID), three attempts in all; the last `491`
    /// is then returned. Once a 2xx with an SDP answer accepts the offer,
    /// it is our description in force: the one the call answers the
    /// peer's unchanged offers with. A `481` or `408` ends the dialog
    /// (§12.2.1.2) and the call with it.
    ///
    /// Errors: [`CallError::Ended`] once the call has ended,
    /// [`CallError::UpdateInProgress`] while another UPDATE of ours waits
    /// for its answer.
    pub async fn update(&mut self, sdp: Option<String>) -> Result<Response, CallError> {
        self.offer(Offer::Update(sdp)).await
    }

    /// Sends a re-INVITE in the call's dialog (RFC 3261 §14.1: a target
    /// refresh with our Contact, the session timer's headers) with `sdp`
    /// as its `application/sdp` offer, and returns its final response
    /// (`408`/`503` standing for a timeout or transport failure). A 2xx
    /// is acknowledged by the call (§13.2.2.4), as are its
    /// retransmissions; a non-2xx by its transaction (§17.1.1.3). The
    /// peer's requests are answered meanwhile; an offer of theirs that
    /// crosses ours is refused with `491` (§14.2).
    ///
    /// A `491 Request Pending` is retried as for [`Call::update`] (after a
    /// random 2.1–4 s, §14.1, three attempts in all). Once a 2xx with an
    /// SDP answer accepts the offer, it is our description in force. A
    /// `481` or `408` ends the dialog (§12.2.1.2) and the call with it.
    ///
    /// Errors: [`CallError::Ended`] once the call has ended,
    /// [`CallError::UpdateInProgress`] while another UPDATE or re-INVITE
    /// of ours (or a session refresh) waits for its answer (§14.1: "a UAC
    /// MUST NOT initiate a new INVITE transaction within a dialog while
    /// another INVITE transaction is in progress").
    pub async fn reinvite(&mut self, sdp: impl Into<String>) -> Result<Response, CallError> {
        self.offer(Offer::Reinvite(sdp.into())).await
    }

    /// Puts the call on hold (RFC 3264 §8.4, RFC 6337 §5.3): a re-INVITE
    /// offering the description in force with every active audio and
    /// video stream `sendonly` (`inactive` if it was `recvonly`), the
    /// `o=` version incremented; returns its final response, as
    /// [`reinvite`](Self::reinvite) does. [`CallError::Protocol`] when the
    /// call has no description of ours in force (an INVITE without an
    /// offer).
    pub async fn hold(&mut self) -> Result<Response, CallError> {
        self.offer(Offer::Hold(true)).await
    }

    /// Takes the call off hold, the inverse of [`hold`](Self::hold):
    /// `sendonly` streams back to `sendrecv`, `inactive` ones to
    /// `recvonly`.
    pub async fn resume(&mut self) -> Result<Response, CallError> {
        self.offer(Offer::Hold(false)).await
    }

    async fn offer(&mut self, offer: Offer) -> Result<Response, CallError> {
        if let Some(end) = self.end() {
            return Err(CallError::Ended(Box::new(end)));
        }
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Update(offer, tx)).is_err() {
            return Err(self.gone());
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(self.gone()),
        }
    }

    /// Sends a request of `method` in the call's dialog (RFC 3261
    /// §12.2.1.1: the remote target, the route set, the next CSeq) with an
    /// optional body `(content type, bytes)`, and returns its final
    /// response (`408`/`503` standing for a timeout or transport failure):
    /// INFO, MESSAGE, NOTIFY, OPTIONS, REFER (see [`Call::refer`] for a
    /// transfer), or any extension method. It runs beside the call's other
    /// business; a `401`/`407` is answered once with the client's
    /// credentials ([`ClientBuilder::credentials`](super::ClientBuilder::credentials))
    /// and the request sent again with the next CSeq (§22.2). A `481` or
    /// `408` ends the dialog and the call (§12.2.1.2).
    ///
    /// UPDATE goes the way of [`Call::update`] (its body must be SDP; a
    /// `491` is retried, RFC 3311 §5.2). ACK, CANCEL, PRACK and INVITE
    /// are the runtime's and BYE is [`Call::bye`]:
    /// [`CallError::NotAllowed`].
    pub async fn request(
        &mut self,
        method: crate::message::Method,
        body: Option<(&str, bytes::Bytes)>,
    ) -> Result<Response, CallError> {
        use crate::message::Method;
        match method {
            Method::Update => {
                let sdp = body.map(|(_, b)| String::from_utf8_lossy(&b).into_owned());
                return self.update(sdp).await;
            }
            Method::Ack | Method::Cancel | Method::Prack | Method::Invite | Method::Bye => {
                return Err(CallError::NotAllowed(method));
            }
            _ => {}
        }
        let out = requests::OutRequest {
            method,
            body: body.map(|(ct, b)| (ct.to_owned(), b)),
            headers: Vec::new(),
            referral: None,
        };
        self.send_request(out).await
    }

    /// Asks the peer to call `target` (RFC 3515: a blind transfer): sends
    /// REFER with `Refer-To: <target>` in the call's dialog. A 2xx gives
    /// the [`Referral`], which yields the progress the peer reports in the
    /// NOTIFYs of the REFER's implicit subscription (`Event:
    /// refer;id=<CSeq of the REFER>`, RFC 3515 §2.4.6); any other final
    /// response is [`CallError::Rejected`]. The call stays up: hang it up
    /// once the transfer succeeded, as the transferor does (RFC 5589 §6).
    pub async fn refer(&mut self, target: impl super::IntoUri) -> Result<Referral, CallError> {
        self.refer_with(target, true).await
    }

    /// [`Call::refer`], with `subscribe: false` asking for no implicit
    /// subscription (`Refer-Sub: false`, RFC 4488 §4): when the peer's 2xx
    /// says `Refer-Sub: false` too, no NOTIFY follows and the
    /// [`Referral`] yields nothing; otherwise the peer made the
    /// subscription anyway and its reports come as for [`Call::refer`].
    pub async fn refer_with(
        &mut self,
        target: impl super::IntoUri,
        subscribe: bool,
    ) -> Result<Referral, CallError> {
        let target = target
            .into_uri()
            .map_err(|e| CallError::Protocol(e.to_string()))?;
        let (tx, rx) = requests::channel();
        let out = requests::OutRequest {
            method: crate::message::Method::Refer,
            body: None,
            headers: requests::refer_headers(&format!("<{target}>"), subscribe),
            referral: Some(tx),
        };
        let response = self.send_request(out).await?;
        if !response.status.is_success() {
            return Err(CallError::Rejected(Box::new(response)));
        }
        Ok(Referral {
            response,
            reports: rx,
        })
    }

    /// An attended transfer (RFC 5589 §7): asks the peer of this call to
    /// call the peer of `other` with [`Call::replaces_target`], so that
    /// the new call replaces `other` (RFC 3891). See [`Call::refer`].
    pub async fn refer_replacing(&mut self, other: &Call) -> Result<Referral, CallError> {
        let target = other.replaces_target()?;
        self.refer(target).await
    }

    /// The `Refer-To` URI of an attended transfer to this call's peer
    /// (RFC 3891 §3, RFC 5589 §7): the peer's Contact from the 2xx with a
    /// `Replaces` header naming this dialog as the peer sees it —
    /// `?Replaces=<Call-ID>%3Bto-tag%3D<peer's tag>%3Bfrom-tag%3D<our tag>`,
    /// escaped as RFC 3261 §19.1.1 asks of a URI header value.
    pub fn replaces_target(&self) -> Result<crate::message::Uri, CallError> {
        use crate::message::{HeaderName, Uri};
        let contact = self
            .response
            .headers
            .get(HeaderName::Contact)
            .and_then(|c| c.parse::<crate::message::NameAddr>().ok())
            .map(|c| c.into_uri());
        let Some(Uri::Sip(uri)) = contact else {
            return Err(CallError::Protocol(
                "the peer's Contact is not a SIP URI".to_owned(),
            ));
        };
        let mut uri = uri.to_request_uri();
        let value = requests::replaces(&self.id.call_id, &self.id.local_tag, &self.id.remote_tag);
        uri.headers_mut().append("Replaces", &value);
        Ok(Uri::Sip(uri))
    }

    async fn send_request(&mut self, out: requests::OutRequest) -> Result<Response, CallError> {
        if let Some(end) = self.end() {
            return Err(CallError::Ended(Box::new(end)));
        }
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Request(Box::new(out), tx))
            .is_err()
        {
            return Err(self.gone());
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(self.gone()),
        }
    }

    /// The next request of the peer in the call for the application to
    /// answer (see [`PeerRequest`]), when the call was placed with
    /// [`InviteOptions::peer_requests`](super::InviteOptions::peer_requests);
    /// `None` once the call is over, or without that option (the client
    /// then answers them itself), or after [`Call::requests`] took them.
    pub async fn next_request(&mut self) -> Option<PeerRequest> {
        match &mut self.requests {
            Some(r) => r.next().await,
            None => None,
        }
    }

    /// Takes the stream of the peer's requests (see
    /// [`Call::next_request`]), to serve them from another task; `None`
    /// without [`InviteOptions::peer_requests`](super::InviteOptions::peer_requests)
    /// or once taken.
    pub fn requests(&mut self) -> Option<PeerRequests> {
        self.requests.take()
    }

    /// A handle that can hang the call up from elsewhere.
    pub fn handle(&self) -> CallHandle {
        CallHandle {
            commands: self.commands.clone(),
            status: self.status.clone(),
        }
    }

    fn gone(&self) -> CallError {
        match self.end() {
            Some(end) => CallError::Ended(Box::new(end)),
            None => CallError::Closed,
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.is_active() {
            let _ = self.commands.send(Command::Hangup);
        }
    }
}

/// Hangs a [`Call`] up from another task. Cheap to clone.
#[derive(Clone)]
pub struct CallHandle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
}

impl fmt::Debug for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallHandle")
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

impl CallHandle {
    /// Sends BYE (§15.1.1) unless the call has ended; returns at once.
    pub fn hangup(&self) {
        let _ = self.commands.send(Command::Hangup);
    }

    /// Whether the call is still up.
    pub fn is_active(&self) -> bool {
        matches!(*self.status.borrow(), Status::Active)
    }

    /// Waits until the call ends.
    pub async fn ended(&mut self) -> CallEnd {
        wait_ended(&mut self.status).await
    }
}

async fn wait_ended(status: &mut watch::Receiver<Status>) -> CallEnd {
    match status
        .wait_for(|s| matches!(s, Status::Ended(_)))
        .await
        .map(|s| s.clone())
    {
        Ok(Status::Ended(e)) => e,
        _ => CallEnd::Terminated("the call's task is gone".to_owned()),
    }
}

/// The body of `resp` if it is `application/sdp` text.
fn sdp_body(resp: &Response) -> Option<&str> {
    let ct = resp.headers.get(HeaderName::ContentType)?;
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/sdp") || resp.body.is_empty() {
        return None;
    }
    std::str::from_utf8(&resp.body).ok()
}

/// Starts the call's task for the INVITE `p`; with `peer_requests`, the
/// peer's requests in the established call go to the application.
pub(crate) async fn start(
    client: Client,
    p: Prepared,
    peer_requests: bool,
) -> Result<PendingCall, ClientError> {
    let (updates_tx, updates) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (peer, peer_requests) = if peer_requests {
        let (channel, requests) = peer::PeerChannel::new(commands.downgrade());
        (Some(channel), Some(requests))
    } else {
        (None, None)
    };
    let (inbox_tx, inbox) = mpsc::unbounded_channel();
    let (status, _) = watch::channel(Status::Active);
    let request = p.request.clone();
    let client_timer = client.session_timer();
    let span = tracing::info_span!(
        "uac_call",
        call_id = %request.headers.call_id().map_or("", |c| c.as_str())
    );
    let task = Task {
        client,
        invite: p.request,
        target: p.target,
        fallbacks: p.fallbacks,
        updates: updates_tx,
        commands: commands_rx,
        commands_open: true,
        inbox,
        inbox_tx,
        status,
        early: prack::EarlyDialogs::default(),
        timer_config: client_timer,
        peer,
        peer_requests,
    };
    tokio::spawn(tracing::Instrument::instrument(task.run(), span));
    Ok(PendingCall {
        updates,
        commands,
        request,
        finished: false,
        early_sdp: None,
    })
}

/// Where a CANCEL stands (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    /// Not asked for.
    No,
    /// Asked for before any provisional response: sent on the first.
    Waiting,
    /// Sent; the INVITE is given up at this deadline (64·T1).
    Sent(Instant),
}

/// The 2xx the INVITE phase ended with.
struct Accepted {
    ok: Response,
    tx: ClientTransaction,
    cancelled: bool,
}

struct Task {
    client: Client,
    /// The INVITE last sent (a resubmission with credentials replaces it).
    invite: Request,
    target: Target,
    /// The next servers to try while the INVITE has no answer (RFC 3263
    /// §4.3).
    fallbacks: Vec<Target>,
    updates: mpsc::UnboundedSender<Update>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    inbox: mpsc::UnboundedReceiver<DialogInput>,
    inbox_tx: mpsc::UnboundedSender<DialogInput>,
    status: watch::Sender<Status>,
    /// The early dialogs of the INVITE and their PRACKs (RFC 3262).
    early: prack::EarlyDialogs,
    /// The session timer we ask for (RFC 4028): the client's, raised after
    /// a 422 (§7.3); `None` when we only support timers passively.
    timer_config: Option<SessionTimerConfig>,
    /// The peer's requests handed to the application, when it takes them.
    peer: Option<peer::PeerChannel>,
    /// The application's end of `peer`, until the call is answered.
    peer_requests: Option<PeerRequests>,
}
