//! Hold and resume from a handler (`Context::hold`, `Context::resume`,
//! RFC 3264 §8.4, RFC 6337 §5.3) and its other new offers
//! (`Context::offer`, `Context::reinvite`), against a scripted caller over
//! loopback UDP on tokio's paused clock: the offers on the wire (`sendonly`,
//! `inactive`, `sendrecv`, the `o=` version), UPDATE when the caller
//! allows it and re-INVITE otherwise, the ACK of the re-INVITE's 2xx, a
//! `491` retried after the glare delay, and a refused UPDATE falling back
//! to re-INVITE.

use parrot::message::{Method, Request, Response, StatusCode};
use parrot::prelude::*;
use parrot::sdp::{Direction, SessionDescription};
use parrot::server::RequestError;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

mod support;

use support::caller::Caller;

/// The server's answer to the INVITE: version 1 of its description.
fn answer(direction: &str) -> String {
    format!(
        "v=0\r\no=parrot 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n{direction}"
    )
}

/// The caller's offer, and its answers to the server's offers.
const CALLER_SDP: &str = "v=0\r\no=alice 5 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";

/// What the handler saw of its offers.
type Outcome = Result<StatusCode, RequestError>;

/// Answers the call, then by the Request-URI's user: holds and resumes
/// (`bob`; `listen` answers `recvonly` first), or re-INVITEs with an
/// offer of its own (`reinvite`).
struct Holder(mpsc::UnboundedSender<Outcome>);

#[uas_handler]
impl Holder {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
        // An offer of ours while this INVITE is unanswered is refused
        // (RFC 3261 §14.1).
        let _ = self.0.send(cx.hold().await.map(|r| r.status));
        let user = req.uri.as_sip().and_then(|u| u.user()).unwrap_or_default();
        let direction = if user.as_ref() == "listen" {
            "a=recvonly\r\n"
        } else {
            ""
        };
        req.reply(StatusCode::OK).sdp(answer(direction))
    }

    async fn ack(&mut self, req: &Request, cx: &mut Context) {
        let user = req.uri.as_sip().and_then(|u| u.user()).unwrap_or_default();
        if user.as_ref() == "reinvite" {
            let sdp = answer("a=sendonly\r\n").replace(" 9 1 ", " 9 2 ");
            let _ = self.0.send(cx.reinvite(sdp).await.map(|r| r.status));
            return;
        }
        let _ = self.0.send(cx.hold().await.map(|r| r.status));
        let _ = self.0.send(cx.resume().await.map(|r| r.status));
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

async fn server() -> (SocketAddr, mpsc::UnboundedReceiver<Outcome>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Holder(tx.clone()))
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    (addr, rx)
}

/// Sets up a call to `user` (`extra` headers on the INVITE); returns the
/// caller and the server's To tag.
async fn call(addr: SocketAddr, id: &str, user: &str, extra: &str) -> (Caller, String) {
    let mut c = Caller::new(addr, id).await;
    let invite = c.text("INVITE", user, "", extra, CALLER_SDP);
    c.send(&invite).await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    let tag = ok.headers.to_tag().unwrap();
    let ack = c.text("ACK", user, &tag, "", "");
    c.send(&ack).await;
    (c, tag.to_string())
}

/// The offer `req` carries, parsed.
fn offer_of(req: &Request) -> SessionDescription {
    assert_eq!(
        req.headers.get("Content-Type").map(|v| v.to_string()),
        Some("application/sdp".to_owned()),
        "{req:?}"
    );
    std::str::from_utf8(&req.body).unwrap().parse().unwrap()
}

fn audio_direction(sdp: &SessionDescription) -> Direction {
    sdp.direction_of(&sdp.media[0])
}

/// The caller's answer to an offer with `direction`.
fn answer_to(offer: &SessionDescription) -> String {
    let dir = audio_direction(offer).answer();
    format!("{CALLER_SDP}a={dir}\r\n")
}

/// Reads the ACK of the 2xx to `invite`: same CSeq number, in the dialog.
async fn expect_ack(c: &mut Caller, invite: &Request) {
    let ack = c.recv_request().await.expect("an ACK");
    assert_eq!(ack.method, Method::Ack, "{ack:?}");
    let cseq = ack.headers.cseq().unwrap();
    assert_eq!(cseq.seq, invite.headers.cseq().unwrap().seq);
    assert_eq!(ack.headers.call_id(), invite.headers.call_id());
    assert_eq!(ack.headers.from_tag(), invite.headers.from_tag());
    assert_eq!(ack.headers.to_tag(), invite.headers.to_tag());
}

async fn expect_outcome(rx: &mut mpsc::UnboundedReceiver<Outcome>, want: Outcome) {
    let got = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an outcome in time")
        .expect("the handler reports");
    assert_eq!(got, want);
}

#[tokio::test(start_paused = true)]
async fn hold_and_resume_by_reinvite_when_update_is_not_allowed() {
    let (addr, mut rx) = server().await;
    let (mut c, tag) = call(addr, "hold-reinvite", "bob", "").await;
    expect_outcome(&mut rx, Err(RequestError::OfferPending)).await;

    // Hold: a re-INVITE, the stream sendonly, o= version 2.
    let hold = c.recv_request().await.expect("the hold offer");
    assert_eq!(hold.method, Method::Invite, "{hold:?}");
    assert_eq!(hold.headers.from_tag().as_deref(), Some(&*tag));
    let offer = offer_of(&hold);
    assert_eq!(audio_direction(&offer), Direction::SendOnly);
    assert_eq!(offer.origin.session_version, 2);
    assert_eq!(offer.origin.session_id, 9);
    c.answer(&hold, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_ack(&mut c, &hold).await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;

    // Resume: sendrecv again, version 3, the next CSeq.
    let resume = c.recv_request().await.expect("the resume offer");
    assert_eq!(resume.method, Method::Invite);
    assert_eq!(
        resume.headers.cseq().unwrap().seq,
        hold.headers.cseq().unwrap().seq + 1
    );
    let offer = offer_of(&resume);
    assert_eq!(audio_direction(&offer), Direction::SendRecv);
    assert_eq!(offer.origin.session_version, 3);
    c.answer(&resume, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_ack(&mut c, &resume).await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;

    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
}

#[tokio::test(start_paused = true)]
async fn hold_and_resume_by_update_when_the_caller_allows_it() {
    let (addr, mut rx) = server().await;
    let allow = "Allow: INVITE, ACK, BYE, CANCEL, UPDATE\r\n";
    let (mut c, _tag) = call(addr, "hold-update", "listen", allow).await;
    expect_outcome(&mut rx, Err(RequestError::OfferPending)).await;

    // Our stream was recvonly: on hold it becomes inactive.
    let hold = c.recv_request().await.expect("the hold offer");
    assert_eq!(hold.method, Method::Update, "{hold:?}");
    let offer = offer_of(&hold);
    assert_eq!(audio_direction(&offer), Direction::Inactive);
    assert_eq!(offer.origin.session_version, 2);
    c.answer(&hold, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;

    // No ACK for an UPDATE: the next request is the resume, recvonly.
    let resume = c.recv_request().await.expect("the resume offer");
    assert_eq!(resume.method, Method::Update, "{resume:?}");
    let offer = offer_of(&resume);
    assert_eq!(audio_direction(&offer), Direction::RecvOnly);
    assert_eq!(offer.origin.session_version, 3);
    c.answer(&resume, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;
}

#[tokio::test(start_paused = true)]
async fn a_491_is_retried_after_the_glare_delay() {
    let (addr, mut rx) = server().await;
    let (mut c, _tag) = call(addr, "hold-glare", "bob", "").await;
    expect_outcome(&mut rx, Err(RequestError::OfferPending)).await;

    let first = c.recv_request().await.expect("the hold offer");
    assert_eq!(first.method, Method::Invite);
    c.answer(&first, StatusCode::REQUEST_PENDING, "", "").await;
    let refused = Instant::now();
    // The 491 is acknowledged by the INVITE's client transaction
    // (§17.1.1.3: same branch, CSeq method ACK).
    let ack = c.recv_request().await.expect("the ACK of the 491");
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.headers.top_via().unwrap().branch(),
        first.headers.top_via().unwrap().branch()
    );

    // §14.1: we did not make the Call-ID, so 0 to 2 s later the same
    // offer again, in a new transaction with the next CSeq.
    let again = c.recv_request().await.expect("the offer again");
    let waited = Instant::now() - refused;
    assert!(waited <= Duration::from_millis(2_010), "{waited:?}");
    assert_eq!(again.method, Method::Invite);
    assert_eq!(
        again.headers.cseq().unwrap().seq,
        first.headers.cseq().unwrap().seq + 1
    );
    assert_eq!(again.body, first.body);
    let offer = offer_of(&again);
    assert_eq!(audio_direction(&offer), Direction::SendOnly);
    c.answer(&again, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_ack(&mut c, &again).await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;
}

#[tokio::test(start_paused = true)]
async fn an_update_refused_as_unknown_is_sent_again_as_a_reinvite() {
    let (addr, mut rx) = server().await;
    let allow = "Allow: INVITE, ACK, BYE, UPDATE\r\n";
    let (mut c, _tag) = call(addr, "hold-405", "bob", allow).await;
    expect_outcome(&mut rx, Err(RequestError::OfferPending)).await;

    let update = c.recv_request().await.expect("the hold UPDATE");
    assert_eq!(update.method, Method::Update);
    c.answer(&update, StatusCode::NOT_IMPLEMENTED, "", "").await;
    // (A non-INVITE transaction: nothing acknowledges the 501.)
    let invite = c.recv_request().await.expect("the hold re-INVITE");
    assert_eq!(invite.method, Method::Invite, "{invite:?}");
    assert_eq!(invite.body, update.body);
    let offer = offer_of(&invite);
    c.answer(&invite, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_ack(&mut c, &invite).await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;

    // The resume goes by re-INVITE from the start.
    let resume = c.recv_request().await.expect("the resume offer");
    assert_eq!(resume.method, Method::Invite, "{resume:?}");
    c.answer(&resume, StatusCode::OK, "", &answer_to(&offer_of(&resume)))
        .await;
    expect_ack(&mut c, &resume).await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_hold_leaves_the_session_as_it_was() {
    let (addr, mut rx) = server().await;
    let (mut c, _tag) = call(addr, "hold-488", "bob", "").await;
    expect_outcome(&mut rx, Err(RequestError::OfferPending)).await;

    let hold = c.recv_request().await.expect("the hold offer");
    c.answer(&hold, StatusCode::NOT_ACCEPTABLE_HERE, "", "")
        .await;
    let ack = c.recv_request().await.expect("the ACK of the 488");
    assert_eq!(ack.method, Method::Ack);
    expect_outcome(&mut rx, Ok(StatusCode::NOT_ACCEPTABLE_HERE)).await;
    // The resume starts from the description still in force (version 1):
    // nothing to resume, the same description again (RFC 3264 §8).
    let resume = c.recv_request().await.expect("the resume offer");
    let offer = offer_of(&resume);
    assert_eq!(audio_direction(&offer), Direction::SendRecv);
    assert_eq!(offer.origin.session_version, 1);
    c.answer(&resume, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;
}

#[tokio::test(start_paused = true)]
async fn reinvite_sends_the_handlers_offer() {
    let (addr, mut rx) = server().await;
    let allow = "Allow: INVITE, ACK, BYE, UPDATE\r\n";
    let (mut c, _tag) = call(addr, "reinvite", "reinvite", allow).await;
    expect_outcome(&mut rx, Err(RequestError::OfferPending)).await;

    // A re-INVITE even though UPDATE is allowed.
    let invite = c.recv_request().await.expect("the re-INVITE");
    assert_eq!(invite.method, Method::Invite, "{invite:?}");
    let offer = offer_of(&invite);
    assert_eq!(audio_direction(&offer), Direction::SendOnly);
    assert_eq!(offer.origin.session_version, 2);
    // Our Contact rides on the target refresh (§12.2.1.1).
    assert!(invite.headers.get("Contact").is_some(), "{invite:?}");
    c.answer(&invite, StatusCode::OK, "", &answer_to(&offer))
        .await;
    expect_ack(&mut c, &invite).await;
    expect_outcome(&mut rx, Ok(StatusCode::OK)).await;
}
