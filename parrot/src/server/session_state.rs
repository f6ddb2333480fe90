//! A session's state and what a handler's [`Context`] does with it:
//! answering the pending request (with the §12.1.1 duties of a response
//! that creates a dialog), provisional responses, the dialog's own BYE, and
//! handles for application events.
//!
//! [`Context`]: crate::server::Context

use crate::dialog::{Dialog, DialogId, DialogState, Negotiated, Retransmit2xx, SessionTimer};
use crate::endpoint::Endpoint;
use crate::message::{HeaderName, Host, Method, Request, Response, SipUri, Text, Uri};
use crate::server::contacts::{ContactKey, ContactTexts};
use crate::server::dialog_handle::DialogHandle;
use crate::server::duties::Duties;
use crate::server::error::ProvisionalError;
use crate::server::inbox::Aside;
use crate::server::refusals::UasPolicy;
use crate::server::reliable::Reliable;
use crate::transaction::{SendError, TimerConfig, TransactionId};
use crate::transport::{Origin, Protocol};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

/// What every session of a server shares.
pub(crate) struct Shared<E> {
    pub(crate) endpoint: Endpoint,
    pub(crate) timers: TimerConfig,
    /// The core's queue for application events (routed to their dialog),
    /// the dialogs established through our proxying and the runtime's
    /// commands to dialogs.
    pub(crate) aside: mpsc::UnboundedSender<Aside<E>>,
    /// Our address towards a peer, when listening on a wildcard address
    /// (asking the system costs a socket; peers are few).
    pub(crate) routable: Mutex<HashMap<IpAddr, IpAddr>>,
    /// The Contact values of our responses, by what they depend on.
    pub(crate) contacts: ContactTexts,
    /// What we serve and support as a UAS (§8.2 refusals, `Supported`,
    /// `Accept`).
    pub(crate) policy: UasPolicy,
    /// Finds the servers of the URIs we proxy to (RFC 3263).
    pub(crate) locator: Arc<crate::locate::Locator>,
    /// The proxy every request we forward goes through, if any.
    pub(crate) outbound_proxy: Option<Uri>,
    /// The location service proxy targets are looked up in, if any.
    pub(crate) location: Option<crate::registrar::Registrar>,
    /// The REFERs our handlers sent, awaiting NOTIFYs (RFC 3515).
    pub(crate) referrals: Arc<crate::server::referral::Referrals>,
    /// The RTP port pairs of the calls' media sessions.
    pub(crate) media_ports: Arc<crate::media::ports::PortAllocator>,
}

/// The request being answered.
pub(crate) struct Pending {
    pub(crate) id: TransactionId,
    pub(crate) origin: Origin,
    pub(crate) answer: Answer,
    /// The remote target the request's Contact check gave: the dialog it
    /// creates takes it rather than decode the Contact again.
    pub(crate) checked_target: Option<Text>,
    /// What our 2xx's `Session-Expires` negotiated, with the value written,
    /// so that the timer started once it is sent need not decode it back.
    pub(crate) timer_written: Option<(Text, Negotiated)>,
}

/// What became of the pending request's final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// None yet.
    Unanswered,
    /// Sent (or left to the proxy), and neither of the two below.
    Sent,
    /// Accepted by the transaction.
    Accepted,
    /// Refused because the transaction already sent a final response: an
    /// INVITE's 487 after a CANCEL (§9.2).
    Preempted,
    /// A 2xx to an initial INVITE, sent without waiting for its
    /// transaction's verdict and taken as accepted. If a CANCEL won the
    /// race (§9.2) the transaction refused it and the core, which keeps
    /// the INVITE's transaction for that until the ACK, hands the session
    /// the CANCEL's notification: the call then ends as a cancelled one.
    Assumed,
}

impl Pending {
    pub(crate) fn answered(&self) -> bool {
        self.answer != Answer::Unanswered
    }
}

/// The 2xx to an INVITE being retransmitted until its ACK (§13.3.1.4).
pub(crate) struct Retransmission {
    pub(crate) timer: Retransmit2xx,
    pub(crate) response: Response,
    pub(crate) transaction: TransactionId,
}

/// A session's state, which a handler reaches through its [`Context`].
/// Everything only needed while a request is in flight is boxed, so that
/// a parked dialog is small.
pub struct Session<E> {
    pub(crate) shared: Arc<Shared<E>>,
    /// Call-ID, our tag and the peer's (empty outside a dialog).
    pub(crate) id: DialogId,
    /// Whether this session is a dialog the core routes requests to.
    pub(crate) is_dialog: bool,
    pub(crate) in_dialog: bool,
    pub(crate) initialized: bool,
    pub(crate) pending: Option<Box<Pending>>,
    pub(crate) dialog: Option<Box<Dialog>>,
    /// The INVITE that created the dialog while it has no accepted final
    /// response (for the CANCEL notification).
    pub(crate) invite: Option<Box<Request>>,
    pub(crate) retransmit: Option<Box<Retransmission>>,
    /// Cleared when the session ends; shared with its [`DialogHandle`]s.
    pub(crate) alive: Option<Arc<AtomicBool>>,
    /// The transport the dialog's INVITE came over: a dialog set up over
    /// TLS keeps its requests on TLS (see `NextHop::in_dialog`).
    pub(crate) transport: Protocol,
    /// The reliable provisional responses of the dialog's INVITE (RFC
    /// 3262), when the caller supports them; until the ACK.
    pub(crate) reliable: Option<Arc<Reliable>>,
    /// Set while an offer of ours awaits its answer (for 491 on glare);
    /// made with the first handler call inside the dialog.
    pub(crate) offering: Option<Arc<AtomicBool>>,
    /// The last session description we sent (RFC 3264 §8: what an
    /// unchanged answer or a session refresh repeats).
    pub(crate) local_sdp: Option<bytes::Bytes>,
    /// Where the dialog's creating request came from and reached us (for
    /// our Contact in the requests we send).
    pub(crate) origin: Option<Origin>,
    /// Whether the peer's INVITE allowed UPDATE (RFC 3311), which then
    /// carries our session refreshes (RFC 4028 §9).
    pub(crate) peer_allows_update: bool,
    /// The session timer in force (RFC 4028).
    pub(crate) timer: Option<Box<SessionTimer>>,
    /// The handler's own session interval for this call, in seconds
    /// (small: every held dialog carries it).
    pub(crate) timer_override: Option<u32>,
    /// Whether the dialog has an INVITE usage (it was created by INVITE
    /// and no BYE has ended the call; RFC 5057).
    pub(crate) invite_usage: bool,
    /// The dialog's subscription usages (RFC 6665, RFC 3515).
    pub(crate) subs: Option<Box<crate::server::usage::Subscriptions>>,
    /// The call this dialog's INVITE replaces (RFC 3891), until its 2xx
    /// ends that one.
    pub(crate) replaces: Option<Box<DialogId>>,
    /// Whether the handler sent a REFER (whose NOTIFYs the server's
    /// referrals table may still watch when the dialog ends).
    pub(crate) referred: bool,
    /// The call's media, once the handler started it; closed when the
    /// call ends (BYE) or this state is dropped (the dialog ended).
    pub(crate) media: Option<crate::server::call_media::CallMedia>,
}

impl<E: Send + 'static> Session<E> {
    /// A fresh session; see `Parked::new`.
    pub(crate) fn new(shared: Arc<Shared<E>>, id: DialogId, is_dialog: bool) -> Self {
        Session {
            shared,
            id,
            is_dialog,
            in_dialog: false,
            initialized: false,
            pending: None,
            dialog: None,
            invite: None,
            retransmit: None,
            alive: None,
            transport: Protocol::Udp,
            reliable: None,
            offering: None,
            local_sdp: None,
            origin: None,
            peer_allows_update: false,
            timer: None,
            timer_override: None,
            invite_usage: false,
            subs: None,
            replaces: None,
            referred: false,
            media: None,
        }
    }

    /// What the session serves while its handler runs; `None` when
    /// nothing can need it (a request outside a dialog, or an INVITE
    /// without reliable provisional responses, whose dialog nobody else
    /// can reach yet).
    pub(crate) fn duties(&mut self) -> Option<Duties> {
        if !self.is_dialog || (self.dialog.is_none() && self.reliable.is_none()) {
            return None;
        }
        let offering = self
            .offering
            .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
            .clone();
        Some(Duties {
            endpoint: self.shared.endpoint.clone(),
            reliable: self.reliable.clone(),
            offering: Some(offering),
            referrals: self.shared.referrals.clone(),
        })
    }

    /// The duties while an ACK's handler runs: the same, without making
    /// state a held call would then carry (the handler may still send a
    /// request of its own and await it, e.g. a REFER whose NOTIFYs must be
    /// answered meanwhile).
    pub(crate) fn ack_duties(&self) -> Option<Duties> {
        if !self.is_dialog || self.dialog.is_none() {
            return None;
        }
        Some(Duties {
            endpoint: self.shared.endpoint.clone(),
            reliable: self.reliable.clone(),
            offering: self.offering.clone(),
            referrals: self.shared.referrals.clone(),
        })
    }

    pub(crate) fn in_dialog(&self) -> bool {
        self.in_dialog
    }

    pub(crate) fn call_id(&self) -> &str {
        &self.id.call_id
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.shared.endpoint
    }

    /// A handle for events to this dialog; closed at once outside one.
    pub(crate) fn handle(&mut self) -> DialogHandle<E> {
        let alive = match (&self.alive, self.is_dialog) {
            (Some(a), _) => a.clone(),
            (None, true) => self.alive.insert(Arc::new(AtomicBool::new(true))).clone(),
            (None, false) => Arc::new(AtomicBool::new(false)),
        };
        DialogHandle {
            id: self.id.clone(),
            tx: self.shared.aside.clone(),
            alive,
        }
    }

    /// Marks the session over for its handles.
    pub(crate) fn end(&mut self) {
        if self.referred {
            self.shared.referrals.forget_dialog(&self.id);
        }
        if let Some(a) = &self.alive {
            a.store(false, Ordering::Release);
        }
    }

    pub(crate) fn dialog_state(&self) -> Option<DialogState> {
        self.dialog.as_ref().map(|d| d.state())
    }

    /// Sends a provisional response to the pending request now: reliably
    /// (RFC 3262) when `reliably`, or when the request asks for it. A
    /// reliable one yields a receiver for its PRACK.
    pub(crate) fn send_provisional(
        &mut self,
        req: Option<&Request>,
        response: Response,
        reliably: bool,
    ) -> Result<Option<oneshot::Receiver<Request>>, ProvisionalError> {
        let req = req.ok_or(ProvisionalError::NoRequest)?;
        // §17.1.1.3: an ACK is never answered.
        if req.method == Method::Ack {
            return Err(ProvisionalError::NoRequest);
        }
        if !response.status.is_provisional() {
            return Err(ProvisionalError::NotProvisional(response.status));
        }
        match self.pending.as_deref() {
            None => return Err(ProvisionalError::NoRequest),
            Some(p) if p.answered() => return Err(ProvisionalError::Answered),
            Some(_) => {}
        }
        let reliable = match &self.reliable {
            Some(r) if req.method == Method::Invite && (reliably || r.by_default) => {
                Some(r.clone())
            }
            _ if reliably => return Err(ProvisionalError::NotSupported),
            _ => None,
        };
        let Some((id, resp)) = self.prepare(req, response) else {
            return Ok(None);
        };
        self.adopt(req, &resp);
        // §3 of RFC 3262: a 100 is never reliable.
        match reliable {
            Some(r) if resp.status.as_u16() != 100 => match r.send(resp, self.endpoint()) {
                Some((_, prack)) => Ok(Some(prack)),
                None => Err(ProvisionalError::Unacknowledged),
            },
            _ => {
                self.endpoint().respond(id, resp);
                Ok(None)
            }
        }
    }

    /// Sends a final response (or a provisional one from an [`Action`]).
    /// Where the outcome matters it waits until its transaction accepted
    /// it: so that a usage starts only on an accepted 2xx, and a call
    /// replaces another only once its answer went out. The 2xx to an
    /// initial INVITE is taken as accepted ([`Answer::Assumed`]).
    pub(crate) async fn respond(&mut self, req: &Request, response: Response) {
        let Some((id, resp)) = self.prepare(req, response) else {
            return;
        };
        if !resp.status.is_final() {
            let _ = self.send_provisional(Some(req), resp, false);
            return;
        }
        if let Some(r) = &self.reliable
            && req.method == Method::Invite
        {
            r.stop(false);
        }
        // The response is read again below only when it may create a
        // dialog, start a session timer or be retransmitted (a 2xx to
        // INVITE); otherwise (a BYE's 200, ...) it goes without a copy.
        let status = resp.status;
        let kept = (matches!(req.method, Method::Invite | Method::Update)
            || crate::dialog::creates_dialog(&req.method, status))
        .then(|| resp.clone());
        if kept.is_none() && !super::usage::starts_usage(&req.method) {
            // Nothing depends on the verdict (a BYE's 200, ...): no round
            // trip to the transaction task, which logs a refusal itself.
            // Later requests of this session queue behind it.
            self.endpoint().respond(id, resp);
            if let Some(p) = &mut self.pending {
                p.answer = Answer::Sent;
            }
            return;
        }
        // The 2xx to an initial INVITE that replaces no call does not wait
        // for the verdict: only a CANCEL can take the transaction's final
        // response first, and its notification reaches the session anyway
        // (see `Answer::Assumed`); a transaction gone with a transport
        // error leaves the 2xx unacknowledged, which ends the call after
        // 64*T1 like a lost ACK (§13.3.1.4). A call that replaces another
        // waits: the other call must not end for an answer that never
        // went out (RFC 3891 §3).
        let assumed = req.method == Method::Invite
            && status.is_success()
            && !req.headers.has_to_tag()
            && self.replaces.is_none();
        let accepted = if assumed {
            self.endpoint().respond(id, resp);
            Ok(())
        } else {
            self.endpoint().try_respond(id, resp).await
        };
        if let Some(p) = &mut self.pending {
            p.answer = match &accepted {
                Ok(()) if assumed => Answer::Assumed,
                Ok(()) => Answer::Accepted,
                Err(SendError::FinalResponseSent) => Answer::Preempted,
                Err(_) => Answer::Sent,
            };
        }
        if let Err(e) = accepted {
            debug!(%status, error = %e, "final response refused by its transaction");
            return;
        }
        let Some(resp) = kept else {
            return;
        };
        self.adopt(req, &resp);
        if resp.status.is_success() && matches!(req.method, Method::Invite | Method::Update) {
            self.timer_from_response(&resp);
        }
        if req.method == Method::Invite
            && resp.status.is_success()
            && let Some(d) = &self.dialog
        {
            // §13.3.1.4: the 2xx is retransmitted by the UAS core until the
            // ACK arrives; without an ACK within 64*T1 the call is ended.
            let seq = req.headers.cseq().map_or(0, |c| c.seq);
            let reliable = self
                .pending
                .as_ref()
                .is_some_and(|p| p.origin.protocol != Protocol::Udp);
            let timer = Retransmit2xx::new(
                d.id().clone(),
                seq,
                &self.shared.timers,
                reliable,
                Instant::now().into_std(),
            );
            self.retransmit = Some(Box::new(Retransmission {
                timer,
                response: resp,
                transaction: id,
            }));
        }
    }

    /// Completes `resp` for `req` (§8.2.6 headers, To tag, Contact,
    /// Record-Route) and returns it with its transaction.
    pub(crate) fn prepare(
        &mut self,
        req: &Request,
        resp: Response,
    ) -> Option<(TransactionId, Response)> {
        let Some(pending) = self.pending.as_deref() else {
            warn!("response without a pending request; dropped");
            return None;
        };
        if pending.answered() {
            warn!(status = %resp.status, "request already answered; response dropped");
            return None;
        }
        let id = pending.id;
        let origin = pending.origin;
        let mut resp = complete(req, resp);
        advertise(&self.shared.policy, req, &mut resp);
        self.negotiate_timer(req, &mut resp);
        if !resp.body.is_empty() && resp.headers.content_is_sdp() {
            // A copy of its own size: a held call keeps it (the body may
            // sit in a larger buffer).
            self.local_sdp = Some(bytes::Bytes::copy_from_slice(&resp.body));
        }
        let shared = &self.shared;
        let contact = || {
            let sips = req.uri.as_sip().is_some_and(|u| u.is_secure());
            let user = req.uri.as_sip().and_then(|u| u.user());
            contact_value(shared, &origin, sips, user.as_deref())
        };
        match &mut self.dialog {
            Some(d) => d.prepare_response_with(&mut resp, contact),
            None => {
                crate::dialog::prepare_response_with(req, &mut resp, &self.id.local_tag, contact)
            }
        }
        Some((id, resp))
    }

    /// Creates the dialog when a sent response establishes one (§12.1.1);
    /// later responses update it in `prepare`.
    pub(crate) fn adopt(&mut self, req: &Request, resp: &Response) {
        if self.dialog.is_none()
            && !req.headers.has_to_tag()
            && crate::dialog::creates_dialog(&req.method, resp.status)
        {
            let checked = self.pending.as_mut().and_then(|p| p.checked_target.take());
            match Dialog::new_uas_checked(req, resp, checked) {
                Ok(d) => {
                    debug!(call_id = %self.id.call_id, "dialog created");
                    self.dialog = Some(Box::new(d));
                    if let Some(p) = &self.pending {
                        self.transport = p.origin.protocol;
                        self.origin = Some(p.origin);
                    }
                    self.peer_allows_update = req.headers.lists(HeaderName::Allow, "UPDATE");
                    self.invite_usage = req.method == Method::Invite;
                }
                Err(e) => warn!(error = ?e, "could not create the dialog"),
            }
        }
    }
}

/// RFC 3261 §11.2 and §20.37: an OPTIONS answer says what we accept and
/// support, and a 2xx to INVITE what we support, unless the handler said
/// it already.
fn advertise(policy: &UasPolicy, req: &Request, resp: &mut Response) {
    let options = req.method == Method::Options;
    if !resp.status.is_success() || !(options || req.method == Method::Invite) {
        return;
    }
    if options && !resp.headers.contains(HeaderName::Accept) {
        match policy.accepts(&Method::Invite) {
            Some(accept) => resp.headers.push_typed(accept),
            None => resp.headers.append(HeaderName::Accept, "*/*"),
        }
    }
    if (options || policy.has_supported()) && !resp.headers.contains(HeaderName::Supported) {
        resp.headers
            .append(HeaderName::Supported, policy.supported().to_owned());
    }
}

/// Fills in what a handler's response leaves out: a response built from a
/// bare status code gets the §8.2.6 headers copied from the request.
fn complete(req: &Request, resp: Response) -> Response {
    if resp.headers.contains(HeaderName::Via) {
        return resp;
    }
    let mut full = req.reply(resp.status);
    full.reason = resp.reason;
    for h in &resp.headers {
        full.headers.push(h.clone());
    }
    full.body = resp.body;
    full
}

/// Our Contact for a request that reached us as `origin` says: that
/// address, a SIPS URI when `sips`, with the user part `user`.
pub(crate) fn contact<E>(
    shared: &Shared<E>,
    origin: &Origin,
    sips: bool,
    user: Option<&str>,
) -> Uri {
    contact_at(local_ip(shared, origin), origin, sips, user)
}

/// [`contact`] with our address towards the peer, `ip`, known.
fn contact_at(ip: IpAddr, origin: &Origin, sips: bool, user: Option<&str>) -> Uri {
    let mut uri = SipUri::new(Host::from(ip)).with_port(origin.local.port());
    match origin.protocol {
        Protocol::Tcp => uri = uri.with_transport("tcp"),
        // §12.1.1: a dialog a SIPS Request-URI starts gets a SIPS Contact
        // (which means TLS, RFC 5630 §3.1.1); otherwise a sip: URI says
        // TLS with the transport parameter (RFC 3261 §19.1.1).
        Protocol::Tls if sips => uri = uri.secure(),
        Protocol::Tls => uri = uri.with_transport("tls"),
        // RFC 7118 §7: `transport=ws`, on a SIPS URI for WSS.
        Protocol::Ws => uri = uri.with_transport("ws"),
        Protocol::Wss => uri = uri.secure().with_transport("ws"),
        Protocol::Udp => {}
    }
    if let Some(user) = user {
        uri = uri.with_user(user);
    }
    Uri::Sip(uri)
}

/// The value of our Contact header field for a request that reached us as
/// `origin` says (see [`contact`]), written once per address and user.
fn contact_value<E>(shared: &Shared<E>, origin: &Origin, sips: bool, user: Option<&str>) -> Text {
    let ip = local_ip(shared, origin);
    let key = ContactKey {
        ip,
        port: origin.local.port(),
        protocol: origin.protocol,
        sips,
        user: user.map(Text::copy_of),
    };
    shared.contacts.get_or_write(key, || {
        crate::dialog::contact_value(&contact_at(ip, origin, sips, user))
    })
}

/// Our address for a peer whose request reached us as `origin` says: the
/// listener's, or when it listens on a wildcard address the one the
/// system routes towards the peer (for Contact and SDP addresses).
pub(crate) fn local_ip<E>(shared: &Shared<E>, origin: &Origin) -> IpAddr {
    if !origin.local.ip().is_unspecified() {
        return origin.local.ip();
    }
    let peer = origin.source.ip();
    let mut known = shared.routable.lock().unwrap_or_else(|p| p.into_inner());
    let found = known.get(&peer).copied();
    found
        .or_else(|| {
            let ip = routable_ip(origin.source)?;
            if known.len() >= 1024 {
                known.clear();
            }
            known.insert(peer, ip);
            Some(ip)
        })
        .unwrap_or(origin.local.ip())
}

/// The local address the system would use to reach `peer` (for a Contact
/// when listening on a wildcard address).
fn routable_ip(peer: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if peer.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(peer).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}
