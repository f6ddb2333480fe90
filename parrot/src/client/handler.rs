//! The callback-style client handler: [`UacHandler`], in the spirit of the
//! original Parrot's `UacHandler` behaviour (provisional / success /
//! redirect / client error / server error / global failure / call
//! established / call ended), and the driver behind
//! [`Client::invite_with`](super::Client::invite_with).
//!
//! Users do not implement [`UacHandler`] by hand: they write an inherent
//! `impl` block of `async fn`s named after the trait's methods and put
//! `#[uac_handler]` on it; every method not written keeps its default.

use super::call::{Call, CallEnd, CallError, PendingCall, Progress};
use crate::message::{Response, StatusClass};
use std::future::Future;

/// What a [`UacHandler`] method asks the driver to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UacAction {
    /// Go on: wait for the next response, keep the call up.
    #[default]
    Continue,
    /// From `provisional`: cancel the INVITE (§9.1). Elsewhere it acts
    /// as [`UacAction::Hangup`].
    Cancel,
    /// From `success` or `call_established`: hang up at once (BYE,
    /// §15.1.1). From `provisional` it acts as [`UacAction::Cancel`].
    Hangup,
}

/// Conversion of a [`UacHandler`] method's return value into a
/// [`UacAction`]: `()` goes on, `Result`s convert either side.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a UAC handler method",
    label = "this type does not convert into a parrot `UacAction`",
    note = "return `()`, a `UacAction` (e.g. `UacAction::Hangup`), or a `Result` of those"
)]
pub trait IntoUacAction {
    /// Converts.
    fn into_uac_action(self) -> UacAction;
}

impl IntoUacAction for UacAction {
    fn into_uac_action(self) -> UacAction {
        self
    }
}

impl IntoUacAction for () {
    fn into_uac_action(self) -> UacAction {
        UacAction::Continue
    }
}

impl<T: IntoUacAction, E: IntoUacAction> IntoUacAction for Result<T, E> {
    fn into_uac_action(self) -> UacAction {
        match self {
            Ok(v) => v.into_uac_action(),
            Err(e) => e.into_uac_action(),
        }
    }
}

/// A SIP user agent client's application logic for one outgoing call:
/// one method per kind of response, plus the call's establishment and
/// end, each defaulting to [`UacAction::Continue`].
///
/// Implement it with `#[uac_handler]` on an inherent `impl` block and run
/// it with [`Client::invite_with`](super::Client::invite_with):
///
/// ```no_run
/// use parrot::client::{Call, CallEnd, Client, UacAction, uac_handler};
/// use parrot::message::Response;
///
/// #[derive(Default)]
/// struct Dialer {
///     rang: bool,
/// }
///
/// #[uac_handler]
/// impl Dialer {
///     async fn provisional(&mut self, resp: &Response) {
///         self.rang |= resp.status.as_u16() == 180;
///     }
///
///     async fn call_established(&mut self, call: &mut Call) -> UacAction {
///         println!("answered: {:?}", call.remote_sdp());
///         UacAction::Hangup
///     }
///
///     async fn call_ended(&mut self, end: &CallEnd) {
///         println!("{end}");
///     }
/// }
///
/// # async fn run(client: Client) -> Result<(), parrot::client::ClientError> {
/// let mut dialer = Dialer::default();
/// let outcome = client.invite_with("sip:bob@192.0.2.4", "v=0\r\n...", &mut dialer).await?;
/// println!("{outcome:?}");
/// # Ok(()) }
/// ```
///
/// The order of calls: `provisional` for each 1xx; then either `success`
/// (the 2xx, already acknowledged), `call_established`, and once the call
/// is over `call_ended`; or one of `redirect` (3xx), `client_error` (4xx,
/// including the `408` a timeout stands for, §8.1.3.1), `server_error`
/// (5xx, including the `503` of a transport failure) and `global_failure`
/// (6xx).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a UAC handler",
    label = "this type has no `UacHandler` implementation",
    note = "put `#[parrot::client::uac_handler]` on an `impl {Self} {{ ... }}` block with `async fn success(&mut self, resp: &Response)` style methods"
)]
pub trait UacHandler: Send {
    /// A provisional response (1xx). [`UacAction::Cancel`] cancels the
    /// INVITE.
    fn provisional(&mut self, resp: &Response) -> impl Future<Output = UacAction> + Send {
        let _ = resp;
        async { UacAction::Continue }
    }

    /// The 2xx that established the call (acknowledged already,
    /// §13.2.2.4). [`UacAction::Hangup`] hangs up at once.
    fn success(&mut self, resp: &Response) -> impl Future<Output = UacAction> + Send {
        let _ = resp;
        async { UacAction::Continue }
    }

    /// A redirection (3xx; the targets are in its Contact headers, §8.1.3.4).
    /// The call is over.
    fn redirect(&mut self, resp: &Response) -> impl Future<Output = UacAction> + Send {
        let _ = resp;
        async { UacAction::Continue }
    }

    /// A client error (4xx, among them `487` after a CANCEL and the `408`
    /// of a timeout). The call is over.
    fn client_error(&mut self, resp: &Response) -> impl Future<Output = UacAction> + Send {
        let _ = resp;
        async { UacAction::Continue }
    }

    /// A server error (5xx, among them the `503` of a transport failure).
    /// The call is over.
    fn server_error(&mut self, resp: &Response) -> impl Future<Output = UacAction> + Send {
        let _ = resp;
        async { UacAction::Continue }
    }

    /// A global failure (6xx). The call is over.
    fn global_failure(&mut self, resp: &Response) -> impl Future<Output = UacAction> + Send {
        let _ = resp;
        async { UacAction::Continue }
    }

    /// The call is up. [`UacAction::Hangup`] hangs up at once;
    /// [`UacAction::Continue`] keeps it until the peer hangs up or a
    /// [`CallHandle`](super::CallHandle) taken here does.
    fn call_established(&mut self, call: &mut Call) -> impl Future<Output = UacAction> + Send {
        let _ = call;
        async { UacAction::Continue }
    }

    /// The call has ended. The action returned is ignored.
    fn call_ended(&mut self, end: &CallEnd) -> impl Future<Output = UacAction> + Send {
        let _ = end;
        async { UacAction::Continue }
    }
}

/// How a call run by [`Client::invite_with`](super::Client::invite_with)
/// went.
#[derive(Debug, Clone)]
pub enum CallOutcome {
    /// The call was established and has ended.
    Ended(CallEnd),
    /// The call was not established.
    Failed(CallError),
}

/// Runs `pending` to its end, calling `handler` at each step.
pub(crate) async fn drive<H: UacHandler>(mut pending: PendingCall, handler: &mut H) -> CallOutcome {
    while let Some(progress) = pending.next().await {
        match progress {
            Progress::Provisional(r) => {
                if handler.provisional(&r).await != UacAction::Continue {
                    pending.cancel();
                }
            }
            Progress::Answered(mut call) => {
                let mut action = handler.success(call.response()).await;
                if action == UacAction::Continue {
                    action = handler.call_established(&mut call).await;
                }
                let end = if action == UacAction::Continue {
                    call.ended().await
                } else {
                    match call.bye().await {
                        Ok(resp) => CallEnd::LocalBye(Box::new(resp)),
                        Err(CallError::Ended(end)) => *end,
                        Err(e) => CallEnd::Terminated(e.to_string()),
                    }
                };
                let _ = handler.call_ended(&end).await;
                return CallOutcome::Ended(end);
            }
            Progress::Failed(error) => {
                if let Some(resp) = error.response() {
                    // A 2xx that crossed a CANCEL (and was hung up) has no
                    // callback: the call was never handed over.
                    let _ = match resp.status.class() {
                        StatusClass::Redirection => handler.redirect(resp).await,
                        StatusClass::ClientError => handler.client_error(resp).await,
                        StatusClass::ServerError => handler.server_error(resp).await,
                        StatusClass::GlobalFailure => handler.global_failure(resp).await,
                        StatusClass::Provisional | StatusClass::Success => UacAction::Continue,
                    };
                }
                return CallOutcome::Failed(error);
            }
        }
    }
    CallOutcome::Failed(CallError::Closed)
}
