//! `mwi`: a message-waiting notifier (see `examples::mwi`).

use clap::Parser;
use examples::cli;
use examples::listen::TlsArgs;
use examples::mwi;
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// A message-waiting notifier (RFC 3842 over RFC 6665).
///
/// SUBSCRIBE to sip:USER@host with Event: message-summary gets 200 and a
/// NOTIFY with USER's mailbox summary; a MESSAGE to sip:USER@host leaves a
/// message there, and every subscriber to that mailbox gets a NOTIFY.
#[derive(Debug, Parser)]
#[command(name = "mwi", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        mwi::serve(args.tls.listen(args.listen)?, cli::ctrl_c()).await?;
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
        let args = Args::try_parse_from(["mwi"]).unwrap();
        assert_eq!(args.listen, cli::DEFAULT_LISTEN);
    }
}
