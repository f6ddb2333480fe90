//! The `proxy` example on the test kit (`parrot::testing`): the caller is
//! the kit's `alice`, the callees are kit peers (`bob`, or `a` and `b`
//! for a fork) the proxy's targets point at; what the proxy adds to and
//! removes from each message, and the runtime's proxy behaviour behind the
//! example's one-line decision (RFC 3261 §16).
//!
//! The kit runs on tokio's paused clock: a wait for a message that is not
//! sent jumps ahead in virtual time, and timers (Timer B, Timer C) fire at
//! once. Expectations pass over the proxy's retransmissions (its INVITE to
//! a callee that has not answered yet, say).
//!
//! Three tests stay on real sockets, being about what the kit's in-memory
//! network (UDP only, no listener of its own) does not have:
//! - `a_tcp_target_refusing_connections_fails_at_once`: a TCP connection
//!   refused by the target (a transport error, §16.9);
//! - `serve_with_returns_on_shutdown`: `proxy::serve_with` binds real
//!   listeners and returns on shutdown;
//! - `bind_refuses_an_empty_target_list` opens no socket, but checks
//!   `proxy::bind` itself (and `proxy::server`).
//!
//! A callee's To tag is checked against the one the proxy echoes back to
//! it (in its ACK of a failure, or in the caller's ACK and BYE); in the
//! fork, the callees answer with tags of their choosing (`a`, `b`).

mod common;

use examples::proxy::{self, ProxyOptions};
use parrot::message::{HeaderName, Message, Method, Request, Response, StatusCode, Uri};
use parrot::testing::{Call, CallBuilder, Failure, Kit, Peer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// How long a test waits to be sure a message does not come (virtual
/// time; longer than any retransmission interval that matters here).
const QUIET: Duration = Duration::from_secs(2);

/// The address of the kit's `n`th peer after `alice` (192.0.2.11:5060,
/// .12...), known before the kit starts so that the proxy's targets can
/// name it.
fn peer_addr(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10 + n], 5060))
}

/// A target with no user part: `sip:192.0.2.11:5060`.
fn target(addr: SocketAddr) -> Uri {
    format!("sip:{addr}").parse().unwrap()
}

/// The proxy's Record-Route.
fn record_route() -> String {
    format!("<sip:{};lr>", Kit::SERVER)
}

/// The proxy on the kit.
async fn start(options: ProxyOptions) -> Kit {
    Kit::start(proxy::server(options).expect("a target")).await
}

/// The proxy sending to one callee, `bob`.
async fn one_callee(record_route: bool) -> (Kit, Peer) {
    let kit = start(ProxyOptions {
        targets: vec![target(peer_addr(1))],
        record_route,
    })
    .await;
    let bob = kit.peer("bob");
    assert_eq!(bob.addr(), peer_addr(1));
    (kit, bob)
}

/// The proxy forking to two callees, `a` and `b`.
async fn two_callees() -> (Kit, Peer, Peer) {
    let kit = start(ProxyOptions::fork([
        target(peer_addr(1)),
        target(peer_addr(2)),
    ]))
    .await;
    let a = kit.peer("a");
    let b = kit.peer("b");
    assert_eq!((a.addr(), b.addr()), (peer_addr(1), peer_addr(2)));
    (kit, a, b)
}

/// An INVITE from alice; as SIPp's uac does, the Request-URI names the
/// proxy.
fn invite(kit: &Kit) -> CallBuilder {
    kit.invite(&format!("sip:service@{}", Kit::SERVER))
        .sdp(&common::offer("0 8", "", ""))
}

/// The ACK (or BYE, …) the caller sends to the proxy with no Route, as
/// SIPp's built-in uac does: the INVITE's Request-URI, From, To with the
/// callee's `tag`, Call-ID; a new branch.
async fn without_route(
    peer: &Peer,
    invite: &Request,
    tag: &str,
    method: Method,
    cseq: u32,
) -> Result<(), Failure> {
    let header = |name| invite.headers.get(name).expect("in the INVITE").to_string();
    peer.request(method.clone(), &invite.uri.to_string())
        .header("From", &header(HeaderName::From))
        .header("To", &format!("{};tag={tag}", header(HeaderName::To)))
        .header("Call-ID", &header(HeaderName::CallId))
        .header("CSeq", &format!("{cseq} {method}"))
        .send()
        .await
        .map(drop)
}

/// The INVITE a call sent, as sent.
fn sent(call: &Call) -> Request {
    call.last_request().cloned().expect("a request sent")
}

/// Where the last request with `method` that `peer` received came from.
fn source(peer: &Peer, method: Method) -> SocketAddr {
    peer.received()
        .iter()
        .rev()
        .find(|r| matches!(&r.message, Message::Request(q) if q.method == method))
        .expect("a request received")
        .from
}

fn header(req: &Request, name: HeaderName) -> Option<String> {
    req.headers.get(name).map(|v| v.to_string())
}

fn branch(req: &Request) -> String {
    req.headers
        .top_via()
        .and_then(|v| v.branch().map(str::to_owned))
        .expect("a branch")
}

/// The To tag of a response.
fn to_tag(resp: &Response) -> String {
    resp.headers.to_tag().expect("a To tag").to_string()
}

/// The To tag of a request (the callee's, in the proxy's ACK).
fn request_tag(req: &Request) -> String {
    req.headers.to_tag().expect("a To tag").to_string()
}

/// Every value of header `name` (list headers split at commas).
fn values(resp: &Response, name: &str) -> Vec<String> {
    resp.headers.values(name).map(str::to_owned).collect()
}

/// The next message `peer` receives, which must be a response.
async fn next_response(peer: &Peer) -> Result<Response, Failure> {
    let got = peer.next().await?;
    match got.message {
        Message::Response(r) => Ok(r),
        Message::Request(q) => panic!("expected a response, got {q:?}\n{}", peer.ladder()),
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_flows_through_the_proxy() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let alice = kit.alice();
    let mut call = invite(&kit).header("Max-Forwards", "10").send().await?;
    let inv = sent(&call);

    // The callee gets the INVITE: our Via on top, Max-Forwards
    // decremented, a Record-Route, the Request-URI retargeted (keeping the
    // user), the body untouched.
    let req = bob.expect_request(Method::Invite).await?;
    assert_eq!(
        source(&bob, Method::Invite),
        Kit::SERVER,
        "the proxy sends from its listening address"
    );
    assert_eq!(req.uri.to_string(), format!("sip:service@{}", bob.addr()));
    let vias = req.headers.values(HeaderName::Via).collect::<Vec<_>>();
    assert_eq!(vias.len(), 2, "{vias:?}");
    assert!(
        vias[0].starts_with(&format!("SIP/2.0/UDP {};branch=z9hG4bK", Kit::SERVER)),
        "{vias:?}"
    );
    assert!(vias[1].contains(&alice.addr().to_string()), "{vias:?}");
    assert_eq!(header(&req, HeaderName::MaxForwards).as_deref(), Some("9"));
    assert_eq!(header(&req, HeaderName::RecordRoute), Some(record_route()));
    assert!(req.body.starts_with(b"v=0"), "the SDP offer is relayed");

    // 180 and 200 come back with only the caller's Via and the callee's
    // tag.
    bob.reply(&req, 180).send().await?;
    let ringing = call.expect(180).await?;
    assert_eq!(values(&ringing, "Via").len(), 1);
    assert!(values(&ringing, "Via")[0].contains(&alice.addr().to_string()));
    let tag = to_tag(&ringing);
    bob.reply(&req, 200).send().await?;
    let ok = call.expect(200).await?;
    assert_eq!(values(&ok, "Via").len(), 1);
    assert_eq!(to_tag(&ok), tag);
    assert_eq!(
        values(&ok, "Contact"),
        vec![format!("<{}>", bob.uri())],
        "the callee's Contact is relayed unchanged"
    );
    assert_eq!(values(&ok, "Record-Route"), vec![record_route()]);

    // The ACK, sent to the proxy without a Route, goes to the callee's
    // Contact: a new transaction of the caller's, forwarded statelessly
    // (§16.11) with our Via on top.
    without_route(alice, &inv, &tag, Method::Ack, 1).await?;
    let ack = bob.expect_request(Method::Ack).await?;
    assert_eq!(source(&bob, Method::Ack), Kit::SERVER);
    assert_eq!(ack.uri.to_string(), bob.uri());
    assert_eq!(ack.headers.values(HeaderName::Via).count(), 2);
    assert_eq!(request_tag(&ack), tag);
    assert!(!ack.headers.contains(HeaderName::RecordRoute));

    // The BYE too; its 200 comes back to the caller.
    without_route(alice, &inv, &tag, Method::Bye, 2).await?;
    let bye_in = bob.expect_request(Method::Bye).await?;
    assert_eq!(bye_in.uri.to_string(), bob.uri());
    assert_eq!(bye_in.headers.values(HeaderName::Via).count(), 2);
    assert_eq!(
        header(&bye_in, HeaderName::MaxForwards).as_deref(),
        Some("69")
    );
    bob.reply(&bye_in, 200).send().await?;
    let bye_ok = call.expect(200).await?;
    let cseq = bye_ok.headers.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (2, Method::Bye));
    assert_eq!(values(&bye_ok, "Via").len(), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn requests_with_our_route_are_loose_routed_both_ways() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let alice = kit.alice();
    let mut call = invite(&kit).send().await?;
    let inv = sent(&call);
    let req = bob.expect_request(Method::Invite).await?;
    bob.reply(&req, 200).send().await?;
    let ok = call.expect(200).await?;
    let tag = to_tag(&ok);

    // The caller follows the route set: Request-URI = the callee's
    // Contact, Route = the proxy.
    call.ack().await?;
    let sent_ack = call.last_request().expect("the ACK");
    assert_eq!(header(sent_ack, HeaderName::Route), Some(record_route()));
    let ack_in = bob.expect_request(Method::Ack).await?;
    assert_eq!(source(&bob, Method::Ack), Kit::SERVER);
    assert_eq!(ack_in.uri.to_string(), bob.uri());
    assert!(
        !ack_in.headers.contains(HeaderName::Route),
        "the proxy removes its own Route entry"
    );

    // The callee hangs up through the proxy: its BYE is loose-routed to
    // the caller's Contact; the caller's 200 goes back the same way.
    let to = inv.headers.get(HeaderName::To).unwrap();
    let from = inv.headers.get(HeaderName::From).unwrap();
    let bye = bob
        .request(Method::Bye, &alice.uri())
        .header("Route", &record_route())
        .header("From", &format!("{to};tag={tag}"))
        .header("To", from)
        .header("Call-ID", call.call_id())
        .header("CSeq", "1 BYE")
        .send()
        .await?;
    let bye_branch = branch(&sent(&bye));
    let bye_in = call.expect_request(Method::Bye).await?;
    assert_eq!(bye_in.uri.to_string(), alice.uri());
    assert_eq!(bye_in.headers.values(HeaderName::Via).count(), 2);
    assert!(!bye_in.headers.contains(HeaderName::Route));
    call.reply(&bye_in, 200).await?;
    let ok = next_response(&bob).await?;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.values(HeaderName::Via).count(), 1);
    assert!(
        ok.headers
            .values(HeaderName::Via)
            .next()
            .unwrap()
            .contains(&bye_branch)
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn no_record_route_adds_none_and_still_forwards_the_ack_and_bye() -> Result<(), Failure> {
    let (kit, bob) = one_callee(false).await;
    let alice = kit.alice();
    let mut call = invite(&kit).send().await?;
    let inv = sent(&call);
    let req = bob.expect_request(Method::Invite).await?;
    assert!(!req.headers.contains(HeaderName::RecordRoute));
    bob.reply(&req, 200).send().await?;
    let ok = call.expect(200).await?;
    assert!(values(&ok, "Record-Route").is_empty());
    let tag = to_tag(&ok);
    without_route(alice, &inv, &tag, Method::Ack, 1).await?;
    bob.expect_request(Method::Ack).await?;
    assert_eq!(source(&bob, Method::Ack), Kit::SERVER);
    without_route(alice, &inv, &tag, Method::Bye, 2).await?;
    let bye = bob.expect_request(Method::Bye).await?;
    assert_eq!(source(&bob, Method::Bye), Kit::SERVER);
    bob.reply(&bye, 200).send().await?;
    call.expect(200).await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_486_is_relayed_and_acked_hop_by_hop() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let alice = kit.alice();
    let mut call = invite(&kit).send().await?;
    let inv = sent(&call);
    let req = bob.expect_request(Method::Invite).await?;
    bob.reply(&req, 486).send().await?;
    // The proxy's client transaction ACKs the 486 itself, on its branch
    // (§17.1.1.3), with the callee's tag.
    let ack = bob.expect_request(Method::Ack).await?;
    assert_eq!(branch(&ack), branch(&req));
    let tag = request_tag(&ack);
    // The caller gets the 486 (with the callee's tag and only its Via).
    let busy = call.expect(486).await?;
    assert_eq!(to_tag(&busy), tag);
    assert_eq!(values(&busy, "Via").len(), 1);
    // The caller's ACK for it (the kit's peer sends it, on the INVITE's
    // branch) ends at the proxy's server transaction.
    bob.expect_silence(QUIET).await?;
    let acks: Vec<_> = kit
        .flow()
        .entries()
        .iter()
        .filter(|e| e.label.starts_with("ACK") && e.source == alice.addr())
        .map(|e| e.branch.clone())
        .collect();
    assert_eq!(acks, [Some(branch(&inv))], "{}", kit.ladder());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn max_forwards_0_gets_483_and_nothing_is_forwarded() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    invite(&kit)
        .header("Max-Forwards", "0")
        .send()
        .await?
        .expect(483)
        .await?;
    // The kit's peer ACKs the 483 (on the INVITE's branch, with the To as
    // received, §17.1.1.3): nothing reaches the callee.
    bob.expect_silence(QUIET).await?;

    // Max-Forwards: 1 is still forwarded, with 0.
    let mut call = invite(&kit).header("Max-Forwards", "1").send().await?;
    let req = bob.expect_request(Method::Invite).await?;
    assert_eq!(header(&req, HeaderName::MaxForwards).as_deref(), Some("0"));
    bob.reply(&req, 603).send().await?;
    call.expect(603).await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_fork_takes_the_first_200_and_cancels_the_ringing_branch() -> Result<(), Failure> {
    let (kit, a, b) = two_callees().await;
    let mut call = invite(&kit).send().await?;
    let inv_a = a.expect_request(Method::Invite).await?;
    let inv_b = b.expect_request(Method::Invite).await?;
    assert_eq!(inv_a.uri.to_string(), format!("sip:service@{}", a.addr()));
    assert_eq!(inv_b.uri.to_string(), format!("sip:service@{}", b.addr()));
    assert_ne!(branch(&inv_a), branch(&inv_b), "one branch per target");

    // Both ring; both 180s reach the caller, each with its callee's tag.
    b.reply(&inv_b, 180).tag("b").send().await?;
    a.reply(&inv_a, 180).tag("a").send().await?;
    let first = call.expect(180).await?;
    let second = call.expect(180).await?;
    assert_eq!([to_tag(&first), to_tag(&second)], ["b", "a"], "in order");
    let mut contacts = vec![values(&first, "Contact"), values(&second, "Contact")];
    contacts.sort();
    assert_eq!(
        contacts,
        [
            vec![format!("<{}>", a.uri())],
            vec![format!("<{}>", b.uri())]
        ]
    );

    // A answers: the caller gets its 200, B gets a CANCEL for its INVITE.
    a.reply(&inv_a, 200).send().await?;
    let ok = call.expect(200).await?;
    assert_eq!(to_tag(&ok), "a");
    assert_eq!(values(&ok, "Contact"), vec![format!("<{}>", a.uri())]);
    let cancel = b.expect_request(Method::Cancel).await?;
    assert_eq!(
        branch(&cancel),
        branch(&inv_b),
        "the INVITE's branch (§9.1)"
    );
    assert_eq!(cancel.uri, inv_b.uri);
    assert_eq!(
        cancel.headers.cseq().unwrap().seq,
        inv_b.headers.cseq().unwrap().seq
    );
    assert_eq!(cancel.headers.values(HeaderName::Via).count(), 1);
    b.reply(&cancel, 200).send().await?;
    b.reply(&inv_b, 487).send().await?;
    // The 487 is ACKed by the proxy and never reaches the caller (only
    // A's 200 again might: expectations pass over retransmissions).
    let ack = b.expect_request(Method::Ack).await?;
    assert_eq!(branch(&ack), branch(&inv_b));
    kit.alice().expect_silence(QUIET).await?;
    // A is not cancelled.
    a.expect_silence(QUIET).await
}

#[tokio::test(start_paused = true)]
async fn a_fork_cancels_a_silent_branch_once_it_rings() -> Result<(), Failure> {
    let (kit, a, b) = two_callees().await;
    let mut call = invite(&kit).send().await?;
    let inv_a = a.expect_request(Method::Invite).await?;
    let inv_b = b.expect_request(Method::Invite).await?;
    a.reply(&inv_a, 200).send().await?;
    call.expect(200).await?;
    // B has sent nothing: no CANCEL before its first provisional (§9.1).
    b.expect_silence(Duration::from_millis(300)).await?;
    b.reply(&inv_b, 100).send().await?;
    let cancel = b.expect_request(Method::Cancel).await?;
    assert_eq!(branch(&cancel), branch(&inv_b));
    b.reply(&cancel, 200).send().await?;
    b.reply(&inv_b, 487).send().await?;
    b.expect_request(Method::Ack).await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_6xx_ends_the_fork() -> Result<(), Failure> {
    let (kit, a, b) = two_callees().await;
    let mut call = invite(&kit).send().await?;
    let inv_a = a.expect_request(Method::Invite).await?;
    let inv_b = b.expect_request(Method::Invite).await?;
    a.reply(&inv_a, 180).send().await?;
    call.expect(180).await?;
    // B declines everywhere: A is cancelled, and the 603 is the answer
    // although A's 487 is of a lower class (§16.7 step 6).
    b.reply(&inv_b, 603).send().await?;
    let b_tag = request_tag(&b.expect_request(Method::Ack).await?);
    let cancel = a.expect_request(Method::Cancel).await?;
    assert_eq!(branch(&cancel), branch(&inv_a));
    a.reply(&cancel, 200).send().await?;
    a.reply(&inv_a, 487).send().await?;
    let r = call.expect(603).await?;
    assert_eq!(to_tag(&r), b_tag);
    assert_eq!(values(&r, "Via").len(), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_best_of_several_failures_is_sent() -> Result<(), Failure> {
    let (kit, a, b) = two_callees().await;
    let mut call = invite(&kit).send().await?;
    let inv_a = a.expect_request(Method::Invite).await?;
    let inv_b = b.expect_request(Method::Invite).await?;
    a.reply(&inv_a, 500).send().await?;
    b.reply(&inv_b, 486).send().await?;
    let b_tag = request_tag(&b.expect_request(Method::Ack).await?);
    // 4xx beats 5xx.
    let r = call.expect(486).await?;
    assert_eq!(to_tag(&r), b_tag);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_cancel_from_the_caller_reaches_the_callee() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let mut call = invite(&kit).send().await?;
    let req = bob.expect_request(Method::Invite).await?;
    bob.reply(&req, 180).send().await?;
    call.expect(180).await?;
    call.cancel().await?;
    // The caller: 200 for the CANCEL and 487 for the INVITE, from the
    // proxy's transaction layer.
    let mut got = Vec::new();
    for _ in 0..2 {
        let r = call.expect_final().await?;
        got.push((r.status.as_u16(), r.headers.cseq().unwrap().method));
    }
    got.sort_by_key(|g| g.0);
    assert_eq!(got, [(200, Method::Cancel), (487, Method::Invite)]);
    // The callee: a CANCEL of the proxy's own on its branch.
    let cancel = bob.expect_request(Method::Cancel).await?;
    assert_eq!(branch(&cancel), branch(&req));
    bob.reply(&cancel, 200).send().await?;
    bob.reply(&req, 487).send().await?;
    bob.expect_request(Method::Ack).await?;
    // The caller's ACK for its 487 (the kit's peer sends it) stops at the
    // proxy; no second final (a 487 retransmission is passed over).
    bob.expect_silence(QUIET).await?;
    kit.alice().expect_silence(QUIET).await
}

#[tokio::test(start_paused = true)]
async fn timer_c_cancels_a_branch_that_rings_for_ever() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let mut call = invite(&kit).send().await?;
    let req = bob.expect_request(Method::Invite).await?;
    bob.reply(&req, 180).send().await?;
    let rang = Instant::now();
    call.expect(180).await?;
    bob.set_timeout(Duration::from_secs(300));
    let cancel = bob.expect_request(Method::Cancel).await?;
    let waited = rang.elapsed();
    assert!(
        waited >= Duration::from_secs(180) && waited < Duration::from_secs(200),
        "Timer C is 3 minutes (§16.6 step 11), waited {waited:?}"
    );
    bob.reply(&cancel, 200).send().await?;
    bob.reply(&req, 487).send().await?;
    call.expect(487).await?;
    Ok(())
}

/// An address nobody is bound to on the kit's network: what is sent
/// there is lost, as to a host that never answers (and no ICMP).
fn nowhere() -> Uri {
    target(SocketAddr::from(([192, 0, 2, 99], 5060)))
}

#[tokio::test(start_paused = true)]
async fn a_target_that_never_answers_gives_408() -> Result<(), Failure> {
    let kit = start(ProxyOptions::to(nowhere())).await;
    kit.alice().set_timeout(Duration::from_secs(60));
    let started = Instant::now();
    let mut call = invite(&kit).send().await?;
    call.expect(408).await?;
    assert!(
        started.elapsed() >= Duration::from_secs(32),
        "after Timer B (64*T1), got it after {:?}",
        started.elapsed()
    );
    Ok(())
}

/// On real sockets: a TCP connection refused.
#[tokio::test]
async fn a_tcp_target_refusing_connections_fails_at_once() {
    // A port that was free a moment ago: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let target: Uri = format!("sip:127.0.0.1:{port};transport=tcp")
        .parse()
        .unwrap();
    let server = proxy::bind(common::any_port(), ProxyOptions::to(target))
        .await
        .expect("bind");
    let addr = common::udp_addr(&server);
    common::run(server);
    let uac = common::Peer::new(addr).await;
    let mut inv = common::Req::new("INVITE", "p-tcp-refused")
        .body("application/sdp", &common::offer("0 8", "", ""));
    inv.uri = format!("sip:service@{addr}");
    let r = uac.ask(&inv).await;
    // §16.9: a transport error counts as a 503; §16.7 step 6: a lone 503
    // is sent upstream as 500.
    assert!(
        matches!(r.status.as_u16(), 500 | 503),
        "got {} {}",
        r.status,
        r.reason
    );
}

#[tokio::test(start_paused = true)]
async fn message_is_proxied_and_options_answered_locally() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let mut msg = kit
        .request(Method::Message, "sip:bob@example.com")
        .body("text/plain", "hello")
        .send()
        .await?;
    let req = bob.expect_request(Method::Message).await?;
    assert_eq!(req.uri.to_string(), format!("sip:bob@{}", bob.addr()));
    assert_eq!(&req.body[..], b"hello");
    bob.reply(&req, 202).send().await?;
    let r = msg.expect(202).await?;
    assert_eq!(values(&r, "Via").len(), 1);

    let r = kit
        .request(Method::Options, &format!("sip:{}", Kit::SERVER.ip()))
        .send()
        .await?
        .expect(200)
        .await?;
    let allow = values(&r, "Allow");
    for m in ["INVITE", "ACK", "BYE", "CANCEL", "MESSAGE", "OPTIONS"] {
        assert!(allow.iter().any(|a| a == m), "{allow:?}");
    }
    // OPTIONS is not proxied.
    bob.expect_silence(QUIET).await
}

#[tokio::test(start_paused = true)]
async fn options_for_a_user_is_proxied_but_not_past_max_forwards_0() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    // RFC 3261 §11: for the user, so the user answers.
    let mut options = kit
        .request(Method::Options, "sip:bob@example.com")
        .send()
        .await?;
    let req = bob.expect_request(Method::Options).await?;
    bob.reply(&req, 200).send().await?;
    let r = options.expect(200).await?;
    assert_eq!(values(&r, "Via").len(), 1);
    // §16.3 step 3: Max-Forwards 0 makes the proxy the final recipient.
    let r = kit
        .request(Method::Options, "sip:bob@example.com")
        .header("Max-Forwards", "0")
        .send()
        .await?
        .expect(200)
        .await?;
    assert!(!values(&r, "Allow").is_empty());
    // Not forwarded with Max-Forwards 0.
    bob.expect_silence(QUIET).await?;
    // Any other method still gets 483.
    kit.request(Method::Message, "sip:bob@example.com")
        .header("Max-Forwards", "0")
        .send()
        .await?
        .expect(483)
        .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_request_that_loops_back_gets_482() -> Result<(), Failure> {
    // The proxy's target is the proxy itself: the forwarded copy comes
    // back with the same Request-URI, tags, Call-ID and CSeq (§16.3 step 4).
    let kit = start(ProxyOptions::to(target(Kit::SERVER))).await;
    invite(&kit).send().await?.expect(482).await?;
    Ok(())
}

/// No socket is opened: the targets are refused first.
#[tokio::test]
async fn bind_refuses_an_empty_target_list() {
    let empty = ProxyOptions {
        targets: Vec::new(),
        record_route: true,
    };
    assert!(proxy::server(empty.clone()).is_err());
    let err = proxy::bind(common::any_port(), empty).await;
    assert!(err.is_err());
}

/// On real sockets: `serve_with` binds real listeners.
#[tokio::test]
async fn serve_with_returns_on_shutdown() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let options = ProxyOptions::to("sip:127.0.0.1:9".parse().unwrap());
    let server = tokio::spawn(proxy::serve_with(
        common::any_port(),
        async {
            let _ = rx.await;
        },
        options,
    ));
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve_with returns")
        .unwrap()
        .expect("Ok");
}

/// §16.7 step 1: a response matching no client transaction is forwarded
/// as a stateless proxy would. The callee retransmits its 2xx until the
/// ACK arrives (§13.3.1.4); those retransmissions must reach the caller,
/// or a lost 200 on the caller's side is never repaired.
#[tokio::test(start_paused = true)]
async fn a_2xx_retransmission_from_the_callee_reaches_the_caller() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let mut call = invite(&kit).send().await?;
    let req = bob.expect_request(Method::Invite).await?;
    bob.reply(&req, 200).send().await?;
    let ok = call.expect(200).await?;
    // No ACK yet: the callee sends its 200 again (the same bytes).
    bob.reply(&req, 200).send().await?;
    let again = next_response(kit.alice()).await?;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(to_tag(&again), to_tag(&ok));
    assert_eq!(values(&again, "Via").len(), 1);
    Ok(())
}

/// RFC 6026 §8.2 / §16.7 step 5: every 2xx retransmission goes upstream,
/// also when the 2xx lacks what the proxy needs to keep the dialog (here
/// a Contact, which the kit's replies always have: this one is sent raw).
#[tokio::test(start_paused = true)]
async fn a_2xx_without_contact_is_relayed_with_its_retransmissions() -> Result<(), Failure> {
    let (kit, bob) = one_callee(true).await;
    let mut call = invite(&kit).send().await?;
    let req = bob.expect_request(Method::Invite).await?;
    let mut ok = req.reply(StatusCode::OK);
    let to_value = req.headers.get(HeaderName::To).expect("a To").to_string();
    ok.headers
        .set(HeaderName::To, format!("{to_value};tag=bob"));
    bob.send_raw(ok.to_bytes()).await?;
    let relayed = call.expect(200).await?;
    assert!(!relayed.headers.contains(HeaderName::Contact));
    for _ in 0..2 {
        bob.send_raw(ok.to_bytes()).await?;
        let again = next_response(kit.alice()).await?;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(to_tag(&again), "bob");
        assert_eq!(values(&again, "Via").len(), 1);
    }
    Ok(())
}

/// A final response the proxy makes itself (483, 482, 408, or 500 for an
/// unreachable target) is a UAS's response: it needs a To tag (§8.2.6.2).
#[tokio::test(start_paused = true)]
async fn the_proxys_own_final_responses_carry_a_to_tag() -> Result<(), Failure> {
    let kit = start(ProxyOptions::to(nowhere())).await;
    let r = invite(&kit)
        .header("Max-Forwards", "0")
        .send()
        .await?
        .expect(483)
        .await?;
    assert!(r.headers.to_tag().is_some(), "483 without a To tag");
    // Timer B (64*T1 = 32 s) ends the silent branch.
    kit.alice().set_timeout(Duration::from_secs(40));
    let r = invite(&kit).send().await?.expect(408).await?;
    assert!(r.headers.to_tag().is_some(), "408 without a To tag");
    Ok(())
}
