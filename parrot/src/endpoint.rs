//! The endpoint: transports and the transaction layer running together on
//! tokio.
//!
//! One task owns the sans-IO [`TransactionLayer`]; it takes messages from
//! the transports, commands from [`Endpoint`] handles and its own deadlines,
//! and hands the transaction user (TU) a stream of [`ServerEvent`]s. Client
//! transactions report to their own [`ClientTransaction`] handle.
//!
//! ```no_run
//! use parrot::endpoint::{Endpoint, EndpointConfig, ServerEvent};
//! use parrot::message::StatusCode;
//!
//! # async fn run() -> Result<(), parrot::transport::TransportError> {
//! let (endpoint, mut events) = Endpoint::bind(EndpointConfig::default()).await?;
//! while let Some(event) = events.recv().await {
//!     if let ServerEvent::Request { id, request, .. } = event {
//!         endpoint.respond(id, request.reply(StatusCode::OK));
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::keyed::KeyedMap;
use crate::message::typed::Via;
use crate::message::{Message, Request, Response, StatusCode};
use crate::transaction::{
    KeyError, LayerEvent, LayerOutput, SendError, Timer, TimerConfig, TransactionId,
    TransactionLayer,
};
use crate::transport::{
    Closing, ConnectionClosings, ConnectionId, Incoming, Origin, Protocol, SendOptions, Target,
    TransportConfig, TransportError, TransportLayer,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, warn};

mod events;

pub use events::{ServerEvent, ServerEvents};

/// Settings of an [`Endpoint`].
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Listeners and transport limits.
    pub transport: TransportConfig,
    /// T1, T2, T4.
    pub timers: TimerConfig,
    /// Most transactions in progress (not yet settled, see
    /// [`Transaction::is_settled`](crate::transaction::Transaction::is_settled));
    /// new requests beyond it get 503 (RFC 3261 §21.5.4). Default 100,000.
    pub max_transactions: usize,
    /// Most settled transactions, the ones that only absorb
    /// retransmissions (up to 32 s each over UDP: about 64 per call/s of
    /// load); beyond it the oldest ends early. Bounds their memory (a few
    /// hundred bytes to 1 KB each). Default 500,000: 7,800 calls/s before
    /// any ends early.
    pub max_settled_transactions: usize,
    /// New out-of-dialog work is refused while this many received requests
    /// await the transaction user's first answer (see
    /// [`TransactionLayer::set_max_backlog`]). Default: no limit.
    pub max_backlog: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            transport: TransportConfig::default(),
            timers: TimerConfig::default(),
            max_transactions: 100_000,
            max_settled_transactions: 500_000,
            max_backlog: usize::MAX,
        }
    }
}

/// What a client transaction reports to its [`ClientTransaction`] handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A response (provisional or final).
    Response(Response),
    /// Timer B or F fired: no final response in time.
    Timeout(Timer),
    /// The request could not be sent, or the connection it went over
    /// closed before the final response (RFC 3261 §17.1.4).
    TransportError,
}

/// A running client transaction.
#[derive(Debug)]
pub struct ClientTransaction {
    id: TransactionId,
    events: mpsc::UnboundedReceiver<ClientEvent>,
}

impl ClientTransaction {
    /// The transaction's id.
    pub fn id(&self) -> TransactionId {
        self.id
    }

    /// The next event; `None` once the transaction has ended.
    pub async fn next(&mut self) -> Option<ClientEvent> {
        self.events.recv().await
    }

    /// Waits for the final response. A timeout becomes `408 Request
    /// Timeout` and a transport failure `503 Service Unavailable`, as the
    /// TU is told to treat them (§8.1.3.1); `request` supplies the headers
    /// of the synthesized response.
    pub async fn final_response(self, request: &Request) -> Response {
        self.final_response_where(request, |_| true).await
    }

    /// [`final_response`](Self::final_response), ignoring the responses
    /// `accept` refuses.
    pub(crate) async fn final_response_where(
        mut self,
        request: &Request,
        mut accept: impl FnMut(&Response) -> bool,
    ) -> Response {
        while let Some(ev) = self.events.recv().await {
            match ev {
                ClientEvent::Response(r) if !accept(&r) => {}
                ClientEvent::Response(r) if r.status.is_final() => return r,
                ClientEvent::Response(_) => {}
                ClientEvent::Timeout(_) => return request.reply(StatusCode::REQUEST_TIMEOUT),
                ClientEvent::TransportError => {
                    return request.reply(StatusCode::SERVICE_UNAVAILABLE);
                }
            }
        }
        request.reply(StatusCode::REQUEST_TIMEOUT)
    }
}

/// Where a transaction's messages go.
#[derive(Debug, Clone, Copy)]
enum Peer {
    /// A server transaction answers the request's origin.
    Server(Origin),
    /// A client transaction sends to its next hop.
    Client(Target),
}

enum Command {
    Respond {
        id: TransactionId,
        response: Response,
        result: Option<oneshot::Sender<Result<(), SendError>>>,
    },
    Request {
        request: Box<Request>,
        target: Target,
        events: mpsc::UnboundedSender<ClientEvent>,
        reply: oneshot::Sender<Result<TransactionId, KeyError>>,
    },
    TransportError {
        id: TransactionId,
    },
    /// A send task delivered client transaction `id`'s request over
    /// `connection`.
    SentOver {
        id: TransactionId,
        connection: ConnectionId,
    },
    /// Report when server transaction `id` has its final response out.
    WatchFinal {
        id: TransactionId,
        tx: oneshot::Sender<Option<StatusCode>>,
    },
    /// A connection closed, or closings were missed: fail the client
    /// transactions waiting on it (RFC 3261 §17.1.4).
    Closing(Closing),
}

/// Passes the transport's connection closings to the driver as commands,
/// until the transport or the endpoint is gone. The driver's select then
/// has no broadcast receiver to poll, and to register with under the
/// channel's lock, each time the driver goes idle (several times a call).
async fn forward_closings(
    mut closings: ConnectionClosings,
    driver: mpsc::WeakUnboundedSender<Command>,
) {
    while let Some(closing) = closings.next().await {
        let Some(tx) = driver.upgrade() else { break };
        if tx.send(Command::Closing(closing)).is_err() {
            break;
        }
    }
}

/// A handle to a running endpoint. Cheap to clone; the endpoint stops when
/// the last handle is dropped or [`Endpoint::shutdown`] is called.
#[derive(Clone)]
pub struct Endpoint {
    commands: mpsc::UnboundedSender<Command>,
    transport: TransportLayer,
    gauges: Arc<Gauges>,
}

/// What the transaction task publishes about its load, and the shedding
/// switch the transaction user sets; plain atomics, read without waiting
/// for the task.
#[derive(Default)]
struct Gauges {
    /// Live transactions.
    live: AtomicUsize,
    /// Transactions in progress (not settled).
    in_progress: AtomicUsize,
    /// Server transactions the TU has not answered yet.
    awaiting_tu: AtomicUsize,
    /// How long received messages wait for the transaction task, in µs
    /// (a lower bound, see [`QueueProbe`]).
    queue_delay_us: AtomicU64,
    /// New requests refused statelessly with 503.
    refused: AtomicU64,
    /// New requests shed beyond the refusal budget and dropped.
    dropped: AtomicU64,
    /// Received retransmissions absorbed by their transactions.
    absorbed: AtomicU64,
    /// Whether new out-of-dialog requests are to be refused.
    shedding: AtomicBool,
}

/// Measures how long items wait in a FIFO queue, at O(1) cost per item and
/// with no timestamp on the items: when an item is taken and no probe is
/// out, the probe marks the item now last in the queue and the time; when
/// that item is taken, it waited at least the time since. While a probe
/// is out, its age is a lower bound of the wait of the marked item too.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueueProbe {
    /// Items taken so far.
    taken: u64,
    /// The marked item (by `taken` count) and when it was marked.
    probe: Option<(u64, Instant)>,
    /// The last complete measure.
    last: Duration,
}

impl QueueProbe {
    /// An item was taken at `now`, leaving `queued` behind it.
    pub(crate) fn taken(&mut self, now: Instant, queued: usize) {
        self.taken += 1;
        match self.probe {
            Some((mark, since)) if self.taken >= mark => {
                self.last = now.saturating_duration_since(since);
                self.probe = None;
            }
            Some(_) => return,
            None => {}
        }
        if queued == 0 {
            // Nothing waits: the queue is keeping up.
            self.last = Duration::ZERO;
        } else {
            self.probe = Some((self.taken + queued as u64, now));
        }
    }

    /// The queueing delay at `now` with `queued` items waiting: none when
    /// nothing waits; else the last measure, or the age of the probe out
    /// if that is larger (the marked item has waited that long already).
    pub(crate) fn delay(&self, now: Instant, queued: usize) -> Duration {
        if queued == 0 {
            return Duration::ZERO;
        }
        let out = self.probe.map_or(Duration::ZERO, |(_, since)| {
            now.saturating_duration_since(since)
        });
        self.last.max(out)
    }
}

/// The endpoint's load, as [`Endpoint::load`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLoad {
    /// Transactions in progress (not yet settled).
    pub in_progress: usize,
    /// Server transactions whose request the transaction user has not
    /// answered yet: the backlog of received work (see
    /// [`TransactionLayer::awaiting_tu`]).
    pub awaiting_tu: usize,
    /// How long received messages wait for the transaction task (a lower
    /// bound, updated as messages are taken).
    pub queue_delay: Duration,
    /// New requests refused statelessly with `503` so far, by the
    /// transaction layer or as they were received.
    pub refused: u64,
    /// New requests dropped unanswered as they were received (shed beyond
    /// the refusal budget,
    /// [`TransportConfig::refusals_per_second`](crate::transport::TransportConfig::refusals_per_second)).
    pub dropped: u64,
}

impl Endpoint {
    /// Binds the transports and starts the transaction layer. Server-side
    /// events arrive on the returned receiver.
    pub async fn bind(config: EndpointConfig) -> Result<(Endpoint, ServerEvents), TransportError> {
        Self::bind_with(config, None).await
    }

    /// Binds as [`bind`](Self::bind) does, or as one shard of a server
    /// (see [`crate::transport::shards`]).
    pub(crate) async fn bind_with(
        config: EndpointConfig,
        shard: Option<crate::transport::shards::ShardSetup>,
    ) -> Result<(Endpoint, ServerEvents), TransportError> {
        let (transport, incoming) =
            TransportLayer::bind_with(config.transport.clone(), shard).await?;
        // Subscribed before any connection can open, so no closing is
        // missed.
        let closings = transport.closed_connections();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = ServerEvents::channel();
        let gauges = Arc::new(Gauges::default());
        let mut layer = TransactionLayer::new(config.timers);
        layer.set_max_transactions(config.max_transactions);
        layer.set_max_settled(config.max_settled_transactions);
        layer.set_retry_after(config.transport.retry_after);
        layer.set_refusals_per_second(config.transport.refusals_per_second);
        layer.set_max_backlog(config.max_backlog);
        let driver = Driver {
            layer,
            transport: transport.clone(),
            incoming,
            commands: command_rx,
            command_tx: commands.downgrade(),
            events,
            clients: KeyedMap::default(),
            final_watchers: KeyedMap::default(),
            gauges: gauges.clone(),
            probe: QueueProbe::default(),
            answer_clocks: KeyedMap::default(),
        };
        tokio::spawn(
            driver
                .run()
                .instrument(tracing::debug_span!("sip_endpoint")),
        );
        tokio::spawn(forward_closings(closings, commands.downgrade()));
        Ok((
            Endpoint {
                commands,
                transport,
                gauges,
            },
            event_rx,
        ))
    }

    /// The transports.
    pub fn transport(&self) -> &TransportLayer {
        &self.transport
    }

    /// Number of live transactions.
    pub fn live_transactions(&self) -> usize {
        self.gauges.live.load(Ordering::Relaxed)
    }

    /// Received retransmissions absorbed by their transactions so far (see
    /// [`TransactionLayer::absorbed`]), as last published by the
    /// transaction task.
    pub fn retransmissions_absorbed(&self) -> u64 {
        self.gauges.absorbed.load(Ordering::Relaxed)
    }

    /// The transaction layer's load, as last published by its task.
    pub fn load(&self) -> EndpointLoad {
        let g = &self.gauges;
        EndpointLoad {
            in_progress: g.in_progress.load(Ordering::Relaxed),
            awaiting_tu: g.awaiting_tu.load(Ordering::Relaxed),
            queue_delay: Duration::from_micros(g.queue_delay_us.load(Ordering::Relaxed)),
            refused: g.refused.load(Ordering::Relaxed) + self.transport.shed_at_receive(),
            dropped: g.dropped.load(Ordering::Relaxed) + self.transport.dropped_at_receive(),
        }
    }

    /// While `on`, new out-of-dialog requests other than ACK, CANCEL and
    /// OPTIONS are refused with a stateless `503` before a transaction is
    /// made (see [`TransactionLayer::set_shedding`]): the cheapest answer
    /// an overloaded server can give (RFC 3261 §21.5.4, RFC 6357 §3).
    pub fn set_shedding(&self, on: bool) {
        self.gauges.shedding.store(on, Ordering::Relaxed);
        self.transport.set_shedding(on);
    }

    /// Sends `response` on server transaction `id`. Errors (a response after
    /// the final one, a finished transaction) are logged.
    pub fn respond(&self, id: TransactionId, response: Response) {
        let _ = self.commands.send(Command::Respond {
            id,
            response,
            result: None,
        });
    }

    /// Sends `response` on server transaction `id` and reports whether the
    /// transaction accepted it.
    pub async fn try_respond(
        &self,
        id: TransactionId,
        response: Response,
    ) -> Result<(), SendError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Respond {
                id,
                response,
                result: Some(tx),
            })
            .map_err(|_| SendError::Terminated)?;
        rx.await.unwrap_or(Err(SendError::Terminated))
    }

    /// A Via for a request sent over `protocol`: this endpoint's listening
    /// address as sent-by, a fresh branch (§8.1.1.7), `rport` (RFC 3581),
    /// and over TLS with a client certificate `alias` (RFC 5923).
    pub fn via(&self, protocol: Protocol) -> Option<Via> {
        let local = self.sending_addr(protocol)?;
        let mut via = Via::new(
            protocol.via_transport(),
            crate::message::Host::from(local.ip()),
            Some(local.port()),
            crate::random::branch(),
        );
        via.request_rport();
        // RFC 5923 §5: with a certificate to prove who we are, the peer
        // may send its requests to us back down our connection.
        if protocol == Protocol::Tls
            && self
                .transport
                .config()
                .tls
                .as_ref()
                .is_some_and(|t| t.presents_identity())
        {
            via.params.set("alias", None);
        }
        Some(via)
    }

    /// The address requests over `protocol` are sent from, for their Via
    /// and Contact: the listener of that protocol; for TLS without a TLS
    /// listener (a client that only connects out), the TCP or else the UDP
    /// listener's, as responses come back on the TLS connection anyway
    /// (RFC 3261 §18.2.2). `None` when there is no such listener.
    pub fn sending_addr(&self, protocol: Protocol) -> Option<std::net::SocketAddr> {
        let t = &self.transport;
        t.local_addr(protocol).or_else(|| {
            if protocol == Protocol::Tls && t.config().tls.is_some() {
                t.local_addr(Protocol::Tcp)
                    .or_else(|| t.local_addr(Protocol::Udp))
            } else {
                None
            }
        })
    }

    /// Starts a client transaction sending `request` to `target`. The
    /// request must carry a top Via with a unique branch (see
    /// [`Endpoint::via`]). A UDP request too large for UDP goes over TCP
    /// (§18.1.1).
    pub async fn request(
        &self,
        mut request: Request,
        mut target: Target,
    ) -> Result<ClientTransaction, KeyError> {
        if target.protocol == Protocol::Udp
            && request.to_bytes().len() > self.transport.config().udp_size_threshold
            && self.transport.local_addr(Protocol::Tcp).is_some()
        {
            // §18.1.1: switch before the transaction starts, so it runs
            // with reliable-transport timers from the first transmission.
            target.protocol = Protocol::Tcp;
            let _ = crate::transport::set_top_via_transport(&mut request.headers, Protocol::Tcp);
        }
        let (events, rx) = mpsc::unbounded_channel();
        let (reply, reply_rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                request: Box::new(request),
                target,
                events,
                reply,
            })
            .map_err(|_| KeyError::MissingBranch)?;
        let id = reply_rx.await.map_err(|_| KeyError::MissingBranch)??;
        Ok(ClientTransaction { id, events: rx })
    }

    /// Resolves once server transaction `id` has sent its final response
    /// (`Some` with its status), whoever sent it: the transaction user, or
    /// the endpoint itself, as the `487` to an INVITE its CANCEL ended
    /// (§9.2); `None` when the transaction is gone without one (a
    /// transport failure, the endpoint stopping). At once for a
    /// transaction already past its final response or gone. The watch
    /// costs an entry until then, never longer than the transaction.
    pub(crate) fn final_sent(&self, id: TransactionId) -> FinalSent {
        let (tx, rx) = oneshot::channel();
        // A stopped endpoint drops the sender: the receiver resolves.
        let _ = self.commands.send(Command::WatchFinal { id, tx });
        FinalSent(rx)
    }

    /// Stops the transports; the transaction task ends with them.
    pub fn shutdown(&self) {
        self.transport.shutdown();
    }
}

/// What [`Endpoint::final_sent`] returns: a future of the final status.
#[derive(Debug)]
pub(crate) struct FinalSent(oneshot::Receiver<Option<StatusCode>>);

impl std::future::Future for FinalSent {
    type Output = Option<StatusCode>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(None))
    }
}

struct Driver {
    layer: TransactionLayer<Peer>,
    transport: TransportLayer,
    incoming: mpsc::Receiver<Box<Incoming>>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// For send tasks to report failures back without keeping the
    /// endpoint alive.
    command_tx: mpsc::WeakUnboundedSender<Command>,
    events: mpsc::UnboundedSender<Box<ServerEvent>>,
    clients: KeyedMap<TransactionId, mpsc::UnboundedSender<ClientEvent>>,
    /// Who waits for a server transaction's final response (see
    /// [`Endpoint::final_sent`]); an entry lives no longer than its
    /// transaction.
    final_watchers: KeyedMap<TransactionId, Vec<oneshot::Sender<Option<StatusCode>>>>,
    gauges: Arc<Gauges>,
    /// The wait of received messages in `incoming`.
    probe: QueueProbe,
    /// While metrics are recorded: when each server transaction's request
    /// went up to the TU, and its method's label index, until its first
    /// response other than `100 Trying` (the response time histogram).
    /// Empty otherwise; an entry lives no longer than its transaction.
    answer_clocks: KeyedMap<TransactionId, (std::time::Instant, usize)>,
}

/// How often the transaction task gives memory back after a peak (the
/// core's sweep, as often, hands the freed pages to the system).
const SWEEP: Duration = Duration::from_secs(2);

fn now() -> std::time::Instant {
    // The tokio clock, so that tests with a paused clock drive the timers.
    Instant::now().into_std()
}

impl Driver {
    async fn run(mut self) {
        // One timer for the whole layer, re-armed only when the layer's
        // next deadline is earlier than the armed one. A later deadline
        // (the usual case: a transaction's timer was stopped, e.g. the
        // 200 ms `100 Trying` timer by the TU's 180) leaves it armed; it
        // then fires early, finds nothing due and is re-armed. Re-arming
        // on every change would cost a timer-wheel update per message and,
        // whenever the new deadline is the runtime's earliest, a wake-up
        // of its I/O driver (a syscall). The sweep shares the timer: a
        // select polls every branch each time the task goes idle.
        let mut next_sweep = Instant::now() + SWEEP;
        let sleep = tokio::time::sleep_until(next_sweep);
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = Some(next_sweep);
        loop {
            let next = self
                .layer
                .poll_timeout()
                .map_or(next_sweep, |at| Instant::from_std(at).min(next_sweep));
            if armed.is_none_or(|at| next < at) {
                sleep.as_mut().reset(next);
                armed = Some(next);
            }
            tokio::select! {
                biased;
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                msg = self.incoming.recv() => match msg {
                    Some(msg) => self.incoming(msg),
                    None => break,
                },
                () = &mut sleep, if armed.is_some() => {
                    armed = None;
                    let now = now();
                    if Instant::from_std(now) >= next_sweep {
                        self.sweep();
                        next_sweep = Instant::from_std(now) + SWEEP;
                    }
                    self.layer.handle_timeout(now);
                }
            }
            self.flush().await;
            self.publish();
        }
        debug!(live = self.layer.len(), "endpoint stopped");
    }

    /// Publishes the load gauges.
    fn publish(&self) {
        let g = &self.gauges;
        let queued = self.incoming.len();
        let delay = match queued {
            0 => 0,
            _ => self.probe.delay(Instant::now(), queued).as_micros(),
        };
        g.queue_delay_us
            .store(u64::try_from(delay).unwrap_or(u64::MAX), Ordering::Relaxed);
        g.live.store(self.layer.len(), Ordering::Relaxed);
        g.in_progress
            .store(self.layer.in_progress(), Ordering::Relaxed);
        g.awaiting_tu
            .store(self.layer.awaiting_tu(), Ordering::Relaxed);
        g.refused.store(self.layer.refused(), Ordering::Relaxed);
        g.dropped.store(self.layer.dropped(), Ordering::Relaxed);
        g.absorbed.store(self.layer.absorbed(), Ordering::Relaxed);
    }

    /// Gives memory back after a peak (see [`TransactionLayer::shrink`]).
    fn sweep(&mut self) {
        self.layer.shrink();
        crate::memory::shrink_map(&mut self.clients);
        crate::memory::shrink_map(&mut self.final_watchers);
        crate::memory::shrink_map(&mut self.answer_clocks);
    }

    /// Records the response time of server transaction `id` (if measured)
    /// on its first response other than `100 Trying`, sent at `at`.
    fn answered(&mut self, id: TransactionId, at: std::time::Instant) {
        // Empty unless metrics are on: no hashing per response then.
        if self.answer_clocks.is_empty() {
            return;
        }
        if let Some((since, method)) = self.answer_clocks.remove(&id) {
            crate::telemetry::response_time(method, at.saturating_duration_since(since));
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Respond {
                id,
                response,
                result,
            } => {
                let status = response.status;
                let at = now();
                let r = self.layer.respond(at, id, response);
                if let Err(e) = &r {
                    debug!(%id, error = %e, "response refused by its transaction");
                } else {
                    crate::telemetry::response_sent(status);
                    if status != StatusCode::TRYING {
                        self.answered(id, at);
                    }
                    if status.is_final() {
                        self.final_out(id, Some(status));
                    }
                }
                if let Some(tx) = result {
                    let _ = tx.send(r);
                }
            }
            Command::Request {
                request,
                target,
                events,
                reply,
            } => {
                let reliable = target.protocol != Protocol::Udp;
                let r = self
                    .layer
                    .send_request(now(), *request, Peer::Client(target), reliable);
                if let Ok(id) = r {
                    self.clients.insert(id, events);
                }
                let _ = reply.send(r);
            }
            Command::TransportError { id } => self.layer.transport_error(id),
            Command::SentOver { id, connection } => {
                self.layer.sent_over(id, connection);
                // The connection may have closed, and its closing been
                // handled, while this report was on its way.
                if !self.transport.is_open(connection) {
                    self.connection_closed(connection);
                }
            }
            Command::Closing(Closing::Closed(connection)) => self.connection_closed(connection),
            Command::Closing(Closing::Missed) => self.closings_missed(),
            Command::WatchFinal { id, tx } => match self.layer.get(id).map(final_status) {
                // Still waiting for its final response.
                Some(None) => self.final_watchers.entry(id).or_default().push(tx),
                Some(Some(status)) => {
                    let _ = tx.send(status);
                }
                None => {
                    let _ = tx.send(None);
                }
            },
        }
    }

    /// Fails the client transactions waiting on `connection`, which has
    /// closed: their answer could only have come back over it (RFC 3261
    /// §17.1.4, §18.2.2; RFC 5626 §5.3 for a flow).
    fn connection_closed(&mut self, connection: ConnectionId) {
        // What the connection delivered before it closed is queued ahead
        // of its closing (the transport hands a message up before it
        // announces the closing): a final response among it must win.
        while let Ok(msg) = self.incoming.try_recv() {
            self.incoming(msg);
        }
        let failed = self.layer.connection_closed(connection);
        if failed > 0 {
            debug!(%connection, failed, "connection closed before the final responses of its client transactions");
        }
    }

    /// Closings were missed: checks every connection a client transaction
    /// waits on.
    fn closings_missed(&mut self) {
        for connection in self.layer.awaited_connections() {
            if !self.transport.is_open(connection) {
                self.connection_closed(connection);
            }
        }
    }

    /// Tells whoever waits for server transaction `id`'s final response
    /// (nobody, most of the time: then it costs no lookup).
    fn final_out(&mut self, id: TransactionId, status: Option<StatusCode>) {
        if self.final_watchers.is_empty() {
            return;
        }
        for tx in self.final_watchers.remove(&id).unwrap_or_default() {
            let _ = tx.send(status);
        }
    }

    fn incoming(&mut self, msg: Box<Incoming>) {
        let at = Instant::now();
        self.probe.taken(at, self.incoming.len());
        let origin = msg.origin();
        match msg.message {
            Message::Request(req) => {
                crate::telemetry::request_received(&req.method);
                let reliable = origin.protocol != Protocol::Udp;
                self.layer
                    .set_shedding(self.gauges.shedding.load(Ordering::Relaxed));
                self.layer
                    .handle_request(at.into_std(), req, Peer::Server(origin), reliable);
            }
            Message::Response(resp) => self.layer.handle_response(at.into_std(), resp),
        }
    }

    async fn flush(&mut self) {
        loop {
            // Events go up at once; only what is sent is kept across the
            // send's await, and sent by reference: a message is not moved
            // again on its way to the socket (each move copies 300 bytes).
            let mut out = match self.layer.poll_output() {
                Some(LayerOutput::Event(ev)) => {
                    self.event(ev);
                    continue;
                }
                Some(out) => out,
                None => break,
            };
            match &mut out {
                LayerOutput::Transmit {
                    id,
                    message,
                    peer,
                    retransmission,
                } => {
                    if *retransmission {
                        crate::telemetry::retransmission();
                    }
                    let id = Some(*id);
                    self.transmit(id, message, peer).await;
                }
                LayerOutput::Reply { message, peer } => {
                    if let Message::Response(r) = &*message {
                        crate::telemetry::response_sent(r.status);
                    }
                    self.transmit(None, message, peer).await;
                }
                // Went up above.
                LayerOutput::Event(_) => {}
            }
        }
    }

    /// Sends inline when it cannot block for long (UDP, or an open
    /// connection); otherwise (a connection must be opened) in a task, so
    /// one slow peer never stalls the other transactions.
    async fn transmit(&mut self, id: Option<TransactionId>, message: &mut Message, peer: &Peer) {
        let (protocol, addr) = match peer {
            Peer::Server(o) => (o.protocol, o.source),
            Peer::Client(t) => (t.protocol, t.addr),
        };
        let inline =
            protocol == Protocol::Udp || self.transport.connection_to(protocol, addr).is_some();
        if inline {
            match send(&self.transport, message, peer).await {
                // Its closing, if it comes, is handled after this.
                Ok(Some(connection)) => {
                    if let Some(id) = id {
                        self.layer.sent_over(id, connection);
                    }
                }
                Ok(None) => {}
                Err(e) => self.send_failed(id, e),
            }
        } else {
            let commands = self.command_tx.clone();
            let transport = self.transport.clone();
            // A copy for the task: this path opens a connection first.
            let (mut message, peer) = (message.clone(), *peer);
            tokio::spawn(async move {
                let result = send(&transport, &mut message, &peer).await;
                if let Err(e) = &result {
                    crate::telemetry::transport_error();
                    warn!(error = %e, "send failed");
                }
                let (Some(id), Some(c)) = (id, commands.upgrade()) else {
                    return;
                };
                let command = match result {
                    Ok(Some(connection)) => Command::SentOver { id, connection },
                    Ok(None) => return,
                    Err(_) => Command::TransportError { id },
                };
                let _ = c.send(command);
            });
        }
    }

    fn send_failed(&mut self, id: Option<TransactionId>, e: TransportError) {
        crate::telemetry::transport_error();
        warn!(error = %e, "send failed");
        if let Some(id) = id {
            self.layer.transport_error(id);
        }
    }

    fn event(&mut self, ev: LayerEvent<Peer>) {
        let server = |ev| {
            let _ = self.events.send(Box::new(ev));
        };
        match ev {
            LayerEvent::Request { id, request, peer } => {
                if crate::telemetry::enabled() {
                    let method = crate::telemetry::method_index(&request.method);
                    self.answer_clocks.insert(id, (now(), method));
                }
                if let Peer::Server(origin) = peer {
                    server(ServerEvent::Request {
                        id,
                        request,
                        origin,
                    });
                }
            }
            LayerEvent::Ack { request, peer } => {
                if let Peer::Server(origin) = peer {
                    server(ServerEvent::Ack { request, origin });
                }
            }
            LayerEvent::Cancelled { id } => {
                // The 487 is the transaction's, not the TU's answer.
                if !self.answer_clocks.is_empty() {
                    self.answer_clocks.remove(&id);
                }
                server(ServerEvent::Cancelled { id });
                // §9.2: the endpoint answered the INVITE 487.
                self.final_out(id, Some(StatusCode::REQUEST_TERMINATED));
            }
            LayerEvent::StrayResponse { response } => {
                server(ServerEvent::StrayResponse { response });
            }
            LayerEvent::Response { id, response } => {
                if let Some(c) = self.clients.get(&id) {
                    let _ = c.send(ClientEvent::Response(response));
                }
            }
            LayerEvent::Timeout { id, timer } => match self.clients.get(&id) {
                Some(c) => {
                    let _ = c.send(ClientEvent::Timeout(timer));
                }
                None => server(ServerEvent::Timeout { id, timer }),
            },
            LayerEvent::TransportError { id } => match self.clients.get(&id) {
                Some(c) => {
                    let _ = c.send(ClientEvent::TransportError);
                }
                None => server(ServerEvent::TransportError { id }),
            },
            LayerEvent::Terminated { id } => {
                self.clients.remove(&id);
                if !self.answer_clocks.is_empty() {
                    self.answer_clocks.remove(&id);
                }
                self.final_out(id, None);
            }
        }
    }
}

/// Where a server transaction stands for [`Endpoint::final_sent`]:
/// `None` while it has no final response, `Some` with the status it sent
/// (`Some(None)` when it never will: a client transaction, or a
/// terminated one).
fn final_status(tx: &crate::transaction::Transaction) -> Option<Option<StatusCode>> {
    use crate::transaction::{ServerInviteState, ServerNonInviteState, Transaction};
    match tx {
        Transaction::ServerInvite(t) => match t.state() {
            ServerInviteState::Proceeding => None,
            ServerInviteState::Terminated => Some(None),
            _ => Some(t.last_status()),
        },
        Transaction::ServerNonInvite(t) => match t.state() {
            ServerNonInviteState::Trying | ServerNonInviteState::Proceeding => None,
            ServerNonInviteState::Terminated => Some(None),
            ServerNonInviteState::Completed => Some(t.last_status()),
        },
        _ => Some(None),
    }
}

/// Sends a transaction's message; for a request, returns the stream
/// connection it went over.
async fn send(
    transport: &TransportLayer,
    message: &mut Message,
    peer: &Peer,
) -> Result<Option<ConnectionId>, TransportError> {
    match (message, peer) {
        (Message::Response(resp), Peer::Server(origin)) => {
            transport.send_response(resp, Some(origin)).await?;
        }
        (Message::Request(req), Peer::Client(target)) => {
            let options = SendOptions {
                // The switch to TCP was decided before the transaction
                // started (see `Endpoint::request`).
                allow_tcp_fallback: false,
                local: None,
            };
            let sent = transport.send_request(req, *target, options).await?;
            return Ok(sent.connection);
        }
        (message, _) => {
            // A client transaction's own responses cannot happen; a server
            // transaction never sends requests.
            warn!(
                ?message,
                "message of the wrong kind for its transaction; dropped"
            );
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::QueueProbe;
    use std::time::Duration;
    use tokio::time::Instant;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn probe_measures_the_wait_of_a_backlog() {
        let t0 = Instant::now();
        let mut p = QueueProbe::default();
        // Keeping up: nothing waits.
        p.taken(t0, 0);
        assert_eq!(p.delay(t0, 0), Duration::ZERO);
        // 10 items behind the one taken: the tenth is marked...
        p.taken(t0, 10);
        // ...and while it waits, its age is the delay.
        for i in 1..10 {
            p.taken(t0 + i * 5 * MS, 10);
            assert_eq!(p.delay(t0 + i * 5 * MS, 10), i * 5 * MS);
        }
        // Taken 50 ms after it was marked: it waited at least that.
        p.taken(t0 + 50 * MS, 3);
        assert_eq!(p.delay(t0 + 50 * MS, 3), 50 * MS);
        // An empty queue means no wait, whatever was measured before.
        assert_eq!(p.delay(t0 + 60 * MS, 0), Duration::ZERO);
    }
}
