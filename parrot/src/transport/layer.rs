//! [`TransportLayer`]: the object that owns every listener and connection,
//! and the sending rules of RFC 3261 §18.1.1 and §18.2.2.

use super::addr::canonical;
use super::closings::ConnectionClosings;
use super::config::TransportConfig;
use super::connections::{ConnectionInfo, ConnectionState};
use super::datagram::DatagramSocket;
use super::error::TransportError;
use super::os_udp::OsUdpSocket;
use super::sent_by::SentByResolver;
use super::shards::{ShardSetup, ShardSocket};
use super::shared::{Shared, UdpEndpoint};
use super::stats::TransportStats;
use super::tcp;
use super::tls;
use super::tls_config::TlsConfig;
use super::udp;
use super::via::{response_destination, set_top_via_transport, top_via};
use super::ws;
use super::{
    ConnectionId, Incoming, Listener, Origin, Protocol, SendOptions, Sent, Target, Transport,
};
use crate::message::typed::Via;
use crate::message::{Request, Response};
use bytes::Bytes;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, warn};

/// How many times a port-0 listener group is re-bound when the port the OS
/// chose for the first protocol is taken for another.
const SHARED_PORT_ATTEMPTS: usize = 16;

/// Signals shutdown when the last [`TransportLayer`] handle is dropped.
struct ShutdownGuard(watch::Sender<bool>);

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// The transport layer: all listeners and connections, and the send paths.
///
/// Cheap to clone; the listeners and connections stop when the last clone
/// is dropped or [`TransportLayer::shutdown`] is called.
#[derive(Clone)]
pub struct TransportLayer {
    shared: Arc<Shared>,
    guard: Arc<ShutdownGuard>,
}

impl std::fmt::Debug for TransportLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportLayer")
            .field("listeners", &self.shared.listeners)
            .field("connections", &self.connection_count())
            .finish()
    }
}

enum Bound {
    Udp(DatagramSocket),
    Tcp(TcpListener),
    Tls(TcpListener, TlsConfig),
    Ws(TcpListener, Option<TlsConfig>),
}

impl Bound {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Bound::Udp(s) => s.local_addr(),
            Bound::Tcp(l) | Bound::Tls(l, _) | Bound::Ws(l, _) => l.local_addr(),
        }
    }
}

impl Bound {
    /// A copy of this listener's socket for another shard.
    fn share(&self, protocol: Protocol) -> io::Result<ShardSocket> {
        fn dup<T: std::os::fd::AsFd>(s: &T) -> io::Result<socket2::Socket> {
            socket2::SockRef::from(s).try_clone()
        }
        Ok(match self {
            Bound::Udp(DatagramSocket::Os(s)) => ShardSocket::Udp(dup(s.std())?.into()),
            Bound::Udp(DatagramSocket::Memory(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "an in-memory socket cannot be shared among shards",
                ));
            }
            Bound::Tcp(l) => ShardSocket::Stream(protocol, dup(l)?.into(), None),
            Bound::Tls(l, tls) => ShardSocket::Stream(protocol, dup(l)?.into(), Some(tls.clone())),
            Bound::Ws(l, tls) => ShardSocket::Stream(protocol, dup(l)?.into(), tls.clone()),
        })
    }

    /// Takes a socket another shard shared on this shard's runtime.
    fn adopt(socket: ShardSocket) -> io::Result<(Protocol, Bound)> {
        Ok(match socket {
            ShardSocket::Udp(s) => (
                Protocol::Udp,
                Bound::Udp(DatagramSocket::Os(OsUdpSocket::from_std(s)?)),
            ),
            ShardSocket::Stream(protocol, l, tls) => {
                let l = TcpListener::from_std(l)?;
                let bound = match (protocol, tls) {
                    (Protocol::Tls, Some(tls)) => Bound::Tls(l, tls),
                    (Protocol::Ws | Protocol::Wss, tls) => Bound::Ws(l, tls),
                    _ => Bound::Tcp(l),
                };
                (protocol, bound)
            }
        })
    }
}

async fn bind_one(
    protocol: Protocol,
    addr: SocketAddr,
    config: &TransportConfig,
) -> Result<Bound, TransportError> {
    match protocol {
        Protocol::Udp if let Some(network) = &config.memory => {
            Ok(Bound::Udp(DatagramSocket::Memory(network.bind(addr)?)))
        }
        _ if config.memory.is_some() => Err(TransportError::Unsupported(protocol)),
        Protocol::Udp => {
            let socket = OsUdpSocket::bind(addr)?;
            if config.udp_socket_buffer > 0 {
                let sock = socket2::SockRef::from(socket.std());
                // Best effort: the OS may cap or refuse the size.
                if let Err(error) = sock.set_recv_buffer_size(config.udp_socket_buffer) {
                    warn!(%addr, %error, "cannot set the UDP receive buffer size");
                }
                debug!(%addr, size = ?sock.recv_buffer_size().ok(), "UDP receive buffer");
            }
            Ok(Bound::Udp(DatagramSocket::Os(socket)))
        }
        Protocol::Tcp => Ok(Bound::Tcp(TcpListener::bind(addr).await?)),
        Protocol::Tls | Protocol::Wss => {
            let tls = config.tls.clone().ok_or_else(|| {
                TransportError::Tls(format!(
                    "the {protocol} listener at {addr} needs a certificate (TransportConfig::tls)"
                ))
            })?;
            let listener = TcpListener::bind(addr).await?;
            Ok(if protocol == Protocol::Tls {
                Bound::Tls(listener, tls)
            } else {
                Bound::Ws(listener, Some(tls))
            })
        }
        Protocol::Ws => Ok(Bound::Ws(TcpListener::bind(addr).await?, None)),
    }
}

/// Binds every protocol of one listener entry on one port.
async fn bind_group(
    addr: SocketAddr,
    protocols: &[Protocol],
    config: &TransportConfig,
) -> Result<Vec<(Protocol, Bound)>, TransportError> {
    let attempts = if addr.port() == 0 && protocols.len() > 1 {
        SHARED_PORT_ATTEMPTS
    } else {
        1
    };
    let mut last_err = None;
    'attempt: for _ in 0..attempts {
        let mut bound = Vec::with_capacity(protocols.len());
        let mut at = addr;
        for &p in protocols {
            match bind_one(p, at, config).await {
                Ok(b) => {
                    at.set_port(b.local_addr()?.port());
                    bound.push((p, b));
                }
                Err(TransportError::Io(e))
                    if e.kind() == io::ErrorKind::AddrInUse && !bound.is_empty() =>
                {
                    last_err = Some(TransportError::Io(e));
                    continue 'attempt;
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(bound);
    }
    Err(last_err.unwrap_or(TransportError::Io(io::ErrorKind::AddrInUse.into())))
}

impl TransportLayer {
    /// Binds every configured listener and starts receiving. Received
    /// messages arrive on the returned channel, each boxed: the channel
    /// keeps the blocks of items a peak made it allocate for as long as it
    /// lives, and a block of pointers is a small one (32 items of 8 bytes,
    /// not of the message's 368).
    ///
    /// Must be called inside a tokio runtime.
    pub async fn bind(
        config: TransportConfig,
    ) -> Result<(TransportLayer, mpsc::Receiver<Box<Incoming>>), TransportError> {
        Self::bind_with(config, None).await
    }

    /// Binds as [`bind`](Self::bind) does, or as one shard of a server
    /// (see [`super::shards`]): with its route and queue and, beyond the
    /// first shard, with the first shard's listeners and connection table
    /// instead of binding the listeners again.
    pub(crate) async fn bind_with(
        config: TransportConfig,
        shard: Option<ShardSetup>,
    ) -> Result<(TransportLayer, mpsc::Receiver<Box<Incoming>>), TransportError> {
        let (route, queue, joins) = match shard {
            Some(s) => (Some(s.route), Some(s.incoming), s.joins),
            None => (None, None, None),
        };
        let first_of_several = route.is_some() && joins.is_none();
        let (bound, links) = match joins {
            Some((sockets, links)) => {
                let mut bound = Vec::with_capacity(sockets.len());
                for socket in sockets {
                    bound.push(Bound::adopt(socket)?);
                }
                (bound, links)
            }
            None => {
                let mut bound = Vec::new();
                for l in &config.listeners {
                    bound.extend(bind_group(l.addr, &l.protocols, &config).await?);
                }
                (bound, ConnectionState::new())
            }
        };
        // The first shard of several keeps copies for the others.
        let mut shareable = Vec::new();
        if first_of_several {
            for (protocol, b) in &bound {
                shareable.push(b.share(*protocol)?);
            }
        }
        let (in_tx, in_rx) = match (&route, queue) {
            (Some(route), Some(rx)) => (route.own_queue().clone(), rx),
            _ => mpsc::channel(config.incoming_queue.max(1)),
        };
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut listeners = Vec::with_capacity(bound.len());
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut tls = Vec::new();
        let mut ws = Vec::new();
        for (protocol, b) in bound {
            let local_addr = b.local_addr()?;
            listeners.push(Listener {
                protocol,
                local_addr,
            });
            match b {
                Bound::Udp(s) => udp.push(UdpEndpoint {
                    local: local_addr,
                    socket: Arc::new(s),
                }),
                Bound::Tcp(l) => tcp.push((local_addr, l)),
                Bound::Tls(l, config) => tls.push((local_addr, l, config)),
                Bound::Ws(l, config) => ws.push((local_addr, l, config)),
            }
        }
        let shared = Arc::new(Shared {
            config,
            incoming: in_tx,
            listeners,
            udp,
            conns: links.conns,
            conn_count: links.conn_count,
            next_id: links.next_id,
            shutdown: shutdown_rx,
            epoch: links.epoch,
            counters: links.counters,
            shedding: AtomicBool::new(false),
            feedback: Default::default(),
            closed: links.closed,
            sent_by: OnceLock::new(),
            shards: route,
            shareable,
        });
        if let Some(tap) = &shared.config.tap {
            tap.start();
        }
        for ep in &shared.udp {
            let span = tracing::debug_span!("sip_udp", local = %ep.local);
            tokio::spawn(udp::run(shared.clone(), ep.socket.clone(), ep.local).instrument(span));
        }
        for (local, listener) in tcp {
            let span = tracing::debug_span!("sip_tcp_listener", %local);
            tokio::spawn(tcp::run_listener(shared.clone(), listener, local).instrument(span));
        }
        for (local, listener, config) in tls {
            let span = tracing::debug_span!("sip_tls_listener", %local);
            let run = tls::run_listener(shared.clone(), listener, local, config);
            tokio::spawn(run.instrument(span));
        }
        for (local, listener, config) in ws {
            let span = tracing::debug_span!("sip_ws_listener", %local);
            let run = ws::run_listener(shared.clone(), listener, local, config);
            tokio::spawn(run.instrument(span));
        }
        debug!(listeners = ?shared.listeners, "transport started");
        Ok((
            TransportLayer {
                shared,
                guard: Arc::new(ShutdownGuard(shutdown_tx)),
            },
            in_rx,
        ))
    }

    /// What another shard of this server binds with: copies of the
    /// listeners' sockets (the same sockets, as `dup` makes them) and the
    /// connection table. Only the first shard of a sharded server has
    /// sockets to give.
    pub(crate) fn share(&self) -> io::Result<(Vec<ShardSocket>, ConnectionState)> {
        let sockets = self
            .shared
            .shareable
            .iter()
            .map(ShardSocket::try_clone)
            .collect::<io::Result<_>>()?;
        Ok((sockets, self.shared.connection_state()))
    }

    /// The bound listeners, in configuration order.
    pub fn listeners(&self) -> &[Listener] {
        &self.shared.listeners
    }

    /// The address of the first listener of `protocol`.
    pub fn local_addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.shared
            .listeners
            .iter()
            .find(|l| l.protocol == protocol)
            .map(|l| l.local_addr)
    }

    /// The configuration in use.
    pub fn config(&self) -> &TransportConfig {
        &self.shared.config
    }

    /// Sends a request (RFC 3261 §18.1.1); see [`Transport::send_request`].
    pub async fn send_request(
        &self,
        request: &mut Request,
        target: Target,
        options: SendOptions,
    ) -> Result<Sent, TransportError> {
        self.shared.send_request(request, target, options).await
    }

    /// Sends a response (RFC 3261 §18.2.2, RFC 3581 §4); see
    /// [`Transport::send_response`].
    pub async fn send_response(
        &self,
        response: &Response,
        origin: Option<&Origin>,
    ) -> Result<Sent, TransportError> {
        self.shared.send_response(response, origin).await
    }

    /// Sends already serialized bytes to `target` as they are (e.g. a
    /// retransmission), reusing an open connection for stream protocols.
    /// `local` picks the UDP listener to send from.
    pub async fn send_raw(
        &self,
        data: Bytes,
        target: Target,
        local: Option<SocketAddr>,
    ) -> Result<Sent, TransportError> {
        self.shared.send_to(data, target, local, None).await
    }

    /// Sends bytes on an open connection.
    pub async fn send_on(
        &self,
        connection: ConnectionId,
        data: Bytes,
    ) -> Result<Sent, TransportError> {
        let h = self
            .shared
            .connection(connection)
            .ok_or(TransportError::ConnectionClosed)?;
        h.send(data, self.shared.config.write_timeout).await?;
        Ok(h.sent())
    }

    /// Sends a CRLFCRLF keep-alive ping on a connection (RFC 5626 §4.4.1);
    /// the peer's CRLF pong is consumed silently.
    pub async fn send_keepalive(&self, connection: ConnectionId) -> Result<Sent, TransportError> {
        self.send_on(connection, Bytes::from_static(b"\r\n\r\n"))
            .await
    }

    /// Closes a connection. Returns whether it was open.
    pub fn close_connection(&self, connection: ConnectionId) -> bool {
        match self.shared.connection(connection) {
            Some(h) => {
                h.close();
                true
            }
            None => false,
        }
    }

    /// The open connections.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.shared.connection_infos()
    }

    /// The connections as they close, from now on, for state tied to a
    /// connection (a registrar's flows, RFC 5626 §5.3).
    pub fn closed_connections(&self) -> ConnectionClosings {
        ConnectionClosings {
            rx: self.shared.closed.subscribe(),
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Whether `connection` is open.
    pub(crate) fn is_open(&self, connection: ConnectionId) -> bool {
        self.shared.connection(connection).is_some()
    }

    /// The open connection to `remote` over `protocol`, if any (the one an
    /// outgoing message would reuse).
    pub fn connection_to(&self, protocol: Protocol, remote: SocketAddr) -> Option<ConnectionId> {
        self.shared
            .connection_to(protocol, canonical(remote))
            .map(|h| h.id)
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        *self.shared.conn_count.borrow()
    }

    /// The transport's counters: open connections, bytes buffered, how
    /// many connections each defence has closed or refused, and the new
    /// requests refused as they were received.
    pub fn stats(&self) -> TransportStats {
        self.shared.stats()
    }

    /// While `on`, new requests that would start work are refused with
    /// `503` as they are received over UDP, before they are queued or any
    /// state is made for them (up to
    /// [`TransportConfig::refusals_per_second`], dropped beyond). Set by
    /// the transaction user's overload control.
    pub fn set_shedding(&self, on: bool) {
        self.shared
            .shedding
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the overload feedback peers that ask for it get in responses
    /// (RFC 7339, loss-based): the share of their new requests, in
    /// percent, they should hold back. Set by the TU's overload control.
    pub fn set_overload_reduction(&self, percent: u8) {
        self.shared.feedback.set(percent);
    }

    /// The share of new requests peers are told to hold back, in percent.
    pub fn overload_reduction(&self) -> u8 {
        self.shared.feedback.reduction()
    }

    /// New requests dropped unanswered as they were received, beyond the
    /// refusal budget (cheap to read often, like
    /// [`shed_at_receive`](Self::shed_at_receive)).
    pub fn dropped_at_receive(&self) -> u64 {
        self.shared
            .counters
            .dropped_at_receive
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// New requests refused with `503` as they were received (one of the
    /// counters of [`stats`](Self::stats) cheap to read often).
    pub fn shed_at_receive(&self) -> u64 {
        self.shared
            .counters
            .shed_at_receive
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets how a response's sent-by host name is turned into addresses
    /// when the response cannot go where §18.2.2 first sends it (RFC 3263
    /// §5: SRV without a port): the [`Locator`](crate::locate::Locator)
    /// is one. Without it, A/AAAA lookups only. Set once; false if it was
    /// already set.
    pub fn set_sent_by_resolver(&self, resolver: Arc<dyn SentByResolver>) -> bool {
        self.shared.sent_by.set(resolver).is_ok()
    }

    /// Watches the number of open connections (updated as connections open
    /// and close).
    pub fn watch_connections(&self) -> watch::Receiver<usize> {
        self.shared.conn_count.subscribe()
    }

    /// Stops every listener and closes every connection (also done when
    /// the last handle is dropped).
    pub fn shutdown(&self) {
        self.guard.0.send_replace(true);
    }
}

impl Transport for TransportLayer {
    fn send_request(
        &self,
        request: &mut Request,
        target: Target,
        options: SendOptions,
    ) -> impl Future<Output = Result<Sent, TransportError>> + Send {
        TransportLayer::send_request(self, request, target, options)
    }

    fn send_response(
        &self,
        response: &Response,
        origin: Option<&Origin>,
    ) -> impl Future<Output = Result<Sent, TransportError>> + Send {
        TransportLayer::send_response(self, response, origin)
    }
}

impl Shared {
    /// Sends a response over a stream protocol when the connection its
    /// request came on is gone (RFC 3261 §18.2.2): a connection to the
    /// `received` address (or a numeric sent-by) at the sent-by port; if
    /// that fails, or the sent-by is a host name without `received`, to
    /// each server RFC 3263 §5 finds for the sent-by in turn.
    async fn send_stream_response(
        self: &Arc<Self>,
        data: Bytes,
        protocol: Protocol,
        via: &Via,
    ) -> Result<Sent, TransportError> {
        let d = response_destination(via);
        let first = d.host.ip().map(|ip| SocketAddr::new(ip, d.port));
        let mut failure = None;
        if let Some(addr) = first {
            match self.send_stream(data.clone(), protocol, addr, None).await {
                Ok(sent) => return Ok(sent),
                Err(error) if via.host.ip().is_some() || protocol.is_websocket() => {
                    return Err(error);
                }
                Err(error) => {
                    debug!(%addr, %error, sent_by = %via.host, "response destination failed; locating sent-by (RFC 3263 §5)");
                    failure = Some(error);
                }
            }
        }
        let host = via.host.to_string();
        let servers = match self.sent_by_servers(&host, via.port, protocol).await {
            Ok(servers) => servers,
            Err(error) => return Err(failure.unwrap_or(error)),
        };
        for addr in servers {
            if Some(addr) == first {
                continue;
            }
            match self
                .send_stream(data.clone(), protocol, addr, Some(&host))
                .await
            {
                Ok(sent) => return Ok(sent),
                Err(error) => {
                    debug!(%addr, %error, sent_by = %host, "sent-by server failed; trying the next");
                    failure = Some(error);
                }
            }
        }
        Err(failure.unwrap_or(TransportError::Resolve(host)))
    }

    /// Sends on the flow's connection only (RFC 5626 §5.3): a request to a
    /// peer that opened the connection cannot open another.
    async fn send_on_flow(&self, data: Bytes, id: ConnectionId) -> Result<Sent, TransportError> {
        let h = self.connection(id).ok_or(TransportError::FlowFailed(id))?;
        match h.send(data, self.config.write_timeout).await {
            Err(TransportError::ConnectionClosed) => Err(TransportError::FlowFailed(id)),
            r => r.map(|()| h.sent()),
        }
    }

    /// Sends over a stream protocol, reusing an open connection to `dest`
    /// (inbound or outbound) or opening one.
    /// `name` is the name a TLS server must prove (see
    /// [`tls::server_name`]); `None` checks the address.
    async fn send_stream(
        self: &Arc<Self>,
        data: Bytes,
        protocol: Protocol,
        dest: SocketAddr,
        name: Option<&str>,
    ) -> Result<Sent, TransportError> {
        let dest = canonical(dest);
        if protocol.is_websocket() {
            // RFC 7118 §5: only the peer opens a WebSocket (a browser
            // cannot be dialled); its requests' answers and the requests
            // to it go down the connection it opened.
            let h = self.connection_to(protocol, dest).ok_or_else(|| {
                TransportError::NoRoute(format!("no {protocol} connection from {dest}"))
            })?;
            h.send(data, self.config.write_timeout).await?;
            return Ok(h.sent());
        }
        for _ in 0..2 {
            // RFC 5923: a TLS peer may have let us reuse its connection
            // for the name (or address) we are sending to.
            let alias = || {
                let host = name.map_or_else(|| dest.ip().to_string(), str::to_owned);
                self.aliased(&host, dest.port())
            };
            let open = self
                .connection_to(protocol, dest)
                .or_else(|| (protocol == Protocol::Tls).then(alias).flatten());
            let (h, reused) = match open {
                Some(h) => (h, true),
                None if protocol == Protocol::Tls => (tls::connect(self, dest, name).await?, false),
                None => (tcp::connect(self, dest).await?, false),
            };
            match h.send(data.clone(), self.config.write_timeout).await {
                Ok(()) => return Ok(h.sent()),
                // A reused connection closed under us: forget it and open
                // a fresh one.
                Err(TransportError::ConnectionClosed) if reused => {
                    debug!(peer = %dest, conn = %h.id, "reused connection was closed; reconnecting");
                    self.unregister(h.id);
                }
                Err(e) => return Err(e),
            }
        }
        Err(TransportError::ConnectionClosed)
    }

    pub(crate) async fn send_to(
        self: &Arc<Self>,
        data: Bytes,
        target: Target,
        local: Option<SocketAddr>,
        name: Option<&str>,
    ) -> Result<Sent, TransportError> {
        if self.is_shutdown() {
            return Err(TransportError::Shutdown);
        }
        match (target.protocol, target.flow) {
            (Protocol::Udp, _) => udp::send(self, &data, target.addr, local, None).await,
            (_, Some(id)) => self.send_on_flow(data, id).await,
            (p, None) => self.send_stream(data, p, target.addr, name).await,
        }
    }

    pub(crate) async fn send_request(
        self: &Arc<Self>,
        request: &mut Request,
        target: Target,
        options: SendOptions,
    ) -> Result<Sent, TransportError> {
        let data = request.to_bytes();
        if target.protocol == Protocol::Udp
            && data.len() > self.config.udp_size_threshold
            && options.allow_tcp_fallback
        {
            // RFC 3261 §18.1.1: too large for UDP, so TCP, with the top Via
            // saying so.
            let original = request.headers.clone();
            let tcp_data = match set_top_via_transport(&mut request.headers, Protocol::Tcp) {
                Ok(true) => request.to_bytes(),
                Ok(false) => data.clone(),
                Err(error) => {
                    debug!(%error, "cannot rewrite the top Via of a request switched to TCP");
                    data.clone()
                }
            };
            debug!(peer = %target.addr, size = data.len(), "request too large for UDP; sending over TCP (RFC 3261 §18.1.1)");
            match self
                .send_stream(tcp_data, Protocol::Tcp, target.addr, None)
                .await
            {
                Ok(sent) => return Ok(sent),
                // §18.1.1: a refused or reset connection means retrying
                // over UDP.
                Err(e) if e.is_refused() => {
                    debug!(peer = %target.addr, error = %e, "TCP refused; retrying over UDP");
                    request.headers = original;
                }
                Err(e) => {
                    request.headers = original;
                    return Err(e);
                }
            }
        }
        let name = (target.protocol == Protocol::Tls)
            .then(|| tls::server_name(request))
            .flatten();
        self.send_to(data, target, options.local, name.as_deref())
            .await
    }

    pub(crate) async fn send_response(
        self: &Arc<Self>,
        response: &Response,
        origin: Option<&Origin>,
    ) -> Result<Sent, TransportError> {
        if self.is_shutdown() {
            return Err(TransportError::Shutdown);
        }
        // RFC 7339 §5.2: a peer that asked gets the overload feedback.
        let stamped = self.feedback.stamped(response);
        let response = stamped.as_ref().unwrap_or(response);
        let data = response.to_bytes();
        let via = top_via(&response.headers);
        let protocol = match (origin, &via) {
            (Some(o), _) => o.protocol,
            (None, Ok(v)) => Protocol::from_via(&v.transport).ok_or_else(|| {
                TransportError::NoRoute(format!("unsupported transport {}", v.transport))
            })?,
            (None, Err(e)) => return Err(TransportError::NoRoute(e.to_string())),
        };
        if protocol.is_connection_oriented() {
            // §18.2.2: over the connection the request came on, if open.
            if let Some(h) = origin
                .and_then(|o| o.connection)
                .and_then(|id| self.connection(id))
            {
                match h.send(data.clone(), self.config.write_timeout).await {
                    Ok(()) => return Ok(h.sent()),
                    Err(error) => {
                        debug!(conn = %h.id, %error, "original connection failed; reconnecting");
                    }
                }
            }
            let via = via.map_err(|e| TransportError::NoRoute(e.to_string()))?;
            return self.send_stream_response(data, protocol, &via).await;
        }
        udp::send_response(self, &data, via, origin).await
    }
}
