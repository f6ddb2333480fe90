//! RTP/RTCP port pairs from a configured range: an even port for RTP and
//! the next one for RTCP (RFC 3550 §11), bound together.
//!
//! Which ports are free is the kernel's to say: a pair is taken by binding
//! both sockets (without `SO_REUSEADDR`), and given back when they close.
//! A rotating cursor spreads the allocations over the range, so that a
//! port just released is not handed out again at once (late packets of
//! the last call would reach the next one). When every pair of the range
//! is busy, allocation fails with [`MediaError::PortsExhausted`]: the call
//! is then refused (`503`) rather than answered with media that cannot
//! flow.

use super::MediaError;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU32, Ordering};

/// The default RTP port range: the even ports from 16384 (RTP's
/// customary floor) to 32766, with their RTCP ports.
pub const DEFAULT_PORTS: RangeInclusive<u16> = 16384..=32767;

/// Hands out RTP/RTCP socket pairs on one address.
#[derive(Debug)]
pub struct PortAllocator {
    ip: IpAddr,
    /// The first (even) RTP port.
    first: u16,
    /// How many pairs the range holds.
    pairs: u32,
    cursor: AtomicU32,
}

impl PortAllocator {
    /// An allocator for the pairs in `ports` on `ip` (an odd first port is
    /// skipped, so is an even last port without its RTCP partner).
    /// Fails when the range holds no pair.
    pub fn new(ip: IpAddr, ports: RangeInclusive<u16>) -> Result<PortAllocator, MediaError> {
        // Even ports p with p + 1 in range; port 0 means "any" to the
        // kernel, so the first pair is at 2 at the lowest.
        let first = (u32::from(*ports.start()) + u32::from(ports.start() & 1)).max(2);
        let last = u32::from(*ports.end());
        let pairs = if last < first {
            0
        } else {
            (last - first).div_ceil(2)
        };
        if pairs == 0 {
            return Err(MediaError::EmptyPortRange);
        }
        // Start somewhere in the range: two servers sharing a range, or a
        // restart, do not all begin at its first port.
        let start = (crate::random::u64() % u64::from(pairs)) as u32;
        Ok(PortAllocator {
            ip,
            // At most 65534 when there is a pair.
            first: first as u16,
            pairs,
            cursor: AtomicU32::new(start),
        })
    }

    /// The address the sockets are bound to.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> u32 {
        self.pairs
    }

    /// Binds the next free pair: (RTP socket, RTCP socket), non-blocking.
    /// Tries each pair of the range at most once.
    pub fn bind_pair(&self) -> Result<(UdpSocket, UdpSocket), MediaError> {
        for _ in 0..self.pairs {
            let n = self.cursor.fetch_add(1, Ordering::Relaxed) % self.pairs;
            let rtp_port = self.first + (n * 2) as u16;
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.ip, rtp_port)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.ip, rtp_port + 1)) else {
                continue;
            };
            rtp.set_nonblocking(true).map_err(MediaError::Io)?;
            rtcp.set_nonblocking(true).map_err(MediaError::Io)?;
            return Ok((rtp, rtcp));
        }
        Err(MediaError::PortsExhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn ranges_count_whole_pairs() {
        let count = |r| PortAllocator::new(LOCAL, r).map(|a| a.capacity());
        assert_eq!(count(40000..=40001), Ok(1));
        assert_eq!(count(40000..=40003), Ok(2));
        assert_eq!(
            count(40001..=40004),
            Ok(1),
            "odd start and even end skipped"
        );
        assert_eq!(count(40000..=40002), Ok(1));
        assert!(matches!(
            count(40001..=40002),
            Err(MediaError::EmptyPortRange)
        ));
        assert!(matches!(count(0..=1), Err(MediaError::EmptyPortRange)));
        assert!(matches!(
            count(65535..=65535),
            Err(MediaError::EmptyPortRange)
        ));
        assert_eq!(count(65534..=65535), Ok(1));
        assert_eq!(count(DEFAULT_PORTS), Ok(8192));
    }

    /// A range of `pairs` pairs that is free right now on loopback.
    fn free_range(pairs: u16) -> RangeInclusive<u16> {
        for _ in 0..50 {
            let probe = UdpSocket::bind((LOCAL, 0)).unwrap();
            let base = probe.local_addr().unwrap().port() & !1;
            drop(probe);
            let Some(end) = base.checked_add(2 * pairs - 1) else {
                continue;
            };
            let held: Vec<_> = (base..=end)
                .map_while(|p| UdpSocket::bind((LOCAL, p)).ok())
                .collect();
            if held.len() == usize::from(2 * pairs) {
                return base..=end;
            }
        }
        panic!("no free port range on loopback");
    }

    #[test]
    fn pairs_are_even_and_adjacent_and_run_out_then_come_back() {
        let range = free_range(2);
        let alloc = PortAllocator::new(LOCAL, range.clone()).unwrap();
        let (a_rtp, a_rtcp) = alloc.bind_pair().unwrap();
        let (b_rtp, b_rtcp) = alloc.bind_pair().unwrap();
        for (rtp, rtcp) in [(&a_rtp, &a_rtcp), (&b_rtp, &b_rtcp)] {
            let p = rtp.local_addr().unwrap().port();
            assert_eq!(p % 2, 0);
            assert!(range.contains(&p));
            assert_eq!(rtcp.local_addr().unwrap().port(), p + 1);
        }
        assert_ne!(
            a_rtp.local_addr().unwrap().port(),
            b_rtp.local_addr().unwrap().port()
        );
        assert!(matches!(alloc.bind_pair(), Err(MediaError::PortsExhausted)));
        let freed = a_rtp.local_addr().unwrap().port();
        drop((a_rtp, a_rtcp));
        let (c_rtp, _c_rtcp) = alloc.bind_pair().unwrap();
        assert_eq!(c_rtp.local_addr().unwrap().port(), freed);
    }

    #[test]
    fn a_pair_whose_rtcp_port_is_taken_is_skipped() {
        let range = free_range(2);
        let first = *range.start();
        let _squatter = UdpSocket::bind((LOCAL, first + 1)).unwrap();
        let alloc = PortAllocator::new(LOCAL, range).unwrap();
        let (rtp, _rtcp) = alloc.bind_pair().unwrap();
        assert_eq!(rtp.local_addr().unwrap().port(), first + 2);
        assert!(matches!(alloc.bind_pair(), Err(MediaError::PortsExhausted)));
    }
}
