//! SIP over WebSocket (RFC 7118) on loopback, WS and WSS, IPv4 and IPv6,
//! with a real WebSocket client: one SIP message per frame both ways,
//! requests to a WebSocket peer down the connection it opened, and the
//! refusals: an upgrade without the `sip` subprotocol, a refused Origin,
//! a frame over the size limit, plain HTTP that never upgrades.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use parrot::message::{HeaderName, Message as Sip, StatusCode};
use parrot::transport::{
    Incoming, ListenerConfig, OriginCheck, Protocol, SendOptions, Target, TlsConfig,
    TransportConfig, TransportError, TransportLayer,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

mod support;

use support::pki::Ca;
use support::{WAIT, next, parse_response, request, wait_connections};

async fn server(config: TransportConfig) -> (TransportLayer, Receiver<Box<Incoming>>) {
    TransportLayer::bind(TransportConfig {
        min_receive_bytes: 0,
        ..config
    })
    .await
    .unwrap()
}

fn ws_config(listen: &str) -> TransportConfig {
    TransportConfig {
        listeners: vec![ListenerConfig::ws(listen.parse().unwrap())],
        ..TransportConfig::default()
    }
}

/// Upgrades `stream` to a WebSocket at `url`, offering `protocol`.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    protocol: Option<&str>,
    origin: Option<&str>,
) -> Result<WebSocketStream<S>, String> {
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    let (ws, resp) = timeout(WAIT, tokio_tungstenite::client_async(req, stream))
        .await
        .map_err(|_| "upgrade timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "sip",
        "RFC 7118 §4.1: the answer names the sip subprotocol"
    );
    Ok(ws)
}

async fn connect_ws(addr: SocketAddr) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    upgrade(tcp, &format!("ws://{addr}/"), Some("sip"), None)
        .await
        .unwrap()
}

fn ws_request(call_id: &str) -> String {
    request(
        "OPTIONS",
        "SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws",
        call_id,
        "",
    )
}

/// The next SIP message a WebSocket client receives, as one frame.
async fn next_frame<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Bytes {
    loop {
        let m = timeout(WAIT, ws.next())
            .await
            .expect("no frame")
            .expect("closed")
            .unwrap();
        match m {
            Message::Text(t) => return Bytes::from(t),
            Message::Binary(b) => return b,
            _ => {}
        }
    }
}

/// A request over a WebSocket reaches the transaction user as WS (or
/// WSS) and its answer comes back on the same connection, one frame.
async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
    t: &TransportLayer,
    rx: &mut Receiver<Box<Incoming>>,
    ws: &mut WebSocketStream<S>,
    protocol: Protocol,
) {
    ws.send(Message::text(ws_request("ws-1"))).await.unwrap();
    let inc = next(rx).await;
    assert_eq!(inc.protocol, protocol);
    let Sip::Request(req) = &inc.message else {
        panic!("not a request")
    };
    let via = req.headers.get(HeaderName::Via).unwrap().to_string();
    assert!(
        via.contains(".invalid") && via.contains("received="),
        "{via}"
    );
    let sent = t
        .send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    assert_eq!(sent.connection, inc.connection);
    let resp = parse_response(&next_frame(ws).await);
    assert_eq!(resp.status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_and_its_answer_over_ws() {
    let (t, mut rx) = server(ws_config("127.0.0.1:0")).await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    let mut ws = connect_ws(addr).await;
    round_trip(&t, &mut rx, &mut ws, Protocol::Ws).await;
}

#[tokio::test]
async fn a_request_and_its_answer_over_ws_on_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let (t, mut rx) = server(ws_config("[::1]:0")).await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    let mut ws = connect_ws(addr).await;
    round_trip(&t, &mut rx, &mut ws, Protocol::Ws).await;
}

/// WSS on `listen`, the client naming the server `name`.
async fn wss_round_trip(listen: &str, name: &str) {
    let ca = Ca::new("Parrot test CA");
    let (t, mut rx) = server(TransportConfig {
        listeners: vec![ListenerConfig::wss(listen.parse().unwrap())],
        tls: Some(TlsConfig::server(ca.server_identity()).unwrap()),
        ..TransportConfig::default()
    })
    .await;
    let addr = t.local_addr(Protocol::Wss).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let server_name =
        tokio_rustls::rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let tls = ca.connector().connect(server_name, tcp).await.unwrap();
    let mut ws = upgrade(tls, &format!("wss://{addr}/"), Some("sip"), None)
        .await
        .unwrap();
    round_trip(&t, &mut rx, &mut ws, Protocol::Wss).await;
}

#[tokio::test]
async fn a_request_and_its_answer_over_wss() {
    wss_round_trip("127.0.0.1:0", "localhost").await;
}

#[tokio::test]
async fn a_request_and_its_answer_over_wss_on_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    wss_round_trip("[::1]:0", "::1").await;
}

#[tokio::test]
async fn requests_to_a_websocket_peer_go_down_its_connection() {
    let (t, mut rx) = server(ws_config("127.0.0.1:0")).await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    let mut ws = connect_ws(addr).await;
    // The peer speaks first (a REGISTER, say): its connection is known.
    ws.send(Message::text(ws_request("hello"))).await.unwrap();
    let inc = next(&mut rx).await;
    let mut out = support::parse_request(&request(
        "OPTIONS",
        "SIP/2.0/WS parrot.invalid;branch=z9hG4bKdown",
        "down-1",
        "",
    ));
    t.send_request(
        &mut out,
        Target::new(Protocol::Ws, inc.source),
        SendOptions::default(),
    )
    .await
    .unwrap();
    let got = next_frame(&mut ws).await;
    assert!(got.starts_with(b"OPTIONS "), "{got:?}");
    // Nobody to send to without a connection: a browser cannot be dialled.
    let err = t
        .send_request(
            &mut out,
            Target::new(Protocol::Ws, "127.0.0.1:9".parse().unwrap()),
            SendOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::NoRoute(_)), "{err}");
}

#[tokio::test]
async fn a_message_without_content_length_is_taken_whole() {
    let (t, mut rx) = server(ws_config("127.0.0.1:0")).await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    let mut ws = connect_ws(addr).await;
    let text = ws_request("no-length").replace("Content-Length: 0\r\n", "");
    ws.send(Message::binary(text.into_bytes())).await.unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(
        inc.message
            .headers()
            .get(HeaderName::CallId)
            .unwrap()
            .as_str(),
        "no-length"
    );
}

#[tokio::test]
async fn an_upgrade_without_the_sip_subprotocol_is_refused() {
    let (t, _rx) = server(ws_config("127.0.0.1:0")).await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    for offer in [None, Some("chat")] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = upgrade(tcp, &format!("ws://{addr}/"), offer, None)
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(err.contains("400"), "{offer:?}: {err}");
    }
    wait_connections(&t, 0).await;
    assert_eq!(t.stats().handshake_failures, 2);
}

#[tokio::test]
async fn an_origin_the_check_refuses_gets_403() {
    let (t, mut rx) = server(TransportConfig {
        ws_origin: Some(OriginCheck::allow_only(["https://phone.example.com"])),
        ..ws_config("127.0.0.1:0")
    })
    .await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    let url = format!("ws://{addr}/");
    let tcp = TcpStream::connect(addr).await.unwrap();
    let err = upgrade(tcp, &url, Some("sip"), Some("https://evil.example"))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(err.contains("403"), "{err}");
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut ws = upgrade(tcp, &url, Some("sip"), Some("https://phone.example.com"))
        .await
        .unwrap();
    round_trip(&t, &mut rx, &mut ws, Protocol::Ws).await;
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_only_its_connection() {
    let mut config = ws_config("127.0.0.1:0");
    config.limits.max_head = 2048;
    config.limits.max_body = 2048;
    let (t, mut rx) = server(config).await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    let mut good = connect_ws(addr).await;
    let mut big = connect_ws(addr).await;
    let huge = ws_request("big") + &"x".repeat(10_000);
    let _ = big.send(Message::text(huge)).await;
    let closed = timeout(WAIT, async {
        loop {
            match big.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the oversize sender is disconnected");
    round_trip(&t, &mut rx, &mut good, Protocol::Ws).await;
    wait_connections(&t, 1).await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_never_upgrades_is_closed_at_the_header_deadline() {
    let (t, _rx) = server(TransportConfig {
        header_timeout: Duration::from_secs(10),
        ..ws_config("127.0.0.1:0")
    })
    .await;
    let addr = t.local_addr(Protocol::Ws).unwrap();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    wait_connections(&t, 1).await;
    expect_closed_within(&mut slow, Duration::from_secs(60)).await;
    assert_eq!(t.stats().handshake_timeouts, 1);
}

async fn expect_closed_within(s: &mut TcpStream, limit: Duration) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    let r = timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(r.is_ok(), "not closed");
}

#[tokio::test]
async fn a_wss_listener_needs_a_certificate() {
    let err = TransportLayer::bind(TransportConfig {
        listeners: vec![ListenerConfig::wss("127.0.0.1:0".parse().unwrap())],
        ..TransportConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, TransportError::Tls(_)), "{err}");
}
