//! An OS UDP socket registered with the runtime for reading only.
//!
//! tokio's own `UdpSocket` registers for reading and writing,
//! edge-triggered. On Linux each datagram sent raises a write-space event
//! when the kernel frees it (at once on loopback, after transmission on a
//! NIC), and with write interest registered every such event wakes the
//! runtime's poll: one more `epoll_wait` after each burst of sends, and a
//! wake-up from sleep when it comes after the task went idle, for
//! readiness no task waits for. A UDP send almost never finds the send
//! buffer full; when it does, writability is awaited on a duplicate of the
//! descriptor registered for writing, for that wait only.

use std::io;
use std::net::SocketAddr;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A nonblocking UDP socket whose reads wait on the runtime and whose
/// sends are made at once (see the module's documentation).
#[derive(Debug)]
pub(crate) struct OsUdpSocket {
    io: AsyncFd<std::net::UdpSocket>,
}

impl OsUdpSocket {
    /// Binds a socket at `addr`. Must be called within a tokio runtime.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<OsUdpSocket> {
        OsUdpSocket::from_std(std::net::UdpSocket::bind(addr)?)
    }

    /// Takes `socket` (made nonblocking) onto the current runtime.
    pub(crate) fn from_std(socket: std::net::UdpSocket) -> io::Result<OsUdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(OsUdpSocket {
            io: register(socket, Interest::READABLE)?,
        })
    }

    /// The socket itself, for its options and plain calls.
    pub(crate) fn std(&self) -> &std::net::UdpSocket {
        self.io.get_ref()
    }

    /// The local address the socket is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// Waits until the runtime says the socket may have a datagram.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        // Dropping the guard keeps the readiness: `try_read` clears it
        // when a read finds the socket empty.
        self.io.readable().await.map(drop)
    }

    /// Runs `read` (a nonblocking receive) if the socket is marked
    /// readable; its `WouldBlock` clears the mark, so that the next
    /// [`OsUdpSocket::readable`] waits for a new datagram.
    pub(crate) fn try_read<R>(
        &self,
        read: impl FnOnce(&std::net::UdpSocket) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_io(Interest::READABLE, read)
    }

    /// Receives one datagram without waiting: `WouldBlock` when none.
    pub(crate) fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.try_read(|s| s.recv_from(buf))
    }

    /// Waits for a datagram and receives it.
    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            self.readable().await?;
            match self.try_recv_from(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    /// Sends one datagram to `to`: at once, or once the send buffer has
    /// room.
    pub(crate) async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        loop {
            match self.std().send_to(data, to) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.send_when_writable(data, to).await;
                }
                other => return other,
            }
        }
    }

    /// The rare send that found the buffer full: waits for room on a
    /// duplicate descriptor registered for writing (the socket's own
    /// registration has no write interest), dropped after the send.
    async fn send_when_writable(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        let writer = register(self.std().try_clone()?, Interest::WRITABLE)?;
        loop {
            let mut ready = writer.writable().await?;
            match ready.try_io(|s| s.get_ref().send_to(data, to)) {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(result) => return result,
                // Found full again: readiness cleared, wait anew.
                Err(_would_block) => continue,
            }
        }
    }
}

/// Registers `socket` with the current runtime for `interest`.
fn register(
    socket: std::net::UdpSocket,
    interest: Interest,
) -> io::Result<AsyncFd<std::net::UdpSocket>> {
    // SAFETY: a `std::net::UdpSocket` owns its descriptor: it stays open
    // and `as_raw_fd` returns the same one until the socket is dropped,
    // which happens only with the `AsyncFd` that owns it.
    unsafe { AsyncFd::register_with_interest(socket, interest) }.map_err(|e| e.into_parts().1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn loopback() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[tokio::test]
    async fn sends_and_receives_and_waits_for_the_next_datagram() {
        let a = OsUdpSocket::bind(loopback()).unwrap();
        let b = OsUdpSocket::bind(loopback()).unwrap();
        let to = b.local_addr().unwrap();
        assert_eq!(a.send_to(b"one", to).await.unwrap(), 3);
        let mut buf = [0u8; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"one"[..], a.local_addr().unwrap()));
        // Empty now: a read without waiting says so, and a waiting one
        // is woken by the next datagram.
        let empty = b.try_recv_from(&mut buf).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        let waiting = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        tokio::task::yield_now().await;
        a.send_to(b"two", to).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the waiting receive was woken")
            .unwrap();
        assert_eq!(got, b"two");
    }

    /// The path of a send that found the buffer full: a duplicate of the
    /// descriptor is registered for writing next to the socket's own
    /// registration (which a receive is waiting on meanwhile), the send
    /// goes out through it, and both sockets keep working after it is
    /// dropped. (Loopback frees a datagram as it is sent, so a real full
    /// buffer cannot be made here.)
    #[tokio::test]
    async fn the_full_buffer_path_sends_through_a_registered_duplicate() {
        let a = std::sync::Arc::new(OsUdpSocket::bind(loopback()).unwrap());
        let b = OsUdpSocket::bind(loopback()).unwrap();
        let to = b.local_addr().unwrap();
        let reader = a.clone();
        let waiting = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let (n, _) = reader.recv_from(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        tokio::task::yield_now().await;
        for _ in 0..2 {
            assert_eq!(a.send_when_writable(b"via dup", to).await.unwrap(), 7);
            let mut buf = [0u8; 16];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                (&buf[..n], from),
                (&b"via dup"[..], a.local_addr().unwrap())
            );
        }
        // The socket's own registration still wakes its reader.
        b.send_to(b"back", a.local_addr().unwrap()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the reader was woken")
            .unwrap();
        assert_eq!(got, b"back");
    }
}
