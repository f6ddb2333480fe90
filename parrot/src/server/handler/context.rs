//! [`Context`]: what a handler method may do besides returning its answer.

use crate::message::{Request, Response, StatusCode};
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
    pub fn send_provisional(&mut self, response: Response) -> Result<(), ProvisionalError> {
        self.session.send_provisional(self.request, response)
    }

    /// Sends `180 Ringing`; refused as [`send_provisional`](Self::send_provisional)
    /// is.
    pub fn ring(&mut self) -> Result<(), ProvisionalError> {
        let req = self.request.ok_or(ProvisionalError::NoRequest)?;
        let resp = req.reply(StatusCode::RINGING);
        self.session.send_provisional(Some(req), resp)
    }

    /// Sends BYE inside this dialog (RFC 3261 §15.1.1) and waits for its
    /// final response. The dialog ends whatever the answer.
    pub async fn bye(&mut self) -> Result<Response, RequestError> {
        self.session.bye().await
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
