//! The `ivr` example on the test kit (in-memory signalling, paused
//! clock; the media session's RTP on loopback): the caller's digits as
//! SIP INFO (`application/dtmf-relay`) drive the menu — `2` transfers
//! the caller by REFER to the configured target, `0` plays goodbye and
//! hangs up. (`tests/tests/e2e/media.rs` drives it with baresip's RFC
//! 4733 events.)

mod common;

use common::offer;
use examples::ivr::{self, IvrOptions};
use parrot::media::MediaConfig;
use parrot::message::Method;
use parrot::testing::{Call, Failure, Kit};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::sync::mpsc;

const TARGET: &str = "sip:operator@192.0.2.99";

/// The ivr on the kit, its media on loopback; the menu's choices.
async fn start() -> (Kit, mpsc::UnboundedReceiver<char>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let options = IvrOptions {
        transfer_to: Some(TARGET.parse().unwrap()),
        choices: Some(tx),
        ..IvrOptions::default()
    };
    let media = MediaConfig {
        bind_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ..MediaConfig::default()
    };
    (Kit::start(ivr::server(options).media(media)).await, rx)
}

/// A call answered and acknowledged, offering PCMU and telephone-events
/// from a loopback port nobody reads.
async fn answered(kit: &Kit) -> Result<Call, Failure> {
    let sdp = offer("0 101", "a=rtpmap:101 telephone-event/8000\r\n", "");
    let mut call = kit.invite("sip:ivr@192.0.2.1").sdp(&sdp).send().await?;
    let ok = call.expect(200).await?;
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio "));
    call.ack().await?;
    Ok(call)
}

async fn press(call: &mut Call, digit: char) -> Result<(), Failure> {
    let body = format!("Signal={digit}\r\nDuration=160\r\n");
    call.in_dialog(Method::Info)
        .body("application/dtmf-relay", body)
        .send()
        .await?;
    call.expect(200).await.map(|_| ())
}

#[tokio::test(start_paused = true)]
async fn two_transfers_the_caller_by_refer() -> Result<(), Failure> {
    let (kit, mut choices) = start().await;
    let mut call = answered(&kit).await?;
    press(&mut call, '2').await?;
    let refer = call.expect_request(Method::Refer).await?;
    assert_eq!(
        refer.headers.get("Refer-To").map(|v| v.as_str()),
        Some(format!("<{TARGET}>").as_str()),
        "{}",
        kit.ladder()
    );
    call.reply(&refer, 202).await?;
    assert_eq!(choices.recv().await, Some('2'));
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn zero_plays_goodbye_and_hangs_up() -> Result<(), Failure> {
    let (kit, mut choices) = start().await;
    let mut call = answered(&kit).await?;
    press(&mut call, '0').await?;
    let bye = call.expect_request(Method::Bye).await?;
    call.reply(&bye, 200).await?;
    assert_eq!(choices.recv().await, Some('0'));
    assert!(kit.ladder().contains("BYE"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn no_choice_offers_the_menu_three_times_then_hangs_up() -> Result<(), Failure> {
    let (kit, _choices) = start().await;
    let mut call = answered(&kit).await?;
    call.peer().set_timeout(Duration::from_secs(60));
    let start = tokio::time::Instant::now();
    let bye = call.expect_request(Method::Bye).await?;
    // Three 1 s prompts and three 10 s waits, then the 1 s goodbye (the
    // first frame goes out as the call starts: 20 ms less).
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(33) && waited <= Duration::from_secs(35),
        "{waited:?}"
    );
    call.reply(&bye, 200).await
}
