//! The server's own requests inside a dialog meeting a challenge (RFC 3261
//! §22.2, §22.3): with `ServerBuilder::credentials`, a `401` or `407` to
//! a handler's INFO, re-INVITE or BYE is answered once, the request sent
//! again with `Authorization` (or `Proxy-Authorization`), the dialog's
//! next CSeq and a new branch; the ACK of a 2xx to a challenged re-INVITE
//! carries the INVITE's credentials (§13.2.2.4); credentials refused get
//! the second challenge back to the handler, with no third sending.
//! The scripted caller verifies the digests with `DigestAuthenticator`.

use parrot::auth::{DigestAuthenticator, Users};
use parrot::message::{HeaderName, Method, Request, Response, StatusCode};
use parrot::prelude::*;
use parrot::server::RequestError;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

mod support;

use support::caller::Caller;

const SDP: &str = "v=0\r\no=parrot 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
const CALLER_SDP: &str = "v=0\r\no=alice 5 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";

type Outcome = (Method, Result<StatusCode, RequestError>);

/// Answers the call, then sends INFO, a re-INVITE, OPTIONS and BYE in
/// turn, reporting each final status.
struct Talker(mpsc::UnboundedSender<Outcome>);

#[uas_handler]
impl Talker {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn ack(&mut self, _req: &Request, cx: &mut Context) {
        let info = cx
            .send_with_body(Method::Info, "application/dtmf-relay", "Signal=1\r\n")
            .await;
        let _ = self.0.send((Method::Info, info.map(|r| r.status)));
        let reinvite = cx.reinvite(SDP.replace(" 9 1 ", " 9 2 ")).await;
        let _ = self.0.send((Method::Invite, reinvite.map(|r| r.status)));
        let options = cx.send(Method::Options).await;
        let _ = self.0.send((Method::Options, options.map(|r| r.status)));
        let bye = cx.bye().await;
        let _ = self.0.send((Method::Bye, bye.map(|r| r.status)));
    }
}

async fn server(credentials: bool) -> (SocketAddr, mpsc::UnboundedReceiver<Outcome>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut builder = Server::builder().listen("127.0.0.1:0");
    if credentials {
        builder = builder.credentials("parrot", "secret");
    }
    let server = builder
        .handler(move || Talker(tx.clone()))
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    (addr, rx)
}

async fn call(addr: SocketAddr, id: &str) -> Caller {
    let mut c = Caller::new(addr, id).await;
    let invite = c.text("INVITE", "bob", "", "", CALLER_SDP);
    c.send(&invite).await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    let tag = ok.headers.to_tag().unwrap();
    let ack = c.text("ACK", "bob", &tag, "", "");
    c.send(&ack).await;
    c
}

async fn outcome(rx: &mut mpsc::UnboundedReceiver<Outcome>) -> Outcome {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an outcome in time")
        .expect("the handler reports")
}

fn seq(r: &Request) -> u32 {
    r.headers.cseq().unwrap().seq
}

fn branch(r: &Request) -> String {
    r.headers.top_via().unwrap().branch().unwrap().to_string()
}

/// Challenges `req` (`proxy`: 407), reads the request sent again and checks
/// it is `req` with credentials the authenticator accepts, the next CSeq and
/// a new branch; returns it.
async fn challenge_once(
    c: &mut Caller,
    auth: &DigestAuthenticator,
    req: &Request,
    proxy: bool,
) -> Request {
    let challenge = auth
        .authenticate(req, proxy)
        .expect_err("no credentials yet");
    c.sock
        .send_to(&challenge.to_bytes(), c.server)
        .await
        .unwrap();
    let mut again = c.recv_request().await.expect("the request again");
    if again.method == Method::Ack {
        // The ACK of a challenged INVITE (§17.1.1.3).
        assert_eq!(branch(&again), branch(req));
        again = c.recv_request().await.expect("the request again");
    }
    assert_eq!(again.method, req.method, "{again:?}");
    assert_eq!(seq(&again), seq(req) + 1);
    assert_ne!(branch(&again), branch(req));
    assert_eq!(again.body, req.body);
    assert_eq!(again.headers.call_id(), req.headers.call_id());
    let user = auth
        .authenticate(&again, proxy)
        .expect("credentials accepted");
    assert_eq!(user.username, "parrot");
    let (present, absent) = if proxy {
        (HeaderName::ProxyAuthorization, HeaderName::Authorization)
    } else {
        (HeaderName::Authorization, HeaderName::ProxyAuthorization)
    };
    assert!(again.headers.contains(present), "{again:?}");
    assert!(!again.headers.contains(absent), "{again:?}");
    again
}

#[tokio::test(start_paused = true)]
async fn challenged_requests_in_the_dialog_are_sent_again_with_credentials() {
    let (addr, mut rx) = server(true).await;
    let mut c = call(addr, "auth-in-dialog").await;
    let auth = DigestAuthenticator::new("example.com", Users::new().with("parrot", "secret"));

    // INFO: 401, then Authorization.
    let info = c.recv_request().await.expect("the INFO");
    assert_eq!(info.method, Method::Info);
    let info = challenge_once(&mut c, &auth, &info, false).await;
    c.answer(&info, StatusCode::OK, "", "").await;
    assert_eq!(outcome(&mut rx).await, (Method::Info, Ok(StatusCode::OK)));

    // re-INVITE: 407, then Proxy-Authorization; the ACK of its 2xx has
    // the INVITE's CSeq number and credentials (§13.2.2.4).
    let invite = c.recv_request().await.expect("the re-INVITE");
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(seq(&invite), seq(&info) + 1);
    let invite = challenge_once(&mut c, &auth, &invite, true).await;
    c.answer(&invite, StatusCode::OK, "", CALLER_SDP).await;
    let ack = c.recv_request().await.expect("the ACK");
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(seq(&ack), seq(&invite));
    assert_eq!(
        ack.headers.get(HeaderName::ProxyAuthorization),
        invite.headers.get(HeaderName::ProxyAuthorization)
    );
    assert_eq!(outcome(&mut rx).await, (Method::Invite, Ok(StatusCode::OK)));

    // OPTIONS: the credentials are refused (a second 401): handed back to
    // the handler, not sent a third time.
    let options = c.recv_request().await.expect("the OPTIONS");
    assert_eq!(options.method, Method::Options);
    let options = challenge_once(&mut c, &auth, &options, false).await;
    let refused = auth.challenge_response(&options, false, false);
    c.sock.send_to(&refused.to_bytes(), c.server).await.unwrap();
    assert_eq!(
        outcome(&mut rx).await,
        (Method::Options, Ok(StatusCode::UNAUTHORIZED))
    );

    // BYE: 401, then Authorization, the next CSeq.
    let bye = c.recv_request().await.expect("the BYE");
    assert_eq!(bye.method, Method::Bye, "{bye:?}");
    assert_eq!(seq(&bye), seq(&options) + 1);
    let bye = challenge_once(&mut c, &auth, &bye, false).await;
    c.answer(&bye, StatusCode::OK, "", "").await;
    assert_eq!(outcome(&mut rx).await, (Method::Bye, Ok(StatusCode::OK)));
}

#[tokio::test(start_paused = true)]
async fn without_credentials_the_challenge_goes_to_the_handler() {
    let (addr, mut rx) = server(false).await;
    let mut c = call(addr, "auth-none").await;
    let auth = DigestAuthenticator::new("example.com", Users::new().with("parrot", "secret"));

    let info = c.recv_request().await.expect("the INFO");
    let challenge = auth.authenticate(&info, false).expect_err("no credentials");
    c.sock
        .send_to(&challenge.to_bytes(), c.server)
        .await
        .unwrap();
    assert_eq!(
        outcome(&mut rx).await,
        (Method::Info, Ok(StatusCode::UNAUTHORIZED))
    );
    // The next request is the re-INVITE, not the INFO again.
    let next = c.recv_request().await.expect("the re-INVITE");
    assert_eq!(next.method, Method::Invite, "{next:?}");
    assert_eq!(seq(&next), seq(&info) + 1);
}
