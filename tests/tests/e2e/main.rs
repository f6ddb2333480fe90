//! End-to-end tests: real SIPp (`sipp`, Debian package `sip-tester`) against
//! Parrot's example servers, in-process on loopback; Kamailio over TLS
//! (`kamailio_tls`); and JsSIP in headless Chromium over WSS (`browser`).
//!
//! Every test starts its own server on its own ports, so they run in
//! parallel. Each SIPp run prints its counts (`cargo test -p tests --test
//! e2e -- --nocapture` shows them). One test, `answer::missing_ack_*`, takes
//! about 33 s of real time (the server waits 64*T1 before its BYE).

mod answer;
mod b2bua;
mod baresip;
mod browser;
mod busy;
mod client;
mod extensions;
mod im;
mod kamailio_tls;
mod media;
mod media_load;
mod metrics;
mod mwi;
mod proxy;
mod registrar;
mod registrar_auth;
mod scale_out;
mod servers;
mod transfer;

use tests::{Server, Sipp, SippRun, Transport};

/// Runs `tests/scenarios/<scenario>` against `server` over `transport`,
/// `calls` calls at 10 per second, and asserts that every call succeeded.
fn run_scenario(server: &Server, scenario: &str, transport: Transport, calls: u32) -> SippRun {
    let run = Sipp::scenario(scenario, server.addr())
        .transport(transport)
        .calls(calls)
        .rate(10)
        .run();
    run.assert_all_successful();
    run
}
