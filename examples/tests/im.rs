//! The `im` example over loopback UDP (RFC 3428): text/plain gets 200,
//! other types 415 with `Accept: text/plain`.

mod common;

use common::{Peer, Req, any_port, run, udp_addr};
use examples::im;
use parrot::message::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start() -> Peer {
    let server = im::bind(any_port()).await.expect("bind");
    let addr = udp_addr(&server);
    run(server);
    Peer::new(addr).await
}

#[tokio::test]
async fn text_plain_gets_200() {
    let p = start().await;
    for (i, ct) in ["text/plain", "text/plain;charset=UTF-8", "Text/Plain"]
        .into_iter()
        .enumerate()
    {
        let r = p
            .ask(&Req::new("MESSAGE", &format!("m-ok-{i}")).body(ct, "Watson, come here."))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{ct}");
        assert!(r.headers.to_tag().is_some());
    }
}

#[tokio::test]
async fn other_types_get_415_with_accept() {
    let p = start().await;
    let json = Req::new("MESSAGE", "m-json").body("application/json", "{\"a\":1}");
    let html = Req::new("MESSAGE", "m-html").body("text/html", "<b>hi</b>");
    let none = Req::new("MESSAGE", "m-none");
    for req in [json, html, none] {
        let r = p.ask(&req).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{req:?}");
        assert_eq!(r.headers.get("Accept").unwrap(), "text/plain");
    }
}

#[tokio::test]
async fn tcp_too() {
    let server = im::bind(any_port()).await.expect("bind");
    let addr = server
        .local_addr(parrot::transport::Protocol::Tcp)
        .expect("a TCP listener");
    run(server);
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let local = conn.local_addr().unwrap();
    let body = "over TCP";
    let msg = format!(
        "MESSAGE sip:service@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bKtcp1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@127.0.0.1>;tag=t1\r\n\
         To: <sip:service@127.0.0.1>\r\n\
         Call-ID: m-tcp\r\n\
         CSeq: 1 MESSAGE\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(msg.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(common::WAIT, conn.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
}

#[tokio::test]
async fn invite_is_not_allowed() {
    let p = start().await;
    let r = p.ask(&Req::new("INVITE", "m-invite")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers.get("Allow").unwrap(), "OPTIONS, MESSAGE");
}

#[tokio::test(start_paused = true)]
async fn serve_returns_on_shutdown() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(im::serve(any_port(), async {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(result.is_ok());
}
