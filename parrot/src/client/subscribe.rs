//! Subscriptions as the subscriber (RFC 6665 §4.1): the SUBSCRIBE and its
//! retry after `423`, the NOTIFYs answered and handed to the application,
//! refreshes before expiry, unsubscription, and forked subscriptions.
//!
//! Each subscription runs in a task of its own, so that NOTIFYs are
//! answered at once whether or not the application is polling;
//! [`Subscription`] is a handle on it. The task listens on the Call-ID
//! and From tag of its SUBSCRIBE (the router's key with an empty remote
//! tag): every NOTIFY for it arrives there, whichever dialog it belongs to.
//!
//! Forks (RFC 6665 §4.1.2.4, §5.4.9): every NOTIFY with a From tag not
//! seen before creates a dialog and a subscription of its own, up to
//! [`MAX_FORKS`]. They all feed the one [`Subscription`]; each
//! [`Notification`] names its dialog, each dialog is refreshed on its own
//! schedule, and [`Subscription::unsubscribe`] ends them all. The
//! subscription is over when every dialog's is.

use super::router::DialogInput;
use super::{Client, ClientError, IntoUri, Prepared, initial_cseq, request};
use crate::dialog::{Dialog, DialogId, Subscriber, SubscriberAction};
use crate::message::typed::{
    Event, Expires, MinExpires, RecordRoute, SubscriptionState, TypedHeader,
};
use crate::message::{HeaderName, Method, NameAddr, Request, Response, StatusCode, Text};
use crate::time::sleep_until;
use crate::transport::Target;
use bytes::Bytes;
use std::collections::HashMap;
use std::fmt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// The most dialogs one SUBSCRIBE may fork into; a NOTIFY creating one
/// more is refused `481` (the subscription it would create is not kept).
pub const MAX_FORKS: usize = 8;

/// How many notifications wait for [`Subscription::next`] at most; more
/// are answered `200` but dropped (with a warning), so that a subscription
/// nobody reads holds bounded memory.
const QUEUE: usize = 64;

/// The `Allow` of our answers in a subscription's dialog.
const ALLOW: &str = "NOTIFY";

/// What to subscribe to: the event package, the duration asked for, and
/// the `Accept` value (the bodies we understand, RFC 6665 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    event: String,
    expires: u32,
    accept: Option<String>,
}

impl SubscribeOptions {
    /// A subscription to `event_package` (e.g. `"message-summary"`,
    /// `"presence"`) for an hour.
    pub fn new(event_package: &str) -> Self {
        SubscribeOptions {
            event: event_package.to_owned(),
            expires: 3600,
            accept: None,
        }
    }

    /// Asks for `seconds` (the notifier may grant less, RFC 6665
    /// §4.2.1.1).
    pub fn expires(mut self, seconds: u32) -> Self {
        self.expires = seconds;
        self
    }

    /// The `Accept` header of our SUBSCRIBEs, e.g.
    /// `"application/simple-message-summary"`.
    pub fn accept(mut self, accept: &str) -> Self {
        self.accept = Some(accept.to_owned());
        self
    }
}

/// A NOTIFY received in a subscription (answered `200` already).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Notification {
    /// The dialog it came in: a forked subscription has several (RFC 6665
    /// §4.1.2.4).
    pub dialog: DialogId,
    /// Its `Subscription-State` (`active`, `pending` or `terminated` with
    /// its `reason` and `retry-after`).
    pub state: SubscriptionState,
    /// Its `Content-Type`, if it has a body.
    pub content_type: Option<String>,
    /// Its body: the state document of the event package.
    pub body: Bytes,
    /// The NOTIFY itself.
    pub request: Request,
}

/// Why a subscription ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SubscriptionEnd {
    /// The notifier ended it with this `Subscription-State: terminated`
    /// (its `reason` and any `retry-after`, RFC 6665 §4.1.3).
    Terminated(SubscriptionState),
    /// A refresh was refused with this response, which ends a subscription
    /// (RFC 6665 §4.1.2.2).
    Refused(Box<Response>),
    /// It expired without a successful refresh.
    Expired,
    /// We unsubscribed and no final NOTIFY came in time.
    Unsubscribed,
    /// The client shut down.
    Closed,
}

/// Commands of the handle.
enum Command {
    Unsubscribe(oneshot::Sender<Response>),
}

/// A subscription (RFC 6665), from [`Client::subscribe`]: yields the
/// notifications with [`next`](Self::next) until it ends; refreshes itself
/// before it expires; [`unsubscribe`](Self::unsubscribe) ends it.
/// Dropping it unsubscribes in the background.
pub struct Subscription {
    response: Response,
    dialog: Option<DialogId>,
    notifications: mpsc::Receiver<Notification>,
    commands: mpsc::UnboundedSender<Command>,
    end: watch::Receiver<Option<SubscriptionEnd>>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("dialog", &self.dialog)
            .field("end", &*self.end.borrow())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The 2xx that accepted the SUBSCRIBE.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The dialog of that 2xx (other forks name theirs in their
    /// [`Notification`]s).
    pub fn dialog_id(&self) -> Option<&DialogId> {
        self.dialog.as_ref()
    }

    /// The next notification, in the order received; `None` once the
    /// subscription is over (see [`end`](Self::end)) and every
    /// notification was taken. A `terminated` one is the last of its
    /// dialog.
    pub async fn next(&mut self) -> Option<Notification> {
        self.notifications.recv().await
    }

    /// Why the subscription ended, once it has.
    pub fn end(&self) -> Option<SubscriptionEnd> {
        self.end.borrow().clone()
    }

    /// Unsubscribes (RFC 6665 §4.1.2.3): a SUBSCRIBE with `Expires: 0` in
    /// every dialog; returns the final response of the first. The final
    /// NOTIFY (`terminated`) still comes through [`next`](Self::next);
    /// without one within 64·T1, the subscription ends all the same.
    pub async fn unsubscribe(&mut self) -> Result<Response, ClientError> {
        let (tx, rx) = oneshot::channel();
        let gone = || ClientError::Unsupported("the subscription has ended".to_owned());
        self.commands
            .send(Command::Unsubscribe(tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }
}

impl Client {
    /// Subscribes to `event_package` at `uri` for `expires` seconds (RFC
    /// 6665 §4.1): see [`subscribe_with`](Self::subscribe_with).
    pub async fn subscribe(
        &self,
        uri: impl IntoUri,
        event_package: &str,
        expires: u32,
    ) -> Result<Subscription, ClientError> {
        self.subscribe_with(uri, SubscribeOptions::new(event_package).expires(expires))
            .await
    }

    /// Sends SUBSCRIBE to `uri` as `options` say and returns the
    /// [`Subscription`] once it is accepted (2xx).
    ///
    /// * A `423 Interval Too Brief` is retried once with its
    ///   `Min-Expires` (RFC 6665 §4.1.2.1); a 401/407 is answered with the
    ///   client's credentials (RFC 3261 §22.2).
    /// * Any other final response is [`ClientError::Rejected`]: `489 Bad
    ///   Event` when the package is not served (RFC 6665 §4.1.2.1), a
    ///   `408`/`503` standing for a timeout or transport failure.
    /// * A NOTIFY may arrive before the 2xx (RFC 6665 §4.1.2.4): it is
    ///   accepted and waits in the subscription.
    pub async fn subscribe_with(
        &self,
        uri: impl IntoUri,
        options: SubscribeOptions,
    ) -> Result<Subscription, ClientError> {
        let uri = uri.into_uri()?;
        let event = Event::parse_str(&options.event)
            .map_err(|_| ClientError::Config(format!("bad event package {:?}", options.event)))?;
        let to = NameAddr::new(uri.clone());
        let mut p = self
            .prepare(Method::Subscribe, uri, to, None, initial_cseq(), true)
            .await?;
        add_headers(&mut p.request, &event, options.expires, &options);
        let p = self.fit_transport(p)?;
        let call_id = p.request.headers.call_id().map(|c| c.to_string());
        let from_tag = p.request.headers.from_tag().map(|t| t.to_string());
        let (Some(call_id), Some(from_tag)) = (call_id, from_tag) else {
            return Err(ClientError::Config(
                "SUBSCRIBE without Call-ID or tag".into(),
            ));
        };
        let key = DialogId::new(&call_id, &from_tag, "");
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (notify_tx, notifications) = mpsc::channel(QUEUE);
        let (end_tx, end) = watch::channel(None);
        let (initial_tx, initial_rx) = oneshot::channel();
        self.calls()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), inbox_tx);
        let span = tracing::info_span!("subscription", call_id = %call_id, event = %event);
        let task = Task {
            client: self.clone(),
            key,
            event,
            options,
            subscribe: p.request.clone(),
            target: p.target,
            forks: HashMap::new(),
            initial: Some(initial_tx),
            retried_423: false,
            notifications: notify_tx,
            inbox,
            commands: commands_rx,
            commands_open: true,
            jobs: JoinSet::new(),
            end: end_tx,
            last_end: None,
            unsubscribing: None,
        };
        tokio::spawn(tracing::Instrument::instrument(task.run(p), span));
        let response = match initial_rx.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(ClientError::Unsupported(
                    "the subscription's task is gone".into(),
                ));
            }
        };
        Ok(Subscription {
            dialog: DialogId::from_incoming_response(&response),
            response,
            notifications,
            commands,
            end,
        })
    }
}

/// Event, Expires, Accept and Allow-Events on a SUBSCRIBE.
fn add_headers(req: &mut Request, event: &Event, expires: u32, options: &SubscribeOptions) {
    req.headers.set_typed(event);
    req.headers.set_typed(&Expires(expires));
    if let Some(accept) = &options.accept {
        req.headers
            .set(HeaderName::Accept, Text::from(accept.clone()));
    }
}

/// One dialog of the subscription.
struct Fork {
    dialog: Dialog,
    sub: Subscriber,
    /// Our unsubscription was sent in it.
    unsubscribed: bool,
    /// A refresh of ours is in its transaction.
    refreshing: bool,
}

/// What a job (a SUBSCRIBE in its transaction) reports.
enum Job {
    /// The initial SUBSCRIBE.
    Initial(Prepared, Response),
    /// A SUBSCRIBE in the dialog with remote tag `tag` asking for
    /// `expires` seconds (0: an unsubscription).
    InDialog {
        tag: Text,
        expires: u32,
        request: Request,
        response: Response,
    },
}

struct Task {
    client: Client,
    /// Our key in the router's table.
    key: DialogId,
    event: Event,
    options: SubscribeOptions,
    /// The SUBSCRIBE as last sent outside the dialog.
    subscribe: Request,
    target: Target,
    /// The dialogs, by remote tag.
    forks: HashMap<Text, Fork>,
    /// Who waits for the outcome of the initial SUBSCRIBE.
    initial: Option<oneshot::Sender<Result<Response, ClientError>>>,
    retried_423: bool,
    notifications: mpsc::Sender<Notification>,
    inbox: mpsc::UnboundedReceiver<DialogInput>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    jobs: JoinSet<Job>,
    end: watch::Sender<Option<SubscriptionEnd>>,
    last_end: Option<SubscriptionEnd>,
    /// Since we unsubscribed: the deadline for the final NOTIFYs, and who
    /// waits for the first answer.
    unsubscribing: Option<(Instant, Option<oneshot::Sender<Response>>)>,
}

fn std_now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Task {
    async fn run(mut self, first: Prepared) {
        self.spawn_initial(first);
        loop {
            if self.is_over() {
                break;
            }
            let deadline = self.deadline();
            tokio::select! {
                Some(job) = self.jobs.join_next(), if !self.jobs.is_empty() => match job {
                    Ok(job) => self.on_job(job),
                    Err(e) => warn!(error = %e, "a SUBSCRIBE's task failed"),
                },
                input = self.inbox.recv() => match input {
                    Some(DialogInput::Request { id, request, .. }) => self.on_request(id, request),
                    Some(_) => {}
                    None => {
                        self.last_end = Some(SubscriptionEnd::Closed);
                        break;
                    }
                },
                cmd = self.commands.recv(), if self.commands_open && self.initial.is_none() => match cmd {
                    Some(Command::Unsubscribe(reply)) => self.unsubscribe(Some(reply)),
                    None => {
                        // The handle is gone: nobody wants the notifications.
                        self.commands_open = false;
                        self.unsubscribe(None);
                    }
                },
                () = sleep_until(deadline) => self.on_timer(),
            }
        }
        self.client
            .calls()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
        // Requests that raced the end: the dialogs are gone (481).
        while let Ok(input) = self.inbox.try_recv() {
            if let DialogInput::Request { id, request, .. } = input {
                self.client.endpoint().respond(
                    id,
                    request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                );
            }
        }
        let end = self.last_end.take().unwrap_or(SubscriptionEnd::Closed);
        info!(?end, "subscription over");
        self.end.send_replace(Some(end));
    }

    /// Whether the subscription is over: the initial SUBSCRIBE failed, or
    /// every dialog's subscription ended.
    fn is_over(&self) -> bool {
        if self.initial.is_some() {
            return false;
        }
        // The final NOTIFY may overtake the answer to our unsubscription:
        // that answer is still owed to `unsubscribe`.
        let owed = self
            .unsubscribing
            .as_ref()
            .is_some_and(|(_, reply)| reply.is_some())
            && !self.jobs.is_empty();
        !owed && self.forks.values().all(|f| f.sub.is_terminated())
    }

    fn deadline(&self) -> Option<Instant> {
        let subs = self
            .forks
            .values()
            .filter_map(|f| f.sub.poll_timeout())
            .min()
            .map(Instant::from_std);
        let unsub = self.unsubscribing.as_ref().map(|(at, _)| *at);
        match (subs, unsub) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn spawn_initial(&mut self, p: Prepared) {
        let client = self.client.clone();
        self.jobs.spawn(async move {
            let (request, response) = client.transact(p.clone()).await;
            Job::Initial(Prepared { request, ..p }, response)
        });
    }

    /// Sends a SUBSCRIBE in the dialog of `tag` for `expires` seconds.
    fn spawn_in_dialog(&mut self, tag: &Text, expires: u32) {
        let Some(fork) = self.forks.get_mut(tag) else {
            return;
        };
        let sips = fork.dialog.is_secure() || super::is_sips(&fork.dialog.remote_target());
        let contact = match self.client.contact_for(&self.target, sips) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "no Contact for the SUBSCRIBE");
                return;
            }
        };
        // §12.2.1.1; RFC 6665 §4.1.2.2: a refresh is a SUBSCRIBE in the
        // dialog, with the same Event.
        let mut dr = match fork
            .dialog
            .create_request(Method::Subscribe, None, Some(&contact))
        {
            Ok(dr) => dr,
            Err(e) => {
                warn!(error = %e, "cannot build the SUBSCRIBE");
                return;
            }
        };
        add_headers(&mut dr.request, &self.event, expires, &self.options);
        fork.refreshing = expires > 0;
        let client = self.client.clone();
        let protocol = self.target.protocol;
        let tag = tag.clone();
        info!(%tag, expires, "sending SUBSCRIBE in the dialog");
        self.jobs.spawn(async move {
            let (request, response, _) = client.send_in_dialog(dr, protocol).await;
            Job::InDialog {
                tag,
                expires,
                request,
                response,
            }
        });
    }

    fn on_job(&mut self, job: Job) {
        match job {
            Job::Initial(p, resp) => self.on_initial(p, resp),
            Job::InDialog {
                tag,
                expires,
                request,
                response,
            } => self.on_in_dialog(tag, expires, request, response),
        }
    }

    fn on_initial(&mut self, p: Prepared, resp: Response) {
        self.subscribe = p.request.clone();
        let status = resp.status;
        if status.is_success() {
            let tag = resp.headers.to_tag().map(|t| Text::from(t.to_string()));
            let Some(tag) = tag else {
                self.fail(ClientError::Rejected(Box::new(resp)));
                return;
            };
            let seq = p.request.headers.cseq().map_or(0, |c| c.seq);
            if !self.forks.contains_key(&tag) {
                match Dialog::new_uac(&p.request, &resp) {
                    Ok(dialog) => {
                        self.forks.insert(tag.clone(), self.new_fork(dialog));
                    }
                    Err(e) => {
                        warn!(error = %e, "the 2xx to SUBSCRIBE makes no usable dialog");
                        self.fail(ClientError::Rejected(Box::new(resp)));
                        return;
                    }
                }
            }
            // RFC 6665 §4.1.2.1: the 2xx's Expires is the duration granted
            // (which may be shorter than asked, never longer).
            let granted = granted_expires(&resp).unwrap_or(self.options.expires);
            if let Some(fork) = self.forks.get_mut(&tag) {
                fork.dialog.raise_local_seq(seq);
                fork.sub.granted(granted, std_now());
            }
            info!(%status, granted, "subscription accepted");
            if let Some(reply) = self.initial.take() {
                let _ = reply.send(Ok(resp));
            }
            return;
        }
        // RFC 6665 §4.1.2.1: "the subscriber MAY retry the subscription
        // with an Expires value at least as large as the Min-Expires".
        if status == StatusCode::INTERVAL_TOO_BRIEF && !self.retried_423 {
            self.retried_423 = true;
            if let Some(Ok(MinExpires(min))) = resp.headers.typed::<MinExpires>() {
                let mut next = p.request.clone();
                next.headers.set_typed(&Expires(min));
                if let Some(next) = request::resubmit(&next) {
                    info!(min, "423: subscribing again for Min-Expires");
                    self.options.expires = min;
                    self.spawn_initial(Prepared { request: next, ..p });
                    return;
                }
            }
        }
        info!(%status, "SUBSCRIBE refused");
        self.fail(ClientError::Rejected(Box::new(resp)));
    }

    /// The initial SUBSCRIBE failed: the subscription is over, whatever
    /// NOTIFYs arrived meanwhile.
    fn fail(&mut self, error: ClientError) {
        for fork in self.forks.values_mut() {
            fork.sub.terminate();
        }
        if let ClientError::Rejected(r) = &error {
            self.last_end = Some(SubscriptionEnd::Refused(r.clone()));
        }
        if let Some(reply) = self.initial.take() {
            let _ = reply.send(Err(error));
        }
    }

    fn new_fork(&self, dialog: Dialog) -> Fork {
        Fork {
            dialog,
            sub: Subscriber::new(self.event.clone()),
            unsubscribed: false,
            refreshing: false,
        }
    }

    fn on_in_dialog(&mut self, tag: Text, expires: u32, request: Request, resp: Response) {
        let now = std_now();
        let first_unsubscribe = if expires == 0 {
            self.unsubscribing
                .as_mut()
                .and_then(|(_, reply)| reply.take())
        } else {
            None
        };
        if let Some(reply) = first_unsubscribe {
            let _ = reply.send(resp.clone());
        }
        let Some(fork) = self.forks.get_mut(&tag) else {
            return;
        };
        fork.refreshing = false;
        // The CSeq of a resubmission with credentials (§22.2).
        if let Some(c) = request.headers.cseq() {
            fork.dialog.raise_local_seq(c.seq);
        }
        // §12.2.1.2: a 481 or 408 ends the dialog.
        fork.dialog.handle_response(&resp);
        let status = resp.status;
        if expires == 0 {
            // An unsubscription refused leaves nothing to wait for; an
            // accepted one waits for its final NOTIFY (RFC 6665 §4.1.2.3).
            if !status.is_success() {
                fork.sub.terminate();
                self.last_end = Some(SubscriptionEnd::Unsubscribed);
            }
            return;
        }
        if status.is_success() {
            let granted = granted_expires(&resp).unwrap_or(expires);
            debug!(%tag, granted, "subscription refreshed");
            fork.sub.granted(granted, now);
            return;
        }
        if status == StatusCode::INTERVAL_TOO_BRIEF
            && let Some(Ok(MinExpires(min))) = resp.headers.typed::<MinExpires>()
            && min > expires
        {
            info!(%tag, min, "refresh answered 423: again with Min-Expires");
            self.options.expires = min;
            self.spawn_in_dialog(&tag, min);
            return;
        }
        warn!(%tag, %status, "refresh refused");
        if fork.sub.refresh_answered(status) || fork.dialog.is_terminated() {
            fork.sub.terminate();
            self.last_end = Some(SubscriptionEnd::Refused(Box::new(resp)));
        }
    }

    fn on_timer(&mut self) {
        let now = std_now();
        if let Some((at, _)) = &self.unsubscribing
            && Instant::now() >= *at
        {
            info!("no final NOTIFY in time after unsubscribing");
            self.unsubscribing = None;
            for fork in self.forks.values_mut() {
                fork.sub.terminate();
            }
            self.last_end = Some(SubscriptionEnd::Unsubscribed);
            return;
        }
        let mut refresh = Vec::new();
        for (tag, fork) in &mut self.forks {
            match fork.sub.handle_timeout(now) {
                Some(SubscriberAction::Refresh) if !fork.unsubscribed && !fork.refreshing => {
                    refresh.push(tag.clone())
                }
                Some(SubscriberAction::Expired) => {
                    info!(%tag, "subscription expired");
                    self.last_end = Some(SubscriptionEnd::Expired);
                }
                _ => {}
            }
        }
        let expires = self.options.expires;
        for tag in refresh {
            self.spawn_in_dialog(&tag, expires);
        }
    }

    /// RFC 6665 §4.1.2.3: `Expires: 0` in every dialog still subscribed.
    fn unsubscribe(&mut self, reply: Option<oneshot::Sender<Response>>) {
        let tags: Vec<Text> = self
            .forks
            .iter()
            .filter(|(_, f)| !f.sub.is_terminated() && !f.unsubscribed)
            .map(|(t, _)| t.clone())
            .collect();
        if tags.is_empty() {
            if let Some(reply) = reply {
                let _ = reply.send(
                    self.subscribe
                        .reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                );
            }
            return;
        }
        let deadline = Instant::now() + self.client.timers().timer_f();
        self.unsubscribing = Some((deadline, reply));
        info!(dialogs = tags.len(), "unsubscribing");
        for tag in tags {
            if let Some(f) = self.forks.get_mut(&tag) {
                f.unsubscribed = true;
            }
            self.spawn_in_dialog(&tag, 0);
        }
    }

    /// A request of the peer in one of our dialogs, or creating one (a
    /// NOTIFY from a new fork, or before the 2xx, RFC 6665 §4.1.2.4).
    fn on_request(&mut self, sid: crate::transaction::TransactionId, req: Request) {
        let tag = Text::from(req.headers.from_tag().unwrap_or_default().to_string());
        let contact = self
            .client
            .contact_for(&self.target, super::is_sips(&req.uri))
            .ok();
        if !self.forks.contains_key(&tag) {
            match self.fork_for(&req) {
                Ok(fork) => {
                    info!(%tag, "NOTIFY creates a dialog (RFC 6665 §4.1.2.4)");
                    self.forks.insert(tag.clone(), fork);
                }
                Err(resp) => {
                    debug!(method = %req.method, status = %resp.status, "request refused");
                    self.client.endpoint().respond(sid, resp);
                    return;
                }
            }
        }
        let Some(fork) = self.forks.get_mut(&tag) else {
            return;
        };
        if let Err(e) = fork.dialog.check_request(&req) {
            debug!(error = %e, method = %req.method, "in-dialog request refused");
            if let Some(resp) = e.response(&req) {
                self.client.endpoint().respond(sid, resp);
            }
            return;
        }
        let respond = |fork: &mut Fork, mut resp: Response| {
            if let Some(c) = &contact {
                fork.dialog.prepare_response(&mut resp, c);
            }
            resp
        };
        if req.method != Method::Notify {
            let mut resp = req.reply(StatusCode::METHOD_NOT_ALLOWED);
            resp.headers.append(HeaderName::Allow, ALLOW);
            let resp = respond(fork, resp);
            self.client.endpoint().respond(sid, resp);
            return;
        }
        // RFC 6665 §4.1.3: the Event must be the subscription's (489), the
        // Subscription-State present (400).
        let state = match fork.sub.check_notify(&req) {
            Ok(s) => s,
            Err(resp) => {
                debug!(status = %resp.status, "NOTIFY refused");
                let resp = respond(fork, resp);
                self.client.endpoint().respond(sid, resp);
                return;
            }
        };
        let resp = respond(fork, req.reply(StatusCode::OK));
        self.client.endpoint().respond(sid, resp);
        let ended = fork.sub.on_notify(&state, std_now());
        info!(%tag, state = %state, "NOTIFY received");
        if ended {
            self.last_end = Some(if self.unsubscribing.is_some() {
                SubscriptionEnd::Unsubscribed
            } else {
                SubscriptionEnd::Terminated(state.clone())
            });
        }
        let notification = Notification {
            dialog: fork.dialog.id().clone(),
            state,
            content_type: req
                .headers
                .get(HeaderName::ContentType)
                .map(|c| c.to_string()),
            body: req.body.clone(),
            request: req,
        };
        if let Err(e) = self.notifications.try_send(notification) {
            warn!(error = %e, "notification dropped: the application does not read them");
        }
    }

    /// The dialog and subscription a NOTIFY from an unknown fork creates
    /// (RFC 6665 §4.1.2.4), or the response refusing it: `481` for another
    /// method, after we unsubscribed, or beyond [`MAX_FORKS`]; `489` for
    /// another event.
    fn fork_for(&self, req: &Request) -> Result<Fork, Response> {
        let no = |why: &'static str| {
            req.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
                .reason(why)
        };
        if req.method != Method::Notify {
            return Err(no("No such dialog"));
        }
        if self.unsubscribing.is_some() || (self.initial.is_none() && self.forks.is_empty()) {
            return Err(no("Subscription does not exist"));
        }
        if self.forks.len() >= MAX_FORKS {
            return Err(no("Too many forks"));
        }
        Subscriber::new(self.event.clone()).check_notify(req)?;
        // The dialog as if the NOTIFY's side had answered our SUBSCRIBE
        // with a 2xx: its From tag, Contact and Record-Route. The route set
        // of a dialog a request creates is its Record-Route in order
        // (§12.1.1), that of a response reversed (§12.1.2): reversed here
        // so that it comes out in order.
        let mut ok = self.subscribe.reply(StatusCode::OK);
        if let Some(from) = req.headers.from_header() {
            let mut to = crate::message::typed::To::new(from.addr.clone());
            if let Some(t) = from.tag() {
                to.set_tag(Text::from(t.to_owned()));
            }
            ok.headers.set_typed(&to);
        }
        for c in req.headers.get_all(HeaderName::Contact) {
            ok.headers.push(c.clone());
        }
        let rr: Vec<RecordRoute> = req
            .headers
            .typed_all::<RecordRoute>()
            .filter_map(Result::ok)
            .collect();
        for r in rr.iter().rev() {
            ok.headers.push_typed(r);
        }
        let dialog = Dialog::new_uac(&self.subscribe, &ok).map_err(|e| {
            debug!(error = %e, "NOTIFY makes no usable dialog");
            req.reply(StatusCode::BAD_REQUEST).reason("Unusable NOTIFY")
        })?;
        let fork = self.new_fork(dialog);
        Ok(fork)
    }
}

/// The duration a 2xx to SUBSCRIBE grants (its `Expires`).
fn granted_expires(resp: &Response) -> Option<u32> {
    match resp.headers.typed::<Expires>() {
        Some(Ok(Expires(s))) => Some(s),
        _ => None,
    }
}
