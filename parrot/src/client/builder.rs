//! [`ClientBuilder`]: the settings of a [`Client`] and the binding of its
//! listeners.

use super::{
    CallTable, Client, ClientError, Inner, IntoUri, NextHop, initial_cseq, new_call_id, router,
};
use crate::auth::DigestClient;
use crate::dialog::SessionTimerConfig;
use crate::endpoint::{Endpoint, EndpointConfig};
use crate::locate::Locator;
use crate::message::Text;
use crate::transaction::TimerConfig;
use crate::transport::{ListenerConfig, Protocol, TlsConfig, TransportConfig};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

/// Configures and starts a [`Client`]; see [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    listen: SocketAddr,
    protocols: Vec<Protocol>,
    identity: Option<String>,
    display_name: Option<String>,
    credentials: Option<DigestClient>,
    outbound_proxy: Option<String>,
    user_agent: Option<String>,
    timers: TimerConfig,
    transport: TransportConfig,
    session_timer: Option<SessionTimerConfig>,
    locator: Option<Locator>,
}

impl ClientBuilder {
    /// The defaults ([`Client::builder`]).
    pub(super) fn new() -> ClientBuilder {
        ClientBuilder {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            protocols: vec![Protocol::Udp, Protocol::Tcp],
            identity: None,
            display_name: None,
            credentials: None,
            outbound_proxy: None,
            user_agent: None,
            timers: TimerConfig::default(),
            transport: TransportConfig::default(),
            session_timer: None,
            locator: None,
        }
    }

    /// Where to listen, UDP and TCP on one port (default `0.0.0.0:0`:
    /// every interface, a port chosen by the system). Responses and the
    /// peer's in-dialog requests arrive here.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Listens for UDP only (no TCP listener: `transport=tcp` URIs and
    /// requests too large for UDP, §18.1.1, then fail).
    pub fn udp_only(mut self) -> Self {
        self.protocols = vec![Protocol::Udp];
        self
    }

    /// Our identity, the From URI of every request outside a dialog
    /// (§8.1.1.3), e.g. `"sip:alice@example.com"`. Default
    /// `sip:parrot@<our address>`. Checked by [`ClientBuilder::bind`].
    pub fn from(mut self, uri: impl Into<String>) -> Self {
        self.identity = Some(uri.into());
        self
    }

    /// The display name of our From header.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Credentials for digest authentication: a `401`/`407` is answered
    /// once per request, with a new CSeq (§22.2, §22.3).
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(DigestClient::new(username, password));
        self
    }

    /// An outbound proxy (§8.1.2): every request outside a dialog is sent
    /// to it, with a pre-loaded `Route` naming it. Give it the `lr`
    /// parameter (`"sip:proxy.example.com;lr"`): RFC 3261 proxies are
    /// loose routers. Checked by [`ClientBuilder::bind`].
    pub fn outbound_proxy(mut self, uri: impl Into<String>) -> Self {
        self.outbound_proxy = Some(uri.into());
        self
    }

    /// The `User-Agent` header value (default `parrot/<version>`; empty
    /// for none).
    pub fn user_agent(mut self, value: impl Into<String>) -> Self {
        self.user_agent = Some(value.into());
        self
    }

    /// The transaction timers T1, T2, T4 (RFC 3261 §17; defaults 500 ms,
    /// 4 s, 5 s).
    pub fn timers(mut self, timers: TimerConfig) -> Self {
        self.timers = timers;
        self
    }

    /// Transport limits and timeouts (the listeners come from
    /// [`ClientBuilder::listen`]; a TLS configuration given to
    /// [`tls`](Self::tls) is kept unless `config` has its own).
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        let tls = self.transport.tls.take();
        self.transport = TransportConfig {
            tls: config.tls.clone().or(tls),
            ..config
        };
        self
    }

    /// Sends over TLS where a URI asks for it (`sips:`, `transport=tls`),
    /// verifying servers as `tls` says ([`TlsConfig::client`] trusts
    /// Mozilla's roots; [`TlsConfig::with_roots_pem`] a private CA and a
    /// client certificate). The client needs no TLS listener: responses
    /// come back on the connection.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.transport.tls = Some(tls);
        self
    }

    /// How the client finds the servers of a URI (RFC 3263): default
    /// [`Locator::system`] (NAPTR and SRV from the system's DNS servers,
    /// addresses from the system), for the transports the client has.
    /// Give one with another [`DnsResolver`](crate::locate::DnsResolver)
    /// (a DNS server of your own, a static table) here. A request whose
    /// target fails — a transport error, a timeout, a `503` — goes to the
    /// next server of the list (RFC 3263 §4.3), and the failed one is
    /// avoided for a while.
    pub fn locator(mut self, locator: Locator) -> Self {
        self.locator = Some(locator);
        self
    }

    /// Asks for session timers (RFC 4028) on every call: our INVITEs carry
    /// `Supported: timer`, `Session-Expires: <config.interval>` (no
    /// `refresher`, the callee chooses, §7.1) and `Min-SE:
    /// <config.min_se>`. A `422 Session Interval Too Small` is answered
    /// once, with the INVITE resent asking for the callee's Min-SE (§7.3).
    /// Once the call is up, a session timer runs even if the 2xx sets none
    /// (§7.2 lets the UAC keep one for itself): we then refresh at half our
    /// interval.
    ///
    /// Without it, the client still supports the extension passively: its
    /// INVITEs carry `Supported: timer` only, and a 2xx (or the peer's
    /// refresh) that sets a `Session-Expires` is honoured, with the
    /// defaults of [`SessionTimerConfig`] (Min-SE 90 s) for what we grant.
    ///
    /// Either way, the refresher (`refresher=uac` in the 2xx: us) refreshes
    /// at half the interval (§10): an UPDATE without a body when the 2xx's
    /// `Allow` lists UPDATE, else a re-INVITE with our session description
    /// in force; and when no refresh succeeds, the call sends BYE at the
    /// interval minus min(32 s, a third of it) and ends with
    /// [`CallEnd::SessionExpired`](super::CallEnd::SessionExpired).
    pub fn session_timer(mut self, config: SessionTimerConfig) -> Self {
        self.session_timer = Some(config);
        self
    }

    /// Binds the listeners and starts the client. Must be called inside a
    /// tokio runtime (the client runs tasks on it).
    pub async fn bind(self) -> Result<Client, ClientError> {
        let identity = match &self.identity {
            Some(s) => {
                let uri = s.as_str().into_uri()?;
                if uri.as_sip().is_none() {
                    return Err(ClientError::Config(format!(
                        "the From identity must be a sip: URI, not {uri}"
                    )));
                }
                Some(uri)
            }
            None => None,
        };
        let outbound_proxy = match &self.outbound_proxy {
            Some(s) => {
                let uri = s.as_str().into_uri()?;
                NextHop::from_uri(&uri)?;
                Some(uri)
            }
            None => None,
        };
        let user_agent = match self.user_agent {
            Some(ua) if ua.trim().is_empty() => None,
            Some(ua) => Some(Text::from(ua.replace(['\r', '\n'], " "))),
            None => Some(Text::from(format!("parrot/{}", env!("CARGO_PKG_VERSION")))),
        };
        let config = EndpointConfig {
            transport: TransportConfig {
                listeners: vec![ListenerConfig {
                    addr: self.listen,
                    protocols: self.protocols,
                }],
                ..self.transport
            },
            timers: self.timers,
            ..EndpointConfig::default()
        };
        let tls = config.transport.tls.is_some();
        let (endpoint, events) = Endpoint::bind(config).await.map_err(ClientError::Bind)?;
        let mut protocols: Vec<Protocol> = endpoint
            .transport()
            .listeners()
            .iter()
            .map(|l| l.protocol)
            .collect();
        if tls && !protocols.contains(&Protocol::Tls) {
            protocols.push(Protocol::Tls);
        }
        let locator = Arc::new(self.locator.unwrap_or_else(|| Locator::system(&protocols)));
        // RFC 3263 §5 for the responses the client sends.
        endpoint.transport().set_sent_by_resolver(locator.clone());
        let calls: CallTable = Arc::default();
        let router = tokio::spawn(router::run(endpoint.clone(), events, calls.clone()));
        let host = endpoint
            .transport()
            .listeners()
            .first()
            .map(|l| l.local_addr.ip())
            .filter(|ip| !ip.is_unspecified())
            .map_or_else(|| "parrot.invalid".to_owned(), |ip| ip.to_string());
        for l in endpoint.transport().listeners() {
            tracing::debug!(protocol = %l.protocol, addr = %l.local_addr, "client listening");
        }
        Ok(Client {
            inner: Arc::new(Inner {
                endpoint,
                identity,
                display_name: self.display_name,
                credentials: self.credentials,
                outbound_proxy,
                user_agent,
                timers: self.timers,
                session_timer: self.session_timer,
                locator,
                calls,
                register_call_id: new_call_id(&host),
                register_cseq: AtomicU32::new(initial_cseq()),
                router,
            }),
        })
    }

    /// Shows every SIP message the client receives or sends, over any
    /// transport, to `observer`
    /// ([`TappedMessage`](crate::transport::TappedMessage)); it runs on
    /// the transport's tasks and must not block. Several observers may be
    /// added. Give [`transport_config`](Self::transport_config) first: it
    /// replaces the observers with its own.
    pub fn message_tap(mut self, observer: impl crate::transport::MessageObserver) -> Self {
        let tap = self.transport.tap.take();
        self.transport.tap = Some(crate::transport::MessageTap::add(tap, Arc::new(observer)));
        self
    }

    /// Logs every SIP message received and sent, in full, through
    /// `tracing` at INFO under the target `parrot::sip`
    /// ([`TextTrace`](crate::trace::TextTrace)); `RUST_LOG` filters it as
    /// any target.
    pub fn trace_sip(self) -> Self {
        self.message_tap(crate::trace::TextTrace::new())
    }

    /// Sends every SIP message received and sent as a HEPv3 packet over
    /// UDP to the capture server at `collector`
    /// ([`HepExporter`](crate::trace::HepExporter)), dropping (and
    /// counting) what a bounded queue cannot hold.
    pub fn hep(self, collector: SocketAddr, config: crate::trace::HepConfig) -> Self {
        self.message_tap(crate::trace::HepExporter::new(collector, config))
    }
}
