//! The extensions a real call needs, against SIPp: reliable provisional
//! responses (RFC 3262), UPDATE (RFC 3311) and session timers (RFC 4028)
//! on the `answer` example. Two of these run on the real clock for a
//! while: the missing PRACK (64·T1 = 32 s) and the session refresh (45 s).

use std::time::Duration;

use tests::{Sipp, Transport};

use crate::servers;

/// Five calls of `scenario` over UDP, then over TCP.
fn over_udp_and_tcp(server: &tests::Server, scenario: &str) {
    for transport in [Transport::Udp, Transport::Tcp] {
        Sipp::scenario(scenario, server.addr())
            .label(format!("{scenario} over {transport}"))
            .transport(transport)
            .calls(5)
            .rate(10)
            .run()
            .assert_all_successful();
    }
}

/// 100rel offered and required: a reliable 180, the PRACK answered, 200.
#[test]
fn a_reliable_180_is_acknowledged_with_prack() {
    let server = servers::answer_ringing(Duration::from_millis(500));
    over_udp_and_tcp(&server, "100rel.xml");
    server.stop();
}

/// The PRACK never comes: the 180 is retransmitted, then the INVITE gets
/// a 5xx 32 s after the first 180.
#[test]
fn an_unacknowledged_reliable_180_ends_in_a_5xx() {
    let server = servers::answer_ringing(Duration::from_secs(60));
    Sipp::scenario("prack_missing.xml", server.addr())
        .label("PRACK never sent")
        .transport(Transport::Udp)
        .calls(1)
        .timeout(Duration::from_secs(60))
        .run()
        .assert_all_successful();
    server.stop();
}

/// UPDATE in a confirmed dialog, answered by the runtime.
#[test]
fn update_in_a_confirmed_dialog() {
    let server = servers::answer();
    over_udp_and_tcp(&server, "update.xml");
    server.stop();
}

/// `Session-Expires: 90;refresher=uas`: the server refreshes with UPDATE
/// 45 s into the call (real time).
#[test]
fn the_server_refreshes_a_90_second_session_timer() {
    let server = servers::answer();
    Sipp::scenario("session_timer.xml", server.addr())
        .label("session timer 90 s")
        .transport(Transport::Udp)
        .calls(1)
        .timeout(Duration::from_secs(75))
        .run()
        .assert_all_successful();
    server.stop();
}
