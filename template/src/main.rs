//! Runs the {{project-name}} SIP server until Ctrl-C.
//!
//! Usage: `{{project-name}} [--listen ADDR]` (default 127.0.0.1:5060);
//! `RUST_LOG=debug` for more log output.

use std::net::SocketAddr;
use std::process::ExitCode;

/// Where the server listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:5060";

const USAGE: &str = "\
Usage: {{project-name}} [--listen ADDR]

A SIP user agent server: answers calls (200 OK with an SDP answer) and
takes instant messages, until Ctrl-C.

Options:
  --listen ADDR   where to listen, UDP and TCP, as IP:PORT [default: 127.0.0.1:5060]
  -h, --help      print this help
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    /// Serve on this address.
    Serve(SocketAddr),
    /// Print the usage.
    Help,
}

/// Parses the arguments (without the program name); `Err` says what is
/// wrong with them.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut listen = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--listen" => args.next().ok_or("--listen needs an address")?,
            other => match other.strip_prefix("--listen=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        };
        let addr = value
            .parse()
            .map_err(|_| format!("`{value}` is not an IP:PORT address"))?;
        listen = Some(addr);
    }
    match listen {
        Some(addr) => Ok(Command::Serve(addr)),
        None => DEFAULT_LISTEN
            .parse()
            .map(Command::Serve)
            .map_err(|e| format!("default address: {e}")),
    }
}

/// Completes on Ctrl-C; never when the signal cannot be listened for.
async fn ctrl_c() {
    match tokio::signal::ctrl_c().await {
        Ok(()) => tracing::info!("Ctrl-C: shutting down"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let listen = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(addr)) => addr,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let server = match {{crate_name}}::bind(listen).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.serve().with_graceful_shutdown(ctrl_c()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn the_listen_address_is_parsed() {
        let default: SocketAddr = DEFAULT_LISTEN.parse().unwrap();
        assert_eq!(parse(&[]), Ok(Command::Serve(default)));
        let addr: SocketAddr = "0.0.0.0:5070".parse().unwrap();
        assert_eq!(
            parse(&["--listen", "0.0.0.0:5070"]),
            Ok(Command::Serve(addr))
        );
        assert_eq!(parse(&["--listen=0.0.0.0:5070"]), Ok(Command::Serve(addr)));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
    }

    #[test]
    fn bad_arguments_are_errors() {
        for bad in [
            &["--listen"][..],
            &["--listen", "nowhere"],
            &["--listen=5070"],
            &["--bogus"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
