//! Sessions the core polls itself, on the current-thread scheduler.
//!
//! There nothing runs beside the core, so a session gains nothing from a
//! task of its own: polled here, it costs no task, no report queue back to
//! the core and no wake-up of a second task. Its first poll is made at
//! once, in the core's turn; only a session that then has to wait (for its
//! transaction's verdict on a 2xx, a slow handler, a request of its own)
//! joins the set, whose members are polled when they are woken.

use crate::dialog::DialogId;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tracing::error;

/// A session's report: the dialog it ran (if any) and its outcome, `None`
/// when it panicked.
pub(crate) type Report<T> = (Option<DialogId>, Option<T>);

/// A running session, as the core polls it.
pub(crate) type SessionFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A session with the dialog it runs, turning a panic of the runtime's
/// own code into a report (a handler's panics are caught closer to the
/// handler and answered there): one session's fault must not stop the
/// core that polls it.
struct Polled<T> {
    id: Option<DialogId>,
    session: SessionFuture<T>,
}

impl<T> Future for Polled<T> {
    type Output = Report<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Report<T>> {
        let this = &mut *self;
        poll_caught(this.session.as_mut(), &this.id, cx).map(|outcome| (this.id.take(), outcome))
    }
}

/// Polls `session`, turning a panic into `None`. The session is never
/// polled again after a panic, which is what makes asserting unwind
/// safety sound.
fn poll_caught<T, F: Future<Output = T> + ?Sized>(
    session: Pin<&mut F>,
    id: &Option<DialogId>,
    cx: &mut Context<'_>,
) -> Poll<Option<T>> {
    match catch_unwind(AssertUnwindSafe(|| session.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(outcome)) => Poll::Ready(Some(outcome)),
        Err(_) => {
            error!(dialog = ?id, "session panicked: its dialog is dropped");
            Poll::Ready(None)
        }
    }
}

/// Runs `session` to its end as a task does (on the multi-thread
/// scheduler), with the same report as a polled one: a panic of the
/// runtime's own code is reported, not lost with the task.
pub(crate) async fn caught<T>(id: Option<DialogId>, session: impl Future<Output = T>) -> Report<T> {
    let mut session = std::pin::pin!(session);
    let outcome = std::future::poll_fn(|cx| poll_caught(session.as_mut(), &id, cx)).await;
    (id, outcome)
}

/// The sessions the core polls, while they wait.
pub(crate) struct PolledSessions<T> {
    waiting: FuturesUnordered<Polled<T>>,
}

impl<T> Default for PolledSessions<T> {
    fn default() -> Self {
        PolledSessions {
            waiting: FuturesUnordered::new(),
        }
    }
}

impl<T> PolledSessions<T> {
    /// Polls a new session once: its report if it is done already, else
    /// it waits in the set. The first poll has no waker of its own: the
    /// set polls a newcomer again with its waker (a future registers the
    /// waker of its latest poll).
    pub(crate) fn start(
        &mut self,
        id: Option<DialogId>,
        session: SessionFuture<T>,
    ) -> Option<Report<T>> {
        let mut polled = Polled { id, session };
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut polled).poll(&mut cx) {
            Poll::Ready(report) => Some(report),
            Poll::Pending => {
                self.waiting.push(polled);
                None
            }
        }
    }

    /// The next report of a waiting session; never ready while none waits
    /// (sessions join only between two calls).
    pub(crate) async fn next(&mut self) -> Report<T> {
        if !self.waiting.is_empty()
            && let Some(report) = self.waiting.next().await
        {
            return report;
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dialog(n: u32) -> Option<DialogId> {
        Some(DialogId::new(&format!("call-{n}"), "ours", "theirs"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_done_at_its_first_poll_never_waits() {
        let mut set = PolledSessions::default();
        let report = set.start(dialog(1), Box::pin(async { 7 }));
        assert_eq!(report, Some((dialog(1), Some(7))));
        let idle = tokio::time::timeout(Duration::from_millis(10), set.next()).await;
        assert!(idle.is_err(), "an empty set reports nothing");
    }

    #[tokio::test]
    async fn a_waiting_session_reports_once_woken() {
        let mut set = PolledSessions::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let session = Box::pin(async move { rx.await.unwrap_or(0) + 1 });
        assert_eq!(set.start(dialog(2), session), None);
        assert!(set.start(dialog(3), Box::pin(async { 40 })).is_some());
        tx.send(41).unwrap();
        assert_eq!(set.next().await, (dialog(2), Some(42)));
    }

    #[tokio::test]
    async fn a_session_run_as_a_task_reports_like_a_polled_one() {
        let done = tokio::spawn(caught(dialog(6), async { 6 }));
        assert_eq!(done.await.unwrap(), (dialog(6), Some(6)));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let panicking = tokio::spawn(caught(dialog(7), async move {
            let _ = rx.await;
            panic!("in a task")
        }));
        tx.send(()).unwrap();
        let report: Report<u32> = panicking.await.expect("the task ends, not panics");
        assert_eq!(report, (dialog(7), None));
    }

    #[tokio::test]
    async fn a_panicking_session_is_reported_not_propagated() {
        let mut set = PolledSessions::<u32>::default();
        let first = set.start(dialog(4), Box::pin(async { panic!("at once") }));
        assert_eq!(first, Some((dialog(4), None)));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let later = Box::pin(async move {
            let _ = rx.await;
            panic!("after a wait")
        });
        assert_eq!(set.start(dialog(5), later), None);
        tx.send(()).unwrap();
        assert_eq!(set.next().await, (dialog(5), None));
    }
}
