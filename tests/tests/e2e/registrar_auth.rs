//! The `registrar` example with Digest authentication on (RFC 3261 §10.3
//! step 3, §22; RFC 7616), against SIPp's own digest code: the
//! `[authentication]` keyword answering `401`s marked `auth="true"`, with
//! `-au`/`-ap` or `username=`/`password=`.
//!
//! SIPp 3.6 computes MD5 only, and takes the `algorithm` of the first
//! challenge it sees: these servers offer MD5 alone (SHA-256 and
//! SHA-512-256 are covered by the unit tests and `examples/tests`).

use std::net::UdpSocket;
use std::time::Duration;

use examples::registrar::{Location, RegistrarOptions};
use parrot::auth::{Algorithm, DigestAuthenticator, Users};
use tests::{LOOPBACK, Server, Sipp, SippRun, Transport};

const REALM: &str = "parrot.test";

/// `registrar` requiring Digest authentication: users alice (password
/// wonderland) and bob (builder), realm `parrot.test`, MD5, nonces living
/// `nonce_lifetime`.
fn registrar_with_auth(nonce_lifetime: Duration) -> Server {
    Server::start("registrar (digest)", move |listen, shutdown| {
        let auth = DigestAuthenticator::new(
            REALM,
            Users::new()
                .with("alice", "wonderland")
                .with("bob", "builder"),
        )
        .with_algorithms(&[Algorithm::Md5])
        .with_nonce_lifetime(nonce_lifetime);
        let options = RegistrarOptions::default().with_auth(auth);
        examples::registrar::serve_with(listen, shutdown, options, Location::new())
    })
}

/// `scenario` as sip:alice@host (`-s alice`) with alice's credentials
/// (`-au alice -ap wonderland`), `calls` calls one at a time (they share
/// the address-of-record), all of which must succeed.
fn run_as_alice(server: &Server, scenario: &str, transport: Transport, calls: u32) -> SippRun {
    let run = sipp_as_alice(server, scenario, transport, calls).run();
    run.assert_all_successful();
    run
}

fn sipp_as_alice(server: &Server, scenario: &str, transport: Transport, calls: u32) -> Sipp {
    Sipp::scenario(scenario, server.addr())
        .transport(transport)
        .calls(calls)
        .limit(1)
        .rate(10)
        .arg("-s")
        .arg("alice")
        .arg("-au")
        .arg("alice")
        .arg("-ap")
        .arg("wonderland")
}

#[test]
fn register_with_digest_over_udp() {
    let server = registrar_with_auth(Duration::from_secs(300));
    run_as_alice(&server, "register_auth.xml", Transport::Udp, 5);
    server.stop();
}

#[test]
fn register_with_digest_over_tcp() {
    let server = registrar_with_auth(Duration::from_secs(300));
    run_as_alice(&server, "register_auth.xml", Transport::Tcp, 5);
    server.stop();
}

#[test]
fn wrong_password_and_unknown_user_get_401_another_aor_403() {
    let server = registrar_with_auth(Duration::from_secs(300));
    run_as_alice(&server, "register_auth_wrong.xml", Transport::Udp, 3);
    server.stop();
}

#[test]
fn an_expired_nonce_gets_stale_true() {
    let server = registrar_with_auth(Duration::from_secs(2));
    run_as_alice(&server, "register_auth_stale.xml", Transport::Udp, 2);
    server.stop();
}

#[test]
fn a_replayed_nonce_count_is_refused() {
    let server = registrar_with_auth(Duration::from_secs(300));
    // The scenario replays nonce and nonce-count through SIPp itself (the
    // 401 retransmitted for a retransmitted REGISTER restarts its count).
    let run = sipp_as_alice(&server, "register_auth_replay.xml", Transport::Udp, 3)
        .no_retransmissions()
        .trace_messages(true)
        .run();
    run.assert_all_successful();

    // And byte for byte: every Authorization SIPp sent, each in a new
    // request (new branch, Call-ID and CSeq), is refused: each nonce has
    // been used with that count already.
    let sent = sent_authorizations(&run);
    if sent.len() != 3 * 3 {
        run.fail(&format!(
            "expected 3 credentials per call in the message log, found {}",
            sent.len()
        ));
    }
    for (i, authorization) in sent.iter().enumerate() {
        let (status, challenge) = register_with(server.addr(), authorization, i);
        if status != 401 || challenge.as_ref().is_none_or(|c| c.contains("stale")) {
            run.fail(&format!(
                "replaying {authorization:?} got {status} ({challenge:?}); expected 401, not stale"
            ));
        }
    }
    eprintln!(
        "[e2e] replayed {} Authorization headers from SIPp's log: all refused with 401",
        sent.len()
    );
    server.stop();
}

/// The `Authorization` values of the requests SIPp sent, in order, from its
/// message log.
fn sent_authorizations(run: &SippRun) -> Vec<String> {
    let log = std::fs::read_to_string(run.dir.join("messages.log")).unwrap_or_default();
    log.split("-----------------------------------------------")
        .filter(|block| block.contains("message sent"))
        .flat_map(|block| {
            block
                .lines()
                .filter_map(|l| l.strip_prefix("Authorization:"))
                .map(|v| v.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Sends a REGISTER for alice carrying `authorization` over UDP and returns
/// the status of the final response and its `WWW-Authenticate`.
fn register_with(
    server: std::net::SocketAddr,
    authorization: &str,
    n: usize,
) -> (u16, Option<String>) {
    let socket = UdpSocket::bind((LOOPBACK, 0)).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let local = socket.local_addr().expect("local address");
    let request = format!(
        "REGISTER sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-e2e-replay-{n}-{port};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{ip}>;tag=replay{n}\r\n\
         To: <sip:alice@{ip}>\r\n\
         Call-ID: e2e-replay-{n}-{port}@{ip}\r\n\
         CSeq: 100 REGISTER\r\n\
         Contact: <sip:replayed@{local}>\r\n\
         Authorization: {authorization}\r\n\
         Content-Length: 0\r\n\r\n",
        ip = server.ip(),
        port = local.port(),
    );
    socket
        .send_to(request.as_bytes(), server)
        .expect("send the replay");
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, _)) = socket.recv_from(&mut buf) else {
            return (0, None);
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        let status: u16 = text
            .strip_prefix("SIP/2.0 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        if status < 200 {
            continue;
        }
        let challenge = text
            .lines()
            .find_map(|l| l.strip_prefix("WWW-Authenticate:"))
            .map(|v| v.trim().to_owned());
        return (status, challenge);
    }
}
