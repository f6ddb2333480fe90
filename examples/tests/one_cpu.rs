//! `answer` confined to one CPU (as the load benchmark runs it) takes the
//! current-thread scheduler, answers SIPp's calls on it and shuts down
//! cleanly on SIGINT.

mod common;

use common::process::{Process, sipp_uac};
use std::process::Command;

/// The first CPU this process may run on (`Cpus_allowed_list` of
/// /proc/self/status, e.g. `0-1` or `2,5`).
fn first_allowed_cpu() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list in /proc/self/status")
        .trim();
    list.split([',', '-']).next().unwrap().parse().unwrap()
}

#[test]
fn answer_on_one_cpu_runs_current_thread_and_answers_sipp() {
    let cpu = first_allowed_cpu().to_string();
    let mut server = Process::spawn(
        Command::new("taskset")
            .args(["-c", &cpu, env!("CARGO_BIN_EXE_answer")])
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1"),
    );
    let runtime = server.wait_for("runtime started");
    assert!(runtime.contains("cpus=1"), "{runtime}");
    assert!(runtime.contains("current-thread"), "{runtime}");
    let addr = server.listening("Udp");
    // SIPp's built-in caller: INVITE, ACK, BYE; every call must succeed.
    sipp_uac(addr, "u1", 20, 20);

    // SIGINT: a graceful shutdown, exit status 0.
    let status = server.interrupt();
    assert!(status.success(), "exit status {status}");
}
