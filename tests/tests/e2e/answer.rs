//! The `answer` example: calls, OPTIONS, 405/501/481, CANCEL, INVITE
//! retransmissions and the missing ACK.

use std::time::Duration;

use tests::{Sipp, Transport};

use crate::{run_scenario, servers};

/// How long the ringing server waits between 180 and 200: long enough for
/// a CANCEL or an INVITE retransmission to arrive while it rings.
const RING_DELAY: Duration = Duration::from_secs(2);

/// SIPp's built-in `uac` scenario (INVITE, 100/180, 200, ACK, BYE, 200):
/// 300 calls at 100 calls per second, all successful.
fn builtin_uac(transport: Transport) {
    let server = servers::answer();
    Sipp::builtin("uac", server.addr())
        .label("builtin uac x300")
        .transport(transport)
        .calls(300)
        .rate(100)
        .timeout(Duration::from_secs(60))
        .run()
        .assert_all_successful();
    server.stop();
}

#[test]
fn builtin_uac_300_calls_over_udp() {
    builtin_uac(Transport::Udp);
}

#[test]
fn builtin_uac_300_calls_over_tcp() {
    builtin_uac(Transport::Tcp);
}

#[test]
fn options_gets_200_with_allow_over_udp() {
    let server = servers::answer();
    run_scenario(&server, "options.xml", Transport::Udp, 10);
    server.stop();
}

#[test]
fn options_gets_200_with_allow_over_tcp() {
    let server = servers::answer();
    run_scenario(&server, "options.xml", Transport::Tcp, 10);
    server.stop();
}

#[test]
fn unknown_method_gets_501_with_allow() {
    let server = servers::answer();
    run_scenario(&server, "unknown_method.xml", Transport::Udp, 5);
    run_scenario(&server, "unknown_method.xml", Transport::Tcp, 5);
    server.stop();
}

#[test]
fn message_and_register_get_405_with_allow() {
    let server = servers::answer();
    run_scenario(&server, "not_allowed.xml", Transport::Udp, 5);
    run_scenario(&server, "not_allowed.xml", Transport::Tcp, 5);
    server.stop();
}

#[test]
fn unknown_extensions_schemes_and_bodies_are_refused_before_the_handler() {
    let server = servers::answer();
    run_scenario(&server, "refusals.xml", Transport::Udp, 5);
    run_scenario(&server, "refusals.xml", Transport::Tcp, 5);
    server.stop();
}

#[test]
fn bye_for_an_unknown_dialog_gets_481() {
    let server = servers::answer();
    run_scenario(&server, "bye_unknown_dialog.xml", Transport::Udp, 5);
    run_scenario(&server, "bye_unknown_dialog.xml", Transport::Tcp, 5);
    server.stop();
}

#[test]
fn invite_gets_an_sdp_answer_for_the_offered_codec() {
    let server = servers::answer();
    run_scenario(&server, "invite_sdp.xml", Transport::Udp, 5);
    run_scenario(&server, "invite_sdp.xml", Transport::Tcp, 5);
    server.stop();
}

#[test]
fn cancel_of_a_ringing_invite_gets_200_and_487() {
    let server = servers::answer_ringing(RING_DELAY);
    run_scenario(&server, "invite_cancel.xml", Transport::Udp, 5);
    run_scenario(&server, "invite_cancel.xml", Transport::Tcp, 5);
    server.stop();
}

/// `-nr`: SIPp neither retransmits nor hides identical responses, so the
/// scenario sees every message the server sends.
#[test]
fn retransmitted_invite_after_200_is_absorbed() {
    let server = servers::answer();
    Sipp::scenario("invite_retransmission.xml", server.addr())
        .transport(Transport::Udp)
        .no_retransmissions()
        .calls(3)
        .rate(10)
        .run()
        .assert_all_successful();
    server.stop();
}

#[test]
fn retransmitted_invite_while_ringing_gets_the_180_again() {
    let server = servers::answer_ringing(RING_DELAY);
    Sipp::scenario("invite_retransmission_ringing.xml", server.addr())
        .transport(Transport::Udp)
        .no_retransmissions()
        .calls(3)
        .rate(10)
        .run()
        .assert_all_successful();
    server.stop();
}

/// SLOW: about 33 s of real time. The 200 is never ACKed; the server must
/// end the dialog with a BYE after 64*T1 = 32 s.
#[test]
fn missing_ack_makes_the_server_send_bye_after_32_s() {
    let server = servers::answer();
    Sipp::scenario("missing_ack.xml", server.addr())
        .transport(Transport::Udp)
        .calls(1)
        .timeout(Duration::from_secs(60))
        .run()
        .assert_all_successful();
    server.stop();
}

/// A blind transfer (RFC 3515): SIPp calls `answer` and REFERs it to a
/// second `answer` server; `answer` places that call and reports it in
/// sipfrag NOTIFYs (100 Trying, then 200 OK ending the subscription).
fn refer_transfer(transport: Transport) {
    let server = servers::answer();
    let target = servers::answer();
    Sipp::scenario("refer_transfer.xml", server.addr())
        .label("REFER x10")
        .transport(transport)
        .key("target", target.addr().to_string())
        .calls(10)
        .rate(10)
        .timeout(Duration::from_secs(60))
        .run()
        .assert_all_successful();
    server.stop();
    target.stop();
}

#[test]
fn refer_gets_202_and_sipfrag_notifies_over_udp() {
    refer_transfer(Transport::Udp);
}

#[test]
fn refer_gets_202_and_sipfrag_notifies_over_tcp() {
    refer_transfer(Transport::Tcp);
}

/// An INVITE with `Replaces` (RFC 3891) from SIPp replaces a call that a
/// `parrot::client` set up with `answer` first: SIPp's call is answered,
/// and the client's call ends with the server's BYE.
#[test]
fn invite_with_replaces_ends_the_replaced_call() {
    use parrot::client::{CallEnd, Client};
    let server = servers::answer();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let offer = parrot::sdp::offer_audio(tests::LOOPBACK, 40002).to_string();
    let (client, mut call) = rt.block_on(async {
        let client = Client::builder()
            .listen((tests::LOOPBACK, 0).into())
            .bind()
            .await
            .unwrap();
        let uri = format!("sip:bob@{}", server.addr());
        let call = client.invite(uri.as_str(), offer).await.unwrap().wait();
        (client.clone(), call.await.unwrap())
    });
    let id = call.dialog_id().clone();
    // Seen from the server: its tag is the to-tag, the client's the
    // from-tag.
    Sipp::scenario("replaces.xml", server.addr())
        .label("INVITE with Replaces")
        .key("replaced_call_id", id.call_id.as_str())
        .key("replaced_to_tag", id.remote_tag.as_str())
        .key("replaced_from_tag", id.local_tag.as_str())
        .calls(1)
        .timeout(Duration::from_secs(30))
        .run()
        .assert_all_successful();
    let end = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), call.ended())
            .await
            .expect("the replaced call ended")
    });
    assert!(matches!(end, CallEnd::RemoteBye(_)), "{end}");
    client.shutdown();
    server.stop();
}
