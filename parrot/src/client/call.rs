//! Outgoing calls: the INVITE client side of RFC 3261 §13.2 with CANCEL
//! (§9.1), the UAC dialog (§12.1.2) and BYE (§15.1).
//!
//! Each call runs in a task of its own, so that ACKs go out as soon as a
//! 2xx arrives and the peer's requests are answered whether or not the
//! application is polling; [`PendingCall`] and [`Call`] are handles on it.

use super::request::{self, push_via};
use super::router::DialogInput;
use super::{Client, ClientError, Prepared, is_challenge};
use crate::dialog::{Dialog, DialogId};
use crate::endpoint::{ClientEvent, ClientTransaction};
use crate::message::{HeaderName, Method, Request, Response, StatusCode};
use crate::time::sleep_until;
use crate::transport::{Protocol, SendOptions, Target};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// The `Allow` header of our INVITEs and of the answers given in a call.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// What a [`PendingCall`] yields.
// Moved out once per response; boxing the call would only add a step.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Progress {
    /// A provisional response (`100 Trying`, `180 Ringing`, `183 Session
    /// Progress`, ...).
    Provisional(Response),
    /// A 2xx: the call is established and acknowledged (§13.2.2.4).
    Answered(Call),
    /// The INVITE failed: a non-2xx final response, a timeout, a transport
    /// failure, or the CANCEL took effect.
    Failed(CallError),
}

/// Why a call could not be set up, or a request in it not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// A final response of 300–699 (redirection, client error, server
    /// error, global failure).
    #[error("call refused: {} {}", .0.status, .0.reason)]
    Rejected(Box<Response>),
    /// The call was cancelled ([`PendingCall::cancel`]): the final response
    /// to the INVITE, normally `487 Request Terminated` (a 2xx that crossed
    /// the CANCEL is acknowledged and hung up at once).
    #[error("call cancelled ({} {})", .0.status, .0.reason)]
    Cancelled(Box<Response>),
    /// No final response in time (Timer B, or 64·T1 after a CANCEL, §9.1):
    /// the `408` the client stands it for (§8.1.3.1).
    #[error("no final response in time (408)")]
    Timeout(Box<Response>),
    /// The request could not be delivered: the `503` the client stands it
    /// for (§8.1.3.1).
    #[error("the request could not be delivered (503)")]
    Unreachable(Box<Response>),
    /// The 2xx cannot establish a dialog (e.g. it has no Contact,
    /// §12.1.2); the call was acknowledged and hung up.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The call is not established yet (BYE before the 2xx).
    #[error("the call is not established")]
    NotEstablished,
    /// The call has already ended.
    #[error("the call has ended: {0}")]
    Ended(Box<CallEnd>),
    /// The call's task is gone (the runtime is shutting down).
    #[error("the call's task is gone")]
    Closed,
}

impl From<CallError> for crate::Error {
    fn from(e: CallError) -> crate::Error {
        crate::Error::from_source(crate::ErrorKind::Client, e)
    }
}

impl CallError {
    /// The final response behind the error (received, or synthesized for a
    /// timeout or transport failure), if there is one.
    pub fn response(&self) -> Option<&Response> {
        match self {
            CallError::Rejected(r)
            | CallError::Cancelled(r)
            | CallError::Timeout(r)
            | CallError::Unreachable(r) => Some(r),
            _ => None,
        }
    }

    /// The status of [`CallError::response`].
    pub fn status(&self) -> Option<StatusCode> {
        self.response().map(|r| r.status)
    }
}

/// How an established call ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallEnd {
    /// We hung up: the final response to our BYE (a `408`/`503` stands for
    /// a timeout or transport failure; the call is over either way,
    /// §15.1.1).
    LocalBye(Box<Response>),
    /// The peer hung up with this BYE, which was answered `200` (§15.1.2).
    RemoteBye(Box<Request>),
    /// The call could not go on (a 2xx without a usable dialog, the
    /// client shutting down).
    Terminated(String),
}

impl fmt::Display for CallEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallEnd::LocalBye(r) => {
                write!(f, "we hung up (BYE answered {} {})", r.status, r.reason)
            }
            CallEnd::RemoteBye(_) => f.write_str("the peer hung up (BYE received)"),
            CallEnd::Terminated(why) => write!(f, "terminated: {why}"),
        }
    }
}

/// The state a call's task publishes.
#[derive(Debug, Clone)]
enum Status {
    Active,
    Ended(CallEnd),
}

/// What the handles ask the task.
enum Command {
    /// CANCEL the INVITE (§9.1).
    Cancel,
    /// Send BYE (§15.1.1) and report its final response.
    Bye(oneshot::Sender<Result<Response, CallError>>),
    /// Hang up or cancel, whichever applies, reporting nothing.
    Hangup,
}

/// What the task tells the [`PendingCall`].
enum Update {
    Provisional(Response),
    Answered(Box<Answered>),
    Failed(CallError),
}

struct Answered {
    response: Response,
    id: DialogId,
    status: watch::Receiver<Status>,
}

/// An INVITE in progress, from [`Client::invite`].
///
/// [`PendingCall::next`] yields each provisional response, then either
/// [`Progress::Answered`] with the established [`Call`] or
/// [`Progress::Failed`]; after that, `None`. Dropping it before the
/// outcome cancels the INVITE.
pub struct PendingCall {
    updates: mpsc::UnboundedReceiver<Update>,
    commands: mpsc::UnboundedSender<Command>,
    request: Request,
    finished: bool,
}

impl fmt::Debug for PendingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCall")
            .field("call_id", &self.call_id())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl PendingCall {
    /// The next step: a provisional response, then the outcome; `None`
    /// once the outcome was returned.
    pub async fn next(&mut self) -> Option<Progress> {
        if self.finished {
            return None;
        }
        let update = self.updates.recv().await;
        let progress = match update {
            Some(Update::Provisional(r)) => return Some(Progress::Provisional(r)),
            Some(Update::Answered(a)) => Progress::Answered(Call {
                response: a.response,
                id: a.id,
                commands: self.commands.clone(),
                status: a.status,
            }),
            Some(Update::Failed(e)) => Progress::Failed(e),
            None => Progress::Failed(CallError::Closed),
        };
        self.finished = true;
        Some(progress)
    }

    /// Waits for the outcome, skipping the provisional responses.
    pub async fn wait(mut self) -> Result<Call, CallError> {
        while let Some(p) = self.next().await {
            match p {
                Progress::Provisional(_) => {}
                Progress::Answered(call) => return Ok(call),
                Progress::Failed(e) => return Err(e),
            }
        }
        Err(CallError::Closed)
    }

    /// Cancels the INVITE (§9.1). The CANCEL goes out once a provisional
    /// response has arrived ("If no provisional response has been
    /// received, the CANCEL request MUST NOT be sent; rather, the client
    /// MUST wait for the arrival of a provisional response"); the call
    /// then ends with [`CallError::Cancelled`] (the `487`), or with a
    /// timeout if no final response comes within 64·T1. A 2xx that
    /// crosses the CANCEL is acknowledged and hung up at once.
    pub fn cancel(&self) {
        let _ = self.commands.send(Command::Cancel);
    }

    /// The INVITE as first sent (a resubmission with credentials has the
    /// same Call-ID, From tag and To).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The call's Call-ID.
    pub fn call_id(&self) -> &str {
        self.request.headers.call_id().map_or("", |c| c.as_str())
    }
}

/// An established call. Hang up with [`Call::bye`]; [`Call::ended`] tells
/// when and how it ended (the peer's BYE is answered `200` by the client).
/// Dropping an active call hangs it up in the background.
pub struct Call {
    response: Response,
    id: DialogId,
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("dialog", &self.id)
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

impl Call {
    /// The 2xx that established the call.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The SDP answer of the 2xx, if its body is `application/sdp`.
    pub fn remote_sdp(&self) -> Option<&str> {
        sdp_body(&self.response)
    }

    /// The dialog (§12): Call-ID, our tag, the peer's tag.
    pub fn dialog_id(&self) -> &DialogId {
        &self.id
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        &self.id.call_id
    }

    /// Whether the call is still up.
    pub fn is_active(&self) -> bool {
        matches!(*self.status.borrow(), Status::Active)
    }

    /// How the call ended, if it has.
    pub fn end(&self) -> Option<CallEnd> {
        match &*self.status.borrow() {
            Status::Active => None,
            Status::Ended(e) => Some(e.clone()),
        }
    }

    /// Waits until the call ends (the peer's BYE, or ours).
    pub async fn ended(&mut self) -> CallEnd {
        wait_ended(&mut self.status).await
    }

    /// Hangs up (§15.1.1): sends BYE in the dialog and returns its final
    /// response (`408`/`503` standing for a timeout or transport failure).
    /// The call is over once the BYE is sent, whatever the answer. An
    /// ended call gives [`CallError::Ended`].
    pub async fn bye(&mut self) -> Result<Response, CallError> {
        if let Some(end) = self.end() {
            return Err(CallError::Ended(Box::new(end)));
        }
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Bye(tx)).is_err() {
            return Err(self.gone());
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(self.gone()),
        }
    }

    /// A handle that can hang the call up from elsewhere.
    pub fn handle(&self) -> CallHandle {
        CallHandle {
            commands: self.commands.clone(),
            status: self.status.clone(),
        }
    }

    fn gone(&self) -> CallError {
        match self.end() {
            Some(end) => CallError::Ended(Box::new(end)),
            None => CallError::Closed,
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.is_active() {
            let _ = self.commands.send(Command::Hangup);
        }
    }
}

/// Hangs a [`Call`] up from another task. Cheap to clone.
#[derive(Clone)]
pub struct CallHandle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
}

impl fmt::Debug for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallHandle")
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

impl CallHandle {
    /// Sends BYE (§15.1.1) unless the call has ended; returns at once.
    pub fn hangup(&self) {
        let _ = self.commands.send(Command::Hangup);
    }

    /// Whether the call is still up.
    pub fn is_active(&self) -> bool {
        matches!(*self.status.borrow(), Status::Active)
    }

    /// Waits until the call ends.
    pub async fn ended(&mut self) -> CallEnd {
        wait_ended(&mut self.status).await
    }
}

async fn wait_ended(status: &mut watch::Receiver<Status>) -> CallEnd {
    match status
        .wait_for(|s| matches!(s, Status::Ended(_)))
        .await
        .map(|s| s.clone())
    {
        Ok(Status::Ended(e)) => e,
        _ => CallEnd::Terminated("the call's task is gone".to_owned()),
    }
}

/// The body of `resp` if it is `application/sdp` text.
fn sdp_body(resp: &Response) -> Option<&str> {
    let ct = resp.headers.get(HeaderName::ContentType)?;
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/sdp") || resp.body.is_empty() {
        return None;
    }
    std::str::from_utf8(&resp.body).ok()
}

/// Starts the call's task for the INVITE `p`.
pub(crate) async fn start(client: Client, p: Prepared) -> Result<PendingCall, ClientError> {
    let (updates_tx, updates) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (inbox_tx, inbox) = mpsc::unbounded_channel();
    let (status, _) = watch::channel(Status::Active);
    let request = p.request.clone();
    let span = tracing::info_span!(
        "uac_call",
        call_id = %request.headers.call_id().map_or("", |c| c.as_str())
    );
    let task = Task {
        client,
        invite: p.request,
        target: p.target,
        updates: updates_tx,
        commands: commands_rx,
        commands_open: true,
        inbox,
        inbox_tx,
        status,
    };
    tokio::spawn(tracing::Instrument::instrument(task.run(), span));
    Ok(PendingCall {
        updates,
        commands,
        request,
        finished: false,
    })
}

/// Where a CANCEL stands (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    /// Not asked for.
    No,
    /// Asked for before any provisional response: sent on the first.
    Waiting,
    /// Sent; the INVITE is given up at this deadline (64·T1).
    Sent(Instant),
}

/// The 2xx the INVITE phase ended with.
struct Accepted {
    ok: Response,
    tx: ClientTransaction,
    cancelled: bool,
}

type ByeFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A BYE in progress and who waits for its response.
type ByeInProgress = Option<(
    ByeFuture,
    Option<oneshot::Sender<Result<Response, CallError>>>,
)>;

struct Task {
    client: Client,
    /// The INVITE last sent (a resubmission with credentials replaces it).
    invite: Request,
    target: Target,
    updates: mpsc::UnboundedSender<Update>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    inbox: mpsc::UnboundedReceiver<DialogInput>,
    inbox_tx: mpsc::UnboundedSender<DialogInput>,
    status: watch::Sender<Status>,
}

impl Task {
    async fn run(mut self) {
        if let Some(accepted) = self.calling().await {
            self.established(accepted).await;
        }
    }

    fn fail(&self, error: CallError) {
        debug!(%error, "call failed");
        let _ = self.updates.send(Update::Failed(error));
    }

    async fn start_transaction(&self) -> Option<ClientTransaction> {
        match self
            .client
            .endpoint()
            .request(self.invite.clone(), self.target)
            .await
        {
            Ok(tx) => Some(tx),
            Err(e) => {
                warn!(error = %e, "cannot start the INVITE transaction");
                None
            }
        }
    }

    /// The INVITE until its final response (§13.2.2). `Some` with the 2xx.
    async fn calling(&mut self) -> Option<Accepted> {
        let Some(mut tx) = self.start_transaction().await else {
            self.fail(unreachable(&self.invite));
            return None;
        };
        let mut provisional = false;
        let mut cancel = Cancel::No;
        let mut challenged = false;
        loop {
            let deadline = match cancel {
                Cancel::Sent(at) => Some(at),
                _ => None,
            };
            tokio::select! {
                ev = tx.next() => match ev {
                    Some(ClientEvent::Response(r)) => {
                        if !request::acceptable(&r) {
                            debug!(status = %r.status, "response with several Via values discarded (§8.1.3.3)");
                            continue;
                        }
                        if r.status.is_provisional() {
                            provisional = true;
                            if cancel == Cancel::Waiting {
                                cancel = self.send_cancel();
                            }
                            let _ = self.updates.send(Update::Provisional(r));
                        } else if r.status.is_success() {
                            return Some(Accepted { ok: r, tx, cancelled: cancel != Cancel::No });
                        } else {
                            // §22.2, §22.3: answer one challenge, with a new
                            // CSeq and the same Call-ID, From tag and To.
                            if is_challenge(&r) && !challenged && cancel == Cancel::No {
                                challenged = true;
                                if let Some(next) = self.client.authorize(&self.invite, &r) {
                                    info!(status = %r.status, "INVITE challenged; resubmitting with credentials");
                                    self.invite = next;
                                    match self.start_transaction().await {
                                        Some(t) => {
                                            tx = t;
                                            provisional = false;
                                            continue;
                                        }
                                        None => {
                                            self.fail(unreachable(&self.invite));
                                            return None;
                                        }
                                    }
                                }
                            }
                            let error = if cancel == Cancel::No {
                                CallError::Rejected(Box::new(r))
                            } else {
                                CallError::Cancelled(Box::new(r))
                            };
                            self.fail(error);
                            return None;
                        }
                    }
                    Some(ClientEvent::TransportError) => {
                        self.fail(unreachable(&self.invite));
                        return None;
                    }
                    Some(ClientEvent::Timeout(_)) | None => {
                        self.fail(timeout(&self.invite));
                        return None;
                    }
                },
                cmd = self.commands.recv(), if self.commands_open => {
                    let command = match cmd {
                        Some(c) => c,
                        None => {
                            // The PendingCall is gone: nobody wants the call.
                            self.commands_open = false;
                            Command::Cancel
                        }
                    };
                    match command {
                        Command::Cancel | Command::Hangup => {
                            if cancel == Cancel::No {
                                cancel = if provisional { self.send_cancel() } else { Cancel::Waiting };
                            }
                        }
                        Command::Bye(reply) => {
                            let _ = reply.send(Err(CallError::NotEstablished));
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    // §9.1: "If there is no final response for the original
                    // request in 64*T1 seconds ..., the client SHOULD then
                    // consider the original transaction cancelled".
                    info!("no final response 64*T1 after CANCEL; giving up");
                    self.fail(CallError::Cancelled(Box::new(
                        self.invite.reply(StatusCode::REQUEST_TIMEOUT),
                    )));
                    return None;
                }
            }
        }
    }

    /// Sends the CANCEL of the current INVITE in its own transaction,
    /// to the INVITE's destination (§9.1).
    fn send_cancel(&self) -> Cancel {
        let deadline = Instant::now() + self.client.timers().timer_b();
        let Some(cancel) = crate::transaction::cancel_request(&self.invite) else {
            return Cancel::Sent(deadline);
        };
        info!("sending CANCEL");
        let client = self.client.clone();
        let target = self.target;
        tokio::spawn(async move {
            let resp = client.one_transaction(&cancel, target).await;
            debug!(status = %resp.status, "CANCEL answered");
        });
        Cancel::Sent(deadline)
    }

    /// The established call, until it ends; then the INVITE transaction's
    /// remaining life (Timer M), acknowledging retransmitted 2xx.
    async fn established(mut self, accepted: Accepted) {
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
        let end = loop {
            tokio::select! {
                ev = tx.next(), if tx_open => match ev {
                    Some(ClientEvent::Response(r)) if r.status.is_success() && request::acceptable(&r) => {
                        self.on_2xx(&id, &ack, r).await;
                    }
                    Some(_) => {}
                    None => tx_open = false,
                },
                input = self.inbox.recv() => match input {
                    Some(DialogInput::Request { id: sid, request }) => {
                        if let Some(end) = self.in_dialog(&mut dialog, sid, request) {
                            break end;
                        }
                    }
                    Some(DialogInput::Retransmitted2xx(r)) => self.on_2xx(&id, &ack, r).await,
                    None => {}
                },
                cmd = self.commands.recv(), if self.commands_open && bye.is_none() => match cmd {
                    Some(Command::Bye(reply)) => {
                        bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), Some(reply)));
                    }
                    Some(Command::Hangup) => bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None)),
                    None => {
                        self.commands_open = false;
                        bye = Some((start_bye(&self.client, &mut dialog, self.target.protocol), None));
                    }
                    // §9.1: a CANCEL has no effect once the INVITE has its
                    // final response.
                    Some(Command::Cancel) => {}
                },
                resp = poll_bye(&mut bye) => {
                    info!(status = %resp.status, "BYE answered");
                    if let Some((_, Some(reply))) = bye.take() {
                        let _ = reply.send(Ok(resp.clone()));
                    }
                    break CallEnd::LocalBye(Box::new(resp));
                }
            }
        };
        self.client
            .calls()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        info!(end = %end, "call ended");
        self.status.send_replace(Status::Ended(end));
        // Requests that raced the end: the dialog is gone (§12.2.2: 481).
        while let Ok(input) = self.inbox.try_recv() {
            if let DialogInput::Request { id: sid, request } = input {
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
        let client = self.client.clone();
        let invite = self.invite.clone();
        let protocol = self.target.protocol;
        tokio::spawn(async move {
            match Dialog::new_uac(&invite, &r) {
                Ok(mut dialog) => {
                    let _ = send_ack(&client, &mut dialog, &invite, protocol).await;
                    let resp = start_bye(&client, &mut dialog, protocol).await;
                    debug!(status = %resp.status, "forked call hung up");
                }
                Err(e) => warn!(error = %e, "unusable 2xx from another fork"),
            }
        });
    }

    /// Answers a request of the peer in our dialog (§12.2.2). `Some` when
    /// it ends the call (BYE, §15.1.2).
    fn in_dialog(
        &self,
        dialog: &mut Dialog,
        sid: crate::transaction::TransactionId,
        request: Request,
    ) -> Option<CallEnd> {
        if let Err(e) = dialog.check_request(&request) {
            debug!(error = %e, method = %request.method, "in-dialog request refused");
            if let Some(resp) = e.response(&request) {
                self.client.endpoint().respond(sid, resp);
            }
            return None;
        }
        let (status, end) = match request.method {
            Method::Bye => (
                StatusCode::OK,
                Some(CallEnd::RemoteBye(Box::new(request.clone()))),
            ),
            Method::Options => (StatusCode::OK, None),
            // §14.2: a change we cannot make is refused with 488; the
            // session goes on unchanged.
            Method::Invite | Method::Update => (StatusCode::NOT_ACCEPTABLE_HERE, None),
            _ => (StatusCode::METHOD_NOT_ALLOWED, None),
        };
        let mut resp = request.reply(status);
        if matches!(status, StatusCode::METHOD_NOT_ALLOWED) || request.method == Method::Options {
            resp.headers.append(HeaderName::Allow, ALLOW);
        }
        let sips = super::is_sips(&request.uri);
        if let Ok(contact) = self.client.contact_for(&self.target, sips) {
            dialog.prepare_response(&mut resp, &contact);
        }
        info!(method = %request.method, status = %status, "answering the peer");
        self.client.endpoint().respond(sid, resp);
        end
    }
}

/// Polls the BYE in progress, if any (pending forever otherwise).
async fn poll_bye(bye: &mut ByeInProgress) -> Response {
    match bye {
        Some((future, _)) => future.await,
        None => std::future::pending().await,
    }
}

/// Builds, routes and sends the ACK for the 2xx that created `dialog`
/// (§13.2.2.4: its own transaction, a fresh branch, straight to the
/// transport). Returns it and its destination, to send again for each
/// retransmitted 2xx.
async fn send_ack(
    client: &Client,
    dialog: &mut Dialog,
    invite: &Request,
    protocol: Protocol,
) -> Option<(Request, Target)> {
    let dr = match request::ack_for_2xx(dialog, invite) {
        Ok(dr) => dr,
        Err(e) => {
            warn!(error = %e, "cannot build the ACK");
            return None;
        }
    };
    let target = match client.resolve_in_dialog(&dr.next_hop, protocol).await {
        Ok(t) => t,
        Err(e) => {
            warn!(error = %e, next_hop = %dr.next_hop, "cannot route the ACK");
            return None;
        }
    };
    let mut ack = dr.request;
    match client.via_for(&target) {
        Ok(via) => push_via(&mut ack, &via),
        Err(e) => {
            warn!(error = %e, "cannot send the ACK");
            return None;
        }
    }
    debug!(to = %target.addr, "sending ACK");
    if let Err(e) = client
        .endpoint()
        .transport()
        .send_request(&mut ack, target, SendOptions::default())
        .await
    {
        warn!(error = %e, "ACK could not be sent");
    }
    Some((ack, target))
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
        client
            .transact(Prepared {
                request: req,
                target,
            })
            .await
            .1
    })
}

fn timeout(invite: &Request) -> CallError {
    CallError::Timeout(Box::new(invite.reply(StatusCode::REQUEST_TIMEOUT)))
}

fn unreachable(invite: &Request) -> CallError {
    CallError::Unreachable(Box::new(invite.reply(StatusCode::SERVICE_UNAVAILABLE)))
}
