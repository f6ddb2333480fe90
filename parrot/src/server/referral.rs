//! REFERs a handler sends in its dialog (RFC 3515, as the referrer): the
//! REFER built with its `Refer-To`, and the NOTIFYs of its implicit
//! subscription answered by the runtime and turned into the statuses the
//! referred call goes through. The NOTIFYs are served while the handler
//! runs (the handler typically awaits them), and while it does not.

use crate::dialog::{DialogId, REFER_PACKAGE, SIPFRAG};
use crate::endpoint::Endpoint;
use crate::message::typed::{Event, SubscriptionState};
use crate::message::{Method, Request, Response, StatusCode};
use crate::transaction::TransactionId;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;
use tracing::debug;

/// A watched subscription: its dialog and `id` (the REFER's CSeq number,
/// RFC 3515 §2.4.6).
type Key = (DialogId, String);

/// The server's REFERs awaiting NOTIFYs. One table for the server, so
/// that a session's duties can serve a NOTIFY for a REFER its handler
/// sent after they started; it is only locked for REFERs and for NOTIFYs
/// of the `refer` package.
#[derive(Default)]
pub(crate) struct Referrals {
    watching: Mutex<HashMap<Key, mpsc::UnboundedSender<StatusCode>>>,
}

impl Referrals {
    /// Starts watching subscription `id` of `dialog`.
    pub(crate) fn watch(
        &self,
        dialog: &DialogId,
        id: String,
    ) -> mpsc::UnboundedReceiver<StatusCode> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().insert((dialog.clone(), id), tx);
        rx
    }

    /// Stops watching subscription `id` of `dialog` (its REFER failed, or
    /// said `Refer-Sub: false`).
    pub(crate) fn forget(&self, dialog: &DialogId, id: &str) {
        self.lock().remove(&(dialog.clone(), id.to_owned()));
    }

    /// Stops watching every subscription of `dialog`, which has ended.
    pub(crate) fn forget_dialog(&self, dialog: &DialogId) {
        self.lock().retain(|(d, _), _| d != dialog);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, mpsc::UnboundedSender<StatusCode>>> {
        self.watching.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers `req` if it is a NOTIFY of a watched REFER subscription:
    /// `200` and its status passed on; `400` for one without a usable
    /// `Subscription-State` (RFC 6665 §8.2.3). A terminated subscription
    /// is no longer watched. `false` when it is not one of ours.
    pub(crate) fn serve(&self, endpoint: &Endpoint, id: TransactionId, req: &Request) -> bool {
        let Some(response) = self.take(req) else {
            return false;
        };
        endpoint.respond(id, response);
        true
    }

    /// The answer to `req` if it is a NOTIFY of a watched REFER
    /// subscription, its status passed on.
    pub(crate) fn take(&self, req: &Request) -> Option<Response> {
        if req.method != Method::Notify {
            return None;
        }
        let event = req.headers.typed::<Event>()?.ok()?;
        if event.package != REFER_PACKAGE {
            return None;
        }
        let key = (
            DialogId::from_incoming_request(req)?,
            event.id()?.to_owned(),
        );
        let mut watching = self.lock();
        let tx = watching.get(&key)?;
        let Some(Ok(state)) = req.headers.typed::<SubscriptionState>() else {
            return Some(
                req.reply(StatusCode::BAD_REQUEST)
                    .reason("Missing or malformed Subscription-State header"),
            );
        };
        if let Some(status) = sipfrag_status(req) {
            debug!(id = %key.1, %status, "REFER progress");
            let _ = tx.send(status);
        }
        if state.is_terminated() {
            watching.remove(&key);
        }
        Some(req.reply(StatusCode::OK))
    }
}

/// The status line of a NOTIFY's `message/sipfrag` body (RFC 3515
/// §2.4.5); a body of another type reports nothing.
fn sipfrag_status(req: &Request) -> Option<StatusCode> {
    let content_type = req.headers.get(crate::message::HeaderName::ContentType)?;
    let base = SIPFRAG.split(';').next().unwrap_or(SIPFRAG);
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(base))
    {
        return None;
    }
    crate::dialog::sipfrag_status(&req.body)
}

/// A REFER of ours that the peer accepted: the statuses of the call it
/// asked for, from the NOTIFYs of its implicit subscription (RFC 3515
/// §2.4.5), e.g. `100`, `180`, then the final one. From
/// [`Context::refer`](crate::server::Context::refer).
#[derive(Debug)]
pub struct Referral {
    pub(crate) response: Response,
    pub(crate) statuses: Option<mpsc::UnboundedReceiver<StatusCode>>,
}

impl Referral {
    /// The peer's 2xx to the REFER.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The next status reported; `None` once the subscription is over
    /// (terminated by the peer, or none was kept: `Refer-Sub: false`).
    pub async fn next(&mut self) -> Option<StatusCode> {
        self.statuses.as_mut()?.recv().await
    }

    /// Waits for the final status (`None` if the subscription ended
    /// without one).
    pub async fn outcome(mut self) -> Option<StatusCode> {
        while let Some(status) = self.next().await {
            if status.is_final() {
                return Some(status);
            }
        }
        None
    }
}

/// The `Refer-To` value for `target`, with `replaces` as an embedded
/// `Replaces` header for an attended transfer (RFC 3891 §3, escaped as RFC
/// 3261 §19.1.1 asks of a URI header value).
pub fn refer_to_value(
    target: &crate::message::Uri,
    replaces: Option<&crate::dialog::Replaces>,
) -> String {
    let Some(replaces) = replaces else {
        return format!("<{target}>");
    };
    let mut escaped = String::new();
    for b in replaces.to_string().bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => escaped.push(b as char),
            _ => escaped.push_str(&format!("%{b:02X}")),
        }
    }
    let join = if target.to_string().contains('?') {
        '&'
    } else {
        '?'
    };
    format!("<{target}{join}Replaces={escaped}>")
}
