//! `answer`: a user agent that answers every call.
//!
//! - INVITE: with a [`AnswerOptions::ring_delay`], `180 Ringing` and,
//!   after the delay, `200 OK`; without one, `200 OK` at once. The `200`
//!   carries an SDP answer to the offer: G.711 (PCMU or PCMA) in
//!   the caller's order of preference, every other stream refused
//!   (RFC 3264 §6). An offer in another format gets `415` with
//!   `Accept: application/sdp`, a malformed one `400`, one with no PCMU or
//!   PCMA audio `488 Not Acceptable Here` with a `Warning`. An INVITE
//!   without an offer gets an offer in the `200`; the answer must then
//!   come in the ACK, and without a usable one the call is ended
//!   (`Action::Stop`, which sends BYE).
//! - ACK: noted. BYE: `200`, with the call's duration logged. CANCEL: the
//!   runtime answers it; the handler logs it.
//! - A re-INVITE inside the call is answered with the same SDP logic, the
//!   `o=` line kept and its version bumped (RFC 3264 §8); an UPDATE gets
//!   the runtime's answer (a refresh is accepted, an unchanged offer gets
//!   the SDP in force).
//! - Every call has a session timer ([`AnswerOptions::session_expires`],
//!   RFC 4028): the caller refreshes it, or we do when it cannot, and a
//!   call left unrefreshed is ended with BYE. The `180` goes reliably
//!   (RFC 3262) when the caller requires it, or as
//!   [`AnswerOptions::reliable`] says.
//!
//! - REFER inside a call (a transfer, RFC 3515): `202 Accepted`, then the
//!   call to the `Refer-To` target is placed (see [`transfer`]) and its
//!   progress reported in `message/sipfrag` NOTIFYs (`100 Trying`,
//!   `180 Ringing`, then the outcome). The referrer ends the first call.
//!   A REFER outside a call gets `403`.
//!
//! The example negotiates media but sends none: the SDP names
//! [`AnswerOptions::media_ip`] and [`AnswerOptions::media_port`].

use crate::listen::Listen;
use crate::{caller, transfer};
use parrot::dialog::SessionTimerConfig;
use parrot::prelude::*;
use parrot::sdp::{self, SessionDescription};
use parrot::server::{BoundServer, Factory, Reliability, ServerBuilder};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

/// How the `answer` example behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerOptions {
    /// How long to ring (after `180`) before answering (default 0: answer
    /// at once, without a `180`).
    pub ring_delay: Duration,
    /// The address put in the SDP. Default: the listen address when it is
    /// a specific one, else the host of the Request-URI when it is an IP
    /// address, else 127.0.0.1.
    pub media_ip: Option<IpAddr>,
    /// The RTP port put in the SDP (default 40000).
    pub media_port: u16,
    /// The session timer every call gets (RFC 4028; default 1800 s); with
    /// `None`, only the callers that ask for one get one.
    pub session_expires: Option<Duration>,
    /// When the `180` goes reliably (RFC 3262; default: when the caller
    /// requires it).
    pub reliable: Reliability,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            ring_delay: Duration::ZERO,
            media_ip: None,
            media_port: 40000,
            session_expires: Some(Duration::from_secs(1800)),
            reliable: Reliability::WhenRequired,
        }
    }
}

/// The handler: one value per call.
#[derive(Debug)]
pub struct Answer {
    options: AnswerOptions,
    /// We sent an offer; the answer is due in the ACK.
    awaiting_answer: bool,
    answered_at: Option<Instant>,
}

impl Answer {
    /// A handler value for a new call.
    pub fn new(options: AnswerOptions) -> Self {
        Answer {
            options,
            awaiting_answer: false,
            answered_at: None,
        }
    }
}

#[uas_handler]
impl Answer {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Result<Response, Response> {
        if !cx.in_dialog() {
            info!(call_id = cx.call_id(), from = %caller(req), to = %req.uri, "incoming call");
            // Ring only when there is a delay to ring for: a UA answering
            // at once goes straight to 200 (RFC 3261 §13.3.1.1 makes the
            // provisional optional).
            if !self.options.ring_delay.is_zero() {
                if let Err(e) = cx.ring() {
                    warn!(call_id = cx.call_id(), error = %e, "180 Ringing not sent");
                }
                tokio::time::sleep(self.options.ring_delay).await;
            }
        }
        let sdp = self.local_sdp(req, cx.local_sdp().map(|b| &b[..]))?;
        self.answered_at.get_or_insert_with(Instant::now);
        Ok(req.reply(StatusCode::OK).sdp(sdp))
    }

    async fn ack(&mut self, req: &Request, cx: &mut Context) -> Action {
        info!(call_id = cx.call_id(), "call established (ACK)");
        match std::mem::take(&mut self.awaiting_answer) {
            true if !has_usable_answer(req) => {
                Action::Stop("no usable SDP answer in the ACK".into())
            }
            _ => Action::NoReply,
        }
    }

    async fn bye(&mut self, _req: &Request, cx: &mut Context) -> StatusCode {
        let seconds = self.answered_at.map_or(0.0, |t| t.elapsed().as_secs_f64());
        info!(
            call_id = cx.call_id(),
            duration_s = seconds,
            "call ended by the caller"
        );
        StatusCode::OK
    }

    async fn refer(&mut self, req: &Request, cx: &mut Context) -> Response {
        if !cx.in_dialog() {
            return req
                .reply(StatusCode::FORBIDDEN)
                .reason("REFER outside a call");
        }
        let Some(target) = cx.refer_to() else {
            return req
                .reply(StatusCode::BAD_REQUEST)
                .reason("Malformed Refer-To header");
        };
        let target = target.into_uri();
        if target.as_sip().is_none() {
            return req.reply(StatusCode::UNSUPPORTED_URI_SCHEME);
        }
        info!(call_id = cx.call_id(), %target, "transfer requested");
        let ip = media_ip(req, self.options.media_ip);
        let offer = sdp::offer_audio(ip, self.options.media_port).to_string();
        let local = cx.origin().map_or(ip, |o| o.local.ip());
        let local = if local.is_unspecified() { ip } else { local };
        tokio::spawn(transfer::follow(local, target, offer, cx.refer_progress()));
        req.reply(StatusCode::ACCEPTED)
    }

    async fn cancel(&mut self, _req: &Request, cx: &mut Context) {
        info!(
            call_id = cx.call_id(),
            "caller gave up before the answer (CANCEL)"
        );
    }
}

impl Answer {
    /// The SDP for our 200: an answer to the request's offer or, without
    /// one, an offer; continuing `previous`, the call's SDP in force on
    /// our side, if any. The runtime keeps that one
    /// ([`Context::local_sdp`]), so a held call holds no copy of its own.
    fn local_sdp(&mut self, req: &Request, previous: Option<&[u8]>) -> Result<String, Response> {
        let ip = media_ip(req, self.options.media_ip);
        let (mut sdp, is_offer) = match negotiate(req, ip, self.options.media_port)? {
            Negotiated::Answer(sdp) => (sdp, false),
            Negotiated::Offer(sdp) => (sdp, true),
        };
        // We wrote the previous one, so it parses.
        if let Some(previous) = previous.and_then(|t| SessionDescription::from_bytes(t).ok()) {
            sdp.continue_from(&previous);
        }
        self.awaiting_answer = is_offer;
        // `to_text` rather than `to_string`: one allocation, no formatter.
        Ok(sdp.to_text())
    }
}

/// The outcome of [`negotiate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Negotiated {
    /// The request had an acceptable offer: this is the answer.
    Answer(SessionDescription),
    /// The request had no offer: this is ours (the answer comes in the
    /// ACK, RFC 3261 §13.2.1).
    Offer(SessionDescription),
}

impl Negotiated {
    /// The description to send, whichever it is.
    pub fn into_sdp(self) -> SessionDescription {
        match self {
            Negotiated::Answer(sdp) | Negotiated::Offer(sdp) => sdp,
        }
    }
}

/// The SDP to send in a `200` to `req` (an INVITE), with media at
/// `ip:port`, or the error response when the offer is unusable: `415` for
/// a body that is not `application/sdp`, `400` for malformed SDP, `488`
/// when no PCMU/PCMA audio stream is offered.
pub fn negotiate(req: &Request, ip: IpAddr, port: u16) -> Result<Negotiated, Response> {
    if req.body.is_empty() {
        return Ok(Negotiated::Offer(sdp::offer_audio(ip, port)));
    }
    if !req.headers.content_is_sdp() {
        return Err(req
            .reply(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .header("Accept", "application/sdp"));
    }
    let offer = SessionDescription::from_bytes(&req.body).map_err(|e| {
        warn!(error = %e, "malformed SDP offer");
        req.reply(StatusCode::BAD_REQUEST)
            .reason("Malformed SDP")
            .header("Warning", format!("399 parrot \"{e}\""))
    })?;
    match sdp::answer_audio(&offer, ip, port) {
        Some(answer) => Ok(Negotiated::Answer(answer)),
        None => {
            info!("offer without PCMU/PCMA audio: 488");
            Err(req
                .reply(StatusCode::NOT_ACCEPTABLE_HERE)
                .header("Warning", "305 parrot \"Incompatible media format\""))
        }
    }
}

/// The address to put in our SDP: `configured`, else the Request-URI's
/// host when it is a (specified) IP address, else 127.0.0.1.
pub fn media_ip(req: &Request, configured: Option<IpAddr>) -> IpAddr {
    configured
        .or_else(|| {
            let ip = req.uri.as_sip()?.host().ip()?;
            (!ip.is_unspecified()).then_some(ip)
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Whether an ACK carries an SDP answer with a PCMU or PCMA audio stream.
fn has_usable_answer(ack: &Request) -> bool {
    let Ok(answer) = SessionDescription::from_bytes(&ack.body) else {
        return false;
    };
    answer.media.iter().any(|m| {
        !m.is_rejected()
            && m.media == "audio"
            && m.formats
                .iter()
                .filter_map(|f| m.codec(f.parse().ok()?))
                .any(|c| c.is("PCMU", 8000) || c.is("PCMA", 8000))
    })
}

/// Binds the `answer` example on `listen` (UDP and TCP); port 0 picks one
/// (see `BoundServer::local_addr`).
pub async fn bind(
    listen: impl Into<Listen>,
    options: AnswerOptions,
) -> parrot::Result<BoundServer<Answer>> {
    let listen: Listen = listen.into();
    let ip = listen.addr.ip();
    let options = AnswerOptions {
        media_ip: options
            .media_ip
            .or_else(|| (!ip.is_unspecified()).then_some(ip)),
        ..options
    };
    listen.apply(server(options)).bind().await
}

/// The `answer` example's server, with no listen address yet (to bind, or
/// to run on `parrot::testing`'s in-memory network).
pub fn server(options: AnswerOptions) -> ServerBuilder<Factory<Answer>> {
    let mut builder = Server::builder()
        .release_memory_with(crate::cli::release_memory)
        .reliable_provisionals(options.reliable);
    if let Some(interval) = options.session_expires {
        builder = builder.session_timer(SessionTimerConfig::new(interval));
    }
    builder.handler(move || Answer::new(options))
}

/// Serves the `answer` example with the default options until `shutdown`
/// completes.
pub async fn serve(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    serve_with(listen, shutdown, AnswerOptions::default()).await
}

/// Serves the `answer` example with `options` until `shutdown` completes.
pub async fn serve_with(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: AnswerOptions,
) -> parrot::Result<()> {
    bind(listen, options)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
