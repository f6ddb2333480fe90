//! A token bucket: how many of something may happen per second, with
//! bursts up to a second's worth. Sans-IO: the caller gives the time.

use std::time::Instant;

/// Allows `per_second` events a second on average, and a burst of as many.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `per_second` tokens.
    pub(crate) fn new(per_second: u32) -> Self {
        TokenBucket {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            last: None,
        }
    }

    /// Whether a token is there at `now` (none is taken).
    pub(crate) fn available(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Takes a token at `now`, if one is there.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.per_second;
            self.tokens = (self.tokens + refill).min(self.per_second);
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
    }
}

#[cfg(test)]
mod tests {
    use super::TokenBucket;
    use std::time::{Duration, Instant};

    #[test]
    fn a_burst_then_the_rate() {
        let mut b = TokenBucket::new(100);
        let t = Instant::now();
        let burst = (0..1000).filter(|_| b.take(t)).count();
        assert_eq!(burst, 100);
        assert!(!b.available(t));
        // 10 ms later, one more.
        let later = t + Duration::from_millis(10);
        assert!(b.take(later));
        assert!(!b.take(later));
        // A quiet while refills it whole, and no more than whole.
        let quiet = later + Duration::from_secs(5);
        assert_eq!((0..200).filter(|_| b.take(quiet)).count(), 100);
        // Time going backwards (another caller's older reading) adds nothing.
        assert!(!b.take(t));
    }
}
