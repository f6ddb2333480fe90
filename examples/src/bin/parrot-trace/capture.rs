//! SIP messages out of a capture file: pcap or pcapng (read with
//! `pcap-file`), Ethernet (with VLAN tags), Linux cooked (SLL, SLL2),
//! BSD loopback or raw IP frames, IPv4 and IPv6 (fragments put back
//! together), UDP datagrams and TCP streams (segments joined per
//! direction, messages cut by Content-Length). Payloads that do not start
//! like a SIP message (RTP, STUN, TLS, ...) are skipped.
//!
//! Every length read from the file is checked: damaged input gives an
//! error naming where it stopped, never a panic.

use parrot::trace::ladder::{Captured, Flow};
use parrot::transport::Protocol;
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime};

/// The first four bytes of the capture formats read here.
pub fn is_pcap(data: &[u8]) -> bool {
    matches!(
        data.get(..4),
        Some([0xa1, 0xb2, 0xc3, 0xd4] | [0xd4, 0xc3, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0x3c, 0x4d] | [0x4d, 0x3c, 0xb2, 0xa1])
    )
}

/// A pcapng file starts with a Section Header Block.
pub fn is_pcapng(data: &[u8]) -> bool {
    data.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a])
}

/// What reading a capture found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Packets (or pcapng packet blocks) read.
    pub packets: usize,
    /// SIP messages found in them.
    pub messages: usize,
}

/// Reads a pcap file into `flow`. On damaged input the error says where;
/// the messages read before it are in `flow` all the same.
pub fn read_pcap(data: &[u8], flow: &mut Flow) -> (Stats, Result<(), String>) {
    let mut decoder = Decoder::default();
    let (mut rest, parser) = match PcapParser::new(data) {
        Ok(p) => p,
        Err(e) => {
            return (
                decoder.stats,
                Err(format!("not a pcap file: {}", explain(&e))),
            );
        }
    };
    let header = parser.header();
    let link = header.datalink;
    let nanos = header.ts_resolution == TsResolution::NanoSecond;
    while !rest.is_empty() {
        let offset = data.len() - rest.len();
        // Raw packets: the lengths are checked here rather than refused
        // against the snapshot length, which some writers get wrong.
        let (next, packet) = match parser.next_raw_packet(rest) {
            Ok(p) => p,
            Err(e) => return decoder.fail(flow, offset, &e),
        };
        rest = next;
        decoder.stats.packets += 1;
        let frac = if nanos {
            u64::from(packet.ts_frac)
        } else {
            u64::from(packet.ts_frac) * 1000
        };
        let time = Duration::from_secs(u64::from(packet.ts_sec)) + Duration::from_nanos(frac);
        decoder.frame(time, link, &packet.data, flow);
    }
    decoder.finish(flow);
    (decoder.stats, Ok(()))
}

/// Reads a pcapng file into `flow`; as [`read_pcap`].
pub fn read_pcapng(data: &[u8], flow: &mut Flow) -> (Stats, Result<(), String>) {
    let mut decoder = Decoder::default();
    let (mut rest, mut parser) = match PcapNgParser::new(data) {
        Ok(p) => p,
        Err(e) => {
            return (
                decoder.stats,
                Err(format!("not a pcapng file: {}", explain(&e))),
            );
        }
    };
    let mut last_time = Duration::ZERO;
    while !rest.is_empty() {
        let offset = data.len() - rest.len();
        let block = match parser.next_block(rest) {
            Ok((next, block)) => {
                rest = next;
                block
            }
            // A block whose framing is sound but whose content is not
            // (an odd option, say) is skipped; anything else stops.
            Err(e @ PcapError::InvalidField(_)) => {
                match block_len(rest, parser.section().endianness) {
                    Some(len) => {
                        rest = &rest[len..];
                        continue;
                    }
                    None => return decoder.fail(flow, offset, &e),
                }
            }
            Err(e) => return decoder.fail(flow, offset, &e),
        };
        // The obsolete Packet Block counts in the interface's units too.
        let (interface, time, frame): (u32, Option<Duration>, &[u8]) = match &block {
            Block::EnhancedPacket(p) => (p.interface_id, Some(p.timestamp), &p.data),
            Block::SimplePacket(p) => (0, None, &p.data),
            Block::Packet(p) => (
                u32::from(p.interface_id),
                Some(Duration::from_nanos(p.timestamp)),
                &p.data,
            ),
            _ => continue,
        };
        decoder.stats.packets += 1;
        let Some(idb) = parser.interfaces().get(interface as usize) else {
            continue;
        };
        if let Some(raw) = time {
            last_time = scale(raw, idb.options.iter());
        }
        decoder.frame(last_time, idb.linktype, frame, flow);
    }
    decoder.finish(flow);
    (decoder.stats, Ok(()))
}

/// The length of the pcapng block at the start of `data`, if its header
/// and trailer agree and it fits.
fn block_len(data: &[u8], endianness: Endianness) -> Option<usize> {
    let word = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(match endianness {
            Endianness::Big => u32::from_be_bytes(b),
            Endianness::Little => u32::from_le_bytes(b),
        })
    };
    let len = word(4)? as usize;
    (len >= 12 && len.is_multiple_of(4) && len <= data.len() && word(len - 4)? as usize == len)
        .then_some(len)
}

/// The pcap-file crate reads a pcapng timestamp as nanoseconds; it is a
/// count of the interface's units (`if_tsresol`: 10^-n or 2^-n seconds,
/// microseconds when absent).
fn scale<'a>(
    raw: Duration,
    options: impl Iterator<Item = &'a InterfaceDescriptionOption<'a>>,
) -> Duration {
    let units = raw.as_nanos();
    let resolution = options
        .filter_map(|o| match o {
            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
            _ => None,
        })
        .next()
        .unwrap_or(6);
    let nanos = if resolution & 0x80 == 0 {
        let exp = u32::from(resolution);
        if exp <= 9 {
            units * 10u128.pow(9 - exp)
        } else {
            units / 10u128.pow((exp - 9).min(38))
        }
    } else {
        let exp = u32::from(resolution & 0x7f).min(127);
        (units * 1_000_000_000) >> exp
    };
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

fn explain(e: &PcapError) -> String {
    match e {
        PcapError::IncompleteBuffer => "the file ends too early".into(),
        other => other.to_string(),
    }
}

fn damaged(stats: &Stats, offset: usize, e: &PcapError) -> String {
    let what = match e {
        PcapError::IncompleteBuffer => "truncated".to_owned(),
        other => format!("damaged ({other})"),
    };
    format!(
        "capture {what} at byte offset {offset}, after {} packet{} ({} SIP message{})",
        stats.packets,
        plural(stats.packets),
        stats.messages,
        plural(stats.messages)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The most bytes a TCP direction buffers while waiting for the rest of
/// a message, and the most directions followed.
const MAX_STREAM: usize = 1 << 20;
const MAX_STREAMS: usize = 4096;
/// The most IP datagrams being put back together at once.
const MAX_FRAGMENTED: usize = 256;

/// Turns frames into SIP messages.
#[derive(Default)]
struct Decoder {
    stats: Stats,
    streams: HashMap<(SocketAddr, SocketAddr), Stream>,
    fragments: HashMap<FragmentKey, Fragments>,
}

/// One direction of a TCP connection.
#[derive(Default)]
struct Stream {
    buf: Vec<u8>,
    /// The sequence number the next segment should carry.
    next: Option<u32>,
    /// When the message at the start of `buf` began.
    since: Duration,
}

type FragmentKey = (IpAddr, IpAddr, u32, u8);

#[derive(Default)]
struct Fragments {
    parts: Vec<(usize, Vec<u8>)>,
    /// The length of the whole payload, once the last fragment came.
    total: Option<usize>,
}

/// A transport payload between two addresses.
struct Segment<'a> {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload: &'a [u8],
}

const UDP: u8 = 17;
const TCP: u8 = 6;

impl Decoder {
    fn frame(&mut self, time: Duration, link: DataLink, frame: &[u8], flow: &mut Flow) {
        let Some(ip) = link_payload(link, frame) else {
            return;
        };
        let reassembled;
        let segment = match ip.first().map(|b| b >> 4) {
            Some(4) => ipv4(ip),
            Some(6) => ipv6(ip),
            _ => None,
        };
        let segment = match segment {
            Some(Ip::Whole(s)) => s,
            Some(Ip::Fragment {
                key,
                offset,
                more,
                src,
                dst,
                protocol,
                data,
            }) => match self.fragment(key, offset, more, data) {
                Some(whole) => {
                    reassembled = whole;
                    Segment {
                        src,
                        dst,
                        protocol,
                        payload: &reassembled,
                    }
                }
                None => return,
            },
            None => return,
        };
        match segment.protocol {
            UDP => self.udp(time, &segment, flow),
            TCP => self.tcp(time, &segment, flow),
            _ => {}
        }
    }

    /// Adds a fragment; returns the whole payload once every part is in.
    fn fragment(
        &mut self,
        key: FragmentKey,
        offset: usize,
        more: bool,
        data: &[u8],
    ) -> Option<Vec<u8>> {
        if !self.fragments.contains_key(&key) && self.fragments.len() >= MAX_FRAGMENTED {
            return None;
        }
        let f = self.fragments.entry(key).or_default();
        if offset + data.len() > 65_535 || f.parts.len() > 64 {
            self.fragments.remove(&key);
            return None;
        }
        f.parts.push((offset, data.to_vec()));
        if !more {
            f.total = Some(offset + data.len());
        }
        let total = f.total?;
        f.parts.sort_by_key(|p| p.0);
        let mut whole = Vec::with_capacity(total);
        for (at, part) in &f.parts {
            if *at > whole.len() {
                return None;
            }
            let skip = whole.len() - at;
            if skip < part.len() {
                whole.extend_from_slice(&part[skip..]);
            }
        }
        if whole.len() < total {
            return None;
        }
        whole.truncate(total);
        self.fragments.remove(&key);
        Some(whole)
    }

    fn udp(&mut self, time: Duration, s: &Segment<'_>, flow: &mut Flow) {
        let p = s.payload;
        if p.len() < 8 {
            return;
        }
        let (sport, dport) = (
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        );
        let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
        let end = if (8..=p.len()).contains(&len) {
            len
        } else {
            p.len()
        };
        let body = &p[8..end];
        if looks_like_sip(body) {
            let (src, dst) = (SocketAddr::new(s.src, sport), SocketAddr::new(s.dst, dport));
            self.push(time, src, dst, Protocol::Udp, body, flow);
        }
    }

    fn tcp(&mut self, time: Duration, s: &Segment<'_>, flow: &mut Flow) {
        let p = s.payload;
        if p.len() < 20 {
            return;
        }
        let (sport, dport) = (
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        );
        let seq = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        let offset = usize::from(p[12] >> 4) * 4;
        let flags = p[13];
        let key = (SocketAddr::new(s.src, sport), SocketAddr::new(s.dst, dport));
        let payload = p.get(offset..).unwrap_or(&[]);
        if flags & 0x02 != 0 {
            // SYN: a new connection; its first data byte is seq + 1.
            self.streams.remove(&key);
            if self.streams.len() < MAX_STREAMS {
                self.streams.insert(
                    key,
                    Stream {
                        next: Some(seq.wrapping_add(1)),
                        ..Stream::default()
                    },
                );
            }
        }
        if !payload.is_empty() {
            if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
                return;
            }
            let stream = self.streams.entry(key).or_default();
            let mut data = payload;
            if let Some(next) = stream.next {
                let ahead = seq.wrapping_sub(next) as i32;
                if ahead < 0 {
                    // A retransmitted or overlapping segment: keep only
                    // what is new.
                    let seen = ahead.unsigned_abs() as usize;
                    data = data.get(seen..).unwrap_or(&[]);
                } else if ahead > 0 {
                    // Bytes were not captured: what was buffered cannot
                    // be completed.
                    stream.buf.clear();
                }
            }
            if !data.is_empty() {
                if stream.buf.is_empty() {
                    stream.since = time;
                }
                stream.buf.extend_from_slice(data);
                stream.next = Some(seq.wrapping_add(payload.len() as u32));
                self.cut_messages(key, time, flow);
            }
        }
        if flags & 0x05 != 0 {
            // FIN or RST: whatever is left will not be completed.
            if let Some(stream) = self.streams.remove(&key) {
                self.leftover(key, stream, flow);
            }
        }
    }

    /// Takes every complete message off the front of a stream's buffer.
    fn cut_messages(&mut self, key: (SocketAddr, SocketAddr), time: Duration, flow: &mut Flow) {
        let Some(mut stream) = self.streams.remove(&key) else {
            return;
        };
        loop {
            // Keep-alives between messages (RFC 5626 §3.5.1).
            let blank = stream
                .buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            stream.buf.drain(..blank);
            if stream.buf.is_empty() {
                break;
            }
            if !looks_like_sip(&stream.buf) {
                if stream.buf.len() >= 16 || stream.buf.contains(&b'\n') {
                    // Not SIP (or the start of a message was missed).
                    stream.buf.clear();
                }
                break;
            }
            let Some(len) = message_len(&stream.buf) else {
                if stream.buf.len() > MAX_STREAM {
                    stream.buf.clear();
                }
                break;
            };
            if stream.buf.len() < len {
                break;
            }
            let message: Vec<u8> = stream.buf.drain(..len).collect();
            self.push(stream.since, key.0, key.1, Protocol::Tcp, &message, flow);
            stream.since = time;
        }
        self.streams.insert(key, stream);
    }

    /// A message cut short by the end of the capture or of the
    /// connection is still shown (as what it is: unparsable bytes).
    fn leftover(&mut self, key: (SocketAddr, SocketAddr), stream: Stream, flow: &mut Flow) {
        if looks_like_sip(&stream.buf) {
            self.push(stream.since, key.0, key.1, Protocol::Tcp, &stream.buf, flow);
        }
    }

    /// Stops at damage: what was buffered is shown, the error says where.
    fn fail(
        &mut self,
        flow: &mut Flow,
        offset: usize,
        e: &PcapError,
    ) -> (Stats, Result<(), String>) {
        self.finish(flow);
        (self.stats, Err(damaged(&self.stats, offset, e)))
    }

    fn finish(&mut self, flow: &mut Flow) {
        // In the order the directions were first seen would need more
        // state; sorting by address keeps the output deterministic.
        let mut streams: Vec<_> = self.streams.drain().collect();
        streams.sort_by_key(|(k, _)| *k);
        for (key, stream) in streams {
            self.leftover(key, stream, flow);
        }
    }

    fn push(
        &mut self,
        time: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        protocol: Protocol,
        data: &[u8],
        flow: &mut Flow,
    ) {
        self.stats.messages += 1;
        flow.push(Captured::new(
            SystemTime::UNIX_EPOCH + time,
            src,
            dst,
            protocol,
            data,
        ));
    }
}

/// The IP packet inside a link-layer frame.
fn link_payload(link: DataLink, frame: &[u8]) -> Option<&[u8]> {
    match link {
        DataLink::ETHERNET => {
            let mut at = 12;
            let mut ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
            // Up to two VLAN tags (802.1Q, 802.1ad).
            for _ in 0..2 {
                if ethertype == 0x8100 || ethertype == 0x88a8 {
                    at += 4;
                    ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
                }
            }
            matches!(ethertype, 0x0800 | 0x86dd).then(|| frame.get(at + 2..))?
        }
        // Linux cooked capture: the protocol in the last two bytes of a
        // 16-byte header (SLL), in the first two of a 20-byte one (SLL2).
        DataLink::LINUX_SLL => frame.get(16..),
        DataLink::LINUX_SLL2 => frame.get(20..),
        // BSD loopback: a 4-byte address family, then the packet.
        DataLink::NULL | DataLink::LOOP => frame.get(4..),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Some(frame),
        _ => None,
    }
}

enum Ip<'a> {
    Whole(Segment<'a>),
    Fragment {
        key: FragmentKey,
        offset: usize,
        more: bool,
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        data: &'a [u8],
    },
}

fn ipv4(p: &[u8]) -> Option<Ip<'_>> {
    let ihl = usize::from(p.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes(p.get(2..4)?.try_into().ok()?));
    if ihl < 20 || p.len() < ihl {
        return None;
    }
    // A zero total length is written by segmentation offload: trust the
    // capture's length then.
    let end = if total >= ihl && total <= p.len() {
        total
    } else {
        p.len()
    };
    let protocol = p[9];
    let src = IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19]));
    let flags = u16::from_be_bytes([p[6], p[7]]);
    let more = flags & 0x2000 != 0;
    let offset = usize::from(flags & 0x1fff) * 8;
    let data = &p[ihl..end];
    if more || offset > 0 {
        let id = u32::from(u16::from_be_bytes([p[4], p[5]]));
        return Some(Ip::Fragment {
            key: (src, dst, id, protocol),
            offset,
            more,
            src,
            dst,
            protocol,
            data,
        });
    }
    Some(Ip::Whole(Segment {
        src,
        dst,
        protocol,
        payload: data,
    }))
}

fn ipv6(p: &[u8]) -> Option<Ip<'_>> {
    if p.len() < 40 {
        return None;
    }
    let payload_len = usize::from(u16::from_be_bytes([p[4], p[5]]));
    let end = if payload_len > 0 && 40 + payload_len <= p.len() {
        40 + payload_len
    } else {
        p.len()
    };
    let addr = |at: usize| -> Option<IpAddr> {
        let b: [u8; 16] = p.get(at..at + 16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(b)))
    };
    let (src, dst) = (addr(8)?, addr(24)?);
    let mut next = p[6];
    let mut at = 40;
    // Extension headers: hop-by-hop, routing, destination options are
    // skipped; a fragment header makes this a fragment.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let h = p.get(at..at + 2)?;
                next = h[0];
                at += (usize::from(h[1]) + 1) * 8;
            }
            44 => {
                let h = p.get(at..at + 8)?;
                let field = u16::from_be_bytes([h[2], h[3]]);
                let id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                let data = p.get(at + 8..end)?;
                return Some(Ip::Fragment {
                    key: (src, dst, id, h[0]),
                    offset: usize::from(field >> 3) * 8,
                    more: field & 1 != 0,
                    src,
                    dst,
                    protocol: h[0],
                    data,
                });
            }
            _ => break,
        }
    }
    let payload = p.get(at..end)?;
    Some(Ip::Whole(Segment {
        src,
        dst,
        protocol: next,
        payload,
    }))
}

/// Whether `data` starts like a SIP message: a start line ending in
/// ` SIP/2.0` (a request) or starting with `SIP/2.0 ` (a response). Only
/// the first 256 bytes are looked at; a line not yet complete passes if
/// what there is could begin one.
pub fn looks_like_sip(data: &[u8]) -> bool {
    let head = &data[..data.len().min(256)];
    let line = match head.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) => &head[..i],
        None => head,
    };
    if line.starts_with(b"SIP/2.0 ") {
        return true;
    }
    let method_len = line.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    method_len > 0
        && line.get(method_len) == Some(&b' ')
        && (line.ends_with(b" SIP/2.0") || line.len() == head.len())
}

/// The length of the message at the start of `buf` (header block and
/// Content-Length bytes of body), once its header block is complete.
fn message_len(buf: &[u8]) -> Option<usize> {
    let (head_end, body_start) = match find(buf, b"\r\n\r\n") {
        Some(i) => (i, i + 4),
        None => {
            let i = find(buf, b"\n\n")?;
            (i, i + 2)
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let body = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| {
            let n = name.trim();
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l")
        })
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    Some(body_start.saturating_add(body.min(MAX_STREAM)))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_is_told_from_other_payloads() {
        assert!(looks_like_sip(b"INVITE sip:b@h SIP/2.0\r\nVia: x\r\n"));
        assert!(looks_like_sip(b"SIP/2.0 200 OK\r\n"));
        assert!(looks_like_sip(b"INVITE sip:b@h SI"));
        assert!(!looks_like_sip(b"\x80\x00\x12\x34rtp"));
        assert!(!looks_like_sip(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!looks_like_sip(b""));
    }

    #[test]
    fn messages_are_cut_by_content_length() {
        let m = b"MESSAGE sip:b@h SIP/2.0\r\nl: 5\r\n\r\nhelloINVITE";
        assert_eq!(message_len(m), Some(m.len() - 6));
        assert_eq!(message_len(b"SIP/2.0 200 OK\r\nVia: x\r\n"), None);
        assert_eq!(message_len(b"SIP/2.0 200 OK\r\n\r\n"), Some(18));
    }

    #[test]
    fn pcapng_timestamps_follow_the_interface_resolution() {
        let raw = Duration::from_nanos(1_500_000);
        assert_eq!(scale(raw, [].iter()), Duration::from_millis(1500));
        let nanos = [InterfaceDescriptionOption::IfTsResol(9)];
        assert_eq!(scale(raw, nanos.iter()), raw);
        let binary = [InterfaceDescriptionOption::IfTsResol(0x80 | 10)];
        assert_eq!(
            scale(Duration::from_nanos(1024), binary.iter()),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn fragments_are_put_back_together() {
        let mut d = Decoder::default();
        let key = (
            IpAddr::from([192, 0, 2, 1]),
            IpAddr::from([192, 0, 2, 2]),
            7,
            UDP,
        );
        assert_eq!(d.fragment(key, 8, false, b"orld"), None);
        assert_eq!(
            d.fragment(key, 0, true, b"hello, w"),
            Some(b"hello, world".to_vec())
        );
        assert!(d.fragments.is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        // Every prefix of a few made-up frames, on every link type read.
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0x20, 0, 64, 17, 0, 0]);
        frame.extend_from_slice(&[
            192, 0, 2, 1, 192, 0, 2, 2, 0x13, 0xc4, 0x13, 0xc4, 0, 9, 0, 0,
        ]);
        frame.extend_from_slice(b"SIP/2.0 1");
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 44, 64];
        v6.extend_from_slice(&[0xff; 40]);
        for link in [
            DataLink::ETHERNET,
            DataLink::LINUX_SLL,
            DataLink::LINUX_SLL2,
            DataLink::NULL,
            DataLink::RAW,
            DataLink::IPV6,
        ] {
            for f in [&frame, &v6] {
                for n in 0..=f.len() {
                    let mut flow = Flow::new();
                    let mut d = Decoder::default();
                    d.frame(Duration::ZERO, link, &f[..n], &mut flow);
                    d.frame(Duration::ZERO, link, &f[n..], &mut flow);
                    d.finish(&mut flow);
                }
            }
        }
    }
}
