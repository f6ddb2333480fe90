//! The `proxy` example between two SIPp instances: SIPp as the caller
//! (uac) → the proxy → SIPp as the callee (uas), each on its own loopback
//! ports. The callee is started first, on a port chosen here so that the
//! proxy can be pointed at it, and the test waits until it listens; both
//! sides' counts are printed and checked.

use std::net::UdpSocket;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use examples::proxy::ProxyOptions;
use parrot::message::Uri;
use tests::{LOOPBACK, Server, Sipp, SippRun, Transport, free_port};

/// Starts the proxy example in-process, sending everything to `targets`.
fn proxy_to(targets: Vec<Uri>) -> Server {
    let options = ProxyOptions {
        targets,
        record_route: true,
    };
    Server::start("proxy", move |listen, shutdown| {
        examples::proxy::serve_with(listen, shutdown, options.clone())
    })
}

/// `sip:127.0.0.1:PORT`, with `;transport=tcp` for TCP.
fn target(port: u16, transport: Transport) -> Uri {
    let uri = match transport {
        Transport::Udp => format!("sip:{LOOPBACK}:{port}"),
        Transport::Tcp => format!("sip:{LOOPBACK}:{port};transport=tcp"),
    };
    uri.parse().expect("a SIP URI")
}

/// A SIPp callee running on its own thread on `port`.
pub(crate) struct Callee {
    port: u16,
    run: JoinHandle<SippRun>,
}

impl Callee {
    /// Starts `sipp` (a uas scenario; its remote address is unused) on
    /// `port` and waits until it listens there.
    pub(crate) fn start(sipp: Sipp, port: u16, transport: Transport) -> Callee {
        // The harness picks a local port (`-p`); the last `-p` wins.
        let sipp = sipp.transport(transport).arg("-p").arg(port.to_string());
        let run = std::thread::Builder::new()
            .name(format!("sipp-uas@{port}"))
            .spawn(move || sipp.run())
            .expect("spawn the SIPp callee thread");
        let callee = Callee { port, run };
        callee.wait_listening(transport, Duration::from_secs(10));
        callee
    }

    fn wait_listening(&self, transport: Transport, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !listening(self.port, transport) {
            assert!(
                !self.run.is_finished(),
                "the SIPp callee on port {} exited before listening",
                self.port
            );
            assert!(
                Instant::now() < deadline,
                "the SIPp callee is not listening on {} port {} after {timeout:?}",
                transport,
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the callee's SIPp to finish (its `-m` calls, or its
    /// timeout).
    pub(crate) fn finish(self) -> SippRun {
        self.run.join().expect("the SIPp callee thread panicked")
    }
}

/// Whether something listens on loopback `port`: a UDP socket bound there
/// (state 07 in `/proc/net/udp`) or a TCP listener (state 0A in
/// `/proc/net/tcp`). Without `/proc`, waits half a second and says yes.
fn listening(port: u16, transport: Transport) -> bool {
    let (table, state) = match transport {
        Transport::Udp => ("/proc/net/udp", "07"),
        Transport::Tcp => ("/proc/net/tcp", "0A"),
    };
    let Ok(text) = std::fs::read_to_string(table) else {
        std::thread::sleep(Duration::from_millis(500));
        return true;
    };
    let local = format!(":{port:04X}");
    text.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let addr = fields.nth(1).unwrap_or_default();
        let st = fields.nth(1).unwrap_or_default();
        addr.ends_with(&local) && st == state
    })
}

/// Prints both sides' counts, then asserts that every call succeeded on
/// both.
fn assert_both_successful(caller: &SippRun, callee: &SippRun) {
    eprintln!(
        "[proxy] caller: {}\n[proxy] callee: {}",
        caller.summary(),
        callee.summary()
    );
    caller.assert_all_successful();
    callee.assert_all_successful();
}

/// SIPp's built-in uac → proxy → SIPp's built-in uas: INVITE, 100/180,
/// 200, ACK, BYE, 200. SIPp's uac sends its ACK and BYE to the proxy with
/// no Route (the uas echoes no Record-Route); the proxy forwards them to
/// the uas's Contact.
fn builtin_calls(transport: Transport, calls: u32, rate: u32) {
    let uas_port = free_port();
    let proxy = proxy_to(vec![target(uas_port, transport)]);
    let callee = Callee::start(
        Sipp::builtin("uas", proxy.addr())
            .label(format!("builtin uas x{calls} behind the proxy"))
            .calls(calls)
            .timeout(Duration::from_secs(60)),
        uas_port,
        transport,
    );
    let caller = Sipp::builtin("uac", proxy.addr())
        .label(format!("builtin uac x{calls} through the proxy"))
        .transport(transport)
        .calls(calls)
        .rate(rate)
        .timeout(Duration::from_secs(60))
        .run();
    let callee = callee.finish();
    assert_both_successful(&caller, &callee);
    proxy.stop();
}

#[test]
fn builtin_uac_through_the_proxy_to_builtin_uas_over_udp() {
    builtin_calls(Transport::Udp, 200, 100);
}

#[test]
fn builtin_uac_through_the_proxy_to_builtin_uas_over_tcp() {
    builtin_calls(Transport::Tcp, 200, 100);
}

/// The caller cancels while the callee rings: the proxy answers the
/// CANCEL (200) and the INVITE (487) and cancels its branch; the callee
/// answers that CANCEL 200 and its INVITE 487, which the proxy ACKs.
fn cancel_through_the_proxy(transport: Transport) {
    let uas_port = free_port();
    let proxy = proxy_to(vec![target(uas_port, transport)]);
    let callee = Callee::start(
        Sipp::scenario("proxy_uas_ring_cancel.xml", proxy.addr()).calls(5),
        uas_port,
        transport,
    );
    let caller = Sipp::scenario("proxy_uac_cancel.xml", proxy.addr())
        .transport(transport)
        .calls(5)
        .rate(10)
        .run();
    let callee = callee.finish();
    assert_both_successful(&caller, &callee);
    proxy.stop();
}

#[test]
fn cancel_through_the_proxy_over_udp() {
    cancel_through_the_proxy(Transport::Udp);
}

#[test]
fn cancel_through_the_proxy_over_tcp() {
    cancel_through_the_proxy(Transport::Tcp);
}

/// The callee answers 486; the proxy ACKs it and relays it; the caller's
/// ACK ends at the proxy.
#[test]
fn busy_callee_486_reaches_the_caller() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let uas_port = free_port();
        let proxy = proxy_to(vec![target(uas_port, transport)]);
        let callee = Callee::start(
            Sipp::scenario("proxy_uas_busy.xml", proxy.addr()).calls(10),
            uas_port,
            transport,
        );
        let caller = Sipp::scenario("busy.xml", proxy.addr())
            .label("busy (486) through the proxy")
            .transport(transport)
            .calls(10)
            .rate(10)
            .run();
        let callee = callee.finish();
        assert_both_successful(&caller, &callee);
        proxy.stop();
    }
}

/// A fork to two SIPp callees: the built-in uas answers at once, the other
/// rings and is cancelled once the first one's 200 arrives (§16.7 step 10).
#[test]
fn fork_first_200_wins_and_the_ringing_branch_is_cancelled() {
    let answer_port = free_port();
    let ring_port = free_port();
    let proxy = proxy_to(vec![
        target(answer_port, Transport::Udp),
        target(ring_port, Transport::Udp),
    ]);
    let answering = Callee::start(
        Sipp::builtin("uas", proxy.addr())
            .label("builtin uas (fork branch 1, answers)")
            .calls(10),
        answer_port,
        Transport::Udp,
    );
    let ringing = Callee::start(
        Sipp::scenario("proxy_uas_ring_cancel.xml", proxy.addr())
            .label("proxy_uas_ring_cancel (fork branch 2, cancelled)")
            .calls(10),
        ring_port,
        Transport::Udp,
    );
    let caller = Sipp::builtin("uac", proxy.addr())
        .label("builtin uac x10 through the forking proxy")
        .calls(10)
        .rate(10)
        .run();
    let answering = answering.finish();
    let ringing = ringing.finish();
    eprintln!("[proxy] fork branch 2: {}", ringing.summary());
    assert_both_successful(&caller, &answering);
    ringing.assert_all_successful();
    proxy.stop();
}

/// Max-Forwards: 0 gets 483 from the proxy, and nothing reaches the
/// target (a plain socket here, which must stay silent).
#[test]
fn max_forwards_0_gets_483() {
    let target_socket = UdpSocket::bind((LOOPBACK, 0)).expect("bind the target socket");
    let port = target_socket.local_addr().expect("its address").port();
    let proxy = proxy_to(vec![target(port, Transport::Udp)]);
    for transport in [Transport::Udp, Transport::Tcp] {
        Sipp::scenario("proxy_uac_max_forwards.xml", proxy.addr())
            .transport(transport)
            .calls(5)
            .rate(10)
            .run()
            .assert_all_successful();
    }
    target_socket
        .set_nonblocking(true)
        .expect("a non-blocking socket");
    let mut buf = [0u8; 65_536];
    if let Ok((n, from)) = target_socket.recv_from(&mut buf) {
        panic!(
            "the proxy forwarded a request with Max-Forwards 0 (from {from}):\n{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    proxy.stop();
}

/// The proxy's target is a TCP port nobody listens on: the connection is
/// refused and the caller gets a final response at once (500: §16.9 makes
/// the transport error a 503, and §16.7 step 6 sends a lone 503 up as
/// 500; the scenario also accepts 503 and 408).
#[test]
fn unreachable_tcp_target_fails_fast() {
    let closed = std::net::TcpListener::bind((LOOPBACK, 0)).expect("bind a TCP port");
    let port = closed.local_addr().expect("its address").port();
    drop(closed);
    let proxy = proxy_to(vec![target(port, Transport::Tcp)]);
    for transport in [Transport::Udp, Transport::Tcp] {
        let run = Sipp::scenario("proxy_uac_unreachable.xml", proxy.addr())
            .transport(transport)
            .calls(5)
            .rate(10)
            .run();
        run.assert_all_successful();
        let statuses = final_statuses(&run);
        eprintln!("[proxy] unreachable target ({transport}): final responses {statuses:?}");
        if run.elapsed > Duration::from_secs(5) {
            run.fail("expected the final responses within 5 s (a refused connection)");
        }
    }
    proxy.stop();
}

/// The status codes of the final responses SIPp received, from its message
/// log (`-trace_msg`), in order.
fn final_statuses(run: &SippRun) -> Vec<u16> {
    let log = std::fs::read_to_string(run.dir.join("messages.log")).unwrap_or_default();
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("SIP/2.0 "))
        .filter_map(|rest| rest.get(..3)?.parse::<u16>().ok())
        .filter(|s| *s >= 200)
        .collect()
}
