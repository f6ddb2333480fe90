//! The core: routes every server event to the task that owns it.
//!
//! A request with a To tag belongs to a dialog (RFC 3261 §12.2.2) and goes
//! to that dialog's task, in arrival order; an unknown dialog gets `481`. A
//! new INVITE or SUBSCRIBE starts a dialog task with a fresh handler value;
//! any other out-of-dialog request gets a one-shot task with its own value.

use super::relay::{self, ProxiedDialog};
use super::session::{self, Inbox, SessionConfig};
use super::{Factory, catch};
use crate::dialog::DialogId;
use crate::endpoint::{Endpoint, ServerEvent};
use crate::handler::UasHandler;
use crate::message::{HeaderName, Method, Request, StatusCode, Text};
use crate::transaction::{TimerConfig, TransactionId};
use crate::transport::Origin;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, warn};

/// Bounds of the core.
pub(crate) struct Limits {
    pub(crate) max_dialogs: usize,
    pub(crate) shutdown_timeout: Duration,
}

pub(crate) struct Core<H: UasHandler> {
    endpoint: Endpoint,
    events: mpsc::UnboundedReceiver<ServerEvent>,
    factory: Factory<H>,
    limits: Limits,
    config: Arc<SessionConfig>,
    /// Live dialog tasks by dialog id (local tag = our To tag).
    dialogs: HashMap<DialogId, mpsc::UnboundedSender<Inbox>>,
    /// Pending INVITE transactions, to deliver their CANCEL notification.
    invites: HashMap<TransactionId, DialogId>,
    /// Tasks report here when they end.
    done_tx: mpsc::UnboundedSender<Option<DialogId>>,
    done_rx: mpsc::UnboundedReceiver<Option<DialogId>>,
    /// Live tasks (dialogs and one-shot requests).
    live: usize,
    /// Dialogs we proxied, by (Call-ID, tags in order).
    proxied: HashMap<(Text, Text, Text), ProxiedDialog>,
    proxied_rx: mpsc::UnboundedReceiver<ProxiedDialog>,
    draining: bool,
}

impl<H: UasHandler> Core<H> {
    pub(crate) fn new(
        endpoint: Endpoint,
        events: mpsc::UnboundedReceiver<ServerEvent>,
        factory: Factory<H>,
        limits: Limits,
        timers: TimerConfig,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (proxied_tx, proxied_rx) = mpsc::unbounded_channel();
        Core {
            config: Arc::new(SessionConfig {
                timers,
                proxied: proxied_tx,
            }),
            proxied: HashMap::new(),
            proxied_rx,
            endpoint,
            events,
            factory,
            limits,
            dialogs: HashMap::new(),
            invites: HashMap::new(),
            done_tx,
            done_rx,
            live: 0,
            draining: false,
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub(crate) async fn run(mut self, signal: impl Future<Output = ()> + Send) {
        let mut signal = std::pin::pin!(signal);
        loop {
            tokio::select! {
                ev = self.events.recv() => match ev {
                    Some(ev) => self.event(ev),
                    None => break,
                },
                Some(done) = self.done_rx.recv() => self.finished(done),
                Some(d) = self.proxied_rx.recv() => self.add_proxied(d),
                () = &mut signal, if !self.draining => {
                    info!(live = self.live, "shutting down: refusing new requests");
                    self.draining = true;
                    break;
                }
            }
        }
        // Graceful shutdown: let live dialogs and transactions finish,
        // bounded by the timeout; requests meanwhile get 503.
        let deadline = tokio::time::sleep(self.limits.shutdown_timeout);
        tokio::pin!(deadline);
        // Sessions own every transaction with work outstanding (including
        // the BYEs they send); the rest only absorb retransmissions.
        while self.live > 0 {
            tokio::select! {
                ev = self.events.recv() => match ev {
                    Some(ev) => self.event(ev),
                    None => break,
                },
                Some(done) = self.done_rx.recv() => self.finished(done),
                () = &mut deadline => {
                    warn!(live = self.live, "shutdown timeout: stopping with work in progress");
                    break;
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        self.endpoint.shutdown();
        info!("server stopped");
    }

    fn finished(&mut self, done: Option<DialogId>) {
        self.live = self.live.saturating_sub(1);
        if let Some(id) = done {
            self.dialogs.remove(&id);
            self.invites.retain(|_, d| *d != id);
        }
    }

    fn event(&mut self, ev: ServerEvent) {
        match ev {
            ServerEvent::Request {
                id,
                request,
                origin,
            } => self.request(id, request, origin),
            ServerEvent::Ack { request, origin } => {
                // §13.2.2.4 / §17.1.1.3: the ACK for a 2xx belongs to the
                // dialog; one for no dialog is dropped (never answered).
                match DialogId::from_incoming_request(&request).and_then(|d| self.dialogs.get(&d)) {
                    Some(inbox) => {
                        let _ = inbox.send(Inbox::Ack {
                            request: Box::new(request),
                        });
                    }
                    None => {
                        if self.proxy_in_dialog(None, request, origin).is_some() {
                            debug!("ACK for no dialog dropped");
                        }
                    }
                }
            }
            ServerEvent::Cancelled { id } => {
                if let Some(inbox) = self.invites.remove(&id).and_then(|d| self.dialogs.get(&d)) {
                    let _ = inbox.send(Inbox::Cancelled);
                }
            }
            ServerEvent::Timeout { id, timer } => {
                debug!(%id, ?timer, "server transaction timed out");
            }
            ServerEvent::TransportError { id } => {
                warn!(%id, "response could not be delivered");
            }
            ServerEvent::StrayResponse { response } => {
                // §16.7 step 3 / §16.11: a response with our Via on top and
                // no transaction left (e.g. a retransmitted 2xx) is relayed
                // statelessly to the next Via; anything else is dropped.
                let protocol = response
                    .headers
                    .top_via()
                    .and_then(|v| crate::transport::Protocol::from_via(&v.transport));
                let me = protocol.and_then(|p| relay::local(&self.endpoint, p));
                match me.and_then(|me| crate::proxy::strip_our_via(response, &me)) {
                    Some(up) => {
                        let endpoint = self.endpoint.clone();
                        tokio::spawn(async move {
                            if let Err(e) = endpoint.transport().send_response(&up, None).await {
                                debug!(error = %e, "stray response not relayed");
                            }
                        });
                    }
                    None => debug!("response matching no transaction dropped"),
                }
            }
        }
    }

    /// Remembers a dialog we proxied. Entries go when a BYE passes; ones
    /// whose BYE took another path are swept after a day, once the table
    /// is large.
    fn add_proxied(&mut self, d: ProxiedDialog) {
        if self.proxied.len() >= self.limits.max_dialogs {
            let day = Duration::from_secs(24 * 3600);
            self.proxied.retain(|_, d| d.since.elapsed() < day);
        }
        let key = ProxiedDialog::key(&d.call_id, &d.caller_tag, &d.callee_tag);
        self.proxied.insert(key, d);
    }

    /// Forwards a request inside a dialog that is not ours: one routed to
    /// us by a Route header (§16.4), or one of a dialog we proxied. Gives
    /// the request back (`Some`) when neither applies.
    fn proxy_in_dialog(
        &mut self,
        id: Option<TransactionId>,
        request: Request,
        origin: Origin,
    ) -> Option<Request> {
        let me = relay::local(&self.endpoint, origin.protocol);
        let routed_to_us = request
            .headers
            .typed::<crate::message::typed::Route>()
            .and_then(Result::ok)
            .zip(me.as_ref())
            .is_some_and(|(r, me)| me.is(r.addr.uri()));
        let (retarget, hop) = if routed_to_us {
            if request.method == Method::Bye
                && let (Some(c), Some(f), Some(t)) = (
                    request.headers.call_id(),
                    request.headers.from_tag(),
                    request.headers.to_tag(),
                )
            {
                self.proxied.remove(&ProxiedDialog::key(c, &f, &t));
            }
            (None, None)
        } else {
            let (Some(call_id), Some(from), Some(to)) = (
                request.headers.call_id(),
                request.headers.from_tag(),
                request.headers.to_tag(),
            ) else {
                return Some(request);
            };
            let key = ProxiedDialog::key(call_id, &from, &to);
            let Some(d) = self.proxied.get(&key) else {
                return Some(request);
            };
            let from_caller = from == d.caller_tag;
            let hop = if from_caller { d.callee } else { d.caller };
            // A request addressed to us goes to the callee's target.
            let to_us = me.as_ref().is_some_and(|me| me.is(&request.uri));
            let retarget = (from_caller && to_us).then(|| d.callee_uri.clone());
            if request.method == Method::Bye {
                self.proxied.remove(&key);
            }
            (retarget, Some(hop))
        };
        let endpoint = self.endpoint.clone();
        tokio::spawn(relay::forward_in_dialog(
            endpoint, id, origin, request, retarget, hop,
        ));
        None
    }

    fn request(&mut self, id: TransactionId, request: Request, origin: Origin) {
        let span = tracing::info_span!(
            "sip",
            call_id = %request.headers.call_id().map_or("", |c| c.as_str()),
            method = %request.method
        );
        let _g = span.enter();
        if request.headers.to_tag().is_some() {
            // §12.2.2: a request inside a dialog.
            match DialogId::from_incoming_request(&request).and_then(|d| self.dialogs.get(&d)) {
                Some(inbox) => {
                    let msg = Inbox::Request {
                        id,
                        request: Box::new(request),
                        origin,
                    };
                    // The dialog's task may have just ended.
                    if let Err(mpsc::error::SendError(Inbox::Request { id, request, .. })) =
                        inbox.send(msg)
                    {
                        self.endpoint.respond(
                            id,
                            request.response(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                        );
                    }
                }
                None => {
                    if let Some(request) = self.proxy_in_dialog(Some(id), request, origin) {
                        debug!("request for an unknown dialog: 481");
                        self.endpoint.respond(
                            id,
                            request.response(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                        );
                    }
                }
            }
            return;
        }
        if self.draining || self.live >= self.limits.max_dialogs {
            // Overload or shutdown: refuse instead of growing without bound
            // (§21.5.4: 503 with Retry-After).
            warn!(
                live = self.live,
                draining = self.draining,
                "refusing request with 503"
            );
            let mut resp = request.response(StatusCode::SERVICE_UNAVAILABLE);
            resp.headers.append(HeaderName::RetryAfter, "5");
            self.endpoint.respond(id, resp);
            return;
        }
        self.live += 1;
        let handler = match catch::catch_call(|| (self.factory)()) {
            Ok(h) => h,
            Err(msg) => {
                warn!(panic = %msg, "handler factory panicked: 500");
                self.live -= 1;
                self.endpoint
                    .respond(id, request.response(StatusCode::SERVER_INTERNAL_ERROR));
                return;
            }
        };
        let creates_dialog = matches!(request.method, Method::Invite | Method::Subscribe);
        let local_tag: Text = crate::random::tag();
        let dialog_id = if creates_dialog {
            let call_id = request.headers.call_id().cloned();
            let from_tag = request.headers.from_tag();
            call_id
                .zip(from_tag)
                .map(|(c, f)| DialogId::new(&c, &local_tag, &f))
        } else {
            None
        };
        let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
        if let Some(d) = &dialog_id {
            self.dialogs.insert(d.clone(), inbox_tx.clone());
            if request.method == Method::Invite {
                self.invites.insert(id, d.clone());
            }
        }
        let _ = inbox_tx.send(Inbox::Request {
            id,
            request: Box::new(request),
            origin,
        });
        let task = session::run::<H>(
            handler,
            self.endpoint.clone(),
            self.config.clone(),
            local_tag,
            dialog_id.clone(),
            inbox_rx,
            inbox_tx,
        );
        let done = self.done_tx.clone();
        tokio::spawn(
            async move {
                task.await;
                let _ = done.send(dialog_id);
            }
            .instrument(span.clone()),
        );
    }
}
