//! Hash maps keyed by what peers send (Call-IDs, tags, branches).
//!
//! The standard library's SipHash costs about a hundred instructions per
//! key and a call looks its dialog and transactions up a dozen times.
//! aHash with keys from the operating system's generator (drawn once per
//! process, varied per map) is a few times cheaper and still keeps
//! collisions from being provoked from outside, which is what a table of
//! attacker-chosen keys needs.

use std::collections::HashMap;

/// The hasher of [`KeyedMap`]: aHash, keyed at random.
pub(crate) type KeyedState = ahash::RandomState;

/// A `HashMap` over keys a peer chooses.
pub(crate) type KeyedMap<K, V> = HashMap<K, V, KeyedState>;
