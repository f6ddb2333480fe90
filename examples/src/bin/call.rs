//! `call`: dials a SIP URI with `parrot::client`, waits, hangs up, and
//! prints what happened.

use clap::Parser;
use examples::cli;
use parrot::client::{CallEnd, CallError, Client, Progress};
use parrot::message::Uri;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Calls URI, waits, hangs up, and prints what happened.
///
/// Calls URI (e.g. sip:bob@192.0.2.4:5060, or sip:bob@host;transport=tcp):
/// sends an INVITE with an SDP offer (PCMU/PCMA, no media is actually
/// sent), prints every provisional and final response, keeps the call up
/// for the duration, then hangs up with BYE and prints how the call ended.
/// The ACK for the 200 is sent (and sent again if the 200 is repeated); a
/// BYE from the other side ends the call early; a 401/407 challenge is
/// answered once when --user and --password are given. Ctrl-C cancels a
/// ringing call or hangs up an established one.
#[derive(Debug, Parser)]
#[command(
    name = "call",
    after_help = "Exit status: 0 when the call was answered and ended with a BYE, 1 when \
                  it failed (refused, cancelled, timed out, unreachable), 2 for a bad \
                  command line. What happened goes to stdout, logs to stderr (RUST_LOG \
                  sets their level, default info)."
)]
struct Args {
    /// The SIP URI to call (angle brackets allowed)
    #[arg(value_name = "URI", value_parser = parse_uri)]
    target: Uri,
    /// Where to listen for responses, UDP and TCP (0.0.0.0:0: any
    /// interface, any port; a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0",
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    /// How long to stay in the call
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = cli::parse_seconds)]
    duration: Duration,
    // An attribute rather than a doc comment: rustdoc would read the
    // brackets as a link and the angle brackets as HTML.
    #[arg(
        long,
        value_name = "URI",
        help = "Our identity, the From header [default: sip:parrot@<our address>]"
    )]
    from: Option<String>,
    /// Username for digest authentication
    #[arg(long, value_name = "NAME", requires = "password")]
    user: Option<String>,
    /// Password for digest authentication
    #[arg(long, value_name = "PASSWORD", requires = "user")]
    password: Option<String>,
    /// The RTP port put in the SDP offer
    #[arg(long, value_name = "PORT", default_value_t = 40000)]
    media_port: u16,
}

/// Parses the URI to call, with or without angle brackets.
fn parse_uri(s: &str) -> Result<Uri, String> {
    s.trim_start_matches('<')
        .trim_end_matches('>')
        .parse()
        .map_err(|e| format!("{s:?} is not a SIP URI: {e}"))
}

/// Why the program stops with an error.
enum Failure {
    /// The command line is wrong (exit status 2).
    Usage(String),
    /// The call failed (exit status 1).
    Call(String),
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("call: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(why)) => {
            eprintln!("call: {why}\n(try call --help)");
            ExitCode::from(2)
        }
        Err(Failure::Call(why)) => {
            println!("call failed: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let Args {
        target,
        listen,
        duration,
        from,
        user,
        password,
        media_port,
    } = args;
    let mut builder = Client::builder().listen(listen);
    if let Some(from) = from {
        builder = builder.from(from);
    }
    // clap makes --user and --password go together.
    if let (Some(user), Some(password)) = (user, password) {
        builder = builder.credentials(user, password);
    }
    let client = builder.bind().await.map_err(|e| match e {
        parrot::client::ClientError::Config(_) | parrot::client::ClientError::InvalidUri(_) => {
            Failure::Usage(e.to_string())
        }
        other => Failure::Call(other.to_string()),
    })?;

    let offer = parrot::sdp::offer_audio(media_ip(&client, &target), media_port).to_string();
    let local = client
        .local_addr(parrot::transport::Protocol::Udp)
        .map_or_else(|| "?".to_owned(), |a| a.to_string());
    println!("calling {target} (listening on {local})");
    let started = Instant::now();
    let mut pending = client
        .invite(target.clone(), offer)
        .await
        .map_err(|e| Failure::Call(e.to_string()))?;
    let mut interrupt = std::pin::pin!(cli::ctrl_c());
    let mut cancelled = false;
    let mut call = loop {
        let progress = tokio::select! {
            p = pending.next() => p,
            () = &mut interrupt, if !cancelled => {
                println!("> CANCEL (interrupted)");
                pending.cancel();
                cancelled = true;
                continue;
            }
        };
        match progress {
            Some(Progress::Provisional(r)) => println!("< {} {}", r.status, r.reason),
            Some(Progress::Answered(call)) => {
                let r = call.response();
                println!("< {} {}", r.status, r.reason);
                println!("> ACK");
                break call;
            }
            Some(Progress::Failed(e)) => {
                if let Some(r) = e.response() {
                    let note = match e {
                        CallError::Timeout(_) => " (no answer in time)",
                        CallError::Unreachable(_) => " (could not be delivered)",
                        _ => "",
                    };
                    println!("< {} {}{note}", r.status, r.reason);
                }
                return Err(Failure::Call(e.to_string()));
            }
            None => return Err(Failure::Call("the call vanished".into())),
        }
    };
    let setup = started.elapsed();
    match call
        .remote_sdp()
        .map(str::parse::<parrot::sdp::SessionDescription>)
    {
        Some(Ok(answer)) => {
            let codecs: Vec<String> = answer
                .media
                .iter()
                .flat_map(|m| m.rtpmaps().map(|r| r.to_string()))
                .collect();
            println!(
                "answered in {:.1} s; SDP answer: {}",
                setup.as_secs_f64(),
                codecs.join(", ")
            );
        }
        Some(Err(e)) => println!(
            "answered in {:.1} s; unreadable SDP answer: {e}",
            setup.as_secs_f64()
        ),
        None => println!("answered in {:.1} s; no SDP answer", setup.as_secs_f64()),
    }
    println!(
        "in the call for {:.1} s (Ctrl-C hangs up now)",
        duration.as_secs_f64()
    );
    let answered = Instant::now();
    let end = tokio::select! {
        end = call.ended() => end,
        () = tokio::time::sleep(duration) => hang_up(&mut call).await,
        () = &mut interrupt, if !cancelled => hang_up(&mut call).await,
    };
    let held = answered.elapsed().as_secs_f64();
    match &end {
        CallEnd::LocalBye(r) => {
            println!("< {} {}", r.status, r.reason);
            println!("call ended: we hung up after {held:.1} s");
            if r.status.is_success() {
                Ok(())
            } else {
                Err(Failure::Call(format!(
                    "BYE answered {} {}",
                    r.status, r.reason
                )))
            }
        }
        CallEnd::RemoteBye(_) => {
            println!("< BYE");
            println!("> 200 OK");
            println!("call ended: the other side hung up after {held:.1} s");
            Ok(())
        }
        other => Err(Failure::Call(other.to_string())),
    }
}

async fn hang_up(call: &mut parrot::client::Call) -> CallEnd {
    println!("> BYE");
    match call.bye().await {
        Ok(resp) => CallEnd::LocalBye(Box::new(resp)),
        Err(CallError::Ended(end)) => *end,
        Err(e) => CallEnd::Terminated(e.to_string()),
    }
}

/// The address to put in the SDP offer: the listening address, or the one
/// the system would use to reach the target when listening on a wildcard.
fn media_ip(client: &Client, target: &Uri) -> IpAddr {
    let listening = client
        .local_addr(parrot::transport::Protocol::Udp)
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified());
    if let Some(ip) = listening {
        return ip;
    }
    let peer = target
        .as_sip()
        .and_then(|u| u.host().ip())
        .map(|ip| SocketAddr::new(ip, 5060));
    peer.and_then(|peer| {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
        s.connect(peer).ok()?;
        s.local_addr().ok().map(|a| a.ip())
    })
    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        cli::try_parse(argv)
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn the_uri_and_the_defaults() {
        let args = parse(&["<sip:bob@192.0.2.4:5060>"]).unwrap();
        assert_eq!(args.target.to_string(), "sip:bob@192.0.2.4:5060");
        assert_eq!(args.listen, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        assert_eq!(args.duration, Duration::from_secs(5));
        assert_eq!(args.media_port, 40000);
        // Options may come before or after the URI.
        let args = parse(&["--duration", "0.5", "sip:bob@host", "--listen", "5070"]).unwrap();
        assert_eq!(args.duration, Duration::from_millis(500));
        assert_eq!(args.listen.port(), 5070);
        assert_eq!(
            parse(&[]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert!(parse(&["sip:a@h", "sip:b@h"]).is_err(), "one URI");
        assert!(parse(&["not a uri"]).is_err());
    }

    #[test]
    fn user_and_password_go_together() {
        assert!(parse(&["sip:bob@h", "--user", "alice", "--password", "pw"]).is_ok());
        for half in [&["--user", "alice"][..], &["--password", "pw"]] {
            let mut argv = vec!["sip:bob@h"];
            argv.extend_from_slice(half);
            assert_eq!(
                parse(&argv).unwrap_err().kind(),
                ErrorKind::MissingRequiredArgument,
                "{half:?}"
            );
        }
    }
}
