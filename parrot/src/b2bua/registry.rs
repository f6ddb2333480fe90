//! The bridges of a server by the caller's dialog, so that an attended
//! transfer between two of them (RFC 5589 §7: the caller has a call with
//! two callees through this server and joins them) is carried out here:
//! the REFER's `Refer-To` names one of this server's own calls in its
//! `Replaces` (RFC 3891), which no INVITE could reach, so the bridge that
//! holds that call hands its callee's leg over instead, and its caller's
//! leg ends as a replaced call does.

use super::BridgeEvent;
use crate::client::{Call, PeerRequests};
use crate::dialog::DialogId;
use crate::server::DialogHandle;
use bytes::Bytes;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Asks a bridge for its callee's leg.
type Asker = Box<dyn Fn(Handover) -> bool + Send + Sync>;

/// The bridges of a server, by the caller's dialog. Cheap to clone:
/// give every [`Bridge`](super::Bridge) of a server the same one
/// ([`Bridge::joins`](super::Bridge::joins)).
#[derive(Clone, Default)]
pub struct Bridges {
    inner: Arc<Mutex<HashMap<DialogId, Asker>>>,
}

impl fmt::Debug for Bridges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridges")
            .field("bridged", &self.len())
            .finish()
    }
}

/// A request to hand the callee's leg over to another bridge, delivered
/// as [`BridgeEvent::Handover`].
pub struct Handover(pub(super) oneshot::Sender<Surrendered>);

impl fmt::Debug for Handover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handover").finish_non_exhaustive()
    }
}

/// A callee's leg handed over: its call, its requests and its
/// description in force.
pub(super) struct Surrendered {
    pub(super) call: Call,
    pub(super) requests: Option<PeerRequests>,
    pub(super) sdp: Bytes,
}

impl Bridges {
    /// No bridges yet.
    pub fn new() -> Bridges {
        Bridges::default()
    }

    /// How many bridged calls are registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DialogId, Asker>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the bridge of the caller's dialog `dialog` until the
    /// returned value is dropped.
    pub(super) fn register<E: From<BridgeEvent> + Send + 'static>(
        &self,
        dialog: DialogHandle<E>,
    ) -> Registration {
        let id = dialog.dialog_id().clone();
        let asker: Asker =
            Box::new(move |h| dialog.send(E::from(BridgeEvent::Handover(h))).is_ok());
        self.lock().insert(id.clone(), asker);
        Registration {
            bridges: self.clone(),
            id,
        }
    }

    /// Asks the bridge of the caller's dialog `id` for its callee's leg;
    /// `None` when no bridge of this server holds that dialog.
    pub(super) fn ask(&self, id: &DialogId) -> Option<oneshot::Receiver<Surrendered>> {
        let (tx, rx) = oneshot::channel();
        let map = self.lock();
        let asker = map.get(id)?;
        asker(Handover(tx)).then_some(rx)
    }
}

/// A bridge's entry in [`Bridges`], removed when dropped.
pub(super) struct Registration {
    bridges: Bridges,
    id: DialogId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.bridges.lock().remove(&self.id);
    }
}
