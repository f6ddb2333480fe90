//! The server: a builder that ends in one awaited `serve`, the core that
//! routes each request to its dialog's session (RFC 3261 §12.2.2) or to a
//! new handler value, and the sessions that run the handler. A session is
//! a task only while it has work: a held call is its dialog state and
//! handler value in the core's table, woken by its next request or event.
//!
//! ```no_run
//! use parrot::prelude::*;
//!
//! #[derive(Default)]
//! struct Answer;
//!
//! #[uas_handler]
//! impl Answer {
//!     async fn invite(&mut self, req: &Request) -> Response {
//!         req.reply(StatusCode::OK)
//!     }
//!     async fn bye(&mut self, req: &Request) -> Response {
//!         req.reply(StatusCode::OK)
//!     }
//! }
//!
//! # async fn run() -> parrot::Result<()> {
//! Server::builder()
//!     .listen("127.0.0.1:5060")
//!     .handler(Answer::default)
//!     .serve()
//!     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap_or(()) })
//!     .await
//! # }
//! ```

mod admission;
mod call_media;
mod cancellation;
mod catch;
mod contacts;
mod core;
mod dialog_handle;
mod dialog_table;
mod duties;
mod error;
mod exporter;
mod handler;
mod in_dialog;
mod inbox;
mod location;
mod notifying;
mod polled;
mod referral;
mod refusals;
mod relay;
mod reliable;
mod session;
mod session_state;
mod session_timer;
mod shards;
mod subscription;
mod update;
mod usage;

pub use admission::{OverloadConfig, ServerStats};
pub use cancellation::Cancelled;
pub use dialog_handle::DialogHandle;
pub use error::{ProvisionalError, RequestError};
pub use handler::{
    Action, Context, IntoAction, IntoInit, MethodSet, UasHandler, not_implemented, options_reply,
};
pub use referral::{Referral, refer_to_value};
pub use refusals::Reliability;
pub use usage::ReferProgress;

use crate::endpoint::{Endpoint, EndpointConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::locate::Locator;
use crate::message::typed::{Accept, TypedHeader};
use crate::message::{Method, Uri};
use crate::transaction::TimerConfig;
use crate::transport::{
    ListenerConfig, Protocol, TlsConfig, TransportConfig, TransportError, TransportLayer,
};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// A handler factory as the server keeps it: one fresh handler value per
/// dialog and per out-of-dialog request.
pub type Factory<H> = Arc<dyn Fn() -> H + Send + Sync>;

/// Entry point: [`Server::builder`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Starts configuring a server: give it at least one listener
    /// ([`listen`](ServerBuilder::listen), [`udp`](ServerBuilder::udp),
    /// [`tcp`](ServerBuilder::tcp)) and a [`handler`](ServerBuilder::handler),
    /// then [`serve`](ServerBuilder::serve) it.
    pub fn builder() -> ServerBuilder<NoHandler> {
        ServerBuilder {
            settings: Settings {
                listeners: Vec::new(),
                errors: Vec::new(),
                timers: TimerConfig::default(),
                max_dialogs: DEFAULT_MAX_DIALOGS,
                max_transactions: DEFAULT_MAX_TRANSACTIONS,
                max_settled_transactions: DEFAULT_MAX_SETTLED,
                shutdown_timeout: Duration::from_secs(32),
                overload: OverloadConfig::default(),
                release_memory: crate::memory::give_back,
                transport: TransportConfig::default(),
                policy: refusals::UasPolicy::default(),
                locator: None,
                outbound_proxy: None,
                location: None,
                metrics: None,
                media: crate::media::MediaConfig::default(),
                shards: 1,
            },
            state: (),
            factory: NoHandler,
        }
    }
}

// Default caps, chosen so that a server under three times the load it
// can take stays within about 256 MB (peak RSS), its caps all full:
//
//   dialogs       40,000 × ~2 KB (1.6-1.7 kB RSS per held dialog,
//                 bench/PERFORMANCE.md; more while a session task runs)  ≈  80 MB
//   transactions  20,000 in progress × ~1 KB (0.2-0.6 kB per transaction,
//                 tests/transaction_memory.rs, plus allocator slack and
//                 the request text)                                      ≈  20 MB
//   settled      100,000 × ~1 KB                                         ≈ 100 MB
//                                                                   sum  ≈ 200 MB
//
// plus the runtime, buffers and queues. Admission control
// (`OverloadConfig`) sheds new requests well before these caps are
// reached; they are the backstop.
const DEFAULT_MAX_DIALOGS: usize = 40_000;
const DEFAULT_MAX_TRANSACTIONS: usize = 20_000;
const DEFAULT_MAX_SETTLED: usize = 100_000;

/// The builder's handler before [`ServerBuilder::handler`] is called: a
/// server without one cannot be bound.
#[derive(Debug, Clone, Copy)]
pub struct NoHandler;

/// Everything but the handler and the shared state.
struct Settings {
    listeners: Vec<ListenerConfig>,
    /// Bad addresses given to `listen`, reported by `bind`.
    errors: Vec<String>,
    timers: TimerConfig,
    max_dialogs: usize,
    max_transactions: usize,
    max_settled_transactions: usize,
    shutdown_timeout: Duration,
    overload: OverloadConfig,
    transport: TransportConfig,
    release_memory: fn(),
    policy: refusals::UasPolicy,
    locator: Option<Locator>,
    outbound_proxy: Option<Uri>,
    location: Option<crate::registrar::Registrar>,
    /// Where [`ServerBuilder::metrics`] listens.
    metrics: Option<SocketAddr>,
    /// The calls' RTP ports ([`ServerBuilder::media`]).
    media: crate::media::MediaConfig,
    /// How many shards serve ([`ServerBuilder::shards`]).
    shards: usize,
}

/// Configures and starts a server; see [`Server::builder`].
///
/// `F` is the handler factory once [`handler`](Self::handler) was called
/// and `S` the state shared by every handler value
/// ([`state`](Self::state)).
pub struct ServerBuilder<F, S = ()> {
    settings: Settings,
    state: S,
    factory: F,
}

impl<F, S> fmt::Debug for ServerBuilder<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("listeners", &self.settings.listeners)
            .finish_non_exhaustive()
    }
}

impl<F, S> ServerBuilder<F, S> {
    fn listener(mut self, addr: impl ToSocketAddrs + fmt::Debug, protocols: &[Protocol]) -> Self {
        match addr.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(a)) => self.settings.listeners.push(ListenerConfig {
                addr: a,
                protocols: protocols.to_vec(),
            }),
            Ok(None) => self
                .settings
                .errors
                .push(format!("listen address {addr:?} resolves to no address")),
            Err(e) => self
                .settings
                .errors
                .push(format!("bad listen address {addr:?}: {e}")),
        }
        self
    }

    /// Listens for UDP and TCP on the same address and port: anything
    /// [`ToSocketAddrs`] takes (`"0.0.0.0:5060"`, `"[::1]:5060"`, a
    /// [`SocketAddr`], `(ip, port)`); port 0 picks a free port for both. A
    /// bad address is reported, with the address, by [`bind`](Self::bind)
    /// or [`serve`](Self::serve). May be called more than once.
    pub fn listen(self, addr: impl ToSocketAddrs + fmt::Debug) -> Self {
        self.listener(addr, &[Protocol::Udp, Protocol::Tcp])
    }

    /// Listens for UDP only at `addr`; see [`listen`](Self::listen).
    pub fn udp(self, addr: impl ToSocketAddrs + fmt::Debug) -> Self {
        self.listener(addr, &[Protocol::Udp])
    }

    /// Listens for TCP only at `addr`; see [`listen`](Self::listen).
    pub fn tcp(self, addr: impl ToSocketAddrs + fmt::Debug) -> Self {
        self.listener(addr, &[Protocol::Tcp])
    }

    /// Listens for SIP over TLS at `addr` (RFC 3261 §26.2; port 5061 is
    /// the standard one), presenting the certificate of `tls`; outgoing
    /// TLS connections verify servers as `tls` says. Keep a clone of `tls`
    /// to [`reload`](TlsConfig::reload) the certificate while the server
    /// runs. See [`listen`](Self::listen) for the address.
    ///
    /// ```no_run
    /// # use parrot::prelude::*;
    /// # use parrot::transport::{Identity, TlsConfig};
    /// # struct Echo;
    /// # #[uas_handler]
    /// # impl Echo {
    /// #     async fn options(&mut self, _req: &Request) -> StatusCode { StatusCode::OK }
    /// # }
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let tls = TlsConfig::server(Identity::from_pem_files("cert.pem", "key.pem")?)?;
    /// Server::builder()
    ///     .listen("0.0.0.0:5060")
    ///     .tls("0.0.0.0:5061", tls)
    ///     .handler(|| Echo)
    ///     .serve()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls(mut self, addr: impl ToSocketAddrs + fmt::Debug, tls: TlsConfig) -> Self {
        self.settings.transport.tls = Some(tls);
        self.listener(addr, &[Protocol::Tls])
    }

    /// Listens for SIP over WebSocket at `addr` (RFC 7118: browsers;
    /// the upgrade must offer the `sip` subprotocol). See
    /// [`listen`](Self::listen) for the address.
    pub fn ws(self, addr: impl ToSocketAddrs + fmt::Debug) -> Self {
        self.listener(addr, &[Protocol::Ws])
    }

    /// Listens for SIP over secure WebSocket at `addr` (RFC 7118, WSS),
    /// presenting the certificate of `tls` (the same settings as
    /// [`tls`](Self::tls), which a server with both shares).
    pub fn wss(mut self, addr: impl ToSocketAddrs + fmt::Debug, tls: TlsConfig) -> Self {
        self.settings.transport.tls = Some(tls);
        self.listener(addr, &[Protocol::Wss])
    }

    /// Runs the server on an in-memory network instead of the OS's
    /// sockets: one UDP listener at `addr` on `network`, replacing any
    /// listen address given before (stream transports need the OS). With
    /// tokio's paused clock the server then runs with no real time and no
    /// socket; the `parrot::testing` kit (feature `testing`) is built on it.
    pub fn memory(mut self, network: crate::transport::MemoryNetwork, addr: SocketAddr) -> Self {
        self.settings.transport.memory = Some(network);
        self.settings.listeners = vec![ListenerConfig::udp(addr)];
        self
    }

    /// The transaction timers T1, T2, T4 (RFC 3261 §17; defaults 500 ms,
    /// 4 s, 5 s).
    pub fn timers(mut self, timers: TimerConfig) -> Self {
        self.settings.timers = timers;
        self
    }

    /// Most live dialogs (busy or held) and one-shot requests in progress;
    /// beyond it new requests get `503 Service Unavailable` with
    /// `Retry-After` (default 40,000: about 80 MB of dialogs).
    pub fn max_dialogs(mut self, n: usize) -> Self {
        self.settings.max_dialogs = n;
        self
    }

    /// Most transactions in progress; beyond it new requests get `503`
    /// (default 20,000). Settled ones, which only absorb retransmissions,
    /// have their own cap: [`max_settled_transactions`](Self::max_settled_transactions).
    pub fn max_transactions(mut self, n: usize) -> Self {
        self.settings.max_transactions = n;
        self
    }

    /// Most settled transactions, which only absorb retransmissions for up
    /// to 32 s after their final response (about 64 per call/s of load);
    /// beyond it the oldest ends early, which bounds their memory (default
    /// 100,000, about 100 MB: 1,500 calls/s before any ends early; see
    /// [`EndpointConfig::max_settled_transactions`]).
    pub fn max_settled_transactions(mut self, n: usize) -> Self {
        self.settings.max_settled_transactions = n;
        self
    }

    /// When to shed new requests under overload, from the queueing delay
    /// and the transactions in progress, with `503` and `Retry-After`
    /// (see [`OverloadConfig`] for what is shed and the defaults).
    pub fn overload(mut self, config: OverloadConfig) -> Self {
        self.settings.overload = config;
        self
    }

    /// How the process hands memory freed by a load peak back to the
    /// system, called from the server's task once live work has fallen
    /// below a quarter of its peak and the tables have shrunk. The default
    /// suits glibc's allocator (`malloc_trim`; nothing elsewhere). A
    /// program that installs another global allocator passes that
    /// allocator's call, e.g. mimalloc's `mi_collect(true)`, as the
    /// examples do.
    pub fn release_memory_with(mut self, release: fn()) -> Self {
        self.settings.release_memory = release;
        self
    }

    /// How the proxy finds the servers of the URIs it forwards to (RFC
    /// 3263): default [`Locator::system`] for the transports the server
    /// listens on. A branch whose server refuses the connection, times
    /// out or answers `503` before any provisional response goes on to
    /// the next server (§4.3).
    pub fn locator(mut self, locator: Locator) -> Self {
        self.settings.locator = Some(locator);
        self
    }

    /// Routes by location (RFC 3261 §16.5): a proxy target that is an
    /// address-of-record with bindings in `registrar` goes to those
    /// bindings instead — by decreasing `q` when it is the only target
    /// (`Action::proxy(req.uri.clone())`), each over its flow and through
    /// its Path; a user of one of the registrar's
    /// [`domains`](crate::registrar::RegistrarConfig::domains) without a
    /// binding gets `480`, a failing store `503`. Other targets are
    /// routed as they are.
    pub fn location(mut self, registrar: crate::registrar::Registrar) -> Self {
        self.settings.location = Some(registrar);
        self
    }

    /// Sends every request the server forwards through the proxy at `uri`
    /// (e.g. `sip:sbc.example.com;lr`, a loose router): it goes on top of
    /// the Route header field (§16.6 step 7) and the request is sent to
    /// it. A URI that is not a `sip:`/`sips:` one makes `bind` fail.
    pub fn outbound_proxy(mut self, uri: &str) -> Self {
        match uri.parse::<Uri>() {
            Ok(u) if u.as_sip().is_some() => self.settings.outbound_proxy = Some(u),
            _ => self.settings.errors.push(format!(
                "bad outbound proxy {uri:?}: a sip: or sips: URI is needed"
            )),
        }
        self
    }

    /// When provisional responses to an INVITE go reliably (RFC 3262):
    /// by default only when the INVITE requires it or the handler asks
    /// ([`Context::send_reliable`]); [`Reliability::WhenSupported`] makes
    /// every `18x` to a caller supporting `100rel` reliable, and
    /// [`Reliability::Required`] refuses callers without it (`421`).
    pub fn reliable_provisionals(mut self, reliability: Reliability) -> Self {
        self.settings.policy.reliability = reliability;
        self
    }

    /// Gives every call a session timer (RFC 4028) with these settings,
    /// whether the caller asks for one or not (§9 lets a UAS insist): the
    /// 2xx carries `Session-Expires`, the refresher refreshes at half the
    /// interval (the server by UPDATE when the caller allows it, else by
    /// re-INVITE), and a session that goes unrefreshed is ended with BYE
    /// (§10). Requests below `min_se` get `422` with `Min-SE`. Without
    /// this call the server still honours the session timers callers ask
    /// for, with the default settings (1800 s, Min-SE 90 s).
    pub fn session_timer(mut self, config: crate::dialog::SessionTimerConfig) -> Self {
        self.settings.policy.session_timer = Some(config);
        self.settings.policy.impose_timer = true;
        self.settings.policy.add_supported(crate::dialog::TAG_TIMER);
        self
    }

    /// Turns session timers (RFC 4028) off: `timer` is no longer
    /// supported (a request requiring it gets `420`), and callers' session
    /// timers are ignored.
    pub fn without_session_timer(mut self) -> Self {
        self.settings.policy.session_timer = None;
        self.settings.policy.impose_timer = false;
        self.settings
            .policy
            .remove_supported(crate::dialog::TAG_TIMER);
        self
    }

    /// Credentials for the challenges the server's own requests meet
    /// inside a dialog (RFC 3261 §22.2, §22.3): a `401` or `407` to a
    /// handler's [`Context::send`], [`Context::update`], [`Context::bye`],
    /// [`Context::hold`] and the like, or to a NOTIFY the runtime sends, is
    /// answered once with `Authorization` (or `Proxy-Authorization`) by
    /// digest ([`DigestClient`](crate::auth::DigestClient)), the request
    /// sent again with the dialog's next CSeq. A second challenge is
    /// returned to whoever sent the request: the credentials were refused.
    /// Without this call, challenges are returned as they come.
    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        self.settings.policy.credentials = Some(crate::auth::DigestClient::new(username, password));
        self
    }

    /// The subscription durations granted to SUBSCRIBE requests (RFC 6665
    /// §4.2.1.1): `default` when a SUBSCRIBE names none, `423 Interval Too
    /// Brief` with `Min-Expires` below `min`, longer ones cut to `max`.
    /// Default: 3600 s, at least 60 s, at most a day.
    pub fn subscription_expires(mut self, policy: crate::dialog::ExpiresPolicy) -> Self {
        self.settings.policy.subscription_expires = policy;
        self
    }

    /// Supports the SIP extension `option_tag` (RFC 3261 §19.2): a
    /// request that requires it is no longer refused with `420 Bad
    /// Extension` (§8.2.2.3), and it is listed in `Supported` on OPTIONS
    /// answers and 2xx answers to INVITE. Call once per tag. The runtime
    /// supports `100rel` (RFC 3262) and `timer` (RFC 4028) itself.
    pub fn supported(mut self, option_tag: &str) -> Self {
        self.settings.policy.add_supported(option_tag);
        self
    }

    /// The body types requests of `method` may carry: `types` is an
    /// `Accept` value (`"text/plain, application/im-iscomposing+xml"`,
    /// `"*/*"` for anything, `""` for no body). Other bodies are refused
    /// with `415 Unsupported Media Type` and this `Accept` before the
    /// handler runs (§8.2.3). The defaults: `application/sdp` for INVITE,
    /// ACK, UPDATE and PRACK; no body for BYE, CANCEL, REGISTER and
    /// OPTIONS; anything for the others. A malformed value makes `bind`
    /// fail.
    pub fn accept(mut self, method: Method, types: &str) -> Self {
        match Accept::parse_str(types) {
            Ok(accept) => self.settings.policy.set_accept(method, accept),
            Err(e) => self
                .settings
                .errors
                .push(format!("bad accept list {types:?} for {method}: {e}")),
        }
        self
    }

    /// Serves Request-URIs of `scheme` too (`sip` and `sips` always;
    /// `tel` for a gateway, say): any other scheme is refused with `416
    /// Unsupported URI Scheme` (§8.2.2.1).
    pub fn uri_scheme(mut self, scheme: &str) -> Self {
        self.settings.policy.add_scheme(scheme);
        self
    }

    /// Methods the handler may proxy ([`Action::Proxy`]): their requests
    /// skip the checks only a UAS makes (unsupported `Require` tags,
    /// body types), which are the next hop's to make (§16: a proxy heeds
    /// only `Proxy-Require`). `MethodSet::EMPTY` by default.
    pub fn proxies(mut self, methods: MethodSet) -> Self {
        self.settings.policy.set_proxied(methods);
        self
    }

    /// How long a graceful shutdown waits for live dialogs and
    /// transactions to finish (default 32 s).
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.settings.shutdown_timeout = d;
        self
    }

    /// Transport limits and timeouts (listeners are set with the methods
    /// above; a TLS configuration given to [`tls`](Self::tls), and the
    /// message observers of [`trace_sip`](Self::trace_sip),
    /// [`hep`](Self::hep) and [`message_tap`](Self::message_tap), and the
    /// network of [`memory`](Self::memory), are kept unless `config` has
    /// its own).
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        let tls = self.settings.transport.tls.take();
        let tap = self.settings.transport.tap.take();
        let memory = self.settings.transport.memory.take();
        self.settings.transport = TransportConfig {
            tls: config.tls.clone().or(tls),
            tap: config.tap.clone().or(tap),
            memory: config.memory.clone().or(memory),
            ..config
        };
        self
    }

    /// Shows every SIP message the server receives or sends, over any
    /// transport, to `observer`, with its direction, protocol, addresses,
    /// a timestamp and its raw bytes ([`TappedMessage`](crate::transport::TappedMessage)).
    /// The observer runs on the transport's tasks and must not block.
    /// Several observers may be added; each sees every message.
    pub fn message_tap(mut self, observer: impl crate::transport::MessageObserver) -> Self {
        let tap = self.settings.transport.tap.take();
        self.settings.transport.tap =
            Some(crate::transport::MessageTap::add(tap, Arc::new(observer)));
        self
    }

    /// Logs every SIP message received and sent, in full, through
    /// `tracing` at INFO under the target `parrot::sip`
    /// ([`TextTrace`](crate::trace::TextTrace)): a header line (`recv` or
    /// `send`, the byte count, the protocol, our address, `<-` or `->`, the
    /// peer's address), then the message. `RUST_LOG` filters it as any
    /// target (`parrot::sip=off` silences it); without this method it is
    /// not emitted at all.
    pub fn trace_sip(self) -> Self {
        self.message_tap(crate::trace::TextTrace::new())
    }

    /// Sends every SIP message received and sent as a HEPv3 packet over
    /// UDP to the capture server (Homer, heplify-server) at `collector`
    /// ([`HepExporter`](crate::trace::HepExporter)), from a background
    /// task behind a bounded queue: when the collector or the network
    /// cannot keep up, packets are dropped and counted, never waited for.
    /// To read its counters, make the exporter with
    /// [`HepExporter::new`](crate::trace::HepExporter::new) and give a
    /// clone to [`message_tap`](Self::message_tap) instead.
    pub fn hep(self, collector: SocketAddr, config: crate::trace::HepConfig) -> Self {
        self.message_tap(crate::trace::HepExporter::new(collector, config))
    }

    /// Where the calls' media goes ([`Context::answer_media`]): the RTP
    /// port range and the address the RTP sockets bind to. Default: ports
    /// 16384-32767 on the first listener's address.
    pub fn media(mut self, config: crate::media::MediaConfig) -> Self {
        self.settings.media = config;
        self
    }

    /// Serves metrics and a health check over HTTP/1.1 on `addr` (port 0
    /// picks a free one: see [`BoundServer::metrics_addr`]):
    ///
    /// - `GET /metrics`: every `parrot_*` metric in Prometheus' text
    ///   format (requests received by method, responses sent by status
    ///   class, retransmissions, transport errors, parse failures, handler
    ///   panics, live transactions, dialogs and sessions, open
    ///   connections by transport, overload refusals);
    /// - `GET /health`: `200 ok` while the server serves, `503` before
    ///   it starts and once it shuts down (a readiness probe).
    ///
    /// The first server of the process to bind a metrics listener installs
    /// metrics-exporter-prometheus' recorder as the process's global
    /// `metrics` recorder (if another recorder was installed first, the
    /// page stays empty). The counters are process-wide; the gauges are
    /// the serving server's own. The listener takes one request per
    /// connection, a head of at most 4 KiB sent within 2 s, and 16
    /// connections at once. Without this method nothing is recorded
    /// beyond the `metrics` facade's no-op.
    pub fn metrics(mut self, addr: impl ToSocketAddrs + fmt::Debug) -> Self {
        match addr.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(a)) => self.settings.metrics = Some(a),
            Ok(None) => self
                .settings
                .errors
                .push(format!("metrics address {addr:?} resolves to no address")),
            Err(e) => self
                .settings
                .errors
                .push(format!("bad metrics address {addr:?}: {e}")),
        }
        self
    }

    /// Serves with `n` shards, to use `n` CPUs: each shard is a
    /// transport, a transaction layer and a server core of its own, the
    /// first on the runtime that serves, the others each on a thread of
    /// its own with a current-thread runtime (run the serving runtime on
    /// one thread too, e.g. `#[tokio::main(flavor = "current_thread")]`).
    ///
    /// Every shard reads the same UDP sockets, so whichever shard is free
    /// takes the next datagram and parses it; each message is then handled
    /// by the shard that owns its Call-ID (a hash of it), so a dialog's
    /// requests, responses and CANCELs all meet on one shard, whatever
    /// address they come from. Over UDP, two datagrams of one call that two
    /// shards read at the same moment may reach their owner in either
    /// order, as UDP itself may deliver them (RFC 3261 copes, e.g. a
    /// CANCEL ahead of its INVITE gets `481`); a stream connection is read
    /// by one shard, in order. The handler factory and the
    /// [state](ServerBuilder::state) are shared by all shards; each
    /// dialog's handler value lives on its shard.
    ///
    /// [`max_dialogs`](Self::max_dialogs) and
    /// [`max_transactions`](Self::max_transactions) are shared out evenly
    /// (rounded up). [`BoundServer::stats`] and the
    /// [metrics](Self::metrics) sum the shards.
    /// [`BoundServer::endpoint`] is the first shard's.
    ///
    /// Every shard accepts stream connections (TCP, TLS, WebSocket) on the
    /// same listeners, and the shards share one connection table, so a
    /// response goes back on its request's connection whichever shard
    /// handles it, and the connection limits (and
    /// [`TransportLayer::stats`](crate::transport::TransportLayer::stats))
    /// count the whole server. An in-memory network cannot be sharded:
    /// `bind` refuses it. `n` of 0 is taken as 1 (the default).
    pub fn shards(mut self, n: usize) -> Self {
        self.settings.shards = n.max(1);
        self
    }
}

impl<S> ServerBuilder<NoHandler, S> {
    /// State shared by every handler value — a database pool, a location
    /// service, counters — given to a factory that takes `&S`:
    ///
    /// ```no_run
    /// # use parrot::prelude::*;
    /// # use std::sync::Arc;
    /// #[derive(Clone, Default)]
    /// struct Registry(Arc<std::sync::Mutex<Vec<String>>>);
    ///
    /// struct Registrar { registry: Registry }
    ///
    /// #[uas_handler]
    /// impl Registrar {
    ///     async fn register(&mut self, req: &Request) -> StatusCode {
    ///         self.registry.0.lock().unwrap().push(req.uri.to_string());
    ///         StatusCode::OK
    ///     }
    /// }
    ///
    /// # async fn run() -> parrot::Result<()> {
    /// Server::builder()
    ///     .listen("127.0.0.1:5060")
    ///     .state(Registry::default())
    ///     .handler(|registry: &Registry| Registrar { registry: registry.clone() })
    ///     .serve()
    ///     .await
    /// # }
    /// ```
    ///
    /// The state is shared, not copied per call: make it cheap to clone
    /// (an `Arc`, a pool handle) and keep per-dialog data in the handler.
    pub fn state<S2: Send + Sync + 'static>(self, state: S2) -> ServerBuilder<NoHandler, S2> {
        ServerBuilder {
            settings: self.settings,
            state,
            factory: NoHandler,
        }
    }

    /// The handler factory, called for every new dialog and every
    /// out-of-dialog request so that each gets its own value and `&mut
    /// self` needs no locks: a `Fn() -> H` (e.g. `Answer::default`), or a
    /// `Fn(&S) -> H` that builds the handler from the builder's
    /// [`state`](Self::state).
    pub fn handler<F, M>(self, factory: F) -> ServerBuilder<Factory<F::Handler>>
    where
        F: HandlerFactory<S, M>,
        S: Send + Sync + 'static,
    {
        let state = self.state;
        let factory: Factory<F::Handler> = Arc::new(move || factory.make(&state));
        let mut builder = ServerBuilder {
            settings: self.settings,
            state: (),
            factory,
        };
        // What the handler declared in its attribute.
        for tag in <F::Handler as UasHandler>::SUPPORTED {
            builder = builder.supported(tag);
        }
        // RFC 3891: the runtime matches `Replaces` for a handler that takes
        // calls.
        if <F::Handler as UasHandler>::METHODS.contains(&Method::Invite) {
            builder = builder.supported(crate::dialog::TAG_REPLACES);
        }
        // RFC 4488 §4: the runtime honours `Refer-Sub: false` for a
        // handler that takes REFER.
        if <F::Handler as UasHandler>::METHODS.contains(&Method::Refer) {
            builder = builder.supported("norefersub");
        }
        for (method, types) in <F::Handler as UasHandler>::ACCEPT {
            match Method::from_known(method) {
                Some(m) => builder = builder.accept(m, types),
                None => builder
                    .settings
                    .errors
                    .push(format!("accept declared for unknown method {method}")),
            }
        }
        builder
    }
}

/// What [`ServerBuilder::handler`] accepts: a `Fn() -> H` or, with a
/// shared [`state`](ServerBuilder::state) of type `S`, a `Fn(&S) -> H`.
/// `M` only tells the two apart.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot make handler values",
    label = "expected a `Fn() -> H` or a `Fn(&S) -> H` where `H` has `#[uas_handler]`",
    note = "pass e.g. `MyHandler::default`, or `|state: &S| MyHandler::new(state)` after `.state(..)`"
)]
pub trait HandlerFactory<S, M>: Send + Sync + 'static {
    /// The handler type made.
    type Handler: UasHandler;
    /// Makes one handler value.
    fn make(&self, state: &S) -> Self::Handler;
}

/// Tells apart the factories that ignore the state.
pub enum WithoutState {}

/// Tells apart the factories that take the state.
pub enum WithState {}

impl<S, F, H> HandlerFactory<S, WithoutState> for F
where
    F: Fn() -> H + Send + Sync + 'static,
    H: UasHandler,
{
    type Handler = H;
    fn make(&self, _: &S) -> H {
        self()
    }
}

impl<S, F, H> HandlerFactory<S, WithState> for F
where
    F: Fn(&S) -> H + Send + Sync + 'static,
    H: UasHandler,
{
    type Handler = H;
    fn make(&self, state: &S) -> H {
        self(state)
    }
}

/// A listen address that could not be bound, with the transport's error.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {addrs}: {source}")]
struct BindError {
    addrs: String,
    source: TransportError,
}

impl<H: UasHandler> ServerBuilder<Factory<H>> {
    /// Binds the listeners now, so that their addresses are known (e.g.
    /// after asking for port 0) before [`BoundServer::serve`]. Fails with
    /// [`ErrorKind::Config`] for a bad or missing listen address and
    /// [`ErrorKind::Transport`] for one that cannot be bound, naming the
    /// address either way.
    pub async fn bind(self) -> Result<BoundServer<H>> {
        let s = self.settings;
        if let Some(e) = s.errors.first() {
            let e = e.clone();
            return Err(Error::new(ErrorKind::Config, e));
        }
        if s.listeners.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "no listen address: call .listen(..), .udp(..), .tcp(..), .tls(..), .ws(..) or .wss(..)",
            ));
        }
        let shards = s.shards.max(1);
        if shards > 1 {
            check_shardable(&s)?;
        }
        let addrs = s
            .listeners
            .iter()
            .map(|l| l.addr.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let config = EndpointConfig {
            transport: TransportConfig {
                listeners: s.listeners,
                retry_after: s.overload.retry_after,
                refusals_per_second: s.overload.refusals_per_second,
                ..s.transport
            },
            timers: s.timers,
            max_transactions: s.max_transactions.div_ceil(shards),
            max_settled_transactions: s.max_settled_transactions.div_ceil(shards),
            max_backlog: s.overload.pending_high,
        };
        // Every shard's queue, made first, so that no shard reads a
        // message before the shard owning it can take it.
        let (queues, mut receivers): (Vec<_>, Vec<_>) = (0..shards)
            .map(|_| tokio::sync::mpsc::channel(config.transport.incoming_queue.max(1)))
            .unzip();
        let queues: Arc<[_]> = queues.into();
        let mut setups = receivers.drain(..).enumerate().map(|(i, incoming)| {
            crate::transport::shards::ShardSetup {
                route: crate::transport::shards::ShardRoute::new(i, queues.clone()),
                incoming,
                joins: None,
            }
        });
        let first = if shards > 1 { setups.next() } else { None };
        let (endpoint, events) =
            Endpoint::bind_with(config.clone(), first)
                .await
                .map_err(|source| {
                    Error::from_source(ErrorKind::Transport, BindError { addrs, source })
                })?;
        for l in endpoint.transport().listeners() {
            tracing::info!(protocol = ?l.protocol, addr = %l.local_addr, "listening");
        }
        let locator = s.locator.unwrap_or_else(|| {
            let mut protocols: Vec<Protocol> = Vec::new();
            for l in endpoint.transport().listeners() {
                if !protocols.contains(&l.protocol) {
                    protocols.push(l.protocol);
                }
            }
            Locator::system(&protocols)
        });
        let media_ip = s.media.bind_ip.unwrap_or_else(|| {
            endpoint
                .transport()
                .listeners()
                .first()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |l| l.local_addr.ip())
        });
        let media_ports = crate::media::ports::PortAllocator::new(media_ip, s.media.ports.clone())
            .map(Arc::new)
            .map_err(|e| Error::new(ErrorKind::Config, format!("media: {e}")))?;
        let parts = core::CoreParts {
            factory: self.factory,
            limits: core::Limits {
                max_dialogs: s.max_dialogs.div_ceil(shards),
                shutdown_timeout: s.shutdown_timeout,
                overload: s.overload,
                release_memory: s.release_memory,
            },
            timers: s.timers,
            policy: s.policy,
            routing: core::Routing {
                locator: Arc::new(locator),
                outbound_proxy: s.outbound_proxy,
                location: s.location,
                media_ports,
            },
        };
        let core = parts.clone().build(endpoint, events);
        let (ended_tx, ended) = tokio::sync::mpsc::unbounded_channel();
        let mut others = Vec::with_capacity(shards - 1);
        for (i, mut setup) in (1..shards).zip(setups) {
            let joins = core.endpoint().transport().share().map_err(|e| {
                Error::new(
                    ErrorKind::Transport,
                    format!("shard {i}: sharing the sockets: {e}"),
                )
            })?;
            setup.joins = Some(joins);
            let shard = shards::start(i, config.clone(), setup, parts.clone(), ended_tx.clone());
            others.push(shard.await?);
        }
        if shards > 1 {
            tracing::info!(shards, "serving with shards");
        }
        let stats = ServerStats::combined(
            &std::iter::once(core.stats())
                .chain(others.iter().map(|s| s.stats()))
                .collect::<Vec<_>>(),
        );
        let metrics = match s.metrics {
            Some(addr) => {
                let endpoints = std::iter::once(core.endpoint().clone())
                    .chain(others.iter().map(|s| s.endpoint().clone()))
                    .collect();
                Some(
                    exporter::MetricsListener::bind(addr, endpoints, stats.clone())
                        .await
                        .map_err(|e| {
                            Error::new(
                                ErrorKind::Transport,
                                format!("cannot bind the metrics listener on {addr}: {e}"),
                            )
                        })?,
                )
            }
            None => None,
        };
        Ok(BoundServer {
            core,
            metrics,
            stats,
            shards: others,
            ended: (shards > 1).then_some(ended),
        })
    }

    /// Binds and serves: the returned [`Serve`] runs when awaited, until
    /// the signal given to [`Serve::with_graceful_shutdown`] (without one,
    /// until the task is dropped). The library installs no signal handler:
    /// the program decides what ends it.
    pub fn serve(self) -> Serve<H> {
        Serve {
            start: Start::Builder(Box::pin(self.bind())),
        }
    }
}

/// Refuses what a sharded server cannot do yet (see
/// [`ServerBuilder::shards`]).
fn check_shardable(s: &Settings) -> Result<()> {
    if s.transport.memory.is_some() {
        return Err(Error::new(
            ErrorKind::Config,
            "shards: an in-memory network cannot be sharded; use one shard",
        ));
    }
    Ok(())
}

/// A bound server, ready to [`serve`](Self::serve).
pub struct BoundServer<H: UasHandler> {
    core: core::Core<H>,
    metrics: Option<exporter::MetricsListener>,
    /// Every shard's counters, summed.
    stats: ServerStats,
    /// The shards beyond the first ([`ServerBuilder::shards`]).
    shards: Vec<shards::ShardThread<H>>,
    /// Told the index of a shard that has ended.
    ended: Option<tokio::sync::mpsc::UnboundedReceiver<usize>>,
}

impl<H: UasHandler> fmt::Debug for BoundServer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundServer").finish_non_exhaustive()
    }
}

impl<H: UasHandler> BoundServer<H> {
    /// The bound address of the first listener of `protocol`.
    pub fn local_addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.core.endpoint().transport().local_addr(protocol)
    }

    /// The server's transport layer, for what outlives one request: its
    /// connections, and the notice of each one closing
    /// ([`TransportLayer::closed_connections`], which a registrar keeping
    /// flows needs).
    pub fn transport(&self) -> &TransportLayer {
        self.core.endpoint().transport()
    }

    /// The server's overload counters (shed and refused requests), to
    /// read while it serves.
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// The endpoint underneath (transports and transactions), as
    /// [`Client::endpoint`](crate::client::Client::endpoint) gives the
    /// client's: clone it before [`serve`](Self::serve) to read, say, its
    /// [live transactions](Endpoint::live_transactions) while the server
    /// runs.
    pub fn endpoint(&self) -> &Endpoint {
        self.core.endpoint()
    }

    /// The bound address of the metrics listener
    /// ([`ServerBuilder::metrics`]), if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.local_addr())
    }

    /// Serves when awaited; see [`ServerBuilder::serve`].
    pub fn serve(self) -> Serve<H> {
        Serve {
            start: Start::Bound(Box::new(self)),
        }
    }
}

type BindFuture<H> = Pin<Box<dyn Future<Output = Result<BoundServer<H>>> + Send>>;

enum Start<H: UasHandler> {
    Builder(BindFuture<H>),
    Bound(Box<BoundServer<H>>),
}

/// A server to run: await it (it is [`IntoFuture`]), optionally after
/// [`with_graceful_shutdown`](Self::with_graceful_shutdown).
#[must_use = "a server does nothing until awaited"]
pub struct Serve<H: UasHandler> {
    start: Start<H>,
}

impl<H: UasHandler> Serve<H> {
    /// Serves until `signal` completes, then shuts down gracefully: new
    /// requests are refused with `503`, live dialogs and transactions get
    /// up to the [shutdown timeout](ServerBuilder::shutdown_timeout) to
    /// finish. E.g. `tokio::signal::ctrl_c()` for Ctrl-C.
    pub fn with_graceful_shutdown<G>(self, signal: G) -> WithGracefulShutdown<H>
    where
        G: Future + Send + 'static,
    {
        WithGracefulShutdown {
            start: self.start,
            signal: Box::pin(async move {
                signal.await;
            }),
        }
    }
}

impl<H: UasHandler> IntoFuture for Serve<H> {
    type Output = Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self.start, Box::pin(std::future::pending())))
    }
}

/// A server that shuts down gracefully on a signal; await it. See
/// [`Serve::with_graceful_shutdown`].
#[must_use = "a server does nothing until awaited"]
pub struct WithGracefulShutdown<H: UasHandler> {
    start: Start<H>,
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl<H: UasHandler> IntoFuture for WithGracefulShutdown<H> {
    type Output = Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self.start, self.signal))
    }
}

impl<H: UasHandler> fmt::Debug for Serve<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve").finish_non_exhaustive()
    }
}

impl<H: UasHandler> fmt::Debug for WithGracefulShutdown<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .finish_non_exhaustive()
    }
}

/// Binds if needed, then runs the core until `signal`.
///
/// The core runs as a task of its own: awaited in place it would run
/// wherever the caller's future is polled, e.g. on the thread of
/// `Runtime::block_on`, which is no worker, so every request would cross
/// threads twice more. Dropping this future stops the core, as dropping
/// the core itself would.
async fn run<H: UasHandler>(
    start: Start<H>,
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Result<()> {
    let server = match start {
        Start::Builder(bind) => bind.await?,
        Start::Bound(server) => *server,
    };
    let BoundServer {
        core,
        metrics,
        shards,
        ended,
        ..
    } = server;
    let stop = core.stopper();
    if let Some(m) = &metrics {
        m.serving();
    }
    // A sharded server's logs name the shard of each line.
    let span = if shards.is_empty() {
        tracing::Span::none()
    } else {
        tracing::info_span!("shard", index = 0)
    };
    let mut core = AbortOnDrop(tokio::spawn(core.run().instrument(span)));
    let mut signal = signal;
    // A shard that ends on its own (it can only panic) ends the server.
    let shard_ended = async move {
        match ended {
            Some(mut ended) => ended.recv().await,
            None => std::future::pending().await,
        }
    };
    let done = tokio::select! {
        done = &mut core.0 => done,
        () = &mut signal => {
            if let Some(m) = &metrics {
                m.stopping();
            }
            let _ = stop.send(inbox::Aside::Stop);
            for shard in &shards {
                shard.stop();
            }
            (&mut core.0).await
        }
        index = shard_ended => {
            tracing::error!(?index, "a shard ended; the server stops");
            let _ = stop.send(inbox::Aside::Stop);
            (&mut core.0).await
        }
    };
    for shard in shards {
        shard.stop();
        shard.join().await;
    }
    // The listener stops with the server.
    drop(metrics);
    if let Err(e) = done
        && e.is_panic()
    {
        std::panic::resume_unwind(e.into_panic());
    }
    Ok(())
}

/// Aborts the core's task when the serving future is dropped before it
/// ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
