//! A real baresip (Debian `baresip-core` 1.0) transferring its call with
//! the `answer` example (RFC 3515, RFC 5589 §6): baresip calls `answer`,
//! then sends it a REFER to a second server, `carol` (a small counting
//! handler here); `answer` accepts it with `202`, calls carol, and reports
//! the progress in `message/sipfrag` NOTIFYs; on the final `200` baresip
//! ends the first call ("Call transfered") with BYE.
//!
//! baresip is driven through its `ctrl_tcp` module (netstring-framed JSON
//! commands and events on a TCP port): `dial`, then — once the call is
//! established — `transfer`, then `quit`. Each step waits for baresip's
//! event, never for a fixed time. Real time: a second or two.

use std::fs;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use examples::answer::AnswerOptions;
use parrot::prelude::*;
use parrot::sdp::{SessionDescription, answer_audio};
use tests::baresip::{Ctrl, configure, port_pair, reap};
use tests::{LOOPBACK, Server, free_port};

/// Calls carol answered.
static CAROL_CALLS: AtomicUsize = AtomicUsize::new(0);

/// The transfer target: answers every call with G.711 and counts it.
struct Carol;

#[uas_handler]
impl Carol {
    async fn invite(&mut self, req: &Request) -> Response {
        let offer = std::str::from_utf8(&req.body)
            .ok()
            .and_then(|s| s.parse::<SessionDescription>().ok());
        match offer.and_then(|o| answer_audio(&o, LOOPBACK, 41000)) {
            Some(answer) => {
                if req.headers.to_tag().is_none() {
                    CAROL_CALLS.fetch_add(1, Ordering::SeqCst);
                }
                req.reply(StatusCode::OK).sdp(answer.to_string())
            }
            None => req.reply(StatusCode::NOT_ACCEPTABLE_HERE),
        }
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

#[test]
fn baresip_transfers_its_call_with_answer_to_a_second_server() {
    let answer = Server::start("answer (transferee)", |listen, shutdown| {
        examples::answer::serve_with(listen, shutdown, AnswerOptions::default())
    });
    let carol = Server::start("carol (transfer target)", |listen, shutdown| async move {
        parrot::Server::builder()
            .udp(listen)
            .tcp(listen)
            .handler(|| Carol)
            .bind()
            .await?
            .serve()
            .with_graceful_shutdown(shutdown)
            .await
    });

    let dir = std::env::temp_dir().join(format!("parrot-e2e-transfer-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let port = port_pair();
    let ctrl_port = free_port();
    configure(&dir, port, Some(ctrl_port));
    let started = Instant::now();
    let child = Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        // A bound on the run whatever happens.
        .arg("-t")
        .arg("40")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baresip (Debian package baresip-core) must be installed");
    let mut ctrl = Ctrl::connect(SocketAddr::from((LOOPBACK, ctrl_port)));

    ctrl.command("dial", &format!("sip:bob@{}", answer.addr()));
    ctrl.wait_for(&["\"event\":true", "CALL_ESTABLISHED"], "CALL_CLOSED");

    let target = format!("sip:carol@{}", carol.addr());
    ctrl.command("transfer", &target);
    // RFC 3515 §2.4.5: the final NOTIFY's sipfrag is carol's 200; baresip
    // then ends the call it transferred.
    let closed = ctrl.wait_for(&["\"event\":true", "CALL_CLOSED"], "TRANSFER_FAILED");
    ctrl.command("quit", "");
    let log = reap(child);
    let _ = fs::remove_dir_all(&dir);
    assert!(
        closed.contains("Call transfered"),
        "{closed}\n{:#?}\n{log}",
        ctrl.seen
    );
    assert_eq!(CAROL_CALLS.load(Ordering::SeqCst), 1, "{log}");
    assert!(log.contains("transferring call"), "{log}");
    for line in log.lines().filter(|l| l.contains("transfer")) {
        eprintln!("[transfer] baresip: {line}");
    }
    eprintln!("[transfer] done in {:?}", started.elapsed());
    answer.stop();
    carol.stop();
}
