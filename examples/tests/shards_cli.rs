//! `answer --shards 2`: the current-thread scheduler on every shard, SIPp's
//! calls over UDP and over TCP all answered, both shards taking calls (each
//! log line names its shard), and a clean exit on SIGINT.

mod common;

use common::process::Process;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

/// Runs SIPp's built-in caller (INVITE, ACK, BYE) for `calls` calls over
/// `transport` (`u1` or `t1`); every call must succeed.
fn sipp(addr: SocketAddr, transport: &str, calls: u32) {
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
        .args(["-t", transport, "-m", &calls.to_string(), "-r", "50"])
        .args(["-timeout", "60s", "-timeout_error", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sipp (Debian package sip-tester) runs");
    assert!(status.success(), "SIPp over {transport}: {status}");
}

#[test]
fn answer_with_two_shards_answers_sipp_on_both() {
    let mut server = Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_answer"))
            .args(["--listen", "127.0.0.1:0", "--shards", "2"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1"),
    );
    let runtime = server.wait_for("runtime started");
    assert!(runtime.contains("shards=2"), "{runtime}");
    assert!(runtime.contains("current-thread"), "{runtime}");
    let line = server.wait_for("protocol=Udp");
    let addr: SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    server.wait_for("serving with shards");

    sipp(addr, "u1", 100);
    sipp(addr, "t1", 40);

    // Each call's "incoming call" line carries its shard's span.
    let mut on = [0u32; 2];
    for _ in 0..140 {
        let line = server.wait_for("incoming call");
        let shard = if line.contains("shard{index=1}") {
            1
        } else {
            assert!(line.contains("shard{index=0}"), "{line}");
            0
        };
        on[shard] += 1;
    }
    assert!(on[0] > 0 && on[1] > 0, "calls per shard: {on:?}");

    // SIGINT: a graceful shutdown of both shards, exit status 0.
    let status = server.interrupt();
    assert!(status.success(), "exit status {status}");
}
