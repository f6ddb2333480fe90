//! Two outgoing calls joined after the caller transferred its callee
//! (RFC 5589 §6: the transferee — the callee — ends up talking to the
//! transfer target; the transferor — the caller — leaves): a task that
//! passes each side's offers and requests to the other, and ends both
//! when either ends, whatever ended it.

use super::relay::{relay_final, sdp_body};
use super::watch::next;
use crate::client::{Call, CallError, PeerRequest, PeerRequests};
use crate::message::{Method, StatusCode};
use bytes::Bytes;
use tracing::{Instrument, debug, info};

/// One side of a joined pair: its call, its requests and its description
/// in force (what the other side was last offered or answered of it).
pub(super) struct Side {
    pub(super) call: Call,
    pub(super) requests: Option<PeerRequests>,
    pub(super) sdp: Bytes,
}

/// Runs `a` and `b` joined, in a task of its own, until either ends.
pub(super) fn spawn(a: Side, b: Side) {
    let span = tracing::Span::current();
    tokio::spawn(run(a, b).instrument(span));
}

async fn run(mut a: Side, mut b: Side) {
    info!(
        a = a.call.call_id(),
        b = b.call.call_id(),
        "transferred: the callee and the target joined"
    );
    let mut a_end = a.call.handle();
    let mut b_end = b.call.handle();
    loop {
        tokio::select! {
            end = a_end.ended() => {
                info!(%end, "one joined leg ended: hanging up the other");
                b.call.handle().hangup();
                return;
            }
            end = b_end.ended() => {
                info!(%end, "one joined leg ended: hanging up the other");
                a.call.handle().hangup();
                return;
            }
            Some(r) = next(&mut a.requests) => pass(r, &mut a, &mut b).await,
            Some(r) = next(&mut b.requests) => pass(r, &mut b, &mut a).await,
        }
    }
}

/// Passes `r`, a request of `from`'s peer, on to `to`'s and answers it
/// with what comes back: an offer in a re-INVITE or UPDATE as the same
/// method (RFC 3261 §14.1, RFC 3311), an INFO or MESSAGE with its body; a
/// re-INVITE without an offer is answered with `to`'s description in
/// force (its answer, in the ACK, stays on `from`'s leg); REFER and the
/// rest are refused (`403`, `501`).
async fn pass(r: PeerRequest, from: &mut Side, to: &mut Side) {
    let method = r.method().clone();
    debug!(%method, "joined leg's request passed on");
    let sent = match (&method, r.sdp()) {
        (Method::Invite, Some(offer)) => to.call.reinvite(offer.to_owned()).await,
        (Method::Update, Some(offer)) => to.call.update(Some(offer.to_owned())).await,
        (Method::Invite, None) => {
            let resp = r.request().reply(StatusCode::OK).sdp(to.sdp.clone());
            r.respond(resp);
            return;
        }
        (Method::Info | Method::Message, _) => {
            let req = r.request();
            let body = req
                .headers
                .get(crate::message::HeaderName::ContentType)
                .map(|ct| (ct.to_string(), req.body.clone()));
            let body = body.as_ref().map(|(ct, b)| (ct.as_str(), b.clone()));
            to.call.request(method.clone(), body).await
        }
        (Method::Refer, _) => {
            let resp = r
                .request()
                .reply(StatusCode::FORBIDDEN)
                .reason("Transfers Not Allowed");
            r.respond(resp);
            return;
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
            if let Some(answer) = sdp_body(&resp) {
                // RFC 3264 §8: both new descriptions in force.
                if let Some(offer) = r.sdp() {
                    from.sdp = Bytes::copy_from_slice(offer.as_bytes());
                }
                to.sdp = answer.clone();
                ours = ours.sdp(answer);
            }
            ours
        }
        Ok(resp) => relay_final(r.request(), &resp),
        Err(CallError::UpdateInProgress) => r.request().reply(StatusCode::REQUEST_PENDING),
        Err(error) => {
            debug!(%error, "the other joined leg is gone");
            r.request()
                .reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
        }
    };
    r.respond(resp);
}
