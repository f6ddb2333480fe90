//! The message tap: every SIP message the transport receives or sends,
//! shown to observers with its direction, protocol, addresses, a
//! timestamp and its raw bytes (for a text trace, HEP capture export, or
//! a test).
//!
//! Observers are set in [`TransportConfig::tap`](super::TransportConfig::tap).
//! Without a tap the cost per message is one branch on that `Option`: no
//! clock is read and the bytes are neither copied nor counted.
//!
//! The tap sits where the bytes cross the socket: UDP datagrams as they
//! are read and sent, stream messages (TCP, TLS) as they are framed and
//! written, WebSocket messages frame by frame. Keep-alives (CRLF pings and
//! pongs, RFC 5626 §3.5.1) are not shown. Received messages are shown
//! before they are parsed, so malformed ones and those refused under load
//! are traced too; sent messages once the socket or connection took them.

use super::Protocol;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// Which way a tapped message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent to the peer.
    Out,
}

impl Direction {
    /// `"in"` or `"out"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SIP message crossing the transport, as shown to a
/// [`MessageObserver`]. It borrows the bytes: an observer that keeps them
/// copies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TappedMessage<'a> {
    /// Received or sent.
    pub direction: Direction,
    /// The transport protocol.
    pub protocol: Protocol,
    /// Our address: the listener's bound address for UDP (which may be a
    /// wildcard), the connection's local address for streams.
    pub local: SocketAddr,
    /// The peer's address (the source of a received message, the
    /// destination of a sent one).
    pub peer: SocketAddr,
    /// When the message was received or sent (wall clock).
    pub timestamp: SystemTime,
    /// The message exactly as on the wire (for WebSocket, the frame's
    /// payload).
    pub data: &'a [u8],
}

impl TappedMessage<'_> {
    /// The packet's source address: the peer's for a received message,
    /// ours for a sent one.
    pub fn source(&self) -> SocketAddr {
        match self.direction {
            Direction::In => self.peer,
            Direction::Out => self.local,
        }
    }

    /// The packet's destination address: ours for a received message, the
    /// peer's for a sent one.
    pub fn destination(&self) -> SocketAddr {
        match self.direction {
            Direction::In => self.local,
            Direction::Out => self.peer,
        }
    }
}

/// Sees every SIP message a transport receives and sends.
///
/// [`observe`](Self::observe) runs on the task that received or sent the
/// message, in the middle of the transport's work: it must be quick and
/// must never block (queue the work elsewhere, dropping what does not fit,
/// as [`HepExporter`](crate::trace::HepExporter) does). A closure
/// `Fn(&TappedMessage<'_>)` is an observer.
pub trait MessageObserver: Send + Sync + 'static {
    /// Called for each message received or sent.
    fn observe(&self, message: &TappedMessage<'_>);

    /// Called once by every transport layer the observer is configured on,
    /// inside the tokio runtime, as the transport starts: the place to
    /// spawn background work. The default does nothing.
    fn start(&self) {}
}

impl<F> MessageObserver for F
where
    F: Fn(&TappedMessage<'_>) + Send + Sync + 'static,
{
    fn observe(&self, message: &TappedMessage<'_>) {
        self(message)
    }
}

/// The observers of a transport's messages, for
/// [`TransportConfig::tap`](super::TransportConfig::tap): one or several,
/// each shown every message in the order they were added. Cheap to clone
/// (the observers are shared).
#[derive(Clone)]
pub struct MessageTap(Arc<[Arc<dyn MessageObserver>]>);

impl MessageTap {
    /// A tap with one observer.
    pub fn new(observer: impl MessageObserver) -> Self {
        MessageTap(Arc::from([Arc::new(observer) as Arc<dyn MessageObserver>]))
    }

    /// A tap with one shared observer (keep a clone of the `Arc` to read
    /// its state, e.g. an exporter's counters).
    pub fn from_arc(observer: Arc<dyn MessageObserver>) -> Self {
        MessageTap(Arc::from([observer]))
    }

    /// This tap with `observer` added after the others.
    pub fn and(self, observer: impl MessageObserver) -> Self {
        self.and_arc(Arc::new(observer))
    }

    /// This tap with a shared `observer` added after the others.
    pub fn and_arc(self, observer: Arc<dyn MessageObserver>) -> Self {
        let mut all: Vec<Arc<dyn MessageObserver>> = self.0.iter().cloned().collect();
        all.push(observer);
        MessageTap(all.into())
    }

    /// `tap` with `observer` added, or a new tap of `observer` alone.
    pub fn add(tap: Option<MessageTap>, observer: Arc<dyn MessageObserver>) -> MessageTap {
        match tap {
            Some(t) => t.and_arc(observer),
            None => MessageTap::from_arc(observer),
        }
    }

    /// How many observers the tap has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the tap has no observer (never, as built by this API).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Lets every observer start its background work.
    pub(crate) fn start(&self) {
        for o in self.0.iter() {
            o.start();
        }
    }

    /// Shows one message to every observer, unless it is a keep-alive.
    /// Reads the clock; only called once a tap is known to be configured.
    #[cold]
    fn emit(
        &self,
        direction: Direction,
        protocol: Protocol,
        local: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
    ) {
        if data.iter().all(|&b| b == b'\r' || b == b'\n') {
            return;
        }
        let message = TappedMessage {
            direction,
            protocol,
            local,
            peer,
            timestamp: SystemTime::now(),
            data,
        };
        for o in self.0.iter() {
            o.observe(&message);
        }
    }
}

impl fmt::Debug for MessageTap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageTap({} observers)", self.0.len())
    }
}

impl PartialEq for MessageTap {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for MessageTap {}

/// Shows a message to `tap`'s observers, if a tap is configured: the one
/// branch every message pays.
#[inline]
pub(crate) fn tap(
    tap: &Option<MessageTap>,
    direction: Direction,
    protocol: Protocol,
    local: SocketAddr,
    peer: SocketAddr,
    data: &[u8],
) {
    if let Some(t) = tap {
        t.emit(direction, protocol, local, peer, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn observers_see_messages_in_order_and_not_keepalives() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (seen.clone(), seen.clone());
        let t = MessageTap::new(move |m: &TappedMessage<'_>| {
            a.lock().unwrap().push(("a", m.direction, m.data.to_vec()))
        })
        .and(move |m: &TappedMessage<'_>| {
            b.lock().unwrap().push(("b", m.direction, m.data.to_vec()))
        });
        assert_eq!(t.len(), 2);
        let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let some = Some(t.clone());
        tap(
            &some,
            Direction::In,
            Protocol::Udp,
            local,
            peer,
            b"\r\n\r\n",
        );
        tap(
            &some,
            Direction::Out,
            Protocol::Udp,
            local,
            peer,
            b"SIP/2.0 200 OK\r\n",
        );
        tap(&None, Direction::Out, Protocol::Udp, local, peer, b"X");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, "a");
        assert_eq!(seen[1].0, "b");
        assert_eq!(seen[1].1, Direction::Out);
        assert_eq!(seen[1].2, b"SIP/2.0 200 OK\r\n");
        assert_eq!(t, t.clone());
    }

    #[test]
    fn source_and_destination_follow_the_direction() {
        let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let peer: SocketAddr = "192.0.2.1:5070".parse().unwrap();
        let mut m = TappedMessage {
            direction: Direction::In,
            protocol: Protocol::Tcp,
            local,
            peer,
            timestamp: SystemTime::UNIX_EPOCH,
            data: b"",
        };
        assert_eq!((m.source(), m.destination()), (peer, local));
        m.direction = Direction::Out;
        assert_eq!((m.source(), m.destination()), (local, peer));
    }
}
