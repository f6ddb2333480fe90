//! The handler contract: [`UasHandler`], what its methods return
//! ([`Action`], [`IntoAction`]), and the [`Context`] they may ask for.
//!
//! Users do not implement [`UasHandler`] by hand: they write an inherent
//! `impl` block of `async fn`s named after SIP methods and put
//! `#[uas_handler]` on it. The macro generates the trait impl, forwarding to
//! the methods written and leaving every other method to the RFC-correct
//! default here.

use crate::message::{HeaderName, Method, Request, Response, StatusCode, Uri};
use crate::proxy::Proxy;
use std::future::Future;

mod context;
mod hold;
mod media;
mod subscriptions;

pub use context::Context;

/// What a handler method tells the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Send this response. The runtime adds the To tag, Contact and
    /// Record-Route a dialog needs.
    Respond(Response),
    /// Send nothing (the right answer to ACK; for other requests the
    /// runtime answers `500` so that no transaction is left hanging).
    NoReply,
    /// End this handler's dialog (sending BYE if it is established) and
    /// free its state. For a request not yet answered, `500` is sent.
    Stop(String),
    /// Proxy the request statefully (RFC 3261 §16) to one target or fork
    /// it to several; the runtime relays the responses and routes the
    /// dialog's later requests. See [`Proxy`].
    Proxy(Proxy),
}

impl Action {
    /// Proxies the request to `target`, record-routing (§16).
    pub fn proxy(target: Uri) -> Action {
        Action::Proxy(Proxy::to(target))
    }
}

impl IntoAction for Proxy {
    fn into_action(self) -> Action {
        Action::Proxy(self)
    }
}

/// Conversion of a handler method's return value into an [`Action`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a SIP handler method",
    label = "this type does not convert into a parrot `Action`",
    note = "return a `Response` (e.g. `req.reply(StatusCode::OK)`), a `StatusCode`, an `Action`, or a `Result` of those (`()` only from `ack`, `cancel` and `event`)"
)]
pub trait IntoAction {
    /// Converts.
    fn into_action(self) -> Action;
}

impl IntoAction for Action {
    fn into_action(self) -> Action {
        self
    }
}

impl IntoAction for Response {
    fn into_action(self) -> Action {
        Action::Respond(self)
    }
}

/// A bare status code: the runtime builds the response to the request
/// (RFC 3261 §8.2.6) with the canonical reason phrase.
impl IntoAction for StatusCode {
    fn into_action(self) -> Action {
        Action::Respond(Response::new(self))
    }
}

/// A provisional response that could not be sent, propagated with `?`
/// (`cx.ring()?`): the request is answered `500`.
impl IntoAction for crate::server::error::ProvisionalError {
    fn into_action(self) -> Action {
        tracing::warn!(error = %self, "handler gave up: provisional response refused");
        Action::Respond(Response::new(StatusCode::SERVER_INTERNAL_ERROR))
    }
}

/// A request inside the dialog that failed, propagated with `?`
/// (`cx.bye().await?`): a request being handled is answered `500`.
impl IntoAction for crate::server::error::RequestError {
    fn into_action(self) -> Action {
        tracing::warn!(error = %self, "handler gave up: request in the dialog failed");
        Action::Respond(Response::new(StatusCode::SERVER_INTERNAL_ERROR))
    }
}

impl IntoAction for () {
    fn into_action(self) -> Action {
        Action::NoReply
    }
}

impl<T: IntoAction, E: IntoAction> IntoAction for Result<T, E> {
    fn into_action(self) -> Action {
        match self {
            Ok(v) => v.into_action(),
            Err(e) => e.into_action(),
        }
    }
}

/// Conversion of an `init` method's return value: `()` accepts, `Ok(())`
/// accepts, `Err(x)` refuses with `x` (anything [`IntoAction`], e.g.
/// `StatusCode::SERVICE_UNAVAILABLE`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a handler's `init`",
    note = "return `()` or `Result<(), E>` where `E` converts into an `Action` (e.g. a `StatusCode`)"
)]
pub trait IntoInit {
    /// Converts.
    fn into_init(self) -> Result<(), Action>;
}

impl IntoInit for () {
    fn into_init(self) -> Result<(), Action> {
        Ok(())
    }
}

impl<E: IntoAction> IntoInit for Result<(), E> {
    fn into_init(self) -> Result<(), Action> {
        self.map_err(IntoAction::into_action)
    }
}

/// The set of SIP methods a handler implements, known at compile time and
/// used for the `Allow` header (RFC 3261 §20.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(u16);

impl MethodSet {
    /// No methods.
    pub const EMPTY: MethodSet = MethodSet(0);

    /// The set with `method` added (`method` is one of [`Method::KNOWN`]'s
    /// names; anything else leaves the set unchanged).
    pub const fn with(self, method: &str) -> MethodSet {
        match known_index(method) {
            Some(i) => MethodSet(self.0 | 1 << i),
            None => self,
        }
    }

    /// Whether `method` is in the set.
    pub fn contains(&self, method: &Method) -> bool {
        known_index(method.as_str()).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// The `Allow` value for a handler implementing this set: the methods
    /// written, plus what the runtime always handles — OPTIONS, and ACK,
    /// CANCEL, PRACK (RFC 3262) and UPDATE (RFC 3311) wherever INVITE is
    /// accepted.
    pub fn allow(&self) -> String {
        let mut set = self.with("OPTIONS");
        if self.contains(&Method::Invite) {
            set = set.with("ACK").with("CANCEL").with("PRACK").with("UPDATE");
        }
        Method::KNOWN
            .iter()
            .filter(|m| set.contains(m))
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

// A `MethodSet` has a bit for every known method.
const _: () = assert!(Method::NAMES.len() <= u16::BITS as usize);

/// `method`'s bit in a [`MethodSet`]: its place in [`Method::NAMES`].
const fn known_index(method: &str) -> Option<u32> {
    match Method::index_of(method) {
        Some(i) => Some(i as u32),
        None => None,
    }
}

/// The answer to a request for a method the handler does not implement:
/// `405 Method Not Allowed` for a method this framework knows, `501 Not
/// Implemented` for any other, both with `Allow` (RFC 3261 §8.2.1,
/// §21.4.6, §21.5.2).
pub fn not_implemented(req: &Request, methods: MethodSet) -> Action {
    let status = if Method::from_known(req.method.as_str()).is_some() {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        StatusCode::NOT_IMPLEMENTED
    };
    let mut resp = req.reply(status);
    resp.headers.append(HeaderName::Allow, methods.allow());
    Action::Respond(resp)
}

/// The default answer to OPTIONS (RFC 3261 §11.2): `200` with `Allow`;
/// the runtime adds `Accept` and `Supported`.
pub fn options_reply(req: &Request, methods: MethodSet) -> Action {
    // The runtime adds Accept and Supported (RFC 3261 §11.2) from what
    // the server was built to take.
    let mut resp = req.reply(StatusCode::OK);
    resp.headers.append(HeaderName::Allow, methods.allow());
    Action::Respond(resp)
}

macro_rules! handler_methods {
    ($( $(#[$doc:meta])* $name:ident => $default:expr; )*) => {
        /// A SIP user agent server's application logic: one method per SIP
        /// method, each with an RFC-correct default.
        ///
        /// Implement it with `#[uas_handler]` on an inherent `impl` block;
        /// the macro forwards to the `async fn`s written there and fills in
        /// [`UasHandler::METHODS`].
        #[diagnostic::on_unimplemented(
            message = "`{Self}` is not a SIP handler",
            label = "this type has no `UasHandler` implementation",
            note = "put `#[parrot::uas_handler]` on an `impl {Self} {{ ... }}` block with `async fn invite(&mut self, req: &Request) -> ...` style methods"
        )]
        pub trait UasHandler: Send + Sized + 'static {
            /// Application events a running dialog's handler accepts (see
            /// [`DialogHandle`](crate::server::DialogHandle)); `()` when the handler takes none.
            type Event: Send + 'static;

            /// The methods this handler implements (for `Allow`).
            const METHODS: MethodSet;

            /// SIP option tags the handler implements itself
            /// (`#[uas_handler(supported = "...")]`), added to the
            /// runtime's own for `Supported` and the `420` check.
            const SUPPORTED: &'static [&'static str] = &[];

            /// The body types methods take, as (method, `Accept` value)
            /// (`#[uas_handler(accept(info = "..."))]`); others get `415`.
            const ACCEPT: &'static [(&'static str, &'static str)] = &[];

            /// The event packages `subscribe` serves
            /// (`#[uas_handler(events = "message-summary")]`, RFC 6665); a
            /// SUBSCRIBE for another gets `489 Bad Event` with
            /// `Allow-Events`. Empty: every package reaches `subscribe`.
            const EVENTS: &'static [&'static str] = &[];

            /// Called once, before the first request reaches a new handler
            /// value. An `Err` refuses the request (and the dialog) with the
            /// action given, e.g. `503`.
            fn init(
                &mut self,
                req: &Request,
                cx: &mut Context<'_, Self::Event>,
            ) -> impl Future<Output = Result<(), Action>> + Send {
                let _ = (req, cx);
                async { Ok(()) }
            }

            $(
                $(#[$doc])*
                fn $name(
                    &mut self,
                    req: &Request,
                    cx: &mut Context<'_, Self::Event>,
                ) -> impl Future<Output = Action> + Send {
                    let _ = cx;
                    let default: fn(&Request, MethodSet) -> Action = $default;
                    let action = default(req, Self::METHODS);
                    async move { action }
                }
            )*

            /// A request with a method not listed above (an extension
            /// method). Default: `501 Not Implemented` with `Allow`.
            fn other(
                &mut self,
                req: &Request,
                cx: &mut Context<'_, Self::Event>,
            ) -> impl Future<Output = Action> + Send {
                let _ = cx;
                let action = not_implemented(req, Self::METHODS);
                async move { action }
            }

            /// An application event sent to this dialog through a
            /// [`DialogHandle`](crate::server::DialogHandle). Only `NoReply` and `Stop` are meaningful.
            fn event(
                &mut self,
                event: Self::Event,
                cx: &mut Context<'_, Self::Event>,
            ) -> impl Future<Output = Action> + Send {
                let _ = (event, cx);
                async { Action::NoReply }
            }
        }
    };
}

handler_methods! {
    /// INVITE (RFC 3261 §13). Also called for a re-INVITE inside a dialog
    /// ([`Context::in_dialog`]). Default: `405` with `Allow`.
    invite => not_implemented;
    /// ACK for a 2xx (§13.2.2.4). Never answered. Default: nothing.
    ack => |_, _| Action::NoReply;
    /// BYE (§15). Default: `405` with `Allow`.
    bye => not_implemented;
    /// CANCEL of a pending INVITE (§9.2). The runtime has already answered
    /// the CANCEL with `200` and the INVITE with `487`; this only notifies.
    cancel => |_, _| Action::NoReply;
    /// OPTIONS (§11). Default: `200` with `Allow`, `Accept`, `Supported`.
    options => options_reply;
    /// REGISTER (§10). Default: `405` with `Allow`.
    register => not_implemented;
    /// MESSAGE (RFC 3428). Default: `405` with `Allow`.
    message => not_implemented;
    /// INFO (RFC 6086). Default: `405` with `Allow`.
    info => not_implemented;
    /// SUBSCRIBE (RFC 6665): a new subscription, a refresh or an
    /// unsubscription ([`Context::subscription`] says which). The runtime
    /// has checked `Event` (400, or 489 for a package not in `EVENTS`) and
    /// `Expires` (423), and answered a refresh of an unknown subscription
    /// with 481. A 2xx accepts: the runtime adds the `Expires` granted and
    /// sends the NOTIFY that must follow, with the state given by
    /// [`Context::set_state`] (or `pending` without it, after
    /// [`Context::set_pending`]); it ends the subscription with a NOTIFY
    /// when it expires. Default: `405` with `Allow`.
    subscribe => not_implemented;
    /// NOTIFY (RFC 6665). Default: `405` with `Allow`.
    notify => not_implemented;
    /// PUBLISH (RFC 3903). Default: `405` with `Allow`.
    publish => not_implemented;
    /// UPDATE (RFC 3311) inside a dialog. Without this method the runtime
    /// answers: `200` to a session refresh without a body, the session
    /// description in force to an offer that changes nothing, `488` to
    /// any other offer, `491` to an offer crossing ours.
    update => not_implemented;
    /// PRACK (RFC 3262) acknowledging one of our reliable provisional
    /// responses; the runtime has matched it (a PRACK matching none got
    /// `481`). Called for a PRACK that arrives while no handler method
    /// runs, or that carries an offer. Default: `200`.
    prack => |req, _| Action::Respond(req.reply(StatusCode::OK));
    /// REFER (RFC 3515). The runtime has checked there is one `Refer-To`
    /// (400 otherwise). A 2xx (`202 Accepted`) accepts: the runtime keeps
    /// the implicit subscription, sending NOTIFY `SIP/2.0 100 Trying` at
    /// once and the reports given to [`Context::refer_progress`]'s handle
    /// later, unless the REFER said `Refer-Sub: false` (RFC 4488).
    /// Default: `405` with `Allow`.
    refer => not_implemented;
}

/// Calls the handler method for `req.method`.
pub(crate) async fn dispatch<H: UasHandler>(
    handler: &mut H,
    req: &Request,
    cx: &mut Context<'_, H::Event>,
) -> Action {
    match req.method {
        Method::Invite => handler.invite(req, cx).await,
        Method::Ack => handler.ack(req, cx).await,
        Method::Bye => handler.bye(req, cx).await,
        Method::Cancel => handler.cancel(req, cx).await,
        Method::Options => handler.options(req, cx).await,
        Method::Register => handler.register(req, cx).await,
        Method::Message => handler.message(req, cx).await,
        Method::Info => {
            // SIP INFO DTMF (application/dtmf-relay, application/dtmf), the
            // fallback of phones without RFC 4733: the digit goes to the
            // call's media session, and is answered 200 when the handler
            // takes no INFO itself.
            if media::info_digit(req, cx) && !H::METHODS.contains(&Method::Info) {
                return Action::Respond(req.reply(StatusCode::OK));
            }
            handler.info(req, cx).await
        }
        Method::Subscribe => handler.subscribe(req, cx).await,
        Method::Notify => handler.notify(req, cx).await,
        Method::Publish => handler.publish(req, cx).await,
        Method::Update => handler.update(req, cx).await,
        Method::Prack => handler.prack(req, cx).await,
        Method::Refer => handler.refer(req, cx).await,
        Method::Extension(_) => handler.other(req, cx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_sets_and_allow() {
        let set = MethodSet::EMPTY.with("INVITE").with("BYE").with("bogus");
        assert!(set.contains(&Method::Invite));
        assert!(!set.contains(&Method::Register));
        assert_eq!(
            set.allow(),
            "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK"
        );
        assert_eq!(
            MethodSet::EMPTY.with("REGISTER").allow(),
            "OPTIONS, REGISTER"
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(().into_action(), Action::NoReply);
        let r: Result<StatusCode, StatusCode> = Err(StatusCode::FORBIDDEN);
        assert!(matches!(r.into_action(), Action::Respond(x) if x.status == StatusCode::FORBIDDEN));
    }
}
