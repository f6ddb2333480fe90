//! A server of several shards (`ServerBuilder::shards`) over loopback UDP:
//! every call is handled on the shard that owns its Call-ID, whichever
//! shard read its messages and whatever socket they came from; the
//! counters sum the shards; shutdown ends every shard's thread; what
//! cannot be sharded yet is refused by `bind`.

use parrot::message::{Message, StatusCode};
use parrot::prelude::*;
use parrot::server::{Factory, ServerBuilder};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

mod support;

use support::{parse_message, recv_datagram};

const WAIT: Duration = Duration::from_secs(20);

/// The method and the thread of each request a call's handler took.
type Handled = Vec<(String, String)>;

/// Which thread handled each request, by Call-ID.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<HashMap<String, Handled>>>);

impl Seen {
    fn note(&self, req: &Request) {
        let call_id = req.headers.call_id().map(|c| c.to_string()).unwrap();
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        let mut calls = self.0.lock().unwrap();
        calls
            .entry(call_id)
            .or_default()
            .push((req.method.to_string(), thread));
    }
}

struct Recorder {
    seen: Seen,
}

#[uas_handler]
impl Recorder {
    async fn invite(&mut self, req: &Request) -> StatusCode {
        self.seen.note(req);
        StatusCode::OK
    }

    async fn bye(&mut self, req: &Request) -> StatusCode {
        self.seen.note(req);
        StatusCode::OK
    }
}

fn message(method: &str, cseq: u32, call_id: &str, from: SocketAddr, to_tag: &str) -> String {
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    let branch = format!("z9hG4bK{:x}", next_branch());
    format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@127.0.0.1>{to_tag}\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@{from}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A branch number no other request of this test binary uses.
fn next_branch() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Sends `text` from `sock` and returns the first final response.
async fn transact(sock: &UdpSocket, server: SocketAddr, text: &str) -> Response {
    sock.send_to(text.as_bytes(), server).await.unwrap();
    loop {
        let (data, _) = recv_datagram(sock, WAIT).await;
        match parse_message(&data) {
            Message::Response(r) if r.status.is_final() => return r,
            _ => {}
        }
    }
}

/// A server of `shards` shards whose handlers note into `seen`, with no
/// listener yet.
fn recording(seen: &Seen, shards: usize) -> ServerBuilder<Factory<Recorder>> {
    let seen = seen.clone();
    Server::builder()
        .shards(shards)
        .handler(move || Recorder { seen: seen.clone() })
}

/// One call: INVITE and ACK from one socket, BYE from another (so that
/// only the Call-ID ties them together).
async fn call(server: SocketAddr, call_id: &str) {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let ok = transact(&a, server, &message("INVITE", 1, call_id, a_addr, "")).await;
    assert_eq!(ok.status, StatusCode::OK, "{call_id}");
    let tag = ok.headers.to_tag().expect("a To tag").to_string();
    let ack = message("ACK", 1, call_id, a_addr, &tag);
    a.send_to(ack.as_bytes(), server).await.unwrap();
    let bye = transact(&b, server, &message("BYE", 2, call_id, b_addr, &tag)).await;
    assert_eq!(bye.status, StatusCode::OK, "BYE of {call_id}");
}

#[tokio::test(flavor = "current_thread")]
async fn each_call_stays_on_the_shard_that_owns_its_call_id() {
    let seen = Seen::default();
    let bound = recording(&seen, 2)
        .udp("127.0.0.1:0")
        .bind()
        .await
        .expect("a sharded server binds");
    let server = bound.local_addr(parrot::transport::Protocol::Udp).unwrap();
    let stats = bound.stats();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(
        bound
            .serve()
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .into_future(),
    );
    let ids: Vec<String> = (0..24).map(|i| format!("shard-call-{i}@test")).collect();
    for id in &ids {
        call(server, id).await;
    }
    let calls = seen.0.lock().unwrap().clone();
    let mut threads = HashSet::new();
    for id in &ids {
        let handled = &calls[id];
        let methods: Vec<&str> = handled.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(methods, ["INVITE", "BYE"], "{id}");
        assert_eq!(
            handled[0].1, handled[1].1,
            "{id}: INVITE and BYE on one shard"
        );
        threads.insert(handled[0].1.clone());
    }
    assert_eq!(threads.len(), 2, "both shards took calls: {threads:?}");
    assert!(threads.contains("parrot-shard-1"), "{threads:?}");
    let _ = stop_tx.send(());
    tokio::time::timeout(WAIT, serving)
        .await
        .expect("every shard stops")
        .unwrap()
        .expect("a clean stop");
    assert_eq!(stats.live_dialogs(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn counters_and_metrics_sum_the_shards() {
    let seen = Seen::default();
    let bound = recording(&seen, 3)
        .udp("127.0.0.1:0")
        .metrics("127.0.0.1:0")
        .bind()
        .await
        .expect("a sharded server with metrics binds");
    let server = bound.local_addr(parrot::transport::Protocol::Udp).unwrap();
    let metrics = bound.metrics_addr().unwrap();
    let stats = bound.stats();
    let serving = tokio::spawn(bound.serve().into_future());
    // Calls left up: each shard's core counts its own.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    for i in 0..12 {
        let id = format!("held-{i}");
        let ok = transact(&sock, server, &message("INVITE", 1, &id, addr, "")).await;
        assert_eq!(ok.status, StatusCode::OK);
        let tag = ok.headers.to_tag().unwrap().to_string();
        let ack = message("ACK", 1, &id, addr, &tag);
        sock.send_to(ack.as_bytes(), server).await.unwrap();
    }
    let owners: HashSet<String> = seen
        .0
        .lock()
        .unwrap()
        .values()
        .map(|h| h[0].1.clone())
        .collect();
    assert!(owners.len() >= 2, "{owners:?}");
    // The cores publish their counts as they handle events.
    let deadline = tokio::time::Instant::now() + WAIT;
    while stats.live_dialogs() != 12 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            stats.live_dialogs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The scrape reads every shard.
    let (status, page) = support::http::get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        support::http::value(&page, "parrot_dialogs_live"),
        Some(12.0),
        "{page}"
    );
    let (status, _) = support::http::get(metrics, "/health").await;
    assert_eq!(status, 200);
    serving.abort();
}

#[tokio::test]
async fn an_in_memory_network_is_refused() {
    let memory = parrot::transport::MemoryNetwork::new();
    let addr: SocketAddr = "10.0.0.1:5060".parse().unwrap();
    let err = recording(&Seen::default(), 2)
        .memory(memory, addr)
        .bind()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), parrot::ErrorKind::Config);
    assert!(err.to_string().contains("in-memory"), "{err}");
}

/// Reads one message off a stream (this test's have empty bodies).
async fn read_message(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Message {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let message: Vec<u8> = buf.drain(..end + 4).collect();
            return parse_message(&message);
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("a message in time")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn calls_over_one_tcp_connection_are_answered_on_it_by_each_owner() {
    use tokio::io::AsyncWriteExt;
    let seen = Seen::default();
    let bound = recording(&seen, 2)
        .listen("127.0.0.1:0")
        .bind()
        .await
        .expect("a sharded server with UDP and TCP binds");
    let server = bound.local_addr(parrot::transport::Protocol::Tcp).unwrap();
    let transport = bound.transport().clone();
    let serving = tokio::spawn(bound.serve().into_future());
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let me = stream.local_addr().unwrap();
    let mut buf = Vec::new();
    let tcp = |text: String| text.replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let ids: Vec<String> = (0..16).map(|i| format!("tcp-call-{i}")).collect();
    for id in &ids {
        let invite = tcp(message("INVITE", 1, id, me, ""));
        stream.write_all(invite.as_bytes()).await.unwrap();
        let ok = loop {
            match read_message(&mut stream, &mut buf).await {
                Message::Response(r) if r.status.is_final() => break r,
                _ => {}
            }
        };
        assert_eq!(ok.status, StatusCode::OK, "{id}");
        let tag = ok.headers.to_tag().unwrap().to_string();
        let ack = tcp(message("ACK", 1, id, me, &tag));
        stream.write_all(ack.as_bytes()).await.unwrap();
        let bye = tcp(message("BYE", 2, id, me, &tag));
        stream.write_all(bye.as_bytes()).await.unwrap();
        match read_message(&mut stream, &mut buf).await {
            Message::Response(r) => assert_eq!(r.status, StatusCode::OK, "BYE of {id}"),
            other => panic!("{other:?}"),
        }
    }
    let calls = seen.0.lock().unwrap().clone();
    let threads: HashSet<&String> = ids.iter().map(|id| &calls[id][0].1).collect();
    assert_eq!(threads.len(), 2, "both shards took calls: {threads:?}");
    for id in &ids {
        assert_eq!(calls[id][0].1, calls[id][1].1, "{id}");
    }
    // One table: the first shard's transport sees the one connection.
    assert_eq!(transport.connection_count(), 1);
    serving.abort();
}
