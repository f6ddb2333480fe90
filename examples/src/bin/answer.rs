//! `answer`: answers every call (see `examples::answer`).

use clap::Parser;
use examples::answer::{self, AnswerOptions};
use examples::cli;
use examples::listen::TlsArgs;
use parrot::server::Reliability;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// A SIP user agent that answers every call.
///
/// Each INVITE gets 200 OK with an SDP answer that picks PCMU or PCMA from
/// the caller's offer, in the caller's order, and refuses every other
/// stream (RFC 3264); with --ring-delay, 180 Ringing comes first and the
/// 200 after the delay. An offer with neither codec gets 488 Not
/// Acceptable Here, a body that is not SDP 415, malformed SDP 400. An
/// INVITE without an offer gets an offer in the 200, and the call is hung
/// up (BYE) unless the ACK brings a usable answer. BYE gets 200 and the
/// call's duration is logged; a re-INVITE is answered the same way. No
/// media is actually sent.
#[derive(Debug, Parser)]
#[command(name = "answer", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// How long to ring (180 Ringing) before answering; 0 answers at once,
    /// without a 180
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = cli::parse_seconds)]
    ring_delay: Duration,
    // An attribute rather than a doc comment: rustdoc would read the
    // brackets as a link.
    #[arg(
        long,
        value_name = "IP",
        help = "The address put in the SDP [default: the listen \
                                           address, else the Request-URI's IP, else 127.0.0.1]"
    )]
    media_ip: Option<IpAddr>,
    /// The RTP port put in the SDP
    #[arg(long, value_name = "PORT", default_value_t = AnswerOptions::default().media_port)]
    media_port: u16,
    /// The session timer every call gets (RFC 4028), at least 90; 0 gives
    /// one only to the callers that ask
    #[arg(long, value_name = "SECONDS", default_value = "1800",
          value_parser = parse_session_expires)]
    session_expires: Duration,
    /// When the 180 goes reliably (RFC 3262): when the caller requires it,
    /// whenever the caller supports it, or always (callers without 100rel
    /// get 421)
    #[arg(long = "100rel", value_name = "WHEN", default_value = "when-required")]
    reliable: Reliable,
}

/// `--100rel`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Reliable {
    WhenRequired,
    Supported,
    Required,
}

/// A session interval: 0 (none imposed) or at least RFC 4028's 90 s.
fn parse_session_expires(s: &str) -> Result<Duration, String> {
    let d = cli::parse_seconds(s)?;
    if !d.is_zero() && d < Duration::from_secs(90) {
        return Err("a session interval is at least 90 seconds (RFC 4028 §4)".into());
    }
    Ok(d)
}

impl Args {
    fn options(&self) -> AnswerOptions {
        AnswerOptions {
            ring_delay: self.ring_delay,
            media_ip: self.media_ip,
            media_port: self.media_port,
            session_expires: (!self.session_expires.is_zero()).then_some(self.session_expires),
            reliable: match self.reliable {
                Reliable::WhenRequired => Reliability::WhenRequired,
                Reliable::Supported => Reliability::WhenSupported,
                Reliable::Required => Reliability::Required,
            },
        }
    }
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        answer::serve_with(args.tls.listen(args.listen)?, cli::ctrl_c(), args.options()).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let args = cli::try_parse::<Args>(&[]).unwrap();
        assert_eq!(args.listen, cli::DEFAULT_LISTEN);
        assert_eq!(args.options(), AnswerOptions::default());
        assert_eq!(args.tls.shards, 1);
    }

    #[test]
    fn options_parse() {
        let args = cli::try_parse::<Args>(&[
            "--listen=5070",
            "--ring-delay",
            "1.5",
            "--media-ip",
            "192.0.2.1",
            "--session-expires",
            "0",
            "--100rel",
            "supported",
            "--shards",
            "4",
        ])
        .unwrap();
        assert_eq!(args.tls.shards, 4);
        assert_eq!(args.listen.port(), 5070);
        assert_eq!(args.ring_delay, Duration::from_millis(1500));
        assert_eq!(args.media_ip, Some([192, 0, 2, 1].into()));
        assert_eq!(args.options().session_expires, None);
        assert_eq!(args.options().reliable, Reliability::WhenSupported);
        for bad in [
            &["--ring-delay", "-1"][..],
            &["--media-port", "70000"],
            &["--session-expires", "60"],
            &["--100rel", "sometimes"],
            &["--shards", "0"],
            &["--shards", "many"],
            &["--listen", "nowhere"],
            &["--bogus"],
            &["positional"],
        ] {
            assert!(cli::try_parse::<Args>(bad).is_err(), "{bad:?}");
        }
    }
}
