//! `wirelatency`: call-setup latency on the wire, from a packet capture of
//! SIPp's calls (bench/load.sh's latency run).
//!
//! ```text
//! wirelatency CAPTURE.pcap SERVER_PORT
//! ```
//!
//! Prints, one per line, the microseconds from each INVITE sent to the
//! server on SERVER_PORT to the first 200 the server sent for it (same
//! Call-ID, CSeq method INVITE). The capture is tcpdump's of the loopback
//! device: the kernel stamps each datagram on the sender's side as it
//! passes the device, so the figure is the server's own setup time,
//! without SIPp's queueing or its message-log writing. Retransmissions are
//! ignored (the first INVITE and the first 200 count); calls without both
//! are left out. The counts go to stderr.
//!
//! The capture is read by the end-to-end tests' reader
//! (`tests::capture::parse_pcap`) and each datagram by parrot's parser.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use ::tests::capture::{Datagram, parse_pcap};
use parrot::message::{Message, Method, StatusCode, parse_datagram};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, port) = match args.as_slice() {
        [path, port] => match port.parse::<u16>() {
            Ok(port) => (path, port),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("wirelatency: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let datagrams = match parse_pcap(&bytes) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("wirelatency: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (latencies, invites) = setup_times(&datagrams, port);
    let mut out = String::with_capacity(latencies.len() * 6);
    for d in &latencies {
        // To the nearest microsecond.
        out.push_str(&((d.as_nanos() + 500) / 1000).to_string());
        out.push('\n');
    }
    print!("{out}");
    eprintln!(
        "wirelatency: {invites} INVITEs, {} answered with 200",
        latencies.len()
    );
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: wirelatency CAPTURE.pcap SERVER_PORT");
    ExitCode::from(2)
}

/// The INVITE → 200 times of the calls to `port`, and the number of
/// INVITEs seen.
fn setup_times(datagrams: &[Datagram], port: u16) -> (Vec<Duration>, usize) {
    let mut sent: HashMap<String, Duration> = HashMap::new();
    let mut answered: HashMap<String, Duration> = HashMap::new();
    for d in datagrams {
        let to_server = d.to.port() == port;
        let from_server = d.from.port() == port;
        if !to_server && !from_server {
            continue;
        }
        // Anything that does not parse is no INVITE or 200 of a call.
        let Ok(message) = parse_datagram(d.payload.clone().into()) else {
            continue;
        };
        let Some(call_id) = message.headers().call_id().map(|c| c.to_string()) else {
            continue;
        };
        match &message {
            Message::Request(r) if to_server && r.method == Method::Invite => {
                sent.entry(call_id).or_insert(d.time);
            }
            Message::Response(r)
                if from_server
                    && r.status == StatusCode::OK
                    && r.headers.cseq().is_some_and(|c| c.method == Method::Invite) =>
            {
                answered.entry(call_id).or_insert(d.time);
            }
            _ => {}
        }
    }
    let latencies = answered
        .into_iter()
        .filter_map(|(id, t)| t.checked_sub(*sent.get(&id)?))
        .collect();
    (latencies, sent.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn datagram(ms: u64, from: u16, to: u16, text: &str) -> Datagram {
        Datagram {
            time: Duration::from_millis(ms),
            from: SocketAddrV4::new(Ipv4Addr::LOCALHOST, from),
            to: SocketAddrV4::new(Ipv4Addr::LOCALHOST, to),
            payload: text.replace('\n', "\r\n").into_bytes(),
        }
    }

    fn invite(call: &str) -> String {
        format!(
            "INVITE sip:s@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK{call}\n\
             From: <sip:a@127.0.0.1>;tag=1\nTo: <sip:s@127.0.0.1>\nCall-ID: {call}\n\
             CSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n"
        )
    }

    fn ok(call: &str, method: &str) -> String {
        format!(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bK{call}\n\
             From: <sip:a@127.0.0.1>;tag=1\nTo: <sip:s@127.0.0.1>;tag=2\nCall-ID: {call}\n\
             CSeq: 1 {method}\nContent-Length: 0\n\n"
        )
    }

    #[test]
    fn pairs_the_first_invite_with_the_first_200_to_it() {
        let d = [
            datagram(10, 6000, 5070, &invite("a")),
            datagram(11, 6000, 5070, &invite("b")),
            // A retransmitted INVITE and 200 count from the first.
            datagram(12, 6000, 5070, &invite("a")),
            datagram(13, 5070, 6000, &ok("b", "BYE")),
            datagram(15, 5070, 6000, &ok("a", "INVITE")),
            datagram(16, 5070, 6000, &ok("a", "INVITE")),
            // Another server's traffic and an unanswered INVITE.
            datagram(17, 5070, 6001, "not SIP"),
            datagram(18, 6000, 5080, &invite("c")),
            datagram(19, 5080, 6000, &ok("c", "INVITE")),
        ];
        let (latencies, invites) = setup_times(&d, 5070);
        assert_eq!(latencies, vec![Duration::from_millis(5)]);
        assert_eq!(invites, 2);
    }
}
