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
use super::tap::{Direction, tap};
use super::{Origin, Protocol, TransportError};
use crate::message::{Frame, StreamDecoder};
use bytes::{Bytes, BytesMut};
use futures_util::future::{Either, FutureExt};
use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, Sleep, timeout};
use tracing::{Instrument, debug, trace, warn};

/// Spare room kept in a connection's receive buffer before each read
/// while a message is incomplete.
const READ_CHUNK: usize = 16 * 1024;
/// The most a read takes while nothing is buffered. That read goes to the
/// stack and what arrived is then copied to a buffer of its size: an idle
/// connection holds no receive buffer at all, and one emptied is let go.
const IDLE_READ: usize = 4096;
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
    RF: Future<Output = ()> + Send + 'static,
{
    let (handle, rx, guard) = shared.register(protocol, remote, local, true)?;
    let span =
        tracing::debug_span!("sip_conn", conn = %handle.id, %protocol, peer = %remote, %local);
    // Boxed, the handshake's state (rustls's handshake machine, the HTTP
    // upgrade) is freed when it ends; inline it would size the task for
    // the connection's whole life.
    let handshake: Pin<Box<dyn Future<Output = io::Result<S>> + Send>> = Box::pin(handshake);
    // The handshake, then the service, as the two states of one enum: what
    // the service takes over is not kept a second time beside it.
    let shared = shared.clone();
    let h = handle.clone();
    let task = complete(shared.clone(), h.close.clone(), handshake).then(move |done| match done {
        Some(stream) => {
            trace!("handshake done");
            Either::Left(serve(shared, stream, h, rx, guard))
        }
        None => Either::Right(std::future::ready(())),
    });
    tokio::spawn(task.instrument(span));
    Ok(handle)
}

/// Runs a connection's handshake to its end: the stream, or `None` when
/// it failed, took too long, or the connection was closed or the
/// transport shut down meanwhile.
async fn complete<S>(
    shared: Arc<Shared>,
    close: Arc<Notify>,
    handshake: Pin<Box<dyn Future<Output = io::Result<S>> + Send>>,
) -> Option<S> {
    let limit = shared.config.header_timeout;
    let mut shutdown = shared.shutdown.clone();
    let done = tokio::select! {
        r = timeout(limit, handshake) => r,
        () = close.notified() => {
            debug!("closed during the handshake");
            return None;
        }
        () = shutdown_signal(&mut shutdown) => return None,
    };
    match done {
        Ok(Ok(stream)) => return Some(stream),
        Ok(Err(error)) => {
            bump(&shared.counters.handshake_failures);
            warn!(%error, "handshake failed; connection closed");
        }
        Err(_) => {
            bump(&shared.counters.handshake_timeouts);
            warn!(?limit, "handshake not completed in time; connection closed");
        }
    }
    None
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
///
/// One task both reads and writes, never at once, so the stream is not
/// split (a split would put it behind an `Arc` and a lock). The stream is
/// kept where the caller's future captured it: the body only borrows it,
/// so it is not moved into a second slot of the future.
// Not an `async fn`, which would move its arguments (the stream among
// them) into a second slot of its future.
#[allow(clippy::manual_async_fn)]
pub(crate) fn run_connection<S>(
    shared: Arc<Shared>,
    mut stream: S,
    handle: ConnHandle,
    mut rx: mpsc::Receiver<Outgoing>,
    guard: ConnGuard,
) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    async move {
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
        let mut shutdown = shared.shutdown.clone();
        let stop = shutdown_signal(&mut shutdown);
        tokio::pin!(stop);
        let reason = loop {
            // While a message is incomplete, read straight into its buffer
            // with room for a large one.
            let buf = decoder.buffer_mut();
            if !buf.is_empty() && buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let read = tokio::select! {
                () = &mut stop => break "shutdown",
                () = handle.close.notified() => break "closed locally",
                () = &mut deadline => break "idle timeout",
                () = &mut check, if armed.is_some() => {
                    let Err(why) = progress.check(Instant::now()) else {
                        rearm(check.as_mut(), &mut armed, progress.next_check());
                        continue;
                    };
                    // Bytes that arrived while this task was busy elsewhere
                    // are not the peer's fault: read them before judging.
                    match timeout(Duration::ZERO, stream.read_buf(decoder.buffer_mut())).await {
                        Ok(r) => r,
                        Err(_) => break stalled(&shared, why),
                    }
                }
                out = rx.recv() => {
                    // The task holds a sender itself, so the queue never ends.
                    let Some(out) = out else { break "closed locally" };
                    let (data, done) = out.into_parts();
                    let started = Instant::now();
                    handle.activity.busy.store(true, Ordering::Relaxed);
                    let r = write_all(&mut stream, &data, write_limit).await;
                    if r.is_ok() {
                        tap(
                            &shared.config.tap,
                            Direction::Out,
                            handle.protocol,
                            handle.local,
                            handle.remote,
                            &data,
                        );
                    }
                    handle
                        .activity
                        .busy
                        .store(decoder.buffered() > 0, Ordering::Relaxed);
                    let failed = r.as_ref().err().map(|e| e.to_string());
                    let _ = done.send(r);
                    if let Some(error) = failed {
                        debug!(%error, "write failed");
                        break "write failed";
                    }
                    trace!(size = data.len(), "sent");
                    handle.activity.last_ms.store(shared.now_ms(), Ordering::Relaxed);
                    deadline.as_mut().reset(after(Instant::now(), idle));
                    // No reading happens during a write: the peer's receive
                    // deadlines wait too.
                    progress.defer(started.elapsed());
                    rearm(check.as_mut(), &mut armed, progress.next_check());
                    continue;
                }
                r = read(&mut stream, &mut decoder) => r,
            };
            match read {
                Ok(0) => break "closed by peer",
                Ok(n) => {
                    deadline.as_mut().reset(after(Instant::now(), idle));
                    handle
                        .activity
                        .last_ms
                        .store(shared.now_ms(), Ordering::Relaxed);
                    // Boxed: what handling a message holds across its awaits
                    // (the message, the channel upward, a reply being
                    // written) would otherwise size the task while idle.
                    let handled = Box::pin(process(&shared, &handle, &mut decoder, &mut stream));
                    let cut = match handled.await {
                        Ok(cut) => cut,
                        Err(reason) => break reason,
                    };
                    handle
                        .activity
                        .busy
                        .store(decoder.buffered() > 0, Ordering::Relaxed);
                    if decoder.buffered() == 0 && decoder.buffer_mut().capacity() > 0 {
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
        // Leave the table first so nothing new is queued; queued senders
        // then see the connection closed.
        drop(guard);
        drop(rx);
        let _ = timeout(CLOSE_GRACE, stream.shutdown()).await;
        debug!(reason, "connection closed");
    }
}

/// Reads what the peer sent into `decoder`. With nothing buffered the read
/// goes to the stack and only what arrived is kept (see [`IDLE_READ`]):
/// waiting holds no buffer.
async fn read<R: AsyncRead + Unpin>(rd: &mut R, decoder: &mut StreamDecoder) -> io::Result<usize> {
    if decoder.buffered() > 0 {
        return rd.read_buf(decoder.buffer_mut()).await;
    }
    poll_fn(|cx| {
        let mut room = [MaybeUninit::<u8>::uninit(); IDLE_READ];
        let mut buf = ReadBuf::uninit(&mut room);
        ready!(Pin::new(&mut *rd).poll_read(cx, &mut buf))?;
        decoder.push(buf.filled());
        Poll::Ready(Ok(buf.filled().len()))
    })
    .await
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
    handle: &ConnHandle,
    decoder: &mut StreamDecoder,
    wr: &mut W,
) -> Result<bool, &'static str> {
    let origin = &Origin {
        protocol: handle.protocol,
        source: handle.remote,
        local: handle.local,
        connection: Some(handle.id),
    };
    let write_limit = shared.config.write_timeout;
    let mut cut = false;
    loop {
        let inspect = |raw: &[u8]| {
            tap(
                &shared.config.tap,
                Direction::In,
                origin.protocol,
                origin.local,
                origin.source,
                raw,
            );
        };
        let reply = match decoder.decode_inspecting(inspect) {
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
                        if handle.protocol == Protocol::Tls {
                            super::alias::alias_connection(shared, handle, &incoming.message);
                        }
                        let queue = shared.queue_for(&incoming.message);
                        if queue.send(incoming).await.is_err() {
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
        tap(
            &shared.config.tap,
            Direction::Out,
            origin.protocol,
            origin.local,
            origin.source,
            &reply,
        );
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
