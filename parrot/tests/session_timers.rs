//! Session timers (RFC 4028) on the server, against a scripted caller
//! over loopback UDP on tokio's paused clock: the 2xx's Session-Expires
//! and Require, 422 with Min-SE, the BYE when the caller (the refresher)
//! never refreshes, a caller's refresh pushing the end back, and the
//! server refreshing by UPDATE or re-INVITE (with its ACK) when it is the
//! refresher — also while the dialog is parked.

use parrot::dialog::SessionTimerConfig;
use parrot::message::typed::SessionExpires;
use parrot::message::{HeaderName, Method, Request, Response, StatusCode};
use parrot::prelude::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

mod support;

use support::caller::Caller;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

async fn server(interval: Option<Duration>) -> SocketAddr {
    let mut builder = Server::builder().listen("127.0.0.1:0");
    if let Some(i) = interval {
        builder = builder.session_timer(SessionTimerConfig::new(i));
    }
    let server = builder.handler(|| Answer).bind().await.expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    addr
}

fn session_expires(r: &Response) -> SessionExpires {
    r.headers
        .typed::<SessionExpires>()
        .expect("Session-Expires")
        .unwrap()
}

/// Calls and acknowledges; the 200 and the dialog's To tag.
async fn call(c: &mut Caller, extra: &str) -> (Response, String) {
    let invite = c.text("INVITE", "bob", "", extra, SDP);
    c.send(&invite).await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    let tag = ok.headers.to_tag().unwrap().to_string();
    let ack = c.text("ACK", "bob", &tag, "", "");
    c.send(&ack).await;
    (ok, tag)
}

#[tokio::test(start_paused = true)]
async fn the_server_ends_a_session_its_refresher_never_refreshes() {
    let addr = server(Some(Duration::from_secs(90))).await;
    let mut c = Caller::new(addr, "st1").await;
    c.common = "Allow: INVITE, ACK, BYE, UPDATE\r\n".into();
    let start = Instant::now();
    let (ok, _) = call(&mut c, "Supported: timer\r\n").await;
    let se = session_expires(&ok);
    assert_eq!(se.to_string(), "90;refresher=uac");
    assert!(ok.headers.lists(HeaderName::Require, "timer"), "{ok:?}");
    // §10: BYE at 90 - min(32, 90/3) = 60 s.
    let bye = c.recv_request().await.expect("a BYE");
    assert_eq!(bye.method, Method::Bye);
    let at = (Instant::now() - start).as_millis();
    assert!(at.abs_diff(60_000) < 100, "BYE after {at} ms");
    c.answer(&bye, StatusCode::OK, "", "").await;
}

#[tokio::test(start_paused = true)]
async fn a_refresh_by_the_caller_pushes_the_end_back() {
    let addr = server(Some(Duration::from_secs(90))).await;
    let mut c = Caller::new(addr, "st2").await;
    c.common = "Allow: INVITE, ACK, BYE, UPDATE\r\n".into();
    let start = Instant::now();
    let (_, tag) = call(&mut c, "Supported: timer\r\n").await;
    tokio::time::sleep(Duration::from_secs(45)).await;
    let update = c.text(
        "UPDATE",
        "bob",
        &tag,
        "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n",
        "",
    );
    c.send(&update).await;
    let ok = c.expect(StatusCode::OK, "UPDATE").await;
    assert_eq!(session_expires(&ok).to_string(), "90;refresher=uac");
    let bye = c.recv_request().await.expect("a BYE");
    assert_eq!(bye.method, Method::Bye);
    let at = (Instant::now() - start).as_millis();
    assert!(at.abs_diff(105_000) < 100, "BYE after {at} ms");
}

/// Several parked calls, each with its own session end: every BYE comes
/// at its own call's end, in its own dialog (the core's timer table names
/// a parked dialog by its hash and its timer key).
#[tokio::test(start_paused = true)]
async fn parked_calls_each_end_at_their_own_time() {
    let addr = server(Some(Duration::from_secs(90))).await;
    let start = Instant::now();
    let mut callers = Vec::new();
    for n in 0..3 {
        let mut c = Caller::new(addr, &format!("st-many-{n}")).await;
        c.common = "Allow: INVITE, ACK, BYE, UPDATE\r\n".into();
        let (_, tag) = call(&mut c, "Supported: timer\r\n").await;
        callers.push((c, tag));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    // The middle call refreshes at 45 s: its end moves from 70 s to 105 s.
    tokio::time::sleep_until(start + Duration::from_secs(45)).await;
    let (c, tag) = &mut callers[1];
    let update = c.text(
        "UPDATE",
        "bob",
        tag,
        "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n",
        "",
    );
    c.send(&update).await;
    c.expect(StatusCode::OK, "UPDATE").await;
    // Ends (BYE at 60 s after the last refresh, §10): 60, 105 and 80 s.
    for (n, end) in [(0usize, 60_000u128), (2, 80_000), (1, 105_000)] {
        let (c, _) = &mut callers[n];
        let bye = c.recv_request().await.expect("a BYE");
        assert_eq!(bye.method, Method::Bye);
        assert_eq!(bye.headers.call_id().unwrap(), c.call.as_str());
        let at = (Instant::now() - start).as_millis();
        assert!(at.abs_diff(end) < 100, "call {n}: BYE after {at} ms");
        c.answer(&bye, StatusCode::OK, "", "").await;
    }
}

#[tokio::test(start_paused = true)]
async fn the_server_refreshes_by_update_when_it_is_the_refresher() {
    let addr = server(None).await;
    let mut c = Caller::new(addr, "st3").await;
    c.common = "Allow: INVITE, ACK, BYE, UPDATE\r\n".into();
    let start = Instant::now();
    let (ok, _) = call(
        &mut c,
        "Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n",
    )
    .await;
    assert_eq!(session_expires(&ok).to_string(), "120;refresher=uas");
    for round in 1..=3u128 {
        let update = c.recv_request().await.expect("a refresh");
        assert_eq!(update.method, Method::Update, "{update:?}");
        assert!(update.body.is_empty());
        let at = (Instant::now() - start).as_millis();
        assert!(
            at.abs_diff(60_000 * round) < 100 * round,
            "refresh {round} after {at} ms"
        );
        assert_eq!(session_expires_of(&update), "120;refresher=uac");
        c.answer(
            &update,
            StatusCode::OK,
            "Require: timer\r\nSession-Expires: 120;refresher=uac\r\n",
            "",
        )
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn the_server_refreshes_by_reinvite_when_update_is_not_allowed() {
    let addr = server(Some(Duration::from_secs(90))).await;
    let mut c = Caller::new(addr, "st4").await;
    c.common = "Allow: INVITE, ACK, BYE\r\n".into();
    // No timer support: the server must be the refresher (§9).
    let (ok, tag) = call(&mut c, "").await;
    assert_eq!(session_expires(&ok).to_string(), "90;refresher=uas");
    assert!(!ok.headers.lists(HeaderName::Require, "timer"));
    let reinvite = c.recv_request().await.expect("a refresh");
    assert_eq!(reinvite.method, Method::Invite, "{reinvite:?}");
    assert_eq!(reinvite.body, ok.body, "the session description in force");
    assert_eq!(reinvite.headers.to_tag().unwrap(), "a");
    assert_eq!(reinvite.headers.from_tag().unwrap(), tag.as_str());
    let contact = format!("Contact: <sip:alice@{}>\r\n", c.sock.local_addr().unwrap());
    c.answer(&reinvite, StatusCode::OK, &contact, SDP).await;
    let ack = c.recv_request().await.expect("the ACK");
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        reinvite.headers.cseq().unwrap().seq
    );
}

#[tokio::test(start_paused = true)]
async fn an_interval_below_min_se_gets_422() {
    let addr = server(None).await;
    let mut c = Caller::new(addr, "st5").await;
    let invite = c.text(
        "INVITE",
        "bob",
        "",
        "Supported: timer\r\nSession-Expires: 30\r\n",
        SDP,
    );
    c.send(&invite).await;
    let r = c
        .expect(StatusCode::SESSION_INTERVAL_TOO_SMALL, "INVITE")
        .await;
    assert_eq!(r.headers.get(HeaderName::MinSe).unwrap(), "90");
}

fn session_expires_of(r: &Request) -> String {
    r.headers
        .typed::<SessionExpires>()
        .expect("Session-Expires")
        .unwrap()
        .to_string()
}
