//! Stream connections: the per-connection task, accepting and connecting
//! (the table of open connections is in `connections`).
//!
//! The connection task is generic over the byte stream so that TLS can reuse
//! it unchanged. Each connection is served by exactly one task, which ends
//! when the connection closes for any reason; a guard removes the
//! connection from the table when the task ends, so the table cannot leak.

use super::addr::canonical;
use super::connections::{ConnHandle, Outgoing};
use super::inbound::{Inbound, classify, malformed};
use super::shared::{ConnGuard, Shared, shutdown_signal};
use super::{Origin, Protocol, TransportError};
use crate::message::{Frame, StreamDecoder};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tracing::{Instrument, debug, trace, warn};

/// Spare room kept in a connection's receive buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the
/// listener does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// The longest idle timeout honoured (about 30 years): a larger configured
/// value (e.g. `Duration::MAX` to disable it) must not overflow `Instant`.
const MAX_IDLE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
/// How long a closing connection may take to flush and shut down.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Registers a connection and starts its task.
fn spawn_connection<S>(
    shared: &Arc<Shared>,
    stream: S,
    protocol: Protocol,
    remote: SocketAddr,
    local: SocketAddr,
) -> Result<ConnHandle, TransportError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (handle, rx, guard) = shared.register(protocol, remote, local)?;
    let span =
        tracing::debug_span!("sip_conn", conn = %handle.id, %protocol, peer = %remote, %local);
    tokio::spawn(
        run_connection(shared.clone(), stream, handle.clone(), rx, guard).instrument(span),
    );
    Ok(handle)
}

/// Accepts TCP connections until shutdown.
pub(crate) async fn run_listener(shared: Arc<Shared>, listener: TcpListener, local: SocketAddr) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            () = shutdown_signal(&mut shutdown) => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let peer = canonical(peer);
                let _ = stream.set_nodelay(true);
                let conn_local = stream.local_addr().unwrap_or(local);
                match spawn_connection(&shared, stream, Protocol::Tcp, peer, conn_local) {
                    Ok(h) => debug!(conn = %h.id, %peer, "accepted connection"),
                    // Dropping the stream closes it.
                    Err(error) => warn!(%peer, %error, "refused connection"),
                }
            }
            Err(error) => {
                warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    debug!("listener stopped");
}

/// Opens a TCP connection to `remote` (a canonical address).
pub(crate) async fn connect(
    shared: &Arc<Shared>,
    remote: SocketAddr,
) -> Result<ConnHandle, TransportError> {
    if shared.is_shutdown() {
        return Err(TransportError::Shutdown);
    }
    // Checked again (atomically) on registration; this avoids dialling out
    // when the cap is already reached.
    if *shared.conn_count.borrow() >= shared.config.max_connections {
        return Err(TransportError::ConnectionLimit);
    }
    let stream = timeout(shared.config.connect_timeout, TcpStream::connect(remote))
        .await
        .map_err(|_| TransportError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let h = spawn_connection(shared, stream, Protocol::Tcp, remote, local)?;
    debug!(conn = %h.id, peer = %remote, %local, "connected");
    Ok(h)
}

async fn write_all<W: AsyncWrite + Unpin>(
    wr: &mut W,
    data: &[u8],
    limit: Duration,
) -> io::Result<()> {
    let write = async {
        wr.write_all(data).await?;
        wr.flush().await
    };
    match timeout(limit, write).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
    }
}

/// Serves one connection until it closes.
async fn run_connection<S>(
    shared: Arc<Shared>,
    stream: S,
    handle: ConnHandle,
    mut rx: mpsc::Receiver<Outgoing>,
    guard: ConnGuard,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut decoder = StreamDecoder::new(shared.config.limits);
    let idle = shared.config.idle_timeout.min(MAX_IDLE);
    let write_limit = shared.config.write_timeout;
    let deadline = tokio::time::sleep(idle);
    tokio::pin!(deadline);
    let mut shutdown = shared.shutdown.clone();
    let origin = Origin {
        protocol: handle.protocol,
        source: handle.remote,
        local: handle.local,
        connection: Some(handle.id),
    };
    let reason = loop {
        let buf = decoder.buffer_mut();
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            () = shutdown_signal(&mut shutdown) => break "shutdown",
            () = handle.close.notified() => break "closed locally",
            () = &mut deadline => break "idle timeout",
            out = rx.recv() => {
                // The task holds a sender itself, so the queue never ends.
                let Some(Outgoing { data, done }) = out else { break "closed locally" };
                let r = write_all(&mut wr, &data, write_limit).await;
                let failed = r.as_ref().err().map(|e| e.to_string());
                let _ = done.send(r);
                if let Some(error) = failed {
                    debug!(%error, "write failed");
                    break "write failed";
                }
                trace!(size = data.len(), "sent");
                deadline.as_mut().reset(Instant::now() + idle);
            }
            r = rd.read_buf(decoder.buffer_mut()) => match r {
                Ok(0) => break "closed by peer",
                Ok(_) => {
                    deadline.as_mut().reset(Instant::now() + idle);
                    if let Err(reason) = process(&shared, &origin, &mut decoder, &mut wr).await {
                        break reason;
                    }
                }
                Err(error) => {
                    debug!(%error, "read failed");
                    break "read failed";
                }
            },
        }
    };
    // Leave the table first so nothing new is queued; queued senders then
    // see the connection closed.
    drop(guard);
    drop(rx);
    let _ = timeout(CLOSE_GRACE, wr.shutdown()).await;
    debug!(reason, "connection closed");
}

/// Handles every complete frame in the decoder. `Err` closes the connection.
async fn process<W: AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    origin: &Origin,
    decoder: &mut StreamDecoder,
    wr: &mut W,
) -> Result<(), &'static str> {
    let write_limit = shared.config.write_timeout;
    loop {
        let reply = match decoder.decode() {
            Ok(None) => break,
            Ok(Some(Frame::Ping)) => {
                // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
                trace!("keep-alive ping");
                Bytes::from_static(b"\r\n")
            }
            Ok(Some(Frame::Pong)) => {
                trace!("keep-alive pong");
                continue;
            }
            Ok(Some(Frame::Message(m))) => match classify(m, *origin) {
                Inbound::Deliver(incoming) => {
                    if shared.incoming.send(incoming).await.is_err() {
                        return Err("receiver closed");
                    }
                    continue;
                }
                Inbound::Reply(r) => r.to_bytes(),
                Inbound::Drop => continue,
            },
            Ok(Some(Frame::Malformed { error, raw })) => {
                // §18.2.2: the answer goes back over this connection.
                match malformed(&raw, &error, origin) {
                    Some(r) => r.to_bytes(),
                    None => continue,
                }
            }
            Err(error) => {
                // The framing is lost (no or bad Content-Length) or a limit
                // was exceeded: nothing more on this stream can be trusted.
                warn!(peer = %origin.source, %error, "fatal framing error; disconnecting");
                return Err("framing error");
            }
        };
        if let Err(error) = write_all(wr, &reply, write_limit).await {
            debug!(%error, "write failed");
            return Err("write failed");
        }
    }
    if decoder.buffered() > shared.config.max_connection_buffer {
        warn!(
            peer = %origin.source,
            buffered = decoder.buffered(),
            "receive buffer limit exceeded; disconnecting"
        );
        return Err("buffer limit");
    }
    Ok(())
}
