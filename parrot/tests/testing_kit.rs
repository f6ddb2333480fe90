//! The test kit (`parrot::testing`) driving real handlers on the paused
//! clock: scripted calls, the server's retransmissions as they happen,
//! injected loss, duplication and reordering, the failure report, the
//! same script against a server on real UDP and TCP sockets, and SIPp
//! scenario files.

use parrot::message::Method;
use parrot::prelude::*;
use parrot::testing::{Failure, Fault, Kit, Peer, sipp};
use std::time::Duration;

const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Rings for a second, then answers.
struct Phone;

#[uas_handler]
impl Phone {
    async fn invite(&mut self, req: &Request, cx: &mut Context<'_>) -> Response {
        cx.ring().ok();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let answer = parrot::sdp::SessionDescription::from_bytes(&req.body)
            .ok()
            .and_then(|o| parrot::sdp::answer_audio(&o, [192, 0, 2, 1], 30000));
        match answer {
            Some(a) => req.reply(StatusCode::OK).sdp(a),
            None => req.reply(StatusCode::NOT_ACCEPTABLE_HERE),
        }
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

/// Answers, and hangs up as soon as the ACK comes.
struct Quits;

#[uas_handler]
impl Quits {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }

    async fn ack(&mut self, _req: &Request) -> Action {
        Action::Stop("done".into())
    }
}

/// Always busy.
struct Busy;

#[uas_handler]
impl Busy {
    async fn invite(&mut self, _req: &Request) -> StatusCode {
        StatusCode::BUSY_HERE
    }
}

async fn phone() -> Kit {
    Kit::start(Server::builder().handler(|| Phone)).await
}

#[tokio::test(start_paused = true)]
async fn a_call_rings_answers_and_hangs_up_on_the_paused_clock() -> Result<(), Failure> {
    let kit = phone().await;
    let start = tokio::time::Instant::now();
    let mut call = kit.invite("sip:phone@test").sdp(OFFER).send().await?;
    call.expect(180).await?;
    let ok = call.expect(200).await?;
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "the handler's ring"
    );
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio 30000"));
    call.ack().await?;
    kit.advance(Duration::from_secs(30)).await;
    call.hang_up().await?;
    let ladder = kit.ladder();
    for label in ["INVITE", "180 Ringing", "200 OK", "ACK", "BYE"] {
        assert!(ladder.contains(label), "{label} in\n{ladder}");
    }
    assert!(ladder.contains("alice") && ladder.contains("server"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_answer_is_retransmitted_at_t1_doubling_then_the_call_ends()
-> Result<(), Failure> {
    let kit = phone().await;
    kit.alice().set_timeout(Duration::from_secs(40));
    let mut call = kit.invite("sip:phone@test").sdp(OFFER).send().await?;
    call.expect(180).await?;
    call.expect(200).await?;
    let answered = tokio::time::Instant::now();
    // No ACK: RFC 3261 §13.3.1.4, the 2xx again at T1, 2·T1... up to T2,
    // then a BYE after 64·T1.
    let bye = call.expect_request(Method::Bye).await?;
    assert_eq!(answered.elapsed(), Duration::from_secs(32));
    call.reply(&bye, 200).await?;
    let times: Vec<_> = kit
        .flow()
        .entries()
        .iter()
        .filter(|e| e.label.starts_with("200") && e.retransmission)
        .map(|e| e.time)
        .collect();
    let gaps: Vec<u64> = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap().as_millis() as u64)
        .collect();
    assert_eq!(gaps[..3], [1000, 2000, 4000], "{}", kit.ladder());
    assert!(gaps[3..].iter().all(|&g| g == 4000), "{gaps:?}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_arrives_by_retransmission_and_a_duplicated_invite_is_absorbed()
-> Result<(), Failure> {
    let kit = phone().await;
    let alice = kit.alice();
    alice.inject(Fault::drop().response(200));
    alice.inject(Fault::duplicate().request(Method::Invite).outgoing());
    let mut call = kit.invite("sip:phone@test").sdp(OFFER).send().await?;
    call.expect(180).await?;
    let before = tokio::time::Instant::now();
    call.expect(200).await?;
    // The first 200 was lost; the copy came at T1.
    assert_eq!(before.elapsed(), Duration::from_millis(1500));
    call.ack().await?;
    assert!(kit.endpoint().retransmissions_absorbed() >= 1);
    let ladder = kit.ladder();
    assert!(
        ladder.contains("dropped 200 OK on its way to alice"),
        "{ladder}"
    );
    assert!(ladder.contains("duplicated INVITE from alice"), "{ladder}");
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn a_delayed_ringing_is_overtaken_by_the_answer() -> Result<(), Failure> {
    let kit = phone().await;
    kit.alice()
        .inject(Fault::delay(Duration::from_secs(5)).response(180));
    let mut call = kit.invite("sip:phone@test").sdp(OFFER).send().await?;
    call.expect(200).await?;
    call.ack().await?;
    call.expect(180).await?;
    call.hang_up().await
}

#[tokio::test(start_paused = true)]
async fn a_busy_answer_is_acknowledged_by_the_peer_and_not_repeated() -> Result<(), Failure> {
    let kit = Kit::start(Server::builder().handler(|| Busy)).await;
    let mut call = kit.invite("sip:busy@test").sdp(OFFER).send().await?;
    call.expect(486).await?;
    kit.alice().expect_silence(Duration::from_secs(40)).await?;
    let acks = kit
        .flow()
        .entries()
        .iter()
        .filter(|e| e.label.starts_with("ACK"))
        .count();
    assert_eq!(acks, 1, "{}", kit.ladder());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_gets_200_and_487() -> Result<(), Failure> {
    let kit = phone().await;
    let mut call = kit.invite("sip:phone@test").sdp(OFFER).send().await?;
    call.expect(180).await?;
    call.cancel().await?;
    call.expect(200).await?;
    call.expect(487).await?;
    kit.alice().expect_silence(Duration::from_secs(40)).await
}

#[tokio::test(start_paused = true)]
async fn a_server_hanging_up_sends_bye_in_the_dialog() -> Result<(), Failure> {
    let kit = Kit::start(Server::builder().handler(|| Quits)).await;
    let mut call = kit.invite("sip:quits@test").send().await?;
    call.expect(200).await?;
    call.ack().await?;
    let bye = call.expect_request(Method::Bye).await?;
    assert_eq!(bye.headers.to_tag().unwrap().as_str(), call.local_tag());
    call.reply(&bye, 200).await
}

#[tokio::test(start_paused = true)]
async fn a_failed_expectation_shows_the_message_and_the_ladder() {
    let kit = phone().await;
    let mut call = kit
        .invite("sip:phone@test")
        .sdp(OFFER)
        .send()
        .await
        .unwrap();
    call.expect(180).await.unwrap();
    let failure = call.expect(486).await.unwrap_err();
    let report = failure.to_string();
    assert!(report.starts_with("expected 486 on call "), "{report}");
    assert!(
        failure.got().unwrap().starts_with("SIP/2.0 200 OK\r\n"),
        "{report}"
    );
    assert!(
        report.contains("Content-Type: application/sdp"),
        "the whole message:\n{report}"
    );
    assert!(failure.ladder().contains("180 Ringing"), "{report}");
    assert_eq!(format!("{failure:?}"), report);
    let svg = parrot::trace::ladder::render_svg(failure.flow());
    assert!(
        svg.starts_with("<svg") && svg.contains("180 Ringing"),
        "{svg}"
    );
    // Nothing at all: the wait ends on the (paused) clock.
    let silence = kit.alice().expect_request(Method::Bye);
    let failure = tokio::time::timeout(Duration::from_secs(60), silence)
        .await
        .expect("the expectation gives up by itself")
        .unwrap_err();
    assert!(failure.to_string().contains("got nothing"), "{failure}");
}

/// The script of the tests above, for a peer anywhere.
async fn ring_answer_hang_up(peer: &Peer) -> Result<(), Failure> {
    let mut call = peer.invite("sip:phone@test").sdp(OFFER).send().await?;
    call.expect(180).await?;
    call.expect(200).await?;
    call.ack().await?;
    call.hang_up().await
}

#[tokio::test]
async fn the_same_script_runs_against_a_server_on_real_udp_and_tcp() -> Result<(), Failure> {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(|| Phone)
        .bind()
        .await
        .expect("bind");
    let udp = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    let tcp = server.local_addr(parrot::transport::Protocol::Tcp).unwrap();
    tokio::spawn(server.serve().into_future());
    let peer = Peer::udp("alice", udp).await.expect("UDP socket");
    ring_answer_hang_up(&peer).await?;
    let peer = Peer::tcp("alice", tcp).await.expect("TCP connection");
    ring_answer_hang_up(&peer).await?;
    assert!(peer.ladder().contains("BYE"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_same_script_runs_on_the_kit() -> Result<(), Failure> {
    let kit = phone().await;
    ring_answer_hang_up(kit.alice()).await
}

/// A UAC scenario in SIPp's format: INVITE, optional 100/180, 200, ACK, a
/// pause, BYE, 200.
const UAC: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="call and hang up">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: caller <sip:caller@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: [cseq] INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: caller <sip:caller@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: [cseq] ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="2000"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: caller <sip:caller@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: [cseq] BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <ResponseTimeRepartition value="10, 20"/>
</scenario>
"#;

#[tokio::test(start_paused = true)]
async fn a_sipp_scenario_plays_against_the_kit_even_with_its_bye_lost() -> Result<(), Failure> {
    let kit = phone().await;
    // The scenario's retrans="500" makes up for it.
    kit.alice()
        .inject(Fault::drop().request(Method::Bye).outgoing());
    sipp::run(kit.alice(), UAC).await?;
    let flow = kit.flow();
    let byes = flow
        .entries()
        .iter()
        .filter(|e| e.label.starts_with("BYE"))
        .count();
    assert_eq!(byes, 1, "one BYE lost, one arrived:\n{}", kit.ladder());
    assert_eq!(kit.stats().live_dialogs(), 0, "{}", kit.ladder());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_sipp_scenario_that_waits_for_the_wrong_answer_fails_with_the_ladder() {
    let kit = Kit::start(Server::builder().handler(|| Busy)).await;
    let failure = sipp::run(kit.alice(), UAC).await.unwrap_err();
    let report = failure.to_string();
    assert!(
        report.contains("response 100 or response 180 or response 200"),
        "{report}"
    );
    assert!(report.contains("SIP/2.0 486 Busy Here"), "{report}");
}

/// Proxies every INVITE to bob, at the kit's second peer address.
struct ToBob;

#[uas_handler]
impl ToBob {
    async fn invite(&mut self, _req: &Request) -> parrot::proxy::Proxy {
        parrot::proxy::Proxy::to(
            "sip:bob@192.0.2.11:5060"
                .parse::<parrot::message::Uri>()
                .unwrap(),
        )
    }
}

/// A UAS scenario in SIPp's format: INVITE, 180, 200 (retransmitted
/// until the ACK), BYE, 200.
const UAS: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer and wait for the BYE">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]B[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:bob@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]B[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:bob@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=bob 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
    ]]>
  </send>
  <recv request="ACK" optional="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <timewait milliseconds="4000"/>
</scenario>
"#;

#[tokio::test(start_paused = true)]
async fn a_sipp_uas_scenario_answers_a_call_the_server_proxies() -> Result<(), Failure> {
    let kit = Kit::start(Server::builder().handler(|| ToBob)).await;
    let bob = kit.peer("bob");
    assert_eq!(bob.addr().to_string(), "192.0.2.11:5060");
    // The 200's first copy is lost: the scenario's retrans="500" resends.
    bob.inject(Fault::drop().response(200).outgoing());
    let callee = tokio::spawn({
        let bob = bob.clone();
        async move { sipp::run(&bob, UAS).await }
    });
    ring_answer_hang_up(kit.alice()).await?;
    callee.await.expect("the scenario task")?;
    let ladder = kit.ladder();
    assert!(
        ladder.contains("bob") && ladder.contains("dropped 200 OK from bob"),
        "{ladder}"
    );
    Ok(())
}

#[test]
fn sipp_scenarios_beyond_the_subset_are_refused_naming_the_element() {
    let cases = [
        (
            "<scenario><label id=\"1\"/></scenario>",
            "<label> is not supported",
        ),
        (
            "<scenario><recv response=\"200\"><action><ereg regexp=\".*\" search_in=\"msg\" assign_to=\"1\"/></action></recv></scenario>",
            "<recv> with <action> is not supported",
        ),
        (
            "<scenario><send next=\"1\"/></scenario>",
            "<send next=...> is not supported",
        ),
        (
            "<scenario><recv/></scenario>",
            "needs response= or request=",
        ),
        (
            "<scenario><pause milliseconds=\"soon\"/></scenario>",
            "is not a number",
        ),
        ("<notascenario/>", "root element"),
        ("<scenario>", "not XML"),
    ];
    for (xml, reason) in cases {
        let e = sipp::Scenario::parse(xml).unwrap_err().to_string();
        assert!(e.contains(reason), "{xml}: {e}");
    }
    assert!(sipp::Scenario::parse(UAC).is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_callee_chooses_its_tag_and_headers_and_a_caller_its_call_id_and_route()
-> Result<(), Failure> {
    let kit = Kit::start(Server::builder().handler(|| ToBob)).await;
    let bob = kit.peer("bob");
    let alice = kit.alice();
    let mut call = alice
        .invite("sip:bob@test")
        .sdp(OFFER)
        .call_id("c1@kit")
        .cseq(41)
        .send()
        .await?;
    let invite = bob.receive_request(Method::Invite).await?;
    assert_eq!(invite.from, Kit::SERVER, "proxied");
    let parrot::message::Message::Request(invite) = invite.message else {
        unreachable!()
    };
    assert_eq!(invite.headers.call_id().unwrap().as_str(), "c1@kit");
    assert_eq!(invite.headers.cseq().unwrap().seq, 41);
    bob.reply(&invite, 180)
        .tag("bob-1")
        .without("Contact")
        .send()
        .await?;
    bob.reply(&invite, 200).sdp(OFFER).send().await?;
    let ringing = call.expect(180).await?;
    assert_eq!(ringing.headers.to_tag().unwrap().as_str(), "bob-1");
    assert!(!ringing.headers.contains("Contact"));
    let ok = call.expect(200).await?;
    assert_eq!(
        ok.headers.to_tag().unwrap().as_str(),
        "bob-1",
        "the tag kept"
    );
    assert_eq!(bob.tag("c1@kit"), "bob-1");
    // The ACK left off the route set goes straight to bob.
    call.in_dialog(Method::Ack).without("Route").send().await?;
    let ack = bob.receive_request(Method::Ack).await?;
    assert_eq!(ack.from, alice.addr());
    // The BYE follows it, through the proxy, with the next CSeq.
    call.in_dialog(Method::Bye)
        .header("Reason", "Q.850;cause=16")
        .send()
        .await?;
    let bye = bob.receive_request(Method::Bye).await?;
    assert_eq!(bye.from, Kit::SERVER);
    let parrot::message::Message::Request(bye) = bye.message else {
        unreachable!()
    };
    assert_eq!(bye.headers.cseq().unwrap().seq, 42);
    assert_eq!(
        bye.headers.get("Reason").unwrap().as_str(),
        "Q.850;cause=16"
    );
    bob.reply(&bye, 200).send().await?;
    let done = alice.receive_response(200).await?;
    assert_eq!(done.from, Kit::SERVER);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_ack_of_a_call_the_server_proxies_follows_the_route_to_the_callee()
-> Result<(), Failure> {
    // §16.12: the 2xx's ACK is a request of its own, routed by the route
    // set the 200 carried (our Record-Route), and the server has no
    // dialog of its own for it: it must relay it, not drop it.
    let kit = Kit::start(Server::builder().handler(|| ToBob)).await;
    let bob = kit.peer("bob");
    let alice = kit.alice();
    let mut call = alice.invite("sip:bob@test").sdp(OFFER).send().await?;
    let invite = bob.receive_request(Method::Invite).await?;
    let parrot::message::Message::Request(invite) = invite.message else {
        unreachable!()
    };
    bob.reply(&invite, 200).sdp(OFFER).send().await?;
    let ok = call.expect(200).await?;
    assert!(ok.headers.contains("Record-Route"), "{ok:?}");
    call.in_dialog(Method::Ack).send().await?;
    let ack = bob.receive_request(Method::Ack).await?;
    assert_eq!(ack.from, Kit::SERVER, "relayed by the proxy");
    let parrot::message::Message::Request(ack) = ack.message else {
        unreachable!()
    };
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        invite.headers.cseq().unwrap().seq
    );
    assert_eq!(ack.headers.to_tag(), ok.headers.to_tag());
    Ok(())
}
