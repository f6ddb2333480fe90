//! SIP over TLS (RFC 3261 §26.2, RFC 5630): accepting and connecting (the
//! settings are in `tls_config`), and the TLS stream itself.
//!
//! A TLS connection is a TCP connection with a handshake in front; once it
//! is done, the connection is served by the task every stream protocol
//! shares (`stream`), under the same limits, deadlines and table.
//!
//! The stream ([`TlsStream`]) drives rustls through its unbuffered API, so
//! that the buffers are ours: received TLS bytes, bytes to send and
//! decrypted bytes not yet read are each held only while there are some.
//! rustls's own buffered connection keeps a 4 KiB receive buffer for the
//! connection's whole life, which for thousands of idle connections
//! (registered phones, browsers) is most of what each costs.

use super::connections::ConnHandle;
use super::shared::Shared;
use super::stream::{run_connection, spawn_after_handshake, spawn_connection};
use super::tcp::accept_loop;
use super::tls_config::TlsConfig;
use super::{Protocol, TransportError};
use crate::message::{HeaderName, Host, NameAddr, Request};
use rustls_pki_types::ServerName;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::ops::DerefMut;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use tokio_rustls::rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use tokio_rustls::rustls::unbuffered::{
    ConnectionState, EncodeError, EncryptError, InsufficientSizeError, UnbufferedConnectionCommon,
    UnbufferedStatus,
};
use tokio_rustls::rustls::{ClientConfig, ServerConfig};
use tracing::{debug, warn};

/// Accepts TLS connections until shutdown. Each handshake runs in the
/// connection's own task, already counted in the connection table (so the
/// caps apply to handshakes too) and bounded by the header deadline.
pub(crate) async fn run_listener(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    tls: TlsConfig,
) {
    accept_loop(&shared, listener, local, |stream, peer, conn_local| {
        let Some(config) = tls.server_config() else {
            warn!(%peer, "TLS connection refused: no certificate configured");
            return;
        };
        let handshake = accept(stream, config);
        let serve = |shared,
                     stream: TlsStream<UnbufferedServerConnection>,
                     handle: ConnHandle,
                     rx,
                     guard| {
            // A client that proved a certificate may let us reuse this
            // connection for the names it covers (RFC 5923).
            if let Some(cert) = stream.conn.peer_certificates().and_then(<[_]>::first) {
                let _ = handle.activity.peer_cert.set(cert.clone());
            }
            run_connection(shared, stream, handle, rx, guard)
        };
        match spawn_after_handshake(&shared, handshake, Protocol::Tls, peer, conn_local, serve) {
            Ok(h) => debug!(conn = %h.id, %peer, "accepted TLS connection"),
            Err(error) => warn!(%peer, %error, "refused connection"),
        }
    })
    .await;
}

/// The name the server must prove for `request` (RFC 5922 §7.2): the host
/// of the URI its next hop was found from (the first Route's, else the
/// Request-URI's) when it is a domain name; `None` for an IP address, which
/// the server's certificate is then checked against.
pub(crate) fn server_name(request: &Request) -> Option<String> {
    let routed;
    let uri = match request.headers.get(HeaderName::Route) {
        Some(route) => {
            routed = NameAddr::parse(route, route.as_str()).ok()?.0;
            routed.uri()
        }
        None => &request.uri,
    };
    match uri.as_sip()?.host() {
        Host::Domain(d) => Some(d.to_string()),
        _ => None,
    }
}

/// Opens a TLS connection to `remote` (a canonical address), verifying
/// the server's certificate for `name` (RFC 5922 §7: the host of the URI
/// the request goes to), or for the address itself when there is none.
pub(crate) async fn connect(
    shared: &Arc<Shared>,
    remote: SocketAddr,
    name: Option<&str>,
) -> Result<ConnHandle, TransportError> {
    if shared.is_shutdown() {
        return Err(TransportError::Shutdown);
    }
    let tls = shared
        .config
        .tls
        .as_ref()
        .ok_or(TransportError::Unsupported(Protocol::Tls))?;
    if !shared.has_room() {
        return Err(TransportError::ConnectionLimit);
    }
    let server_name = match name {
        Some(n) => ServerName::try_from(n.to_owned())
            .map_err(|_| TransportError::NoRoute(format!("{n:?} is not a TLS server name")))?,
        None => ServerName::IpAddress(remote.ip().into()),
    };
    let stream = timeout(shared.config.connect_timeout, TcpStream::connect(remote))
        .await
        .map_err(|_| TransportError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let handshake = connect_tls(stream, tls.client_config(), server_name.clone());
    let stream = match timeout(shared.config.header_timeout, handshake).await {
        Ok(Ok(s)) => s,
        Ok(Err(error)) => {
            warn!(peer = %remote, name = ?server_name, %error, "TLS handshake failed");
            return Err(TransportError::Tls(error.to_string()));
        }
        Err(_) => {
            warn!(peer = %remote, "TLS handshake timed out");
            return Err(TransportError::Timeout);
        }
    };
    let h = spawn_connection(shared, stream, Protocol::Tls, remote, local, false)?;
    debug!(conn = %h.id, peer = %remote, %local, "connected over TLS");
    Ok(h)
}

/// Completes the server side of a TLS handshake on `tcp`.
pub(crate) async fn accept(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
) -> io::Result<TlsStream<UnbufferedServerConnection>> {
    let conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
    let mut tls = TlsStream::new(tcp, conn);
    poll_fn(|cx| tls.poll_handshake(cx)).await?;
    Ok(tls)
}

/// Completes the client side of a TLS handshake on `tcp` with the server
/// that must prove `name`.
async fn connect_tls(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> io::Result<TlsStream<UnbufferedClientConnection>> {
    let conn = UnbufferedClientConnection::new(config, name).map_err(tls_error)?;
    let mut tls = TlsStream::new(tcp, conn);
    poll_fn(|cx| tls.poll_handshake(cx)).await?;
    Ok(tls)
}

fn tls_error(e: tokio_rustls::rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// rustls's unbuffered server and client connections, which
/// [`TlsStream`] drives alike.
pub(crate) trait Unbuffered:
    DerefMut<Target = UnbufferedConnectionCommon<Self::Data>> + Send + Unpin + 'static
{
    type Data;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Unbuffered for UnbufferedServerConnection {
    type Data = ServerConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

impl Unbuffered for UnbufferedClientConnection {
    type Data = ClientConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

/// Room for one read of TLS bytes from the socket (more when the record
/// being received is known to be larger). Allocated when the socket is
/// readable, let go once every record in it is processed.
const TLS_READ: usize = 4096;

/// A TLS connection over TCP: reads give the decrypted bytes the peer
/// sent, writes encrypt. Its three buffers are allocated only while they
/// hold something, so an idle connection holds none.
pub(crate) struct TlsStream<C> {
    tcp: TcpStream,
    conn: C,
    /// TLS bytes received and not yet processed (an incomplete record, or
    /// records left when a read's buffer filled).
    incoming: Vec<u8>,
    /// TLS bytes to send, from `sent` on.
    outgoing: Vec<u8>,
    sent: usize,
    /// Decrypted bytes not yet read, from `taken` on: the rest of a record
    /// larger than the buffer it was read into.
    plaintext: Vec<u8>,
    taken: usize,
    /// The peer has closed its side: reads return the end of the stream.
    read_closed: bool,
    /// Our close_notify has been queued.
    close_sent: bool,
}

/// What a step of processing is for.
enum Intent<'a, 'b> {
    /// Completing the handshake.
    Handshake,
    /// Reading decrypted bytes into this buffer.
    Read(&'a mut ReadBuf<'b>),
    /// Encrypting these bytes.
    Write(&'a [u8]),
    /// Sending close_notify.
    Close,
}

/// What the connection needs after a step.
enum Step {
    /// Progress was made (a record encoded or decrypted): step again.
    Again,
    /// The bytes of the intent were encrypted or the close_notify queued.
    Done,
    /// TLS bytes are waiting to be sent.
    Send,
    /// More TLS bytes from the peer are needed.
    Receive,
    /// The handshake is done and nothing is pending.
    Traffic,
    /// The peer has closed its side (close_notify).
    PeerClosed,
    /// Both sides have closed.
    Closed,
}

impl<C: Unbuffered> TlsStream<C> {
    fn new(tcp: TcpStream, conn: C) -> Self {
        TlsStream {
            tcp,
            conn,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            sent: 0,
            plaintext: Vec::new(),
            taken: 0,
            read_closed: false,
            close_sent: false,
        }
    }

    /// Runs the handshake to its end (both sides' Finished, and what
    /// rustls sends right after, such as TLS 1.3 session tickets).
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.step(Intent::Handshake)? {
                Step::Again | Step::Done => {}
                Step::Send => ready!(self.poll_send(cx))?,
                Step::Traffic if !self.conn.is_handshaking() => return Poll::Ready(Ok(())),
                Step::Receive | Step::Traffic => {
                    if ready!(self.poll_receive(cx))? == 0 {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed during the TLS handshake",
                        )));
                    }
                }
                Step::PeerClosed | Step::Closed => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "TLS closed during the handshake",
                    )));
                }
            }
        }
    }

    /// Lets rustls process the TLS bytes received until it needs
    /// something, serving `intent` on the way.
    fn step(&mut self, intent: Intent<'_, '_>) -> io::Result<Step> {
        let TlsStream {
            conn,
            incoming,
            outgoing,
            plaintext,
            taken,
            ..
        } = self;
        let status = conn.process(incoming);
        let mut discard = status.discard;
        let step = match status.state {
            Err(e) => Err(tls_error(e)),
            Ok(ConnectionState::ReadTraffic(mut records)) => {
                let mut out = match intent {
                    Intent::Read(buf) => Some(buf),
                    _ => None,
                };
                let mut r = Ok(Step::Again);
                while let Some(record) = records.next_record() {
                    let payload = match record {
                        Ok(record) => {
                            discard += record.discard;
                            record.payload
                        }
                        Err(e) => {
                            r = Err(tls_error(e));
                            break;
                        }
                    };
                    // Straight into the reader's buffer while nothing is
                    // waiting before it; the rest waits here.
                    let direct = match out.as_deref_mut() {
                        Some(buf) if *taken == plaintext.len() => {
                            let n = payload.len().min(buf.remaining());
                            buf.put_slice(&payload[..n]);
                            n
                        }
                        _ => 0,
                    };
                    plaintext.extend_from_slice(&payload[direct..]);
                }
                r
            }
            Ok(ConnectionState::EncodeTlsData(mut data)) => {
                encode_into(outgoing, |out| data.encode(out)).map(|()| Step::Again)
            }
            Ok(ConnectionState::TransmitTlsData(data)) => {
                if self.sent < outgoing.len() {
                    Ok(Step::Send)
                } else {
                    data.done();
                    Ok(Step::Again)
                }
            }
            Ok(ConnectionState::BlockedHandshake) => Ok(Step::Receive),
            Ok(ConnectionState::WriteTraffic(mut traffic)) => match intent {
                Intent::Write(bytes) => {
                    encrypt_into(outgoing, |out| traffic.encrypt(bytes, out)).map(|()| Step::Done)
                }
                Intent::Close => encrypt_into(outgoing, |out| traffic.queue_close_notify(out))
                    .map(|()| Step::Done),
                Intent::Handshake | Intent::Read(_) => Ok(Step::Traffic),
            },
            Ok(ConnectionState::PeerClosed) => Ok(Step::PeerClosed),
            Ok(ConnectionState::Closed) => Ok(Step::Closed),
            // Early data is not enabled, and no other state is known.
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected TLS connection state",
            )),
        };
        incoming.drain(..discard);
        if incoming.is_empty() && incoming.capacity() > 0 {
            *incoming = Vec::new();
        }
        if *taken == plaintext.len() && plaintext.capacity() > 0 {
            *plaintext = Vec::new();
            *taken = 0;
        }
        if step.is_err() {
            self.send_alert();
        }
        step
    }

    /// After an error, sends the alert rustls queued for it, if the socket
    /// takes it at once. Only while something is queued: with nothing
    /// queued, processing would go back to what failed.
    fn send_alert(&mut self) {
        while self.conn.wants_write() {
            let status = self.conn.process(&mut self.incoming);
            let discard = status.discard;
            let encoded = match status.state {
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    encode_into(&mut self.outgoing, |out| data.encode(out)).is_ok()
                }
                _ => false,
            };
            self.incoming.drain(..discard);
            if !encoded {
                break;
            }
        }
        if self.sent < self.outgoing.len() {
            let _ = self.tcp.try_write(&self.outgoing[self.sent..]);
        }
        self.outgoing = Vec::new();
        self.sent = 0;
    }

    /// Sends the TLS bytes waiting.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.outgoing[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        if self.outgoing.capacity() > 0 {
            self.outgoing = Vec::new();
            self.sent = 0;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads TLS bytes from the socket; 0 at its end. Room is made only
    /// once the socket is readable.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.tcp.poll_read_ready(cx))?;
            let room = record_rest(&self.incoming).max(TLS_READ);
            self.incoming.reserve(room);
            match self.tcp.try_read_buf(&mut self.incoming) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.incoming.is_empty() {
                        self.incoming = Vec::new();
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// How many bytes of the TLS record at the start of `incoming` are still
/// to come, as far as its header says (0 if it is incomplete): a hint for
/// the room to read into, at most the largest record TLS allows.
fn record_rest(incoming: &[u8]) -> usize {
    /// A record's header and its largest payload (RFC 8446 §5.2).
    const MAX_RECORD: usize = 5 + (1 << 14) + 256;
    match incoming {
        [_, _, _, hi, lo, ..] => (5 + usize::from(u16::from_be_bytes([*hi, *lo])))
            .min(MAX_RECORD)
            .saturating_sub(incoming.len()),
        _ => 0,
    }
}

/// Appends what `encode` writes to `out`, given the room it asks for.
fn encode_into(
    out: &mut Vec<u8>,
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> io::Result<()> {
    let needed = match encode(&mut []) {
        Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
            required_size
        }
        Ok(_) => return Ok(()),
        Err(e) => return Err(io::Error::other(e)),
    };
    let start = out.len();
    out.resize(start + needed, 0);
    let n = encode(&mut out[start..]).map_err(io::Error::other)?;
    out.truncate(start + n);
    Ok(())
}

/// [`encode_into`] for encryption.
fn encrypt_into(
    out: &mut Vec<u8>,
    mut encrypt: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
) -> io::Result<()> {
    let needed = match encrypt(&mut []) {
        Err(EncryptError::InsufficientSize(InsufficientSizeError { required_size })) => {
            required_size
        }
        Ok(_) => return Ok(()),
        Err(e) => return Err(io::Error::other(e)),
    };
    let start = out.len();
    out.resize(start + needed, 0);
    let n = encrypt(&mut out[start..]).map_err(io::Error::other)?;
    out.truncate(start + n);
    Ok(())
}

impl<C: Unbuffered> AsyncRead for TlsStream<C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.taken < this.plaintext.len() {
                let n = (this.plaintext.len() - this.taken).min(buf.remaining());
                buf.put_slice(&this.plaintext[this.taken..this.taken + n]);
                this.taken += n;
                if this.taken == this.plaintext.len() {
                    this.plaintext = Vec::new();
                    this.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.read_closed || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            match this.step(Intent::Read(buf))? {
                Step::Again | Step::Done => {
                    if buf.filled().len() > before {
                        return Poll::Ready(Ok(()));
                    }
                }
                // A key update or session ticket to send, say.
                Step::Send => ready!(this.poll_send(cx))?,
                Step::Receive | Step::Traffic => {
                    if ready!(this.poll_receive(cx))? == 0 {
                        this.read_closed = true;
                    }
                }
                Step::PeerClosed | Step::Closed => this.read_closed = true,
            }
        }
    }
}

impl<C: Unbuffered> AsyncWrite for TlsStream<C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // What is already encrypted goes first: a peer that does not read
        // holds the writer back.
        ready!(this.poll_send(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            match this.step(Intent::Write(data))? {
                Step::Done => break,
                Step::Again | Step::PeerClosed | Step::Traffic => {}
                Step::Send => ready!(this.poll_send(cx))?,
                Step::Receive => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "TLS handshake not complete",
                    )));
                }
                Step::Closed => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
        // Sent as far as the socket takes it now; flushing sends the rest.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while !this.close_sent {
            match this.step(Intent::Close) {
                Ok(Step::Again | Step::PeerClosed) => {}
                Ok(Step::Send) => ready!(this.poll_send(cx))?,
                // Queued, or nothing to close at the TLS level.
                Ok(_) | Err(_) => this.close_sent = true,
            }
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}
