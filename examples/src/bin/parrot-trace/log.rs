//! SIP messages out of a server's log: the text trace that `--trace-sip`
//! turns on (`parrot::trace::TextTrace`), as the `fmt` subscriber writes
//! it (one event per message: a header line, the message's lines, the
//! event's fields after the last one) or as `--log-json` does (one JSON
//! object per line, the message in `fields.message`).
//!
//! ```text
//! 2025-01-02T10:00:00.123456Z  INFO parrot::sip: recv 412 bytes UDP 127.0.0.1:5060 <- 192.0.2.7:5062
//! OPTIONS sip:bob@127.0.0.1 SIP/2.0
//! Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK1
//! ...
//! Content-Length: 0 direction=in protocol=UDP local=127.0.0.1:5060 peer=192.0.2.7:5062 bytes=412
//! ```
//!
//! Reading is lenient: a `recv`/`send` header is found anywhere in a line
//! (whatever prefix the log format puts before it), the timestamp is the
//! line's first word when it reads as RFC 3339, colour codes are dropped,
//! and a message ends at the next header, at the next line starting with
//! a timestamp, or at the line carrying the event's fields.

use parrot::trace::ladder::{Captured, Flow};
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// A text trace header: `recv 412 bytes UDP 127.0.0.1:5060 <- 192.0.2.7:5062`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    bytes: usize,
    protocol: Protocol,
    source: SocketAddr,
    destination: SocketAddr,
}

/// A message being read.
struct Pending {
    time: Option<SystemTime>,
    header: Header,
    lines: Vec<String>,
}

/// Reads every traced message of `text` into `flow`; returns how many.
pub fn read_log(text: &str, flow: &mut Flow) -> usize {
    let mut count = 0;
    let mut pending: Option<Pending> = None;
    let mut finish = |p: Option<Pending>, flow: &mut Flow| {
        if let Some(p) = p {
            let data = rebuild(&p.lines, p.header.bytes);
            let time = p.time.unwrap_or(SystemTime::UNIX_EPOCH);
            let h = p.header;
            flow.push(Captured::new(
                time,
                h.source,
                h.destination,
                h.protocol,
                &data,
            ));
            count += 1;
        }
    };
    for raw in text.lines() {
        let line = strip_ansi(raw);
        let line = line.trim_end_matches('\r');
        if line.trim_start().starts_with('{')
            && let Some((time, header, lines)) = json_event(line)
        {
            finish(pending.take(), flow);
            finish(
                Some(Pending {
                    time,
                    header,
                    lines,
                }),
                flow,
            );
            continue;
        }
        if let Some((at, header)) = find_header(line) {
            finish(pending.take(), flow);
            pending = Some(Pending {
                time: line_time(&line[..at]),
                header,
                lines: Vec::new(),
            });
            continue;
        }
        let Some(p) = pending.as_mut() else { continue };
        if line_time(line).is_some() {
            // Another event of the log: the message ended before it.
            finish(pending.take(), flow);
            continue;
        }
        match strip_fields(line) {
            Some(last) => {
                p.lines.push(last.to_owned());
                finish(pending.take(), flow);
            }
            None => p.lines.push(line.to_owned()),
        }
    }
    finish(pending.take(), flow);
    count
}

/// The message's bytes from its lines: CRLF line ends, and the line ends
/// the trace left out after the last line put back (the header gives the
/// size), so that Content-Length matches again.
fn rebuild(lines: &[String], bytes: usize) -> Vec<u8> {
    let mut data = lines.join("\r\n").into_bytes();
    while data.len() < bytes && data.len() < 1 << 20 {
        data.extend_from_slice(if bytes - data.len() == 1 {
            b"\n"
        } else {
            b"\r\n"
        });
    }
    if !data.windows(4).any(|w| w == b"\r\n\r\n") {
        // A trace cut short: at least end the header block.
        data.extend_from_slice(b"\r\n\r\n");
    }
    data
}

/// Finds a text trace header in `line`: where it starts, and what it says.
fn find_header(line: &str) -> Option<(usize, Header)> {
    let mut from = 0;
    while let Some(i) = line[from..].find(['r', 's']).map(|i| i + from) {
        if let Some(h) = header_at(&line[i..]) {
            return Some((i, h));
        }
        from = i + 1;
    }
    None
}

fn header_at(s: &str) -> Option<Header> {
    let mut words = s.split_ascii_whitespace();
    let verb = words.next()?;
    let bytes = words.next()?.parse().ok()?;
    if words.next()? != "bytes" {
        return None;
    }
    let protocol = match words.next()? {
        "UDP" => Protocol::Udp,
        "TCP" => Protocol::Tcp,
        "TLS" => Protocol::Tls,
        "WS" => Protocol::Ws,
        "WSS" => Protocol::Wss,
        _ => return None,
    };
    let local: SocketAddr = words.next()?.parse().ok()?;
    let arrow = words.next()?;
    let peer: SocketAddr = words.next()?.parse().ok()?;
    let (source, destination) = match (verb, arrow) {
        ("recv", "<-") => (peer, local),
        ("send", "->") => (local, peer),
        _ => return None,
    };
    Some(Header {
        bytes,
        protocol,
        source,
        destination,
    })
}

/// The last line of a message with the event's fields after it, without
/// them: ` direction=in protocol=UDP local=... peer=... bytes=412`.
fn strip_fields(line: &str) -> Option<&str> {
    let at = line.rfind(" direction=")?;
    let fields = &line[at + 1..];
    let names: Vec<&str> = fields
        .split(' ')
        .map(|f| f.split_once('=').map_or("", |(n, _)| n))
        .collect();
    (names == ["direction", "protocol", "local", "peer", "bytes"]).then(|| &line[..at])
}

/// One `--log-json` line of the text trace: its time, header and lines.
fn json_event(line: &str) -> Option<(Option<SystemTime>, Header, Vec<String>)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = v.get("fields")?.get("message")?.as_str()?;
    let mut lines = message.split('\n');
    let header = header_at(lines.next()?)?;
    let time = v
        .get("timestamp")
        .and_then(|t| t.as_str())
        .and_then(rfc3339);
    Some((time, header, lines.map(str::to_owned).collect()))
}

/// The time at the start of a log line, if its first word is RFC 3339.
fn line_time(line: &str) -> Option<SystemTime> {
    rfc3339(line.split_ascii_whitespace().next()?)
}

/// Parses an RFC 3339 date-time (`2025-01-02T10:00:00.123456Z`,
/// `...+01:00`).
fn rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, d) in frac[..digits].bytes().take(9).enumerate() {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |c: &u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
            let minutes = (d(h1)? * 10 + d(h2)?) * 60 + d(m1)? * 10 + d(m2)?;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the usual
/// era-based formula).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `line` without terminal colour codes (`ESC [ ... letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.clone().next() == Some('[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_after_any_prefix() {
        let line = "2025-01-02T10:00:00.5Z  INFO parrot::sip: recv 412 bytes UDP 127.0.0.1:5060 <- 192.0.2.7:5062";
        let (at, h) = find_header(line).unwrap();
        assert_eq!(&line[at..at + 4], "recv");
        assert_eq!(h.bytes, 412);
        assert_eq!(h.source, "192.0.2.7:5062".parse().unwrap());
        assert_eq!(h.destination, "127.0.0.1:5060".parse().unwrap());
        let send = find_header("send 9 bytes TLS [::1]:5061 -> [::1]:40000")
            .unwrap()
            .1;
        assert_eq!(send.protocol, Protocol::Tls);
        assert_eq!(send.source, "[::1]:5061".parse().unwrap());
        assert!(find_header("send 9 bytes TLS [::1]:5061 <- [::1]:40000").is_none());
        assert!(find_header("resent 9 bytes over UDP").is_none());
    }

    #[test]
    fn rfc3339_times_parse() {
        let t = rfc3339("2025-01-02T10:00:00.250Z").unwrap();
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(secs, Duration::new(1_735_812_000, 250_000_000));
        assert_eq!(rfc3339("2025-01-02T11:00:00.250+01:00"), Some(t));
        for bad in [
            "2025-13-02T10:00:00Z",
            "2025-01-02T10:00:00",
            "INFO",
            "2025-01-02T10:00:00.Z",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn colour_codes_and_fields_are_dropped() {
        assert_eq!(
            strip_ansi("\u{1b}[2mtime\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m"),
            "time  INFO"
        );
        assert_eq!(
            strip_fields("Content-Length: 0 direction=in protocol=UDP local=a peer=b bytes=3"),
            Some("Content-Length: 0")
        );
        assert_eq!(strip_fields("Subject: direction=north"), None);
    }

    #[test]
    fn line_ends_are_put_back() {
        let lines = ["SIP/2.0 200 OK".to_owned(), "Content-Length: 0".to_owned()];
        assert_eq!(
            rebuild(&lines, 37),
            b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(
            rebuild(&lines, 0),
            b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        );
    }
}
