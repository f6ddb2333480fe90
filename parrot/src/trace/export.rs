//! Sending HEPv3 packets to a capture server (Homer, heplify-server, a
//! Kamailio with sipcapture) over UDP, from a background task.

use super::hep::HepPacket;
use crate::transport::os_udp::OsUdpSocket;
use crate::transport::{MessageObserver, TappedMessage};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{debug, warn};

/// How often, at most, dropped packets are warned about.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// How a [`HepExporter`] labels and queues what it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HepConfig {
    /// The capture agent id (chunk 12) the collector files our packets
    /// under. Default 2001.
    pub capture_id: u32,
    /// The collector's password (chunk 14), if it asks for one. Default
    /// none.
    pub auth_key: Option<String>,
    /// Whether each packet carries the message's Call-ID as correlation id
    /// (chunk 17). Default `true`.
    pub correlate_call_id: bool,
    /// Most packets waiting to be sent; beyond it new ones are dropped and
    /// counted ([`HepExporter::dropped`]), so a slow or unreachable
    /// network never holds up SIP nor grows memory. Default 4096.
    pub queue: usize,
}

impl Default for HepConfig {
    fn default() -> Self {
        HepConfig {
            capture_id: 2001,
            auth_key: None,
            correlate_call_id: true,
            queue: 4096,
        }
    }
}

/// What the exporter and its sending task share.
struct Inner {
    collector: SocketAddr,
    config: HepConfig,
    tx: mpsc::Sender<Vec<u8>>,
    /// The queue's other end, until the sending task takes it.
    rx: Mutex<Option<mpsc::Receiver<Vec<u8>>>>,
    sent: AtomicU64,
    dropped: AtomicU64,
    /// When the exporter was made: the drop warnings are timed from it.
    epoch: Instant,
    /// Milliseconds after `epoch` of the last drop warning, plus one (0:
    /// never warned).
    warned_ms: AtomicU64,
}

/// A [`MessageObserver`] that sends every message to a HEPv3 collector
/// over UDP.
///
/// Each message is encoded where it is tapped (one allocation, the
/// packet) and queued for a background task that sends it; when the queue
/// is full the packet is dropped and counted, with a warning at most every
/// 10 s. The task starts with the first transport the exporter is
/// configured on ([`MessageObserver::start`], inside the tokio runtime)
/// and ends when the exporter and every transport using it are gone. A
/// message too large for a HEP packet (64 KiB) is dropped and counted.
///
/// Cheap to clone: clones share the queue and the counters.
#[derive(Clone)]
pub struct HepExporter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HepExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HepExporter")
            .field("collector", &self.inner.collector)
            .field("capture_id", &self.inner.config.capture_id)
            .field("sent", &self.sent())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl HepExporter {
    /// An exporter to the collector at `collector` (HEP's usual port is
    /// 9060). It sends nothing until a transport it is configured on
    /// starts.
    pub fn new(collector: SocketAddr, config: HepConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        HepExporter {
            inner: Arc::new(Inner {
                collector,
                config,
                tx,
                rx: Mutex::new(Some(rx)),
                sent: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                epoch: Instant::now(),
                warned_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The collector's address.
    pub fn collector(&self) -> SocketAddr {
        self.inner.collector
    }

    /// Packets handed to the socket so far.
    pub fn sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    /// Packets dropped so far: the queue was full, the message too large,
    /// the socket failed, or the sending task was gone.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    fn drop_one(&self, why: &'static str) {
        let inner = &self.inner;
        let total = inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = inner.warned_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last - 1) >= WARN_EVERY.as_millis() as u64;
        if due
            && inner
                .warned_ms
                .compare_exchange(last, now + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            warn!(
                collector = %inner.collector,
                dropped = total,
                why,
                "HEP capture packets dropped"
            );
        }
    }
}

impl MessageObserver for HepExporter {
    fn observe(&self, message: &TappedMessage<'_>) {
        let c = &self.inner.config;
        let packet = HepPacket::from_tapped(
            message,
            c.capture_id,
            c.auth_key.as_deref().map(str::as_bytes),
            c.correlate_call_id,
        );
        let bytes = match packet.encode() {
            Ok(b) => b,
            Err(_) => return self.drop_one("message too large for HEP"),
        };
        match self.inner.tx.try_send(bytes) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.drop_one("queue full"),
            Err(TrySendError::Closed(_)) => self.drop_one("sender stopped"),
        }
    }

    fn start(&self) {
        let rx = self
            .inner
            .rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(rx) = rx {
            // The task holds no sender: it ends once every exporter clone
            // (and so every transport holding one) is gone.
            let weak = Arc::downgrade(&self.inner);
            tokio::spawn(send_loop(self.inner.collector, rx, weak));
        }
    }
}

/// Sends queued packets to `collector` until the queue closes.
async fn send_loop(
    collector: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
    inner: std::sync::Weak<Inner>,
) {
    let any: SocketAddr = if collector.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    // Registered for reading only: a send-only socket gains nothing from
    // the write-space event each packet sent raises (see `os_udp`).
    let socket = match OsUdpSocket::bind(any) {
        Ok(s) => s,
        Err(error) => {
            warn!(%error, %collector, "cannot open a socket for HEP capture; not sending");
            // Dropping the queue makes every later packet count as dropped.
            return;
        }
    };
    debug!(%collector, "HEP capture export started");
    while let Some(packet) = rx.recv().await {
        let result = socket.send_to(&packet, collector).await;
        let Some(inner) = inner.upgrade() else { break };
        match result {
            Ok(_) => {
                inner.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                debug!(%error, %collector, "HEP packet not sent");
                HepExporter { inner }.drop_one("send failed");
            }
        }
    }
    debug!(%collector, "HEP capture export stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Direction, Protocol};
    use std::time::SystemTime;
    use tokio::net::UdpSocket;

    fn message(data: &[u8]) -> TappedMessage<'_> {
        TappedMessage {
            direction: Direction::Out,
            protocol: Protocol::Udp,
            local: "127.0.0.1:5060".parse().unwrap(),
            peer: "127.0.0.1:5070".parse().unwrap(),
            timestamp: SystemTime::now(),
            data,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let e = HepExporter::new(
            "127.0.0.1:9".parse().unwrap(),
            HepConfig {
                queue: 2,
                ..HepConfig::default()
            },
        );
        // Not started: nothing drains the queue.
        for _ in 0..5 {
            e.observe(&message(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n"));
        }
        assert_eq!(e.dropped(), 3);
        assert_eq!(e.sent(), 0);
        e.observe(&message(&vec![b'x'; 70_000]));
        assert_eq!(e.dropped(), 4);
        assert!(format!("{e:?}").contains("dropped: 4"));
    }

    #[tokio::test]
    async fn packets_reach_the_collector() {
        let collector = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let e = HepExporter::new(collector.local_addr().unwrap(), HepConfig::default());
        e.start();
        e.start(); // a second transport: no second task
        e.observe(&message(b"SIP/2.0 200 OK\r\nCall-ID: q\r\n\r\n"));
        let mut buf = vec![0; 65_536];
        let n = tokio::time::timeout(Duration::from_secs(10), collector.recv(&mut buf))
            .await
            .expect("a packet within 10 s")
            .unwrap();
        let p = HepPacket::decode(&buf[..n]).unwrap();
        assert_eq!(p.payload, b"SIP/2.0 200 OK\r\nCall-ID: q\r\n\r\n");
        assert_eq!(p.correlation_id, Some(&b"q"[..]));
        assert_eq!(p.capture_id, 2001);
        assert_eq!(e.collector(), collector.local_addr().unwrap());
    }
}
