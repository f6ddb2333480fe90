//! Whose RTP a call takes, and where its own goes: symmetric RTP
//! (RFC 4961), with a guard against strangers.
//!
//! A phone behind NAT describes an address in its SDP that is not the one
//! its packets come from; symmetric RTP answers to where they come from.
//! Taking the first packet's source blindly would let anyone who sends
//! first capture the call's audio. So a packet from the address the SDP
//! gave is taken at once; a packet from any other address is only a
//! candidate until that source has sent [`LATCH_PACKETS`] packets in
//! sequence from one SSRC (a stray or spoofed packet does not follow a
//! sequence). Once latched, every other source is dropped.

use std::net::SocketAddr;

/// In-sequence packets a source other than the SDP's address must send
/// before it is latched.
pub const LATCH_PACKETS: u8 = 2;

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// From the latched source: take it.
    Take,
    /// From anywhere else: drop it.
    Drop,
}

/// A candidate source: its address, its SSRC, the sequence number it
/// should send next, and how many packets it has sent in sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate {
    from: SocketAddr,
    ssrc: u32,
    next: u16,
    count: u8,
}

/// The latching state of one RTP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latch {
    expected: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    candidate: Option<Candidate>,
}

impl Latch {
    /// A session whose peer's SDP gave `expected` (`None`: no address,
    /// e.g. an RFC 2543 hold).
    pub fn new(expected: Option<SocketAddr>) -> Latch {
        Latch {
            expected,
            latched: None,
            candidate: None,
        }
    }

    /// Where to send: the latched source, else the SDP's address.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.expected)
    }

    /// Whether a source is latched.
    pub fn is_latched(&self) -> bool {
        self.latched.is_some()
    }

    /// A valid RTP packet arrived from `from` with `ssrc` and sequence
    /// number `sequence`.
    pub fn packet(&mut self, from: SocketAddr, ssrc: u32, sequence: u16) -> Verdict {
        if let Some(latched) = self.latched {
            return if latched == from {
                Verdict::Take
            } else {
                Verdict::Drop
            };
        }
        if Some(from) == self.expected {
            return self.latch(from);
        }
        match &mut self.candidate {
            Some(c) if c.from == from && c.ssrc == ssrc && c.next == sequence => {
                c.count += 1;
                c.next = sequence.wrapping_add(1);
                if c.count >= LATCH_PACKETS {
                    return self.latch(from);
                }
            }
            _ => {
                self.candidate = Some(Candidate {
                    from,
                    ssrc,
                    next: sequence.wrapping_add(1),
                    count: 1,
                });
                if LATCH_PACKETS <= 1 {
                    return self.latch(from);
                }
            }
        }
        Verdict::Drop
    }

    fn latch(&mut self, from: SocketAddr) -> Verdict {
        tracing::trace!(%from, "RTP source latched");
        self.latched = Some(from);
        self.candidate = None;
        Verdict::Take
    }

    /// The peer described a new address (a re-INVITE): latching starts
    /// over.
    pub fn reset(&mut self, expected: Option<SocketAddr>) {
        *self = Latch::new(expected);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_sdp_address_latches_at_once_and_strangers_are_dropped() {
        let mut l = Latch::new(Some(addr("192.0.2.1:4000")));
        assert_eq!(l.destination(), Some(addr("192.0.2.1:4000")));
        assert_eq!(l.packet(addr("198.51.100.9:666"), 1, 10), Verdict::Drop);
        assert_eq!(l.packet(addr("192.0.2.1:4000"), 7, 100), Verdict::Take);
        assert!(l.is_latched());
        // Even in sequence, a stranger never takes over.
        for seq in 11..20 {
            assert_eq!(l.packet(addr("198.51.100.9:666"), 1, seq), Verdict::Drop);
        }
        assert_eq!(l.destination(), Some(addr("192.0.2.1:4000")));
    }

    #[test]
    fn behind_nat_a_source_latches_after_packets_in_sequence() {
        let mut l = Latch::new(Some(addr("10.0.0.5:4000")));
        let nat = addr("203.0.113.7:31000");
        assert_eq!(l.packet(nat, 5, 65535), Verdict::Drop);
        assert_eq!(
            l.packet(nat, 5, 0),
            Verdict::Take,
            "the next in sequence, wrapping"
        );
        assert_eq!(l.destination(), Some(nat));
        assert_eq!(l.packet(addr("10.0.0.5:4000"), 5, 1), Verdict::Drop);
    }

    #[test]
    fn a_stray_packet_does_not_latch_and_a_gap_starts_over() {
        let mut l = Latch::new(None);
        let a = addr("198.51.100.1:5000");
        let b = addr("198.51.100.2:5000");
        assert_eq!(l.packet(a, 1, 10), Verdict::Drop);
        // Another source between resets the candidate.
        assert_eq!(l.packet(b, 2, 50), Verdict::Drop);
        assert_eq!(l.packet(a, 1, 11), Verdict::Drop);
        // Out of sequence, or another SSRC: not yet.
        assert_eq!(l.packet(a, 1, 13), Verdict::Drop);
        assert_eq!(l.packet(a, 9, 14), Verdict::Drop);
        assert_eq!(l.packet(a, 9, 15), Verdict::Take);
        assert_eq!(l.destination(), Some(a));
        l.reset(Some(b));
        assert!(!l.is_latched());
        assert_eq!(l.packet(b, 3, 1), Verdict::Take);
    }
}
