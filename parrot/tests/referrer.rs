//! A handler transferring its caller (RFC 3515, as the referrer):
//! `Context::refer` sends REFER in the dialog and yields the statuses the
//! NOTIFYs of its implicit subscription carry, which the runtime answers
//! (also one that overtakes the 202); an attended transfer's `Refer-To`
//! carries an escaped `Replaces` (RFC 3891); a refused REFER yields
//! nothing. The peer is a scripted caller over loopback UDP on tokio's
//! paused clock.

use parrot::dialog::Replaces;
use parrot::message::{HeaderName, Method, NameAddr, Request, Response, StatusCode, Uri};
use parrot::prelude::*;
use std::net::SocketAddr;
use tokio::sync::mpsc;

mod support;

use support::caller::Caller;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// What the handler saw of its REFER: the response's status, then each
/// status reported.
type Seen = mpsc::UnboundedSender<StatusCode>;

/// Answers the call and, once it is set up, transfers the caller to
/// carol (attended, replacing a made-up call, when the user is `attended`).
struct Transferor(Seen);

#[uas_handler]
impl Transferor {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn ack(&mut self, req: &Request, cx: &mut Context) -> Action {
        let target: Uri = "sip:carol@example.com".parse().unwrap();
        let replaces = Replaces::parse("held@example.com;to-tag=t1;from-tag=f1").unwrap();
        let attended = req.uri.to_string().starts_with("sip:attended@");
        let referral = cx.refer(&target, attended.then_some(&replaces)).await;
        let Ok(mut referral) = referral else {
            return Action::NoReply;
        };
        let _ = self.0.send(referral.response().status);
        while let Some(status) = referral.next().await {
            let _ = self.0.send(status);
        }
        Action::NoReply
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

async fn server() -> (SocketAddr, mpsc::UnboundedReceiver<StatusCode>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Transferor(tx.clone()))
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    (addr, rx)
}

/// Calls `user` and acknowledges; the dialog's To tag.
async fn call(c: &mut Caller, user: &str) -> String {
    let invite = c.text("INVITE", user, "", "", SDP);
    c.send(&invite).await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    let tag = ok.headers.to_tag().unwrap().to_string();
    let ack = c.text("ACK", user, &tag, "", "");
    c.send(&ack).await;
    tag
}

/// A NOTIFY of the REFER subscription `id` reporting `frag`.
fn notify(c: &mut Caller, tag: &str, id: u32, state: &str, frag: &str) -> String {
    let extra = format!("Event: refer;id={id}\r\nSubscription-State: {state}\r\n");
    let text = c.text("NOTIFY", "bob", tag, &extra, "");
    let body = format!("{frag}\r\n");
    text.replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: message/sipfrag;version=2.0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[tokio::test(start_paused = true)]
async fn a_handler_transfers_its_caller_and_follows_the_notifies() {
    let (addr, mut seen) = server().await;
    let mut c = Caller::new(addr, "referrer-1").await;
    let tag = call(&mut c, "bob").await;
    let refer = c.recv_request().await.expect("a REFER");
    assert_eq!(refer.method, Method::Refer);
    assert_eq!(
        refer.headers.get(HeaderName::ReferTo).unwrap(),
        "<sip:carol@example.com>"
    );
    let id = refer.headers.cseq().unwrap().seq;
    // RFC 6665 §4.1.2.4: a NOTIFY may overtake the 2xx; it is answered.
    let n = notify(&mut c, &tag, id, "active;expires=60", "SIP/2.0 100 Trying");
    c.send(&n).await;
    c.expect(StatusCode::OK, "NOTIFY").await;
    c.answer(&refer, StatusCode::ACCEPTED, "", "").await;
    for (state, frag) in [
        ("active;expires=60", "SIP/2.0 180 Ringing"),
        ("terminated;reason=noresource", "SIP/2.0 200 OK"),
    ] {
        let n = notify(&mut c, &tag, id, state, frag);
        c.send(&n).await;
        c.expect(StatusCode::OK, "NOTIFY").await;
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(seen.recv().await.unwrap().as_u16());
    }
    // The 202 first (the handler reads it before the statuses), then the
    // 100 that overtook it.
    assert_eq!(statuses, [202, 100, 180, 200]);
    // The subscription is over: a NOTIFY for it now reaches the handler
    // (which takes none: 405).
    let late = notify(&mut c, &tag, id, "terminated", "SIP/2.0 200 OK");
    c.send(&late).await;
    c.expect(StatusCode::METHOD_NOT_ALLOWED, "NOTIFY").await;
}

#[tokio::test(start_paused = true)]
async fn an_attended_transfer_names_the_replaced_call_and_a_refusal_yields_nothing() {
    let (addr, mut seen) = server().await;
    let mut c = Caller::new(addr, "referrer-2").await;
    call(&mut c, "attended").await;
    let refer = c.recv_request().await.expect("a REFER");
    let refer_to: NameAddr = refer
        .headers
        .get(HeaderName::ReferTo)
        .unwrap()
        .parse()
        .unwrap();
    let text = refer_to.uri().to_string();
    let (target, header) = text.split_once("?Replaces=").expect("a Replaces header");
    assert_eq!(target, "sip:carol@example.com");
    assert_eq!(header, "held%40example.com%3Bto-tag%3Dt1%3Bfrom-tag%3Df1");
    let decoded = header
        .replace("%40", "@")
        .replace("%3B", ";")
        .replace("%3D", "=");
    let replaces = Replaces::parse(&decoded).unwrap();
    assert_eq!(
        (
            replaces.call_id.as_str(),
            replaces.to_tag.as_str(),
            replaces.from_tag.as_str()
        ),
        ("held@example.com", "t1", "f1")
    );
    // Refused: the handler sees the 603 and no status after it.
    c.answer(&refer, StatusCode::DECLINE, "", "").await;
    assert_eq!(seen.recv().await, Some(StatusCode::DECLINE));
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(seen.try_recv().is_err());
}
