//! How a scripted peer reaches the server: a socket on the kit's
//! in-memory network, or a real UDP socket or TCP connection to a server
//! running elsewhere. One interface, so that one script runs over all
//! three.

use crate::message::{Frame, Limits, StreamDecoder};
use crate::transport::{MemorySocket, Protocol};
use bytes::Bytes;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Mutex;

/// A peer's way to the network.
pub(crate) enum Link {
    Memory(MemorySocket),
    Udp(UdpSocket),
    Tcp(TcpLink),
}

pub(crate) struct TcpLink {
    remote: SocketAddr,
    local: SocketAddr,
    reader: Mutex<(OwnedReadHalf, StreamDecoder)>,
    writer: Mutex<OwnedWriteHalf>,
}

impl Link {
    /// A UDP socket on the loopback (or unspecified) address of the
    /// server's family.
    pub(crate) async fn udp(server: SocketAddr) -> io::Result<Link> {
        let ip = if server.ip().is_loopback() {
            server.ip()
        } else if server.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        Ok(Link::Udp(UdpSocket::bind(SocketAddr::new(ip, 0)).await?))
    }

    /// A TCP connection to the server.
    pub(crate) async fn tcp(server: SocketAddr) -> io::Result<Link> {
        let stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let (read, write) = stream.into_split();
        Ok(Link::Tcp(TcpLink {
            remote: server,
            local,
            reader: Mutex::new((read, StreamDecoder::new(Limits::default()))),
            writer: Mutex::new(write),
        }))
    }

    pub(crate) fn protocol(&self) -> Protocol {
        match self {
            Link::Memory(_) | Link::Udp(_) => Protocol::Udp,
            Link::Tcp(_) => Protocol::Tcp,
        }
    }

    /// The address the peer sends from, as the server sees it (a
    /// wildcard-bound UDP socket reports the loopback address).
    pub(crate) fn local(&self) -> SocketAddr {
        match self {
            Link::Memory(s) => s.local_addr(),
            Link::Udp(s) => {
                let mut a = s
                    .local_addr()
                    .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
                if a.ip().is_unspecified() {
                    a.set_ip(match a.ip() {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    });
                }
                a
            }
            Link::Tcp(t) => t.local,
        }
    }

    /// Sends a message to `to` (over TCP: on the connection, whatever
    /// `to` says).
    pub(crate) async fn send(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        match self {
            Link::Memory(s) => {
                s.send_to(data, to);
                Ok(())
            }
            Link::Udp(s) => s.send_to(data, to).await.map(|_| ()),
            Link::Tcp(t) => t.writer.lock().await.write_all(data).await,
        }
    }

    /// The next message's bytes and where it came from.
    pub(crate) async fn recv(&self) -> io::Result<(Bytes, SocketAddr)> {
        match self {
            Link::Memory(s) => Ok(s.recv().await),
            Link::Udp(s) => {
                let mut buf = vec![0u8; 65_535];
                let (n, from) = s.recv_from(&mut buf).await?;
                buf.truncate(n);
                Ok((Bytes::from(buf), from))
            }
            Link::Tcp(t) => t.recv().await,
        }
    }
}

impl TcpLink {
    async fn recv(&self) -> io::Result<(Bytes, SocketAddr)> {
        let mut guard = self.reader.lock().await;
        let (read, decoder) = &mut *guard;
        loop {
            let mut raw = None;
            let frame = decoder
                .decode_inspecting(|b| raw = Some(Bytes::copy_from_slice(b)))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            match (frame, raw) {
                (Some(Frame::Message(_) | Frame::Malformed { .. }), Some(raw)) => {
                    return Ok((raw, self.remote));
                }
                (Some(_), _) => continue,
                (None, _) => {}
            }
            if read.read_buf(decoder.buffer_mut()).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}
