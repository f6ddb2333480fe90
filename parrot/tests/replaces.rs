//! An INVITE with `Replaces` (RFC 3891) at the server, against scripted
//! callers over loopback UDP on tokio's paused clock: the handler is told
//! which call it replaces and that call is ended with BYE once the new one
//! is answered; no matching call, an early dialog, `early-only` on a
//! confirmed call and two `Replaces` are refused; `Require: replaces` is
//! accepted.

use parrot::dialog::DialogId;
use parrot::message::{HeaderName, Method, Request, Response, StatusCode};
use parrot::prelude::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;

use support::caller::Caller;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// Answers calls (the user `slow` rings for a minute first) and records
/// which call each replaces.
struct Answer(Arc<Mutex<Vec<Option<DialogId>>>>);

#[uas_handler]
impl Answer {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
        self.0.lock().unwrap().push(cx.replaces().cloned());
        if req.uri.to_string().starts_with("sip:slow@") {
            let _ = cx.ring();
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

async fn server() -> (SocketAddr, Arc<Mutex<Vec<Option<DialogId>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler_seen = seen.clone();
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Answer(handler_seen.clone()))
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    (addr, seen)
}

/// Calls `user` with `extra` headers and acknowledges the 200; its To tag.
async fn call(c: &mut Caller, user: &str, extra: &str) -> String {
    let invite = c.text("INVITE", user, "", extra, SDP);
    c.send(&invite).await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    let tag = ok.headers.to_tag().unwrap().to_string();
    let ack = c.text("ACK", user, &tag, "", "");
    c.send(&ack).await;
    tag
}

#[tokio::test(start_paused = true)]
async fn an_answered_replacing_call_ends_the_call_it_replaces() {
    let (addr, seen) = server().await;
    let mut alice = Caller::new(addr, "replaced-1").await;
    let tag = call(&mut alice, "bob", "").await;
    // The replacing call names the first one as the server sees it: its
    // tag is the server's (to-tag), alice's is the remote one.
    let mut carol = Caller::new(addr, "replacing-1").await;
    let replaces = format!("Replaces: replaced-1;to-tag={tag};from-tag=a\r\nRequire: replaces\r\n");
    let carol_tag = call(&mut carol, "bob", &replaces).await;
    assert_eq!(
        seen.lock().unwrap().last().unwrap().as_ref(),
        Some(&DialogId::new("replaced-1", &tag, "a"))
    );
    // RFC 3891 §3: the replaced call is ended with BYE.
    let bye = alice.recv_request().await.expect("a BYE");
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.headers.call_id().unwrap().as_str(), "replaced-1");
    alice.answer(&bye, StatusCode::OK, "", "").await;
    // The new call goes on.
    let bye = carol.text("BYE", "bob", &carol_tag, "", "");
    carol.send(&bye).await;
    carol.expect(StatusCode::OK, "BYE").await;
}

#[tokio::test(start_paused = true)]
async fn replaces_matching_no_confirmed_call_is_refused() {
    let (addr, seen) = server().await;
    let mut alice = Caller::new(addr, "replaced-2").await;
    let tag = call(&mut alice, "bob", "").await;
    // A ringing (early) call: not one this UA initiated, so 481.
    let mut ringing = Caller::new(addr, "early-2").await;
    let invite = ringing.text("INVITE", "slow", "", "", SDP);
    ringing.send(&invite).await;
    let ring = ringing.expect(StatusCode::RINGING, "INVITE").await;
    let early_tag = ring.headers.to_tag().unwrap().to_string();
    // An answered call whose ACK has not come: not confirmed yet, so 481.
    let mut unacked = Caller::new(addr, "unacked-2").await;
    let invite = unacked.text("INVITE", "bob", "", "", SDP);
    unacked.send(&invite).await;
    let ok = unacked.expect(StatusCode::OK, "INVITE").await;
    let unacked_tag = ok.headers.to_tag().unwrap().to_string();

    let mut carol = Caller::new(addr, "replacing-2").await;
    let cases = [
        (
            format!("Replaces: nothing-here;to-tag={tag};from-tag=a\r\n"),
            StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
        ),
        (
            format!("Replaces: early-2;to-tag={early_tag};from-tag=a\r\n"),
            StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
        ),
        (
            format!("Replaces: unacked-2;to-tag={unacked_tag};from-tag=a\r\n"),
            StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
        ),
        (
            format!("Replaces: replaced-2;to-tag={tag};from-tag=a;early-only\r\n"),
            StatusCode::BUSY_HERE,
        ),
        (
            format!(
                "Replaces: replaced-2;to-tag={tag};from-tag=a\r\nReplaces: replaced-2;to-tag={tag};from-tag=a\r\n"
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "Replaces: replaced-2;to-tag=x\r\n".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    let calls_before = seen.lock().unwrap().len();
    for (i, (extra, status)) in cases.iter().enumerate() {
        carol.call = format!("replacing-2-{i}");
        let invite = carol.text("INVITE", "bob", "", extra, SDP);
        carol.send(&invite).await;
        let r = carol.expect(*status, "INVITE").await;
        let ack = carol.text(
            "ACK",
            "bob",
            &r.headers.to_tag().unwrap_or_default(),
            "",
            "",
        );
        carol.send(&ack).await;
    }
    // None reached the handler, and the first call was not touched.
    assert_eq!(seen.lock().unwrap().len(), calls_before);
    let info = alice.text("INFO", "bob", &tag, "", "");
    alice.send(&info).await;
    let r: Response = alice.recv().await.expect("an answer to INFO");
    assert_ne!(r.status, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
}

#[tokio::test(start_paused = true)]
async fn the_server_says_it_supports_replaces() {
    let (addr, _) = server().await;
    let mut c = Caller::new(addr, "options-replaces").await;
    let options = c.text("OPTIONS", "bob", "", "", "");
    c.send(&options).await;
    let ok = c.expect(StatusCode::OK, "OPTIONS").await;
    assert!(
        ok.headers.lists(HeaderName::Supported, "replaces"),
        "{ok:?}"
    );
}
