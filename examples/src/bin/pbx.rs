//! `pbx`: registered users call each other through it, with voicemail
//! (see `examples::pbx`).

use clap::Parser;
use examples::cli;
use examples::listen::TlsArgs;
use examples::pbx::{self, Accounts, PbxOptions};
use parrot::auth::{DigestAuthenticator, Users};
use parrot::registrar::{LocationStore, MemoryStore, RedisConfig, RedisStore};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// A small PBX: a registrar (RFC 3261 section 10.3) and a proxy through
/// which registered users call each other, with voicemail.
///
/// Phones REGISTER here; an INVITE, MESSAGE, SUBSCRIBE, NOTIFY or REFER
/// to sip:USER@ADDR (ADDR: this pbx's address) is proxied (record-routed)
/// to USER's registered contacts, highest q first; 404 for a USER without
/// an account, 480 when a USER has no contact (for a call: the voicemail).
///
/// With --user, only those users may register (401 until they give their
/// password, 403 for another user's address-of-record) and call: the
/// caller is challenged as by a proxy (407 Proxy Authentication Required)
/// and may call only as itself (403 when From names another user).
/// Without --user, anyone may register any address-of-record and call.
///
/// A call that finds the callee busy (486), unavailable (480) or not
/// answering (408) goes to the pbx's voicemail (sip:voicemail-SECRET@ADDR,
/// a secret drawn at start so that only that fallback reaches it without
/// credentials), which answers itself (200 with an SDP answer, no media
/// sent) and hangs up after --voicemail-seconds.
#[derive(Debug, Parser)]
#[command(name = "pbx", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// A user and its password (repeat for more users); with none, no
    /// authentication at all
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    users: Vec<(String, String)>,
    /// The authentication realm
    #[arg(
        long,
        value_name = "REALM",
        default_value = "parrot",
        requires = "users"
    )]
    realm: String,
    /// Where the registrations are kept: memory, or a redis:// URL
    #[arg(long, value_name = "STORE", default_value = "memory", value_parser = parse_store)]
    store: Store,
    /// How long the voicemail keeps a call before hanging up
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = cli::parse_seconds)]
    voicemail_seconds: Duration,
    /// Shortest registration lifetime accepted
    #[arg(long, value_name = "SECONDS", default_value_t = PbxOptions::default().min_expires)]
    min_expires: u32,
    /// Registration lifetime when the REGISTER names none
    #[arg(long, value_name = "SECONDS", default_value_t = PbxOptions::default().default_expires)]
    default_expires: u32,
    /// Longest registration lifetime granted
    #[arg(long, value_name = "SECONDS", default_value_t = PbxOptions::default().max_expires)]
    max_expires: u32,
    /// How often lapsed registrations are swept from memory
    #[arg(long = "sweep", value_name = "SECONDS", default_value = "60",
          value_parser = cli::parse_seconds)]
    sweep_interval: Duration,
}

/// Where the registrations are kept (`--store`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Store {
    /// In this process.
    Memory,
    /// In a Redis server, shared by several pbx processes.
    Redis(String),
}

/// Parses a `--store` value.
fn parse_store(v: &str) -> Result<Store, String> {
    let lower = v.to_ascii_lowercase();
    if lower == "memory" {
        Ok(Store::Memory)
    } else if lower.starts_with("redis://") || lower.starts_with("rediss://") {
        Ok(Store::Redis(v.to_owned()))
    } else {
        Err(format!("{v:?} is neither memory nor a redis:// URL"))
    }
}

/// Parses a `--user` value.
fn parse_user(entry: &str) -> Result<(String, String), String> {
    match entry.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        _ => Err(format!("{entry:?} is not NAME:PASSWORD")),
    }
}

impl Args {
    /// The pbx's options; a usage error when the lifetimes are out of
    /// order.
    fn options(&self) -> Result<PbxOptions, cli::Error> {
        if self.default_expires < self.min_expires || self.max_expires < self.default_expires {
            return Err(cli::Error::Usage(
                "need --min-expires <= --default-expires <= --max-expires".into(),
            ));
        }
        Ok(PbxOptions {
            min_expires: self.min_expires,
            default_expires: self.default_expires,
            max_expires: self.max_expires,
            accounts: self.accounts(),
            voicemail_after: self.voicemail_seconds,
        })
    }

    /// The accounts `--user` gives, if any.
    fn accounts(&self) -> Option<Accounts> {
        if self.users.is_empty() {
            return None;
        }
        let mut users = Users::new();
        for (user, password) in &self.users {
            users.insert(user, password);
        }
        let realm = self.realm.clone();
        Some(Accounts::with(users, |users| {
            DigestAuthenticator::new(realm, users)
        }))
    }

    /// The location store `--store` names, opened (the memory store's
    /// sweeper started, the Redis store connected: inside the runtime).
    async fn store(&self) -> Result<Arc<dyn LocationStore>, cli::Error> {
        match &self.store {
            Store::Memory => {
                let store = MemoryStore::new();
                store.spawn_sweeper(self.sweep_interval);
                Ok(Arc::new(store))
            }
            Store::Redis(url) => match RedisStore::connect(url, RedisConfig::default()).await {
                Ok(store) => Ok(Arc::new(store)),
                Err(e) => Err(cli::Error::Unavailable(format!("redis store {url}: {e}"))),
            },
        }
    }
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        let options = args.options()?;
        let store = args.store().await?;
        pbx::serve_with(args.tls.listen(args.listen)?, cli::ctrl_c(), options, store).await?;
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
    fn defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.listen, cli::DEFAULT_LISTEN);
        assert_eq!(args.store, Store::Memory);
        let options = args.options().unwrap();
        let d = PbxOptions::default();
        assert_eq!(
            (
                options.min_expires,
                options.default_expires,
                options.max_expires,
                options.voicemail_after
            ),
            (
                d.min_expires,
                d.default_expires,
                d.max_expires,
                Duration::from_secs(20)
            )
        );
        assert!(options.accounts.is_none(), "no --user: no authentication");
    }

    #[test]
    fn users_and_voicemail() {
        let args = parse(&[
            "--user",
            "alice:a:b",
            "--user=bob:pw",
            "--realm",
            "example.com",
            "--voicemail-seconds",
            "1.5",
        ])
        .unwrap();
        assert_eq!(
            args.users,
            [
                ("alice".to_owned(), "a:b".to_owned()),
                ("bob".to_owned(), "pw".to_owned())
            ]
        );
        let options = args.options().unwrap();
        assert_eq!(options.voicemail_after, Duration::from_millis(1500));
        let accounts = options.accounts.unwrap();
        assert!(accounts.has("alice") && accounts.has("bob") && !accounts.has("carol"));
        assert_eq!(accounts.authenticator().realm(), "example.com");
        for bad in ["alice", ":pw"] {
            assert_eq!(
                parse(&["--user", bad]).unwrap_err().kind(),
                ErrorKind::ValueValidation,
                "{bad}"
            );
        }
        assert_eq!(
            parse(&["--realm", "x"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert!(parse(&["--voicemail-seconds", "soon"]).is_err());
    }

    #[test]
    fn stores() {
        assert_eq!(parse(&["--store", "MEMORY"]).unwrap().store, Store::Memory);
        let args = parse(&["--store", "redis://10.0.0.5:6379/0"]).unwrap();
        assert_eq!(args.store, Store::Redis("redis://10.0.0.5:6379/0".into()));
        for bad in ["", "disk", "http://x"] {
            assert_eq!(
                parse(&["--store", bad]).unwrap_err().kind(),
                ErrorKind::ValueValidation,
                "{bad:?}"
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
    }
}
