//! The session of an established call: its offer/answer state; our
//! UPDATE and the session refreshes (RFC 4028 §10), with what their final
//! responses do to the dialog, our description and the session timer (the
//! requests themselves are in `ours`); the answers to the peer's UPDATE
//! and re-INVITE (RFC 3264 offer/answer, as far as the client can answer
//! without the application; RFC 4028 §9 for their session timer); and the
//! retransmission of our 2xx to a re-INVITE until its ACK (RFC 3261
//! §13.3.1.4).

use super::ours::{ATTEMPTS, OurRequest, OurRequests, Reply, RequestEvent, Sent, resend_ack};
use super::timer::CallTimer;
use super::{CallError, Offer};
use crate::client::Client;
use crate::dialog::{Dialog, Retransmit2xx, Retransmit2xxOutput, SessionTimerAction};
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::sdp::SessionDescription;
use crate::transaction::TransactionId;
use crate::transport::Target;
use bytes::Bytes;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// The offer/answer state of an established call.
pub(super) struct Session {
    /// Our session description in force: the INVITE's offer, or the offer
    /// of our last UPDATE or re-INVITE answered 2xx with an answer (RFC
    /// 3264 §8).
    pub(super) local_sdp: Option<Bytes>,
    /// Our UPDATE or re-INVITE in progress, and the ACK of our last
    /// re-INVITE.
    ours: OurRequests,
    /// Our 2xx to the peer's re-INVITE, until its ACK.
    pub(super) reinvite: Option<Reinvite2xx>,
    /// The session timer (RFC 4028).
    pub(super) timer: CallTimer,
}

/// Our 2xx to a re-INVITE, retransmitted until the ACK (§13.3.1.4).
pub(super) struct Reinvite2xx {
    timer: Retransmit2xx,
    response: Response,
    transaction: TransactionId,
}

/// What the session asks the call.
pub(super) enum Outcome {
    /// Nothing more.
    Continue,
    /// The 2xx to the re-INVITE was never acknowledged: hang up
    /// (§13.3.1.4: "the session SHOULD be terminated").
    HangUp,
    /// The session expired (RFC 4028 §10): hang up; the call ends with
    /// `CallEnd::SessionExpired`.
    Expired,
    /// A request of ours was answered `481` or `408`, which ended the
    /// dialog (§12.2.1.2): the call is over, without BYE.
    Ended(String),
}

impl Session {
    pub(super) fn new(local_sdp: Option<Bytes>, timer: CallTimer) -> Session {
        Session {
            local_sdp,
            ours: OurRequests::default(),
            reinvite: None,
            timer,
        }
    }

    /// Whether an offer of ours is waiting for its answer: our UPDATE or
    /// re-INVITE with a body, in its transaction.
    pub(super) fn offer_pending(&self) -> bool {
        self.ours.offer_pending()
    }

    /// Starts our UPDATE or re-INVITE with `offer`, or refuses it while
    /// another request of ours is in progress (RFC 3311 §5.1: "a UAC MUST
    /// NOT send an UPDATE with an offer while a previous offer is
    /// pending"; RFC 3261 §14.1: no re-INVITE while another INVITE
    /// transaction is in progress; one at a time keeps the retries
    /// simple).
    pub(super) fn start_update(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
        offer: Offer,
        reply: Reply,
    ) {
        if self.ours.is_busy() {
            let _ = reply.send(Err(CallError::UpdateInProgress));
            return;
        }
        let (method, offer) = match offer {
            Offer::Update(sdp) => (Method::Update, sdp.map(Bytes::from)),
            Offer::Reinvite(sdp) => (Method::Invite, Some(Bytes::from(sdp))),
            Offer::Hold(on) => {
                let in_force = self
                    .local_sdp
                    .as_ref()
                    .and_then(|b| SessionDescription::from_bytes(b).ok());
                let Some(in_force) = in_force else {
                    let missing = "no session description of ours in force".to_owned();
                    let _ = reply.send(Err(CallError::Protocol(missing)));
                    return;
                };
                let offer = if on {
                    in_force.held()
                } else {
                    in_force.resumed()
                };
                (Method::Invite, Some(Bytes::from(offer.to_string())))
            }
        };
        let request = OurRequest::new(method, offer, Some(reply));
        self.ours
            .start(client, dialog, target, &self.timer, request);
    }

    /// Fires the session timer (RFC 4028 §10): a refresh goes out (or
    /// waits for our request in progress, whose 2xx refreshes the session
    /// too); [`Outcome::Expired`] when the session is over.
    pub(super) fn on_session_timer(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
    ) -> Outcome {
        match self.timer.fire() {
            Some(SessionTimerAction::Expire) => Outcome::Expired,
            Some(SessionTimerAction::Refresh) if self.ours.is_busy() => {
                debug!("refresh due while a request of ours is in progress");
                self.timer.refresh_due = true;
                Outcome::Continue
            }
            Some(SessionTimerAction::Refresh) => {
                self.start_refresh(client, dialog, target);
                Outcome::Continue
            }
            None => Outcome::Continue,
        }
    }

    /// Sends a session refresh (RFC 4028 §10): UPDATE without a body when
    /// the peer allows it ("UPDATE is RECOMMENDED", as it carries no
    /// offer), else a re-INVITE offering our description in force
    /// unchanged. Without a description of ours, UPDATE all the same: a
    /// re-INVITE without an offer would need our answer in the ACK.
    fn start_refresh(&mut self, client: &Client, dialog: &mut Dialog, target: &Target) {
        let (method, offer) = match (&self.local_sdp, self.timer.peer_allows_update) {
            (Some(sdp), false) => (Method::Invite, Some(sdp.clone())),
            _ => (Method::Update, None),
        };
        info!(%method, "refreshing the session (RFC 4028 §10)");
        let request = OurRequest::new(method, offer, None);
        self.ours
            .start(client, dialog, target, &self.timer, request);
    }

    /// The next event of our requests (pending forever without any).
    pub(super) async fn poll_request(&mut self) -> RequestEvent {
        self.ours.poll().await
    }

    /// The ACK to send again, and where, if `resp` is a retransmission of
    /// the 2xx to our last re-INVITE (§13.2.2.4).
    pub(super) fn ack_again(&self, resp: &Response) -> Option<(Request, Target)> {
        self.ours.ack_again(resp)
    }

    /// Handles what [`poll_request`](Self::poll_request) reported.
    ///
    /// After a `491`, the request waits "a randomly chosen value between
    /// 2.1 and 4 seconds in units of 10 ms" (RFC 3261 §14.1, as RFC 3311
    /// §5.1 asks: we sent the INVITE, so we own the Call-ID) and goes
    /// again, up to [`ATTEMPTS`] times; the last `491` is the answer.
    /// A 2xx to a re-INVITE is acknowledged (§13.2.2.4), and any 2xx
    /// restarts the session timer (RFC 4028 §10). For a session refresh
    /// (§10): `408` or a timeout ends the session with BYE
    /// ([`Outcome::Expired`]), `481` without ([`Outcome::Ended`], as for
    /// any request of ours, RFC 3261 §12.2.1.2), and `405`/`501` to an
    /// UPDATE has it sent again as a re-INVITE.
    pub(super) async fn on_request_event(
        &mut self,
        client: &Client,
        dialog: &mut Dialog,
        target: &Target,
        event: RequestEvent,
    ) -> Outcome {
        let (mut ours, sent) = match event {
            RequestEvent::Retransmitted2xx(r) => {
                if let Some((ack, to)) = self.ours.ack_again(&r) {
                    resend_ack(client, ack, to).await;
                }
                return Outcome::Continue;
            }
            RequestEvent::Retry => {
                self.ours.restart(client, dialog, target, &self.timer);
                return Outcome::Continue;
            }
            RequestEvent::Answered(ours, sent) => (ours, *sent),
        };
        let Sent {
            request: sent,
            response: resp,
            tx,
        } = sent;
        let method = ours.method.clone();
        // The CSeq of a resubmission with credentials (§22.2).
        if let Some(c) = sent.headers.cseq() {
            dialog.raise_local_seq(c.seq);
        }
        let refresh = ours.reply.is_none();
        // RFC 4028 §10: "If the session refresh request transaction times
        // out or generates a 408 response, then the UAC sends a BYE
        // request". Before the dialog sees the 408, which would end it
        // (§12.2.1.2) and leave no dialog to send the BYE in.
        if refresh && resp.status == StatusCode::REQUEST_TIMEOUT {
            warn!(%method, "session refresh timed out or answered 408: hanging up (RFC 4028 §10)");
            return Outcome::Expired;
        }
        // §12.2.1.2: the remote target of a 2xx to a target refresh, and a
        // 481 or 408 ending the dialog; §14.1: the end of our INVITE.
        dialog.handle_response(&resp);
        if resp.status == StatusCode::REQUEST_PENDING
            && ours.attempts < ATTEMPTS
            && !dialog.is_terminated()
        {
            // We sent the INVITE: we own the Call-ID (§14.1).
            let delay = crate::dialog::glare_delay(true);
            info!(
                %method,
                attempt = ours.attempts,
                delay_ms = delay.as_millis() as u64,
                "answered 491; sending it again later (RFC 3261 §14.1)"
            );
            self.ours.wait(ours, Instant::now() + delay);
            return Outcome::Continue;
        }
        info!(%method, status = %resp.status, "our request answered");
        let status = resp.status;
        if status.is_success() {
            if method == Method::Invite {
                self.ours
                    .acknowledge(client, dialog, target, &sent, tx)
                    .await;
            }
            self.timer.on_our_2xx(&resp);
            if let Some(offer) = &ours.offer {
                if resp.headers.content_is_sdp() && !resp.body.is_empty() {
                    // RFC 3264 §8: the offer, now answered, is in force.
                    self.local_sdp = Some(offer.clone());
                } else {
                    // RFC 3311 §5.2, RFC 3261 §13.2.1: the 2xx carries the
                    // answer.
                    warn!(%method, "2xx to our offer without an SDP answer");
                }
            }
        }
        if let Some(reply) = ours.reply.take() {
            let _ = reply.send(Ok(resp));
        }
        if dialog.is_terminated() {
            return Outcome::Ended(format!("{method} answered {status}"));
        }
        if status.is_success() {
            return Outcome::Continue;
        }
        if !refresh {
            if self.timer.refresh_due {
                self.start_refresh(client, dialog, target);
            }
        } else if matches!(status.as_u16(), 405 | 501)
            && method == Method::Update
            && self.local_sdp.is_some()
        {
            debug!(%status, "UPDATE refused: refreshing by re-INVITE (RFC 4028 §10)");
            self.timer.peer_allows_update = false;
            self.start_refresh(client, dialog, target);
        } else {
            warn!(%method, %status, "session refresh refused: the session ends unless the peer refreshes it");
        }
        Outcome::Continue
    }

    /// Our request will not be answered: the call ended first.
    pub(super) fn abandon_request(&mut self, error: CallError) {
        self.ours.abandon(error);
    }

    /// The response to the peer's UPDATE or re-INVITE `req`, already
    /// accepted by the dialog (§12.2.2): `422` for a session interval below
    /// our Min-SE (RFC 4028 §9), else the answer of
    /// [`answer`](Self::answer), a 2xx completed with the session timer it
    /// puts in force (RFC 4028 §9, §10: the peer's refresh).
    pub(super) fn respond(&mut self, req: &Request) -> Response {
        if let Some(too_small) = self.timer.check(req) {
            debug!(method = %req.method, "session interval too small: 422 (RFC 4028 §9)");
            return too_small;
        }
        let (status, body) = self.answer(req);
        let mut resp = req.reply(status);
        if let Some(sdp) = body {
            resp.headers.set(HeaderName::ContentType, "application/sdp");
            resp.body = sdp;
        }
        self.timer.answer(req, &mut resp);
        resp
    }

    /// The answer to the peer's UPDATE or re-INVITE `req`, already
    /// accepted by the dialog (§12.2.2): its status and the body it
    /// carries (our description, `application/sdp`).
    ///
    /// * An UPDATE without a body: a session refresh, `200` (RFC 3311
    ///   §5.2), even while our offer is out (it carries none).
    /// * An offer crossing our UPDATE or re-INVITE offer: `491` (RFC 3311
    ///   §5.2: "If an
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
        if !offer || (req.headers.content_is_sdp() && crate::sdp::same_streams(ours, &req.body)) {
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
