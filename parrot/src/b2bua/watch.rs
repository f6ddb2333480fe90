//! The callee's leg seen from the caller's dialog: a task that delivers
//! its end and its requests (re-INVITE, UPDATE, REFER, INFO...) to the
//! caller's dialog as [`BridgeEvent`]s, until the leg ends or the bridge
//! takes the leg back (a transfer joining it to another call).

use super::{BridgeEvent, CalleeRequest};
use crate::client::{Call, PeerRequests};
use crate::server::DialogHandle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug};

/// The task watching one callee's leg. Dropped, it stops.
pub(super) struct Watcher {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Option<PeerRequests>>,
}

impl Watcher {
    /// Watches `call` for the dialog of `dialog`: its end becomes
    /// [`BridgeEvent::CalleeEnded`], each request of the callee
    /// [`BridgeEvent::CalleeRequest`] (an event for a dialog already gone
    /// is dropped, and its request answered `500` by the client).
    pub(super) fn start<E: From<BridgeEvent> + Send + 'static>(
        call: &mut Call,
        dialog: DialogHandle<E>,
    ) -> Watcher {
        let mut handle = call.handle();
        let mut requests = call.requests();
        let (stop_tx, mut stop) = oneshot::channel::<()>();
        let span = tracing::Span::current();
        let task = tokio::spawn(
            async move {
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut stop => return requests,
                        end = handle.ended() => {
                            debug!(%end, "callee's leg over");
                            if dialog.send(E::from(BridgeEvent::CalleeEnded(end))).is_err() {
                                debug!("caller's dialog already over");
                            }
                            return None;
                        }
                        request = next(&mut requests) => match request {
                            Some(r) => {
                                debug!(method = %r.method(), "callee's request: to the caller's dialog");
                                if dialog.send(E::from(BridgeEvent::CalleeRequest(Box::new(CalleeRequest(r))))).is_err() {
                                    debug!("caller's dialog already over");
                                }
                            }
                            None => requests = None,
                        },
                    }
                }
            }
            .instrument(span),
        );
        Watcher {
            stop: Some(stop_tx),
            task,
        }
    }

    /// Stops watching and gives back the callee's requests, to be served
    /// elsewhere.
    pub(super) async fn take_back(mut self) -> Option<PeerRequests> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.ok().flatten()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // A watcher dropped without `take_back` ends its task: the leg's
        // end no longer concerns the caller.
        self.task.abort();
    }
}

/// The next request of `requests` (pending forever without them).
pub(super) async fn next(
    requests: &mut Option<PeerRequests>,
) -> Option<crate::client::PeerRequest> {
    match requests {
        Some(r) => r.next().await,
        None => std::future::pending().await,
    }
}
