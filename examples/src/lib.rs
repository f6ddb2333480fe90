//! Parrot's example services, as a library so that tests (and the
//! end-to-end suite) can run them in-process, and as binaries
//! (`cargo run -p examples --bin NAME -- --help`).
//!
//! | module | what it does |
//! |--------|--------------|
//! | [`answer`] | answers calls: 200 with an SDP answer (PCMU/PCMA), 180 first when it has a ring delay; BYE, re-INVITE |
//! | [`b2bua`] | a back-to-back user agent: each call becomes a new call to a target routed by user prefix, the two bridged |
//! | [`registrar`] | a registrar with an in-memory location service (RFC 3261 §10.3) |
//! | [`pbx`] | a registrar and proxy: registered users call each other (authenticated, routed by location), voicemail when nobody answers |
//! | [`im`] | receives `text/plain` instant messages (RFC 3428) |
//! | [`mwi`] | a message-waiting notifier (RFC 3842): SUBSCRIBE to a mailbox, MESSAGE leaves a message, subscribers get NOTIFY |
//! | [`busy`] | refuses calls: 486 Busy Here, 603 Decline, or answer-and-hang-up |
//!
//! Each module has `serve(listen, shutdown)`, which listens for UDP and TCP
//! on `listen` (a `SocketAddr`, or a [`listen::Listen`] that adds a TLS
//! listener) until `shutdown` completes, and `bind(listen, ..)`, which
//! returns the bound server (for tests that listen on port 0 and need the
//! port). The handlers are written with `#[uas_handler]`, the way an
//! application would write them. [`cli`] holds what the binaries share:
//! the value parsers of their `clap` command lines, logging, Ctrl-C; with
//! the `otel` feature, the `otel` module exports their spans as
//! OpenTelemetry traces (`--otlp URL`).
#![warn(missing_docs)]

pub mod alloc;
pub mod answer;
pub mod b2bua;
pub mod busy;
pub mod cli;
pub mod echo;
pub mod im;
pub mod ivr;
pub mod listen;
pub mod mwi;
#[cfg(feature = "otel")]
pub mod otel;
pub mod pbx;
pub mod proxy;
pub mod registrar;
pub mod transfer;
pub mod voicemail;

/// The caller's address (the From URI), for the logs.
fn caller(req: &parrot::message::Request) -> String {
    req.headers
        .from_header()
        .map(|f| f.addr.uri().to_string())
        .unwrap_or_default()
}
