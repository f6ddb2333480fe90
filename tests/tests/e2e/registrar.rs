//! The `registrar` example: REGISTER add/refresh/remove, 423, wildcard
//! removal, and OPTIONS.

use tests::Transport;

use crate::{run_scenario, servers};

#[test]
fn register_refresh_and_unregister_over_udp() {
    let server = servers::registrar();
    run_scenario(&server, "register.xml", Transport::Udp, 5);
    server.stop();
}

#[test]
fn register_refresh_and_unregister_over_tcp() {
    let server = servers::registrar();
    run_scenario(&server, "register.xml", Transport::Tcp, 5);
    server.stop();
}

#[test]
fn options_gets_200_with_allow() {
    let server = servers::registrar();
    run_scenario(&server, "options.xml", Transport::Udp, 5);
    server.stop();
}
