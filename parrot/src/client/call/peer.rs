//! The peer's requests in an established call handed to the application
//! (opted in with [`InviteOptions::peer_requests`](crate::client::InviteOptions::peer_requests)):
//! its re-INVITEs and UPDATEs with their offers, REFER, INFO, MESSAGE and
//! other methods, each answered by the application with a response of
//! its choosing — what a back-to-back user agent needs to pass them on.
//!
//! The call's task keeps the rules that do not wait for the application:
//! the dialog's checks (§12.2.2), the session timer's `422` (RFC 4028
//! §9), offers that cross (`491`, RFC 3311 §5.2, RFC 3261 §14.2), a second
//! INVITE or offer while one is unanswered (`500` with `Retry-After`,
//! §14.2, RFC 3311 §5.2). It completes the application's response (the
//! Contact, the session timer) and retransmits a 2xx to a re-INVITE until
//! its ACK (§13.3.1.4).

use super::Command;
use super::requests::OutRequest;
use crate::dialog::{SIPFRAG, refer_sub_false, sipfrag};
use crate::message::typed::{Event, SubscriptionState};
use crate::message::{Header, Method, Request, Response, StatusCode};
use crate::transaction::TransactionId;
use crate::transport::Protocol;
use bytes::Bytes;
use std::fmt;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

/// How many of the peer's requests may wait for the application at once;
/// more are answered `500` with `Retry-After`.
const WAITING: usize = 16;

/// How long REFER's implicit subscription is said to last while the
/// referenced call is in progress (RFC 3515 §2.4.4 leaves it to the
/// notifier).
const REFER_EXPIRES: u32 = 300;

/// A request of the peer in an established call, for the application to
/// answer with [`PeerRequest::respond`] (or, for a REFER it carries out,
/// [`PeerRequest::accept_refer`]). The runtime completes the response:
/// Contact, To tag, the session timer of a 2xx to a re-INVITE or UPDATE
/// (RFC 4028 §9), and the retransmission of a 2xx to a re-INVITE until
/// its ACK (RFC 3261 §13.3.1.4). A 2xx carrying SDP puts that
/// description in force as ours (RFC 3264 §8).
///
/// Dropped unanswered, it is answered `500 Server Internal Error`, so that
/// the peer is never left waiting.
pub struct PeerRequest {
    request: Request,
    reply: Option<Reply>,
}

/// Where a [`PeerRequest`]'s answer goes.
struct Reply {
    transaction: TransactionId,
    protocol: Protocol,
    replies: mpsc::UnboundedSender<PeerReply>,
    commands: mpsc::WeakUnboundedSender<Command>,
}

/// The application's answer to a peer's request, for the call's task.
pub(super) struct PeerReply {
    pub(super) transaction: TransactionId,
    pub(super) protocol: Protocol,
    pub(super) request: Box<Request>,
    pub(super) response: Response,
}

impl fmt::Debug for PeerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerRequest")
            .field("method", &self.request.method)
            .field("answered", &self.reply.is_none())
            .finish_non_exhaustive()
    }
}

impl PeerRequest {
    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        &self.request.method
    }

    /// The SDP the request carries (an offer in a re-INVITE or UPDATE),
    /// if its body is `application/sdp` text.
    pub fn sdp(&self) -> Option<&str> {
        if !self.request.headers.content_is_sdp() || self.request.body.is_empty() {
            return None;
        }
        std::str::from_utf8(&self.request.body).ok()
    }

    /// Answers the request with `response` (built with
    /// [`Request::reply`]; the runtime completes it, see [`PeerRequest`]).
    pub fn respond(mut self, response: Response) {
        self.send(response);
    }

    /// Accepts a REFER (RFC 3515 §2.4.2: `202 Accepted`) that the
    /// application carries out, and returns the handle its progress is
    /// reported with. The runtime sends the first NOTIFY (`SIP/2.0 100
    /// Trying`, §2.4.4); each report becomes a NOTIFY of the REFER's
    /// implicit subscription (`Event: refer;id=<CSeq of the REFER>`), the
    /// final one ending it (`terminated;reason=noresource`, §2.4.7). With
    /// `Refer-Sub: false` in the REFER (RFC 4488 §4) the `202` says so too
    /// and no NOTIFY is sent.
    ///
    /// For any other method it answers `202` all the same and the handle
    /// reports nothing.
    pub fn accept_refer(mut self) -> ReferReports {
        let subscribed = self.request.method == Method::Refer && !refer_sub_false(&self.request);
        let id = self.request.headers.cseq().map_or(0, |c| c.seq);
        let commands = self.reply.as_ref().map(|r| r.commands.clone());
        let mut resp = self.request.reply(StatusCode::ACCEPTED);
        if self.request.method == Method::Refer && !subscribed {
            resp.headers.push(Header::new("Refer-Sub", "false"));
        }
        self.send(resp);
        ReferReports {
            commands: commands.filter(|_| subscribed),
            id,
            done: !subscribed,
        }
    }

    fn send(&mut self, response: Response) {
        let Some(reply) = self.reply.take() else {
            return;
        };
        let _ = reply.replies.send(PeerReply {
            transaction: reply.transaction,
            protocol: reply.protocol,
            request: Box::new(self.request.clone()),
            response,
        });
    }
}

impl Drop for PeerRequest {
    fn drop(&mut self) {
        if self.reply.is_some() {
            debug!(method = %self.request.method, "peer's request dropped unanswered: 500");
            let resp = self
                .request
                .reply(StatusCode::SERVER_INTERNAL_ERROR)
                .reason("Request Not Handled");
            self.send(resp);
        }
    }
}

/// Reports the progress of the call a REFER accepted with
/// [`PeerRequest::accept_refer`] asked for (RFC 3515 §2.4.5): each report
/// becomes a NOTIFY carrying `message/sipfrag` (`SIP/2.0 180 Ringing`),
/// sent in the call's dialog; a final one ends the subscription. Dropped
/// before a final report, it reports `503 Service Unavailable`.
pub struct ReferReports {
    commands: Option<mpsc::WeakUnboundedSender<Command>>,
    id: u32,
    done: bool,
}

impl fmt::Debug for ReferReports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReferReports")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish()
    }
}

impl ReferReports {
    /// Reports `status` of the referenced request: provisional as
    /// progress, final as the outcome, after which nothing more is sent.
    /// Returns whether a NOTIFY was handed to a live call.
    pub fn report(&mut self, status: StatusCode) -> bool {
        if self.done {
            return false;
        }
        self.done = status.is_final();
        let Some(commands) = self.commands.as_ref().and_then(|c| c.upgrade()) else {
            return false;
        };
        let (reply, _) = oneshot::channel();
        commands
            .send(Command::Request(
                Box::new(refer_notify(self.id, status)),
                reply,
            ))
            .is_ok()
    }
}

impl ReferReports {
    /// Reports the final `status` and waits for the NOTIFY's final
    /// response (e.g. before hanging up the referrer, so that the
    /// outcome reaches it first). `None` when nothing was sent: a final
    /// status was reported already, the REFER asked for no subscription,
    /// or the call is gone.
    pub async fn conclude(mut self, status: StatusCode) -> Option<Response> {
        if self.done {
            return None;
        }
        self.done = true;
        let commands = self.commands.as_ref()?.upgrade()?;
        let (reply, response) = oneshot::channel();
        let notify = refer_notify(self.id, status);
        commands
            .send(Command::Request(Box::new(notify), reply))
            .ok()?;
        drop(commands);
        response.await.ok()?.ok()
    }
}

impl Drop for ReferReports {
    fn drop(&mut self) {
        if !self.done {
            self.report(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
}

/// The NOTIFY reporting `status` in REFER `id`'s subscription.
pub(super) fn refer_notify(id: u32, status: StatusCode) -> OutRequest {
    let state = if status.is_final() {
        SubscriptionState::terminated("noresource")
    } else {
        SubscriptionState::active(REFER_EXPIRES)
    };
    let event = Event::new(crate::dialog::REFER_PACKAGE).with_id(id.to_string());
    let mut headers = Vec::with_capacity(2);
    let mut h = crate::message::Headers::new();
    h.push_typed(&event);
    h.push_typed(&state);
    headers.extend(h.iter().cloned());
    OutRequest {
        method: Method::Notify,
        body: Some((SIPFRAG.to_owned(), Bytes::from(sipfrag(status)))),
        headers,
        referral: None,
    }
}

/// The peer's requests waiting for the application, from
/// [`Call::requests`](crate::client::Call::requests).
pub struct PeerRequests {
    rx: mpsc::Receiver<PeerRequest>,
}

impl fmt::Debug for PeerRequests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerRequests").finish_non_exhaustive()
    }
}

impl PeerRequests {
    /// The next request of the peer; `None` once the call is over.
    pub async fn next(&mut self) -> Option<PeerRequest> {
        self.rx.recv().await
    }
}

/// The task's side: hands the peer's requests over and keeps what is
/// unanswered.
pub(super) struct PeerChannel {
    tx: mpsc::Sender<PeerRequest>,
    replies_tx: mpsc::UnboundedSender<PeerReply>,
    pub(super) replies: mpsc::UnboundedReceiver<PeerReply>,
    commands: mpsc::WeakUnboundedSender<Command>,
    waiting: usize,
    /// A re-INVITE of the peer is unanswered (§14.1: no INVITE of ours
    /// meanwhile).
    pub(super) invite_pending: bool,
    /// An offer of the peer is unanswered (RFC 3311 §5.1: no offer of
    /// ours meanwhile).
    pub(super) offer_pending: bool,
}

impl PeerChannel {
    /// A channel for a call whose handles send `commands`, and the
    /// application's end of it.
    pub(super) fn new(commands: mpsc::WeakUnboundedSender<Command>) -> (PeerChannel, PeerRequests) {
        let (tx, rx) = mpsc::channel(WAITING);
        let (replies_tx, replies) = mpsc::unbounded_channel();
        let channel = PeerChannel {
            tx,
            replies_tx,
            replies,
            commands,
            waiting: 0,
            invite_pending: false,
            offer_pending: false,
        };
        (channel, PeerRequests { rx })
    }

    /// Whether the application answers `req`: all but BYE, OPTIONS,
    /// PRACK and NOTIFY (the runtime's), and an UPDATE without a body (a
    /// session refresh, RFC 4028 §10, answered by the runtime).
    pub(super) fn takes(req: &Request) -> bool {
        match req.method {
            Method::Bye | Method::Options | Method::Prack | Method::Notify => false,
            Method::Update => !req.body.is_empty(),
            _ => true,
        }
    }

    /// Hands `req` to the application; `Err` with the refusal to send now.
    pub(super) fn hand_over(
        &mut self,
        transaction: TransactionId,
        req: Request,
        protocol: Protocol,
    ) -> Result<(), Box<Response>> {
        let invite = req.method == Method::Invite;
        let offer = matches!(req.method, Method::Invite | Method::Update) && !req.body.is_empty();
        // RFC 3261 §14.2: "A UAS that receives a second INVITE before it
        // sends the final response to a first INVITE ... MUST return a 500
        // ... with a Retry-After header field with a randomly chosen value
        // of between 0 and 10 seconds"; RFC 3311 §5.2 the same for an
        // offer while one of the peer's is unanswered.
        if (invite && self.invite_pending) || (offer && self.offer_pending) {
            info!(method = %req.method, "second INVITE or offer while one is unanswered: 500");
            return Err(Box::new(retry_later(&req)));
        }
        if self.waiting >= WAITING {
            info!(method = %req.method, "too many of the peer's requests unanswered: 500");
            return Err(Box::new(retry_later(&req)));
        }
        let request = PeerRequest {
            request: req,
            reply: Some(Reply {
                transaction,
                protocol,
                replies: self.replies_tx.clone(),
                commands: self.commands.clone(),
            }),
        };
        if let Err(e) = self.tx.try_send(request) {
            // Nobody takes them (the application dropped its end), or
            // the queue is full: the dropped request must not answer too.
            let mut lost = e.into_inner();
            lost.reply = None;
            return Err(Box::new(retry_later(&lost.request)));
        }
        self.waiting += 1;
        self.invite_pending |= invite;
        self.offer_pending |= offer;
        Ok(())
    }

    /// Takes in the application's answer to one of the requests.
    pub(super) fn answered(&mut self, reply: &PeerReply) {
        self.waiting = self.waiting.saturating_sub(1);
        match reply.request.method {
            Method::Invite => {
                self.invite_pending = false;
                self.offer_pending = false;
            }
            Method::Update => self.offer_pending = false,
            _ => {}
        }
    }
}

/// `500` with a `Retry-After` of 0 to 10 seconds (RFC 3261 §14.2).
fn retry_later(req: &Request) -> Response {
    let seconds = crate::random::u64() % 11;
    req.reply(StatusCode::SERVER_INTERNAL_ERROR)
        .header("Retry-After", seconds.to_string())
}
