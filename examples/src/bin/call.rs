//! `call`: dials a SIP URI with `parrot::client`, waits, hangs up, and
//! prints what happened.

use examples::cli::{self, Spec};
use parrot::client::{CallEnd, CallError, Client, Progress};
use parrot::message::Uri;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const SPEC: Spec = Spec {
    usage: "\
usage: call [--listen ADDR] [--duration SECONDS] [--from URI] [--user NAME --password PASSWORD] URI

Calls URI (e.g. sip:bob@192.0.2.4:5060, or sip:bob@host;transport=tcp):
sends an INVITE with an SDP offer (PCMU/PCMA, no media is actually
sent), prints every provisional and final response, keeps the call up
for the duration, then hangs up with BYE and prints how the call ended.
The ACK for the 200 is sent (and sent again if the 200 is repeated); a
BYE from the other side ends the call early; a 401/407 challenge is
answered once when --user and --password are given. Ctrl-C cancels a
ringing call or hangs up an established one.

options:
  --listen ADDR         where to listen for responses, UDP and TCP
                        (default 0.0.0.0:0: any interface, any port)
  --duration SECONDS    how long to stay in the call (default 5)
  --from URI            our identity, the From header (default
                        sip:parrot@<our address>)
  --user NAME           username for digest authentication
  --password PASSWORD   password for digest authentication
  --media-port PORT     the RTP port put in the SDP offer (default 40000)
  -h, --help            this text

Exit status: 0 when the call was answered and ended with a BYE, 1 when
it failed (refused, cancelled, timed out, unreachable), 2 for a bad
command line. What happened goes to stdout, logs to stderr (RUST_LOG
sets their level, default info).",
    values: &[
        "--duration",
        "--from",
        "--user",
        "--password",
        "--media-port",
    ],
    switches: &[],
};

/// Why the program stops with an error.
enum Failure {
    /// The command line is wrong (exit status 2).
    Usage(String),
    /// The call failed (exit status 1).
    Call(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (uri, rest) = split_positional(&args);
    let opts = match cli::parse(&SPEC, rest) {
        Ok(cli::Parsed::Help) => {
            println!("{}", SPEC.usage);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Parsed::Run(opts)) => opts,
        Err(e) => return usage(&e.to_string()),
    };
    let uri = match uri.as_slice() {
        [one] => one.clone(),
        [] => return usage("missing the URI to call"),
        more => return usage(&format!("one URI expected, got {}", more.len())),
    };
    cli::init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("call: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts, &uri)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(why)) => usage(&why),
        Err(Failure::Call(why)) => {
            println!("call failed: {why}");
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("call: {why}\n(try call --help)");
    ExitCode::from(2)
}

/// Separates the positional arguments (the URI) from the options, so that
/// the options can go through the shared parser.
fn split_positional(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut positional = Vec::new();
    let mut rest = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let takes_value = SPEC.values.contains(&arg.as_str()) || arg == "--listen";
        if takes_value {
            rest.push(arg.clone());
            if let Some(v) = iter.next() {
                rest.push(v.clone());
            }
        } else if arg.starts_with('-') {
            rest.push(arg.clone());
        } else {
            positional.push(arg.clone());
        }
    }
    (positional, rest)
}

async fn run(opts: cli::Options, uri: &str) -> Result<(), Failure> {
    let usage = |e: cli::Error| Failure::Usage(e.to_string());
    let listen = match opts.value::<String>("--listen").map_err(usage)? {
        Some(_) => opts.listen().map_err(usage)?,
        None => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
    };
    let duration = opts
        .seconds("--duration")
        .map_err(usage)?
        .unwrap_or(Duration::from_secs(5));
    let media_port: u16 = opts.value("--media-port").map_err(usage)?.unwrap_or(40000);
    let target: Uri = uri
        .trim_start_matches('<')
        .trim_end_matches('>')
        .parse()
        .map_err(|e| Failure::Usage(format!("{uri:?} is not a SIP URI: {e}")))?;

    let mut builder = Client::builder().listen(listen);
    if let Some(from) = opts.value::<String>("--from").map_err(usage)? {
        builder = builder.from(from);
    }
    match (
        opts.value::<String>("--user").map_err(usage)?,
        opts.value::<String>("--password").map_err(usage)?,
    ) {
        (Some(user), Some(password)) => builder = builder.credentials(user, password),
        (None, None) => {}
        _ => return Err(Failure::Usage("--user and --password go together".into())),
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
