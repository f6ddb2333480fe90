//! The session of an established call: our UPDATE (RFC 3311) with its
//! retries after `491`, the answers to the peer's UPDATE and re-INVITE
//! (RFC 3264 offer/answer, as far as the client can answer without the
//! application), and the retransmission of our 2xx to a re-INVITE until
//! its ACK (RFC 3261 §13.3.1.4).

use super::super::request::{self, push_via};
use super::super::{Client, Prepared};
use super::CallError;
use crate::dialog::{Dialog, Retransmit2xx, Retransmit2xxOutput};
use crate::message::{Method, Request, Response, StatusCode};
use crate::sdp::SessionDescription;
use crate::transaction::TransactionId;
use crate::transport::Target;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How many times an UPDATE is sent when the peer keeps answering `491`.
pub(super) const UPDATE_ATTEMPTS: u32 = 3;

/// The offer/answer state of an established call.
pub(super) struct Session {
    /// Our session description in force: the INVITE's offer, or the offer
    /// of our last UPDATE answered 2xx with an answer (RFC 3264 §8).
    pub(super) local_sdp: Option<Bytes>,
    /// Our UPDATE in progress, if any.
    pub(super) update: Option<OurUpdate>,
    /// Our 2xx to the peer's re-INVITE, until its ACK.
    pub(super) reinvite: Option<Reinvite2xx>,
}

type UpdateFuture = Pin<Box<dyn Future<Output = (Request, Response)> + Send>>;

/// Our UPDATE (RFC 3311 §5.1) and who waits for its final response.
pub(super) struct OurUpdate {
    offer: Option<String>,
    attempts: u32,
    reply: oneshot::Sender<Result<Response, CallError>>,
    phase: Phase,
}

enum Phase {
    /// In its client transaction.
    Sending(UpdateFuture),
    /// Answered `491`: sent again at this instant (§14.1).
    Waiting(Instant),
}

/// What happened to our UPDATE.
// Made and consumed once per response; boxing would only add a step.
#[allow(clippy::large_enum_variant)]
pub(super) enum UpdateEvent {
    /// Its final response, and the request as last sent (with credentials,
    /// its CSeq is one above the dialog's, §22.2).
    Answered(Request, Response),
    /// The time to send it again has come.
    Retry,
}

/// Our 2xx to a re-INVITE, retransmitted until the ACK (§13.3.1.4).
pub(super) struct Reinvite2xx {
    timer: Retransmit2xx,
    response: Response,
    transaction: TransactionId,
}

/// What the session asks the call after the peer's request.
pub(super) enum Outcome {
    /// Nothing more.
    Continue,
    /// The 2xx to the re-INVITE was never acknowledged: hang up
    /// (§13.3.1.4: "the session SHOULD be terminated").
    HangUp,
}

impl Session {
    pub(super) fn new(local_sdp: Option<Bytes>) -> Session {
        Session {
            local_sdp,
            update: None,
            reinvite: None,
        }
    }

    /// Whether an offer of ours is waiting for its answer: our UPDATE with
    /// a body, in its transaction (not while it waits to be sent again).
    pub(super) fn offer_pending(&self) -> bool {
        self.update
            .as_ref()
            .is_some_and(|u| u.offer.is_some() && matches!(u.phase, Phase::Sending(_)))
    }

    /// Starts our UPDATE with `offer`, or refuses a second one while the
    /// first is in progress (RFC 3311 §5.1: "a UAC MUST NOT send an UPDATE
    /// with an offer while a previous offer is pending"; one at a time
    /// keeps the retries simple).
    pub(super) fn start_update(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
        offer: Option<String>,
        reply: oneshot::Sender<Result<Response, CallError>>,
    ) {
        if self.update.is_some() {
            let _ = reply.send(Err(CallError::UpdateInProgress));
            return;
        }
        match build_update(client, dialog, target, offer.as_deref()) {
            Ok(future) => {
                self.update = Some(OurUpdate {
                    offer,
                    attempts: 1,
                    reply,
                    phase: Phase::Sending(future),
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// The next step of our UPDATE (pending forever without one).
    pub(super) async fn poll_update(&mut self) -> UpdateEvent {
        match &mut self.update {
            Some(OurUpdate {
                phase: Phase::Sending(future),
                ..
            }) => {
                let (request, response) = future.await;
                UpdateEvent::Answered(request, response)
            }
            Some(OurUpdate {
                phase: Phase::Waiting(at),
                ..
            }) => {
                tokio::time::sleep_until(*at).await;
                UpdateEvent::Retry
            }
            None => std::future::pending().await,
        }
    }

    /// Handles what [`poll_update`](Self::poll_update) reported. After a
    /// `491`, the UPDATE waits "a randomly chosen value between 2.1 and 4
    /// seconds in units of 10 ms" (RFC 3261 §14.1, as RFC 3311 §5.1 asks:
    /// we sent the INVITE, so we own the Call-ID) and goes again, up to
    /// [`UPDATE_ATTEMPTS`] times; the last `491` is the answer.
    pub(super) fn on_update_event(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
        event: UpdateEvent,
    ) {
        let Some(mut update) = self.update.take() else {
            return;
        };
        match event {
            UpdateEvent::Retry => {
                update.attempts += 1;
                match build_update(client, dialog, target, update.offer.as_deref()) {
                    Ok(future) => {
                        update.phase = Phase::Sending(future);
                        self.update = Some(update);
                    }
                    Err(e) => {
                        let _ = update.reply.send(Err(e));
                    }
                }
            }
            UpdateEvent::Answered(sent, resp) => {
                // The CSeq of a resubmission with credentials (§22.2).
                if let Some(c) = sent.headers.cseq() {
                    dialog.raise_local_seq(c.seq);
                }
                // §12.2.1.2: the remote target of a 2xx to a target refresh,
                // and a 481 or 408 ending the dialog.
                dialog.handle_response(&resp);
                if resp.status == StatusCode::REQUEST_PENDING
                    && update.attempts < UPDATE_ATTEMPTS
                    && !dialog.is_terminated()
                {
                    let delay = retry_delay();
                    info!(
                        attempt = update.attempts,
                        delay_ms = delay.as_millis() as u64,
                        "UPDATE answered 491; sending it again later (RFC 3261 §14.1)"
                    );
                    update.phase = Phase::Waiting(Instant::now() + delay);
                    self.update = Some(update);
                    return;
                }
                info!(status = %resp.status, "UPDATE answered");
                if resp.status.is_success()
                    && let Some(offer) = &update.offer
                {
                    if resp.headers.content_is_sdp() && !resp.body.is_empty() {
                        // RFC 3264 §8: the offer, now answered, is in force.
                        self.local_sdp = Some(Bytes::from(offer.clone()));
                    } else {
                        warn!("2xx to our UPDATE offer without an SDP answer (RFC 3311 §5.2)");
                    }
                }
                let _ = update.reply.send(Ok(resp));
            }
        }
    }

    /// Our UPDATE will not be answered: the call ended first.
    pub(super) fn abandon_update(&mut self, error: CallError) {
        if let Some(update) = self.update.take() {
            let _ = update.reply.send(Err(error));
        }
    }

    /// The answer to the peer's UPDATE or re-INVITE `req`, already
    /// accepted by the dialog (§12.2.2): its status and the body it
    /// carries (our description, `application/sdp`).
    ///
    /// * An UPDATE without a body: a session refresh, `200` (RFC 3311
    ///   §5.2), even while our offer is out (it carries none).
    /// * An offer crossing our UPDATE offer: `491` (RFC 3311 §5.2: "If an
    ///   UPDATE is received that contains an offer, and the UAS has
    ///   generated an offer ... to which it has not yet received an answer,
    ///   the UAS MUST reject the UPDATE with a 491"; the same for a
    ///   re-INVITE, RFC 3261 §14.2). So does a re-INVITE without a body
    ///   then, since our 2xx would have to carry a second offer.
    /// * An offer with as many streams, of the same kinds, as our
    ///   description: `200` with our description unchanged as the answer
    ///   (RFC 3264 §6, §8).
    /// * A re-INVITE without a body asks for our offer (RFC 3261 §14.2):
    ///   `200` with our description, the peer's answer coming in the ACK.
    /// * Anything else: `488`, the session goes on unchanged (RFC 3261
    ///   §14.2, RFC 3311 §5.2).
    pub(super) fn answer(&self, req: &Request) -> (StatusCode, Option<Bytes>) {
        let offer = !req.body.is_empty();
        if req.method == Method::Update && !offer {
            return (StatusCode::OK, None);
        }
        if self.offer_pending() {
            return (StatusCode::REQUEST_PENDING, None);
        }
        let Some(ours) = &self.local_sdp else {
            return (StatusCode::NOT_ACCEPTABLE_HERE, None);
        };
        if !offer || (req.headers.content_is_sdp() && same_streams(ours, &req.body)) {
            (StatusCode::OK, Some(ours.clone()))
        } else {
            (StatusCode::NOT_ACCEPTABLE_HERE, None)
        }
    }

    /// Starts retransmitting `response`, our 2xx to the re-INVITE on
    /// server transaction `transaction`, until its ACK (§13.3.1.4; over an
    /// unreliable transport only, the wait for the ACK in any case).
    pub(super) fn reinvite_answered(
        &mut self,
        client: &Client,
        dialog: &Dialog,
        transaction: TransactionId,
        response: Response,
        reliable: bool,
    ) {
        let Some(seq) = response.headers.cseq().map(|c| c.seq) else {
            return;
        };
        let timer = Retransmit2xx::new(
            dialog.id().clone(),
            seq,
            client.timers(),
            reliable,
            Instant::now().into_std(),
        );
        if let Some(old) = &mut self.reinvite {
            old.timer.stop();
        }
        self.reinvite = Some(Reinvite2xx {
            timer,
            response,
            transaction,
        });
    }

    /// An ACK in the dialog: stops the retransmission of the 2xx it
    /// acknowledges. Never answered (§17.1.1.3).
    pub(super) fn on_ack(&mut self, ack: &Request) {
        if self
            .reinvite
            .as_mut()
            .is_some_and(|r| r.timer.handle_ack(ack))
        {
            debug!("ACK for our 2xx to the re-INVITE");
            self.reinvite = None;
        } else {
            debug!("ACK matching no 2xx of ours dropped");
        }
    }

    /// When the 2xx to the re-INVITE is due again, or given up.
    pub(super) fn reinvite_deadline(&self) -> Option<Instant> {
        self.reinvite
            .as_ref()
            .and_then(|r| r.timer.poll_timeout())
            .map(Instant::from_std)
    }

    /// Fires the 2xx retransmission timer.
    pub(super) fn on_reinvite_timer(&mut self, client: &Client) -> Outcome {
        let Some(r) = &mut self.reinvite else {
            return Outcome::Continue;
        };
        r.timer.handle_timeout(Instant::now().into_std());
        let mut outcome = Outcome::Continue;
        while let Some(out) = r.timer.poll_output() {
            match out {
                Retransmit2xxOutput::Retransmit => {
                    debug!("2xx to the re-INVITE retransmitted");
                    client.endpoint().respond(r.transaction, r.response.clone());
                }
                Retransmit2xxOutput::GiveUp => {
                    warn!(
                        "no ACK for our 2xx to the re-INVITE within 64*T1: hanging up (§13.3.1.4)"
                    );
                    outcome = Outcome::HangUp;
                }
            }
        }
        if r.timer.is_done() {
            self.reinvite = None;
        }
        outcome
    }
}

/// §14.1: "If the UAC is the owner of the Call-ID of the dialog ID
/// (meaning it generated the value), T has a randomly chosen value between
/// 2.1 and 4 seconds in units of 10 ms."
pub(super) fn retry_delay() -> Duration {
    Duration::from_millis(2100 + (crate::random::u64() % 191) * 10)
}

/// Whether `offer` has as many media streams as `ours`, of the same kinds
/// in the same order (`m=` lines): then ours, unchanged, answers it
/// (RFC 3264 §6: one answer stream per offered stream, §8: an unchanged
/// description keeps its version).
pub(super) fn same_streams(ours: &[u8], offer: &[u8]) -> bool {
    let (Ok(ours), Ok(offer)) = (
        SessionDescription::from_bytes(ours),
        SessionDescription::from_bytes(offer),
    ) else {
        return false;
    };
    ours.media.len() == offer.media.len()
        && ours
            .media
            .iter()
            .zip(&offer.media)
            .all(|(a, b)| a.media.eq_ignore_ascii_case(&b.media))
}

/// Builds our UPDATE in `dialog` (RFC 3311 §5.1: a target refresh, so with
/// our Contact, §12.2.1.1) with `offer` as its `application/sdp` body, and
/// returns the future that sends it and yields its final response.
fn build_update(
    client: &Client,
    dialog: &mut Dialog,
    target: &Target,
    offer: Option<&str>,
) -> Result<UpdateFuture, CallError> {
    let sips = dialog.is_secure() || super::super::is_sips(&dialog.remote_target());
    let contact = client
        .contact_for(target, sips)
        .map_err(|e| CallError::Protocol(format!("no Contact for the UPDATE: {e}")))?;
    let dr = dialog
        .create_request(Method::Update, None, Some(&contact))
        .map_err(|e| CallError::Protocol(format!("cannot build the UPDATE: {e}")))?;
    let mut req = dr.request;
    if let Some(sdp) = offer {
        req = request::with_body(req, "application/sdp", Bytes::from(sdp.to_owned()));
    }
    let next_hop = dr.next_hop;
    let client = client.clone();
    let protocol = target.protocol;
    Ok(Box::pin(async move {
        let target = match client.resolve_in_dialog(&next_hop, protocol).await {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, next_hop = %next_hop, "cannot route the UPDATE");
                let resp = req.reply(StatusCode::SERVICE_UNAVAILABLE);
                return (req, resp);
            }
        };
        match client.via_for(&target) {
            Ok(via) => push_via(&mut req, &via),
            Err(e) => {
                warn!(error = %e, "cannot send the UPDATE");
                let resp = req.reply(StatusCode::SERVICE_UNAVAILABLE);
                return (req, resp);
            }
        }
        info!(to = %target.addr, offer = req.body.len(), "sending UPDATE");
        client
            .transact(Prepared {
                request: req,
                target,
            })
            .await
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDIO: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

    #[test]
    fn streams_compare_by_count_and_kind() {
        assert!(same_streams(AUDIO.as_bytes(), AUDIO.as_bytes()));
        let other_port = AUDIO.replace("40000", "50000");
        assert!(same_streams(AUDIO.as_bytes(), other_port.as_bytes()));
        let video = format!("{AUDIO}m=video 40002 RTP/AVP 96\r\n");
        assert!(!same_streams(AUDIO.as_bytes(), video.as_bytes()));
        let swapped = AUDIO.replace("m=audio", "m=video");
        assert!(!same_streams(AUDIO.as_bytes(), swapped.as_bytes()));
        assert!(!same_streams(AUDIO.as_bytes(), b"not sdp"));
    }

    #[test]
    fn the_retry_delay_of_the_call_id_owner() {
        for _ in 0..2000 {
            let d = retry_delay();
            assert!(d >= Duration::from_millis(2100) && d <= Duration::from_secs(4));
            assert_eq!(d.as_millis() % 10, 0);
        }
    }
}
