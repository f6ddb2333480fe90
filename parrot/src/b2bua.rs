//! Back-to-back user agent: a [`Bridge`] joins the dialog a handler
//! answers (the caller's, the server side) to an outgoing call it places
//! with a [`Client`] (the callee's), each leg a dialog of its own (RFC
//! 3261 §6, "back-to-back user agent"; RFC 7092 §3.1).
//!
//! The handler holds a [`Bridge`] in its state and calls it from its
//! methods; the bridge relays between the legs:
//!
//! | caller's side (server) | callee's side (client) |
//! |---|---|
//! | INVITE with its SDP offer | INVITE to the new target with that offer |
//! | `180`/`183` (with early SDP) | the callee's provisional responses (not `100`) |
//! | `200` with the callee's SDP answer | the callee's `2xx` (ACKed by the client) |
//! | the callee's failure, status and reason ([`failure_response`]) | `3xx`–`6xx`, timeout, unreachable |
//! | CANCEL (the runtime's `200` and `487`) | CANCEL |
//! | BYE | BYE |
//! | BYE (the runtime's, from [`Action::Stop`]) | the callee's BYE, session expiry, `481` |
//! | re-INVITE with an offer; the callee's answer | re-INVITE with that offer (§14.1), its 2xx ACKed by the client |
//! | UPDATE with an offer; the callee's answer | UPDATE with that offer (RFC 3311) |
//! | REFER ([`Bridge::refer`], opt-in: [`Bridge::transfers`]): `202`, NOTIFYs of the new call's progress | a new call to the `Refer-To` target; once answered, the old callee hung up |
//!
//! ```no_run
//! use parrot::b2bua::{Bridge, BridgeEvent};
//! use parrot::client::Client;
//! use parrot::prelude::*;
//!
//! struct Pbx {
//!     client: Client,
//!     bridge: Bridge,
//! }
//!
//! #[uas_handler]
//! impl Pbx {
//!     async fn invite(&mut self, req: &Request, cx: &mut Context<'_, BridgeEvent>) -> Response {
//!         if cx.in_dialog() {
//!             return self.bridge.reinvite(req).await;
//!         }
//!         // Keep the user, change the host: a one-line route.
//!         let user = req.uri.as_sip().and_then(|u| u.user()).unwrap_or_default();
//!         let target = format!("sip:{user}@192.0.2.7:5060");
//!         self.bridge.dial(&self.client, target, req, cx).await
//!     }
//!     async fn bye(&mut self, req: &Request) -> Response {
//!         self.bridge.bye(req)
//!     }
//!     async fn update(&mut self, req: &Request) -> Response {
//!         self.bridge.update(req).await
//!     }
//!     async fn refer(&mut self, req: &Request, cx: &mut Context<'_, BridgeEvent>) -> Response {
//!         self.bridge.refer(req, cx).await
//!     }
//!     async fn event(&mut self, ev: BridgeEvent, cx: &mut Context<'_, BridgeEvent>) -> Action {
//!         self.bridge.event(ev, cx).await
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().listen("0.0.0.0:0".parse()?).bind().await?;
//! Server::builder()
//!     .listen("0.0.0.0:5060")
//!     .handler(move || Pbx { client: client.clone(), bridge: Bridge::new().transfers(true) })
//!     .serve()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Every leg ends when the other does
//!
//! * The caller's side ends → the callee's: the caller's BYE
//!   ([`Bridge::bye`]) hangs up at once; any other end of the caller's
//!   dialog (no ACK for our `2xx` within 64·T1, §13.3.1.4; its session
//!   timer run out; a handler method panicking) drops the handler value,
//!   and with it the bridge, whose [`Call`] hangs up when dropped (a
//!   [`PendingCall`](crate::client::PendingCall) cancels). While
//!   ringing, the caller's CANCEL ([`Context::cancelled`]) cancels the
//!   outgoing INVITE. (After a missing ACK the handler value goes once
//!   the runtime's BYE to the caller is over: up to 64·T1 later when the
//!   caller is gone too.)
//! * The callee's side ends → the caller's: a task watches the outgoing
//!   call and delivers [`BridgeEvent::CalleeEnded`] to the caller's dialog
//!   through its [`DialogHandle`]; the
//!   handler's `event` method hands it to [`Bridge::event`], which returns
//!   [`Action::Stop`]: the runtime sends BYE. Before the answer, the
//!   callee's failure becomes the INVITE's final response, and a callee
//!   that rings without answering is given up after
//!   [`Bridge::no_answer_timeout`] (`408`, as a proxy's Timer C, §16.8).
//!
//! # The caller's REFER: the callee's leg moved to a new target
//!
//! With [`Bridge::transfers`] on, the caller's REFER in the bridged call
//! (a blind transfer of the callee, RFC 3515, RFC 5589 §6) is carried out
//! here rather than passed on: [`Bridge::refer`] accepts it (`202`) and
//! places a new call with the [`Client`] to the `Refer-To` target,
//! offering the caller's session description in force; its provisional
//! responses are reported to the caller in the NOTIFYs of the REFER's
//! implicit subscription (RFC 3515 §2.4.5, sent by the runtime from
//! [`Context::refer_progress`]). Once the new callee answers
//! ([`BridgeEvent::TransferAnswered`]), its description goes to the
//! caller as a new offer ([`Context::offer`]: UPDATE, or re-INVITE), and
//! when the caller accepts it the old callee is hung up and the new call
//! takes its place; the final NOTIFY says `200`. A new call that fails
//! (its status reported, [`BridgeEvent::TransferFailed`]), or a caller
//! refusing the new description, leaves the original call as it was.
//! The caller stays in the call: a transferor that hangs up on the final
//! NOTIFY, as RFC 5589 §6 has it, ends the new call too.
//!
//! # Not passed through
//!
//! * The callee's own re-INVITEs and UPDATEs: the [`Client`] answers them
//!   itself (an unchanged offer is accepted, a new one refused with `488`),
//!   so the caller never sees them.
//! * A caller's UPDATE to a callee that does not take UPDATE: its
//!   `405`/`501` is turned into `488` for the caller. A re-INVITE
//!   without an offer is answered with the callee's description in
//!   force, and the answer in the caller's ACK stays on this side.
//! * An INVITE without an offer is refused (`488`): the client cannot put
//!   the caller's answer, which comes in the ACK, into its own ACK.
//! * INFO, MESSAGE and other requests inside the dialog, the caller's
//!   REFER when transfers are off (`403`), an attended transfer's REFER
//!   (`Refer-To` with `Replaces`, RFC 3891: `501`), and the caller's
//!   identity (the callee sees the client's From).
//! * The callee's REFER: the [`Client`] answers it `405` itself, so the
//!   callee cannot transfer the caller.

use crate::client::{Call, CallEnd, CallError, CallHandle, Client, IntoUri, Progress};
use crate::message::{HeaderName, Method, Request, Response, StatusCode, Uri};
use crate::server::{Action, Context, DialogHandle, ReferProgress};
use bytes::Bytes;
use std::fmt;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::{Instrument, debug, info, warn};

/// How long an outgoing call may ring unanswered by default: three
/// minutes, the least RFC 3261 §16.6 step 11 allows a proxy's Timer C.
pub const DEFAULT_NO_ANSWER: Duration = Duration::from_secs(180);

/// What the outgoing leg tells the caller's dialog, through its
/// [`DialogHandle`]: the handler's `event`
/// method takes it (its event type is `BridgeEvent`, or one that converts
/// from it) and hands it to [`Bridge::event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// The callee's leg ended: its BYE, its session timer run out (RFC
    /// 4028), a request in it answered `481`, or our own hang-up. (The
    /// end of a callee's leg that a transfer replaced is ignored.)
    CalleeEnded(CallEnd),
    /// The call a transfer placed ([`Bridge::refer`]) was answered:
    /// [`Bridge::event`] offers its description to the caller and, once
    /// accepted, puts it in the old callee's place.
    TransferAnswered,
    /// The call a transfer placed failed with this status (reported to
    /// the referrer, RFC 3515 §2.4.5); the original call goes on.
    TransferFailed(StatusCode),
}

/// One back-to-back call: the caller's dialog (whose handler holds this
/// value) bridged to an outgoing [`Call`]. Made idle with [`Bridge::new`],
/// connected by [`Bridge::dial`]; see the [module documentation](self).
///
/// Dropping it ends the outgoing leg: a call in progress is cancelled, an
/// established one hung up.
pub struct Bridge {
    no_answer: Duration,
    /// Whether the caller's REFER is carried out ([`Bridge::transfers`]).
    transfers: bool,
    leg: Leg,
    /// The transfer in progress, if any.
    transfer: Option<Transfer>,
}

/// A transfer's call in progress, placed by a task of its own.
struct Transfer {
    /// Dropped with the bridge: the task then cancels the call.
    _stop: oneshot::Sender<()>,
    /// The call once answered, its SDP answer and the REFER's progress.
    answered: oneshot::Receiver<Answered>,
}

/// A transfer's call, answered.
struct Answered {
    call: Call,
    answer: Bytes,
    progress: Option<ReferProgress>,
}

enum Leg {
    /// Not dialled yet.
    Idle,
    /// The outgoing call is up.
    Up(Box<Up>),
    /// Over, or the dial failed.
    Ended,
}

struct Up {
    call: Call,
    /// The client the call was placed with, for a transfer's call.
    client: Client,
    /// The caller's last offer and the answer we gave it (the callee's
    /// description): an offer repeated unchanged (a session refresh,
    /// RFC 3264 §8) is answered here.
    caller_offer: Bytes,
    answer: Bytes,
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge::new()
    }
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leg = match &self.leg {
            Leg::Idle => "idle",
            Leg::Up(_) => "up",
            Leg::Ended => "ended",
        };
        f.debug_struct("Bridge")
            .field("leg", &leg)
            .field("no_answer", &self.no_answer)
            .field("transfers", &self.transfers)
            .field("transferring", &self.transfer.is_some())
            .finish()
    }
}

impl Bridge {
    /// An idle bridge, ringing at most [`DEFAULT_NO_ANSWER`].
    pub fn new() -> Self {
        Bridge {
            no_answer: DEFAULT_NO_ANSWER,
            transfers: false,
            leg: Leg::Idle,
            transfer: None,
        }
    }

    /// This bridge carrying out the caller's REFER (`true`) with
    /// [`Bridge::refer`], or refusing it with `403` (`false`, the
    /// default). See the [module documentation](self#the-callers-refer-the-callees-leg-moved-to-a-new-target).
    pub fn transfers(mut self, allow: bool) -> Self {
        self.transfers = allow;
        self
    }

    /// Whether a transfer's call is in progress.
    pub fn is_transferring(&self) -> bool {
        self.transfer.is_some()
    }

    /// This bridge giving the callee at most `timeout` to answer once the
    /// INVITE is sent: then the outgoing INVITE is cancelled and the
    /// caller gets `408 Request Timeout` (as from a proxy's Timer C,
    /// RFC 3261 §16.8).
    pub fn no_answer_timeout(mut self, timeout: Duration) -> Self {
        self.no_answer = timeout;
        self
    }

    /// Whether the outgoing call is established and not ended.
    pub fn is_up(&self) -> bool {
        matches!(&self.leg, Leg::Up(up) if up.call.is_active())
    }

    /// The outgoing call, while it is up.
    pub fn call(&self) -> Option<&Call> {
        match &self.leg {
            Leg::Up(up) => Some(&up.call),
            _ => None,
        }
    }

    /// Bridges the INVITE `req` being handled to a new call to `target`
    /// placed with `client`, and returns the INVITE's final response (the
    /// handler method returns it).
    ///
    /// The outgoing INVITE carries `req`'s SDP offer; each provisional
    /// response of the callee but `100` is relayed at once with its status,
    /// reason and SDP (early media) through [`Context::send_provisional`]
    /// (reliably when the caller requires it, RFC 3262); the callee's 2xx
    /// (acknowledged by the client) gives our `200` and its SDP answer
    /// (or that of the last provisional response, when the 2xx repeats
    /// none, RFC 3262 §5). A failure gives [`failure_response`]. The
    /// caller's CANCEL ([`Context::cancelled`]) cancels the outgoing INVITE
    /// (RFC 3261 §9.1) and so does [`no_answer_timeout`](Self::no_answer_timeout).
    ///
    /// From then on the callee's end reaches the caller's dialog as
    /// [`BridgeEvent::CalleeEnded`], delivered to the handler's `event`
    /// method, which calls [`Bridge::event`].
    ///
    /// A second `dial` on the same bridge, or an INVITE without an SDP
    /// offer, is refused (`500`, `488`) without calling out.
    pub async fn dial<E>(
        &mut self,
        client: &Client,
        target: impl IntoUri,
        req: &Request,
        cx: &mut Context<'_, E>,
    ) -> Response
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        if !matches!(self.leg, Leg::Idle) {
            warn!("bridge dialled twice: refused");
            return req.reply(StatusCode::SERVER_INTERNAL_ERROR);
        }
        self.leg = Leg::Ended;
        let Some(offer) = sdp_of(req) else {
            // RFC 3261 §13.2.1: without an offer in the INVITE the answer
            // comes in the ACK, which the client cannot relay.
            info!("INVITE without an SDP offer: not bridged (488)");
            return req
                .reply(StatusCode::NOT_ACCEPTABLE_HERE)
                .header("Warning", "399 parrot \"An SDP offer is required\"");
        };
        let target = match target.into_uri() {
            Ok(t) => t,
            Err(error) => {
                warn!(%error, "bad target for the outgoing call");
                return req.reply(StatusCode::SERVER_INTERNAL_ERROR);
            }
        };
        // Watch for the CANCEL before anything can wait.
        let mut cancelled = cx.cancelled();
        let mut pending = match client.invite(&target, offer.clone()).await {
            Ok(p) => p,
            Err(error) => {
                warn!(%error, %target, "outgoing call not placed");
                return req
                    .reply(StatusCode::SERVER_INTERNAL_ERROR)
                    .reason("Outgoing Call Failed");
            }
        };
        info!(%target, outgoing = pending.call_id(), "calling the callee");
        let no_answer = tokio::time::sleep(self.no_answer);
        tokio::pin!(no_answer);
        let call = loop {
            tokio::select! {
                biased;
                status = &mut cancelled => {
                    // §9.2: the runtime answered the caller (487); the
                    // outgoing INVITE is cancelled (§9.1) by the client,
                    // which also hangs up a 2xx that crosses the CANCEL.
                    info!(status = ?status.map(|s| s.as_u16()), "caller gave up: cancelling the outgoing call");
                    pending.cancel();
                    return req.reply(StatusCode::REQUEST_TERMINATED);
                }
                () = &mut no_answer => {
                    info!(after = ?self.no_answer, "the callee did not answer: cancelling (408)");
                    pending.cancel();
                    return req.reply(StatusCode::REQUEST_TIMEOUT);
                }
                progress = pending.next() => match progress {
                    Some(Progress::Provisional(r)) => relay_provisional(req, &r, cx),
                    Some(Progress::Answered(call)) => break call,
                    Some(Progress::Failed(error)) => {
                        let resp = failure_response(req, &error);
                        info!(%error, status = resp.status.as_u16(), "outgoing call failed; relayed");
                        return resp;
                    }
                    None => return req.reply(StatusCode::SERVER_INTERNAL_ERROR),
                },
            }
        };
        let answer = call
            .remote_sdp()
            .or(pending.early_sdp())
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .unwrap_or_default();
        if answer.is_empty() {
            // RFC 3261 §13.2.1: the INVITE had an offer, so the 2xx (or a
            // reliable provisional response, RFC 3262 §5) must answer it.
            // Dropping the call hangs it up.
            warn!("the callee's 2xx has no SDP answer: hanging up (502)");
            return req
                .reply(StatusCode::BAD_GATEWAY)
                .reason("No SDP Answer From Callee");
        }
        watch_callee(call.handle(), cx);
        info!(outgoing = call.call_id(), "callee answered: bridged");
        let resp = req.reply(StatusCode::OK).sdp(answer.clone());
        self.leg = Leg::Up(Box::new(Up {
            call,
            client: client.clone(),
            caller_offer: offer,
            answer,
        }));
        resp
    }

    /// The caller hung up (its BYE, RFC 3261 §15.1.2): hangs the callee up
    /// too (BYE, sent in the background, §15.1.1) and returns the `200`
    /// for the caller's BYE.
    pub fn bye(&mut self, req: &Request) -> Response {
        info!("caller hung up: hanging up the callee");
        self.hang_up();
        req.reply(StatusCode::OK)
    }

    /// Ends the outgoing leg now, if it is up (BYE in the background);
    /// for the handler's `cancel` or an application decision.
    pub fn hang_up(&mut self) {
        // A transfer's call in progress is cancelled by its task.
        self.transfer = None;
        if let Leg::Up(up) = std::mem::replace(&mut self.leg, Leg::Ended) {
            up.call.handle().hangup();
        }
    }

    /// The caller's UPDATE (RFC 3311) inside the bridged call, answered:
    /// an offer is passed on to the callee in an UPDATE of ours and its
    /// answer comes back in our `2xx` (a refusal is relayed: `488`,
    /// `491`, …); an UPDATE without a body (a session refresh, RFC 4028),
    /// or with the offer in force unchanged, refreshes only the caller's
    /// leg and is answered here.
    pub async fn update(&mut self, req: &Request) -> Response {
        self.change_session(req).await
    }

    /// The caller's re-INVITE inside the bridged call, answered: its
    /// offer goes to the callee in a re-INVITE of ours (RFC 3261 §14.1,
    /// [`Call::reinvite`], whose 2xx the client acknowledges; a `491` is
    /// retried after the §14.1 delay) and the callee's answer comes back
    /// in our `2xx`; a refusal is relayed. An offer unchanged from the last one (a session refresh),
    /// or a re-INVITE without an offer, is answered here with the
    /// callee's description in force (the answer the caller then puts in
    /// its ACK stays on this leg).
    pub async fn reinvite(&mut self, req: &Request) -> Response {
        self.change_session(req).await
    }

    async fn change_session(&mut self, req: &Request) -> Response {
        let Leg::Up(up) = &mut self.leg else {
            return req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
        };
        let offer = sdp_of(req);
        let local = |req: &Request, up: &Up| match req.method {
            Method::Update if req.body.is_empty() => req.reply(StatusCode::OK),
            _ => req.reply(StatusCode::OK).sdp(up.answer.clone()),
        };
        let Some(offer) = offer.filter(|o| *o != up.caller_offer) else {
            debug!(method = %req.method, "no new offer: answered on the caller's leg");
            return local(req, up);
        };
        info!(method = %req.method, "new offer from the caller: passed to the callee");
        let text = String::from_utf8_lossy(&offer).into_owned();
        // A re-INVITE as a re-INVITE (§14.1), an UPDATE as an UPDATE
        // (RFC 3311 §5.1).
        let sent = if req.method == Method::Invite {
            up.call.reinvite(text).await
        } else {
            up.call.update(Some(text)).await
        };
        match sent {
            Ok(r) if r.status.is_success() => match sdp_body(&r) {
                Some(answer) => {
                    up.caller_offer = offer;
                    up.answer = answer;
                    req.reply(StatusCode::OK).sdp(up.answer.clone())
                }
                None => {
                    warn!("the callee's 2xx to our UPDATE has no answer (502)");
                    req.reply(StatusCode::BAD_GATEWAY)
                        .reason("No SDP Answer From Callee")
                }
            },
            Ok(r) if req.method == Method::Update && matches!(r.status.as_u16(), 405 | 501) => {
                info!(status = %r.status, "the callee takes no UPDATE: 488");
                req.reply(StatusCode::NOT_ACCEPTABLE_HERE).header(
                    "Warning",
                    "399 parrot \"The callee cannot change the session\"",
                )
            }
            Ok(r) => relay_final(req, &r),
            // RFC 3311 §5.2: our own offer to the callee is unanswered.
            Err(CallError::UpdateInProgress) => req.reply(StatusCode::REQUEST_PENDING),
            Err(error) => {
                info!(%error, "no callee leg for the new offer: 481");
                req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
            }
        }
    }

    /// The caller's REFER inside the bridged call (RFC 3515), answered:
    /// with [`transfers`](Self::transfers) on, a blind transfer of the
    /// callee carried out here (see the [module
    /// documentation](self#the-callers-refer-the-callees-leg-moved-to-a-new-target)):
    /// `202 Accepted` (RFC 3515 §2.4.2), and a new call to the `Refer-To`
    /// target placed in the background with the caller's session
    /// description in force as its offer, given up after
    /// [`no_answer_timeout`](Self::no_answer_timeout) (`408`). Its
    /// provisional responses (but `100`) and its outcome go to the caller
    /// through [`Context::refer_progress`] (the runtime's NOTIFYs, RFC
    /// 3515 §2.4.5); its answer or failure comes back to the dialog as a
    /// [`BridgeEvent`] for [`Bridge::event`].
    ///
    /// Refused: transfers off (`403`), no call bridged yet (`403`), a
    /// transfer already in progress (`491`), no usable `Refer-To` (`400`),
    /// an attended transfer (a `Refer-To` URI with headers such as
    /// `Replaces`, RFC 3891: `501`).
    pub async fn refer<E>(&mut self, req: &Request, cx: &mut Context<'_, E>) -> Response
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        if !self.transfers {
            info!("REFER from the caller: transfers are off (403)");
            return req
                .reply(StatusCode::FORBIDDEN)
                .reason("Transfers Not Allowed");
        }
        let Leg::Up(up) = &self.leg else {
            info!("REFER from the caller with no call bridged (403)");
            return req
                .reply(StatusCode::FORBIDDEN)
                .reason("No Call To Transfer");
        };
        if self.transfer.is_some() {
            info!("REFER from the caller while a transfer is in progress (491)");
            return req.reply(StatusCode::REQUEST_PENDING);
        }
        let Some(refer_to) = cx.refer_to() else {
            return req.reply(StatusCode::BAD_REQUEST).reason("Bad Refer-To");
        };
        let target = refer_to.into_uri();
        if let Uri::Sip(sip) = &target
            && !sip.headers().is_empty()
        {
            // RFC 3891: an INVITE with Replaces, which the client does
            // not send.
            info!(%target, "attended transfer: not carried out (501)");
            return req
                .reply(StatusCode::NOT_IMPLEMENTED)
                .reason("Attended Transfer Not Supported");
        }
        let progress = cx.refer_progress();
        let (stop_tx, stop) = oneshot::channel();
        let (answered_tx, answered) = oneshot::channel();
        let placing = Placing {
            client: up.client.clone(),
            target: target.clone(),
            offer: up.caller_offer.clone(),
            no_answer: self.no_answer,
            progress,
            stop,
            answered: answered_tx,
            dialog: cx.handle(),
        };
        info!(%target, "REFER from the caller: calling the new target (202)");
        tokio::spawn(placing.run().instrument(tracing::Span::current()));
        self.transfer = Some(Transfer {
            _stop: stop_tx,
            answered,
        });
        // RFC 3515 §2.4.2: accepted; the runtime sends NOTIFY 100 (§2.4.4).
        req.reply(StatusCode::ACCEPTED)
    }

    /// What the caller's dialog does with an event of the outgoing leg
    /// (the handler's `event` method returns it):
    ///
    /// * the callee's end gives [`Action::Stop`], and the runtime sends
    ///   the caller BYE (RFC 3261 §15.1.1); an end this side caused
    ///   ([`Bridge::bye`], [`Bridge::hang_up`], a transfer) gives
    ///   [`Action::NoReply`];
    /// * a transfer's call answered: its description is offered to the
    ///   caller ([`Context::offer`], RFC 3264 §8: UPDATE or re-INVITE);
    ///   accepted, the old callee is hung up, the new call bridged, and
    ///   `200` reported to the referrer; refused, the new call is hung up
    ///   and the caller's status reported, the original call unchanged;
    /// * a transfer's call failed: the original call goes on.
    pub async fn event<E>(&mut self, event: BridgeEvent, cx: &mut Context<'_, E>) -> Action
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        match event {
            BridgeEvent::CalleeEnded(end) => match &self.leg {
                // The end of a leg a transfer replaced: the call is on.
                Leg::Up(up) if up.call.is_active() => {
                    debug!(%end, "a replaced callee's leg ended");
                    Action::NoReply
                }
                Leg::Up(_) => {
                    self.leg = Leg::Ended;
                    self.transfer = None;
                    info!(%end, "callee's leg ended: hanging up the caller");
                    Action::Stop(format!("callee's leg ended: {end}"))
                }
                _ => Action::NoReply,
            },
            BridgeEvent::TransferAnswered => {
                self.transfer_answered(cx).await;
                Action::NoReply
            }
            BridgeEvent::TransferFailed(status) => {
                info!(%status, "transfer failed: the call goes on");
                self.transfer = None;
                Action::NoReply
            }
        }
    }

    /// The transfer's call is answered: offers its description to the
    /// caller and, accepted, bridges it in the old callee's place.
    async fn transfer_answered<E>(&mut self, cx: &mut Context<'_, E>)
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        let Some(mut transfer) = self.transfer.take() else {
            return;
        };
        let Ok(Answered {
            call,
            answer,
            mut progress,
        }) = transfer.answered.try_recv()
        else {
            debug!("transfer's call already gone");
            return;
        };
        let mut report = |status: StatusCode| {
            if let Some(p) = &mut progress {
                p.report(status);
            }
        };
        let Leg::Up(up) = &mut self.leg else {
            // Dropping the call hangs it up.
            report(StatusCode::REQUEST_TERMINATED);
            return;
        };
        info!(
            outgoing = call.call_id(),
            "transfer answered: new description to the caller"
        );
        match cx.offer(answer.clone()).await {
            Ok(r) if r.status.is_success() => {
                let old = std::mem::replace(&mut up.call, call);
                info!(
                    old = old.call_id(),
                    new = up.call.call_id(),
                    "transferred: hanging up the old callee"
                );
                old.handle().hangup();
                up.answer = answer;
                // The caller's answer stays on this side: the new callee
                // already has the caller's description (its offer).
                if let Some(sdp) = sdp_body(&r) {
                    up.caller_offer = sdp;
                }
                watch_callee(up.call.handle(), cx);
                report(StatusCode::OK);
            }
            Ok(r) => {
                info!(status = %r.status, "the caller refused the transfer's description: the call goes on");
                report(r.status);
            }
            Err(error) => {
                warn!(%error, "transfer's description not offered to the caller: the call goes on");
                report(StatusCode::SERVER_INTERNAL_ERROR);
            }
        }
    }
}

/// A transfer's call being placed, from the task [`Bridge::refer`]
/// spawns.
struct Placing<E: Send + 'static> {
    client: Client,
    target: Uri,
    offer: Bytes,
    no_answer: Duration,
    progress: Option<ReferProgress>,
    /// Closed when the bridge is gone: the call is cancelled.
    stop: oneshot::Receiver<()>,
    answered: oneshot::Sender<Answered>,
    dialog: DialogHandle<E>,
}

impl<E: From<BridgeEvent> + Send + 'static> Placing<E> {
    /// Places the call, reports its progress (RFC 3515 §2.4.5) and tells
    /// the dialog how it went.
    async fn run(mut self) {
        let mut pending = match self.client.invite(&self.target, self.offer.clone()).await {
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
                        if let Some(p) = &mut self.progress {
                            p.report(r.status);
                        }
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
                        let answered = Answered { call, answer, progress: self.progress.take() };
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
        if let Some(p) = &mut self.progress {
            p.report(status);
        }
        if self
            .dialog
            .send(E::from(BridgeEvent::TransferFailed(status)))
            .is_err()
        {
            debug!("caller's dialog already over");
        }
    }
}

/// The status a failed call reports to the referrer (RFC 3515 §2.4.5:
/// the final response the referenced INVITE got, or the one the client
/// stands for a timeout or transport failure).
fn status_of(error: &CallError) -> StatusCode {
    match error {
        CallError::Rejected(r)
        | CallError::Cancelled(r)
        | CallError::Timeout(r)
        | CallError::Unreachable(r) => r.status,
        CallError::Protocol(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::SERVER_INTERNAL_ERROR,
    }
}

/// Delivers the outgoing call's end to the caller's dialog, from a task
/// that lives as long as the call: it ends with the call, whichever side
/// ends it (an event for a dialog already gone is dropped).
fn watch_callee<E: From<BridgeEvent> + Send + 'static>(
    mut call: CallHandle,
    cx: &mut Context<'_, E>,
) {
    let dialog = cx.handle();
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            let end = call.ended().await;
            debug!(%end, "callee's leg over");
            if dialog.send(E::from(BridgeEvent::CalleeEnded(end))).is_err() {
                debug!("caller's dialog already over");
            }
        }
        .instrument(span),
    );
}

/// Sends the caller the callee's provisional response `r` (not `100`,
/// which is hop by hop, RFC 3261 §16.7 step 5): same status and reason,
/// its SDP if it has one (early media). A refusal is logged: the call
/// goes on without it.
fn relay_provisional<E: Send + 'static>(req: &Request, r: &Response, cx: &mut Context<'_, E>) {
    if r.status == StatusCode::TRYING {
        return;
    }
    let mut ours = req.reply(r.status).reason(r.reason.clone());
    if let Some(sdp) = sdp_body(r) {
        ours = ours.sdp(sdp);
    }
    match cx.send_provisional(ours) {
        Ok(()) => debug!(status = %r.status, "provisional response relayed"),
        Err(error) => debug!(status = %r.status, %error, "provisional response not relayed"),
    }
}

/// The final response the caller gets for an outgoing call that failed
/// with `error`:
///
/// * a `3xx`–`6xx` of the callee: its status and reason, with the headers
///   that explain it (`Warning`, `Retry-After`, `Accept*`, `Allow`,
///   `Unsupported`, and a redirection's `Contact`s), except
///   * `401`/`407`: `403 Forbidden` — the challenge is for the client's
///     credentials ([`ClientBuilder::credentials`](crate::client::ClientBuilder::credentials),
///     which answer it once, §22.2), not the caller's, whose answer
///     could never reach the callee;
///   * `420`/`421`/`422`/`423`: `500` — they are about our own INVITE's
///     extensions and timers, which the caller cannot change;
///   * `503`: `500`, as a proxy does (RFC 3261 §16.7 step 6: a `503`
///     would tell the caller that this server is unavailable);
/// * no final response in time (Timer B, §17.1.1.2): `408`;
/// * the callee unreachable (a transport failure, §8.1.3.1): `502 Bad
///   Gateway`, reason `Callee Unreachable` (not the `503` the client
///   stands it for, for the same reason as above);
/// * a `2xx` that cannot set up a dialog: `502`;
/// * the cancelled INVITE: `487`; anything else `500`.
pub fn failure_response(req: &Request, error: &CallError) -> Response {
    match error {
        CallError::Rejected(r) => relay_final(req, r),
        CallError::Cancelled(_) => req.reply(StatusCode::REQUEST_TERMINATED),
        CallError::Timeout(_) => req.reply(StatusCode::REQUEST_TIMEOUT),
        CallError::Unreachable(_) => req
            .reply(StatusCode::BAD_GATEWAY)
            .reason("Callee Unreachable"),
        CallError::Protocol(_) => req.reply(StatusCode::BAD_GATEWAY),
        _ => req.reply(StatusCode::SERVER_INTERNAL_ERROR),
    }
}

/// `r`, a final non-2xx response of the callee, as our final response to
/// `req`; see [`failure_response`].
fn relay_final(req: &Request, r: &Response) -> Response {
    match r.status.as_u16() {
        401 | 407 => {
            return req
                .reply(StatusCode::FORBIDDEN)
                .reason("Callee Requires Authentication");
        }
        420..=423 | 503 => {
            return req
                .reply(StatusCode::SERVER_INTERNAL_ERROR)
                .reason(format!("Callee Answered {}", r.status.as_u16()));
        }
        _ => {}
    }
    let mut ours = req.reply(r.status).reason(r.reason.clone());
    let redirect = (300..400).contains(&r.status.as_u16());
    for h in r.headers.iter() {
        let keep = matches!(
            h.known_name(),
            Some(
                HeaderName::Warning
                    | HeaderName::RetryAfter
                    | HeaderName::Accept
                    | HeaderName::AcceptEncoding
                    | HeaderName::AcceptLanguage
                    | HeaderName::Allow
                    | HeaderName::Unsupported
                    | HeaderName::ErrorInfo
            )
        ) || (redirect && h.known_name() == Some(HeaderName::Contact));
        if keep {
            ours.headers.push(h.clone());
        }
    }
    ours
}

/// The SDP body of a request, if it has one.
fn sdp_of(req: &Request) -> Option<Bytes> {
    (!req.body.is_empty() && req.headers.content_is_sdp()).then(|| req.body.clone())
}

/// The SDP body of a response, if it has one.
fn sdp_body(resp: &Response) -> Option<Bytes> {
    (!resp.body.is_empty() && resp.headers.content_is_sdp()).then(|| resp.body.clone())
}
