//! `echo`: the echo test number (see `examples::echo`).

use clap::Parser;
use examples::cli;
use examples::echo;
use examples::listen::TlsArgs;
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// Answers every call and sends the caller's audio back.
///
/// G.711 (PCMU or PCMA) over RTP on a port from 16384-32767; DTMF digits
/// (RFC 4733 or SIP INFO) are logged.
#[derive(Debug, Parser)]
#[command(name = "echo", after_help = cli::AFTER_HELP)]
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
        echo::serve(args.tls.listen(args.listen)?, cli::ctrl_c()).await?;
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
        let args = Args::try_parse_from(["echo"]).unwrap();
        assert_eq!(args.listen, cli::DEFAULT_LISTEN);
    }
}
