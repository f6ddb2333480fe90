//! Transfers carried out by the bridge (RFC 3515, RFC 5589), with
//! [`Bridge::transfers`] on:
//!
//! * the caller's REFER (the caller is the transferor, the callee the
//!   transferee): a new call to the `Refer-To` target offering the
//!   callee's description; once answered, the callee is offered the
//!   target's (re-INVITE) and the two outgoing calls are joined, the
//!   caller left to hang up (RFC 5589 §6);
//! * the callee's REFER (the callee is the transferor, the caller the
//!   transferee): a new call to the target offering the caller's
//!   description; once answered, the caller is offered the target's
//!   ([`Context::offer`]) and the new call takes the callee's place, the
//!   callee hung up.
//!
//! The `Refer-To` URI's headers go into the new INVITE (RFC 3261
//! §19.1.5): an attended transfer's `Replaces` (RFC 3891) reaches the
//! target, which replaces its call with the transferor by the new one.
//! The new call's progress goes to the referrer in the NOTIFYs of the
//! REFER's implicit subscription (§2.4.5); a failure leaves the call as it
//! was.

use super::joined::{self, Side as JoinedSide};
use super::relay::{sdp_body, status_of};
use super::watch::Watcher;
use super::{Bridge, BridgeEvent, Leg};
use crate::client::{Call, Client, InviteOptions, PeerRequest, Progress, ReferReports};
use crate::message::{HeaderName, NameAddr, Request, Response, StatusCode, Uri};
use crate::server::{Action, Context, DialogHandle, ReferProgress};
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::{Instrument, debug, info, warn};

/// Who sent the REFER a transfer carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Referrer {
    /// The caller (the server's side): the callee is joined to the target.
    Caller,
    /// The callee (the client's side): the caller is joined to the target.
    Callee,
}

/// A transfer's call in progress, placed by a task of its own.
pub(super) struct Transfer {
    /// Dropped with the bridge: the task then cancels the call.
    _stop: oneshot::Sender<()>,
    /// The call once answered, its SDP answer and the REFER's progress.
    answered: oneshot::Receiver<Answered>,
    referrer: Referrer,
}

/// A transfer's call, answered.
struct Answered {
    call: Call,
    answer: Bytes,
    progress: Reports,
    /// The call was handed over by another bridge (an attended transfer
    /// between two calls here): its callee has another description and
    /// must be offered the transferee's.
    reoffer: bool,
    /// Its requests, when they were taken already.
    requests: Option<crate::client::PeerRequests>,
}

/// Where a transfer's progress goes: the NOTIFYs of the REFER's implicit
/// subscription, sent by the server (the caller's REFER) or by the
/// client (the callee's), or nowhere (`Refer-Sub: false`, RFC 4488).
#[derive(Default)]
enum Reports {
    Caller(ReferProgress),
    Callee(ReferReports),
    #[default]
    None,
}

impl Reports {
    fn report(&mut self, status: StatusCode) {
        match self {
            Reports::Caller(p) => {
                p.report(status);
            }
            Reports::Callee(r) => {
                r.report(status);
            }
            Reports::None => {}
        }
    }
}

impl Bridge {
    /// The caller's REFER inside the bridged call (RFC 3515), answered:
    /// with [`transfers`](Self::transfers) on, a transfer of the callee
    /// carried out here (see the [module documentation](super)): `202
    /// Accepted` (RFC 3515 §2.4.2), and a new call to the `Refer-To`
    /// target (its URI headers, such as an attended transfer's
    /// `Replaces`, in the INVITE) placed in the background with the
    /// callee's session description in force as its offer, given up
    /// after [`no_answer_timeout`](Self::no_answer_timeout) (`408`). Its
    /// provisional responses (but `100`) and its outcome go to the caller
    /// through [`Context::refer_progress`] (the runtime's NOTIFYs, RFC
    /// 3515 §2.4.5); its answer or failure comes back to the dialog as a
    /// [`BridgeEvent`] for [`Bridge::event`].
    ///
    /// Refused: transfers off (`403`), no call bridged yet (`403`), a
    /// transfer already in progress (`491`), no usable `Refer-To` (`400`).
    pub async fn refer<E>(&mut self, req: &Request, cx: &mut Context<'_, E>) -> Response
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        if let Some(refusal) = self.refer_refusal(req) {
            return refusal;
        }
        let Some(refer_to) = cx.refer_to() else {
            return req.reply(StatusCode::BAD_REQUEST).reason("Bad Refer-To");
        };
        let Leg::Up(up) = &self.leg else {
            return req.reply(StatusCode::FORBIDDEN);
        };
        let target = refer_to.into_uri();
        let offer = up.answer.clone();
        let client = up.client.clone();
        let progress = match cx.refer_progress() {
            Some(p) => Reports::Caller(p),
            None => Reports::None,
        };
        // RFC 5589 §7: an attended transfer to a call of this server.
        let replaced = replaces_in(&target).and_then(|r| {
            let me = cx.handle();
            (r.dialog_id() != *me.dialog_id())
                .then(|| self.registry.as_ref()?.ask(&r.dialog_id()))
                .flatten()
        });
        if let Some(surrendered) = replaced {
            info!(%target, "REFER from the caller: joining the callee to its other call here (202)");
            self.take_over(surrendered, progress, cx.handle());
            return req.reply(StatusCode::ACCEPTED);
        }
        info!(%target, "REFER from the caller: calling the new target (202)");
        self.place(
            client,
            target,
            offer,
            progress,
            Referrer::Caller,
            cx.handle(),
        );
        // RFC 3515 §2.4.2: accepted; the runtime sends NOTIFY 100 (§2.4.4).
        req.reply(StatusCode::ACCEPTED)
    }

    /// Why a REFER is refused now, if it is.
    fn refer_refusal(&self, req: &Request) -> Option<Response> {
        if !self.transfers {
            info!("REFER: transfers are off (403)");
            return Some(
                req.reply(StatusCode::FORBIDDEN)
                    .reason("Transfers Not Allowed"),
            );
        }
        if !matches!(self.leg, Leg::Up(_)) {
            info!("REFER with no call bridged (403)");
            return Some(
                req.reply(StatusCode::FORBIDDEN)
                    .reason("No Call To Transfer"),
            );
        }
        if self.transfer.is_some() {
            info!("REFER while a transfer is in progress (491)");
            return Some(req.reply(StatusCode::REQUEST_PENDING));
        }
        None
    }

    /// The callee's REFER (RFC 3515): a transfer of the caller, carried
    /// out as the caller's is (see [`Bridge::refer`]) with the caller's
    /// description as the offer, its progress reported to the callee by
    /// the client's NOTIFYs.
    pub(super) fn callee_refer<E>(&mut self, r: PeerRequest, cx: &mut Context<'_, E>)
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        if let Some(refusal) = self.refer_refusal(r.request()) {
            r.respond(refusal);
            return;
        }
        let refer_to = r
            .request()
            .headers
            .get(HeaderName::ReferTo)
            .and_then(|v| v.parse::<NameAddr>().ok());
        let (Some(refer_to), Leg::Up(up)) = (refer_to, &self.leg) else {
            let resp = r
                .request()
                .reply(StatusCode::BAD_REQUEST)
                .reason("Bad Refer-To");
            r.respond(resp);
            return;
        };
        let target = refer_to.into_uri();
        let offer = up.caller_offer.clone();
        let client = up.client.clone();
        info!(%target, "REFER from the callee: calling the new target (202)");
        let progress = Reports::Callee(r.accept_refer());
        self.place(
            client,
            target,
            offer,
            progress,
            Referrer::Callee,
            cx.handle(),
        );
    }

    /// Waits, in a task, for the callee's leg another bridge hands over
    /// (an attended transfer between two calls here), then joins it to
    /// this callee as a transfer's answered call.
    fn take_over<E>(
        &mut self,
        surrendered: oneshot::Receiver<super::registry::Surrendered>,
        mut progress: Reports,
        dialog: DialogHandle<E>,
    ) where
        E: From<BridgeEvent> + Send + 'static,
    {
        let (stop_tx, mut stop) = oneshot::channel::<()>();
        let (answered_tx, answered) = oneshot::channel();
        let task = async move {
            let leg = tokio::select! {
                _ = &mut stop => return,
                leg = surrendered => leg,
            };
            match leg {
                Ok(leg) => {
                    let answered = Answered {
                        call: leg.call,
                        answer: leg.sdp,
                        progress,
                        reoffer: true,
                        requests: leg.requests,
                    };
                    if answered_tx.send(answered).is_ok() {
                        let _ = dialog.send(E::from(BridgeEvent::TransferAnswered));
                    }
                }
                Err(_) => {
                    // RFC 3891 §3: the call to replace is gone.
                    info!("the call to join is gone (481)");
                    progress.report(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
                    let status = StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST;
                    let _ = dialog.send(E::from(BridgeEvent::TransferFailed(status)));
                }
            }
        };
        tokio::spawn(task.instrument(tracing::Span::current()));
        self.transfer = Some(Transfer {
            _stop: stop_tx,
            answered,
            referrer: Referrer::Caller,
        });
    }

    /// Hands the callee's leg over to the bridge that asked for it (an
    /// attended transfer, see [`Bridges`](super::Bridges)) and ends the
    /// caller's call, which the transfer replaces (RFC 3891 §3).
    pub(super) async fn hand_over(&mut self, handover: super::Handover) -> Action {
        let Leg::Up(up) = std::mem::replace(&mut self.leg, Leg::Handed) else {
            debug!("asked for a callee's leg this bridge does not hold");
            return Action::NoReply;
        };
        self.transfer = None;
        let super::Up {
            call,
            answer,
            watcher,
            ..
        } = *up;
        let requests = watcher.take_back().await;
        let leg = super::registry::Surrendered {
            call,
            requests,
            sdp: answer,
        };
        if handover.0.send(leg).is_err() {
            debug!("the bridge that asked is gone: the callee's leg hung up");
        }
        info!("callee's leg handed over (attended transfer): hanging up the caller");
        Action::Stop("replaced by an attended transfer (RFC 3891)".to_owned())
    }

    /// Starts the transfer's call to `target` offering `offer`.
    fn place<E>(
        &mut self,
        client: Client,
        target: Uri,
        offer: Bytes,
        progress: Reports,
        referrer: Referrer,
        dialog: DialogHandle<E>,
    ) where
        E: From<BridgeEvent> + Send + 'static,
    {
        let (stop_tx, stop) = oneshot::channel();
        let (answered_tx, answered) = oneshot::channel();
        let placing = Placing {
            client,
            target,
            offer,
            no_answer: self.no_answer,
            progress,
            stop,
            answered: answered_tx,
            dialog,
        };
        tokio::spawn(placing.run().instrument(tracing::Span::current()));
        self.transfer = Some(Transfer {
            _stop: stop_tx,
            answered,
            referrer,
        });
    }

    /// The transfer's call is answered: joined to the callee (the
    /// caller's REFER) or put in the callee's place (the callee's).
    pub(super) async fn transfer_answered<E>(&mut self, cx: &mut Context<'_, E>)
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        let Some(mut transfer) = self.transfer.take() else {
            return;
        };
        let Ok(answered) = transfer.answered.try_recv() else {
            debug!("transfer's call already gone");
            return;
        };
        match transfer.referrer {
            Referrer::Caller => self.join_to_callee(answered).await,
            Referrer::Callee => self.replace_callee(answered, cx).await,
        }
    }

    /// The caller's transfer: the callee is offered the target's
    /// description in a re-INVITE; accepted, the two calls are joined and
    /// the caller's leg holds nothing more (its BYE ends only it).
    async fn join_to_callee(&mut self, answered: Answered) {
        let Answered {
            mut call,
            answer,
            mut progress,
            reoffer,
            requests,
        } = answered;
        let Leg::Up(up) = &mut self.leg else {
            // Dropping the call hangs it up.
            progress.report(StatusCode::REQUEST_TERMINATED);
            return;
        };
        info!(
            outgoing = call.call_id(),
            "transfer answered: the callee offered the target's description"
        );
        let text = String::from_utf8_lossy(&answer).into_owned();
        match up.call.reinvite(text).await {
            Ok(r) if r.status.is_success() => {
                let callee_answer = sdp_body(&r).unwrap_or_else(|| up.answer.clone());
                if reoffer {
                    // The target's leg had another peer: it is offered
                    // the callee's description in turn.
                    let text = String::from_utf8_lossy(&callee_answer).into_owned();
                    match call.reinvite(text).await {
                        Ok(r) if r.status.is_success() => {}
                        Ok(r) => {
                            info!(status = %r.status, "the target refused the callee's description");
                            progress.report(r.status);
                            return;
                        }
                        Err(error) => {
                            warn!(%error, "the target's leg is gone");
                            progress.report(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
                            return;
                        }
                    }
                }
                let Leg::Up(up) = std::mem::replace(&mut self.leg, Leg::Handed) else {
                    return;
                };
                let super::Up {
                    call: callee,
                    watcher,
                    ..
                } = *up;
                let callee_requests = watcher.take_back().await;
                let target_requests = requests.or_else(|| call.requests());
                joined::spawn(
                    JoinedSide {
                        call: callee,
                        requests: callee_requests,
                        sdp: callee_answer.clone(),
                    },
                    JoinedSide {
                        call,
                        requests: target_requests,
                        sdp: answer,
                    },
                );
                progress.report(StatusCode::OK);
            }
            Ok(r) => {
                info!(status = %r.status, "the callee refused the target's description: the call goes on");
                progress.report(r.status);
            }
            Err(error) => {
                warn!(%error, "target's description not offered to the callee: the call goes on");
                progress.report(StatusCode::SERVER_INTERNAL_ERROR);
            }
        }
    }

    /// The callee's transfer: the caller is offered the target's
    /// description; accepted, the target's call takes the callee's place
    /// and the callee is hung up.
    async fn replace_callee<E>(&mut self, answered: Answered, cx: &mut Context<'_, E>)
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        let Answered {
            mut call,
            answer,
            mut progress,
            ..
        } = answered;
        let Leg::Up(up) = &mut self.leg else {
            progress.report(StatusCode::REQUEST_TERMINATED);
            return;
        };
        info!(
            outgoing = call.call_id(),
            "transfer answered: new description to the caller"
        );
        match cx.offer(answer.clone()).await {
            Ok(r) if r.status.is_success() => {
                let watcher = Watcher::start(&mut call, cx.handle());
                let old = std::mem::replace(&mut up.call, call);
                // The old leg's end no longer concerns the caller.
                up.watcher = watcher;
                info!(
                    old = old.call_id(),
                    new = up.call.call_id(),
                    "transferred: hanging up the old callee"
                );
                up.answer = answer;
                // The caller's answer stays on this side: the new callee
                // already has the caller's description (its offer).
                if let Some(sdp) = sdp_body(&r) {
                    up.caller_offer = sdp;
                }
                // The outcome reaches the callee before its hang-up.
                match progress {
                    Reports::Callee(reports) => {
                        tokio::spawn(
                            async move {
                                let _ = reports.conclude(StatusCode::OK).await;
                                old.handle().hangup();
                            }
                            .instrument(tracing::Span::current()),
                        );
                    }
                    mut other => {
                        other.report(StatusCode::OK);
                        old.handle().hangup();
                    }
                }
            }
            Ok(r) => {
                info!(status = %r.status, "the caller refused the transfer's description: the call goes on");
                progress.report(r.status);
            }
            Err(error) => {
                warn!(%error, "transfer's description not offered to the caller: the call goes on");
                progress.report(StatusCode::SERVER_INTERNAL_ERROR);
            }
        }
    }
}

/// A transfer's call being placed, from the task a REFER of either side
/// starts.
struct Placing<E: Send + 'static> {
    client: Client,
    target: Uri,
    offer: Bytes,
    no_answer: Duration,
    progress: Reports,
    /// Closed when the bridge is gone: the call is cancelled.
    stop: oneshot::Receiver<()>,
    answered: oneshot::Sender<Answered>,
    dialog: DialogHandle<E>,
}

impl<E: From<BridgeEvent> + Send + 'static> Placing<E> {
    /// Places the call, reports its progress (RFC 3515 §2.4.5) and tells
    /// the dialog how it went.
    async fn run(mut self) {
        // The new leg's requests go to the bridge, as the callee's do.
        let options = InviteOptions::new().peer_requests(true);
        let invite = self
            .client
            .invite_with_options(&self.target, self.offer.clone(), options);
        let mut pending = match invite.await {
            Ok(p) => p,
            Err(error) => {
                warn!(%error, target = %self.target, "transfer's call not placed");
                self.fail(StatusCode::SERVICE_UNAVAILABLE);
                return;
            }
        };
        info!(target = %self.target, outgoing = pending.call_id(), "transfer: calling");
        let no_answer = tokio::time::sleep(self.no_answer);
        tokio::pin!(no_answer);
        loop {
            tokio::select! {
                biased;
                _ = &mut self.stop => {
                    debug!("the bridge is gone: cancelling the transfer's call");
                    pending.cancel();
                    return;
                }
                () = &mut no_answer => {
                    info!(after = ?self.no_answer, "the transfer's target did not answer (408)");
                    pending.cancel();
                    self.fail(StatusCode::REQUEST_TIMEOUT);
                    return;
                }
                step = pending.next() => match step {
                    Some(Progress::Provisional(r)) if r.status != StatusCode::TRYING => {
                        self.progress.report(r.status);
                    }
                    Some(Progress::Provisional(_)) => {}
                    Some(Progress::Answered(call)) => {
                        let answer = call
                            .remote_sdp()
                            .or(pending.early_sdp())
                            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                            .unwrap_or_default();
                        if answer.is_empty() {
                            // RFC 3261 §13.2.1: our offer needs an answer.
                            // Dropping the call hangs it up.
                            warn!("the transfer's 2xx has no SDP answer: hanging up");
                            self.fail(StatusCode::BAD_GATEWAY);
                            return;
                        }
                        let answered = Answered { call, answer, progress: std::mem::take(&mut self.progress), reoffer: false, requests: None };
                        if self.answered.send(answered).is_err() {
                            debug!("the bridge is gone: the transfer's call hung up");
                            return;
                        }
                        if self.dialog.send(E::from(BridgeEvent::TransferAnswered)).is_err() {
                            debug!("caller's dialog already over");
                        }
                        return;
                    }
                    Some(Progress::Failed(error)) => {
                        info!(%error, "transfer's call failed");
                        self.fail(status_of(&error));
                        return;
                    }
                    None => {
                        self.fail(StatusCode::SERVER_INTERNAL_ERROR);
                        return;
                    }
                },
            }
        }
    }

    /// Reports the failure `status` to the referrer and the dialog.
    fn fail(&mut self, status: StatusCode) {
        self.progress.report(status);
        if self
            .dialog
            .send(E::from(BridgeEvent::TransferFailed(status)))
            .is_err()
        {
            debug!("caller's dialog already over");
        }
    }
}

/// The `Replaces` among the header components of a `Refer-To` URI, if
/// one parses (RFC 3891 §3, RFC 3261 §19.1.1).
fn replaces_in(target: &Uri) -> Option<crate::dialog::Replaces> {
    let value = target.as_sip()?.headers().get("Replaces")?;
    crate::dialog::Replaces::parse(&value).ok()
}
