//! Message tracing end to end: a server on loopback with HEPv3 export to
//! a UDP socket the test binds (the collector) and with the text trace,
//! driven by a scripted peer over UDP, TCP and WebSocket. The waits are upper bounds
//! on loopback deliveries, never sleeps.

use futures_util::{SinkExt, StreamExt};
use parrot::prelude::*;
use parrot::trace::HepConfig;
use parrot::trace::hep::{HepPacket, IPPROTO_TCP, IPPROTO_UDP, PROTOCOL_SIP};
use parrot::transport::{Protocol, TappedMessage};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// The most any loopback delivery may take before the test fails.
const WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Pong;

#[uas_handler]
impl Pong {
    async fn options(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

fn options(server: SocketAddr, transport: &str, me: SocketAddr, call_id: &str) -> String {
    format!(
        "OPTIONS sip:pong@{server} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {me};branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:tester@{me}>;tag=t1\r\n\
         To: <sip:pong@{server}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Reads one SIP message from a stream: the header block, then as many
/// body bytes as its Content-Length says.
async fn read_message(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let body: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + body {
                buf.truncate(end + 4 + body);
                return buf;
            }
        }
        let n = timeout(WAIT, s.read(&mut chunk))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "connection closed before the response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The next HEP packet the collector receives.
async fn next_packet(collector: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = timeout(WAIT, collector.recv(&mut buf))
        .await
        .expect("a HEP packet in time")
        .unwrap();
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn hep_captures_both_directions_over_udp_tcp_and_websocket() {
    let collector = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let config = HepConfig {
        capture_id: 4242,
        auth_key: Some("sesame".into()),
        ..HepConfig::default()
    };
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .ws("127.0.0.1:0")
        .hep(collector.local_addr().unwrap(), config)
        .handler(Pong::default)
        .bind()
        .await
        .unwrap();
    let udp_addr = server.local_addr(Protocol::Udp).unwrap();
    let tcp_addr = server.local_addr(Protocol::Tcp).unwrap();
    let ws_addr = server.local_addr(Protocol::Ws).unwrap();
    let serving = tokio::spawn(server.serve().into_future());

    // UDP: the OPTIONS in, the 200 out.
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = peer.local_addr().unwrap();
    let request = options(udp_addr, "UDP", me, "hep-udp-1");
    peer.send_to(request.as_bytes(), udp_addr).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .expect("a response in time")
        .unwrap();
    let response = buf[..n].to_vec();
    assert!(response.starts_with(b"SIP/2.0 200"), "{response:?}");

    let first = next_packet(&collector).await;
    let second = next_packet(&collector).await;
    let inbound = HepPacket::decode(&first).unwrap();
    let outbound = HepPacket::decode(&second).unwrap();
    assert_eq!(inbound.payload, request.as_bytes());
    assert_eq!((inbound.source, inbound.destination), (me, udp_addr));
    assert_eq!(outbound.payload, &response[..]);
    assert_eq!((outbound.source, outbound.destination), (udp_addr, me));
    for p in [&inbound, &outbound] {
        assert_eq!(p.ip_protocol, IPPROTO_UDP);
        assert_eq!(p.protocol_type, PROTOCOL_SIP);
        assert_eq!(p.capture_id, 4242);
        assert_eq!(p.auth_key, Some(&b"sesame"[..]));
        assert_eq!(p.correlation_id, Some(&b"hep-udp-1"[..]));
        assert!(p.seconds > 1_600_000_000, "a wall-clock timestamp");
        assert!(p.micros < 1_000_000);
    }

    // TCP: the same, over a connection.
    let mut stream = TcpStream::connect(tcp_addr).await.unwrap();
    let me = stream.local_addr().unwrap();
    let request = options(tcp_addr, "TCP", me, "hep-tcp-1");
    stream.write_all(request.as_bytes()).await.unwrap();
    let response = read_message(&mut stream).await;
    assert!(response.starts_with(b"SIP/2.0 200"));
    let (first, second) = (next_packet(&collector).await, next_packet(&collector).await);
    let inbound = HepPacket::decode(&first).unwrap();
    let outbound = HepPacket::decode(&second).unwrap();
    assert_eq!(inbound.payload, request.as_bytes());
    assert_eq!((inbound.source, inbound.destination), (me, tcp_addr));
    assert_eq!(outbound.payload, &response[..]);
    assert_eq!((outbound.source, outbound.destination), (tcp_addr, me));
    for p in [&inbound, &outbound] {
        assert_eq!(p.ip_protocol, IPPROTO_TCP);
        assert_eq!(p.correlation_id, Some(&b"hep-tcp-1"[..]));
    }

    // WebSocket (RFC 7118): each message is one frame; the capture holds
    // the SIP message, not the framing.
    let tcp = TcpStream::connect(ws_addr).await.unwrap();
    let me = tcp.local_addr().unwrap();
    let mut upgrade = format!("ws://{ws_addr}/").into_client_request().unwrap();
    upgrade
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    let (mut ws, _) = timeout(WAIT, tokio_tungstenite::client_async(upgrade, tcp))
        .await
        .expect("upgraded in time")
        .unwrap();
    let request = options(ws_addr, "WS", me, "hep-ws-1");
    ws.send(WsMessage::text(request.clone())).await.unwrap();
    let response = loop {
        match timeout(WAIT, ws.next()).await.expect("a response in time") {
            Some(Ok(WsMessage::Text(t))) => break t.as_bytes().to_vec(),
            Some(Ok(WsMessage::Binary(b))) => break b.to_vec(),
            Some(Ok(_)) => continue,
            other => panic!("no response: {other:?}"),
        }
    };
    assert!(response.starts_with(b"SIP/2.0 200"));
    let (first, second) = (next_packet(&collector).await, next_packet(&collector).await);
    let inbound = HepPacket::decode(&first).unwrap();
    let outbound = HepPacket::decode(&second).unwrap();
    assert_eq!(inbound.payload, request.as_bytes());
    assert_eq!((inbound.source, inbound.destination), (me, ws_addr));
    assert_eq!(outbound.payload, &response[..]);
    assert_eq!((outbound.source, outbound.destination), (ws_addr, me));
    for p in [&inbound, &outbound] {
        assert_eq!(p.ip_protocol, IPPROTO_TCP);
        assert_eq!(p.correlation_id, Some(&b"hep-ws-1"[..]));
    }
    serving.abort();
}

#[path = "support/captured_log.rs"]
mod captured_log;

use captured_log::Captured;

// A current-thread runtime (the default): the server's tasks run on the
// test's thread, where the capturing subscriber is the default.
#[tokio::test]
async fn the_text_trace_logs_each_message_under_parrot_sip() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("off,parrot::sip=info"))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A second observer tells the test when the 200 has been traced.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .trace_sip()
        .message_tap(move |m: &TappedMessage<'_>| {
            let _ = seen_tx.send(m.direction);
        })
        .handler(Pong::default)
        .bind()
        .await
        .unwrap();
    let udp_addr = server.local_addr(Protocol::Udp).unwrap();
    let serving = tokio::spawn(server.serve().into_future());

    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = peer.local_addr().unwrap();
    let request = options(udp_addr, "UDP", me, "text-trace-1");
    peer.send_to(request.as_bytes(), udp_addr).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .expect("a response in time")
        .unwrap();
    let response = String::from_utf8_lossy(&buf[..n]).into_owned();
    for _ in 0..2 {
        timeout(WAIT, seen_rx.recv())
            .await
            .expect("both messages tapped");
    }
    serving.abort();

    let text = captured.text();
    let recv = format!(
        "recv {} bytes UDP {udp_addr} <- {me}\nOPTIONS sip:pong@{udp_addr} SIP/2.0\nVia: SIP/2.0/UDP {me}",
        request.len()
    );
    let send = format!(
        "send {} bytes UDP {udp_addr} -> {me}\nSIP/2.0 200 OK\n",
        response.len()
    );
    assert!(text.contains(&recv), "{text}");
    assert!(text.contains(&send), "{text}");
    assert!(text.contains("Call-ID: text-trace-1"), "{text}");
    assert!(text.contains(" INFO parrot::sip:"), "{text}");
    assert!(
        text.contains("direction=\"in\"") || text.contains("direction=in"),
        "{text}"
    );
    assert!(text.contains("direction=out"), "{text}");
    // Nothing but the trace passed the filter.
    assert_eq!(text.matches("parrot::sip").count(), 2, "{text}");
}
