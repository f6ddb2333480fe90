//! The wait before a request refused with `491 Request Pending` is sent
//! again (RFC 3261 §14.1), for both sides of a dialog.

use std::time::Duration;

/// RFC 3261 §14.1: after a 491, the owner of the Call-ID (the side that
/// sent the dialog's INVITE) waits "a randomly chosen value between 2.1
/// and 4 seconds in units of 10 ms", the other side "between 0 and 2
/// seconds in units of 10 ms".
pub fn glare_delay(call_id_owner: bool) -> Duration {
    let r = crate::random::u64();
    let tens = if call_id_owner {
        210 + r % 191
    } else {
        r % 201
    };
    Duration::from_millis(tens * 10)
}

#[cfg(test)]
mod tests {
    use super::glare_delay;
    use std::time::Duration;

    #[test]
    fn glare_delays_fall_in_the_ranges_of_14_1() {
        let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
        for _ in 0..2000 {
            let owner = glare_delay(true);
            assert!(owner >= Duration::from_millis(2100) && owner <= Duration::from_secs(4));
            assert_eq!(owner.as_millis() % 10, 0);
            let other = glare_delay(false);
            assert!(other <= Duration::from_secs(2));
            assert_eq!(other.as_millis() % 10, 0);
            low = low.min(owner);
            high = high.max(owner);
        }
        // The whole range is used.
        assert!(low < Duration::from_millis(2300) && high > Duration::from_millis(3800));
    }
}
