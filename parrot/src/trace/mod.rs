//! Message tracing for production: a text trace of every SIP message in
//! the log, and HEPv3 capture export to Homer.
//!
//! Both are [`MessageObserver`](crate::transport::MessageObserver)s of the
//! transport's message tap ([`TransportConfig::tap`](crate::transport::TransportConfig::tap)),
//! which shows them each message received or sent over UDP, TCP, TLS, WS
//! or WSS with its direction, protocol, addresses, a timestamp and its raw
//! bytes. Without them the transport pays one branch per message.
//!
//! * [`TextTrace`]: each message in full as a `tracing` event under the
//!   target `parrot::sip` ([`TARGET`]), at INFO. It is turned on by the
//!   builders' `trace_sip` method
//!   ([`ServerBuilder::trace_sip`](crate::server::ServerBuilder::trace_sip),
//!   [`ClientBuilder::trace_sip`](crate::client::ClientBuilder::trace_sip));
//!   `RUST_LOG` then filters it like any target (`parrot::sip=off`
//!   silences it), but does not turn it on by itself.
//! * [`HepExporter`]: each message as a HEPv3 packet ([`hep`], sans-IO)
//!   sent over UDP to a collector from a background task, through a
//!   bounded queue that drops (and counts) rather than wait. Turned on by
//!   the builders' `hep` method.
//! * [`ladder`]: call-flow pictures. A [`ladder::FlowRecorder`] on the tap
//!   (or a capture file read elsewhere) collects a [`ladder::Flow`],
//!   drawn as a ladder diagram in text, SVG or Mermaid (sans-IO).
//!
//! ```no_run
//! use parrot::prelude::*;
//! use parrot::trace::HepConfig;
//!
//! # #[derive(Default)] struct Echo;
//! # #[uas_handler] impl Echo {
//! #     async fn options(&mut self, _req: &Request) -> StatusCode { StatusCode::OK }
//! # }
//! # async fn run() -> parrot::Result<()> {
//! Server::builder()
//!     .listen("0.0.0.0:5060")
//!     .trace_sip()
//!     .hep("192.0.2.10:9060".parse().unwrap(), HepConfig::default())
//!     .handler(Echo::default)
//!     .serve()
//!     .await
//! # }
//! ```

mod export;
pub mod hep;
pub mod ladder;
mod text;

pub use export::{HepConfig, HepExporter};
pub use text::{TARGET, TextTrace};
