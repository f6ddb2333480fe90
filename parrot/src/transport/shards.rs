//! One server's transports split among shards: each shard (a transport,
//! a transaction layer and a server core on a thread of its own) reads
//! the same listening sockets, and every message is handled by the shard
//! that owns its Call-ID.
//!
//! Ownership by Call-ID keeps a dialog's requests, its transactions'
//! responses and its CANCELs on one shard whichever shard read them and
//! whatever address or connection they came from, since they all carry
//! the dialog's Call-ID (RFC 3261 §8.1.1.4, §12.1, §9.1); the shard that
//! reads a datagram parses it, so the parsing is spread over whichever
//! shards are free. The shards share one connection table, so the owner
//! answers on the connection another shard accepted.

use super::connections::ConnectionState;
use super::tls_config::TlsConfig;
use super::{Incoming, Protocol};
use crate::message::Message;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where a shard's messages go: every shard's incoming queue, and which
/// one is this shard's own.
#[derive(Clone)]
pub(crate) struct ShardRoute {
    index: usize,
    queues: Arc<[mpsc::Sender<Box<Incoming>>]>,
}

impl ShardRoute {
    /// Routes for shard `index` of `queues.len()`.
    pub(crate) fn new(index: usize, queues: Arc<[mpsc::Sender<Box<Incoming>>]>) -> Self {
        assert!(index < queues.len(), "shard {index} of {}", queues.len());
        ShardRoute { index, queues }
    }

    /// This shard's own queue.
    pub(crate) fn own_queue(&self) -> &mpsc::Sender<Box<Incoming>> {
        &self.queues[self.index]
    }

    /// The queue of the shard that owns `message`, when that is another
    /// shard. A message without a Call-ID never gets here: parsing
    /// refuses it (§8.1.1).
    pub(crate) fn elsewhere(&self, message: &Message) -> Option<&mpsc::Sender<Box<Incoming>>> {
        let call_id = message.headers().call_id()?;
        let owner = owner(call_id.as_bytes(), self.queues.len());
        (owner != self.index).then(|| &self.queues[owner])
    }
}

/// The shard of `shards` that owns the Call-ID `call_id`: FNV-1a over its
/// bytes (Call-IDs compare case-sensitively, §20.8), the same on every
/// shard and every run.
pub(crate) fn owner(call_id: &[u8], shards: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in call_id {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV leaves the last byte's difference in few bits: Call-IDs that
    // differ only at their end (a counter) would share an owner. A
    // 64-bit finalizer spreads it over all of them.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    // The cast cannot lose what `%` keeps.
    (hash % shards.max(1) as u64) as usize
}

/// A listener's socket as another shard gets it: a copy (`dup`) of the
/// first shard's, so that the kernel hands each datagram or connection to
/// whichever shard asks first.
pub(crate) enum ShardSocket {
    Udp(std::net::UdpSocket),
    Stream(Protocol, std::net::TcpListener, Option<TlsConfig>),
}

impl ShardSocket {
    /// Another copy of the same socket.
    pub(crate) fn try_clone(&self) -> std::io::Result<ShardSocket> {
        Ok(match self {
            ShardSocket::Udp(s) => ShardSocket::Udp(s.try_clone()?),
            ShardSocket::Stream(p, l, tls) => ShardSocket::Stream(*p, l.try_clone()?, tls.clone()),
        })
    }
}

/// What a shard's transport is bound with: its route and its own incoming
/// queue; for every shard but the first, the first shard's listeners and
/// connection table too.
pub(crate) struct ShardSetup {
    pub(crate) route: ShardRoute,
    pub(crate) incoming: mpsc::Receiver<Box<Incoming>>,
    pub(crate) joins: Option<(Vec<ShardSocket>, ConnectionState)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse_datagram;
    use bytes::Bytes;

    #[test]
    fn a_call_id_has_one_owner_in_range() {
        for shards in 1..=8 {
            for i in 0..200 {
                let id = format!("{i:x}-call@example.com");
                let o = owner(id.as_bytes(), shards);
                assert!(o < shards);
                assert_eq!(o, owner(id.as_bytes(), shards));
            }
        }
        assert_eq!(owner(b"x", 0), 0);
    }

    #[test]
    fn random_call_ids_spread_over_the_shards() {
        for shards in [2, 3, 4] {
            let mut counts = vec![0u32; shards];
            for _ in 0..4000 {
                let id = format!("{:016x}@host", crate::random::u64());
                counts[owner(id.as_bytes(), shards)] += 1;
            }
            let fair = 4000 / shards as u32;
            for c in counts {
                assert!(c > fair * 8 / 10 && c < fair * 12 / 10, "{c} of {fair}");
            }
        }
    }

    #[test]
    fn call_ids_that_differ_only_at_the_end_spread_too() {
        for shards in [2, 3] {
            let mut counts = vec![0u32; shards];
            for i in 0..300 {
                counts[owner(format!("call-{i}").as_bytes(), shards)] += 1;
            }
            let fair = 300 / shards as u32;
            for c in counts {
                assert!(c > fair * 7 / 10 && c < fair * 13 / 10, "{c} of {fair}");
            }
        }
    }

    #[test]
    fn call_ids_differing_in_case_may_differ_in_owner() {
        // Case-sensitive: "ABC" and "abc" are two calls.
        let spread = (0..64)
            .map(|i| format!("Call{i}"))
            .filter(|id| owner(id.as_bytes(), 2) != owner(id.to_lowercase().as_bytes(), 2))
            .count();
        assert!(spread > 0);
    }

    fn message(text: &str) -> Message {
        parse_datagram(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
    }

    const INVITE: &str = "INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:c@d>;tag=1\nTo: <sip:a@b>\nCall-ID: CALLID\nCSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n";

    #[test]
    fn a_message_goes_to_its_call_ids_owner() {
        let queues: Vec<_> = (0..2).map(|_| mpsc::channel(4)).collect();
        let senders: Arc<[_]> = queues.iter().map(|(tx, _)| tx.clone()).collect();
        let routes = [
            ShardRoute::new(0, senders.clone()),
            ShardRoute::new(1, senders),
        ];
        for i in 0..32 {
            let id = format!("call-{i}");
            let m = message(&INVITE.replace("CALLID", &id));
            let o = owner(id.as_bytes(), 2);
            // The owner keeps it; the other shard hands it to the owner.
            assert!(routes[o].elsewhere(&m).is_none());
            let to = routes[1 - o].elsewhere(&m).expect("forwarded");
            assert!(to.same_channel(routes[o].own_queue()));
        }
    }

    /// A BYE (in a dialog, so never shed as new work) for `call_id`.
    fn bye(call_id: &str) -> String {
        INVITE
            .replace("INVITE sip", "BYE sip")
            .replace("1 INVITE", "2 BYE")
            .replace("<sip:a@b>\n", "<sip:a@b>;tag=9\n")
            .replace("CALLID", call_id)
            .replace('\n', "\r\n")
    }

    /// A Call-ID that `shard` of two owns.
    fn owned_by(shard: usize, n: usize) -> String {
        (0..)
            .map(|i| format!("flood-{n}-{i}"))
            .find(|id| owner(id.as_bytes(), 2) == shard)
            .unwrap()
    }

    #[tokio::test]
    async fn a_full_shard_does_not_stall_the_others() {
        use super::super::{ListenerConfig, TransportConfig, TransportLayer};
        let config = TransportConfig {
            listeners: vec![ListenerConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                protocols: vec![Protocol::Udp],
            }],
            incoming_queue: 4,
            ..TransportConfig::default()
        };
        let (tx0, rx0) = mpsc::channel(4);
        let (tx1, rx1) = mpsc::channel(4);
        let queues: Arc<[_]> = Arc::from([tx0, tx1]);
        let first = ShardSetup {
            route: ShardRoute::new(0, queues.clone()),
            incoming: rx0,
            joins: None,
        };
        let (t0, mut in0) = TransportLayer::bind_with(config.clone(), Some(first))
            .await
            .unwrap();
        let second = ShardSetup {
            route: ShardRoute::new(1, queues),
            incoming: rx1,
            joins: Some(t0.share().unwrap()),
        };
        // Shard 1's queue is never read: it fills, and its own receiver
        // then waits for room.
        let (t1, _in1) = TransportLayer::bind_with(config, Some(second))
            .await
            .unwrap();
        let server = t0.local_addr(Protocol::Udp).unwrap();
        assert_eq!(t1.local_addr(Protocol::Udp), Some(server), "one socket");
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for n in 0..64 {
            let text = bye(&owned_by(1, n));
            peer.send_to(text.as_bytes(), server).await.unwrap();
        }
        // Shard 0 still takes its own calls.
        let mine = owned_by(0, 1000);
        peer.send_to(bye(&mine).as_bytes(), server).await.unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let m = in0.recv().await.expect("shard 0's queue open");
                let id = m.message.headers().call_id().unwrap().to_string();
                assert_eq!(owner(id.as_bytes(), 2), 0, "shard 0 got {id}");
                if id == mine {
                    return id;
                }
            }
        })
        .await
        .expect("shard 0 kept reading while shard 1 was full");
        assert_eq!(got, mine);
    }
}
