//! A call's media from a handler: [`Context::answer_media`] answers the
//! request's SDP offer with a real RTP port and starts the call's
//! [`MediaSession`]; [`Context::media`] hands it out (to play, record,
//! echo, collect DTMF, bridge). The session is the dialog's: it ends when
//! the call does (BYE either way, or the dialog ending for any reason),
//! and its ports are free again.

use super::Context;
use crate::media::MediaError;
use crate::media::negotiate::{self, MediaParams};
use crate::media::session::MediaSession;
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::sdp::{Direction, SessionDescription};
use crate::server::call_media::CallMedia;
use crate::server::session_state::local_ip;
use std::net::SocketAddr;
use tracing::{debug, warn};

impl<E: Send + 'static> Context<'_, E> {
    /// The SDP for the response to the INVITE, re-INVITE or UPDATE being
    /// handled, with the call's media behind it:
    ///
    /// - an offer in the request is answered (RFC 3264 §6): G.711 in the
    ///   offerer's order of preference and `telephone-event` if offered,
    ///   at the call's RTP port. The first time, a port pair is taken from
    ///   the server's range ([`ServerBuilder::media`](crate::server::ServerBuilder::media))
    ///   and the [`MediaSession`] starts; later offers (hold, resume, a new
    ///   address) update it on the same port (§8);
    /// - an INVITE without an offer gets our offer; the peer's answer
    ///   arrives in the ACK (RFC 3261 §13.2.1): pass it on with
    ///   [`take_media_answer`](Self::take_media_answer).
    ///
    /// The refusal to send instead: `400` for a malformed offer, `415`
    /// for a body that is not SDP, `488` (with a `Warning`) when no
    /// stream has a codec we speak, `503` when every port pair is busy.
    pub fn answer_media(&mut self) -> Result<String, Response> {
        let Some(req) = self.request else {
            return Err(Response::new(StatusCode::SERVER_INTERNAL_ERROR));
        };
        if !matches!(req.method, Method::Invite | Method::Update) {
            return Err(req
                .reply(StatusCode::SERVER_INTERNAL_ERROR)
                .reason("answer_media outside INVITE or UPDATE"));
        }
        let origin = self.origin();
        let ip = origin
            .as_ref()
            .map(|o| local_ip(&self.session.shared, o))
            .unwrap_or_else(|| self.session.shared.media_ports.ip());
        let offer = if req.body.is_empty() {
            None
        } else if !req.headers.content_is_sdp() {
            return Err(req
                .reply(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .header("Accept", "application/sdp"));
        } else {
            match SessionDescription::from_bytes(&req.body) {
                Ok(sd) => Some(sd),
                Err(e) => {
                    return Err(req
                        .reply(StatusCode::BAD_REQUEST)
                        .reason(format!("Malformed SDP: {e}")));
                }
            }
        };
        // A new call takes its port pair first: the answer names it.
        let sockets = match &self.session.media {
            Some(_) => None,
            None => match self.session.shared.media_ports.bind_pair() {
                Ok(s) => Some(s),
                Err(e) => {
                    warn!(call_id = %self.call_id(), error = %e, "no media port: refusing the call");
                    return Err(req
                        .reply(StatusCode::SERVICE_UNAVAILABLE)
                        .header("Retry-After", "5")
                        .reason("No media port free"));
                }
            },
        };
        let port = match (&self.session.media, &sockets) {
            (Some(m), _) => m.0.local_addr().port(),
            (None, Some((rtp, _))) => rtp.local_addr().map_or(0, |a| a.port()),
            (None, None) => 0,
        };
        let previous = self.previous_sdp();
        let (mut sdp, params) = match &offer {
            Some(offer) => match negotiate::answer(offer, SocketAddr::new(ip, port)) {
                Ok((sdp, params)) => (sdp, Some(params)),
                // The sockets, if just bound, close here.
                Err(_) => {
                    return Err(req.reply(StatusCode::NOT_ACCEPTABLE_HERE).header(
                        "Warning",
                        "305 - \"Incompatible media format: PCMU or PCMA audio required\"",
                    ));
                }
            },
            None => (
                negotiate::offer(SocketAddr::new(ip, port), Direction::SendRecv),
                None,
            ),
        };
        if let Some(sockets) = sockets {
            let start = params.clone().unwrap_or_else(placeholder_params);
            let session = match MediaSession::start(sockets, start) {
                Ok(s) => s,
                Err(e) => {
                    warn!(call_id = %self.call_id(), error = %e, "media session not started");
                    return Err(req.reply(StatusCode::SERVICE_UNAVAILABLE));
                }
            };
            debug!(call_id = %self.call_id(), %port, "media session started");
            self.session.media = Some(CallMedia(session));
        } else if let (Some(params), Some(m)) = (params, &self.session.media) {
            let _ = m.0.update(params);
        }
        if let Some(previous) = previous {
            // RFC 3264 §8: the same o= line, its version bumped.
            sdp.continue_from(&previous);
        }
        Ok(sdp.to_string())
    }

    /// Takes the peer's answer to an offer of ours made by
    /// [`answer_media`](Self::answer_media) for an INVITE without one:
    /// call it from `ack` with the ACK (the runtime does nothing with the
    /// answer by itself otherwise). A missing or unusable answer is an
    /// error; RFC 3261 §13.2.1 then has the call ended.
    pub fn take_media_answer(&mut self) -> Result<(), MediaError> {
        let media = self.session.media.as_ref().ok_or(MediaError::Ended)?;
        let req = self.request.ok_or(MediaError::NoCommonCodec)?;
        let answer =
            SessionDescription::from_bytes(&req.body).map_err(|_| MediaError::NoCommonCodec)?;
        let params = negotiate::from_answer(&answer)?;
        media.0.update(params)
    }

    /// The call's media session, once [`answer_media`](Self::answer_media)
    /// started it (a handle: clone it into a task to play prompts or
    /// collect digits while the handler goes on).
    pub fn media(&self) -> Option<MediaSession> {
        self.session.media.as_ref().map(|m| m.0.clone())
    }

    fn previous_sdp(&self) -> Option<SessionDescription> {
        let sdp = self.session.local_sdp.as_ref()?;
        SessionDescription::from_bytes(sdp).ok()
    }
}

/// Hands the DTMF digit of an INFO request (`application/dtmf-relay` or
/// `application/dtmf`) to the call's media session, if it has one: true
/// when a digit was taken.
pub(super) fn info_digit<E: Send + 'static>(req: &Request, cx: &Context<'_, E>) -> bool {
    let Some(media) = &cx.session.media else {
        return false;
    };
    let Some(content_type) = req.headers.get(HeaderName::ContentType) else {
        return false;
    };
    match crate::media::dtmf::parse_info_body(content_type, &req.body) {
        Ok(info) => media.0.push_digit(info.digit).is_ok(),
        Err(_) => false,
    }
}

/// What a session offered by us runs with until the peer's answer:
/// PCMU, no destination yet.
fn placeholder_params() -> MediaParams {
    MediaParams {
        codec: negotiate::Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(negotiate::OFFERED_DTMF_PAYLOAD_TYPE),
        remote: None,
        direction: Direction::SendRecv,
    }
}
