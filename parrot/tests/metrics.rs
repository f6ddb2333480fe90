//! `ServerBuilder::metrics` on loopback: `GET /metrics` counts what a
//! client did (OPTIONS pings and a call, INVITE/ACK/BYE, over TCP so that
//! nothing is retransmitted), `GET /health` follows the server's life,
//! and the HTTP listener resists abuse (a head never finished is closed
//! at the deadline, a huge one is refused with 431, other paths and
//! methods are refused).
//!
//! The `metrics` recorder is process-global: every assertion on counter
//! values is in one test function, and the other tests here send no SIP.

mod support;

use parrot::client::Client;
use parrot::prelude::*;
use std::net::SocketAddr;
use std::time::Duration;
use support::http::{exchange, get, value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=bob 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\n";

/// The longest a loopback exchange may take here.
const WAIT: Duration = Duration::from_secs(10);

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(ANSWER)
    }
    async fn bye(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
    async fn options(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

/// A server with a metrics listener, serving in a task (aborted on drop
/// of the handle); its SIP and metrics addresses.
async fn server() -> (
    tokio::task::JoinHandle<parrot::Result<()>>,
    SocketAddr,
    SocketAddr,
) {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .metrics("127.0.0.1:0")
        .handler(|| Answer)
        .bind()
        .await
        .expect("binds");
    let sip = server
        .local_addr(parrot::transport::Protocol::Tcp)
        .expect("a TCP listener");
    let metrics = server.metrics_addr().expect("a metrics listener");
    let running = tokio::spawn(server.serve().into_future());
    ready(metrics).await;
    (running, sip, metrics)
}

/// Waits until `/health` answers 200 (the serving task may not have
/// started yet: 503 until then).
async fn ready(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = get(addr, "/health").await;
        if status == 200 {
            assert!(body.ends_with("\r\n\r\nok\n"), "{body}");
            return;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Scrapes until `check` holds for the page (the core publishes its
/// gauges after each event), for at most [`WAIT`].
async fn scrape_until(addr: SocketAddr, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, page) = get(addr, "/metrics").await;
        assert_eq!(status, 200, "{page}");
        if check(&page) {
            return page;
        }
        assert!(Instant::now() < deadline, "never held; last page:\n{page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_count_what_the_server_did_and_health_follows_it() {
    let (running, sip, addr) = server().await;

    let client = Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .bind()
        .await
        .expect("client binds");
    let uri = format!("sip:bob@{sip};transport=tcp");
    for _ in 0..3 {
        let r = client
            .options(uri.as_str())
            .await
            .expect("OPTIONS answered");
        assert_eq!(r.status, StatusCode::OK);
    }
    let mut call = client
        .invite(uri.as_str(), OFFER)
        .await
        .expect("INVITE sent")
        .wait()
        .await
        .expect("call answered");

    // During the call: one dialog, one TCP connection at least.
    let page = scrape_until(addr, |p| {
        value(p, "parrot_requests_received_total{method=\"ACK\"}") == Some(1.0)
            && value(p, "parrot_dialogs_live") == Some(1.0)
    })
    .await;
    assert!(
        value(&page, "parrot_connections_open{transport=\"tcp\"}").unwrap_or(0.0) >= 1.0,
        "{page}"
    );
    assert_eq!(
        value(&page, "parrot_connections_open{transport=\"ws\"}"),
        Some(0.0)
    );
    assert!(value(&page, "parrot_transactions_live").is_some(), "{page}");

    let r = call.bye().await.expect("BYE answered");
    assert_eq!(r.status, StatusCode::OK);

    let page = scrape_until(addr, |p| {
        value(p, "parrot_dialogs_live") == Some(0.0)
            && value(p, "parrot_sessions_live") == Some(0.0)
    })
    .await;
    let count = |series: &str| value(&page, series);
    assert_eq!(
        count("parrot_requests_received_total{method=\"OPTIONS\"}"),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        count("parrot_requests_received_total{method=\"INVITE\"}"),
        Some(1.0)
    );
    assert_eq!(
        count("parrot_requests_received_total{method=\"ACK\"}"),
        Some(1.0)
    );
    assert_eq!(
        count("parrot_requests_received_total{method=\"BYE\"}"),
        Some(1.0)
    );
    // 3 OPTIONS, the INVITE and the BYE: all 200.
    assert_eq!(
        count("parrot_responses_sent_total{class=\"2xx\"}"),
        Some(5.0)
    );
    assert_eq!(count("parrot_responses_sent_total{class=\"4xx\"}"), None);
    // Over TCP nothing is retransmitted, and nothing failed.
    assert_eq!(count("parrot_retransmissions_total"), None);
    assert_eq!(count("parrot_retransmissions_absorbed_total"), Some(0.0));
    assert_eq!(count("parrot_handler_panics_total"), None);
    assert_eq!(count("parrot_parse_failures_total"), None);
    assert_eq!(
        count("parrot_overload_rejections_total{stage=\"core\"}"),
        Some(0.0)
    );
    // Described, with their types.
    assert!(
        page.contains("# TYPE parrot_requests_received_total counter"),
        "{page}"
    );
    assert!(page.contains("# TYPE parrot_dialogs_live gauge"), "{page}");
    assert!(page.contains("# HELP parrot_requests_received_total "));

    // Response times: one sample per request answered (the ACK is none),
    // in buckets.
    assert!(
        page.contains("# TYPE parrot_response_time_seconds histogram"),
        "{page}"
    );
    for (method, n) in [("OPTIONS", 3.0), ("INVITE", 1.0), ("BYE", 1.0)] {
        let series = format!("parrot_response_time_seconds_count{{method=\"{method}\"}}");
        assert_eq!(count(&series), Some(n), "{series}:\n{page}");
        let inf = format!("parrot_response_time_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}}");
        assert_eq!(count(&inf), Some(n), "{inf}:\n{page}");
    }
    assert_eq!(
        count("parrot_response_time_seconds_count{method=\"ACK\"}"),
        None
    );
    assert!(count("parrot_queue_delay_seconds").is_some(), "{page}");

    // A malformed request is answered 400 and counted.
    let mut s = TcpStream::connect(sip).await.unwrap();
    s.write_all(b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: bad\r\nCSeq: 1 INVITE\r\nMax-Forwards: lots\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let n = timeout(WAIT, s.read(&mut answer))
        .await
        .expect("answered in time")
        .unwrap();
    assert!(
        answer[..n].starts_with(b"SIP/2.0 400"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    scrape_until(addr, |p| {
        value(p, "parrot_parse_failures_total") == Some(1.0)
    })
    .await;

    running.abort();
    let _ = running.await;
    // The listener stops with the server.
    assert!(
        timeout(WAIT, async {
            while TcpStream::connect(addr).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok(),
        "the metrics listener outlived its server"
    );
}

#[tokio::test]
async fn health_is_503_until_serving_and_the_listener_closes_with_the_server() {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .metrics("127.0.0.1:0")
        .handler(|| Answer)
        .bind()
        .await
        .expect("binds");
    let addr = server.metrics_addr().expect("a metrics listener");
    // Bound, not serving yet.
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.ends_with("starting\n"), "{body}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(
        server
            .serve()
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .into_future(),
    );
    ready(addr).await;
    stop_tx.send(()).unwrap();
    timeout(WAIT, running)
        .await
        .expect("stops in time")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn the_http_listener_refuses_what_it_does_not_serve() {
    let (running, _, addr) = server().await;
    let (status, _) = get(addr, "/nothing").await;
    assert_eq!(status, 404);
    let (status, _) = exchange(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(status, 405);
    let (status, _) = exchange(addr, b"GET\r\n\r\n").await;
    assert_eq!(status, 400);
    // Binary garbage with a blank line: still an answer, no panic.
    let (status, _) = exchange(addr, b"\xff\xfe\x00 \x01\r\n\r\n").await;
    assert_eq!(status, 405);
    running.abort();
}

#[tokio::test]
async fn a_huge_request_head_is_refused_with_431() {
    let (running, _, addr) = server().await;
    let mut request = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    request.resize(64 * 1024, b'a');
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The listener may close before taking it all: a write error is fine.
    let _ = s.write_all(&request).await;
    let mut out = Vec::new();
    let _ = timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("closed in time");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
    // The listener still serves.
    assert_eq!(get(addr, "/metrics").await.0, 200);
    running.abort();
}

#[tokio::test]
async fn a_head_never_finished_is_closed_at_the_deadline() {
    let (running, _, addr) = server().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The deadline's exact timing is tested on a paused clock in the
    // listener's unit tests; here, over TCP, that the connection closes.
    let mut out = Vec::new();
    let n = timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("closed within the deadline")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    // Slow clients do not hold the listener: it still serves.
    assert_eq!(get(addr, "/health").await.0, 200);
    running.abort();
}
