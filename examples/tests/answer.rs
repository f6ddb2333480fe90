//! The `answer` example on parrot's test kit (in-memory network, paused
//! clock): ringing, SDP negotiation (the caller's order, refused streams,
//! 488/415/400), calls without an offer, BYE, re-INVITE, CANCEL during the
//! ring delay. `serve` and its shutdown are checked on a real socket.

mod common;

use common::{any_port, offer};
use examples::answer::{self, AnswerOptions};
use parrot::message::Response;
use parrot::sdp::{Direction, SessionDescription};
use parrot::testing::{Failure, Kit};
use std::time::Duration;

/// The Request-URI the calls go to: the kit server's address, which the
/// example puts in its SDP when no media address is configured.
const URI: &str = "sip:answer@192.0.2.1";

async fn start(options: AnswerOptions) -> Kit {
    Kit::start(answer::server(options)).await
}

fn sdp_of(resp: &Response) -> SessionDescription {
    assert_eq!(
        resp.headers.get("Content-Type").map(|t| t.as_str()),
        Some("application/sdp")
    );
    SessionDescription::from_bytes(&resp.body).expect("the server's SDP parses")
}

#[tokio::test(start_paused = true)]
async fn pcma_offer_gets_a_pcma_answer_then_bye() -> Result<(), Failure> {
    let kit = start(AnswerOptions::default()).await;
    let sdp = offer("8", "a=rtpmap:8 PCMA/8000\r\n", "");
    let mut call = kit.invite(URI).sdp(&sdp).send().await?;
    let ok = call.expect(200).await?;
    call.ack().await?;
    let answer = sdp_of(&ok);
    assert_eq!(answer.media.len(), 1);
    let audio = &answer.media[0];
    assert_eq!(audio.formats, ["8"], "nothing the offer lacked");
    assert_eq!(audio.port, 40000);
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    assert_eq!(
        answer.connection.as_ref().unwrap().address,
        "192.0.2.1",
        "the address the call was made to"
    );
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn the_callers_order_is_kept_and_other_streams_refused() -> Result<(), Failure> {
    let options = AnswerOptions {
        media_ip: Some("192.0.2.5".parse().unwrap()),
        media_port: 30000,
        ..AnswerOptions::default()
    };
    let kit = start(options).await;
    let sdp = offer(
        "18 8 0 101",
        "a=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\na=sendonly\r\n",
        "m=video 51372 RTP/AVP 31\r\n",
    );
    let mut call = kit.invite(URI).sdp(&sdp).send().await?;
    let ok = call.expect(200).await?;
    call.ack().await?;
    let answer = sdp_of(&ok);
    assert_eq!(answer.media.len(), 2, "one m= line per offered stream");
    assert_eq!(answer.media[0].formats, ["8", "0"]);
    assert_eq!(answer.media[0].port, 30000);
    assert_eq!(answer.media[0].ptime(), Some(30));
    assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(answer.media[1].port, 0, "video refused");
    assert_eq!(answer.connection.as_ref().unwrap().address, "192.0.2.5");
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn unusable_offers_get_488_415_400() -> Result<(), Failure> {
    let kit = start(AnswerOptions::default()).await;

    let ilbc = offer("18 97", "a=rtpmap:97 iLBC/8000\r\n", "");
    let r = kit.invite(URI).sdp(&ilbc).send().await?.expect(488).await?;
    assert!(r.headers.get("Warning").unwrap().starts_with("305 "));

    let json = kit.invite(URI).body("application/json", "{}");
    let r = json.send().await?.expect(415).await?;
    assert_eq!(r.headers.get("Accept").unwrap(), "application/sdp");

    let garbage = kit.invite(URI).sdp("v=0\r\nthis is not SDP\r\n");
    let r = garbage.send().await?.expect(400).await?;
    assert!(r.headers.contains("Warning"));
    // Each refusal was ACKed (by the kit's peer): nothing is repeated.
    kit.alice().expect_silence(Duration::from_secs(40)).await
}

#[tokio::test(start_paused = true)]
async fn an_invite_without_offer_gets_an_offer_and_the_answer_comes_in_the_ack()
-> Result<(), Failure> {
    let kit = start(AnswerOptions::default()).await;
    let mut call = kit.invite(URI).send().await?;
    let ok = call.expect_final().await?;
    assert_eq!(ok.status.as_u16(), 200);
    let our_offer = sdp_of(&ok);
    assert_eq!(our_offer.media[0].formats, ["0", "8"]);
    call.ack_sdp(&offer("0", "", "")).await?;
    // The call goes on: nothing arrives (no BYE), and a BYE of ours works.
    kit.alice().expect_silence(Duration::from_secs(40)).await?;
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn an_ack_without_the_answer_ends_the_call() -> Result<(), Failure> {
    let kit = start(AnswerOptions::default()).await;
    let mut call = kit.invite(URI).send().await?;
    call.expect_final().await?;
    call.ack().await?;
    // Action::Stop hangs up.
    let bye = call.expect_request(parrot::message::Method::Bye).await?;
    call.reply(&bye, 200).await
}

#[tokio::test(start_paused = true)]
async fn a_reinvite_is_answered_with_the_same_logic() -> Result<(), Failure> {
    let kit = start(AnswerOptions::default()).await;
    let mut call = kit.invite(URI).sdp(&offer("0", "", "")).send().await?;
    let before = sdp_of(&call.expect(200).await?);
    call.ack().await?;

    // Put on hold: the offer becomes sendonly, the answer recvonly, and
    // the o= line is kept with its version bumped (RFC 3264 §8).
    call.reinvite(&offer("0", "a=sendonly\r\n", "")).await?;
    let after = sdp_of(&call.expect(200).await?);
    call.ack().await?;
    assert_eq!(after.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(after.origin.session_id, before.origin.session_id);
    assert_eq!(
        after.origin.session_version,
        before.origin.session_version + 1
    );

    // An unusable re-offer is refused and the call stays up.
    call.reinvite(&offer("18", "", "")).await?;
    call.expect(488).await?;
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn a_ring_delay_sends_180_then_200_in_one_dialog() -> Result<(), Failure> {
    let kit = start(AnswerOptions {
        ring_delay: Duration::from_secs(3),
        ..AnswerOptions::default()
    })
    .await;
    let mut call = kit.invite(URI).sdp(&offer("0", "", "")).send().await?;
    let ringing = call.expect(180).await?;
    let rang_at = tokio::time::Instant::now();
    let ok = call.expect(200).await?;
    assert_eq!(rang_at.elapsed(), Duration::from_secs(3), "the ring delay");
    assert_eq!(ok.headers.to_tag(), ringing.headers.to_tag(), "one dialog");
    call.ack().await?;
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn cancel_during_the_ring_delay() -> Result<(), Failure> {
    let kit = start(AnswerOptions {
        ring_delay: Duration::from_secs(5),
        ..AnswerOptions::default()
    })
    .await;
    let mut call = kit.invite(URI).sdp(&offer("0", "", "")).send().await?;
    call.expect(180).await?;
    // CANCEL: the INVITE's branch and CSeq number (RFC 3261 §9.1).
    call.cancel().await?;
    call.expect(200).await?;
    call.expect(487).await?;
    // The handler's 200, due after the ring delay, never goes out.
    kit.alice().expect_silence(Duration::from_secs(10)).await
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
