//! A scripted SIP peer on a loopback UDP socket for the server tests: it
//! writes the requests of one call (numbering CSeq, adding its Via,
//! Contact and tags), reads the server's responses and requests, and
//! answers the requests.

use super::parse_message;
use parrot::message::typed::RSeq;
use parrot::message::{Message, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// How long a read waits (on tokio's paused clock in most tests).
const READ_WAIT: Duration = Duration::from_secs(120);

/// One call's caller.
pub struct Caller {
    /// The socket.
    pub sock: UdpSocket,
    /// The server's address.
    pub server: SocketAddr,
    /// The Call-ID.
    pub call: String,
    /// The next CSeq number.
    pub cseq: u32,
    /// Headers every request of ours carries.
    pub common: String,
    /// Messages read while looking for something else.
    pending: Vec<Message>,
}

impl Caller {
    /// A caller of the server at `server`, with Call-ID `call`.
    pub async fn new(server: SocketAddr, call: &str) -> Caller {
        Caller {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
            call: call.to_owned(),
            cseq: 1,
            common: String::new(),
            pending: Vec::new(),
        }
    }

    /// A request of this call: `to_tag` for one inside the dialog.
    pub fn text(
        &mut self,
        method: &str,
        user: &str,
        to_tag: &str,
        extra: &str,
        body: &str,
    ) -> String {
        let me = self.sock.local_addr().unwrap();
        let seq = if method == "ACK" {
            1
        } else {
            self.cseq += 1;
            self.cseq - 1
        };
        let to_tag = if to_tag.is_empty() {
            String::new()
        } else {
            format!(";tag={to_tag}")
        };
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{method} sip:{user}@{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK{call}{method}{seq}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1>;tag=a\r\n\
             To: <sip:{user}@127.0.0.1>{to_tag}\r\n\
             Call-ID: {call}\r\n\
             CSeq: {seq} {method}\r\n\
             Contact: <sip:alice@{me}>\r\n\
             {common}{extra}{ct}Content-Length: {}\r\n\r\n{body}",
            body.len(),
            server = self.server,
            call = self.call,
            common = self.common,
        )
    }

    /// Sends `text` to the server.
    pub async fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// The next message, within the read wait.
    async fn next(&mut self) -> Option<Message> {
        if !self.pending.is_empty() {
            return Some(self.pending.remove(0));
        }
        let mut buf = vec![0u8; 65535];
        let (n, _) = timeout(READ_WAIT, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some(parse_message(&buf[..n]))
    }

    /// The next response other than `100 Trying` (requests read meanwhile
    /// are kept for [`recv_request`](Self::recv_request)).
    pub async fn recv(&mut self) -> Option<Response> {
        let mut kept = Vec::new();
        let found = loop {
            match self.next().await {
                None => break None,
                Some(Message::Response(r)) if r.status == StatusCode::TRYING => {}
                Some(Message::Response(r)) => break Some(r),
                Some(other) => kept.push(other),
            }
        };
        kept.append(&mut self.pending);
        self.pending = kept;
        found
    }

    /// The next request from the server (responses read meanwhile are
    /// dropped).
    pub async fn recv_request(&mut self) -> Option<Request> {
        loop {
            match self.next().await? {
                Message::Request(r) => return Some(r),
                Message::Response(_) => {}
            }
        }
    }

    /// Answers `req` with `status`, `extra` headers and an SDP `body`.
    pub async fn answer(&self, req: &Request, status: StatusCode, extra: &str, body: &str) {
        let mut resp = req.reply(status);
        for line in extra.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').unwrap();
            resp.headers.push(parrot::message::Header::new(
                name.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
        if !body.is_empty() {
            resp = resp.sdp(body.to_owned());
        }
        self.sock
            .send_to(&resp.to_bytes(), self.server)
            .await
            .unwrap();
    }

    /// The next response, which must be `status` to `method`.
    pub async fn expect(&mut self, status: StatusCode, method: &str) -> Response {
        let r = self.recv().await.expect("a response");
        assert_eq!(r.status, status, "{r:?}");
        assert_eq!(r.headers.cseq().unwrap().method.as_str(), method, "{r:?}");
        r
    }

    /// A PRACK acknowledging the reliable provisional `resp`.
    pub fn prack_for(&mut self, resp: &Response, extra: &str, body: &str) -> String {
        let rseq = resp.headers.typed::<RSeq>().unwrap().unwrap().0;
        let tag = resp.headers.to_tag().unwrap();
        let rack = format!("RAck: {rseq} 1 INVITE\r\n{extra}");
        self.text("PRACK", "bob", &tag, &rack, body)
    }
}
