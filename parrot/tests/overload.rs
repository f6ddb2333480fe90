//! Overload: a flood of new INVITEs at a server whose handler is slow to
//! give its first answer is shed early with `503` and `Retry-After` (long
//! before `max_dialogs`),
//! while OPTIONS and the BYE of an established call are still answered,
//! and new calls succeed again once the flood is over. Over loopback UDP,
//! on tokio's paused clock (the handler's slowness is a paused sleep).

use parrot::message::{Message, Request, Response, StatusCode};
use parrot::server::{Action, Context, MethodSet, OverloadConfig, Server, ServerStats, UasHandler};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

mod support;

use support::{parse_message, recv_datagram};

const WAIT: Duration = Duration::from_secs(60);

/// New INVITEs in the flood (bounded).
const FLOOD: usize = 200;

/// Answers an INVITE at once, or after 2 s (paused) for a `slow` URI.
struct Phone;

impl UasHandler for Phone {
    type Event = ();
    const METHODS: MethodSet = MethodSet::EMPTY.with("INVITE").with("BYE");

    fn invite(
        &mut self,
        req: &Request,
        cx: &mut Context<'_, ()>,
    ) -> impl Future<Output = Action> + Send {
        let slow = req.uri.to_string().contains("slow");
        async move {
            if slow {
                // Slow work before the first answer: the request stays in
                // the backlog (a ringing call would not).
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            let req = cx.request().expect("the INVITE");
            Action::Respond(req.reply(StatusCode::OK).sdp("v=0\r\n"))
        }
    }

    fn bye(
        &mut self,
        req: &Request,
        _cx: &mut Context<'_, ()>,
    ) -> impl Future<Output = Action> + Send {
        let resp = req.reply(StatusCode::OK);
        async move { Action::Respond(resp) }
    }
}

/// A UDP peer of the server.
struct Peer {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Peer {
    async fn new(server: SocketAddr) -> Peer {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Peer { sock, server }
    }

    async fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    async fn response(&self) -> Response {
        loop {
            if let Message::Response(r) = parse_message(&recv_datagram(&self.sock, WAIT).await.0) {
                return r;
            }
        }
    }

    /// Records the final INVITE responses already received.
    fn try_finals(&self, finals: &mut HashMap<String, Response>) {
        let mut buf = vec![0u8; 65535];
        while let Ok((n, _)) = self.sock.try_recv_from(&mut buf) {
            if let Message::Response(r) = parse_message(&buf[..n])
                && r.status.is_final()
            {
                record(finals, r);
            }
        }
    }

    /// The next final response for `method` (provisionals and others
    /// skipped).
    async fn final_for(&self, method: &str) -> Response {
        loop {
            let r = self.response().await;
            let cseq = r.headers.cseq().expect("CSeq");
            if r.status.is_final() && cseq.method.to_string() == method {
                return r;
            }
        }
    }

    fn request(
        &self,
        method: &str,
        user: &str,
        call: &str,
        cseq: u32,
        to_tag: Option<&str>,
    ) -> String {
        let me = self.sock.local_addr().unwrap();
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        format!(
            "{method} sip:{user}@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK-{call}-{method}-{cseq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1>;tag=caller\r\n\
             To: <sip:{user}@127.0.0.1>{to_tag}\r\n\
             Call-ID: {call}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:alice@{me}>\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    /// Sets up a call that is answered at once; returns its To tag.
    async fn call(&self, call: &str) -> String {
        self.send(&self.request("INVITE", "fast", call, 1, None))
            .await;
        let ok = self.final_for("INVITE").await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
        let tag = ok.headers.to_tag().expect("To tag").to_string();
        self.send(&self.request("ACK", "fast", call, 1, Some(&tag)))
            .await;
        tag
    }
}

/// Keeps the first final response of each call.
fn record(finals: &mut HashMap<String, Response>, r: Response) {
    let call = r.headers.call_id().expect("Call-ID").to_string();
    finals.entry(call).or_insert(r);
}

async fn start() -> (SocketAddr, ServerStats) {
    start_with(OverloadConfig {
        // On the paused clock, time jumps while the runtime waits for
        // loopback I/O, which would read as queueing delay: pending
        // work is what starts shedding here.
        delay_high: Duration::from_secs(3600),
        delay_low: Duration::from_secs(3600),
        pending_high: 20,
        pending_low: 5,
        min_shed: Duration::from_secs(1),
        ..OverloadConfig::default()
    })
    .await
}

async fn start_with(overload: OverloadConfig) -> (SocketAddr, ServerStats) {
    let server = Server::builder()
        .udp("127.0.0.1:0")
        .overload(overload)
        .handler(|| Phone)
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    let stats = server.stats();
    tokio::spawn(server.serve().into_future());
    (addr, stats)
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_new_calls_is_shed_early_and_calls_in_progress_go_on() {
    let (server, stats) = start().await;
    let alice = Peer::new(server).await;
    let flood = Peer::new(server).await;
    let tag = alice.call("established").await;

    let mut finals: HashMap<String, Response> = HashMap::new();
    for i in 0..FLOOD {
        flood
            .send(&flood.request("INVITE", "slow", &format!("flood-{i}"), 1, None))
            .await;
        // Let the server answer, and read what it sent, so that the
        // test's own receive buffer does not overflow.
        tokio::task::yield_now().await;
        flood.try_finals(&mut finals);
    }
    // Every flooded INVITE gets a final response: 503 with Retry-After
    // for the shed ones, 200 after the handler's sleep for the others.
    // While the server sheds (from the first 503 until the slow calls'
    // backlog clears, when their 200s go out), requests of the
    // established call are still served.
    let mut answered_while_flooded = false;
    while finals.len() < FLOOD {
        if !answered_while_flooded && stats.shedding() {
            answered_while_flooded = true;
            // OPTIONS and the established call's BYE are still served.
            alice
                .send(&alice.request("OPTIONS", "fast", "ping", 1, None))
                .await;
            assert_eq!(alice.final_for("OPTIONS").await.status, StatusCode::OK);
            alice
                .send(&alice.request("BYE", "fast", "established", 2, Some(&tag)))
                .await;
            assert_eq!(alice.final_for("BYE").await.status, StatusCode::OK);
        }
        let r = flood.final_for("INVITE").await;
        record(&mut finals, r);
    }
    assert!(answered_while_flooded, "shedding never started");
    let shed: Vec<_> = finals
        .values()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let ok = finals
        .values()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(shed.len() + ok, FLOOD, "only 200 or 503");
    // Shed early: about the first `pending_high` calls were taken, far
    // below max_dialogs.
    assert!((1..=40).contains(&ok), "{ok} calls taken");
    assert!(shed.iter().all(|r| {
        r.headers
            .get("Retry-After")
            .is_some_and(|v| v.as_str() == "5")
    }));
    assert_eq!(stats.shed() + stats.refused(), shed.len() as u64);

    // The flood is over: shedding ends and new calls are taken again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!stats.shedding());
    alice.call("after").await;
}

/// A server that sheds from its first measure on (no backlog allowed),
/// answering at most `refusals` shed requests a second with `503`.
async fn start_shedding(refusals: u32) -> (SocketAddr, ServerStats) {
    start_with(OverloadConfig {
        delay_high: Duration::from_secs(3600),
        delay_low: Duration::from_secs(3600),
        pending_high: 0,
        pending_low: 0,
        refusals_per_second: refusals,
        ..OverloadConfig::default()
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn beyond_the_refusal_budget_new_requests_are_dropped_and_pings_still_answered() {
    let (server, stats) = start_shedding(10).await;
    let alice = Peer::new(server).await;
    let flood = Peer::new(server).await;
    // The first measure turns shedding on.
    alice
        .send(&alice.request("OPTIONS", "fast", "ping-0", 1, None))
        .await;
    assert_eq!(alice.final_for("OPTIONS").await.status, StatusCode::OK);
    assert!(stats.shedding());

    let mut finals: HashMap<String, Response> = HashMap::new();
    for i in 0..FLOOD {
        flood
            .send(&flood.request("INVITE", "fast", &format!("drop-{i}"), 1, None))
            .await;
        tokio::task::yield_now().await;
        flood.try_finals(&mut finals);
    }
    // OPTIONS is never shed, and it comes back after every INVITE sent
    // before it: whatever the server answers, it has answered by then.
    alice
        .send(&alice.request("OPTIONS", "fast", "ping-1", 1, None))
        .await;
    assert_eq!(alice.final_for("OPTIONS").await.status, StatusCode::OK);
    tokio::task::yield_now().await;
    flood.try_finals(&mut finals);

    // A burst of the budget was answered with 503 (the flood took far
    // less than a second), the rest dropped unanswered, none taken.
    assert!(
        finals
            .values()
            .all(|r| r.status == StatusCode::SERVICE_UNAVAILABLE),
        "only 503"
    );
    assert!(
        (10..=12).contains(&finals.len()),
        "{} answered",
        finals.len()
    );
    assert_eq!(stats.dropped() as usize, FLOOD - finals.len());
    // Each refusal carries Retry-After and the same stateless To tag
    // (RFC 3261 §8.2.7), and its ACK is absorbed without an answer.
    let tags: std::collections::HashSet<_> = finals
        .values()
        .map(|r| r.headers.to_tag().expect("To tag").to_string())
        .collect();
    assert_eq!(tags.len(), 1);
    let tag = tags.into_iter().next().unwrap();
    let (call, _) = finals.iter().next().unwrap();
    flood
        .send(&flood.request("ACK", "fast", call, 1, Some(&tag)))
        .await;
    assert!(
        finals
            .values()
            .all(|r| r.headers.get("Retry-After").is_some())
    );
    let before = stats.dropped();
    // Shedding stays on: the next flood is shed too, the ACK did not count.
    flood
        .send(&flood.request("INVITE", "fast", "late", 1, None))
        .await;
    alice
        .send(&alice.request("OPTIONS", "fast", "ping-2", 1, None))
        .await;
    assert_eq!(alice.final_for("OPTIONS").await.status, StatusCode::OK);
    assert!(stats.dropped() + stats.refused() > before);
}

static RELEASED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_release() {
    RELEASED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

#[tokio::test(start_paused = true)]
async fn memory_is_released_once_a_peak_has_passed() {
    let server = Server::builder()
        .udp("127.0.0.1:0")
        .release_memory_with(count_release)
        .handler(|| Phone)
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    let peer = Peer::new(addr).await;
    // A peak of 1500 transactions (each OPTIONS stays 32 s absorbing
    // retransmissions, RFC 3261 §17.2.2 Timer J).
    let mut buf = vec![0u8; 65535];
    let mut answered = 0;
    for i in 0..1500 {
        peer.send(&peer.request("OPTIONS", "fast", &format!("peak-{i}"), 1, None))
            .await;
        tokio::task::yield_now().await;
        while peer.sock.try_recv_from(&mut buf).is_ok() {
            answered += 1;
        }
    }
    while answered < 1500 {
        peer.response().await;
        answered += 1;
    }
    // Still at the peak: nothing released yet.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(RELEASED.load(std::sync::atomic::Ordering::Relaxed), 0);
    // The transactions end after 32 s; the next sweeps release.
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert!(RELEASED.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}

#[tokio::test(start_paused = true)]
async fn peers_that_ask_get_loss_based_feedback_in_the_via() {
    let (server, _stats) = start_shedding(1000).await;
    let alice = Peer::new(server).await;
    let flood = Peer::new(server).await;
    let with_oc = |req: String| req.replace(";rport", ";rport;oc;oc-algo=\"loss\"");
    alice
        .send(&alice.request("OPTIONS", "fast", "oc-ping-0", 1, None))
        .await;
    alice.final_for("OPTIONS").await;
    // A second of new calls, all shed, then another second for the
    // feedback to be worked out.
    let mut finals: HashMap<String, Response> = HashMap::new();
    for i in 0..FLOOD {
        let req = flood.request("INVITE", "fast", &format!("oc-{i}"), 1, None);
        flood.send(&with_oc(req)).await;
        tokio::task::yield_now().await;
        flood.try_finals(&mut finals);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    alice
        .send(&alice.request("OPTIONS", "fast", "oc-ping-1", 1, None))
        .await;
    alice.final_for("OPTIONS").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    alice
        .send(&alice.request("OPTIONS", "fast", "oc-ping-2", 1, None))
        .await;
    alice.final_for("OPTIONS").await;

    // A peer that asks is told to hold back (RFC 7339 §5.2, loss-based).
    let req = flood.request("INVITE", "fast", "oc-late", 1, None);
    flood.send(&with_oc(req)).await;
    let r = flood.final_for("INVITE").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let via = r.headers.top_via().expect("Via").into_owned();
    let oc: u8 = via
        .params
        .get("oc")
        .expect("oc")
        .parse()
        .expect("a percentage");
    assert!((1..=95).contains(&oc), "oc={oc}");
    assert_eq!(
        via.params.raw("oc-algo").map(|t| t.as_str()),
        Some("\"loss\"")
    );
    assert!(via.params.get("oc-validity").is_some());
    assert!(via.params.get("oc-seq").is_some());
    // One that does not ask gets none.
    flood
        .send(&flood.request("INVITE", "fast", "no-oc", 1, None))
        .await;
    let r = flood.final_for("INVITE").await;
    let via = r.headers.top_via().expect("Via").into_owned();
    assert!(!via.params.contains("oc") && !via.params.contains("oc-seq"));
}
