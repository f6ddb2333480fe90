//! One handler session: a dialog (INVITE/SUBSCRIBE) or a single
//! out-of-dialog request. The session owns the handler value, receives its
//! requests in arrival order, turns the handler's [`Action`]s into
//! responses, and runs the dialog's duties: To tag, Contact and
//! Record-Route on responses (§12.1.1), CSeq ordering (§12.2.2), 2xx
//! retransmission until the ACK and BYE when it never comes (§13.3.1.4),
//! BYE ending the dialog (§15).
//!
//! A session runs as a task only while it has work: once a confirmed
//! dialog has nothing in flight it parks, handing its state back to the
//! core as plain data ([`Parked`]), and the core starts a task again when
//! the next request or event for it arrives. A held call therefore costs
//! its state, not a task and a channel.

use super::catch::CatchUnwind;
use crate::dialog::{Dialog, DialogId, DialogState, Retransmit2xx, Retransmit2xxOutput};
use crate::endpoint::Endpoint;
use crate::endpoint::sleep_until;
use crate::handler::{Action, Context, DialogHandle, RequestError, UasHandler, dispatch};
use crate::message::{
    Header, HeaderName, Host, Method, Request, Response, SipUri, StatusCode, Uri,
};
use crate::transaction::{SendError, TimerConfig, TransactionId};
use crate::transport::{Origin, Protocol};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// What every session of a server shares.
pub(crate) struct Shared<E> {
    pub(crate) endpoint: Endpoint,
    pub(crate) timers: TimerConfig,
    /// Dialogs established through our proxying, for the core's routing.
    pub(crate) proxied: mpsc::UnboundedSender<super::relay::ProxiedDialog>,
    /// Application events, routed by the core to their dialog.
    pub(crate) events: mpsc::UnboundedSender<(DialogId, E)>,
    /// Our address towards a peer, when listening on a wildcard address
    /// (asking the system costs a socket; peers are few).
    pub(crate) routable: Mutex<HashMap<IpAddr, IpAddr>>,
}

/// What the core delivers to a running session. Requests are boxed so
/// that the channel's slots stay small.
pub(crate) enum Inbox<E> {
    /// A request (the first one, or one inside the dialog).
    Request {
        id: TransactionId,
        request: Box<Request>,
        origin: Origin,
    },
    /// The ACK for our 2xx.
    Ack { request: Box<Request> },
    /// The pending INVITE was cancelled (the runtime already sent 487).
    Cancelled,
    /// An application event sent through a [`DialogHandle`].
    Event(E),
}

/// The request being answered.
struct Pending {
    id: TransactionId,
    origin: Origin,
    answer: Answer,
}

/// What became of the pending request's final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// None yet.
    Unanswered,
    /// Sent (or left to the proxy), and neither of the two below.
    Sent,
    /// Accepted by the transaction.
    Accepted,
    /// Refused because the transaction already sent a final response: an
    /// INVITE's 487 after a CANCEL (§9.2).
    Preempted,
}

impl Pending {
    fn answered(&self) -> bool {
        self.answer != Answer::Unanswered
    }
}

/// The 2xx to an INVITE being retransmitted until its ACK (§13.3.1.4).
struct Retransmission {
    timer: Retransmit2xx,
    response: Response,
    transaction: TransactionId,
}

/// A session's state, which a handler reaches through its [`Context`].
/// Everything only needed while a request is in flight is boxed, so that
/// a parked dialog is small.
pub struct Session<E> {
    shared: Arc<Shared<E>>,
    /// Call-ID, our tag and the peer's (empty outside a dialog).
    id: DialogId,
    /// Whether this session is a dialog the core routes requests to.
    is_dialog: bool,
    in_dialog: bool,
    initialized: bool,
    pending: Option<Box<Pending>>,
    dialog: Option<Box<Dialog>>,
    /// The INVITE that created the dialog while it has no accepted final
    /// response (for the CANCEL notification).
    invite: Option<Box<Request>>,
    retransmit: Option<Box<Retransmission>>,
    /// Cleared when the session ends; shared with its [`DialogHandle`]s.
    alive: Option<Arc<AtomicBool>>,
}

/// A session with its handler value: what a parked dialog is.
pub(crate) struct Parked<H: UasHandler> {
    handler: H,
    session: Session<H::Event>,
}

impl<H: UasHandler> Parked<H> {
    /// A fresh session for a new request. `id` holds the request's Call-ID,
    /// our new tag and the peer's; `is_dialog` says whether the core routes
    /// requests of that dialog to it.
    pub(crate) fn new(
        handler: H,
        shared: Arc<Shared<H::Event>>,
        id: DialogId,
        is_dialog: bool,
    ) -> Box<Self> {
        Box::new(Parked {
            handler,
            session: Session {
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
            },
        })
    }
}

/// How a session task ended.
pub(crate) enum Exit<H: UasHandler> {
    /// The session is over.
    Ended,
    /// The dialog is idle: its state, and the inbox (which may have
    /// received something since).
    Parked(Box<Parked<H>>, mpsc::UnboundedReceiver<Inbox<H::Event>>),
}

impl<E: Send + 'static> Session<E> {
    pub(crate) fn in_dialog(&self) -> bool {
        self.in_dialog
    }

    pub(crate) fn call_id(&self) -> &str {
        &self.id.call_id
    }

    fn endpoint(&self) -> &Endpoint {
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
            tx: self.shared.events.clone(),
            alive,
        }
    }

    /// Marks the session over for its handles.
    fn end(&mut self) {
        if let Some(a) = &self.alive {
            a.store(false, Ordering::Release);
        }
    }

    pub(crate) fn dialog_state(&self) -> Option<DialogState> {
        self.dialog.as_ref().map(|d| d.state())
    }

    /// Sends a provisional response to the pending request now.
    pub(crate) fn send_provisional(&mut self, req: Option<&Request>, response: Response) {
        let Some(req) = req else {
            warn!("provisional response without a request to answer; dropped");
            return;
        };
        if !response.status.is_provisional() {
            warn!(status = %response.status, "send_provisional given a final status; dropped");
            return;
        }
        if let Some((id, resp)) = self.prepare(req, response) {
            self.adopt(req, &resp);
            self.endpoint().respond(id, resp);
        }
    }

    /// Sends a final response (or a provisional one from an [`Action`]) and
    /// waits until its transaction accepted it, so that a response that
    /// lost the race with a CANCEL (§9.2) creates no dialog.
    async fn respond(&mut self, req: &Request, response: Response) {
        let Some((id, resp)) = self.prepare(req, response) else {
            return;
        };
        if !resp.status.is_final() {
            self.adopt(req, &resp);
            self.endpoint().respond(id, resp);
            return;
        }
        let accepted = self.endpoint().try_respond(id, resp.clone()).await;
        if let Some(p) = &mut self.pending {
            p.answer = match &accepted {
                Ok(()) => Answer::Accepted,
                Err(SendError::FinalResponseSent) => Answer::Preempted,
                Err(_) => Answer::Sent,
            };
        }
        if let Err(e) = accepted {
            debug!(status = %resp.status, error = %e, "final response refused by its transaction");
            return;
        }
        self.adopt(req, &resp);
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
    fn prepare(&mut self, req: &Request, resp: Response) -> Option<(TransactionId, Response)> {
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
        let contact = contact(&self.shared, &origin, req);
        match &mut self.dialog {
            Some(d) => d.prepare_response(&mut resp, &contact),
            None => crate::dialog::prepare_response(req, &mut resp, &self.id.local_tag, &contact),
        }
        Some((id, resp))
    }

    /// Creates the dialog when a sent response establishes one (§12.1.1);
    /// later responses update it in `prepare`.
    fn adopt(&mut self, req: &Request, resp: &Response) {
        if self.dialog.is_none()
            && req.headers.to_tag().is_none()
            && crate::dialog::creates_dialog(&req.method, resp.status)
        {
            match Dialog::new_uas(req, resp) {
                Ok(d) => {
                    debug!(call_id = %self.id.call_id, "dialog created");
                    self.dialog = Some(Box::new(d));
                }
                Err(e) => warn!(error = ?e, "could not create the dialog"),
            }
        }
    }

    /// Sends BYE in the dialog (§15.1.1) and waits for its final response.
    pub(crate) async fn bye(&mut self) -> Result<Response, RequestError> {
        let dialog = self.dialog.as_mut().ok_or(RequestError::NoDialog)?;
        if dialog.state() != DialogState::Confirmed {
            return Err(RequestError::NoDialog);
        }
        let request = dialog
            .create_request(Method::Bye, None, None)
            .map_err(|_| RequestError::NoDialog)?;
        dialog.terminate();
        if let Some(r) = &mut self.retransmit {
            r.timer.stop();
        }
        let target = super::relay::resolve(&request.next_hop)
            .await
            .map_err(RequestError::Unreachable)?;
        let mut req = request.request;
        let via = self.endpoint().via(target.protocol).ok_or_else(|| {
            RequestError::Unreachable(format!("no {:?} listener", target.protocol))
        })?;
        req.headers
            .push_front(Header::known(HeaderName::Via, via.to_string()));
        info!(call_id = %self.id.call_id, "sending BYE");
        let tx = self
            .endpoint()
            .request(req.clone(), target)
            .await
            .map_err(|e| RequestError::Unreachable(e.to_string()))?;
        let resp = tx.final_response(&req).await;
        if resp.status == StatusCode::REQUEST_TIMEOUT && resp.headers.to_tag().is_none() {
            return Err(RequestError::Timeout);
        }
        Ok(resp)
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

/// Our Contact for responses to `req`: the address it reached us on.
fn contact<E>(shared: &Shared<E>, origin: &Origin, req: &Request) -> Uri {
    let ip = if origin.local.ip().is_unspecified() {
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
    } else {
        origin.local.ip()
    };
    let mut uri = SipUri::new(Host::from(ip)).with_port(origin.local.port());
    if origin.protocol == Protocol::Tcp {
        uri = uri.with_transport("tcp");
    }
    if let Some(user) = req.uri.as_sip().and_then(|u| u.user()) {
        uri = uri.with_user(&user);
    }
    Uri::Sip(uri)
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

/// Runs a session until its dialog ends (or, without a dialog, until its
/// single request is answered), or until its dialog is idle and parks.
/// `first` is handled before anything in the inbox.
pub(crate) async fn run<H: UasHandler>(
    mut state: Box<Parked<H>>,
    first: Inbox<H::Event>,
    mut inbox: mpsc::UnboundedReceiver<Inbox<H::Event>>,
    // Kept so the inbox stays open while the core may still route to it.
    inbox_tx: mpsc::UnboundedSender<Inbox<H::Event>>,
) -> Exit<H> {
    // Messages that arrived while a proxied request was in progress.
    let mut deferred: VecDeque<Inbox<H::Event>> = VecDeque::from([first]);
    loop {
        // The next message; `None` when the 2xx retransmission timer fires.
        let msg = if let Some(msg) = deferred.pop_front() {
            Some(msg)
        } else if can_park(&state.session) {
            match inbox.try_recv() {
                Ok(msg) => Some(msg),
                Err(_) => {
                    // Nothing in flight: hand the state back to the core.
                    state.session.pending = None;
                    return Exit::Parked(state, inbox);
                }
            }
        } else {
            let deadline = state
                .session
                .retransmit
                .as_ref()
                .and_then(|r| r.timer.poll_timeout())
                .map(Instant::from_std);
            tokio::select! {
                msg = inbox.recv() => match msg {
                    Some(msg) => Some(msg),
                    None => break,
                },
                () = sleep_until(deadline) => None,
            }
        };
        let Parked {
            handler,
            session: s,
        } = &mut *state;
        let go_on = match msg {
            Some(Inbox::Request {
                id,
                request,
                origin,
            }) => {
                let mut mailbox = Mailbox {
                    inbox: &mut inbox,
                    deferred: &mut deferred,
                };
                // Boxed: the request path is far larger than the rest.
                Box::pin(handle_request(
                    handler,
                    s,
                    id,
                    *request,
                    origin,
                    &mut mailbox,
                ))
                .await
            }
            Some(Inbox::Ack { request }) => Box::pin(handle_ack(handler, s, *request)).await,
            Some(Inbox::Cancelled) => Box::pin(handle_cancel(handler, s)).await,
            Some(Inbox::Event(ev)) => Box::pin(handle_event(handler, s, ev)).await,
            None => {
                if retransmit_due(s) {
                    true
                } else {
                    // §13.3.1.4: no ACK within 64*T1: end the session.
                    warn!(call_id = %s.id.call_id, "no ACK for the 2xx: sending BYE");
                    hang_up(s).await;
                    false
                }
            }
        };
        if !go_on {
            break;
        }
    }
    let s = &mut state.session;
    s.end();
    // Requests that reached the inbox while the session was ending are
    // for a dialog that no longer exists (§12.2.2: 481); the core answers
    // those it cannot deliver any more.
    drop(inbox_tx);
    inbox.close();
    while let Ok(msg) = inbox.try_recv() {
        if let Inbox::Request { id, request, .. } = msg {
            s.endpoint().respond(
                id,
                request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
            );
        }
    }
    debug!(call_id = %s.id.call_id, "session ended");
    Exit::Ended
}

/// Whether the session may park: a confirmed dialog with no 2xx awaiting
/// its ACK.
fn can_park<E>(s: &Session<E>) -> bool {
    s.is_dialog
        && s.retransmit.is_none()
        && s.dialog
            .as_ref()
            .is_some_and(|d| d.state() == DialogState::Confirmed)
}

/// The session's inbox, lent to a proxied request so that a CANCEL reaches
/// it while it waits for its branches.
pub(crate) struct Mailbox<'a, E> {
    pub(crate) inbox: &'a mut mpsc::UnboundedReceiver<Inbox<E>>,
    pub(crate) deferred: &'a mut VecDeque<Inbox<E>>,
}

/// Runs the 2xx retransmission timer; `false` when it gave up.
fn retransmit_due(s: &mut Session<impl Send + 'static>) -> bool {
    let Some(r) = &mut s.retransmit else {
        return true;
    };
    r.timer.handle_timeout(Instant::now().into_std());
    let mut alive = true;
    while let Some(out) = r.timer.poll_output() {
        match out {
            Retransmit2xxOutput::Retransmit => {
                s.shared.endpoint.respond(r.transaction, r.response.clone())
            }
            Retransmit2xxOutput::GiveUp => alive = false,
        }
    }
    if r.timer.is_done() {
        s.retransmit = None;
    }
    alive
}

/// The pending INVITE was cancelled: tells the handler; the dialog ends.
async fn handle_cancel<H: UasHandler>(handler: &mut H, s: &mut Session<H::Event>) -> bool {
    if let Some(invite) = s.invite.take() {
        let mut cx = Context {
            session: s,
            request: Some(&invite),
        };
        let fut = Box::pin(handler.cancel(&invite, &mut cx));
        if let Err(panic) = CatchUnwind::new(fut).await {
            warn!(%panic, "handler panicked in cancel");
        }
    }
    if let Some(r) = &mut s.retransmit {
        r.timer.stop();
    }
    if let Some(d) = &mut s.dialog {
        d.terminate();
    }
    false
}

/// An application event for the handler; `false` ends the session.
async fn handle_event<H: UasHandler>(
    handler: &mut H,
    s: &mut Session<H::Event>,
    ev: H::Event,
) -> bool {
    let mut cx = Context {
        session: s,
        request: None,
    };
    let fut = Box::pin(handler.event(ev, &mut cx));
    match CatchUnwind::new(fut).await {
        Ok(Action::Stop(reason)) => {
            info!(%reason, "handler stopped the dialog");
            hang_up(s).await;
            false
        }
        Ok(_) => !s.dialog.as_ref().is_some_and(|d| d.is_terminated()),
        Err(panic) => {
            warn!(%panic, "handler panicked handling an event; ending the dialog");
            hang_up(s).await;
            false
        }
    }
}

/// Ends the session's dialog: BYE if it is confirmed.
async fn hang_up<E: Send + 'static>(s: &mut Session<E>) {
    if s.dialog_state() == Some(DialogState::Confirmed)
        && let Err(e) = Box::pin(s.bye()).await
    {
        warn!(error = %e, "BYE failed");
    }
}

/// Calls the handler for `req` with panics caught.
async fn call<H: UasHandler>(
    handler: &mut H,
    s: &mut Session<H::Event>,
    req: &Request,
) -> Result<Action, String> {
    let mut cx = Context {
        session: s,
        request: Some(req),
    };
    let fut = Box::pin(dispatch(handler, req, &mut cx));
    CatchUnwind::new(fut).await
}

/// Handles one request; `false` ends the session.
async fn handle_request<H: UasHandler>(
    handler: &mut H,
    s: &mut Session<H::Event>,
    id: TransactionId,
    req: Request,
    origin: Origin,
    mailbox: &mut Mailbox<'_, H::Event>,
) -> bool {
    s.pending = Some(Box::new(Pending {
        id,
        origin,
        answer: Answer::Unanswered,
    }));
    s.in_dialog = req.headers.to_tag().is_some();
    if let Some(d) = &mut s.dialog
        && s.in_dialog
        && let Err(e) = d.check_request(&req)
    {
        // §12.2.2: out-of-order CSeq and the like.
        debug!(error = ?e, "in-dialog request refused");
        let resp = e
            .response(&req)
            .unwrap_or_else(|| req.reply(StatusCode::SERVER_INTERNAL_ERROR));
        s.respond(&req, resp).await;
        return true;
    }
    if !s.initialized {
        s.initialized = true;
        let mut cx = Context {
            session: s,
            request: Some(&req),
        };
        let fut = Box::pin(handler.init(&req, &mut cx));
        let refusal = match CatchUnwind::new(fut).await {
            Ok(Ok(())) => None,
            Ok(Err(action)) => Some(action),
            Err(panic) => {
                warn!(%panic, "handler init panicked: 500");
                Some(Action::Respond(
                    req.reply(StatusCode::SERVER_INTERNAL_ERROR),
                ))
            }
        };
        if let Some(action) = refusal {
            info!(method = %req.method, "handler init refused the request");
            let resp = match action {
                Action::Respond(r) if r.status.is_final() => r,
                _ => req.reply(StatusCode::SERVICE_UNAVAILABLE),
            };
            s.respond(&req, resp).await;
            return false;
        }
    }
    let action = match call(handler, s, &req).await {
        Ok(a) => a,
        Err(panic) => {
            // A panicking handler answers 500, ends its dialog, and the
            // server goes on.
            warn!(%panic, method = %req.method, "handler panicked: 500");
            s.respond(&req, req.reply(StatusCode::SERVER_INTERNAL_ERROR))
                .await;
            hang_up(s).await;
            return false;
        }
    };
    let answered = s.pending.as_ref().is_some_and(|p| p.answered());
    match action {
        Action::Respond(resp) => s.respond(&req, resp).await,
        Action::NoReply if req.method == Method::Ack => {}
        Action::NoReply => {
            if !answered {
                warn!(method = %req.method, "handler sent no response: 500");
                s.respond(&req, req.reply(StatusCode::SERVER_INTERNAL_ERROR))
                    .await;
            }
        }
        Action::Stop(reason) => {
            info!(%reason, "handler stopped");
            if !s.pending.as_ref().is_some_and(|p| p.answered()) {
                s.respond(&req, req.reply(StatusCode::SERVER_INTERNAL_ERROR))
                    .await;
            }
            hang_up(s).await;
            return false;
        }
        Action::Proxy(proxy) => {
            if let Some(p) = &mut s.pending {
                p.answer = Answer::Sent;
            }
            Box::pin(super::relay::run(
                &s.shared.endpoint,
                id,
                &origin,
                &req,
                proxy,
                mailbox,
                &s.shared.proxied,
            ))
            .await;
            // The proxied dialog is the peers'; this task is done.
            return false;
        }
    }
    let initial_invite = req.method == Method::Invite && !s.in_dialog;
    let answer = s.pending.as_ref().map(|p| p.answer);
    // §9.2: a final response that lost the race with a CANCEL leaves the
    // session waiting for the CANCEL's notification, with or without an
    // early dialog.
    let goes_on = (initial_invite && answer == Some(Answer::Preempted)) || session_goes_on(s, &req);
    // An INVITE without an accepted final response may still be cancelled:
    // keep it for the handler's `cancel`. Once answered, no CANCEL can
    // reach it, and a held call does not carry its copy.
    if goes_on && initial_invite && answer != Some(Answer::Accepted) {
        s.invite = Some(Box::new(req));
    }
    goes_on
}

/// Whether the session lives on after answering `req`.
fn session_goes_on<E>(s: &mut Session<E>, req: &Request) -> bool {
    if req.method == Method::Bye {
        // §15.1.2: BYE ends the dialog once answered.
        if let Some(d) = &mut s.dialog {
            d.terminate();
        }
        return false;
    }
    match &s.dialog {
        // No dialog: a one-shot request, or a dialog-creating request that
        // was refused.
        None => false,
        Some(d) => !d.is_terminated(),
    }
}

async fn handle_ack<H: UasHandler>(
    handler: &mut H,
    s: &mut Session<H::Event>,
    ack: Request,
) -> bool {
    if let Some(r) = &mut s.retransmit
        && r.timer.handle_ack(&ack)
    {
        s.retransmit = None;
    }
    if let Some(d) = &mut s.dialog {
        let _ = d.check_request(&ack);
    }
    s.pending = None;
    match call(handler, s, &ack).await {
        Ok(Action::Stop(reason)) => {
            info!(%reason, "handler stopped the dialog on ACK");
            hang_up(s).await;
            false
        }
        Ok(_) => true,
        Err(panic) => {
            warn!(%panic, "handler panicked on ACK; ending the dialog");
            hang_up(s).await;
            false
        }
    }
}
