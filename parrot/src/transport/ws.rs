//! SIP over WebSocket (RFC 7118), plain (WS) and over TLS (WSS): the
//! HTTP upgrade, which must ask for the `sip` subprotocol, then one SIP
//! message per text or binary frame.
//!
//! A WebSocket connection sits in the same table as TCP and TLS ones, under
//! the same caps, idle timeout and handshake deadline; its messages are
//! bounded by the frame and message size limits (the largest SIP message
//! the parser takes). Connections are only accepted: a browser cannot be
//! dialled, so requests to a WebSocket peer go down the connection it
//! opened.

use super::connections::{ConnHandle, Outgoing};
use super::inbound::{Inbound, classify, malformed};
use super::progress::after;
use super::shared::{ConnGuard, Shared, shutdown_signal};
use super::stream::spawn_after_handshake;
use super::tap::{Direction, tap};
use super::tcp::accept_loop;
use super::tls::accept;
use super::tls_config::TlsConfig;
use super::ws_origin::OriginCheck;
use super::{Origin, Protocol};
use crate::message::parse_datagram_with;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::{debug, trace, warn};

/// How long a closing connection may take to send its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// tungstenite's read buffer: allocated with the connection and kept
/// while it is idle, and the most one read takes (a frame's payload is
/// given room for all of it once its header is read).
const READ_BUFFER: usize = 512;

/// Frame and message limits: the largest SIP message the parser takes,
/// and small buffers (an idle connection holds little).
fn ws_config(shared: &Shared) -> WebSocketConfig {
    let largest = shared.config.limits.max_head + shared.config.limits.max_body;
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(largest))
        .max_frame_size(Some(largest))
}

fn refuse(status: StatusCode, why: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(why.to_owned()));
    *r.status_mut() = status;
    r
}

/// RFC 7118 §4.1: the client must offer the `sip` subprotocol, and the
/// server's answer names it; the `Origin`, if any, must pass the check.
// The error type is tungstenite's handshake callback's, once per upgrade.
#[allow(clippy::result_large_err)]
fn upgrade(
    request: &Request,
    mut response: Response,
    origins: Option<&OriginCheck>,
) -> Result<Response, ErrorResponse> {
    let offers_sip = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"));
    if !offers_sip {
        debug!("WebSocket upgrade without the sip subprotocol refused");
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must offer sip (RFC 7118)",
        ));
    }
    if let (Some(check), Some(origin)) = (origins, request.headers().get("origin")) {
        let origin = origin.to_str().unwrap_or("");
        if !check.allows(origin) {
            debug!(origin, "WebSocket upgrade from a refused origin");
            return Err(refuse(StatusCode::FORBIDDEN, "origin not allowed"));
        }
    }
    response
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    Ok(response)
}

/// Accepts WebSocket connections (WSS when `tls` is given) until shutdown.
pub(crate) async fn run_listener(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    tls: Option<TlsConfig>,
) {
    let protocol = if tls.is_some() {
        Protocol::Wss
    } else {
        Protocol::Ws
    };
    accept_loop(&shared, listener, local, |stream, peer, conn_local| {
        let config = ws_config(&shared);
        let origins = shared.config.ws_origin.clone();
        #[allow(clippy::result_large_err)]
        let callback = move |req: &Request, resp: Response| upgrade(req, resp, origins.as_ref());
        let spawned = match &tls {
            Some(tls) => {
                let Some(tls_config) = tls.server_config() else {
                    warn!(%peer, "WSS connection refused: no certificate configured");
                    return;
                };
                let handshake = async move {
                    let stream = accept(stream, tls_config).await?;
                    tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config))
                        .await
                        .map_err(io::Error::other)
                };
                spawn_after_handshake(&shared, handshake, protocol, peer, conn_local, serve)
            }
            None => {
                let handshake = async move {
                    tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config))
                        .await
                        .map_err(io::Error::other)
                };
                spawn_after_handshake(&shared, handshake, protocol, peer, conn_local, serve)
            }
        };
        match spawned {
            Ok(h) => debug!(conn = %h.id, %peer, %protocol, "accepted WebSocket connection"),
            Err(error) => warn!(%peer, %error, "refused connection"),
        }
    })
    .await;
}

/// Serves one upgraded connection until it closes: each text or binary
/// message is one SIP message (RFC 7118 §5), each outgoing SIP message one
/// frame (text when it is UTF-8, as it nearly always is).
///
/// As in `stream`, one task reads and writes, never at once, so the
/// WebSocket is not split (a split puts it behind an `Arc` and a lock),
/// and the body only borrows it where the caller's future captured it.
// Not an `async fn`, which would move its arguments (the stream among
// them) into a second slot of its future.
#[allow(clippy::manual_async_fn)]
fn serve<S>(
    shared: Arc<Shared>,
    mut ws: WebSocketStream<S>,
    handle: ConnHandle,
    mut rx: mpsc::Receiver<Outgoing>,
    guard: ConnGuard,
) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    async move {
        let idle = shared.config.idle_timeout;
        let write_limit = shared.config.write_timeout;
        let deadline = tokio::time::sleep_until(after(Instant::now(), idle));
        tokio::pin!(deadline);
        let mut shutdown = shared.shutdown.clone();
        let stop = shutdown_signal(&mut shutdown);
        tokio::pin!(stop);
        let reason = loop {
            let frame = tokio::select! {
                () = &mut stop => break "shutdown",
                () = handle.close.notified() => break "closed locally",
                () = &mut deadline => break "idle timeout",
                out = rx.recv() => {
                    let Some(out) = out else { break "closed locally" };
                    let (data, done) = out.into_parts();
                    let r = send(&mut ws, &data, write_limit).await;
                    let failed = r.is_err();
                    if !failed {
                        tap(
                            &shared.config.tap,
                            Direction::Out,
                            handle.protocol,
                            handle.local,
                            handle.remote,
                            &data,
                        );
                    }
                    let _ = done.send(r);
                    if failed {
                        break "write failed";
                    }
                    handle.activity.last_ms.store(shared.now_ms(), Ordering::Relaxed);
                    deadline.as_mut().reset(after(Instant::now(), idle));
                    continue;
                }
                f = ws.next() => f,
            };
            let data = match frame {
                None => break "closed by peer",
                Some(Err(error)) => {
                    // Includes a frame or message over the size limits.
                    debug!(%error, "WebSocket read failed");
                    break "read failed";
                }
                Some(Ok(Message::Text(t))) => Bytes::from(t),
                Some(Ok(Message::Binary(b))) => b,
                Some(Ok(Message::Close(_))) => break "closed by peer",
                // Pings are answered by the library on the next write or read.
                Some(Ok(_)) => {
                    let _ = timeout(write_limit, ws.flush()).await;
                    continue;
                }
            };
            deadline.as_mut().reset(after(Instant::now(), idle));
            handle
                .activity
                .last_ms
                .store(shared.now_ms(), Ordering::Relaxed);
            if data.iter().all(|&b| b == b'\r' || b == b'\n') {
                trace!("keep-alive frame");
                continue;
            }
            tap(
                &shared.config.tap,
                Direction::In,
                handle.protocol,
                handle.local,
                handle.remote,
                &data,
            );
            // Boxed, as in `stream`: what handing a message up holds across
            // its await would otherwise size the task while idle.
            let reply = match Box::pin(receive(&shared, &handle, data)).await {
                Ok(Some(reply)) => reply,
                Ok(None) => continue,
                Err(reason) => break reason,
            };
            if send(&mut ws, &reply, write_limit).await.is_err() {
                break "write failed";
            }
            tap(
                &shared.config.tap,
                Direction::Out,
                handle.protocol,
                handle.local,
                handle.remote,
                &reply,
            );
        };
        drop(guard);
        drop(rx);
        let _ = timeout(CLOSE_GRACE, SinkExt::close(&mut ws)).await;
        debug!(reason, "WebSocket connection closed");
    }
}

/// Hands one received SIP message up; returns the answer to send back
/// here, if any (a malformed request's 400, a shed request's 503). `Err`
/// closes the connection.
async fn receive(
    shared: &Shared,
    handle: &ConnHandle,
    data: Bytes,
) -> Result<Option<Bytes>, &'static str> {
    let origin = Origin {
        protocol: handle.protocol,
        source: handle.remote,
        local: handle.local,
        connection: Some(handle.id),
    };
    let reply = match parse_datagram_with(data.clone(), &shared.config.limits) {
        Ok(message) => match classify(message, origin) {
            Inbound::Deliver(incoming) => {
                handle.activity.delivered.store(true, Ordering::Relaxed);
                let queue = shared.queue_for(&incoming.message);
                if queue.send(incoming).await.is_err() {
                    return Err("receiver closed");
                }
                return Ok(None);
            }
            Inbound::Reply(r) => r.to_bytes(),
            Inbound::Drop => return Ok(None),
        },
        Err(error) => match malformed(&data, &error, &origin) {
            Some(r) => r.to_bytes(),
            None => return Ok(None),
        },
    };
    Ok(Some(reply))
}

/// Sends one SIP message as one frame.
async fn send<K>(sink: &mut K, data: &Bytes, limit: Duration) -> io::Result<()>
where
    K: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    let frame = match Utf8Bytes::try_from(data.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(data.clone()),
    };
    match timeout(limit, sink.send(frame)).await {
        Ok(r) => r.map_err(io::Error::other),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
    }
}
