//! A scripted SIP peer over loopback UDP for the examples' tests.
#![allow(dead_code)]

pub mod process;

use bytes::Bytes;
use parrot::message::{Message, Request, Response, StatusCode, parse_datagram};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// How long to wait for a message before failing (virtual time under a
/// paused clock).
pub const WAIT: Duration = Duration::from_secs(20);

/// Where the servers under test listen: loopback, a port picked by the OS.
pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The UDP address of a bound example server.
pub fn udp_addr<H: parrot::server::UasHandler>(
    server: &parrot::server::BoundServer<H>,
) -> SocketAddr {
    server
        .local_addr(parrot::transport::Protocol::Udp)
        .expect("a UDP listener")
}

/// Runs a bound server in the background for the rest of the test.
pub fn run<H: parrot::server::UasHandler>(server: parrot::server::BoundServer<H>) {
    tokio::spawn(server.serve().into_future());
}

static BRANCH: AtomicU64 = AtomicU64::new(0);

/// A request to send, built field by field.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub uri: String,
    pub to: String,
    pub to_tag: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    pub headers: Vec<(String, String)>,
    pub body: Option<(String, String)>,
    /// The Via branch; a fresh one per send when `None`.
    pub branch: Option<String>,
    /// Whether to add our Contact when `headers` has none.
    pub contact: bool,
}

impl Req {
    /// `method` to `sip:service@127.0.0.1` in call `call_id`, CSeq 1.
    pub fn new(method: &'static str, call_id: &str) -> Req {
        Req {
            method,
            uri: "sip:service@127.0.0.1".into(),
            to: "sip:service@127.0.0.1".into(),
            to_tag: None,
            call_id: call_id.into(),
            cseq: 1,
            headers: Vec::new(),
            body: None,
            branch: None,
            contact: true,
        }
    }

    /// No Contact header at all (e.g. a REGISTER that only asks).
    pub fn without_contact(mut self) -> Req {
        self.contact = false;
        self
    }

    pub fn branch(mut self, branch: &str) -> Req {
        self.branch = Some(branch.into());
        self
    }

    pub fn to(mut self, uri: &str) -> Req {
        self.to = uri.into();
        self
    }

    pub fn tagged(mut self, tag: &str) -> Req {
        self.to_tag = Some(tag.into());
        self
    }

    pub fn cseq(mut self, n: u32) -> Req {
        self.cseq = n;
        self
    }

    pub fn method(mut self, m: &'static str) -> Req {
        self.method = m;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, content_type: &str, body: &str) -> Req {
        self.body = Some((content_type.into(), body.into()));
        self
    }

    pub fn no_body(mut self) -> Req {
        self.body = None;
        self
    }
}

/// The client side: one UDP socket talking to one server.
pub struct Peer {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl Peer {
    pub async fn new(server: SocketAddr) -> Peer {
        Peer {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// The wire form of `req`, with a fresh branch.
    pub fn render(&self, req: &Req) -> String {
        let branch = match &req.branch {
            Some(b) => b.clone(),
            None => format!("z9hG4bKtest{}", BRANCH.fetch_add(1, Ordering::Relaxed)),
        };
        let to_tag = req
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let mut text = format!(
            "{m} {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1>;tag=caller\r\n\
             To: <{to}>{to_tag}\r\n\
             Call-ID: {call}\r\n\
             CSeq: {cseq} {m}\r\n",
            m = req.method,
            uri = req.uri,
            local = self.local(),
            to = req.to,
            call = req.call_id,
            cseq = req.cseq,
        );
        if req.contact && !req.headers.iter().any(|(n, _)| n == "Contact") {
            text.push_str(&format!("Contact: <sip:alice@{}>\r\n", self.local()));
        }
        for (n, v) in &req.headers {
            text.push_str(&format!("{n}: {v}\r\n"));
        }
        match &req.body {
            Some((ct, body)) => text.push_str(&format!(
                "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )),
            None => text.push_str("Content-Length: 0\r\n\r\n"),
        }
        text
    }

    pub async fn send(&self, req: &Req) {
        self.send_raw(&self.render(req)).await;
    }

    pub async fn send_raw(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// The next message, or `None` after `wait`.
    pub async fn recv_within(&self, wait: Duration) -> Option<Message> {
        let mut buf = vec![0u8; 65535];
        let (n, _) = timeout(wait, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some(
            parse_datagram(Bytes::copy_from_slice(&buf[..n])).expect("the server's message parses"),
        )
    }

    pub async fn recv(&self) -> Message {
        self.recv_within(WAIT).await.expect("a message in time")
    }

    /// The next response (requests skipped).
    pub async fn response(&self) -> Response {
        loop {
            if let Message::Response(r) = self.recv().await {
                return r;
            }
        }
    }

    /// The next final response (provisionals skipped).
    pub async fn final_response(&self) -> Response {
        loop {
            let r = self.response().await;
            if r.status.is_final() {
                return r;
            }
        }
    }

    /// The next request from the server (responses skipped).
    pub async fn request(&self) -> Request {
        loop {
            if let Message::Request(r) = self.recv().await {
                return r;
            }
        }
    }

    /// Sends `req` and returns its final response.
    pub async fn ask(&self, req: &Req) -> Response {
        self.send(req).await;
        self.final_response().await
    }

    /// Answers a request from the server with `200 OK`.
    pub async fn ok(&self, req: &Request) {
        let resp = req.reply(StatusCode::OK);
        self.sock
            .send_to(&resp.to_bytes(), self.server)
            .await
            .unwrap();
    }
}

/// The To tag of a response.
pub fn to_tag(resp: &Response) -> String {
    resp.headers.to_tag().expect("a To tag").to_string()
}

/// Every value of header `name` (list headers split at commas).
pub fn values(resp: &Response, name: &str) -> Vec<String> {
    resp.headers.values(name).map(str::to_owned).collect()
}

/// An SDP offer from 127.0.0.1:`port` with one audio stream of `formats`
/// (plus `extra` lines after the m= line) and optionally more m= sections.
pub fn offer(formats: &str, extra: &str, more: &str) -> String {
    format!(
        "v=0\r\n\
         o=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\n\
         s=-\r\n\
         c=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n\
         m=audio 49170 RTP/AVP {formats}\r\n\
         {extra}{more}"
    )
}
