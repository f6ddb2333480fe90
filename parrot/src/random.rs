//! Random identifiers and secrets, all from the operating system's
//! cryptographically secure generator (through `getrandom`).
//!
//! RFC 3261 asks for tags with at least 32 bits of randomness (§19.3),
//! branches unique across space and time (§8.1.1.7) and globally unique
//! Call-IDs (§8.1.1.4). Whoever can predict them can forge requests into
//! other people's transactions and dialogs, so they come from the same
//! generator as the secrets. Several are made per call, thousands of
//! calls a second: rather than one system call each, every thread keeps a
//! buffer of generator output ([`POOL_LEN`] bytes) and hands out unused
//! bytes from it, refilling it when it runs out. Keys ([`secret`]) are
//! read from the generator directly and never pass through the buffer.
//!
//! The buffer is per thread and a process that forks without exec would
//! copy it: Parrot never forks.

use crate::message::Text;
use std::cell::RefCell;

/// Bytes of generator output each thread buffers: one system call covers
/// dozens of calls' identifiers.
const POOL_LEN: usize = 1024;

/// A thread's buffer of generator output; `buf[next..]` is unused.
struct Pool {
    buf: [u8; POOL_LEN],
    next: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            buf: [0; POOL_LEN],
            next: POOL_LEN,
        })
    };
}

/// Fills `dest` with generator output never handed out before, from this
/// thread's buffer.
pub(crate) fn try_fill(dest: &mut [u8]) -> Result<(), getrandom::Error> {
    POOL.with_borrow_mut(|pool| {
        let mut dest = dest;
        while !dest.is_empty() {
            if pool.next == POOL_LEN {
                getrandom::fill(&mut pool.buf)?;
                pool.next = 0;
            }
            let n = dest.len().min(POOL_LEN - pool.next);
            let (now, rest) = dest.split_at_mut(n);
            now.copy_from_slice(&pool.buf[pool.next..pool.next + n]);
            pool.next += n;
            dest = rest;
        }
        Ok(())
    })
}

/// [`try_fill`] for callers with no error to report.
///
/// # Panics
///
/// When the operating system's generator fails, which it does not once
/// the system has booted (Linux `getrandom(2)` blocks until seeded, then
/// never fails). Going on with guessable identifiers would be worse.
fn fill(dest: &mut [u8]) {
    if let Err(e) = try_fill(dest) {
        panic!("the operating system's random generator failed: {e}");
    }
}

/// `N` bytes straight from the operating system's generator, for keys.
pub(crate) fn secret<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut key = [0; N];
    getrandom::fill(&mut key)?;
    Ok(key)
}

/// A random 64-bit value.
pub(crate) fn u64() -> u64 {
    let mut b = [0; 8];
    fill(&mut b);
    u64::from_ne_bytes(b)
}

/// Appends `bytes` to `out` in lower-case hex.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// `prefix` followed by `N` fresh random bytes in hex.
fn hex_id<const N: usize>(prefix: &str) -> String {
    let mut b = [0; N];
    fill(&mut b);
    let mut s = String::with_capacity(prefix.len() + 2 * N);
    s.push_str(prefix);
    push_hex(&mut s, &b);
    s
}

/// A fresh tag for a From or To header: 64 random bits in 16 hex digits
/// (RFC 3261 §19.3 asks for at least 32).
pub fn tag() -> Text {
    Text::from(hex_id::<8>(""))
}

/// A fresh Via branch: the RFC 3261 magic cookie `z9hG4bK` (§8.1.1.7)
/// and 96 random bits in 24 hex digits.
pub fn branch() -> Text {
    Text::from(hex_id::<12>("z9hG4bK"))
}

/// The To tag of every stateless refusal this process sends (RFC 3261
/// §8.2.7: a stateless UAS must give a retransmitted request the same
/// tag), drawn once. The ACK of such a refusal carries it back, which lets
/// the receive path drop that ACK without further work.
pub(crate) fn stateless_tag() -> &'static str {
    static TAG: std::sync::OnceLock<Text> = std::sync::OnceLock::new();
    TAG.get_or_init(tag)
}

/// A fresh cnonce for Digest credentials (RFC 7616 §3.4): 128 random bits
/// in 32 hex digits.
pub(crate) fn cnonce() -> Result<String, getrandom::Error> {
    let mut b = [0; 16];
    try_fill(&mut b)?;
    let mut s = String::with_capacity(32);
    push_hex(&mut s, &b);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn is_lower_hex(s: &str) -> bool {
        s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn tags_are_distinct_64_bit_hex() {
        let tags: HashSet<Text> = (0..10_000).map(|_| tag()).collect();
        assert_eq!(tags.len(), 10_000);
        for t in tags.iter().take(100) {
            assert_eq!(t.len(), 16, "{t}: 64 bits need 16 hex digits");
            assert!(is_lower_hex(t), "{t}");
        }
    }

    #[test]
    fn branches_carry_the_cookie_and_96_bits() {
        let branches: HashSet<Text> = (0..10_000).map(|_| branch()).collect();
        assert_eq!(branches.len(), 10_000);
        for b in branches.iter().take(100) {
            let rest = b.strip_prefix("z9hG4bK").expect("magic cookie");
            assert_eq!(rest.len(), 24, "{b}");
            assert!(is_lower_hex(rest), "{b}");
        }
    }

    #[test]
    fn cnonces_are_distinct_128_bit_hex() {
        let a = cnonce().unwrap();
        assert_eq!(a.len(), 32);
        assert!(is_lower_hex(&a));
        assert_ne!(a, cnonce().unwrap());
    }

    #[test]
    fn values_differ_and_look_uniform() {
        let values: Vec<u64> = (0..1000).map(|_| u64()).collect();
        assert_eq!(values.iter().collect::<HashSet<_>>().len(), 1000);
        // 64,000 fair bits: 32,000 ones give or take 126 (one standard
        // deviation); a stuck or mostly-zero source lands far outside.
        let ones: u32 = values.iter().map(|v| v.count_ones()).sum();
        assert!((30_000..34_000).contains(&ones), "{ones} one bits");
    }

    #[test]
    fn the_buffer_never_hands_out_the_same_bytes_twice() {
        // Requests that straddle refills, and one larger than the buffer.
        let mut seen = HashSet::new();
        for len in [7, POOL_LEN - 3, 16, 2 * POOL_LEN + 5, 16, 16] {
            let mut b = vec![0; len];
            try_fill(&mut b).unwrap();
            for chunk in b.chunks_exact(16) {
                assert!(seen.insert(chunk.to_vec()), "a 16-byte run came twice");
            }
        }
    }

    #[test]
    fn threads_get_different_values() {
        let here: HashSet<u64> = (0..100).map(|_| u64()).collect();
        let there: Vec<u64> = std::thread::spawn(|| (0..100).map(|_| u64()).collect())
            .join()
            .unwrap();
        assert!(there.iter().all(|v| !here.contains(v)));
    }

    #[test]
    fn secrets_are_fresh() {
        let a: [u8; 32] = secret().unwrap();
        let b: [u8; 32] = secret().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }
}
