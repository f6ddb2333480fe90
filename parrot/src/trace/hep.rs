//! HEPv3 (the Homer Encapsulation Protocol, version 3), sans-IO: encoding
//! a captured SIP message as one packet, and decoding one (for
//! collectors and tests).
//!
//! A packet is the magic `HEP3`, its total length (16 bits, network byte
//! order, the 6 header bytes included), then chunks: each a vendor id
//! (16 bits, 0 for the generic chunks), a chunk type (16 bits), a length
//! (16 bits, the chunk's 6 header bytes included) and the value, numbers
//! in network byte order. The generic chunk types written:
//!
//! | type | value |
//! | ---: | --- |
//! | 1 | IP family: 2 (IPv4) or 10 (IPv6), 8 bits |
//! | 2 | IP protocol: 17 (UDP) or 6 (TCP, TLS, WS, WSS), 8 bits |
//! | 3, 4 | source and destination IPv4 address, 4 bytes |
//! | 5, 6 | source and destination IPv6 address, 16 bytes |
//! | 7, 8 | source and destination port, 16 bits |
//! | 9, 10 | timestamp: seconds since 1970 and microseconds, 32 bits each |
//! | 11 | protocol type: 1 (SIP), 8 bits |
//! | 12 | capture agent id, 32 bits |
//! | 14 | authentication key (optional), bytes |
//! | 17 | correlation id (optional): the Call-ID, bytes |
//! | 15 | payload: the SIP message, bytes |

use crate::transport::{Protocol, TappedMessage};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::UNIX_EPOCH;

/// The magic that starts every HEPv3 packet.
pub const MAGIC: &[u8; 4] = b"HEP3";
/// The protocol type of SIP (chunk 11).
pub const PROTOCOL_SIP: u8 = 1;
/// The IP protocol number of UDP (chunk 2).
pub const IPPROTO_UDP: u8 = 17;
/// The IP protocol number of TCP (chunk 2), which TLS and WebSocket
/// also run over.
pub const IPPROTO_TCP: u8 = 6;
/// The IP family of IPv4 (chunk 1, `AF_INET`).
pub const AF_INET: u8 = 2;
/// The IP family of IPv6 (chunk 1, `AF_INET6` as Linux numbers it).
pub const AF_INET6: u8 = 10;

/// The generic chunk types.
mod chunk {
    pub(super) const FAMILY: u16 = 1;
    pub(super) const IP_PROTOCOL: u16 = 2;
    pub(super) const SRC_IPV4: u16 = 3;
    pub(super) const DST_IPV4: u16 = 4;
    pub(super) const SRC_IPV6: u16 = 5;
    pub(super) const DST_IPV6: u16 = 6;
    pub(super) const SRC_PORT: u16 = 7;
    pub(super) const DST_PORT: u16 = 8;
    pub(super) const SECONDS: u16 = 9;
    pub(super) const MICROS: u16 = 10;
    pub(super) const PROTOCOL_TYPE: u16 = 11;
    pub(super) const CAPTURE_ID: u16 = 12;
    pub(super) const AUTH_KEY: u16 = 14;
    pub(super) const PAYLOAD: u16 = 15;
    pub(super) const CORRELATION_ID: u16 = 17;
}

/// The header of a packet and of a chunk, in bytes.
const HEADER: usize = 6;

/// One HEPv3 packet: what it says about a captured message, borrowing
/// the bytes (of the message when encoding, of the packet when decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HepPacket<'a> {
    /// Where the message came from. When the source and the destination
    /// are of different families, both are encoded as IPv6 (an IPv4
    /// address as IPv4-mapped).
    pub source: SocketAddr,
    /// Where it went.
    pub destination: SocketAddr,
    /// The IP protocol ([`IPPROTO_UDP`] or [`IPPROTO_TCP`]).
    pub ip_protocol: u8,
    /// The capture time: seconds since 1970-01-01 UTC.
    pub seconds: u32,
    /// The capture time: microseconds within the second.
    pub micros: u32,
    /// What the payload is ([`PROTOCOL_SIP`]).
    pub protocol_type: u8,
    /// The capture agent (node) id.
    pub capture_id: u32,
    /// The collector's password, if it asks for one.
    pub auth_key: Option<&'a [u8]>,
    /// The correlation id (the Call-ID), if any.
    pub correlation_id: Option<&'a [u8]>,
    /// The captured message.
    pub payload: &'a [u8],
}

/// Why a packet could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HepError {
    /// The packet would exceed the 65535 bytes its length field counts.
    #[error("HEP packet too large ({0} bytes)")]
    TooLarge(usize),
    /// The bytes do not start with `HEP3`.
    #[error("not a HEPv3 packet")]
    NotHep3,
    /// A length field disagrees with the bytes there are.
    #[error("truncated or inconsistent HEP packet")]
    Truncated,
    /// A chunk has a value of the wrong size, or a needed chunk is
    /// missing.
    #[error("bad or missing HEP chunk {0}")]
    BadChunk(u16),
}

impl<'a> HepPacket<'a> {
    /// The packet for a tapped message: UDP or TCP, the capture time, SIP,
    /// the given capture id and key, and the Call-ID as correlation id
    /// when `correlate` (and the message has one).
    pub fn from_tapped(
        message: &TappedMessage<'a>,
        capture_id: u32,
        auth_key: Option<&'a [u8]>,
        correlate: bool,
    ) -> Self {
        let since = message
            .timestamp
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        HepPacket {
            source: message.source(),
            destination: message.destination(),
            ip_protocol: match message.protocol {
                Protocol::Udp => IPPROTO_UDP,
                _ => IPPROTO_TCP,
            },
            // HEP's seconds are 32 bits: they wrap in 2106.
            seconds: since.as_secs() as u32,
            micros: since.subsec_micros(),
            protocol_type: PROTOCOL_SIP,
            capture_id,
            auth_key,
            correlation_id: if correlate {
                call_id(message.data)
            } else {
                None
            },
            payload: message.data,
        }
    }

    /// The packet's source and destination IP addresses, of one family.
    fn addresses(&self) -> (IpAddr, IpAddr) {
        match (self.source.ip(), self.destination.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (s.into(), d.into()),
            (s, d) => (v6(s).into(), v6(d).into()),
        }
    }

    /// The encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        let ip = match self.addresses().0 {
            IpAddr::V4(_) => 4,
            IpAddr::V6(_) => 16,
        };
        let fixed = HEADER
            + (HEADER + 1) * 2 // family, IP protocol
            + (HEADER + ip) * 2
            + (HEADER + 2) * 2 // ports
            + (HEADER + 4) * 2 // seconds, microseconds
            + (HEADER + 1) // protocol type
            + (HEADER + 4); // capture id
        let optional = |v: Option<&[u8]>| v.map_or(0, |v| HEADER + v.len());
        fixed
            + optional(self.auth_key)
            + optional(self.correlation_id)
            + HEADER
            + self.payload.len()
    }

    /// Encodes the packet; [`HepError::TooLarge`] when it would exceed
    /// 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, HepError> {
        let len = self.encoded_len();
        let total = u16::try_from(len).map_err(|_| HepError::TooLarge(len))?;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&total.to_be_bytes());
        let (src, dst) = self.addresses();
        let family = if src.is_ipv4() { AF_INET } else { AF_INET6 };
        put(&mut out, chunk::FAMILY, &[family]);
        put(&mut out, chunk::IP_PROTOCOL, &[self.ip_protocol]);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                put(&mut out, chunk::SRC_IPV4, &s.octets());
                put(&mut out, chunk::DST_IPV4, &d.octets());
            }
            (s, d) => {
                put(&mut out, chunk::SRC_IPV6, &v6(s).octets());
                put(&mut out, chunk::DST_IPV6, &v6(d).octets());
            }
        }
        put(&mut out, chunk::SRC_PORT, &self.source.port().to_be_bytes());
        put(
            &mut out,
            chunk::DST_PORT,
            &self.destination.port().to_be_bytes(),
        );
        put(&mut out, chunk::SECONDS, &self.seconds.to_be_bytes());
        put(&mut out, chunk::MICROS, &self.micros.to_be_bytes());
        put(&mut out, chunk::PROTOCOL_TYPE, &[self.protocol_type]);
        put(&mut out, chunk::CAPTURE_ID, &self.capture_id.to_be_bytes());
        if let Some(key) = self.auth_key {
            put(&mut out, chunk::AUTH_KEY, key);
        }
        if let Some(id) = self.correlation_id {
            put(&mut out, chunk::CORRELATION_ID, id);
        }
        put(&mut out, chunk::PAYLOAD, self.payload);
        debug_assert_eq!(out.len(), len);
        Ok(out)
    }

    /// Decodes a packet. Chunks of other vendors and of types not listed
    /// above are skipped; a missing address, port or payload chunk, or a
    /// value of the wrong size, is an error. Never panics.
    pub fn decode(packet: &'a [u8]) -> Result<Self, HepError> {
        if packet.len() < HEADER || &packet[..4] != MAGIC {
            return Err(HepError::NotHep3);
        }
        let total = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
        if total < HEADER || total > packet.len() {
            return Err(HepError::Truncated);
        }
        let mut d = Decoded::default();
        let mut rest = &packet[HEADER..total];
        while !rest.is_empty() {
            if rest.len() < HEADER {
                return Err(HepError::Truncated);
            }
            let vendor = u16::from_be_bytes([rest[0], rest[1]]);
            let kind = u16::from_be_bytes([rest[2], rest[3]]);
            let len = usize::from(u16::from_be_bytes([rest[4], rest[5]]));
            if len < HEADER || len > rest.len() {
                return Err(HepError::Truncated);
            }
            let value = &rest[HEADER..len];
            rest = &rest[len..];
            if vendor == 0 {
                d.take(kind, value)?;
            }
        }
        d.finish()
    }
}

/// Appends one generic chunk (the caller checked the total fits 16 bits).
fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = (HEADER + value.len()) as u16;
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The chunks of a packet being decoded.
#[derive(Default)]
struct Decoded<'a> {
    ip_protocol: u8,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    seconds: u32,
    micros: u32,
    protocol_type: u8,
    capture_id: u32,
    auth_key: Option<&'a [u8]>,
    correlation_id: Option<&'a [u8]>,
    payload: Option<&'a [u8]>,
}

impl<'a> Decoded<'a> {
    fn take(&mut self, kind: u16, value: &'a [u8]) -> Result<(), HepError> {
        let bad = || HepError::BadChunk(kind);
        let u8_of = |v: &[u8]| <[u8; 1]>::try_from(v).map(|b| b[0]).map_err(|_| bad());
        let u16_of = |v: &[u8]| {
            <[u8; 2]>::try_from(v)
                .map(u16::from_be_bytes)
                .map_err(|_| bad())
        };
        let u32_of = |v: &[u8]| {
            <[u8; 4]>::try_from(v)
                .map(u32::from_be_bytes)
                .map_err(|_| bad())
        };
        let v4 = |v: &[u8]| <[u8; 4]>::try_from(v).map(|b| IpAddr::from(Ipv4Addr::from(b)));
        let v6 = |v: &[u8]| <[u8; 16]>::try_from(v).map(|b| IpAddr::from(Ipv6Addr::from(b)));
        match kind {
            chunk::FAMILY => {
                u8_of(value)?;
            }
            chunk::IP_PROTOCOL => self.ip_protocol = u8_of(value)?,
            chunk::SRC_IPV4 => self.src = Some(v4(value).map_err(|_| bad())?),
            chunk::DST_IPV4 => self.dst = Some(v4(value).map_err(|_| bad())?),
            chunk::SRC_IPV6 => self.src = Some(v6(value).map_err(|_| bad())?),
            chunk::DST_IPV6 => self.dst = Some(v6(value).map_err(|_| bad())?),
            chunk::SRC_PORT => self.sport = Some(u16_of(value)?),
            chunk::DST_PORT => self.dport = Some(u16_of(value)?),
            chunk::SECONDS => self.seconds = u32_of(value)?,
            chunk::MICROS => self.micros = u32_of(value)?,
            chunk::PROTOCOL_TYPE => self.protocol_type = u8_of(value)?,
            chunk::CAPTURE_ID => self.capture_id = u32_of(value)?,
            chunk::AUTH_KEY => self.auth_key = Some(value),
            chunk::CORRELATION_ID => self.correlation_id = Some(value),
            chunk::PAYLOAD => self.payload = Some(value),
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<HepPacket<'a>, HepError> {
        Ok(HepPacket {
            source: SocketAddr::new(
                self.src.ok_or(HepError::BadChunk(chunk::SRC_IPV4))?,
                self.sport.ok_or(HepError::BadChunk(chunk::SRC_PORT))?,
            ),
            destination: SocketAddr::new(
                self.dst.ok_or(HepError::BadChunk(chunk::DST_IPV4))?,
                self.dport.ok_or(HepError::BadChunk(chunk::DST_PORT))?,
            ),
            ip_protocol: self.ip_protocol,
            seconds: self.seconds,
            micros: self.micros,
            protocol_type: self.protocol_type,
            capture_id: self.capture_id,
            auth_key: self.auth_key,
            correlation_id: self.correlation_id,
            payload: self.payload.ok_or(HepError::BadChunk(chunk::PAYLOAD))?,
        })
    }
}

/// The Call-ID of a raw SIP message (long or compact name, any case),
/// trimmed; `None` without one. Only the header block is searched.
pub fn call_id(message: &[u8]) -> Option<&[u8]> {
    let mut lines = message.split(|&b| b == b'\n').skip(1);
    lines.find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            // The end of the header block: stop the search.
            return Some(None);
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = line[..colon].trim_ascii();
        if !(name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i")) {
            return None;
        }
        let value = line[colon + 1..].trim_ascii();
        Some((!value.is_empty()).then_some(value))
    })?
}

#[cfg(test)]
mod tests;
