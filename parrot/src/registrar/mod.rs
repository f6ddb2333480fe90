//! A registrar and location service (RFC 3261 §10.3) as a part a handler
//! calls: `registrar.register(req).await` answers a REGISTER, and
//! [`Registrar::lookup`] gives the bindings a request for an
//! address-of-record is routed to.
//!
//! - **Address-of-record** ([`canonical_aor`]): the To URI as
//!   `sip:user@host`, escapes resolved, host in lower case, parameters
//!   dropped; a To that is not `sip:`/`sips:` gets `400` (RFC 4475
//!   §3.3.4).
//! - **Lifetimes**: a Contact's `expires`, else the `Expires` header, else
//!   [`RegistrarConfig::default_expires`], capped at
//!   [`RegistrarConfig::max_expires`]; a non-zero lifetime below
//!   [`RegistrarConfig::min_expires`] refuses the request with `423` and
//!   `Min-Expires` (§10.3 step 7). Lapsed bindings disappear on their own.
//! - **Changes all together** (§10.3 steps 6, 7): a known contact (URI
//!   equivalence, or the same `+sip.instance`/`reg-id` with outbound) is
//!   refreshed, a new one added, one with lifetime 0 removed; `Contact: *`
//!   (alone, with `Expires: 0`) removes them all. A request from the same
//!   Call-ID with a CSeq not above a binding's is out of order: `500`,
//!   nothing changed. More than [`RegistrarConfig::max_bindings`] per
//!   address-of-record: `403`.
//! - **Answer** (step 8): every binding with its remaining lifetime,
//!   `Date`, the Path echoed.
//! - **Path** (RFC 3327): stored with each binding and routed through
//!   ([`Binding::path`]); a Path from a UA that does not support it: `420`.
//! - **Flows** (RFC 5626, RFC 7118 §5): a contact registered over a
//!   WebSocket or with outbound is bound to the connection its REGISTER
//!   came over, and removed when it closes ([`Registrar::spawn_flow_keeper`]).
//! - **Authentication** (§10.3 steps 3, 4; [`RegistrarConfig::auth`]):
//!   Digest credentials required (`401` otherwise), and the authenticated
//!   user may change only its own address-of-record (`403`).
//! - **Storage** ([`LocationStore`]): [`MemoryStore`] in this process (the
//!   default), or a store shared by several servers (`RedisStore`, with
//!   the `redis` feature). A store that is down or slow gives `503` with
//!   `Retry-After`; nothing is acknowledged that was not stored.
//!
//! ```
//! use parrot::prelude::*;
//! use parrot::registrar::Registrar;
//!
//! struct Registry {
//!     registrar: Registrar,
//! }
//!
//! #[uas_handler]
//! impl Registry {
//!     async fn register(&mut self, req: &Request, cx: &mut Context) -> Response {
//!         self.registrar.register_from(req, cx.origin().as_ref()).await
//!     }
//! }
//! ```

mod binding;
mod memory;
mod process;
#[cfg(feature = "redis")]
mod redis;
mod store;

#[cfg(feature = "redis")]
pub use self::redis::{RedisConfig, RedisStore};
pub use binding::{Binding, binding_key, canonical_aor};
pub use memory::{MemoryStore, SWEEP_INTERVAL};
pub use process::{Registration, http_date, registered, registration};
pub use store::{
    Change, DEFAULT_STORE_TIMEOUT, LocationStore, StoreError, StoreFuture, Update, apply,
};

use crate::auth::{AuthenticatedUser, DigestAuthenticator};
use crate::message::typed::RetryAfter;
use crate::message::{Request, Response, StatusCode, Uri};
use crate::proxy::ProxyTarget;
use crate::transport::{Closing, ConnectionClosings, Origin};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tracing::{debug, info, warn};

/// The registrar's limits, and whether it authenticates.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// The shortest lifetime accepted, in seconds (default 60).
    pub min_expires: u32,
    /// The lifetime when the request gives none (default 3600, §10.2.1.1).
    pub default_expires: u32,
    /// The longest lifetime granted; longer requests are shortened
    /// (default 86400, §10.3 step 7).
    pub max_expires: u32,
    /// The most bindings one address-of-record may have, and the most
    /// contacts one REGISTER may carry (default 20).
    pub max_bindings: usize,
    /// The longest canonical address-of-record accepted, in bytes
    /// (default 256).
    pub max_aor_len: usize,
    /// The domains whose users this location service knows (host names
    /// or addresses, without port; case-insensitive). Routing by location
    /// ([`ServerBuilder::location`](crate::server::ServerBuilder::location))
    /// answers `480` for a user of one of them without a binding; for
    /// other domains, a URI without bindings is routed as it is. Empty
    /// (the default): no domain is claimed.
    pub domains: Vec<String>,
    /// How long the store may take (default [`DEFAULT_STORE_TIMEOUT`]):
    /// beyond it the REGISTER gets `503`.
    pub store_timeout: Duration,
    /// The `Retry-After` of a `503` when the store is unavailable
    /// (default 5 s).
    pub retry_after: Duration,
    /// Digest authentication of every REGISTER (§10.3 step 3); `None` (the
    /// default) accepts anyone.
    pub auth: Option<Arc<DigestAuthenticator>>,
}

impl RegistrarConfig {
    /// This configuration, requiring authentication by `auth`.
    pub fn with_auth(mut self, auth: DigestAuthenticator) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            default_expires: 3600,
            max_expires: 86400,
            max_bindings: 20,
            max_aor_len: 256,
            domains: Vec::new(),
            store_timeout: DEFAULT_STORE_TIMEOUT,
            retry_after: Duration::from_secs(5),
            auth: None,
        }
    }
}

/// A registrar over a [`LocationStore`]. Cheap to clone: clones share the
/// store and the configuration, so every handler value can hold one.
#[derive(Clone)]
pub struct Registrar {
    store: Arc<dyn LocationStore>,
    config: Arc<RegistrarConfig>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Registrar {
    fn default() -> Self {
        Registrar::new(Arc::new(MemoryStore::new()), RegistrarConfig::default())
    }
}

impl Registrar {
    /// A registrar keeping its bindings in `store`.
    pub fn new(store: Arc<dyn LocationStore>, config: RegistrarConfig) -> Self {
        Registrar {
            store,
            config: Arc::new(config),
        }
    }

    /// A registrar with the default configuration over a new
    /// [`MemoryStore`].
    pub fn in_memory() -> Self {
        Registrar::default()
    }

    /// The configuration.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn LocationStore> {
        &self.store
    }

    /// Answers a REGISTER (RFC 3261 §10.3 steps 3 to 8).
    pub async fn register(&self, req: &Request) -> Response {
        self.register_from(req, None).await
    }

    /// [`register`](Self::register) for a REGISTER that came from
    /// `origin` (`cx.origin()`): its contacts are bound to that flow when
    /// they must be reached through it ([`Binding::flow`]).
    pub async fn register_from(&self, req: &Request, origin: Option<&Origin>) -> Response {
        if let Err(refusal) = self.authorize(req) {
            debug!(status = %refusal.status, "REGISTER refused");
            return refusal;
        }
        let registration = match registration(req, origin, &self.config) {
            Ok(r) => r,
            Err(refusal) => {
                debug!(status = %refusal.status, reason = %refusal.reason, "REGISTER refused");
                return refusal;
            }
        };
        let aor = registration.aor.as_str();
        let stored = match &registration.update {
            Some(update) => self.timed(self.store.update(aor, update)).await,
            None => self.timed(self.store.lookup(aor)).await,
        };
        match stored {
            Ok(bindings) => {
                debug!(%aor, bindings = bindings.len(), "registered");
                registered(req, &registration, &bindings)
            }
            Err(error) => self.refusal(req, aor, &error),
        }
    }

    /// The live bindings of the address-of-record `uri` names, highest `q`
    /// first (empty for a URI that is not SIP).
    pub async fn lookup(&self, uri: &Uri) -> Result<Vec<Binding>, StoreError> {
        let Some(aor) = canonical_aor(uri) else {
            return Ok(Vec::new());
        };
        let mut bindings = self.timed(self.store.lookup(&aor)).await?;
        bindings.sort_by(|a, b| b.q().total_cmp(&a.q()));
        Ok(bindings)
    }

    /// Where a request for `uri` goes (RFC 3261 §16.5): its bindings as
    /// proxy targets grouped by `q`, highest first — the targets of one
    /// group are tried in parallel, the groups in turn (§16.6). Each target
    /// carries its binding's Path as a route and its flow.
    pub async fn targets(&self, uri: &Uri) -> Result<Vec<Vec<ProxyTarget>>, StoreError> {
        let bindings = self.lookup(uri).await?;
        let mut groups: Vec<(f32, Vec<ProxyTarget>)> = Vec::new();
        for b in bindings {
            let Some(contact) = b.uri() else { continue };
            let mut target = ProxyTarget::from(contact.clone());
            target.flow = b.flow;
            target.route = b.path.clone();
            match groups.last_mut() {
                Some((q, group)) if *q == b.q() => group.push(target),
                _ => groups.push((b.q(), vec![target])),
            }
        }
        Ok(groups.into_iter().map(|(_, g)| g).collect())
    }

    /// Whether `uri` names a user of one of
    /// [`RegistrarConfig::domains`].
    pub fn serves(&self, uri: &Uri) -> bool {
        uri.as_sip().is_some_and(|sip| {
            let host = sip.host().to_string();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            self.config.domains.iter().any(|d| {
                d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .eq_ignore_ascii_case(host)
            })
        })
    }

    /// RFC 3261 §10.3 steps 3 and 4: with [`RegistrarConfig::auth`] set,
    /// the REGISTER must carry valid Digest credentials (else the `401`
    /// challenge or `400` to send back), and their user may change only
    /// the bindings of the address-of-record whose user part is its
    /// username (else `403`). `Ok(None)` without authentication.
    pub fn authorize(&self, req: &Request) -> Result<Option<AuthenticatedUser>, Response> {
        let Some(auth) = &self.config.auth else {
            return Ok(None);
        };
        // Tokio's clock, so nonces age on a paused test clock too.
        let now = tokio::time::Instant::now().into_std();
        // A registrar is a UAS: 401 and WWW-Authenticate, not 407.
        let user = auth.verify_at(req, false, now).map_err(|e| {
            debug!(error = %e, "REGISTER not authenticated");
            auth.reject_at(req, &e, false, now)
        })?;
        let Some(to) = req.headers.to_header() else {
            return Ok(Some(user));
        };
        if let Some(sip) = to.addr.uri().as_sip()
            && sip.user().as_deref() != Some(user.username.as_str())
        {
            info!(user = %user.username, to = %to.addr.uri(), "REGISTER for another user's AOR");
            return Err(req
                .reply(StatusCode::FORBIDDEN)
                .reason("Not allowed to register this address-of-record"));
        }
        Ok(Some(user))
    }

    /// Starts the task that removes bindings with their flow as each
    /// connection of `closings` (`BoundServer::transport().closed_connections()`)
    /// closes (RFC 5626 §5.3). It ends with the transport, or once every
    /// clone of this registrar is gone.
    pub fn spawn_flow_keeper(&self, mut closings: ConnectionClosings) {
        let store: Weak<dyn LocationStore> = Arc::downgrade(&self.store);
        tokio::spawn(async move {
            while let Some(closing) = closings.next().await {
                let Some(store) = store.upgrade() else { break };
                let gone = match closing {
                    Closing::Closed(id) => store.remove_flow(id).await,
                    Closing::Missed => {
                        let open = |id| closings.is_open(id);
                        store.retain_open_flows(&open).await
                    }
                };
                match gone {
                    Ok(0) => {}
                    Ok(gone) => info!(gone, "bindings removed with their closed flow"),
                    Err(error) => warn!(%error, "bindings of a closed flow not removed"),
                }
            }
        });
    }

    /// `op` bounded by the store timeout.
    async fn timed<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.config.store_timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {:?}",
                self.config.store_timeout
            ))),
        }
    }

    /// The response to a REGISTER the store refused.
    fn refusal(&self, req: &Request, aor: &str, error: &StoreError) -> Response {
        match error {
            StoreError::OutOfOrder => req
                .reply(StatusCode::SERVER_INTERNAL_ERROR)
                .reason("Out of order CSeq"),
            StoreError::TooManyBindings { limit } => req
                .reply(StatusCode::FORBIDDEN)
                .reason(format!("More than {limit} bindings")),
            StoreError::Unavailable(why) => {
                warn!(%aor, %why, "location store unavailable");
                req.reply(StatusCode::SERVICE_UNAVAILABLE)
                    .reason("Location service unavailable")
                    .typed(&RetryAfter::new(self.config.retry_after.as_secs() as u32))
            }
            StoreError::Failed(why) => {
                warn!(%aor, %why, "location store failed");
                req.reply(StatusCode::SERVER_INTERNAL_ERROR)
                    .reason("Location service failed")
            }
        }
    }
}

#[cfg(test)]
mod tests;
