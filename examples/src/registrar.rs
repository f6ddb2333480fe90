//! `registrar`: a SIP registrar (RFC 3261 §10.3) with an in-memory
//! location service, built on [`parrot::registrar`], which does all of
//! the following but the routing.
//!
//! - The address-of-record is the To URI in canonical form
//!   ([`canonical_aor`]): `sip:user@host`, host in lower case, escapes
//!   resolved, parameters dropped. A To URI that is not `sip:`/`sips:` gets
//!   `400`.
//! - Each Contact's lifetime is its `expires` parameter, else the
//!   `Expires` header, else [`RegistrarOptions::default_expires`] (3600 s),
//!   capped at [`RegistrarOptions::max_expires`]. A non-zero lifetime below
//!   [`RegistrarOptions::min_expires`] (60 s) refuses the whole request
//!   with `423 Interval Too Brief` and `Min-Expires` (§10.3 step 7).
//! - A known Contact (URI equivalence, §19.1.4) is refreshed, a new one
//!   added, one with lifetime 0 removed. `Contact: *` removes every
//!   binding, and is only valid alone with `Expires: 0` (else `400`,
//!   §10.3 step 6). A request from the same Call-ID with a CSeq not above
//!   a binding's is out of order and changes nothing (`500`).
//! - No Contact: a query. Every `200` lists all current bindings with
//!   their remaining lifetime as `expires` (§10.3 step 8), and `Date`.
//! - Expired bindings are dropped when their address-of-record is next
//!   used, and by a sweep every [`RegistrarOptions::sweep_interval`].
//! - Authentication (§10.3 steps 3 and 4), when
//!   [`RegistrarOptions::auth`] is set: every REGISTER must carry Digest
//!   credentials ([`parrot::auth`], RFC 3261 §22). Without them, or with a
//!   wrong password, an unknown user, an expired nonce (`stale=true`) or a
//!   replayed nonce-count, the answer is `401` with a new challenge;
//!   malformed credentials get `400`. The authenticated user may change
//!   only the bindings of its own address-of-record, the one whose user
//!   part is its username: any other gets `403` (step 4).
//! - Flows (RFC 5626, RFC 7118 §5): a contact registered over a
//!   WebSocket, or with outbound (`+sip.instance` and `reg-id` in the
//!   Contact, `outbound` in Supported; the 200 then has `Require:
//!   outbound`), is bound to the connection (or UDP source) the REGISTER
//!   came over: requests for it go down that flow, and when its connection
//!   closes the binding goes with it. A REGISTER with the same instance and
//!   reg-id replaces the binding whatever its Contact URI.
//! - Routing by location (§16.5): INVITE, MESSAGE, INFO, SUBSCRIBE,
//!   NOTIFY, REFER and UPDATE outside a dialog are proxied (record-routed)
//!   to every live binding of the Request-URI's address-of-record, forked
//!   in parallel, each over its flow when it has one; `480 Temporarily
//!   Unavailable` when there is none, `430 Flow Failed` from a branch
//!   whose flow has just closed. So two phones registered here can call
//!   each other, and a browser can be called.
//! - OPTIONS: the runtime's default answer.
//! - Not done, as befits an example: checking that the Request-URI names a
//!   domain served here (step 1).
//!
//! The registrar is the server's shared state ([`Registry`], given to
//! `ServerBuilder::state`): the factory builds each handler value from it.

use crate::caller;
use crate::listen::Listen;
use parrot::auth::DigestAuthenticator;
use parrot::prelude::*;
use parrot::proxy::Proxy;
use parrot::registrar::{self as reg, RegistrarConfig};
use parrot::server::{BoundServer, Factory, IntoAction, MethodSet, ServerBuilder};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

pub use parrot::registrar::{Binding, MemoryStore as Location, canonical_aor, http_date};

/// The registrar's limits, and whether it authenticates.
#[derive(Debug, Clone)]
pub struct RegistrarOptions {
    /// The shortest lifetime accepted, in seconds (default 60).
    pub min_expires: u32,
    /// The lifetime when the request gives none (default 3600, §10.2.1.1).
    pub default_expires: u32,
    /// The longest lifetime granted; longer requests are shortened
    /// (default 86400, §10.3 step 7).
    pub max_expires: u32,
    /// How often stale bindings are swept (default 60 s).
    pub sweep_interval: Duration,
    /// Digest authentication of every REGISTER (§10.3 step 3); `None` (the
    /// default) accepts anyone.
    pub auth: Option<Arc<DigestAuthenticator>>,
}

impl RegistrarOptions {
    /// These options, requiring authentication by `auth`.
    pub fn with_auth(mut self, auth: DigestAuthenticator) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// The library registrar's configuration for these options.
    pub fn config(&self) -> RegistrarConfig {
        RegistrarConfig {
            min_expires: self.min_expires,
            default_expires: self.default_expires,
            max_expires: self.max_expires,
            auth: self.auth.clone(),
            ..RegistrarConfig::default()
        }
    }
}

impl Default for RegistrarOptions {
    fn default() -> Self {
        let config = RegistrarConfig::default();
        RegistrarOptions {
            min_expires: config.min_expires,
            default_expires: config.default_expires,
            max_expires: config.max_expires,
            sweep_interval: parrot::registrar::SWEEP_INTERVAL,
            auth: None,
        }
    }
}

/// What every handler value shares: the registrar over its store.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The registrar and its location service.
    pub registrar: reg::Registrar,
}

/// The handler: a view of the shared [`Registry`].
#[derive(Debug, Clone)]
pub struct Registrar {
    registrar: reg::Registrar,
}

impl Registrar {
    /// A handler value working on the shared `registry` (the server's
    /// factory: `.state(registry).handler(Registrar::new)`).
    pub fn new(registry: &Registry) -> Self {
        Registrar {
            registrar: registry.registrar.clone(),
        }
    }

    /// Where a request for a registered user goes (RFC 3261 §16.5): to
    /// every live binding of the Request-URI's address-of-record by
    /// decreasing `q` (equal `q` in parallel, §16.6), each over its flow
    /// when it has one and through its Path;
    /// `480` when the user has none.
    pub async fn route(&self, req: &Request) -> Action {
        let groups = match self.registrar.targets(&req.uri).await {
            Ok(groups) => groups,
            Err(error) => {
                warn!(%error, "location service failed");
                return req
                    .reply(StatusCode::SERVER_INTERNAL_ERROR)
                    .reason("Location service failed")
                    .into_action();
            }
        };
        let proxy = Proxy::fork_in_turn(groups);
        if proxy.is_empty() {
            info!(from = %caller(req), uri = %req.uri, "no binding");
            return req.reply(StatusCode::TEMPORARILY_UNAVAILABLE).into_action();
        }
        for t in proxy.targets.iter().chain(proxy.later.iter().flatten()) {
            info!(from = %caller(req), uri = %req.uri, target = %t, "routing to a binding");
        }
        proxy.into_action()
    }
}

#[uas_handler]
impl Registrar {
    async fn register(&mut self, req: &Request, cx: &mut Context) -> Response {
        let resp = self
            .registrar
            .register_from(req, cx.origin().as_ref())
            .await;
        debug!(status = %resp.status, "REGISTER answered");
        resp
    }

    async fn invite(&mut self, req: &Request) -> Action {
        self.route(req).await
    }

    async fn message(&mut self, req: &Request) -> Action {
        self.route(req).await
    }

    async fn info(&mut self, req: &Request) -> Action {
        self.route(req).await
    }

    async fn subscribe(&mut self, req: &Request) -> Action {
        self.route(req).await
    }

    async fn notify(&mut self, req: &Request) -> Action {
        self.route(req).await
    }

    async fn refer(&mut self, req: &Request) -> Action {
        self.route(req).await
    }

    async fn update(&mut self, req: &Request) -> Action {
        self.route(req).await
    }
}

/// The methods routed by location ([`Registrar::route`]).
const ROUTED: MethodSet = MethodSet::EMPTY
    .with("INVITE")
    .with("MESSAGE")
    .with("INFO")
    .with("SUBSCRIBE")
    .with("NOTIFY")
    .with("REFER")
    .with("UPDATE");

impl Registry {
    /// The registrar of `options` over `location`.
    pub fn new(options: &RegistrarOptions, location: Location) -> Self {
        Registry {
            registrar: reg::Registrar::new(Arc::new(location), options.config()),
        }
    }
}

/// The `registrar` example's server for `registry`, not yet bound: add
/// listeners ([`Listen::apply`], `ServerBuilder::listen`, or the test
/// kit's in-memory network) and bind it. Beside it, the location's sweeper
/// ([`Location::spawn_sweeper`]) drops lapsed bindings, and the
/// registrar's flow keeper ([`reg::Registrar::spawn_flow_keeper`]) those
/// of closed connections; [`bind`] starts both.
pub fn server(registry: &Registry) -> ServerBuilder<Factory<Registrar>> {
    Server::builder()
        .release_memory_with(crate::cli::release_memory)
        // Require and bodies of what is routed are the callee's business.
        .proxies(ROUTED)
        .state(registry.clone())
        .handler(Registrar::new)
}

/// Binds the `registrar` example on `listen` (UDP and TCP; port 0 picks
/// one) over `location`, and starts its sweeper and flow keeper.
pub async fn bind(
    listen: impl Into<Listen>,
    options: RegistrarOptions,
    location: Location,
) -> parrot::Result<BoundServer<Registrar>> {
    let registry = Registry::new(&options, location.clone());
    let server = listen.into().apply(server(&registry)).bind().await?;
    location.spawn_sweeper(options.sweep_interval);
    registry
        .registrar
        .spawn_flow_keeper(server.transport().closed_connections());
    Ok(server)
}

/// Serves the `registrar` example with the default options and an empty
/// location service until `shutdown` completes.
pub async fn serve(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    serve_with(
        listen,
        shutdown,
        RegistrarOptions::default(),
        Location::new(),
    )
    .await
}

/// Serves the `registrar` example with `options` over `location` until
/// `shutdown` completes.
pub async fn serve_with(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: RegistrarOptions,
    location: Location,
) -> parrot::Result<()> {
    bind(listen, options, location)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
