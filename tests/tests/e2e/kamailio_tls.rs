//! SIP over TLS between Parrot and a real Kamailio (5.6 with its `tls`
//! module), both ways, with a certificate authority and certificates made
//! at test time (see `tests::kamailio` for the generated configuration):
//!
//! - Kamailio → Parrot: SIPp's built-in `uac` over UDP to Kamailio, which
//!   relays every request (INVITE, ACK, BYE) over TLS to the `answer`
//!   example listening for TLS only; every call must succeed, every 200
//!   must have reached Kamailio over TLS, with Parrot's TLS Contact.
//! - Parrot → Kamailio: `OPTIONS` from Parrot's transport over TLS,
//!   verifying Kamailio's certificate for the Request-URI's host
//!   (`localhost`, `127.0.0.1`); Kamailio says it received them over TLS.
//!   A client trusting another authority, or asking for a name the
//!   certificate does not hold, gets `TransportError::Tls`.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::answer::{Answer, AnswerOptions};
use parrot::message::{HeaderName, Message, Response, StatusCode};
use parrot::transport::{Protocol, SendOptions, Target, TlsConfig, TransportError, TransportLayer};
use tests::{Kamailio, Server, Sipp, SippRun, TestCa, parse_request, tls_client_transport};

/// Calls SIPp makes through Kamailio, and how many per second: with at
/// most 50 calls SIPp logs every message, which the test reads.
const CALLS: u32 = 50;
const RATE: u32 = 25;

/// How long a test waits for any one answer.
const WAIT: Duration = Duration::from_secs(10);

/// The `answer` example listening for SIP over TLS only, with a
/// certificate from `ca` for `localhost` and 127.0.0.1; its outgoing TLS
/// trusts `ca` too. Returns the server and the protocols it listens with.
fn answer_over_tls_only(ca: &TestCa) -> (Server, Vec<Protocol>) {
    let tls = ca.server_tls(&["localhost", "127.0.0.1"]);
    let bound = Arc::new(Mutex::new(Vec::new()));
    let seen = bound.clone();
    let server = Server::start_tls(
        "answer (TLS only)",
        ca.client_tls(),
        move |listen, shutdown| {
            let tls = tls.clone();
            let bound = bound.clone();
            async move {
                let server = parrot::Server::builder()
                    .tls(listen, tls)
                    .handler(|| Answer::new(AnswerOptions::default()))
                    .bind()
                    .await?;
                *bound.lock().unwrap_or_else(|e| e.into_inner()) =
                    [Protocol::Udp, Protocol::Tcp, Protocol::Tls]
                        .into_iter()
                        .filter(|p| server.local_addr(*p).is_some())
                        .collect();
                server.serve().with_graceful_shutdown(shutdown).await
            }
        },
    );
    let protocols = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (server, protocols)
}

#[test]
fn kamailio_relays_sipp_calls_to_parrot_over_tls() {
    let ca = TestCa::new("Parrot e2e CA (Kamailio to Parrot)");
    let (parrot, protocols) = answer_over_tls_only(&ca);
    // TLS is the only way into Parrot: no UDP or TCP listener at all.
    assert_eq!(protocols, [Protocol::Tls], "Parrot's listeners");
    let kamailio = Kamailio::start("relay to parrot", &ca, Some(parrot.addr()));

    let run = Sipp::builtin("uac", kamailio.udp_addr())
        .label(format!("uac via kamailio, TLS to parrot x{CALLS}"))
        .calls(CALLS)
        .rate(RATE)
        .timeout(Duration::from_secs(60))
        .trace_messages(true)
        .run();
    run.assert_all_successful();
    check_relayed_over_tls(&run, parrot.addr());
    check_kamailio_relayed_every_request(&kamailio, parrot.addr());

    let errors = kamailio.error_lines();
    assert!(
        errors.is_empty(),
        "kamailio logged errors:\n{}",
        errors.join("\n")
    );
    kamailio.stop();
    parrot.stop();
}

/// Kamailio relayed each call's INVITE, ACK and BYE, once each, to
/// Parrot's TLS address (`e2e: relayed …` lines in its log).
fn check_kamailio_relayed_every_request(kamailio: &Kamailio, parrot: SocketAddr) {
    let log = kamailio.log();
    let destination = format!(" to sip:{parrot};transport=tls");
    let relayed: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("e2e: relayed ").map(|(_, what)| what))
        .collect();
    for method in ["INVITE", "ACK", "BYE"] {
        let over_tls = relayed
            .iter()
            .filter(|what| what.starts_with(&format!("{method} ")) && what.ends_with(&destination))
            .count();
        assert_eq!(
            over_tls,
            usize::try_from(CALLS).expect("a small count"),
            "{method}s Kamailio relayed to Parrot over TLS ({}); its log is in {}\n{}",
            destination.trim(),
            kamailio.dir().display(),
            relayed.join("\n")
        );
    }
    assert_eq!(
        relayed.len(),
        3 * usize::try_from(CALLS).expect("a small count"),
        "requests Kamailio relayed:\n{}",
        relayed.join("\n")
    );
    eprintln!("[e2e] kamailio relayed {CALLS} INVITEs, ACKs and BYEs each{destination}",);
}

/// Every message SIPp received, from its message log.
fn received_messages(run: &SippRun) -> Vec<String> {
    let log = std::fs::read_to_string(run.dir.join("messages.log"))
        .unwrap_or_else(|e| run.fail(&format!("no SIPp message log: {e}")));
    log.split("-----------------------------------------------")
        .filter(|entry| entry.contains("message received"))
        .map(|entry| {
            let start = entry.find("SIP/2.0 ").unwrap_or(entry.len());
            entry[start..].replace("\r\n", "\n")
        })
        .collect()
}

/// The value of header `name` in a message's text (first occurrence).
fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Every 200 SIPp got (for the INVITE and for the BYE of each call) came
/// from Parrot to Kamailio over TLS (Kamailio's `X-Relayed-Over: tls`);
/// those for the INVITE carry Parrot's TLS Contact and Kamailio's
/// Record-Route for TLS.
fn check_relayed_over_tls(run: &SippRun, parrot: SocketAddr) {
    let received = received_messages(run);
    let oks: Vec<&String> = received
        .iter()
        .filter(|m| m.starts_with("SIP/2.0 200 "))
        .collect();
    let for_invite = oks
        .iter()
        .filter(|m| header(m, "CSeq").is_some_and(|c| c.ends_with("INVITE")))
        .count();
    let for_bye = oks
        .iter()
        .filter(|m| header(m, "CSeq").is_some_and(|c| c.ends_with("BYE")))
        .count();
    let calls = usize::try_from(CALLS).expect("a small count");
    if for_invite < calls || for_bye < calls {
        run.fail(&format!(
            "expected a 200 for the INVITE and for the BYE of each of the {CALLS} calls in \
             SIPp's message log; found {for_invite} and {for_bye}"
        ));
    }
    // `<sip:[user@]127.0.0.1:PORT;transport=tls>`: Parrot's TLS listener.
    let tls_contact = format!("{parrot};transport=tls>");
    let contact_at = |c: &str| {
        c.strip_prefix("<sip:")
            .map(|rest| rest.split_once('@').map_or(rest, |(_user, host)| host))
            == Some(tls_contact.as_str())
    };
    for ok in &oks {
        if header(ok, "X-Relayed-Over") != Some("tls") {
            run.fail(&format!(
                "a 200 that did not come to Kamailio over TLS:\n{ok}"
            ));
        }
        if header(ok, "CSeq").is_some_and(|c| c.ends_with("INVITE")) {
            if !header(ok, "Contact").is_some_and(contact_at) {
                run.fail(&format!(
                    "a 200 without Parrot's TLS Contact (sip:{parrot};transport=tls):\n{ok}"
                ));
            }
            if !ok
                .lines()
                .any(|l| l.starts_with("Record-Route:") && l.contains("transport=tls"))
            {
                run.fail(&format!("a 200 without Kamailio's TLS Record-Route:\n{ok}"));
            }
        }
    }
    eprintln!(
        "[e2e] {}: {} 200s (INVITE {for_invite}, BYE {for_bye}) relayed from Parrot over TLS",
        run.label,
        oks.len()
    );
}

/// Runs `f` on a current-thread tokio runtime.
fn block_on<F: IntoFuture>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f.into_future())
}

/// Sends an `OPTIONS` to `uri` over TLS to `to` from a new transport
/// configured with `tls`; returns the transport's answer: the response
/// and how it came, or the send error.
async fn options_over_tls(
    tls: TlsConfig,
    to: SocketAddr,
    uri: &str,
) -> Result<(Response, TlsExchange), TransportError> {
    let (transport, mut incoming) = tls_client_transport(tls)
        .await
        .expect("bind Parrot's transport");
    let outcome = async {
        let local = transport.local_addr(Protocol::Udp).expect("a UDP listener");
        let id = format!("e2e-kamailio-tls-{}-{}", std::process::id(), local.port());
        let mut options = parse_request(&format!(
            "OPTIONS {uri} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {local};branch=z9hG4bK-{id};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:parrot@{local}>;tag={id}\r\n\
             To: <{uri}>\r\n\
             Call-ID: {id}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        ));
        let sent = transport
            .send_request(
                &mut options,
                Target::new(Protocol::Tls, to),
                SendOptions::default(),
            )
            .await?;
        let answer = tokio::time::timeout(WAIT, incoming.recv())
            .await
            .unwrap_or_else(|_| panic!("no answer from Kamailio within {WAIT:?}"))
            .expect("the transport's channel closed");
        let Message::Response(response) = answer.message else {
            panic!("Kamailio sent a request instead of answering: {answer:?}");
        };
        assert_eq!(
            response.headers.get(HeaderName::CallId).map(|v| v.as_str()),
            Some(id.as_str()),
            "the answer is for another request"
        );
        let exchange = TlsExchange {
            sent_over: sent.protocol,
            answered_over: answer.protocol,
            same_connection: sent.connection.is_some() && sent.connection == answer.connection,
            connections: transport.connection_count(),
        };
        Ok((response, exchange))
    }
    .await;
    let outcome = outcome.inspect_err(|_| check_no_connection(&transport));
    transport.shutdown();
    outcome
}

fn check_no_connection(transport: &TransportLayer) {
    assert_eq!(
        transport.connection_count(),
        0,
        "a refused TLS connection was kept"
    );
}

/// How an `OPTIONS` and its answer travelled.
#[derive(Debug)]
struct TlsExchange {
    sent_over: Protocol,
    answered_over: Protocol,
    same_connection: bool,
    connections: usize,
}

#[test]
fn parrot_sends_options_to_kamailio_over_tls() {
    let ca = TestCa::new("Parrot e2e CA (Parrot to Kamailio)");
    let kamailio = Kamailio::start("options from parrot", &ca, None);
    // The certificate names both; Parrot verifies it for the host of the
    // Request-URI (RFC 5922 §7.2): a name, then an IP address.
    for uri in ["sip:kamailio@localhost", "sip:kamailio@127.0.0.1"] {
        let (response, exchange) =
            block_on(options_over_tls(ca.client_tls(), kamailio.tls_addr(), uri))
                .unwrap_or_else(|e| panic!("OPTIONS {uri} over TLS to Kamailio: {e}"));
        assert_eq!(response.status, StatusCode::OK, "{uri}: {response:?}");
        assert_eq!(exchange.sent_over, Protocol::Tls, "{uri}");
        assert_eq!(exchange.answered_over, Protocol::Tls, "{uri}");
        assert!(
            exchange.same_connection,
            "{uri}: the 200 came on another connection: {exchange:?}"
        );
        assert_eq!(exchange.connections, 1, "{uri}: {exchange:?}");
        assert_eq!(
            response.headers.get("X-Received-Over").map(|v| v.as_str()),
            Some("tls"),
            "{uri}: Kamailio did not receive it over TLS: {response:?}"
        );
        eprintln!("[e2e] OPTIONS {uri} over TLS to Kamailio: {exchange:?}, 200 OK");
    }
    let errors = kamailio.error_lines();
    assert!(
        errors.is_empty(),
        "kamailio logged errors:\n{}",
        errors.join("\n")
    );
    kamailio.stop();
}

#[test]
fn parrot_refuses_a_kamailio_certificate_it_cannot_verify() {
    let ca = TestCa::new("Parrot e2e CA (Kamailio's)");
    let other = TestCa::new("Parrot e2e CA (another)");
    let kamailio = Kamailio::start("untrusted", &ca, None);
    // A client trusting another authority only.
    let untrusted = block_on(options_over_tls(
        other.client_tls(),
        kamailio.tls_addr(),
        "sip:kamailio@localhost",
    ));
    assert!(
        matches!(untrusted, Err(TransportError::Tls(_))),
        "a certificate from an untrusted CA: {untrusted:?}"
    );
    eprintln!("[e2e] trusting another CA: {:?}", untrusted.err());
    // The handshake reached Kamailio, and Parrot aborted it with an alert.
    let alert = kamailio.wait_for_log("alert unknown ca", WAIT);
    assert!(
        alert.is_some(),
        "Kamailio logged no `unknown ca` alert from Parrot:\n{}",
        kamailio.log()
    );
    // The right authority, but a name the certificate does not hold.
    let wrong_name = block_on(options_over_tls(
        ca.client_tls(),
        kamailio.tls_addr(),
        "sip:kamailio@sip.example.com",
    ));
    assert!(
        matches!(wrong_name, Err(TransportError::Tls(_))),
        "a certificate for another name: {wrong_name:?}"
    );
    eprintln!("[e2e] another name: {:?}", wrong_name.err());
    // Kamailio is fine and still answers a client that trusts it.
    let (response, _) = block_on(options_over_tls(
        ca.client_tls(),
        kamailio.tls_addr(),
        "sip:kamailio@localhost",
    ))
    .expect("OPTIONS to Kamailio over TLS after the refusals");
    assert_eq!(response.status, StatusCode::OK);
    kamailio.stop();
}
