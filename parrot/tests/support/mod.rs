//! Helpers shared by the integration tests in this folder (each says
//! `mod support;`): request texts, parsing that fails the test on a
//! surprise, and bounded waits on sockets and channels, so that a broken
//! test fails instead of hanging.
//!
//! `counting_alloc.rs` beside this file is not part of it: the memory
//! tests include it by path, as it installs a global allocator.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

pub mod callee;
pub mod caller;
pub mod dnsmasq;
pub mod http;
pub mod pki;
pub mod redis;

use bytes::Bytes;
use parrot::message::{HeaderName, Message, Request, Response, parse_datagram};
use parrot::transport::{Incoming, TransportLayer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

/// How long the transport tests wait for something that must happen (on
/// the real clock; loopback delivers in microseconds).
pub const WAIT: Duration = Duration::from_secs(5);

/// A request with the mandatory headers, the given top `via` (a full Via
/// value) and `call_id`, and `body`.
pub fn request(method: &str, via: &str, call_id: &str, body: &str) -> String {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\n\
         From: <sip:alice@example.com>;tag=1928301774\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// `text` parsed as a request.
pub fn parse_request(text: &str) -> Request {
    match parse_datagram(Bytes::from(text.to_owned())) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// `data` parsed as a message.
pub fn parse_message(data: &[u8]) -> Message {
    parse_datagram(Bytes::copy_from_slice(data)).expect("parses")
}

/// `data` parsed as a response.
pub fn parse_response(data: &[u8]) -> Response {
    match parse_message(data) {
        Message::Response(r) => r,
        other => panic!("not a response: {other:?}"),
    }
}

/// The value of the top Via header of `m`.
pub fn top_via(m: &Message) -> String {
    m.headers()
        .values(HeaderName::Via)
        .next()
        .unwrap()
        .to_owned()
}

/// The next datagram on `sock` and its source, within `wait`.
pub async fn recv_datagram(sock: &UdpSocket, wait: Duration) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65535];
    let (n, from) = timeout(wait, sock.recv_from(&mut buf))
        .await
        .expect("no datagram")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

/// The next message the transport delivers, within [`WAIT`].
pub async fn next(rx: &mut Receiver<Box<Incoming>>) -> Incoming {
    *timeout(WAIT, rx.recv())
        .await
        .expect("no message")
        .expect("channel closed")
}

/// Waits until the server closes `s` (EOF or reset), discarding any data.
pub async fn expect_closed(s: &mut TcpStream) {
    timeout(WAIT, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("connection not closed");
}

/// Waits until `t` has `n` connections open, within [`WAIT`].
pub async fn wait_connections(t: &TransportLayer, n: usize) {
    let mut w = t.watch_connections();
    timeout(WAIT, w.wait_for(|c| *c == n))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "connection count stuck at {}, want {n}",
                t.connection_count()
            )
        })
        .unwrap();
}

/// The audio address (connection address and port of the first media
/// line) of an SDP answer.
pub fn sdp_audio_addr(sdp: &str) -> SocketAddr {
    let sd: parrot::sdp::SessionDescription = sdp.parse().expect("valid SDP");
    let m = &sd.media[0];
    let ip = sd
        .connection_of(m)
        .and_then(|c| c.ip())
        .expect("an address");
    SocketAddr::new(ip, m.port)
}
