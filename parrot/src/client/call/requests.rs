//! The application's own requests in an established call (RFC 3261
//! §12.2.1.1): INFO, MESSAGE, NOTIFY, OPTIONS, REFER... built in the
//! dialog (route set, CSeq), sent in their own client transactions while
//! the call goes on, a `401`/`407` answered once with the client's
//! credentials (§22.2); and REFER's implicit subscription (RFC 3515
//! §2.4.4): the NOTIFYs with `Event: refer;id=<CSeq of the REFER>`
//! answered `200` and their `message/sipfrag` statuses handed to the
//! [`Referral`].

use super::super::Client;
use super::CallError;
use crate::dialog::{Dialog, REFER_PACKAGE, event_of, notify_state, sipfrag_status};
use crate::message::{Header, HeaderName, Method, Request, Response, StatusCode};
use crate::transport::Protocol;
use bytes::Bytes;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How many REFERs of one call may have their subscription live at once;
/// more are refused with [`CallError::Busy`].
pub(super) const MAX_REFERRALS: usize = 8;
/// How many of the application's requests may be in progress at once in
/// one call; more are refused with [`CallError::Busy`].
pub(super) const MAX_IN_FLIGHT: usize = 16;
/// How many progress reports wait for [`Referral::next`] at most.
const REPORTS: usize = 16;
/// How long a REFER subscription lasts after a NOTIFY without `expires`
/// (RFC 3515 §2.4.4 leaves the duration to the notifier).
const REFER_LIFETIME: u32 = 300;

/// A request of the application in the call.
pub(super) struct OutRequest {
    pub(super) method: Method,
    pub(super) body: Option<(String, Bytes)>,
    pub(super) headers: Vec<Header>,
    /// For a REFER: where its progress reports go (none with `Refer-Sub:
    /// false`).
    pub(super) referral: Option<mpsc::Sender<StatusCode>>,
}

/// A finished request of the application.
pub(super) struct Finished {
    /// As last sent (a resubmission with credentials has a new CSeq).
    request: Request,
    response: Response,
    /// The CSeq the REFER was built with, its subscription's first `id`.
    refer_seq: Option<u32>,
    reply: oneshot::Sender<Result<Response, CallError>>,
}

/// The application's requests in progress and the live REFER
/// subscriptions of a call.
#[derive(Default)]
pub(super) struct Requests {
    jobs: JoinSet<Finished>,
    /// REFER subscriptions by `id` (the REFER's CSeq number, RFC 3515
    /// §2.4.6), and when each is given up without a NOTIFY.
    referrals: HashMap<u32, (mpsc::Sender<StatusCode>, Instant)>,
}

impl Requests {
    /// Builds `out` in `dialog` and sends it; its final response goes to
    /// `reply` once [`finished`](Self::finished) took it in.
    pub(super) fn start(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        protocol: Protocol,
        out: OutRequest,
        reply: oneshot::Sender<Result<Response, CallError>>,
    ) {
        if self.jobs.len() >= MAX_IN_FLIGHT
            || (out.method == Method::Refer && self.referrals.len() >= MAX_REFERRALS)
        {
            let _ = reply.send(Err(CallError::Busy));
            return;
        }
        let mut dr = match dialog.create_request(out.method.clone(), None, None) {
            Ok(dr) => dr,
            Err(e) => {
                let _ = reply.send(Err(CallError::Protocol(format!(
                    "cannot build the {}: {e}",
                    out.method
                ))));
                return;
            }
        };
        for h in out.headers {
            dr.request.headers.push(h);
        }
        if let Some((content_type, body)) = out.body {
            dr.request = super::super::request::with_body(dr.request, &content_type, body);
        }
        let seq = dr.request.headers.cseq().map_or(0, |c| c.seq);
        let refer_seq = (out.method == Method::Refer).then_some(seq);
        if let Some(tx) = out.referral {
            // Registered before the REFER goes: its first NOTIFY may come
            // before its 2xx. A resubmission with credentials takes the
            // next number (§22.2), which the NOTIFYs then name.
            // No NOTIFY within 64·T1 (a request's longest wait, RFC 3261
            // §17.1.1.2): the subscription is given up.
            let until = Instant::now() + client.timers().timer_b();
            self.referrals.insert(seq, (tx.clone(), until));
            self.referrals.insert(seq.saturating_add(1), (tx, until));
        }
        let client = client.clone();
        info!(method = %out.method, cseq = seq, "sending the application's request");
        self.jobs.spawn(async move {
            let (request, response, _) = client.send_in_dialog(dr, protocol).await;
            Finished {
                request,
                response,
                refer_seq,
                reply,
            }
        });
    }

    /// The next finished request (pending forever without any).
    pub(super) async fn next(&mut self) -> Option<Finished> {
        if self.jobs.is_empty() {
            return std::future::pending().await;
        }
        match self.jobs.join_next().await {
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                warn!(error = %e, "a request's task failed");
                None
            }
            None => None,
        }
    }

    /// Takes in a finished request: the dialog sees its response
    /// (§12.2.1.2: a 481 or 408 ends it), the REFER's subscription is
    /// kept under the `id` its NOTIFYs will name, or dropped when the
    /// REFER failed or the peer took `Refer-Sub: false` (RFC 4488 §4).
    /// Returns whether the dialog ended.
    pub(super) fn finished(&mut self, dialog: &mut Dialog, f: Finished) -> bool {
        let Finished {
            request,
            response,
            refer_seq,
            reply,
        } = f;
        let sent = request.headers.cseq().map_or(0, |c| c.seq);
        // The CSeq of a resubmission with credentials (§22.2).
        dialog.raise_local_seq(sent);
        dialog.handle_response(&response);
        if let Some(seq) = refer_seq {
            let unused = if sent == seq {
                seq.saturating_add(1)
            } else {
                seq
            };
            self.referrals.remove(&unused);
            // RFC 4488 §4: "Refer-Sub: false" in the 2xx: no subscription.
            let no_sub = response.status.is_success()
                && response
                    .headers
                    .get("Refer-Sub")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
            if !response.status.is_success() || no_sub {
                self.referrals.remove(&sent);
            }
        }
        info!(method = %request.method, status = %response.status, "the application's request answered");
        let _ = reply.send(Ok(response));
        dialog.is_terminated()
    }

    /// The answer to the peer's NOTIFY in the call's dialog (already
    /// checked by the dialog): `200` for one of a live REFER subscription
    /// (its sipfrag status passed on; a `terminated` one ends the
    /// subscription, RFC 6665 §4.1.3), `400` without a usable Event or
    /// Subscription-State, `481` for any other (RFC 6665 §4.1.3: a NOTIFY
    /// matching no subscription).
    pub(super) fn on_notify(&mut self, req: &Request) -> Response {
        let event = match event_of(req) {
            Ok(e) => e,
            Err(resp) => return resp,
        };
        let id = (event.package == REFER_PACKAGE)
            .then(|| event.id().and_then(|i| i.parse::<u32>().ok()))
            .flatten();
        let Some((tx, until)) = id.and_then(|id| self.referrals.get_mut(&id)) else {
            debug!(%event, "NOTIFY for no subscription of ours: 481");
            return req
                .reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
                .reason("Subscription does not exist");
        };
        let state = match notify_state(req) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        // The subscription lasts as the notifier says (RFC 6665 §4.1.3).
        *until = Instant::now()
            + Duration::from_secs(u64::from(state.expires().unwrap_or(REFER_LIFETIME)));
        match sipfrag_status(&req.body) {
            Some(status) => {
                info!(%status, state = %state, "transfer progress");
                if tx.try_send(status).is_err() {
                    debug!(%status, "transfer progress not read: dropped");
                }
            }
            None => debug!("NOTIFY without a sipfrag status line"),
        }
        if state.is_terminated()
            && let Some(id) = id
        {
            self.referrals.remove(&id);
        }
        req.reply(StatusCode::OK)
    }

    /// Whether a REFER subscription of ours is live: the dialog then
    /// outlives the call for its NOTIFYs (RFC 5057 §5.4).
    pub(super) fn has_referrals(&self) -> bool {
        !self.referrals.is_empty()
    }

    /// When the first REFER subscription is given up.
    pub(super) fn referrals_deadline(&self) -> Option<Instant> {
        self.referrals.values().map(|(_, until)| *until).min()
    }

    /// Gives up the REFER subscriptions past their time: their
    /// [`Referral`]s end.
    pub(super) fn expire_referrals(&mut self) {
        let now = Instant::now();
        self.referrals.retain(|id, (_, until)| {
            let live = *until > now;
            if !live {
                info!(id, "REFER subscription given up: no NOTIFY in time");
            }
            live
        });
    }

    /// Whether requests of the application are in progress.
    pub(super) fn in_progress(&self) -> bool {
        !self.jobs.is_empty()
    }
}

/// The progress of a transfer asked for with [`Call::refer`](super::Call::refer)
/// (RFC 3515): the statuses of the call the peer places, from the
/// `message/sipfrag` NOTIFYs of the REFER's implicit subscription (each
/// answered `200` by the call).
pub struct Referral {
    pub(super) response: Response,
    pub(super) reports: mpsc::Receiver<StatusCode>,
}

impl fmt::Debug for Referral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Referral")
            .field("response", &self.response.status)
            .finish_non_exhaustive()
    }
}

impl Referral {
    /// The 2xx that accepted the REFER (`202 Accepted` usually).
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The next status reported (`100 Trying`, `180 Ringing`, then the
    /// final one); `None` once the subscription is terminated (RFC 3515
    /// §2.4.7), when the peer accepted `Refer-Sub: false` (RFC 4488: no
    /// reports at all), or when the call ends.
    pub async fn next(&mut self) -> Option<StatusCode> {
        self.reports.recv().await
    }

    /// Waits for the final status reported (the outcome of the
    /// transfer), skipping the provisional ones; `None` if the
    /// subscription ends without one.
    pub async fn outcome(mut self) -> Option<StatusCode> {
        let mut last = None;
        while let Some(s) = self.next().await {
            last = Some(s);
            if s.is_final() {
                return last;
            }
        }
        last.filter(|s| s.is_final())
    }
}

/// A REFER's progress channel: the [`Referral`]'s end and the call's.
pub(super) fn channel() -> (mpsc::Sender<StatusCode>, mpsc::Receiver<StatusCode>) {
    mpsc::channel(REPORTS)
}

/// The `Replaces` value naming the dialog `(call_id, local_tag,
/// remote_tag)` as its peer sees it (RFC 3891 §3): `to-tag` is the tag of
/// the peer (which receives the INVITE with Replaces), `from-tag` ours.
pub(super) fn replaces(call_id: &str, local_tag: &str, remote_tag: &str) -> String {
    format!("{call_id};to-tag={remote_tag};from-tag={local_tag}")
}

/// The headers a REFER to `refer_to` carries.
pub(super) fn refer_headers(refer_to: &str, subscribe: bool) -> Vec<Header> {
    let mut h = vec![Header::new("Refer-To", refer_to.to_owned())];
    if !subscribe {
        // RFC 4488 §4.
        h.push(Header::new("Refer-Sub", "false"));
        h.push(Header::known(HeaderName::Supported, "norefersub"));
    }
    h
}
