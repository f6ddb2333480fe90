//! `b2bua`: a back-to-back user agent (RFC 3261 §6) that places a new
//! call for every call it takes, routed like a tiny PBX.
//!
//! - Every INVITE outside a dialog is routed by its Request-URI's user:
//!   the route with the longest matching prefix ([`Route`], `--route
//!   PREFIX=URI`; `--to URI` is the route with the empty prefix) gives the
//!   target, whose host replaces the Request-URI's while the user is kept
//!   (`sip:1001@pbx` routed to `sip:10.0.0.2:5080` calls
//!   `sip:1001@10.0.0.2:5080`; a target with a user of its own keeps it).
//!   A user no route matches gets `404 Not Found`.
//! - The new call is placed with a [`Client`] of its own (its own port,
//!   [`B2buaOptions::outgoing`]) and bridged with
//!   [`parrot::b2bua::Bridge`]: ringing and early media relayed, the
//!   callee's answer relayed as our `200`, the callee's refusal relayed
//!   (status and reason; `401`/`407` become `403`, `503` becomes `500`),
//!   CANCEL passed on, BYE from either side ending both calls, re-INVITE
//!   and UPDATE offers passed on as re-INVITEs and UPDATEs either way,
//!   INFO and MESSAGE too. A callee that rings longer than
//!   [`B2buaOptions::no_answer`] is cancelled and the caller gets `408`.
//! - A REFER from either side (a blind or attended transfer, RFC 3515,
//!   RFC 5589) is carried out here ([`Bridge::transfers`]): `202`, a new
//!   call to the `Refer-To` target (with its `Replaces`, if any), its
//!   progress in NOTIFYs. The caller's: the target is joined to the
//!   callee, and the caller left to hang up. The callee's: the target
//!   takes the callee's place with the caller, the callee hung up. An
//!   attended transfer between two calls through here joins their
//!   callees and hangs up the replaced call. A failed transfer leaves
//!   the call as it was.
//! - Unlike the `proxy` example, the two calls are separate dialogs
//!   (Call-IDs, tags, CSeqs, Contacts): the caller only ever talks to the
//!   B2BUA, and either call ending ends the other whatever happened
//!   (timeouts, no ACK, a transport failure).

use crate::caller;
use crate::listen::Listen;
use parrot::b2bua::{Bridge, BridgeEvent, Bridges};
use parrot::client::Client;
use parrot::message::{SipUri, Uri};
use parrot::prelude::*;
use parrot::server::BoundServer;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// Where calls for users starting with [`prefix`](Route::prefix) go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The start of the Request-URI's user part (empty: every user).
    pub prefix: String,
    /// The target; without a user part, the Request-URI's is kept.
    pub target: Uri,
}

impl Route {
    /// Every call to `target` (the `--to` flag).
    pub fn to(target: Uri) -> Route {
        Route {
            prefix: String::new(),
            target,
        }
    }
}

/// How the `b2bua` example behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2buaOptions {
    /// The routes; the longest matching prefix wins.
    pub routes: Vec<Route>,
    /// Where the outgoing calls' client listens (UDP and TCP; port 0
    /// picks one). Default: the listen address's IP, any port.
    pub outgoing: Option<SocketAddr>,
    /// How long a callee may ring before it is cancelled and the caller
    /// gets `408` (default three minutes).
    pub no_answer: Duration,
    /// Credentials the outgoing calls answer a `401`/`407` with.
    pub credentials: Option<(String, String)>,
}

impl B2buaOptions {
    /// Every call to `target`.
    pub fn to(target: Uri) -> Self {
        B2buaOptions {
            routes: vec![Route::to(target)],
            outgoing: None,
            no_answer: parrot::b2bua::DEFAULT_NO_ANSWER,
            credentials: None,
        }
    }

    /// The target of a call to `uri`: the longest matching route's, with
    /// `uri`'s user when the route's target has none.
    pub fn target_for(&self, uri: &Uri) -> Option<Uri> {
        let user = uri.as_sip().and_then(SipUri::user).unwrap_or_default();
        self.routes
            .iter()
            .filter(|r| user.starts_with(r.prefix.as_str()))
            .max_by_key(|r| r.prefix.len())
            .map(|r| crate::proxy::retarget(&r.target, uri))
    }
}

/// What every call shares.
#[derive(Debug)]
struct Shared {
    client: Client,
    options: B2buaOptions,
}

/// The handler: one value, and one [`Bridge`], per call.
#[derive(Debug)]
pub struct B2bua {
    shared: Arc<Shared>,
    bridge: Bridge,
}

#[uas_handler]
impl B2bua {
    async fn invite(&mut self, req: &Request, cx: &mut Context<'_, BridgeEvent>) -> Response {
        if cx.in_dialog() {
            return self.bridge.reinvite(req).await;
        }
        let Some(target) = self.shared.options.target_for(&req.uri) else {
            info!(from = %caller(req), uri = %req.uri, "no route: 404");
            return req.reply(StatusCode::NOT_FOUND);
        };
        info!(call_id = cx.call_id(), from = %caller(req), uri = %req.uri, %target, "incoming call: bridging");
        let shared = self.shared.clone();
        self.bridge.dial(&shared.client, target, req, cx).await
    }

    async fn bye(&mut self, req: &Request) -> Response {
        self.bridge.bye(req)
    }

    async fn update(&mut self, req: &Request) -> Response {
        self.bridge.update(req).await
    }

    async fn info(&mut self, req: &Request) -> Response {
        self.bridge.relay(req).await
    }

    async fn message(&mut self, req: &Request) -> Response {
        self.bridge.relay(req).await
    }

    async fn refer(&mut self, req: &Request, cx: &mut Context<'_, BridgeEvent>) -> Response {
        info!(call_id = cx.call_id(), refer_to = ?cx.refer_to().map(|t| t.to_string()), "caller transfers the callee");
        self.bridge.refer(req, cx).await
    }

    async fn cancel(&mut self, _req: &Request, cx: &mut Context<'_, BridgeEvent>) {
        info!(call_id = cx.call_id(), "caller cancelled");
    }

    async fn event(&mut self, ev: BridgeEvent, cx: &mut Context<'_, BridgeEvent>) -> Action {
        self.bridge.event(ev, cx).await
    }
}

/// Parses a `--route` value: `PREFIX=URI`, the URI a `sip:` or `sips:`
/// one (`PREFIX` may be empty: every user).
pub fn parse_route(s: &str) -> Result<Route, String> {
    let (prefix, target) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not PREFIX=URI"))?;
    Ok(Route {
        prefix: prefix.to_owned(),
        target: crate::proxy::parse_target(target)?,
    })
}

/// Binds the `b2bua` example on `listen` (UDP and TCP; port 0 picks one)
/// and its client on [`B2buaOptions::outgoing`]. Refuses an empty route
/// list.
pub async fn bind(
    listen: impl Into<Listen>,
    options: B2buaOptions,
) -> parrot::Result<BoundServer<B2bua>> {
    if options.routes.is_empty() {
        return Err(parrot::Error::new(
            parrot::ErrorKind::Config,
            "the b2bua needs a route (--to or --route)",
        ));
    }
    let listen: Listen = listen.into();
    let outgoing = options
        .outgoing
        .unwrap_or_else(|| SocketAddr::new(listen.addr.ip(), 0));
    let mut client = Client::builder().listen(outgoing);
    if let Some((user, password)) = &options.credentials {
        client = client.credentials(user.clone(), password.clone());
    }
    let client = client.bind().await?;
    for r in &options.routes {
        info!(prefix = %r.prefix, target = %r.target, "route");
    }
    info!(outgoing = ?client.local_addr(parrot::transport::Protocol::Udp), "outgoing calls from");
    let no_answer = options.no_answer;
    let shared = Arc::new(Shared { client, options });
    // One registry for every call: an attended transfer between two calls
    // through here joins their callees.
    let bridges = Bridges::new();
    listen
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory)
        .handler(move || B2bua {
            shared: shared.clone(),
            bridge: Bridge::new()
                .no_answer_timeout(no_answer)
                .transfers(true)
                .joins(&bridges),
        })
        .bind()
        .await
}

/// Serves the `b2bua` example with `options` until `shutdown` completes.
pub async fn serve_with(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: B2buaOptions,
) -> parrot::Result<()> {
    bind(listen, options)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn the_longest_prefix_routes_and_the_user_is_kept() {
        let options = B2buaOptions {
            routes: vec![
                parse_route("=sip:10.0.0.1:5060").unwrap(),
                parse_route("10=sip:10.0.0.2:5080;transport=tcp").unwrap(),
                parse_route("1001=sip:carol@10.0.0.3").unwrap(),
            ],
            ..B2buaOptions::to(uri("sip:unused"))
        };
        let target = |u: &str| options.target_for(&uri(u)).unwrap().to_string();
        assert_eq!(target("sip:2000@pbx"), "sip:2000@10.0.0.1:5060");
        assert_eq!(
            target("sip:1002@pbx"),
            "sip:1002@10.0.0.2:5080;transport=tcp"
        );
        assert_eq!(target("sip:1001@pbx"), "sip:carol@10.0.0.3");
        let only = B2buaOptions {
            routes: vec![parse_route("9=sip:10.0.0.9").unwrap()],
            ..options.clone()
        };
        assert!(only.target_for(&uri("sip:100@pbx")).is_none());
    }

    #[test]
    fn routes_are_prefix_equals_sip_uri() {
        assert!(parse_route("sip:10.0.0.1").is_err());
        assert!(parse_route("1=tel:+1555").is_err());
        assert_eq!(parse_route("=sip:h").unwrap().prefix, "");
    }
}
