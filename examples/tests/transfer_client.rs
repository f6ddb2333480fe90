//! A blind transfer (RFC 3515) from parrot's client: a call to one
//! `answer` server, referred to a second one; the transferee's progress
//! reports come back through the REFER's implicit subscription.

mod common;

use common::{any_port, run, udp_addr};
use examples::answer::{self, AnswerOptions};
use parrot::client::Client;
use parrot::message::StatusCode;
use std::time::Duration;
use tokio::time::timeout;

const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

#[tokio::test]
async fn a_blind_transfer_reports_100_then_200() {
    let transferee = answer::bind(any_port(), AnswerOptions::default())
        .await
        .expect("bind");
    let bob = udp_addr(&transferee);
    run(transferee);
    let target = answer::bind(any_port(), AnswerOptions::default())
        .await
        .expect("bind");
    let carol = udp_addr(&target);
    run(target);

    let client = Client::builder()
        .listen(any_port())
        .from("sip:alice@127.0.0.1")
        .udp_only()
        .bind()
        .await
        .unwrap();
    let mut call = client
        .invite(format!("sip:bob@{bob}"), OFFER)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let mut referral = call.refer(format!("sip:carol@{carol}")).await.unwrap();
    assert_eq!(referral.response().status, StatusCode::ACCEPTED);
    let mut seen = Vec::new();
    while let Some(status) = timeout(Duration::from_secs(10), referral.next())
        .await
        .expect("a report within 10 s")
    {
        seen.push(status.as_u16());
    }
    assert_eq!(seen, [100, 200]);
    // The transferor hangs up once the transfer succeeded (RFC 5589 §6).
    assert_eq!(call.bye().await.unwrap().status, StatusCode::OK);
}
