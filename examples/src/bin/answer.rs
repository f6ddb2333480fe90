//! `answer`: answers every call (see `examples::answer`).

use examples::answer::{self, AnswerOptions};
use examples::cli::{self, Spec};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

const SPEC: Spec = Spec {
    usage: "\
usage: answer [--listen ADDR] [--ring-delay SECONDS] [--media-ip IP] [--media-port PORT]

A SIP user agent that answers every call. Each INVITE gets 180 Ringing,
then (after the ring delay) 200 OK with an SDP answer that picks PCMU or
PCMA from the caller's offer, in the caller's order, and refuses every
other stream (RFC 3264). An offer with neither codec gets 488 Not
Acceptable Here, a body that is not SDP 415, malformed SDP 400; an INVITE
without an offer gets an offer in the 200. BYE gets 200 and the call's
duration is logged; a re-INVITE is answered the same way. No media is
actually sent.

options:
  --listen ADDR         where to listen, UDP and TCP (default 0.0.0.0:5060;
                        a bare port means every interface)
  --ring-delay SECONDS  how long to ring before answering (default 0)
  --media-ip IP         the address put in the SDP (default: the listen
                        address, else the Request-URI's IP, else 127.0.0.1)
  --media-port PORT     the RTP port put in the SDP (default 40000)
  -h, --help            this text

Logs go to stderr; RUST_LOG sets the level (default info). Ctrl-C stops.",
    values: &["--ring-delay", "--media-ip", "--media-port"],
    switches: &[],
};

fn main() -> ExitCode {
    cli::main(&SPEC, |opts| async move {
        let defaults = AnswerOptions::default();
        let options = AnswerOptions {
            ring_delay: opts.seconds("--ring-delay")?.unwrap_or(defaults.ring_delay),
            media_ip: opts.value("--media-ip")?,
            media_port: opts.value("--media-port")?.unwrap_or(defaults.media_port),
        };
        answer::serve_with(opts.listen()?, cli::ctrl_c(), options).await?;
        Ok(())
    })
}
