//! The client's side of RFC 3262 (100rel/PRACK) and RFC 3311 (UPDATE),
//! against a scripted callee on a loopback UDP socket, on tokio's paused
//! clock: the PRACK of each new reliable provisional response in its early
//! dialog (and none for a retransmission or one out of order), the early
//! SDP, the CSeq numbering the confirmed dialog continues, our UPDATE and
//! its retries after `491`, and the answers the call gives to the peer's
//! UPDATE and re-INVITE (refresh, unchanged streams, new streams, glare,
//! the re-INVITE's 2xx retransmitted until its ACK).

use parrot::client::{Call, CallError, Client, Progress};
use parrot::message::typed::RAck;
use parrot::message::{HeaderName, Method, Request, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::{Instant, timeout};

mod support;

use support::callee::Uas;

/// Our offer: one audio stream.
const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
/// The callee's description: one audio stream.
const ANSWER: &str = "v=0\r\no=bob 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\n";
/// Early media of the callee.
const EARLY: &str = "v=0\r\no=bob 7 8 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50002 RTP/AVP 0\r\n";

async fn client() -> Client {
    Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .udp_only()
        .bind()
        .await
        .unwrap()
}

fn cseq(r: &Request) -> u32 {
    r.headers.cseq().unwrap().seq
}

fn rack(r: &Request) -> RAck {
    r.headers
        .typed::<RAck>()
        .expect("a PRACK has an RAck")
        .expect("the RAck parses")
}

/// A call set up with our [`OFFER`] and the callee's [`ANSWER`] (To tag
/// `uas`); the ACK has been received.
async fn established(uas: &Uas, client: &Client) -> (Call, Request, SocketAddr) {
    let pending = client.invite(uas.uri(), OFFER).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    uas.send(&uas.reply(&inv, "200 OK", "uas", "", ANSWER), from)
        .await;
    let call = pending.wait().await.unwrap();
    let (ack, _) = uas.expect(Method::Ack).await;
    assert_eq!(cseq(&ack), cseq(&inv));
    (call, inv, from)
}

#[tokio::test(start_paused = true)]
async fn reliable_provisionals_get_one_prack_each_and_the_cseq_goes_on() {
    let uas = Uas::bind().await;
    let client = client().await;
    let mut pending = client.invite(uas.uri(), OFFER).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    // RFC 3262 §4: the caller says it supports 100rel.
    assert!(
        inv.headers.lists(HeaderName::Supported, "100rel"),
        "{inv:?}"
    );
    let allow = inv.headers.get(HeaderName::Allow).unwrap();
    assert!(
        allow.contains("PRACK") && allow.contains("UPDATE"),
        "{allow}"
    );

    let ringing = uas.reply(
        &inv,
        "180 Ringing",
        "uas",
        "Require: 100rel\r\nRSeq: 7\r\n",
        "",
    );
    uas.send(&ringing, from).await;
    let Some(Progress::Provisional(r)) = pending.next().await else {
        panic!("no 180")
    };
    assert_eq!(r.status, StatusCode::RINGING);
    let (prack1, from1) = uas.expect(Method::Prack).await;
    assert_eq!(
        rack(&prack1),
        RAck {
            rseq: 7,
            cseq: cseq(&inv),
            method: Method::Invite
        }
    );
    assert_eq!(prack1.headers.to_tag().unwrap(), "uas");
    assert_eq!(prack1.headers.from_tag(), inv.headers.from_tag());
    assert_eq!(prack1.headers.call_id(), inv.headers.call_id());
    assert!(cseq(&prack1) > cseq(&inv), "{prack1:?}");
    assert_eq!(prack1.headers.cseq().unwrap().method, Method::Prack);
    // In the early dialog: to the 180's Contact.
    assert_eq!(prack1.uri.to_string(), uas.uri());
    assert_ne!(
        prack1.headers.top_via().unwrap().branch(),
        inv.headers.top_via().unwrap().branch()
    );
    uas.send(&uas.reply(&prack1, "200 OK", "uas", "", ""), from1)
        .await;

    // The 180 again (same RSeq): no PRACK, and not passed up (§4).
    uas.send(&ringing, from).await;
    assert!(uas.quiet_for(Duration::from_secs(5)).await);
    assert!(
        timeout(Duration::from_secs(1), pending.next())
            .await
            .is_err(),
        "a retransmission was passed up"
    );
    assert_eq!(pending.early_sdp(), None);

    // A reliable 183 with early media.
    let progress = uas.reply(
        &inv,
        "183 Session Progress",
        "uas",
        "Require: 100rel\r\nRSeq: 8\r\n",
        EARLY,
    );
    uas.send(&progress, from).await;
    let Some(Progress::Provisional(r)) = pending.next().await else {
        panic!("no 183")
    };
    assert_eq!(r.status, StatusCode::SESSION_PROGRESS);
    assert_eq!(pending.early_sdp(), Some(EARLY));
    let (prack2, from2) = uas.expect(Method::Prack).await;
    assert_eq!(rack(&prack2).rseq, 8);
    assert_eq!(rack(&prack2).cseq, cseq(&inv));
    // §12.2.1.1: the next number of the early dialog.
    assert_eq!(cseq(&prack2), cseq(&prack1) + 1);
    assert!(prack2.body.is_empty(), "our INVITE had the offer");
    uas.send(&uas.reply(&prack2, "200 OK", "uas", "", ""), from2)
        .await;
    assert!(uas.quiet_for(Duration::from_secs(2)).await);

    // The 200: the call is up, the ACK carries the INVITE's number.
    uas.send(&uas.reply(&inv, "200 OK", "uas", "", ANSWER), from)
        .await;
    let Some(Progress::Answered(mut call)) = pending.next().await else {
        panic!("no call")
    };
    assert_eq!(pending.early_sdp(), Some(EARLY));
    assert_eq!(call.remote_sdp(), Some(ANSWER));
    let (ack, _) = uas.expect(Method::Ack).await;
    assert_eq!(cseq(&ack), cseq(&inv));

    // Our BYE continues the numbering after the PRACKs (§12.2.1.1).
    let bye = tokio::spawn(async move { call.bye().await });
    let (req, from) = uas.expect(Method::Bye).await;
    assert_eq!(cseq(&req), cseq(&prack2) + 1, "{req:?}");
    uas.send(&uas.reply(&req, "200 OK", "uas", "", ""), from)
        .await;
    assert_eq!(bye.await.unwrap().unwrap().status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_reliable_provisional_out_of_order_gets_no_prack() {
    let uas = Uas::bind().await;
    let client = client().await;
    let mut pending = client.invite(uas.uri(), OFFER).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    let rel = |rseq: u32| {
        uas.reply(
            &inv,
            "180 Ringing",
            "uas",
            &format!("Require: 100rel\r\nRSeq: {rseq}\r\n"),
            "",
        )
    };
    uas.send(&rel(7), from).await;
    let (prack, pfrom) = uas.expect(Method::Prack).await;
    assert_eq!(rack(&prack).rseq, 7);
    uas.send(&uas.reply(&prack, "200 OK", "uas", "", ""), pfrom)
        .await;
    assert!(matches!(
        pending.next().await,
        Some(Progress::Provisional(_))
    ));
    // RSeq 10 after 7: out of order (RFC 3262 §4), neither acknowledged
    // nor passed up.
    uas.send(&rel(10), from).await;
    assert!(uas.quiet_for(Duration::from_secs(5)).await);
    assert!(
        timeout(Duration::from_secs(1), pending.next())
            .await
            .is_err()
    );
    // The next in order is.
    uas.send(&rel(8), from).await;
    let (prack, pfrom) = uas.expect(Method::Prack).await;
    assert_eq!(rack(&prack).rseq, 8);
    uas.send(&uas.reply(&prack, "200 OK", "uas", "", ""), pfrom)
        .await;
    assert!(matches!(
        pending.next().await,
        Some(Progress::Provisional(_))
    ));
    // An unreliable 180 is passed up without a PRACK.
    uas.send(&uas.reply(&inv, "180 Ringing", "uas", "", ""), from)
        .await;
    assert!(matches!(
        pending.next().await,
        Some(Progress::Provisional(_))
    ));
    assert!(uas.quiet_for(Duration::from_secs(2)).await);
    uas.send(&uas.reply(&inv, "486 Busy Here", "uas", "", ""), from)
        .await;
    let Some(Progress::Failed(e)) = pending.next().await else {
        panic!("no failure")
    };
    assert_eq!(e.status(), Some(StatusCode::BUSY_HERE));
}

#[tokio::test(start_paused = true)]
async fn our_update_is_retried_after_491_within_2_1_to_4_seconds() {
    let uas = Uas::bind().await;
    let client = client().await;
    let (mut call, inv, _) = established(&uas, &client).await;
    let offer = OFFER.replace("40000", "40010");
    let sent = offer.clone();
    let update = tokio::spawn(async move {
        let r = call.update(Some(sent)).await;
        (r, call)
    });
    let (first, from) = uas.expect(Method::Update).await;
    assert_eq!(cseq(&first), cseq(&inv) + 1);
    assert_eq!(first.headers.to_tag().unwrap(), "uas");
    assert!(first.headers.content_is_sdp());
    assert_eq!(first.body, offer.as_bytes());
    // RFC 3311 §5.1: a target refresh request carries our Contact.
    assert!(first.headers.contains(HeaderName::Contact), "{first:?}");
    assert_eq!(first.uri.to_string(), uas.uri());
    uas.send(
        &uas.reply(&first, "491 Request Pending", "uas", "", ""),
        from,
    )
    .await;
    let t0 = Instant::now();
    let (second, from) = uas.expect(Method::Update).await;
    let gap = Instant::now() - t0;
    // RFC 3261 §14.1: 2.1 to 4 s for the owner of the Call-ID.
    assert!(
        gap >= Duration::from_millis(2100) && gap <= Duration::from_millis(4000),
        "{gap:?}"
    );
    assert_eq!(cseq(&second), cseq(&first) + 1);
    assert_ne!(
        second.headers.top_via().unwrap().branch(),
        first.headers.top_via().unwrap().branch()
    );
    assert_eq!(second.body, offer.as_bytes());
    uas.send(&uas.reply(&second, "200 OK", "uas", "", ANSWER), from)
        .await;
    let (r, mut call) = update.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::OK);

    // The new offer is our description now: an unchanged offer of the
    // peer is answered with it.
    let mut uas = uas;
    let text = uas.request(&inv, "UPDATE", "uas", ANSWER, 0);
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, offer.as_bytes());

    // Our BYE comes after the UPDATEs.
    let bye = tokio::spawn(async move { call.bye().await });
    let (req, from) = uas.expect(Method::Bye).await;
    assert_eq!(cseq(&req), cseq(&second) + 1);
    uas.send(&uas.reply(&req, "200 OK", "uas", "", ""), from)
        .await;
    assert_eq!(bye.await.unwrap().unwrap().status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn our_update_gives_up_after_three_491() {
    let uas = Uas::bind().await;
    let client = client().await;
    let (mut call, _, _) = established(&uas, &client).await;
    let update = tokio::spawn(async move {
        let r = call.update(Some(OFFER.to_owned())).await;
        (r, call)
    });
    for _ in 0..3 {
        let (req, from) = uas.expect(Method::Update).await;
        uas.send(&uas.reply(&req, "491 Request Pending", "uas", "", ""), from)
            .await;
    }
    let (r, _call) = update.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::REQUEST_PENDING);
    assert!(uas.quiet_for(Duration::from_secs(10)).await);
}

#[tokio::test(start_paused = true)]
async fn the_peers_update_and_reinvite_are_answered() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (call, inv, from) = established(&uas, &client).await;

    // A session refresh without a body (RFC 3311 §5.2).
    let text = uas.request(&inv, "UPDATE", "uas", "", 0);
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.body.is_empty());
    assert!(r.headers.contains(HeaderName::Contact), "{r:?}");

    // The same streams (another port): our description as the answer.
    let same = ANSWER.replace("50000", "50010");
    let text = uas.request(&inv, "UPDATE", "uas", &same, 0);
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.headers.content_is_sdp());
    assert_eq!(r.body, OFFER.as_bytes());

    // A new video stream: refused, the session goes on.
    let video = format!("{ANSWER}m=video 50002 RTP/AVP 96\r\n");
    let text = uas.request(&inv, "UPDATE", "uas", &video, 0);
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE_HERE, "{r:?}");

    // A re-INVITE with the same description: 200 with ours,
    // retransmitted until the ACK (§13.3.1.4).
    let text = uas.request(&inv, "INVITE", "uas", ANSWER, 0);
    let reinvite_seq = uas.cseq - 1;
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.headers.cseq().unwrap().method, Method::Invite);
    assert_eq!(r.body, OFFER.as_bytes());
    assert!(r.headers.contains(HeaderName::Contact), "{r:?}");
    let t0 = Instant::now();
    let again = uas.response().await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.headers.cseq(), r.headers.cseq());
    let gap = Instant::now() - t0;
    assert!(
        gap.abs_diff(Duration::from_millis(500)) < Duration::from_millis(50),
        "{gap:?}"
    );
    let ack = uas.request(&inv, "ACK", "uas", "", reinvite_seq);
    uas.send(&ack, from).await;
    // Nothing answers the ACK, and the 2xx is no longer retransmitted.
    assert!(uas.quiet_for(Duration::from_secs(10)).await);
    assert!(call.is_active());

    // A re-INVITE without a body asks for our offer: our description in
    // the 2xx (RFC 3261 §14.2), the answer to come in the ACK.
    let text = uas.request(&inv, "INVITE", "uas", "", 0);
    let reinvite_seq = uas.cseq - 1;
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, OFFER.as_bytes());
    let ack = uas.request(&inv, "ACK", "uas", ANSWER, reinvite_seq);
    uas.send(&ack, from).await;
    assert!(uas.quiet_for(Duration::from_secs(10)).await);

    // A PRACK in the confirmed dialog matches nothing of ours.
    let text = uas.request(&inv, "PRACK", "uas", "", 0);
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
}

#[tokio::test(start_paused = true)]
async fn an_offer_crossing_our_update_gets_491() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (mut call, inv, from) = established(&uas, &client).await;
    let update = tokio::spawn(async move {
        let r = call.update(Some(OFFER.to_owned())).await;
        (r, call)
    });
    let (ours, ours_from) = uas.expect(Method::Update).await;
    // The peer's own offer while ours is unanswered (RFC 3311 §5.2).
    let text = uas.request(&inv, "UPDATE", "uas", ANSWER, 0);
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::REQUEST_PENDING, "{r:?}");
    // So does a re-INVITE with an offer.
    let text = uas.request(&inv, "INVITE", "uas", ANSWER, 0);
    let reinvite_seq = uas.cseq - 1;
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::REQUEST_PENDING, "{r:?}");
    // The transaction's ACK for the 491 (hop by hop, §17.1.1.3).
    let ack = uas.request(&inv, "ACK", "uas", "", reinvite_seq);
    let ack = ack.replace(
        &format!("branch=z9hG4bKuas{}", uas.branch),
        &format!("branch=z9hG4bKuas{}", uas.branch - 1),
    );
    uas.send(&ack, from).await;
    // A refresh without an offer is no glare.
    let text = uas.request(&inv, "UPDATE", "uas", "", 0);
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // Our UPDATE is answered at last.
    uas.send(&uas.reply(&ours, "200 OK", "uas", "", ANSWER), ours_from)
        .await;
    let (r, mut call) = update.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::OK);

    // An UPDATE whose caller stopped waiting still runs; another one
    // meanwhile is refused (RFC 3311 §5.1).
    assert!(
        timeout(Duration::from_millis(100), call.update(None))
            .await
            .is_err()
    );
    let (refresh, refresh_from) = uas.expect(Method::Update).await;
    assert!(refresh.body.is_empty());
    assert!(matches!(
        call.update(Some(OFFER.to_owned())).await,
        Err(CallError::UpdateInProgress)
    ));
    uas.send(&uas.reply(&refresh, "200 OK", "uas", "", ""), refresh_from)
        .await;
    // Once it is answered (the client idle again), the next one goes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let peer = async {
        let (req, from) = uas.expect(Method::Update).await;
        uas.send(&uas.reply(&req, "200 OK", "uas", "", ""), from)
            .await;
    };
    let (r, ()) = tokio::join!(call.update(None), peer);
    assert_eq!(r.unwrap().status, StatusCode::OK);
}
