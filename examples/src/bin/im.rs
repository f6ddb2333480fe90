//! `im`: receives text/plain instant messages (see `examples::im`).

use examples::cli::{self, Spec};
use examples::im;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

const SPEC: Spec = Spec {
    usage: "\
usage: im [--listen ADDR]

Receives SIP instant messages (MESSAGE, RFC 3428). A text/plain message
gets 200 OK and its text is logged with the sender; any other content type
gets 415 Unsupported Media Type with Accept: text/plain.

options:
  --listen ADDR   where to listen, UDP and TCP (default 0.0.0.0:5060;
                  a bare port means every interface)
  -h, --help      this text

Logs go to stderr; RUST_LOG sets the level (default info). Ctrl-C stops.",
    values: &[],
    switches: &[],
};

fn main() -> ExitCode {
    cli::main(&SPEC, |opts| async move {
        im::serve(opts.listen()?, cli::ctrl_c()).await?;
        Ok(())
    })
}
