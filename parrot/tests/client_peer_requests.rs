//! The client handing the peer's requests in a call to the application
//! (`InviteOptions::peer_requests`): a re-INVITE's offer answered by the
//! application and its 2xx retransmitted until the ACK (RFC 3261
//! §13.3.1.4); a second re-INVITE while one is unanswered refused `500`
//! with `Retry-After` (§14.2) and a crossing offer of ours refused too
//! (§14.1); a REFER accepted with its NOTIFYs of progress (RFC 3515
//! §2.4); a request dropped unanswered getting `500`; and the INVITE of an
//! attended transfer carrying `Replaces` with `Require: replaces` (RFC
//! 3891), also from the headers of its target URI (§19.1.5). The peer is a
//! scripted callee over loopback UDP on tokio's paused clock.

use parrot::client::{CallError, Client, InviteOptions};
use parrot::dialog::Replaces;
use parrot::message::{HeaderName, Method, Request, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;

mod support;

use support::callee::Uas;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\n";

async fn client() -> Client {
    Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .udp_only()
        .bind()
        .await
        .unwrap()
}

/// A call to the scripted callee, answered and acknowledged, whose peer
/// requests go to the application.
async fn call(uas: &Uas, client: &Client) -> (parrot::client::Call, Request, SocketAddr) {
    let options = InviteOptions::new().peer_requests(true);
    let pending = client
        .invite_with_options(uas.uri(), SDP, options)
        .await
        .unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    let allow = inv.headers.get(HeaderName::Allow).unwrap().to_string();
    assert!(allow.contains("REFER") && allow.contains("INFO"), "{allow}");
    uas.send(&uas.reply(&inv, "200 OK", "uas", "", SDP), from)
        .await;
    let call = pending.wait().await.unwrap();
    uas.expect(Method::Ack).await;
    (call, inv, from)
}

/// `text` with the header lines `extra` added before its Contact.
fn with(text: &str, extra: &str) -> String {
    text.replacen("Contact: ", &format!("{extra}Contact: "), 1)
}

#[tokio::test(start_paused = true)]
async fn a_reinvite_offer_is_answered_by_the_application() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (mut call, inv, from) = call(&uas, &client).await;
    let reinvite = uas.request(&inv, "INVITE", "uas", OFFER, 0);
    uas.send(&reinvite, from).await;
    let peer = call.next_request().await.expect("the re-INVITE");
    assert_eq!(peer.method(), &Method::Invite);
    assert_eq!(peer.sdp(), Some(OFFER));
    let resp = peer.request().reply(StatusCode::OK).sdp(ANSWER);
    peer.respond(resp);
    let ok = uas.response_to("INVITE").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(&ok.body[..], ANSWER.as_bytes());
    assert!(ok.headers.get(HeaderName::Contact).is_some());
    assert_eq!(ok.headers.to_tag(), inv.headers.from_tag());
    // §13.3.1.4: retransmitted until the ACK.
    let again = uas.response_to("INVITE").await;
    assert_eq!(again.status, StatusCode::OK);
    let seq = ok.headers.cseq().unwrap().seq;
    let ack = uas.request(&inv, "ACK", "uas", "", seq);
    uas.send(&ack, from).await;
    assert!(uas.quiet_for(Duration::from_secs(40)).await);
    // Our description in force is now the application's answer: a hold
    // offers it with `sendonly`.
    let task = tokio::spawn(async move {
        let r = call.hold().await;
        (call, r)
    });
    let (hold, _) = uas.expect(Method::Invite).await;
    let body = String::from_utf8_lossy(&hold.body).into_owned();
    assert!(body.contains("m=audio 41000"), "{body}");
    assert!(body.contains("a=sendonly"), "{body}");
    uas.send(&uas.reply(&hold, "200 OK", "uas", "", OFFER), from)
        .await;
    let (_call, r) = task.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_second_reinvite_while_one_is_unanswered_gets_500_with_retry_after() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (mut call, inv, from) = call(&uas, &client).await;
    let first = uas.request(&inv, "INVITE", "uas", OFFER, 0);
    uas.send(&first, from).await;
    let peer = call.next_request().await.expect("the re-INVITE");
    let second = uas.request(&inv, "INVITE", "uas", OFFER, 0);
    uas.send(&second, from).await;
    let refused = uas.response_to("INVITE").await;
    assert_eq!(refused.status, StatusCode::SERVER_INTERNAL_ERROR);
    let after: u32 = refused
        .headers
        .get("Retry-After")
        .expect("Retry-After")
        .trim()
        .parse()
        .unwrap();
    assert!(after <= 10);
    // §14.1: no re-INVITE of ours while the peer's is in progress.
    match call.reinvite(SDP).await {
        Err(CallError::UpdateInProgress) => {}
        other => panic!("expected UpdateInProgress, got {other:?}"),
    }
    let resp = peer.request().reply(StatusCode::OK).sdp(ANSWER);
    peer.respond(resp);
    let ok = uas.response_to("INVITE").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.cseq().unwrap().seq, 1);
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_unanswered_gets_500_and_others_stay_the_clients() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (mut call, inv, from) = call(&uas, &client).await;
    let info = uas.request(&inv, "INFO", "uas", "", 0);
    uas.send(&info, from).await;
    let peer = call.next_request().await.expect("the INFO");
    assert_eq!(peer.method(), &Method::Info);
    drop(peer);
    let r = uas.response_to("INFO").await;
    assert_eq!(r.status, StatusCode::SERVER_INTERNAL_ERROR);
    // OPTIONS stays the client's: 200 with Allow.
    let options = uas.request(&inv, "OPTIONS", "uas", "", 0);
    uas.send(&options, from).await;
    let r = uas.response_to("OPTIONS").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get(HeaderName::Allow).is_some());
    // A BYE too: the call ends.
    let bye = uas.request(&inv, "BYE", "uas", "", 0);
    uas.send(&bye, from).await;
    assert_eq!(uas.response_to("BYE").await.status, StatusCode::OK);
    call.ended().await;
    assert!(call.next_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_refer_is_accepted_and_its_progress_notified() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (mut call, inv, from) = call(&uas, &client).await;
    let refer = with(
        &uas.request(&inv, "REFER", "uas", "", 0),
        "Refer-To: <sip:carol@127.0.0.1:5999>\r\n",
    );
    uas.send(&refer, from).await;
    let peer = call.next_request().await.expect("the REFER");
    assert_eq!(peer.method(), &Method::Refer);
    let id = peer.request().headers.cseq().unwrap().seq;
    let mut reports = peer.accept_refer();
    let accepted = uas.response_to("REFER").await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let mut states = Vec::new();
    for status in [None, Some(StatusCode::RINGING), Some(StatusCode::OK)] {
        if let Some(s) = status {
            assert!(reports.report(s));
        }
        let (notify, _) = uas.expect(Method::Notify).await;
        assert_eq!(
            notify.headers.get(HeaderName::Event).unwrap().as_str(),
            format!("refer;id={id}")
        );
        assert!(
            notify
                .headers
                .get(HeaderName::ContentType)
                .unwrap()
                .starts_with("message/sipfrag")
        );
        assert_eq!(notify.headers.to_tag().as_deref(), Some("uas"));
        states.push((
            notify
                .headers
                .get(HeaderName::SubscriptionState)
                .unwrap()
                .to_string(),
            String::from_utf8_lossy(&notify.body).into_owned(),
        ));
        uas.send(&uas.reply(&notify, "200 OK", "", "", ""), from)
            .await;
    }
    assert!(states[0].0.starts_with("active"), "{states:?}");
    assert_eq!(states[0].1, "SIP/2.0 100 Trying\r\n");
    assert_eq!(states[1].1, "SIP/2.0 180 Ringing\r\n");
    assert_eq!(states[2].0, "terminated;reason=noresource");
    assert_eq!(states[2].1, "SIP/2.0 200 OK\r\n");
    // Nothing more after the final report.
    assert!(!reports.report(StatusCode::OK));
    drop(reports);
    assert!(uas.quiet_for(Duration::from_secs(5)).await);
    drop(call);
}

#[tokio::test(start_paused = true)]
async fn a_refer_sub_false_is_accepted_without_notifies() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (mut call, inv, from) = call(&uas, &client).await;
    let refer = with(
        &uas.request(&inv, "REFER", "uas", "", 0),
        "Refer-To: <sip:carol@127.0.0.1:5999>\r\nRefer-Sub: false\r\n",
    );
    uas.send(&refer, from).await;
    let peer = call.next_request().await.expect("the REFER");
    let mut reports = peer.accept_refer();
    let accepted = uas.response_to("REFER").await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    assert_eq!(
        accepted.headers.get("Refer-Sub").map(|t| t.as_str()),
        Some("false")
    );
    assert!(!reports.report(StatusCode::OK));
    assert!(uas.quiet_for(Duration::from_secs(5)).await);
}

#[tokio::test(start_paused = true)]
async fn an_invite_with_replaces_requires_the_extension() {
    let uas = Uas::bind().await;
    let client = client().await;
    let replaces = Replaces::parse("held@example.com;to-tag=t1;from-tag=f1").unwrap();
    let options = InviteOptions::new()
        .replaces(replaces)
        .header("Referred-By", "<sip:bob@example.com>")
        .header("Call-ID", "not-taken");
    let _pending = client
        .invite_with_options(uas.uri(), SDP, options)
        .await
        .unwrap();
    let (inv, _) = uas.expect(Method::Invite).await;
    assert_eq!(
        inv.headers.get("Replaces").map(|t| t.as_str()),
        Some("held@example.com;to-tag=t1;from-tag=f1")
    );
    assert_eq!(
        inv.headers.get(HeaderName::Require).map(|t| t.as_str()),
        Some("replaces")
    );
    assert_eq!(
        inv.headers.get("Referred-By").map(|t| t.as_str()),
        Some("<sip:bob@example.com>")
    );
    assert_ne!(inv.headers.call_id().unwrap().as_str(), "not-taken");

    // §19.1.5: the same from a Refer-To URI's headers, which leave the
    // Request-URI.
    let uas = Uas::bind().await;
    let target = format!(
        "sip:bob@{}?Replaces=held2%40example.com%3Bto-tag%3Dt2%3Bfrom-tag%3Df2",
        uas.addr()
    );
    let _pending = client.invite(target, SDP).await.unwrap();
    let (inv, _) = uas.expect(Method::Invite).await;
    assert_eq!(
        inv.headers.get("Replaces").map(|t| t.as_str()),
        Some("held2@example.com;to-tag=t2;from-tag=f2")
    );
    assert_eq!(
        inv.headers.get(HeaderName::Require).map(|t| t.as_str()),
        Some("replaces")
    );
    assert!(!inv.uri.to_string().contains('?'), "{}", inv.uri);
}
