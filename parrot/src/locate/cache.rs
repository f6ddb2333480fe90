//! A cache in front of any [`DnsResolver`], honouring TTLs.

use super::error::DnsError;
use super::records::{Answer, Naptr, Srv, normalize};
use super::resolver::{DnsFuture, DnsResolver, DnsResult};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// How [`CachingResolver`] keeps answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// The longest an answer is kept, whatever its TTL says. Default one
    /// hour.
    pub max_ttl: Duration,
    /// How long a negative answer ([`DnsError::NotFound`]) is kept
    /// (RFC 2308 §5 caches negative answers; this fixed period stands for
    /// the SOA minimum). Default 30 s.
    pub negative_ttl: Duration,
    /// The most entries kept (one per name and record type); past it the
    /// oldest entry goes. Default 10,000.
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_ttl: Duration::from_secs(3600),
            negative_ttl: Duration::from_secs(30),
            max_entries: 10_000,
        }
    }
}

/// A [`DnsResolver`] that keeps the answers of another.
///
/// A positive answer is kept for the smallest TTL among its records,
/// clamped to [`CacheConfig::max_ttl`] (a TTL of zero is not cached,
/// RFC 1035 §3.2.1); answers served from the cache carry the TTL that
/// remains. [`DnsError::NotFound`] is kept for
/// [`CacheConfig::negative_ttl`]; timeouts and failures are not kept, so
/// the next lookup asks again. The cache holds at most
/// [`CacheConfig::max_entries`] entries, evicting the oldest first.
///
/// Time is tokio's clock, so tests run it paused.
#[derive(Debug)]
pub struct CachingResolver<R> {
    inner: R,
    config: CacheConfig,
    state: Mutex<State>,
}

/// Which lookup an entry answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Naptr,
    Srv,
    Ip,
}

#[derive(Debug, Clone)]
enum Cached {
    Naptr(Vec<Answer<Naptr>>),
    Srv(Vec<Answer<Srv>>),
    Ip(Vec<Answer<IpAddr>>),
    NotFound,
}

#[derive(Debug)]
struct Entry {
    value: Cached,
    expires: Instant,
    /// Its key in `State::age`.
    seq: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<(Kind, String), Entry>,
    /// Insertion order: the oldest entry first.
    age: BTreeMap<u64, (Kind, String)>,
    next_seq: u64,
}

impl State {
    fn remove(&mut self, key: &(Kind, String)) {
        if let Some(e) = self.entries.remove(key) {
            self.age.remove(&e.seq);
        }
    }

    fn insert(&mut self, key: (Kind, String), value: Cached, expires: Instant, max: usize) {
        self.remove(&key);
        while self.entries.len() >= max.max(1) {
            let Some((_, oldest)) = self.age.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.age.insert(seq, key.clone());
        self.entries.insert(
            key,
            Entry {
                value,
                expires,
                seq,
            },
        );
    }
}

/// A record type the cache stores.
trait Record: Clone + Send + Sync + 'static {
    const KIND: Kind;
    fn wrap(answers: Vec<Answer<Self>>) -> Cached;
    fn unwrap(cached: &Cached) -> Option<&Vec<Answer<Self>>>;
}

macro_rules! record {
    ($t:ty, $kind:ident) => {
        impl Record for $t {
            const KIND: Kind = Kind::$kind;
            fn wrap(answers: Vec<Answer<Self>>) -> Cached {
                Cached::$kind(answers)
            }
            fn unwrap(cached: &Cached) -> Option<&Vec<Answer<Self>>> {
                match cached {
                    Cached::$kind(a) => Some(a),
                    _ => None,
                }
            }
        }
    };
}

record!(Naptr, Naptr);
record!(Srv, Srv);
record!(IpAddr, Ip);

impl<R: DnsResolver> CachingResolver<R> {
    /// `inner` behind a cache with the default [`CacheConfig`].
    pub fn new(inner: R) -> Self {
        CachingResolver::with_config(inner, CacheConfig::default())
    }

    /// `inner` behind a cache configured by `config`.
    pub fn with_config(inner: R, config: CacheConfig) -> Self {
        CachingResolver {
            inner,
            config,
            state: Mutex::new(State::default()),
        }
    }

    /// The resolver behind the cache.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The number of entries held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every answer.
    pub fn clear(&self) {
        *self.lock() = State::default();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after any panic: a poisoned lock is
        // still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for `key`, with the TTLs that remain, unless
    /// absent or expired (an expired entry is dropped).
    fn get<T: Record>(&self, key: &(Kind, String)) -> Option<DnsResult<T>> {
        let now = Instant::now();
        let mut state = self.lock();
        let entry = state.entries.get(key)?;
        if entry.expires <= now {
            state.remove(key);
            return None;
        }
        let left = entry.expires - now;
        Some(match &entry.value {
            Cached::NotFound => Err(DnsError::NotFound),
            other => Ok(T::unwrap(other)?
                .iter()
                .map(|a| Answer::new(a.record.clone(), a.ttl.min(left)))
                .collect()),
        })
    }

    fn put<T: Record>(&self, key: (Kind, String), result: &DnsResult<T>) {
        let (value, ttl) = match result {
            Ok(answers) if !answers.is_empty() => {
                let ttl = answers.iter().map(|a| a.ttl).min().unwrap_or_default();
                (T::wrap(answers.clone()), ttl.min(self.config.max_ttl))
            }
            Ok(_) | Err(DnsError::NotFound) => (Cached::NotFound, self.config.negative_ttl),
            Err(_) => return,
        };
        if ttl.is_zero() {
            return;
        }
        let expires = Instant::now() + ttl;
        self.lock()
            .insert(key, value, expires, self.config.max_entries);
    }

    fn lookup<'a, T: Record>(
        &'a self,
        name: &'a str,
        ask: impl FnOnce() -> DnsFuture<'a, T> + Send + 'a,
    ) -> DnsFuture<'a, T> {
        let key = (T::KIND, normalize(name));
        Box::pin(async move {
            if let Some(hit) = self.get::<T>(&key) {
                return hit;
            }
            let result = ask().await;
            self.put(key, &result);
            match result {
                Ok(a) if a.is_empty() => Err(DnsError::NotFound),
                other => other,
            }
        })
    }
}

impl<R: DnsResolver> DnsResolver for CachingResolver<R> {
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr> {
        self.lookup(name, || self.inner.naptr(name))
    }

    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv> {
        self.lookup(name, || self.inner.srv(name))
    }

    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr> {
        self.lookup(name, || self.inner.ip(name))
    }
}

#[cfg(test)]
mod tests;
