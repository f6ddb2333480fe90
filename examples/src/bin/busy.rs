//! `busy`: refuses every call (see `examples::busy`).

use examples::busy::{self, Mode};
use examples::cli::{self, Spec};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

const SPEC: Spec = Spec {
    usage: "\
usage: busy [--listen ADDR] [--reject | --hangup]

Refuses every SIP call. By default each INVITE gets 486 Busy Here.

options:
  --listen ADDR   where to listen, UDP and TCP (default 0.0.0.0:5060;
                  a bare port means every interface)
  --reject        answer 603 Decline instead (the callee declines, and
                  wants no other attempt elsewhere)
  --hangup        answer the call (200 with an SDP answer) and hang up as
                  soon as the ACK arrives (the handler returns Action::Stop,
                  and the runtime sends BYE)
  -h, --help      this text

Logs go to stderr; RUST_LOG sets the level (default info). Ctrl-C stops.",
    values: &[],
    switches: &["--reject", "--hangup"],
};

fn main() -> ExitCode {
    cli::main(&SPEC, |opts| async move {
        let mode = match (opts.switch("--reject"), opts.switch("--hangup")) {
            (true, true) => {
                return Err(cli::Error::Usage(
                    "--reject and --hangup exclude each other".into(),
                ));
            }
            (true, false) => Mode::Reject,
            (false, true) => Mode::HangUp,
            (false, false) => Mode::Busy,
        };
        busy::serve_mode(opts.listen()?, cli::ctrl_c(), mode).await?;
        Ok(())
    })
}
