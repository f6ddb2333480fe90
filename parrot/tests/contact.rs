//! Requests that would create a dialog without a usable Contact (RFC 3261
//! §8.1.1.8, §12.1.1) are refused with a 400 naming the fault before the
//! handler runs — over real UDP on loopback, against a handler that would
//! answer 200 to anything.

use bytes::Bytes;
use parrot::message::{Message, Response, StatusCode, parse_datagram};
use parrot::prelude::*;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

/// Answers 200 to every INVITE, SUBSCRIBE and REFER, counting the calls.
struct Yes {
    calls: Arc<AtomicUsize>,
}

#[uas_handler]
impl Yes {
    async fn invite(&mut self, req: &Request) -> Response {
        self.calls.fetch_add(1, Ordering::SeqCst);
        req.reply(StatusCode::OK)
    }
    async fn subscribe(&mut self, req: &Request) -> Response {
        self.calls.fetch_add(1, Ordering::SeqCst);
        req.reply(StatusCode::OK).header("Expires", "60")
    }
    async fn refer(&mut self, req: &Request) -> Response {
        self.calls.fetch_add(1, Ordering::SeqCst);
        req.reply(StatusCode::ACCEPTED)
    }
    async fn ack(&mut self, _req: &Request) {}
}

struct Peer {
    sock: UdpSocket,
    server: SocketAddr,
    calls: Arc<AtomicUsize>,
}

async fn start() -> Peer {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .udp("127.0.0.1:0")
        .state(calls.clone())
        .handler(|calls: &Arc<AtomicUsize>| Yes {
            calls: calls.clone(),
        })
        .bind()
        .await
        .unwrap();
    let addr = server.local_addr(Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    Peer {
        sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        server: addr,
        calls,
    }
}

impl Peer {
    /// Sends `method` to `uri` with the given Contact lines and returns
    /// the final response.
    async fn send(&self, method: &str, uri: &str, contacts: &[&str], n: u32) -> Response {
        let me = self.sock.local_addr().unwrap();
        let contacts: String = contacts.iter().map(|c| format!("{c}\r\n")).collect();
        let extra = match method {
            "SUBSCRIBE" => "Event: presence\r\nExpires: 60\r\n",
            "REFER" => "Refer-To: <sip:carol@127.0.0.1>\r\n",
            _ => "",
        };
        let text = format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bKcontact{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1>;tag=a{n}\r\n\
             To: <sip:bob@127.0.0.1>\r\n\
             Call-ID: contact-{n}@test\r\n\
             CSeq: 1 {method}\r\n\
             {contacts}{extra}\
             Content-Length: 0\r\n\r\n"
        );
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
        let mut buf = vec![0u8; 65535];
        loop {
            let (len, _) = timeout(WAIT, self.sock.recv_from(&mut buf))
                .await
                .expect("a response in time")
                .unwrap();
            if let Ok(Message::Response(r)) = parse_datagram(Bytes::copy_from_slice(&buf[..len]))
                && r.status.is_final()
            {
                return r;
            }
        }
    }
}

#[tokio::test]
async fn unusable_contacts_get_400_naming_the_fault() {
    let p = start().await;
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("INVITE", "sip:bob@127.0.0.1", &[], "Missing Contact header"),
        (
            "INVITE",
            "sip:bob@127.0.0.1",
            &["Contact: *"],
            "Contact * cannot create a dialog",
        ),
        (
            "INVITE",
            "sip:bob@127.0.0.1",
            &["Contact: <sip:alice@"],
            "Malformed Contact header",
        ),
        (
            "INVITE",
            "sip:bob@127.0.0.1",
            &["Contact: <sip:a@127.0.0.1>, <sip:b@127.0.0.1>"],
            "Contact must hold exactly one URI",
        ),
        (
            "INVITE",
            "sip:bob@127.0.0.1",
            &["Contact: <sip:a@127.0.0.1>", "Contact: <sip:b@127.0.0.1>"],
            "Contact must hold exactly one URI",
        ),
        (
            "INVITE",
            "sip:bob@127.0.0.1",
            &["Contact: <tel:+15551234>"],
            "Contact must be a SIP or SIPS URI",
        ),
        (
            "INVITE",
            "sips:bob@127.0.0.1",
            &["Contact: <sip:alice@127.0.0.1>"],
            "Contact must be a SIPS URI for a SIPS Request-URI",
        ),
        (
            "SUBSCRIBE",
            "sip:bob@127.0.0.1",
            &[],
            "Missing Contact header",
        ),
        (
            "SUBSCRIBE",
            "sip:bob@127.0.0.1",
            &["Contact: *"],
            "Contact * cannot create a dialog",
        ),
        ("REFER", "sip:bob@127.0.0.1", &[], "Missing Contact header"),
    ];
    for (n, (method, uri, contacts, reason)) in cases.iter().enumerate() {
        let r = p.send(method, uri, contacts, n as u32).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {contacts:?}");
        assert_eq!(r.reason.as_str(), *reason, "{method} {contacts:?}");
    }
    assert_eq!(p.calls.load(Ordering::SeqCst), 0, "the handler never ran");
}

#[tokio::test]
async fn a_usable_contact_reaches_the_handler() {
    let p = start().await;
    let ok = p
        .send(
            "INVITE",
            "sip:bob@127.0.0.1",
            &["Contact: <sip:alice@127.0.0.1:5099>"],
            100,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let sips = p
        .send(
            "SUBSCRIBE",
            "sips:bob@127.0.0.1",
            &["Contact: <sips:alice@127.0.0.1>"],
            101,
        )
        .await;
    assert_eq!(sips.status, StatusCode::OK);
    assert_eq!(p.calls.load(Ordering::SeqCst), 2);
}
