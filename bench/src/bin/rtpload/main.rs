//! The generator of `bench/media.sh`: opens N G.711 PCMU streams, one
//! packet every 20 ms each, to an RTP endpoint that sends every packet
//! back (Parrot's `echo` example, or rtpengine relaying each stream back
//! to its sender), and measures what comes back.
//!
//! usage: rtpload sip|ng --target ADDR --streams N [--seconds S]
//!                [--warmup S] [--server-pid PID] [--base-port P]
//!                [--setup-rate R]
//!
//! `sip`: each stream is a call to the SIP server at `--target` (UDP):
//! INVITE offering PCMU at the generator's media port, 200 with the
//! server's RTP port for the call, ACK; BYE at the end. `ng`: each stream is an rtpengine call set up
//! through its ng control protocol at `--target` (bencode over UDP):
//! `offer` with the stream's SDP, `answer` with the same SDP (both sides
//! of the call are the generator's media socket), so that what the stream sends
//! to the port of the `answer`'s SDP is relayed back to it, as an echo
//! would; `delete` at the end.
//!
//! Each stream sends 160-octet PCMU payloads that carry its number and a
//! packet counter (the echo returns the payload unchanged; rtpengine
//! relays it unchanged). Every stream sends from, and is sent to, one
//! socket of the generator (`--base-port`, default 60000, or the next
//! free even port; the RTCP port above it is held), the way SIPp streams
//! from its one media port; one thread sends each packet when due (the
//! streams' phases spread over the 20 ms) and reads what comes back in
//! between (`ppoll`, to the microsecond). After the set-up, `--warmup`
//! seconds (default 2) of streaming, then a window of `--seconds`
//! (default 10) that is measured: for the packets sent in it, their return
//! delay; lost (not back 1 s after the window), late (back more than
//! 20 ms after the fastest return of that stream: a 20 ms-frame jitter
//! buffer would have played something else by then); the generator's own
//! lag behind its schedule; and, with `--server-pid`, the server's CPU
//! time (utime+stime from /proc, all threads) over the window and its RSS
//! at the end. The result is one line, `result key=value ...`.
//!
//! Everything is bounded: set-up requests are retried twice, a stream that
//! could not be set up is counted and left out, and the process exits
//! after the window and a one-second drain.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parrot::message::{Message, parse_datagram};
use tokio::net::UdpSocket;
use tokio::time::timeout;

mod ng;
mod sip;
mod stream;

use ng::*;
use sip::*;
use stream::*;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The packet interval.
const PTIME: Duration = Duration::from_millis(20);
/// Octets of PCMU in 20 ms.
const FRAME: usize = 160;
/// Marks our payloads (the first four octets).
const MAGIC: &[u8; 4] = b"RTPL";
/// How long a set-up request waits for its answer, per try.
const REQUEST_WAIT: Duration = Duration::from_millis(1000);
/// Tries per set-up request.
const TRIES: u32 = 3;
/// After the window: how long returns are still awaited.
const DRAIN: Duration = Duration::from_secs(1);
/// Send times kept per stream (5 s at 20 ms), indexed by counter.
const RING: usize = 256;
/// A return later than this after the stream's fastest one is late.
const LATE: Duration = PTIME;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sip,
    Ng,
}

#[derive(Debug)]
struct Args {
    mode: Mode,
    target: SocketAddr,
    streams: usize,
    seconds: u64,
    warmup: u64,
    server_pid: Option<u32>,
    base_port: u16,
    setup_rate: u32,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = match it.next().as_deref() {
        Some("sip") => Mode::Sip,
        Some("ng") => Mode::Ng,
        _ => return Err("the first argument is sip or ng".into()),
    };
    let mut a = Args {
        mode,
        target: "127.0.0.1:5072".parse().unwrap(),
        streams: 100,
        seconds: 10,
        warmup: 2,
        server_pid: None,
        base_port: 60000,
        setup_rate: 500,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--target" => a.target = value.parse().map_err(|e| bad(&e))?,
            "--streams" => a.streams = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => a.seconds = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => a.warmup = value.parse().map_err(|e| bad(&e))?,
            "--server-pid" => a.server_pid = Some(value.parse().map_err(|e| bad(&e))?),
            "--base-port" => a.base_port = value.parse().map_err(|e| bad(&e))?,
            "--setup-rate" => a.setup_rate = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.streams == 0 || a.seconds == 0 || a.setup_rate == 0 {
        return Err("--streams, --seconds and --setup-rate must be positive".into());
    }
    if usize::from(a.base_port) + 2 * a.streams + 2 > usize::from(u16::MAX) {
        return Err("--base-port + 2 * --streams goes past port 65535".into());
    }
    Ok(a)
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rtpload: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args) {
        eprintln!("rtpload: {e}");
        std::process::exit(1);
    }
}

/// utime+stime of a process, all threads, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf(3) takes no pointers.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&hz| hz > 0).unwrap_or(100)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

/// The control channel of the streams: SIP calls or rtpengine's ng.
enum Control {
    Sip(UdpSocket, Vec<SipCall>),
    Ng(UdpSocket),
}

fn run(a: Args) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let media = bind_media(a.base_port)?;
    let setup_started = Instant::now();
    let (remote, control) = runtime.block_on(async {
        Ok::<_, String>(match a.mode {
            Mode::Sip => {
                let (remote, sock, calls) =
                    sip_setup(a.target, media.port, a.streams, a.setup_rate).await?;
                (remote, Control::Sip(sock, calls))
            }
            Mode::Ng => {
                let (remote, sock) = ng_setup(a.target, media.port, a.streams).await?;
                (remote, Control::Ng(sock))
            }
        })
    })?;
    let up: Vec<bool> = remote.iter().map(Option::is_some).collect();
    let established = up.iter().filter(|u| **u).count();
    eprintln!(
        "rtpload: {established} of {} streams set up in {:.1} s",
        a.streams,
        setup_started.elapsed().as_secs_f64()
    );
    if established == 0 {
        return Err("no stream could be set up".into());
    }
    let start = Instant::now() + Duration::from_millis(100);
    let schedule = Schedule {
        start,
        window_start: start + Duration::from_secs(a.warmup),
        window_end: start + Duration::from_secs(a.warmup + a.seconds),
    };
    // The server's CPU over the window, its RSS at the end, and ours: read
    // by a helper thread at the window's edges.
    let server_pid = a.server_pid;
    let probe = std::thread::spawn(move || {
        let self_pid = std::process::id();
        std::thread::sleep(
            schedule
                .window_start
                .saturating_duration_since(Instant::now()),
        );
        let first = (server_pid.and_then(cpu_ticks), cpu_ticks(self_pid));
        std::thread::sleep(
            schedule
                .window_end
                .saturating_duration_since(Instant::now()),
        );
        let last = (server_pid.and_then(cpu_ticks), cpu_ticks(self_pid));
        (first, last, server_pid.and_then(rss_kb))
    });
    let mut total = stream_all(&media, &remote, schedule);
    let ((server0, self0), (server1, self1), rss) =
        probe.join().map_err(|_| "the /proc probe panicked")?;
    let bye = runtime.block_on(async {
        match &control {
            Control::Sip(sock, calls) => {
                sip_teardown(sock, a.target, calls, &up, a.setup_rate).await
            }
            Control::Ng(sock) => ng_teardown(sock, a.target, &up).await,
        }
    });
    total.delays.sort_unstable();
    total.send_lag.sort_unstable();
    let hz = clock_ticks_per_second();
    let cpu_ms = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.0}", (b - a) as f64 * 1000.0 / hz as f64),
        _ => "-".into(),
    };
    let server_cpu_ms = cpu_ms(server0, server1);
    let per_packet = match (server0, server1) {
        (Some(x), Some(y)) if total.sent > 0 => format!(
            "{:.2}",
            (y - x) as f64 * 1e6 / hz as f64 / total.sent as f64
        ),
        _ => "-".into(),
    };
    let server_pct = match (server0, server1) {
        (Some(x), Some(y)) => format!(
            "{:.0}",
            (y - x) as f64 * 100.0 / hz as f64 / a.seconds as f64
        ),
        _ => "-".into(),
    };
    let pct = |n: u64| {
        if total.sent == 0 {
            0.0
        } else {
            n as f64 * 100.0 / total.sent as f64
        }
    };
    println!(
        "result mode={} streams={} established={established} seconds={} sent={} returned={} \
         lost={} lost_pct={:.3} late={} late_pct={:.3} bad_pct={:.3} \
         delay_p50_ms={:.1} delay_p99_ms={:.1} delay_max_ms={:.1} foreign={} unmatched={} \
         server_cpu_ms={server_cpu_ms} server_cpu_pct={server_pct} \
         cpu_us_per_packet={per_packet} server_rss_kb={} gen_cpu_ms={} gen_lag_p99_ms={:.1} \
         torn_down={bye}",
        match a.mode {
            Mode::Sip => "sip",
            Mode::Ng => "ng",
        },
        a.streams,
        a.seconds,
        total.sent,
        total.returned,
        total.lost,
        pct(total.lost),
        total.late,
        pct(total.late),
        pct(total.lost + total.late),
        percentile(&total.delays, 0.50),
        percentile(&total.delays, 0.99),
        percentile(&total.delays, 1.0),
        total.foreign,
        total.unmatched,
        rss.map_or_else(|| "-".into(), |r| r.to_string()),
        cpu_ms(self0, self1),
        percentile(&total.send_lag, 0.99),
    );
    Ok(())
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_sorted_delays() {
        let d: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&d, 0.5), 50.0);
        assert_eq!(percentile(&d, 0.99), 99.0);
        assert_eq!(percentile(&d, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
