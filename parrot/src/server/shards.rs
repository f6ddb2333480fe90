//! The shards of a server beyond the first ([`ServerBuilder::shards`]):
//! each one a transport, a transaction layer and a core on a thread of
//! its own, with a current-thread runtime, reading the first shard's
//! listening sockets and handling the calls whose Call-IDs it owns
//! ([`crate::transport::shards`]).
//!
//! Per message a shard shares nothing mutable with the others but the
//! queues: no task's wake-up crosses threads except for a message handed
//! to its Call-ID's owner. The connection table (behind a lock, taken as
//! connections open and close and when a response picks its connection)
//! and the transport's counters are the whole server's.
//!
//! [`ServerBuilder::shards`]: super::ServerBuilder::shards

use super::core::CoreParts;
use super::inbox::Aside;
use super::{ServerStats, UasHandler};
use crate::endpoint::{Endpoint, EndpointConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::shards::ShardSetup;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// A running shard: how to stop it and wait for it.
pub(crate) struct ShardThread<H: UasHandler> {
    stop: mpsc::UnboundedSender<Aside<H::Event>>,
    stats: ServerStats,
    endpoint: Endpoint,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Tells the server that shard `.1` has ended, however it ended.
struct Ended(mpsc::UnboundedSender<usize>, usize);

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

/// What a started shard reports: how to stop it, its counters, its
/// endpoint.
type Ready<E> =
    std::result::Result<(mpsc::UnboundedSender<Aside<E>>, ServerStats, Endpoint), Error>;

/// Starts shard `index` on a thread of its own and waits until it has
/// bound its transport; `ended` is told its index when it ends.
pub(crate) async fn start<H: UasHandler>(
    index: usize,
    config: EndpointConfig,
    setup: ShardSetup,
    parts: CoreParts<H>,
    ended: mpsc::UnboundedSender<usize>,
) -> Result<ShardThread<H>> {
    let (ready_tx, ready_rx) = oneshot::channel::<Ready<H::Event>>();
    let span = tracing::info_span!("shard", index);
    let thread = std::thread::Builder::new()
        .name(format!("parrot-shard-{index}"))
        .spawn(move || {
            let _ended = Ended(ended, index);
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let e =
                        Error::new(ErrorKind::Transport, format!("shard {index}: runtime: {e}"));
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(
                async move {
                    let (endpoint, events) = match Endpoint::bind_with(config, Some(setup)).await {
                        Ok(bound) => bound,
                        Err(e) => {
                            let _ = ready_tx.send(Err(Error::from_source(ErrorKind::Transport, e)));
                            return;
                        }
                    };
                    let core = parts.build(endpoint, events);
                    let endpoint = core.endpoint().clone();
                    let _ = ready_tx.send(Ok((core.stopper(), core.stats(), endpoint)));
                    // As a task, as the first shard's core runs: spawned
                    // tasks and the core take turns alike.
                    if let Err(e) = tokio::spawn(core.run().in_current_span()).await
                        && e.is_panic()
                    {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
                .instrument(span),
            );
        })
        .map_err(|e| Error::new(ErrorKind::Transport, format!("shard {index}: thread: {e}")))?;
    match ready_rx.await {
        Ok(Ok((stop, stats, endpoint))) => Ok(ShardThread {
            stop,
            stats,
            endpoint,
            thread: Some(thread),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            // The thread ended without a word: it panicked.
            match thread.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => Err(Error::new(
                    ErrorKind::Transport,
                    format!("shard {index} ended as it started"),
                )),
            }
        }
    }
}

impl<H: UasHandler> ShardThread<H> {
    /// The shard's counters.
    pub(crate) fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// The shard's endpoint.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Asks the shard to stop gracefully (as the first shard's core is).
    pub(crate) fn stop(&self) {
        let _ = self.stop.send(Aside::Stop);
    }

    /// Waits for the shard's thread to end; a panic there goes on here.
    pub(crate) async fn join(mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if let Ok(Err(panic)) = tokio::task::spawn_blocking(move || thread.join()).await {
            std::panic::resume_unwind(panic);
        }
    }
}

impl<H: UasHandler> Drop for ShardThread<H> {
    /// A shard left behind (the serving future dropped) stops gracefully
    /// on its own thread.
    fn drop(&mut self) {
        self.stop();
    }
}
