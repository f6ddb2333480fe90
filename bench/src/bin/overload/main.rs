//! `overload`: an open-loop SIP load generator for bench/overload.sh.
//!
//! Offers new calls (INVITE with an SDP offer) at fixed rates, phase after
//! phase, whatever the server answers; completes the calls answered with
//! 2xx (ACK, then BYE after the hold time); probes with OPTIONS at a fixed
//! rate throughout; and reports per second and per phase: 2xx (goodput),
//! 503, other answers, timeouts, and OPTIONS and BYE latency (p50/p99/max).
//!
//! ```text
//! overload --target 127.0.0.1:5070 --phase load:36000:60 --phase idle:0:60 \
//!          [--sockets 16] [--hold-ms 0] [--options-rate 20] [--invite-timeout-ms 5000]
//!          [--request-timeout-ms 2000] [--bye-retransmit-ms 500] [--buffer BYTES]
//!          [--local-ip 127.0.0.1] [--json FILE] [--kv FILE] [--quiet]
//! ```
//!
//! Bounded: at most 1 000 000 calls/s and 3600 s per phase, 256 phases; the
//! run stops sending at the end of the schedule and exits at the latest a
//! grace period later (INVITE timeout + hold + request timeout + 1 s).

#![warn(missing_docs)]

mod generator;
mod sip;
mod stats;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use generator::{Config, PhaseSpec};

const USAGE: &str = "usage: overload --target ADDR --phase NAME:RATE:SECONDS [--phase ...] \
[--sockets N] [--hold-ms MS] [--options-rate N] [--invite-timeout-ms MS] \
[--request-timeout-ms MS] [--bye-retransmit-ms MS] [--buffer BYTES] [--local-ip IP] \
[--json FILE] [--kv FILE] [--quiet]";

const MAX_RATE: u64 = 1_000_000;
const MAX_PHASE_SECONDS: u64 = 3600;
const MAX_PHASES: usize = 256;

/// Command line, parsed.
struct Args {
    config: Config,
    json: Option<String>,
    kv: Option<String>,
    quiet: bool,
}

fn phase(v: &str) -> Result<PhaseSpec, String> {
    let bad = || format!("--phase {v}: expected NAME:RATE:SECONDS");
    let mut it = v.split(':');
    let (Some(name), Some(rate), Some(seconds), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(bad());
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "--phase {v}: the name must be letters, digits, - or _"
        ));
    }
    let rate: u64 = rate.parse().map_err(|_| bad())?;
    let seconds: u64 = seconds.parse().map_err(|_| bad())?;
    if rate > MAX_RATE || seconds == 0 || seconds > MAX_PHASE_SECONDS {
        return Err(format!(
            "--phase {v}: rate at most {MAX_RATE}/s, 1 to {MAX_PHASE_SECONDS} seconds"
        ));
    }
    Ok(PhaseSpec {
        name: name.into(),
        rate,
        seconds,
    })
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut target = None;
    let mut config = Config {
        target: SocketAddr::from(([127, 0, 0, 1], 5060)),
        local_ip: [127, 0, 0, 1].into(),
        phases: Vec::new(),
        sockets: 16,
        hold: Duration::ZERO,
        options_rate: 20,
        invite_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        bye_retransmit: Duration::from_millis(500),
        buffer: 4 << 20,
    };
    let (mut json, mut kv, mut quiet) = (None, None, false);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--quiet" {
            quiet = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("{flag} {value}: a number up to {max}"))
        };
        match flag.as_str() {
            "--target" => {
                target = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--target {value}: IP:PORT"))?,
                )
            }
            "--local-ip" => {
                config.local_ip = value
                    .parse()
                    .map_err(|_| format!("--local-ip {value}: an IP"))?
            }
            "--phase" => config.phases.push(phase(value)?),
            "--sockets" => config.sockets = num(1024)?.max(1) as usize,
            "--hold-ms" => config.hold = Duration::from_millis(num(600_000)?),
            "--options-rate" => config.options_rate = num(100_000)?,
            "--invite-timeout-ms" => {
                config.invite_timeout = Duration::from_millis(num(64_000)?.max(1))
            }
            "--request-timeout-ms" => {
                config.request_timeout = Duration::from_millis(num(64_000)?.max(1))
            }
            "--bye-retransmit-ms" => config.bye_retransmit = Duration::from_millis(num(64_000)?),
            "--buffer" => config.buffer = num(1 << 30)? as usize,
            "--json" => json = Some(value.clone()),
            "--kv" => kv = Some(value.clone()),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    config.target = target.ok_or("--target is required")?;
    if config.phases.is_empty() || config.phases.len() > MAX_PHASES {
        return Err(format!("1 to {MAX_PHASES} --phase arguments are required"));
    }
    Ok(Args {
        config,
        json,
        kv,
        quiet,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("overload: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut report = match generator::run(&args.config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("overload: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = report.text(!args.quiet);
    print!("{text}");
    for (path, body) in [(&args.json, report.json()), (&args.kv, report.kv())] {
        if let Some(path) = path
            && let Err(e) = std::fs::write(path, body)
        {
            eprintln!("overload: {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_a_schedule() {
        let a = parse(&args(
            "--target 127.0.0.1:5070 --phase load:36000:60 --phase idle:0:5 --hold-ms 250 --quiet",
        ))
        .unwrap();
        assert_eq!(a.config.target.port(), 5070);
        assert_eq!(a.config.phases.len(), 2);
        assert_eq!(
            a.config.phases[0],
            PhaseSpec {
                name: "load".into(),
                rate: 36000,
                seconds: 60
            }
        );
        assert_eq!(a.config.hold, Duration::from_millis(250));
        assert_eq!(a.config.schedule_seconds(), 65);
        assert!(a.quiet);
    }

    #[test]
    fn refuses_bad_arguments() {
        for bad in [
            "",
            "--phase a:1:1",
            "--target 127.0.0.1:5070",
            "--target x --phase a:1:1",
            "--target 127.0.0.1:5070 --phase a:1",
            "--target 127.0.0.1:5070 --phase a:1:0",
            "--target 127.0.0.1:5070 --phase a:2000000:1",
            "--target 127.0.0.1:5070 --phase a:1:99999",
            "--target 127.0.0.1:5070 --phase a/b:1:1",
            "--target 127.0.0.1:5070 --phase a:1:1 --sockets",
            "--target 127.0.0.1:5070 --phase a:1:1 --bogus 1",
            "--target 127.0.0.1:5070 --phase a:1:1 --sockets 99999",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }
}
