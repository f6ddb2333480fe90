//! New offers from a handler: hold and resume (RFC 3264 §8.4, RFC 6337
//! §5.3), any new offer by UPDATE or re-INVITE, and the session
//! description in force they start from.

use super::Context;
use crate::message::{Method, Response};
use crate::sdp::SessionDescription;
use crate::server::error::RequestError;
use bytes::Bytes;
use tracing::debug;

impl<E: Send + 'static> Context<'_, E> {
    /// Puts the call on hold (RFC 3264 §8.4, RFC 6337 §5.3): offers the
    /// session description in force with every active audio and video
    /// stream `sendonly` (`inactive` if it was `recvonly`) and its `o=`
    /// version incremented (RFC 3264 §8), and returns the final response,
    /// whose SDP is the peer's answer. The offer goes as
    /// [`offer`](Self::offer) sends it: UPDATE when the peer allows it,
    /// else re-INVITE; glare (`491`) is retried.
    ///
    /// A refusal (a non-2xx) leaves the session as it was. Fails with
    /// [`RequestError::NoSessionDescription`] when no description was
    /// agreed yet, and [`RequestError::OfferPending`] while the INVITE or
    /// UPDATE being handled is unanswered.
    ///
    /// ```no_run
    /// use parrot::prelude::*;
    ///
    /// struct Music;
    ///
    /// #[uas_handler]
    /// impl Music {
    ///     async fn ack(&mut self, _req: &Request, cx: &mut Context) {
    ///         if let Ok(resp) = cx.hold().await {
    ///             tracing::info!(status = %resp.status, "on hold");
    ///         }
    ///         // ... later
    ///         let _ = cx.resume().await;
    ///     }
    /// }
    /// ```
    pub async fn hold(&mut self) -> Result<Response, RequestError> {
        self.check_no_offer_pending()?;
        let held = self.in_force()?.held();
        debug!(call_id = %self.call_id(), "putting the call on hold");
        self.offer(held.to_string()).await
    }

    /// Takes the call off hold, the inverse of [`hold`](Self::hold)
    /// (RFC 6337 §5.3): offers the description in force with every audio
    /// and video stream `sendonly` back to `sendrecv` and `inactive` to
    /// `recvonly` (see [`SessionDescription::resumed`]), the `o=` version
    /// incremented, and returns the final response. To restore directions
    /// other than these, build the offer with
    /// [`SessionDescription::restored`] and send it by
    /// [`offer`](Self::offer).
    pub async fn resume(&mut self) -> Result<Response, RequestError> {
        self.check_no_offer_pending()?;
        let resumed = self.in_force()?.resumed();
        debug!(call_id = %self.call_id(), "taking the call off hold");
        self.offer(resumed.to_string()).await
    }

    /// Sends `sdp` as a new offer in the call (RFC 3264 §8) and returns
    /// the final response, whose SDP is the answer: by UPDATE when the
    /// peer allows it (RFC 3311), else — or when the UPDATE is refused as
    /// unknown — by re-INVITE (RFC 3261 §14.1), whose 2xx the runtime
    /// acknowledges. Offers that cross get `491`; the runtime sends the
    /// offer again after the §14.1 delay, up to three times. A 2xx makes
    /// `sdp` the description in force and refreshes the session timer.
    pub async fn offer(&mut self, sdp: impl Into<Bytes>) -> Result<Response, RequestError> {
        self.check_no_offer_pending()?;
        self.session.renegotiate(sdp.into()).await
    }

    /// Sends `sdp` as a new offer in a re-INVITE (RFC 3261 §14.1),
    /// whatever the peer allows, and returns the final response (the 2xx
    /// is acknowledged by the runtime); glare is retried as for
    /// [`offer`](Self::offer). A 2xx makes `sdp` the description in force
    /// and refreshes the session timer.
    pub async fn reinvite(&mut self, sdp: impl Into<Bytes>) -> Result<Response, RequestError> {
        self.check_no_offer_pending()?;
        if !self.session.invite_usage {
            return Err(RequestError::NoDialog);
        }
        self.session
            .offer_refreshing(Method::Invite, Some(sdp.into()))
            .await
    }

    /// The session description in force on our side: the last one we
    /// sent that was accepted (our answer in the 2xx, or an offer of ours
    /// the peer accepted), as sent. `None` before one was agreed.
    pub fn local_sdp(&self) -> Option<&Bytes> {
        self.session.local_sdp.as_ref()
    }

    /// [`local_sdp`](Self::local_sdp), parsed.
    fn in_force(&self) -> Result<SessionDescription, RequestError> {
        let sdp = self
            .session
            .local_sdp
            .as_ref()
            .ok_or(RequestError::NoSessionDescription)?;
        std::str::from_utf8(sdp)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RequestError::NoSessionDescription)
    }

    /// RFC 3261 §14.1 (and RFC 3311 §5.1 for UPDATE): no new offer while
    /// the INVITE or UPDATE this handler is answering is unanswered.
    fn check_no_offer_pending(&self) -> Result<(), RequestError> {
        let answering = self
            .request
            .is_some_and(|r| matches!(r.method, Method::Invite | Method::Update));
        let unanswered = self.session.pending.as_ref().is_some_and(|p| !p.answered());
        if answering && unanswered {
            return Err(RequestError::OfferPending);
        }
        Ok(())
    }
}
