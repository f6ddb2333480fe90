//! `proxy`: a stateful SIP proxy to fixed targets (see `examples::proxy`).

use clap::Parser;
use examples::cli;
use examples::listen::TlsArgs;
use examples::proxy::{self, ProxyOptions};
use parrot::message::Uri;
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// A stateful SIP proxy (RFC 3261 section 16) to fixed targets.
///
/// Every new INVITE, MESSAGE, INFO, SUBSCRIBE, NOTIFY, REFER, PUBLISH,
/// UPDATE (and extension method) goes to the --to target; with several
/// --to the request is forked to all of them in parallel: the first 2xx
/// wins and the other branches are cancelled, a 6xx ends the fork,
/// otherwise the best final response goes back. A target without a user
/// part keeps the Request-URI's user.
///
/// The proxy decrements Max-Forwards (483 Too Many Hops at 0), detects
/// loops (482), adds its Via and a Record-Route, relays 180/183 and 2xx at
/// once, forwards a caller's CANCEL, and forwards the ACK, BYE and other
/// requests of the calls it set up (by their Route, or to the callee's
/// Contact when they come straight to the proxy). A target that cannot be
/// reached gives 503 (TCP connection refused) or 408 (no answer). OPTIONS
/// is answered by the proxy itself; REGISTER gets 405 (a proxy is not a
/// registrar).
#[derive(Debug, Parser)]
#[command(
    name = "proxy",
    after_help = "Logs go to stderr; RUST_LOG sets the level (default info; debug shows \
                  the runtime's relaying). Ctrl-C stops."
)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// Where to send requests, e.g. sip:10.0.0.2:5060 or
    /// sip:10.0.0.2:5080;transport=tcp (repeat it to fork)
    #[arg(long = "to", value_name = "URI", required = true, value_parser = proxy::parse_target)]
    targets: Vec<Uri>,
    /// Add no Record-Route: the dialog's later requests may bypass the
    /// proxy
    #[arg(long)]
    no_record_route: bool,
}

impl Args {
    fn options(self) -> ProxyOptions {
        ProxyOptions {
            targets: self.targets,
            record_route: !self.no_record_route,
        }
    }
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        let listen = args.tls.listen(args.listen)?;
        proxy::serve_with(listen, cli::ctrl_c(), args.options()).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        cli::try_parse(argv)
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn every_to_is_a_target_in_order() {
        let args = parse(&[
            "--listen",
            "127.0.0.1:5060",
            "--to",
            "sip:10.0.0.2:5060",
            "--no-record-route",
            "--to=sip:10.0.0.3:5080;transport=tcp",
        ])
        .unwrap();
        assert_eq!(args.listen, "127.0.0.1:5060".parse().unwrap());
        let options = args.options();
        assert!(!options.record_route);
        let t: Vec<String> = options.targets.iter().map(ToString::to_string).collect();
        assert_eq!(t, ["sip:10.0.0.2:5060", "sip:10.0.0.3:5080;transport=tcp"]);
        assert!(
            parse(&["--to", "sip:10.0.0.2"])
                .unwrap()
                .options()
                .record_route
        );
        assert_eq!(
            parse(&["--listen=5060"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["--to", "10.0.0.2"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
    }
}
