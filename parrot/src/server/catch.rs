//! Catching a panic inside a handler's future, so that one failing handler
//! answers `500` and the server goes on.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls `inner`, turning a panic during any poll into `Err(message)`.
pub(crate) struct CatchUnwind<F> {
    inner: F,
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(inner: F) -> Self {
        CatchUnwind { inner }
    }
}

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        // The handler value may be left half-updated by the panic; the
        // caller ends that dialog and never polls it again, which is what
        // makes asserting unwind safety sound here.
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// Calls `f`, turning a panic into `Err(message)`.
pub(crate) fn catch_call<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
}

/// The panic's message; every caught panic passes here, so it is counted
/// here too.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    crate::telemetry::handler_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_become_errors() {
        let ok = CatchUnwind::new(Box::pin(async { 7 })).await;
        assert_eq!(ok, Ok(7));
        let bad = CatchUnwind::new(Box::pin(async {
            if true {
                panic!("boom");
            }
            7
        }))
        .await;
        assert_eq!(bad, Err("boom".to_owned()));
    }
}
