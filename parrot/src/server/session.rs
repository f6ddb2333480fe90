//! One handler session: a dialog (INVITE/SUBSCRIBE) or a single
//! out-of-dialog request. The session owns the handler value, receives its
//! requests in arrival order, turns the handler's [`Action`]s into
//! responses, and runs the dialog's duties: To tag, Contact and
//! Record-Route on responses (§12.1.1), CSeq ordering (§12.2.2), 2xx
//! retransmission until the ACK and BYE when it never comes (§13.3.1.4),
//! BYE ending the dialog (§15).
//!
//! A session runs only while it has work: once a confirmed dialog has
//! nothing in flight but a 2xx awaiting its ACK it parks, handing its
//! state back to the core as plain data ([`Parked`]), and the core runs it
//! again when the next request or event for it arrives or its timer is
//! due. A held call, or one answered and not yet acknowledged, therefore
//! costs its state, not a task and a channel.

use super::catch::CatchUnwind;
use super::handler::{Action, Context, UasHandler, dispatch};
use super::inbox::{Aside, DialogCommand, Inbox, Mailbox};
use super::reliable::{Outcome, Reliable};
use super::session_state::{Answer, Pending, Session, Shared};
use super::session_timer::Fired;
use super::usage::starts_usage;
use crate::dialog::{DialogId, DialogState, Retransmit2xxOutput, TAG_100REL};
use crate::message::{HeaderName, Method, Request, StatusCode};
use crate::time::sleep_until;
use crate::transaction::TransactionId;
use crate::transport::{Origin, Protocol};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// A session with its handler value: what a parked dialog is.
pub(crate) struct Parked<H: UasHandler> {
    handler: H,
    session: Session<H::Event>,
    /// Its entry in the core's timer table while parked (kept here, not
    /// in every slot of the dialog table).
    pub(crate) wakeup: Option<(Instant, u64)>,
}

impl<H: UasHandler> Parked<H> {
    /// When the parked dialog's 2xx retransmission, session timer or a
    /// subscription's expiry needs it.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        next_deadline(&self.session)
    }

    /// Whether its 2xx still awaits the ACK (§13.3.1.4): a call that is
    /// not yet confirmed for `Replaces` (RFC 3891 §3).
    pub(crate) fn awaiting_ack(&self) -> bool {
        self.session.retransmit.is_some()
    }

    /// The INVITE transaction whose 2xx awaits its ACK: the core keeps it
    /// for its CANCEL notification meanwhile (see `Answer::Assumed`).
    pub(crate) fn invite_awaiting_ack(&self) -> Option<TransactionId> {
        self.session.retransmit.as_ref().map(|r| r.transaction)
    }

    /// Whether the dialog is a call (an INVITE created it and no BYE has
    /// ended it).
    pub(crate) fn is_call(&self) -> bool {
        self.session.invite_usage
    }

    /// Makes the new call replace dialog `old` once it is answered (RFC
    /// 3891).
    pub(crate) fn set_replaces(&mut self, old: DialogId) {
        self.session.replaces = Some(Box::new(old));
    }

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
            session: Session::new(shared, id, is_dialog),
            wakeup: None,
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
            let deadline = next_deadline(&state.session);
            let session = &mut state.session;
            // The runtime's NOTIFYs in flight are taken in along with the
            // inbox: a request does not wait for their answers.
            let next = tokio::select! {
                msg = inbox.recv() => match msg {
                    Some(msg) => Ok(Some(msg)),
                    None => break,
                },
                done = poll_fn(|cx| session.poll_notified(cx)) => Err(done),
                () = sleep_until(deadline) => Ok(None),
            };
            match next {
                Ok(msg) => msg,
                Err((index, outcome)) => {
                    session.notified(index, outcome);
                    if session.dialog.as_ref().is_some_and(|d| d.is_terminated()) {
                        break;
                    }
                    continue;
                }
            }
        };
        let Parked {
            handler,
            session: s,
            ..
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
                boxed(|| handle_request(handler, s, id, *request, origin, &mut mailbox)).await
            }
            Some(Inbox::Ack { request }) => {
                let mut mailbox = Mailbox {
                    inbox: &mut inbox,
                    deferred: &mut deferred,
                };
                boxed(|| handle_ack(handler, s, *request, &mut mailbox)).await
            }
            Some(Inbox::Cancelled) => Box::pin(handle_cancel(handler, s)).await,
            Some(Inbox::Event(ev)) => {
                let mut mailbox = Mailbox {
                    inbox: &mut inbox,
                    deferred: &mut deferred,
                };
                Box::pin(handle_event(handler, s, ev, &mut mailbox)).await
            }
            Some(Inbox::Refer(report)) => {
                s.refer_report(report);
                !s.dialog.as_ref().is_some_and(|d| d.is_terminated())
            }
            Some(Inbox::Replaced) => {
                info!(call_id = %s.id.call_id, "call replaced (RFC 3891): hanging up");
                Box::pin(hang_up(s)).await;
                false
            }
            Some(Inbox::Timer) | None => {
                let mut mailbox = Mailbox {
                    inbox: &mut inbox,
                    deferred: &mut deferred,
                };
                Box::pin(timers_due(s, &mut mailbox)).await
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

/// `Box::pin(make())` with the box allocated first, so that the future is
/// written straight into it: `Box::pin` makes it on the stack and copies
/// it in (a request's path is 2 KB).
#[inline(always)]
pub(super) fn boxed<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}

/// Whether the session may park: a confirmed dialog with no reliable
/// provisional response awaiting its PRACK and no NOTIFY of ours awaiting
/// its answer. A 2xx awaiting its ACK does not keep it running: the core
/// wakes it for the ACK or when the 2xx is due again (`Parked::wake_at`),
/// so a call costs no task between its answer and its ACK.
fn can_park<E: Send + 'static>(s: &Session<E>) -> bool {
    s.is_dialog
        && s.reliable.is_none()
        && !s.notifying()
        && s.dialog
            .as_ref()
            .is_some_and(|d| d.state() == DialogState::Confirmed)
}

/// The session's next timer: the 2xx retransmission, the reliable
/// provisional responses' retransmission and give-up, or the session
/// timer.
fn next_deadline<E: Send + 'static>(s: &Session<E>) -> Option<Instant> {
    let retransmit = s
        .retransmit
        .as_ref()
        .and_then(|r| r.timer.poll_timeout())
        .map(Instant::from_std);
    let reliable = s.reliable.as_ref().and_then(|r| r.deadline());
    [retransmit, reliable, s.wake_deadline()]
        .into_iter()
        .flatten()
        .min()
}

/// Fires the session's timers that are due; `false` ends the session.
async fn timers_due<E: Send + 'static>(s: &mut Session<E>, mailbox: &mut Mailbox<'_, E>) -> bool {
    if s.usage_deadline().is_some_and(|at| at <= Instant::now()) {
        s.usages_due();
        if s.dialog.as_ref().is_some_and(|d| d.is_terminated()) {
            return false;
        }
    }
    match s.timer_due(mailbox).await {
        Fired::GoOn => {}
        Fired::Expired => {
            hang_up(s).await;
            return false;
        }
        Fired::Gone => {
            if let Some(d) = &mut s.dialog {
                d.terminate();
            }
            return false;
        }
    }
    if let Some(r) = &s.reliable {
        r.on_timeout(&s.shared.endpoint);
        if r.outcome() == Outcome::GaveUp {
            // RFC 3262 §3: the INVITE was refused with a 5xx.
            if let Some(p) = &mut s.pending {
                p.answer = Answer::Sent;
            }
            if let Some(d) = &mut s.dialog {
                d.terminate();
            }
            return false;
        }
    }
    if retransmit_due(s) {
        true
    } else {
        // §13.3.1.4: no ACK within 64*T1: end the session.
        warn!(call_id = %s.id.call_id, "no ACK for the 2xx: sending BYE");
        hang_up(s).await;
        false
    }
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
    if let Some(r) = s.reliable.take() {
        r.stop(true);
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
    mailbox: &mut Mailbox<'_, H::Event>,
) -> bool {
    let duties = s.duties();
    let mut cx = Context {
        session: s,
        request: None,
    };
    let fut = CatchUnwind::new(Box::pin(handler.event(ev, &mut cx)));
    let result = match duties {
        Some(d) => d.serve_while(fut, mailbox).await,
        None => fut.await,
    };
    match result {
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

/// Ends the session's dialog: its subscriptions with a last NOTIFY (RFC
/// 6665 §4.2.2), its call with BYE if it is confirmed.
async fn hang_up<E: Send + 'static>(s: &mut Session<E>) {
    if s.has_subscriptions() && s.dialog_state() == Some(DialogState::Confirmed) {
        Box::pin(s.end_subscriptions()).await;
    }
    if s.invite_usage
        && s.dialog_state() == Some(DialogState::Confirmed)
        && let Err(e) = Box::pin(s.bye()).await
    {
        warn!(error = %e, "BYE failed");
    }
    if let Some(d) = &mut s.dialog {
        d.terminate();
    }
}

/// Calls the handler for `req` with panics caught, serving the session's
/// duties meanwhile.
async fn call<H: UasHandler>(
    handler: &mut H,
    s: &mut Session<H::Event>,
    req: &Request,
    mailbox: &mut Mailbox<'_, H::Event>,
) -> Result<Action, String> {
    // An ACK is not answered, and a held call spares the duties' state;
    // but its handler may send a request of its own and await it.
    let duties = if req.method == Method::Ack {
        s.ack_duties()
    } else {
        s.duties()
    };
    let mut cx = Context {
        session: s,
        request: Some(req),
    };
    let fut = CatchUnwind::new(boxed(|| dispatch(handler, req, &mut cx)));
    match duties {
        Some(d) => d.serve_while(fut, mailbox).await,
        None => fut.await,
    }
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
        checked_target: None,
        timer_written: None,
    }));
    s.in_dialog = req.headers.has_to_tag();
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
        // §8.1.1.8, §12.1.1: a request that would create a dialog without a
        // usable Contact is refused before the handler sees it; answered
        // 200, its dialog could never be created nor reached.
        match crate::dialog::check_contact(&req) {
            Ok(target) => {
                if let Some(p) = &mut s.pending {
                    p.checked_target = target;
                }
            }
            Err(fault) => {
                info!(method = %req.method, fault, "request refused: 400");
                let resp = req.reply(StatusCode::BAD_REQUEST).reason(fault);
                s.respond(&req, resp).await;
                return false;
            }
        }
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
        if req.method == Method::Invite {
            start_reliable(s, &req, id, &origin);
        }
    }
    // RFC 3262 §3: a PRACK must match a reliable provisional response.
    if req.method == Method::Prack {
        let matched = s
            .reliable
            .as_ref()
            .is_some_and(|r| r.prack(&req, &s.shared.endpoint).is_ok());
        if !matched {
            debug!("PRACK matching no reliable provisional response: 481");
            let resp = req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
            s.respond(&req, resp).await;
            return s.is_dialog && session_goes_on(s, &req);
        }
    }
    // RFC 3515 §2.4.5: the NOTIFYs of our REFERs are the runtime's.
    if let Some(resp) = s.shared.referrals.take(&req) {
        s.respond(&req, resp).await;
        return session_goes_on(s, &req);
    }
    // RFC 6665 §4.2.1.1, RFC 3515 §2.4.1: Event, Expires and Refer-To are
    // checked before the handler sees the request (a proxied one is the
    // next hop's to check).
    if starts_usage(&req.method)
        && H::METHODS.contains(&req.method)
        && !s.shared.policy.proxies(&req.method)
        && let Err(resp) = s.check_usage_request(&req, H::EVENTS)
    {
        s.respond(&req, resp).await;
        return session_goes_on(s, &req);
    }
    if req.method == Method::Update && !H::METHODS.contains(&Method::Update) {
        let resp = super::update::default_answer(s, &req);
        s.respond(&req, resp).await;
        return session_goes_on(s, &req);
    }
    let action = match call(handler, s, &req, mailbox).await {
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
    if req.method == Method::Invite
        && let Some(r) = s.reliable.clone()
    {
        if let Action::Respond(resp) = &action
            && resp.status.is_success()
            && r.body_unacknowledged()
            && let Some(d) = s.duties()
        {
            // RFC 3262 §3: no 2xx before the PRACK of a provisional
            // response that carried a session description.
            d.serve_while(r.bodies_acknowledged(), mailbox).await;
        }
        if r.outcome() == Outcome::GaveUp {
            // The INVITE was refused with a 5xx already.
            if let Some(d) = &mut s.dialog {
                d.terminate();
            }
            return false;
        }
    }
    let answered = s.pending.as_ref().is_some_and(|p| p.answered());
    let usage = starts_usage(&req.method);
    let mut usage_status = StatusCode::SERVER_INTERNAL_ERROR;
    match action {
        Action::Respond(mut resp) => {
            if usage {
                s.complete_usage_response(&req, &mut resp);
                usage_status = resp.status;
            }
            s.respond(&req, resp).await;
        }
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
                &s.shared.locator,
                super::relay::Routes {
                    outbound: s.shared.outbound_proxy.as_ref(),
                    location: s.shared.location.as_ref(),
                },
                id,
                &origin,
                &req,
                proxy,
                mailbox,
                &s.shared.aside,
            ))
            .await;
            // The proxied dialog is the peers'; this task is done.
            return false;
        }
    }
    let answer = s.pending.as_ref().map(|p| p.answer);
    if usage {
        if answer != Some(Answer::Accepted) {
            usage_status = StatusCode::SERVER_INTERNAL_ERROR;
        }
        s.after_usage_response(&req, usage_status);
    }
    let initial_invite = req.method == Method::Invite && !s.in_dialog;
    // RFC 3891 §3: once the new call is answered, the one it replaces ends.
    if initial_invite
        && answer == Some(Answer::Accepted)
        && s.dialog_state() == Some(DialogState::Confirmed)
        && let Some(old) = s.replaces.take()
    {
        info!(call_id = %s.id.call_id, replaced = %old.call_id, "call answered: ending the call it replaces");
        let _ = s
            .shared
            .aside
            .send(Aside::Command(*old, DialogCommand::Replaced));
    }
    // §9.2: a final response that lost the race with a CANCEL leaves the
    // session waiting for the CANCEL's notification, with or without an
    // early dialog.
    let goes_on = (initial_invite && answer == Some(Answer::Preempted)) || session_goes_on(s, &req);
    // An INVITE without an accepted final response may still be cancelled:
    // keep it for the handler's `cancel`, with a 2xx taken as accepted
    // until its ACK. Once answered, no CANCEL can reach it, and a held call
    // does not carry its copy.
    if goes_on && initial_invite && answer != Some(Answer::Accepted) {
        s.invite = Some(Box::new(req));
    }
    goes_on
}

/// Sets up reliable provisional responses (RFC 3262) for an initial
/// INVITE that supports them, when the server does.
fn start_reliable<E: Send + 'static>(
    s: &mut Session<E>,
    req: &Request,
    id: TransactionId,
    origin: &Origin,
) {
    let policy = &s.shared.policy;
    // A proxied INVITE's provisional responses are the callee's.
    if !policy.supports(TAG_100REL)
        || policy.proxies(&Method::Invite)
        || !req.headers.supports(TAG_100REL)
    {
        return;
    }
    let by_default =
        policy.reliable_by_default() || req.headers.lists(HeaderName::Require, TAG_100REL);
    let seq = req.headers.cseq().map_or(0, |c| c.seq);
    let refusal = req
        .reply(StatusCode::SERVER_INTERNAL_ERROR)
        .reason("Reliable provisional response not acknowledged");
    let Some((_, give_up)) = s.prepare(req, refusal) else {
        return;
    };
    s.reliable = Some(Arc::new(Reliable::new(
        seq,
        &s.shared.timers,
        origin.protocol != Protocol::Udp,
        id,
        give_up,
        by_default,
        req.body.is_empty(),
    )));
}

/// Whether the session lives on after answering `req`.
fn session_goes_on<E: Send + 'static>(s: &mut Session<E>, req: &Request) -> bool {
    if req.method == Method::Bye {
        // §15.1.2: BYE ends the call once answered; RFC 5057 §5.4: the
        // dialog lives on while subscriptions use it.
        s.invite_usage = false;
        s.timer = None;
        // The call's media ends with it.
        s.media = None;
        if s.has_subscriptions() {
            return true;
        }
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
    mailbox: &mut Mailbox<'_, H::Event>,
) -> bool {
    if let Some(r) = &mut s.retransmit
        && r.timer.handle_ack(&ack)
    {
        s.retransmit = None;
        // The INVITE is over: its provisional responses too, and the copy
        // kept for a CANCEL that could have beaten its 2xx.
        s.reliable = None;
        s.invite = None;
    }
    if let Some(d) = &mut s.dialog {
        let _ = d.check_request(&ack);
    }
    s.pending = None;
    match call(handler, s, &ack, mailbox).await {
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
