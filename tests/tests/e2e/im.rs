//! The `im` example: MESSAGE with text/plain gets 200, other types 415.

use tests::Transport;

use crate::{run_scenario, servers};

#[test]
fn text_message_gets_200_and_json_gets_415_over_udp() {
    let server = servers::im();
    run_scenario(&server, "message.xml", Transport::Udp, 10);
    server.stop();
}

#[test]
fn text_message_gets_200_and_json_gets_415_over_tcp() {
    let server = servers::im();
    run_scenario(&server, "message.xml", Transport::Tcp, 10);
    server.stop();
}
