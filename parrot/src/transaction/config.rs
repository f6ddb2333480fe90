//! Transaction timers (RFC 3261 §17, Table 4 of Appendix A; RFC 6026 §8.4,
//! §8.7 for Timers L and M).
//!
//! [`TimerConfig`] holds the three base values T1, T2 and T4; every other
//! timer is derived from them. Whether the transport is reliable is a
//! per-transaction flag: on reliable transports the retransmission timers
//! (A, E, G) are never started and the "wait for retransmissions" timers
//! (D, I, J, K) are zero (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).

use std::time::{Duration, Instant};

/// The base timer values of RFC 3261 §17 (Table 4 of Appendix A).
///
/// Every transaction keeps a compact copy of these values (three `u32`
/// millisecond counts), so values are rounded down to whole milliseconds
/// and clamped to at least 1 ms and at most `u32::MAX` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerConfig {
    /// T1: the round-trip time estimate (default 500 ms).
    pub t1: Duration,
    /// T2: the maximum retransmission interval for non-INVITE requests and
    /// INVITE responses (default 4 s).
    pub t2: Duration,
    /// T4: the maximum time a message remains in the network (default 5 s).
    pub t4: Duration,
}

impl TimerConfig {
    /// The values RFC 3261 recommends: T1 = 500 ms, T2 = 4 s, T4 = 5 s.
    pub const RFC3261: TimerConfig = TimerConfig {
        t1: Duration::from_millis(500),
        t2: Duration::from_secs(4),
        t4: Duration::from_secs(5),
    };

    /// Timer A: the initial INVITE retransmission interval, T1; it doubles
    /// after every retransmission, without a cap (§17.1.1.2). Not used on
    /// reliable transports.
    pub fn timer_a(&self) -> Duration {
        self.t1
    }

    /// Timer B: the INVITE transaction timeout, 64·T1 (§17.1.1.2).
    pub fn timer_b(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: the wait for response retransmissions in the INVITE
    /// client's Completed state: "at least 32 seconds" on unreliable
    /// transports (we use 32 s, or 64·T1 if that is larger, so it always
    /// covers the server's Timer H window), zero on reliable ones
    /// (§17.1.1.2).
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.timer_b())
        }
    }

    /// Timer E: the initial non-INVITE retransmission interval, T1; it
    /// doubles up to T2 (§17.1.2.2). Not used on reliable transports.
    pub fn timer_e(&self) -> Duration {
        self.t1
    }

    /// Timer F: the non-INVITE transaction timeout, 64·T1 (§17.1.2.2).
    pub fn timer_f(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer G: the initial interval of INVITE final-response
    /// retransmissions, T1; it doubles up to T2 (§17.2.1). Not used on
    /// reliable transports.
    pub fn timer_g(&self) -> Duration {
        self.t1
    }

    /// Timer H: the wait for the ACK, 64·T1 (§17.2.1).
    pub fn timer_h(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer I: the wait for ACK retransmissions, T4 on unreliable
    /// transports, zero on reliable ones (§17.2.1).
    pub fn timer_i(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: the wait for non-INVITE request retransmissions, 64·T1 on
    /// unreliable transports, zero on reliable ones (§17.2.2).
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1.saturating_mul(64)
        }
    }

    /// Timer K: the wait for non-INVITE response retransmissions, T4 on
    /// unreliable transports, zero on reliable ones (§17.1.2.2).
    pub fn timer_k(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer L: how long an INVITE server transaction stays in the
    /// Accepted state absorbing INVITE retransmissions, 64·T1 (RFC 6026
    /// §8.7).
    pub fn timer_l(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer M: how long an INVITE client transaction stays in the
    /// Accepted state passing 2xx retransmissions to the TU, 64·T1 (RFC
    /// 6026 §8.4).
    pub fn timer_m(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig::RFC3261
    }
}

/// How long an INVITE server transaction waits for the TU's first response
/// before sending `100 Trying` itself (RFC 3261 §17.2.1: "200 ms").
pub const TRYING_DELAY: Duration = Duration::from_millis(200);

/// The per-transaction copy of the timer configuration: T1, T2 and T4 in
/// milliseconds plus the transport flag (16 bytes instead of 49).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    t1: u32,
    t2: u32,
    t4: u32,
    reliable: bool,
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

impl Timing {
    /// The compact form of `config` for a transaction over a reliable or
    /// unreliable transport.
    pub(crate) fn new(config: &TimerConfig, reliable: bool) -> Timing {
        Timing {
            t1: millis(config.t1),
            t2: millis(config.t2),
            t4: millis(config.t4),
            reliable,
        }
    }

    /// Whether the transport is reliable.
    pub(crate) fn reliable(&self) -> bool {
        self.reliable
    }

    /// T1 in milliseconds.
    pub(crate) fn t1(&self) -> u32 {
        self.t1
    }

    /// T2 in milliseconds.
    pub(crate) fn t2(&self) -> u32 {
        self.t2
    }

    /// 64·T1 in milliseconds (Timers B, F, H, L, M and the unreliable J).
    pub(crate) fn t1x64(&self) -> u64 {
        u64::from(self.t1) * 64
    }

    /// Timer D in milliseconds (see [`TimerConfig::timer_d`]).
    pub(crate) fn timer_d(&self) -> u64 {
        if self.reliable {
            0
        } else {
            self.t1x64().max(32_000)
        }
    }

    /// Timers I and K in milliseconds: T4, or zero on reliable transports.
    pub(crate) fn t4_or_zero(&self) -> u64 {
        if self.reliable { 0 } else { u64::from(self.t4) }
    }

    /// Timer J in milliseconds: 64·T1, or zero on reliable transports.
    pub(crate) fn timer_j(&self) -> u64 {
        if self.reliable { 0 } else { self.t1x64() }
    }
}

/// `now + ms`, or `None` (never) if that is not representable.
pub(crate) fn after(now: Instant, ms: u64) -> Option<Instant> {
    now.checked_add(Duration::from_millis(ms))
}

/// The next retransmission deadline: `fired + interval`, or `now +
/// interval` if the caller was so late that the former has already passed
/// (a late caller gets one retransmission, not a burst).
pub(crate) fn next_retransmit(fired: Instant, now: Instant, interval_ms: u32) -> Option<Instant> {
    let next = after(fired, u64::from(interval_ms))?;
    if next > now {
        Some(next)
    } else {
        after(now, u64::from(interval_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_defaults_and_derived_timers() {
        let c = TimerConfig::default();
        assert_eq!(c, TimerConfig::RFC3261);
        assert_eq!(c.t1, Duration::from_millis(500));
        assert_eq!(c.t2, Duration::from_secs(4));
        assert_eq!(c.t4, Duration::from_secs(5));
        assert_eq!(c.timer_a(), Duration::from_millis(500));
        assert_eq!(c.timer_b(), Duration::from_secs(32));
        assert_eq!(c.timer_d(false), Duration::from_secs(32));
        assert_eq!(c.timer_d(true), Duration::ZERO);
        assert_eq!(c.timer_e(), Duration::from_millis(500));
        assert_eq!(c.timer_f(), Duration::from_secs(32));
        assert_eq!(c.timer_g(), Duration::from_millis(500));
        assert_eq!(c.timer_h(), Duration::from_secs(32));
        assert_eq!(c.timer_i(false), Duration::from_secs(5));
        assert_eq!(c.timer_i(true), Duration::ZERO);
        assert_eq!(c.timer_j(false), Duration::from_secs(32));
        assert_eq!(c.timer_j(true), Duration::ZERO);
        assert_eq!(c.timer_k(false), Duration::from_secs(5));
        assert_eq!(c.timer_k(true), Duration::ZERO);
        assert_eq!(c.timer_l(), Duration::from_secs(32));
        assert_eq!(c.timer_m(), Duration::from_secs(32));
    }

    #[test]
    fn compact_timing_matches_config() {
        let c = TimerConfig::default();
        let u = Timing::new(&c, false);
        assert_eq!(u.t1(), 500);
        assert_eq!(u.t2(), 4000);
        assert_eq!(u.t1x64(), 32_000);
        assert_eq!(u.timer_d(), 32_000);
        assert_eq!(u.t4_or_zero(), 5000);
        assert_eq!(u.timer_j(), 32_000);
        let r = Timing::new(&c, true);
        assert!(r.reliable());
        assert_eq!((r.timer_d(), r.t4_or_zero(), r.timer_j()), (0, 0, 0));
        // Timer D covers 64·T1 when T1 is raised.
        let slow = TimerConfig {
            t1: Duration::from_secs(1),
            ..c
        };
        assert_eq!(slow.timer_d(false), Duration::from_secs(64));
        assert_eq!(Timing::new(&slow, false).timer_d(), 64_000);
    }

    #[test]
    fn degenerate_values_are_clamped() {
        let zero = TimerConfig {
            t1: Duration::ZERO,
            t2: Duration::ZERO,
            t4: Duration::ZERO,
        };
        let t = Timing::new(&zero, false);
        assert_eq!((t.t1(), t.t2()), (1, 1));
        let huge = TimerConfig {
            t1: Duration::MAX,
            t2: Duration::MAX,
            t4: Duration::MAX,
        };
        let t = Timing::new(&huge, false);
        assert_eq!(t.t1(), u32::MAX);
        assert_eq!(huge.timer_b(), Duration::MAX);
        let now = Instant::now();
        // Far-future deadlines never panic (they are "never" if the clock
        // cannot represent them).
        let _ = after(now, u64::MAX);
        assert!(next_retransmit(now, now, u32::MAX).is_some_and(|t| t > now));
    }

    #[test]
    fn late_retransmissions_do_not_burst() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_retransmit(t0, t0, 500), Some(t0 + ms(500)));
        // Fired at t0 but handled at t0 + 2 s: next is 500 ms from now.
        assert_eq!(next_retransmit(t0, t0 + ms(2000), 500), Some(t0 + ms(2500)));
    }
}
