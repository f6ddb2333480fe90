//! The example binaries' command lines, run as processes: `--help` works
//! and tells what each does, and refused command lines exit with status 2
//! before anything starts listening.

use std::process::{Command, Output};

/// Every binary, with words its `--help` must contain.
const BINARIES: &[(&str, &str, &[&str])] = &[
    (
        "answer",
        env!("CARGO_BIN_EXE_answer"),
        &[
            "--ring-delay",
            "180 Ringing comes first",
            "[default: 40000]",
            "--tls <ADDR>",
            "--cert <FILE>",
            "--trace-sip",
            "--log-json",
            "--metrics <ADDR>",
        ],
    ),
    (
        "busy",
        env!("CARGO_BIN_EXE_busy"),
        &["486 Busy Here", "--reject", "--hangup"],
    ),
    (
        "call",
        env!("CARGO_BIN_EXE_call"),
        &["<URI>", "--user", "--password"],
    ),
    ("im", env!("CARGO_BIN_EXE_im"), &["415", "--listen"]),
    ("inspect", env!("CARGO_BIN_EXE_inspect"), &["[FILE]..."]),
    (
        "parrot-trace",
        env!("CARGO_BIN_EXE_parrot-trace"),
        &[
            "<INPUT>",
            "pcapng",
            "--format <FORMAT>",
            "mermaid",
            "--call <CALL-ID>",
            "--name <ADDR=NAME>",
        ],
    ),
    (
        "pbx",
        env!("CARGO_BIN_EXE_pbx"),
        &[
            "--user <NAME:PASSWORD>",
            "407 Proxy Authentication Required",
            "--voicemail-seconds <SECONDS>",
            "[default: memory]",
            "--tls <ADDR>",
        ],
    ),
    (
        "proxy",
        env!("CARGO_BIN_EXE_proxy"),
        &["--to <URI>", "--no-record-route"],
    ),
    (
        "registrar",
        env!("CARGO_BIN_EXE_registrar"),
        &[
            "--auth <USER:PASSWORD>",
            "[default: SHA-256,MD5]",
            "[default: 300]",
        ],
    ),
];

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"))
}

#[test]
fn every_binary_explains_itself() {
    for (name, binary, words) in BINARIES {
        for flag in ["--help", "-h"] {
            let out = run(binary, &[flag]);
            assert!(out.status.success(), "{name} {flag}: {:?}", out.status);
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(
                help.contains(&format!("Usage: {name}")),
                "{name} {flag}:\n{help}"
            );
            if flag == "--help" {
                // Wrapped to some width: compare with single spaces.
                let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
                for w in *words {
                    assert!(flat.contains(w), "{name} --help lacks {w:?}:\n{help}");
                }
            }
        }
    }
}

#[test]
fn refused_command_lines_exit_with_status_2() {
    let bin = |name: &str| {
        BINARIES
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, b, _)| *b)
            .unwrap()
    };
    for (name, args) in [
        ("answer", &["--bogus"][..]),
        ("answer", &["--ring-delay", "soon"]),
        ("busy", &["--reject", "--hangup"]),
        ("call", &[]),
        ("call", &["sip:bob@192.0.2.4", "--user", "alice"]),
        ("im", &["--listen", "nowhere"]),
        ("inspect", &["--bogus"]),
        ("parrot-trace", &[]),
        ("parrot-trace", &["--format", "png", "call.pcap"]),
        ("parrot-trace", &["--name", "alice", "call.pcap"]),
        ("pbx", &["--user", "alice"]),
        ("pbx", &["--realm", "example.com"]),
        ("pbx", &["--store", "disk"]),
        ("proxy", &[]),
        ("proxy", &["--to", "10.0.0.2"]),
        ("registrar", &["--realm", "example.com"]),
        ("registrar", &["--auth", "alice"]),
    ] {
        let out = run(bin(name), args);
        assert_eq!(out.status.code(), Some(2), "{name} {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error:"), "{name} {args:?}: {err}");
    }
}

#[test]
fn the_pbx_stops_when_its_redis_store_is_unreachable() {
    // A port nothing listens on: the store cannot connect, the pbx says
    // so and stops (status 1) instead of serving without its bindings.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = run(
        env!("CARGO_BIN_EXE_pbx"),
        &[
            "--store",
            &format!("redis://127.0.0.1:{port}"),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("redis store"), "{err}");
}
