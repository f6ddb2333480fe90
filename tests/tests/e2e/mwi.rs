//! The `mwi` example against SIPp: a message-waiting subscription (RFC
//! 3842 over RFC 6665) with its NOTIFYs, a message left in the dialog
//! notified, a refresh and an unsubscription.

use tests::Transport;

use crate::{run_scenario, servers};

#[test]
fn sipp_subscribes_is_notified_refreshes_and_unsubscribes_over_udp() {
    let server = servers::mwi();
    run_scenario(&server, "mwi_subscribe.xml", Transport::Udp, 20);
    server.stop();
}

#[test]
fn sipp_subscribes_is_notified_refreshes_and_unsubscribes_over_tcp() {
    let server = servers::mwi();
    run_scenario(&server, "mwi_subscribe.xml", Transport::Tcp, 20);
    server.stop();
}
