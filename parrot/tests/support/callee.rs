//! A scripted callee on a loopback UDP socket, for the client's tests:
//! it receives the client's requests and answers them with hand-written
//! responses, and sends requests of its own in the dialog.

use super::parse_message;
use parrot::message::{HeaderName, Message, Method, Request, Response};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// A scripted callee.
pub struct Uas {
    pub sock: UdpSocket,
    /// Our next CSeq number for requests in the dialog.
    pub cseq: u32,
    /// The number of our last Via branch (`z9hG4bKuas<n>`).
    pub branch: u32,
}

impl Uas {
    pub async fn bind() -> Uas {
        Uas {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            cseq: 1,
            branch: 0,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    pub fn uri(&self) -> String {
        format!("sip:bob@{}", self.addr())
    }

    /// The next message and its source, within `wait` of virtual time.
    pub async fn recv_within(&self, wait: Duration) -> Option<(Message, SocketAddr)> {
        let mut buf = vec![0u8; 65535];
        let (n, from) = timeout(wait, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some((parse_message(&buf[..n]), from))
    }

    /// The next request of method `method`; retransmissions of the INVITE
    /// are skipped, anything else fails the test.
    pub async fn expect(&self, method: Method) -> (Request, SocketAddr) {
        loop {
            let (msg, from) = self
                .recv_within(Duration::from_secs(60))
                .await
                .unwrap_or_else(|| panic!("no {method} within 60 s"));
            match msg {
                Message::Request(r) if r.method == method => return (r, from),
                Message::Request(r) if r.method == Method::Invite => {}
                other => panic!("expected {method}, got {other:?}"),
            }
        }
    }

    /// The next response; retransmissions of the client's requests are
    /// skipped.
    pub async fn response(&self) -> Response {
        loop {
            let (msg, _) = self
                .recv_within(Duration::from_secs(60))
                .await
                .expect("no response within 60 s");
            if let Message::Response(r) = msg {
                return r;
            }
        }
    }

    /// The next response to a request of `method`, skipping others.
    pub async fn response_to(&self, method: &str) -> Response {
        loop {
            let r = self.response().await;
            if r.headers.cseq().unwrap().method.as_str() == method {
                return r;
            }
        }
    }

    /// Whether nothing arrives for `d`.
    pub async fn quiet_for(&self, d: Duration) -> bool {
        match self.recv_within(d).await {
            None => true,
            Some((m, _)) => {
                eprintln!("unexpected: {m:?}");
                false
            }
        }
    }

    pub async fn send(&self, text: &str, to: SocketAddr) {
        self.sock.send_to(text.as_bytes(), to).await.unwrap();
    }

    /// A response to `req` with To tag `tag` (unless it has one), our
    /// Contact, `extra` header lines and an SDP `body`.
    pub fn reply(&self, req: &Request, status: &str, tag: &str, extra: &str, body: &str) -> String {
        let h = &req.headers;
        let vias: String = h
            .values(HeaderName::Via)
            .map(|v| format!("Via: {v}\r\n"))
            .collect();
        let to = h.get(HeaderName::To).unwrap();
        let to = if h.to_tag().is_some() {
            to.to_string()
        } else {
            format!("{to};tag={tag}")
        };
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "SIP/2.0 {status}\r\n{vias}\
             From: {from}\r\n\
             To: {to}\r\n\
             Call-ID: {call}\r\n\
             CSeq: {cseq}\r\n\
             Contact: <{me}>\r\n\
             {extra}{ct}Content-Length: {len}\r\n\r\n{body}",
            from = h.get(HeaderName::From).unwrap(),
            call = h.get(HeaderName::CallId).unwrap(),
            cseq = h.get(HeaderName::CSeq).unwrap(),
            me = self.uri(),
            len = body.len(),
        )
    }

    /// A request of ours in the dialog the client's `invite` set up with
    /// To tag `tag` (an ACK takes CSeq number `ack_of`).
    pub fn request(
        &mut self,
        invite: &Request,
        method: &str,
        tag: &str,
        body: &str,
        ack_of: u32,
    ) -> String {
        let seq = if method == "ACK" {
            ack_of
        } else {
            self.cseq += 1;
            self.cseq - 1
        };
        self.branch += 1;
        let target = invite.headers.get(HeaderName::Contact).unwrap();
        let target = target.trim_start_matches('<').trim_end_matches('>');
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{method} {target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bKuas{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <{uri}>;tag={tag}\r\n\
             To: {to}\r\n\
             Call-ID: {call}\r\n\
             CSeq: {seq} {method}\r\n\
             Contact: <{uri}>\r\n\
             {ct}Content-Length: {len}\r\n\r\n{body}",
            me = self.addr(),
            branch = self.branch,
            uri = self.uri(),
            to = invite.headers.get(HeaderName::From).unwrap(),
            call = invite.headers.get(HeaderName::CallId).unwrap(),
            len = body.len(),
        )
    }
}
