//! What the example binaries share: hand-rolled argument parsing (no
//! dependency for a handful of options), log output through
//! `tracing-subscriber`, and a clean exit on Ctrl-C.
//!
//! ```no_run
//! use examples::cli::{self, Spec};
//!
//! const SPEC: Spec = Spec {
//!     usage: "usage: demo [--listen ADDR]",
//!     values: &[],
//!     switches: &[],
//! };
//!
//! fn main() -> std::process::ExitCode {
//!     cli::main(&SPEC, |opts| async move {
//!         let listen = opts.listen()?;
//!         examples::busy::serve(listen, cli::ctrl_c()).await?;
//!         Ok(())
//!     })
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

/// The allocator every example binary installs (`#[global_allocator]` in
/// each `src/bin` file, not here: tests that link this library install
/// their own counting allocators). A SIP server allocates and frees a few
/// hundred small blocks per call while it holds hundreds of thousands of
/// live ones (transactions absorbing retransmissions for 32 s, dialogs):
/// glibc's malloc then spends up to a third of the CPU in its bin searches
/// and consolidation (`bench/load.sh`, 8000 calls/s), mimalloc's
/// size-class pages a small fraction of that.
pub type Allocator = mimalloc::MiMalloc;

/// The value to install: `static A: Allocator = ALLOCATOR;`.
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;

/// Where the examples listen unless told otherwise: every interface, the
/// standard SIP port (RFC 3261 §18).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5060);

/// The options a binary accepts besides `--listen` and `--help`.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The `--help` text.
    pub usage: &'static str,
    /// Options taking a value (`--name VALUE` or `--name=VALUE`).
    pub values: &'static [&'static str],
    /// Options taking no value.
    pub switches: &'static [&'static str],
}

/// Why a binary stops with an error.
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong (exit status 2).
    Usage(String),
    /// The server could not start (exit status 1).
    Server(parrot::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(why) => f.write_str(why),
            Error::Server(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<parrot::Error> for Error {
    fn from(e: parrot::Error) -> Self {
        Error::Server(e)
    }
}

/// A parsed command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
}

impl Options {
    /// `--listen ADDR` (an `IP:PORT`, or a bare port on every interface);
    /// [`DEFAULT_LISTEN`] when absent.
    pub fn listen(&self) -> Result<SocketAddr, Error> {
        let Some(v) = self.raw("--listen") else {
            return Ok(DEFAULT_LISTEN);
        };
        if let Ok(port) = v.parse::<u16>() {
            return Ok(SocketAddr::new(DEFAULT_LISTEN.ip(), port));
        }
        v.parse().map_err(|_| {
            Error::Usage(format!(
                "--listen: {v:?} is not an address such as 0.0.0.0:5060 or [::]:5060"
            ))
        })
    }

    /// The value of option `name` parsed as `T`, if given.
    pub fn value<T>(&self, name: &str) -> Result<Option<T>, Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.raw(name)
            .map(|v| {
                v.parse()
                    .map_err(|e| Error::Usage(format!("{name}: {v:?}: {e}")))
            })
            .transpose()
    }

    /// The value of option `name` as a duration in (possibly fractional)
    /// seconds, if given.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, Error> {
        match self.value::<f64>(name)? {
            None => Ok(None),
            Some(s) => Duration::try_from_secs_f64(s)
                .map(Some)
                .map_err(|_| Error::Usage(format!("{name}: {s} is not a number of seconds"))),
        }
    }

    /// Whether switch `name` was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    fn raw(&self, name: &str) -> Option<&str> {
        // The last occurrence wins, as with most command-line tools.
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run with these options.
    Run(Options),
    /// Print the usage text and exit.
    Help,
}

/// Parses `args` (without the program name) against `spec`.
pub fn parse(spec: &Spec, args: impl IntoIterator<Item = String>) -> Result<Parsed, Error> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        if let Some(&known) = spec
            .values
            .iter()
            .chain(&["--listen"])
            .find(|v| **v == name)
        {
            let value = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| Error::Usage(format!("{known} needs a value")))?,
            };
            opts.values.push((known, value));
        } else if let Some(&known) = spec.switches.iter().find(|s| **s == name) {
            if inline.is_some() {
                return Err(Error::Usage(format!("{known} takes no value")));
            }
            opts.switches.push(known);
        } else {
            return Err(Error::Usage(format!("unknown argument {arg:?}")));
        }
    }
    Ok(Parsed::Run(opts))
}

/// Installs the log output: human-readable lines on stderr, filtered by
/// `RUST_LOG` (default `info`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (e.g. from a test) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
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

/// A binary's `main`: parses the command line (printing the usage for
/// `--help`), installs logging, and runs `run` on a tokio runtime. Exit
/// status: 0 after a clean shutdown, 1 when the server fails, 2 for a bad
/// command line.
pub fn main<F, Fut>(spec: &Spec, run: F) -> ExitCode
where
    F: FnOnce(Options) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let program = std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "example".into());
    let opts = match parse(spec, std::env::args().skip(1)) {
        Ok(Parsed::Help) => {
            println!("{}", spec.usage);
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(opts)) => opts,
        Err(e) => {
            eprintln!("{program}: {e}\n(try {program} --help)");
            return ExitCode::from(2);
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ Error::Usage(_)) => {
            eprintln!("{program}: {e}\n(try {program} --help)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        usage: "usage",
        values: &["--ring-delay"],
        switches: &["--reject"],
    };

    fn run(args: &[&str]) -> Result<Options, Error> {
        match parse(&SPEC, args.iter().map(|s| s.to_string()))? {
            Parsed::Run(o) => Ok(o),
            Parsed::Help => Err(Error::Usage("help".into())),
        }
    }

    #[test]
    fn listen_and_values() {
        let o = run(&[]).unwrap();
        assert_eq!(o.listen().unwrap(), DEFAULT_LISTEN);
        assert!(!o.switch("--reject"));
        let o = run(&["--listen", "127.0.0.1:5070", "--reject", "--ring-delay=1.5"]).unwrap();
        assert_eq!(o.listen().unwrap(), "127.0.0.1:5070".parse().unwrap());
        assert!(o.switch("--reject"));
        assert_eq!(
            o.seconds("--ring-delay").unwrap(),
            Some(Duration::from_millis(1500))
        );
        let o = run(&["--listen", "5080"]).unwrap();
        assert_eq!(o.listen().unwrap().port(), 5080);
        let o = run(&["--listen", "[::1]:5060"]).unwrap();
        assert!(o.listen().unwrap().is_ipv6());
    }

    #[test]
    fn help_and_errors() {
        assert!(matches!(parse(&SPEC, ["-h".to_string()]), Ok(Parsed::Help)));
        assert!(matches!(
            parse(&SPEC, ["--listen".into(), "x".into(), "--help".into()]),
            Ok(Parsed::Help)
        ));
        for bad in [
            &["--bogus"][..],
            &["--listen"],
            &["--reject=yes"],
            &["positional"],
        ] {
            assert!(matches!(run(bad), Err(Error::Usage(_))), "{bad:?}");
        }
        assert!(run(&["--listen", "nowhere"]).unwrap().listen().is_err());
        assert!(
            run(&["--ring-delay", "-1"])
                .unwrap()
                .seconds("--ring-delay")
                .is_err()
        );
        assert!(
            run(&["--ring-delay", "soon"])
                .unwrap()
                .seconds("--ring-delay")
                .is_err()
        );
    }
}
