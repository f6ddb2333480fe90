use super::*;
use crate::locate::StaticResolver;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A resolver that counts its lookups and can be told to fail.
struct Counting {
    table: StaticResolver,
    calls: AtomicUsize,
    fail: Mutex<Option<DnsError>>,
}

impl Counting {
    fn new(table: StaticResolver) -> Self {
        Counting {
            table,
            calls: AtomicUsize::new(0),
            fail: Mutex::new(None),
        }
    }

    fn failing(self, e: DnsError) -> Self {
        *self.fail.lock().unwrap() = Some(e);
        self
    }

    fn answer<'a, T: Send + 'a>(&'a self, table: DnsFuture<'a, T>) -> DnsFuture<'a, T> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.fail.lock().unwrap().clone() {
            Some(e) => Box::pin(std::future::ready(Err(e))),
            None => table,
        }
    }
}

impl DnsResolver for Counting {
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr> {
        self.answer(DnsResolver::naptr(&self.table, name))
    }
    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv> {
        self.answer(DnsResolver::srv(&self.table, name))
    }
    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr> {
        self.answer(DnsResolver::ip(&self.table, name))
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn calls(c: &CachingResolver<Counting>) -> usize {
    c.inner().calls.load(Ordering::SeqCst)
}

async fn advance(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn answers_are_kept_for_their_ttl() {
    let table = StaticResolver::new()
        .host("sip.example.com", [ip("192.0.2.1")])
        .ttl(Duration::from_secs(60));
    let cache = CachingResolver::new(Counting::new(table));
    let first = cache.ip("sip.example.com").await.unwrap();
    assert_eq!(
        first,
        [Answer::new(ip("192.0.2.1"), Duration::from_secs(60))]
    );
    assert_eq!(calls(&cache), 1);

    advance(50).await;
    // Served from the cache, case and final dot aside, with the TTL left.
    let again = cache.ip("SIP.example.com.").await.unwrap();
    assert_eq!(again[0].ttl, Duration::from_secs(10));
    assert_eq!(calls(&cache), 1);

    advance(11).await;
    cache.ip("sip.example.com").await.unwrap();
    assert_eq!(calls(&cache), 2, "expired: asked again");
}

#[tokio::test(start_paused = true)]
async fn ttls_are_clamped_and_zero_is_not_cached() {
    let long = StaticResolver::new()
        .srv("_sip._udp.example.com", [Srv::new(1, 1, 5060, "a")])
        .ttl(Duration::from_secs(86_400 * 7));
    let config = CacheConfig {
        max_ttl: Duration::from_secs(3600),
        ..CacheConfig::default()
    };
    let cache = CachingResolver::with_config(Counting::new(long), config);
    cache.srv("_sip._udp.example.com").await.unwrap();
    advance(3599).await;
    cache.srv("_sip._udp.example.com").await.unwrap();
    assert_eq!(calls(&cache), 1);
    advance(2).await;
    cache.srv("_sip._udp.example.com").await.unwrap();
    assert_eq!(calls(&cache), 2, "kept one hour at most");

    let zero = StaticResolver::new()
        .host("a", [ip("192.0.2.1")])
        .ttl(Duration::ZERO);
    let cache = CachingResolver::new(Counting::new(zero));
    cache.ip("a").await.unwrap();
    cache.ip("a").await.unwrap();
    assert_eq!(calls(&cache), 2, "TTL 0: not cached (RFC 1035 §3.2.1)");
    assert!(cache.is_empty());
}

#[tokio::test(start_paused = true)]
async fn negative_answers_are_kept_briefly() {
    let config = CacheConfig {
        negative_ttl: Duration::from_secs(30),
        ..CacheConfig::default()
    };
    let cache = CachingResolver::with_config(Counting::new(StaticResolver::new()), config);
    assert_eq!(cache.naptr("example.com").await, Err(DnsError::NotFound));
    advance(29).await;
    assert_eq!(cache.naptr("example.com").await, Err(DnsError::NotFound));
    assert_eq!(calls(&cache), 1);
    advance(2).await;
    assert_eq!(cache.naptr("example.com").await, Err(DnsError::NotFound));
    assert_eq!(calls(&cache), 2);
}

#[tokio::test(start_paused = true)]
async fn failures_are_not_cached() {
    let inner = Counting::new(StaticResolver::new()).failing(DnsError::Timeout);
    let cache = CachingResolver::new(inner);
    assert_eq!(cache.srv("x").await, Err(DnsError::Timeout));
    assert_eq!(cache.srv("x").await, Err(DnsError::Timeout));
    assert_eq!(calls(&cache), 2);
    assert!(cache.is_empty());
}

#[tokio::test(start_paused = true)]
async fn record_types_are_cached_apart() {
    let table = StaticResolver::new()
        .host("example.com", [ip("192.0.2.1")])
        .srv("example.com", [Srv::new(1, 1, 5060, "a")]);
    let cache = CachingResolver::new(Counting::new(table));
    cache.ip("example.com").await.unwrap();
    cache.srv("example.com").await.unwrap();
    assert_eq!(cache.naptr("example.com").await, Err(DnsError::NotFound));
    assert_eq!(cache.len(), 3);
    cache.ip("example.com").await.unwrap();
    cache.srv("example.com").await.unwrap();
    assert_eq!(calls(&cache), 3);
}

#[tokio::test(start_paused = true)]
async fn the_oldest_entry_goes_when_full() {
    let mut table = StaticResolver::new();
    for name in ["a", "b", "c", "d"] {
        table = table.host(name, [ip("192.0.2.1")]);
    }
    let config = CacheConfig {
        max_entries: 3,
        ..CacheConfig::default()
    };
    let cache = CachingResolver::with_config(Counting::new(table), config);
    for name in ["a", "b", "c", "d"] {
        cache.ip(name).await.unwrap();
        advance(1).await;
    }
    assert_eq!(cache.len(), 3);
    assert_eq!(calls(&cache), 4);
    for name in ["b", "c", "d"] {
        cache.ip(name).await.unwrap();
    }
    assert_eq!(calls(&cache), 4, "b, c, d still cached");
    cache.ip("a").await.unwrap();
    assert_eq!(calls(&cache), 5, "a was evicted");
    assert_eq!(cache.len(), 3);
    cache.clear();
    assert!(cache.is_empty());
}
