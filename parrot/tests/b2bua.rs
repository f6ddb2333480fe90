//! The back-to-back user agent (`parrot::b2bua::Bridge`) between a
//! scripted caller and a scripted callee, both on loopback UDP, on tokio's
//! paused clock: what is relayed (ringing, early media, the answer, a
//! failure's status and reason, re-INVITE and UPDATE offers either way,
//! INFO and MESSAGE, the caller's REFER joining the callee to the target
//! and the callee's moving the caller to it, an attended transfer's
//! Replaces), and that every leg ends when the other does, whichever side stops at whichever
//! step. Each test ends by checking that nothing is left: no handler value
//! (so no dialog of the server), no transaction on either endpoint, no
//! task beyond those running before the call.

use parrot::b2bua::{Bridge, BridgeEvent, Bridges, failure_response};
use parrot::client::CallError;
use parrot::client::Client;
use parrot::endpoint::Endpoint;
use parrot::message::{HeaderName, Method, Request, Response, StatusCode};
use parrot::prelude::*;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod support;

use support::callee::Uas;
use support::caller::Caller;

/// The caller's offer.
const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
/// The callee's answer.
const ANSWER: &str = "v=0\r\no=bob 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
/// The caller's second offer (a new version, another port) and the
/// callee's answer to it.
const OFFER2: &str = "v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const ANSWER2: &str = "v=0\r\no=bob 7 8 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// How long the bridge lets the callee ring.
const NO_ANSWER: Duration = Duration::from_secs(60);

/// Counts the live handler values: one per dialog of the server.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(count: &Arc<AtomicUsize>) -> Alive {
        count.fetch_add(1, Ordering::SeqCst);
        Alive(count.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The B2BUA under test: every call goes to `target`.
struct B2b {
    client: Client,
    target: String,
    bridge: Bridge,
    _alive: Alive,
}

#[uas_handler]
impl B2b {
    async fn invite(&mut self, req: &Request, cx: &mut Context<'_, BridgeEvent>) -> Response {
        if cx.in_dialog() {
            return self.bridge.reinvite(req).await;
        }
        let target = self.target.clone();
        self.bridge.dial(&self.client, target, req, cx).await
    }

    async fn bye(&mut self, req: &Request) -> Response {
        self.bridge.bye(req)
    }

    async fn update(&mut self, req: &Request) -> Response {
        self.bridge.update(req).await
    }

    async fn refer(&mut self, req: &Request, cx: &mut Context<'_, BridgeEvent>) -> Response {
        self.bridge.refer(req, cx).await
    }

    async fn message(&mut self, req: &Request) -> Response {
        self.bridge.relay(req).await
    }

    /// A handler bug, on purpose.
    async fn info(&mut self, _req: &Request) -> Response {
        panic!("the handler fails on INFO")
    }

    async fn event(&mut self, ev: BridgeEvent, cx: &mut Context<'_, BridgeEvent>) -> Action {
        self.bridge.event(ev, cx).await
    }
}

/// The B2BUA running, its callee, and what to look at afterwards.
struct World {
    b2b: SocketAddr,
    server: Endpoint,
    client: Client,
    callee: Uas,
    alive: Arc<AtomicUsize>,
    tasks: usize,
}

impl World {
    /// Starts the B2BUA, sending every call to a fresh scripted callee
    /// (or, with `target`, there instead).
    async fn start(target: Option<String>) -> World {
        World::start_with(target, true).await
    }

    /// [`World::start`], the bridge carrying out the caller's REFER or not.
    async fn start_with(target: Option<String>, transfers: bool) -> World {
        let callee = Uas::bind().await;
        let target = target.unwrap_or_else(|| callee.uri());
        let client = Client::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .bind()
            .await
            .expect("client");
        let alive = Arc::new(AtomicUsize::new(0));
        let (c, a) = (client.clone(), alive.clone());
        let bridges = Bridges::new();
        let server = Server::builder()
            .udp("127.0.0.1:0")
            .handler(move || B2b {
                client: c.clone(),
                target: target.clone(),
                bridge: Bridge::new()
                    .no_answer_timeout(NO_ANSWER)
                    .transfers(transfers)
                    .joins(&bridges),
                _alive: Alive::new(&a),
            })
            .bind()
            .await
            .expect("bind");
        let b2b = server.local_addr(Protocol::Udp).unwrap();
        let endpoint = server.endpoint().clone();
        tokio::spawn(server.serve().into_future());
        // Let every task of the server and the client start.
        tokio::time::sleep(Duration::from_millis(1)).await;
        World {
            b2b,
            server: endpoint,
            client,
            callee,
            alive,
            tasks: tasks(),
        }
    }

    async fn caller(&self, call: &str) -> Caller {
        Caller::new(self.b2b, call).await
    }

    /// Waits (on the paused clock) until every dialog, transaction and
    /// task of the call is gone; fails the test when something is left
    /// after two minutes, far beyond the longest timer (64·T1 = 32 s,
    /// twice over for a BYE after a missing ACK).
    async fn assert_clean(&self) {
        for _ in 0..120 {
            if self.leftovers().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("left behind: {}", self.leftovers().unwrap_or_default());
    }

    fn leftovers(&self) -> Option<String> {
        let (dialogs, server, client, tasks) = (
            self.alive.load(Ordering::SeqCst),
            self.server.live_transactions(),
            self.client.endpoint().live_transactions(),
            tasks().saturating_sub(self.tasks),
        );
        (dialogs + server + client + tasks > 0).then(|| {
            format!(
                "{dialogs} handler values (dialogs), {server} server transactions, \
                 {client} client transactions, {tasks} tasks"
            )
        })
    }
}

fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// The callee's To tag.
const TAG: &str = "callee1";

/// Sends the caller's INVITE; returns it as sent.
async fn invite(c: &mut Caller) -> String {
    let invite = c.text("INVITE", "bob", "", "", OFFER);
    c.send(&invite).await;
    invite
}

/// The INVITE as the callee gets it, and where it came from.
async fn incoming(w: &World) -> (Request, SocketAddr) {
    let (inv, from) = w.callee.expect(Method::Invite).await;
    assert_eq!(
        &inv.body[..],
        OFFER.as_bytes(),
        "the caller's offer goes on"
    );
    (inv, from)
}

/// The callee answers `status` (with its SDP for a 2xx or a 183).
async fn callee_says(w: &World, req: &Request, from: SocketAddr, status: &str, body: &str) {
    w.callee
        .send(&w.callee.reply(req, status, TAG, "", body), from)
        .await;
}

/// The ACK for a non-2xx final response to `invite` (§17.1.1.3: the
/// INVITE's branch, CSeq number and To tag from the response).
fn ack_for(invite: &str, resp: &Response) -> String {
    let tag = resp.headers.to_tag().unwrap_or_default();
    let mut out = String::new();
    for line in invite.split("\r\n") {
        let line = if let Some(rest) = line.strip_prefix("INVITE ") {
            format!("ACK {rest}")
        } else if line.starts_with("CSeq:") {
            line.replace("INVITE", "ACK")
        } else if line.starts_with("To:") {
            format!("{line};tag={tag}")
        } else if line.starts_with("Content-") {
            continue;
        } else if line.is_empty() {
            break;
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// A call up to the answer: 180, 183 with early media, 200; the caller's
/// ACK. Returns the caller, our To tag towards it, and the callee's
/// INVITE and address.
async fn answered(w: &World, call: &str) -> (Caller, String, Request, SocketAddr) {
    let mut c = w.caller(call).await;
    invite(&mut c).await;
    let (inv, from) = incoming(w).await;
    callee_says(w, &inv, from, "180 Ringing", "").await;
    let ringing = c.expect(StatusCode::RINGING, "INVITE").await;
    assert_eq!(ringing.reason.as_str(), "Ringing");
    callee_says(w, &inv, from, "183 Session Progress", ANSWER).await;
    let progress = c.expect(StatusCode::SESSION_PROGRESS, "INVITE").await;
    assert_eq!(&progress.body[..], ANSWER.as_bytes(), "early media relayed");
    callee_says(w, &inv, from, "200 OK", ANSWER).await;
    let (ack, _) = w.callee.expect(Method::Ack).await;
    assert_eq!(ack.headers.to_tag().as_deref(), Some(TAG));
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    assert_eq!(
        &ok.body[..],
        ANSWER.as_bytes(),
        "the callee's answer relayed"
    );
    let tag = ok.headers.to_tag().unwrap().to_string();
    let ack = c.text("ACK", "bob", &tag, "", "");
    c.send(&ack).await;
    (c, tag, inv, from)
}

/// The next request of `method` the callee gets within `wait` (the
/// client's retransmitted INVITEs skipped).
async fn callee_expect_within(w: &World, method: Method, wait: Duration) -> (Request, SocketAddr) {
    loop {
        match w.callee.recv_within(wait).await {
            Some((parrot::message::Message::Request(r), from)) if r.method == method => {
                return (r, from);
            }
            Some((parrot::message::Message::Request(r), _)) if r.method == Method::Invite => {}
            Some((other, _)) => panic!("expected {method}, got {other:?}"),
            None => panic!("no {method} within {wait:?}"),
        }
    }
}

/// The callee answers the client's request `req` `200` (with `body`).
async fn callee_ok(w: &World, req: &Request, from: SocketAddr, body: &str) {
    w.callee
        .send(&w.callee.reply(req, "200 OK", TAG, "", body), from)
        .await;
}

#[tokio::test(start_paused = true)]
async fn caller_hangs_up_after_the_answer() {
    let w = World::start(None).await;
    let (mut c, tag, _, _) = answered(&w, "bye-caller").await;
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn callee_hangs_up_after_the_answer() {
    let mut w = World::start(None).await;
    let (mut c, _, inv, from) = answered(&w, "bye-callee").await;
    let bye = w.callee.request(&inv, "BYE", TAG, "", 0);
    w.callee.send(&bye, from).await;
    assert_eq!(w.callee.response().await.status, StatusCode::OK);
    let ours = c.recv_request().await.expect("the caller gets BYE");
    assert_eq!(ours.method, Method::Bye);
    c.answer(&ours, StatusCode::OK, "", "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn caller_cancels_while_ringing() {
    let w = World::start(None).await;
    let mut c = w.caller("cancel-ringing").await;
    let sent = invite(&mut c).await;
    let (inv, from) = incoming(&w).await;
    callee_says(&w, &inv, from, "180 Ringing", "").await;
    c.expect(StatusCode::RINGING, "INVITE").await;
    let cancel = sent
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    let start = tokio::time::Instant::now();
    c.send(&cancel).await;
    c.expect(StatusCode::OK, "CANCEL").await;
    let terminated = c.expect(StatusCode::REQUEST_TERMINATED, "INVITE").await;
    c.send(&ack_for(&sent, &terminated)).await;
    // The callee is cancelled in turn (§9.1), at once.
    let (cancel, from) = w.callee.expect(Method::Cancel).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    callee_ok(&w, &cancel, from, "").await;
    callee_says(&w, &inv, from, "487 Request Terminated", "").await;
    w.callee.expect(Method::Ack).await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn caller_cancels_before_the_callee_says_anything() {
    let w = World::start(None).await;
    let mut c = w.caller("cancel-early").await;
    let sent = invite(&mut c).await;
    incoming(&w).await;
    let cancel = sent
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    c.send(&cancel).await;
    c.expect(StatusCode::OK, "CANCEL").await;
    let terminated = c.expect(StatusCode::REQUEST_TERMINATED, "INVITE").await;
    c.send(&ack_for(&sent, &terminated)).await;
    // The silent callee gets no CANCEL (§9.1: not before a provisional
    // response); the client gives up on Timer B.
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn the_callees_refusal_reaches_the_caller() {
    let w = World::start(None).await;
    for (i, (status, want, reason)) in [
        (
            "486 Busy Right Now",
            StatusCode::BUSY_HERE,
            "Busy Right Now",
        ),
        ("603 Decline", StatusCode::DECLINE, "Decline"),
        (
            "407 Proxy Authentication Required",
            StatusCode::FORBIDDEN,
            "Callee Requires Authentication",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = w.caller(&format!("refused{i}")).await;
        let sent = invite(&mut c).await;
        let (inv, from) = incoming(&w).await;
        let extra = if status.starts_with("407") {
            "Proxy-Authenticate: Digest realm=\"callee\", nonce=\"n\"\r\n"
        } else {
            ""
        };
        w.callee
            .send(&w.callee.reply(&inv, status, TAG, extra, ""), from)
            .await;
        // The client ACKs the callee's refusal (§17.1.1.3).
        w.callee.expect(Method::Ack).await;
        let r = c.expect(want, "INVITE").await;
        assert_eq!(r.reason.as_str(), reason);
        c.send(&ack_for(&sent, &r)).await;
    }
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_callee_that_never_answers_is_given_up() {
    let w = World::start(None).await;
    let mut c = w.caller("no-answer").await;
    let sent = invite(&mut c).await;
    let (inv, from) = incoming(&w).await;
    callee_says(&w, &inv, from, "180 Ringing", "").await;
    c.expect(StatusCode::RINGING, "INVITE").await;
    let start = tokio::time::Instant::now();
    let (cancel, from) = callee_expect_within(&w, Method::Cancel, 2 * NO_ANSWER).await;
    assert!(start.elapsed() >= NO_ANSWER, "{:?}", start.elapsed());
    callee_ok(&w, &cancel, from, "").await;
    callee_says(&w, &inv, from, "487 Request Terminated", "").await;
    let timeout = c.expect(StatusCode::REQUEST_TIMEOUT, "INVITE").await;
    c.send(&ack_for(&sent, &timeout)).await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_callee_times_out() {
    // Bound, never answering.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = format!("sip:bob@{}", silent.local_addr().unwrap());
    let w = World::start(Some(target)).await;
    let mut c = w.caller("unreachable").await;
    let sent = invite(&mut c).await;
    let start = tokio::time::Instant::now();
    // Timer B, 64·T1 (§17.1.1.2).
    let timeout = c.expect(StatusCode::REQUEST_TIMEOUT, "INVITE").await;
    assert!(
        start.elapsed() >= Duration::from_secs(32),
        "{:?}",
        start.elapsed()
    );
    c.send(&ack_for(&sent, &timeout)).await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_fails_the_call_at_once() {
    // A TCP port nobody listens on: the connection is refused (§18.1.1),
    // which the client stands a 503 for (§8.1.3.1); the caller gets 502.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("sip:bob@127.0.0.1:{port};transport=tcp");
    let w = World::start(Some(target)).await;
    let mut c = w.caller("refused-connection").await;
    let sent = invite(&mut c).await;
    let start = tokio::time::Instant::now();
    let failed = c.expect(StatusCode::BAD_GATEWAY, "INVITE").await;
    assert_eq!(failed.reason.as_str(), "Callee Unreachable");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    c.send(&ack_for(&sent, &failed)).await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_never_acks_ends_both_legs() {
    let w = World::start(None).await;
    let mut c = w.caller("no-ack").await;
    invite(&mut c).await;
    let (inv, from) = incoming(&w).await;
    callee_says(&w, &inv, from, "200 OK", ANSWER).await;
    w.callee.expect(Method::Ack).await;
    c.expect(StatusCode::OK, "INVITE").await;
    // No ACK: the 2xx is retransmitted, then given up after 64·T1 with a
    // BYE to the caller (§13.3.1.4), which ends the callee's leg too.
    let start = tokio::time::Instant::now();
    let (bye, from) = callee_expect_within(&w, Method::Bye, Duration::from_secs(120)).await;
    assert!(
        start.elapsed() >= Duration::from_secs(31),
        "{:?}",
        start.elapsed()
    );
    callee_ok(&w, &bye, from, "").await;
    let ours = c.recv_request().await.expect("the caller gets BYE");
    assert_eq!(ours.method, Method::Bye);
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_handler_ends_both_legs() {
    let w = World::start(None).await;
    let (mut c, tag, _, _) = answered(&w, "panic").await;
    let info = c.text("INFO", "bob", &tag, "", "");
    c.send(&info).await;
    c.expect(StatusCode::SERVER_INTERNAL_ERROR, "INFO").await;
    let ours = c.recv_request().await.expect("the caller gets BYE");
    assert_eq!(ours.method, Method::Bye);
    c.answer(&ours, StatusCode::OK, "", "").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn offers_in_the_call_pass_through() {
    let w = World::start(None).await;
    let (mut c, tag, _, _) = answered(&w, "offers").await;
    // A re-INVITE with a new offer: a re-INVITE to the callee (RFC 3261
    // §14.1), its 2xx acknowledged by the client (§13.2.2.4).
    let reinvite = c.text("INVITE", "bob", &tag, "", OFFER2);
    c.send(&reinvite).await;
    let (theirs, from) = callee_expect_within(&w, Method::Invite, Duration::from_secs(5)).await;
    assert_eq!(
        theirs.headers.to_tag().as_deref(),
        Some(TAG),
        "in the callee's dialog"
    );
    assert_eq!(&theirs.body[..], OFFER2.as_bytes());
    callee_ok(&w, &theirs, from, ANSWER2).await;
    let (ack, _) = w.callee.expect(Method::Ack).await;
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        theirs.headers.cseq().unwrap().seq,
        "the ACK of the re-INVITE's 2xx"
    );
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    assert_eq!(&ok.body[..], ANSWER2.as_bytes());
    let ack = c
        .text("ACK", "bob", &tag, "", "")
        .replace("CSeq: 1 ACK", "CSeq: 2 ACK")
        .replace("offersACK1", "offersACK2");
    c.send(&ack).await;
    // An UPDATE with the offer unchanged, and one without a body (session
    // refreshes): answered on the caller's leg alone.
    let same = c.text("UPDATE", "bob", &tag, "", OFFER2);
    c.send(&same).await;
    let ok = c.expect(StatusCode::OK, "UPDATE").await;
    assert_eq!(&ok.body[..], ANSWER2.as_bytes());
    let refresh = c.text("UPDATE", "bob", &tag, "", "");
    c.send(&refresh).await;
    c.expect(StatusCode::OK, "UPDATE").await;
    // An UPDATE with a new offer that the callee refuses: relayed.
    let third = OFFER.replace("1 1 IN", "1 3 IN");
    let update = c.text("UPDATE", "bob", &tag, "", &third);
    c.send(&update).await;
    let (theirs, from) = w.callee.expect(Method::Update).await;
    w.callee
        .send(
            &w.callee
                .reply(&theirs, "488 Not Acceptable Here", TAG, "", ""),
            from,
        )
        .await;
    let refused = c.expect(StatusCode::NOT_ACCEPTABLE_HERE, "UPDATE").await;
    assert!(refused.body.is_empty());
    // Hang up.
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    assert!(
        bye.headers.get(HeaderName::CallId).is_some(),
        "the callee's own dialog"
    );
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

/// The next NOTIFY the caller gets (the runtime's ACKs skipped), which
/// must report `status` in its `message/sipfrag` (RFC 3515 §2.4.5);
/// answered `200`. Returns its `Subscription-State`.
async fn notify_says(c: &mut Caller, status: u16) -> String {
    loop {
        let req = c.recv_request().await.expect("a NOTIFY");
        if req.method == Method::Ack {
            continue;
        }
        assert_eq!(req.method, Method::Notify, "{req:?}");
        let body = String::from_utf8_lossy(&req.body).into_owned();
        assert!(
            body.starts_with(&format!("SIP/2.0 {status} ")),
            "NOTIFY says {body:?}, not {status}"
        );
        c.answer(&req, StatusCode::OK, "", "").await;
        return req
            .headers
            .get("Subscription-State")
            .map(|v| v.to_string())
            .unwrap_or_default();
    }
}

/// The caller's REFER to `target` in the call with our To tag `tag`.
async fn refer(c: &mut Caller, tag: &str, target: &str) {
    let refer = c.text(
        "REFER",
        "bob",
        tag,
        &format!("Refer-To: <{target}>\r\n"),
        "",
    );
    c.send(&refer).await;
    c.expect(StatusCode::ACCEPTED, "REFER").await;
}

/// The next request the caller gets, the runtime's retransmissions and
/// ACK-less noise skipped: of `method`.
async fn caller_gets(c: &mut Caller, method: Method) -> Request {
    loop {
        let req = c.recv_request().await.expect("a request");
        if req.method == method {
            return req;
        }
        assert_eq!(req.method, Method::Ack, "{req:?}");
    }
}

/// A third description of the callee and the target's.
const OFFER3: &str = "v=0\r\no=bob 7 9 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const TARGET: &str = "v=0\r\no=carol 3 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 60000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

#[tokio::test(start_paused = true)]
async fn a_refer_from_the_caller_joins_the_callee_to_the_target() {
    let mut w = World::start(None).await;
    let (mut c, tag, inv, from) = answered(&w, "transfer").await;
    let carol = Uas::bind().await;
    refer(&mut c, &tag, &carol.uri()).await;
    assert!(notify_says(&mut c, 100).await.starts_with("active"));
    // RFC 5589 §6: the transferee (the callee) is the one who talks to
    // the target, which is offered the callee's description.
    let (cinv, cfrom) = carol.expect(Method::Invite).await;
    assert_eq!(&cinv.body[..], ANSWER.as_bytes());
    carol
        .send(&carol.reply(&cinv, "180 Ringing", "carol", "", ""), cfrom)
        .await;
    notify_says(&mut c, 180).await;
    carol
        .send(&carol.reply(&cinv, "200 OK", "carol", "", TARGET), cfrom)
        .await;
    carol.expect(Method::Ack).await;
    // The callee is offered the target's description.
    let (theirs, tfrom) = callee_expect_within(&w, Method::Invite, Duration::from_secs(5)).await;
    assert_eq!(&theirs.body[..], TARGET.as_bytes());
    callee_ok(&w, &theirs, tfrom, ANSWER).await;
    w.callee.expect(Method::Ack).await;
    assert!(notify_says(&mut c, 200).await.starts_with("terminated"));
    // The transferor hangs up: only its own leg ends.
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    assert!(w.callee.quiet_for(Duration::from_secs(2)).await);
    // The joined legs pass offers and INFO to each other.
    let reinvite = w.callee.request(&inv, "INVITE", TAG, OFFER3, 0);
    w.callee.send(&reinvite, from).await;
    let (creinv, _) = carol.expect(Method::Invite).await;
    assert_eq!(&creinv.body[..], OFFER3.as_bytes());
    carol
        .send(&carol.reply(&creinv, "200 OK", "carol", "", TARGET), cfrom)
        .await;
    carol.expect(Method::Ack).await;
    let ok = w.callee.response().await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(&ok.body[..], TARGET.as_bytes());
    let ack = w
        .callee
        .request(&inv, "ACK", TAG, "", ok.headers.cseq().unwrap().seq);
    w.callee.send(&ack, from).await;
    // The target hangs up: the callee with it.
    let cbye = format!(
        "BYE {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKcarolbye\r\nMax-Forwards: 70\r\nFrom: {to};tag=carol\r\nTo: {from}\r\nCall-ID: {call}\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n",
        contact = cinv
            .headers
            .get(HeaderName::Contact)
            .unwrap()
            .trim_start_matches('<')
            .trim_end_matches('>'),
        me = carol.addr(),
        to = cinv.headers.get(HeaderName::To).unwrap(),
        from = cinv.headers.get(HeaderName::From).unwrap(),
        call = cinv.headers.get(HeaderName::CallId).unwrap(),
    );
    carol.send(&cbye, cfrom).await;
    assert_eq!(carol.response().await.status, StatusCode::OK);
    let (bye, bfrom) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, bfrom, "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn an_attended_transfer_sends_replaces_to_the_target() {
    let w = World::start(None).await;
    let (mut c, tag, _, _) = answered(&w, "attended").await;
    let carol = Uas::bind().await;
    let target = format!(
        "{}?Replaces=other%40example.com%3Bto-tag%3Dc1%3Bfrom-tag%3Da1",
        carol.uri()
    );
    refer(&mut c, &tag, &target).await;
    notify_says(&mut c, 100).await;
    let (cinv, cfrom) = carol.expect(Method::Invite).await;
    assert_eq!(
        cinv.headers.get("Replaces").map(|v| v.as_str()),
        Some("other@example.com;to-tag=c1;from-tag=a1")
    );
    assert_eq!(
        cinv.headers.get(HeaderName::Require).map(|v| v.as_str()),
        Some("replaces")
    );
    carol
        .send(
            &carol.reply(&cinv, "481 Call Does Not Exist", "carol", "", ""),
            cfrom,
        )
        .await;
    carol.expect(Method::Ack).await;
    assert!(notify_says(&mut c, 481).await.starts_with("terminated"));
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn an_attended_transfer_between_two_calls_here_joins_their_callees() {
    let mut w = World::start(None).await;
    let (mut c1, tag1, inv1, from1) = answered(&w, "attended-1").await;
    let (mut c2, tag2, inv2, from2) = answered(&w, "attended-2").await;
    // The caller refers its first callee to its second call here (RFC
    // 5589 §7): Replaces names that call as the caller sees it.
    let target = format!(
        "sip:bob@{}?Replaces=attended-2%3Bto-tag%3D{tag2}%3Bfrom-tag%3Da",
        w.b2b
    );
    refer(&mut c1, &tag1, &target).await;
    notify_says(&mut c1, 100).await;
    // The first callee is offered the second one's description, and the
    // second the first's answer.
    let (b, bfrom) = callee_expect_within(&w, Method::Invite, Duration::from_secs(5)).await;
    assert_eq!(b.headers.call_id(), inv1.headers.call_id());
    assert_eq!(&b.body[..], ANSWER.as_bytes());
    callee_ok(&w, &b, bfrom, ANSWER2).await;
    w.callee.expect(Method::Ack).await;
    let (c, cfrom) = callee_expect_within(&w, Method::Invite, Duration::from_secs(5)).await;
    assert_eq!(c.headers.call_id(), inv2.headers.call_id());
    assert_eq!(&c.body[..], ANSWER2.as_bytes());
    callee_ok(&w, &c, cfrom, ANSWER).await;
    w.callee.expect(Method::Ack).await;
    // The replaced call (RFC 3891 §3) is hung up; the transfer reported.
    let bye = caller_gets(&mut c2, Method::Bye).await;
    c2.answer(&bye, StatusCode::OK, "", "").await;
    assert!(notify_says(&mut c1, 200).await.starts_with("terminated"));
    let bye = c1.text("BYE", "bob", &tag1, "", "");
    c1.send(&bye).await;
    c1.expect(StatusCode::OK, "BYE").await;
    // The two callees talk; one hangs up, the other is hung up.
    let bye = w.callee.request(&inv2, "BYE", TAG, "", 0);
    w.callee.send(&bye, from2).await;
    let mut answered_bye = false;
    let mut got_bye = false;
    while !(answered_bye && got_bye) {
        match w.callee.recv_within(Duration::from_secs(5)).await {
            Some((parrot::message::Message::Response(r), _)) => {
                assert_eq!(r.status, StatusCode::OK);
                answered_bye = true;
            }
            Some((parrot::message::Message::Request(r), f)) if r.method == Method::Bye => {
                assert_eq!(r.headers.call_id(), inv1.headers.call_id());
                callee_ok(&w, &r, f, "").await;
                got_bye = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let _ = from1;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn the_callees_offers_and_info_reach_the_caller() {
    let mut w = World::start(None).await;
    let (mut c, tag, inv, from) = answered(&w, "callee-offers").await;
    // The callee's re-INVITE: a re-INVITE to the caller, whose answer
    // comes back in the callee's 2xx.
    let reinvite = w.callee.request(&inv, "INVITE", TAG, OFFER3, 0);
    w.callee.send(&reinvite, from).await;
    let theirs = caller_gets(&mut c, Method::Invite).await;
    assert_eq!(&theirs.body[..], OFFER3.as_bytes());
    c.answer(&theirs, StatusCode::OK, "", OFFER2).await;
    let ok = w.callee.response().await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(&ok.body[..], OFFER2.as_bytes());
    let ack = w
        .callee
        .request(&inv, "ACK", TAG, "", ok.headers.cseq().unwrap().seq);
    w.callee.send(&ack, from).await;
    // The callee's INFO, relayed with its body.
    let info = w.callee.request(&inv, "INFO", TAG, "", 0).replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: application/dtmf-relay\r\nContent-Length: 10\r\n\r\nSignal=5\r\n",
    );
    w.callee.send(&info, from).await;
    let theirs = caller_gets(&mut c, Method::Info).await;
    assert_eq!(&theirs.body[..], b"Signal=5\r\n");
    c.answer(&theirs, StatusCode::OK, "", "").await;
    let ok = w.callee.response().await;
    assert_eq!(ok.headers.cseq().unwrap().method, Method::Info);
    assert_eq!(ok.status, StatusCode::OK);
    // The caller's MESSAGE, relayed the other way.
    let message = c.text("MESSAGE", "bob", &tag, "", "").replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
    );
    c.send(&message).await;
    let (theirs, mfrom) = w.callee.expect(Method::Message).await;
    assert_eq!(&theirs.body[..], b"hi");
    w.callee
        .send(&w.callee.reply(&theirs, "202 Accepted", TAG, "", ""), mfrom)
        .await;
    c.expect(StatusCode::ACCEPTED, "MESSAGE").await;
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_refer_from_the_callee_moves_the_caller_to_the_target() {
    let mut w = World::start(None).await;
    let (mut c, tag, inv, from) = answered(&w, "callee-transfer").await;
    let carol = Uas::bind().await;
    let refer = w.callee.request(&inv, "REFER", TAG, "", 0).replacen(
        "Contact: ",
        &format!("Refer-To: <{}>\r\nContact: ", carol.uri()),
        1,
    );
    w.callee.send(&refer, from).await;
    let accepted = w.callee.response().await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    // The client's NOTIFYs report to the callee (RFC 3515 §2.4.4).
    let (n, nfrom) = w.callee.expect(Method::Notify).await;
    assert_eq!(&n.body[..], b"SIP/2.0 100 Trying\r\n");
    callee_ok(&w, &n, nfrom, "").await;
    // The target is offered the caller's description.
    let (cinv, cfrom) = carol.expect(Method::Invite).await;
    assert_eq!(&cinv.body[..], OFFER.as_bytes());
    carol
        .send(&carol.reply(&cinv, "200 OK", "carol", "", TARGET), cfrom)
        .await;
    carol.expect(Method::Ack).await;
    // The caller is offered the target's description.
    let offer = loop {
        let r = c.recv_request().await.expect("the new description");
        if matches!(r.method, Method::Invite | Method::Update) {
            break r;
        }
    };
    assert_eq!(&offer.body[..], TARGET.as_bytes());
    c.answer(&offer, StatusCode::OK, "", OFFER).await;
    // The callee hears the outcome and is hung up.
    let (n, nfrom) = w.callee.expect(Method::Notify).await;
    assert_eq!(&n.body[..], b"SIP/2.0 200 OK\r\n");
    assert!(
        n.headers
            .get(HeaderName::SubscriptionState)
            .unwrap()
            .starts_with("terminated")
    );
    callee_ok(&w, &n, nfrom, "").await;
    let (bye, bfrom) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, bfrom, "").await;
    // The caller now talks to the target: its BYE ends that call.
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (cbye, _) = carol.expect(Method::Bye).await;
    carol
        .send(&carol.reply(&cbye, "200 OK", "carol", "", ""), cfrom)
        .await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_transfer_leaves_the_call_up() {
    let w = World::start(None).await;
    let (mut c, tag, _, _) = answered(&w, "transfer-busy").await;
    let carol = Uas::bind().await;
    refer(&mut c, &tag, &carol.uri()).await;
    notify_says(&mut c, 100).await;
    let (inv, from) = carol.expect(Method::Invite).await;
    carol
        .send(&carol.reply(&inv, "486 Busy Here", "carol", "", ""), from)
        .await;
    carol.expect(Method::Ack).await;
    assert!(notify_says(&mut c, 486).await.starts_with("terminated"));
    // The original call is untouched and still bridged.
    assert!(w.callee.quiet_for(Duration::from_secs(5)).await);
    let update = c.text("UPDATE", "bob", &tag, "", OFFER2);
    c.send(&update).await;
    let (theirs, from) = w.callee.expect(Method::Update).await;
    callee_ok(&w, &theirs, from, ANSWER2).await;
    c.expect(StatusCode::OK, "UPDATE").await;
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_caller_hanging_up_cancels_the_transfer() {
    let w = World::start(None).await;
    let (mut c, tag, _, _) = answered(&w, "transfer-gone").await;
    let carol = Uas::bind().await;
    refer(&mut c, &tag, &carol.uri()).await;
    notify_says(&mut c, 100).await;
    let (inv, from) = carol.expect(Method::Invite).await;
    carol
        .send(&carol.reply(&inv, "180 Ringing", "carol", "", ""), from)
        .await;
    notify_says(&mut c, 180).await;
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    // The transfer's call is cancelled (§9.1).
    let (cancel, from) = carol.expect(Method::Cancel).await;
    carol
        .send(&carol.reply(&cancel, "200 OK", "carol", "", ""), from)
        .await;
    carol
        .send(
            &carol.reply(&inv, "487 Request Terminated", "carol", "", ""),
            from,
        )
        .await;
    carol.expect(Method::Ack).await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn one_transfer_at_a_time() {
    let w = World::start(None).await;
    let (mut c, tag, _, _) = answered(&w, "transfer-twice").await;
    let carol = Uas::bind().await;
    refer(&mut c, &tag, &carol.uri()).await;
    notify_says(&mut c, 100).await;
    // A second REFER while the first is in progress: 491.
    let again = c.text(
        "REFER",
        "bob",
        &tag,
        &format!("Refer-To: <{}>\r\n", carol.uri()),
        "",
    );
    c.send(&again).await;
    c.expect(StatusCode::REQUEST_PENDING, "REFER").await;
    let (inv, from) = carol.expect(Method::Invite).await;
    carol
        .send(&carol.reply(&inv, "603 Decline", "carol", "", ""), from)
        .await;
    carol.expect(Method::Ack).await;
    notify_says(&mut c, 603).await;
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

#[tokio::test(start_paused = true)]
async fn a_refer_is_refused_when_transfers_are_off() {
    let w = World::start_with(None, false).await;
    let (mut c, tag, _, _) = answered(&w, "transfer-off").await;
    let refer = c.text(
        "REFER",
        "bob",
        &tag,
        "Refer-To: <sip:carol@127.0.0.1:9>\r\n",
        "",
    );
    c.send(&refer).await;
    let r = c.expect(StatusCode::FORBIDDEN, "REFER").await;
    assert_eq!(r.reason.as_str(), "Transfers Not Allowed");
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let (bye, from) = w.callee.expect(Method::Bye).await;
    callee_ok(&w, &bye, from, "").await;
    w.assert_clean().await;
}

// -- failure_response: what the caller gets for a failed outgoing call --

fn caller_invite() -> Request {
    let text = "INVITE sip:bob@b2b.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKb2b1\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:bob@b2b.example.com>\r\n\
        From: <sip:alice@example.com>;tag=a1\r\n\
        Call-ID: b2b-1@192.0.2.1\r\n\
        CSeq: 1 INVITE\r\n\
        Contact: <sip:alice@192.0.2.1>\r\n\
        Content-Length: 0\r\n\r\n";
    support::parse_request(text)
}

fn callee_final(status: StatusCode, reason: &str, headers: &[(&str, &str)]) -> Box<Response> {
    let mut r = Response::new(status).reason(reason.to_owned());
    for (n, v) in headers {
        r = r.header(n.to_string(), v.to_string());
    }
    Box::new(r)
}

#[test]
fn refusals_are_relayed_with_their_reason_and_explanations() {
    let req = caller_invite();
    let r = failure_response(
        &req,
        &CallError::Rejected(callee_final(
            StatusCode::BUSY_HERE,
            "Busy Now",
            &[
                ("Retry-After", "30"),
                ("Server", "x"),
                ("Contact", "<sip:x>"),
            ],
        )),
    );
    assert_eq!(r.status, StatusCode::BUSY_HERE);
    assert_eq!(r.reason.as_str(), "Busy Now");
    assert_eq!(
        r.headers.get(HeaderName::RetryAfter).map(|v| v.as_str()),
        Some("30")
    );
    assert!(!r.headers.contains(HeaderName::Server));
    assert!(!r.headers.contains(HeaderName::Contact));
    // Our response to the caller's INVITE: its Call-ID and CSeq.
    assert_eq!(
        r.headers.call_id().map(|c| c.as_str()),
        Some("b2b-1@192.0.2.1")
    );
    let r = failure_response(
        &req,
        &CallError::Rejected(callee_final(StatusCode::DECLINE, "Decline", &[])),
    );
    assert_eq!(r.status, StatusCode::DECLINE);
    let r = failure_response(
        &req,
        &CallError::Rejected(callee_final(
            StatusCode::MOVED_TEMPORARILY,
            "Moved",
            &[("Contact", "<sip:carol@example.com>")],
        )),
    );
    assert_eq!(r.status, StatusCode::MOVED_TEMPORARILY);
    assert!(r.headers.contains(HeaderName::Contact));
}

#[test]
fn what_is_about_our_own_leg_is_not_relayed_as_it_is() {
    let req = caller_invite();
    let status = |s: StatusCode| {
        failure_response(&req, &CallError::Rejected(callee_final(s, "x", &[]))).status
    };
    assert_eq!(status(StatusCode::UNAUTHORIZED), StatusCode::FORBIDDEN);
    assert_eq!(
        status(StatusCode::PROXY_AUTHENTICATION_REQUIRED),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(StatusCode::SERVICE_UNAVAILABLE),
        StatusCode::SERVER_INTERNAL_ERROR
    );
    assert_eq!(
        status(StatusCode::SESSION_INTERVAL_TOO_SMALL),
        StatusCode::SERVER_INTERNAL_ERROR
    );
    assert_eq!(
        status(StatusCode::BAD_EXTENSION),
        StatusCode::SERVER_INTERNAL_ERROR
    );
    let timeout = CallError::Timeout(Box::new(req.reply(StatusCode::REQUEST_TIMEOUT)));
    assert_eq!(
        failure_response(&req, &timeout).status,
        StatusCode::REQUEST_TIMEOUT
    );
    let down = CallError::Unreachable(Box::new(req.reply(StatusCode::SERVICE_UNAVAILABLE)));
    assert_eq!(
        failure_response(&req, &down).status,
        StatusCode::BAD_GATEWAY
    );
}
