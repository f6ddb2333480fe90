//! NTP timestamps (RFC 3550 §4) and the round-trip time they give
//! (§6.4.1). The wallclock is passed in; nothing here reads a clock.

use std::time::{Duration, SystemTime};

/// Seconds from 1 January 1900 (the NTP epoch) to 1 January 1970.
const UNIX_EPOCH_IN_NTP: u64 = 2_208_988_800;
/// Units of 1/65536 s per second: LSR, DLSR and round trips.
const DELAY_UNITS: u64 = 1 << 16;

/// An NTP timestamp (RFC 3550 §4): seconds since 1 January 1900 in the
/// high 32 bits, the fraction of a second in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTimestamp(pub u64);

impl NtpTimestamp {
    /// The NTP timestamp of a time given as the duration since the Unix
    /// epoch. The seconds wrap in 2036 (NTP era 1), as on the wire.
    pub fn from_unix(since_epoch: Duration) -> NtpTimestamp {
        let seconds = since_epoch.as_secs().wrapping_add(UNIX_EPOCH_IN_NTP) & 0xFFFF_FFFF;
        let fraction = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTimestamp(seconds << 32 | fraction)
    }

    /// The NTP timestamp of a wallclock time (one before 1970 counts as
    /// 1970).
    pub fn from_system_time(time: SystemTime) -> NtpTimestamp {
        let since_epoch = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        NtpTimestamp::from_unix(since_epoch)
    }

    /// The duration since the Unix epoch, reading timestamps whose
    /// seconds have the top bit clear as NTP era 1 (2036–2104), as RFC
    /// 4330 §3 suggests; a time before 1970 gives zero.
    pub fn to_unix(self) -> Duration {
        let mut seconds = u64::from(self.seconds());
        if seconds < 0x8000_0000 {
            seconds += 1 << 32;
        }
        let nanos = (u64::from(self.fraction()) * 1_000_000_000) >> 32;
        match seconds.checked_sub(UNIX_EPOCH_IN_NTP) {
            // nanos < 10^9: the cast keeps every bit.
            Some(s) => Duration::new(s, nanos as u32),
            None => Duration::ZERO,
        }
    }

    /// The whole seconds.
    pub fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction of a second, in 1/2^32 s.
    pub fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// The middle 32 bits (16 of seconds, 16 of fraction): what a report
    /// block carries as LSR (RFC 3550 §6.4.1).
    pub fn middle(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// A delay in the 1/65536 s units of DLSR (RFC 3550 §6.4.1), saturating
/// at the largest the field holds (about 18 hours).
pub fn to_delay_units(delay: Duration) -> u32 {
    let units = u128::from(DELAY_UNITS) * delay.as_nanos() / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The round-trip time to a receiver, from a report block it sent about
/// us and the NTP time that report arrived (RFC 3550 §6.4.1: A − LSR −
/// DLSR). `None` when the block carries no LSR (the receiver had no SR of
/// ours yet), or when the result would be negative (clock skew, or a
/// block not about our last reports).
pub fn round_trip_time(
    arrival: NtpTimestamp,
    last_sr: u32,
    delay_since_last_sr: u32,
) -> Option<Duration> {
    if last_sr == 0 {
        return None;
    }
    let units = arrival
        .middle()
        .wrapping_sub(last_sr)
        .wrapping_sub(delay_since_last_sr);
    // The arithmetic is modulo 2^32; "negative" is the upper half (a
    // round trip of over 9 hours is not one).
    if units >= 0x8000_0000 {
        return None;
    }
    let nanos = u64::from(units) * 1_000_000_000 / DELAY_UNITS;
    Some(Duration::from_nanos(nanos))
}
