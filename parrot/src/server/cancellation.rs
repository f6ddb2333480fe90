//! [`Context::cancelled`]: noticing, while a handler method still works on
//! an INVITE, that the INVITE has been answered without it — the caller's
//! CANCEL, above all — so that work done on the caller's behalf (an
//! outgoing call of a back-to-back user agent, a slow lookup) stops.
//!
//! The runtime answers a CANCEL itself (`200`, and `487` to the INVITE,
//! RFC 3261 §9.2) and calls the handler's `cancel` method once the method
//! handling the INVITE has returned. A method that awaits something
//! long — another call's answer — selects on [`Context::cancelled`]
//! instead of waiting for that.

use crate::endpoint::FinalSent;
use crate::message::{Method, StatusCode};
use crate::server::Context;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Resolves when the request a handler method is handling has got its
/// final response from elsewhere than the method: see
/// [`Context::cancelled`]. Owns what it needs (it borrows no `Context`),
/// so it can be awaited alongside the context's own methods.
pub struct Cancelled(Option<FinalSent>);

impl Future for Cancelled {
    /// The final status that went out (`487` after a CANCEL), if known.
    type Output = Option<StatusCode>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Some(f) => Pin::new(f).poll(cx),
            // Never cancelled: nothing to wait for.
            None => Poll::Pending,
        }
    }
}

impl fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("watching", &self.0.is_some())
            .finish()
    }
}

impl<E: Send + 'static> Context<'_, E> {
    /// A future that resolves when the INVITE being handled can no longer
    /// be answered by this method: the caller cancelled it (the runtime
    /// sent `487 Request Terminated`, RFC 3261 §9.2), the runtime refused
    /// it (`500` after a reliable provisional response went
    /// unacknowledged, RFC 3262 §3), or its transaction failed (the
    /// caller is unreachable, §17.2.4). Its output is the final status
    /// sent, if known. The handler's own final answer — the method's
    /// return value — goes out only after the method returns, so it
    /// never resolves this.
    ///
    /// For any other request than an INVITE outside a dialog, and outside
    /// a request (an event), the future never resolves: only an initial
    /// INVITE can be cancelled (§9.2).
    ///
    /// ```no_run
    /// use parrot::prelude::*;
    /// # async fn long_lookup() -> StatusCode { StatusCode::OK }
    ///
    /// struct Slow;
    ///
    /// #[uas_handler]
    /// impl Slow {
    ///     async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
    ///         let cancelled = cx.cancelled();
    ///         tokio::select! {
    ///             status = long_lookup() => req.reply(status),
    ///             // The caller has its 487 already; this answer is dropped.
    ///             _ = cancelled => req.reply(StatusCode::REQUEST_TERMINATED),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn cancelled(&self) -> Cancelled {
        let invite = self
            .request
            .is_some_and(|r| r.method == Method::Invite && !r.headers.has_to_tag());
        let watch = match (&self.session.pending, invite) {
            (Some(p), true) => Some(self.session.endpoint().final_sent(p.id)),
            _ => None,
        };
        Cancelled(watch)
    }
}
