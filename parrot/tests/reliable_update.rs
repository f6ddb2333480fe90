//! Reliable provisional responses (RFC 3262) and UPDATE (RFC 3311) on the
//! server side, against a scripted caller over loopback UDP, on tokio's
//! paused clock: the reliable 18x and its RSeq, the PRACK answered and the
//! handler woken, retransmission at T1 doubling and the 64·T1 give-up,
//! 481 for a PRACK that matches nothing, 421 when the server requires
//! 100rel, the 2xx held back until an SDP-carrying 18x is acknowledged,
//! and the runtime's answers to UPDATE (refresh, unchanged offer, other
//! offer, offers crossing).

use parrot::message::typed::RSeq;
use parrot::message::{HeaderName, Request, Response, StatusCode};
use parrot::prelude::*;
use parrot::server::{ProvisionalError, Reliability};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

mod support;

use support::caller::Caller;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Behaves by the Request-URI's user part.
struct Ringer;

#[uas_handler]
impl Ringer {
    async fn invite(
        &mut self,
        req: &Request,
        cx: &mut Context,
    ) -> Result<Response, ProvisionalError> {
        if cx.in_dialog() {
            return Ok(req.reply(StatusCode::OK).sdp(SDP));
        }
        let user = req.uri.as_sip().and_then(|u| u.user()).unwrap_or_default();
        match user.as_ref() {
            // Waits for the PRACK of a reliable 180.
            "await" => {
                let prack = cx.ring_reliable().await?;
                assert_eq!(prack.method, parrot::message::Method::Prack);
            }
            // A plain ring, made reliable by the caller's Require.
            "ring" => {
                cx.ring()?;
                tokio::time::sleep(Duration::from_secs(40)).await;
            }
            // Early media: a 183 with SDP, then 200 at once (held back by
            // the runtime until the PRACK).
            "early" => {
                cx.send_provisional(req.reply(StatusCode::SESSION_PROGRESS).sdp(SDP))?;
            }
            _ => {}
        }
        Ok(req.reply(StatusCode::OK).sdp(SDP))
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

async fn server(reliability: Reliability) -> SocketAddr {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .reliable_provisionals(reliability)
        .handler(|| Ringer)
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    addr
}

fn assert_reliable(r: &Response) {
    assert!(r.headers.lists(HeaderName::Require, "100rel"), "{r:?}");
    assert!(r.headers.typed::<RSeq>().unwrap().is_ok(), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn reliable_180_is_acknowledged_and_the_handler_goes_on() {
    let mut c = Caller::new(server(Reliability::WhenRequired).await, "rel1").await;
    let invite = c.text("INVITE", "await", "", "Supported: 100rel\r\n", SDP);
    c.send(&invite).await;
    let ringing = c.expect(StatusCode::RINGING, "INVITE").await;
    assert_reliable(&ringing);
    let tag = ringing.headers.to_tag().unwrap();
    let prack = c.prack_for(&ringing, "", "");
    c.send(&prack).await;
    c.expect(StatusCode::OK, "PRACK").await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    assert_eq!(ok.headers.to_tag().unwrap(), tag);
    assert!(ok.headers.lists(HeaderName::Supported, "100rel"), "{ok:?}");
    let ack = c.text("ACK", "bob", &tag, "", "");
    c.send(&ack).await;
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
}

#[tokio::test(start_paused = true)]
async fn unacknowledged_reliable_180_is_retransmitted_then_the_invite_fails() {
    let mut c = Caller::new(server(Reliability::WhenRequired).await, "rel2").await;
    let invite = c.text("INVITE", "ring", "", "Require: 100rel\r\n", SDP);
    c.send(&invite).await;
    let first = c.expect(StatusCode::RINGING, "INVITE").await;
    assert_reliable(&first);
    let start = Instant::now();
    let mut at = Vec::new();
    let last = loop {
        let r = c.recv().await.expect("a response");
        if r.status != StatusCode::RINGING {
            break r;
        }
        // Retransmissions repeat the same RSeq.
        assert_eq!(
            r.headers.get(HeaderName::RSeq),
            first.headers.get(HeaderName::RSeq)
        );
        at.push((Instant::now() - start).as_millis());
    };
    // T1 = 500 ms doubling, no T2 cap: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s;
    // then the 5xx at 64·T1 = 32 s (RFC 3262 §3).
    let want = [500u128, 1500, 3500, 7500, 15500, 31500];
    assert_eq!(at.len(), want.len(), "{at:?}");
    for (got, want) in at.iter().zip(want) {
        assert!(got.abs_diff(want) < 50, "{at:?}");
    }
    assert_eq!(last.status, StatusCode::SERVER_INTERNAL_ERROR, "{last:?}");
    assert!((Instant::now() - start).as_millis().abs_diff(32_000) < 50);
    // The handler's own 200 never goes out.
    assert!(
        c.recv()
            .await
            .is_none_or(|r| r.status == StatusCode::SERVER_INTERNAL_ERROR)
    );
}

#[tokio::test(start_paused = true)]
async fn prack_stops_retransmission_and_wrong_racks_get_481() {
    let mut c = Caller::new(server(Reliability::WhenRequired).await, "rel3").await;
    let invite = c.text("INVITE", "ring", "", "Require: 100rel\r\n", SDP);
    c.send(&invite).await;
    let ringing = c.expect(StatusCode::RINGING, "INVITE").await;
    let tag = ringing.headers.to_tag().unwrap();
    let rseq = ringing.headers.typed::<RSeq>().unwrap().unwrap().0;
    let wrong = format!("RAck: {} 1 INVITE\r\n", rseq + 5);
    let bad = c.text("PRACK", "bob", &tag, &wrong, "");
    c.send(&bad).await;
    c.expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "PRACK")
        .await;
    let prack = c.prack_for(&ringing, "", "");
    c.send(&prack).await;
    // Until the 200 (40 s after the 180), nothing but the PRACK's answer:
    // the 180 is no longer retransmitted.
    c.expect(StatusCode::OK, "PRACK").await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    assert_eq!(ok.headers.to_tag().unwrap(), tag);
    // A PRACK outside any dialog.
    let mut stray = Caller::new(c.server, "rel3b").await;
    let text = stray.text("PRACK", "bob", "", "RAck: 1 1 INVITE\r\n", "");
    stray.send(&text).await;
    stray
        .expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "PRACK")
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_server_requiring_100rel_refuses_callers_without_it() {
    let addr = server(Reliability::Required).await;
    let mut c = Caller::new(addr, "rel4").await;
    let invite = c.text("INVITE", "bob", "", "", SDP);
    c.send(&invite).await;
    let r = c.expect(StatusCode::EXTENSION_REQUIRED, "INVITE").await;
    assert!(r.headers.lists(HeaderName::Require, "100rel"), "{r:?}");
    // With support, the 180 is reliable though the caller did not require it.
    let mut c = Caller::new(addr, "rel4b").await;
    let invite = c.text("INVITE", "ring", "", "Supported: 100rel\r\n", SDP);
    c.send(&invite).await;
    assert_reliable(&c.expect(StatusCode::RINGING, "INVITE").await);
}

#[tokio::test(start_paused = true)]
async fn a_2xx_waits_for_the_prack_of_an_18x_with_sdp() {
    let mut c = Caller::new(server(Reliability::WhenRequired).await, "rel5").await;
    let invite = c.text("INVITE", "early", "", "Require: 100rel\r\n", SDP);
    c.send(&invite).await;
    let progress = c.expect(StatusCode::SESSION_PROGRESS, "INVITE").await;
    assert_reliable(&progress);
    assert!(!progress.body.is_empty());
    // Only retransmissions of the 183 until the PRACK, whatever the wait.
    let again = c.recv().await.unwrap();
    assert_eq!(again.status, StatusCode::SESSION_PROGRESS);
    let prack = c.prack_for(&progress, "", "");
    c.send(&prack).await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let r = c.recv().await.unwrap();
        if r.status == StatusCode::OK {
            got.push(r.headers.cseq().unwrap().method.as_str().to_owned());
        }
    }
    got.sort();
    assert_eq!(got, ["INVITE", "PRACK"]);
}

#[tokio::test(start_paused = true)]
async fn update_refresh_unchanged_offer_new_offer_and_glare() {
    let addr = server(Reliability::WhenRequired).await;
    let mut c = Caller::new(addr, "upd1").await;
    let invite = c.text("INVITE", "bob", "", "", SDP);
    c.send(&invite).await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    let tag = ok.headers.to_tag().unwrap();
    let ack = c.text("ACK", "bob", &tag, "", "");
    c.send(&ack).await;
    // A session refresh without a body.
    let update = c.text("UPDATE", "bob", &tag, "", "");
    c.send(&update).await;
    let r = c.expect(StatusCode::OK, "UPDATE").await;
    assert!(r.headers.get(HeaderName::Contact).is_some(), "{r:?}");
    // An offer that changes nothing: our description back.
    let update = c.text("UPDATE", "bob", &tag, "", SDP);
    c.send(&update).await;
    let r = c.expect(StatusCode::OK, "UPDATE").await;
    assert_eq!(r.body, ok.body);
    // Another stream: only a handler could answer it.
    let two = format!("{SDP}m=video 40002 RTP/AVP 96\r\n");
    let update = c.text("UPDATE", "bob", &tag, "", &two);
    c.send(&update).await;
    c.expect(StatusCode::NOT_ACCEPTABLE_HERE, "UPDATE").await;

    // An early dialog whose 183 carries our offer (the INVITE had none):
    // an UPDATE offer crossing it gets 491.
    let mut c = Caller::new(addr, "upd2").await;
    let invite = c.text("INVITE", "early", "", "Require: 100rel\r\n", "");
    c.send(&invite).await;
    let progress = c.expect(StatusCode::SESSION_PROGRESS, "INVITE").await;
    let tag = progress.headers.to_tag().unwrap();
    let update = c.text("UPDATE", "bob", &tag, "", SDP);
    c.send(&update).await;
    loop {
        let r = c.recv().await.unwrap();
        if r.status == StatusCode::SESSION_PROGRESS {
            continue;
        }
        assert_eq!(r.status, StatusCode::REQUEST_PENDING, "{r:?}");
        break;
    }
}
