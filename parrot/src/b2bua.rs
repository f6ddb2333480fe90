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
//! | re-INVITE or UPDATE with an offer; the callee's answer | UPDATE with that offer (RFC 3311) |
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
//!     async fn event(&mut self, ev: BridgeEvent) -> Action {
//!         self.bridge.event(ev)
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().listen("0.0.0.0:0".parse()?).bind().await?;
//! Server::builder()
//!     .listen("0.0.0.0:5060")
//!     .handler(move || Pbx { client: client.clone(), bridge: Bridge::new() })
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
//! # Not passed through
//!
//! * The callee's own re-INVITEs and UPDATEs: the [`Client`] answers them
//!   itself (an unchanged offer is accepted, a new one refused with `488`),
//!   so the caller never sees them.
//! * A caller's re-INVITE goes to the callee as an UPDATE (the client
//!   sends no re-INVITE with an offer); a callee that does not take
//!   UPDATE gets its `405`/`501` turned into `488` for the caller. A
//!   re-INVITE without an offer is answered with the callee's description
//!   in force, and the answer in the caller's ACK stays on this side.
//! * An INVITE without an offer is refused (`488`): the client cannot put
//!   the caller's answer, which comes in the ACK, into its own ACK.
//! * INFO, MESSAGE, REFER and other requests inside the dialog, and the
//!   caller's identity (the callee sees the client's From).

use crate::client::{Call, CallEnd, CallError, CallHandle, Client, IntoUri, Progress};
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::server::{Action, Context};
use bytes::Bytes;
use std::fmt;
use std::time::Duration;
use tracing::{Instrument, debug, info, warn};

/// How long an outgoing call may ring unanswered by default: three
/// minutes, the least RFC 3261 §16.6 step 11 allows a proxy's Timer C.
pub const DEFAULT_NO_ANSWER: Duration = Duration::from_secs(180);

/// What the outgoing leg tells the caller's dialog, through its
/// [`DialogHandle`](crate::server::DialogHandle): the handler's `event`
/// method takes it (its event type is `BridgeEvent`, or one that converts
/// from it) and hands it to [`Bridge::event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// The callee's leg ended: its BYE, its session timer run out (RFC
    /// 4028), a request in it answered `481`, or our own hang-up.
    CalleeEnded(CallEnd),
}

/// One back-to-back call: the caller's dialog (whose handler holds this
/// value) bridged to an outgoing [`Call`]. Made idle with [`Bridge::new`],
/// connected by [`Bridge::dial`]; see the [module documentation](self).
///
/// Dropping it ends the outgoing leg: a call in progress is cancelled, an
/// established one hung up.
pub struct Bridge {
    no_answer: Duration,
    leg: Leg,
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
            .finish()
    }
}

impl Bridge {
    /// An idle bridge, ringing at most [`DEFAULT_NO_ANSWER`].
    pub fn new() -> Self {
        Bridge {
            no_answer: DEFAULT_NO_ANSWER,
            leg: Leg::Idle,
        }
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
    /// offer goes to the callee in an UPDATE (the client sends no
    /// re-INVITE with an offer) and the callee's answer comes back in
    /// our `2xx`; a refusal is relayed (a callee that takes no UPDATE:
    /// `488`). An offer unchanged from the last one (a session refresh),
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
        match up.call.update(Some(text)).await {
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
            Ok(r) if matches!(r.status.as_u16(), 405 | 501) => {
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
    /// (the handler's `event` method returns it): the callee's end gives
    /// [`Action::Stop`], and the runtime sends the caller BYE (RFC 3261
    /// §15.1.1); an end this side caused ([`Bridge::bye`],
    /// [`Bridge::hang_up`]) gives [`Action::NoReply`].
    pub fn event(&mut self, event: BridgeEvent) -> Action {
        match event {
            BridgeEvent::CalleeEnded(end) => match &self.leg {
                Leg::Up(_) => {
                    self.leg = Leg::Ended;
                    info!(%end, "callee's leg ended: hanging up the caller");
                    Action::Stop(format!("callee's leg ended: {end}"))
                }
                _ => Action::NoReply,
            },
        }
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
