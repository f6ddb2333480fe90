//! The `proxy` example over loopback UDP, with raw sockets as the caller
//! (a [`Peer`]) and as the callees ([`Uas`]): what the proxy adds to and
//! removes from each message, and the runtime's proxy behaviour behind the
//! example's one-line decision (RFC 3261 §16).
//!
//! The tests run on a paused clock: a wait for a message that is not sent
//! jumps ahead in virtual time instead of sleeping, and timers (Timer B,
//! Timer C) fire at once. The proxy's INVITE retransmissions to a callee
//! that has not answered yet are skipped by [`Uas::request`].

mod common;

use bytes::Bytes;
use common::{Peer, Req, offer, to_tag, values};
use examples::proxy::{self, ProxyOptions};
use parrot::message::{HeaderName, Message, Request, Response, StatusCode, Uri, parse_datagram};
use parrot::transport::Protocol;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

/// How long a test waits for a message it expects (virtual time).
const WAIT: Duration = Duration::from_secs(20);

/// How long a test waits to be sure a message does not come (virtual
/// time; longer than any retransmission interval that matters here).
const QUIET: Duration = Duration::from_secs(2);

/// Starts the proxy on a loopback port picked by the OS; returns its UDP
/// address.
async fn start(options: ProxyOptions) -> SocketAddr {
    let server = proxy::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap(), options)
        .await
        .expect("bind");
    let addr = server.local_addr(Protocol::Udp).expect("a UDP listener");
    tokio::spawn(server.serve().into_future());
    addr
}

/// A callee: one UDP socket answering what the proxy sends it.
struct Uas {
    sock: UdpSocket,
    tag: String,
    /// (method, top Via branch) of the requests already returned, to skip
    /// the proxy's retransmissions.
    seen: HashSet<(String, String)>,
}

impl Uas {
    async fn new(tag: &str) -> Uas {
        Uas {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            tag: tag.into(),
            seen: HashSet::new(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// Where the proxy should send: `sip:127.0.0.1:PORT`.
    fn target(&self) -> Uri {
        format!("sip:{}", self.addr()).parse().unwrap()
    }

    /// Our Contact URI.
    fn contact(&self) -> String {
        format!("sip:{}@{}", self.tag, self.addr())
    }

    async fn recv_within(&self, wait: Duration) -> Option<(Message, SocketAddr)> {
        let mut buf = vec![0u8; 65535];
        let (n, from) = timeout(wait, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        let msg =
            parse_datagram(Bytes::copy_from_slice(&buf[..n])).expect("the proxy's message parses");
        Some((msg, from))
    }

    /// The next new request (retransmissions and responses skipped)
    /// within `wait`, and where it came from.
    async fn request_within(&mut self, wait: Duration) -> Option<(Request, SocketAddr)> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (msg, from) = self.recv_within(left).await?;
            let Message::Request(req) = msg else { continue };
            let branch = req
                .headers
                .top_via()
                .and_then(|v| v.branch().map(str::to_owned))
                .unwrap_or_default();
            if self.seen.insert((req.method.to_string(), branch)) {
                return Some((req, from));
            }
        }
    }

    async fn request(&mut self) -> (Request, SocketAddr) {
        self.request_within(WAIT)
            .await
            .expect("a request from the proxy in time")
    }

    /// Answers `req` (from `to`) with `status`: our To tag, and for a
    /// 1xx/2xx to an INVITE our Contact and its Record-Route (§12.1.1).
    async fn respond(&self, req: &Request, to: SocketAddr, status: StatusCode) -> Response {
        let mut resp = req.reply(status);
        if req.headers.to_tag().is_none() && status != StatusCode::TRYING {
            let to_value = req.headers.get(HeaderName::To).expect("a To").to_string();
            resp.headers
                .set(HeaderName::To, format!("{to_value};tag={}", self.tag));
        }
        if req.method.as_str() == "INVITE" && status.as_u16() < 300 && status != StatusCode::TRYING
        {
            resp.headers
                .append(HeaderName::Contact, format!("<{}>", self.contact()));
            for rr in req.headers.get_all(HeaderName::RecordRoute) {
                resp.headers.push(rr.clone());
            }
        }
        self.sock.send_to(&resp.to_bytes(), to).await.unwrap();
        resp
    }

    async fn send_raw(&self, text: &str, to: SocketAddr) {
        self.sock.send_to(text.as_bytes(), to).await.unwrap();
    }
}

fn invite(call: &str, proxy: SocketAddr) -> Req {
    let mut r = Req::new("INVITE", call).body("application/sdp", &offer("0 8", "", ""));
    // As SIPp's uac does: the Request-URI names the proxy.
    r.uri = format!("sip:service@{proxy}");
    r
}

/// The ACK (or BYE, …) the caller sends to the proxy with no Route, as
/// SIPp's built-in uac does: new branch, the callee's To tag.
fn in_dialog(method: &'static str, invite: &Req, tag: &str, cseq: u32) -> Req {
    invite
        .clone()
        .method(method)
        .no_body()
        .tagged(tag)
        .cseq(cseq)
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

/// The next response the caller gets, within `wait`.
async fn response_within(p: &Peer, wait: Duration) -> Option<Response> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Message::Response(r) = p.recv_within(left).await? {
            return Some(r);
        }
    }
}

/// The next response other than 100 Trying.
async fn relayed(p: &Peer) -> Response {
    loop {
        let r = p.response().await;
        if r.status != StatusCode::TRYING {
            return r;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_flows_through_the_proxy() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    let inv = invite("p-call", proxy);
    let text = uac
        .render(&inv)
        .replacen("Max-Forwards: 70", "Max-Forwards: 10", 1);
    uac.send_raw(&text).await;

    // The callee gets the INVITE: our Via on top, Max-Forwards
    // decremented, a Record-Route, the Request-URI retargeted (keeping the
    // user), the body untouched.
    let (req, from) = uas.request().await;
    assert_eq!(from, proxy, "the proxy sends from its listening port");
    assert_eq!(req.method.as_str(), "INVITE");
    assert_eq!(req.uri.to_string(), format!("sip:service@{}", uas.addr()));
    let vias = req.headers.values(HeaderName::Via).collect::<Vec<_>>();
    assert_eq!(vias.len(), 2, "{vias:?}");
    assert!(
        vias[0].starts_with(&format!("SIP/2.0/UDP {proxy};branch=z9hG4bK")),
        "{vias:?}"
    );
    assert!(vias[1].contains(&uac.local().to_string()), "{vias:?}");
    assert_eq!(header(&req, HeaderName::MaxForwards).as_deref(), Some("9"));
    assert_eq!(
        header(&req, HeaderName::RecordRoute).as_deref(),
        Some(format!("<sip:{proxy};lr>").as_str())
    );
    assert!(req.body.starts_with(b"v=0"), "the SDP offer is relayed");

    // 180 and 200 come back with only the caller's Via.
    uas.respond(&req, from, StatusCode::RINGING).await;
    let ringing = relayed(&uac).await;
    assert_eq!(ringing.status, StatusCode::RINGING);
    assert_eq!(values(&ringing, "Via").len(), 1);
    assert!(values(&ringing, "Via")[0].contains(&uac.local().to_string()));
    assert_eq!(to_tag(&ringing), "bob");
    uas.respond(&req, from, StatusCode::OK).await;
    let ok = relayed(&uac).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(values(&ok, "Via").len(), 1);
    assert_eq!(to_tag(&ok), "bob");
    assert_eq!(
        values(&ok, "Contact"),
        vec![format!("<{}>", uas.contact())],
        "the callee's Contact is relayed unchanged"
    );
    assert_eq!(
        values(&ok, "Record-Route"),
        vec![format!("<sip:{proxy};lr>")]
    );

    // The ACK, sent to the proxy without a Route, goes to the callee's
    // Contact: a new transaction of the caller's, forwarded statelessly
    // (§16.11) with our Via on top.
    uac.send(&in_dialog("ACK", &inv, "bob", 1)).await;
    let (ack, from) = uas.request().await;
    assert_eq!(from, proxy);
    assert_eq!(ack.method.as_str(), "ACK");
    assert_eq!(ack.uri.to_string(), uas.contact());
    assert_eq!(ack.headers.values(HeaderName::Via).count(), 2);
    assert_eq!(ack.headers.to_tag().as_deref(), Some("bob"));
    assert!(!ack.headers.contains(HeaderName::RecordRoute));

    // The BYE too; its 200 comes back to the caller.
    let bye = in_dialog("BYE", &inv, "bob", 2);
    uac.send(&bye).await;
    let (bye_in, from) = uas.request().await;
    assert_eq!(bye_in.method.as_str(), "BYE");
    assert_eq!(bye_in.uri.to_string(), uas.contact());
    assert_eq!(bye_in.headers.values(HeaderName::Via).count(), 2);
    assert_eq!(
        header(&bye_in, HeaderName::MaxForwards).as_deref(),
        Some("69")
    );
    uas.respond(&bye_in, from, StatusCode::OK).await;
    let bye_ok = uac.final_response().await;
    assert_eq!(bye_ok.status, StatusCode::OK);
    assert_eq!(bye_ok.headers.cseq().unwrap().seq, 2);
    assert_eq!(values(&bye_ok, "Via").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn requests_with_our_route_are_loose_routed_both_ways() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    let inv = invite("p-route", proxy);
    uac.send(&inv).await;
    let (req, from) = uas.request().await;
    uas.respond(&req, from, StatusCode::OK).await;
    assert_eq!(relayed(&uac).await.status, StatusCode::OK);

    // The caller follows the route set: Request-URI = the callee's
    // Contact, Route = the proxy.
    let mut ack = in_dialog("ACK", &inv, "bob", 1).header("Route", &format!("<sip:{proxy};lr>"));
    ack.uri = uas.contact();
    uac.send(&ack).await;
    let (ack_in, _) = uas.request().await;
    assert_eq!(ack_in.method.as_str(), "ACK");
    assert_eq!(ack_in.uri.to_string(), uas.contact());
    assert!(
        !ack_in.headers.contains(HeaderName::Route),
        "the proxy removes its own Route entry"
    );

    // The callee hangs up through the proxy: its BYE is loose-routed to
    // the caller's Contact; the caller's 200 goes back the same way.
    let caller_contact = format!("sip:alice@{}", uac.local());
    let bye = format!(
        "BYE {caller_contact} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {uas};branch=z9hG4bKuasbye1\r\n\
         Route: <sip:{proxy};lr>\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:service@127.0.0.1>;tag=bob\r\n\
         To: <sip:alice@127.0.0.1>;tag=caller\r\n\
         Call-ID: p-route\r\n\
         CSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        uas = uas.addr()
    );
    uas.send_raw(&bye, proxy).await;
    let bye_in = uac.request().await;
    assert_eq!(bye_in.method.as_str(), "BYE");
    assert_eq!(bye_in.uri.to_string(), caller_contact);
    assert_eq!(bye_in.headers.values(HeaderName::Via).count(), 2);
    assert!(!bye_in.headers.contains(HeaderName::Route));
    uac.ok(&bye_in).await;
    let (msg, _) = uas.recv_within(WAIT).await.expect("the 200 for the BYE");
    let Message::Response(ok) = msg else {
        panic!("expected the 200 for the BYE, got {msg:?}")
    };
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.values(HeaderName::Via).count(), 1);
    assert!(
        ok.headers
            .values(HeaderName::Via)
            .next()
            .unwrap()
            .contains("z9hG4bKuasbye1")
    );
}

#[tokio::test(start_paused = true)]
async fn no_record_route_adds_none_and_still_forwards_the_ack_and_bye() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions {
        targets: vec![uas.target()],
        record_route: false,
    })
    .await;
    let uac = Peer::new(proxy).await;
    let inv = invite("p-norr", proxy);
    uac.send(&inv).await;
    let (req, from) = uas.request().await;
    assert!(!req.headers.contains(HeaderName::RecordRoute));
    uas.respond(&req, from, StatusCode::OK).await;
    let ok = relayed(&uac).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(values(&ok, "Record-Route").is_empty());
    uac.send(&in_dialog("ACK", &inv, "bob", 1)).await;
    assert_eq!(uas.request().await.0.method.as_str(), "ACK");
    uac.send(&in_dialog("BYE", &inv, "bob", 2)).await;
    let (bye, from) = uas.request().await;
    assert_eq!(bye.method.as_str(), "BYE");
    uas.respond(&bye, from, StatusCode::OK).await;
    assert_eq!(uac.final_response().await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_486_is_relayed_and_acked_hop_by_hop() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    let inv = invite("p-486", proxy).branch("z9hG4bKuac486");
    uac.send(&inv).await;
    let (req, from) = uas.request().await;
    uas.respond(&req, from, StatusCode::BUSY_HERE).await;
    // The proxy's client transaction ACKs the 486 itself, on its branch
    // (§17.1.1.3).
    let (ack, _) = uas.request().await;
    assert_eq!(ack.method.as_str(), "ACK");
    assert_eq!(branch(&ack), branch(&req));
    assert_eq!(ack.headers.to_tag().as_deref(), Some("bob"));
    // The caller gets the 486 (with the callee's tag and only its Via).
    let busy = uac.final_response().await;
    assert_eq!(busy.status, StatusCode::BUSY_HERE);
    assert_eq!(to_tag(&busy), "bob");
    assert_eq!(values(&busy, "Via").len(), 1);
    // The caller's ACK for it ends at the proxy's server transaction.
    uac.send(&in_dialog("ACK", &inv, "bob", 1).branch("z9hG4bKuac486"))
        .await;
    assert!(
        uas.request_within(QUIET).await.is_none(),
        "the ACK of a non-2xx is hop by hop"
    );
}

#[tokio::test(start_paused = true)]
async fn max_forwards_0_gets_483_and_nothing_is_forwarded() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    let inv = invite("p-483", proxy).branch("z9hG4bKmf0");
    let text = uac
        .render(&inv)
        .replacen("Max-Forwards: 70", "Max-Forwards: 0", 1);
    uac.send_raw(&text).await;
    let r = uac.final_response().await;
    assert_eq!(r.status, StatusCode::TOO_MANY_HOPS);
    // The ACK of a non-2xx reuses the INVITE's branch and its To header
    // as received (§17.1.1.3; the proxy's 483 carries no To tag).
    let mut ack = inv.clone().method("ACK").no_body();
    ack.to_tag = r.headers.to_tag().map(|t| t.to_string());
    uac.send(&ack).await;
    assert!(uas.request_within(QUIET).await.is_none());

    // Max-Forwards: 1 is still forwarded, with 0.
    let text =
        uac.render(&invite("p-mf1", proxy))
            .replacen("Max-Forwards: 70", "Max-Forwards: 1", 1);
    uac.send_raw(&text).await;
    let (req, from) = uas.request().await;
    assert_eq!(header(&req, HeaderName::MaxForwards).as_deref(), Some("0"));
    uas.respond(&req, from, StatusCode::DECLINE).await;
    assert_eq!(uac.final_response().await.status, StatusCode::DECLINE);
}

#[tokio::test(start_paused = true)]
async fn a_fork_takes_the_first_200_and_cancels_the_ringing_branch() {
    let mut a = Uas::new("a").await;
    let mut b = Uas::new("b").await;
    let proxy = start(ProxyOptions::fork([a.target(), b.target()])).await;
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-fork", proxy)).await;
    let (inv_a, from_a) = a.request().await;
    let (inv_b, from_b) = b.request().await;
    assert_eq!(inv_a.uri.to_string(), format!("sip:service@{}", a.addr()));
    assert_eq!(inv_b.uri.to_string(), format!("sip:service@{}", b.addr()));
    assert_ne!(branch(&inv_a), branch(&inv_b), "one branch per target");

    // Both ring; both 180s reach the caller.
    b.respond(&inv_b, from_b, StatusCode::RINGING).await;
    a.respond(&inv_a, from_a, StatusCode::RINGING).await;
    let mut tags = vec![to_tag(&relayed(&uac).await), to_tag(&relayed(&uac).await)];
    tags.sort();
    assert_eq!(tags, ["a", "b"]);

    // A answers: the caller gets its 200, B gets a CANCEL for its INVITE.
    a.respond(&inv_a, from_a, StatusCode::OK).await;
    let ok = relayed(&uac).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(to_tag(&ok), "a");
    let (cancel, from) = b.request().await;
    assert_eq!(cancel.method.as_str(), "CANCEL");
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
    b.respond(&cancel, from, StatusCode::OK).await;
    b.respond(&inv_b, from_b, StatusCode::REQUEST_TERMINATED)
        .await;
    // The 487 is ACKed by the proxy and never reaches the caller.
    let (ack, _) = b.request().await;
    assert_eq!(ack.method.as_str(), "ACK");
    assert_eq!(branch(&ack), branch(&inv_b));
    while let Some(r) = response_within(&uac, QUIET).await {
        assert!(
            r.status == StatusCode::OK && to_tag(&r) == "a",
            "only A's 200 (maybe again) may follow, got {} from {:?}",
            r.status,
            r.headers.to_tag()
        );
    }
    assert!(
        a.request_within(QUIET).await.is_none(),
        "A is not cancelled"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fork_cancels_a_silent_branch_once_it_rings() {
    let mut a = Uas::new("a").await;
    let mut b = Uas::new("b").await;
    let proxy = start(ProxyOptions::fork([a.target(), b.target()])).await;
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-fork-late", proxy)).await;
    let (inv_a, from_a) = a.request().await;
    let (inv_b, from_b) = b.request().await;
    a.respond(&inv_a, from_a, StatusCode::OK).await;
    assert_eq!(relayed(&uac).await.status, StatusCode::OK);
    // B has sent nothing: no CANCEL before its first provisional (§9.1).
    assert!(b.request_within(Duration::from_millis(300)).await.is_none());
    b.respond(&inv_b, from_b, StatusCode::TRYING).await;
    let (cancel, from) = b.request().await;
    assert_eq!(cancel.method.as_str(), "CANCEL");
    assert_eq!(branch(&cancel), branch(&inv_b));
    b.respond(&cancel, from, StatusCode::OK).await;
    b.respond(&inv_b, from_b, StatusCode::REQUEST_TERMINATED)
        .await;
    assert_eq!(b.request().await.0.method.as_str(), "ACK");
}

#[tokio::test(start_paused = true)]
async fn a_6xx_ends_the_fork() {
    let mut a = Uas::new("a").await;
    let mut b = Uas::new("b").await;
    let proxy = start(ProxyOptions::fork([a.target(), b.target()])).await;
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-6xx", proxy)).await;
    let (inv_a, from_a) = a.request().await;
    let (inv_b, from_b) = b.request().await;
    a.respond(&inv_a, from_a, StatusCode::RINGING).await;
    assert_eq!(relayed(&uac).await.status, StatusCode::RINGING);
    // B declines everywhere: A is cancelled, and the 603 is the answer
    // although A's 487 is of a lower class (§16.7 step 6).
    b.respond(&inv_b, from_b, StatusCode::DECLINE).await;
    let (cancel, from) = a.request().await;
    assert_eq!(cancel.method.as_str(), "CANCEL");
    assert_eq!(branch(&cancel), branch(&inv_a));
    a.respond(&cancel, from, StatusCode::OK).await;
    a.respond(&inv_a, from_a, StatusCode::REQUEST_TERMINATED)
        .await;
    let r = uac.final_response().await;
    assert_eq!(r.status, StatusCode::DECLINE);
    assert_eq!(to_tag(&r), "b");
    assert_eq!(values(&r, "Via").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_best_of_several_failures_is_sent() {
    let mut a = Uas::new("a").await;
    let mut b = Uas::new("b").await;
    let proxy = start(ProxyOptions::fork([a.target(), b.target()])).await;
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-best", proxy)).await;
    let (inv_a, from_a) = a.request().await;
    let (inv_b, from_b) = b.request().await;
    a.respond(&inv_a, from_a, StatusCode::SERVER_INTERNAL_ERROR)
        .await;
    b.respond(&inv_b, from_b, StatusCode::BUSY_HERE).await;
    // 4xx beats 5xx.
    let r = uac.final_response().await;
    assert_eq!(r.status, StatusCode::BUSY_HERE);
    assert_eq!(to_tag(&r), "b");
}

#[tokio::test(start_paused = true)]
async fn a_cancel_from_the_caller_reaches_the_callee() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    let inv = invite("p-cancel", proxy).branch("z9hG4bKuaccancel");
    uac.send(&inv).await;
    let (req, from) = uas.request().await;
    uas.respond(&req, from, StatusCode::RINGING).await;
    assert_eq!(relayed(&uac).await.status, StatusCode::RINGING);
    uac.send(&inv.clone().method("CANCEL").no_body()).await;
    // The caller: 200 for the CANCEL and 487 for the INVITE, from the
    // proxy's transaction layer.
    let mut got = Vec::new();
    while got.len() < 2 {
        let r = relayed(&uac).await;
        got.push((
            r.status.as_u16(),
            r.headers.cseq().unwrap().method.to_string(),
        ));
    }
    got.sort();
    assert_eq!(
        got,
        [(200, "CANCEL".to_string()), (487, "INVITE".to_string())]
    );
    // The callee: a CANCEL of the proxy's own on its branch.
    let (cancel, from) = uas.request().await;
    assert_eq!(cancel.method.as_str(), "CANCEL");
    assert_eq!(branch(&cancel), branch(&req));
    uas.respond(&cancel, from, StatusCode::OK).await;
    uas.respond(&req, from, StatusCode::REQUEST_TERMINATED)
        .await;
    assert_eq!(uas.request().await.0.method.as_str(), "ACK");
    // The caller's ACK for its 487 stops at the proxy; no second final.
    uac.send(&in_dialog("ACK", &inv, "x", 1).branch("z9hG4bKuaccancel"))
        .await;
    assert!(uas.request_within(QUIET).await.is_none());
    if let Some(r) = response_within(&uac, QUIET).await {
        assert!(
            r.status == StatusCode::REQUEST_TERMINATED,
            "nothing but a 487 retransmission may follow, got {}",
            r.status
        );
    }
}

#[tokio::test(start_paused = true)]
async fn timer_c_cancels_a_branch_that_rings_for_ever() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-timer-c", proxy)).await;
    let (req, from) = uas.request().await;
    uas.respond(&req, from, StatusCode::RINGING).await;
    let rang = Instant::now();
    assert_eq!(relayed(&uac).await.status, StatusCode::RINGING);
    let (cancel, from) = uas
        .request_within(Duration::from_secs(300))
        .await
        .expect("a CANCEL from Timer C");
    assert_eq!(cancel.method.as_str(), "CANCEL");
    let waited = rang.elapsed();
    assert!(
        waited >= Duration::from_secs(180) && waited < Duration::from_secs(200),
        "Timer C is 3 minutes (§16.6 step 11), waited {waited:?}"
    );
    uas.respond(&cancel, from, StatusCode::OK).await;
    uas.respond(&req, from, StatusCode::REQUEST_TERMINATED)
        .await;
    let r = response_within(&uac, WAIT)
        .await
        .expect("the caller's final response");
    assert_eq!(r.status, StatusCode::REQUEST_TERMINATED);
}

#[tokio::test(start_paused = true)]
async fn a_target_that_never_answers_gives_408() {
    // A socket that reads nothing: no ICMP, just silence.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target: Uri = format!("sip:{}", silent.local_addr().unwrap())
        .parse()
        .unwrap();
    let proxy = start(ProxyOptions::to(target)).await;
    let uac = Peer::new(proxy).await;
    let started = Instant::now();
    uac.send(&invite("p-408", proxy)).await;
    let r = response_within(&uac, Duration::from_secs(60))
        .await
        .expect("a final response");
    let r = if r.status == StatusCode::TRYING {
        response_within(&uac, Duration::from_secs(60))
            .await
            .expect("a final response")
    } else {
        r
    };
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert!(
        started.elapsed() >= Duration::from_secs(32),
        "after Timer B (64*T1), got it after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_tcp_target_refusing_connections_fails_at_once() {
    // A port that was free a moment ago: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let target: Uri = format!("sip:127.0.0.1:{port};transport=tcp")
        .parse()
        .unwrap();
    let proxy = start(ProxyOptions::to(target)).await;
    let uac = Peer::new(proxy).await;
    let r = uac.ask(&invite("p-tcp-refused", proxy)).await;
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
async fn message_is_proxied_and_options_answered_locally() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    let mut msg = Req::new("MESSAGE", "p-message").body("text/plain", "hello");
    msg.uri = "sip:bob@example.com".into();
    uac.send(&msg).await;
    let (req, from) = uas.request().await;
    assert_eq!(req.method.as_str(), "MESSAGE");
    assert_eq!(req.uri.to_string(), format!("sip:bob@{}", uas.addr()));
    assert_eq!(&req.body[..], b"hello");
    uas.respond(&req, from, StatusCode::ACCEPTED).await;
    let r = uac.final_response().await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(values(&r, "Via").len(), 1);

    let mut options = Req::new("OPTIONS", "p-options");
    options.uri = "sip:127.0.0.1".into();
    let r = uac.ask(&options).await;
    assert_eq!(r.status, StatusCode::OK);
    let allow = values(&r, "Allow");
    for m in ["INVITE", "ACK", "BYE", "CANCEL", "MESSAGE", "OPTIONS"] {
        assert!(allow.iter().any(|a| a == m), "{allow:?}");
    }
    assert!(
        uas.request_within(QUIET).await.is_none(),
        "OPTIONS is not proxied"
    );
}

#[tokio::test(start_paused = true)]
async fn options_for_a_user_is_proxied_but_not_past_max_forwards_0() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    // RFC 3261 §11: for the user, so the user answers.
    let mut options = Req::new("OPTIONS", "p-options-user");
    options.uri = "sip:bob@example.com".into();
    uac.send(&options).await;
    let (req, from) = uas.request().await;
    assert_eq!(req.method.as_str(), "OPTIONS");
    uas.respond(&req, from, StatusCode::OK).await;
    let r = uac.final_response().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(values(&r, "Via").len(), 1);
    // §16.3 step 3: Max-Forwards 0 makes the proxy the final recipient.
    let mut options = Req::new("OPTIONS", "p-options-mf0");
    options.uri = "sip:bob@example.com".into();
    let text = uac
        .render(&options)
        .replacen("Max-Forwards: 70", "Max-Forwards: 0", 1);
    uac.send_raw(&text).await;
    let r = uac.final_response().await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!values(&r, "Allow").is_empty());
    assert!(
        uas.request_within(QUIET).await.is_none(),
        "not forwarded with Max-Forwards 0"
    );
    // Any other method still gets 483.
    let mut msg = Req::new("MESSAGE", "p-mf0");
    msg.uri = "sip:bob@example.com".into();
    let text = uac
        .render(&msg)
        .replacen("Max-Forwards: 70", "Max-Forwards: 0", 1);
    uac.send_raw(&text).await;
    assert_eq!(uac.final_response().await.status, StatusCode::TOO_MANY_HOPS);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_loops_back_gets_482() {
    // The proxy's target is the proxy itself: the forwarded copy comes
    // back with the same Request-URI, tags, Call-ID and CSeq (§16.3 step 4).
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let target: Uri = format!("sip:{addr}").parse().unwrap();
    let server = proxy::bind(addr, ProxyOptions::to(target))
        .await
        .expect("bind the port just probed");
    tokio::spawn(server.serve().into_future());
    let uac = Peer::new(addr).await;
    let r = uac.ask(&invite("p-loop", addr)).await;
    assert_eq!(r.status, StatusCode::LOOP_DETECTED);
}

#[tokio::test]
async fn bind_refuses_an_empty_target_list() {
    let err = proxy::bind(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        ProxyOptions {
            targets: Vec::new(),
            record_route: true,
        },
    )
    .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn serve_with_returns_on_shutdown() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let options = ProxyOptions::to("sip:127.0.0.1:9".parse().unwrap());
    let server = tokio::spawn(proxy::serve_with(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        async {
            let _ = rx.await;
        },
        options,
    ));
    tx.send(()).unwrap();
    timeout(Duration::from_secs(10), server)
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
async fn a_2xx_retransmission_from_the_callee_reaches_the_caller() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-2xx-again", proxy)).await;
    let (req, from) = uas.request().await;
    let ok = uas.respond(&req, from, StatusCode::OK).await;
    assert_eq!(relayed(&uac).await.status, StatusCode::OK);
    // No ACK yet: the callee sends its 200 again.
    uas.sock.send_to(&ok.to_bytes(), from).await.unwrap();
    let again = response_within(&uac, QUIET)
        .await
        .expect("the retransmitted 200 relayed");
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(to_tag(&again), "bob");
    assert_eq!(values(&again, "Via").len(), 1);
}

/// RFC 6026 §8.2 / §16.7 step 5: every 2xx retransmission goes upstream,
/// also when the 2xx lacks what the proxy needs to keep the dialog (here
/// a Contact).
#[tokio::test(start_paused = true)]
async fn a_2xx_without_contact_is_relayed_with_its_retransmissions() {
    let mut uas = Uas::new("bob").await;
    let proxy = start(ProxyOptions::to(uas.target())).await;
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-2xx-no-contact", proxy)).await;
    let (req, from) = uas.request().await;
    let mut ok = req.reply(StatusCode::OK);
    let to_value = req.headers.get(HeaderName::To).expect("a To").to_string();
    ok.headers
        .set(HeaderName::To, format!("{to_value};tag=bob"));
    uas.sock.send_to(&ok.to_bytes(), from).await.unwrap();
    assert_eq!(relayed(&uac).await.status, StatusCode::OK);
    for _ in 0..2 {
        uas.sock.send_to(&ok.to_bytes(), from).await.unwrap();
        let again = response_within(&uac, QUIET)
            .await
            .expect("the retransmitted 200 relayed");
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(values(&again, "Via").len(), 1);
    }
}

/// A final response the proxy makes itself (483, 482, 408, or 500 for an
/// unreachable target) is a UAS's response: it needs a To tag (§8.2.6.2).
#[tokio::test(start_paused = true)]
async fn the_proxys_own_final_responses_carry_a_to_tag() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target: Uri = format!("sip:{}", silent.local_addr().unwrap())
        .parse()
        .unwrap();
    let proxy = start(ProxyOptions::to(target)).await;
    let uac = Peer::new(proxy).await;
    let text =
        uac.render(&invite("p-tag-483", proxy))
            .replacen("Max-Forwards: 70", "Max-Forwards: 0", 1);
    uac.send_raw(&text).await;
    let r = uac.final_response().await;
    assert_eq!(r.status, StatusCode::TOO_MANY_HOPS);
    assert!(r.headers.to_tag().is_some(), "483 without a To tag");
    // A second caller, so the unacknowledged 483's retransmissions (Timer
    // G) do not get in the way.
    let uac = Peer::new(proxy).await;
    uac.send(&invite("p-tag-408", proxy)).await;
    // Timer B (64*T1 = 32 s) ends the silent branch.
    let r = loop {
        match uac.recv_within(Duration::from_secs(40)).await {
            Some(Message::Response(r)) if r.status.is_final() => break r,
            Some(_) => continue,
            None => panic!("no final response within 40 s"),
        }
    };
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert!(r.headers.to_tag().is_some(), "408 without a To tag");
}
