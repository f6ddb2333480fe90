//! [`Context`]: what a handler method may do besides returning its answer.

use crate::dialog::DialogId;
use crate::message::{Request, Response};
use crate::server::session::Session;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

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
    /// answer. The runtime adds the dialog's To tag and Contact. Ignored
    /// (and logged) for a final status or when there is no pending request.
    pub fn send_provisional(&mut self, response: Response) {
        self.session.send_provisional(self.request, response);
    }

    /// Sends `180 Ringing`.
    pub fn ring(&mut self) {
        if let Some(req) = self.request {
            let resp = req.reply(crate::message::StatusCode::RINGING);
            self.session.send_provisional(Some(req), resp);
        }
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
}

/// Sends application events to a live dialog's handler. Cheap to clone.
///
/// Events go through the server's core, which wakes the dialog if it is
/// idle; holding a handle costs the dialog nothing.
pub struct DialogHandle<E> {
    pub(crate) id: DialogId,
    pub(crate) tx: mpsc::UnboundedSender<(DialogId, E)>,
    /// Cleared when the dialog ends.
    pub(crate) alive: Arc<AtomicBool>,
}

impl<E> Clone for DialogHandle<E> {
    fn clone(&self) -> Self {
        DialogHandle {
            id: self.id.clone(),
            tx: self.tx.clone(),
            alive: self.alive.clone(),
        }
    }
}

impl<E: Send + 'static> DialogHandle<E> {
    /// Delivers `event` to the handler's `event` method. Gives the event
    /// back if the dialog has ended (an event racing the dialog's end is
    /// dropped).
    pub fn send(&self, event: E) -> Result<(), E> {
        if self.is_closed() {
            return Err(event);
        }
        self.tx.send((self.id.clone(), event)).map_err(|e| e.0.1)
    }

    /// Whether the dialog has ended.
    pub fn is_closed(&self) -> bool {
        !self.alive.load(Ordering::Acquire) || self.tx.is_closed()
    }
}

impl<E> fmt::Debug for DialogHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialogHandle").finish_non_exhaustive()
    }
}

/// Why a request sent from inside a dialog got no final response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// There is no established dialog to send it in.
    NoDialog,
    /// The next hop could not be resolved or reached.
    Unreachable(String),
    /// No final response arrived in time (Timer B/F).
    Timeout,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::NoDialog => f.write_str("no established dialog"),
            RequestError::Unreachable(why) => write!(f, "next hop unreachable: {why}"),
            RequestError::Timeout => f.write_str("no final response in time"),
        }
    }
}

impl std::error::Error for RequestError {}
