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
//! | re-INVITE (or UPDATE, [`Context::offer`]) with the callee's offer | the callee's re-INVITE or UPDATE, answered with the caller's answer |
//! | INFO, MESSAGE ([`Bridge::relay`]) | INFO, MESSAGE, and the callee's passed back the same way |
//! | REFER ([`Bridge::refer`], opt-in: [`Bridge::transfers`]): `202`, NOTIFYs of the new call's progress | a new call to the `Refer-To` target, joined to the callee once answered |
//! | a new offer (the target's description); the callee hung up | the callee's REFER (opt-in too): `202`, NOTIFYs; a new call to its target |
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
//!   through its [`DialogHandle`](crate::server::DialogHandle); the
//!   handler's `event` method hands it to [`Bridge::event`], which returns
//!   [`Action::Stop`]: the runtime sends BYE. Before the answer, the
//!   callee's failure becomes the INVITE's final response, and a callee
//!   that rings without answering is given up after
//!   [`Bridge::no_answer_timeout`] (`408`, as a proxy's Timer C, §16.8).
//!
//! # Transfers
//!
//! With [`Bridge::transfers`] on, a REFER from either side (a blind or an
//! attended transfer, RFC 3515, RFC 5589) is carried out here rather than
//! passed on; see the `transfer` module. The caller's REFER: a new call
//! to the `Refer-To` target offering the callee's description; once it is
//! answered, the callee is offered the target's (re-INVITE) and the two
//! outgoing calls are joined in a task of their own, which passes their
//! offers, INFO and MESSAGE between them and ends both when either ends;
//! the caller, the transferor, is left to hang up (RFC 5589 §6), and its
//! BYE then ends only its own leg. The callee's REFER: a new call
//! offering the caller's description; once it is answered, the caller is
//! offered the target's ([`Context::offer`]) and the new call takes the
//! callee's place, the callee hung up. Either way the new call's progress
//! goes to the referrer in the NOTIFYs of the REFER's implicit
//! subscription (RFC 3515 §2.4.5); the `Refer-To` URI's headers (an
//! attended transfer's `Replaces`, RFC 3891) go into the new INVITE (RFC
//! 3261 §19.1.5); a new call that fails, or an offer refused, leaves the
//! call as it was.
//!
//! # Not passed through
//!
//! * A caller's UPDATE to a callee that does not take UPDATE: its
//!   `405`/`501` is turned into `488` for the caller. A re-INVITE
//!   without an offer (from either side) is answered with the other
//!   side's description in force, and the answer in the ACK stays on its
//!   leg.
//! * An INVITE without an offer is refused (`488`): the client cannot put
//!   the caller's answer, which comes in the ACK, into its own ACK.
//! * Requests other than offers, INFO, MESSAGE and REFER (`501` from the
//!   joined pair; the handler's own answer on the caller's side), the
//!   REFERs when transfers are off (`403`), and the caller's identity
//!   (the callee sees the client's From).
//!
//! An attended transfer between two calls through this server (the
//! caller's REFER names, in the `Replaces` of its `Refer-To`, its other
//! call here, RFC 5589 §7) cannot be sent on: the INVITE would come back
//! here. With a [`Bridges`] registry shared by the server's bridges
//! ([`Bridge::joins`]), the bridge holding that other call hands its
//! callee's leg over ([`BridgeEvent::Handover`]) and hangs up its caller
//! (the replaced call, RFC 3891 §3); both callees are offered each other's
//! descriptions and joined.

mod joined;
mod registry;
mod relay;
mod transfer;
mod watch;

pub use registry::{Bridges, Handover};
pub use relay::failure_response;

use crate::client::{
    Call, CallEnd, CallError, Client, IntoUri, InviteOptions, PeerRequest, Progress,
};
use crate::message::{Method, Request, Response, StatusCode};
use crate::server::{Action, Context};
use bytes::Bytes;
use relay::{relay_final, relay_provisional, sdp_body, sdp_of};
use std::fmt;
use std::time::Duration;
use tracing::{debug, info, warn};
use transfer::Transfer;
use watch::Watcher;

/// How long an outgoing call may ring unanswered by default: three
/// minutes, the least RFC 3261 §16.6 step 11 allows a proxy's Timer C.
pub const DEFAULT_NO_ANSWER: Duration = Duration::from_secs(180);

/// What the outgoing leg tells the caller's dialog, through its
/// [`DialogHandle`](crate::server::DialogHandle): the handler's `event`
/// method takes it (its event type is `BridgeEvent`, or one that converts
/// from it) and hands it to [`Bridge::event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// The callee's leg ended: its BYE, its session timer run out (RFC
    /// 4028), a request in it answered `481`, or our own hang-up. (The
    /// end of a callee's leg that a transfer replaced is ignored.)
    CalleeEnded(CallEnd),
    /// A request of the callee in the call (re-INVITE, UPDATE, REFER,
    /// INFO, MESSAGE...): [`Bridge::event`] passes it to the caller and
    /// answers it.
    CalleeRequest(Box<CalleeRequest>),
    /// Another bridge of the server carries out an attended transfer to
    /// this bridge's callee ([`Bridges`]): [`Bridge::event`] hands the
    /// callee's leg over and ends the caller's call, which the transfer
    /// replaces (RFC 3891 §3).
    Handover(Handover),
    /// The call a transfer placed ([`Bridge::refer`]) was answered:
    /// [`Bridge::event`] offers its description to the caller and, once
    /// accepted, puts it in the old callee's place.
    TransferAnswered,
    /// The call a transfer placed failed with this status (reported to
    /// the referrer, RFC 3515 §2.4.5); the original call goes on.
    TransferFailed(StatusCode),
}

/// A request of the callee waiting in [`BridgeEvent::CalleeRequest`]; it
/// is answered `500` if dropped unanswered.
#[derive(Debug)]
pub struct CalleeRequest(PeerRequest);

impl CalleeRequest {
    /// The request.
    pub fn request(&self) -> &Request {
        self.0.request()
    }

    /// The client's handle on it, to answer it another way than
    /// [`Bridge::event`] does.
    pub fn into_inner(self) -> PeerRequest {
        self.0
    }
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
    /// The server's bridges, for attended transfers between them.
    registry: Option<Bridges>,
}

enum Leg {
    /// Not dialled yet.
    Idle,
    /// The outgoing call is up.
    Up(Box<Up>),
    /// The caller transferred the callee: the callee's call is joined to
    /// the target's, and this leg holds nothing more.
    Handed,
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
    /// Delivers the callee's end and requests to the caller's dialog.
    watcher: Watcher,
    /// The entry in the server's [`Bridges`], if any.
    _registration: Option<registry::Registration>,
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
            Leg::Handed => "handed over",
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
            registry: None,
        }
    }

    /// This bridge registered in `bridges`, shared by every bridge of the
    /// server, while its call is up: an attended transfer between two of
    /// its calls is then carried out here (see the [module
    /// documentation](self#transfers)).
    pub fn joins(mut self, bridges: &Bridges) -> Self {
        self.registry = Some(bridges.clone());
        self
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
        let options = InviteOptions::new().peer_requests(true);
        let mut pending = match client
            .invite_with_options(&target, offer.clone(), options)
            .await
        {
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
        let mut call = call;
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
        let watcher = Watcher::start(&mut call, cx.handle());
        let registration = self.registry.as_ref().map(|r| r.register(cx.handle()));
        info!(outgoing = call.call_id(), "callee answered: bridged");
        let resp = req.reply(StatusCode::OK).sdp(answer.clone());
        self.leg = Leg::Up(Box::new(Up {
            call,
            client: client.clone(),
            caller_offer: offer,
            answer,
            watcher,
            _registration: registration,
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

    /// What the caller's dialog does with an event of the outgoing leg
    /// (the handler's `event` method returns it):
    ///
    /// * the callee's end gives [`Action::Stop`], and the runtime sends
    ///   the caller BYE (RFC 3261 §15.1.1); an end this side caused
    ///   ([`Bridge::bye`], [`Bridge::hang_up`], a transfer) gives
    ///   [`Action::NoReply`];
    /// * a request of the callee is passed to the caller and answered with
    ///   what comes back ([`BridgeEvent::CalleeRequest`]; see
    ///   [`Bridge::relay`] for the other way);
    /// * a transfer's call answered: joined to the callee (the caller's
    ///   REFER) or offered to the caller in the callee's place (the
    ///   callee's), `200` reported to the referrer; refused, the new call
    ///   is hung up and the status reported, the original call unchanged;
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
            BridgeEvent::CalleeRequest(r) => {
                self.callee_request(r.0, cx).await;
                Action::NoReply
            }
            BridgeEvent::Handover(h) => self.hand_over(h).await,
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

    /// The caller's INFO, MESSAGE or other request inside the bridged
    /// call, passed to the callee with its body ([`Call::request`]) and
    /// answered with the callee's status (a failure relayed as
    /// [`failure_response`] does; `481` without a callee's leg).
    pub async fn relay(&mut self, req: &Request) -> Response {
        let Leg::Up(up) = &mut self.leg else {
            return req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
        };
        let content_type = req
            .headers
            .get(crate::message::HeaderName::ContentType)
            .map(|ct| ct.to_string());
        let body = content_type
            .as_deref()
            .filter(|_| !req.body.is_empty())
            .map(|ct| (ct, req.body.clone()));
        match up.call.request(req.method.clone(), body).await {
            Ok(r) if r.status.is_success() => req.reply(r.status),
            Ok(r) => relay_final(req, &r),
            Err(CallError::NotAllowed(_)) => req.reply(StatusCode::NOT_IMPLEMENTED),
            Err(error) => {
                info!(%error, method = %req.method, "no callee leg to relay to: 481");
                req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
            }
        }
    }

    /// Passes a request of the callee to the caller and answers it: an
    /// offer in a re-INVITE as a re-INVITE ([`Context::reinvite`]), in an
    /// UPDATE as the caller allows it ([`Context::offer`]), the caller's
    /// answer coming back in our 2xx; a re-INVITE without an offer
    /// answered with the caller's description in force; INFO and MESSAGE
    /// sent on with their body; a REFER carried out when transfers are on
    /// (see the [module documentation](self#transfers)); anything else
    /// `501`.
    async fn callee_request<E>(&mut self, r: PeerRequest, cx: &mut Context<'_, E>)
    where
        E: From<BridgeEvent> + Send + 'static,
    {
        let method = r.method().clone();
        if method == Method::Refer {
            self.callee_refer(r, cx);
            return;
        }
        let Leg::Up(up) = &mut self.leg else {
            let resp = r
                .request()
                .reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
            r.respond(resp);
            return;
        };
        let offer = r.sdp().map(|s| Bytes::copy_from_slice(s.as_bytes()));
        info!(%method, offer = offer.is_some(), "callee's request: passed to the caller");
        let sent = match (&method, offer.clone()) {
            (Method::Invite, Some(sdp)) => cx.reinvite(sdp).await,
            (Method::Update, Some(sdp)) => cx.offer(sdp).await,
            (Method::Invite, None) => {
                let resp = r
                    .request()
                    .reply(StatusCode::OK)
                    .sdp(up.caller_offer.clone());
                r.respond(resp);
                return;
            }
            (Method::Info | Method::Message, _) => {
                let req = r.request();
                match req.headers.get(crate::message::HeaderName::ContentType) {
                    Some(ct) if !req.body.is_empty() => {
                        let ct = ct.to_string();
                        cx.send_with_body(method.clone(), &ct, req.body.clone())
                            .await
                    }
                    _ => cx.send(method.clone()).await,
                }
            }
            _ => {
                let resp = r.request().reply(StatusCode::NOT_IMPLEMENTED);
                r.respond(resp);
                return;
            }
        };
        let resp = match sent {
            Ok(resp) if resp.status.is_success() => {
                let mut ours = r.request().reply(resp.status);
                if let (Some(offer), Some(answer)) = (offer, sdp_body(&resp)) {
                    // RFC 3264 §8: both new descriptions in force.
                    up.answer = offer;
                    up.caller_offer = answer.clone();
                    ours = ours.sdp(answer);
                }
                ours
            }
            Ok(resp) => relay_final(r.request(), &resp),
            Err(crate::server::RequestError::OfferPending) => {
                r.request().reply(StatusCode::REQUEST_PENDING)
            }
            Err(error) => {
                info!(%error, %method, "not passed to the caller: 500");
                r.request().reply(StatusCode::SERVER_INTERNAL_ERROR)
            }
        };
        r.respond(resp);
    }
}
