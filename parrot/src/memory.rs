//! Giving memory back to the operating system after a peak.
//!
//! The tables shrink on their own (see the periodic sweeps of the
//! transaction task and the server core), but glibc's allocator keeps the
//! freed memory in its arenas, scattered between live blocks, so the
//! process would stay at its peak size. [`Trim`] watches the live work and,
//! once it has fallen well below the peak it last saw, asks the allocator
//! to return its free pages (`malloc_trim` by default; a program with
//! another global allocator gives its own call).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// Whether a table of `len` entries and room for `capacity` is worth
/// shrinking: under a quarter used, and not small anyway.
pub(crate) fn far_below(len: usize, capacity: usize) -> bool {
    capacity > 64 && len < capacity / 4
}

/// Shrinks `map` to twice its length when it is [`far_below`] its
/// capacity: for periodic sweeps after a peak, not every removal.
pub(crate) fn shrink_map<K: Eq + Hash, V, S: BuildHasher>(map: &mut HashMap<K, V, S>) {
    if far_below(map.len(), map.capacity()) {
        map.shrink_to(map.len() * 2);
    }
}

/// Decides when a peak of live work has passed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Trim {
    /// The most live work seen since the last peak passed.
    peak: usize,
    /// Sweeps left during which memory is given back at every sweep.
    recovering: u8,
}

/// Peaks smaller than this are not worth a trim.
const MIN_PEAK: usize = 1024;

/// Sweeps after a peak (80 s of the core's 2 s sweeps) during which memory
/// is given back at each one: the
/// peak's work ends over a minute or so (transactions absorb
/// retransmissions for 32 s after their final response, an INVITE's for
/// up to 64 s), and what it frees in that time is handed back as it goes,
/// whatever the work still going on.
const RECOVERY_SWEEPS: u8 = 40;

impl Trim {
    /// Records `live` work (dialogs, transactions) at a sweep; true when
    /// memory is to be given back: once the work has fallen below a
    /// quarter of a peak worth trimming after, and at each of the
    /// [`RECOVERY_SWEEPS`] sweeps that follow. The work live at the end
    /// of that is the peak the next fall is measured from.
    pub(crate) fn passed_peak(&mut self, live: usize) -> bool {
        if self.recovering > 0 {
            self.recovering -= 1;
            self.peak = live;
            return true;
        }
        self.peak = self.peak.max(live);
        if self.peak >= MIN_PEAK && live < self.peak / 4 {
            self.peak = live;
            self.recovering = RECOVERY_SWEEPS;
            return true;
        }
        false
    }
}

/// Returns the allocator's free memory to the system, where the allocator
/// keeps it (glibc). Costs a walk over the heap: for a periodic sweep
/// after a peak, not for every operation. The server's default; see
/// [`ServerBuilder::release_memory_with`](crate::server::ServerBuilder::release_memory_with).
pub(crate) fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only touches the allocator's own state, under
        // its locks, and is safe to call from any thread at any time.
        let released = unsafe { libc::malloc_trim(0) };
        tracing::debug!(
            released = released != 0,
            "free memory given back after a peak"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{RECOVERY_SWEEPS, Trim};

    #[test]
    fn trims_as_the_work_falls_from_a_peak() {
        let mut t = Trim::default();
        // Small peaks are not worth it.
        assert!(!t.passed_peak(500));
        assert!(!t.passed_peak(0));
        // A real peak, then the load falls: a trim below a quarter of it,
        // and at every sweep of the recovery that follows, whatever the
        // work still going on.
        assert!(!t.passed_peak(40_000));
        assert!(!t.passed_peak(20_000));
        assert!(!t.passed_peak(10_000));
        assert!(t.passed_peak(8_000));
        assert!(t.passed_peak(3_000));
        for _ in 1..RECOVERY_SWEEPS {
            assert!(t.passed_peak(700));
        }
        // Recovered: quiet while the work stays where it is.
        assert!(!t.passed_peak(700));
        assert!(!t.passed_peak(650));
        // What was live at its end is the next peak to fall from.
        assert!(!t.passed_peak(2_000));
        assert!(t.passed_peak(400));
        // A new peak during a recovery: trimmed after all the same.
        let mut t = Trim::default();
        assert!(!t.passed_peak(10_000));
        assert!(t.passed_peak(1_000));
        assert!(t.passed_peak(50_000));
        for _ in 1..RECOVERY_SWEEPS {
            assert!(t.passed_peak(1_000));
        }
        assert!(!t.passed_peak(1_000));
        // Below the smallest peak worth it: quiet, however low it goes.
        let mut t = Trim::default();
        assert!(!t.passed_peak(1_000));
        assert!(!t.passed_peak(0));
        assert!(!t.passed_peak(0));
    }
}
