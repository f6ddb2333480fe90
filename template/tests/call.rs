//! The server in-process on loopback, driven by Parrot's client (a whole
//! call, OPTIONS, MESSAGE) and, when it is installed, by SIPp's built-in
//! `uac` scenario.

use parrot::client::Client;
use parrot::message::StatusCode;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::time::timeout;

/// The longest any step may take.
const WAIT: Duration = Duration::from_secs(10);

/// An audio offer with PCMU, as a softphone sends it.
const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Starts the server on a free loopback port; returns its UDP address.
async fn start_server() -> SocketAddr {
    let server = {{crate_name}}::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("the server binds");
    let addr = server.local_addr(Protocol::Udp).expect("a UDP listener");
    tokio::spawn(server.serve().into_future());
    addr
}

/// A client on a free loopback port.
async fn client() -> Client {
    Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .udp_only()
        .bind()
        .await
        .expect("the client binds")
}

#[tokio::test]
async fn a_call_is_answered_with_sdp_and_hung_up() {
    let server = start_server().await;
    let client = client().await;
    // INVITE → 200 (with the answer) → ACK, sent by the client.
    let pending = timeout(WAIT, client.invite(format!("sip:bob@{server}"), OFFER))
        .await
        .expect("INVITE sent in time")
        .expect("INVITE sent");
    let mut call = timeout(WAIT, pending.wait())
        .await
        .expect("answered in time")
        .expect("answered");
    assert_eq!(call.response().status, StatusCode::OK);
    let answer = call.remote_sdp().expect("an SDP answer");
    assert!(answer.contains("m=audio 40000 RTP/AVP 0"), "{answer}");
    // BYE → 200.
    let bye = timeout(WAIT, call.bye())
        .await
        .expect("BYE answered in time")
        .expect("BYE answered");
    assert_eq!(bye.status, StatusCode::OK);
}

#[tokio::test]
async fn an_offer_without_g711_is_refused() {
    let server = start_server().await;
    let client = client().await;
    let opus = OFFER
        .replace("RTP/AVP 0", "RTP/AVP 96")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:96 opus/48000/2");
    let pending = client
        .invite(format!("sip:bob@{server}"), opus)
        .await
        .expect("INVITE sent");
    let refused = timeout(WAIT, pending.wait())
        .await
        .expect("answered in time")
        .expect_err("refused");
    assert_eq!(refused.status(), Some(StatusCode::NOT_ACCEPTABLE_HERE));
}

#[tokio::test]
async fn options_and_message_get_200() {
    let server = start_server().await;
    let client = client().await;
    let options = timeout(WAIT, client.options(format!("sip:{server}")))
        .await
        .expect("OPTIONS answered in time")
        .expect("OPTIONS answered");
    assert_eq!(options.status, StatusCode::OK);
    let message = timeout(
        WAIT,
        client.message(format!("sip:bob@{server}"), "text/plain", "hello"),
    )
    .await
    .expect("MESSAGE answered in time")
    .expect("MESSAGE answered");
    assert_eq!(message.status, StatusCode::OK);
}

/// SIPp's built-in `uac` scenario, five calls, against the server. Skipped
/// (with a note) when SIPp is not installed: `sipp` on PATH, or the binary
/// named by `SIPP`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_are_answered() {
    let sipp = std::env::var("SIPP").unwrap_or_else(|_| "sipp".into());
    let server = start_server().await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sipp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for SIPp's files");
    // A free local port for SIPp (it would take 5060 otherwise).
    let local_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let args = [
        server.to_string(),
        "-sn".into(),
        "uac".into(),
        "-t".into(),
        "u1".into(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        local_port.to_string(),
        "-m".into(),
        "5".into(),
        "-r".into(),
        "5".into(),
        "-rp".into(),
        "1000".into(),
        "-timeout".into(),
        "20s".into(),
        "-timeout_error".into(),
        "-recv_timeout".into(),
        "10000".into(),
        "-nostdin".into(),
        "-trace_err".into(),
        "-error_file".into(),
        dir.join("errors.log").display().to_string(),
    ];
    let child = tokio::process::Command::new(&sipp)
        .args(&args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "note: `{sipp}` not found, SIPp test skipped (install SIPp: Debian/Ubuntu package sip-tester)"
            );
            return;
        }
        Err(e) => panic!("cannot run `{sipp}`: {e}"),
    };
    let output = timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("SIPp finishes within 30 s")
        .expect("SIPp's exit status");
    let errors = std::fs::read_to_string(dir.join("errors.log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "SIPp failed ({}): {}\n{errors}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
