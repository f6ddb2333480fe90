//! The runtime's answer to an UPDATE (RFC 3311) when the handler has no
//! `update` method: a session refresh without a body is accepted, and an
//! offer that changes nothing is answered with the session description
//! already in force (RFC 3264 §8); any other offer is refused with `488`,
//! since only the handler could answer it.

use super::session_state::Session;
use crate::message::{HeaderName, Request, Response, StatusCode};
use crate::sdp::same_streams;

/// The answer to `req`, an UPDATE the handler does not take.
pub(crate) fn default_answer<E: Send + 'static>(s: &Session<E>, req: &Request) -> Response {
    if !s.in_dialog() || s.dialog.is_none() {
        // RFC 3311 §5.2: UPDATE lives inside a dialog.
        return req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
    }
    if req.body.is_empty() {
        return req.reply(StatusCode::OK);
    }
    if s.reliable.as_ref().is_some_and(|r| r.offer_unanswered()) {
        // RFC 3311 §5.2: our offer in a reliable provisional response is
        // still unanswered.
        return req.reply(StatusCode::REQUEST_PENDING);
    }
    match (&s.local_sdp, req.headers.content_is_sdp()) {
        (Some(ours), true) if same_streams(ours, &req.body) => {
            let mut resp = req.reply(StatusCode::OK);
            resp.headers
                .append(HeaderName::ContentType, "application/sdp");
            resp.body = ours.clone();
            resp
        }
        _ => req
            .reply(StatusCode::NOT_ACCEPTABLE_HERE)
            .reason("Session change not accepted"),
    }
}
