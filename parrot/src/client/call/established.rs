//! The established call: the ACK for the 2xx (RFC 3261 §13.2.2.4), the
//! confirmed dialog that continues the early one's CSeq numbering
//! (§12.2.1.1, RFC 3262 §4), the peer's requests in it (§12.2.2), our
//! UPDATE (RFC 3311), the session timer (RFC 4028) and our BYE (§15.1).

use super::super::request::{self, push_via};
use super::super::router::DialogInput;
use super::super::{Client, Prepared};
use super::ours::{resend_ack, send_ack};
use super::requests::Requests;
use super::session::{Outcome, Session};
use super::timer::CallTimer;
use super::{ALLOW, Accepted, Answered, CallEnd, CallError, Command, Status, Task, Update};
use crate::dialog::{Dialog, DialogId};
use crate::endpoint::ClientEvent;
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::time::sleep_until;
use crate::transport::{Protocol, SendOptions, Target};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{oneshot, watch};
use tracing::{debug, info, warn};

type ByeFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A BYE in progress and who waits for its response.
type ByeInProgress = Option<(
    ByeFuture,
    Option<oneshot::Sender<Result<Response, CallError>>>,
)>;

impl Task {
    /// The established call, until it ends; then the INVITE transaction's
    /// remaining life (Timer M), acknowledging retransmitted 2xx.
    pub(super) async fn established(mut self, accepted: Accepted) {
        let Accepted {
            ok,
            mut tx,
            cancelled,
        } = accepted;
        let mut dialog = match Dialog::new_uac(&self.invite, &ok) {
            Ok(d) => d,
            Err(e) => {
                // §13.2.2.4: every 2xx is acknowledged, usable or not.
                warn!(error = %e, "the 2xx establishes no usable dialog; acknowledging it");
                if let Some(mut ack) = request::ack_without_dialog(&self.invite, &ok)
                    && let Ok(via) = self.client.via_for(&self.target)
                {
                    push_via(&mut ack, &via);
                    let _ = self
                        .client
                        .endpoint()
                        .transport()
                        .send_request(&mut ack, self.target, SendOptions::default())
                        .await;
                }
                self.fail(CallError::Protocol(format!("the 2xx is unusable: {e}")));
                return;
            }
        };
        let id = dialog.id().clone();
        let ack = send_ack(
            &self.client,
            &mut dialog,
            &self.invite,
            self.target.protocol,
        )
        .await;
        // The 2xx confirms the early dialog of its To tag, whose PRACKs
        // took CSeq numbers after the INVITE's (RFC 3262 §4): our next
        // request continues from them (§12.2.1.1). After the ACK, which
        // carries the INVITE's number (§13.2.2.4).
        if let Some(seq) = self.early.local_seq(&id.remote_tag) {
            dialog.raise_local_seq(seq);
        }
        // RFC 4028 §7.2: the session timer the 2xx puts in force.
        let (interval, interval_rx) = watch::channel(None);
        let timer = CallTimer::from_2xx(self.timer_config, &ok, interval);
        let mut session = Session::new(
            (self.invite.headers.content_is_sdp() && !self.invite.body.is_empty())
                .then(|| self.invite.body.clone()),
            timer,
        );
        self.client
            .calls()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), self.inbox_tx.clone());
        info!(status = %ok.status, "call established");
        let mut bye: ByeInProgress = None;
        if cancelled {
            // The 2xx crossed our CANCEL: the call is not wanted (§15).
            self.fail(CallError::Cancelled(Box::new(ok.clone())));
            bye = Some((
                start_bye(&self.client, &mut dialog, self.target.protocol),
                None,
            ));
        } else {
            let answered = Answered {
                response: ok.clone(),
                id: id.clone(),
                status: self.status.subscribe(),
                interval: interval_rx,
                requests: self.peer_requests.take(),
            };
            if self
                .updates
                .send(Update::Answered(Box::new(answered)))
                .is_err()
            {
                bye = Some((
                    start_bye(&self.client, &mut dialog, self.target.protocol),
                    None,
                ));
            }
        }
        let mut tx_open = true;
        // The application's requests and REFER subscriptions.
        let mut requests = Requests::default();
        // Whether our BYE ends an expired session (RFC 4028 §10).
        let mut expired = false;
        let end = loop {
            // RFC 5057 §5.4: a BYE either way ends only the call while a
            // REFER subscription of ours uses the dialog.
            dialog.set_subscribed(requests.has_referrals());
            let reinvite_at = session.reinvite_deadline();
            let timer_at = session.timer.deadline();
            tokio::select! {
                ev = tx.next(), if tx_open => match ev {
                    Some(ClientEvent::Response(r)) if r.status.is_success() && request::acceptable(&r) => {
                        self.on_2xx(&id, &ack, r).await;
                    }
                    Some(_) => {}
                    None => tx_open = false,
                },
                input = self.inbox.recv() => match input {
                    Some(DialogInput::Request { id: sid, request, protocol }) => {
                        if let Some(end) = self.in_dialog(&mut dialog, &mut session, &mut requests, sid, request, protocol) {
                            break end;
                        }
                    }
                    // §17.1.1.3: an ACK is never answered.
                    Some(DialogInput::Ack(ack)) => session.on_ack(&ack),
                    Some(DialogInput::Retransmitted2xx(r)) => match session.ack_again(&r) {
                        Some((again, to)) => resend_ack(&self.client, again, to).await,
                        None => self.on_2xx(&id, &ack, r).await,
                    },
                    None => {}
                },
                cmd = self.commands.recv(), if self.commands_open && bye.is_none() => match cmd {
                    Some(Command::Bye(reply)) => {
                        bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), Some(reply)));
                    }
                    Some(Command::Update(offer, reply)) => {
                        if self.peer.as_ref().is_some_and(|p| p.invite_pending || p.offer_pending) {
                            // RFC 3261 §14.1, RFC 3311 §5.1: not while the
                            // peer's INVITE or offer is unanswered.
                            let _ = reply.send(Err(CallError::UpdateInProgress));
                        } else {
                            session.start_update(&self.client, &mut dialog, &self.target, offer, reply);
                        }
                    }
                    Some(Command::Hangup) => bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None)),
                    Some(Command::Request(out, reply)) => {
                        requests.start(&self.client, &mut dialog, self.target.protocol, *out, reply);
                    }
                    None => {
                        self.commands_open = false;
                        bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None));
                    }
                    // §9.1: a CANCEL has no effect once the INVITE has its
                    // final response.
                    Some(Command::Cancel) => {}
                },
                Some(reply) = peer_reply(&mut self.peer) => {
                    self.answer_peer(&mut dialog, &mut session, &mut requests, reply);
                }
                Some(finished) = requests.next() => {
                    if requests.finished(&mut dialog, finished) {
                        // §12.2.1.2: a 481 or 408 ended the dialog.
                        break CallEnd::Terminated("the dialog ended: a request of ours was answered 481 or 408".to_owned());
                    }
                }
                event = session.poll_request(), if bye.is_none() => {
                    match session.on_request_event(&self.client, &mut dialog, &self.target, event).await {
                        Outcome::Continue => {}
                        Outcome::HangUp => {
                            bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None));
                        }
                        Outcome::Expired => {
                            expired = true;
                            bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None));
                        }
                        // §12.2.1.2: a 481 or 408 ended the dialog.
                        Outcome::Ended(why) => break CallEnd::Terminated(format!("the dialog ended: {why}")),
                    }
                }
                () = sleep_until(timer_at), if bye.is_none() => {
                    if let Outcome::Expired = session.on_session_timer(&self.client, &mut dialog, &self.target) {
                        // RFC 4028 §10: the session is over; BYE.
                        expired = true;
                        bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None));
                    }
                }
                () = sleep_until(reinvite_at) => {
                    if let Outcome::HangUp = session.on_reinvite_timer(&self.client)
                        && bye.is_none()
                    {
                        bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None));
                    }
                }
                resp = poll_bye(&mut bye) => {
                    info!(status = %resp.status, "BYE answered");
                    if let Some((_, Some(reply))) = bye.take() {
                        let _ = reply.send(Ok(resp.clone()));
                    }
                    break if expired {
                        CallEnd::SessionExpired(Box::new(resp))
                    } else {
                        CallEnd::LocalBye(Box::new(resp))
                    };
                }
            }
        };
        info!(end = %end, "call ended");
        session.abandon_request(CallError::Ended(Box::new(end.clone())));
        if let Some((_, Some(reply))) = bye.take() {
            // The peer's BYE or a dead dialog came first.
            let _ = reply.send(Err(CallError::Ended(Box::new(end.clone()))));
        }
        // Commands that raced the end (queued while our BYE was out).
        while let Ok(cmd) = self.commands.try_recv() {
            if let Command::Bye(reply) | Command::Update(_, reply) | Command::Request(_, reply) =
                cmd
            {
                let _ = reply.send(Err(CallError::Ended(Box::new(end.clone()))));
            }
        }
        self.status.send_replace(Status::Ended(end.clone()));
        if requests.has_referrals() && !dialog.is_terminated() {
            self.referrals_only(&mut dialog, &mut requests, &end).await;
        }
        self.client
            .calls()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        // Requests that raced the end: the dialog is gone (§12.2.2: 481).
        while let Ok(input) = self.inbox.try_recv() {
            if let DialogInput::Request {
                id: sid, request, ..
            } = input
            {
                self.client.endpoint().respond(
                    sid,
                    request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                );
            }
        }
        // §13.2.2.4: every retransmission of the 2xx is acknowledged, for
        // as long as the INVITE transaction passes them up (Timer M).
        while tx_open {
            match tx.next().await {
                Some(ClientEvent::Response(r)) if r.status.is_success() => {
                    self.on_2xx(&id, &ack, r).await;
                }
                Some(_) => {}
                None => tx_open = false,
            }
        }
    }

    /// The dialog after the call, while REFER subscriptions of ours use it
    /// (RFC 5057 §5.4: the INVITE usage is over, the subscription usages
    /// go on): their NOTIFYs are answered and reported to the
    /// [`Referral`](super::Referral)s until each is terminated or given
    /// up; any other request gets `481` (§12.2.2: no call any more).
    async fn referrals_only(
        &mut self,
        dialog: &mut Dialog,
        requests: &mut Requests,
        end: &CallEnd,
    ) {
        info!("call over; its REFER subscriptions go on (RFC 5057)");
        while requests.has_referrals() || requests.in_progress() {
            let deadline = requests.referrals_deadline();
            tokio::select! {
                input = self.inbox.recv() => match input {
                    Some(DialogInput::Request { id: sid, request, protocol }) => {
                        let checked = request.method == Method::Notify && dialog.check_request(&request).is_ok();
                        let resp = if checked {
                            requests.on_notify(&request)
                        } else {
                            request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
                        };
                        let sips = super::super::is_sips(&request.uri);
                        let mut resp = resp;
                        if let Ok(contact) = self.client.contact_for(&self.target, sips) {
                            dialog.prepare_response(&mut resp, &contact);
                        }
                        debug!(method = %request.method, status = %resp.status, ?protocol, "request after the call");
                        self.client.endpoint().respond(sid, resp);
                    }
                    Some(_) => {}
                    None => break,
                },
                Some(finished) = requests.next() => {
                    if requests.finished(dialog, finished) {
                        break;
                    }
                }
                cmd = self.commands.recv(), if self.commands_open => match cmd {
                    Some(Command::Bye(reply) | Command::Update(_, reply) | Command::Request(_, reply)) => {
                        let _ = reply.send(Err(CallError::Ended(Box::new(end.clone()))));
                    }
                    Some(_) => {}
                    None => self.commands_open = false,
                },
                () = sleep_until(deadline) => requests.expire_referrals(),
            }
        }
        dialog.terminate();
    }

    /// A 2xx after the first: a retransmission of it is acknowledged again
    /// (§13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx
    /// received from the transaction layer"); one from another fork (a
    /// different To tag) makes a dialog of its own, which is acknowledged
    /// and ended with BYE since we have our call.
    async fn on_2xx(&self, id: &DialogId, ack: &Option<(Request, Target)>, r: Response) {
        if DialogId::from_incoming_response(&r).as_ref() == Some(id) {
            if let Some((ack, target)) = ack {
                debug!("2xx retransmission: ACK again");
                let mut again = ack.clone();
                if let Err(e) = self
                    .client
                    .endpoint()
                    .transport()
                    .send_request(&mut again, *target, SendOptions::default())
                    .await
                {
                    warn!(error = %e, "ACK could not be sent again");
                }
            }
            return;
        }
        info!("2xx from another fork: acknowledging and hanging it up");
        let early_seq = r
            .headers
            .to_tag()
            .and_then(|tag| self.early.local_seq(&tag));
        let client = self.client.clone();
        let invite = self.invite.clone();
        let protocol = self.target.protocol;
        tokio::spawn(async move {
            match Dialog::new_uac(&invite, &r) {
                Ok(mut dialog) => {
                    let _ = send_ack(&client, &mut dialog, &invite, protocol).await;
                    if let Some(seq) = early_seq {
                        dialog.raise_local_seq(seq);
                    }
                    let resp = start_bye(&client, &mut dialog, protocol).await;
                    debug!(status = %resp.status, "forked call hung up");
                }
                Err(e) => warn!(error = %e, "unusable 2xx from another fork"),
            }
        });
    }

    /// Answers a request of the peer in our dialog (§12.2.2). `Some` when
    /// it ends the call (BYE, §15.1.2).
    ///
    /// BYE and OPTIONS get `200`; UPDATE and re-INVITE the response of
    /// [`Session::respond`] (a 2xx to a re-INVITE is then retransmitted
    /// until its ACK, §13.3.1.4); a PRACK `481`, as we send no reliable
    /// provisional responses (RFC 3262 §3); anything else `405`.
    fn in_dialog(
        &mut self,
        dialog: &mut Dialog,
        session: &mut Session,
        requests: &mut Requests,
        sid: crate::transaction::TransactionId,
        request: Request,
        protocol: Protocol,
    ) -> Option<CallEnd> {
        if let Err(e) = dialog.check_request(&request) {
            debug!(error = %e, method = %request.method, "in-dialog request refused");
            if let Some(resp) = e.response(&request) {
                self.client.endpoint().respond(sid, resp);
            }
            return None;
        }
        if let Some(peer) = &mut self.peer
            && super::peer::PeerChannel::takes(&request)
        {
            let refusal = if !matches!(request.method, Method::Invite | Method::Update) {
                None
            } else if let Some(too_small) = session.timer.check(&request) {
                // RFC 4028 §9.
                Some(too_small)
            } else if session.offer_pending()
                && (request.method == Method::Invite || !request.body.is_empty())
            {
                // RFC 3311 §5.2, RFC 3261 §14.2: offers crossed.
                Some(request.reply(StatusCode::REQUEST_PENDING))
            } else {
                None
            };
            let refusal = match refusal {
                Some(r) => Some(r),
                None => match peer.hand_over(sid, request.clone(), protocol) {
                    Ok(()) => {
                        debug!(method = %request.method, "peer's request handed to the application");
                        return None;
                    }
                    Err(resp) => Some(*resp),
                },
            };
            if let Some(resp) = refusal {
                self.send_answer(dialog, session, sid, &request, resp, protocol);
            }
            return None;
        }
        let (resp, end) = match request.method {
            Method::Bye => (
                request.reply(StatusCode::OK),
                Some(CallEnd::RemoteBye(Box::new(request.clone()))),
            ),
            Method::Options => (request.reply(StatusCode::OK), None),
            Method::Invite | Method::Update => (session.respond(&request), None),
            // RFC 3515 §2.4.4: the NOTIFYs of our REFERs' subscriptions.
            Method::Notify => (requests.on_notify(&request), None),
            // RFC 3262 §3: a PRACK matching no unacknowledged reliable
            // provisional response of ours (we send none) gets 481.
            Method::Prack => (
                request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                None,
            ),
            _ => (request.reply(StatusCode::METHOD_NOT_ALLOWED), None),
        };
        self.send_answer(dialog, session, sid, &request, resp, protocol);
        end
    }

    /// The application's answer to a peer's request it was handed: the
    /// session timer of a 2xx to a re-INVITE or UPDATE (RFC 4028 §9), the
    /// description it puts in force (RFC 3264 §8), and for an accepted
    /// REFER the first NOTIFY (RFC 3515 §2.4.4: `100 Trying`).
    fn answer_peer(
        &mut self,
        dialog: &mut Dialog,
        session: &mut Session,
        requests: &mut Requests,
        reply: super::peer::PeerReply,
    ) {
        if let Some(peer) = &mut self.peer {
            peer.answered(&reply);
        }
        let super::peer::PeerReply {
            transaction,
            protocol,
            request,
            mut response,
        } = reply;
        let success = response.status.is_success();
        if success && matches!(request.method, Method::Invite | Method::Update) {
            session.timer.answer(&request, &mut response);
            if response.headers.content_is_sdp() && !response.body.is_empty() {
                session.local_sdp = Some(response.body.clone());
            }
        }
        let refer_subscribed =
            success && request.method == Method::Refer && !crate::dialog::refer_sub_false(&request);
        self.send_answer(dialog, session, transaction, &request, response, protocol);
        if refer_subscribed {
            let seq = request.headers.cseq().map_or(0, |c| c.seq);
            let (reply, _) = tokio::sync::oneshot::channel();
            let notify = super::peer::refer_notify(seq, StatusCode::TRYING);
            requests.start(&self.client, dialog, self.target.protocol, notify, reply);
        }
    }

    /// Completes `resp` to the peer's `request` in the dialog (Allow,
    /// Contact, To tag) and sends it; a 2xx to a re-INVITE is then
    /// retransmitted until its ACK (§13.3.1.4).
    fn send_answer(
        &self,
        dialog: &mut Dialog,
        session: &mut Session,
        sid: crate::transaction::TransactionId,
        request: &Request,
        mut resp: Response,
        protocol: Protocol,
    ) {
        let status = resp.status;
        if matches!(status, StatusCode::METHOD_NOT_ALLOWED) || request.method == Method::Options {
            resp.headers.append(HeaderName::Allow, ALLOW);
        }
        let sips = super::super::is_sips(&request.uri);
        if let Ok(contact) = self.client.contact_for(&self.target, sips) {
            dialog.prepare_response(&mut resp, &contact);
        }
        info!(method = %request.method, status = %status, "answering the peer");
        if request.method == Method::Invite && status.is_success() {
            session.reinvite_answered(
                &self.client,
                dialog,
                sid,
                resp.clone(),
                protocol != Protocol::Udp,
            );
        }
        self.client.endpoint().respond(sid, resp);
    }
}

/// The application's next answer to a peer's request (pending forever
/// when the application does not take them).
async fn peer_reply(peer: &mut Option<super::peer::PeerChannel>) -> Option<super::peer::PeerReply> {
    match peer {
        Some(p) => p.replies.recv().await,
        None => std::future::pending().await,
    }
}

/// Polls the BYE in progress, if any (pending forever otherwise).
async fn poll_bye(bye: &mut ByeInProgress) -> Response {
    match bye {
        Some((future, _)) => future.await,
        None => std::future::pending().await,
    }
}

/// Builds the BYE of `dialog` now (which ends the dialog, §15.1.1) and
/// returns the future that sends it and yields its final response.
fn start_bye(client: &Client, dialog: &mut Dialog, protocol: Protocol) -> ByeFuture {
    let built = dialog.create_request(Method::Bye, None, None);
    let client = client.clone();
    Box::pin(async move {
        let dr = match built {
            Ok(dr) => dr,
            Err(e) => {
                warn!(error = %e, "cannot build the BYE");
                return Response::new(StatusCode::SERVICE_UNAVAILABLE);
            }
        };
        let mut req = dr.request;
        let target = match client.resolve_in_dialog(&dr.next_hop, protocol).await {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, next_hop = %dr.next_hop, "cannot route the BYE");
                return req.reply(StatusCode::SERVICE_UNAVAILABLE);
            }
        };
        match client.via_for(&target) {
            Ok(via) => push_via(&mut req, &via),
            Err(e) => {
                warn!(error = %e, "cannot send the BYE");
                return req.reply(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        info!(to = %target.addr, "sending BYE");
        client.transact(Prepared::to(req, target)).await.1
    })
}
