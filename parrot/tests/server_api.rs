//! The server builder's API on loopback: listen addresses and their errors,
//! bind errors naming the address, shared state reaching every handler
//! value, graceful shutdown, and the Context's refusals of provisional
//! responses it cannot send.

use bytes::Bytes;
use parrot::ErrorKind;
use parrot::message::{Message, Response, StatusCode, parse_datagram};
use parrot::prelude::*;
use parrot::server::ProvisionalError;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Quiet;

#[uas_handler]
impl Quiet {
    async fn options(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

#[tokio::test]
async fn a_bad_listen_address_is_reported_with_the_address() {
    let err = Server::builder()
        .listen("no such address")
        .handler(Quiet::default)
        .bind()
        .await
        .expect_err("a bad address");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("no such address"), "{err}");
}

#[tokio::test]
async fn a_server_without_a_listener_does_not_start() {
    let err = Server::builder()
        .handler(Quiet::default)
        .serve()
        .await
        .expect_err("no listener");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("no listen address"), "{err}");
}

#[tokio::test]
async fn an_address_in_use_is_a_transport_error_naming_it() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Server::builder()
        .udp(addr)
        .handler(Quiet::default)
        .bind()
        .await
        .expect_err("address in use");
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

/// Counts the OPTIONS every handler value answers, in state shared by all.
struct Counting {
    seen: Arc<AtomicUsize>,
}

#[uas_handler]
impl Counting {
    async fn options(&mut self, _req: &Request) -> StatusCode {
        self.seen.fetch_add(1, Ordering::SeqCst);
        StatusCode::OK
    }
}

fn options(peer: SocketAddr, branch: &str) -> String {
    format!(
        "OPTIONS sip:server@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {peer};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@127.0.0.1>;tag=a{branch}\r\n\
         To: <sip:server@127.0.0.1>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

async fn final_response(sock: &UdpSocket) -> Response {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        if let Ok(Message::Response(r)) = parse_datagram(Bytes::copy_from_slice(&buf[..n]))
            && r.status.is_final()
        {
            return r;
        }
    }
}

#[tokio::test]
async fn state_reaches_every_handler_value_and_shutdown_ends_serve() {
    let seen = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .udp("127.0.0.1:0")
        .shutdown_timeout(Duration::from_secs(1))
        .state(seen.clone())
        .handler(|seen: &Arc<AtomicUsize>| Counting { seen: seen.clone() })
        .bind()
        .await
        .unwrap();
    let addr = server.local_addr(Protocol::Udp).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(
        server
            .serve()
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    for branch in ["one", "two", "three"] {
        sock.send_to(options(me, branch).as_bytes(), addr)
            .await
            .unwrap();
        assert_eq!(final_response(&sock).await.status, StatusCode::OK);
    }
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    stop.send(()).unwrap();
    let ended = timeout(WAIT, serving)
        .await
        .expect("serve ends on the signal");
    ended.unwrap().unwrap();
}

/// Records what the Context said to each provisional response it was
/// asked to send.
struct Provisional {
    log: Arc<Mutex<Vec<Result<(), ProvisionalError>>>>,
}

#[uas_handler]
impl Provisional {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
        let results = [
            cx.send_provisional(req.reply(StatusCode::OK)),
            cx.ring(),
            cx.send_provisional(req.reply(StatusCode::SESSION_PROGRESS)),
        ];
        self.log.lock().unwrap().extend(results);
        req.reply(StatusCode::BUSY_HERE)
    }
}

#[tokio::test]
async fn context_refuses_a_final_status_as_a_provisional() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = Server::builder()
        .udp("127.0.0.1:0")
        .state(log.clone())
        .handler(|log: &Arc<Mutex<_>>| Provisional { log: log.clone() })
        .bind()
        .await
        .unwrap();
    let addr = server.local_addr(Protocol::Udp).unwrap();
    let serving = tokio::spawn(server.serve().into_future());
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKinv1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@127.0.0.1>;tag=caller\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: provisional@test\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{me}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sock.send_to(invite.as_bytes(), addr).await.unwrap();
    let mut statuses = Vec::new();
    let mut buf = vec![0u8; 65535];
    while statuses.last().is_none_or(|s: &StatusCode| !s.is_final()) {
        let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
            .await
            .expect("responses in time")
            .unwrap();
        if let Ok(Message::Response(r)) = parse_datagram(Bytes::copy_from_slice(&buf[..n])) {
            statuses.push(r.status);
        }
    }
    // The 200 given as a provisional never reached the wire.
    assert!(!statuses.contains(&StatusCode::OK), "{statuses:?}");
    assert!(statuses.contains(&StatusCode::RINGING), "{statuses:?}");
    assert!(
        statuses.contains(&StatusCode::SESSION_PROGRESS),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&StatusCode::BUSY_HERE));
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            Err(ProvisionalError::NotProvisional(StatusCode::OK)),
            Ok(()),
            Ok(()),
        ]
    );
    serving.abort();
}
