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
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use examples::answer::AnswerOptions;
use parrot::prelude::*;
use parrot::sdp::{SessionDescription, answer_audio};
use tests::baresip::{configure, port_pair};
use tests::{LOOPBACK, Server, free_port};

/// How long any one step may take before the test fails.
const STEP: Duration = Duration::from_secs(15);

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

/// baresip's `ctrl_tcp` connection: netstrings of JSON both ways.
struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Every message read, for the failure messages.
    seen: Vec<String>,
}

impl Ctrl {
    /// Connects to `addr`, retrying until baresip listens.
    fn connect(addr: SocketAddr) -> Ctrl {
        let start = Instant::now();
        loop {
            match TcpStream::connect(addr) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                    return Ctrl {
                        stream,
                        buf: Vec::new(),
                        seen: Vec::new(),
                    };
                }
                Err(e) if start.elapsed() > STEP => panic!("baresip's ctrl_tcp on {addr}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Sends the menu command `command` with `params`.
    fn command(&mut self, command: &str, params: &str) {
        let json = format!(r#"{{"command":"{command}","params":"{params}","token":"{command}"}}"#);
        let framed = format!("{}:{json},", json.len());
        self.stream.write_all(framed.as_bytes()).unwrap();
    }

    /// The next complete netstring, if one arrives within the read
    /// timeout.
    fn next(&mut self) -> Option<String> {
        loop {
            if let Some(colon) = self.buf.iter().position(|&b| b == b':')
                && let Ok(len) = std::str::from_utf8(&self.buf[..colon])
                    .unwrap_or_default()
                    .parse::<usize>()
                && self.buf.len() > colon + len
            {
                let msg =
                    String::from_utf8_lossy(&self.buf[colon + 1..colon + 1 + len]).into_owned();
                self.buf.drain(..colon + len + 2);
                self.seen.push(msg.clone());
                return Some(msg);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Waits for a message containing every one of `parts`; fails the test
    /// after [`STEP`], or at once on a message containing `fatal`.
    fn wait_for(&mut self, parts: &[&str], fatal: &str) -> String {
        let start = Instant::now();
        while start.elapsed() < STEP {
            if let Some(msg) = self.next() {
                assert!(
                    !msg.contains(fatal),
                    "baresip reported {msg}\nafter: {:#?}",
                    self.seen
                );
                if parts.iter().all(|p| msg.contains(p)) {
                    return msg;
                }
            }
        }
        panic!(
            "no {parts:?} from baresip in {STEP:?}; saw {:#?}",
            self.seen
        );
    }
}

/// Kills baresip by its pid if it is still running, and reaps it.
fn reap(mut child: Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
