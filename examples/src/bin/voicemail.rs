//! `voicemail`: records messages (see `examples::voicemail`).

use clap::Parser;
use examples::cli;
use examples::listen::TlsArgs;
use examples::voicemail::{self, VoicemailOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// Answers every call, plays a greeting and a beep, and records a message.
///
/// The recording ends when the caller hangs up or presses #, or at
/// --max-seconds; it is saved as DIR/TIME-CALLID.wav (8 kHz 16-bit).
#[derive(Debug, Parser)]
#[command(name = "voicemail", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// Where messages are saved
    #[arg(long, value_name = "DIR", default_value = "voicemail")]
    dir: PathBuf,
    /// The greeting (an 8 kHz mono WAV file); a tone without one
    #[arg(long, value_name = "FILE")]
    greeting: Option<PathBuf>,
    /// The longest message, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    max_seconds: u64,
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        let options = VoicemailOptions {
            dir: args.dir,
            greeting: args.greeting,
            max: Duration::from_secs(args.max_seconds),
            saved: None,
        };
        voicemail::serve(args.tls.listen(args.listen)?, options, cli::ctrl_c()).await?;
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
        let args = cli::try_parse::<Args>(&[]).unwrap();
        assert_eq!(args.max_seconds, 120);
    }
}
