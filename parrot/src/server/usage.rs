//! The state of a UAS dialog's subscription usages (RFC 6665, and REFER's
//! implicit subscription, RFC 3515), kept by its session, and the handle a
//! handler reports a REFER's progress with. What the session does with
//! them is in `subscription`, and with their NOTIFYs in flight in
//! `notifying`.

use super::inbox::{CommandSink, DialogCommand, ReferReport};
use crate::dialog::{DialogId, Notifier, SubscribeRequest};
use crate::message::{Method, Request, Response, StatusCode};
use crate::transport::Target;
use bytes::Bytes;
use tokio::task::JoinHandle;

/// Whether `method` starts or refreshes a subscription usage of the
/// dialog: SUBSCRIBE (RFC 6665) or REFER's implicit subscription (RFC
/// 3515). Its requests are checked before the handler sees them, and its
/// usage starts only on a 2xx its transaction accepted.
pub(crate) fn starts_usage(method: &Method) -> bool {
    matches!(method, Method::Subscribe | Method::Refer)
}

/// How long REFER's implicit subscription lasts without a final report
/// (RFC 3515 §2.4.4 leaves it to the notifier): long enough for the
/// referenced call to ring out.
pub(crate) const REFER_EXPIRES: u32 = 300;

/// One subscription of the dialog and the state document its NOTIFYs
/// carry.
pub(crate) struct Usage {
    pub(crate) notifier: Notifier,
    /// `(content type, body)` of the current state, if the application
    /// gave one.
    pub(crate) state: Option<(String, Bytes)>,
    /// Its NOTIFY in flight (one at most, see [`Notifier`]): the task
    /// sending it, which yields its outcome. The task runs on its own, so
    /// the NOTIFY goes out (and is retransmitted) whatever the session is
    /// doing meanwhile.
    pub(crate) sending: Option<JoinHandle<Sent>>,
}

impl Usage {
    /// A usage with its state document.
    pub(crate) fn new(notifier: Notifier, state: Option<(String, Bytes)>) -> Self {
        Usage {
            notifier,
            state,
            sending: None,
        }
    }
}

/// What became of a NOTIFY of ours.
pub(crate) struct Sent {
    /// The NOTIFY as sent (`None` when its task failed).
    pub(crate) request: Option<Request>,
    /// Where it went, once resolved.
    pub(crate) target: Option<Target>,
    /// Its final response (a timeout is a `408`, RFC 3261 §8.1.3.1), or
    /// why it could not be sent.
    pub(crate) response: Result<Response, String>,
}

/// The dialog's subscriptions, and what the SUBSCRIBE or REFER being
/// handled asks.
#[derive(Default)]
pub(crate) struct Subscriptions {
    pub(crate) usages: Vec<Usage>,
    /// The SUBSCRIBE being handled, once checked.
    pub(crate) current: Option<SubscribeRequest>,
    /// The state the handler gave while handling it.
    pub(crate) current_state: Option<(String, Bytes)>,
    /// Whether the handler accepts it as pending (RFC 6665 §4.2.1.3).
    pub(crate) current_pending: bool,
}

/// Reports the progress of the call an accepted REFER asked for (RFC 3515
/// §2.4.5): each report becomes a NOTIFY of the REFER's implicit
/// subscription carrying `message/sipfrag` (`SIP/2.0 180 Ringing`), and a
/// final one ends the subscription (§2.4.7). Get it from
/// [`Context::refer_progress`](crate::server::Context::refer_progress)
/// while handling the REFER; it may be moved into a task that places the
/// call.
///
/// Dropped before a final report, it reports `503 Service Unavailable`,
/// so that the referrer is never left waiting.
pub struct ReferProgress {
    pub(crate) dialog: DialogId,
    pub(crate) id: String,
    pub(crate) tx: CommandSink,
    pub(crate) done: bool,
}

impl ReferProgress {
    /// Reports `status` of the referenced request: a provisional status
    /// as progress, a final one as the outcome, after which nothing more
    /// is sent. Returns whether the report went to a live dialog.
    pub fn report(&mut self, status: StatusCode) -> bool {
        if self.done {
            return false;
        }
        self.done = status.is_final();
        let report = ReferReport {
            id: self.id.clone(),
            status,
        };
        let command = DialogCommand::Refer(report);
        self.tx.send(self.dialog.clone(), command)
    }

    /// Whether a final status has been reported.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Drop for ReferProgress {
    fn drop(&mut self) {
        if !self.done {
            self.report(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
}

impl std::fmt::Debug for ReferProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferProgress")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
