//! The refusals a plain handler gives without writing them (RFC 3261
//! §8.2, RFC 4475), over loopback UDP: the handler below answers 200 to
//! everything, yet each request here gets the answer the RFC prescribes
//! (416, 420 with Unsupported, 505, 415 with Accept, 406, 400 naming the
//! missing headers), while RFC 2543-style requests (no Max-Forwards, no
//! From tag, no magic cookie in the branch) are served; OPTIONS tells what
//! the server accepts and supports.

use parrot::message::{Message, Request, Response, StatusCode};
use parrot::prelude::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

mod support;

use support::{parse_message, recv_datagram};

const WAIT: Duration = Duration::from_secs(20);

/// Says yes to everything; declares an option tag of its own and what
/// INFO carries.
#[derive(Clone)]
struct Yes;

#[uas_handler(supported = "path", accept(info = "application/dtmf-relay"))]
impl Yes {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp("v=0\r\n")
    }

    async fn bye(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }

    async fn message(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }

    async fn info(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

struct Peer {
    sock: UdpSocket,
    server: SocketAddr,
}

async fn start() -> Peer {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(|| Yes)
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    Peer {
        sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        server: addr,
    }
}

impl Peer {
    /// A request line and headers (`extra` before Content-Length), the
    /// usual mandatory headers unless `drop` names them.
    fn text(&self, line: &str, call: &str, extra: &str, drop: &[&str], body: &str) -> String {
        let method = line.split(' ').next().unwrap();
        let me = self.sock.local_addr().unwrap();
        let mut t = format!("{line}\r\n");
        for (name, value) in [
            (
                "Via",
                format!("SIP/2.0/UDP {me};branch=z9hG4bK{call};rport"),
            ),
            ("Max-Forwards", "70".to_owned()),
            ("From", "<sip:alice@127.0.0.1>;tag=a".to_owned()),
            ("To", "<sip:bob@127.0.0.1>".to_owned()),
            ("Call-ID", call.to_owned()),
            ("CSeq", format!("1 {method}")),
            ("Contact", format!("<sip:alice@{me}>")),
        ] {
            if !drop.contains(&name) {
                t.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        t.push_str(extra);
        t.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        t
    }

    async fn ask(&self, text: &str) -> Response {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
        loop {
            if let Message::Response(r) = parse_message(&recv_datagram(&self.sock, WAIT).await.0)
                && r.status.is_final()
            {
                return r;
            }
        }
    }
}

#[tokio::test]
async fn a_handler_saying_yes_to_everything_still_refuses_what_the_rfc_refuses() {
    let p = start().await;
    let sip = "INVITE sip:bob@127.0.0.1 SIP/2.0";

    // §8.2.2.1: schemes not served, known or not.
    for uri in ["tel:+15551234", "xyzzy:bob"] {
        let r = p
            .ask(&p.text(&format!("INVITE {uri} SIP/2.0"), "s416", "", &[], ""))
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_URI_SCHEME, "{uri}");
    }

    // §8.2.2.3: exactly the unknown required tags; `timer` is the runtime's.
    let r = p
        .ask(&p.text(sip, "s420", "Require: timer, foo, bar\r\n", &[], ""))
        .await;
    assert_eq!(r.status, StatusCode::BAD_EXTENSION);
    assert_eq!(r.headers.get("Unsupported").unwrap(), "foo, bar");

    // §8.2 / RFC 4475 §3.1.2.16: another version.
    let r = p
        .ask(&p.text("OPTIONS sip:bob@127.0.0.1 SIP/7.0", "s505", "", &[], ""))
        .await;
    assert_eq!(r.status, StatusCode::VERSION_NOT_SUPPORTED);

    // §8.2.3: a body the method does not take, with what it does take.
    let r = p
        .ask(&p.text(sip, "s415", "Content-Type: text/plain\r\n", &[], "hello"))
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.headers.get("Accept").unwrap(), "application/sdp");
    let info = "INFO sip:bob@127.0.0.1 SIP/2.0";
    let r = p
        .ask(&p.text(info, "s415i", "Content-Type: text/plain\r\n", &[], "1"))
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.headers.get("Accept").unwrap(), "application/dtmf-relay");
    let r = p
        .ask(&p.text(
            info,
            "s200i",
            "Content-Type: application/dtmf-relay\r\n",
            &[],
            "Signal=1\r\n",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "what INFO was declared to take");

    // §21.4.7: an INVITE whose Accept rules out the SDP answer.
    let r = p
        .ask(&p.text(sip, "s406", "Accept: text/html\r\n", &[], ""))
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);

    // RFC 4475 §3.3.1: missing Call-ID, From or To, but a usable Via: 400
    // naming them.
    // (The answer lacks them too, so it is read as text.)
    let text = p.text(sip, "s400", "", &["Call-ID", "From"], "");
    p.sock.send_to(text.as_bytes(), p.server).await.unwrap();
    let (raw, _) = recv_datagram(&p.sock, WAIT).await;
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.starts_with("SIP/2.0 400 Missing From, Call-ID headers\r\n"),
        "{raw}"
    );
    assert!(raw.contains("\r\nCSeq: 1 INVITE\r\n"), "{raw}");

    // RFC 2543 compatibility (§8.2, RFC 4475 §3.4.1): served.
    let msg = "MESSAGE sip:bob@127.0.0.1 SIP/2.0";
    let r = p
        .ask(&p.text(
            msg,
            "old1",
            "Content-Type: text/plain\r\n",
            &["Max-Forwards"],
            "hi",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "no Max-Forwards");
    let me = p.sock.local_addr().unwrap();
    let old = format!(
        "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me}\r\n\
         From: <sip:alice@127.0.0.1>\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: old2\r\n\
         CSeq: 1 MESSAGE\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: 2\r\n\r\nhi"
    );
    let r = p.ask(&old).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "no From tag, no branch, no Max-Forwards"
    );

    // §11.2: OPTIONS says what is accepted and supported.
    let r = p
        .ask(&p.text("OPTIONS sip:bob@127.0.0.1 SIP/2.0", "opt", "", &[], ""))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get("Accept").unwrap(), "application/sdp");
    assert_eq!(
        r.headers.get("Supported").unwrap(),
        "100rel, timer, path, replaces"
    );
    // … and a 2xx to INVITE what is supported.
    let r = p.ask(&p.text(sip, "ok", "", &[], "")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers.get("Supported").unwrap(),
        "100rel, timer, path, replaces"
    );
}

/// An RFC 2543 caller (no From tag, no magic cookie in its branches, no
/// Max-Forwards): its INVITE makes a dialog (with an empty remote tag,
/// §12.1.1), its ACK and BYE find it.
#[tokio::test]
async fn an_rfc_2543_call_is_set_up_and_hung_up() {
    let p = start().await;
    let me = p.sock.local_addr().unwrap();
    let msg = |method: &str, cseq: u32, branch: &str, to: &str| {
        format!(
            "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch={branch}\r\n\
             From: <sip:alice@127.0.0.1>\r\n\
             To: {to}\r\n\
             Call-ID: rfc2543-call\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:alice@{me}>\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let ok = p
        .ask(&msg("INVITE", 1, "old-1", "<sip:bob@127.0.0.1>"))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let to = ok.headers.get("To").unwrap().to_string();
    assert!(to.contains("tag="), "{to}");
    p.sock
        .send_to(msg("ACK", 1, "old-2", &to).as_bytes(), p.server)
        .await
        .unwrap();
    let bye = p.ask(&msg("BYE", 2, "old-3", &to)).await;
    assert_eq!(bye.status, StatusCode::OK, "the BYE found its dialog");
}
