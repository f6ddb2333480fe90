//! `busy`: refuses calls, three ways.
//!
//! - [`Busy`] (the default): every INVITE gets `486 Busy Here`.
//! - [`Decline`] (`--reject`): every INVITE gets `603 Decline`, the
//!   callee's "no, and do not try elsewhere" (RFC 3261 §21.6.2).
//! - [`HangUp`] (`--hangup`): every INVITE is answered (`200` with an SDP
//!   answer, see [`crate::answer::negotiate`]) and hung up as soon as the
//!   ACK arrives, by returning `Action::Stop`, which makes the runtime
//!   send BYE and end the handler. (`Action::Stop` ends a dialog; before
//!   the request is answered it would answer `500`, so a refusal such as
//!   `603` is returned as a response instead, and the runtime ends the
//!   handler after it by itself.)
//!
//! OPTIONS gets the runtime's default answer, CANCEL is handled by the
//! runtime.

use crate::answer;
use crate::listen::Listen;
use parrot::prelude::*;
use parrot::server::{BoundServer, Factory, ServerBuilder};
use std::future::Future;
use tracing::info;

/// Refuses every call with `486 Busy Here`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Busy;

#[uas_handler]
impl Busy {
    async fn invite(&mut self, _req: &Request) -> StatusCode {
        StatusCode::BUSY_HERE
    }
}

/// Refuses every call with `603 Decline`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Decline;

#[uas_handler]
impl Decline {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
        info!(call_id = cx.call_id(), uri = %req.uri, "declining the call");
        req.reply(StatusCode::DECLINE)
    }
}

/// Answers every call, then hangs up on the ACK with `Action::Stop`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HangUp;

#[uas_handler]
impl HangUp {
    async fn invite(&mut self, req: &Request) -> Result<Response, Response> {
        let sdp = answer::negotiate(req, answer::media_ip(req, None), 40000)?.into_sdp();
        Ok(req.reply(StatusCode::OK).sdp(sdp.to_string()))
    }

    async fn ack(&mut self, _req: &Request) -> Action {
        Action::Stop("answered only to hang up".into())
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

/// Which refusal [`serve_mode`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `486 Busy Here` ([`Busy`]).
    #[default]
    Busy,
    /// `603 Decline` ([`Decline`]).
    Reject,
    /// Answer, then BYE ([`HangUp`]).
    HangUp,
}

/// Binds the `busy` example (486) on `listen` (UDP and TCP; port 0 picks
/// one). The other modes bind with `Server::builder()` and their handler.
pub async fn bind(listen: impl Into<Listen>) -> parrot::Result<BoundServer<Busy>> {
    listen.into().apply(server()).bind().await
}

/// The `busy` example's server (486), with no listen address yet (to
/// bind, or to run on `parrot::testing`'s in-memory network).
pub fn server() -> ServerBuilder<Factory<Busy>> {
    Server::builder()
        .release_memory_with(crate::cli::release_memory)
        .handler(|| Busy)
}

/// Serves the `busy` example (486 to every INVITE) until `shutdown`
/// completes.
pub async fn serve(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    serve_mode(listen, shutdown, Mode::Busy).await
}

/// Serves the `busy` example in `mode` until `shutdown` completes.
pub async fn serve_mode(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mode: Mode,
) -> parrot::Result<()> {
    let server = listen
        .into()
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory);
    match mode {
        Mode::Busy => {
            server
                .handler(|| Busy)
                .serve()
                .with_graceful_shutdown(shutdown)
                .await
        }
        Mode::Reject => {
            server
                .handler(|| Decline)
                .serve()
                .with_graceful_shutdown(shutdown)
                .await
        }
        Mode::HangUp => {
            server
                .handler(|| HangUp)
                .serve()
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}
