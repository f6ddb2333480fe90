//! `im`: receives text/plain instant messages (see `examples::im`).

use clap::Parser;
use examples::cli;
use examples::im;
use examples::listen::TlsArgs;
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// Receives SIP instant messages (MESSAGE, RFC 3428).
///
/// A text/plain message gets 200 OK and its text is logged with the
/// sender; any other content type, or none, gets 415 Unsupported Media
/// Type with Accept: text/plain.
#[derive(Debug, Parser)]
#[command(name = "im", after_help = cli::AFTER_HELP)]
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
        im::serve(args.tls.listen(args.listen)?, cli::ctrl_c()).await?;
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
        let args = Args::try_parse_from(["im"]).unwrap();
        assert_eq!(args.listen, cli::DEFAULT_LISTEN);
    }
}
