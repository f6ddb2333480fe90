//! An example binary run as a process: its log lines (stderr) on a
//! channel, and the process killed when the test ends.

use super::WAIT;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// A running process, killed when dropped unless taken.
pub struct Process {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
}

impl Process {
    /// Starts `command` with no stdin or stdout and its stderr read line
    /// by line.
    pub fn spawn(command: &mut Command) -> Process {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Process {
            child: Some(child),
            lines,
        }
    }

    /// Waits for a log line containing `what`; returns it.
    pub fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line with {what:?}");
    }

    /// Waits for the server's "listening" line for `protocol` (as the
    /// log writes it: `Udp`, `Tls`...) and returns the bound address.
    pub fn listening(&self, protocol: &str) -> SocketAddr {
        let line = self.wait_for(&format!("protocol={protocol}"));
        line.split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// Sends SIGINT and waits (at most [`WAIT`]) for the graceful
    /// shutdown's "server stopped" line and for the process to exit;
    /// returns its exit status.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let pid = self.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
        self.wait_for("server stopped");
        let mut child = self.take();
        let (tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        exited
            .recv_timeout(WAIT)
            .expect("still running after SIGINT")
            .unwrap()
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("not taken").id()
    }

    /// The process, no longer killed when this is dropped.
    pub fn take(&mut self) -> Child {
        self.child.take().expect("not taken")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs SIPp's built-in caller (INVITE, ACK, BYE) against `addr`: `calls`
/// calls over `transport` (`u1`, `t1`) at `rate` a second, each bounded by
/// a 60 s timeout; every call must succeed.
pub fn sipp_uac(addr: SocketAddr, transport: &str, calls: u32, rate: u32) {
    let status = Command::new("sipp")
        .args([
            "-sn",
            "uac",
            &addr.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            "0",
        ])
        .args([
            "-t",
            transport,
            "-m",
            &calls.to_string(),
            "-r",
            &rate.to_string(),
        ])
        .args(["-timeout", "60s", "-timeout_error", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sipp (Debian package sip-tester) runs");
    assert!(status.success(), "SIPp over {transport}: {status}");
}
