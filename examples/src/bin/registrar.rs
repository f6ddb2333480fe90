//! `registrar`: a registrar with an in-memory location service (see
//! `examples::registrar`).

use examples::cli::{self, Spec};
use examples::registrar::{self, Location, RegistrarOptions};
use parrot::auth::{Algorithm, DigestAuthenticator, Users};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

const SPEC: Spec = Spec {
    usage: "\
usage: registrar [--listen ADDR] [--min-expires SECONDS] [--default-expires SECONDS]
                 [--max-expires SECONDS] [--sweep SECONDS]
                 [--auth USER:PASSWORD]... [--realm REALM]
                 [--auth-algorithms LIST] [--nonce-lifetime SECONDS]

A SIP registrar (RFC 3261 section 10.3) keeping its bindings in memory.
REGISTER adds, refreshes or removes (Expires: 0) the Contacts of the
address-of-record in the To header; Contact: * with Expires: 0 removes
them all. A lifetime below the minimum gets 423 Interval Too Brief with
Min-Expires. Every 200 lists the current Contacts with their remaining
lifetime; a REGISTER without Contact just asks for that list. Lapsed
bindings are dropped when next looked at and by a periodic sweep.

With --auth, every REGISTER needs Digest credentials (RFC 3261 section
22): it is answered 401 with a challenge until it carries the right
password for a user given with --auth, and that user may register only
its own address-of-record (To: sip:USER@...; another one gets 403).

options:
  --listen ADDR               where to listen, UDP and TCP (default
                              0.0.0.0:5060; a bare port means every interface)
  --min-expires SECONDS       shortest lifetime accepted (default 60)
  --default-expires SECONDS   lifetime when the request names none (default 3600)
  --max-expires SECONDS       longest lifetime granted (default 86400)
  --sweep SECONDS             how often lapsed bindings are swept (default 60)
  --auth USER:PASSWORD        require Digest authentication and accept this
                              user (repeat for more users)
  --realm REALM               the authentication realm (default parrot)
  --auth-algorithms LIST      algorithms offered, preferred first, comma-
                              separated (default SHA-256,MD5; also SHA-512-256
                              and the -sess variants). Clients that answer
                              only MD5 but read only the first challenge
                              (SIPp 3.6) need MD5 alone or first.
  --nonce-lifetime SECONDS    how long a nonce is accepted (default 300)
  -h, --help                  this text

Logs go to stderr; RUST_LOG sets the level (default info). Ctrl-C stops.",
    values: &[
        "--min-expires",
        "--default-expires",
        "--max-expires",
        "--sweep",
        "--auth",
        "--realm",
        "--auth-algorithms",
        "--nonce-lifetime",
    ],
    switches: &[],
};

fn main() -> ExitCode {
    cli::main(&SPEC, |opts| async move {
        let d = RegistrarOptions::default();
        let options = RegistrarOptions {
            min_expires: opts.value("--min-expires")?.unwrap_or(d.min_expires),
            default_expires: opts
                .value("--default-expires")?
                .unwrap_or(d.default_expires),
            max_expires: opts.value("--max-expires")?.unwrap_or(d.max_expires),
            sweep_interval: opts.seconds("--sweep")?.unwrap_or(d.sweep_interval),
            auth: authenticator(&opts, &auth_values(std::env::args().skip(1)))?
                .map(std::sync::Arc::new),
        };
        if options.default_expires < options.min_expires
            || options.max_expires < options.default_expires
        {
            return Err(cli::Error::Usage(
                "need --min-expires <= --default-expires <= --max-expires".into(),
            ));
        }
        registrar::serve_with(opts.listen()?, cli::ctrl_c(), options, Location::new()).await?;
        Ok(())
    })
}

/// Every value given to `--auth`: [`cli::Options`] keeps only the last one
/// of each option, so the command line (already checked by `cli::parse`)
/// is walked again the same way.
fn auth_values(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut found = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg, None),
        };
        if name == "--listen" || SPEC.values.contains(&name.as_str()) {
            let value = inline.or_else(|| args.next());
            if name == "--auth"
                && let Some(v) = value
            {
                found.push(v);
            }
        }
    }
    found
}

/// The authenticator the options ask for, if any `--auth` is given.
fn authenticator(
    opts: &cli::Options,
    auth: &[String],
) -> Result<Option<DigestAuthenticator>, cli::Error> {
    let tuning = ["--realm", "--auth-algorithms", "--nonce-lifetime"];
    if auth.is_empty() {
        if let Some(name) = tuning
            .into_iter()
            .find(|n| opts.value::<String>(n).ok().flatten().is_some())
        {
            return Err(cli::Error::Usage(format!("{name} needs --auth")));
        }
        return Ok(None);
    }
    let mut users = Users::new();
    for entry in auth {
        match entry.split_once(':') {
            Some((user, password)) if !user.is_empty() => users.insert(user, password),
            _ => {
                return Err(cli::Error::Usage(format!(
                    "--auth: {entry:?} is not USER:PASSWORD"
                )));
            }
        }
    }
    let realm = opts
        .value::<String>("--realm")?
        .unwrap_or_else(|| "parrot".to_owned());
    let mut auth = DigestAuthenticator::new(realm, users);
    if let Some(list) = opts.value::<String>("--auth-algorithms")? {
        let algorithms = list
            .split(',')
            .map(|a| a.trim().parse::<Algorithm>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cli::Error::Usage(format!("--auth-algorithms: {e}")))?;
        if algorithms.is_empty() {
            return Err(cli::Error::Usage("--auth-algorithms: empty list".into()));
        }
        auth = auth.with_algorithms(&algorithms);
    }
    if let Some(lifetime) = opts.seconds("--nonce-lifetime")? {
        auth = auth.with_nonce_lifetime(lifetime);
    }
    Ok(Some(auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_auth_value_is_found() {
        assert_eq!(
            auth_values(args(&[
                "--auth",
                "alice:a:b",
                "--listen",
                "--auth",
                "--realm=x",
                "--auth=bob:pw",
                "--min-expires",
                "60",
            ])),
            ["alice:a:b", "bob:pw"],
            "--listen took \"--auth\" as its value"
        );
        assert!(auth_values(args(&["--sweep", "1"])).is_empty());
    }

    fn options(list: &[&str]) -> cli::Options {
        match cli::parse(&SPEC, args(list)).unwrap() {
            cli::Parsed::Run(o) => o,
            cli::Parsed::Help => panic!("help"),
        }
    }

    #[test]
    fn authenticator_options() {
        let o = options(&["--auth", "alice:pw"]);
        assert!(authenticator(&o, &[]).unwrap().is_none());
        let a = authenticator(&o, &args(&["alice:pw"])).unwrap().unwrap();
        assert_eq!(a.realm(), "parrot");
        assert_eq!(a.algorithms(), [Algorithm::Sha256, Algorithm::Md5]);
        let o = options(&[
            "--auth",
            "alice:pw",
            "--realm",
            "example.com",
            "--auth-algorithms",
            "md5, SHA-512-256",
            "--nonce-lifetime",
            "10",
        ]);
        let a = authenticator(&o, &args(&["alice:pw"])).unwrap().unwrap();
        assert_eq!(a.realm(), "example.com");
        assert_eq!(a.algorithms(), [Algorithm::Md5, Algorithm::Sha512_256]);
        assert_eq!(a.nonce_lifetime(), std::time::Duration::from_secs(10));
        for bad in [
            &["--auth-algorithms", "SHA-1"][..],
            &["--nonce-lifetime", "-1"],
        ] {
            let mut list = vec!["--auth", "alice:pw"];
            list.extend_from_slice(bad);
            assert!(authenticator(&options(&list), &args(&["alice:pw"])).is_err());
        }
        for bad in ["alice", ":pw"] {
            assert!(
                authenticator(&options(&[]), &args(&[bad])).is_err(),
                "{bad}"
            );
        }
        assert!(authenticator(&options(&["--realm", "x"]), &[]).is_err());
    }
}
