//! Stream connections under abuse, over loopback: header and body
//! deadlines, the minimum receive rate (slowloris), the per-source
//! connection limit, eviction of idle connections at the cap, and the
//! budget of bytes buffered across connections. Deadlines run on tokio's
//! paused clock, which jumps ahead whenever every task is waiting.

use parrot::transport::{
    Incoming, ListenerConfig, Protocol, TransportConfig, TransportLayer, TransportStats,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio::time::{Instant, timeout};

mod support;

use support::{expect_closed, next, request, wait_connections};

const SECOND: Duration = Duration::from_secs(1);

fn tcp_request(call_id: &str) -> String {
    request(
        "OPTIONS",
        "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKa",
        call_id,
        "",
    )
}

/// A TCP listener on loopback with the default limits and no rate rule
/// (tests of the rate rule turn it back on).
fn config() -> TransportConfig {
    TransportConfig {
        listeners: vec![ListenerConfig::tcp("127.0.0.1:0".parse().unwrap())],
        min_receive_bytes: 0,
        ..TransportConfig::default()
    }
}

async fn bind(config: TransportConfig) -> (TransportLayer, Receiver<Box<Incoming>>, SocketAddr) {
    let (t, rx) = TransportLayer::bind(config).await.unwrap();
    let addr = t.local_addr(Protocol::Tcp).unwrap();
    (t, rx, addr)
}

/// How long after `since` the server closed `s`, if within `limit`.
async fn closed_after(s: &mut TcpStream, since: Instant, limit: Duration) -> Option<Duration> {
    let mut buf = [0u8; 1024];
    timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return since.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// The next call's Call-ID delivered, as text.
async fn delivered(rx: &mut Receiver<Box<Incoming>>) -> String {
    let inc = next(rx).await;
    inc.message
        .headers()
        .get(parrot::message::HeaderName::CallId)
        .unwrap()
        .to_string()
}

fn stats(t: &TransportLayer) -> TransportStats {
    t.stats()
}

#[tokio::test(start_paused = true)]
async fn unfinished_header_block_is_closed_at_its_deadline() {
    let (t, _rx, addr) = bind(TransportConfig {
        header_timeout: 10 * SECOND,
        ..config()
    })
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let whole = tcp_request("slow-head");
    c.write_all(&whole.as_bytes()[..60]).await.unwrap();
    let after = closed_after(&mut c, start, 60 * SECOND)
        .await
        .expect("not closed by the header deadline");
    assert!((10 * SECOND..12 * SECOND).contains(&after), "{after:?}");
    let s = stats(&t);
    assert_eq!((s.header_timeouts, s.body_timeouts), (1, 0));
    wait_connections(&t, 0).await;
}

#[tokio::test(start_paused = true)]
async fn unfinished_body_is_closed_at_its_deadline() {
    let (t, _rx, addr) = bind(TransportConfig {
        header_timeout: 10 * SECOND,
        body_timeout: 30 * SECOND,
        ..config()
    })
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let whole = request(
        "MESSAGE",
        "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKb",
        "slow-body",
        &"x".repeat(100),
    );
    // The header block and a tenth of the body.
    c.write_all(&whole.as_bytes()[..whole.len() - 90])
        .await
        .unwrap();
    let after = closed_after(&mut c, start, 120 * SECOND)
        .await
        .expect("not closed by the body deadline");
    assert!((30 * SECOND..32 * SECOND).contains(&after), "{after:?}");
    let s = stats(&t);
    assert_eq!((s.header_timeouts, s.body_timeouts), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn trickling_peer_is_closed_by_the_rate_rule() {
    // Deadlines far off: only the rate rule can close the connection.
    let (t, _rx, addr) = bind(TransportConfig {
        header_timeout: 600 * SECOND,
        body_timeout: 600 * SECOND,
        min_receive_window: 5 * SECOND,
        min_receive_bytes: 100,
        ..config()
    })
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let whole = tcp_request("slowloris");
    let mut closed = None;
    // One byte a second, for at most two minutes.
    for &b in whole.as_bytes().iter().take(120) {
        if c.write_all(&[b]).await.is_err() {
            closed = Some(start.elapsed());
            break;
        }
        if let Some(after) = closed_after(&mut c, start, SECOND).await {
            closed = Some(after);
            break;
        }
    }
    let after = closed.expect("trickling peer not closed");
    assert!((5 * SECOND..7 * SECOND).contains(&after), "{after:?}");
    let s = stats(&t);
    assert_eq!(s.slow_receives, 1);
    assert_eq!((s.header_timeouts, s.body_timeouts), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn honest_slow_start_is_not_cut_off() {
    // Half a request, a pause shorter than every limit, the rest: delivered.
    let (_t, mut rx, addr) = bind(TransportConfig {
        min_receive_bytes: 10,
        ..config()
    })
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let whole = tcp_request("honest");
    let (a, b) = whole.as_bytes().split_at(whole.len() / 2);
    c.write_all(a).await.unwrap();
    tokio::time::sleep(3 * SECOND).await;
    c.write_all(b).await.unwrap();
    assert_eq!(delivered(&mut rx).await, "honest");
}

#[tokio::test]
async fn one_source_cannot_take_every_slot() {
    let (t, mut rx, addr) = bind(TransportConfig {
        max_connections_per_source: 3,
        ..config()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let _others = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    wait_connections(&t, 3).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut extra).await;
    assert_eq!(t.connection_count(), 3);
    assert_eq!(stats(&t).refused_per_source, 1);
    first
        .write_all(tcp_request("first").as_bytes())
        .await
        .unwrap();
    assert_eq!(delivered(&mut rx).await, "first");
}

#[tokio::test(start_paused = true)]
async fn idle_connection_makes_room_at_the_cap() {
    let (t, mut rx, addr) = bind(TransportConfig {
        max_connections: 8,
        evict_idle_after: 10 * SECOND,
        ..config()
    })
    .await;
    // One connection carries a message; seven stay silent.
    let mut flow = TcpStream::connect(addr).await.unwrap();
    flow.write_all(tcp_request("flow").as_bytes())
        .await
        .unwrap();
    assert_eq!(delivered(&mut rx).await, "flow");
    let mut silent = Vec::new();
    for _ in 0..7 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    wait_connections(&t, 8).await;
    // Nobody has been quiet long enough yet: refused as before.
    let mut early = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut early).await;
    assert_eq!(stats(&t).refused_at_cap, 1);
    tokio::time::sleep(11 * SECOND).await;
    let mut late = TcpStream::connect(addr).await.unwrap();
    late.write_all(tcp_request("late").as_bytes())
        .await
        .unwrap();
    assert_eq!(delivered(&mut rx).await, "late");
    assert_eq!(stats(&t).evicted, 1);
    assert_eq!(t.connection_count(), 8);
    // The oldest silent connection went; the one that carried a message
    // stays.
    expect_closed(&mut silent[0]).await;
    flow.write_all(tcp_request("flow-2").as_bytes())
        .await
        .unwrap();
    assert_eq!(delivered(&mut rx).await, "flow-2");
}

#[tokio::test(start_paused = true)]
async fn busy_connections_are_not_evicted() {
    let (t, _rx, addr) = bind(TransportConfig {
        max_connections: 4,
        evict_idle_after: 10 * SECOND,
        header_timeout: 600 * SECOND,
        ..config()
    })
    .await;
    // Every connection holds an incomplete message.
    let mut busy = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"OPTIONS sip:bob@example.com SIP/2.0\r\n")
            .await
            .unwrap();
        busy.push(c);
    }
    wait_connections(&t, 4).await;
    tokio::time::sleep(11 * SECOND).await;
    let mut refused = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut refused).await;
    let s = stats(&t);
    assert_eq!((s.evicted, s.refused_at_cap), (0, 1));
    assert_eq!(t.connection_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn buffered_bytes_stay_within_the_budget() {
    const BUDGET: usize = 256 * 1024;
    let (t, mut rx, addr) = bind(TransportConfig {
        max_buffered_bytes: BUDGET,
        ..config()
    })
    .await;
    // Six peers each announce a 200 kB body and send a quarter of it: only
    // one fits in the budget at a time.
    let body = "b".repeat(200_000);
    let whole = request(
        "MESSAGE",
        "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKc",
        "big",
        &body,
    );
    let part = &whole.as_bytes()[..whole.len() - 150_000];
    let mut hogs = Vec::new();
    for _ in 0..6 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        // The server may already have closed it.
        let _ = c.write_all(part).await;
        hogs.push(c);
        assert!(stats(&t).buffered_bytes <= BUDGET + part.len());
    }
    // An honest peer still gets through.
    let mut honest = TcpStream::connect(addr).await.unwrap();
    honest
        .write_all(tcp_request("honest").as_bytes())
        .await
        .unwrap();
    assert_eq!(delivered(&mut rx).await, "honest");
    wait_connections(&t, 2).await;
    let s = stats(&t);
    assert_eq!(s.over_budget, 5);
    assert!(s.buffered_bytes <= BUDGET, "{s:?}");
    assert!(s.buffered_bytes >= 200_000, "{s:?}");
}
