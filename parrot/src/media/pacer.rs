//! When a media session plays its next 20 ms frame (sans-IO).
//!
//! A session plays (takes a frame from its jitter buffer and sends one
//! packet) once per frame time. Driven by a 20 ms timer alone, every
//! received packet costs the session two wake-ups: the packet's arrival,
//! and the timer's tick a few milliseconds later. The pacer locks the
//! playout onto the peer's packets instead: a packet that arrives a frame
//! time after the last playout (less [`EARLY`]) plays at once, and the
//! timer is only the fallback for when packets stop or come late (it
//! waits [`HOLD`] longer than a frame time while locked). In steady state
//! the peer's packets drive the session, one wake-up each.
//!
//! Until it is locked, the fallback comes [`SLIDE`] early per frame while
//! packets are arriving, so that the playout moves toward the arrivals,
//! earlier rather than later: the jitter buffer's delay shrinks to its
//! depth instead of growing by a frame. Without packets (a peer on hold,
//! a prompt played to a silent caller), the fallback keeps the exact
//! 20 ms cadence. The playout never runs faster than one frame per frame
//! time less `EARLY`, whatever the peer sends (a flood is not echoed
//! faster), nor slower than one per frame time plus `HOLD`.

use std::time::Duration;

/// One frame of audio.
pub const FRAME_TIME: Duration = Duration::from_millis(20);
/// How much earlier than a frame time after the last playout a packet's
/// arrival may play the next frame (a peer's clock a little faster than
/// ours, its packets' jitter).
pub const EARLY: Duration = Duration::from_millis(2);
/// How much earlier than a frame time the fallback plays while packets
/// arrive between playouts, so that the playout meets them (at most
/// `EARLY - SLIDE` apart: the arrival cannot step over the window in
/// which it plays).
pub const SLIDE: Duration = Duration::from_millis(1);
/// How much later than a frame time the fallback plays once the playout
/// is locked onto the packets (a packet that late is jitter; later, the
/// fallback plays and the lock is lost).
pub const HOLD: Duration = Duration::from_millis(2);

/// The playout clock of one session. Times are offsets from any fixed
/// origin (the session's start).
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// When the last frame was played; none before the first.
    last: Option<Duration>,
    /// Whether a packet arrived since the last playout.
    heard: bool,
    /// Whether the last playout was a packet's (the playout is locked onto
    /// the packets: the fallback waits a little longer than a frame time,
    /// so as not to fire just before the next one).
    locked: bool,
}

impl Pacer {
    /// A pacer that plays its first frame at once.
    pub fn new() -> Pacer {
        Pacer::default()
    }

    /// A packet arrived at `now`: whether the next frame is due (then
    /// play it and call [`played`](Self::played)).
    pub fn arrival(&mut self, now: Duration) -> bool {
        self.heard = true;
        match self.last {
            None => true,
            Some(last) => now.saturating_sub(last) + EARLY >= FRAME_TIME,
        }
    }

    /// When the next frame is due if no packet plays it first.
    pub fn deadline(&self) -> Duration {
        match self.last {
            None => Duration::ZERO,
            Some(last) if self.locked => last + FRAME_TIME + HOLD,
            Some(last) if self.heard => last + FRAME_TIME - SLIDE,
            Some(last) => last + FRAME_TIME,
        }
    }

    /// A frame was played at `now`, on a packet's arrival or by the
    /// fallback.
    pub fn played(&mut self, now: Duration, on_arrival: bool) {
        // A late fallback (a busy core) keeps its cadence from when it
        // was due, not from when it ran, unless it fell a frame behind.
        let due = self.deadline();
        let late_fallback =
            !on_arrival && self.last.is_some() && now >= due && now - due < FRAME_TIME;
        self.last = Some(if late_fallback { due } else { now });
        self.locked = on_arrival;
        self.heard = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs the pacer as a session would: packets arriving at `arrivals`
    /// (ms), the fallback firing at its deadline, until `end` (ms); the
    /// playout times (ms) and how many of them were the fallback's.
    fn run(arrivals: &[u64], end: u64) -> (Vec<u64>, usize) {
        let mut p = Pacer::new();
        let mut plays = Vec::new();
        let mut fallback = 0;
        let mut next = arrivals.iter().peekable();
        loop {
            let deadline = p.deadline().as_millis() as u64;
            match next.peek() {
                Some(&&a) if a <= deadline => {
                    next.next();
                    if p.arrival(ms(a)) {
                        p.played(ms(a), true);
                        plays.push(a);
                    }
                }
                _ => {
                    if deadline > end {
                        break;
                    }
                    p.played(ms(deadline), false);
                    plays.push(deadline);
                    fallback += 1;
                }
            }
        }
        (plays, fallback)
    }

    #[test]
    fn without_packets_the_cadence_is_exactly_a_frame_time() {
        let (plays, fallback) = run(&[], 200);
        assert_eq!(plays, (0..=10).map(|i| i * 20).collect::<Vec<_>>());
        assert_eq!(fallback, 11);
    }

    #[test]
    fn regular_packets_take_over_the_playout_by_moving_it_earlier() {
        // The peer's packets every 20 ms, 9 ms after our frames.
        let arrivals: Vec<u64> = (0..100).map(|i| 9 + i * 20).collect();
        let (plays, _) = run(&arrivals, 2000);
        // Once locked, every playout is at a packet's arrival.
        let locked_from = plays
            .iter()
            .position(|t| arrivals.contains(t))
            .expect("locks onto the packets");
        assert!(
            locked_from <= 11,
            "locked after {locked_from} frames: {plays:?}"
        );
        for t in &plays[locked_from..] {
            assert!(arrivals.contains(t), "{t} ms is not an arrival: {plays:?}");
        }
        // One frame per packet: nothing played twice, nothing skipped.
        for w in plays.windows(2) {
            let gap = w[1] - w[0];
            assert!((18..=20).contains(&gap), "gap {gap} ms: {plays:?}");
        }
    }

    #[test]
    fn a_lost_packet_is_played_by_the_fallback_and_the_lock_holds() {
        let arrivals: Vec<u64> = (0..50).filter(|&i| i != 20).map(|i| i * 20).collect();
        let (plays, fallback) = run(&arrivals, 1000);
        // 50 frame times, one playout each; the fallback plays only the
        // lost one's, a little late.
        assert_eq!(plays.len(), 50, "{plays:?}");
        assert_eq!(fallback, 1, "{plays:?}");
        assert!(plays.contains(&402), "{plays:?}");
        assert!(plays.contains(&420), "{plays:?}");
    }

    #[test]
    fn a_flood_plays_no_faster_than_a_frame_per_frame_time() {
        // 10 packets a millisecond for a second.
        let arrivals: Vec<u64> = (0..10_000).map(|i| i / 10).collect();
        let (plays, _) = run(&arrivals, 1000);
        assert!(plays.len() <= 1000 / 18 + 1, "{} playouts", plays.len());
        for w in plays.windows(2) {
            assert!(w[1] - w[0] >= 18, "{plays:?}");
        }
    }

    #[test]
    fn a_late_fallback_keeps_its_cadence() {
        let mut p = Pacer::new();
        p.played(ms(0), false);
        // Due at 20, run at 25 (a busy core): the next is due at 40.
        p.played(ms(25), false);
        assert_eq!(p.deadline(), ms(40));
        // Run a whole frame late: the cadence restarts from then.
        p.played(ms(75), false);
        assert_eq!(p.deadline(), ms(95));
    }
}
