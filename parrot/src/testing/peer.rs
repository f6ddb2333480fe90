//! A scripted SIP peer: sends the messages a test writes, receives what
//! the server sends into an inbox, and lets the test take them in order.
//! It acts as a UDP transaction user would only where a script would
//! otherwise drown in detail: it ACKs every non-2xx final response to its
//! INVITEs (RFC 3261 §17.1.1.3), retransmissions included, and it tells
//! retransmissions apart so that expectations skip them.

use super::fault::{self, Fault, FaultKind, Way};
use super::journal::{Failure, Journal};
use super::link::Link;
use crate::message::{HeaderName, Message, Method, Request, Response, parse_datagram};
use crate::transport::{Protocol, response_destination};
use bytes::Bytes;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// How long an expectation waits by default: 64 × T1, the longest a
/// transaction waits (RFC 3261 §17.1.1.2). On the paused clock this costs
/// no real time.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(32);

/// Messages kept in [`Peer::received`], and in the inbox unread (a
/// script that never reads keeps the newest).
const HISTORY: usize = 10_000;

/// A message the peer received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The parsed message.
    pub message: Message,
    /// Its bytes, as received.
    pub raw: Bytes,
    /// Where it came from.
    pub from: SocketAddr,
    /// Whether the same bytes were received before.
    pub retransmission: bool,
}

/// A scripted peer. Cloning gives another handle to the same peer.
#[derive(Clone)]
pub struct Peer {
    pub(crate) inner: Arc<PeerInner>,
}

pub(crate) struct PeerInner {
    name: String,
    link: Arc<Link>,
    server: SocketAddr,
    journal: Journal,
    state: Mutex<PeerState>,
    /// One task at a time reads the link.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct PeerState {
    inbox: VecDeque<Received>,
    held: Vec<(Instant, Bytes, SocketAddr)>,
    faults: Vec<Fault>,
    seen: HashSet<u64>,
    history: VecDeque<Received>,
    /// The To tag the peer answers each Call-ID with.
    tags: HashMap<String, String>,
    /// INVITEs sent, by branch: what a non-2xx final is ACKed from.
    invites: HashMap<String, Request>,
    manual_ack: bool,
    timeout: Option<Duration>,
}

/// What an expectation makes of a message in the inbox.
pub(crate) enum Pick<T> {
    /// The one awaited.
    Take(T),
    /// Passed over and dropped (a 100 Trying, a retransmission).
    Skip,
    /// Someone else's: left in the inbox.
    Other,
    /// Not what was expected: the script fails.
    Wrong,
}

impl Peer {
    pub(crate) fn new(name: &str, link: Link, server: SocketAddr, journal: Journal) -> Peer {
        journal.name(link.local(), name);
        journal.name(server, "server");
        Peer {
            inner: Arc::new(PeerInner {
                name: name.to_owned(),
                link: Arc::new(link),
                server,
                journal,
                state: Mutex::new(PeerState::default()),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A peer with a real UDP socket (on the loopback address when the
    /// server's is one), talking to a server at `server`: the same script
    /// as against the kit, for an integration test. Expectations then wait
    /// in real time.
    pub async fn udp(name: &str, server: SocketAddr) -> std::io::Result<Peer> {
        Ok(Peer::new(
            name,
            Link::udp(server).await?,
            server,
            Journal::new(),
        ))
    }

    /// A peer with a TCP connection to a server at `server`.
    pub async fn tcp(name: &str, server: SocketAddr) -> std::io::Result<Peer> {
        Ok(Peer::new(
            name,
            Link::tcp(server).await?,
            server,
            Journal::new(),
        ))
    }

    fn state(&self) -> MutexGuard<'_, PeerState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The peer's name (its user part, and its column in diagrams).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The address the peer sends from.
    pub fn addr(&self) -> SocketAddr {
        self.inner.link.local()
    }

    /// The server the peer talks to.
    pub fn server(&self) -> SocketAddr {
        self.inner.server
    }

    /// The transport (UDP, or TCP for [`Peer::tcp`]).
    pub fn protocol(&self) -> Protocol {
        self.inner.link.protocol()
    }

    /// The peer's own URI, `sip:name@addr` (what its Contact says).
    pub fn uri(&self) -> String {
        match self.protocol() {
            Protocol::Udp => format!("sip:{}@{}", self.inner.name, self.addr()),
            p => format!(
                "sip:{}@{};transport={}",
                self.inner.name,
                self.addr(),
                p.as_str().to_ascii_lowercase()
            ),
        }
    }

    /// How long expectations wait (default [`DEFAULT_TIMEOUT`]).
    pub fn set_timeout(&self, timeout: Duration) {
        self.state().timeout = Some(timeout);
    }

    /// Stops ACKing non-2xx final responses by itself (for scripts that
    /// send their own ACKs, as SIPp scenarios do).
    pub fn manual_ack(&self) {
        self.state().manual_ack = true;
    }

    /// Injects a fault on the next matching message(s).
    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Sends raw bytes to the server (for malformed input).
    pub async fn send_raw(&self, data: impl AsRef<[u8]>) -> Result<(), Failure> {
        self.transmit(Bytes::copy_from_slice(data.as_ref()), self.inner.server)
            .await
    }

    /// Every message received so far, retransmissions included (the last
    /// 10,000).
    pub fn received(&self) -> Vec<Received> {
        self.state().history.iter().cloned().collect()
    }

    /// The exchange so far as a text ladder diagram.
    pub fn ladder(&self) -> String {
        self.inner.journal.ladder()
    }

    /// The exchange so far, to render
    /// ([`trace::ladder`](crate::trace::ladder)).
    pub fn flow(&self) -> crate::trace::ladder::Flow {
        self.inner.journal.flow()
    }

    /// The next message received, whatever it is (retransmissions
    /// included).
    pub async fn next(&self) -> Result<Received, Failure> {
        self.wait_for("any message".into(), |r| Pick::Take(r.clone()))
            .await
    }

    /// The next request the peer receives, on any call, which must have
    /// `method` (retransmissions are passed over, responses left for
    /// their calls); [`Call::expect_request`](super::Call::expect_request)
    /// takes one call's.
    pub async fn expect_request(&self, method: Method) -> Result<Request, Failure> {
        self.wait_for(format!("a {method} request"), |r| match &r.message {
            _ if r.retransmission => Pick::Skip,
            Message::Request(q) if q.method == method => Pick::Take(q.clone()),
            Message::Request(_) => Pick::Wrong,
            Message::Response(_) => Pick::Other,
        })
        .await
    }

    /// As [`expect_request`](Self::expect_request), with where the
    /// request came from and its bytes.
    pub async fn receive_request(&self, method: Method) -> Result<Received, Failure> {
        self.wait_for(format!("a {method} request"), |r| match &r.message {
            _ if r.retransmission => Pick::Skip,
            Message::Request(q) if q.method == method => Pick::Take(r.clone()),
            Message::Request(_) => Pick::Wrong,
            Message::Response(_) => Pick::Other,
        })
        .await
    }

    /// The next response the peer receives, on any call, which must have
    /// `status` (retransmissions passed over, requests left for others),
    /// with where it came from and its bytes.
    pub async fn receive_response(&self, status: u16) -> Result<Received, Failure> {
        self.wait_for(format!("a {status} response"), |r| match &r.message {
            _ if r.retransmission => Pick::Skip,
            Message::Response(p) if p.status.as_u16() == status => Pick::Take(r.clone()),
            Message::Response(_) => Pick::Wrong,
            Message::Request(_) => Pick::Other,
        })
        .await
    }

    /// Expects that nothing arrives for `wait` (retransmissions aside).
    pub async fn expect_silence(&self, wait: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + wait;
        loop {
            let first = {
                let mut st = self.state();
                while st.inbox.front().is_some_and(|r| r.retransmission) {
                    st.inbox.pop_front();
                }
                st.inbox.front().map(|r| r.raw.clone())
            };
            if let Some(raw) = first {
                return Err(self
                    .inner
                    .journal
                    .failure(format!("nothing for {wait:?}"), Some(&raw)));
            }
            if tokio::time::timeout_at(deadline, self.receive_one())
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }

    /// The To tag the peer answers requests of `call_id` with (drawn at
    /// random once per Call-ID, unless a reply set it:
    /// [`ReplyBuilder::tag`](super::ReplyBuilder::tag)).
    pub fn tag(&self, call_id: &str) -> String {
        self.state()
            .tags
            .entry(call_id.to_owned())
            .or_insert_with(|| crate::random::tag().to_string())
            .clone()
    }

    pub(crate) fn set_tag(&self, call_id: &str, tag: &str) {
        self.state().tags.insert(call_id.to_owned(), tag.to_owned());
    }

    /// A failure of the script before anything was received.
    pub(crate) fn inner_failure(&self, expected: &str) -> Failure {
        self.inner.journal.failure(expected.to_owned(), None)
    }

    /// A failure of the script on a message received.
    pub(crate) fn failure_with(&self, expected: &str, raw: &[u8]) -> Failure {
        self.inner.journal.failure(expected.to_owned(), Some(raw))
    }

    pub(crate) fn remember_invite(&self, branch: &str, invite: Request) {
        self.state().invites.insert(branch.to_owned(), invite);
    }

    /// Waits until `pick` takes a message from the inbox; fails on one it
    /// calls wrong, or when nothing comes in time.
    pub(crate) async fn wait_for<T>(
        &self,
        expected: String,
        mut pick: impl FnMut(&Received) -> Pick<T>,
    ) -> Result<T, Failure> {
        let timeout = self.state().timeout.unwrap_or(DEFAULT_TIMEOUT);
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut st = self.state();
                let mut i = 0;
                while i < st.inbox.len() {
                    match pick(&st.inbox[i]) {
                        Pick::Take(t) => {
                            st.inbox.remove(i);
                            return Ok(t);
                        }
                        Pick::Skip => {
                            st.inbox.remove(i);
                        }
                        Pick::Other => i += 1,
                        Pick::Wrong => {
                            let raw = st.inbox[i].raw.clone();
                            drop(st);
                            return Err(self.inner.journal.failure(expected, Some(&raw)));
                        }
                    }
                }
            }
            if tokio::time::timeout_at(deadline, self.receive_one())
                .await
                .is_err()
            {
                let what = format!("{expected} within {timeout:?}");
                return Err(self.inner.journal.failure(what, None));
            }
        }
    }

    /// Receives (or releases from a delay) one message into the inbox.
    async fn receive_one(&self) {
        let _reading = self.inner.reading.lock().await;
        let due = self.state().held.iter().map(|h| h.0).min();
        let (data, from) = match due {
            Some(due) => tokio::select! {
                r = self.inner.link.recv() => match r {
                    Ok(d) => return self.arrived(d.0, d.1).await,
                    Err(_) => return std::future::pending().await,
                },
                () = tokio::time::sleep_until(due) => {
                    let mut st = self.state();
                    let i = st.held.iter().position(|h| h.0 == due).unwrap_or(0);
                    let (_, data, from) = st.held.remove(i);
                    (data, from)
                }
            },
            None => match self.inner.link.recv().await {
                Ok(d) => return self.arrived(d.0, d.1).await,
                // A closed connection: nothing more will come.
                Err(_) => return std::future::pending().await,
            },
        };
        self.deliver(data, from).await;
    }

    /// A message off the link: faults first.
    async fn arrived(&self, data: Bytes, from: SocketAddr) {
        let Ok(message) = parse_datagram(data.clone()) else {
            self.inner
                .journal
                .message(from, self.addr(), self.protocol(), &data);
            self.inner
                .journal
                .note(format!("{} received unparsable bytes", self.inner.name));
            return;
        };
        let fault = fault::take(&mut self.state().faults, &message, Way::Incoming);
        let what = summary(&message);
        match fault {
            None => self.deliver(data, from).await,
            Some(FaultKind::Drop) => {
                self.note(format!("dropped {what} on its way to {}", self.inner.name));
            }
            Some(FaultKind::Duplicate) => {
                self.note(format!("duplicated {what} to {}", self.inner.name));
                self.deliver(data.clone(), from).await;
                self.deliver(data, from).await;
            }
            Some(FaultKind::Delay(by)) => {
                self.note(format!("delayed {what} to {} by {by:?}", self.inner.name));
                self.state().held.push((Instant::now() + by, data, from));
            }
        }
    }

    fn note(&self, what: String) {
        self.inner.journal.note(what);
    }

    /// A message reaching the script: recorded, ACKed if it is a failure
    /// to an INVITE, queued.
    async fn deliver(&self, data: Bytes, from: SocketAddr) {
        self.inner
            .journal
            .message(from, self.addr(), self.protocol(), &data);
        let Ok(message) = parse_datagram(data.clone()) else {
            return;
        };
        let mut hasher = DefaultHasher::new();
        data.hash(&mut hasher);
        let ack = match &message {
            Message::Response(r) => self.ack_for(r),
            Message::Request(_) => None,
        };
        let received = {
            let mut st = self.state();
            let retransmission = !st.seen.insert(hasher.finish());
            let received = Received {
                message,
                raw: data,
                from,
                retransmission,
            };
            if st.history.len() == HISTORY {
                st.history.pop_front();
            }
            st.history.push_back(received.clone());
            received
        };
        if let Some((ack, to)) = ack {
            // A failed send shows in the ladder as a missing ACK.
            let _ = self.transmit(ack, to).await;
        }
        let mut st = self.state();
        if st.inbox.len() == HISTORY {
            st.inbox.pop_front();
        }
        st.inbox.push_back(received);
    }

    /// The ACK of a non-2xx final response to one of the peer's INVITEs
    /// (RFC 3261 §17.1.1.3): the INVITE's Request-URI, top Via, From,
    /// Call-ID and Route, the response's To, CSeq with ACK.
    fn ack_for(&self, response: &Response) -> Option<(Bytes, SocketAddr)> {
        let code = response.status.as_u16();
        let cseq = response.headers.cseq()?;
        if code < 300 || cseq.method != Method::Invite {
            return None;
        }
        let st = self.state();
        if st.manual_ack {
            return None;
        }
        let branch = response.headers.top_via()?.branch()?.to_string();
        let invite = st.invites.get(&branch)?;
        let mut text = format!("ACK {} SIP/2.0\r\n", invite.uri);
        for h in invite.headers.iter() {
            match h.known_name() {
                Some(
                    HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::Route,
                ) => {
                    text.push_str(&format!("{}: {}\r\n", h.name(), h.value()));
                }
                Some(HeaderName::MaxForwards) => text.push_str("Max-Forwards: 70\r\n"),
                _ => {}
            }
        }
        let to = response.headers.get(HeaderName::To)?;
        text.push_str(&format!(
            "To: {to}\r\nCSeq: {} ACK\r\nContent-Length: 0\r\n\r\n",
            cseq.seq
        ));
        Some((Bytes::from(text), self.inner.server))
    }

    /// Sends a message (after the faults on outgoing messages).
    pub(crate) async fn transmit(&self, data: Bytes, to: SocketAddr) -> Result<(), Failure> {
        let fault = match parse_datagram(data.clone()) {
            Ok(m) => {
                fault::take(&mut self.state().faults, &m, Way::Outgoing).map(|f| (f, summary(&m)))
            }
            Err(_) => None,
        };
        match fault {
            None => self.put(&data, to).await,
            Some((FaultKind::Drop, what)) => {
                self.note(format!("dropped {what} from {}", self.inner.name));
                Ok(())
            }
            Some((FaultKind::Duplicate, what)) => {
                self.note(format!("duplicated {what} from {}", self.inner.name));
                self.put(&data, to).await?;
                self.put(&data, to).await
            }
            Some((FaultKind::Delay(by), what)) => {
                self.note(format!("delayed {what} from {} by {by:?}", self.inner.name));
                let peer = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(by).await;
                    let _ = peer.put(&data, to).await;
                });
                Ok(())
            }
        }
    }

    async fn put(&self, data: &[u8], to: SocketAddr) -> Result<(), Failure> {
        self.inner
            .journal
            .message(self.addr(), to, self.protocol(), data);
        self.inner.link.send(data, to).await.map_err(|e| {
            self.inner
                .journal
                .failure(format!("to send to {to}, but: {e}"), Some(data))
        })
    }

    /// Where a response to `request` goes: its top Via (RFC 3261
    /// §18.2.2), else the server.
    pub(crate) fn response_target(&self, request: &Request) -> SocketAddr {
        request
            .headers
            .top_via()
            .and_then(|v| {
                let d = response_destination(&v);
                Some(SocketAddr::new(d.host.ip()?, d.port))
            })
            .unwrap_or(self.inner.server)
    }

    /// Where a request to `uri` goes: its address when it is an IP
    /// literal, else the server.
    pub(crate) fn target_of(&self, uri: &str) -> SocketAddr {
        uri.parse::<crate::message::Uri>()
            .ok()
            .and_then(|u| {
                let sip = u.as_sip()?;
                Some(SocketAddr::new(sip.host().ip()?, sip.port_or_default()))
            })
            .unwrap_or(self.inner.server)
    }
}

/// `INVITE`, `180 Ringing`: what a note calls a message.
fn summary(m: &Message) -> String {
    match m {
        Message::Request(r) => r.method.to_string(),
        Message::Response(r) => format!("{} {}", r.status.as_u16(), r.reason),
    }
}
