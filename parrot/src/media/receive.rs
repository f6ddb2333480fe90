//! Reception statistics of one source (RFC 3550 §A.1, §A.3, §A.8):
//! sequence validation with probation, the extended highest sequence
//! number, losses overall and per report interval, and the interarrival
//! jitter — everything a report block about the source holds.
//!
//! Arrival times are passed in, in the units of the source's RTP
//! timestamps (8000 per second for G.711), and wallclock instants only
//! to time the delay since the source's last SR.

use super::rtcp::{NtpTimestamp, ReportBlock, to_delay_units};
use std::time::Instant;

/// Sequential packets needed before a source is valid (§A.1).
const MIN_SEQUENTIAL: u32 = 2;
/// The largest forward jump taken as loss rather than a restart (§A.1).
const MAX_DROPOUT: u16 = 3000;
/// The largest backward step taken as reordering rather than a restart
/// (§A.1).
const MAX_MISORDER: u16 = 100;
/// The sequence number space.
const SEQ_MOD: u32 = 1 << 16;

/// What [`SourceStats::update`] made of a packet's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SequenceCheck {
    /// In sequence, a small gap (loss), a reordered packet or a
    /// duplicate: the packet counts, and may be played.
    Valid,
    /// The source is not yet valid: fewer than two sequential packets
    /// since it appeared or restarted (§A.1's probation).
    Probation,
    /// A jump too large to be loss or reordering (§A.1): the packet is
    /// dropped; if the next one follows it, the source is taken as
    /// restarted and its statistics begin again.
    Jump,
}

/// The reception statistics of one synchronization source (the `source`
/// structure of RFC 3550 §A.1).
#[derive(Debug, Clone)]
pub struct SourceStats {
    ssrc: u32,
    /// The highest sequence number seen.
    max_seq: u16,
    /// The wrap-arounds of the sequence number, times 2^16.
    cycles: u32,
    /// The first sequence number counted.
    base_seq: u32,
    /// After a jump: the sequence number that would confirm a restart
    /// (2^16 + 1, which no packet has, when none is pending).
    bad_seq: u32,
    /// Sequential packets still needed before the source is valid.
    probation: u32,
    /// Packets counted (duplicates included, as §A.3 does).
    received: u32,
    /// `expected` at the last report.
    expected_prior: u32,
    /// `received` at the last report.
    received_prior: u32,
    /// Arrival minus timestamp of the last valid packet, for the jitter.
    transit: Option<u32>,
    /// The interarrival jitter, times 16 (§A.8's integer form).
    jitter: u64,
    /// The middle bits of the last SR's NTP timestamp, and when it came.
    last_sr: Option<(u32, Instant)>,
}

impl SourceStats {
    /// The statistics of a source first heard with sequence number
    /// `first_seq`, on probation (§A.1). Pass that first packet to
    /// [`update`](Self::update) as well.
    pub fn new(ssrc: u32, first_seq: u16) -> SourceStats {
        let mut s = SourceStats {
            ssrc,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0,
            last_sr: None,
        };
        s.init_seq(first_seq);
        s.max_seq = first_seq.wrapping_sub(1);
        s
    }

    /// The source's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Accounts for a packet: its sequence number, its RTP timestamp, and
    /// its arrival time in the same units (wrapping). The jitter counts
    /// valid packets only.
    pub fn update(&mut self, sequence: u16, timestamp: u32, arrival: u32) -> SequenceCheck {
        let check = self.update_seq(sequence);
        if check == SequenceCheck::Valid {
            self.update_jitter(timestamp, arrival);
        }
        check
    }

    /// §A.1's `update_seq`.
    fn update_seq(&mut self, seq: u16) -> SequenceCheck {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            // Sequential packets shorten the probation; any other starts
            // it over from this one.
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received = self.received.wrapping_add(1);
                    return SequenceCheck::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SequenceCheck::Probation;
        }
        if udelta < MAX_DROPOUT {
            // In order, with a permissible gap; a smaller number means
            // the 16 bits wrapped.
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump: a restart if the next packet follows
            // this one, else a stray packet.
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return SequenceCheck::Jump;
            }
        }
        // Otherwise a duplicate or a reordered packet: counted as well.
        self.received = self.received.wrapping_add(1);
        SequenceCheck::Valid
    }

    /// §A.1's `init_seq`: statistics begin again at `seq`.
    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        // The timestamps may have restarted too.
        self.transit = None;
    }

    /// §A.8: J += (|D| − J) / 16, where D is the change in transit time
    /// between this packet and the previous one.
    fn update_jitter(&mut self, timestamp: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(previous) = self.transit {
            // The difference of two wrapping values, read as signed.
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            // In sixteenths, rounded: J16 += |D| − J16/16.
            self.jitter = self.jitter + d - ((self.jitter + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Records an SR received from the source: the middle bits of its NTP
    /// timestamp become the next reports' LSR, and `received_at` the
    /// start of their DLSR.
    pub fn sender_report(&mut self, ntp: NtpTimestamp, received_at: Instant) {
        self.last_sr = Some((ntp.middle(), received_at));
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// The highest sequence number received, with the wrap-arounds in
    /// the high 16 bits (§A.3).
    pub fn extended_highest_sequence(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected since statistics began: the extended highest
    /// sequence number minus the first, plus one (§A.3).
    pub fn expected(&self) -> u32 {
        self.extended_highest_sequence()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Packets received (and counted) since statistics began.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Packets lost since statistics began: expected minus received,
    /// negative when duplicates outnumber losses, clamped to the 24 bits
    /// of a report block (§6.4.1).
    pub fn lost(&self) -> i32 {
        let lost = i64::from(self.expected()) - i64::from(self.received);
        // The clamp makes the cast lossless.
        lost.clamp(-0x80_0000, 0x7F_FFFF) as i32
    }

    /// The interarrival jitter, in timestamp units (§A.8).
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter >> 4).unwrap_or(u32::MAX)
    }

    /// The report block about this source at `now`, which also starts a
    /// new interval for the fraction lost (§A.3). `None` while the source
    /// is on probation: it is not reported on.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        if !self.is_valid() {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            // §A.3 shifts by 8 and divides; losing everything would give
            // 256, which the 8-bit field cannot hold.
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((middle, at)) => (middle, to_delay_units(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.lost(),
            highest_sequence: self.extended_highest_sequence(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests;
