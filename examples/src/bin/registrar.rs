//! `registrar`: a registrar with an in-memory location service (see
//! `examples::registrar`).

use clap::Parser;
use examples::cli;
use examples::listen::TlsArgs;
use examples::registrar::{self, Location, RegistrarOptions};
use parrot::auth::{Algorithm, DigestAuthenticator, Users};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// A SIP registrar (RFC 3261 section 10.3) keeping its bindings in memory.
///
/// REGISTER adds, refreshes or removes (Expires: 0) the Contacts of the
/// address-of-record in the To header; Contact: * with Expires: 0 removes
/// them all. A lifetime below the minimum gets 423 Interval Too Brief with
/// Min-Expires. Every 200 lists the current Contacts with their remaining
/// lifetime; a REGISTER without Contact just asks for that list. Lapsed
/// bindings are dropped when next looked at and by a periodic sweep.
///
/// Requests to a registered address-of-record (INVITE, MESSAGE, ...) are
/// proxied to its Contacts; 480 when it has none. A Contact registered over
/// a WebSocket (a browser) or with outbound (reg-id) is reached through the
/// connection it registered on, and is removed when that connection closes.
///
/// With --auth, every REGISTER needs Digest credentials (RFC 3261 section
/// 22): it is answered 401 with a challenge until it carries the right
/// password for a user given with --auth, and that user may register only
/// its own address-of-record (To: sip:USER@...; another one gets 403).
#[derive(Debug, Parser)]
#[command(name = "registrar", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// Shortest lifetime accepted
    #[arg(long, value_name = "SECONDS", default_value_t = RegistrarOptions::default().min_expires)]
    min_expires: u32,
    /// Lifetime when the request names none
    #[arg(long, value_name = "SECONDS",
          default_value_t = RegistrarOptions::default().default_expires)]
    default_expires: u32,
    /// Longest lifetime granted
    #[arg(long, value_name = "SECONDS", default_value_t = RegistrarOptions::default().max_expires)]
    max_expires: u32,
    /// How often lapsed bindings are swept
    #[arg(long = "sweep", value_name = "SECONDS", default_value = "60",
          value_parser = cli::parse_seconds)]
    sweep_interval: Duration,
    /// Require Digest authentication and accept this user (repeat for more
    /// users)
    #[arg(long = "auth", value_name = "USER:PASSWORD", value_parser = parse_user)]
    users: Vec<(String, String)>,
    /// The authentication realm
    #[arg(
        long,
        value_name = "REALM",
        default_value = "parrot",
        requires = "users"
    )]
    realm: String,
    /// Algorithms offered, preferred first, comma-separated (also
    /// SHA-512-256 and the -sess variants). Clients that answer only MD5
    /// but read only the first challenge (SIPp 3.6) need MD5 alone or first
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "SHA-256,MD5",
          value_parser = parse_algorithm, requires = "users")]
    auth_algorithms: Vec<Algorithm>,
    /// How long a nonce is accepted
    #[arg(long, value_name = "SECONDS", default_value = "300",
          value_parser = cli::parse_seconds, requires = "users")]
    nonce_lifetime: Duration,
}

/// Parses an `--auth` value.
fn parse_user(entry: &str) -> Result<(String, String), String> {
    match entry.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        _ => Err(format!("{entry:?} is not USER:PASSWORD")),
    }
}

/// Parses one name of an `--auth-algorithms` list.
fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    name.trim().parse().map_err(|e| format!("{e}"))
}

impl Args {
    /// The registrar's options; a usage error when the lifetimes are out
    /// of order.
    fn options(&self) -> Result<RegistrarOptions, cli::Error> {
        if self.default_expires < self.min_expires || self.max_expires < self.default_expires {
            return Err(cli::Error::Usage(
                "need --min-expires <= --default-expires <= --max-expires".into(),
            ));
        }
        Ok(RegistrarOptions {
            min_expires: self.min_expires,
            default_expires: self.default_expires,
            max_expires: self.max_expires,
            sweep_interval: self.sweep_interval,
            auth: self.authenticator().map(Arc::new),
        })
    }

    /// The authenticator the options ask for, if any `--auth` is given.
    fn authenticator(&self) -> Option<DigestAuthenticator> {
        if self.users.is_empty() {
            return None;
        }
        let mut users = Users::new();
        for (user, password) in &self.users {
            users.insert(user, password);
        }
        Some(
            DigestAuthenticator::new(self.realm.clone(), users)
                .with_algorithms(&self.auth_algorithms)
                .with_nonce_lifetime(self.nonce_lifetime),
        )
    }
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        let options = args.options()?;
        registrar::serve_with(
            args.tls.listen(args.listen)?,
            cli::ctrl_c(),
            options,
            Location::new(),
        )
        .await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;
    use parrot::auth::DEFAULT_NONCE_LIFETIME;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        cli::try_parse(argv)
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let options = parse(&[]).unwrap().options().unwrap();
        let d = RegistrarOptions::default();
        assert_eq!(
            (
                options.min_expires,
                options.default_expires,
                options.max_expires,
                options.sweep_interval
            ),
            (
                d.min_expires,
                d.default_expires,
                d.max_expires,
                d.sweep_interval
            )
        );
        assert!(options.auth.is_none());
        let a = parse(&["--auth", "alice:pw"])
            .unwrap()
            .authenticator()
            .unwrap();
        let library = DigestAuthenticator::new("parrot", Users::new());
        assert_eq!(a.realm(), "parrot");
        assert_eq!(a.algorithms(), library.algorithms());
        assert_eq!(a.nonce_lifetime(), DEFAULT_NONCE_LIFETIME);
    }

    #[test]
    fn every_auth_value_is_a_user() {
        let args = parse(&[
            "--auth",
            "alice:a:b",
            "--realm=x",
            "--auth=bob:pw",
            "--min-expires",
            "60",
        ])
        .unwrap();
        assert_eq!(
            args.users,
            [
                ("alice".to_owned(), "a:b".to_owned()),
                ("bob".to_owned(), "pw".to_owned())
            ]
        );
        // --listen takes "--auth" as its value only when written so.
        assert!(parse(&["--listen", "--auth", "alice:pw"]).is_err());
        for bad in ["alice", ":pw"] {
            assert_eq!(
                parse(&["--auth", bad]).unwrap_err().kind(),
                ErrorKind::ValueValidation,
                "{bad}"
            );
        }
    }

    #[test]
    fn authenticator_options() {
        let a = parse(&[
            "--auth",
            "alice:pw",
            "--realm",
            "example.com",
            "--auth-algorithms",
            "md5, SHA-512-256",
            "--nonce-lifetime",
            "10",
        ])
        .unwrap()
        .authenticator()
        .unwrap();
        assert_eq!(a.realm(), "example.com");
        assert_eq!(a.algorithms(), [Algorithm::Md5, Algorithm::Sha512_256]);
        assert_eq!(a.nonce_lifetime(), Duration::from_secs(10));
        for bad in [
            &["--auth-algorithms", "SHA-1"][..],
            &["--auth-algorithms", ""],
            &["--nonce-lifetime", "-1"],
        ] {
            let mut argv = vec!["--auth", "alice:pw"];
            argv.extend_from_slice(bad);
            assert!(parse(&argv).is_err(), "{bad:?}");
        }
        // The authentication tuning means nothing without --auth.
        for alone in [
            &["--realm", "x"][..],
            &["--auth-algorithms", "MD5"],
            &["--nonce-lifetime", "10"],
        ] {
            assert_eq!(
                parse(alone).unwrap_err().kind(),
                ErrorKind::MissingRequiredArgument,
                "{alone:?}"
            );
        }
    }

    #[test]
    fn lifetimes_must_be_in_order() {
        assert!(
            parse(&["--min-expires", "10", "--default-expires", "5"])
                .unwrap()
                .options()
                .is_err()
        );
        assert!(parse(&["--max-expires", "100"]).unwrap().options().is_err());
        assert!(
            parse(&[
                "--min-expires",
                "5",
                "--default-expires",
                "5",
                "--max-expires",
                "5"
            ])
            .unwrap()
            .options()
            .is_ok()
        );
    }
}
