//! The `busy` example over loopback UDP: 486 Busy Here, 603 Decline
//! (`--reject`), and answer-then-BYE through `Action::Stop` (`--hangup`).

mod common;

use common::{Peer, Req, any_port, offer, run, to_tag, udp_addr};
use examples::busy::{self, Decline, HangUp, Mode};
use parrot::Server;
use parrot::message::StatusCode;
use parrot::server::UasHandler;
use std::time::Duration;

async fn start<H: UasHandler>(factory: impl Fn() -> H + Send + Sync + 'static) -> Peer {
    let server = Server::builder()
        .listen(any_port())
        .handler(factory)
        .bind()
        .await
        .expect("bind");
    let addr = udp_addr(&server);
    run(server);
    Peer::new(addr).await
}

fn invite(call: &str) -> Req {
    Req::new("INVITE", call).body("application/sdp", &offer("0 8", "", ""))
}

#[tokio::test]
async fn invite_gets_486_busy_here() {
    let server = busy::bind(any_port()).await.expect("bind");
    let p = Peer::new(udp_addr(&server)).await;
    run(server);
    let r = p.ask(&invite("b-486")).await;
    assert_eq!(r.status, StatusCode::BUSY_HERE);
    assert!(r.headers.to_tag().is_some(), "a To tag on the final answer");
}

#[tokio::test]
async fn reject_gets_603_decline() {
    let p = start(|| Decline).await;
    let r = p.ask(&invite("b-603")).await;
    assert_eq!(r.status, StatusCode::DECLINE);
    assert_eq!(r.reason, "Decline");
}

#[tokio::test(start_paused = true)]
async fn hangup_answers_then_stops_with_bye() {
    let p = start(|| HangUp).await;
    let req = invite("b-hangup");
    let ok = p.ask(&req).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(!ok.body.is_empty(), "an SDP answer");
    let tag = to_tag(&ok);
    p.send(&req.clone().method("ACK").no_body().tagged(&tag))
        .await;
    let bye = p.request().await;
    assert_eq!(bye.method.as_str(), "BYE");
    assert_eq!(bye.headers.from_tag().unwrap(), tag.as_str());
    p.ok(&bye).await;
    // The dialog is gone (a request reaching its task while it ends is
    // answered 481 too).
    let late = Req::new("BYE", "b-hangup").cseq(2).tagged(&tag);
    assert_eq!(
        p.ask(&late).await.status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
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
