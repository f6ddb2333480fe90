//! Stateful proxying (RFC 3261 §16), the protocol part: checking a request
//! before it is forwarded (§16.3), building each forwarded copy (§16.6),
//! routing (§16.4, §16.12) and choosing the response to send back (§16.7).
//! The runtime that sends, relays and cancels lives in the server.

use crate::message::typed::{MaxForwards, Route, Via};
use crate::message::{
    Header, HeaderName, Host, Method, Request, Response, SipUri, StatusCode, Text, Uri,
};
use crate::transport::{Protocol, Target};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Where a handler sends a request instead of answering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The targets; several fork the request in parallel (§16.6).
    pub targets: Vec<ProxyTarget>,
    /// Further groups of targets, tried in turn once every branch of the
    /// groups before has ended without a 2xx or 6xx (sequential forking
    /// by `q`, §16.6: "in order of decreasing q"). Usually empty.
    pub later: Vec<Vec<ProxyTarget>>,
    /// Where the request goes when every group has failed and the best
    /// response has one of the given statuses (voicemail on 480, 486 or
    /// 408, say). Usually `None`.
    pub fallback: Option<Box<Fallback>>,
    /// Whether to add a Record-Route so that requests inside the dialog
    /// come back through this proxy (§16.6 step 4).
    pub record_route: bool,
}

/// Where a [`Proxy`] goes when its targets failed ([`Proxy::fallback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The target.
    pub target: ProxyTarget,
    /// The best-response statuses that send the request to it.
    pub on: Vec<StatusCode>,
}

/// One target of a [`Proxy`]: the Request-URI of its branch, and the flow
/// to send it over when the URI alone cannot reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    /// The branch's Request-URI (§16.6 step 2).
    pub uri: Uri,
    /// The flow to send over instead of resolving the URI (RFC 5626 §5.3):
    /// a registered Contact reached through the connection its REGISTER
    /// came on, as a browser on a WebSocket (whose Contact host is
    /// `.invalid`, RFC 7118 §5) or a client behind NAT must be. A branch
    /// whose flow has closed, or closes before the answer, gets `430 Flow
    /// Failed`.
    pub flow: Option<Target>,
    /// Routes the branch takes before its Request-URI, pushed on top of
    /// the request's Route set: a registered contact's Path (RFC 3327
    /// §5.3). Empty for most targets.
    pub route: Vec<Uri>,
}

impl ProxyTarget {
    /// A target reached over `flow` (see [`Target::flow_of`]).
    pub fn over(uri: Uri, flow: Target) -> ProxyTarget {
        ProxyTarget {
            uri,
            flow: Some(flow),
            route: Vec::new(),
        }
    }
}

impl From<Uri> for ProxyTarget {
    fn from(uri: Uri) -> ProxyTarget {
        ProxyTarget {
            uri,
            flow: None,
            route: Vec::new(),
        }
    }
}

impl std::fmt::Display for ProxyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flow {
            Some(t) => write!(f, "{} over {} {}", self.uri, t.protocol, t.addr),
            None => write!(f, "{}", self.uri),
        }
    }
}

impl Proxy {
    /// Proxies to one target, record-routing.
    pub fn to(target: impl Into<ProxyTarget>) -> Proxy {
        Proxy {
            targets: vec![target.into()],
            later: Vec::new(),
            fallback: None,
            record_route: true,
        }
    }

    /// Forks to several targets in parallel: the first 2xx wins and the
    /// other branches are cancelled; a 6xx ends the fork (§16.7).
    pub fn fork<T: Into<ProxyTarget>>(targets: impl IntoIterator<Item = T>) -> Proxy {
        Proxy {
            targets: targets.into_iter().map(Into::into).collect(),
            later: Vec::new(),
            fallback: None,
            record_route: true,
        }
    }

    /// Forks to groups of targets in turn (RFC 3261 §16.6, as a location
    /// service's bindings by decreasing `q`: [`Registrar::targets`]
    /// gives them so): the targets of a group in parallel; the next group
    /// once every branch of the previous has ended without a 2xx or a
    /// 6xx. Empty groups are skipped.
    ///
    /// [`Registrar::targets`]: crate::registrar::Registrar::targets
    pub fn fork_in_turn(groups: impl IntoIterator<Item = Vec<ProxyTarget>>) -> Proxy {
        let mut groups = groups.into_iter().filter(|g| !g.is_empty());
        Proxy {
            targets: groups.next().unwrap_or_default(),
            later: groups.collect(),
            fallback: None,
            record_route: true,
        }
    }

    /// When every target has failed and the best response's status is
    /// one of `on`, forwards to `target` instead, whose answer is the one
    /// the caller gets (e.g. a voicemail server when the callee is busy,
    /// unavailable or does not answer: 486, 480, 408).
    pub fn fallback(
        mut self,
        target: impl Into<ProxyTarget>,
        on: impl IntoIterator<Item = StatusCode>,
    ) -> Proxy {
        self.fallback = Some(Box::new(Fallback {
            target: target.into(),
            on: on.into_iter().collect(),
        }));
        self
    }

    /// Whether there is no target at all.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.later.iter().all(Vec::is_empty)
    }

    /// Without Record-Route: later requests of the dialog may bypass us.
    pub fn without_record_route(mut self) -> Proxy {
        self.record_route = false;
        self
    }
}

/// This proxy's own address, as it appears in Via, Route and Record-Route.
#[derive(Debug, Clone)]
pub struct Local {
    /// Our host (an IP address).
    pub host: Host,
    /// Our port.
    pub port: u16,
    /// The protocol of the hop (for `transport=tcp` or `transport=tls`
    /// in Record-Route).
    pub protocol: Protocol,
}

impl Local {
    /// Whether `uri` names this proxy (§16.4: "indicates this proxy").
    pub fn is(&self, uri: &Uri) -> bool {
        uri.as_sip().is_some_and(|u| {
            u.host().eq_ignore_case(&self.host) && u.port().unwrap_or(5060) == self.port
        })
    }

    /// Our Record-Route / Route URI, `<sip:host:port;lr>`, with the
    /// transport of the hop when it is not UDP.
    pub fn route_uri(&self) -> Uri {
        self.route_uri_for(false)
    }

    /// [`route_uri`](Self::route_uri), or a SIPS URI when `sips` (§16.6
    /// step 4: a request to a SIPS URI is record-routed with one).
    pub fn route_uri_for(&self, sips: bool) -> Uri {
        let mut u = SipUri::new(self.host.clone())
            .with_port(self.port)
            .with_lr();
        match self.protocol {
            Protocol::Udp => {}
            Protocol::Tcp => u = u.with_transport("tcp"),
            Protocol::Tls if sips => u = u.secure(),
            Protocol::Tls => u = u.with_transport("tls"),
            // RFC 7118 §7: `transport=ws`, on a SIPS URI for WSS.
            Protocol::Ws => u = u.with_transport("ws"),
            Protocol::Wss => u = u.secure().with_transport("ws"),
        }
        Uri::Sip(u)
    }

    fn is_via(&self, via: &Via) -> bool {
        via.host.eq_ignore_case(&self.host) && via.port.unwrap_or(5060) == self.port
    }
}

/// A copy of a request ready to go to one branch.
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// The request, with our Via on top.
    pub request: Request,
    /// Where to send it: the top Route, or the Request-URI (§16.12).
    pub next_hop: Uri,
}

/// The loop-detection part of our branch parameters (§16.6 step 8): a
/// hash of the fields that stay the same when a request loops back to us
/// unchanged, and change on a spiral.
fn loop_key(req: &Request) -> String {
    let mut h = DefaultHasher::new();
    req.uri.to_string().hash(&mut h);
    req.headers.from_tag().hash(&mut h);
    req.headers.to_tag().hash(&mut h);
    req.headers.call_id().hash(&mut h);
    req.headers.cseq().map(|c| c.seq).hash(&mut h);
    for v in req.headers.values(HeaderName::ProxyRequire) {
        v.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// §16.3 and §16.4 on a received request: refuses it with 483 when
/// Max-Forwards is 0, 482 when it looped back to us unchanged; removes our
/// own entry from the top of Route, and undoes a strict router's rewrite.
pub fn check_and_preprocess(req: &mut Request, me: &Local) -> Result<(), StatusCode> {
    // §16.3 step 3.
    if let Some(Ok(MaxForwards(0))) = req.headers.typed::<MaxForwards>() {
        return Err(StatusCode::TOO_MANY_HOPS);
    }
    // §16.4: a strict router put our Record-Route URI in the Request-URI;
    // the real one is the last Route value.
    if me.is(&req.uri) && req.headers.contains(HeaderName::Route) {
        let routes: Vec<Route> = req
            .headers
            .typed_all::<Route>()
            .filter_map(Result::ok)
            .collect();
        if let Some(last) = routes.last() {
            req.uri = last.addr.uri().clone();
            rewrite_routes(req, &routes[..routes.len() - 1]);
        }
    }
    // §16.4: "If the first value in the Route header field indicates this
    // proxy, the proxy MUST remove that value from the request."
    if let Some(Ok(top)) = req.headers.typed::<Route>()
        && me.is(top.addr.uri())
    {
        req.headers.remove_first_value(HeaderName::Route);
    }
    // §16.3 step 4: a Via of ours whose loop key matches this request's
    // means the request came back unchanged.
    let key = loop_key(req);
    let looped = req
        .headers
        .typed_all::<Via>()
        .filter_map(Result::ok)
        .any(|v| {
            me.is_via(&v)
                && v.branch()
                    .and_then(|b| b.rsplit_once('.'))
                    .is_some_and(|(_, k)| k == key)
        });
    if looped {
        return Err(StatusCode::LOOP_DETECTED);
    }
    Ok(())
}

/// RFC 5658 §3: removes, after our own first entry, every further Route
/// entry that names us on another of our listeners (a double
/// Record-Route put there when a dialog's requests change transport in
/// this proxy). `ours` lists our address on each listener.
pub fn pop_own_routes(req: &mut Request, ours: &[Local]) {
    while let Some(Ok(top)) = req.headers.typed::<Route>() {
        if !ours.iter().any(|me| me.is(top.addr.uri())) {
            break;
        }
        req.headers.remove_first_value(HeaderName::Route);
    }
}

/// The Record-Route entries of a branch (§16.6 step 4), in the order
/// [`forward`] pushes them: ours towards the callee alone, or, when the
/// request leaves on another transport or address than it came in on,
/// ours towards the caller and then towards the callee (RFC 5658 §4,
/// double Record-Route), so each side's later requests reach us over its
/// own transport.
pub fn record_routes(inbound: &Local, outbound: &Local) -> Vec<Local> {
    let same = inbound.protocol == outbound.protocol
        && inbound.port == outbound.port
        && inbound.host.eq_ignore_case(&outbound.host);
    if same {
        vec![outbound.clone()]
    } else {
        vec![inbound.clone(), outbound.clone()]
    }
}

fn rewrite_routes(req: &mut Request, routes: &[Route]) {
    req.headers.remove(HeaderName::Route);
    for r in routes {
        req.headers
            .push(Header::known(HeaderName::Route, r.to_string()));
    }
}

/// §16.6: the copy of `req` for one branch. `target` replaces the
/// Request-URI (`None` keeps it: in-dialog requests routed by Route);
/// `via` is our Via for the hop (its branch gets the loop key appended);
/// `record_route` our Record-Route entries, pushed in order (empty: none;
/// see [`record_routes`]).
pub fn forward(
    req: &Request,
    target: Option<&Uri>,
    mut via: Via,
    record_route: &[Local],
) -> Forwarded {
    let key = loop_key(req);
    let mut fwd = req.clone();
    // Step 2: the Request-URI.
    if let Some(t) = target {
        fwd.uri = match t {
            Uri::Sip(u) => Uri::Sip(u.to_request_uri()),
            other => other.clone(),
        };
    }
    // Step 3: Max-Forwards.
    let mf = match fwd.headers.typed::<MaxForwards>() {
        Some(Ok(MaxForwards(n))) => n.saturating_sub(1),
        _ => 70,
    };
    fwd.headers.set(HeaderName::MaxForwards, mf.to_string());
    // Step 4: Record-Route.
    if fwd.method != Method::Ack && fwd.method != Method::Cancel {
        let sips = fwd.uri.as_sip().is_some_and(|u| u.is_secure());
        for me in record_route {
            let rr = format!("<{}>", me.route_uri_for(sips));
            fwd.headers
                .push_front(Header::known(HeaderName::RecordRoute, rr));
        }
    }
    // Step 6: a strict next hop gets the Request-URI as its last route.
    let routes: Vec<Route> = fwd
        .headers
        .typed_all::<Route>()
        .filter_map(Result::ok)
        .collect();
    if let Some(first) = routes.first()
        && !first.addr.uri().as_sip().is_some_and(SipUri::lr)
    {
        let mut rest: Vec<Route> = routes[1..].to_vec();
        rest.push(Route::new(fwd.uri.clone()));
        fwd.uri = first.addr.uri().clone();
        rewrite_routes(&mut fwd, &rest);
    }
    // Step 7/8: our Via, its branch carrying the loop key.
    let branch = format!("{}.{key}", via.branch().unwrap_or("z9hG4bK"));
    via.set_branch(Text::from(branch));
    fwd.headers
        .push_front(Header::known(HeaderName::Via, via.to_string()));
    // §16.12: the next hop is the top Route, else the Request-URI.
    let next_hop = fwd
        .headers
        .typed::<Route>()
        .and_then(Result::ok)
        .map(|r| r.addr.uri().clone())
        .unwrap_or_else(|| fwd.uri.clone());
    Forwarded {
        request: fwd,
        next_hop,
    }
}

/// §16.7 step 3: a response from a branch loses our Via before it goes
/// upstream. `None` if the top Via is not ours (§16.7 step 1: such a
/// response is not for us and is dropped).
pub fn strip_our_via(mut resp: Response, me: &Local) -> Option<Response> {
    let top = resp.headers.top_via()?;
    if !me.is_via(&top) {
        return None;
    }
    resp.headers.remove_first_value(HeaderName::Via)?;
    if !resp.headers.contains(HeaderName::Via) {
        return None;
    }
    Some(resp)
}

/// §16.7 step 6: the best of the final responses received on all branches:
/// a 6xx if any, else one of the lowest class; a lone 503 becomes 500; the
/// challenges of every 401/407 are gathered (§16.7 step 7). `None` if no
/// branch answered.
pub fn best_response(responses: &[Response]) -> Option<Response> {
    let chosen = responses
        .iter()
        .find(|r| r.status.as_u16() >= 600)
        .or_else(|| responses.iter().min_by_key(|r| r.status.as_u16() / 100))?;
    let mut best = chosen.clone();
    if best.status == StatusCode::SERVICE_UNAVAILABLE {
        best.status = StatusCode::SERVER_INTERNAL_ERROR;
        best.reason = Text::from_static(StatusCode::SERVER_INTERNAL_ERROR.reason());
    }
    if matches!(best.status.as_u16(), 401 | 407) {
        for other in responses.iter().filter(|r| !std::ptr::eq(*r, chosen)) {
            for name in [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate] {
                for h in other.headers.get_all(name) {
                    best.headers.push(h.clone());
                }
            }
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests;
