//! Scale-out: two `pbx` nodes sharing one Redis location store, behind a
//! real Kamailio that spreads the phones' requests over them with its
//! `dispatcher` module (hash over the Call-ID, OPTIONS probing, failover
//! to the next node on a 5xx or no answer) and puts itself on the Path of
//! every registration (see `tests::kamailio_edge`).
//!
//! - SIPp registers 1,000 users through Kamailio, every Contact on one
//!   SIPp uas; the registrations land on both nodes.
//! - SIPp calls them through Kamailio at 100 calls/s: whichever node gets
//!   an INVITE finds the callee's binding in Redis (whichever node stored
//!   it) and routes the call back through Kamailio (the Path) to the uas.
//! - One node is killed in the middle of a run: the calls keep completing
//!   through the other; the test reports how many failed in the
//!   switch-over window (calls in progress on the dead node, and new ones
//!   sent to it before the probing marks it down).
//! - Redis is restarted (empty): the nodes reconnect, phones register
//!   again and calls complete.

use std::fmt::Write as _;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use examples::pbx::{self, PbxOptions};
use parrot::registrar::{RedisConfig, RedisStore};
use tests::redis::Redis;
use tests::{Kamailio, Server, Sipp, SippRun, Transport, free_port};

use crate::proxy::Callee;

const USERS: u32 = 1000;
const RATE: u32 = 100;

/// A `pbx` node over the Redis at `url`. Stopping it drops the server at
/// once (no graceful drain): to Kamailio and the phones it is a crash.
fn node(name: &str, url: String) -> Server {
    Server::start(name, move |listen, shutdown| {
        let url = url.clone();
        async move {
            let store = RedisStore::connect(&url, RedisConfig::default())
                .await
                .map_err(|e| e.to_string())?;
            let server = pbx::bind(listen, PbxOptions::default(), Arc::new(store))
                .await
                .map_err(|e| e.to_string())?;
            tokio::select! {
                served = server.serve().into_future() => served.map_err(|e| e.to_string()),
                () = shutdown => Ok(()),
            }
        }
    })
}

/// An injection file: `SEQUENTIAL`, then one line per user (`userN;`,
/// followed by `extra` if any).
fn users_csv(name: &str, extra: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "parrot-e2e-{name}-{}-{}.csv",
        std::process::id(),
        free_port()
    ));
    let mut text = String::from("SEQUENTIAL\n");
    for i in 1..=USERS {
        let _ = writeln!(text, "user{i};{extra}");
    }
    std::fs::write(&path, text).expect("write the injection file");
    path
}

fn register_all(edge: &Kamailio, users: &Path, label: &str) -> SippRun {
    Sipp::scenario("edge_register.xml", edge.udp_addr())
        .label(label)
        .arg("-inf")
        .arg(users.display().to_string())
        .calls(USERS)
        .rate(250)
        .timeout(Duration::from_secs(60))
        .run()
}

fn calls(edge: &Kamailio, users: &Path, label: &str, n: u32) -> Sipp {
    Sipp::scenario("edge_call.xml", edge.udp_addr())
        .label(label)
        .arg("-inf")
        .arg(users.display().to_string())
        .calls(n)
        .rate(RATE)
        .timeout(Duration::from_secs(120))
}

/// How many requests Kamailio's log shows it relayed to `node`.
fn relayed_to(edge: &Kamailio, method: &str, node: SocketAddr) -> usize {
    let to = format!("to sip:{node}");
    edge.log()
        .lines()
        .filter(|l| l.contains(&format!("edge: {method} of ")) && l.contains(&to))
        .count()
}

#[test]
fn registered_users_call_each_other_through_two_nodes_behind_kamailio() {
    let mut redis = Redis::start();
    let a = node("pbx node a", redis.url());
    let b = node("pbx node b", redis.url());
    let (a_addr, b_addr) = (a.addr(), b.addr());
    let edge = Kamailio::start_edge("edge", &[a_addr, b_addr]);

    // Every user's phone is the one SIPp uas.
    let phone_port = free_port();
    let stop_phone = Arc::new(AtomicBool::new(false));
    let phone = Callee::start(
        Sipp::builtin("uas", edge.udp_addr())
            .label("phones (builtin uas)")
            .calls(1_000_000)
            .timeout(Duration::from_secs(600))
            .stop_on(stop_phone.clone()),
        phone_port,
        Transport::Udp,
    );
    let users = users_csv("edge-users", &format!("127.0.0.1:{phone_port}"));
    let callees = users_csv("edge-callees", "");

    // 1. Registration through the edge lands on both nodes.
    register_all(&edge, &users, "register 1000 users via the edge").assert_all_successful();
    let (on_a, on_b) = (
        relayed_to(&edge, "REGISTER", a_addr),
        relayed_to(&edge, "REGISTER", b_addr),
    );
    eprintln!("[scale-out] REGISTERs: node a {on_a}, node b {on_b}");
    assert!(on_a > 100 && on_b > 100, "spread: a {on_a}, b {on_b}");

    // 2. Calls between them, whichever node stored the binding.
    let run = calls(&edge, &callees, "300 calls via the edge", 300).run();
    run.assert_all_successful();
    let (inv_a, inv_b) = (
        relayed_to(&edge, "INVITE", a_addr),
        relayed_to(&edge, "INVITE", b_addr),
    );
    eprintln!("[scale-out] INVITEs to the nodes: a {inv_a}, b {inv_b}");
    assert!(inv_a > 30 && inv_b > 30, "spread: a {inv_a}, b {inv_b}");

    // 3. Node a dies in the middle of a run.
    let total = 1500;
    let during = std::thread::spawn({
        let sipp = calls(&edge, &callees, "1500 calls, node a killed", total);
        move || sipp.run()
    });
    std::thread::sleep(Duration::from_secs(5));
    a.stop();
    eprintln!("[scale-out] node a stopped 5 s into the run");
    let run = during.join().expect("the SIPp caller thread");
    let failed = u64::from(total) - run.stats.successful;
    eprintln!(
        "[scale-out] with node a killed: {} of {total} calls completed, {failed} failed \
         in the switch-over window",
        run.stats.successful
    );
    // The window is a few seconds at 100 calls/s (calls in progress on
    // node a, and new ones sent there until the probing marks it down).
    assert!(
        failed <= 400,
        "{failed} calls failed: more than a switch-over window\n{}",
        run.summary()
    );
    assert!(run.stats.successful >= 1000, "{}", run.summary());

    // 4. Redis restarts empty: node b reconnects, phones register again
    // and calls complete.
    redis.restart();
    let again = register_all(&edge, &users, "register again after a Redis restart");
    eprintln!("[scale-out] after the Redis restart: {}", again.summary());
    assert!(
        again.stats.successful >= u64::from(USERS) * 99 / 100,
        "{}",
        again.summary()
    );
    let run = calls(&edge, &callees, "100 calls after the Redis restart", 100).run();
    run.assert_all_successful();

    stop_phone.store(true, std::sync::atomic::Ordering::SeqCst);
    phone.finish();
    b.stop();
    edge.stop();
    let _ = std::fs::remove_file(users);
    let _ = std::fs::remove_file(callees);
}
