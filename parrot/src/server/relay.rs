//! The proxy runtime (RFC 3261 §16): forwards a request to its branches
//! through client transactions, relays provisional and 2xx responses at
//! once, sends the best final response when every branch is done (§16.7),
//! cancels the other branches when one succeeds or a CANCEL arrives
//! (§16.10), runs Timer C (§16.8), and forwards the requests of proxied
//! dialogs (the 2xx ACK end to end, §16.11).

use super::inbox::{Aside, Inbox, Mailbox, ProxiedDialog};
use crate::client::NextHop;
use crate::endpoint::{ClientEvent, Endpoint};
use crate::locate::Locator;
use crate::message::{Method, Request, Response, StatusCode, Uri};
use crate::proxy::{
    Local, Proxy, ProxyTarget, best_response, check_and_preprocess, forward, pop_own_routes,
    record_routes, strip_our_via,
};
use crate::time::sleep_until;
use crate::transaction::TransactionId;
use crate::transport::{Origin, Protocol, SendOptions, Target};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Timer C (§16.6 step 11): an INVITE branch with no final response for
/// this long after its last provisional is cancelled.
const TIMER_C: Duration = Duration::from_secs(180);

/// Our address on `protocol`, as used in Via and Record-Route.
pub(crate) fn local(endpoint: &Endpoint, protocol: Protocol) -> Option<Local> {
    // The address our Via carries, without building a Via (whose branch
    // would cost a random number for nothing).
    let addr = endpoint.sending_addr(protocol)?;
    Some(Local {
        host: crate::message::Host::from(addr.ip()),
        port: addr.port(),
        protocol,
    })
}

/// Our address on each protocol we listen on (for RFC 5658's second
/// Route entry naming us).
fn ours(endpoint: &Endpoint) -> Vec<Local> {
    Protocol::ALL
        .iter()
        .filter_map(|p| local(endpoint, *p))
        .collect()
}

/// Resolves a next-hop URI to a transport target (RFC 3263 without SRV):
/// the same rules as the client's (`sips:` and `transport=tls` over TLS).
pub(crate) async fn resolve(uri: &Uri) -> Result<Target, String> {
    resolve_hop(NextHop::from_uri(uri)).await
}

/// [`resolve`] for our own request inside a dialog set up over `dialog`
/// (a TLS dialog stays on TLS, `NextHop::in_dialog`).
pub(crate) async fn resolve_in_dialog(uri: &Uri, dialog: Protocol) -> Result<Target, String> {
    resolve_hop(NextHop::in_dialog(uri, dialog)).await
}

async fn resolve_hop(hop: Result<NextHop, crate::client::ClientError>) -> Result<Target, String> {
    let hop = hop.map_err(|e| e.to_string())?;
    Target::resolve(hop.protocol, &hop.host, hop.port)
        .await
        .map_err(|e| e.to_string())
}

struct Branch {
    request: Request,
    target: Target,
    /// The next servers of its URI, if this one fails (RFC 3263 §4.3).
    fallbacks: Vec<Target>,
    /// What it was started for, to start it again on a fallback.
    spec: ProxyTarget,
    /// Final response received (or synthesized).
    done: bool,
    provisional: bool,
    /// A CANCEL waits for the first provisional (§9.1).
    cancel_wanted: bool,
    cancel_sent: bool,
    timer_c: Option<Instant>,
}

/// How a proxied request is routed besides its targets.
#[derive(Clone, Copy)]
pub(crate) struct Routes<'a> {
    /// The outbound proxy every forwarded request goes through.
    pub(crate) outbound: Option<&'a Uri>,
    /// The location service targets are looked up in (§16.5).
    pub(crate) location: Option<&'a crate::registrar::Registrar>,
}

/// Proxies `req` (received on server transaction `upstream` from
/// `origin`) as `proxy` says. Returns the dialog it established, if any.
/// CANCEL notifications for `upstream` are taken from the session's
/// mailbox; anything else arriving meanwhile is kept for later.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run<E>(
    endpoint: &Endpoint,
    locator: &Locator,
    routes: Routes<'_>,
    upstream: TransactionId,
    origin: &Origin,
    req: &Request,
    proxy: Proxy,
    mailbox: &mut Mailbox<'_, E>,
    core: &mpsc::UnboundedSender<Aside<E>>,
) {
    let Some(me_in) = local(endpoint, origin.protocol) else {
        endpoint.respond(
            upstream,
            own_response(req, StatusCode::SERVER_INTERNAL_ERROR),
        );
        return;
    };
    let mut req = req.clone();
    if let Err(status) = check_and_preprocess(&mut req, &me_in) {
        if status == StatusCode::TOO_MANY_HOPS && req.method == Method::Options {
            // §16.3 step 3: an OPTIONS that can go no further is answered
            // by this element as its final recipient (§11).
            info!("OPTIONS with Max-Forwards 0 answered here");
            let mut resp = req.reply(StatusCode::OK);
            resp.headers.append(
                crate::message::HeaderName::Allow,
                crate::server::MethodSet::EMPTY.allow(),
            );
            endpoint.respond(upstream, resp);
            return;
        }
        info!(%status, "proxy refuses the request");
        endpoint.respond(upstream, own_response(&req, status));
        return;
    }
    pop_own_routes(&mut req, &ours(endpoint));
    let mut finals: Vec<Response> = Vec::new();
    let proxy = match routes.location {
        // §16.5: addresses-of-record become their bindings.
        Some(registrar) => {
            let (proxy, refusals) = super::location::expand(registrar, proxy).await;
            finals.extend(refusals.into_iter().map(|s| own_response(&req, s)));
            proxy
        }
        None => proxy,
    };
    if let Some(proxy) = routes.outbound {
        // §16.6 step 7: a policy to route through a given proxy pushes its
        // URI (a loose router) onto the Route header field.
        req.headers.push_front(crate::message::Header::known(
            crate::message::HeaderName::Route,
            format!("<{proxy}>"),
        ));
    }
    let invite = req.method == Method::Invite;
    let (events_tx, mut events) = mpsc::unbounded_channel::<(usize, Option<ClientEvent>)>();
    let mut branches: Vec<Branch> = Vec::new();
    let starter = Starter {
        endpoint,
        locator,
        req: &req,
        record_route: proxy.record_route.then_some(&me_in),
        events: &events_tx,
    };
    let mut groups = std::iter::once(proxy.targets).chain(proxy.later);
    let mut fallback = proxy.fallback;
    let mut answered = false;
    let mut forwarded_2xx = false;
    let mut dialog_known = false;
    let mut cancelled = false;
    let mut ended = false;
    loop {
        if !branches.iter().any(|b| !b.done) {
            // §16.6: the next group (by decreasing q) once every branch
            // of the ones before ended without a 2xx or a 6xx.
            if answered || cancelled || ended {
                break;
            }
            let group = match groups.next() {
                Some(group) => group,
                None => match fallback.take() {
                    Some(f) if best_response(&finals).is_some_and(|b| f.on.contains(&b.status)) => {
                        // The fallback's answer is the one that counts.
                        info!(target = %f.target, "every target failed: to the fallback");
                        finals.clear();
                        vec![f.target]
                    }
                    _ => break,
                },
            };
            starter.start(&group, &mut branches, &mut finals).await;
            continue;
        }
        let timer_c = branches
            .iter()
            .filter(|b| !b.done)
            .filter_map(|b| b.timer_c)
            .min();
        tokio::select! {
            ev = events.recv() => {
                let Some((i, ev)) = ev else { break };
                let b = &mut branches[i];
                match ev {
                    Some(ClientEvent::Response(resp)) => {
                        let Some(me) = local(endpoint, b.target.protocol) else { continue };
                        let Some(up) = strip_our_via(resp, &me) else { continue };
                        if up.status.is_provisional() {
                            b.provisional = true;
                            if invite {
                                b.timer_c = Some(Instant::now() + TIMER_C);
                            }
                            if b.cancel_wanted && !b.cancel_sent {
                                b.cancel_sent = true;
                                send_cancel(endpoint, &b.request, b.target);
                            }
                            // §16.7 step 5: provisionals other than 100 go up.
                            if up.status != StatusCode::TRYING && !answered {
                                endpoint.respond(upstream, up);
                            }
                        } else if up.status.is_success() {
                            b.done = true;
                            if invite && !dialog_known {
                                // Known to the core before the ACK can arrive.
                                if let Some(d) = proxied_dialog(&req, origin, &up, b.target).await {
                                    dialog_known = true;
                                    let _ = core.send(Aside::Proxied(Box::new(d)));
                                }
                            }
                            // §16.7 step 5: every 2xx is forwarded at once.
                            endpoint.respond(upstream, up);
                            answered = true;
                            forwarded_2xx = true;
                            if invite {
                                // §16.7 step 10: the other branches are cancelled.
                                cancel_pending(endpoint, &mut branches);
                            }
                        } else {
                            b.done = true;
                            if up.status == StatusCode::SERVICE_UNAVAILABLE
                                && starter.retry_elsewhere(&mut branches, i).await
                            {
                                continue;
                            }
                            if up.status.as_u16() >= 600 {
                                // A 6xx ends the fork (§16.7 step 10).
                                ended = true;
                                cancel_pending(endpoint, &mut branches);
                            }
                            finals.push(up);
                        }
                    }
                    Some(ClientEvent::Timeout(_)) => {
                        b.done = true;
                        if !starter.retry_elsewhere(&mut branches, i).await {
                            finals.push(own_response(&req, StatusCode::REQUEST_TIMEOUT));
                        }
                    }
                    Some(ClientEvent::TransportError) => {
                        b.done = true;
                        let flow = b.target.flow.is_some().then_some(b.target);
                        if !starter.retry_elsewhere(&mut branches, i).await {
                            finals.push(own_response(&req, unreachable(flow.as_ref())));
                        }
                    }
                    None => {
                        if !b.done {
                            b.done = true;
                            finals.push(own_response(&req, StatusCode::REQUEST_TIMEOUT));
                        }
                    }
                }
            }
            msg = mailbox.inbox.recv(), if !cancelled => match msg {
                Some(Inbox::Cancelled) => {
                    // §16.10: the layer answered the CANCEL (200) and the
                    // INVITE (487); the pending branches are cancelled.
                    cancelled = true;
                    answered = true;
                    cancel_pending(endpoint, &mut branches);
                }
                Some(other) => mailbox.deferred.push_back(other),
                None => cancelled = true,
            },
            () = sleep_until(timer_c) => {
                let now = Instant::now();
                for b in branches.iter_mut().filter(|b| !b.done && b.timer_c.is_some_and(|t| t <= now)) {
                    // §16.8: Timer C fired: cancel the branch; its 487
                    // (or a 408) ends it.
                    b.timer_c = None;
                    b.cancel_wanted = true;
                    if b.provisional && !b.cancel_sent {
                        b.cancel_sent = true;
                        send_cancel(endpoint, &b.request, b.target);
                    }
                }
            }
        }
    }
    drop(events_tx);
    if invite && forwarded_2xx {
        // §16.7 step 5 (RFC 6026 §8.2): the callee retransmits its 2xx
        // until the ACK comes (§13.3.1.4); each copy its branch passes up
        // goes upstream too, even when the 2xx was too malformed for the
        // dialog to be kept (no Contact, say).
        let endpoint = endpoint.clone();
        let targets: Vec<Protocol> = branches.iter().map(|b| b.target.protocol).collect();
        tokio::spawn(async move {
            while let Some((i, ev)) = events.recv().await {
                if let Some(ClientEvent::Response(resp)) = ev
                    && resp.status.is_success()
                    && let Some(me) = targets.get(i).and_then(|p| local(&endpoint, *p))
                    && let Some(up) = strip_our_via(resp, &me)
                {
                    endpoint.respond(upstream, up);
                }
            }
        });
    }
    if !answered {
        // §16.7 step 6: the best final response.
        let best = best_response(&finals)
            .unwrap_or_else(|| own_response(&req, StatusCode::REQUEST_TIMEOUT));
        debug!(status = %best.status, branches = branches.len(), "proxy sends its best response");
        endpoint.respond(upstream, best);
    }
}

/// What starting a branch needs: for the targets of each group, and
/// again on the next server of a branch whose server failed.
struct Starter<'a> {
    endpoint: &'a Endpoint,
    locator: &'a Locator,
    req: &'a Request,
    record_route: Option<&'a Local>,
    events: &'a mpsc::UnboundedSender<(usize, Option<ClientEvent>)>,
}

impl Starter<'_> {
    /// Starts a branch to each of `targets`; a target that cannot be
    /// reached gets its final response in `finals` instead.
    async fn start(
        &self,
        targets: &[ProxyTarget],
        branches: &mut Vec<Branch>,
        finals: &mut Vec<Response>,
    ) {
        for target in targets {
            let req = routed(self.req, target);
            let started = match hops(self.locator, &req, target).await {
                Ok(hops) => {
                    let index = branches.len();
                    let rr = self.record_route;
                    start_branch(self.endpoint, &req, target, hops, rr, index, self.events).await
                }
                Err(why) => Err(why),
            };
            match started {
                Ok(b) => branches.push(b),
                Err(why) => {
                    warn!(%target, %why, "proxy target unreachable");
                    finals.push(own_response(self.req, unreachable(target.flow.as_ref())));
                }
            }
        }
    }

    /// Starts branch `i` again on the next server of its URI after its
    /// server failed before any provisional response (RFC 3263 §4.3: a
    /// transport error, a timeout or a 503), as a new branch at the end of
    /// `branches`. `false` when there is none to try (the failure then
    /// counts).
    async fn retry_elsewhere(&self, branches: &mut Vec<Branch>, i: usize) -> bool {
        let b = &mut branches[i];
        if b.provisional || b.cancel_wanted || b.fallbacks.is_empty() {
            return false;
        }
        self.locator.failed(&b.target);
        let hops = std::mem::take(&mut b.fallbacks);
        let spec = b.spec.clone();
        let failed = b.target.addr;
        let index = branches.len();
        let req = routed(self.req, &spec);
        let rr = self.record_route;
        match start_branch(self.endpoint, &req, &spec, hops, rr, index, self.events).await {
            Ok(next) => {
                info!(%failed, next = %next.target.addr, "proxy branch goes to the next server (RFC 3263 §4.3)");
                branches.push(next);
                true
            }
            Err(why) => {
                warn!(%why, "no other server for the proxy branch");
                false
            }
        }
    }
}

/// `req` with `target`'s own routes (a binding's Path, RFC 3327 §5.3)
/// pushed on top of its Route set, first value on top (§16.6 step 7).
fn routed<'r>(req: &'r Request, target: &ProxyTarget) -> std::borrow::Cow<'r, Request> {
    if target.route.is_empty() {
        return std::borrow::Cow::Borrowed(req);
    }
    let mut req = req.clone();
    for uri in target.route.iter().rev() {
        req.headers.push_front(crate::message::Header::known(
            crate::message::HeaderName::Route,
            format!("<{uri}>"),
        ));
    }
    std::borrow::Cow::Owned(req)
}

/// The status for a branch that could not be sent: `430 Flow Failed`
/// when it had to take a flow (RFC 5626 §5.3), else `503`.
fn unreachable(flow: Option<&Target>) -> StatusCode {
    match flow {
        Some(_) => StatusCode::FLOW_FAILED,
        None => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The servers a branch to `target` may go to, in order: its flow, or the
/// servers of its next hop located by RFC 3263.
async fn hops(
    locator: &Locator,
    req: &Request,
    target: &ProxyTarget,
) -> Result<Vec<Target>, String> {
    if let Some(flow) = target.flow {
        return Ok(vec![flow]);
    }
    let next_hop = forward(req, Some(&target.uri), placeholder_via(), &[]).next_hop;
    // The URI's own rules (scheme, transport) first, for their errors.
    NextHop::from_uri(&next_hop).map_err(|e| e.to_string())?;
    match locator.locate(&next_hop).await {
        Ok(hops) if !hops.is_empty() => Ok(hops),
        Ok(_) => Err(format!("no server for {next_hop}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Starts one branch to `target` on the first of `hops` (the rest kept to
/// fail over to); `record_route` is our address towards the caller when
/// the dialog is to be record-routed.
async fn start_branch(
    endpoint: &Endpoint,
    req: &Request,
    target: &ProxyTarget,
    mut hops: Vec<Target>,
    record_route: Option<&Local>,
    index: usize,
    events: &mpsc::UnboundedSender<(usize, Option<ClientEvent>)>,
) -> Result<Branch, String> {
    // The hop decides the protocol, which decides our Via and Record-Route.
    let uri = Some(&target.uri);
    if hops.is_empty() {
        return Err(format!("no server for {}", target.uri));
    }
    let hop = hops.remove(0);
    let via = endpoint
        .via(hop.protocol)
        .ok_or_else(|| format!("no {:?} listener", hop.protocol))?;
    let rr = match (record_route, local(endpoint, hop.protocol)) {
        (Some(inbound), Some(outbound)) => record_routes(inbound, &outbound),
        _ => Vec::new(),
    };
    let fwd = forward(req, uri, via, &rr);
    let mut tx = endpoint
        .request(fwd.request.clone(), hop)
        .await
        .map_err(|e| e.to_string())?;
    let events = events.clone();
    tokio::spawn(async move {
        while let Some(ev) = tx.next().await {
            if events.send((index, Some(ev))).is_err() {
                return;
            }
        }
        let _ = events.send((index, None));
    });
    Ok(Branch {
        request: fwd.request,
        target: hop,
        fallbacks: hops,
        spec: target.clone(),
        done: false,
        provisional: false,
        cancel_wanted: false,
        cancel_sent: false,
        timer_c: None,
    })
}

fn placeholder_via() -> crate::message::typed::Via {
    crate::message::typed::Via::new(
        crate::message::typed::Transport::Udp,
        crate::message::Host::Ipv4([0, 0, 0, 0].into()),
        None,
        crate::random::branch(),
    )
}

/// Cancels every pending INVITE branch: now if it had a provisional,
/// else on its first one (§9.1).
fn cancel_pending(endpoint: &Endpoint, branches: &mut [Branch]) {
    for b in branches
        .iter_mut()
        .filter(|b| !b.done && b.request.method == Method::Invite)
    {
        b.cancel_wanted = true;
        if b.provisional && !b.cancel_sent {
            b.cancel_sent = true;
            send_cancel(endpoint, &b.request, b.target);
        }
    }
}

fn send_cancel(endpoint: &Endpoint, invite: &Request, target: Target) {
    // §9.1, built the same way as the client's own CANCELs.
    let Some(cancel) = crate::transaction::cancel_request(invite) else {
        warn!("INVITE without Via or CSeq: CANCEL not built");
        return;
    };
    let endpoint = endpoint.clone();
    tokio::spawn(async move {
        match endpoint.request(cancel.clone(), target).await {
            Ok(tx) => {
                let r = tx.final_response(&cancel).await;
                debug!(status = %r.status, "CANCEL answered");
            }
            Err(e) => warn!(error = %e, "CANCEL not sent"),
        }
    });
}

async fn proxied_dialog(
    req: &Request,
    origin: &Origin,
    ok: &Response,
    branch: Target,
) -> Option<ProxiedDialog> {
    let callee_uri = ok
        .headers
        .typed::<crate::message::typed::Contact>()
        .and_then(Result::ok)
        .and_then(|c| c.addr().map(|a| a.uri().clone()))?;
    // A flow stays the way to the callee (its Contact may not resolve:
    // a browser's is `.invalid`, RFC 7118 §5).
    let callee = match branch.flow {
        Some(_) => branch,
        None => resolve(&callee_uri).await.unwrap_or(branch),
    };
    Some(ProxiedDialog {
        call_id: req.headers.call_id()?.clone(),
        caller_tag: req.headers.from_tag()?,
        callee_tag: ok.headers.to_tag()?,
        caller: Target::flow_of(origin),
        callee_uri,
        callee,
        since: Instant::now(),
        last_sent: None,
    })
}

/// Where a forwarded request of a proxied dialog stands in line: it waits
/// for the one before to be sent, and says when it has been.
#[derive(Default)]
pub(crate) struct Order {
    after: Option<oneshot::Receiver<()>>,
    sent: Option<oneshot::Sender<()>>,
}

impl Order {
    /// The next place in `dialog`'s line.
    pub(crate) fn next(dialog: &mut ProxiedDialog) -> Order {
        let (sent, next) = oneshot::channel();
        Order {
            after: dialog.last_sent.replace(next),
            sent: Some(sent),
        }
    }

    /// Waits for the request before (or for its task to have given up).
    async fn wait(&mut self) {
        if let Some(after) = self.after.take() {
            let _ = after.await;
        }
    }

    /// Lets the next one go.
    fn done(&mut self) {
        if let Some(sent) = self.sent.take() {
            let _ = sent.send(());
        }
    }
}

/// Forwards a request of a proxied dialog (or one routed to us by Route)
/// to `hop`. An ACK goes statelessly (§16.11: the 2xx ACK is end to end);
/// anything else through a client transaction whose responses are relayed
/// on `upstream`.
pub(crate) async fn forward_in_dialog(
    endpoint: Endpoint,
    upstream: Option<TransactionId>,
    origin: Origin,
    mut req: Request,
    retarget: Option<Uri>,
    hop: Option<Target>,
    mut order: Order,
) {
    let Some(me_in) = local(&endpoint, origin.protocol) else {
        return;
    };
    if let Err(status) = check_and_preprocess(&mut req, &me_in) {
        if let Some(id) = upstream {
            endpoint.respond(id, own_response(&req, status));
        }
        return;
    }
    pop_own_routes(&mut req, &ours(&endpoint));
    let probe = forward(&req, retarget.as_ref(), placeholder_via(), &[]);
    let hop = match hop {
        Some(h) if !req.headers.contains(crate::message::HeaderName::Route) => h,
        _ => match resolve(&probe.next_hop).await {
            Ok(h) => h,
            Err(why) => {
                warn!(%why, "next hop unreachable");
                if let Some(id) = upstream {
                    endpoint.respond(id, own_response(&req, StatusCode::SERVICE_UNAVAILABLE));
                }
                return;
            }
        },
    };
    let Some(via) = endpoint.via(hop.protocol) else {
        return;
    };
    let mut fwd = forward(&req, retarget.as_ref(), via, &[]).request;
    order.wait().await;
    match upstream {
        None => {
            let options = SendOptions {
                allow_tcp_fallback: false,
                local: None,
            };
            if let Err(e) = endpoint
                .transport()
                .send_request(&mut fwd, hop, options)
                .await
            {
                warn!(error = %e, "ACK not forwarded");
            }
            order.done();
        }
        Some(id) => {
            let Some(me) = local(&endpoint, hop.protocol) else {
                return;
            };
            let mut tx = match endpoint.request(fwd.clone(), hop).await {
                Ok(tx) => tx,
                Err(e) => {
                    warn!(error = %e, "request not forwarded");
                    endpoint.respond(id, own_response(&req, StatusCode::SERVER_INTERNAL_ERROR));
                    return;
                }
            };
            // Handed to the transaction layer, which sends in order.
            order.done();
            while let Some(ev) = tx.next().await {
                match ev {
                    ClientEvent::Response(resp) => {
                        let fin = resp.status.is_final();
                        if let Some(up) = strip_our_via(resp, &me)
                            && up.status != StatusCode::TRYING
                        {
                            endpoint.respond(id, up);
                        }
                        if fin {
                            return;
                        }
                    }
                    ClientEvent::Timeout(_) => {
                        endpoint.respond(id, own_response(&req, StatusCode::REQUEST_TIMEOUT));
                        return;
                    }
                    ClientEvent::TransportError => {
                        let flow = hop.flow.is_some().then_some(&hop);
                        endpoint.respond(id, own_response(&req, unreachable(flow)));
                        return;
                    }
                }
            }
        }
    }
}

/// A response the proxy itself sends (483, 482, 408, 503 …): it answers
/// as a UAS here, so the To header gets a tag (§8.2.6.2).
fn own_response(req: &Request, status: StatusCode) -> Response {
    let mut resp = req.reply(status);
    if let Some(to) = resp.headers.to_header().map(std::borrow::Cow::into_owned)
        && to.tag().is_none()
    {
        resp.headers.set_typed(&to.with_tag(crate::random::tag()));
    }
    resp
}
