//! `parrot::client` against SIPp as the far end: SIPp's built-in `uas`
//! scenario (call set-up, our BYE) and the `uas_*.xml` scenarios (CANCEL,
//! a 401 on INVITE and on REGISTER with the refresh, OPTIONS, MESSAGE, the
//! callee's BYE), over UDP and TCP.
//!
//! SIPp runs on its own thread on a port chosen here (`-p`), with our
//! client's address as its remote; the test waits until SIPp has bound
//! the port, drives the client on a tokio runtime, then collects SIPp's
//! counts (printed with `--nocapture`) and asserts that every call
//! succeeded on both sides.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parrot::client::{CallEnd, CallError, CallOutcome, Client, Progress, UacAction};
use parrot::message::StatusCode;
use parrot::transport::Protocol;
use tests::{LOOPBACK, Sipp, SippRun, Transport, free_port};

/// A SIPp UAS running on its own thread.
struct Uas {
    addr: SocketAddr,
    transport: Transport,
    thread: JoinHandle<SippRun>,
}

impl Uas {
    /// Starts `sipp` (a UAS scenario) on a free loopback port over
    /// `transport`, for `calls` calls, and waits until it listens.
    fn start(sipp: Sipp, transport: Transport, calls: u32) -> Uas {
        let port = free_port();
        let sipp = sipp
            .transport(transport)
            .calls(calls)
            .timeout(Duration::from_secs(40))
            .arg("-p")
            .arg(port.to_string());
        let thread = std::thread::spawn(move || sipp.run());
        let addr = SocketAddr::from((LOOPBACK, port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let bound = match transport {
                Transport::Udp => UdpSocket::bind(addr).is_err(),
                Transport::Tcp => TcpListener::bind(addr).is_err(),
            };
            if bound {
                break;
            }
            if thread.is_finished() {
                let run = thread.join().expect("the SIPp thread panicked");
                run.fail("SIPp stopped before listening");
            }
            assert!(
                Instant::now() < deadline,
                "SIPp did not listen on {addr} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Uas {
            addr,
            transport,
            thread,
        }
    }

    /// The URI to call SIPp at.
    fn uri(&self, user: &str) -> String {
        match self.transport {
            Transport::Udp => format!("sip:{user}@{}", self.addr),
            Transport::Tcp => format!("sip:{user}@{};transport=tcp", self.addr),
        }
    }

    /// Waits for SIPp to finish and asserts that every call succeeded.
    fn finish(self) -> SippRun {
        let run = self.thread.join().expect("the SIPp thread panicked");
        run.assert_all_successful();
        run
    }
}

/// A runtime and a client on a free loopback port (UDP and TCP), with
/// alice's credentials.
fn client(runtime: &tokio::runtime::Runtime) -> Client {
    runtime.block_on(async {
        Client::builder()
            .listen(SocketAddr::from((LOOPBACK, 0)))
            .from("sip:alice@parrot.test")
            .credentials("alice", "secret")
            .bind()
            .await
            .expect("the client binds")
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn remote(client: &Client) -> SocketAddr {
    client.local_addr(Protocol::Udp).expect("a UDP listener")
}

/// `calls` calls to SIPp's built-in `uas`, all at once: INVITE, 180, 200,
/// our ACK, 300 ms in the call, our BYE, 200.
fn builtin_uas(transport: Transport, calls: u32) {
    let rt = runtime();
    let client = client(&rt);
    let uas = Uas::start(
        Sipp::builtin("uas", remote(&client))
            .label(format!("builtin uas x{calls} <- parrot client")),
        transport,
        calls,
    );
    let target = uas.uri("service");
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..calls {
            let client = client.clone();
            let target = target.clone();
            set.spawn(async move {
                let mut pending = client.invite(target.as_str(), offer()).await.unwrap();
                let mut provisional = Vec::new();
                let mut call = loop {
                    match pending.next().await {
                        Some(Progress::Provisional(r)) => provisional.push(r.status),
                        Some(Progress::Answered(call)) => break call,
                        other => panic!("call not answered: {other:?}"),
                    }
                };
                assert!(
                    provisional.contains(&StatusCode::RINGING),
                    "{provisional:?}"
                );
                assert!(call.remote_sdp().is_some_and(|s| s.contains("m=audio")));
                tokio::time::sleep(Duration::from_millis(300)).await;
                let bye = call.bye().await.unwrap();
                assert_eq!(bye.status, StatusCode::OK);
                assert!(matches!(call.ended().await, CallEnd::LocalBye(_)));
            });
        }
        while let Some(done) = set.join_next().await {
            done.expect("a call task failed");
        }
    });
    uas.finish();
}

fn offer() -> String {
    parrot::sdp::offer_audio(LOOPBACK, 40000).to_string()
}

#[test]
fn builtin_uas_calls_and_our_bye_over_udp() {
    builtin_uas(Transport::Udp, 20);
}

#[test]
fn builtin_uas_calls_and_our_bye_over_tcp() {
    builtin_uas(Transport::Tcp, 10);
}

/// `uas_cancel.xml`: 180, then our CANCEL; 200 for it, 487 for the INVITE.
fn cancel(transport: Transport, calls: u32) {
    let rt = runtime();
    let client = client(&rt);
    let uas = Uas::start(
        Sipp::scenario("uas_cancel.xml", remote(&client)),
        transport,
        calls,
    );
    let target = uas.uri("service");
    rt.block_on(async {
        for _ in 0..calls {
            let mut pending = client.invite(target.as_str(), offer()).await.unwrap();
            match pending.next().await {
                Some(Progress::Provisional(r)) => assert_eq!(r.status, StatusCode::RINGING),
                other => panic!("expected 180: {other:?}"),
            }
            pending.cancel();
            match pending.next().await {
                Some(Progress::Failed(CallError::Cancelled(r))) => {
                    assert_eq!(r.status, StatusCode::REQUEST_TERMINATED);
                }
                other => panic!("expected 487: {other:?}"),
            }
        }
    });
    uas.finish();
}

#[test]
fn cancel_of_a_ringing_call_over_udp() {
    cancel(Transport::Udp, 5);
}

#[test]
fn cancel_of_a_ringing_call_over_tcp() {
    cancel(Transport::Tcp, 3);
}

/// `uas_auth_invite.xml`: a 401 on the INVITE, answered once with
/// credentials SIPp verifies; then the call and our BYE.
fn challenged_invite(transport: Transport, calls: u32) {
    let rt = runtime();
    let client = client(&rt);
    let uas = Uas::start(
        Sipp::scenario("uas_auth_invite.xml", remote(&client)),
        transport,
        calls,
    );
    let target = uas.uri("service");
    rt.block_on(async {
        for _ in 0..calls {
            let pending = client.invite(target.as_str(), offer()).await.unwrap();
            let mut call = pending
                .wait()
                .await
                .expect("the authorized INVITE is answered");
            assert_eq!(call.response().status, StatusCode::OK);
            let bye = call.bye().await.unwrap();
            assert_eq!(bye.status, StatusCode::OK);
        }
    });
    uas.finish();
}

#[test]
fn invite_challenged_with_401_over_udp() {
    challenged_invite(Transport::Udp, 3);
}

#[test]
fn invite_challenged_with_401_over_tcp() {
    challenged_invite(Transport::Tcp, 2);
}

/// `uas_register_auth.xml`: REGISTER challenged, authorized, refreshed
/// before the granted 2 s run out, then removed.
fn register_and_refresh(transport: Transport) {
    let rt = runtime();
    let client = client(&rt);
    let uas = Uas::start(
        Sipp::scenario("uas_register_auth.xml", remote(&client)),
        transport,
        1,
    );
    let registrar = match transport {
        Transport::Udp => format!("sip:{}", uas.addr),
        Transport::Tcp => format!("sip:{};transport=tcp", uas.addr),
    };
    rt.block_on(async {
        let mut reg = client
            .register_and_refresh(registrar.as_str(), "sip:alice@parrot.test", None, 3600)
            .await
            .expect("registered after the challenge");
        assert!(reg.is_registered());
        assert_eq!(reg.expires(), Duration::from_secs(2));
        let refreshed = tokio::time::timeout(Duration::from_secs(5), reg.refreshed())
            .await
            .expect("refreshed within 5 s")
            .expect("the refresh task runs");
        assert_eq!(refreshed.status, StatusCode::OK);
        let removed = reg.unregister().await.unwrap();
        assert_eq!(removed.status, StatusCode::OK);
    });
    uas.finish();
}

#[test]
fn register_with_401_refresh_and_removal_over_udp() {
    register_and_refresh(Transport::Udp);
}

#[test]
fn register_with_401_refresh_and_removal_over_tcp() {
    register_and_refresh(Transport::Tcp);
}

#[test]
fn options_and_message_get_their_final_responses() {
    let rt = runtime();
    let client = client(&rt);
    let calls = 5;
    let options = Uas::start(
        Sipp::scenario("uas_options.xml", remote(&client)),
        Transport::Udp,
        calls,
    );
    let target = options.uri("service");
    rt.block_on(async {
        for _ in 0..calls {
            let r = client.options(target.as_str()).await.unwrap();
            assert_eq!(r.status, StatusCode::OK);
            assert!(r.headers.get("allow").is_some());
        }
    });
    options.finish();

    let message = Uas::start(
        Sipp::scenario("uas_message.xml", remote(&client)),
        Transport::Tcp,
        calls,
    );
    let target = message.uri("bob");
    rt.block_on(async {
        for _ in 0..calls {
            let r = client
                .message(target.as_str(), "text/plain", "hello from parrot")
                .await
                .unwrap();
            assert_eq!(r.status, StatusCode::ACCEPTED);
        }
    });
    message.finish();
}

/// `uas_bye.xml`: the callee hangs up; the client answers its BYE 200.
fn callee_hangs_up(transport: Transport, calls: u32) {
    let rt = runtime();
    let client = client(&rt);
    let uas = Uas::start(
        Sipp::scenario("uas_bye.xml", remote(&client)),
        transport,
        calls,
    );
    let target = uas.uri("service");
    rt.block_on(async {
        for _ in 0..calls {
            let mut call = client
                .invite(target.as_str(), offer())
                .await
                .unwrap()
                .wait()
                .await
                .unwrap();
            let end = tokio::time::timeout(Duration::from_secs(5), call.ended())
                .await
                .expect("the callee's BYE within 5 s");
            assert!(matches!(end, CallEnd::RemoteBye(_)), "{end:?}");
            assert!(!call.is_active());
        }
    });
    uas.finish();
}

#[test]
fn callee_hangs_up_over_udp() {
    callee_hangs_up(Transport::Udp, 3);
}

#[test]
fn callee_hangs_up_over_tcp() {
    callee_hangs_up(Transport::Tcp, 2);
}

/// A `#[uac_handler]` counting what it sees.
#[derive(Default)]
struct Tally {
    ringing: u32,
    answered: u32,
    ended_by_us: u32,
}

#[parrot::client::uac_handler]
impl Tally {
    async fn provisional(&mut self, resp: &parrot::message::Response) {
        if resp.status == StatusCode::RINGING {
            self.ringing += 1;
        }
    }

    async fn success(&mut self, _resp: &parrot::message::Response) {
        self.answered += 1;
    }

    async fn call_established(&mut self, _call: &mut parrot::client::Call) -> UacAction {
        tokio::time::sleep(Duration::from_millis(100)).await;
        UacAction::Hangup
    }

    async fn call_ended(&mut self, end: &CallEnd) {
        if matches!(end, CallEnd::LocalBye(r) if r.status == StatusCode::OK) {
            self.ended_by_us += 1;
        }
    }
}

#[test]
fn a_uac_handler_drives_calls_to_the_builtin_uas() {
    let rt = runtime();
    let client = client(&rt);
    let calls = 5;
    let uas = Uas::start(
        Sipp::builtin("uas", remote(&client)).label("builtin uas <- #[uac_handler]"),
        Transport::Udp,
        calls,
    );
    let target = uas.uri("service");
    let tally = rt.block_on(async {
        let mut tally = Tally::default();
        for _ in 0..calls {
            let outcome = client
                .invite_with(target.as_str(), offer(), &mut tally)
                .await
                .unwrap();
            assert!(
                matches!(outcome, CallOutcome::Ended(CallEnd::LocalBye(_))),
                "{outcome:?}"
            );
        }
        tally
    });
    uas.finish();
    assert_eq!(
        (tally.ringing, tally.answered, tally.ended_by_us),
        (calls, calls, calls)
    );
}
