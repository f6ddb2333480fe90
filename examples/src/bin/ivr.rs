//! `ivr`: a voice menu (see `examples::ivr`).

use clap::Parser;
use examples::cli;
use examples::ivr::{self, IvrOptions};
use examples::listen::TlsArgs;
use parrot::message::Uri;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// Answers every call with a voice menu.
///
/// Press 1 for information, 2 to be transferred (with --transfer-to), 0 to
/// hang up. Prompts come from --prompts (menu.wav, info.wav, goodbye.wav:
/// 8 kHz mono WAV), tones without them.
#[derive(Debug, Parser)]
#[command(name = "ivr", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// The directory of menu.wav, info.wav and goodbye.wav
    #[arg(long, value_name = "DIR")]
    prompts: Option<PathBuf>,
    /// Where 2 transfers the caller (a SIP URI, sent in a REFER)
    #[arg(long, value_name = "URI")]
    transfer_to: Option<Uri>,
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        let options = IvrOptions {
            prompts: args.prompts,
            transfer_to: args.transfer_to,
            choices: None,
        };
        ivr::serve(args.tls.listen(args.listen)?, options, cli::ctrl_c()).await?;
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
        let args = cli::try_parse::<Args>(&["--transfer-to", "sip:desk@example.com"]).unwrap();
        assert!(args.transfer_to.is_some());
        assert!(cli::try_parse::<Args>(&["--transfer-to", "not a uri"]).is_err());
    }
}
