//! `proxy`: a stateful proxy (RFC 3261 §16) that sends every new request
//! to fixed targets.
//!
//! - INVITE, MESSAGE, INFO, SUBSCRIBE, NOTIFY, REFER, PUBLISH, UPDATE and
//!   extension methods arriving outside a dialog are proxied to
//!   [`ProxyOptions::targets`]: to the one target, or forked to all of them
//!   in parallel (the first 2xx wins and the other branches are cancelled;
//!   a 6xx ends the fork). The handler only decides where a request goes
//!   (by returning [`Action::Proxy`]); the runtime does the rest: the
//!   Max-Forwards check (`483` at 0) and loop detection (`482`), our Via
//!   and (unless turned off) a Record-Route, relaying `1xx` (not `100`)
//!   and `2xx` at once, the best final response once every branch is done
//!   (§16.7), CANCEL propagation and Timer C.
//! - When a target has no user part, the Request-URI's user is kept:
//!   `sip:bob@proxy` sent to `sip:10.0.0.2:5060` becomes
//!   `sip:bob@10.0.0.2:5060`.
//! - Requests inside a proxied dialog (ACK, BYE, re-INVITE, …) never reach
//!   the handler: the runtime forwards them, by their Route when they carry
//!   our Record-Route, else to the callee's Contact from the 2xx (SIPp's
//!   built-in `uac` sends its ACK and BYE straight to the proxy, with no
//!   Route).
//! - OPTIONS for a user (`sip:alice@proxy`) is proxied like any request;
//!   OPTIONS for the proxy itself (no user part) is answered here (`200`
//!   with `Allow`), and so is one with `Max-Forwards: 0` (§16.3). REGISTER
//!   gets `405`: a proxy is not a registrar.

use crate::caller;
use crate::listen::Listen;
use parrot::message::{SipUri, Uri};
use parrot::prelude::*;
use parrot::proxy::Proxy;
use parrot::server::{BoundServer, Factory, IntoAction, MethodSet, ServerBuilder};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use tracing::info;

/// How the `proxy` example behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Where requests go; several fork each request in parallel.
    pub targets: Vec<Uri>,
    /// Whether to add a Record-Route, so that the dialog's later requests
    /// come back through the proxy (RFC 3261 §16.6 step 4; default on).
    pub record_route: bool,
}

impl ProxyOptions {
    /// Proxies to `target`, record-routing.
    pub fn to(target: Uri) -> Self {
        ProxyOptions {
            targets: vec![target],
            record_route: true,
        }
    }

    /// Forks to `targets` in parallel, record-routing.
    pub fn fork(targets: impl IntoIterator<Item = Uri>) -> Self {
        ProxyOptions {
            targets: targets.into_iter().collect(),
            record_route: true,
        }
    }
}

/// The handler: one value per request, all sharing the options.
#[derive(Debug, Clone)]
pub struct Forwarder {
    options: Arc<ProxyOptions>,
}

impl Forwarder {
    /// A handler value proxying as `options` says.
    pub fn new(options: Arc<ProxyOptions>) -> Self {
        Forwarder { options }
    }

    /// Where `req` goes: the proxy decision, logged.
    pub fn decide(&self, req: &Request) -> Action {
        let targets: Vec<Uri> = self
            .options
            .targets
            .iter()
            .map(|t| retarget(t, &req.uri))
            .collect();
        // The runtime's span already names the method and Call-ID.
        info!(
            from = %caller(req),
            uri = %req.uri,
            targets = %Targets(&targets),
            record_route = self.options.record_route,
            "{}",
            if targets.len() > 1 { "forking" } else { "proxying" }
        );
        let proxy = Proxy::fork(targets);
        let proxy = if self.options.record_route {
            proxy
        } else {
            proxy.without_record_route()
        };
        proxy.into_action()
    }
}

#[uas_handler]
impl Forwarder {
    async fn invite(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn message(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn info(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn subscribe(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn notify(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn refer(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn publish(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn update(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn other(&mut self, req: &Request) -> Action {
        self.decide(req)
    }

    async fn options(&mut self, req: &Request) -> Action {
        // RFC 3261 §11: an OPTIONS for a user (`sip:alice@proxy`) is that
        // user's business and is proxied; only one for the proxy itself
        // (no user part) is answered here. (One with Max-Forwards 0 the
        // runtime answers itself, §16.3.)
        if req.uri.as_sip().is_some_and(|u| u.user().is_some()) {
            return self.decide(req);
        }
        info!(from = %caller(req), "answering OPTIONS locally");
        parrot::server::options_reply(req, ALLOW)
    }
}

/// What the proxy's `Allow` lists (everything it proxies, besides what the
/// runtime always lists).
const ALLOW: MethodSet = MethodSet::EMPTY
    .with("INVITE")
    .with("BYE")
    .with("MESSAGE")
    .with("INFO")
    .with("SUBSCRIBE")
    .with("NOTIFY")
    .with("REFER")
    .with("PUBLISH")
    .with("UPDATE");

/// `target` as the Request-URI of a request that arrived for `uri`: a
/// target without a user part takes `uri`'s.
pub fn retarget(target: &Uri, uri: &Uri) -> Uri {
    match (target, uri.as_sip().and_then(SipUri::user)) {
        (Uri::Sip(t), Some(user)) if t.user().is_none() => Uri::Sip(t.clone().with_user(&user)),
        _ => target.clone(),
    }
}

/// Parses a `--to` value: a `sip:` or `sips:` URI naming where to proxy.
pub fn parse_target(s: &str) -> Result<Uri, String> {
    let uri: Uri = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if !uri.is_sip() {
        return Err(format!("{s:?} is not a sip: URI"));
    }
    Ok(uri)
}

struct Targets<'a>(&'a [Uri]);

impl fmt::Display for Targets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

/// The `proxy` example's server for `options`, not yet bound: add
/// listeners ([`Listen::apply`], `ServerBuilder::listen`, or the test
/// kit's in-memory network) and bind it. Refuses an empty target list.
pub fn server(options: ProxyOptions) -> parrot::Result<ServerBuilder<Factory<Forwarder>>> {
    if options.targets.is_empty() {
        return Err(parrot::Error::new(
            parrot::ErrorKind::Config,
            "the proxy needs a target",
        ));
    }
    for t in &options.targets {
        info!(target = %t, record_route = options.record_route, "proxy target");
    }
    let options = Arc::new(options);
    Ok(Server::builder()
        .release_memory_with(crate::cli::release_memory)
        // Require and bodies are the next hop's business (§16).
        .proxies(ALLOW)
        .handler(move || Forwarder::new(options.clone())))
}

/// Binds the `proxy` example on `listen` (UDP and TCP; port 0 picks one,
/// see `BoundServer::local_addr`). Refuses an empty target list.
pub async fn bind(
    listen: impl Into<Listen>,
    options: ProxyOptions,
) -> parrot::Result<BoundServer<Forwarder>> {
    listen.into().apply(server(options)?).bind().await
}

/// Serves the `proxy` example with `options` until `shutdown` completes.
pub async fn serve_with(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ProxyOptions,
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
    fn a_target_without_user_keeps_the_request_uris() {
        let t = uri("sip:127.0.0.1:5070;transport=tcp");
        assert_eq!(
            retarget(&t, &uri("sip:bob@example.com")).to_string(),
            "sip:bob@127.0.0.1:5070;transport=tcp"
        );
        assert_eq!(retarget(&t, &uri("sip:example.com")), t);
        let t = uri("sip:carol@127.0.0.1:5070");
        assert_eq!(retarget(&t, &uri("sip:bob@example.com")), t);
    }

    #[test]
    fn targets_must_be_sip_uris() {
        assert!(parse_target("sip:127.0.0.1:5070").is_ok());
        assert!(parse_target("sips:proxy.example.com").is_ok());
        assert!(parse_target("tel:+15551234").is_err());
        assert!(parse_target("127.0.0.1:5070").is_err());
        assert!(parse_target("").is_err());
    }

    #[test]
    fn allow_lists_the_proxied_methods() {
        let allow = ALLOW.allow();
        for m in ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "MESSAGE"] {
            assert!(allow.contains(m), "{allow}");
        }
        assert!(!allow.contains("REGISTER"), "{allow}");
    }
}
