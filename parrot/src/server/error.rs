//! The errors a handler meets through its [`Context`](super::Context).

use crate::error::{Error, ErrorKind};
use crate::message::StatusCode;

/// Why a request sent from inside a dialog got no final response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// There is no established dialog to send it in.
    #[error("no established dialog")]
    NoDialog,
    /// The next hop could not be resolved or reached.
    #[error("next hop unreachable: {0}")]
    Unreachable(String),
    /// No final response arrived in time (Timer B/F).
    #[error("no final response in time")]
    Timeout,
    /// This method is not sent this way: ACK, CANCEL and PRACK are the
    /// runtime's, BYE ends the call (`Context::bye`), and an offer goes by
    /// `Context::update`, `Context::offer` or `Context::reinvite` (UPDATE
    /// and re-INVITE, with their glare handling).
    #[error("{0} is not sent with Context::send")]
    NotAllowed(crate::message::Method),
    /// The dialog has no subscription to notify (RFC 6665).
    #[error("no subscription in the dialog")]
    NoSubscription,
    /// No session description in force (or none that parses) to derive
    /// a new offer from, e.g. for `Context::hold` (RFC 3264 §8).
    #[error("no session description in force")]
    NoSessionDescription,
    /// An offer cannot be sent now: an INVITE of the call is still being
    /// answered (RFC 3261 §14.1, §14.2).
    #[error("an offer/answer exchange is in progress")]
    OfferPending,
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Error {
        Error::from_source(ErrorKind::Dialog, e)
    }
}

/// Why a provisional response was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionalError {
    /// The status is not `101`–`199` (a final answer is what the handler
    /// method returns; `100 Trying` is the runtime's).
    #[error("{0} is not a provisional status (1xx)")]
    NotProvisional(StatusCode),
    /// No request is being handled (e.g. in the `event` method), or it is
    /// an ACK, which is never answered.
    #[error("no request awaiting an answer")]
    NoRequest,
    /// The request has its final response already.
    #[error("the request has been answered")]
    Answered,
    /// A reliable provisional response was asked for, but the caller did
    /// not offer 100rel (RFC 3262 §3), or the request is not an INVITE.
    #[error("the caller does not support reliable provisional responses (100rel)")]
    NotSupported,
    /// The reliable provisional response was never acknowledged (64·T1
    /// without a PRACK, RFC 3262 §3), or the INVITE was cancelled first.
    #[error("no PRACK for the reliable provisional response")]
    Unacknowledged,
}

impl From<ProvisionalError> for Error {
    fn from(e: ProvisionalError) -> Error {
        Error::from_source(ErrorKind::Dialog, e)
    }
}
