//! Requests a UAS session sends inside its dialog (RFC 3261 §12.2.1.1):
//! BYE (§15.1.1), UPDATE (RFC 3311) or re-INVITE with the ACK of its 2xx
//! (§13.2.2.4), retried after a `491 Request Pending` (§14.1), and the
//! handler's own requests (INFO, MESSAGE, NOTIFY, REFER, OPTIONS, ...).

use super::error::RequestError;
use super::referral::Referral;
use super::session_state::{Session, contact};
use crate::client::NextHop;
use crate::dialog::{DialogState, is_target_refresh};
use crate::message::Uri;
use crate::message::typed::CSeq;
use crate::message::{Header, HeaderName, Method, Request, Response, StatusCode};
use crate::transport::{SendOptions, Target};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use tracing::{debug, info, warn};

/// How many times an offer is sent when the peer keeps answering 491.
const OFFER_ATTEMPTS: usize = 3;

impl<E: Send + 'static> Session<E> {
    /// Sends BYE in the dialog (§15.1.1) and waits for its final response.
    pub(crate) async fn bye(&mut self) -> Result<Response, RequestError> {
        // A dialog without a call (a subscription's) is ended by its
        // NOTIFYs, not BYE (RFC 5057).
        if self.dialog_state() != Some(DialogState::Confirmed) || !self.invite_usage {
            return Err(RequestError::NoDialog);
        }
        if let Some(r) = &mut self.retransmit {
            r.timer.stop();
        }
        info!(call_id = %self.id.call_id, "sending BYE");
        let resp = self.send_in_dialog(Method::Bye, None, |_| {}).await;
        // RFC 5057 §5.4: the call is over; subscriptions keep the dialog.
        self.invite_usage = false;
        self.media = None;
        self.end_if_unused();
        let resp = resp?;
        if resp.status == StatusCode::REQUEST_TIMEOUT && !resp.headers.has_to_tag() {
            return Err(RequestError::Timeout);
        }
        Ok(resp)
    }

    /// Sends an offer (or, without `sdp`, a bodiless refresh) in an UPDATE
    /// or re-INVITE and waits for its final response; a `491` is retried
    /// after §14.1's delay, up to three sendings. `extra` completes each
    /// request (e.g. the session timer's headers).
    pub(crate) async fn offer(
        &mut self,
        method: Method,
        sdp: Option<Bytes>,
        extra: impl Fn(&mut Request),
    ) -> Result<Response, RequestError> {
        let mut attempt = 1;
        loop {
            let flag = self.offering.clone();
            if let Some(f) = &flag {
                f.store(sdp.is_some(), Ordering::Release);
            }
            let resp = self
                .send_in_dialog(method.clone(), sdp.clone(), &extra)
                .await;
            if let Some(f) = &flag {
                f.store(false, Ordering::Release);
            }
            let resp = resp?;
            if resp.status != StatusCode::REQUEST_PENDING || attempt == OFFER_ATTEMPTS {
                if resp.status.is_success()
                    && let Some(sdp) = sdp
                {
                    self.local_sdp = Some(sdp);
                }
                return Ok(resp);
            }
            attempt += 1;
            // We answered the INVITE: the peer owns the Call-ID.
            let wait = crate::dialog::glare_delay(false);
            debug!(?wait, "491: offering again after the glare delay");
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `sdp`, a new offer for the session in force, by UPDATE when
    /// the peer allows it (its `Allow` listed UPDATE, RFC 3311 §5.1) and
    /// by re-INVITE otherwise (RFC 3261 §14.1, its 2xx acknowledged), or
    /// by re-INVITE after all if the UPDATE is refused as unknown (`405`,
    /// `501`); waits for the answer. Glare (`491`) is retried as
    /// [`offer`](Self::offer) does; a 2xx refreshes the session timer.
    /// Refused while an INVITE of the call is still unanswered (§14.1: no
    /// new offer before the previous exchange completes).
    pub(crate) async fn renegotiate(&mut self, sdp: Bytes) -> Result<Response, RequestError> {
        if self.dialog_state() != Some(DialogState::Confirmed) || !self.invite_usage {
            return Err(RequestError::NoDialog);
        }
        let mut method = if self.peer_allows_update {
            Method::Update
        } else {
            Method::Invite
        };
        loop {
            info!(call_id = %self.id.call_id, %method, "sending a new offer");
            let resp = self
                .offer_refreshing(method.clone(), Some(sdp.clone()))
                .await?;
            if method == Method::Update
                && matches!(
                    resp.status,
                    StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
                )
            {
                debug!(status = %resp.status, "UPDATE refused: offering by re-INVITE");
                self.peer_allows_update = false;
                method = Method::Invite;
                continue;
            }
            if !resp.status.is_success() {
                // RFC 3261 §14.1: a failed re-INVITE leaves the session
                // as it was; so does a failed UPDATE (RFC 3311 §5.1).
                debug!(status = %resp.status, "offer refused: the session stays as it was");
            }
            return Ok(resp);
        }
    }

    /// Sends the handler's request of `method` in the dialog, with an
    /// optional body `(content type, bytes)`, and waits for its final
    /// response. Methods the runtime sends itself, or by their own call,
    /// are refused ([`RequestError::NotAllowed`]).
    pub(crate) async fn request_in_dialog(
        &mut self,
        method: Method,
        body: Option<(String, Bytes)>,
    ) -> Result<Response, RequestError> {
        if matches!(
            method,
            Method::Ack
                | Method::Cancel
                | Method::Prack
                | Method::Bye
                | Method::Invite
                | Method::Update
        ) {
            return Err(RequestError::NotAllowed(method));
        }
        if self.dialog_state() != Some(DialogState::Confirmed) {
            return Err(RequestError::NoDialog);
        }
        self.send_in_dialog(method, None, move |req| {
            if let Some((content_type, bytes)) = body {
                req.headers.set(HeaderName::ContentType, content_type);
                req.body = bytes;
            }
        })
        .await
    }

    /// Builds `method` in the dialog (with our Contact for a target
    /// refresh, §12.2.1.1), sends it, waits for its final response and
    /// updates the dialog with it; a 2xx to a re-INVITE is acknowledged.
    pub(crate) async fn send_in_dialog(
        &mut self,
        method: Method,
        body: Option<Bytes>,
        extra: impl FnOnce(&mut Request),
    ) -> Result<Response, RequestError> {
        let our_contact = match (&self.origin, is_target_refresh(&method)) {
            (Some(origin), true) => {
                let sips = self.dialog.as_ref().is_some_and(|d| d.is_secure());
                Some(contact(&self.shared, origin, sips, None))
            }
            _ => None,
        };
        let dialog = self.dialog.as_mut().ok_or(RequestError::NoDialog)?;
        let built = dialog
            .create_request(method.clone(), None, our_contact.as_ref())
            .map_err(|_| RequestError::NoDialog)?;
        let target = self
            .resolve_in_dialog(&built.next_hop)
            .await
            .map_err(RequestError::Unreachable)?;
        let mut req = built.request;
        extra(&mut req);
        if let Some(body) = body {
            req.headers.set(HeaderName::ContentType, "application/sdp");
            req.body = body;
        }
        let via = self.endpoint().via(target.protocol).ok_or_else(|| {
            RequestError::Unreachable(format!("no {:?} listener", target.protocol))
        })?;
        req.headers
            .push_front(Header::known(HeaderName::Via, via.to_string()));
        debug!(call_id = %self.id.call_id, %method, "sending a request in the dialog");
        let mut resp = self.transact(&req, target).await?;
        // §22.2, §22.3: sent again with credentials and the next CSeq,
        // once per kind of challenge (a proxy's 407, then the peer's 401);
        // a second challenge of a kind answered means the credentials
        // were refused (RFC 7235 §3.1) and goes back to the sender.
        while is_challenge(&resp)
            && let Some(next) = self.authorized(&req, &resp)
        {
            info!(call_id = %self.id.call_id, %method, status = %resp.status, "challenged: sending again with credentials");
            req = next;
            resp = self.transact(&req, target).await?;
        }
        if method == Method::Invite && resp.status.is_success() {
            self.ack(&resp, &req).await;
        }
        Ok(resp)
    }

    /// Sends `req` to `target` in a client transaction, waits for its
    /// final response and updates the dialog with it.
    async fn transact(&mut self, req: &Request, target: Target) -> Result<Response, RequestError> {
        let tx = self
            .endpoint()
            .request(req.clone(), target)
            .await
            .map_err(|e| RequestError::Unreachable(e.to_string()))?;
        let resp = tx.final_response(req).await;
        if let Some(d) = &mut self.dialog {
            d.handle_response(&resp);
        }
        Ok(resp)
    }

    /// `req` resubmitted with the server's credentials
    /// ([`ServerBuilder::credentials`]) answering the challenges of
    /// `challenge` (a 401 gives `Authorization`, a 407
    /// `Proxy-Authorization`, RFC 3261 §22.2, §22.3): "it MUST increment
    /// the CSeq header field value as it would normally when sending an
    /// updated request" (the dialog's next number, §12.2.1.1), and a new
    /// branch (§8.1.1.7). `None` without credentials, when none of the
    /// challenges can be answered, or when `req` carries credentials of
    /// that kind already (refused ones are not sent again, so at most two
    /// resubmissions).
    ///
    /// [`ServerBuilder::credentials`]: crate::server::ServerBuilder::credentials
    pub(crate) fn authorized(&mut self, req: &Request, challenge: &Response) -> Option<Request> {
        let me = self.shared.policy.credentials.as_ref()?;
        let header = if challenge.status == StatusCode::UNAUTHORIZED {
            HeaderName::Authorization
        } else {
            HeaderName::ProxyAuthorization
        };
        if req.headers.contains(header) {
            return None;
        }
        let mut next = req.clone();
        if let Err(e) = me.authorize(&mut next, challenge) {
            warn!(status = %challenge.status, error = %e, "cannot answer the challenge");
            return None;
        }
        let dialog = self.dialog.as_mut()?;
        let seq = dialog
            .local_seq()
            .checked_add(1)
            .filter(|&n| n <= CSeq::MAX)?;
        dialog.raise_local_seq(seq);
        let mut via = next.headers.top_via()?.into_owned();
        via.set_branch(crate::random::branch());
        next.headers.set_typed(&via);
        next.headers.set_typed(&CSeq::new(seq, req.method.clone()));
        Some(next)
    }

    /// Where a request of ours in the dialog goes, its next hop being
    /// `uri`: a host name is located by RFC 3263 (its first server over
    /// the transport the dialog keeps, see `NextHop::in_dialog`), an
    /// address taken as it is.
    async fn resolve_in_dialog(&self, uri: &Uri) -> Result<Target, String> {
        resolve_hop(&self.shared.locator, uri, self.transport).await
    }

    /// Acknowledges the 2xx to our re-INVITE `invite` (§13.2.2.4: its own
    /// transaction-less request, straight to the transport, with the
    /// INVITE's CSeq number and "the same credentials as the INVITE").
    async fn ack(&mut self, ok: &Response, invite: &Request) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let Ok(built) = dialog.create_request(Method::Ack, None, None) else {
            return;
        };
        let mut ack = built.request;
        if let Some(cseq) = invite.headers.cseq() {
            ack.headers.set_typed(&CSeq::new(cseq.seq, Method::Ack));
        }
        for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
            for h in invite.headers.get_all(name) {
                ack.headers.push(h.clone());
            }
        }
        let Ok(target) = self.resolve_in_dialog(&built.next_hop).await else {
            warn!("cannot route the ACK of our re-INVITE");
            return;
        };
        let Some(via) = self.endpoint().via(target.protocol) else {
            return;
        };
        ack.headers
            .push_front(Header::known(HeaderName::Via, via.to_string()));
        if let Err(e) = self
            .endpoint()
            .transport()
            .send_request(&mut ack, target, SendOptions::default())
            .await
        {
            warn!(error = %e, status = %ok.status, "ACK of our re-INVITE not sent");
        }
    }
}

/// Where a request in a dialog kept on `transport` goes, its next hop
/// being `uri`: a host name is located by RFC 3263 (its first server over
/// that transport, see `NextHop::in_dialog`), an address taken as it is.
pub(crate) async fn resolve_hop(
    locator: &crate::locate::Locator,
    uri: &Uri,
    transport: crate::transport::Protocol,
) -> Result<Target, String> {
    let hop = NextHop::in_dialog(uri, transport).map_err(|e| e.to_string())?;
    if hop.host.parse::<std::net::IpAddr>().is_err()
        && let Ok(targets) = locator.locate(uri).await
        && let Some(t) = targets.iter().find(|t| t.protocol == hop.protocol)
    {
        return Ok(*t);
    }
    crate::server::relay::resolve_in_dialog(uri, transport).await
}

/// Whether `resp` is a challenge: 401 or 407 (§22.2, §22.3).
pub(crate) fn is_challenge(resp: &Response) -> bool {
    matches!(
        resp.status,
        StatusCode::UNAUTHORIZED | StatusCode::PROXY_AUTHENTICATION_REQUIRED
    )
}

impl<E: Send + 'static> Session<E> {
    /// Sends REFER in the dialog with `refer_to` (RFC 3515 §2.4.1), asking
    /// for no subscription when `subscribe` is false (RFC 4488), and
    /// watches the NOTIFYs of its implicit subscription from before it is
    /// sent (they may overtake the 2xx, RFC 6665 §4.1.2.4).
    pub(crate) async fn refer(
        &mut self,
        refer_to: String,
        subscribe: bool,
    ) -> Result<Referral, RequestError> {
        if self.dialog_state() != Some(DialogState::Confirmed) {
            return Err(RequestError::NoDialog);
        }
        let referrals = self.shared.referrals.clone();
        let dialog = self.id.clone();
        self.referred = true;
        let mut watch = None;
        let sent = self
            .send_in_dialog(Method::Refer, None, |req| {
                req.headers
                    .push(Header::known(HeaderName::ReferTo, refer_to));
                if subscribe {
                    let id = req.headers.cseq().map_or(0, |c| c.seq).to_string();
                    watch = Some((id.clone(), referrals.watch(&dialog, id)));
                } else {
                    req.headers.push(Header::new("Refer-Sub", "false"));
                }
            })
            .await;
        let (id, statuses) = match watch {
            Some((id, rx)) => (Some(id), Some(rx)),
            None => (None, None),
        };
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                if let Some(id) = &id {
                    referrals.forget(&dialog, id);
                }
                return Err(e);
            }
        };
        // No subscription: refused, or the peer honoured Refer-Sub: false.
        let kept = response.status.is_success()
            && !response
                .headers
                .get("Refer-Sub")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        if !kept {
            if let Some(id) = &id {
                referrals.forget(&dialog, id);
            }
            return Ok(Referral {
                response,
                statuses: None,
            });
        }
        Ok(Referral { response, statuses })
    }
}
