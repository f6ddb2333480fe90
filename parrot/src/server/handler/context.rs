//! [`Context`]: what a handler method may do besides returning its answer.

use crate::message::{Method, Request, Response, StatusCode};
use crate::server::dialog_handle::DialogHandle;
use crate::server::error::{ProvisionalError, RequestError};
use crate::server::session_state::Session;
use crate::transport::Origin;

/// Access to the dialog and the runtime from inside a handler method: the
/// dialog's state, provisional responses, requests inside the dialog, and a
/// handle for application events.
///
/// Ask for it by giving a handler method a third parameter:
/// `async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response`.
pub struct Context<'a, E = ()> {
    pub(crate) session: &'a mut Session<E>,
    pub(crate) request: Option<&'a Request>,
}

impl<E: Send + 'static> Context<'_, E> {
    /// Whether the request being handled arrived inside an established
    /// dialog (e.g. a re-INVITE).
    pub fn in_dialog(&self) -> bool {
        self.session.in_dialog()
    }

    /// The Call-ID of this handler's dialog or request.
    pub fn call_id(&self) -> &str {
        self.session.call_id()
    }

    /// Sends a provisional response (`101`–`199`, e.g. `180 Ringing` or
    /// `183 Session Progress`) now, before the method returns its final
    /// answer. The runtime adds the dialog's To tag and Contact. Refused,
    /// and nothing sent, for a final status or when no request awaits an
    /// answer.
    ///
    /// To an INVITE that requires reliable provisional responses
    /// (`Require: 100rel`), or that supports them when the server prefers
    /// them ([`ServerBuilder::reliable_provisionals`]), it goes reliably
    /// (RFC 3262): the runtime numbers it, retransmits it until the PRACK
    /// and answers the PRACK; a `200` with SDP waits for the PRACK of a
    /// provisional response that carried SDP.
    ///
    /// [`ServerBuilder::reliable_provisionals`]: crate::server::ServerBuilder::reliable_provisionals
    pub fn send_provisional(&mut self, response: Response) -> Result<(), ProvisionalError> {
        self.session
            .send_provisional(self.request, response, false)
            .map(drop)
    }

    /// Sends `180 Ringing`; refused as [`send_provisional`](Self::send_provisional)
    /// is.
    pub fn ring(&mut self) -> Result<(), ProvisionalError> {
        let req = self.request.ok_or(ProvisionalError::NoRequest)?;
        let resp = req.reply(StatusCode::RINGING);
        self.send_provisional(resp)
    }

    /// Sends a provisional response reliably (RFC 3262) and waits for its
    /// PRACK, which the runtime answers `200` (a PRACK carrying a new
    /// offer goes to the handler's `prack` method afterwards); returns the
    /// PRACK. An SDP offer or answer may ride on the response (early
    /// media, RFC 3262 §5); the answer to an offer made here comes in the
    /// PRACK. Refused with [`ProvisionalError::NotSupported`] when the
    /// caller did not offer `100rel`, and ends with
    /// [`ProvisionalError::Unacknowledged`] when no PRACK comes within
    /// 64·T1 (the runtime then refuses the INVITE with `500`) or the
    /// INVITE is cancelled.
    pub async fn send_reliable(&mut self, response: Response) -> Result<Request, ProvisionalError> {
        let prack = self
            .session
            .send_provisional(self.request, response, true)?
            .ok_or(ProvisionalError::Unacknowledged)?;
        prack.await.map_err(|_| ProvisionalError::Unacknowledged)
    }

    /// Sends `180 Ringing` reliably and waits for its PRACK; see
    /// [`send_reliable`](Self::send_reliable).
    pub async fn ring_reliable(&mut self) -> Result<Request, ProvisionalError> {
        let req = self.request.ok_or(ProvisionalError::NoRequest)?;
        self.send_reliable(req.reply(StatusCode::RINGING)).await
    }

    /// Whether the request being handled offered reliable provisional
    /// responses (`100rel` in `Supported` or `Require`) and the server
    /// supports them: [`send_reliable`](Self::send_reliable) may be used.
    pub fn can_send_reliable(&self) -> bool {
        self.session.reliable.is_some()
    }

    /// Sends BYE inside this dialog (RFC 3261 §15.1.1) and waits for its
    /// final response. The dialog ends whatever the answer.
    pub async fn bye(&mut self) -> Result<Response, RequestError> {
        self.session.bye().await
    }

    /// Sets this call's session interval (RFC 4028), in place of the
    /// server's: the next 2xx to an INVITE or UPDATE carries it in
    /// `Session-Expires` (a smaller interval the caller asked for wins,
    /// §9), and the runtime refreshes or ends the session by it.
    pub fn session_expires(&mut self, interval: std::time::Duration) {
        self.session.timer_override = Some(u32::try_from(interval.as_secs()).unwrap_or(u32::MAX));
    }

    /// Sends a request of `method` in this dialog without a body (e.g.
    /// OPTIONS, or a NOTIFY the handler builds no body for) and waits for
    /// its final response (RFC 3261 §12.2.1.1: the dialog's route set,
    /// remote target and CSeq). ACK, CANCEL and PRACK are the runtime's;
    /// BYE ends the call by [`bye`](Self::bye), offers go by
    /// [`update`](Self::update): those get [`RequestError::NotAllowed`].
    pub async fn send(&mut self, method: Method) -> Result<Response, RequestError> {
        self.session.request_in_dialog(method, None).await
    }

    /// [`send`](Self::send) with a body of `content_type` (e.g. an INFO
    /// with `application/dtmf-relay`, a MESSAGE with `text/plain`).
    pub async fn send_with_body(
        &mut self,
        method: Method,
        content_type: &str,
        body: impl Into<bytes::Bytes>,
    ) -> Result<Response, RequestError> {
        let body = Some((content_type.to_owned(), body.into()));
        self.session.request_in_dialog(method, body).await
    }

    /// Sends UPDATE in this dialog (RFC 3311), with `sdp` as a new offer
    /// or without a body, and waits for its final response, which is
    /// returned (its SDP is the answer). Offers that cross get `491`;
    /// the runtime sends the UPDATE again after the RFC 3261 §14.1 delay,
    /// up to three times. A 2xx also refreshes the session timer.
    pub async fn update(&mut self, sdp: Option<String>) -> Result<Response, RequestError> {
        self.session.update(sdp.map(bytes::Bytes::from)).await
    }

    /// A handle for sending application events to this dialog's handler
    /// (delivered to its `event` method, in order with its requests).
    /// Outside a dialog the handle is closed from the start.
    pub fn handle(&mut self) -> DialogHandle<E> {
        self.session.handle()
    }

    /// The request being handled, if any (none while handling an event).
    pub fn request(&self) -> Option<&Request> {
        self.request
    }

    /// Where the request being handled came from: its transport, source
    /// and local addresses, and connection (none while handling an event,
    /// or once the request is answered). [`Target::flow_of`] turns it into
    /// a target that reaches the peer back over the same flow (RFC 5626),
    /// as a registrar does for a browser on a WebSocket.
    ///
    /// [`Target::flow_of`]: crate::transport::Target::flow_of
    pub fn origin(&self) -> Option<Origin> {
        self.session.pending.as_ref().map(|p| p.origin)
    }
}
