//! The `answer` example over loopback UDP: ringing, SDP negotiation (the
//! caller's order, refused streams, 488/415/400), calls without an offer,
//! BYE, re-INVITE, CANCEL during the ring delay, shutdown.

mod common;

use common::{Peer, Req, any_port, offer, run, to_tag, udp_addr};
use examples::answer::{self, AnswerOptions};
use parrot::message::{Message, StatusCode};
use parrot::sdp::{Direction, SessionDescription};
use std::time::Duration;

async fn start(options: AnswerOptions) -> Peer {
    let server = answer::bind(any_port(), options).await.expect("bind");
    let addr = udp_addr(&server);
    run(server);
    Peer::new(addr).await
}

fn sdp_of(resp: &parrot::message::Response) -> SessionDescription {
    assert_eq!(
        resp.headers.get("Content-Type").map(|t| t.as_str()),
        Some("application/sdp")
    );
    SessionDescription::from_bytes(&resp.body).expect("the server's SDP parses")
}

fn invite(call: &str, sdp: &str) -> Req {
    Req::new("INVITE", call).body("application/sdp", sdp)
}

/// INVITE → 200 (no ring delay: no 180); returns the 200. ACKs it.
async fn call(p: &Peer, req: &Req) -> parrot::message::Response {
    p.send(req).await;
    let ok = p.response().await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let ack = req.clone().method("ACK").no_body().tagged(&to_tag(&ok));
    p.send(&ack).await;
    ok
}

#[tokio::test]
async fn pcma_offer_gets_a_pcma_answer_then_bye() {
    let p = start(AnswerOptions::default()).await;
    let req = invite("a-pcma", &offer("8", "a=rtpmap:8 PCMA/8000\r\n", ""));
    let ok = call(&p, &req).await;
    let answer = sdp_of(&ok);
    assert_eq!(answer.media.len(), 1);
    let audio = &answer.media[0];
    assert_eq!(audio.formats, ["8"], "nothing the offer lacked");
    assert_eq!(audio.port, 40000);
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    assert_eq!(
        answer.connection.as_ref().unwrap().address,
        "127.0.0.1",
        "the listen address"
    );
    let bye = Req::new("BYE", "a-pcma").cseq(2).tagged(&to_tag(&ok));
    assert_eq!(p.ask(&bye).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_callers_order_is_kept_and_other_streams_refused() {
    let options = AnswerOptions {
        media_ip: Some("192.0.2.5".parse().unwrap()),
        media_port: 30000,
        ..AnswerOptions::default()
    };
    let p = start(options).await;
    let sdp = offer(
        "18 8 0 101",
        "a=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\na=sendonly\r\n",
        "m=video 51372 RTP/AVP 31\r\n",
    );
    let ok = call(&p, &invite("a-order", &sdp)).await;
    let answer = sdp_of(&ok);
    assert_eq!(answer.media.len(), 2, "one m= line per offered stream");
    assert_eq!(answer.media[0].formats, ["8", "0"]);
    assert_eq!(answer.media[0].port, 30000);
    assert_eq!(answer.media[0].ptime(), Some(30));
    assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(answer.media[1].port, 0, "video refused");
    assert_eq!(answer.connection.as_ref().unwrap().address, "192.0.2.5");
}

#[tokio::test]
async fn unusable_offers_get_488_415_400() {
    let p = start(AnswerOptions::default()).await;

    let r = p
        .ask(&invite(
            "a-488",
            &offer("18 97", "a=rtpmap:97 iLBC/8000\r\n", ""),
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE_HERE);
    assert!(r.headers.get("Warning").unwrap().starts_with("305 "));

    let r = p
        .ask(&Req::new("INVITE", "a-415").body("application/json", "{}"))
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.headers.get("Accept").unwrap(), "application/sdp");

    let r = p.ask(&invite("a-400", "v=0\r\nthis is not SDP\r\n")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.headers.contains("Warning"));
}

#[tokio::test(start_paused = true)]
async fn an_invite_without_offer_gets_an_offer_and_the_answer_comes_in_the_ack() {
    let p = start(AnswerOptions::default()).await;
    let req = Req::new("INVITE", "a-late");
    p.send(&req).await;
    let ok = p.final_response().await;
    let our_offer = sdp_of(&ok);
    assert_eq!(our_offer.media[0].formats, ["0", "8"]);
    let tag = to_tag(&ok);
    let answer = offer("0", "", "");
    let ack = Req::new("ACK", "a-late")
        .tagged(&tag)
        .body("application/sdp", &answer);
    p.send(&ack).await;
    // The call goes on: nothing arrives (no BYE), and a BYE of ours works.
    assert!(p.recv_within(Duration::from_secs(40)).await.is_none());
    let bye = Req::new("BYE", "a-late").cseq(2).tagged(&tag);
    assert_eq!(p.ask(&bye).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn an_ack_without_the_answer_ends_the_call() {
    let p = start(AnswerOptions::default()).await;
    p.send(&Req::new("INVITE", "a-noanswer")).await;
    let ok = p.final_response().await;
    let ack = Req::new("ACK", "a-noanswer").tagged(&to_tag(&ok));
    p.send(&ack).await;
    let bye = p.request().await;
    assert_eq!(bye.method.as_str(), "BYE", "Action::Stop hangs up");
    p.ok(&bye).await;
}

#[tokio::test]
async fn a_reinvite_is_answered_with_the_same_logic() {
    let p = start(AnswerOptions::default()).await;
    let first = call(&p, &invite("a-re", &offer("0", "", ""))).await;
    let tag = to_tag(&first);
    let before = sdp_of(&first);

    // Put on hold: the offer becomes sendonly, the answer recvonly, and
    // the o= line is kept with its version bumped (RFC 3264 §8).
    let hold = invite("a-re", &offer("0", "a=sendonly\r\n", ""))
        .cseq(2)
        .tagged(&tag);
    p.send(&hold).await;
    let ok = p.final_response().await;
    assert_eq!(ok.status, StatusCode::OK);
    let after = sdp_of(&ok);
    assert_eq!(after.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(after.origin.session_id, before.origin.session_id);
    assert_eq!(
        after.origin.session_version,
        before.origin.session_version + 1
    );
    p.send(&hold.clone().method("ACK").no_body()).await;

    // An unusable re-offer is refused and the call stays up.
    let bad = invite("a-re", &offer("18", "", "")).cseq(3).tagged(&tag);
    assert_eq!(p.ask(&bad).await.status, StatusCode::NOT_ACCEPTABLE_HERE);
    let bye = Req::new("BYE", "a-re").cseq(4).tagged(&tag);
    assert_eq!(p.ask(&bye).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_ring_delay_sends_180_then_200_in_one_dialog() {
    let p = start(AnswerOptions {
        ring_delay: Duration::from_secs(3),
        ..AnswerOptions::default()
    })
    .await;
    let req = invite("a-ring", &offer("0", "", ""));
    p.send(&req).await;
    let ringing = p.response().await;
    assert_eq!(ringing.status, StatusCode::RINGING);
    let rang_at = tokio::time::Instant::now();
    let ok = p.final_response().await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert!(
        rang_at.elapsed() >= Duration::from_secs(2),
        "answered after the delay"
    );
    assert_eq!(to_tag(&ok), to_tag(&ringing), "one dialog");
    let ack = req.clone().method("ACK").no_body().tagged(&to_tag(&ok));
    p.send(&ack).await;
    let bye = Req::new("BYE", "a-ring").cseq(2).tagged(&to_tag(&ok));
    assert_eq!(p.ask(&bye).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn cancel_during_the_ring_delay() {
    let p = start(AnswerOptions {
        ring_delay: Duration::from_secs(5),
        ..AnswerOptions::default()
    })
    .await;
    let req = invite("a-cancel", &offer("0", "", "")).branch("z9hG4bKcancelme");
    p.send(&req).await;
    assert_eq!(p.response().await.status, StatusCode::RINGING);
    // CANCEL: the INVITE's branch and CSeq number (RFC 3261 §9.1).
    let cancel = Req::new("CANCEL", "a-cancel").branch("z9hG4bKcancelme");
    p.send(&cancel).await;
    let mut got = [p.final_response().await, p.final_response().await];
    got.sort_by_key(|r| r.status);
    assert_eq!(got[0].status, StatusCode::OK, "the CANCEL's answer");
    assert_eq!(got[1].status, StatusCode::REQUEST_TERMINATED);
    // The handler's 200, due after the ring delay, never goes out.
    match p.recv_within(Duration::from_secs(10)).await {
        Some(Message::Response(r)) => assert_ne!(r.status, StatusCode::OK),
        Some(Message::Request(r)) => panic!("unexpected {}", r.method),
        None => {}
    }
}

#[tokio::test(start_paused = true)]
async fn serve_returns_on_shutdown() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(answer::serve(any_port(), async {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(result.is_ok());
}
