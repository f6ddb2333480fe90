//! `inspect`: parses SIP messages and shows what the parser sees.
//!
//! ```text
//! cargo run -p examples --bin inspect -- [FILE...]
//! ```
//!
//! Each FILE (or standard input when none is given) holds one message. For
//! each, the start line, every header as parsed, and the body size are
//! printed, followed by the re-serialized message; a refused message prints
//! the reason a server would put in its `400` response. With no input at
//! all, a built-in INVITE is shown.

use clap::Parser;
use parrot::message::{Message, parse_datagram};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Parses SIP messages and shows what the parser sees.
///
/// Parses each FILE (or standard input) as one SIP message and prints the
/// parsed start line, the headers, the body size and the re-serialized
/// message; for a message Parrot refuses, the reason its 400 response
/// would give, and where parsing stopped. Empty standard input shows a
/// built-in INVITE.
#[derive(Debug, Parser)]
#[command(
    name = "inspect",
    after_help = "Exit status: 0 when every message parses, 1 when one is refused or a \
                  file cannot be read, 2 for a bad command line."
)]
struct Args {
    // An attribute rather than a doc comment: rustdoc would read the
    // brackets as a link.
    #[arg(
        value_name = "FILE",
        help = "Files holding one message each [default: standard input]"
    )]
    files: Vec<PathBuf>,
}

const SAMPLE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 0\r\n\r\n";

fn main() -> ExitCode {
    let args = Args::parse();
    let inputs: Vec<(String, Vec<u8>)> = if args.files.is_empty() {
        let mut buf = Vec::new();
        if std::io::stdin().read_to_end(&mut buf).is_err() || buf.is_empty() {
            buf = SAMPLE.as_bytes().to_vec();
        }
        vec![("<stdin>".into(), buf)]
    } else {
        let mut v = Vec::new();
        for path in &args.files {
            let name = path.display().to_string();
            match std::fs::read(path) {
                Ok(b) => v.push((name, b)),
                Err(e) => {
                    eprintln!("{name}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        v
    };
    let mut ok = true;
    for (name, bytes) in inputs {
        println!("== {name}");
        match parse_datagram(bytes.into()) {
            Ok(msg) => show(&msg),
            Err(e) => {
                ok = false;
                println!("refused: 400 {}", e.reason());
                if let Some(at) = e.offset() {
                    println!("at byte {at}");
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn show(msg: &Message) {
    match msg {
        Message::Request(r) => println!("request: {} {}", r.method, r.uri),
        Message::Response(r) => println!("response: {} {}", r.status, r.reason),
    }
    for h in msg.headers() {
        println!("  {}: {}", h.name(), h.value());
    }
    println!("body: {} bytes", msg.body().len());
    println!("-- serialized --");
    print!("{}", String::from_utf8_lossy(&msg.to_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
        let args = Args::try_parse_from(["inspect", "a.sip", "b.sip"]).unwrap();
        assert_eq!(args.files, [PathBuf::from("a.sip"), PathBuf::from("b.sip")]);
        assert!(Args::try_parse_from(["inspect", "--bogus"]).is_err());
    }
}
