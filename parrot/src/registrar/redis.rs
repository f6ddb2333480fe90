//! The location store in Redis (feature `redis`): [`RedisStore`].

use super::binding::Binding;
use super::store::{LocationStore, StoreError, StoreFuture, Update, apply};
use crate::message::Uri;
use crate::message::typed::{Contact, TypedHeader};
use crate::transport::{ConnectionId, Protocol, Target};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, RedisError, Script, ServerErrorKind};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

/// How a [`RedisStore`] uses Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Put before each address-of-record to make its key (default
    /// `parrot:loc:`).
    pub key_prefix: String,
    /// The longest one operation may take, connecting and retrying
    /// included; also each command's response timeout and each
    /// connection attempt's timeout (default 1 s). Keep it below the
    /// registrar's [`store_timeout`](super::RegistrarConfig::store_timeout).
    pub timeout: Duration,
    /// This process's name among those sharing the store, which its
    /// flows are stored with (default: 64 random bits in hex, different
    /// for every store made).
    pub node_id: String,
    /// The most operations under way at once; more are refused at once
    /// with [`StoreError::Unavailable`] rather than queued (default 256).
    pub max_in_flight: usize,
    /// How many times an update is tried when other writers keep changing
    /// the address-of-record between its read and its write (default 16);
    /// then [`StoreError::Unavailable`].
    pub max_attempts: u32,
    /// The most (connection, address-of-record) pairs remembered for
    /// [`LocationStore::remove_flow`] (default 100 000). Beyond it a new
    /// flow binding is still stored, but lapses instead of going with its
    /// connection.
    pub max_flow_entries: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: "parrot:loc:".to_owned(),
            timeout: Duration::from_secs(1),
            node_id: crate::random::tag().as_str().to_owned(),
            max_in_flight: 256,
            max_attempts: 16,
            max_flow_entries: 100_000,
        }
    }
}

/// Reads one address-of-record: Redis's time, the key's type, its
/// version and its bindings. Always five values (`false` is nil).
const READ: &str = r"
local now = redis.call('TIME')
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'hash' then
  return {now[1], now[2], t, false, false}
end
local got = redis.call('HMGET', KEYS[1], 'v', 'b')
return {now[1], now[2], t, got[1], got[2]}
";

/// Writes one address-of-record if its version is still ARGV[1] (empty:
/// no key): version ARGV[2], bindings ARGV[3] (empty: delete the key),
/// expiring at ARGV[4] (Unix ms). 1 when written, 0 on a conflict.
const WRITE: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'hash' and t ~= 'none' then
  return 0
end
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then
  return 0
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'b', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
";

/// A binding as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    /// The Contact header value.
    #[serde(rename = "c")]
    contact: String,
    #[serde(rename = "k")]
    key: String,
    #[serde(rename = "i")]
    call_id: String,
    #[serde(rename = "s")]
    cseq: u32,
    /// When it lapses: Unix milliseconds on Redis's clock.
    #[serde(rename = "l")]
    lapses_ms: u64,
    #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
    path: Vec<String>,
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    flow: Option<StoredFlow>,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    outbound: Option<(String, u32)>,
}

/// A flow as stored: the node it belongs to and its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredFlow {
    #[serde(rename = "n")]
    node: String,
    #[serde(rename = "t")]
    protocol: String,
    #[serde(rename = "a")]
    addr: String,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    connection: Option<u64>,
}

/// One address-of-record as read.
#[derive(Debug)]
struct Snapshot {
    /// Redis's time, in Unix microseconds.
    now_us: u64,
    /// The version; `None` without a key.
    version: Option<u64>,
    /// The live bindings, with their remaining lifetimes; other nodes'
    /// flows are `None`.
    bindings: Vec<Binding>,
    /// Other nodes' flows by binding key, with the Call-ID and CSeq of the
    /// binding they belong to (written back only with that binding).
    foreign: HashMap<String, (String, u32, StoredFlow)>,
}

/// Which of this node's connections have flow bindings under which
/// addresses-of-record.
#[derive(Debug, Default)]
struct FlowIndex {
    by_connection: HashMap<ConnectionId, HashSet<String>>,
    entries: usize,
    full_warned: bool,
}

struct Inner {
    manager: ConnectionManager,
    config: RedisConfig,
    in_flight: Semaphore,
    read: Script,
    write: Script,
    flows: Mutex<FlowIndex>,
    conflicts: AtomicU64,
}

/// A [`LocationStore`] in Redis, shared by every process that uses the
/// same Redis and key prefix. Cheap to clone: clones share the
/// connection.
///
/// - **Layout**: one Redis hash per address-of-record, at
///   `{prefix}{aor}`, with a version counter (`v`) and the bindings as
///   JSON (`b`). Each binding carries its absolute lapse time in Unix
///   milliseconds on Redis's own clock (`TIME`), so the servers' clocks
///   never matter; the key expires (`PEXPIREAT`) with its last binding.
/// - **Atomic updates** (optimistic concurrency): one script reads the
///   value, the version and Redis's time; [`apply`] runs here; a second
///   script writes only if the version is unchanged (or deletes the key
///   when no binding is left). On a conflict the read starts again, a
///   bounded number of times ([`RedisConfig::max_attempts`]).
/// - **Flows** ([`Binding::flow`]): a connection means something only to
///   the process that received it, so each flow is stored with the
///   [`RedisConfig::node_id`] of its process and read back as `None` by
///   the others (who keep it as it was when they write the
///   address-of-record). Each process remembers which of its connections
///   it stored under which address-of-record, so that
///   [`LocationStore::remove_flow`] needs no scan of Redis.
/// - **Failures**: every operation is bounded by [`RedisConfig::timeout`]
///   and by [`RedisConfig::max_in_flight`] operations at once (beyond it,
///   refused at once); an unreachable, slow or overloaded Redis gives
///   [`StoreError::Unavailable`] (`503`), data that does not decode
///   [`StoreError::Failed`] (`500`). The connection is re-established in
///   the background.
///
/// ```no_run
/// use parrot::registrar::{RedisConfig, RedisStore, Registrar, RegistrarConfig};
/// use std::sync::Arc;
///
/// # async fn run() -> Result<(), parrot::registrar::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/", RedisConfig::default()).await?;
/// let registrar = Registrar::new(Arc::new(store), RegistrarConfig::default());
/// // With the server's transport, so that flow bindings go with their
/// // connection: registrar.spawn_upkeep(Some(transport.closed_connections()), None);
/// # let _ = registrar;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// `error` as a store error: the connection or the server's state is
/// [`StoreError::Unavailable`], anything else [`StoreError::Failed`].
fn store_error(error: &RedisError) -> StoreError {
    let unavailable = error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        )
        || error.code() == Some("BUSY");
    if unavailable {
        StoreError::Unavailable(format!("redis: {error}"))
    } else {
        StoreError::Failed(format!("redis: {error}"))
    }
}

/// Whether `error` is the connection's: worth one more try on the
/// connection the manager is re-establishing. Not a timeout: a slow
/// Redis is not asked twice.
fn is_connection_error(error: &RedisError) -> bool {
    !error.is_timeout()
        && (error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal())
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://host:port/db`). The
    /// connection is re-established in the background whenever it
    /// breaks. [`StoreError::Unavailable`] when Redis cannot be reached,
    /// [`StoreError::Failed`] for a bad URL.
    pub async fn connect(url: &str, config: RedisConfig) -> Result<RedisStore, StoreError> {
        let client = ::redis::Client::open(url)
            .map_err(|e| StoreError::Failed(format!("redis URL {url:?}: {e}")))?;
        // A few quick reconnection attempts: a dead Redis must give errors
        // soon, not hold every request while the manager backs off.
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(200))
            .set_exponent_base(2.0)
            .set_response_timeout(Some(config.timeout))
            .set_connection_timeout(Some(config.timeout));
        let bound = config.timeout * 4;
        let mut config = config;
        config.max_in_flight = config.max_in_flight.min(Semaphore::MAX_PERMITS);
        let manager = match tokio::time::timeout(
            bound,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(store_error(&e)),
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "redis at {url:?}: no connection within {bound:?}"
                )));
            }
        };
        Ok(RedisStore {
            inner: Arc::new(Inner {
                manager,
                in_flight: Semaphore::new(config.max_in_flight),
                config,
                read: Script::new(READ),
                write: Script::new(WRITE),
                flows: Mutex::new(FlowIndex::default()),
                conflicts: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// This process's node identifier ([`RedisConfig::node_id`]).
    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    /// The Redis key holding `aor`'s bindings.
    pub fn key(&self, aor: &str) -> String {
        format!("{}{aor}", self.inner.config.key_prefix)
    }

    /// How many operations are under way now.
    pub fn in_flight(&self) -> usize {
        self.inner.config.max_in_flight - self.inner.in_flight.available_permits()
    }

    /// How many writes found the address-of-record changed since their
    /// read and started again, since the store was made.
    pub fn conflicts(&self) -> u64 {
        self.inner.conflicts.load(Ordering::Relaxed)
    }

    /// How many (connection, address-of-record) pairs this process
    /// remembers for [`LocationStore::remove_flow`].
    pub fn flow_entries(&self) -> usize {
        self.flows().entries
    }

    fn flows(&self) -> MutexGuard<'_, FlowIndex> {
        // Every change is complete before the lock is released.
        self.inner.flows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` within the in-flight bound and the timeout.
    async fn guarded<T>(
        &self,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Ok(_permit) = self.inner.in_flight.try_acquire() else {
            return Err(StoreError::Unavailable(format!(
                "{} redis operations already under way",
                self.inner.config.max_in_flight
            )));
        };
        let timeout = self.inner.config.timeout;
        match tokio::time::timeout(timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "redis: no answer within {timeout:?}"
            ))),
        }
    }

    /// Runs `script` on `key` with `args`; a script that only reads
    /// (`rerun`) is tried once more when the connection was lost (the
    /// manager reconnects meanwhile). A write is not: it may have been
    /// done.
    async fn invoke<T: ::redis::FromRedisValue>(
        &self,
        script: &Script,
        rerun: bool,
        key: &str,
        args: &[&[u8]],
    ) -> Result<T, StoreError> {
        let mut invocation = script.key(key);
        for a in args {
            invocation.arg(*a);
        }
        let mut tried = !rerun;
        loop {
            let mut connection = self.inner.manager.clone();
            match invocation.invoke_async(&mut connection).await {
                Ok(v) => return Ok(v),
                Err(e) if !tried && is_connection_error(&e) => {
                    debug!(error = %e, "redis connection lost; trying again");
                    tried = true;
                }
                Err(e) => return Err(store_error(&e)),
            }
        }
    }

    /// Reads `aor`'s live bindings.
    async fn read(&self, aor: &str, key: &str) -> Result<Snapshot, StoreError> {
        type Reply = (u64, u64, String, Option<String>, Option<Vec<u8>>);
        let (secs, micros, kind, version, data): Reply =
            self.invoke(&self.inner.read, true, key, &[]).await?;
        let now_us = secs.saturating_mul(1_000_000).saturating_add(micros);
        let bad = |why: String| {
            warn!(%aor, %key, %why, "undecodable bindings in redis");
            StoreError::Failed(format!("undecodable bindings at {key:?}: {why}"))
        };
        match kind.as_str() {
            "none" => {
                return Ok(Snapshot {
                    now_us,
                    version: None,
                    bindings: Vec::new(),
                    foreign: HashMap::new(),
                });
            }
            "hash" => {}
            other => return Err(bad(format!("a {other}, not a hash"))),
        }
        let version = match version.as_deref().map(str::parse::<u64>) {
            Some(Ok(v)) => v,
            Some(Err(_)) | None => return Err(bad("no version".into())),
        };
        let stored: Vec<Stored> = serde_json::from_slice(data.as_deref().unwrap_or_default())
            .map_err(|e| bad(e.to_string()))?;
        let mut snapshot = Snapshot {
            now_us,
            version: Some(version),
            bindings: Vec::with_capacity(stored.len()),
            foreign: HashMap::new(),
        };
        for s in stored {
            let lapses_us = s.lapses_ms.saturating_mul(1000);
            if lapses_us <= now_us {
                continue;
            }
            let binding = self
                .decode(&s, Duration::from_micros(lapses_us - now_us))
                .map_err(bad)?;
            if let Some(flow) = s.flow.filter(|f| f.node != self.inner.config.node_id) {
                snapshot.foreign.insert(s.key, (s.call_id, s.cseq, flow));
            }
            snapshot.bindings.push(binding);
        }
        Ok(snapshot)
    }

    /// A stored binding, `expires` from now.
    fn decode(&self, s: &Stored, expires: Duration) -> Result<Binding, String> {
        let contact =
            Contact::parse_str(&s.contact).map_err(|e| format!("Contact {:?}: {e}", s.contact))?;
        let path = s
            .path
            .iter()
            .map(|p| p.parse::<Uri>().map_err(|e| format!("Path {p:?}: {e}")))
            .collect::<Result<_, _>>()?;
        let flow = match &s.flow {
            Some(f) if f.node == self.inner.config.node_id => {
                let protocol = Protocol::ALL
                    .into_iter()
                    .find(|p| p.as_str() == f.protocol)
                    .ok_or_else(|| format!("flow protocol {:?}", f.protocol))?;
                let addr = f
                    .addr
                    .parse()
                    .map_err(|_| format!("flow address {:?}", f.addr))?;
                Some(Target {
                    protocol,
                    addr,
                    flow: f.connection.map(ConnectionId),
                })
            }
            _ => None,
        };
        Ok(Binding {
            contact,
            key: s.key.clone(),
            call_id: s.call_id.clone(),
            cseq: s.cseq,
            expires,
            path,
            flow,
            outbound: s.outbound.clone(),
        })
    }

    /// `bindings` as stored at `now_us`, other nodes' flows kept.
    fn encode(&self, bindings: &[Binding], snapshot: &Snapshot) -> Vec<Stored> {
        bindings
            .iter()
            .map(|b| {
                let flow = match b.flow {
                    Some(t) => Some(StoredFlow {
                        node: self.inner.config.node_id.clone(),
                        protocol: t.protocol.as_str().to_owned(),
                        addr: t.addr.to_string(),
                        connection: t.flow.map(ConnectionId::get),
                    }),
                    None => snapshot
                        .foreign
                        .get(&b.key)
                        .filter(|(call_id, cseq, _)| *call_id == b.call_id && *cseq == b.cseq)
                        .map(|(_, _, f)| f.clone()),
                };
                let lapses_us = snapshot
                    .now_us
                    .saturating_add(u64::try_from(b.expires.as_micros()).unwrap_or(u64::MAX));
                Stored {
                    contact: b.contact.to_string(),
                    key: b.key.clone(),
                    call_id: b.call_id.clone(),
                    cseq: b.cseq,
                    // Rounded down: never read back longer than written.
                    lapses_ms: lapses_us / 1000,
                    path: b.path.iter().map(ToString::to_string).collect(),
                    flow,
                    outbound: b.outbound.clone(),
                }
            })
            .collect()
    }

    /// Reads `aor`'s bindings, lets `change` change them, and writes them
    /// back if nobody else wrote in between (else starts again); returns
    /// the bindings afterwards and what `change` returned. No write when
    /// nothing changed.
    async fn modify<R>(
        &self,
        aor: &str,
        mut change: impl FnMut(&mut Vec<Binding>) -> Result<R, StoreError>,
    ) -> Result<(Vec<Binding>, R), StoreError> {
        let key = self.key(aor);
        let attempts = self.inner.config.max_attempts.max(1);
        for attempt in 0..attempts {
            let snapshot = self.read(aor, &key).await?;
            let mut bindings = snapshot.bindings.clone();
            let result = change(&mut bindings)?;
            if bindings == snapshot.bindings {
                return Ok((bindings, result));
            }
            let stored = self.encode(&bindings, &snapshot);
            let expected = snapshot.version.map(|v| v.to_string()).unwrap_or_default();
            // A new key's counter starts at the time in microseconds, above
            // any a deleted predecessor could have reached.
            let version = snapshot
                .version
                .map_or(snapshot.now_us, |v| v.wrapping_add(1))
                .to_string();
            let (data, expire_at) = match stored.iter().map(|s| s.lapses_ms).max() {
                Some(last) => (
                    serde_json::to_vec(&stored)
                        .map_err(|e| StoreError::Failed(format!("encoding bindings: {e}")))?,
                    last,
                ),
                None => (Vec::new(), 0),
            };
            let expire_at = expire_at.to_string();
            let written: i64 = self
                .invoke(
                    &self.inner.write,
                    false,
                    &key,
                    &[
                        expected.as_bytes(),
                        version.as_bytes(),
                        &data,
                        expire_at.as_bytes(),
                    ],
                )
                .await?;
            if written == 1 {
                self.remember_flows(aor, &bindings);
                return Ok((bindings, result));
            }
            self.inner.conflicts.fetch_add(1, Ordering::Relaxed);
            debug!(%aor, attempt, "redis update conflict; reading again");
            // A random pause, its bound doubling with each attempt (from
            // 0.5 ms to 64 ms), so that writers colliding on one
            // address-of-record spread out.
            let ceiling_us = 500u64 << attempt.min(7);
            tokio::time::sleep(Duration::from_micros(crate::random::u64() % ceiling_us)).await;
        }
        Err(StoreError::Unavailable(format!(
            "{aor} changed by others {attempts} times in a row"
        )))
    }

    /// Notes the connections of this node that `bindings` of `aor` are
    /// bound to.
    fn remember_flows(&self, aor: &str, bindings: &[Binding]) {
        let connections = bindings.iter().filter_map(|b| b.flow.and_then(|t| t.flow));
        let limit = self.inner.config.max_flow_entries;
        let mut index = self.flows();
        for connection in connections {
            if index
                .by_connection
                .get(&connection)
                .is_some_and(|aors| aors.contains(aor))
            {
                continue;
            }
            if index.entries >= limit {
                if !index.full_warned {
                    warn!(
                        limit,
                        "flow index full: new flow bindings will lapse instead of closing with their connection"
                    );
                    index.full_warned = true;
                }
                return;
            }
            index
                .by_connection
                .entry(connection)
                .or_default()
                .insert(aor.to_owned());
            index.entries += 1;
        }
    }

    /// Removes the bindings on each of `connections` from every
    /// address-of-record they were stored under; returns how many went.
    /// What could not be removed stays remembered for a later try.
    async fn remove_connections(
        &self,
        connections: Vec<ConnectionId>,
    ) -> Result<usize, StoreError> {
        let work: Vec<(ConnectionId, HashSet<String>)> = {
            let mut index = self.flows();
            let mut work = Vec::new();
            for c in connections {
                if let Some(aors) = index.by_connection.remove(&c) {
                    index.entries -= aors.len();
                    work.push((c, aors));
                }
            }
            work
        };
        let mut gone = 0;
        let mut failure = None;
        let mut left: Vec<(ConnectionId, String)> = Vec::new();
        for (connection, aors) in work {
            for aor in aors {
                if failure.is_some() {
                    left.push((connection, aor));
                    continue;
                }
                let removal = self.guarded(self.modify(&aor, |bindings| {
                    let before = bindings.len();
                    bindings.retain(|b| b.flow.and_then(|t| t.flow) != Some(connection));
                    Ok(before - bindings.len())
                }));
                match removal.await {
                    Ok((_, n)) => gone += n,
                    Err(e) => {
                        failure = Some(e);
                        left.push((connection, aor));
                    }
                }
            }
        }
        if !left.is_empty() {
            let mut index = self.flows();
            for (connection, aor) in left {
                if index
                    .by_connection
                    .entry(connection)
                    .or_default()
                    .insert(aor)
                {
                    index.entries += 1;
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(gone),
        }
    }
}

impl LocationStore for RedisStore {
    fn update<'a>(&'a self, aor: &'a str, update: &'a Update) -> StoreFuture<'a, Vec<Binding>> {
        Box::pin(async move {
            let (bindings, ()) = self
                .guarded(self.modify(aor, |bindings| apply(bindings, update)))
                .await?;
            Ok(bindings)
        })
    }

    fn lookup<'a>(&'a self, aor: &'a str) -> StoreFuture<'a, Vec<Binding>> {
        Box::pin(async move {
            let key = self.key(aor);
            let snapshot = self.guarded(self.read(aor, &key)).await?;
            Ok(snapshot.bindings)
        })
    }

    fn remove_flow<'a>(&'a self, connection: ConnectionId) -> StoreFuture<'a, usize> {
        Box::pin(self.remove_connections(vec![connection]))
    }

    fn retain_open_flows<'a>(
        &'a self,
        is_open: &'a (dyn Fn(ConnectionId) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let closed: Vec<ConnectionId> = self
                .flows()
                .by_connection
                .keys()
                .copied()
                .filter(|c| !is_open(*c))
                .collect();
            self.remove_connections(closed).await
        })
    }
}
