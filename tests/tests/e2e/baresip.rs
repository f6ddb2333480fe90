//! A real baresip (Debian `baresip-core`) calling the `answer` example with
//! its extensions on: reliable provisional responses when the caller
//! supports them (`--100rel supported`) and a 90 s session timer that the
//! server refreshes. baresip 1.0 (the Debian package) does not support
//! 100rel or session timers itself, so the server must serve it plainly
//! (an unreliable 180 is not even needed) and be the refresher (RFC 4028
//! §9): 45 s into the call it sends a re-INVITE (baresip does not allow
//! UPDATE), which baresip accepts, and the call lasts until baresip hangs
//! up at 55 s. Real time: about a minute.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use examples::answer::AnswerOptions;
use parrot::server::Reliability;
use tests::Server;
use tests::baresip::{configure, port_pair};

/// How long baresip keeps the call before quitting (`-t`).
const CALL_SECONDS: u64 = 55;

#[test]
fn baresip_calls_answer_with_100rel_and_session_timers_on() {
    let server = Server::start("answer (100rel, 90 s session timer)", |listen, shutdown| {
        let options = AnswerOptions {
            session_expires: Some(Duration::from_secs(90)),
            reliable: Reliability::WhenSupported,
            ..AnswerOptions::default()
        };
        examples::answer::serve_with(listen, shutdown, options)
    });
    let dir = std::env::temp_dir().join(format!("parrot-e2e-baresip-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let port = port_pair();
    configure(&dir, port, None);
    let started = Instant::now();
    let child = Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .arg("-e")
        .arg(format!("/dial sip:bob@{}", server.addr()))
        .arg("-t")
        .arg(CALL_SECONDS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baresip (Debian package baresip-core) must be installed");
    // Bounded: baresip quits by itself after CALL_SECONDS; it is killed by
    // pid if it has not 30 s later.
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished
            .recv_timeout(Duration::from_secs(CALL_SECONDS + 30))
            .is_err()
        {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    // The process is reaped: the watchdog must not kill its pid any more.
    let _ = done.send(());
    watchdog.join().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tail: String = log
        .lines()
        .filter(|l| !l.contains("bit/s"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(log.contains("Call established"), "{tail}");
    // The server refreshed the session (RFC 4028 §9: baresip does not
    // support timers, so the server is the refresher).
    assert!(log.contains("got re-INVITE"), "{tail}");
    // The call lasted until baresip hung up, past the refresh.
    let duration = log
        .split("terminated (duration: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|secs| secs.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no call end in the log:\n{tail}"));
    assert!(
        duration + 2 >= CALL_SECONDS,
        "the call ended after {duration} s:\n{tail}"
    );
    assert!(started.elapsed() < Duration::from_secs(CALL_SECONDS + 30));
    server.stop();
    let _ = fs::remove_dir_all(&dir);
}
