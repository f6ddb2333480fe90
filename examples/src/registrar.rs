//! `registrar`: a SIP registrar (RFC 3261 §10.3) with an in-memory
//! location service.
//!
//! - The address-of-record is the To URI in canonical form
//!   ([`canonical_aor`]): `sip:user@host`, host in lower case, escapes
//!   resolved, parameters dropped. A To URI that is not `sip:`/`sips:` gets
//!   `404`.
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
//! The location service and the options are the server's shared state
//! ([`Registry`], given to `ServerBuilder::state`): the factory builds
//! each handler value from it, so no handler code sees a lock but the
//! location service's own (an `Arc<Mutex<HashMap<aor, Vec<Binding>>>>`).

use crate::caller;
use crate::listen::Listen;
use parrot::auth::{AuthenticatedUser, DigestAuthenticator};
use parrot::message::typed::{Contact, Expires, MinExpires, Supported};
use parrot::message::{HeaderName, Uri};
use parrot::prelude::*;
use parrot::proxy::{Proxy, ProxyTarget};
use parrot::server::{BoundServer, IntoAction, MethodSet};
use parrot::transport::{Closing, ConnectionClosings, ConnectionId, Origin, Target};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tracing::{debug, info};

/// The registrar's limits, and whether it authenticates.
#[derive(Debug, Clone)]
pub struct RegistrarOptions {
    /// The shortest lifetime accepted, in seconds (default 60; RFC 3261
    /// §10.2.1.1 recommends at least an hour for most uses but lets a
    /// registrar pick its minimum).
    pub min_expires: u32,
    /// The lifetime when the request gives none (default 3600, §10.2.1.1).
    pub default_expires: u32,
    /// The longest lifetime granted; longer requests are shortened
    /// (default 86400, §10.3 step 7).
    pub max_expires: u32,
    /// How often stale bindings are swept (default 60 s).
    pub sweep_interval: Duration,
    /// Digest authentication of every REGISTER (§10.3 step 3), shared by
    /// every handler value; `None` (the default) accepts anyone.
    pub auth: Option<Arc<DigestAuthenticator>>,
}

impl RegistrarOptions {
    /// These options, requiring authentication by `auth`.
    pub fn with_auth(mut self, auth: DigestAuthenticator) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }
}

impl Default for RegistrarOptions {
    fn default() -> Self {
        RegistrarOptions {
            min_expires: 60,
            default_expires: 3600,
            max_expires: 86400,
            sweep_interval: Duration::from_secs(60),
            auth: None,
        }
    }
}

/// One registered contact of an address-of-record.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The Contact as registered, without its `expires` parameter.
    pub contact: Contact,
    /// The Call-ID of the REGISTER that last set it.
    pub call_id: String,
    /// The CSeq number of that REGISTER.
    pub cseq: u32,
    /// When it lapses.
    pub expires_at: Instant,
    /// The flow requests to this contact must take (RFC 5626 §5.3): the
    /// connection (or UDP source) its REGISTER came over, for a contact
    /// registered over a WebSocket (a browser's `.invalid` host is reached
    /// no other way, RFC 7118 §5) or with outbound (`reg-id`). A binding
    /// whose connection closes is removed.
    pub flow: Option<Target>,
    /// Its `+sip.instance` and `reg-id` (RFC 5626 §6) when registered with
    /// outbound: a later REGISTER with the same pair replaces it whatever
    /// its Contact URI.
    pub outbound: Option<(String, u32)>,
}

impl Binding {
    /// The contact URI.
    pub fn uri(&self) -> Option<&Uri> {
        self.contact.addr().map(|a| a.uri())
    }

    /// Seconds left at `now`, rounded up (0 once lapsed).
    pub fn remaining(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_duration_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// The location service: bindings by address-of-record, shared by every
/// handler value (clones share the same table).
#[derive(Debug, Clone, Default)]
pub struct Location {
    table: Arc<Mutex<HashMap<String, Vec<Binding>>>>,
}

/// Why a REGISTER changes nothing: the response to send.
type Refusal = Response;

impl Location {
    /// An empty location service.
    pub fn new() -> Self {
        Location::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Binding>>> {
        // A panic while holding the lock cannot leave the table half
        // updated (every update is one assignment), so poisoning is moot.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live bindings of `aor` (in canonical form) at `now`; lapsed
    /// ones are dropped on the way.
    pub fn bindings(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let mut table = self.lock();
        live(&mut table, aor, now).to_vec()
    }

    /// Drops every lapsed binding; returns how many went.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut table = self.lock();
        let before: usize = table.values().map(Vec::len).sum();
        table.retain(|_, list| {
            list.retain(|b| b.expires_at > now);
            !list.is_empty()
        });
        before - table.values().map(Vec::len).sum::<usize>()
    }

    /// How many bindings are stored, lapsed ones not yet dropped included.
    pub fn stored(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Removes every binding reached over `connection` (its flow has
    /// closed, RFC 5626 §5.3); returns how many went.
    pub fn drop_flow(&self, connection: ConnectionId) -> usize {
        self.retain_flows(|id| id != connection)
    }

    /// Keeps only the bindings whose flow, if any, passes `keep`.
    fn retain_flows(&self, keep: impl Fn(ConnectionId) -> bool) -> usize {
        let mut table = self.lock();
        let before: usize = table.values().map(Vec::len).sum();
        table.retain(|_, list| {
            list.retain(|b| b.flow.and_then(|f| f.flow).is_none_or(&keep));
            !list.is_empty()
        });
        before - table.values().map(Vec::len).sum::<usize>()
    }

    /// Starts a task that removes the bindings of each connection as it
    /// closes (`closings` from `BoundServer::transport`). It ends with the
    /// transport, or once every clone of this location is gone.
    pub fn spawn_flow_keeper(&self, mut closings: ConnectionClosings) {
        let table: Weak<_> = Arc::downgrade(&self.table);
        tokio::spawn(async move {
            while let Some(closing) = closings.next().await {
                let Some(table) = table.upgrade() else { break };
                let location = Location { table };
                let gone = match closing {
                    Closing::Closed(id) => location.drop_flow(id),
                    Closing::Missed => location.retain_flows(|id| closings.is_open(id)),
                };
                if gone > 0 {
                    info!(gone, "bindings removed with their closed flow");
                }
            }
        });
    }

    /// Starts a task that runs [`Location::sweep`] every `every`. It ends
    /// by itself once every clone of this location is gone.
    pub fn spawn_sweeper(&self, every: Duration) {
        let table: Weak<_> = Arc::downgrade(&self.table);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(table) = table.upgrade() else { break };
                let gone = Location { table }.sweep(Instant::now());
                if gone > 0 {
                    debug!(gone, "swept lapsed bindings");
                }
            }
        });
    }

    /// Processes a REGISTER (RFC 3261 §10.3 steps 5 to 8) at `now` and
    /// returns the response. The bindings change all together or not at
    /// all.
    pub fn register(&self, req: &Request, options: &RegistrarOptions, now: Instant) -> Response {
        self.register_from(req, None, options, now)
    }

    /// [`register`](Self::register) for a REGISTER that came from
    /// `origin`: its contacts are bound to that flow when they must be
    /// reached through it (see [`Binding::flow`]).
    pub fn register_from(
        &self,
        req: &Request,
        origin: Option<&Origin>,
        options: &RegistrarOptions,
        now: Instant,
    ) -> Response {
        match self.try_register(req, origin, options, now) {
            Ok(resp) | Err(resp) => resp,
        }
    }

    fn try_register(
        &self,
        req: &Request,
        origin: Option<&Origin>,
        options: &RegistrarOptions,
        now: Instant,
    ) -> Result<Response, Refusal> {
        let bad = |why: &str| req.reply(StatusCode::BAD_REQUEST).reason(why.to_owned());
        // Step 5: the address-of-record.
        let to = req
            .headers
            .to_header()
            .ok_or_else(|| bad("Missing To header"))?;
        let aor = canonical_aor(to.addr.uri()).ok_or_else(|| {
            req.reply(StatusCode::NOT_FOUND)
                .reason("Not a SIP address-of-record")
        })?;
        let call_id = req
            .headers
            .call_id()
            .map(|c| c.to_string())
            .unwrap_or_default();
        let cseq = req.headers.cseq().map_or(0, |c| c.seq);
        let contacts = req
            .headers
            .typed_all::<Contact>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.reason()))?;
        let header_expires = match req.headers.typed::<Expires>() {
            Some(Ok(e)) => Some(e.0),
            Some(Err(e)) => return Err(bad(e.reason())),
            None => None,
        };

        let mut table = self.lock();
        let mut list = live(&mut table, &aor, now).to_vec();
        let mut uses_outbound = false;
        let out_of_order = || {
            req.reply(StatusCode::SERVER_INTERNAL_ERROR)
                .reason("Out of order CSeq")
        };

        if contacts.iter().any(Contact::is_star) {
            // Step 6: `*` only alone and with Expires: 0.
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(bad(
                    "Wildcard Contact needs Expires: 0 and no other Contact",
                ));
            }
            // Remove each binding unless this request is older than it.
            if list.iter().any(|b| b.call_id == call_id && cseq <= b.cseq) {
                return Err(out_of_order());
            }
            list.clear();
        } else {
            // Step 7: check every contact first, then apply them all.
            let mut updates = Vec::with_capacity(contacts.len());
            for contact in contacts {
                let asked = contact
                    .expires()
                    .or(header_expires)
                    .unwrap_or(options.default_expires);
                if asked != 0 && asked < options.min_expires {
                    return Err(req
                        .reply(StatusCode::INTERVAL_TOO_BRIEF)
                        .typed(&MinExpires(options.min_expires)));
                }
                updates.push((contact, asked.min(options.max_expires)));
            }
            let supports_outbound = req
                .headers
                .typed_all::<Supported>()
                .filter_map(Result::ok)
                .any(|s| s.contains("outbound"));
            for (contact, expires) in updates {
                let uri = contact.addr().map(|a| a.uri().clone());
                let outbound = supports_outbound.then(|| outbound_key(&contact)).flatten();
                let flow = origin
                    .filter(|o| outbound.is_some() || o.protocol.is_websocket())
                    .map(Target::flow_of);
                uses_outbound |= outbound.is_some();
                // RFC 5626 §6: the same instance and reg-id is the same
                // binding; otherwise the same URI (§10.3 step 7).
                let found = list.iter().position(|b| match (&outbound, &b.outbound) {
                    (Some(new), Some(old)) => new == old,
                    _ => b
                        .uri()
                        .zip(uri.as_ref())
                        .is_some_and(|(a, b)| a.equivalent(b)),
                });
                if let Some(i) = found
                    && list[i].call_id == call_id
                    && cseq <= list[i].cseq
                {
                    return Err(out_of_order());
                }
                let binding = Binding {
                    contact: stored_form(contact),
                    call_id: call_id.clone(),
                    cseq,
                    expires_at: now + Duration::from_secs(expires.into()),
                    flow,
                    outbound,
                };
                match (found, expires) {
                    (Some(i), 0) => {
                        list.remove(i);
                    }
                    (Some(i), _) => list[i] = binding,
                    (None, 0) => {}
                    (None, _) => list.push(binding),
                }
            }
        }

        // Step 8: the current bindings, each with its remaining lifetime.
        let mut resp = req.reply(StatusCode::OK);
        for b in &list {
            resp.headers
                .push_typed(&b.contact.clone().with_expires(b.remaining(now)));
        }
        resp.headers
            .append(HeaderName::Date, http_date(SystemTime::now()));
        if uses_outbound {
            // RFC 5626 §6: the registrar says it applied outbound.
            resp.headers.append(HeaderName::Require, "outbound");
        }
        info!(%aor, bindings = list.len(), "registered");
        if list.is_empty() {
            table.remove(&aor);
        } else {
            table.insert(aor, list);
        }
        Ok(resp)
    }
}

/// The live bindings of `aor`, lapsed ones dropped.
fn live<'t>(
    table: &'t mut HashMap<String, Vec<Binding>>,
    aor: &str,
    now: Instant,
) -> &'t [Binding] {
    let Some(list) = table.get_mut(aor) else {
        return &[];
    };
    list.retain(|b| b.expires_at > now);
    if list.is_empty() {
        table.remove(aor);
        return &[];
    }
    &table[aor]
}

/// A Contact's `+sip.instance` and `reg-id` (RFC 5626 §4.2), when it
/// has both.
fn outbound_key(contact: &Contact) -> Option<(String, u32)> {
    let params = contact.params();
    let instance = params.get("+sip.instance")?;
    let reg_id = params.get("reg-id")?.parse().ok()?;
    Some((instance.trim_matches('"').to_owned(), reg_id))
}

/// A Contact as stored: no `expires` (the response writes the remaining
/// lifetime), the URI in angle brackets so parameters stay header
/// parameters.
fn stored_form(contact: Contact) -> Contact {
    match contact {
        Contact::Address {
            mut addr,
            mut params,
        } => {
            params.remove("expires");
            addr.set_angle_brackets(true);
            Contact::Address { addr, params }
        }
        star => star,
    }
}

/// RFC 3261 §10.3 steps 3 and 4 at `now`: with [`RegistrarOptions::auth`]
/// set, the REGISTER must carry valid Digest credentials (else the `401`
/// challenge or `400` to send back), and their user may change only the
/// bindings of the address-of-record whose user part is its username (else
/// `403`). `Ok(None)` when no authentication is configured.
pub fn authorize(
    req: &Request,
    options: &RegistrarOptions,
    now: Instant,
) -> Result<Option<AuthenticatedUser>, Response> {
    let Some(auth) = &options.auth else {
        return Ok(None);
    };
    // Step 3: authenticate (RFC 3261 §22). A registrar is a UAS: 401 and
    // WWW-Authenticate, not 407.
    let user = auth.verify_at(req, false, now.into_std()).map_err(|e| {
        debug!(error = %e, "REGISTER not authenticated");
        auth.reject_at(req, &e, false, now.into_std())
    })?;
    // Step 4: authorized for this address-of-record? A request without a
    // usable To is left to the registration steps, which refuse it.
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

/// The canonical address-of-record for a To URI (RFC 3261 §10.3 step 5):
/// `sip:user@host[:port]` with escapes resolved, the host in lower case and
/// every parameter and header dropped; `sips:` is folded into `sip:`.
/// `None` for a non-SIP URI.
pub fn canonical_aor(uri: &Uri) -> Option<String> {
    let sip = uri.as_sip()?;
    let host = sip.host_port().to_ascii_lowercase();
    Some(match sip.user() {
        Some(user) => format!("sip:{user}@{host}"),
        None => format!("sip:{host}"),
    })
}

/// An HTTP-date (RFC 7231 §7.1.1.1, as RFC 3261 §20.17 wants it):
/// `Sat, 13 Nov 2010 23:29:00 GMT`.
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
    )
}

/// What every handler value shares: the location service and the options.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The bindings by address-of-record.
    pub location: Location,
    /// Limits and authentication.
    pub options: Arc<RegistrarOptions>,
}

/// The handler: a view of the shared [`Registry`].
#[derive(Debug, Clone)]
pub struct Registrar {
    registry: Registry,
}

impl Registrar {
    /// A handler value working on the shared `registry` (the server's
    /// factory: `.state(registry).handler(Registrar::new)`).
    pub fn new(registry: &Registry) -> Self {
        Registrar {
            registry: registry.clone(),
        }
    }
}

impl Registrar {
    /// Where a request for a registered user goes (RFC 3261 §16.5): to
    /// every live binding of the Request-URI's address-of-record, forked
    /// in parallel, highest `q` first, each over its flow when it has one;
    /// `480` when the user has none.
    pub fn route(&self, req: &Request) -> Action {
        let now = Instant::now();
        let mut bindings = canonical_aor(&req.uri)
            .map(|aor| self.registry.location.bindings(&aor, now))
            .unwrap_or_default();
        bindings.sort_by(|a, b| {
            b.contact
                .q()
                .unwrap_or(1.0)
                .total_cmp(&a.contact.q().unwrap_or(1.0))
        });
        let targets: Vec<ProxyTarget> = bindings
            .iter()
            .filter_map(|b| {
                let uri = b.uri()?.clone();
                Some(match b.flow {
                    Some(flow) => ProxyTarget::over(uri, flow),
                    None => uri.into(),
                })
            })
            .collect();
        if targets.is_empty() {
            info!(from = %caller(req), uri = %req.uri, "no binding");
            return req.reply(StatusCode::TEMPORARILY_UNAVAILABLE).into_action();
        }
        for t in &targets {
            info!(from = %caller(req), uri = %req.uri, target = %t, "routing to a binding");
        }
        Proxy::fork(targets).into_action()
    }
}

#[uas_handler]
impl Registrar {
    async fn register(&mut self, req: &Request, cx: &mut Context) -> Response {
        let now = Instant::now();
        let Registry { location, options } = &self.registry;
        if let Err(refusal) = authorize(req, options, now) {
            debug!(status = %refusal.status, "REGISTER refused");
            return refusal;
        }
        let resp = location.register_from(req, cx.origin().as_ref(), options, now);
        debug!(status = %resp.status, "REGISTER answered");
        resp
    }

    async fn invite(&mut self, req: &Request) -> Action {
        self.route(req)
    }

    async fn message(&mut self, req: &Request) -> Action {
        self.route(req)
    }

    async fn info(&mut self, req: &Request) -> Action {
        self.route(req)
    }

    async fn subscribe(&mut self, req: &Request) -> Action {
        self.route(req)
    }

    async fn notify(&mut self, req: &Request) -> Action {
        self.route(req)
    }

    async fn refer(&mut self, req: &Request) -> Action {
        self.route(req)
    }

    async fn update(&mut self, req: &Request) -> Action {
        self.route(req)
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

/// Binds the `registrar` example on `listen` (UDP and TCP; port 0 picks
/// one) over `location`, and starts its sweeper.
pub async fn bind(
    listen: impl Into<Listen>,
    options: RegistrarOptions,
    location: Location,
) -> parrot::Result<BoundServer<Registrar>> {
    let sweep = options.sweep_interval;
    let server = listen
        .into()
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory)
        // Require and bodies of what is routed are the callee's business.
        .proxies(ROUTED)
        .state(Registry {
            location: location.clone(),
            options: Arc::new(options),
        })
        .handler(Registrar::new)
        .bind()
        .await?;
    location.spawn_sweeper(sweep);
    location.spawn_flow_keeper(server.transport().closed_connections());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(1_289_690_940);
        assert_eq!(http_date(t), "Sat, 13 Nov 2010 23:29:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(http_date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn canonical_aors() {
        for (uri, aor) in [
            ("sip:Alice@Example.COM", "sip:Alice@example.com"),
            ("sips:bob@example.com;transport=tcp", "sip:bob@example.com"),
            (
                "sip:%61lice@example.com:5070?subject=x",
                "sip:alice@example.com:5070",
            ),
            ("sip:example.com", "sip:example.com"),
        ] {
            assert_eq!(canonical_aor(&uri.parse().unwrap()).as_deref(), Some(aor));
        }
        assert_eq!(canonical_aor(&"tel:+15551234".parse().unwrap()), None);
    }
}
