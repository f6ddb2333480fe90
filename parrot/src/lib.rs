//! Parrot: a SIP (RFC 3261) application framework.
//!
//! Write one `impl` block of async methods named after SIP methods, put
//! [`uas_handler`] on it, and hand a factory to [`Server::builder`]: the
//! runtime owns transports, transactions, retransmissions and timers,
//! dialogs and CANCEL.
//!
//! ```no_run
//! use parrot::prelude::*;
//!
//! #[derive(Default)]
//! struct Answer {
//!     calls: u32,
//! }
//!
//! #[uas_handler]
//! impl Answer {
//!     async fn invite(&mut self, req: &Request) -> Response {
//!         self.calls += 1;
//!         req.reply(StatusCode::OK)
//!     }
//!     async fn bye(&mut self, req: &Request) -> Response {
//!         req.reply(StatusCode::OK)
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> parrot::Result<()> {
//!     parrot::Server::builder()
//!         .listen("0.0.0.0:5060")
//!         .handler(Answer::default)
//!         .serve()
//!         .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap_or(()) })
//!         .await
//! }
//! ```
//!
//! The layers, each a module with one job, pass data one way:
//! socket → [`transport`] → parse ([`message`]) → [`transaction`] →
//! [`dialog`] → handler ([`server`]), and back.
#![warn(missing_docs)]

pub mod auth;
pub mod b2bua;
pub mod client;
pub mod dialog;
pub mod endpoint;
mod error;
pub(crate) mod keyed;
pub mod locate;
pub mod media;
pub(crate) mod memory;
pub mod message;
pub mod prelude;
pub mod proxy;
pub(crate) mod random;
pub(crate) mod rate;
pub mod registrar;
pub mod sdp;
pub mod server;
pub(crate) mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub(crate) mod time;
pub mod trace;
pub mod transaction;
pub mod transport;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(test)]
mod test_support;

pub use error::{Error, ErrorKind, Result};
pub use parrot_macros::uas_handler;
pub use server::Server;

/// The README's examples, compiled by `cargo test --doc` so that the
/// "server in ten lines" cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
