//! The `b2bua` example between two SIPp instances: SIPp as the caller
//! (uac) → the b2bua, which places a call of its own → SIPp as the callee
//! (uas). The two calls are separate dialogs; both sides' counts are
//! printed and must show every call successful. The callee is started
//! first on a port chosen here, so that the b2bua's route can name it (see
//! `proxy::Callee`).

use crate::proxy::Callee;
use examples::b2bua::B2buaOptions;
use std::net::SocketAddr;
use std::time::Duration;
use tests::{LOOPBACK, Server, Sipp, SippRun, Transport, free_port};

/// Starts the b2bua example in-process, every call routed to the callee
/// on `port` (the Request-URI's user kept).
fn b2bua_to(port: u16, transport: Transport) -> Server {
    let target = match transport {
        Transport::Udp => format!("sip:{LOOPBACK}:{port}"),
        Transport::Tcp => format!("sip:{LOOPBACK}:{port};transport=tcp"),
    };
    let options = B2buaOptions::to(target.parse().expect("a SIP URI"));
    Server::start("b2bua", move |listen, shutdown| {
        examples::b2bua::serve_with(listen, shutdown, options.clone())
    })
}

/// Prints both sides' counts, then asserts that every call succeeded on
/// both.
fn assert_both_successful(caller: &SippRun, callee: &SippRun) {
    eprintln!(
        "[b2bua] caller: {}\n[b2bua] callee: {}",
        caller.summary(),
        callee.summary()
    );
    caller.assert_all_successful();
    callee.assert_all_successful();
}

/// A SIPp run of `scenario` (a file in `tests/scenarios`, or `uac`/`uas`
/// for SIPp's built-in ones) against `remote`.
fn sipp(scenario: &str, remote: SocketAddr) -> Sipp {
    if scenario.ends_with(".xml") {
        Sipp::scenario(scenario, remote)
    } else {
        Sipp::builtin(scenario, remote)
    }
}

/// Runs the uac `caller` against a b2bua routing to the uas `callee`,
/// `calls` calls at `rate` per second, and asserts that every call
/// succeeded on both sides.
fn through_the_b2bua(caller: &str, callee: &str, transport: Transport, calls: u32, rate: u32) {
    let uas_port = free_port();
    let b2bua = b2bua_to(uas_port, transport);
    // The callee's remote address is unused: it only answers.
    let callee = Callee::start(
        sipp(callee, b2bua.addr())
            .label(format!("{callee} x{calls} behind the b2bua"))
            .calls(calls)
            .timeout(Duration::from_secs(60)),
        uas_port,
        transport,
    );
    let caller = sipp(caller, b2bua.addr())
        .label(format!("{caller} x{calls} through the b2bua"))
        .transport(transport)
        .calls(calls)
        .rate(rate)
        .timeout(Duration::from_secs(60))
        .run();
    let callee = callee.finish();
    assert_both_successful(&caller, &callee);
    b2bua.stop();
}

/// SIPp's built-in uac → b2bua → SIPp's built-in uas, 500 calls at 50
/// per second: INVITE, 180, 200 with SDP and ACK on both calls; the
/// caller's BYE ends both.
#[test]
fn builtin_uac_through_the_b2bua_to_builtin_uas_500_calls_at_50_per_second() {
    through_the_b2bua("uac", "uas", Transport::Udp, 500, 50);
}

/// The same over TCP, both calls.
#[test]
fn builtin_calls_through_the_b2bua_over_tcp() {
    through_the_b2bua("uac", "uas", Transport::Tcp, 50, 25);
}

/// The caller cancels while the callee rings: the b2bua answers the
/// CANCEL (200) and the INVITE (487) and cancels its own INVITE, which
/// the callee answers 200 and 487; the b2bua's client ACKs that.
#[test]
fn caller_cancels_through_the_b2bua() {
    for transport in [Transport::Udp, Transport::Tcp] {
        through_the_b2bua("proxy_uac_cancel.xml", "uas_cancel.xml", transport, 10, 10);
    }
}

/// The callee hangs up: its BYE ends the b2bua's call, and the b2bua
/// sends BYE to the caller.
#[test]
fn callee_hangs_up_through_the_b2bua() {
    for transport in [Transport::Udp, Transport::Tcp] {
        through_the_b2bua(
            "b2bua_uac_callee_hangs_up.xml",
            "uas_bye.xml",
            transport,
            10,
            10,
        );
    }
}

/// The callee is busy: its 486 is relayed to the caller (and each side's
/// ACK stays on its own call).
#[test]
fn busy_callee_486_reaches_the_caller_through_the_b2bua() {
    through_the_b2bua("busy.xml", "b2bua_uas_busy.xml", Transport::Udp, 10, 10);
}

/// The caller transfers its callee (a blind transfer, RFC 3515, carried
/// out by the b2bua; RFC 5589 §6): REFER to a target gets 202 and NOTIFY
/// 100; the b2bua calls the target (`b2bua_uas_target.xml`, which answers
/// at once) offering the callee's description, offers the target's to
/// the callee in a re-INVITE (`b2bua_uas_transferee.xml` answers it), joins
/// the two and reports NOTIFY 200; the caller's BYE then ends only its own
/// call, and the target's BYE a second later ends the callee's.
#[test]
fn the_caller_transfers_its_callee_through_the_b2bua() {
    let calls = 5;
    let uas_port = free_port();
    let target_port = free_port();
    let b2bua = b2bua_to(uas_port, Transport::Udp);
    let first = Callee::start(
        sipp("b2bua_uas_transferee.xml", b2bua.addr())
            .label(format!("transferee x{calls}"))
            .calls(calls)
            .timeout(Duration::from_secs(60)),
        uas_port,
        Transport::Udp,
    );
    let target = Callee::start(
        sipp("b2bua_uas_target.xml", b2bua.addr())
            .label(format!("transfer target x{calls}"))
            .calls(calls)
            .timeout(Duration::from_secs(60)),
        target_port,
        Transport::Udp,
    );
    let caller = sipp("b2bua_uac_transfer.xml", b2bua.addr())
        .label(format!("REFER x{calls} through the b2bua"))
        .transport(Transport::Udp)
        .key("target", format!("{LOOPBACK}:{target_port}"))
        .calls(calls)
        .rate(5)
        .timeout(Duration::from_secs(60))
        .run();
    let first = first.finish();
    let target = target.finish();
    assert_both_successful(&caller, &first);
    eprintln!("[b2bua] target: {}", target.summary());
    target.assert_all_successful();
    b2bua.stop();
}
