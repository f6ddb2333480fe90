//! `pbx`: registered users call each other through it, and a call nobody
//! takes goes to voicemail.
//!
//! One handler ([`Pbx`]) over shared state: a [`Registrar`] over a
//! [`LocationStore`] (a [`MemoryStore`] by default, or any store given to
//! [`bind`]), the users ([`Accounts`]) and the pbx's own address.
//!
//! - **REGISTER**: the library registrar (RFC 3261 §10.3). With accounts,
//!   Digest authentication (`401`) and each user registers only its own
//!   address-of-record (`403`).
//! - **INVITE, MESSAGE, SUBSCRIBE, NOTIFY, REFER** outside a dialog, to a
//!   user (`sip:bob@<pbx>`): with accounts, the caller authenticates as
//!   to a proxy (RFC 3261 §22.3: `407` with `Proxy-Authenticate`), and may
//!   only send as itself (the From user is the authenticated one, else
//!   `403`). A Request-URI user with no account gets `404`. The request is
//!   then proxied (record-routed) to the user's bindings by decreasing `q`
//!   ([`Proxy::fork_in_turn`]); with none, `480 Temporarily Unavailable`.
//!   A location store that is down gives `503` with `Retry-After`.
//! - **Voicemail**: an INVITE whose callee is busy (`486`), unavailable
//!   (`480`, or no binding at all) or does not answer (`408`) goes to
//!   `sip:voicemail-<secret>@<the pbx's own address>` ([`Proxy::fallback`],
//!   the secret drawn from the OS generator at start): it
//!   spirals back here and the pbx answers it itself, `200` with an SDP
//!   answer to the offer ([`answer::negotiate`]: an unusable offer gets
//!   `415`, `400` or `488`), then hangs up with BYE after
//!   [`PbxOptions::voicemail_after`] unless the caller hangs up first. No
//!   message is recorded: the example negotiates media but handles none.
//! - Requests inside a dialog, ACK, CANCEL and BYE are the runtime's: it
//!   relays those of the dialogs it proxied, and hands those of a
//!   voicemail call to its handler value.
//! - Not done, as befits an example: checking that the Request-URI names
//!   a domain served here; telling the voicemail whose mailbox a call is
//!   for. The voicemail is known by its Request-URI, whose secret user
//!   part only the pbx's fallback knows: a direct call needs the caller's
//!   credentials like any other.

use crate::answer;
use crate::caller;
use crate::listen::Listen;
use parrot::auth::{DigestAuthenticator, Users};
use parrot::message::typed::RetryAfter;
use parrot::prelude::*;
use parrot::proxy::Proxy;
use parrot::registrar::{
    LocationStore, MemoryStore, Registrar, RegistrarConfig, SWEEP_INTERVAL, StoreError,
    canonical_aor,
};
use parrot::sdp::SessionDescription;
use parrot::server::{BoundServer, MethodSet};
use parrot::transport::Protocol;
use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tracing::{debug, info, warn};

/// The start of the user part of the voicemail's URI,
/// `sip:voicemail-<secret>@<pbx>`.
pub const VOICEMAIL_USER: &str = "voicemail";

/// The RTP port the voicemail's SDP names (no media is sent).
const VOICEMAIL_MEDIA_PORT: u16 = 40000;

/// The users of the pbx and how they authenticate.
#[derive(Debug, Clone)]
pub struct Accounts {
    auth: Arc<DigestAuthenticator>,
    names: BTreeSet<String>,
}

impl Accounts {
    /// Accounts for `users`, authenticated in `realm` with the library's
    /// default algorithms and nonce lifetime.
    pub fn new(realm: impl Into<String>, users: Users) -> Self {
        let realm = realm.into();
        Accounts::with(users, |users| DigestAuthenticator::new(realm, users))
    }

    /// Accounts for `users`, authenticated by what `make` builds over them
    /// (to choose the algorithms or the nonce lifetime).
    pub fn with(users: Users, make: impl FnOnce(Users) -> DigestAuthenticator) -> Self {
        // Taken before the users go into the authenticator, which does
        // not list them.
        let names = users.usernames().map(str::to_owned).collect();
        Accounts {
            auth: Arc::new(make(users)),
            names,
        }
    }

    /// The authenticator, shared by REGISTER and the routed requests (one
    /// nonce table).
    pub fn authenticator(&self) -> &Arc<DigestAuthenticator> {
        &self.auth
    }

    /// Whether `user` has an account.
    pub fn has(&self, user: &str) -> bool {
        self.names.contains(user)
    }
}

/// How the pbx behaves.
#[derive(Debug, Clone)]
pub struct PbxOptions {
    /// The shortest registration lifetime accepted, in seconds (default 60).
    pub min_expires: u32,
    /// The lifetime when a REGISTER gives none (default 3600).
    pub default_expires: u32,
    /// The longest lifetime granted (default 86400).
    pub max_expires: u32,
    /// The users; `None` (the default): no authentication, anyone may
    /// register any address-of-record and call anyone.
    pub accounts: Option<Accounts>,
    /// How long the voicemail keeps a call before it hangs up (default
    /// 20 s).
    pub voicemail_after: Duration,
}

impl PbxOptions {
    /// The library registrar's configuration for these options.
    pub fn registrar_config(&self) -> RegistrarConfig {
        RegistrarConfig {
            min_expires: self.min_expires,
            default_expires: self.default_expires,
            max_expires: self.max_expires,
            auth: self.accounts.as_ref().map(|a| a.auth.clone()),
            ..RegistrarConfig::default()
        }
    }
}

impl Default for PbxOptions {
    fn default() -> Self {
        let config = RegistrarConfig::default();
        PbxOptions {
            min_expires: config.min_expires,
            default_expires: config.default_expires,
            max_expires: config.max_expires,
            accounts: None,
            voicemail_after: Duration::from_secs(20),
        }
    }
}

/// What every handler value shares.
#[derive(Debug)]
struct Shared {
    registrar: Registrar,
    accounts: Option<Accounts>,
    voicemail_after: Duration,
    /// `sip:voicemail-<secret>@<our address>`, known once the listeners
    /// are bound.
    voicemail: OnceLock<Uri>,
}

impl Shared {
    /// Whether `uri` is our voicemail's.
    fn is_voicemail(&self, uri: &Uri) -> bool {
        let Some(vm) = self.voicemail.get().and_then(canonical_aor) else {
            return false;
        };
        // As addresses-of-record compare: parameters and case aside.
        canonical_aor(uri).is_some_and(|aor| aor == vm)
    }
}

/// Sent to a voicemail call when its time is up.
#[derive(Debug)]
pub struct VoicemailOver;

/// The handler: one value per request or call, over the shared state.
#[derive(Debug)]
pub struct Pbx {
    shared: Arc<Shared>,
    /// Set when this call is answered by the voicemail: the SDP we last
    /// sent, as text (for the `o=` versioning of a re-INVITE, RFC 3264
    /// §8).
    voicemail: Option<Box<str>>,
    /// The voicemail's hang-up timer is running.
    hangup_armed: bool,
}

impl Pbx {
    fn new(shared: Arc<Shared>) -> Self {
        Pbx {
            shared,
            voicemail: None,
            hangup_armed: false,
        }
    }
}

#[uas_handler]
impl Pbx {
    async fn register(&mut self, req: &Request, cx: &mut Context) -> Response {
        let resp = self
            .shared
            .registrar
            .register_from(req, cx.origin().as_ref())
            .await;
        debug!(status = %resp.status, "REGISTER answered");
        resp
    }

    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Action {
        // The spiral of our own fallback (or a re-INVITE in a voicemail
        // call): it comes from us, so it is not authenticated again (its
        // Proxy-Authorization was spent on the first pass).
        if self.voicemail.is_some() || self.shared.is_voicemail(&req.uri) {
            return self.answer_voicemail(req, cx).into_action();
        }
        self.route(req, cx, true).await
    }

    async fn ack(&mut self, _req: &Request, cx: &mut Context) {
        if self.voicemail.is_none() || self.hangup_armed {
            return;
        }
        // Timed from the ACK: the call is up from then on.
        self.hangup_armed = true;
        let handle = cx.handle();
        let after = self.shared.voicemail_after;
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            // Refused once the caller has hung up: nothing to do then.
            let _ = handle.send(VoicemailOver);
        });
    }

    async fn bye(&mut self, _req: &Request, cx: &mut Context) -> StatusCode {
        info!(call_id = cx.call_id(), "the caller left the voicemail");
        StatusCode::OK
    }

    async fn message(&mut self, req: &Request, cx: &mut Context) -> Action {
        self.route(req, cx, false).await
    }

    async fn subscribe(&mut self, req: &Request, cx: &mut Context) -> Action {
        self.route(req, cx, false).await
    }

    async fn notify(&mut self, req: &Request, cx: &mut Context) -> Action {
        self.route(req, cx, false).await
    }

    async fn refer(&mut self, req: &Request, cx: &mut Context) -> Action {
        self.route(req, cx, false).await
    }

    async fn event(&mut self, _ev: VoicemailOver, cx: &mut Context) -> Action {
        info!(call_id = cx.call_id(), "voicemail time is up: hanging up");
        Action::Stop("voicemail time is up".into())
    }
}

/// The methods routed to users ([`Pbx::route`]): their `Require` and
/// bodies are the callee's business.
const ROUTED: MethodSet = MethodSet::EMPTY
    .with("INVITE")
    .with("MESSAGE")
    .with("SUBSCRIBE")
    .with("NOTIFY")
    .with("REFER");

impl Pbx {
    /// Routes a request to a user (RFC 3261 §16.5): authenticated first
    /// when there are accounts, then to the user's bindings by decreasing
    /// `q`; an INVITE falls back to the voicemail.
    async fn route(&self, req: &Request, cx: &Context<'_, VoicemailOver>, invite: bool) -> Action {
        if cx.in_dialog() {
            // Only a voicemail call is a dialog of ours, and it takes no
            // such request.
            return req.reply(StatusCode::NOT_IMPLEMENTED).into_action();
        }
        if let Err(refusal) = self.authorize(req) {
            return refusal.into_action();
        }
        let user = req
            .uri
            .as_sip()
            .and_then(|u| u.user().map(|u| u.into_owned()));
        let known = match (&user, &self.shared.accounts) {
            (None, _) => false,
            (Some(user), Some(accounts)) => accounts.has(user),
            (Some(_), None) => true,
        };
        if !known {
            info!(from = %caller(req), uri = %req.uri, "no such user");
            return req.reply(StatusCode::NOT_FOUND).into_action();
        }
        let groups = match self.shared.registrar.targets(&req.uri).await {
            Ok(groups) => groups,
            Err(error) => return self.store_refusal(req, &error).into_action(),
        };
        let proxy = Proxy::fork_in_turn(groups);
        for t in proxy.targets.iter().chain(proxy.later.iter().flatten()) {
            info!(from = %caller(req), uri = %req.uri, target = %t, "routing to a binding");
        }
        let voicemail = self.shared.voicemail.get().filter(|_| invite).cloned();
        match voicemail {
            // Nobody to ring: straight to the voicemail, as a fallback on
            // 480 would.
            Some(vm) if proxy.is_empty() => {
                info!(from = %caller(req), uri = %req.uri, "no binding: to the voicemail");
                Proxy::to(vm).into_action()
            }
            Some(vm) => proxy
                .fallback(
                    vm,
                    [
                        StatusCode::TEMPORARILY_UNAVAILABLE,
                        StatusCode::BUSY_HERE,
                        StatusCode::REQUEST_TIMEOUT,
                    ],
                )
                .into_action(),
            None if proxy.is_empty() => {
                info!(from = %caller(req), uri = %req.uri, "no binding");
                req.reply(StatusCode::TEMPORARILY_UNAVAILABLE).into_action()
            }
            None => proxy.into_action(),
        }
    }

    /// With accounts: the request's Proxy-Authorization must be valid
    /// (else the `407` challenge, RFC 3261 §22.3, or `400`), and its user
    /// the From user (else `403`: nobody calls as someone else).
    fn authorize(&self, req: &Request) -> Result<(), Response> {
        let Some(accounts) = &self.shared.accounts else {
            return Ok(());
        };
        let auth = &accounts.auth;
        // Tokio's clock, so nonces age on a paused test clock too.
        let now = tokio::time::Instant::now().into_std();
        let user = auth.verify_at(req, true, now).map_err(|e| {
            debug!(error = %e, method = %req.method, "not authenticated");
            auth.reject_at(req, &e, true, now)
        })?;
        let from_user = req.headers.from_header().and_then(|f| {
            f.addr
                .uri()
                .as_sip()
                .and_then(|u| u.user().map(|u| u.into_owned()))
        });
        if from_user.as_deref() != Some(user.username.as_str()) {
            info!(user = %user.username, from = %caller(req), "From is another user");
            return Err(req
                .reply(StatusCode::FORBIDDEN)
                .reason("From does not match the authenticated user"));
        }
        Ok(())
    }

    /// The answer when the location store failed, as the registrar maps
    /// it: `503` with `Retry-After` when it is unavailable, else `500`.
    fn store_refusal(&self, req: &Request, error: &StoreError) -> Response {
        warn!(%error, uri = %req.uri, "location service failed");
        match error {
            StoreError::Unavailable(_) => {
                let retry = self.shared.registrar.config().retry_after.as_secs();
                req.reply(StatusCode::SERVICE_UNAVAILABLE)
                    .reason("Location service unavailable")
                    .typed(&RetryAfter::new(u32::try_from(retry).unwrap_or(u32::MAX)))
            }
            _ => req
                .reply(StatusCode::SERVER_INTERNAL_ERROR)
                .reason("Location service failed"),
        }
    }

    /// The voicemail answers: `200` with an SDP answer to the offer (or
    /// an offer, when the INVITE has none), or the refusal of an unusable
    /// offer.
    fn answer_voicemail(
        &mut self,
        req: &Request,
        cx: &Context<'_, VoicemailOver>,
    ) -> Result<Response, Response> {
        let ip = answer::media_ip(req, None);
        let mut sdp = answer::negotiate(req, ip, VOICEMAIL_MEDIA_PORT)?.into_sdp();
        // We wrote the previous one, so it parses.
        if let Some(previous) = self
            .voicemail
            .as_deref()
            .and_then(|t| SessionDescription::from_bytes(t.as_bytes()).ok())
        {
            sdp.continue_from(&previous);
        }
        let text = sdp.to_string();
        if self.voicemail.is_none() {
            info!(call_id = cx.call_id(), from = %caller(req), "voicemail answers");
        }
        self.voicemail = Some(text.as_str().into());
        Ok(req.reply(StatusCode::OK).sdp(text))
    }
}

/// The voicemail's URI for a pbx listening on `addr`: that address, or
/// loopback when it is a wildcard (the spiral only has to reach us).
fn voicemail_uri(addr: SocketAddr) -> Option<Uri> {
    let at = SocketAddr::new(crate::listen::reachable_ip(addr.ip()), addr.port());
    // A user part no caller can guess (128 bits from the OS generator):
    // only the pbx's own fallback reaches the voicemail without the
    // authentication every other call needs.
    let mut secret = [0u8; 16];
    getrandom::fill(&mut secret).ok()?;
    let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    format!("sip:{VOICEMAIL_USER}-{secret}@{at}").parse().ok()
}

/// Binds the `pbx` example on `listen` (UDP and TCP; port 0 picks one)
/// over `store`, and starts its flow keeper. A [`MemoryStore`] needs its
/// sweeper started by the caller ([`MemoryStore::spawn_sweeper`]).
pub async fn bind(
    listen: impl Into<Listen>,
    options: PbxOptions,
    store: Arc<dyn LocationStore>,
) -> parrot::Result<BoundServer<Pbx>> {
    let registrar = Registrar::new(store, options.registrar_config());
    let shared = Arc::new(Shared {
        registrar: registrar.clone(),
        accounts: options.accounts,
        voicemail_after: options.voicemail_after,
        voicemail: OnceLock::new(),
    });
    let server = listen
        .into()
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory)
        // Require and bodies of what is routed are the callee's business.
        .proxies(ROUTED)
        .state(shared.clone())
        .handler(|shared: &Arc<Shared>| Pbx::new(shared.clone()))
        .bind()
        .await?;
    // The port is known only now (port 0 picks one).
    let addr = server
        .local_addr(Protocol::Udp)
        .or_else(|| server.local_addr(Protocol::Tcp));
    match addr.and_then(voicemail_uri) {
        Some(vm) => {
            info!(voicemail = %vm, "voicemail ready");
            let _ = shared.voicemail.set(vm);
        }
        None => warn!("no UDP or TCP listener: calls get no voicemail"),
    }
    registrar.spawn_flow_keeper(server.transport().closed_connections());
    Ok(server)
}

/// Serves the `pbx` example with the default options (no accounts) and
/// an empty in-memory location service until `shutdown` completes.
pub async fn serve(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    let store = MemoryStore::new();
    store.spawn_sweeper(SWEEP_INTERVAL);
    serve_with(listen, shutdown, PbxOptions::default(), Arc::new(store)).await
}

/// Serves the `pbx` example with `options` over `store` until `shutdown`
/// completes.
pub async fn serve_with(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: PbxOptions,
    store: Arc<dyn LocationStore>,
) -> parrot::Result<()> {
    bind(listen, options, store)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
