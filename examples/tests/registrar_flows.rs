//! The `registrar` routing to a client registered over a WebSocket, as a
//! browser is (RFC 7118 §5, RFC 5626): its Contact host is `.invalid`, so
//! a call from a UDP phone reaches it only down the connection it
//! registered on; the registrar record-routes twice (RFC 5658), once per
//! transport, so the ACK and BYE of either side find their way; once the
//! connection closes, the binding is gone and calls get 480.

mod common;

use common::{Peer, Req, any_port, run, udp_addr};
use examples::listen::Listen;
use examples::registrar::{self, Location, RegistrarOptions};
use futures_util::{SinkExt, StreamExt};
use parrot::message::{Message, Request, Response, StatusCode, parse_datagram};
use parrot::transport::Protocol;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message as Frame;

type Ws = WebSocketStream<TcpStream>;

/// A browser-like client: connects, offers the `sip` subprotocol.
async fn connect(addr: SocketAddr) -> Ws {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    let (ws, _) = timeout(common::WAIT, tokio_tungstenite::client_async(req, tcp))
        .await
        .expect("upgrade in time")
        .expect("upgrade");
    ws
}

async fn recv(ws: &mut Ws) -> Message {
    loop {
        let frame = timeout(common::WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .unwrap();
        let data = match frame {
            Frame::Text(t) => bytes::Bytes::from(t),
            Frame::Binary(b) => b,
            _ => continue,
        };
        return parse_datagram(data).expect("the registrar's message parses");
    }
}

async fn recv_request(ws: &mut Ws) -> Request {
    match recv(ws).await {
        Message::Request(r) => r,
        Message::Response(r) => panic!("expected a request, got {}", r.status),
    }
}

async fn recv_response(ws: &mut Ws) -> Response {
    match recv(ws).await {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

async fn send(ws: &mut Ws, text: String) {
    ws.send(Frame::text(text)).await.unwrap();
}

const CONTACT: &str = "<sip:k3l9@df7jal23ls0d.invalid;transport=ws;ob>";

/// The browser's REGISTER for bob over the WebSocket.
fn register(cseq: u32) -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKreg{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@example.com>;tag=b1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: ws-reg\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: {CONTACT};reg-id=1;+sip.instance=\"<urn:uuid:9a0e3b5c-3c6b-4f6e-9f3a-3f2b1c0d4e5f>\";expires=600\r\n\
         Supported: path, gruu, outbound\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// `req`'s answer from the browser, with `extra` headers.
fn answer(req: &Request, status: u16, reason: &str, extra: &str) -> String {
    let mut text = format!("SIP/2.0 {status} {reason}\r\n");
    for name in ["Via", "Record-Route", "From", "To", "Call-ID", "CSeq"] {
        for v in req.headers.values(name) {
            let v = if name == "To" && !v.contains("tag=") {
                format!("{v};tag=browser")
            } else {
                v.to_string()
            };
            text.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    text.push_str(extra);
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

fn values(m: &Request, name: &str) -> Vec<String> {
    m.headers.values(name).map(|v| v.to_string()).collect()
}

#[tokio::test]
async fn a_phone_calls_a_browser_through_the_registrar() {
    let ws_listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listen = Listen {
        ws: Some(ws_listen),
        ..Listen::from(any_port())
    };
    let location = Location::new();
    let server = registrar::bind(listen, RegistrarOptions::default(), location.clone())
        .await
        .expect("bind");
    let ws_addr = server.local_addr(Protocol::Ws).expect("a WS listener");
    let udp = udp_addr(&server);
    let mut closings = server.transport().closed_connections();
    run(server);

    // The browser registers over the WebSocket: bound to that flow.
    let mut browser = connect(ws_addr).await;
    send(&mut browser, register(1)).await;
    let r = recv_response(&mut browser).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get("Require").unwrap(), "outbound");

    // A UDP phone calls bob.
    let phone = Peer::new(udp).await;
    let mut invite = Req::new("INVITE", "ws-call").to("sip:bob@example.com");
    invite.uri = "sip:bob@example.com".to_owned();
    phone.send(&invite).await;
    let inv = recv_request(&mut browser).await;
    assert_eq!(inv.method.as_str(), "INVITE");
    assert_eq!(
        inv.uri.to_string(),
        "sip:k3l9@df7jal23ls0d.invalid;transport=ws;ob"
    );
    let rr = values(&inv, "Record-Route");
    assert_eq!(rr.len(), 2, "RFC 5658 double Record-Route: {rr:?}");
    let ws_port = format!(":{};", ws_addr.port());
    assert!(
        rr[0].contains(&ws_port) && rr[0].contains("transport=ws"),
        "{rr:?}"
    );
    let udp_port = format!(":{};", udp.port());
    assert!(
        rr[1].contains(&udp_port) && !rr[1].contains("transport="),
        "{rr:?}"
    );
    assert!(
        values(&inv, "Via")[0].starts_with("SIP/2.0/WS "),
        "our Via names WS"
    );

    // The browser answers; the phone gets the 200 with both entries.
    send(
        &mut browser,
        answer(&inv, 200, "OK", &format!("Contact: {CONTACT}\r\n")),
    )
    .await;
    let ok = phone.final_response().await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.values("Record-Route").count(), 2);

    // The phone's ACK follows the route set, reversed (§12.1.2): the UDP
    // entry first; the registrar takes the WS one off too and sends the
    // ACK down the flow.
    let routes: Vec<String> = ok
        .headers
        .values("Record-Route")
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let tag = ok.headers.to_tag().unwrap().to_string();
    let mut ack = Req::new("ACK", "ws-call")
        .to("sip:bob@example.com")
        .tagged(&tag)
        .no_body();
    ack.uri = "sip:k3l9@df7jal23ls0d.invalid;transport=ws;ob".to_owned();
    for r in &routes {
        ack = ack.header("Route", r);
    }
    phone.send(&ack).await;
    let got = recv_request(&mut browser).await;
    assert_eq!(got.method.as_str(), "ACK");
    assert!(
        values(&got, "Route").is_empty(),
        "both of our entries taken off"
    );

    // The browser hangs up: its BYE follows the route set in order, the WS
    // entry first, and reaches the phone over UDP.
    let bye = format!(
        "BYE sip:alice@{phone} SIP/2.0\r\n\
         Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKbye1\r\n\
         Max-Forwards: 70\r\n\
         Route: {r0}\r\n\
         Route: {r1}\r\n\
         From: <sip:bob@example.com>;tag=browser\r\n\
         To: <sip:bob@example.com>;tag=caller\r\n\
         Call-ID: ws-call\r\n\
         CSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        phone = phone.local(),
        r0 = values(&inv, "Record-Route")[0],
        r1 = values(&inv, "Record-Route")[1],
    );
    send(&mut browser, bye).await;
    let bye = phone.request().await;
    assert_eq!(bye.method.as_str(), "BYE");
    assert!(bye.headers.values("Route").next().is_none());
    phone.ok(&bye).await;
    let r = recv_response(&mut browser).await;
    assert_eq!(r.status, StatusCode::OK);

    // The browser goes away without unregistering: the binding goes with
    // its connection, and bob is unavailable.
    drop(browser);
    timeout(common::WAIT, closings.next())
        .await
        .expect("the WebSocket closes in time");
    for _ in 0..1000 {
        if location.stored() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(location.stored(), 0, "the binding went with its flow");
    let mut m = Req::new("MESSAGE", "after").to("sip:bob@example.com");
    m.uri = "sip:bob@example.com".to_owned();
    let r = phone.ask(&m.body("text/plain", "still there?")).await;
    assert_eq!(r.status, StatusCode::TEMPORARILY_UNAVAILABLE);
}
