//! Our own requests in the established call, one at a time: the
//! application's UPDATE (RFC 3311) and the session refreshes (RFC 4028
//! §10: an UPDATE, or a re-INVITE), built in the dialog with the session
//! timer's headers, sent in their client transactions, held back after a
//! `491` (RFC 3261 §14.1); and the ACKs for the 2xx to our INVITE and
//! re-INVITEs (§13.2.2.4), sent again for each retransmission. What their
//! responses mean for the call is the session's business (`session.rs`).

use super::super::request::{self, push_via};
use super::super::{Client, Prepared};
use super::CallError;
use super::timer::CallTimer;
use crate::dialog::Dialog;
use crate::endpoint::{ClientEvent, ClientTransaction};
use crate::message::{Method, Request, Response, StatusCode};
use crate::transport::{Protocol, SendOptions, Target};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How many times a request of ours is sent when the peer keeps answering
/// `491`.
pub(super) const ATTEMPTS: u32 = 3;

/// Who waits for the final response of a request of ours.
pub(super) type Reply = oneshot::Sender<Result<Response, CallError>>;

/// A request of ours as last sent, its final response and, after a 2xx to
/// a re-INVITE, its transaction (which passes up the retransmitted 2xx).
pub(super) struct Sent {
    pub(super) request: Request,
    pub(super) response: Response,
    pub(super) tx: Option<ClientTransaction>,
}

type SentFuture = Pin<Box<dyn Future<Output = Sent> + Send>>;

/// Our UPDATE or re-INVITE in progress.
pub(super) struct OurRequest {
    /// UPDATE or INVITE.
    pub(super) method: Method,
    /// The offer (RFC 3264) it carries, if any.
    pub(super) offer: Option<Bytes>,
    /// How many times it was sent.
    pub(super) attempts: u32,
    /// Who waits for its final response: the application's
    /// `Call::update`, or nobody for a session refresh.
    pub(super) reply: Option<Reply>,
    phase: Phase,
}

enum Phase {
    /// In its client transaction.
    Sending(SentFuture),
    /// Answered `491`: sent again at this instant (§14.1).
    Waiting(Instant),
    /// Out of its transaction: not sent yet, or answered.
    Done,
}

impl OurRequest {
    /// Our `method` with `offer`, not sent yet, its final response for
    /// `reply` (`None` for a session refresh).
    pub(super) fn new(method: Method, offer: Option<Bytes>, reply: Option<Reply>) -> OurRequest {
        OurRequest {
            method,
            offer,
            attempts: 0,
            reply,
            phase: Phase::Done,
        }
    }
}

/// What happened to our requests.
pub(super) enum RequestEvent {
    /// The final response of the request in progress, now taken out.
    Answered(OurRequest, Box<Sent>),
    /// The time to send the request in progress again has come.
    Retry,
    /// The 2xx to our last re-INVITE again, from its transaction.
    Retransmitted2xx(Box<Response>),
}

/// The ACK of the last 2xx to our re-INVITE, sent again for each
/// retransmission of that 2xx (§13.2.2.4).
struct AckedReinvite {
    seq: u32,
    ack: Request,
    target: Target,
    /// The re-INVITE's transaction, passing up the retransmissions until
    /// it ends (Timer M).
    tx: Option<ClientTransaction>,
}

/// Our requests in the call: the one in progress and the ACK of the last
/// re-INVITE.
#[derive(Default)]
pub(super) struct OurRequests {
    current: Option<OurRequest>,
    acked: Option<AckedReinvite>,
}

impl OurRequests {
    /// Whether a request of ours is in progress (or waits to be sent
    /// again).
    pub(super) fn is_busy(&self) -> bool {
        self.current.is_some()
    }

    /// Whether an offer of ours waits for its answer: our UPDATE or
    /// re-INVITE with a body, in its transaction (not while it waits to be
    /// sent again).
    pub(super) fn offer_pending(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|o| o.offer.is_some() && matches!(o.phase, Phase::Sending(_)))
    }

    /// Builds `request` in `dialog` (with the session timer's headers) and
    /// sends it, once more; an error goes to its waiter, or to the log for
    /// a refresh.
    pub(super) fn start(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
        timer: &CallTimer,
        mut request: OurRequest,
    ) {
        let built = build_request(
            client,
            dialog,
            target,
            &request.method,
            request.offer.as_ref(),
            timer,
        );
        match built {
            Ok(future) => {
                request.attempts += 1;
                request.phase = Phase::Sending(future);
                self.current = Some(request);
            }
            Err(e) => match request.reply {
                Some(reply) => {
                    let _ = reply.send(Err(e));
                }
                None => warn!(error = %e, method = %request.method, "session refresh not sent"),
            },
        }
    }

    /// Sends `request` again (the same method, offer and waiter) after a
    /// [`RequestEvent::Retry`].
    pub(super) fn restart(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
        timer: &CallTimer,
    ) {
        if let Some(request) = self.current.take() {
            self.start(client, dialog, target, timer, request);
        }
    }

    /// Holds `request`, answered `491`, until `at` (§14.1).
    pub(super) fn wait(&mut self, mut request: OurRequest, at: Instant) {
        request.phase = Phase::Waiting(at);
        self.current = Some(request);
    }

    /// The next event of our requests (pending forever without any).
    pub(super) async fn poll(&mut self) -> RequestEvent {
        let OurRequests { current, acked } = self;
        tokio::select! {
            event = next_step(current) => event,
            r = retransmitted_2xx(acked) => RequestEvent::Retransmitted2xx(Box::new(r)),
        }
    }

    /// Acknowledges the 2xx to our re-INVITE `invite` (§13.2.2.4), and
    /// keeps the ACK for the retransmissions of that 2xx, which `tx` (the
    /// re-INVITE's transaction) passes up.
    pub(super) async fn acknowledge(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
        invite: &Request,
        tx: Option<ClientTransaction>,
    ) {
        let Some(seq) = invite.headers.cseq().map(|c| c.seq) else {
            return;
        };
        if let Some((ack, target)) = send_ack(client, dialog, invite, target.protocol).await {
            self.acked = Some(AckedReinvite {
                seq,
                ack,
                target,
                tx,
            });
        }
    }

    /// The ACK to send again, and where, if `resp` is a retransmission of
    /// the 2xx to our last re-INVITE (§13.2.2.4).
    pub(super) fn ack_again(&self, resp: &Response) -> Option<(Request, Target)> {
        self.acked
            .as_ref()
            .filter(|a| resp.headers.cseq().map(|c| c.seq) == Some(a.seq))
            .map(|a| (a.ack.clone(), a.target))
    }

    /// Our request will not be answered: the call ended first.
    pub(super) fn abandon(&mut self, error: CallError) {
        if let Some(reply) = self.current.take().and_then(|o| o.reply) {
            let _ = reply.send(Err(error));
        }
    }
}

/// The next step of our request `current` (pending forever without one);
/// a final response takes the request out.
async fn next_step(current: &mut Option<OurRequest>) -> RequestEvent {
    let sent = match current.as_mut().map(|r| &mut r.phase) {
        Some(Phase::Sending(future)) => future.await,
        Some(Phase::Waiting(at)) => {
            tokio::time::sleep_until(*at).await;
            return RequestEvent::Retry;
        }
        Some(Phase::Done) | None => return std::future::pending().await,
    };
    match current.take() {
        Some(mut request) => {
            // Its future is spent: never polled again.
            request.phase = Phase::Done;
            RequestEvent::Answered(request, Box::new(sent))
        }
        None => std::future::pending().await,
    }
}

/// The next retransmission of the 2xx to our last re-INVITE, passed up by
/// its transaction until it ends (pending forever then).
async fn retransmitted_2xx(acked: &mut Option<AckedReinvite>) -> Response {
    let Some(a) = acked else {
        return std::future::pending().await;
    };
    while let Some(tx) = &mut a.tx {
        match tx.next().await {
            Some(ClientEvent::Response(r)) if r.status.is_success() => return r,
            Some(_) => {}
            None => a.tx = None,
        }
    }
    std::future::pending().await
}

/// Builds, routes and sends the ACK for a 2xx to `invite`, the INVITE
/// that created `dialog` or a re-INVITE in it (§13.2.2.4: its own
/// transaction, a fresh branch, straight to the transport). Returns it and its destination, to send again for each
/// retransmitted 2xx.
pub(super) async fn send_ack(
    client: &Client,
    dialog: &mut Dialog,
    invite: &Request,
    protocol: Protocol,
) -> Option<(Request, Target)> {
    let dr = match request::ack_for_2xx(dialog, invite) {
        Ok(dr) => dr,
        Err(e) => {
            warn!(error = %e, "cannot build the ACK");
            return None;
        }
    };
    let target = match client.resolve_in_dialog(&dr.next_hop, protocol).await {
        Ok(t) => t,
        Err(e) => {
            warn!(error = %e, next_hop = %dr.next_hop, "cannot route the ACK");
            return None;
        }
    };
    let mut ack = dr.request;
    match client.via_for(&target) {
        Ok(via) => push_via(&mut ack, &via),
        Err(e) => {
            warn!(error = %e, "cannot send the ACK");
            return None;
        }
    }
    debug!(to = %target.addr, "sending ACK");
    if let Err(e) = client
        .endpoint()
        .transport()
        .send_request(&mut ack, target, SendOptions::default())
        .await
    {
        warn!(error = %e, "ACK could not be sent");
    }
    Some((ack, target))
}

/// Sends `ack` again to `target`, for a retransmitted 2xx (§13.2.2.4).
pub(super) async fn resend_ack(client: &Client, mut ack: Request, target: Target) {
    debug!("2xx retransmitted: ACK again");
    if let Err(e) = client
        .endpoint()
        .transport()
        .send_request(&mut ack, target, SendOptions::default())
        .await
    {
        warn!(error = %e, "ACK could not be sent again");
    }
}

/// Builds our UPDATE or re-INVITE in `dialog` (a target refresh, so with
/// our Contact, §12.2.1.1; RFC 3311 §5.1) with `offer` as its
/// `application/sdp` body and the session timer's headers (RFC 4028
/// §7.4), and returns the future that sends it and yields its final
/// response.
fn build_request(
    client: &Client,
    dialog: &mut Dialog,
    target: &Target,
    method: &Method,
    offer: Option<&Bytes>,
    timer: &CallTimer,
) -> Result<SentFuture, CallError> {
    let sips = dialog.is_secure() || super::super::is_sips(&dialog.remote_target());
    let contact = client
        .contact_for(target, sips)
        .map_err(|e| CallError::Protocol(format!("no Contact for the {method}: {e}")))?;
    let dr = dialog
        .create_request(method.clone(), None, Some(&contact))
        .map_err(|e| CallError::Protocol(format!("cannot build the {method}: {e}")))?;
    let mut req = dr.request;
    timer.prepare(&mut req);
    if let Some(sdp) = offer {
        req = request::with_body(req, "application/sdp", sdp.clone());
    }
    let next_hop = dr.next_hop;
    let client = client.clone();
    let protocol = target.protocol;
    Ok(Box::pin(async move {
        let unsent = |req: Request| {
            let response = req.reply(StatusCode::SERVICE_UNAVAILABLE);
            Sent {
                request: req,
                response,
                tx: None,
            }
        };
        let target = match client.resolve_in_dialog(&next_hop, protocol).await {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, next_hop = %next_hop, method = %req.method, "cannot route our request");
                return unsent(req);
            }
        };
        match client.via_for(&target) {
            Ok(via) => push_via(&mut req, &via),
            Err(e) => {
                warn!(error = %e, method = %req.method, "cannot send our request");
                return unsent(req);
            }
        }
        info!(method = %req.method, to = %target.addr, offer = req.body.len(), "sending");
        let (request, response, tx) = client.transact_keeping(Prepared::to(req, target)).await;
        Sent {
            request,
            response,
            tx,
        }
    }))
}
