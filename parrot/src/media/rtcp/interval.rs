//! The RTCP transmission interval (RFC 3550 §6.3.1, §A.7): how long to
//! wait before the next report, from the session's size and bandwidth.
//! The random draw is passed in, so a test can fix it.

use std::time::Duration;

/// The minimum interval (§6.2), halved before the first report (§6.2:
/// "the delay before sending the first compound RTCP packet MAY be set
/// to half the minimum interval").
const MIN_INTERVAL: f64 = 5.0;
/// The share of the RTCP bandwidth for senders when they are at most a
/// quarter of the members (§6.2).
const SENDER_FRACTION: f64 = 0.25;
/// e − 3/2: divides the randomized interval to compensate for timer
/// reconsideration's bias towards short intervals (§6.3.1).
const COMPENSATION: f64 = std::f64::consts::E - 1.5;
/// An upper bound on the interval, whatever the inputs, so that a
/// nonsensical bandwidth cannot stop reports for good.
const MAX_INTERVAL: f64 = 3600.0;

/// The state the interval is computed from (the variables of §6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtcpInterval {
    /// The session members, ourselves included.
    pub members: u32,
    /// The members that sent RTP since the last report but one,
    /// ourselves included if we did.
    pub senders: u32,
    /// The bandwidth RTCP may use, in octets per second: 5 % of the
    /// session bandwidth (§6.2) — 500 for a G.711 call of 80 kbit/s.
    pub rtcp_bandwidth: f64,
    /// Whether we sent RTP since the last report but one.
    pub we_sent: bool,
    /// The average size of the compound RTCP packets sent and received,
    /// in octets, lower-layer headers included (see
    /// [`average_packet_size`]).
    pub avg_rtcp_size: f64,
    /// Whether no report was sent yet (the minimum is then halved).
    pub initial: bool,
}

impl RtcpInterval {
    /// The interval before the next report, given `random`, a uniform
    /// draw in [0, 1): the deterministic interval of §6.3.1 (at least
    /// 5 s, or 2.5 s before the first report) times `random + 0.5`,
    /// divided by e − 3/2, as in §A.7. A `random` outside [0, 1] is
    /// clamped; invalid sizes or bandwidths fall back to the minimum.
    pub fn interval(&self, random: f64) -> Duration {
        let min = if self.initial {
            MIN_INTERVAL / 2.0
        } else {
            MIN_INTERVAL
        };
        let mut bandwidth = self.rtcp_bandwidth;
        let mut n = f64::from(self.members.max(1));
        // When senders are few, they share a quarter of the bandwidth and
        // receivers the rest, each group over its own members (§6.3.1).
        if f64::from(self.senders) <= f64::from(self.members) * SENDER_FRACTION {
            if self.we_sent {
                bandwidth *= SENDER_FRACTION;
                n = f64::from(self.senders.max(1));
            } else {
                bandwidth *= 1.0 - SENDER_FRACTION;
                n = f64::from(self.members.saturating_sub(self.senders).max(1));
            }
        }
        let mut t = self.avg_rtcp_size * n / bandwidth;
        // NaN too: a zero or invalid bandwidth or size.
        if t.is_nan() || t < min {
            t = min;
        }
        let random = if random.is_nan() {
            0.5
        } else {
            random.clamp(0.0, 1.0)
        };
        t = (t * (random + 0.5) / COMPENSATION).min(MAX_INTERVAL);
        Duration::try_from_secs_f64(t).unwrap_or(Duration::from_secs(MIN_INTERVAL as u64))
    }
}

/// The running average RTCP packet size after one more packet sent or
/// received (§6.3.3: avg = size/16 + avg·15/16). `packet_size` counts
/// the UDP and IP headers too (28 octets over IPv4, 48 over IPv6).
pub fn average_packet_size(avg: f64, packet_size: usize) -> f64 {
    // A datagram is at most 65 535 octets: exact in an f64.
    packet_size as f64 / 16.0 + avg * 15.0 / 16.0
}
