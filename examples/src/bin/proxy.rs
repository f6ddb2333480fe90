//! `proxy`: a stateful SIP proxy to fixed targets (see `examples::proxy`).

use examples::cli::{self, Spec};
use examples::proxy::{self, ProxyOptions};
use parrot::message::Uri;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

const SPEC: Spec = Spec {
    usage: "\
usage: proxy [--listen ADDR] --to URI [--to URI ...] [--no-record-route]

A stateful SIP proxy (RFC 3261 section 16). Every new INVITE, MESSAGE,
INFO, SUBSCRIBE, NOTIFY, REFER, PUBLISH, UPDATE (and extension method)
goes to the --to target; with several --to the request is forked to all
of them in parallel: the first 2xx wins and the other branches are
cancelled, a 6xx ends the fork, otherwise the best final response goes
back. A target without a user part keeps the Request-URI's user.

The proxy decrements Max-Forwards (483 Too Many Hops at 0), detects loops
(482), adds its Via and a Record-Route, relays 180/183 and 2xx at once,
forwards a caller's CANCEL, and forwards the ACK, BYE and other requests
of the calls it set up (by their Route, or to the callee's Contact when
they come straight to the proxy). A target that cannot be reached gives
503 (TCP connection refused) or 408 (no answer). OPTIONS is answered by
the proxy itself.

options:
  --listen ADDR        where to listen, UDP and TCP (default 0.0.0.0:5060;
                       a bare port means every interface)
  --to URI             where to send requests, e.g. sip:10.0.0.2:5060 or
                       sip:10.0.0.2:5080;transport=tcp (required; repeat
                       it to fork)
  --no-record-route    add no Record-Route: the dialog's later requests
                       may bypass the proxy
  -h, --help           this text

Logs go to stderr; RUST_LOG sets the level (default info; debug shows
the runtime's relaying). Ctrl-C stops.",
    values: &["--to"],
    switches: &["--no-record-route"],
};

fn main() -> ExitCode {
    cli::main(&SPEC, |opts| async move {
        // `cli::Options` keeps the last value of an option; the targets
        // are every `--to`, read from the (already validated) arguments.
        let targets = targets(std::env::args().skip(1))?;
        if targets.is_empty() {
            return Err(cli::Error::Usage("--to is required".into()));
        }
        let options = ProxyOptions {
            targets,
            record_route: !opts.switch("--no-record-route"),
        };
        proxy::serve_with(opts.listen()?, cli::ctrl_c(), options).await?;
        Ok(())
    })
}

/// Every `--to URI` / `--to=URI`, parsed, in order.
fn targets(args: impl IntoIterator<Item = String>) -> Result<Vec<Uri>, cli::Error> {
    let mut args = args.into_iter();
    let mut targets = Vec::new();
    while let Some(arg) = args.next() {
        let value = match arg.split_once('=') {
            Some(("--to", v)) => Some(v.to_owned()),
            Some(_) => None,
            None if arg == "--to" => args.next(),
            // A value-taking option: skip its value.
            None if arg == "--listen" => {
                args.next();
                None
            }
            None => None,
        };
        if let Some(v) = value {
            let uri =
                proxy::parse_target(&v).map_err(|e| cli::Error::Usage(format!("--to: {e}")))?;
            targets.push(uri);
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::targets;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_to_is_a_target_in_order() {
        let t = targets(args(&[
            "--listen",
            "127.0.0.1:5060",
            "--to",
            "sip:10.0.0.2:5060",
            "--no-record-route",
            "--to=sip:10.0.0.3:5080;transport=tcp",
        ]))
        .unwrap();
        let t: Vec<String> = t.iter().map(ToString::to_string).collect();
        assert_eq!(t, ["sip:10.0.0.2:5060", "sip:10.0.0.3:5080;transport=tcp"]);
        assert!(targets(args(&["--listen=5060"])).unwrap().is_empty());
        assert!(targets(args(&["--to", "10.0.0.2"])).is_err());
    }
}
