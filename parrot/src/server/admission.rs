//! Admission control: whether the server takes on new work, decided from
//! the load it actually feels rather than from the dialog count alone.
//!
//! Sans-IO: fed queueing delays and the work pending, with the time, it
//! says whether new out-of-dialog requests are to be shed. Shedding starts
//! when the smoothed queueing delay or the pending work passes its high
//! mark and stops only once both are below their low marks and shedding
//! has lasted a minimum time, so it does not flap (RFC 6357 §3: an
//! overloaded server should refuse new work early and cheaply, with `503`
//! and `Retry-After`, RFC 3261 §21.5.4, and keep finishing what it took).
//! Peers that support RFC 7339 are also told, in the Via of every
//! response, what share of their new requests to hold back
//! ([`LossFeedback`]), so that they shed it before sending.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A running server's overload counters, readable from any thread; see
/// [`BoundServer::stats`](super::BoundServer::stats). Cheap to clone. A
/// server of several [shards](super::ServerBuilder::shards) sums its
/// shards' counters.
#[derive(Debug, Clone)]
pub struct ServerStats(Arc<[Arc<Counters>]>);

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats(Arc::new([Arc::default()]))
    }
}

#[derive(Debug, Default)]
struct Counters {
    shed: AtomicU64,
    refused: AtomicU64,
    dropped: AtomicU64,
    shedding: AtomicBool,
    sessions: AtomicUsize,
    dialogs: AtomicUsize,
}

impl ServerStats {
    /// The counters of every shard in `parts`, read as one.
    pub(crate) fn combined(parts: &[ServerStats]) -> ServerStats {
        ServerStats(parts.iter().flat_map(|p| p.0.iter().cloned()).collect())
    }

    /// The counters this core writes (the first of a server's).
    fn own(&self) -> &Counters {
        &self.0[0]
    }

    /// `read` summed over the shards' counters.
    fn sum<T: std::iter::Sum>(&self, read: impl Fn(&Counters) -> T) -> T {
        self.0.iter().map(|c| read(c)).sum()
    }

    /// New requests the server core answered with `503`: beyond
    /// [`max_dialogs`](super::ServerBuilder::max_dialogs), or during
    /// shutdown (overload is shed before requests reach it, see
    /// [`refused`](Self::refused) and [`dropped`](Self::dropped)).
    pub fn shed(&self) -> u64 {
        self.sum(|c| c.shed.load(Ordering::Relaxed))
    }

    /// New requests refused with a stateless `503` before a transaction
    /// was made (shed early, or beyond
    /// [`max_transactions`](super::ServerBuilder::max_transactions)).
    pub fn refused(&self) -> u64 {
        self.sum(|c| c.refused.load(Ordering::Relaxed))
    }

    /// New requests dropped unanswered as they were received: shed beyond
    /// [`OverloadConfig::refusals_per_second`].
    pub fn dropped(&self) -> u64 {
        self.sum(|c| c.dropped.load(Ordering::Relaxed))
    }

    /// Whether new requests are being shed now (by any shard).
    pub fn shedding(&self) -> bool {
        self.0.iter().any(|c| c.shedding.load(Ordering::Relaxed))
    }

    /// Handler sessions in progress: dialogs (running or parked) and
    /// out-of-dialog requests being handled, as of the core's last event.
    pub fn live_sessions(&self) -> usize {
        self.sum(|c| c.sessions.load(Ordering::Relaxed))
    }

    /// Dialogs the server core holds, as of its last event.
    pub fn live_dialogs(&self) -> usize {
        self.sum(|c| c.dialogs.load(Ordering::Relaxed))
    }

    pub(crate) fn set_live(&self, sessions: usize, dialogs: usize) {
        self.own().sessions.store(sessions, Ordering::Relaxed);
        self.own().dialogs.store(dialogs, Ordering::Relaxed);
    }

    pub(crate) fn add_shed(&self) {
        self.own().shed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set(&self, refused: u64, dropped: u64, shedding: bool) {
        self.own().refused.store(refused, Ordering::Relaxed);
        self.own().dropped.store(dropped, Ordering::Relaxed);
        self.own().shedding.store(shedding, Ordering::Relaxed);
    }
}

/// When a server sheds new requests; see
/// [`ServerBuilder::overload`](super::ServerBuilder::overload).
///
/// Only new out-of-dialog requests other than OPTIONS are shed (INVITE,
/// REGISTER, SUBSCRIBE, MESSAGE...): ACK, CANCEL, BYE and every request
/// inside a dialog, responses and OPTIONS pings keep being served, so the
/// calls in progress complete and peers still see the server alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverloadConfig {
    /// Shedding starts when the queueing delay of received messages,
    /// smoothed over about a quarter of a second (so a short stall does not count),
    /// reaches this (default 200 ms: well under the 500 ms T1
    /// after which UDP peers retransmit and add to the load).
    pub delay_high: Duration,
    /// Shedding may stop once the smoothed delay is below this (default
    /// 20 ms).
    pub delay_low: Duration,
    /// Shedding starts when this many received requests await the
    /// handler's answer (the backlog: requests it has not got to yet; a
    /// call it is ringing does not count, see
    /// [`EndpointLoad::awaiting_tu`](crate::endpoint::EndpointLoad::awaiting_tu)).
    /// Default 500: about a twentieth of a second of work at ten thousand
    /// calls a second, so the messages of calls in progress (ACK, BYE)
    /// never wait behind much of it. Raise it when handlers
    /// await slow I/O before their first answer: the backlog then grows
    /// with the call rate times that latency, without overload.
    pub pending_high: usize,
    /// Shedding may stop once the backlog is below this (default 250).
    pub pending_low: usize,
    /// Shedding lasts at least this long once started (default 0: the
    /// marks' hysteresis is enough, and holding shedding on after the
    /// backlog has cleared would idle the server).
    pub min_shed: Duration,
    /// The `Retry-After` of a shed request's `503`, in seconds (default 5).
    pub retry_after: u32,
    /// Most `503` refusals per second each UDP socket sends as requests
    /// are received while shedding (default 2000); beyond it shed requests
    /// are dropped unanswered and counted (see
    /// [`TransportStats`](crate::transport::TransportStats)): under a flood
    /// of several times the capacity, answering every excess request
    /// would itself use the capacity up.
    pub refusals_per_second: u32,
    /// How often a summary of shed requests is logged (default 10 s);
    /// single shed requests are never logged above debug level.
    pub log_interval: Duration,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            delay_high: Duration::from_millis(200),
            delay_low: Duration::from_millis(20),
            pending_high: 500,
            pending_low: 250,
            min_shed: Duration::ZERO,
            retry_after: 5,
            refusals_per_second: 2000,
            log_interval: Duration::from_secs(10),
        }
    }
}

/// The admission decision, fed with measures of the load.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    config: OverloadConfig,
    /// Smoothed queueing delay, in µs.
    delay_us: f64,
    /// When the last measure was taken.
    last: Option<Instant>,
    /// Since when new requests are shed, if they are.
    shedding_since: Option<Instant>,
}

/// Time constant of the smoothed delay: a sample's weight grows with the
/// time since the last one, so the smoothing spans about a quarter of a
/// second however many requests arrive, and a short stall (a burst, a
/// descheduled process) does not read as overload; a delay that lasts
/// does, and its end is seen soon enough not to idle the server.
const TAU: Duration = Duration::from_millis(250);

impl Admission {
    pub(crate) fn new(config: OverloadConfig) -> Self {
        Admission {
            config,
            delay_us: 0.0,
            last: None,
            shedding_since: None,
        }
    }

    pub(crate) fn config(&self) -> &OverloadConfig {
        &self.config
    }

    /// Takes a measure at `now`: the queueing delay of received messages
    /// and the requests pending. Returns whether new requests are shed.
    pub(crate) fn observe(&mut self, now: Instant, delay: Duration, pending: usize) -> bool {
        let sample = delay.as_micros() as f64;
        let dt = self
            .last
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.last = Some(now);
        // No queueing now or before (a server under its capacity) leaves
        // the average at zero without working out the weight.
        if sample != 0.0 || self.delay_us != 0.0 {
            let weight = 1.0 - (-dt.as_secs_f64() / TAU.as_secs_f64()).exp();
            self.delay_us += weight * (sample - self.delay_us);
        }
        let delay = Duration::from_micros(self.delay_us as u64);
        let c = &self.config;
        match self.shedding_since {
            None if delay >= c.delay_high || pending >= c.pending_high => {
                self.shedding_since = Some(now);
            }
            Some(since)
                if delay < c.delay_low
                    && pending < c.pending_low
                    && now.saturating_duration_since(since) >= c.min_shed =>
            {
                self.shedding_since = None;
            }
            _ => {}
        }
        self.shedding()
    }

    /// Whether new requests are shed.
    pub(crate) fn shedding(&self) -> bool {
        self.shedding_since.is_some()
    }
}

/// The loss-based overload feedback (RFC 7339 §7) peers that support it
/// get: the share of their new requests to hold back, worked out once a
/// second from what this server admitted and shed in that second. Peers
/// that honour it send less, so the shed share seen here is of what is
/// left: the reductions compound (`1 - (1 - r)(1 - shed)`). A second with
/// nothing shed eases the reduction by a fifth, so that peers probe back
/// up to what the server can take.
#[derive(Debug, Clone, Default)]
pub(crate) struct LossFeedback {
    /// The reduction asked for, 0 to 1.
    reduction: f64,
    /// When the current interval started, and the totals then.
    interval: Option<(Instant, u64, u64)>,
}

/// How often the feedback is worked out again.
const FEEDBACK_INTERVAL: Duration = Duration::from_secs(1);

impl LossFeedback {
    /// Takes the totals so far of new requests admitted and shed at `now`;
    /// returns the reduction in percent when a new one is due.
    pub(crate) fn update(&mut self, now: Instant, admitted: u64, shed: u64) -> Option<u8> {
        let Some((since, admitted0, shed0)) = self.interval else {
            self.interval = Some((now, admitted, shed));
            return None;
        };
        if now.saturating_duration_since(since) < FEEDBACK_INTERVAL {
            return None;
        }
        self.interval = Some((now, admitted, shed));
        let shed = shed.saturating_sub(shed0) as f64;
        let admitted = admitted.saturating_sub(admitted0) as f64;
        if shed == 0.0 {
            self.reduction *= 0.8;
        } else {
            let share = shed / (shed + admitted);
            self.reduction = 1.0 - (1.0 - self.reduction) * (1.0 - share);
        }
        if self.reduction < 0.01 {
            self.reduction = 0.0;
        }
        // At most 95: a peer keeps sending a little, so that the answers
        // keep telling it how things are.
        Some((self.reduction * 100.0).round().min(95.0) as u8)
    }
}

/// Counts shed requests and logs one summary line per interval instead of
/// one line per request.
#[derive(Debug, Clone)]
pub(crate) struct ShedLog {
    interval: Duration,
    /// Shed since the last summary.
    count: u64,
    /// When the current interval started.
    since: Option<Instant>,
}

impl ShedLog {
    pub(crate) fn new(interval: Duration) -> Self {
        ShedLog {
            interval,
            count: 0,
            since: None,
        }
    }

    /// `n` requests were shed by `now`.
    pub(crate) fn shed(&mut self, now: Instant, n: u64) {
        if n == 0 {
            return;
        }
        self.count += n;
        self.since.get_or_insert(now);
        self.flush(now);
    }

    /// The summary due at `now`, if an interval with shed requests ended:
    /// the count and the interval's length; it is logged as well.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<(u64, Duration)> {
        let since = self.since?;
        let span = now.saturating_duration_since(since);
        if span < self.interval {
            return None;
        }
        let n = std::mem::take(&mut self.count);
        self.since = None;
        if n == 0 {
            return None;
        }
        tracing::warn!(
            "overloaded: shed {n} new requests (503, or dropped beyond the refusal budget) in the last {} s",
            span.as_secs()
        );
        Some((n, span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn config() -> OverloadConfig {
        OverloadConfig {
            delay_high: 100 * MS,
            delay_low: 10 * MS,
            pending_high: 100,
            pending_low: 50,
            min_shed: 1000 * MS,
            ..OverloadConfig::default()
        }
    }

    /// Feeds `n` samples `step` apart from `*t`; returns the last verdict.
    fn feed(
        a: &mut Admission,
        t: &mut Instant,
        (n, step): (usize, Duration),
        delay: Duration,
        pending: usize,
    ) -> bool {
        let mut shed = false;
        for _ in 0..n {
            *t += step;
            shed = a.observe(*t, delay, pending);
        }
        shed
    }

    #[test]
    fn low_load_admits() {
        let mut a = Admission::new(config());
        let mut t = Instant::now();
        assert!(!feed(&mut a, &mut t, (1000, 10 * MS), 5 * MS, 10));
    }

    #[test]
    fn queueing_delay_starts_shedding() {
        let mut a = Admission::new(config());
        let mut t = Instant::now();
        // A short stall is smoothed away, however many requests it
        // delayed...
        assert!(!a.observe(t, Duration::ZERO, 0));
        assert!(!feed(&mut a, &mut t, (1000, MS / 10), 300 * MS, 0));
        assert!(!feed(&mut a, &mut t, (100, 10 * MS), Duration::ZERO, 0));
        // ...a lasting delay is not (300 ms for half a second).
        assert!(feed(&mut a, &mut t, (50, 10 * MS), 300 * MS, 0));
    }

    #[test]
    fn pending_work_starts_shedding_at_once() {
        let mut a = Admission::new(config());
        let t = Instant::now();
        assert!(!a.observe(t, Duration::ZERO, 99));
        assert!(a.observe(t, Duration::ZERO, 100));
    }

    #[test]
    fn recovery_has_hysteresis() {
        let mut a = Admission::new(config());
        let mut t = Instant::now();
        let step = 10 * MS;
        assert!(feed(&mut a, &mut t, (50, step), 300 * MS, 0));
        // Below the high mark but above the low one: still shedding.
        assert!(feed(&mut a, &mut t, (2000, step), 50 * MS, 0));
        // Pending between the marks: still shedding.
        assert!(feed(&mut a, &mut t, (2000, step), Duration::ZERO, 70));
        // Both low: admitting again.
        assert!(!feed(&mut a, &mut t, (100, step), Duration::ZERO, 10));
    }

    #[test]
    fn shedding_lasts_its_minimum_time() {
        let mut a = Admission::new(config());
        let mut t = Instant::now();
        assert!(a.observe(t, Duration::ZERO, 500));
        // The load is gone at once, but the minimum time is not over.
        assert!(feed(&mut a, &mut t, (999, MS), Duration::ZERO, 0));
        assert!(!feed(&mut a, &mut t, (1, MS), Duration::ZERO, 0));
    }

    #[test]
    fn loss_feedback_compounds_and_eases() {
        let mut f = LossFeedback::default();
        let t = Instant::now();
        let s = Duration::from_secs(1);
        assert_eq!(f.update(t, 0, 0), None);
        // Not yet a second.
        assert_eq!(f.update(t + s / 2, 100, 200), None);
        // Three times what is taken: two thirds shed.
        assert_eq!(f.update(t + s, 1000, 2000), Some(67));
        // Peers hold back two thirds; half of what is left is still shed.
        assert_eq!(f.update(t + 2 * s, 1500, 2500), Some(83));
        // Nothing shed: the reduction eases a fifth a second, down to 0.
        let mut last = 83;
        for i in 3..40 {
            let r = f.update(t + i * s, 1500 + i as u64, 2500).unwrap();
            assert!(r <= last);
            last = r;
        }
        assert_eq!(last, 0);
        // Everything shed: held back at most 95%.
        for i in 40..50 {
            f.update(t + i * s, 1500, 2500 + 1000 * i as u64);
        }
        assert_eq!(f.update(t + 50 * s, 1500, 60_000), Some(95));
    }

    #[test]
    fn shed_log_sums_up_per_interval() {
        let mut log = ShedLog::new(Duration::from_secs(10));
        let t = Instant::now();
        for i in 0..1000 {
            log.shed(t + i * MS, 1);
        }
        // Nothing logged before the interval is over.
        assert_eq!(log.flush(t + Duration::from_secs(5)), None);
        assert_eq!(
            log.flush(t + Duration::from_secs(10)),
            Some((1000, Duration::from_secs(10)))
        );
        // Once logged, quiet until requests are shed again.
        assert_eq!(log.flush(t + Duration::from_secs(30)), None);
        log.shed(t + Duration::from_secs(31), 1);
        assert_eq!(log.flush(t + Duration::from_secs(35)), None);
        assert_eq!(
            log.flush(t + Duration::from_secs(41)),
            Some((1, Duration::from_secs(10)))
        );
    }
}
