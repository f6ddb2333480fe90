//! [`DialogHandle`]: application events for a live dialog's handler.

use super::inbox::Aside;
use crate::dialog::DialogId;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Sends application events to a live dialog's handler. Cheap to clone.
///
/// Events go through the server's core, which wakes the dialog if it is
/// idle; holding a handle costs the dialog nothing.
pub struct DialogHandle<E> {
    pub(crate) id: DialogId,
    pub(crate) tx: mpsc::UnboundedSender<Aside<E>>,
    /// Cleared when the dialog ends.
    pub(crate) alive: Arc<AtomicBool>,
}

impl<E> Clone for DialogHandle<E> {
    fn clone(&self) -> Self {
        DialogHandle {
            id: self.id.clone(),
            tx: self.tx.clone(),
            alive: self.alive.clone(),
        }
    }
}

impl<E: Send + 'static> DialogHandle<E> {
    /// Delivers `event` to the handler's `event` method. Gives the event
    /// back if the dialog has ended (an event racing the dialog's end is
    /// dropped).
    pub fn send(&self, event: E) -> Result<(), E> {
        if self.is_closed() {
            return Err(event);
        }
        self.tx
            .send(Aside::Event(self.id.clone(), event))
            .map_err(|e| match e.0 {
                Aside::Event(_, event) => event,
                // What comes back is what was sent.
                _ => unreachable!("a dialog handle sends only events"),
            })
    }

    /// The dialog the handle delivers to, as the server names it (local
    /// tag ours, remote tag the peer's).
    pub fn dialog_id(&self) -> &DialogId {
        &self.id
    }

    /// Whether the dialog has ended.
    pub fn is_closed(&self) -> bool {
        !self.alive.load(Ordering::Acquire) || self.tx.is_closed()
    }
}

impl<E> fmt::Debug for DialogHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialogHandle").finish_non_exhaustive()
    }
}
