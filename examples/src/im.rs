//! `im`: receives instant messages (RFC 3428).
//!
//! - MESSAGE with `Content-Type: text/plain` (any parameters, such as
//!   `charset`): `200 OK`, and the text is logged.
//! - MESSAGE with any other type, or none: `415 Unsupported Media Type`
//!   with `Accept: text/plain` (RFC 3261 §21.4.13).
//! - OPTIONS: the runtime's default answer.

use crate::listen::Listen;
use parrot::message::typed::ContentType;
use parrot::prelude::*;
use parrot::server::BoundServer;
use std::future::Future;
use tracing::info;

/// The handler: it keeps no state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Im;

#[uas_handler]
impl Im {
    async fn message(&mut self, req: &Request) -> Response {
        if !matches!(req.headers.typed::<ContentType>(), Some(Ok(ct)) if ct.is("text", "plain")) {
            return req
                .reply(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .header("Accept", "text/plain");
        }
        let from = req.headers.from_header().map(|f| f.addr.uri().to_string());
        let text = String::from_utf8_lossy(&req.body);
        info!(from = from.unwrap_or_default(), %text, "message");
        req.reply(StatusCode::OK)
    }
}

/// Binds the `im` example on `listen` (UDP and TCP; port 0 picks one).
pub async fn bind(listen: impl Into<Listen>) -> parrot::Result<BoundServer<Im>> {
    listen
        .into()
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory)
        .handler(|| Im)
        .bind()
        .await
}

/// Serves the `im` example until `shutdown` completes.
pub async fn serve(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    bind(listen)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
