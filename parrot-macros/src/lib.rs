//! Procedural macros for the [`parrot`](https://docs.rs/parrot) SIP
//! framework: the [`#[uas_handler]`](macro@uas_handler) and
//! [`#[uac_handler]`](macro@uac_handler) attributes.
//!
//! Use them through `parrot` (`parrot::uas_handler`, or
//! `parrot::prelude::*`), not from this crate directly: the generated code
//! names `parrot`'s items.
//!
//! The crate is organised as a pipeline shared by both attributes
//! (`common`: parsing the arguments and the item, the signature checks,
//! near-miss suggestions and the forwarding skeleton) and, per attribute,
//! one module a job: `validate` (which methods are handler methods and
//! whether their signatures are callable; every problem spanned on the
//! user's token), `returns` (the rule that a method owing a final response
//! does not return `()`) and `expand` (the block as written plus the
//! generated `UasHandler` impl). `uac` holds the same for `#[uac_handler]`,
//! whose methods all may return `()` (it means `Continue`).

#![warn(missing_docs)]

mod common;
mod declare;
mod diag;
mod expand;
mod methods;
mod returns;
mod uac;
mod validate;

use proc_macro::TokenStream;

/// Makes a SIP handler out of an inherent `impl` block of `async fn`s named
/// after SIP methods.
///
/// ```
/// use parrot::prelude::*;
///
/// struct Echo;
///
/// #[uas_handler]
/// impl Echo {
///     async fn invite(&mut self, req: &Request) -> Response {
///         req.reply(StatusCode::OK)
///     }
///
///     async fn bye(&mut self, _req: &Request) -> StatusCode {
///         StatusCode::OK
///     }
/// }
///
/// assert_eq!(<Echo as UasHandler>::METHODS.allow(), "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK");
/// ```
///
/// The block is kept as written: helper methods, associated constants and
/// any other items may sit beside the handler methods. The macro adds an
/// `impl UasHandler for Echo` whose methods call the ones written (static
/// dispatch, nothing boxed); every method not written keeps the trait's
/// RFC 3261-correct default (`405 Method Not Allowed` with `Allow`, `200`
/// to OPTIONS, nothing to ACK).
///
/// # Handler methods
///
/// A method is a handler method when its name is one of the trait's:
/// `invite`, `ack`, `bye`, `cancel`, `options`, `register`, `message`,
/// `info`, `subscribe`, `notify`, `publish`, `update`, `prack`, `refer`,
/// `other` (extension methods), `init` and `event`. It must be an `async fn`
/// taking `&mut self`, then:
///
/// - the request, `req: &Request`, for the SIP methods, `other` and `init`;
///   the event, `ev: MyEvent`, for `event`;
/// - optionally the context, `cx: &mut Context` — also written
///   `Context<'_>`, `Context<MyEvent>`, `Context<'_, MyEvent>` or with a
///   path. The macro completes a `Context` written without its lifetime or
///   event type (`Context` becomes `Context<'_, MyEvent>`), so the short
///   form works everywhere.
///
/// A SIP method's (and `other`'s and `event`'s) return type is anything
/// that converts into an action (`IntoAction`): `Response`, `StatusCode`,
/// `Action` or a `Result` of those, such as `Result<Response, StatusCode>`.
/// `()` (or no return type) is for the methods that owe no answer: `ack`
/// (an ACK is never answered), `cancel` (the runtime has already answered
/// the CANCEL and the INVITE) and `event`. Every other SIP method, and
/// `other`, owes its request a final response, which `()` is not: the
/// runtime would answer `500`. So there the macro refuses `()`, a missing
/// return type, and a `Result` with `()` on either side (`Ok(())` and
/// `Err(())` would be answered `500` just the same). It reads the type as
/// written, so an alias for `()` is not caught; an explicit
/// `Action::NoReply` is allowed, and answered `500` too.
///
/// `init` returns `()` or `Result<(), E>` with `E` converting into an
/// action; an `Err` refuses the request. The futures must be `Send`.
///
/// Besides completing `Context`, the only change made to the block is an
/// `#[allow(clippy::unused_async, clippy::needless_pass_by_ref_mut)]` on
/// each handler method: its signature is the trait's contract. A handler
/// method under `#[cfg(...)]` is forwarded only where it exists.
///
/// `UasHandler::METHODS` (the `Allow` header) lists the SIP methods written.
/// The handler's `Event` type is the type of `event`'s event parameter, `()`
/// when there is no `event` method.
///
/// ```
/// use parrot::prelude::*;
///
/// enum Hangup {
///     Now,
/// }
///
/// struct Call {
///     answered: bool,
/// }
///
/// #[uas_handler]
/// impl Call {
///     async fn init(&mut self, req: &Request) -> Result<(), StatusCode> {
///         if req.uri.to_string().contains("busy") {
///             return Err(StatusCode::BUSY_HERE);
///         }
///         Ok(())
///     }
///
///     async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
///         cx.ring();
///         self.answered = true;
///         req.reply(StatusCode::OK)
///     }
///
///     async fn event(&mut self, ev: Hangup, cx: &mut Context<Hangup>) -> Action {
///         match ev {
///             Hangup::Now => {
///                 let _ = cx.bye().await;
///                 Action::NoReply
///             }
///         }
///     }
/// }
/// ```
///
/// # Arguments
///
/// `#[uas_handler(crate = "path")]` names the `parrot` crate when it is not
/// reachable as `::parrot`, e.g. a renamed dependency
/// (`my_parrot = { package = "parrot", ... }` and
/// `#[uas_handler(crate = "my_parrot")]`) or a re-export
/// (`crate = "my_framework::parrot"`).
///
/// A handler declares what it understands, and the runtime refuses the
/// rest before the handler runs (RFC 3261 §8.2.2.3, §8.2.3):
///
/// - `supported = "replaces, norefersub"`: SIP option tags the handler
///   implements, on top of the runtime's own (`100rel`, `timer`). A
///   request requiring any other tag gets `420 Bad Extension`; these are
///   listed in `Supported`.
/// - `accept(info = "application/dtmf-relay", message = "text/plain")`:
///   the body types a method takes (an `Accept` value; `""` for no body).
///   Another body gets `415 Unsupported Media Type` with this `Accept`.
///   Undeclared methods keep the defaults: `application/sdp` for INVITE,
///   UPDATE and PRACK, no body for BYE, anything for the rest.
/// - `events = "message-summary, presence"`: the event packages the
///   handler's `subscribe` serves (RFC 6665). A SUBSCRIBE for another
///   package gets `489 Bad Event` with `Allow-Events`; without the
///   declaration every package reaches `subscribe`.
///
/// ```
/// use parrot::prelude::*;
///
/// struct Keypad;
///
/// #[uas_handler(supported = "norefersub", accept(info = "application/dtmf-relay"))]
/// impl Keypad {
///     async fn info(&mut self, req: &Request) -> StatusCode {
///         StatusCode::OK
///     }
/// }
///
/// assert_eq!(<Keypad as UasHandler>::SUPPORTED, ["norefersub"]);
/// assert_eq!(<Keypad as UasHandler>::ACCEPT, [("INFO", "application/dtmf-relay")]);
/// ```
///
/// # Errors
///
/// Every mistake is reported on the user's own token, all of them in one
/// compile, and the block is still emitted (with a stand-in `UasHandler`
/// impl) so that nothing else reports a follow-on error:
///
/// - the attribute on anything but an inherent `impl` block (a trait impl,
///   a struct, a function);
/// - a handler method that is not `async`, that is generic, that does not
///   take `&mut self`, or whose parameters are not
///   `req: &Request [, cx: &mut Context]`;
/// - a method that looks like a misspelled handler method: an `async fn`
///   taking `&mut self` and `&Request` whose name is a handler method's in
///   another case or within two edits of it (one for names of up to four
///   letters), unless that handler method is also written
///   (`async fn invte(&mut self, req: &Request)`: "did you mean `invite`?");
/// - a method owing a final response that returns `()` (see above), spanned
///   on the `()` or, without a return type, on the signature;
/// - an unknown argument, a `crate` that is not a string path, an option
///   tag that is not a token, an `accept` for a name that is not a
///   handler method, or a media type that is not `type/subtype`.
///
/// A return type that does not convert and a future that is not `Send` are
/// reported by rustc on the method's return type and `async` keyword.
#[proc_macro_attribute]
pub fn uas_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    uas_handler2(args.into(), item.into()).into()
}

/// The pipeline, on `proc_macro2` tokens (so that unit tests can run it).
fn uas_handler2(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    common::run(&expand::UAS, args, item)
}

/// Makes a client-side call handler (`parrot::client::UacHandler`) out of
/// an inherent `impl` block of `async fn`s named after the trait's
/// methods; run it with `Client::invite_with`.
///
/// ```
/// use parrot::client::{Call, CallEnd, UacAction, UacHandler, uac_handler};
/// use parrot::message::Response;
///
/// #[derive(Default)]
/// struct Dialer {
///     ringing: bool,
/// }
///
/// #[uac_handler]
/// impl Dialer {
///     async fn provisional(&mut self, resp: &Response) {
///         self.ringing |= resp.status.as_u16() == 180;
///     }
///
///     async fn client_error(&mut self, resp: &Response) {
///         eprintln!("refused: {}", resp.status);
///     }
///
///     async fn call_established(&mut self, _call: &mut Call) -> UacAction {
///         UacAction::Hangup
///     }
///
///     async fn call_ended(&mut self, end: &CallEnd) {
///         println!("{end}");
///     }
/// }
///
/// fn runs<H: UacHandler>(_: &H) {}
/// runs(&Dialer::default());
/// ```
///
/// # Handler methods
///
/// An `async fn` taking `&mut self` and one parameter, by name:
///
/// | method | parameter | called |
/// |--------|-----------|--------|
/// | `provisional` | `resp: &Response` | for each 1xx |
/// | `success` | `resp: &Response` | for the 2xx (already acknowledged) |
/// | `redirect` | `resp: &Response` | for a 3xx final response |
/// | `client_error` | `resp: &Response` | for a 4xx (also a timeout's `408`) |
/// | `server_error` | `resp: &Response` | for a 5xx (also a transport failure's `503`) |
/// | `global_failure` | `resp: &Response` | for a 6xx |
/// | `call_established` | `call: &mut Call` | once the call is up |
/// | `call_ended` | `end: &CallEnd` | once it is over |
///
/// Each returns `()`, a `UacAction` (`Continue`, `Cancel` from
/// `provisional`, `Hangup` from `success` or `call_established`) or a
/// `Result` of those. Methods not written keep the trait's default
/// (`Continue`). The block is kept as written, helpers included; handler
/// methods get `#[allow(clippy::unused_async,
/// clippy::needless_pass_by_ref_mut)]`, and `#[cfg]` on one is honoured.
///
/// `#[uac_handler(crate = "path")]` names the `parrot` crate when it is not
/// reachable as `::parrot`.
///
/// # Errors
///
/// Reported on the user's token, all in one compile, with the block still
/// emitted (and a stand-in impl, so that uses of the type report nothing
/// further): the attribute on anything but an inherent `impl` block; a
/// handler method that is not `async`, is generic or `unsafe`, does not
/// take `&mut self`, or does not take exactly its one parameter by the
/// right kind of reference; a method that looks like a misspelled handler
/// method (an `async fn(&mut self, x: &Response)` named `sucess`,
/// `handle_success` or `Success`: "did you mean `success`?"); an unknown
/// argument. A return type that does not convert and a future that is not
/// `Send` are reported by rustc on the method's return type and `async`
/// keyword.
#[proc_macro_attribute]
pub fn uac_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    uac::uac_handler2(args.into(), item.into()).into()
}

#[cfg(test)]
mod tests;
