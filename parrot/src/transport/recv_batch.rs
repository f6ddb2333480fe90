//! Receiving datagrams several at a time, with no system call wasted on
//! finding the socket empty.
//!
//! Read with `recv_from`, every wake-up of a quiet socket costs two
//! receive calls: the one that returns the datagram, and the one that
//! finds the socket empty (`EAGAIN`), which tokio needs before it waits
//! for the socket again. On Linux, `recvmmsg` asks for up to
//! [`Batch::capacity`] datagrams at once: fewer back means the socket is
//! empty, and tokio's readiness is cleared without another call (through
//! [`OsUdpSocket::try_read`], which keeps the readiness when a new
//! datagram's event came in meanwhile). Under load one call brings several
//! datagrams. Elsewhere, `recv_from`, one datagram per call.

use super::os_udp::OsUdpSocket;
use std::io;
use std::net::SocketAddr;

/// The most datagrams one read asks for.
pub(crate) const MAX_BATCH: usize = 16;

/// Datagrams read at once: their bytes, lengths and sources.
pub(crate) struct Batch {
    buffers: Vec<Box<[u8]>>,
    received: Vec<(usize, SocketAddr)>,
}

impl Batch {
    /// Room for `count` datagrams (1 to [`MAX_BATCH`]) of up to `size`
    /// bytes each; a longer one is cut to `size`, as by `recv_from`.
    pub(crate) fn new(count: usize, size: usize) -> Batch {
        let count = count.clamp(1, MAX_BATCH);
        Batch {
            // Allocated once per socket; zeroed, so that fresh pages
            // from the system need no writing.
            buffers: (0..count)
                .map(|_| vec![0u8; size].into_boxed_slice())
                .collect(),
            received: Vec::with_capacity(count),
        }
    }

    /// The datagram `i` of the last read (`i < self.len()`) and its source.
    pub(crate) fn get(&self, i: usize) -> (&[u8], SocketAddr) {
        let (len, from) = self.received[i];
        (&self.buffers[i][..len], from)
    }

    /// How many datagrams the last read gave.
    pub(crate) fn len(&self) -> usize {
        self.received.len()
    }

    /// The most datagrams one read gives.
    pub(crate) fn capacity(&self) -> usize {
        self.buffers.len()
    }

    /// Waits for the socket, then reads one datagram or more.
    pub(crate) async fn receive(&mut self, socket: &OsUdpSocket) -> io::Result<()> {
        loop {
            socket.readable().await?;
            match self.try_receive(socket) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    /// Reads what the socket holds, up to [`Batch::capacity`] datagrams,
    /// without waiting: `WouldBlock` when it holds none. Fewer datagrams
    /// than the capacity means the socket was emptied, and tokio will wait
    /// for it again.
    pub(crate) fn try_receive(&mut self, socket: &OsUdpSocket) -> io::Result<()> {
        self.received.clear();
        let read = socket.try_read(|socket| {
            self.read(socket)?;
            if self.received.len() < self.buffers.len() {
                // The socket is empty: tokio may wait for it again.
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        });
        if self.received.is_empty() {
            read
        } else {
            Ok(())
        }
    }

    /// Takes datagrams from `next` until it gives none or the batch is
    /// full: for sockets that are not the OS's. `WouldBlock` when none.
    pub(crate) fn fill_from(
        &mut self,
        mut next: impl FnMut(&mut [u8]) -> Option<(usize, SocketAddr)>,
    ) -> io::Result<()> {
        self.received.clear();
        for buffer in &mut self.buffers {
            match next(buffer) {
                Some(got) => self.received.push(got),
                None => break,
            }
        }
        if self.received.is_empty() {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(())
        }
    }

    #[cfg(target_os = "linux")]
    fn read(&mut self, socket: &std::net::UdpSocket) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let count = self.buffers.len();
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut messages: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for (i, buffer) in self.buffers.iter_mut().enumerate() {
            iov[i] = libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: buffer.len(),
            };
            let m = &mut messages[i].msg_hdr;
            m.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
            m.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            m.msg_iov = &mut iov[i];
            m.msg_iovlen = 1;
        }
        // SAFETY: `count` message headers, each naming its own address
        // buffer and one iovec over a buffer of its stated length, all
        // alive for the call; no timeout.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        for i in 0..n as usize {
            let from = socket_addr(&names[i]).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "datagram from no IP address")
            })?;
            self.received.push((messages[i].msg_len as usize, from));
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn read(&mut self, socket: &std::net::UdpSocket) -> io::Result<()> {
        let (len, from) = socket.recv_from(&mut self.buffers[0])?;
        self.received.push((len, from));
        // Never taken for "emptied" with one datagram in a batch of
        // several: tokio clears its readiness on a later WouldBlock.
        Err(io::ErrorKind::Interrupted.into())
    }
}

/// The IP address and port of a `sockaddr_storage` the kernel filled.
#[cfg(target_os = "linux")]
fn socket_addr(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match i32::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in,
            // which it is large and aligned enough for.
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_datagram_or_several_with_their_sources_then_waits() {
        let socket = OsUdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = socket.local_addr().unwrap();
        let a = OsUdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let b = OsUdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut batch = Batch::new(2, 2048);

        a.send_to(b"one", to).await.unwrap();
        batch.receive(&socket).await.unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.get(0), (&b"one"[..], a.local_addr().unwrap()));

        a.send_to(b"two", to).await.unwrap();
        b.send_to(b"three", to).await.unwrap();
        b.send_to(b"four", to).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            batch.receive(&socket).await.unwrap();
            for i in 0..batch.len() {
                let (d, from) = batch.get(i);
                got.push((d.to_vec(), from));
            }
        }
        assert_eq!(
            got,
            vec![
                (b"two".to_vec(), a.local_addr().unwrap()),
                (b"three".to_vec(), b.local_addr().unwrap()),
                (b"four".to_vec(), b.local_addr().unwrap()),
            ]
        );
        // Nothing more: a read without waiting says so, and a waiting one
        // waits (a datagram sent later wakes it).
        let empty = batch.try_receive(&socket).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        // On the paused clock: the timeout fires as soon as the runtime
        // has nothing else to do, without a real wait.
        tokio::time::pause();
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), batch.receive(&socket))
                .await;
        tokio::time::resume();
        assert!(waiting.is_err(), "no datagram was sent");
        a.send_to(b"five", to).await.unwrap();
        batch.receive(&socket).await.unwrap();
        assert_eq!(batch.get(0).0, b"five");
    }

    #[tokio::test]
    async fn a_full_batch_then_the_rest() {
        let socket = OsUdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = socket.local_addr().unwrap();
        let a = OsUdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        for i in 0..20u8 {
            a.send_to(&[i], to).await.unwrap();
        }
        let mut batch = Batch::new(MAX_BATCH, 64);
        let mut got = Vec::new();
        while got.len() < 20 {
            batch.receive(&socket).await.unwrap();
            assert!(batch.len() <= MAX_BATCH);
            got.extend((0..batch.len()).map(|i| batch.get(i).0[0]));
        }
        assert_eq!(got, (0..20).collect::<Vec<u8>>());
    }

    #[tokio::test]
    async fn ipv6_sources_and_long_datagrams_cut_to_the_buffer() {
        let Ok(socket) = OsUdpSocket::bind("[::1]:0".parse().unwrap()) else {
            return; // no IPv6 loopback here
        };
        let to = socket.local_addr().unwrap();
        let a = OsUdpSocket::bind("[::1]:0".parse().unwrap()).unwrap();
        a.send_to(&[7u8; 3000], to).await.unwrap();
        let mut batch = Batch::new(2, 2048);
        batch.receive(&socket).await.unwrap();
        let (d, from) = batch.get(0);
        assert_eq!(from, a.local_addr().unwrap());
        assert_eq!(d.len(), 2048);
    }

    #[test]
    fn filled_from_another_source_until_it_runs_dry_or_the_batch_is_full() {
        let from = SocketAddr::from(([192, 0, 2, 1], 5060));
        let mut queue: Vec<&[u8]> = vec![b"a", b"bb", b"ccc"];
        queue.reverse();
        let mut batch = Batch::new(2, 2);
        let mut next = |buf: &mut [u8]| {
            queue.pop().map(|d| {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                (n, from)
            })
        };
        batch.fill_from(&mut next).unwrap();
        assert_eq!(
            (batch.len(), batch.get(0).0, batch.get(1).0),
            (2, &b"a"[..], &b"bb"[..])
        );
        batch.fill_from(&mut next).unwrap();
        assert_eq!((batch.len(), batch.get(0).0), (1, &b"cc"[..]));
        let dry = batch.fill_from(&mut next).unwrap_err();
        assert_eq!(dry.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(batch.len(), 0);
    }
}
