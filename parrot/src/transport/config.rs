//! Transport configuration.

use super::Protocol;
use super::tap::MessageTap;
use super::tls_config::TlsConfig;
use super::ws_origin::OriginCheck;
use crate::message::Limits;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// One listening address, shared by one or more protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// The address to bind. Port 0 lets the OS choose; all protocols of this
    /// entry then share the chosen port (so a request switched from UDP to
    /// TCP under RFC 3261 §18.1.1 reaches the same port).
    pub addr: SocketAddr,
    /// The protocols to listen with at `addr`.
    pub protocols: Vec<Protocol>,
}

impl ListenerConfig {
    /// A UDP listener.
    pub fn udp(addr: SocketAddr) -> Self {
        ListenerConfig {
            addr,
            protocols: vec![Protocol::Udp],
        }
    }

    /// A TCP listener.
    pub fn tcp(addr: SocketAddr) -> Self {
        ListenerConfig {
            addr,
            protocols: vec![Protocol::Tcp],
        }
    }

    /// A TLS listener (it needs [`TransportConfig::tls`]).
    pub fn tls(addr: SocketAddr) -> Self {
        ListenerConfig {
            addr,
            protocols: vec![Protocol::Tls],
        }
    }

    /// A WebSocket listener (RFC 7118).
    pub fn ws(addr: SocketAddr) -> Self {
        ListenerConfig {
            addr,
            protocols: vec![Protocol::Ws],
        }
    }

    /// A secure WebSocket listener (it needs [`TransportConfig::tls`]).
    pub fn wss(addr: SocketAddr) -> Self {
        ListenerConfig {
            addr,
            protocols: vec![Protocol::Wss],
        }
    }

    /// UDP and TCP listeners on the same address and port.
    pub fn udp_tcp(addr: SocketAddr) -> Self {
        ListenerConfig {
            addr,
            protocols: vec![Protocol::Udp, Protocol::Tcp],
        }
    }
}

/// Transport settings. Every field has a default (see [`Default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// The addresses to listen on. Default: UDP and TCP on `0.0.0.0:5060`.
    pub listeners: Vec<ListenerConfig>,
    /// Size limits for parsing and stream framing. A message over them is
    /// refused (a UDP request gets `513 Message Too Large`, a stream is
    /// closed because its framing cannot be trusted any more).
    pub limits: Limits,
    /// Size of the UDP receive buffer; a datagram filling it is treated as
    /// truncated and refused. At most 65535 (the largest UDP payload).
    /// Default 65535.
    pub udp_recv_buffer: usize,
    /// The receive buffer asked of the OS for each UDP socket (`SO_RCVBUF`):
    /// it holds the datagrams that arrive while the server is busy, and a
    /// datagram that finds it full is lost (and retransmitted by the peer
    /// after T1, 500 ms). The OS default (about 200 KB on Linux) is a few
    /// milliseconds of traffic at thousands of calls per second. Linux caps
    /// the request at `net.core.rmem_max`. 0 keeps the OS default. Default
    /// 4 MiB.
    pub udp_socket_buffer: usize,
    /// The largest UDP request sent as is: RFC 3261 §18.1.1 sends larger
    /// ones over TCP (when [`super::SendOptions::allow_tcp_fallback`]).
    /// Default 1300 (the RFC's value when the path MTU is unknown); with a
    /// known path MTU set it to MTU − 200.
    pub udp_size_threshold: usize,
    /// A stream connection with no traffic in either direction for this
    /// long is closed. Default 180 s: longer than the 95–120 s between
    /// RFC 5626 §4.4.1 TCP keep-alives, so registered flows stay up, and
    /// longer than the 32 s (64·T1) of any non-INVITE transaction.
    /// `Duration::MAX` effectively disables it.
    pub idle_timeout: Duration,
    /// Most stream connections open at once (inbound and outbound). At the
    /// cap a new connection takes the place of an idle inbound one (see
    /// [`TransportConfig::evict_idle_after`]); with none to evict, a new
    /// inbound connection is closed at once and an outbound one is refused
    /// with [`super::TransportError::ConnectionLimit`]. Default 1024.
    pub max_connections: usize,
    /// Most inbound stream connections open at once from one source IP
    /// address; one beyond it is closed at once, so one host cannot take
    /// every slot of [`TransportConfig::max_connections`]. Default 64:
    /// phones behind one NAT share an address but hold one or two
    /// connections each (RFC 5626 flows), and a peer proxy or SBC reuses a
    /// handful (RFC 3261 §18); raise it for large sites behind a single
    /// NAT. `usize::MAX` disables it.
    pub max_connections_per_source: usize,
    /// At the connection cap, an inbound connection with nothing buffered,
    /// nothing queued to write and no traffic for at least this long may be
    /// closed to let a new connection in. Connections that have carried a
    /// SIP message (e.g. a registered RFC 5626 flow) go after those that
    /// never did, each group least recently active first; outbound
    /// connections (ours to a next hop) are never evicted. Default 10 s,
    /// as long as a new connection has to send a header block: a client
    /// that just connected keeps its slot while it starts talking.
    /// `Duration::MAX` disables eviction.
    pub evict_idle_after: Duration,
    /// Time a stream peer has to complete a header block once its first
    /// byte has arrived; a connection missing it is closed. Default 10 s: a
    /// header block (at most 32 KiB by default) fits in a few TCP segments
    /// sent at once, and 10 s covers three TCP retransmissions (1 + 2 + 4 s
    /// of initial retransmission timeout, RFC 6298).
    pub header_timeout: Duration,
    /// Time a stream peer has to complete a message body once its header
    /// block is complete; a connection missing it is closed. Default 30 s:
    /// the largest default body (1 MiB) at about 300 kbit/s.
    pub body_timeout: Duration,
    /// With [`TransportConfig::min_receive_bytes`], the minimum receive
    /// rate (slowloris defence): while a message is incomplete, each window
    /// of this length must bring at least that many bytes, or the
    /// connection is closed. Default 5 s.
    pub min_receive_window: Duration,
    /// Bytes each [`TransportConfig::min_receive_window`] must bring while a
    /// message is incomplete. Default 1024 (about 1.6 kbit/s, far below any
    /// working link; an honest peer writes a whole message at once, so an
    /// incomplete one rarely lasts a window at all). 0 disables the rule.
    pub min_receive_bytes: usize,
    /// Most received bytes buffered per connection while a message is
    /// incomplete; a peer exceeding it is disconnected. Default
    /// `max_head + max_body` of the default limits plus 64 KiB.
    pub max_connection_buffer: usize,
    /// Most bytes of receive buffer held by all stream connections
    /// together (counting each buffer's allocated capacity, which includes
    /// the room reserved for a body announced by Content-Length). When a
    /// buffer grows past it, the connections holding the largest buffers
    /// are closed until the total fits again: a peer with one large partial
    /// message loses its connection before the many with small ones, so
    /// honest traffic (a few KiB per message) keeps working. Default
    /// 64 MiB: about 60 messages of the default largest size in flight at
    /// once, or 1024 connections with 64 KiB each.
    pub max_buffered_bytes: usize,
    /// How long to wait for an outbound TCP connection. Default 10 s.
    pub connect_timeout: Duration,
    /// How long a send may wait for queueing and writing on a connection
    /// before failing. Default 10 s.
    pub write_timeout: Duration,
    /// Capacity of the channel of [`super::Incoming`] messages. Over UDP,
    /// once it is half full, new requests that would start work
    /// ([`Request::starts_new_work`](crate::message::Request::starts_new_work))
    /// are refused with `503` at once, keeping the other half for the
    /// messages of work already taken on (ACK, BYE, CANCEL, responses):
    /// the socket is drained either way, so the kernel is not the one
    /// dropping them. Streams pause reading while it is full
    /// (back-pressure). Default 4096.
    pub incoming_queue: usize,
    /// The `Retry-After` (seconds) of the `503` refusing a new request
    /// under overload (RFC 3261 §21.5.4). Default 5.
    pub retry_after: u32,
    /// Most `503` refusals each UDP socket sends per second while shedding;
    /// beyond it, shed requests are dropped unanswered (and counted), so
    /// that answering a flood does not use up the capacity shedding
    /// protects. Default 2000.
    pub refusals_per_second: u32,
    /// Messages queued for writing per connection. Default 64.
    pub connection_queue: usize,
    /// TLS: the certificate TLS listeners present and how outgoing TLS
    /// connections verify servers. Needed for a [`Protocol::Tls`] listener
    /// and for sending over TLS. Default `None`.
    pub tls: Option<TlsConfig>,
    /// Which browser pages may open a WebSocket to a WS or WSS listener,
    /// by their `Origin` (RFC 6455 §10.2); upgrades without one are not
    /// asked about. Default `None`: every origin.
    pub ws_origin: Option<OriginCheck>,
    /// Observers of every SIP message received and sent (a text trace,
    /// HEP capture export: the [`trace`](crate::trace) module), with the
    /// raw bytes. Default `None`: no observer, and no cost beyond one
    /// branch per message.
    pub tap: Option<MessageTap>,
    /// An in-memory network to bind the UDP listeners on instead of the
    /// OS's (stream listeners are then refused): a server that runs with
    /// no socket, e.g. on tokio's paused clock in tests. Default `None`.
    pub memory: Option<super::MemoryNetwork>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        let limits = Limits::default();
        TransportConfig {
            listeners: vec![ListenerConfig::udp_tcp(SocketAddr::from((
                Ipv4Addr::UNSPECIFIED,
                5060,
            )))],
            limits,
            udp_recv_buffer: 65535,
            udp_socket_buffer: 4 << 20,
            udp_size_threshold: 1300,
            idle_timeout: Duration::from_secs(180),
            max_connections: 1024,
            max_connections_per_source: 64,
            evict_idle_after: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            min_receive_window: Duration::from_secs(5),
            min_receive_bytes: 1024,
            max_connection_buffer: limits.max_head + limits.max_body + 64 * 1024,
            max_buffered_bytes: 64 << 20,
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            incoming_queue: 4096,
            retry_after: 5,
            refusals_per_second: 2000,
            connection_queue: 64,
            tls: None,
            ws_origin: None,
            tap: None,
            memory: None,
        }
    }
}

impl TransportConfig {
    /// A default configuration listening on the given addresses with UDP and
    /// TCP each.
    pub fn udp_tcp(addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        TransportConfig {
            listeners: addrs.into_iter().map(ListenerConfig::udp_tcp).collect(),
            ..TransportConfig::default()
        }
    }
}
