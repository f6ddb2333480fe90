//! The `busy` example: every INVITE gets 486 Busy Here.

use tests::Transport;

use crate::{run_scenario, servers};

#[test]
fn invite_gets_486_busy_here() {
    let server = servers::busy();
    run_scenario(&server, "busy.xml", Transport::Udp, 10);
    run_scenario(&server, "busy.xml", Transport::Tcp, 10);
    server.stop();
}
