//! An in-memory datagram network: sockets with addresses that exchange
//! datagrams through queues in the process, with no system call and no
//! real time. A transport configured with one ([`TransportConfig::memory`])
//! binds its UDP listeners there instead of on the OS, so a whole server
//! runs deterministically on tokio's paused clock (the
//! `parrot::testing` kit, feature `testing`, is built on it).
//!
//! Delivery is immediate and in order; a datagram to an address nobody
//! holds is lost, as over UDP; each socket queues at most
//! [`MemoryNetwork::QUEUE`] datagrams and drops the rest, as a full kernel
//! buffer would.
//!
//! [`TransportConfig::memory`]: super::TransportConfig::memory

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::Notify;
use tracing::trace;

/// The first port handed out for a bind to port 0.
const FIRST_EPHEMERAL: u16 = 49152;

/// A network of in-memory datagram sockets. Cloning gives another handle
/// to the same network.
#[derive(Clone, Default)]
pub struct MemoryNetwork {
    inner: Arc<Mutex<Net>>,
}

#[derive(Default)]
struct Net {
    sockets: HashMap<SocketAddr, Weak<Mailbox>>,
    next_port: u16,
}

/// One socket's receive queue.
#[derive(Default)]
struct Mailbox {
    queue: Mutex<VecDeque<(Bytes, SocketAddr)>>,
    ready: Notify,
}

impl Mailbox {
    fn queue(&self) -> MutexGuard<'_, VecDeque<(Bytes, SocketAddr)>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryNetwork")
            .field("sockets", &self.net().sockets.len())
            .finish()
    }
}

/// Handles are equal when they are the same network.
impl PartialEq for MemoryNetwork {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for MemoryNetwork {}

impl MemoryNetwork {
    /// Datagrams one socket holds unread before it drops new ones.
    pub const QUEUE: usize = 4096;

    /// An empty network.
    pub fn new() -> MemoryNetwork {
        MemoryNetwork::default()
    }

    fn net(&self) -> MutexGuard<'_, Net> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds a socket at `addr`; port 0 picks a free port, an unspecified
    /// IP (`0.0.0.0`, `::`) becomes 127.0.0.1 (a memory network has no
    /// interfaces to listen on all of). Fails with `AddrInUse` when the
    /// address is held.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<MemorySocket> {
        let mut net = self.net();
        net.sockets.retain(|_, m| m.strong_count() > 0);
        let ip = if addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            addr.ip()
        };
        let mut local = SocketAddr::new(ip, addr.port());
        if addr.port() == 0 {
            let free = (0..=u16::MAX - FIRST_EPHEMERAL).find_map(|_| {
                let port = FIRST_EPHEMERAL + net.next_port;
                net.next_port = (net.next_port + 1) % (u16::MAX - FIRST_EPHEMERAL);
                let candidate = SocketAddr::new(ip, port);
                (!net.sockets.contains_key(&candidate)).then_some(candidate)
            });
            local = free.ok_or_else(|| io::Error::from(io::ErrorKind::AddrInUse))?;
        } else if net.sockets.contains_key(&local) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let mailbox = Arc::new(Mailbox::default());
        net.sockets.insert(local, Arc::downgrade(&mailbox));
        Ok(MemorySocket {
            network: self.clone(),
            local,
            mailbox,
        })
    }

    /// Whether a socket is bound at `addr`.
    pub fn is_bound(&self, addr: SocketAddr) -> bool {
        self.net()
            .sockets
            .get(&addr)
            .is_some_and(|m| m.strong_count() > 0)
    }

    fn deliver(&self, data: &[u8], from: SocketAddr, to: SocketAddr) {
        let mailbox = self.net().sockets.get(&to).and_then(Weak::upgrade);
        let Some(mailbox) = mailbox else {
            trace!(%from, %to, "memory datagram to an unbound address; lost");
            return;
        };
        let mut queue = mailbox.queue();
        if queue.len() >= MemoryNetwork::QUEUE {
            trace!(%from, %to, "memory socket queue full; datagram dropped");
            return;
        }
        queue.push_back((Bytes::copy_from_slice(data), from));
        drop(queue);
        mailbox.ready.notify_waiters();
    }
}

/// A datagram socket on a [`MemoryNetwork`]. Dropping it frees its
/// address.
pub struct MemorySocket {
    network: MemoryNetwork,
    local: SocketAddr,
    mailbox: Arc<Mailbox>,
}

impl fmt::Debug for MemorySocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySocket")
            .field("local", &self.local)
            .finish()
    }
}

impl MemorySocket {
    /// The address the socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends a datagram to `to` (delivered at once, or lost if nobody is
    /// bound there).
    pub fn send_to(&self, data: &[u8], to: SocketAddr) {
        self.network.deliver(data, self.local, to);
    }

    /// Waits until a datagram is queued.
    pub async fn readable(&self) {
        loop {
            let notified = self.mailbox.ready.notified();
            tokio::pin!(notified);
            // Registered before the check, so a datagram queued between
            // the check and the wait still wakes us.
            notified.as_mut().enable();
            if !self.mailbox.queue().is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// The next queued datagram and its source, if any.
    pub fn try_recv(&self) -> Option<(Bytes, SocketAddr)> {
        self.mailbox.queue().pop_front()
    }

    /// Waits for the next datagram and its source.
    pub async fn recv(&self) -> (Bytes, SocketAddr) {
        loop {
            if let Some(d) = self.try_recv() {
                return d;
            }
            self.readable().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn datagrams_reach_the_bound_address_in_order_with_their_source() {
        let net = MemoryNetwork::new();
        let a = net.bind(addr("192.0.2.1:5060")).unwrap();
        let b = net.bind(addr("192.0.2.2:0")).unwrap();
        assert_eq!(b.local_addr(), addr("192.0.2.2:49152"));
        b.send_to(b"one", a.local_addr());
        b.send_to(b"two", a.local_addr());
        assert_eq!(a.recv().await, (Bytes::from_static(b"one"), b.local_addr()));
        assert_eq!(a.recv().await, (Bytes::from_static(b"two"), b.local_addr()));
        assert!(a.try_recv().is_none());
    }

    #[tokio::test]
    async fn a_held_address_is_refused_and_freed_by_drop() {
        let net = MemoryNetwork::new();
        let a = net.bind(addr("0.0.0.0:5060")).unwrap();
        assert_eq!(a.local_addr(), addr("127.0.0.1:5060"));
        let e = net.bind(addr("127.0.0.1:5060")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        drop(a);
        assert!(!net.is_bound(addr("127.0.0.1:5060")));
        net.bind(addr("127.0.0.1:5060")).unwrap();
    }

    #[tokio::test]
    async fn unbound_destinations_lose_datagrams_and_queues_are_bounded() {
        let net = MemoryNetwork::new();
        let a = net.bind(addr("192.0.2.1:1")).unwrap();
        let b = net.bind(addr("192.0.2.2:1")).unwrap();
        a.send_to(b"nobody", addr("192.0.2.9:9"));
        for _ in 0..MemoryNetwork::QUEUE + 10 {
            a.send_to(b"x", b.local_addr());
        }
        let mut n = 0;
        while b.try_recv().is_some() {
            n += 1;
        }
        assert_eq!(n, MemoryNetwork::QUEUE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_reader_wakes_when_a_datagram_arrives() {
        let net = MemoryNetwork::new();
        let a = net.bind(addr("192.0.2.1:1")).unwrap();
        let b = net.bind(addr("192.0.2.2:1")).unwrap();
        let to = a.local_addr();
        let reader = tokio::spawn(async move { a.recv().await });
        tokio::task::yield_now().await;
        b.send_to(b"late", to);
        let (data, from) = reader.await.unwrap();
        assert_eq!((&data[..], from), (&b"late"[..], b.local_addr()));
    }
}
