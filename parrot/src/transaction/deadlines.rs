//! The deadline pair the retransmitting machines share: a retransmission
//! timer (A, E, G) and a timer that ends a state (B/D/M, F/K, H/I/L).

use std::time::Instant;

/// Which of the two timers is due.
pub(crate) enum Due {
    /// The retransmission timer, armed for this instant.
    Retransmit(Instant),
    /// The state-ending timer.
    End,
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(retransmit: Option<Instant>, end: Option<Instant>) -> Option<Instant> {
    match (retransmit, end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The timer to fire at `now`, if any. On a tie the state-ending timer
/// wins: there is no point retransmitting first.
pub(crate) fn due(retransmit: Option<Instant>, end: Option<Instant>, now: Instant) -> Option<Due> {
    let r = retransmit.filter(|&t| t <= now);
    let e = end.filter(|&t| t <= now);
    match (r, e) {
        (Some(r), Some(e)) if r < e => Some(Due::Retransmit(r)),
        (_, Some(_)) => Some(Due::End),
        (Some(r), None) => Some(Due::Retransmit(r)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn order_and_ties() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(earliest(Some(t1), Some(t0)), Some(t0));
        assert_eq!(earliest(None, Some(t1)), Some(t1));
        assert!(matches!(due(Some(t0), Some(t1), t1), Some(Due::Retransmit(t)) if t == t0));
        assert!(matches!(due(Some(t1), Some(t1), t1), Some(Due::End)));
        assert!(due(Some(t1), None, t0).is_none());
    }
}
