//! `b2bua`: a back-to-back user agent routing calls by prefix (see
//! `examples::b2bua`).

use clap::Parser;
use examples::b2bua::{self, B2buaOptions, Route};
use examples::cli;
use examples::listen::TlsArgs;
use parrot::message::Uri;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// A back-to-back user agent (RFC 3261 section 6): every call it takes
/// becomes a new call of its own to a routed target.
///
/// The Request-URI's user picks the route with the longest matching
/// --route prefix (--to is the route for every user); the target's host
/// replaces the Request-URI's, the user is kept unless the target names
/// one. The callee's ringing and early media, its answer or its refusal
/// (status and reason; 401/407 become 403, 503 becomes 500) go back to
/// the caller; CANCEL goes on to the callee; a BYE from either side ends
/// both calls, and so does any other end of either (no ACK, timeouts,
/// unreachable peers). A re-INVITE or UPDATE with a new offer, INFO and
/// MESSAGE pass between the calls either way. A REFER from either side
/// is carried out (RFC 3515, RFC 5589): the caller's joins the callee to
/// the Refer-To target, the callee's puts the target in its place. A
/// user no route matches gets 404.
#[derive(Debug, Parser)]
#[command(name = "b2bua", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// Where every call goes, e.g. sip:10.0.0.2:5060 (the route with an
    /// empty prefix)
    #[arg(long, value_name = "URI", value_parser = examples::proxy::parse_target)]
    to: Option<Uri>,
    /// Calls to users starting with PREFIX go to URI, e.g.
    /// 1=sip:10.0.0.2:5060 (repeatable; the longest prefix wins)
    #[arg(long = "route", value_name = "PREFIX=URI", value_parser = b2bua::parse_route)]
    routes: Vec<Route>,
    /// Where the outgoing calls are sent from, UDP and TCP [default: the
    /// listen address's IP, any port]
    #[arg(long, value_name = "ADDR", value_parser = cli::parse_listen)]
    outgoing: Option<SocketAddr>,
    /// How long a callee may ring before it is cancelled (the caller gets
    /// 408)
    #[arg(long, value_name = "SECONDS", default_value = "180", value_parser = cli::parse_seconds)]
    no_answer: Duration,
    /// Username the outgoing calls answer a 401/407 challenge with
    #[arg(long, value_name = "NAME", requires = "password")]
    user: Option<String>,
    /// Password for --user
    #[arg(long, value_name = "PASSWORD", requires = "user")]
    password: Option<String>,
}

impl Args {
    fn options(self) -> Result<B2buaOptions, cli::Error> {
        let mut routes = self.routes;
        if let Some(to) = self.to {
            routes.push(Route::to(to));
        }
        if routes.is_empty() {
            return Err(cli::Error::Usage(
                "give a route: --to URI or --route PREFIX=URI".into(),
            ));
        }
        Ok(B2buaOptions {
            routes,
            outgoing: self.outgoing,
            no_answer: self.no_answer,
            credentials: self.user.zip(self.password),
        })
    }
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        let listen = args.tls.listen(args.listen)?;
        let options = args.options()?;
        b2bua::serve_with(listen, cli::ctrl_c(), options).await?;
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
    fn to_and_routes_make_the_route_table() {
        let options = parse(&[
            "--listen",
            "127.0.0.1:5060",
            "--route",
            "1=sip:10.0.0.2:5060",
            "--to",
            "sip:10.0.0.9;transport=tcp",
            "--no-answer",
            "30",
        ])
        .unwrap()
        .options()
        .unwrap();
        let routes: Vec<(String, String)> = options
            .routes
            .iter()
            .map(|r| (r.prefix.clone(), r.target.to_string()))
            .collect();
        assert_eq!(
            routes,
            [
                ("1".to_owned(), "sip:10.0.0.2:5060".to_owned()),
                (String::new(), "sip:10.0.0.9;transport=tcp".to_owned())
            ]
        );
        assert_eq!(options.no_answer, Duration::from_secs(30));
        assert!(matches!(
            parse(&[]).unwrap().options(),
            Err(cli::Error::Usage(_))
        ));
        assert_eq!(
            parse(&["--route", "sip:x"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            parse(&["--to", "x", "--user", "u"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
    }
}
