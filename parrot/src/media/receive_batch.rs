//! Receiving a media port's datagrams with one system call each.
//!
//! A call's port gets one packet per 20 ms. Read with `recv_from`, every
//! packet costs two receive calls: the one that returns it, and the one
//! that finds the socket empty (`EAGAIN`), which tokio needs before it
//! waits for the socket again. On Linux, `recvmmsg` asking for two
//! datagrams tells both at once: one datagram back means the socket is
//! empty, and tokio's readiness is cleared without a second call (through
//! `try_io`, which keeps the readiness when a new datagram's event came
//! in meanwhile). Elsewhere, `recv_from`.

use std::io;
use std::net::SocketAddr;
use tokio::net::UdpSocket;

/// The largest datagram taken whole (longer ones are cut, as by
/// `recv_from`).
pub(crate) const DATAGRAM_MAX: usize = 2048;

/// Up to two datagrams read at once: their lengths and sources, in
/// `Batch::buffers`.
pub(crate) struct Batch {
    buffers: [Box<[u8; DATAGRAM_MAX]>; 2],
    received: [(usize, SocketAddr); 2],
    count: usize,
}

impl Batch {
    pub(crate) fn new() -> Batch {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Batch {
            buffers: [Box::new([0; DATAGRAM_MAX]), Box::new([0; DATAGRAM_MAX])],
            received: [(0, unspecified); 2],
            count: 0,
        }
    }

    /// The datagram `i` of the last read (`i < self.len()`) and its source.
    pub(crate) fn get(&self, i: usize) -> (&[u8], SocketAddr) {
        let (len, from) = self.received[i];
        (&self.buffers[i][..len], from)
    }

    /// How many datagrams the last read gave (1 or 2).
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Waits for the socket, then reads one or two datagrams.
    pub(crate) async fn receive(&mut self, socket: &UdpSocket) -> io::Result<()> {
        loop {
            socket.readable().await?;
            self.count = 0;
            let read = socket.try_io(tokio::io::Interest::READABLE, || {
                self.read(socket)?;
                if self.count < 2 {
                    // The socket is empty: tokio may wait for it again.
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            if self.count > 0 {
                return Ok(());
            }
            match read {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn read(&mut self, socket: &UdpSocket) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut names: [libc::sockaddr_storage; 2] = unsafe { std::mem::zeroed() };
        let [first, second] = &mut self.buffers;
        let mut iov = [
            libc::iovec {
                iov_base: first.as_mut_ptr().cast(),
                iov_len: DATAGRAM_MAX,
            },
            libc::iovec {
                iov_base: second.as_mut_ptr().cast(),
                iov_len: DATAGRAM_MAX,
            },
        ];
        // SAFETY: as above.
        let mut messages: [libc::mmsghdr; 2] = unsafe { std::mem::zeroed() };
        for (i, m) in messages.iter_mut().enumerate() {
            m.msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            m.msg_hdr.msg_iov = &mut iov[i];
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: two message headers, each naming its own address buffer
        // and one iovec over a buffer of DATAGRAM_MAX bytes, all alive
        // for the call; no timeout.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                2,
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
            self.received[i] = (messages[i].msg_len as usize, from);
        }
        self.count = n as usize;
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn read(&mut self, socket: &UdpSocket) -> io::Result<()> {
        // One datagram per call; the next call finds the socket empty.
        let (len, from) = socket.try_recv_from(&mut self.buffers[0][..])?;
        self.received[0] = (len, from);
        self.count = 1;
        // Never "drained": tokio clears its readiness on the next call's
        // WouldBlock.
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
    async fn one_or_two_datagrams_with_their_sources_then_waits() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = socket.local_addr().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut batch = Batch::new();

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
        // Nothing more: the read waits (and a datagram sent later wakes it).
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), batch.receive(&socket))
                .await;
        assert!(waiting.is_err(), "no datagram was sent");
        a.send_to(b"five", to).await.unwrap();
        batch.receive(&socket).await.unwrap();
        assert_eq!(batch.get(0).0, b"five");
    }

    #[tokio::test]
    async fn ipv6_sources_and_long_datagrams_cut_to_the_buffer() {
        let Ok(socket) = UdpSocket::bind("[::1]:0").await else {
            return; // no IPv6 loopback here
        };
        let to = socket.local_addr().unwrap();
        let a = UdpSocket::bind("[::1]:0").await.unwrap();
        a.send_to(&[7u8; 3000], to).await.unwrap();
        let mut batch = Batch::new();
        batch.receive(&socket).await.unwrap();
        let (d, from) = batch.get(0);
        assert_eq!(from, a.local_addr().unwrap());
        assert_eq!(d.len(), DATAGRAM_MAX);
    }
}
