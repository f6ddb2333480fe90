//! What the server's core and its sessions pass each other: the messages
//! a running session receives, the inbox a proxied request borrows while it
//! waits for its branches, and the record of a dialog established through
//! our proxying. Both the session and the relay use these, so they live in
//! neither.

use crate::dialog::DialogId;
use crate::message::{Request, StatusCode, Text, Uri};
use crate::transaction::TransactionId;
use crate::transport::{Origin, Target};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What the core delivers to a running session. Requests are boxed so
/// that the channel's slots stay small.
pub(crate) enum Inbox<E> {
    /// A request (the first one, or one inside the dialog).
    Request {
        id: TransactionId,
        request: Box<Request>,
        origin: Origin,
    },
    /// The ACK for our 2xx.
    Ack { request: Box<Request> },
    /// The pending INVITE was cancelled (the runtime already sent 487).
    Cancelled,
    /// An application event sent through a [`DialogHandle`].
    Event(E),
    /// A parked dialog's timer (its session timer or a subscription's
    /// expiry) may be due.
    Timer,
    /// A REFER's progress, for the NOTIFY of its implicit subscription.
    Refer(ReferReport),
    /// An INVITE with `Replaces` replaced this call (RFC 3891): end it.
    Replaced,
}

/// A report on a REFER's progress, from a `ReferProgress` to the session
/// holding the implicit subscription.
#[derive(Debug)]
pub(crate) struct ReferReport {
    /// The subscription's `id` (the REFER's CSeq number).
    pub(crate) id: String,
    pub(crate) status: StatusCode,
}

/// What the runtime asks of a dialog from outside it, through the core.
#[derive(Debug)]
pub(crate) enum DialogCommand {
    /// Report a REFER's progress.
    Refer(ReferReport),
    /// End the call: a new one replaced it (RFC 3891 §3).
    Replaced,
}

/// What reaches the core from outside the endpoint and the sessions'
/// reports, in one queue: the core polls each queue it has every time it
/// goes idle (several a call), so the rare senders share one.
pub(crate) enum Aside<E> {
    /// An application event for a dialog, from a [`DialogHandle`].
    ///
    /// [`DialogHandle`]: crate::server::DialogHandle
    Event(DialogId, E),
    /// A command of the runtime for a dialog.
    Command(DialogId, DialogCommand),
    /// A dialog established through our proxying.
    Proxied(Box<ProxiedDialog>),
    /// Stop taking new requests and shut down gracefully.
    Stop,
}

/// Sends [`DialogCommand`]s into a core's [`Aside`] queue, for senders
/// that do not know the handler's event type (a `ReferProgress`).
#[derive(Clone)]
pub(crate) struct CommandSink(Arc<dyn Fn(DialogId, DialogCommand) -> bool + Send + Sync>);

impl CommandSink {
    pub(crate) fn new<E: Send + 'static>(aside: mpsc::UnboundedSender<Aside<E>>) -> Self {
        CommandSink(Arc::new(move |id, command| {
            aside.send(Aside::Command(id, command)).is_ok()
        }))
    }

    /// Sends `command` for dialog `id`; false once the core has stopped.
    pub(crate) fn send(&self, id: DialogId, command: DialogCommand) -> bool {
        (self.0)(id, command)
    }
}

/// The session's inbox, lent to a proxied request so that a CANCEL reaches
/// it while it waits for its branches.
pub(crate) struct Mailbox<'a, E> {
    pub(crate) inbox: &'a mut mpsc::UnboundedReceiver<Inbox<E>>,
    pub(crate) deferred: &'a mut VecDeque<Inbox<E>>,
}

/// A dialog established through this proxy, so that its later requests
/// reach the other side even without Record-Route.
#[derive(Debug)]
pub(crate) struct ProxiedDialog {
    pub(crate) call_id: Text,
    pub(crate) caller_tag: Text,
    pub(crate) callee_tag: Text,
    /// Where the caller's requests came from.
    pub(crate) caller: Target,
    /// The callee's remote target and where it is.
    pub(crate) callee_uri: Uri,
    pub(crate) callee: Target,
    /// When it was established (stale entries are swept).
    pub(crate) since: Instant,
    /// Resolves once the last request forwarded in it has been sent:
    /// each forward waits for the one before, so an ACK and the BYE right
    /// behind it leave in the order they came (their tasks may run in
    /// any order).
    pub(crate) last_sent: Option<oneshot::Receiver<()>>,
}

impl ProxiedDialog {
    /// The key both directions share.
    pub(crate) fn key(call_id: &str, a: &str, b: &str) -> (Text, Text, Text) {
        let (x, y) = if a <= b { (a, b) } else { (b, a) };
        (
            Text::from(call_id.to_owned()),
            Text::from(x.to_owned()),
            Text::from(y.to_owned()),
        )
    }
}
