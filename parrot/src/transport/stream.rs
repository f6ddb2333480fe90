//! The connection task every stream protocol shares: framing, keep-alives,
//! writing, the idle timeout and the defences against peers that hold a
//! connection or its buffer without finishing a message (header and body
//! deadlines, a minimum receive rate, the global byte budget).
//!
//! The task is generic over the byte stream so that TLS and WebSocket can
//! reuse it unchanged. Each connection is served by exactly one task, which
//! ends when the connection closes for any reason; a guard removes the
//! connection from the table (and its buffer from the byte budget) when the
//! task ends, so neither can leak.

use super::connections::{ConnHandle, Outgoing};
use super::inbound::{Inbound, classify, malformed};
use super::progress::{Progress, ProgressLimits, Stalled, after};
use super::shared::{ConnGuard, Shared, shutdown_signal};
use super::stats::bump;
use super::{Origin, Protocol, TransportError};
use crate::message::{Frame, StreamDecoder};
use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep, timeout};
use tracing::{Instrument, debug, trace, warn};

/// Spare room kept in a connection's receive buffer before each read
/// while a message is incomplete.
const READ_CHUNK: usize = 16 * 1024;
/// Room kept while nothing is buffered; a larger buffer left by a burst is
/// let go once it empties.
const IDLE_ROOM: usize = 2048;
/// How long a closing connection may take to flush and shut down.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Registers a connection and starts its task.
pub(crate) fn spawn_connection<S>(
    shared: &Arc<Shared>,
    stream: S,
    protocol: Protocol,
    remote: SocketAddr,
    local: SocketAddr,
    inbound: bool,
) -> Result<ConnHandle, TransportError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (handle, rx, guard) = shared.register(protocol, remote, local, inbound)?;
    let span =
        tracing::debug_span!("sip_conn", conn = %handle.id, %protocol, peer = %remote, %local);
    tokio::spawn(
        run_connection(shared.clone(), stream, handle.clone(), rx, guard).instrument(span),
    );
    Ok(handle)
}

/// Registers an inbound connection that must first complete a handshake
/// (TLS) and starts its task, which then serves the byte stream like any
/// other; see [`spawn_after_handshake`].
pub(crate) fn spawn_handshaking<S, F>(
    shared: &Arc<Shared>,
    handshake: F,
    protocol: Protocol,
    remote: SocketAddr,
    local: SocketAddr,
) -> Result<ConnHandle, TransportError>
where
    F: Future<Output = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    spawn_after_handshake(shared, handshake, protocol, remote, local, run_connection)
}

/// Registers an inbound connection that must first complete a handshake
/// (TLS, a WebSocket upgrade) and starts its task: the handshake runs in
/// the task, under the connection caps from its first byte, and must end
/// within the header deadline ([`TransportConfig::header_timeout`]
/// (super::TransportConfig::header_timeout)); a connection evicted or shut
/// down meanwhile is dropped. A failed or late handshake closes only this
/// connection, logged and counted. Then `serve` serves the connection.
pub(crate) fn spawn_after_handshake<S, F, R, RF>(
    shared: &Arc<Shared>,
    handshake: F,
    protocol: Protocol,
    remote: SocketAddr,
    local: SocketAddr,
    serve: R,
) -> Result<ConnHandle, TransportError>
where
    F: Future<Output = io::Result<S>> + Send + 'static,
    S: Send + 'static,
    R: FnOnce(Arc<Shared>, S, ConnHandle, mpsc::Receiver<Outgoing>, ConnGuard) -> RF
        + Send
        + 'static,
    RF: Future<Output = ()> + Send,
{
    let (handle, rx, guard) = shared.register(protocol, remote, local, true)?;
    let span =
        tracing::debug_span!("sip_conn", conn = %handle.id, %protocol, peer = %remote, %local);
    let shared = shared.clone();
    let h = handle.clone();
    let task = async move {
        let limit = shared.config.header_timeout;
        let mut shutdown = shared.shutdown.clone();
        let done = tokio::select! {
            r = timeout(limit, handshake) => r,
            () = h.close.notified() => {
                debug!("closed during the handshake");
                return;
            }
            () = shutdown_signal(&mut shutdown) => return,
        };
        match done {
            Ok(Ok(stream)) => {
                trace!("handshake done");
                serve(shared, stream, h, rx, guard).await;
            }
            Ok(Err(error)) => {
                bump(&shared.counters.handshake_failures);
                warn!(%error, "handshake failed; connection closed");
            }
            Err(_) => {
                bump(&shared.counters.handshake_timeouts);
                warn!(?limit, "handshake not completed in time; connection closed");
            }
        }
    };
    tokio::spawn(task.instrument(span));
    Ok(handle)
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

/// The receive-progress limits of the configuration.
fn progress_limits(shared: &Shared) -> ProgressLimits {
    let c = &shared.config;
    ProgressLimits {
        header: c.header_timeout,
        body: c.body_timeout,
        window: c.min_receive_window,
        min_bytes: c.min_receive_bytes,
    }
}

/// Why the connection closes, counted, for a stalled message.
fn stalled(shared: &Shared, why: Stalled) -> &'static str {
    let (counter, reason) = match why {
        Stalled::Header => (&shared.counters.header_timeouts, "header timeout"),
        Stalled::Body => (&shared.counters.body_timeouts, "body timeout"),
        Stalled::TooSlow => (&shared.counters.slow_receives, "receiving too slowly"),
    };
    bump(counter);
    reason
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
    let idle = shared.config.idle_timeout;
    let write_limit = shared.config.write_timeout;
    let deadline = tokio::time::sleep_until(after(Instant::now(), idle));
    tokio::pin!(deadline);
    let mut progress = Progress::new(progress_limits(&shared));
    // The progress check, armed only while a message is incomplete.
    let mut armed: Option<Instant> = None;
    let check = tokio::time::sleep_until(Instant::now());
    tokio::pin!(check);
    let activity = handle.activity.clone();
    let mut shutdown = shared.shutdown.clone();
    let origin = Origin {
        protocol: handle.protocol,
        source: handle.remote,
        local: handle.local,
        connection: Some(handle.id),
    };
    let reason = loop {
        // An idle connection (nothing buffered) waits with room for one
        // typical message, not a whole read chunk: thousands of idle
        // connections (registered phones, browsers) would otherwise hold
        // 16 KiB each.
        let buf = decoder.buffer_mut();
        let want = if buf.is_empty() {
            IDLE_ROOM
        } else {
            READ_CHUNK
        };
        if buf.capacity() - buf.len() < want / 4 {
            buf.reserve(want);
        }
        let read = tokio::select! {
            () = shutdown_signal(&mut shutdown) => break "shutdown",
            () = handle.close.notified() => break "closed locally",
            () = &mut deadline => break "idle timeout",
            () = &mut check, if armed.is_some() => {
                let Err(why) = progress.check(Instant::now()) else {
                    rearm(check.as_mut(), &mut armed, progress.next_check());
                    continue;
                };
                // Bytes that arrived while this task was busy elsewhere are
                // not the peer's fault: read them before judging.
                match timeout(Duration::ZERO, rd.read_buf(decoder.buffer_mut())).await {
                    Ok(r) => r,
                    Err(_) => break stalled(&shared, why),
                }
            }
            out = rx.recv() => {
                // The task holds a sender itself, so the queue never ends.
                let Some(Outgoing { data, done }) = out else { break "closed locally" };
                let started = Instant::now();
                activity.busy.store(true, Ordering::Relaxed);
                let r = write_all(&mut wr, &data, write_limit).await;
                activity.busy.store(decoder.buffered() > 0, Ordering::Relaxed);
                let failed = r.as_ref().err().map(|e| e.to_string());
                let _ = done.send(r);
                if let Some(error) = failed {
                    debug!(%error, "write failed");
                    break "write failed";
                }
                trace!(size = data.len(), "sent");
                activity.last_ms.store(shared.now_ms(), Ordering::Relaxed);
                deadline.as_mut().reset(after(Instant::now(), idle));
                // No reading happens during a write: the peer's receive
                // deadlines wait too.
                progress.defer(started.elapsed());
                rearm(check.as_mut(), &mut armed, progress.next_check());
                continue;
            }
            r = rd.read_buf(decoder.buffer_mut()) => r,
        };
        match read {
            Ok(0) => break "closed by peer",
            Ok(n) => {
                deadline.as_mut().reset(after(Instant::now(), idle));
                activity.last_ms.store(shared.now_ms(), Ordering::Relaxed);
                let cut = match process(&shared, &origin, &mut decoder, &mut wr, &handle).await {
                    Ok(cut) => cut,
                    Err(reason) => break reason,
                };
                activity
                    .busy
                    .store(decoder.buffered() > 0, Ordering::Relaxed);
                if decoder.buffered() == 0 && decoder.buffer_mut().capacity() > 2 * IDLE_ROOM {
                    // The messages split off keep what they use.
                    *decoder.buffer_mut() = BytesMut::new();
                }
                // Timed after processing, which may have waited on the
                // layer above (back-pressure): what is left starts now.
                progress.update(decoder.buffer_mut(), n, cut, Instant::now());
                rearm(check.as_mut(), &mut armed, progress.next_check());
                if let Err(reason) = account(&shared, &handle, &mut decoder) {
                    break reason;
                }
            }
            Err(error) => {
                debug!(%error, "read failed");
                break "read failed";
            }
        }
    };
    // Leave the table first so nothing new is queued; queued senders then
    // see the connection closed.
    drop(guard);
    drop(rx);
    let _ = timeout(CLOSE_GRACE, wr.shutdown()).await;
    debug!(reason, "connection closed");
}

/// Points the progress check at `next`, if it moved.
fn rearm(check: Pin<&mut Sleep>, armed: &mut Option<Instant>, next: Option<Instant>) {
    if next != *armed {
        *armed = next;
        if let Some(at) = next {
            check.reset(at);
        }
    }
}

/// Charges the receive buffer's capacity (which includes the room reserved
/// for an announced body) to the byte budget. `Err` closes the connection.
fn account(
    shared: &Shared,
    handle: &ConnHandle,
    decoder: &mut StreamDecoder,
) -> Result<(), &'static str> {
    if handle.activity.closing.load(Ordering::Relaxed) {
        // Closed (maybe over the budget) while this read was handled.
        return Err("closed locally");
    }
    let held = decoder.buffer_mut().capacity();
    let old = handle.activity.held.load(Ordering::Relaxed);
    if held == old {
        return Ok(());
    }
    shared.set_held(handle, held);
    if held > old && shared.enforce_budget(handle.id) {
        return Err("over the byte budget");
    }
    Ok(())
}

/// Handles every complete frame in the decoder; returns whether any was
/// cut. `Err` closes the connection.
async fn process<W: AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    origin: &Origin,
    decoder: &mut StreamDecoder,
    wr: &mut W,
    handle: &ConnHandle,
) -> Result<bool, &'static str> {
    let write_limit = shared.config.write_timeout;
    let mut cut = false;
    loop {
        let reply = match decoder.decode() {
            Ok(None) => break,
            Ok(Some(Frame::Ping)) => {
                // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
                trace!("keep-alive ping");
                cut = true;
                Bytes::from_static(b"\r\n")
            }
            Ok(Some(Frame::Pong)) => {
                trace!("keep-alive pong");
                cut = true;
                continue;
            }
            Ok(Some(Frame::Message(m))) => {
                cut = true;
                match classify(m, *origin) {
                    Inbound::Deliver(incoming) => {
                        handle.activity.delivered.store(true, Ordering::Relaxed);
                        if shared.incoming.send(incoming).await.is_err() {
                            return Err("receiver closed");
                        }
                        continue;
                    }
                    Inbound::Reply(r) => r.to_bytes(),
                    Inbound::Drop => continue,
                }
            }
            Ok(Some(Frame::Malformed { error, raw })) => {
                cut = true;
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
    Ok(cut)
}
