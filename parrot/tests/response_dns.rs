//! Responses that cannot go back over their request's connection (RFC 3261
//! §18.2.2) find the sender by RFC 3263 §5: the `received` address at the
//! sent-by port first; when nothing answers there, the sent-by host name by
//! SRV (no port in the Via) or by A/AAAA (a port in the Via), against a
//! real dnsmasq on loopback.
//!
//! The caller connects over TCP from 127.0.0.5, sends an OPTIONS and
//! closes its connection before the answer; nothing listens on 127.0.0.5,
//! so the answer can only arrive at 127.0.0.6, where the DNS records point.

use parrot::locate::Locator;
use parrot::message::{Request, StatusCode};
use parrot::prelude::*;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;

mod support;

use support::dnsmasq::Dnsmasq;

/// Answers OPTIONS once the test lets it (after the caller has gone).
struct Held(Arc<Notify>);

#[uas_handler]
impl Held {
    async fn options(&mut self, _req: &Request) -> StatusCode {
        self.0.notified().await;
        StatusCode::OK
    }
}

/// A server with `dns` as its resolver; its TCP port, the gate of its
/// OPTIONS answers and a watch of its open connections.
async fn server(dns: &Dnsmasq) -> (SocketAddr, Arc<Notify>, tokio::sync::watch::Receiver<usize>) {
    let gate = Arc::new(Notify::new());
    let handler_gate = gate.clone();
    let locator = Locator::new(Arc::new(dns.resolver()), &[Protocol::Udp, Protocol::Tcp]);
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .locator(locator)
        .handler(move || Held(handler_gate.clone()))
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(Protocol::Tcp).unwrap();
    let connections = server.transport().watch_connections();
    tokio::spawn(server.serve().into_future());
    (addr, gate, connections)
}

/// Sends `OPTIONS` with `via` over a TCP connection from 127.0.0.5,
/// closes it, waits until the server has seen it close, then lets the
/// server answer.
async fn ask_and_leave(
    server: SocketAddr,
    via: &str,
    call_id: &str,
    gate: &Notify,
    connections: &mut tokio::sync::watch::Receiver<usize>,
) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.5:0".parse().unwrap()).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let options = format!(
        "OPTIONS sip:{server};transport=tcp SIP/2.0\r\n\
         Via: {via};branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@client.test>;tag=a\r\n\
         To: <sip:{server}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    stream.write_all(options.as_bytes()).await.unwrap();
    // Read nothing: just make sure the request arrived before closing.
    stream.flush().await.unwrap();
    connections.wait_for(|n| *n == 1).await.unwrap();
    drop(stream);
    tokio::time::timeout(Duration::from_secs(10), connections.wait_for(|n| *n == 0))
        .await
        .expect("the server sees the connection close")
        .unwrap();
    gate.notify_one();
}

/// The first message on the next connection `listener` accepts.
async fn answer_at(listener: &TcpListener) -> String {
    let accept = tokio::time::timeout(Duration::from_secs(10), listener.accept());
    let (mut stream, _) = accept.await.expect("a connection").unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains("\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf));
        let n = read.await.expect("the response").unwrap();
        assert!(n > 0, "connection closed after {text:?}");
        text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    text
}

/// Nothing must answer where `received` points, or the fallback is not
/// exercised.
async fn assert_nothing_at(addr: &str) {
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "something listens on {addr}: this test needs it free"
    );
}

#[tokio::test]
async fn a_response_finds_a_port_less_sent_by_by_srv() {
    let listener = TcpListener::bind("127.0.0.6:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dns = Dnsmasq::start(&[
        format!("--srv-host=_sip._tcp.client.test,phone.client.test,{port},10,10"),
        "--host-record=phone.client.test,127.0.0.6".to_owned(),
    ]);
    let (server, gate, mut connections) = server(&dns).await;
    // §18.2.2 first: received (127.0.0.5) at the default port 5060.
    assert_nothing_at("127.0.0.5:5060").await;
    ask_and_leave(
        server,
        "SIP/2.0/TCP client.test",
        "srv-sent-by",
        &gate,
        &mut connections,
    )
    .await;
    let answer = answer_at(&listener).await;
    assert!(
        answer.starts_with("SIP/2.0 200 "),
        "{answer}\n{}",
        dns.log()
    );
    assert!(answer.contains("srv-sent-by"), "{answer}");
    assert!(answer.contains("received=127.0.0.5"), "{answer}");
}

#[tokio::test]
async fn a_response_finds_a_sent_by_with_a_port_by_address() {
    let listener = TcpListener::bind("127.0.0.6:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // An SRV record the procedure must not use: the Via has a port.
    let dns = Dnsmasq::start(&[
        "--srv-host=_sip._tcp.client.test,elsewhere.client.test,5999,10,10",
        "--host-record=elsewhere.client.test,127.0.0.7",
        "--host-record=client.test,127.0.0.6",
    ]);
    let (server, gate, mut connections) = server(&dns).await;
    assert_nothing_at(&format!("127.0.0.5:{port}")).await;
    ask_and_leave(
        server,
        &format!("SIP/2.0/TCP client.test:{port}"),
        "a-sent-by",
        &gate,
        &mut connections,
    )
    .await;
    let answer = answer_at(&listener).await;
    assert!(
        answer.starts_with("SIP/2.0 200 "),
        "{answer}\n{}",
        dns.log()
    );
    assert!(answer.contains("a-sent-by"), "{answer}");
}

#[tokio::test]
async fn an_unknown_sent_by_loses_the_response_without_harm() {
    let dns = Dnsmasq::start::<&str>(&[]);
    let (server, gate, mut connections) = server(&dns).await;
    assert_nothing_at("127.0.0.5:5060").await;
    ask_and_leave(
        server,
        "SIP/2.0/TCP nowhere.test",
        "lost-sent-by",
        &gate,
        &mut connections,
    )
    .await;
    // The server drops that response and goes on serving.
    let socket = TcpSocket::new_v4().unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let local = stream.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:{server};transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bKafter\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@client.test>;tag=a\r\n\
         To: <sip:{server}>\r\n\
         Call-ID: after\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    stream.write_all(options.as_bytes()).await.unwrap();
    gate.notify_one();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 200 "), "{text}");
}
