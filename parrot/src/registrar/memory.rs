//! The location store kept in this process: the default, nothing to
//! install.

use super::binding::Binding;
use super::store::{LocationStore, StoreFuture, Update, apply};
use crate::transport::ConnectionId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;
use tracing::debug;

/// A binding with its lapse time.
#[derive(Debug, Clone)]
struct Stored {
    binding: Binding,
    lapses: Instant,
}

/// Bindings by address-of-record in this process's memory, timed on
/// tokio's clock (so tests on a paused clock see them lapse). Clones share
/// one table. Lapsed bindings are dropped when their address-of-record is
/// next used and by [`sweep`](Self::sweep).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    table: Arc<Mutex<HashMap<String, Vec<Stored>>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Stored>>> {
        // Every update is one assignment: a poisoned lock is consistent.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops every lapsed binding; returns how many went.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut table = self.lock();
        let before: usize = table.values().map(Vec::len).sum();
        table.retain(|_, list| {
            list.retain(|s| s.lapses > now);
            !list.is_empty()
        });
        before - table.values().map(Vec::len).sum::<usize>()
    }

    /// The live bindings of `aor` (in canonical form), each with its
    /// remaining lifetime: [`LocationStore::lookup`] without the future,
    /// for inspection and tests.
    pub fn bindings(&self, aor: &str) -> Vec<Binding> {
        let now = Instant::now();
        self.lock()
            .get(aor)
            .map(|l| live(l, now))
            .unwrap_or_default()
    }

    /// Starts a task that runs [`sweep`](Self::sweep) every `every`
    /// (default [`SWEEP_INTERVAL`]). It ends by itself once every clone of
    /// this store is gone.
    pub fn spawn_sweeper(&self, every: Duration) {
        let table = Arc::downgrade(&self.table);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(table) = table.upgrade() else { break };
                let gone = MemoryStore { table }.sweep();
                if gone > 0 {
                    debug!(gone, "swept lapsed bindings");
                }
            }
        });
    }

    /// How many bindings are stored, lapsed ones not yet dropped included.
    pub fn stored(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// How many addresses-of-record have bindings stored.
    pub fn aors(&self) -> usize {
        self.lock().len()
    }

    /// Keeps only the bindings whose flow, if any, passes `keep`.
    fn retain_flows(&self, keep: impl Fn(ConnectionId) -> bool) -> usize {
        let mut table = self.lock();
        let before: usize = table.values().map(Vec::len).sum();
        table.retain(|_, list| {
            list.retain(|s| s.binding.flow.and_then(|f| f.flow).is_none_or(&keep));
            !list.is_empty()
        });
        before - table.values().map(Vec::len).sum::<usize>()
    }
}

/// The live bindings of `list` at `now`, with their remaining lifetimes.
fn live(list: &[Stored], now: Instant) -> Vec<Binding> {
    list.iter()
        .filter(|s| s.lapses > now)
        .map(|s| Binding {
            expires: s.lapses - now,
            ..s.binding.clone()
        })
        .collect()
}

impl LocationStore for MemoryStore {
    fn update<'a>(&'a self, aor: &'a str, update: &'a Update) -> StoreFuture<'a, Vec<Binding>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut table = self.lock();
            let mut bindings = table.get(aor).map(|l| live(l, now)).unwrap_or_default();
            apply(&mut bindings, update)?;
            let stored: Vec<Stored> = bindings
                .iter()
                .map(|b| Stored {
                    binding: b.clone(),
                    lapses: now + b.expires,
                })
                .collect();
            if stored.is_empty() {
                table.remove(aor);
            } else {
                table.insert(aor.to_owned(), stored);
            }
            Ok(bindings)
        })
    }

    fn lookup<'a>(&'a self, aor: &'a str) -> StoreFuture<'a, Vec<Binding>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut table = self.lock();
            let Some(list) = table.get_mut(aor) else {
                return Ok(Vec::new());
            };
            list.retain(|s| s.lapses > now);
            if list.is_empty() {
                table.remove(aor);
                return Ok(Vec::new());
            }
            Ok(live(list, now))
        })
    }

    fn remove_flow<'a>(&'a self, connection: ConnectionId) -> StoreFuture<'a, usize> {
        Box::pin(async move { Ok(self.retain_flows(|id| id != connection)) })
    }

    fn retain_open_flows<'a>(
        &'a self,
        is_open: &'a (dyn Fn(ConnectionId) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move { Ok(self.retain_flows(is_open)) })
    }
}

/// How often a [`MemoryStore`]'s lapsed bindings are usually swept
/// ([`MemoryStore::spawn_sweeper`]).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
