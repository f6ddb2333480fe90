//! The client's server side: what the peer sends us outside our client
//! transactions. Requests inside a call's dialog go to the call's task
//! (§12.2.2); 2xx responses to an INVITE whose transaction is over go to
//! the call, which acknowledges them again (§13.2.2.4), and so do ACKs for
//! the 2xx a call sent to the peer's re-INVITE (§13.3.1.4); everything else
//! is answered here, or dropped (an ACK is never answered, §17.1.1.3).

use super::CallTable;
use crate::dialog::DialogId;
use crate::endpoint::{Endpoint, ServerEvent, ServerEvents};
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::transaction::TransactionId;
use crate::transport::Protocol;
use tokio::sync::mpsc;
use tracing::debug;

/// What the router hands a call's task.
#[derive(Debug)]
pub(crate) enum DialogInput {
    /// A request from the peer in the call's dialog, to answer on server
    /// transaction `id`.
    Request {
        /// The server transaction.
        id: TransactionId,
        /// The request.
        request: Request,
        /// The protocol it arrived over (a 2xx to a re-INVITE is
        /// retransmitted over an unreliable one only, §13.3.1.4).
        protocol: Protocol,
    },
    /// An ACK in the call's dialog: for a 2xx the call sent to a
    /// re-INVITE (§13.3.1.4), or a stray one. Never answered.
    Ack(Request),
    /// A 2xx to our INVITE that matched no transaction (a retransmission
    /// after the INVITE transaction ended): ACK it again (§13.2.2.4).
    Retransmitted2xx(Response),
}

/// The `Allow` of the answers given outside any call.
const ALLOW_OUTSIDE: &str = "ACK, BYE, CANCEL, OPTIONS";

/// Runs until the endpoint stops.
pub(crate) async fn run(endpoint: Endpoint, mut events: ServerEvents, calls: CallTable) {
    while let Some(ev) = events.recv().await {
        match ev {
            ServerEvent::Request {
                id,
                request,
                origin,
            } => request_event(&endpoint, &calls, id, *request, origin.protocol),
            ServerEvent::StrayResponse { response } => {
                let invite_2xx = response.status.is_success()
                    && response
                        .headers
                        .cseq()
                        .is_some_and(|c| c.method == Method::Invite);
                let call = invite_2xx
                    .then(|| DialogId::from_incoming_response(&response))
                    .flatten()
                    .and_then(|d| lookup(&calls, &d));
                match call {
                    Some(tx) => {
                        let _ = tx.send(DialogInput::Retransmitted2xx(response));
                    }
                    None => {
                        debug!(status = %response.status, "response matching no transaction or call dropped")
                    }
                }
            }
            // §13.2.2.4: the ACK for a 2xx belongs to the dialog: the
            // call's, if it answered a re-INVITE; otherwise it is dropped
            // (an ACK is never answered, §17.1.1.3).
            ServerEvent::Ack { request, .. } => {
                let call =
                    DialogId::from_incoming_request(&request).and_then(|d| lookup(&calls, &d));
                match call {
                    Some(tx) => {
                        let _ = tx.send(DialogInput::Ack(*request));
                    }
                    None => debug!("ACK for no call dropped"),
                }
            }
            ServerEvent::Cancelled { id } => debug!(%id, "request cancelled by the peer"),
            ServerEvent::Timeout { id, timer } => {
                debug!(%id, ?timer, "server transaction timed out")
            }
            ServerEvent::TransportError { id } => debug!(%id, "response could not be delivered"),
        }
    }
}

fn lookup(calls: &CallTable, id: &DialogId) -> Option<mpsc::UnboundedSender<DialogInput>> {
    calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned()
}

fn request_event(
    endpoint: &Endpoint,
    calls: &CallTable,
    id: TransactionId,
    request: Request,
    protocol: Protocol,
) {
    if request.headers.has_to_tag() {
        // §12.2.2: inside a dialog; 481 if it is not one of our calls.
        // A subscription of ours also listens on its Call-ID and From tag
        // with an empty remote tag: a NOTIFY may create a dialog (before
        // the 2xx, or from another fork, RFC 6665 §4.1.2.4).
        let call = DialogId::from_incoming_request(&request).and_then(|d| {
            lookup(calls, &d).or_else(|| {
                let any = DialogId::new(&d.call_id, &d.local_tag, "");
                lookup(calls, &any)
            })
        });
        let refused = match call {
            Some(tx) => match tx.send(DialogInput::Request {
                id,
                request,
                protocol,
            }) {
                Ok(()) => None,
                Err(mpsc::error::SendError(DialogInput::Request { request, .. })) => Some(request),
                Err(_) => None,
            },
            None => Some(request),
        };
        if let Some(request) = refused {
            debug!(method = %request.method, "request for an unknown dialog: 481");
            endpoint.respond(
                id,
                request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
            );
        }
        return;
    }
    // Outside any dialog: the client accepts no calls or messages.
    let mut resp = match request.method {
        Method::Options => request.reply(StatusCode::OK),
        _ => request.reply(StatusCode::METHOD_NOT_ALLOWED),
    };
    resp.headers.append(HeaderName::Allow, ALLOW_OUTSIDE);
    if !request.headers.has_to_tag() && resp.status != StatusCode::TRYING {
        // §8.2.6.2: a To tag on every response but 100.
        add_to_tag(&mut resp);
    }
    endpoint.respond(id, resp);
}

fn add_to_tag(resp: &mut Response) {
    if let Some(to) = resp.headers.to_header()
        && to.tag().is_none()
    {
        let to = to.into_owned().with_tag(crate::random::tag());
        resp.headers.set_typed(&to);
    }
}
