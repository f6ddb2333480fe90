//! The client side (UAC): send requests and run calls from Rust code.
//!
//! A [`Client`] owns an [`Endpoint`] with its own listening address (UDP
//! and TCP on one port). It builds every request the way RFC 3261 §8.1.1
//! asks (a Via with `rport` and a fresh branch, `Max-Forwards: 70`, a From
//! with a fresh tag, To, a unique Call-ID, CSeq, and a Contact where a
//! dialog or a binding may follow), sends it to the next hop of its
//! Request-URI or of the configured outbound proxy (§8.1.2), answers one
//! `401`/`407` digest challenge per request when it has credentials
//! (§22.2, §22.3), and hands back the final response; a timeout becomes
//! `408` and a transport failure `503`, as §8.1.3.1 tells a UAC to treat
//! them.
//!
//! * [`Client::options`], [`Client::message`], [`Client::register`] and
//!   [`Client::request`]: one request, its final response.
//! * [`Client::register_and_refresh`]: a [`Registration`] that refreshes
//!   itself before it expires and is removed with
//!   [`Registration::unregister`].
//! * [`Client::invite`]: a [`PendingCall`] that yields the provisional
//!   responses, then an established [`Call`] (the ACK for the 2xx is sent,
//!   and sent again for every retransmitted 2xx, §13.2.2.4) or a
//!   [`CallError`]; [`PendingCall::cancel`] sends CANCEL (§9.1). The
//!   INVITE supports `100rel`: reliable provisional responses are
//!   acknowledged with PRACK (RFC 3262), and [`PendingCall::early_sdp`]
//!   holds the early media description. A [`Call`] changes the session
//!   with [`Call::update`] (RFC 3311), hangs up with [`Call::bye`] and
//!   notices the peer's BYE ([`Call::ended`]).
//! * Session timers (RFC 4028), on every call: asked for with
//!   [`ClientBuilder::session_timer`], else honoured when the callee sets
//!   one. The call refreshes the session by UPDATE (or re-INVITE when the
//!   callee does not allow UPDATE) when it is the refresher, and hangs up
//!   when the session expires ([`CallEnd::SessionExpired`]);
//!   [`Call::session_interval`] tells the interval in force.
//! * [`Client::subscribe`] / [`Client::subscribe_with`]: a
//!   [`Subscription`] (RFC 6665 §4.1) that answers its NOTIFYs, yields
//!   them as [`Notification`]s (each naming its dialog: a forked
//!   subscription has several), refreshes itself before expiry and ends
//!   with [`Subscription::unsubscribe`] or the notifier's `terminated`.
//! * [`Call::request`]: the application's own requests in a call (INFO,
//!   MESSAGE, OPTIONS...); [`Call::refer`]: a transfer (RFC 3515) whose
//!   [`Referral`] yields the progress the peer reports by NOTIFY;
//!   [`Call::replaces_target`] for an attended one (RFC 3891).
//! * [`Client::invite_with`]: the same call driven by a callback handler,
//!   an `impl` block marked [`#[uac_handler]`](macro@uac_handler).
//!
//! ```no_run
//! use parrot::client::{Client, Progress};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder()
//!     .listen("0.0.0.0:0".parse()?)
//!     .from("sip:alice@example.com")
//!     .credentials("alice", "secret")
//!     .bind()
//!     .await?;
//!
//! let pong = client.options("sip:bob@192.0.2.4").await?;
//! println!("OPTIONS: {} {}", pong.status, pong.reason);
//!
//! let mut pending = client.invite("sip:bob@192.0.2.4", "v=0\r\n...").await?;
//! let mut call = loop {
//!     match pending.next().await {
//!         Some(Progress::Provisional(r)) => println!("{} {}", r.status, r.reason),
//!         Some(Progress::Answered(call)) => break call,
//!         Some(Progress::Failed(e)) => return Err(e.into()),
//!         None => return Ok(()),
//!     }
//! };
//! tokio::time::sleep(std::time::Duration::from_secs(10)).await;
//! let bye = call.bye().await?;
//! println!("BYE: {}", bye.status);
//! # Ok(()) }
//! ```
//!
//! Requests the peer sends inside a call reach the call (§12.2.2): BYE is
//! answered `200` and ends it, OPTIONS `200`; an UPDATE without a body
//! (a session refresh) `200`; an UPDATE or re-INVITE whose offer has the
//! streams of our description (as many, of the same kinds) `200` with our
//! description as the answer, a re-INVITE without a body `200` with it as
//! the offer (the 2xx is retransmitted until the ACK, §13.3.1.4), another
//! offer `488` (the session stays as it is, §14.2) and an offer crossing
//! our own UPDATE's or re-INVITE's `491` (RFC 3311 §5.2); anything else
//! `405`; a NOTIFY of one of our REFERs' subscriptions `200`, any other
//! NOTIFY `481` (RFC 6665 §4.1.3). An UPDATE or re-INVITE asking for a session interval below our
//! Min-SE gets `422` (RFC 4028 §9), and the 2xx to one that asks for a
//! session timer, or while one runs, says which (`Session-Expires`) and
//! restarts it: the peer's refresh. A request for a dialog the client
//! does not know is answered `481`, and requests outside any dialog `405`
//! (the client accepts no calls).
//!
//! Not implemented: TLS (`sips:`), SRV/NAPTR lookups (RFC 3263: the host
//! of the URI is looked up with A/AAAA records), answering an offer that
//! arrives in a 2xx or in a reliable provisional response (an INVITE
//! should carry the offer), re-INVITEs of our own other than session
//! refreshes, session changes the application decides (the peer's new
//! offers are refused with `488`), retrying a refresh the callee answers
//! `422`.

mod builder;
mod call;
mod handler;
mod invite;
mod register;
pub(crate) mod request;
mod router;
mod subscribe;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

async fn resolve_hop(hop: NextHop) -> Result<Target, ClientError> {
    Target::resolve(hop.protocol, &hop.host, hop.port)
        .await
        .map_err(|_| ClientError::Unresolvable(hop.host))
}

#[cfg(test)]
mod tests;

pub use builder::ClientBuilder;
pub use call::{
    Call, CallEnd, CallError, CallHandle, PeerRequest, PeerRequests, PendingCall, Progress,
    ReferReports, Referral,
};
pub use handler::{CallOutcome, IntoUacAction, UacAction, UacHandler};
pub use invite::InviteOptions;
pub use parrot_macros::uac_handler;
pub use register::Registration;
pub use request::NextHop;
pub use subscribe::{Notification, SubscribeOptions, Subscription, SubscriptionEnd};

use crate::auth::DigestClient;
use crate::dialog::{DialogId, SessionTimerConfig};
use crate::endpoint::{ClientEvent, ClientTransaction, Endpoint};
use crate::locate::Locator;
use crate::message::typed::{Contact, Via};
use crate::message::{
    HeaderName, Host, Method, NameAddr, Request, Response, SipUri, StatusCode, Text, Uri,
};
use crate::transaction::TimerConfig;
use crate::transport::{Protocol, Target, TransportError};
use router::DialogInput;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Why a request could not be sent at all, or a client not started. (A
/// request that was sent always ends in a response: a timeout or a
/// transport failure is reported as a synthesized `408` or `503`,
/// §8.1.3.1.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A URI could not be parsed.
    #[error("invalid URI: {0}")]
    InvalidUri(String),
    /// The URI or its transport needs something not implemented (TLS,
    /// SCTP, a gateway for `tel:`), or the method must be sent another way.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The next hop's host name did not resolve.
    #[error("cannot resolve {0}")]
    Unresolvable(String),
    /// The client has no listener for the protocol the next hop needs.
    #[error("no {0} listener to send from")]
    NoListener(Protocol),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The listeners could not be bound.
    #[error("cannot listen: {0}")]
    Bind(TransportError),
    /// The request was answered with a final response that refuses it
    /// (e.g. the first REGISTER of [`Client::register_and_refresh`]).
    #[error("refused: {} {}", .0.status, .0.reason)]
    Rejected(Box<Response>),
}

impl From<ClientError> for crate::Error {
    fn from(e: ClientError) -> crate::Error {
        crate::Error::from_source(crate::ErrorKind::Client, e)
    }
}

/// Something a URI can be taken from: a [`Uri`], a [`SipUri`], or text
/// such as `"sip:bob@example.com"`.
pub trait IntoUri {
    /// The URI, or why the text is not one.
    fn into_uri(self) -> Result<Uri, ClientError>;
}

impl IntoUri for Uri {
    fn into_uri(self) -> Result<Uri, ClientError> {
        Ok(self)
    }
}

impl IntoUri for &Uri {
    fn into_uri(self) -> Result<Uri, ClientError> {
        Ok(self.clone())
    }
}

impl IntoUri for SipUri {
    fn into_uri(self) -> Result<Uri, ClientError> {
        Ok(Uri::Sip(self))
    }
}

impl IntoUri for &str {
    fn into_uri(self) -> Result<Uri, ClientError> {
        let s = self.trim();
        // Accept `<sip:...>` as written in a header.
        let s = s
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or(s);
        s.parse()
            .map_err(|e| ClientError::InvalidUri(format!("{self:?}: {e}")))
    }
}

impl IntoUri for String {
    fn into_uri(self) -> Result<Uri, ClientError> {
        self.as_str().into_uri()
    }
}

impl IntoUri for &String {
    fn into_uri(self) -> Result<Uri, ClientError> {
        self.as_str().into_uri()
    }
}

/// The live calls by dialog, for routing the peer's in-dialog requests
/// and retransmitted 2xx responses (§12.2.2, §13.2.2.4).
pub(crate) type CallTable = Arc<Mutex<HashMap<DialogId, mpsc::UnboundedSender<DialogInput>>>>;

/// A SIP client (UAC): sends requests and runs calls. Cheap to clone; the
/// listeners close when the last clone (and the last call) is dropped or
/// [`Client::shutdown`] is called.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    identity: Option<Uri>,
    display_name: Option<String>,
    credentials: Option<DigestClient>,
    outbound_proxy: Option<Uri>,
    user_agent: Option<Text>,
    timers: TimerConfig,
    /// The session timer we ask for on every call, if any (RFC 4028).
    session_timer: Option<SessionTimerConfig>,
    /// Finds the servers of a URI (RFC 3263).
    locator: Arc<Locator>,
    calls: CallTable,
    /// §10.2: "All registrations from a UAC SHOULD use the same Call-ID
    /// header field value for registrations sent to a particular
    /// registrar", with the CSeq incremented for each.
    register_call_id: Text,
    register_cseq: AtomicU32,
    router: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.router.abort();
        self.endpoint.shutdown();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("listeners", &self.inner.endpoint.transport().listeners())
            .field(
                "identity",
                &self.inner.identity.as_ref().map(|u| u.to_string()),
            )
            .field(
                "outbound_proxy",
                &self.inner.outbound_proxy.as_ref().map(|u| u.to_string()),
            )
            .finish_non_exhaustive()
    }
}

/// A request ready to go and where it goes.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) request: Request,
    pub(crate) target: Target,
    /// The next servers to try if `target` fails (RFC 3263 §4.3), in
    /// order.
    pub(crate) fallbacks: Vec<Target>,
}

impl Prepared {
    /// `request` to `target`, with no other server to fall back on.
    pub(crate) fn to(request: Request, target: Target) -> Prepared {
        Prepared {
            request,
            target,
            fallbacks: Vec::new(),
        }
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// The bound address of the listener of `protocol`.
    pub fn local_addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.inner.endpoint.transport().local_addr(protocol)
    }

    /// The endpoint underneath (transports and transactions).
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// Closes the listeners: requests in progress fail with `503`.
    pub fn shutdown(&self) {
        self.inner.endpoint.shutdown();
    }

    /// Sends OPTIONS to `uri` (§11) and returns the final response.
    pub async fn options(&self, uri: impl IntoUri) -> Result<Response, ClientError> {
        self.request(Method::Options, uri, None).await
    }

    /// Sends a MESSAGE (RFC 3428) with `body` of type `content_type` (e.g.
    /// `"text/plain"`) to `uri` and returns the final response.
    pub async fn message(
        &self,
        uri: impl IntoUri,
        content_type: &str,
        body: impl Into<bytes::Bytes>,
    ) -> Result<Response, ClientError> {
        self.request(Method::Message, uri, Some((content_type, body.into())))
            .await
    }

    /// Sends a request of `method` outside any dialog to `uri`, with an
    /// optional body `(content type, bytes)`, and returns the final
    /// response. INVITE goes through [`Client::invite`], REGISTER through
    /// [`Client::register`]; ACK and CANCEL are never sent on their own.
    pub async fn request(
        &self,
        method: Method,
        uri: impl IntoUri,
        body: Option<(&str, bytes::Bytes)>,
    ) -> Result<Response, ClientError> {
        if matches!(
            method,
            Method::Invite | Method::Ack | Method::Cancel | Method::Register
        ) {
            return Err(ClientError::Unsupported(format!(
                "{method} is not sent with Client::request"
            )));
        }
        let uri = uri.into_uri()?;
        let to = NameAddr::new(uri.clone());
        let mut p = self
            .prepare(method, uri, to, None, initial_cseq(), false)
            .await?;
        if let Some((content_type, body)) = body {
            p.request = request::with_body(p.request, content_type, body);
            p = self.fit_transport(p)?;
        }
        Ok(self.transact(p).await.1)
    }

    /// Sends REGISTER (§10.2) to `registrar` (e.g. `"sip:example.com"`)
    /// binding `contact` (default: this client's own address) to the
    /// address-of-record `aor` for `expires` seconds (0 removes the
    /// binding), and returns the final response. A `423 Interval Too
    /// Brief` is retried once with the registrar's Min-Expires (§10.2.8).
    pub async fn register(
        &self,
        registrar: impl IntoUri,
        aor: impl IntoUri,
        contact: Option<Uri>,
        expires: u32,
    ) -> Result<Response, ClientError> {
        let binding = register::Binding::new(self, registrar.into_uri()?, aor.into_uri()?, contact);
        Ok(binding.send(expires).await?.response)
    }

    /// Registers like [`Client::register`] and keeps the binding alive:
    /// the returned [`Registration`] re-registers at half the granted
    /// expiry (the `expires` parameter of our Contact in the 200, else its
    /// Expires header), until [`Registration::unregister`] removes the
    /// binding or the handle is dropped (which only stops refreshing).
    /// A first REGISTER that is not answered 2xx is an error
    /// ([`ClientError::Rejected`]).
    pub async fn register_and_refresh(
        &self,
        registrar: impl IntoUri,
        aor: impl IntoUri,
        contact: Option<Uri>,
        expires: u32,
    ) -> Result<Registration, ClientError> {
        let binding = register::Binding::new(self, registrar.into_uri()?, aor.into_uri()?, contact);
        Registration::start(binding, expires).await
    }

    /// Runs a call with a callback handler (an `impl` block marked
    /// [`#[uac_handler]`](macro@uac_handler)): its methods are called with
    /// each response, when the call is established and when it ends; see
    /// [`UacHandler`].
    pub async fn invite_with<H: UacHandler>(
        &self,
        uri: impl IntoUri,
        sdp_offer: impl Into<bytes::Bytes>,
        handler: &mut H,
    ) -> Result<CallOutcome, ClientError> {
        let pending = self.invite(uri, sdp_offer).await?;
        Ok(handler::drive(pending, handler).await)
    }

    // -- internals ---------------------------------------------------------

    pub(crate) fn calls(&self) -> &CallTable {
        &self.inner.calls
    }

    pub(crate) fn timers(&self) -> &TimerConfig {
        &self.inner.timers
    }

    /// The session timer of [`ClientBuilder::session_timer`], if set.
    pub(crate) fn session_timer(&self) -> Option<SessionTimerConfig> {
        self.inner.session_timer
    }

    pub(crate) fn register_call_id(&self) -> &Text {
        &self.inner.register_call_id
    }

    /// The next CSeq number of our REGISTERs (§10.2: incremented by one
    /// for each REGISTER with the same Call-ID), at least `floor`.
    pub(crate) fn next_register_cseq(&self, floor: u32) -> u32 {
        let mut cur = self.inner.register_cseq.load(Ordering::Relaxed);
        loop {
            let next = cur
                .max(floor)
                .saturating_add(1)
                .min(crate::message::typed::CSeq::MAX);
            match self.inner.register_cseq.compare_exchange(
                cur,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Where a request inside a dialog whose INVITE went over `dialog`
    /// goes, its first hop being `first_hop` (see [`NextHop::in_dialog`]):
    /// a host name is located by RFC 3263 (its first server over the
    /// hop's transport), an address is taken as it is.
    pub(crate) async fn resolve_in_dialog(
        &self,
        first_hop: &Uri,
        dialog: Protocol,
    ) -> Result<Target, ClientError> {
        let hop = NextHop::in_dialog(first_hop, dialog)?;
        if hop.host.parse::<IpAddr>().is_err()
            && let Ok(targets) = self.inner.locator.locate(first_hop).await
            && let Some(t) = targets.iter().find(|t| t.protocol == hop.protocol)
        {
            return Ok(*t);
        }
        resolve_hop(hop).await
    }

    /// The local address requests to `target` are sent from: the
    /// listener's, with the address the system routes to the target when
    /// the listener is bound to a wildcard.
    pub(crate) fn local_for(&self, target: &Target) -> Result<SocketAddr, ClientError> {
        let local = self
            .inner
            .endpoint
            .sending_addr(target.protocol)
            .ok_or(ClientError::NoListener(target.protocol))?;
        if !local.ip().is_unspecified() {
            return Ok(local);
        }
        let ip = routable_ip(target.addr).unwrap_or(if target.addr.is_ipv4() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        });
        Ok(SocketAddr::new(ip, local.port()))
    }

    /// Our Via for a request to `target`: sent-by = our address, a fresh
    /// branch (§8.1.1.7) and `rport` (RFC 3581).
    pub(crate) fn via_for(&self, target: &Target) -> Result<Via, ClientError> {
        let local = self.local_for(target)?;
        let mut via = self
            .inner
            .endpoint
            .via(target.protocol)
            .ok_or(ClientError::NoListener(target.protocol))?;
        via.host = Host::from(local.ip());
        via.port = Some(local.port());
        Ok(via)
    }

    /// Our Contact URI for requests to `target` (§8.1.1.8): our address,
    /// `transport=tcp` over TCP, `transport=tls` over TLS, or a `sips:`
    /// URI when `sips` (the request goes to a SIPS Request-URI or Route,
    /// §8.1.1.8), the user part of our identity.
    pub(crate) fn contact_for(&self, target: &Target, sips: bool) -> Result<Uri, ClientError> {
        let local = self.local_for(target)?;
        let user = self
            .inner
            .identity
            .as_ref()
            .and_then(|u| u.as_sip())
            .and_then(|u| u.user().map(|u| u.into_owned()))
            .unwrap_or_else(|| "parrot".to_owned());
        let mut uri = SipUri::new(Host::from(local.ip()))
            .with_port(local.port())
            .with_user(&user);
        match target.protocol {
            Protocol::Tcp => uri = uri.with_transport("tcp"),
            Protocol::Tls if sips => uri = uri.secure(),
            Protocol::Tls => uri = uri.with_transport("tls"),
            _ => {}
        }
        Ok(Uri::Sip(uri))
    }

    /// Our From address (§8.1.1.3), without tag.
    pub(crate) fn our_address(&self, local: SocketAddr) -> NameAddr {
        let uri =
            self.inner.identity.clone().unwrap_or_else(|| {
                Uri::Sip(SipUri::new(Host::from(local.ip())).with_user("parrot"))
            });
        let mut addr = NameAddr::new(uri);
        if let Some(name) = &self.inner.display_name {
            addr.set_display(Some(name));
        }
        addr
    }

    /// Builds a request outside any dialog (§8.1.1) for `request_uri`, and
    /// resolves where it goes: the outbound proxy (with a pre-loaded
    /// Route) or the Request-URI (§8.1.2). `call_id`: a fresh one if
    /// `None`. `contact`: whether to add our Contact.
    pub(crate) async fn prepare(
        &self,
        method: Method,
        request_uri: Uri,
        to: NameAddr,
        call_id: Option<Text>,
        cseq: u32,
        contact: bool,
    ) -> Result<Prepared, ClientError> {
        // The first hop must be routable (checked by `resolve`); the
        // Request-URI need not be when an outbound proxy takes it.
        let first_hop = self.inner.outbound_proxy.as_ref().unwrap_or(&request_uri);
        let mut fallbacks = self.locate(first_hop).await?;
        let target = fallbacks.remove(0);
        let local = self.local_for(&target)?;
        let sips = is_sips(first_hop) || is_sips(&request_uri);
        let contact = if contact {
            Some(Contact::new(NameAddr::new(
                self.contact_for(&target, sips)?,
            )))
        } else {
            None
        };
        let request = request::OutOfDialog {
            method,
            request_uri,
            to,
            from: self.our_address(local),
            from_tag: crate::random::tag(),
            call_id: call_id.unwrap_or_else(|| new_call_id(&local.ip().to_string())),
            cseq,
            via: self.via_for(&target)?,
            contact,
            route: self.inner.outbound_proxy.clone(),
            user_agent: self.inner.user_agent.clone(),
        }
        .build();
        Ok(Prepared {
            request,
            target,
            fallbacks,
        })
    }

    /// The servers a request whose first hop is `first_hop` goes to, in
    /// the order to try them (RFC 3263 §4; never empty).
    pub(crate) async fn locate(&self, first_hop: &Uri) -> Result<Vec<Target>, ClientError> {
        // The URI's own rules (scheme, transport) first, for their errors.
        NextHop::from_uri(first_hop)?;
        match self.inner.locator.locate(first_hop).await {
            Ok(targets) if !targets.is_empty() => Ok(targets),
            Ok(_) => Err(ClientError::Unresolvable(first_hop.to_string())),
            Err(e) => {
                tracing::info!(error = %e, uri = %first_hop, "no server found");
                Err(ClientError::Unresolvable(format!("{first_hop}: {e}")))
            }
        }
    }

    /// `p` sent to its next server after `p.target` failed (RFC 3263
    /// §4.3: "a new request, identical to the previous, but with a
    /// different value of the Via branch ID"), if there is one.
    pub(crate) fn fail_over(&self, mut p: Prepared, status: StatusCode) -> Option<Prepared> {
        if p.fallbacks.is_empty() {
            return None;
        }
        self.inner.locator.failed(&p.target);
        let next = p.fallbacks.remove(0);
        let via = self.via_for(&next).ok()?;
        p.request.headers.set_typed(&via);
        if next.protocol != p.target.protocol
            && p.request.headers.contains(HeaderName::Contact)
            && let Ok(uri) = self.contact_for(&next, is_sips(&p.request.uri))
        {
            p.request
                .headers
                .set_typed(&Contact::new(NameAddr::new(uri)));
        }
        tracing::info!(%status, failed = %p.target.addr, next = %next.addr, protocol = %next.protocol, "trying the next server (RFC 3263 §4.3)");
        p.target = next;
        Some(p)
    }

    /// §18.1.1: a request over UDP within 200 bytes of the path MTU (by
    /// default larger than 1300 bytes) goes over TCP when we listen for
    /// TCP. Done here, before the transaction starts, so that our copy of
    /// the request (whose top Via a CANCEL copies, §9.1) says TCP too.
    pub(crate) fn fit_transport(&self, mut p: Prepared) -> Result<Prepared, ClientError> {
        let threshold = self.inner.endpoint.transport().config().udp_size_threshold;
        if p.target.protocol == Protocol::Udp
            && p.request.to_bytes().len() > threshold
            && self.local_addr(Protocol::Tcp).is_some()
        {
            let tcp = Target::tcp(p.target.addr);
            let via = self.via_for(&tcp)?;
            p.request.headers.set_typed(&via);
            if p.request.headers.contains(HeaderName::Contact)
                && let Ok(uri) = self.contact_for(&tcp, false)
            {
                p.request
                    .headers
                    .set_typed(&Contact::new(NameAddr::new(uri)));
            }
            p.target = tcp;
        }
        Ok(p)
    }

    /// Runs a non-INVITE request to its final response, answering one
    /// digest challenge (§22.2, §22.3). Returns the request last sent and
    /// the response.
    pub(crate) async fn transact(&self, p: Prepared) -> (Request, Response) {
        let (request, response, _) = self.transact_keeping(p).await;
        (request, response)
    }

    /// [`transact`](Self::transact) for any request, a re-INVITE included:
    /// after a 2xx to an INVITE, its transaction is handed back too, to
    /// pass up the retransmissions of the 2xx that each need an ACK
    /// (§13.2.2.4).
    pub(crate) async fn transact_keeping(
        &self,
        p: Prepared,
    ) -> (Request, Response, Option<ClientTransaction>) {
        let mut p = p;
        let mut answered = false;
        loop {
            let (resp, tx) = self.one_transaction_keeping(&p.request, p.target).await;
            if !answered && is_challenge(&resp) {
                answered = true;
                if let Some(next) = self.authorize(&p.request, &resp) {
                    tracing::debug!(method = %p.request.method, status = %resp.status, "answering the digest challenge");
                    p.request = next;
                    continue;
                }
            }
            if server_failed(&resp) {
                let status = resp.status;
                let request = p.request.clone();
                match self.fail_over(p, status) {
                    Some(next) => {
                        p = next;
                        continue;
                    }
                    None => return (request, resp, tx),
                }
            }
            return (p.request, resp, tx);
        }
    }

    /// One client transaction: the final response, or the `408`/`503` a
    /// timeout or transport failure stands for (§8.1.3.1).
    pub(crate) async fn one_transaction(&self, request: &Request, target: Target) -> Response {
        self.one_transaction_keeping(request, target).await.0
    }

    /// [`one_transaction`](Self::one_transaction), handing back the
    /// transaction after a 2xx to an INVITE (it still passes up the
    /// retransmitted 2xx, RFC 6026 §7.2).
    async fn one_transaction_keeping(
        &self,
        request: &Request,
        target: Target,
    ) -> (Response, Option<ClientTransaction>) {
        let mut tx = match self.inner.endpoint.request(request.clone(), target).await {
            Ok(tx) => tx,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a client transaction");
                return (request.reply(StatusCode::SERVICE_UNAVAILABLE), None);
            }
        };
        loop {
            let resp = match tx.next().await {
                Some(ClientEvent::Response(r)) if !request::acceptable(&r) => {
                    tracing::debug!(status = %r.status, "response with several Via values discarded (§8.1.3.3)");
                    continue;
                }
                Some(ClientEvent::Response(r)) if r.status.is_final() => r,
                Some(ClientEvent::Response(_)) => continue,
                Some(ClientEvent::Timeout(_)) | None => {
                    return (request.reply(StatusCode::REQUEST_TIMEOUT), None);
                }
                Some(ClientEvent::TransportError) => {
                    return (request.reply(StatusCode::SERVICE_UNAVAILABLE), None);
                }
            };
            let keep = resp.status.is_success() && request.method == Method::Invite;
            return (resp, keep.then_some(tx));
        }
    }

    /// Sends `dr`, a request built in a dialog whose INVITE or SUBSCRIBE
    /// went over `dialog`, to its next hop (§12.2.1.1 then §8.1.2): the
    /// next hop located, our Via on top, its client transaction run to
    /// the final response by [`transact_keeping`](Self::transact_keeping)
    /// (one digest challenge answered, §22.2). A request that cannot be
    /// routed or sent gets the `503` standing for it (§8.1.3.1).
    pub(crate) async fn send_in_dialog(
        &self,
        dr: crate::dialog::DialogRequest,
        dialog: Protocol,
    ) -> (Request, Response, Option<ClientTransaction>) {
        let mut req = dr.request;
        let target = match self.resolve_in_dialog(&dr.next_hop, dialog).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, next_hop = %dr.next_hop, method = %req.method, "cannot route our request");
                let resp = req.reply(StatusCode::SERVICE_UNAVAILABLE);
                return (req, resp, None);
            }
        };
        match self.via_for(&target) {
            Ok(via) => request::push_via(&mut req, &via),
            Err(e) => {
                tracing::warn!(error = %e, method = %req.method, "cannot send our request");
                let resp = req.reply(StatusCode::SERVICE_UNAVAILABLE);
                return (req, resp, None);
            }
        }
        tracing::info!(method = %req.method, to = %target.addr, body = req.body.len(), "sending in the dialog");
        self.transact_keeping(Prepared::to(req, target)).await
    }

    /// `request` resubmitted with credentials for the challenges of
    /// `challenge` (a 401 or 407), if we have credentials and can answer
    /// at least one of them.
    pub(crate) fn authorize(&self, request: &Request, challenge: &Response) -> Option<Request> {
        let me = self.inner.credentials.as_ref()?;
        let mut next = request.clone();
        if let Err(e) = me.authorize(&mut next, challenge) {
            tracing::debug!(status = %challenge.status, error = %e, "cannot answer the challenge");
            return None;
        }
        request::resubmit(&next)
    }
}

/// Whether `resp` is a challenge: 401 or 407 (§22.2, §22.3).
/// Whether `resp` says its server failed (RFC 3263 §4.3): a `503`, or the
/// `408`/`503` a timeout or transport failure stands for (no To tag).
pub(crate) fn server_failed(resp: &Response) -> bool {
    resp.status == StatusCode::SERVICE_UNAVAILABLE
        || (resp.status == StatusCode::REQUEST_TIMEOUT && !resp.headers.has_to_tag())
}

pub(crate) fn is_challenge(resp: &Response) -> bool {
    matches!(
        resp.status,
        StatusCode::UNAUTHORIZED | StatusCode::PROXY_AUTHENTICATION_REQUIRED
    )
}

/// A fresh Call-ID (§8.1.1.4: "MUST be selected by the UAC as a globally
/// unique identifier over space and time"): 96 random bits `@` our host.
pub(crate) fn new_call_id(host: &str) -> Text {
    Text::from(format!(
        "{:016x}{:08x}@{}",
        crate::random::u64(),
        crate::random::u64() as u32,
        host.trim_start_matches('[').trim_end_matches(']')
    ))
}

/// A first CSeq number: random below 2**16, far below the 2**31 limit
/// (§8.1.1.5), never 0.
pub(crate) fn initial_cseq() -> u32 {
    (crate::random::u64() % 0xffff) as u32 + 1
}

/// The local address the system would use to reach `peer` (for a Via or
/// Contact when listening on a wildcard address). No packet is sent.
fn routable_ip(peer: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect(peer).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// Whether `uri` is a SIPS URI (RFC 3261 §19.1).
pub(crate) fn is_sips(uri: &Uri) -> bool {
    uri.as_sip().is_some_and(|u| u.is_secure())
}
