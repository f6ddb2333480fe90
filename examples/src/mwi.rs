//! `mwi`: a message-waiting notifier (RFC 3842 over RFC 6665).
//!
//! - SUBSCRIBE with `Event: message-summary` to `sip:USER@host`: `200 OK`
//!   with the duration granted, then a NOTIFY with the mailbox's summary
//!   (`application/simple-message-summary`: `Messages-Waiting: yes|no`,
//!   `Voice-Message: new/old`). The runtime refuses another package (489
//!   with `Allow-Events`), a missing `Event` (400) and a too brief
//!   duration (423), refreshes and ends subscriptions, and sends the last
//!   NOTIFY when one expires.
//! - MESSAGE to `sip:USER@host`: the text is left in USER's mailbox as a
//!   new message (`200 OK`); every subscription to that mailbox gets a
//!   NOTIFY with the new summary. The notifications are application
//!   events: the MESSAGE's handler sends one to each subscribed dialog's
//!   [`DialogHandle`].
//! - OPTIONS: the runtime's default answer.

use crate::listen::Listen;
use parrot::message::Uri;
use parrot::prelude::*;
use parrot::server::{BoundServer, DialogHandle};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tracing::{debug, info};

/// The body type of a message summary (RFC 3842 §3.1).
pub const SUMMARY: &str = "application/simple-message-summary";

/// The mailboxes: new messages per user, and the subscribed dialogs.
#[derive(Debug, Default)]
struct Mailboxes {
    boxes: HashMap<String, Mailbox>,
}

#[derive(Debug, Default)]
struct Mailbox {
    new: u32,
    watchers: Vec<DialogHandle<Changed>>,
}

/// A mailbox changed: its new summary, for a subscribed dialog.
#[derive(Debug)]
pub struct Changed(u32);

/// The `simple-message-summary` body for `new` messages (RFC 3842 §5.2).
pub fn summary(new: u32) -> String {
    let waiting = if new > 0 { "yes" } else { "no" };
    format!("Messages-Waiting: {waiting}\r\nVoice-Message: {new}/0\r\n")
}

/// The handler: one value per dialog, sharing the mailboxes.
#[derive(Debug, Clone)]
pub struct Mwi {
    mailboxes: Arc<Mutex<Mailboxes>>,
}

/// The mailbox a request is for: its Request-URI's user part.
fn user_of(uri: &Uri) -> Option<String> {
    uri.as_sip()?.user().map(|u| u.to_string())
}

#[uas_handler(events = "message-summary")]
impl Mwi {
    async fn subscribe(&mut self, req: &Request, cx: &mut Context<'_, Changed>) -> StatusCode {
        let Some(user) = user_of(&req.uri) else {
            return StatusCode::NOT_FOUND;
        };
        let new = {
            let mut boxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
            let mailbox = boxes.boxes.entry(user.clone()).or_default();
            if cx.subscription().is_some_and(|s| s.expires > 0) {
                mailbox.watchers.retain(|h| !h.is_closed());
                if !cx.in_dialog() {
                    mailbox.watchers.push(cx.handle());
                }
            }
            mailbox.new
        };
        info!(%user, call_id = cx.call_id(), "subscription to a mailbox");
        cx.set_state(SUMMARY, summary(new));
        StatusCode::OK
    }

    async fn message(&mut self, req: &Request) -> StatusCode {
        let Some(user) = user_of(&req.uri) else {
            return StatusCode::NOT_FOUND;
        };
        let (new, watchers) = {
            let mut boxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
            let mailbox = boxes.boxes.entry(user.clone()).or_default();
            mailbox.new += 1;
            mailbox.watchers.retain(|h| !h.is_closed());
            (mailbox.new, mailbox.watchers.clone())
        };
        info!(%user, new, watchers = watchers.len(), "message left");
        for watcher in watchers {
            let _ = watcher.send(Changed(new));
        }
        StatusCode::OK
    }

    async fn event(&mut self, ev: Changed, cx: &mut Context<'_, Changed>) -> Action {
        if let Err(e) = cx.notify(SUMMARY, summary(ev.0)).await {
            debug!(error = %e, "mailbox change not notified");
        }
        Action::NoReply
    }
}

/// Binds the `mwi` example on `listen` (UDP and TCP; port 0 picks one).
pub async fn bind(listen: impl Into<Listen>) -> parrot::Result<BoundServer<Mwi>> {
    let mailboxes = Arc::new(Mutex::new(Mailboxes::default()));
    listen
        .into()
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory)
        .handler(move || Mwi {
            mailboxes: mailboxes.clone(),
        })
        .bind()
        .await
}

/// Serves the `mwi` example until `shutdown` completes.
pub async fn serve(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    bind(listen)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
