//! The transport layer (RFC 3261 §18, RFC 3581, RFC 5626 §3.5.1).
//!
//! A [`TransportLayer`] owns every listening socket and every stream
//! connection. It delivers each received message upward as an [`Incoming`]
//! on a tokio channel and sends requests and responses for the transaction
//! layer, which sees only the protocol-neutral [`Transport`] trait:
//!
//! * **Receiving** (§18.2.1, RFC 3581 §4): requests get `received` and
//!   `rport` stamped on their top Via. A request that cannot be parsed is
//!   answered with `400 <reason>` when enough of it can be read to address a
//!   response (§8.2.6 via a best-effort header extractor); an unparseable
//!   response is dropped with a warning.
//! * **Sending responses** (§18.2.2, RFC 3581 §4): over the connection the
//!   request came on while it is open; otherwise to the address computed by
//!   the pure function [`response_destination`].
//! * **Sending requests** (§18.1.1): to a [`Target`] chosen by the caller; a
//!   UDP request larger than 1300 bytes (or within 200 bytes of a configured
//!   path MTU) is sent over TCP instead when [`SendOptions`] allows it, with
//!   the top Via rewritten to say TCP.
//! * **Streams** (TCP, and TLS with a [`TlsConfig`]; WebSocket later behind
//!   the same [`Protocol`] switch): connections are reused in both directions, framed
//!   with [`StreamDecoder`](crate::message::StreamDecoder), answer CRLFCRLF
//!   keep-alive pings with a CRLF pong (RFC 5626 §3.5.1), close after an idle
//!   timeout, and are capped in number and in buffered bytes. A misbehaving
//!   peer is disconnected without affecting any other connection: one that
//!   is slow to finish a header block or body, or trickles bytes, is closed
//!   by deadline; one source address may hold only so many connections; at
//!   the connection cap an idle inbound connection makes room for a new
//!   one; and the bytes buffered across all connections are bounded, the
//!   largest buffers closed first ([`TransportLayer::stats`] counts it
//!   all).
//!
//! * **Tapping** ([`MessageTap`], [`TransportConfig::tap`]): every
//!   message received or sent, on any protocol, can be shown to observers
//!   with its raw bytes (the [`trace`](crate::trace) module's text trace
//!   and HEPv3 export); without a tap, one branch per message.
//!
//! Left to the layers above: discarding responses whose top Via sent-by is
//! not one this element inserts (§18.1.2), SRV/NAPTR lookups (RFC 3263, the
//! [`locate`](crate::locate) module, which a response reaches through the
//! [`SentByResolver`] hook when its sent-by is a host name: RFC 3263 §5)
//! and choosing the sent-by of outgoing requests
//! ([`TransportLayer::listeners`] reports the bound addresses for that).
//!
//! ```no_run
//! use parrot::transport::{ListenerConfig, TransportConfig, TransportLayer};
//!
//! # async fn run() -> Result<(), parrot::transport::TransportError> {
//! let config = TransportConfig {
//!     listeners: vec![ListenerConfig::udp_tcp("127.0.0.1:0".parse().unwrap())],
//!     ..TransportConfig::default()
//! };
//! let (transport, mut incoming) = TransportLayer::bind(config).await?;
//! tracing::info!(listeners = ?transport.listeners(), "listening");
//! while let Some(msg) = incoming.recv().await {
//!     // hand `msg.message` to the transaction layer; reply with
//!     // `transport.send_response(&response, Some(&msg.origin()))`
//! #   let _ = msg;
//! }
//! # Ok(())
//! # }
//! ```

mod addr;
mod alias;
mod bad_request;
mod closings;
mod config;
mod connections;
mod datagram;
mod error;
mod feedback;
mod inbound;
mod layer;
mod memory;
pub(crate) mod os_udp;
mod progress;
pub(crate) mod recv_batch;
mod sent_by;
pub(crate) mod shards;
mod shared;
mod shed;
mod stats;
mod stream;
mod tap;
mod tcp;
mod tls;
mod tls_config;
mod udp;
mod via;
mod ws;
mod ws_origin;

pub use addr::resolve;
pub use bad_request::{RawRequestHeaders, error_response};
pub use closings::{Closing, ConnectionClosings};
pub use config::{ListenerConfig, TransportConfig};
pub use connections::ConnectionInfo;
pub use error::TransportError;
pub use layer::TransportLayer;
pub use memory::{MemoryNetwork, MemorySocket};
pub use sent_by::{SentByFuture, SentByResolver};
pub use stats::TransportStats;
pub use tap::{Direction, MessageObserver, MessageTap, TappedMessage};
pub use tls_config::{Identity, TlsConfig, TlsError};
pub use via::{
    ResponseDestination, response_destination, set_top_via_transport, stamp_top_via, stamp_via,
};
pub use ws_origin::OriginCheck;

use crate::message::typed::Transport as ViaTransport;
use crate::message::{Message, Request, Response};
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// UDP (unreliable datagrams).
    Udp,
    /// TCP (reliable stream).
    Tcp,
    /// TLS over TCP (RFC 3261 §26).
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// WebSocket over TLS (RFC 7118).
    Wss,
}

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 5] = [
        Protocol::Udp,
        Protocol::Tcp,
        Protocol::Tls,
        Protocol::Ws,
        Protocol::Wss,
    ];

    /// The Via transport token (`UDP`, `TCP`, `TLS`, `WS`, `WSS`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
            Protocol::Ws => "WS",
            Protocol::Wss => "WSS",
        }
    }

    /// Whether the protocol is reliable (RFC 3261 §17.1.1.2: no
    /// retransmission timers over reliable transports).
    pub const fn is_reliable(self) -> bool {
        !matches!(self, Protocol::Udp)
    }

    /// Whether messages travel over a connection (a stream or WebSocket).
    pub const fn is_connection_oriented(self) -> bool {
        !matches!(self, Protocol::Udp)
    }

    /// Whether the protocol is WebSocket (WS or WSS, RFC 7118), which only
    /// the peer can open.
    pub const fn is_websocket(self) -> bool {
        matches!(self, Protocol::Ws | Protocol::Wss)
    }

    /// Whether the protocol is secured with TLS.
    pub const fn is_secure(self) -> bool {
        matches!(self, Protocol::Tls | Protocol::Wss)
    }

    /// The default port: 5060, or 5061 for TLS (RFC 3261 §19.1.2), 80 / 443
    /// for WS / WSS (RFC 7118).
    pub const fn default_port(self) -> u16 {
        match self {
            Protocol::Udp | Protocol::Tcp => 5060,
            Protocol::Tls => 5061,
            Protocol::Ws => 80,
            Protocol::Wss => 443,
        }
    }

    /// The protocol a Via transport names, if it is one of ours.
    pub fn from_via(transport: &ViaTransport) -> Option<Protocol> {
        match transport {
            ViaTransport::Udp => Some(Protocol::Udp),
            ViaTransport::Tcp => Some(Protocol::Tcp),
            ViaTransport::Tls => Some(Protocol::Tls),
            ViaTransport::Ws => Some(Protocol::Ws),
            ViaTransport::Wss => Some(Protocol::Wss),
            _ => None,
        }
    }

    /// The Via transport for this protocol.
    pub fn via_transport(self) -> ViaTransport {
        match self {
            Protocol::Udp => ViaTransport::Udp,
            Protocol::Tcp => ViaTransport::Tcp,
            Protocol::Tls => ViaTransport::Tls,
            Protocol::Ws => ViaTransport::Ws,
            Protocol::Wss => ViaTransport::Wss,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one stream connection for as long as the transport runs
/// (identifiers are never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl ConnectionId {
    /// The numeric identifier.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// Where a received message came from: what a response needs to be routed
/// back (RFC 3261 §18.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The protocol the message arrived over.
    pub protocol: Protocol,
    /// The packet source address (IPv4-mapped IPv6 addresses are reported
    /// as IPv4).
    pub source: SocketAddr,
    /// The local address it arrived at: the listener's bound address for
    /// UDP (which may be a wildcard), the connection's local address for
    /// streams.
    pub local: SocketAddr,
    /// The connection it arrived on (stream protocols only).
    pub connection: Option<ConnectionId>,
}

/// A message received by the transport, delivered upward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The message. For requests the top Via already carries `received` and
    /// `rport` (RFC 3261 §18.2.1, RFC 3581 §4).
    pub message: Message,
    /// The packet source address.
    pub source: SocketAddr,
    /// The local address it arrived at (see [`Origin::local`]).
    pub local: SocketAddr,
    /// The protocol it arrived over.
    pub protocol: Protocol,
    /// The connection it arrived on (stream protocols only).
    pub connection: Option<ConnectionId>,
}

impl Incoming {
    /// Where the message came from, for [`Transport::send_response`].
    pub fn origin(&self) -> Origin {
        Origin {
            protocol: self.protocol,
            source: self.source,
            local: self.local,
            connection: self.connection,
        }
    }
}

/// A resolved next hop for a request: an address and a protocol, and
/// for a flow (RFC 5626) the one connection the request must take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The protocol to send over.
    pub protocol: Protocol,
    /// The remote address.
    pub addr: SocketAddr,
    /// The connection to send on, and no other: a flow a peer opened
    /// (RFC 5626 §5.3). When it has closed the send fails with
    /// [`TransportError::FlowFailed`] rather than opening a new
    /// connection to the peer's ephemeral port. `None`: any open
    /// connection to `addr`, or a new one.
    pub flow: Option<ConnectionId>,
}

impl Target {
    /// A target over `protocol` at `addr`.
    pub const fn new(protocol: Protocol, addr: SocketAddr) -> Self {
        Target {
            protocol,
            addr,
            flow: None,
        }
    }

    /// The flow a message arrived over (RFC 5626 §3.3): back to its
    /// source, on the same connection for stream protocols (the only way
    /// to reach a browser or a client behind NAT).
    pub const fn flow_of(origin: &Origin) -> Self {
        Target {
            protocol: origin.protocol,
            addr: origin.source,
            flow: origin.connection,
        }
    }

    /// A UDP target.
    pub const fn udp(addr: SocketAddr) -> Self {
        Target::new(Protocol::Udp, addr)
    }

    /// A TCP target.
    pub const fn tcp(addr: SocketAddr) -> Self {
        Target::new(Protocol::Tcp, addr)
    }

    /// Resolves `host` (an IP literal, bracketed or not, or a domain name
    /// looked up with A/AAAA records; no SRV) and `port` (the protocol's
    /// default if `None`) into a target.
    pub async fn resolve(
        protocol: Protocol,
        host: &str,
        port: Option<u16>,
    ) -> Result<Target, TransportError> {
        let addr = resolve(host, port.unwrap_or(protocol.default_port())).await?;
        Ok(Target::new(protocol, addr))
    }
}

/// Options for [`Transport::send_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// RFC 3261 §18.1.1: send a UDP request that is too large for UDP
    /// (see [`TransportConfig::udp_size_threshold`]) over TCP to the same
    /// address instead, rewriting the top Via's transport to TCP. Default
    /// `true`, as the RFC requires; turn it off for next hops known not to
    /// support TCP.
    pub allow_tcp_fallback: bool,
    /// The local address to send from (a listener's bound address); `None`
    /// picks a listener of the destination's address family.
    pub local: Option<SocketAddr>,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            allow_tcp_fallback: true,
            local: None,
        }
    }
}

/// How a message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The protocol actually used (TCP when a large UDP request was
    /// switched, §18.1.1; the transaction layer must then behave as over a
    /// reliable transport, §17.1.1.2).
    pub protocol: Protocol,
    /// The local address it was sent from.
    pub local: SocketAddr,
    /// The remote address it was sent to.
    pub remote: SocketAddr,
    /// The connection it was sent on (stream protocols only).
    pub connection: Option<ConnectionId>,
}

/// A bound listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// Its protocol.
    pub protocol: Protocol,
    /// The address it is bound to (with the OS-chosen port if port 0 was
    /// configured).
    pub local_addr: SocketAddr,
}

/// What the transaction layer needs from a transport, whatever the protocol.
///
/// [`TransportLayer`] implements it; tests of upper layers can implement it
/// with a mock.
pub trait Transport: Send + Sync {
    /// Sends a request to `target` (RFC 3261 §18.1.1). The request is taken
    /// by `&mut` because its top Via may be rewritten when the protocol is
    /// switched; the caller should keep the rewritten request (a CANCEL must
    /// copy its top Via, §9.1).
    fn send_request(
        &self,
        request: &mut Request,
        target: Target,
        options: SendOptions,
    ) -> impl Future<Output = Result<Sent, TransportError>> + Send;

    /// Sends a response (RFC 3261 §18.2.2, RFC 3581 §4). `origin` is where
    /// the request came from ([`Incoming::origin`]); without it the protocol
    /// and destination come from the top Via alone.
    fn send_response(
        &self,
        response: &Response,
        origin: Option<&Origin>,
    ) -> impl Future<Output = Result<Sent, TransportError>> + Send;
}
