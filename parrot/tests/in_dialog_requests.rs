//! A handler's own requests inside its dialog (`Context::send`,
//! `Context::send_with_body`): built from the dialog (RFC 3261 §12.2.1.1:
//! its remote target, route set, tags and CSeq), sent, and their final
//! response handed back. The caller is a raw UDP socket on loopback that
//! sees exactly what arrives and answers it.

use parrot::message::{Message, Method, Request, StatusCode, parse_datagram};
use parrot::prelude::*;
use parrot::server::RequestError;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// Answers the call; once it is set up, sends an INFO with a DTMF digit,
/// then tries what `send` refuses, and reports each outcome.
struct Sends(mpsc::UnboundedSender<Result<StatusCode, RequestError>>);

#[uas_handler]
impl Sends {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn ack(&mut self, _req: &Request, cx: &mut Context) -> Action {
        let info = cx
            .send_with_body(
                Method::Info,
                "application/dtmf-relay",
                "Signal=5\r\nDuration=160\r\n",
            )
            .await;
        let _ = self.0.send(info.map(|r| r.status));
        let options = cx.send(Method::Options).await;
        let _ = self.0.send(options.map(|r| r.status));
        for refused in [Method::Ack, Method::Bye, Method::Invite, Method::Update] {
            let _ = self.0.send(cx.send(refused).await.map(|r| r.status));
        }
        Action::NoReply
    }
}

async fn next_message(sock: &UdpSocket) -> Message {
    let mut b = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut b))
        .await
        .expect("a message")
        .unwrap();
    parse_datagram(bytes::Bytes::copy_from_slice(&b[..n])).unwrap()
}

async fn next_request(sock: &UdpSocket) -> Request {
    loop {
        if let Message::Request(r) = next_message(sock).await {
            return r;
        }
    }
}

#[tokio::test]
async fn a_handler_sends_info_and_options_in_its_dialog() {
    let (tx, mut outcomes) = mpsc::unbounded_channel();
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Sends(tx.clone()))
        .bind()
        .await
        .unwrap();
    let server_addr: SocketAddr = server.local_addr(Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());

    let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = caller.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@{server_addr} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKsend1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{me}>;tag=a\r\n\
         To: <sip:bob@{server_addr}>\r\n\
         Call-ID: in-dialog-send\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{me}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    );
    caller
        .send_to(invite.as_bytes(), server_addr)
        .await
        .unwrap();
    let ok = loop {
        if let Message::Response(r) = next_message(&caller).await
            && r.status == StatusCode::OK
        {
            break r;
        }
    };
    let tag = ok.headers.to_tag().unwrap();
    let ack = format!(
        "ACK sip:bob@{server_addr} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKsend2\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{me}>;tag=a\r\n\
         To: <sip:bob@{server_addr}>;tag={tag}\r\n\
         Call-ID: in-dialog-send\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    );
    caller.send_to(ack.as_bytes(), server_addr).await.unwrap();

    // The INFO: to our Contact, in the dialog, with the handler's body.
    let info = next_request(&caller).await;
    assert_eq!(info.method, Method::Info);
    assert_eq!(info.uri.to_string(), format!("sip:alice@{me}"));
    assert_eq!(info.headers.call_id().unwrap().as_str(), "in-dialog-send");
    assert_eq!(info.headers.from_tag().as_deref(), Some(&*tag));
    assert_eq!(info.headers.to_tag().as_deref(), Some("a"));
    assert_eq!(
        info.headers.get("Content-Type").unwrap(),
        "application/dtmf-relay"
    );
    assert_eq!(&info.body[..], b"Signal=5\r\nDuration=160\r\n");
    let info_cseq = info.headers.cseq().unwrap().seq;
    caller
        .send_to(&info.reply(StatusCode::OK).to_bytes(), server_addr)
        .await
        .unwrap();
    assert_eq!(outcomes.recv().await.unwrap(), Ok(StatusCode::OK));

    // The OPTIONS: the next CSeq; its 404 is the handler's to read.
    let options = next_request(&caller).await;
    assert_eq!(options.method, Method::Options);
    assert!(options.body.is_empty());
    assert_eq!(options.headers.cseq().unwrap().seq, info_cseq + 1);
    caller
        .send_to(
            &options.reply(StatusCode::NOT_FOUND).to_bytes(),
            server_addr,
        )
        .await
        .unwrap();
    assert_eq!(outcomes.recv().await.unwrap(), Ok(StatusCode::NOT_FOUND));

    for method in [Method::Ack, Method::Bye, Method::Invite, Method::Update] {
        assert_eq!(
            outcomes.recv().await.unwrap(),
            Err(RequestError::NotAllowed(method.clone())),
            "{method}"
        );
    }
}
