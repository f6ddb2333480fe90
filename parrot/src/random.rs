//! Random identifiers (tags, branches, Call-IDs).
//!
//! RFC 3261 §19.3 asks for tags with at least 32 bits of randomness and
//! branches unique across space and time (§8.1.1.7). The standard
//! library's randomly keyed SipHash, fed a counter and the clock, gives
//! unpredictable 64-bit values without another dependency.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A random 64-bit value.
pub fn u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// A fresh tag for From/To (§19.3).
pub fn tag() -> crate::message::Text {
    crate::message::Text::from(format!("{:016x}", u64()))
}

/// A fresh branch with the RFC 3261 magic cookie (§8.1.1.7).
pub fn branch() -> crate::message::Text {
    crate::message::Text::from(format!("z9hG4bK{:016x}{:08x}", u64(), u64() as u32))
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_differ() {
        let a: std::collections::HashSet<u64> = (0..1000).map(|_| super::u64()).collect();
        assert_eq!(a.len(), 1000);
        assert!(super::branch().starts_with("z9hG4bK"));
    }
}
