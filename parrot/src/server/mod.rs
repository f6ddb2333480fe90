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
//!     .await
//! # }
//! ```

mod catch;
mod core;
mod relay;
pub(crate) mod session;

use crate::endpoint::{Endpoint, EndpointConfig};
use crate::handler::UasHandler;
use crate::transaction::TimerConfig;
use crate::transport::{ListenerConfig, Protocol, TransportConfig, TransportError};
use std::fmt;
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Why the server could not start or stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or invalid.
    Config(String),
    /// A transport could not be bound.
    Transport(TransportError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(why) => write!(f, "configuration: {why}"),
            Error::Transport(e) => write!(f, "transport: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

/// The result of starting or running a server.
pub type Result<T> = std::result::Result<T, Error>;

/// A handler factory: one fresh handler value per dialog and per
/// out-of-dialog request.
pub(crate) type Factory<H> = Arc<dyn Fn() -> H + Send + Sync>;

/// Entry point: [`Server::builder`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Starts configuring a server.
    pub fn builder() -> ServerBuilder<()> {
        ServerBuilder {
            listeners: Vec::new(),
            errors: Vec::new(),
            timers: TimerConfig::default(),
            max_dialogs: 100_000,
            max_transactions: 100_000,
            max_settled_transactions: 500_000,
            shutdown_timeout: Duration::from_secs(32),
            transport: TransportConfig::default(),
            factory: None,
        }
    }
}

/// Configures and starts a server; see [`Server::builder`].
pub struct ServerBuilder<H> {
    listeners: Vec<ListenerConfig>,
    errors: Vec<String>,
    timers: TimerConfig,
    max_dialogs: usize,
    max_transactions: usize,
    max_settled_transactions: usize,
    shutdown_timeout: Duration,
    transport: TransportConfig,
    factory: Option<Factory<H>>,
}

impl<H> ServerBuilder<H> {
    fn listener(mut self, addr: &str, protocols: &[Protocol]) -> Self {
        match addr.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(addr)) => {
                let mut l = ListenerConfig::udp(addr);
                l.protocols = protocols.to_vec();
                self.listeners.push(l);
            }
            _ => self.errors.push(format!("bad listen address {addr:?}")),
        }
        self
    }

    /// Listens for UDP at `addr` (e.g. `"0.0.0.0:5060"`).
    pub fn udp(self, addr: &str) -> Self {
        self.listener(addr, &[Protocol::Udp])
    }

    /// Listens for TCP at `addr`.
    pub fn tcp(self, addr: &str) -> Self {
        self.listener(addr, &[Protocol::Tcp])
    }

    /// Listens for UDP and TCP on the same address and port.
    pub fn listen(self, addr: &str) -> Self {
        self.listener(addr, &[Protocol::Udp, Protocol::Tcp])
    }

    /// Listens for UDP and TCP on a socket address (port 0 picks one).
    pub fn listen_addr(mut self, addr: SocketAddr) -> Self {
        self.listeners.push(ListenerConfig::udp_tcp(addr));
        self
    }

    /// The transaction timers T1, T2, T4 (RFC 3261 §17; defaults 500 ms,
    /// 4 s, 5 s).
    pub fn timers(mut self, timers: TimerConfig) -> Self {
        self.timers = timers;
        self
    }

    /// Most live dialogs (busy or held) and one-shot requests in progress;
    /// beyond it new requests get `503 Service Unavailable` with
    /// `Retry-After` (default 100,000).
    pub fn max_dialogs(mut self, n: usize) -> Self {
        self.max_dialogs = n;
        self
    }

    /// Most transactions in progress; beyond it new requests get `503`
    /// (default 100,000). Settled ones, which only absorb retransmissions,
    /// have their own cap: [`max_settled_transactions`](Self::max_settled_transactions).
    pub fn max_transactions(mut self, n: usize) -> Self {
        self.max_transactions = n;
        self
    }

    /// Most settled transactions, which only absorb retransmissions for up
    /// to 32 s after their final response (about 64 per call/s of load);
    /// beyond it the oldest ends early, which bounds their memory (default
    /// 500,000; see [`EndpointConfig::max_settled_transactions`]).
    pub fn max_settled_transactions(mut self, n: usize) -> Self {
        self.max_settled_transactions = n;
        self
    }

    /// How long a graceful shutdown waits for live dialogs and
    /// transactions to finish (default 32 s).
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.shutdown_timeout = d;
        self
    }

    /// Transport limits and timeouts (listeners are set with the methods
    /// above).
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport = config;
        self
    }

    /// The handler factory: called for every new dialog and every
    /// out-of-dialog request, so each gets its own value and `&mut self`
    /// needs no locks.
    pub fn handler<H2, F>(self, factory: F) -> ServerBuilder<H2>
    where
        H2: UasHandler,
        F: Fn() -> H2 + Send + Sync + 'static,
    {
        ServerBuilder {
            listeners: self.listeners,
            errors: self.errors,
            timers: self.timers,
            max_dialogs: self.max_dialogs,
            max_transactions: self.max_transactions,
            max_settled_transactions: self.max_settled_transactions,
            shutdown_timeout: self.shutdown_timeout,
            transport: self.transport,
            factory: Some(Arc::new(factory)),
        }
    }
}

impl<H: UasHandler> ServerBuilder<H> {
    /// Binds the listeners and returns the running server, whose
    /// [`RunningServer::local_addr`] tells the bound ports.
    pub async fn bind(self) -> Result<RunningServer<H>> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(Error::Config(e));
        }
        let factory = self
            .factory
            .ok_or_else(|| Error::Config("no handler: call .handler(...)".into()))?;
        let listeners = if self.listeners.is_empty() {
            vec![ListenerConfig::udp_tcp(SocketAddr::from((
                [0, 0, 0, 0],
                5060,
            )))]
        } else {
            self.listeners
        };
        let config = EndpointConfig {
            transport: TransportConfig {
                listeners,
                ..self.transport
            },
            timers: self.timers,
            max_transactions: self.max_transactions,
            max_settled_transactions: self.max_settled_transactions,
        };
        let (endpoint, events) = Endpoint::bind(config).await?;
        for l in endpoint.transport().listeners() {
            tracing::info!(protocol = ?l.protocol, addr = %l.local_addr, "listening");
        }
        Ok(RunningServer {
            core: core::Core::new(
                endpoint,
                events,
                factory,
                core::Limits {
                    max_dialogs: self.max_dialogs,
                    shutdown_timeout: self.shutdown_timeout,
                },
                self.timers,
            ),
        })
    }

    /// Binds and serves until Ctrl-C (SIGINT), then shuts down gracefully.
    pub async fn serve(self) -> Result<()> {
        self.serve_with_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }

    /// Binds and serves until `signal` completes, then shuts down
    /// gracefully: new requests are refused with `503`, live dialogs and
    /// transactions get up to the shutdown timeout to finish.
    pub async fn serve_with_shutdown(self, signal: impl Future<Output = ()> + Send) -> Result<()> {
        self.bind().await?.serve(signal).await
    }
}

/// A bound server, ready to serve.
pub struct RunningServer<H: UasHandler> {
    core: core::Core<H>,
}

impl<H: UasHandler> RunningServer<H> {
    /// The bound address of the first listener of `protocol`.
    pub fn local_addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.core.endpoint().transport().local_addr(protocol)
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    ///
    /// The core runs as a task of its own: awaited in place it would run
    /// wherever the caller's future is polled, e.g. on the thread of
    /// `Runtime::block_on`, which is no worker, so every request would
    /// cross threads twice more. Dropping this future stops the core, as
    /// dropping the core itself would.
    pub async fn serve(self, signal: impl Future<Output = ()> + Send) -> Result<()> {
        // `signal` need not be `'static`: it stays here and tells the task.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut core = AbortOnDrop(tokio::spawn(self.core.run(async move {
            // Also a dropped sender: this future was dropped, and the
            // guard aborts the task anyway.
            let _ = stop_rx.await;
        })));
        let mut signal = std::pin::pin!(signal);
        let done = tokio::select! {
            done = &mut core.0 => done,
            () = &mut signal => {
                let _ = stop_tx.send(());
                (&mut core.0).await
            }
        };
        if let Err(e) = done
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
        Ok(())
    }
}

/// Aborts the core's task when [`RunningServer::serve`]'s future is
/// dropped before it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
