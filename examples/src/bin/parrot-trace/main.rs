//! `parrot-trace`: draws the SIP messages of a capture file or of a
//! server's trace log as a call-flow (ladder) diagram.
//!
//! ```text
//! cargo run -p examples --bin parrot-trace -- [--format text|svg|mermaid]
//!     [--call CALL-ID] [--name ADDR=NAME ...] [-o FILE] INPUT
//! ```
//!
//! INPUT is a pcap or pcapng capture (told by its first bytes) or a log
//! holding the text trace of `--trace-sip` (plain or `--log-json`). The
//! picture is drawn by `parrot::trace::ladder`.

mod capture;
mod log;

use clap::{Parser, ValueEnum};
use parrot::trace::ladder::{Flow, render_mermaid, render_svg, render_text};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Draws the SIP messages of a capture or a trace log as a call flow.
///
/// Reads INPUT, a pcap or pcapng capture (UDP and TCP over IPv4 or IPv6;
/// TLS cannot be read) or a log written with --trace-sip, and draws each
/// SIP message as an arrow between its sender and receiver: a ladder
/// diagram in text, SVG or Mermaid. Retransmissions are marked ↻; times
/// are from the first message.
#[derive(Debug, Parser)]
#[command(
    name = "parrot-trace",
    after_help = "Exit status: 0 when the diagram was written, 1 when INPUT cannot be read, \
                  is damaged or holds no SIP message (--partial draws what was read before \
                  the damage), 2 for a bad command line."
)]
struct Args {
    /// The picture's format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only the messages of this call
    #[arg(long, value_name = "CALL-ID")]
    call: Option<String>,
    /// Lists the Call-IDs found, with their message counts, instead of drawing
    #[arg(long, conflicts_with_all = ["call", "format", "output"])]
    calls: bool,
    /// A name to show above an address (repeatable), e.g. 192.0.2.1:5060=alice
    #[arg(long = "name", value_name = "ADDR=NAME", value_parser = parse_name)]
    names: Vec<(SocketAddr, String)>,
    /// Where to write the picture [default: standard output]
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Draws the messages read before damage in a capture (exit status 1 all the same)
    #[arg(long)]
    partial: bool,
    /// The capture (pcap, pcapng) or trace log
    #[arg(value_name = "INPUT")]
    input: PathBuf,
}

/// What the picture is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A monospace ladder for a terminal
    Text,
    /// A standalone SVG image
    Svg,
    /// A Mermaid sequence diagram
    Mermaid,
}

/// Parses `ADDR=NAME`.
fn parse_name(v: &str) -> Result<(SocketAddr, String), String> {
    let (addr, name) = v
        .split_once('=')
        .ok_or_else(|| format!("{v:?} is not ADDR=NAME, such as 192.0.2.1:5060=alice"))?;
    let addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an address such as 192.0.2.1:5060 or [::1]:5060"))?;
    if name.is_empty() {
        return Err(format!("{v:?} gives no name"));
    }
    Ok((addr, name.to_owned()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parrot-trace: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let input = args.input.display();
    let data = std::fs::read(&args.input).map_err(|e| format!("{input}: {e}"))?;
    let mut flow = Flow::new();
    for (addr, name) in &args.names {
        flow.name(*addr, name.as_str());
    }
    let (what, damage) = if capture::is_pcap(&data) || capture::is_pcapng(&data) {
        let (stats, result) = if capture::is_pcap(&data) {
            capture::read_pcap(&data, &mut flow)
        } else {
            capture::read_pcapng(&data, &mut flow)
        };
        let what = format!("{} packets", stats.packets);
        (what, result.err())
    } else if data.contains(&0) {
        return Err(format!(
            "{input}: neither a pcap or pcapng capture nor a text log"
        ));
    } else {
        let text = String::from_utf8_lossy(&data);
        log::read_log(&text, &mut flow);
        ("its lines".to_owned(), None)
    };
    if let Some(damage) = &damage {
        if !args.partial {
            return Err(format!("{input}: {damage}"));
        }
        eprintln!("parrot-trace: {input}: {damage}; drawing what was read before it");
    }
    if flow.is_empty() {
        return Err(format!("{input}: no SIP message found in {what}"));
    }
    let picture = if args.calls {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in flow.entries().iter().filter_map(|e| e.call_id.as_deref()) {
            *counts.entry(id).or_default() += 1;
        }
        let mut out = String::new();
        for id in flow.call_ids() {
            out.push_str(&format!("{}\t{id}\n", counts[id]));
        }
        out
    } else {
        if let Some(call) = &args.call {
            flow = flow.call(call);
            if flow.is_empty() {
                return Err(format!(
                    "{input}: no message of call {call:?} (--calls lists them)"
                ));
            }
        }
        match args.format {
            Format::Text => render_text(&flow),
            Format::Svg => render_svg(&flow),
            Format::Mermaid => render_mermaid(&flow),
        }
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, picture).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = out.write_all(picture.as_bytes()).and_then(|()| out.flush());
        }
    }
    match damage {
        Some(_) => Err("the capture was damaged (see above)".to_owned()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "parrot-trace",
            "--format",
            "svg",
            "--name",
            "192.0.2.1:5060=alice",
            "--name",
            "[::1]:5060=bob=b",
            "-o",
            "out.svg",
            "in.pcap",
        ])
        .unwrap();
        assert_eq!(args.format, Format::Svg);
        assert_eq!(
            args.names[1],
            ("[::1]:5060".parse().unwrap(), "bob=b".to_owned())
        );
        for bad in [
            &["parrot-trace"][..],
            &["parrot-trace", "--format", "png", "x"],
            &["parrot-trace", "--name", "alice", "x"],
            &["parrot-trace", "--name", "host:5060=alice", "x"],
            &["parrot-trace", "--calls", "--call", "c", "x"],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
