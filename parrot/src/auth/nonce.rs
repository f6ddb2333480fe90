//! Server nonces (RFC 7616 §3.3 `nonce`, §5.4 and §5.5 on replay).
//!
//! A nonce is `hex(timestamp ‖ salt ‖ MAC)`: the time it was issued in
//! milliseconds since the authenticator's epoch, 8 random bytes, and the
//! first 16 bytes of HMAC-SHA-256 over both under a random secret of the
//! authenticator. Issuing keeps no state; a nonce we did not issue (or that
//! was altered) fails the MAC, one older than the lifetime is stale.
//!
//! Once a nonce has been used successfully its highest nonce-count is kept
//! until the nonce expires, so that a request carrying the same `nc` again
//! (a replay) is refused; a nonce used without `qop` (hence without `nc`,
//! RFC 2069 style) is good for one request only. The table is bounded: when
//! full, the oldest entries are dropped and every nonce issued before them
//! is treated as stale from then on, so dropping never reopens a replay.

use super::algorithm::{from_hex, to_hex};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const TS_LEN: usize = 8;
const SALT_LEN: usize = 8;
const MAC_LEN: usize = 16;
const RAW_LEN: usize = TS_LEN + SALT_LEN + MAC_LEN;

/// The identity of an issued nonce: its timestamp and salt.
type Key = [u8; TS_LEN + SALT_LEN];

/// What a nonce is worth now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceState {
    /// Issued by us, within its lifetime.
    Fresh(Key),
    /// Issued by us, but too old (or dropped from a full table).
    Stale,
    /// Not one of ours: bad format or MAC.
    Unknown,
}

/// Why a fresh nonce may not be used for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UseRefused {
    /// The nonce-count is not above the highest seen, or a nonce used
    /// without `qop` comes again.
    Replay,
    /// The nonce was issued before the oldest entry the full table dropped.
    Stale,
}

#[derive(Debug, Clone, Copy)]
enum Used {
    /// Highest `nc` accepted so far.
    Counted(u32),
    /// Used once without `qop`.
    Once,
}

#[derive(Debug, Default)]
struct Table {
    used: HashMap<Key, Used>,
    /// Nonces issued at or before this time (ms) are stale: entries that
    /// old were dropped from a full table.
    floor: Option<u64>,
}

/// Issues and checks nonces; tracks nonce-counts.
pub(crate) struct Nonces {
    secret: [u8; 32],
    epoch: Instant,
    lifetime: Duration,
    max_tracked: usize,
    table: Mutex<Table>,
}

impl Nonces {
    /// A fresh random secret; nonces live `lifetime`. Fails only when the
    /// operating system's generator does.
    pub fn new(lifetime: Duration, max_tracked: usize) -> Result<Self, getrandom::Error> {
        // The 256-bit HMAC key straight from the operating system's
        // generator: whoever knew it could mint nonces.
        let secret = crate::random::secret()?;
        let now = Instant::now();
        Ok(Nonces {
            secret,
            // A little in the past, so that an `Instant` taken just before
            // the authenticator was made still counts from the epoch.
            epoch: now.checked_sub(Duration::from_secs(3600)).unwrap_or(now),
            lifetime,
            max_tracked: max_tracked.max(1),
            table: Mutex::new(Table::default()),
        })
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime;
    }

    pub fn set_max_tracked(&mut self, max: usize) {
        self.max_tracked = max.max(1);
    }

    pub fn max_tracked(&self) -> usize {
        self.max_tracked
    }

    /// The secret, for deriving other server-side values (the stand-in
    /// password of unknown users).
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    fn ms(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.epoch);
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    fn mac(&self, key: &Key) -> Hmac<Sha256> {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(key);
        mac
    }

    /// A new nonce, issued at `now`.
    pub fn issue(&self, now: Instant) -> String {
        let mut raw = [0u8; RAW_LEN];
        raw[..TS_LEN].copy_from_slice(&self.ms(now).to_be_bytes());
        // The salt keeps two nonces issued in the same millisecond apart.
        raw[TS_LEN..TS_LEN + SALT_LEN].copy_from_slice(&crate::random::u64().to_be_bytes());
        let mut key = [0u8; TS_LEN + SALT_LEN];
        key.copy_from_slice(&raw[..TS_LEN + SALT_LEN]);
        let tag = self.mac(&key).finalize().into_bytes();
        raw[TS_LEN + SALT_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        to_hex(&raw)
    }

    /// What `nonce` is worth at `now`.
    pub fn check(&self, nonce: &str, now: Instant) -> NonceState {
        if nonce.len() != RAW_LEN * 2 {
            return NonceState::Unknown;
        }
        let Some(raw) = from_hex(nonce) else {
            return NonceState::Unknown;
        };
        let mut key = [0u8; TS_LEN + SALT_LEN];
        key.copy_from_slice(&raw[..TS_LEN + SALT_LEN]);
        // `verify_truncated_left` compares in constant time.
        if self
            .mac(&key)
            .verify_truncated_left(&raw[TS_LEN + SALT_LEN..])
            .is_err()
        {
            return NonceState::Unknown;
        }
        let issued = timestamp(&key);
        let age = self.ms(now).saturating_sub(issued);
        let lifetime = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        if age > lifetime || self.lock().floor.is_some_and(|f| issued <= f) {
            return NonceState::Stale;
        }
        NonceState::Fresh(key)
    }

    /// Records a use of the fresh nonce `key` with nonce-count `nc` (`None`
    /// without `qop`) at `now`: the count must be above every count seen
    /// with this nonce (RFC 7616 §3.4: "the server ... can detect request
    /// replays by maintaining its own copy of this count"), and a nonce
    /// used without `qop` must not come again.
    pub fn record(&self, key: Key, nc: Option<u32>, now: Instant) -> Result<(), UseRefused> {
        let mut table = self.lock();
        let issued = timestamp(&key);
        if table.floor.is_some_and(|f| issued <= f) {
            return Err(UseRefused::Stale);
        }
        let next = match (table.used.get(&key), nc) {
            (None, Some(0)) => return Err(UseRefused::Replay),
            (None, Some(n)) => Used::Counted(n),
            (None, None) => Used::Once,
            (Some(Used::Counted(last)), Some(n)) if n > *last => Used::Counted(n),
            (Some(_), _) => return Err(UseRefused::Replay),
        };
        if !table.used.contains_key(&key) && table.used.len() >= self.max_tracked {
            self.make_room(&mut table, now);
            if table.floor.is_some_and(|f| issued <= f) {
                return Err(UseRefused::Stale);
            }
        }
        table.used.insert(key, next);
        Ok(())
    }

    /// How many used nonces are tracked.
    pub fn tracked(&self) -> usize {
        self.lock().used.len()
    }

    /// Drops expired entries; if that is not enough, the oldest eighth,
    /// raising the floor to the newest of them.
    fn make_room(&self, table: &mut Table, now: Instant) {
        let lifetime = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        let now = self.ms(now);
        table
            .used
            .retain(|k, _| now.saturating_sub(timestamp(k)) <= lifetime);
        if table.used.len() < self.max_tracked {
            return;
        }
        let mut stamps: Vec<u64> = table.used.keys().map(timestamp).collect();
        stamps.sort_unstable();
        let Some(&cut) = stamps.get(stamps.len() / 8) else {
            return;
        };
        table.used.retain(|k, _| timestamp(k) > cut);
        table.floor = Some(table.floor.map_or(cut, |f| f.max(cut)));
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Every update is a single insert or retain: a panic elsewhere while
        // the lock is held cannot leave the table inconsistent.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn timestamp(key: &Key) -> u64 {
    let mut ts = [0u8; TS_LEN];
    ts.copy_from_slice(&key[..TS_LEN]);
    u64::from_be_bytes(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_nonces_check_and_expire() {
        let n = Nonces::new(Duration::from_secs(30), 100).unwrap();
        let t0 = Instant::now();
        let nonce = n.issue(t0);
        assert_eq!(nonce.len(), 64);
        assert!(matches!(n.check(&nonce, t0), NonceState::Fresh(_)));
        assert!(matches!(
            n.check(&nonce, t0 + Duration::from_secs(30)),
            NonceState::Fresh(_)
        ));
        assert_eq!(
            n.check(&nonce, t0 + Duration::from_secs(31)),
            NonceState::Stale
        );
        assert_ne!(n.issue(t0), nonce, "salted");
    }

    #[test]
    fn foreign_or_altered_nonces_are_unknown() {
        let a = Nonces::new(Duration::from_secs(30), 100).unwrap();
        let b = Nonces::new(Duration::from_secs(30), 100).unwrap();
        let t0 = Instant::now();
        let nonce = a.issue(t0);
        assert_eq!(b.check(&nonce, t0), NonceState::Unknown, "other secret");
        let mut altered = nonce.clone().into_bytes();
        altered[3] = if altered[3] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(a.check(&altered, t0), NonceState::Unknown);
        for bad in [
            "",
            "xyz",
            &nonce[..62],
            &format!("{nonce}00"),
            &"g".repeat(64),
        ] {
            assert_eq!(a.check(bad, t0), NonceState::Unknown, "{bad:?}");
        }
        // Upper-case hex is the same nonce.
        assert!(matches!(
            a.check(&nonce.to_ascii_uppercase(), t0),
            NonceState::Fresh(_)
        ));
    }

    #[test]
    fn counts_must_increase() {
        let n = Nonces::new(Duration::from_secs(30), 100).unwrap();
        let t0 = Instant::now();
        let NonceState::Fresh(k) = n.check(&n.issue(t0), t0) else {
            panic!()
        };
        assert_eq!(n.record(k, Some(0), t0), Err(UseRefused::Replay));
        assert_eq!(n.record(k, Some(1), t0), Ok(()));
        assert_eq!(n.record(k, Some(1), t0), Err(UseRefused::Replay));
        assert_eq!(n.record(k, Some(3), t0), Ok(()));
        assert_eq!(n.record(k, Some(2), t0), Err(UseRefused::Replay));
        assert_eq!(n.record(k, None, t0), Err(UseRefused::Replay));
        let NonceState::Fresh(k) = n.check(&n.issue(t0), t0) else {
            panic!()
        };
        assert_eq!(n.record(k, None, t0), Ok(()));
        assert_eq!(n.record(k, None, t0), Err(UseRefused::Replay));
        assert_eq!(n.record(k, Some(1), t0), Err(UseRefused::Replay));
    }

    #[test]
    fn a_full_table_drops_the_oldest_and_makes_them_stale() {
        let n = Nonces::new(Duration::from_secs(300), 16).unwrap();
        let t0 = Instant::now();
        let nonces: Vec<String> = (0..16)
            .map(|i| n.issue(t0 + Duration::from_secs(i)))
            .collect();
        let now = t0 + Duration::from_secs(20);
        for nonce in &nonces {
            let NonceState::Fresh(k) = n.check(nonce, now) else {
                panic!()
            };
            n.record(k, Some(1), now).unwrap();
        }
        assert_eq!(n.tracked(), 16);
        let newest = n.issue(now);
        let NonceState::Fresh(k) = n.check(&newest, now) else {
            panic!()
        };
        n.record(k, Some(1), now).unwrap();
        assert!(n.tracked() <= 16);
        // The oldest were dropped: they are stale now, never replayable.
        assert_eq!(n.check(&nonces[0], now), NonceState::Stale);
        assert_eq!(n.check(&nonces[1], now), NonceState::Stale);
        // The newest still are tracked.
        let NonceState::Fresh(k) = n.check(&nonces[15], now) else {
            panic!()
        };
        assert_eq!(n.record(k, Some(1), now), Err(UseRefused::Replay));
        assert_eq!(n.record(k, Some(2), now), Ok(()));
    }

    #[test]
    fn expired_entries_go_first() {
        let n = Nonces::new(Duration::from_secs(10), 4).unwrap();
        let t0 = Instant::now();
        for i in 0..4 {
            let nonce = n.issue(t0 + Duration::from_millis(i));
            let NonceState::Fresh(k) = n.check(&nonce, t0) else {
                panic!()
            };
            n.record(k, Some(1), t0).unwrap();
        }
        let later = t0 + Duration::from_secs(60);
        let nonce = n.issue(later);
        let NonceState::Fresh(k) = n.check(&nonce, later) else {
            panic!()
        };
        n.record(k, Some(1), later).unwrap();
        assert_eq!(n.tracked(), 1, "the four expired ones were purged");
        assert!(n.lock().floor.is_none(), "no live entry had to go");
    }
}
