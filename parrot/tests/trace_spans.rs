//! A handler's log lines carry its request's span: Call-ID and method at
//! INFO, and at DEBUG the transaction's branch, the peer and the
//! transport. In a test binary of its own: `tracing`'s callsite interest
//! is process-wide, and another test's subscriber would change it.

use parrot::prelude::*;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Pong;

#[uas_handler]
impl Pong {
    async fn options(&mut self, _req: &Request) -> StatusCode {
        tracing::info!("the handler answers");
        StatusCode::OK
    }
}

fn options(server: SocketAddr, me: SocketAddr, call_id: &str) -> String {
    format!(
        "OPTIONS sip:pong@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@{me}>;tag=t1\r\n\
         To: <sip:pong@{server}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[path = "support/captured_log.rs"]
mod captured_log;

use captured_log::Captured;

#[tokio::test]
async fn a_handlers_lines_carry_the_requests_call_id_branch_and_peer() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        // The branch, peer and transport come at DEBUG.
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,parrot=debug"))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(Pong::default)
        .bind()
        .await
        .unwrap();
    let udp_addr = server.local_addr(Protocol::Udp).unwrap();
    let serving = tokio::spawn(server.serve().into_future());
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = peer.local_addr().unwrap();
    let request = options(udp_addr, me, "span-1");
    peer.send_to(request.as_bytes(), udp_addr).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .expect("a response in time")
        .unwrap();
    serving.abort();
    let text = captured.text();
    let line = text
        .lines()
        .find(|l| l.contains("the handler answers"))
        .unwrap_or_else(|| panic!("no handler line in {text}"));
    for field in [
        "call_id=span-1",
        "method=OPTIONS",
        "branch=z9hG4bK-span-1",
        &format!("peer={me}"),
        "transport=UDP",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
