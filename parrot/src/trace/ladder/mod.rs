//! Call-flow pictures: a captured exchange of SIP messages drawn as a
//! ladder diagram, as monospace text for a terminal ([`render_text`]), as
//! a self-contained SVG for documents and CI artefacts ([`render_svg`]),
//! or as a Mermaid sequence diagram ([`render_mermaid`]).
//!
//! A [`Flow`] is built from captured messages (time, source and
//! destination addresses, transport, raw bytes), pushed one by one from a
//! capture file or a log, or collected from a running server or client
//! by a [`FlowRecorder`] on its message tap. Each message is parsed once,
//! as it is pushed, and only its summary is kept: the label of its arrow
//! (the method and the Request-URI's `user@host`, or the status code and
//! reason), its Call-ID, CSeq and top Via branch, and whether it repeats
//! an earlier message (a retransmission, marked `↻`).
//!
//! The participants are the distinct addresses, drawn as columns in the
//! order they first appear; [`Flow::name`] gives one a name. Times are
//! shown from the earliest message (`+0.212s`). Everything is bounded: a
//! flow keeps at most [`MAX_MESSAGES`] messages (the rest are counted
//! and the count is shown), at most [`MAX_PARTICIPANTS`] columns are
//! drawn, and labels are cut at [`MAX_LABEL`] characters.
//!
//! The module is sans-IO: it reads no clock and touches no socket, so
//! the same flow always renders to the same text.
//!
//! ```
//! use parrot::trace::ladder::{Captured, Flow, render_text};
//! use parrot::transport::Protocol;
//! use std::time::Duration;
//!
//! let alice = "192.0.2.1:5060".parse().unwrap();
//! let bob = "192.0.2.2:5060".parse().unwrap();
//! let invite = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
//!     Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\n\
//!     From: <sip:alice@atlanta.example.com>;tag=a\r\nCall-ID: c1\r\n\
//!     CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
//! let mut flow = Flow::new();
//! flow.name(alice, "alice").name(bob, "bob");
//! flow.push(Captured::offset(Duration::ZERO, alice, bob, Protocol::Udp, invite));
//! let text = render_text(&flow);
//! assert!(text.contains("INVITE bob@biloxi.example.com"));
//! assert!(text.contains("+0.000s"));
//! ```

mod layout;
mod mermaid;
mod summary;
mod svg;
#[cfg(test)]
mod tests;
mod text;

pub use mermaid::render_mermaid;
pub use svg::render_svg;
pub use text::render_text;

use crate::transport::{Direction, MessageObserver, Protocol, TappedMessage};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The most messages a [`Flow`] keeps unless told otherwise
/// ([`Flow::with_limit`]); later ones are only counted.
pub const MAX_MESSAGES: usize = 10_000;

/// The most participants drawn as columns; messages to or from further
/// addresses are left out and counted.
pub const MAX_PARTICIPANTS: usize = 32;

/// The longest label (in characters) an arrow carries; longer ones are cut
/// and end with `…`.
pub const MAX_LABEL: usize = 60;

/// The longest Call-ID (in bytes) a flow keeps for [`Flow::call`]: longer
/// ones are cut, the same way on both sides of the comparison.
const MAX_CALL_ID: usize = 256;

/// One captured message, as pushed into a [`Flow`]: when it was seen,
/// where it went, over which transport, and its bytes as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captured<'a> {
    /// When the message was seen (wall clock, or any common origin).
    pub time: SystemTime,
    /// The sender's address.
    pub source: SocketAddr,
    /// The receiver's address.
    pub destination: SocketAddr,
    /// The transport it went over.
    pub protocol: Protocol,
    /// The message's bytes.
    pub data: &'a [u8],
}

impl<'a> Captured<'a> {
    /// A message seen at `time`.
    pub fn new(
        time: SystemTime,
        source: SocketAddr,
        destination: SocketAddr,
        protocol: Protocol,
        data: &'a [u8],
    ) -> Self {
        Captured {
            time,
            source,
            destination,
            protocol,
            data,
        }
    }

    /// A message seen `offset` after some common origin (the diagram only
    /// shows times relative to the earliest message).
    pub fn offset(
        offset: Duration,
        source: SocketAddr,
        destination: SocketAddr,
        protocol: Protocol,
        data: &'a [u8],
    ) -> Self {
        Captured::new(
            SystemTime::UNIX_EPOCH + offset,
            source,
            destination,
            protocol,
            data,
        )
    }
}

impl<'a> From<&TappedMessage<'a>> for Captured<'a> {
    fn from(m: &TappedMessage<'a>) -> Self {
        Captured::new(m.timestamp, m.source(), m.destination(), m.protocol, m.data)
    }
}

impl<'a> From<TappedMessage<'a>> for Captured<'a> {
    fn from(m: TappedMessage<'a>) -> Self {
        Captured::from(&m)
    }
}

/// What kind of message an arrow stands for (it sets the arrow's colour
/// in the SVG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A request.
    Request,
    /// A 1xx response.
    Provisional,
    /// A 2xx response.
    Success,
    /// A 3xx to 6xx response.
    Failure,
    /// Bytes the parser refused.
    Unparsable,
}

/// One message of a [`Flow`]: where it went and its summary (the message
/// itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// When it was seen.
    pub time: SystemTime,
    /// The sender's address.
    pub source: SocketAddr,
    /// The receiver's address.
    pub destination: SocketAddr,
    /// The transport.
    pub protocol: Protocol,
    /// Its size on the wire.
    pub bytes: usize,
    /// Request, response class, or unparsable.
    pub kind: MessageKind,
    /// The arrow's label: `INVITE bob@biloxi.example.com`, `180 Ringing`,
    /// `(unparsable, 123 bytes)`; at most [`MAX_LABEL`] characters, no
    /// control characters.
    pub label: String,
    /// The Call-ID (cut at 256 bytes), if the message parsed.
    pub call_id: Option<String>,
    /// The CSeq as `1 INVITE`, if the message parsed.
    pub cseq: Option<String>,
    /// The top Via's branch, if any.
    pub branch: Option<String>,
    /// Whether an earlier message of the flow went the same way with the
    /// same start line, Call-ID, CSeq, top Via branch and tags (or, for
    /// unparsable bytes, the same bytes).
    pub retransmission: bool,
    /// Identifies what a retransmission repeats.
    fingerprint: u64,
}

/// A captured exchange of SIP messages, in the order they were pushed,
/// with optional names for the participants' addresses.
#[derive(Debug, Clone)]
pub struct Flow {
    entries: Vec<Entry>,
    names: Vec<(SocketAddr, String)>,
    limit: usize,
    omitted: usize,
    seen: HashSet<u64>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new()
    }
}

impl Flow {
    /// An empty flow keeping at most [`MAX_MESSAGES`] messages.
    pub fn new() -> Self {
        Flow::with_limit(MAX_MESSAGES)
    }

    /// An empty flow keeping at most `limit` messages.
    pub fn with_limit(limit: usize) -> Self {
        Flow {
            entries: Vec::new(),
            names: Vec::new(),
            limit,
            omitted: 0,
            seen: HashSet::new(),
        }
    }

    /// Adds a message (parsed here, once). Returns false, and only counts
    /// it, when the flow is full.
    pub fn push<'a>(&mut self, message: impl Into<Captured<'a>>) -> bool {
        let m = message.into();
        if self.entries.len() >= self.limit {
            self.omitted += 1;
            return false;
        }
        let mut entry = summary::summarize(&m);
        entry.retransmission = !self.seen.insert(entry.fingerprint);
        self.entries.push(entry);
        true
    }

    /// Names the participant at `addr` (shown above its address); a later
    /// name for the same address replaces the earlier one.
    pub fn name(&mut self, addr: SocketAddr, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        match self.names.iter_mut().find(|(a, _)| *a == addr) {
            Some(slot) => slot.1 = name,
            None => self.names.push((addr, name)),
        }
        self
    }

    /// The name given to `addr`, if any.
    pub fn name_of(&self, addr: SocketAddr) -> Option<&str> {
        self.names
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, n)| n.as_str())
    }

    /// The messages of one call: those whose Call-ID is `call_id`, with
    /// the same names. Messages that did not parse have no Call-ID and
    /// are left out.
    pub fn call(&self, call_id: &str) -> Flow {
        let wanted = cut(call_id, MAX_CALL_ID);
        Flow {
            entries: self
                .entries
                .iter()
                .filter(|e| e.call_id.as_deref() == Some(wanted))
                .cloned()
                .collect(),
            names: self.names.clone(),
            limit: self.limit,
            omitted: 0,
            seen: self.seen.clone(),
        }
    }

    /// The distinct Call-IDs, in the order they first appear.
    pub fn call_ids(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.entries
            .iter()
            .filter_map(|e| e.call_id.as_deref())
            .filter(|id| seen.insert(*id))
            .collect()
    }

    /// The messages kept, in the order they were pushed.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// How many messages are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no message is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many messages were pushed after the flow was full.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// The most messages the flow keeps.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A [`MessageObserver`] that collects every message a transport tap
/// shows into a shared [`Flow`], for a test or a diagnostic dump.
///
/// Each message is parsed as it is observed (a few microseconds), on the
/// transport's task: meant for tests and troubleshooting rather than for
/// a busy server. When two tapped endpoints in one process talk to each
/// other, every message is seen twice (sent by one, received by the
/// other): record one direction only ([`FlowRecorder::only`]) to draw
/// each once.
///
/// ```
/// use parrot::trace::ladder::{FlowRecorder, render_text};
/// use parrot::transport::{MessageTap, TransportConfig};
///
/// let recorder = FlowRecorder::new();
/// let mut config = TransportConfig::default();
/// config.tap = Some(MessageTap::new(recorder.clone()));
/// // ... run the exchange, then:
/// let picture = render_text(&recorder.flow());
/// # let _ = picture;
/// ```
#[derive(Debug, Clone, Default)]
pub struct FlowRecorder {
    flow: Arc<Mutex<Flow>>,
    only: Option<Direction>,
}

impl FlowRecorder {
    /// A recorder of every message, received and sent.
    pub fn new() -> Self {
        FlowRecorder::default()
    }

    /// A recorder of the messages that went one way only.
    pub fn only(direction: Direction) -> Self {
        FlowRecorder {
            flow: Arc::default(),
            only: Some(direction),
        }
    }

    /// A recorder adding to `flow` (which may be shared with other
    /// recorders, or named beforehand).
    pub fn with_flow(flow: Arc<Mutex<Flow>>) -> Self {
        FlowRecorder { flow, only: None }
    }

    /// The shared flow the recorder adds to.
    pub fn shared(&self) -> Arc<Mutex<Flow>> {
        self.flow.clone()
    }

    /// A copy of the flow recorded so far.
    pub fn flow(&self) -> Flow {
        self.lock().clone()
    }

    /// Forgets the messages recorded so far (names are kept).
    pub fn clear(&self) {
        let mut flow = self.lock();
        let names = std::mem::take(&mut flow.names);
        let limit = flow.limit;
        *flow = Flow::with_limit(limit);
        flow.names = names;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flow> {
        // A panic elsewhere while holding the lock leaves a usable flow.
        self.flow.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MessageObserver for FlowRecorder {
    fn observe(&self, message: &TappedMessage<'_>) {
        if self.only.is_none_or(|d| d == message.direction) {
            self.lock().push(message);
        }
    }
}
