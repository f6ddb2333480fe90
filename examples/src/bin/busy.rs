//! `busy`: refuses every call (see `examples::busy`).

use clap::Parser;
use examples::busy::{self, Mode};
use examples::cli;
use examples::listen::TlsArgs;
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// Refuses every SIP call.
///
/// By default each INVITE gets 486 Busy Here.
#[derive(Debug, Parser)]
#[command(name = "busy", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// Answer 603 Decline instead (the callee declines, and wants no other
    /// attempt elsewhere)
    #[arg(long, conflicts_with = "hangup")]
    reject: bool,
    /// Answer the call (200 with an SDP answer) and hang up as soon as the
    /// ACK arrives (the handler returns Action::Stop, and the runtime sends
    /// BYE)
    #[arg(long)]
    hangup: bool,
}

impl Args {
    fn mode(&self) -> Mode {
        // clap refuses --reject with --hangup.
        if self.reject {
            Mode::Reject
        } else if self.hangup {
            Mode::HangUp
        } else {
            Mode::Busy
        }
    }
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        busy::serve_mode(args.tls.listen(args.listen)?, cli::ctrl_c(), args.mode()).await?;
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
    fn modes() {
        let mode = |argv: &[&str]| cli::try_parse::<Args>(argv).map(|a| a.mode());
        assert_eq!(mode(&[]).unwrap(), Mode::Busy);
        assert_eq!(mode(&["--reject"]).unwrap(), Mode::Reject);
        assert_eq!(mode(&["--hangup"]).unwrap(), Mode::HangUp);
        let both = mode(&["--reject", "--hangup"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(mode(&["--reject=yes"]).is_err());
    }
}
