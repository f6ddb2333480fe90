//! The `busy` example on parrot's test kit (in-memory network, paused
//! clock): 486 Busy Here, 603 Decline (`--reject`), and answer-then-BYE
//! through `Action::Stop` (`--hangup`). `serve` and `serve_mode` and
//! their shutdown are checked on a real socket.

mod common;

use common::{any_port, offer};
use examples::busy::{self, Decline, HangUp, Mode};
use parrot::Server;
use parrot::message::Method;
use parrot::testing::{Failure, Kit};
use std::time::Duration;

const URI: &str = "sip:busy@192.0.2.1";

#[tokio::test(start_paused = true)]
async fn invite_gets_486_busy_here() -> Result<(), Failure> {
    let kit = Kit::start(busy::server()).await;
    let mut call = kit.invite(URI).sdp(&offer("0 8", "", "")).send().await?;
    let r = call.expect(486).await?;
    assert!(r.headers.to_tag().is_some(), "a To tag on the final answer");
    // The kit's peer ACKed it: the 486 is not repeated.
    kit.alice().expect_silence(Duration::from_secs(40)).await
}

#[tokio::test(start_paused = true)]
async fn reject_gets_603_decline() -> Result<(), Failure> {
    let kit = Kit::start(Server::builder().handler(|| Decline)).await;
    let mut call = kit.invite(URI).sdp(&offer("0 8", "", "")).send().await?;
    let r = call.expect(603).await?;
    assert_eq!(r.reason, "Decline");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn hangup_answers_then_stops_with_bye() -> Result<(), Failure> {
    let kit = Kit::start(Server::builder().handler(|| HangUp)).await;
    let mut call = kit.invite(URI).sdp(&offer("0 8", "", "")).send().await?;
    let ok = call.expect(200).await?;
    assert!(!ok.body.is_empty(), "an SDP answer");
    call.ack().await?;
    let bye = call.expect_request(Method::Bye).await?;
    assert_eq!(
        bye.headers.from_tag().unwrap().as_str(),
        call.remote_tag().unwrap()
    );
    call.reply(&bye, 200).await?;
    // The dialog is gone (a request reaching its task while it ends is
    // answered 481 too).
    call.bye().await?;
    call.expect(481).await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn serve_and_serve_mode_return_on_shutdown() {
    for mode in [None, Some(Mode::Reject), Some(Mode::HangUp)] {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async {
            let _ = rx.await;
        };
        let server = match mode {
            None => tokio::spawn(busy::serve(any_port(), signal)),
            Some(m) => tokio::spawn(busy::serve_mode(any_port(), signal, m)),
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve returns")
            .unwrap();
        assert!(result.is_ok(), "{mode:?}");
    }
}
