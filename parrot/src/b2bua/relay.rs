//! What passes between the legs as it is: provisional responses, the
//! callee's failures as the caller's final response, and the statuses
//! reported to a referrer.

use crate::client::CallError;
use crate::message::{HeaderName, Request, Response, StatusCode};
use crate::server::Context;
use bytes::Bytes;
use tracing::debug;

/// Sends the caller the callee's provisional response `r` (not `100`,
/// which is hop by hop, RFC 3261 §16.7 step 5): same status and reason,
/// its SDP if it has one (early media). A refusal is logged: the call
/// goes on without it.
pub(super) fn relay_provisional<E: Send + 'static>(
    req: &Request,
    r: &Response,
    cx: &mut Context<'_, E>,
) {
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
pub(super) fn relay_final(req: &Request, r: &Response) -> Response {
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
pub(super) fn sdp_of(req: &Request) -> Option<Bytes> {
    (!req.body.is_empty() && req.headers.content_is_sdp()).then(|| req.body.clone())
}

/// The SDP body of a response, if it has one.
pub(super) fn sdp_body(resp: &Response) -> Option<Bytes> {
    (!resp.body.is_empty() && resp.headers.content_is_sdp()).then(|| resp.body.clone())
}

/// The status a failed call reports to the referrer (RFC 3515 §2.4.5:
/// the final response the referenced INVITE got, or the one the client
/// stands for a timeout or transport failure).
pub(super) fn status_of(error: &CallError) -> StatusCode {
    match error {
        CallError::Rejected(r)
        | CallError::Cancelled(r)
        | CallError::Timeout(r)
        | CallError::Unreachable(r) => r.status,
        CallError::Protocol(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::SERVER_INTERNAL_ERROR,
    }
}
