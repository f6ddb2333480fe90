//! The location service's storage: the [`LocationStore`] trait, the
//! update a REGISTER makes, and the rule every store applies to it.

use super::binding::Binding;
use crate::transport::ConnectionId;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The future a [`LocationStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The REGISTER is older than a binding it touches: same Call-ID, CSeq
    /// not higher (RFC 3261 §10.3 steps 6 and 7). Nothing changed.
    #[error("out of order CSeq")]
    OutOfOrder,
    /// The address-of-record would have more bindings than allowed.
    /// Nothing changed.
    #[error("too many bindings (at most {limit})")]
    TooManyBindings {
        /// The limit.
        limit: usize,
    },
    /// The store cannot be reached, or did not answer in time: nothing is
    /// known to have changed; the request may be retried later (`503`
    /// with `Retry-After`).
    #[error("location store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with something it should not have (`500`).
    #[error("location store failed: {0}")]
    Failed(String),
}

/// What one REGISTER does to the bindings of its address-of-record, all
/// together or not at all (RFC 3261 §10.3 steps 6 and 7).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The REGISTER's Call-ID.
    pub call_id: String,
    /// The REGISTER's CSeq number.
    pub cseq: u32,
    /// `Contact: *` with `Expires: 0`: remove every binding (§10.3 step 6).
    pub remove_all: bool,
    /// The contacts to add, refresh or remove, in the request's order.
    pub changes: Vec<Change>,
    /// The most bindings the address-of-record may have afterwards.
    pub max_bindings: usize,
}

/// One contact of a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add the binding, or replace the one with its key.
    Set(Box<Binding>),
    /// Remove the binding with this key (a contact with lifetime 0).
    Remove {
        /// The [`binding_key`](super::binding_key) of the contact.
        key: String,
    },
}

impl Change {
    fn key(&self) -> &str {
        match self {
            Change::Set(b) => &b.key,
            Change::Remove { key } => key,
        }
    }
}

/// Applies `update` to `bindings`, the live bindings of one
/// address-of-record: RFC 3261 §10.3 steps 6 and 7. On error `bindings`
/// is left as it was. Stores call this inside whatever makes their update
/// atomic.
pub fn apply(bindings: &mut Vec<Binding>, update: &Update) -> Result<(), StoreError> {
    let older = |b: &Binding| b.call_id == update.call_id && update.cseq <= b.cseq;
    if update.remove_all {
        // Step 6: each binding goes unless this request is older than it.
        if bindings.iter().any(older) {
            return Err(StoreError::OutOfOrder);
        }
        bindings.clear();
        return Ok(());
    }
    // Step 7: every contact is checked before any is applied.
    for change in &update.changes {
        if bindings.iter().any(|b| b.key == change.key() && older(b)) {
            return Err(StoreError::OutOfOrder);
        }
    }
    let mut next = bindings.clone();
    for change in &update.changes {
        let found = next.iter().position(|b| b.key == change.key());
        match (change, found) {
            (Change::Set(b), Some(i)) => next[i] = (**b).clone(),
            (Change::Set(b), None) => next.push((**b).clone()),
            (Change::Remove { .. }, Some(i)) => {
                next.remove(i);
            }
            (Change::Remove { .. }, None) => {}
        }
    }
    if next.len() > update.max_bindings && next.len() > bindings.len() {
        return Err(StoreError::TooManyBindings {
            limit: update.max_bindings,
        });
    }
    *bindings = next;
    Ok(())
}

/// Where the location service keeps its bindings: in this process
/// ([`MemoryStore`](super::MemoryStore), the default) or shared by
/// several (a Redis store). Every method is atomic for one
/// address-of-record; lapsed bindings are never returned.
pub trait LocationStore: Send + Sync + 'static {
    /// Applies `update` to `aor`'s bindings atomically ([`apply`]) and
    /// returns the live bindings afterwards, each with its remaining
    /// lifetime.
    fn update<'a>(&'a self, aor: &'a str, update: &'a Update) -> StoreFuture<'a, Vec<Binding>>;

    /// The live bindings of `aor`, each with its remaining lifetime.
    fn lookup<'a>(&'a self, aor: &'a str) -> StoreFuture<'a, Vec<Binding>>;

    /// Removes every binding whose flow is `connection` of this process
    /// (it has closed, RFC 5626 §5.3); returns how many went.
    fn remove_flow<'a>(&'a self, connection: ConnectionId) -> StoreFuture<'a, usize>;

    /// Removes every binding whose flow is a connection of this process
    /// that `is_open` says has closed (some closings were missed); returns
    /// how many went.
    fn retain_open_flows<'a>(
        &'a self,
        is_open: &'a (dyn Fn(ConnectionId) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize>;
}

/// How long a store may take to answer before the registrar gives up on
/// it with `503` (a store applies it to its own round trips too).
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);
