//! The socket under a UDP listener: the OS's, or one on an in-memory
//! network, behind one interface for the receive loop and the senders.

use super::memory::MemorySocket;
use super::os_udp::OsUdpSocket;
use super::recv_batch::Batch;
use std::io;
use std::net::SocketAddr;

/// A UDP listener's socket: the OS's, or one on a
/// [`MemoryNetwork`](super::MemoryNetwork).
pub(crate) enum DatagramSocket {
    Os(OsUdpSocket),
    Memory(MemorySocket),
}

impl DatagramSocket {
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            DatagramSocket::Os(s) => s.local_addr(),
            DatagramSocket::Memory(s) => Ok(s.local_addr()),
        }
    }

    pub(crate) async fn readable(&self) -> io::Result<()> {
        match self {
            DatagramSocket::Os(s) => s.readable().await,
            DatagramSocket::Memory(s) => {
                s.readable().await;
                Ok(())
            }
        }
    }

    /// Reads the datagrams waiting, up to the batch's capacity, without
    /// waiting: `WouldBlock` when there are none.
    pub(crate) fn try_recv_batch(&self, batch: &mut Batch) -> io::Result<()> {
        match self {
            DatagramSocket::Os(s) => batch.try_receive(s),
            DatagramSocket::Memory(s) => batch.fill_from(|buf| {
                let (data, from) = s.try_recv()?;
                // Cut like a datagram larger than the buffer would be.
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                Some((n, from))
            }),
        }
    }

    pub(crate) async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        match self {
            DatagramSocket::Os(s) => s.send_to(data, to).await,
            DatagramSocket::Memory(s) => {
                s.send_to(data, to);
                Ok(data.len())
            }
        }
    }

    pub(crate) fn set_multicast_ttl_v4(&self, ttl: u32) {
        if let DatagramSocket::Os(s) = self {
            let _ = s.std().set_multicast_ttl_v4(ttl);
        }
    }
}
