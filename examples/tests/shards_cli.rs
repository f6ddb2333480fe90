//! `answer --shards 2`: the current-thread scheduler on every shard, SIPp's
//! calls over UDP and over TCP all answered, both shards taking calls (each
//! log line names its shard), and a clean exit on SIGINT. `proxy --shards
//! 2` in front of `answer`: the callee's responses reach the shard whose
//! client transaction waits for them, whichever shard reads them.

mod common;

use common::process::{Process, sipp_uac};
use std::net::SocketAddr;
use std::process::Command;

/// Starts `bin` with `args` and returns it with its UDP address once it
/// serves.
fn start(bin: &str, args: &[&str]) -> (Process, SocketAddr) {
    let server = Process::spawn(
        Command::new(bin)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1"),
    );
    let addr = server.listening("Udp");
    (server, addr)
}

/// Counts each shard's lines containing `what`, over the next `n` of them.
fn per_shard(server: &Process, what: &str, n: usize) -> [u32; 2] {
    let mut on = [0u32; 2];
    for _ in 0..n {
        let line = server.wait_for(what);
        let shard = if line.contains("shard{index=1}") {
            1
        } else {
            assert!(line.contains("shard{index=0}"), "{line}");
            0
        };
        on[shard] += 1;
    }
    on
}

#[test]
fn a_sharded_proxy_relays_every_call() {
    let (_callee, callee) = start(env!("CARGO_BIN_EXE_answer"), &[]);
    let target = format!("sip:{callee}");
    let (mut proxy, addr) = start(
        env!("CARGO_BIN_EXE_proxy"),
        &["--shards", "2", "--to", &target],
    );
    proxy.wait_for("serving with shards");
    // INVITE, ACK and BYE through the proxy (it record-routes).
    sipp_uac(addr, "u1", 100, 50);
    let on = per_shard(&proxy, "proxying", 100);
    assert!(on[0] > 0 && on[1] > 0, "calls per shard: {on:?}");
    let status = proxy.interrupt();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn answer_with_two_shards_answers_sipp_on_both() {
    let (mut server, addr) = start(env!("CARGO_BIN_EXE_answer"), &["--shards", "2"]);
    server.wait_for("serving with shards");
    sipp_uac(addr, "u1", 100, 50);
    sipp_uac(addr, "t1", 40, 50);
    // Each call's "incoming call" line carries its shard's span.
    let on = per_shard(&server, "incoming call", 140);
    assert!(on[0] > 0 && on[1] > 0, "calls per shard: {on:?}");
    // SIGINT: a graceful shutdown of both shards, exit status 0.
    let status = server.interrupt();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn the_runtime_of_a_sharded_server_is_current_thread() {
    let server = Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_answer"))
            .args(["--listen", "127.0.0.1:0", "--shards", "2"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1"),
    );
    let runtime = server.wait_for("runtime started");
    assert!(runtime.contains("shards=2"), "{runtime}");
    assert!(runtime.contains("current-thread"), "{runtime}");
}
