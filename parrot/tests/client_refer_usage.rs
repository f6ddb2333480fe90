//! A client REFER's subscription outliving the call (RFC 5057 §5.4: a BYE
//! ends the INVITE usage; the subscription usage keeps the dialog): the
//! NOTIFYs after the peer's BYE, or after ours, are answered `200` and
//! reported; the dialog ends with the last subscription, after which a
//! NOTIFY gets `481`; a subscription that hears nothing is given up after
//! 64·T1. The peer is a scripted callee over loopback
//! UDP on tokio's paused clock.

use parrot::client::{Call, Client};
use parrot::message::{Method, Request, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::{Instant, timeout};

mod support;

use support::callee::Uas;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

async fn client() -> Client {
    Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .udp_only()
        .bind()
        .await
        .unwrap()
}

async fn call(uas: &Uas, client: &Client) -> (Call, Request, SocketAddr) {
    let pending = client.invite(uas.uri(), SDP).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    uas.send(&uas.reply(&inv, "200 OK", "uas", "", SDP), from)
        .await;
    let call = pending.wait().await.unwrap();
    uas.expect(Method::Ack).await;
    (call, inv, from)
}

/// A NOTIFY of REFER subscription `id` in the call reporting `frag`.
fn notify(uas: &mut Uas, inv: &Request, id: u32, state: &str, frag: &str) -> String {
    let body = format!("{frag}\r\n");
    uas.request(inv, "NOTIFY", "uas", "", 0).replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Event: refer;id={id}\r\nSubscription-State: {state}\r\nContent-Type: message/sipfrag;version=2.0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Sends REFER from the call and accepts it; the REFER's CSeq number
/// and the task awaiting the referral.
async fn refer(
    uas: &Uas,
    call: Call,
    from: SocketAddr,
) -> (
    u32,
    tokio::task::JoinHandle<(Call, parrot::client::Referral)>,
) {
    let task = tokio::spawn(async move {
        let mut call = call;
        let referral = call.refer("sip:carol@127.0.0.1").await.unwrap();
        (call, referral)
    });
    let (refer, _) = uas.expect(Method::Refer).await;
    uas.send(&uas.reply(&refer, "202 Accepted", "uas", "", ""), from)
        .await;
    (refer.headers.cseq().unwrap().seq, task)
}

#[tokio::test(start_paused = true)]
async fn notifies_after_the_peers_bye_are_still_answered() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (call, inv, from) = call(&uas, &client).await;
    let (id, task) = refer(&uas, call, from).await;
    let (mut call, mut referral) = task.await.unwrap();
    let n = notify(
        &mut uas,
        &inv,
        id,
        "active;expires=60",
        "SIP/2.0 100 Trying",
    );
    uas.send(&n, from).await;
    assert_eq!(uas.response_to("NOTIFY").await.status, StatusCode::OK);
    // The transferee hangs up first; the call ends, the subscription not.
    let bye = uas.request(&inv, "BYE", "uas", "", 0);
    uas.send(&bye, from).await;
    assert_eq!(uas.response_to("BYE").await.status, StatusCode::OK);
    call.ended().await;
    let n = notify(
        &mut uas,
        &inv,
        id,
        "terminated;reason=noresource",
        "SIP/2.0 200 OK",
    );
    uas.send(&n, from).await;
    assert_eq!(uas.response_to("NOTIFY").await.status, StatusCode::OK);
    let mut seen = Vec::new();
    while let Some(s) = referral.next().await {
        seen.push(s.as_u16());
    }
    assert_eq!(seen, [100, 200]);
    // The dialog ended with its last usage.
    let n = notify(&mut uas, &inv, id, "active", "SIP/2.0 180 Ringing");
    uas.send(&n, from).await;
    assert_eq!(
        uas.response_to("NOTIFY").await.status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
}

#[tokio::test(start_paused = true)]
async fn notifies_after_our_bye_are_still_answered() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (call, inv, from) = call(&uas, &client).await;
    let (id, task) = refer(&uas, call, from).await;
    let (mut call, referral) = task.await.unwrap();
    // The transferor hangs up at once (RFC 5589 §6 allows it).
    let bye_task = tokio::spawn(async move {
        let r = call.bye().await;
        (call, r)
    });
    let (bye, _) = uas.expect(Method::Bye).await;
    uas.send(&uas.reply(&bye, "200 OK", "uas", "", ""), from)
        .await;
    let (_call, r) = bye_task.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::OK);
    let n = notify(
        &mut uas,
        &inv,
        id,
        "terminated;reason=noresource",
        "SIP/2.0 486 Busy Here",
    );
    uas.send(&n, from).await;
    assert_eq!(uas.response_to("NOTIFY").await.status, StatusCode::OK);
    assert_eq!(referral.outcome().await, Some(StatusCode::BUSY_HERE));
}

#[tokio::test(start_paused = true)]
async fn a_silent_subscription_is_given_up_after_64_t1() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (call, inv, from) = call(&uas, &client).await;
    let (id, task) = refer(&uas, call, from).await;
    let t0 = Instant::now();
    let (mut call, mut referral) = task.await.unwrap();
    let bye = uas.request(&inv, "BYE", "uas", "", 0);
    uas.send(&bye, from).await;
    assert_eq!(uas.response_to("BYE").await.status, StatusCode::OK);
    call.ended().await;
    // No NOTIFY at all: the referral ends 64·T1 after the REFER.
    let next = timeout(Duration::from_secs(40), referral.next())
        .await
        .expect("given up");
    assert_eq!(next, None);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(31) && waited <= Duration::from_secs(33),
        "{waited:?}"
    );
    let n = notify(&mut uas, &inv, id, "active", "SIP/2.0 180 Ringing");
    uas.send(&n, from).await;
    assert_eq!(
        uas.response_to("NOTIFY").await.status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
}
