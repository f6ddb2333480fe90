//! A proxy forwarding over a flow (RFC 5626 §5.3), the connection a
//! callee registered over, when the callee closes that connection after
//! the request was written to it but before answering: the branch fails
//! as soon as the closing is seen (RFC 3261 §17.1.4), and the caller gets
//! `430 Flow Failed` at once instead of Timer F's `408` 32 s later.
//!
//! The callee is a raw TCP client, the caller a raw UDP socket; every
//! socket binds port 0 so tests run in parallel; timers run on tokio's
//! paused clock.

mod support;

use parrot::prelude::*;
use parrot::proxy::{Proxy, ProxyTarget};
use parrot::transport::{Protocol, Target};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{parse_request, parse_response, recv_datagram};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(120);

/// Keeps the flow of the last REGISTER and proxies every MESSAGE over it.
struct FlowProxy(Arc<Mutex<Option<Target>>>);

#[uas_handler]
impl FlowProxy {
    async fn register(&mut self, _req: &Request, cx: &mut Context) -> StatusCode {
        let flow = cx.origin().map(|o| Target::flow_of(&o));
        *self.0.lock().unwrap() = flow;
        StatusCode::OK
    }

    async fn message(&mut self, req: &Request) -> Action {
        let flow = *self.0.lock().unwrap();
        match flow {
            Some(flow) => Proxy::to(ProxyTarget::over(req.uri.clone(), flow)).into_action(),
            None => req.reply(StatusCode::TEMPORARILY_UNAVAILABLE).into_action(),
        }
    }
}

fn text(method: &str, via: &str, call_id: &str) -> String {
    format!(
        "{method} sip:callee@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{via};branch=z9hG4bK{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:callee@127.0.0.1>\r\n\
         From: <sip:caller@127.0.0.1>;tag=77\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:callee@127.0.0.1>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Reads one message with an empty body from `stream`.
async fn read_message(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = timeout(WAIT, stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[tokio::test(start_paused = true)]
async fn a_branch_whose_flow_closes_unanswered_gets_430_at_once() {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler({
            let flow = Arc::new(Mutex::new(None));
            move || FlowProxy(flow.clone())
        })
        .bind()
        .await
        .unwrap();
    let udp = server.local_addr(Protocol::Udp).unwrap();
    let tcp = server.local_addr(Protocol::Tcp).unwrap();
    tokio::spawn(server.serve().into_future());

    // The callee registers over TCP: its connection is its flow.
    let mut callee = TcpStream::connect(tcp).await.unwrap();
    let via = format!("TCP {}", callee.local_addr().unwrap());
    callee
        .write_all(text("REGISTER", &via, "reg").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        parse_response(&read_message(&mut callee).await).status,
        StatusCode::OK
    );

    // The caller's MESSAGE goes down the flow...
    let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let via = format!("UDP {}", caller.local_addr().unwrap());
    let start = Instant::now();
    caller
        .send_to(text("MESSAGE", &via, "msg").as_bytes(), udp)
        .await
        .unwrap();
    let forwarded = parse_request(&String::from_utf8(read_message(&mut callee).await).unwrap());
    assert_eq!(forwarded.method, Method::Message);
    // ...and the callee goes away without answering.
    drop(callee);

    let response = loop {
        let (data, _) = recv_datagram(&caller, WAIT).await;
        let response = parse_response(&data);
        if response.status.is_final() {
            break response;
        }
    };
    let took = start.elapsed();
    assert_eq!(
        response.status,
        StatusCode::FLOW_FAILED,
        "after {took:?}: the branch must fail when its flow closes"
    );
    assert!(
        took < Duration::from_secs(16),
        "answered only after {took:?}"
    );
}
