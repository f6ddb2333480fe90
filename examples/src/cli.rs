//! What the example binaries share: the value parsers of their `clap`
//! command lines (each binary declares its options on one
//! `#[derive(clap::Parser)]` struct), log output through
//! `tracing-subscriber` (and, with the `otel` feature, trace export: see
//! the `otel` module), and a clean exit on Ctrl-C.
//!
//! ```no_run
//! use clap::Parser;
//! use examples::cli;
//! use std::net::SocketAddr;
//!
//! /// Refuses every call with 486 Busy Here.
//! #[derive(Parser)]
//! #[command(name = "demo", after_help = cli::AFTER_HELP)]
//! struct Args {
//!     /// Where to listen, UDP and TCP (a bare port means every interface)
//!     #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
//!           value_parser = cli::parse_listen)]
//!     listen: SocketAddr,
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     cli::main(|args: Args| async move {
//!         examples::busy::serve(args.listen, cli::ctrl_c()).await?;
//!         Ok(())
//!     })
//! }
//! ```

use std::cell::Cell;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The allocator every example binary installs (`#[global_allocator]` in
/// each `src/bin` file, not here: tests that link this library install
/// their own counting allocators). A SIP server allocates and frees a few
/// hundred small blocks per call while it holds hundreds of thousands of
/// live ones (transactions absorbing retransmissions for 32 s, dialogs):
/// glibc's malloc then spends up to a third of the CPU in its bin searches
/// and consolidation (`bench/load.sh`, 8000 calls/s), mimalloc's
/// size-class pages a small fraction of that.
pub type Allocator = crate::alloc::MiAlloc;

/// The value to install: `static A: Allocator = ALLOCATOR;`.
pub const ALLOCATOR: Allocator = crate::alloc::MiAlloc;

/// Hands the memory a load peak freed back to the system, for
/// [`ServerBuilder::release_memory_with`](parrot::server::ServerBuilder::release_memory_with):
/// mimalloc keeps freed pages for reuse until told. Its collection works
/// on the calling thread's heap, so this one collects here and asks every
/// runtime worker to do the same when it next goes idle (the runtime of
/// [`main`] runs a check each time a worker parks).
pub fn release_memory() {
    RELEASES.fetch_add(1, Ordering::Relaxed);
    collect();
}

/// Runs on a runtime worker each time it goes idle: collects its heap if a
/// release was asked for since its last one (an atomic load otherwise).
fn on_park() {
    let asked = RELEASES.load(Ordering::Relaxed);
    if SEEN.replace(asked) != asked {
        collect();
    }
}

/// The CPUs this process may run on (its affinity mask, its cgroup's
/// quota), 1 when unknown.
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The runtime for `cpus` CPUs and `shards` shards. On one CPU, or with
/// shards (the first shard runs on this runtime, each other one on a
/// current-thread runtime of its own), the current-thread scheduler: with
/// no other core to hand work to, a work-stealing scheduler only adds its
/// bookkeeping (atomic queues, a clock read and a poll-time average per
/// batch of tasks) and a worker thread beside the one that blocks on the
/// server. On more CPUs without shards, the multi-thread scheduler, so
/// that the receiving, transaction and session tasks run on several cores
/// at once.
fn runtime_builder(cpus: usize, shards: usize) -> tokio::runtime::Builder {
    if cpus <= 1 || shards > 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

/// Releases asked for so far.
static RELEASES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The releases this thread has carried out.
    static SEEN: Cell<u64> = const { Cell::new(0) };
}

fn collect() {
    // SAFETY: mi_collect only works on mimalloc's own state and may be
    // called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Where the examples listen unless told otherwise: every interface, the
/// standard SIP port (RFC 3261 §18).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5060);

/// [`DEFAULT_LISTEN`] as written on a command line (a `default_value`).
pub const DEFAULT_LISTEN_TEXT: &str = "0.0.0.0:5060";

/// The end of every server binary's `--help`.
pub const AFTER_HELP: &str =
    "Logs go to stderr; RUST_LOG sets the level (default info). Ctrl-C stops.";

/// Why a binary stops with an error after its command line parsed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options parse but do not fit together (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// The server could not start (exit status 1).
    #[error(transparent)]
    Server(#[from] parrot::Error),
    /// A service the server needs could not be reached (exit status 1).
    #[error("{0}")]
    Unavailable(String),
}

/// Parses a `--listen` value: an `IP:PORT`, or a bare port on every
/// interface.
pub fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = v.parse::<u16>() {
        return Ok(SocketAddr::new(DEFAULT_LISTEN.ip(), port));
    }
    v.parse()
        .map_err(|_| format!("{v:?} is not an address such as 0.0.0.0:5060 or [::]:5060"))
}

/// Parses a duration in (possibly fractional) seconds.
pub fn parse_seconds(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{v:?} is not a number of seconds"))
}

/// Parses `argv`, without the program name, as the command line of a
/// binary whose options are `A` (for the binaries' tests).
pub fn try_parse<A: clap::Parser>(argv: &[&str]) -> Result<A, clap::Error> {
    let name = <A as clap::CommandFactory>::command().get_name().to_owned();
    A::try_parse_from(std::iter::once(name.as_str()).chain(argv.iter().copied()))
}

/// The logging and metrics options every server binary takes (flattened into
/// [`TlsArgs`](crate::listen::TlsArgs)); `--otlp` only in a build with the
/// `otel` feature.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct LogArgs {
    /// Log every SIP message received and sent, in full, at INFO under
    /// the target parrot::sip (RUST_LOG=parrot::sip=off silences it)
    #[arg(long)]
    pub trace_sip: bool,
    /// Log as JSON, one object per line, instead of text
    #[arg(long)]
    pub log_json: bool,
    /// Serve Prometheus metrics (GET /metrics) and a health check (GET
    /// /health) over HTTP here (a bare port means every interface)
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub metrics: Option<SocketAddr>,
    /// Export each request's span (Call-ID, method; at DEBUG also branch,
    /// peer, transport) as an OpenTelemetry trace to this OTLP/HTTP
    /// receiver: POSTed as JSON to URL/v1/traces
    #[cfg(feature = "otel")]
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT",
          value_parser = crate::otel::parse_endpoint)]
    pub otlp: Option<String>,
}

/// Installs the log output: human-readable lines on stderr, filtered by
/// `RUST_LOG` (default `info`).
pub fn init_logging() {
    init_logging_with(false);
}

/// Installs the log output on stderr, filtered by `RUST_LOG` (default
/// `info`): human-readable lines, or with `json` one JSON object per
/// event (its fields, the span list and the target among them).
pub fn init_logging_with(json: bool) {
    install_logging(json, None);
}

/// The tracer of an OpenTelemetry export; a type without values in a build
/// without the `otel` feature, where there is never one.
#[cfg(feature = "otel")]
type OtelTracer = opentelemetry_sdk::trace::Tracer;
#[cfg(not(feature = "otel"))]
type OtelTracer = std::convert::Infallible;

/// [`init_logging_with`], plus with `otel` a layer that turns the spans
/// the filter lets through into OpenTelemetry spans.
fn install_logging(json: bool, otel: Option<OtelTracer>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (e.g. from a test) keeps the first subscriber.
    let _ = if json {
        try_init(
            tracing_subscriber::fmt()
                .json()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .finish(),
            otel,
        )
    } else {
        try_init(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .finish(),
            otel,
        )
    };
}

/// Installs `subscriber` as the global default, with the OpenTelemetry
/// layer on top when there is a tracer. The `fmt` subscriber's filter
/// decides for both: a span it disables is not exported either.
fn try_init<S>(
    subscriber: S,
    otel: Option<OtelTracer>,
) -> Result<(), tracing_subscriber::util::TryInitError>
where
    S: tracing::Subscriber
        + for<'a> tracing_subscriber::registry::LookupSpan<'a>
        + Send
        + Sync
        + 'static,
{
    use tracing_subscriber::util::SubscriberInitExt;
    match otel {
        None => subscriber.try_init(),
        #[cfg(feature = "otel")]
        Some(tracer) => {
            use tracing_subscriber::layer::SubscriberExt;
            subscriber
                .with(tracing_opentelemetry::layer().with_tracer(tracer))
                .try_init()
        }
    }
}

/// Whether the parsed command line asked for `--log-json` (false for a
/// binary without the option).
/// The `--shards` of the parsed command line (1 for a binary without the
/// option).
fn shards(matches: &clap::ArgMatches) -> usize {
    matches
        .try_get_one::<u16>("shards")
        .ok()
        .flatten()
        .map_or(1, |&n| usize::from(n))
}

fn wants_json(matches: &clap::ArgMatches) -> bool {
    matches
        .try_get_one::<bool>("log_json")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

/// The `--otlp` URL of the parsed command line (none for a binary without
/// the option, or without it given).
#[cfg(feature = "otel")]
fn otlp_endpoint(matches: &clap::ArgMatches) -> Option<String> {
    matches
        .try_get_one::<String>("otlp")
        .ok()
        .flatten()
        .cloned()
}

/// Completes on Ctrl-C (SIGINT): the `shutdown` future the binaries hand
/// to `serve`, after which the server stops gracefully.
pub async fn ctrl_c() {
    match tokio::signal::ctrl_c().await {
        Ok(()) => tracing::info!("Ctrl-C: shutting down"),
        Err(e) => {
            // No signal handling: run until killed.
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

/// A server binary's `main`: parses the command line into `A` (clap
/// prints `--help` and command-line errors itself, exiting 0 and 2),
/// installs logging (as JSON when the binary has [`LogArgs`] and
/// `--log-json` was given; with the `otel` feature and `--otlp`, spans are
/// exported too, the last of them sent after `run` returns), and runs
/// `run` on a tokio runtime. Exit status: 0
/// after a clean shutdown, 1 when the server fails, 2 for options that do
/// not fit together ([`Error::Usage`]).
pub fn main<A, F, Fut>(run: F) -> ExitCode
where
    A: clap::Parser,
    F: FnOnce(A) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut command = <A as clap::CommandFactory>::command();
    let program = command.get_name().to_owned();
    let mut matches = command.get_matches_mut();
    let json = wants_json(&matches);
    // Read before the parse below takes the values out.
    let shards = shards(&matches);
    #[cfg(feature = "otel")]
    let otlp = otlp_endpoint(&matches);
    let args = <A as clap::FromArgMatches>::from_arg_matches_mut(&mut matches)
        .unwrap_or_else(|e| e.format(&mut command).exit());
    #[cfg(feature = "otel")]
    let export = match otlp.map(|url| crate::otel::Export::start(&url, &program)) {
        None => None,
        Some(Ok(export)) => Some(export),
        Some(Err(e)) => {
            eprintln!("{program}: --otlp: {e}\n(try {program} --help)");
            return ExitCode::from(2);
        }
    };
    #[cfg(feature = "otel")]
    install_logging(json, export.as_ref().map(crate::otel::Export::tracer));
    #[cfg(not(feature = "otel"))]
    install_logging(json, None);
    let cpus = available_cpus();
    let runtime = match runtime_builder(cpus, shards)
        .enable_all()
        .on_thread_park(on_park)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        cpus,
        shards,
        scheduler = if cpus <= 1 || shards > 1 {
            "current-thread"
        } else {
            "multi-thread"
        },
        "runtime started"
    );
    let code = match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ Error::Usage(_)) => {
            eprintln!("{program}: {e}\n(try {program} --help)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    };
    // Tasks still holding request spans end them as the runtime goes.
    drop(runtime);
    #[cfg(feature = "otel")]
    if let Some(export) = export
        && let Err(e) = export.shutdown()
    {
        tracing::warn!(error = %e, "OpenTelemetry export: spans may be lost");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cpu_or_shards_get_the_current_thread_scheduler() {
        use tokio::runtime::RuntimeFlavor;
        for (cpus, shards, flavor) in [
            (0, 1, RuntimeFlavor::CurrentThread),
            (1, 1, RuntimeFlavor::CurrentThread),
            (2, 1, RuntimeFlavor::MultiThread),
            (8, 1, RuntimeFlavor::MultiThread),
            (2, 2, RuntimeFlavor::CurrentThread),
            (8, 8, RuntimeFlavor::CurrentThread),
        ] {
            let rt = runtime_builder(cpus, shards).enable_all().build().unwrap();
            assert_eq!(rt.handle().runtime_flavor(), flavor, "{cpus} CPUs");
        }
    }

    #[test]
    fn listen_values() {
        assert_eq!(parse_listen(DEFAULT_LISTEN_TEXT), Ok(DEFAULT_LISTEN));
        assert_eq!(
            parse_listen("127.0.0.1:5070"),
            Ok("127.0.0.1:5070".parse().unwrap())
        );
        assert_eq!(
            parse_listen("5080").unwrap(),
            "0.0.0.0:5080".parse().unwrap()
        );
        assert!(parse_listen("[::1]:5060").unwrap().is_ipv6());
        assert!(parse_listen("nowhere").is_err());
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "demo")]
    struct Demo {
        #[command(flatten)]
        log: LogArgs,
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "plain")]
    struct Plain {}

    #[test]
    fn log_options() {
        use clap::CommandFactory;
        let m = Demo::command().try_get_matches_from(["demo", "--log-json", "--trace-sip"]);
        assert!(wants_json(&m.unwrap()));
        let d = try_parse::<Demo>(&["--trace-sip"]).unwrap();
        assert!(d.log.trace_sip && !d.log.log_json && d.log.metrics.is_none());
        let d = try_parse::<Demo>(&["--metrics", "127.0.0.1:9090"]).unwrap();
        assert_eq!(d.log.metrics, Some("127.0.0.1:9090".parse().unwrap()));
        let d = try_parse::<Demo>(&["--metrics", "9091"]).unwrap();
        assert_eq!(d.log.metrics.map(|a| a.port()), Some(9091));
        assert!(try_parse::<Demo>(&["--metrics", "nowhere"]).is_err());
        assert!(!wants_json(
            &Demo::command().try_get_matches_from(["demo"]).unwrap()
        ));
        assert!(!wants_json(
            &Plain::command().try_get_matches_from(["plain"]).unwrap()
        ));
    }

    #[cfg(feature = "otel")]
    #[test]
    fn otlp_option() {
        use clap::CommandFactory;
        let argv = ["demo", "--otlp", "http://127.0.0.1:4318/"];
        let m = Demo::command().try_get_matches_from(argv).unwrap();
        assert_eq!(otlp_endpoint(&m).as_deref(), Some("http://127.0.0.1:4318"));
        let d = try_parse::<Demo>(&argv[1..]).unwrap();
        assert_eq!(d.log.otlp.as_deref(), Some("http://127.0.0.1:4318"));
        assert!(try_parse::<Demo>(&["--otlp", "https://collector:4318"]).is_err());
    }

    #[test]
    fn seconds_values() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        for bad in ["-1", "soon", "", "inf", "NaN"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
