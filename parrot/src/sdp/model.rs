//! The session description model (RFC 4566 §5) and its accessors.

use crate::message::{Text, ip_text, parse_ip};
use std::fmt;
use std::net::IpAddr;

/// A session description (RFC 4566 §5). The protocol version (`v=`) is
/// always 0 and not stored.
///
/// Its text fields, here and in the types it holds, are [`Text`]s: most
/// are short (`IN`, `IP4`, `audio`, `RTP/AVP`, `0 PCMU/8000`, ...) and a
/// `Text` keeps up to 22 bytes inline, so parsing an offer and building
/// its answer allocates for few of them. A `Text` derefs to `&str`,
/// compares with `&str`, and converts from a `&'static str` or a
/// `String` with `into()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`: who created the description, and its version.
    pub origin: Origin,
    /// `s=`: the session name (`-` when there is none, RFC 3264 §5).
    pub session_name: Text,
    /// `i=`: session information.
    pub information: Option<Text>,
    /// `u=`: a URI describing the session.
    pub uri: Option<Text>,
    /// `e=`: email addresses.
    pub emails: Vec<Text>,
    /// `p=`: phone numbers.
    pub phones: Vec<Text>,
    /// `c=` at session level: the default for every media description.
    pub connection: Option<Connection>,
    /// `b=` at session level.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` repeat lines (at least one; `t=0 0` for
    /// a permanent session, the usual case in SIP).
    pub timing: Vec<Timing>,
    /// `z=`: time zone adjustments, as written.
    pub time_zones: Option<Text>,
    /// `k=`: an encryption key, as written (obsolete; kept for fidelity).
    pub key: Option<Text>,
    /// `a=` at session level.
    pub attributes: Vec<Attribute>,
    /// The media descriptions (`m=` sections), in order.
    pub media: Vec<MediaDescription>,
}

/// The `o=` line (RFC 4566 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user name on the originating host (`-` when none).
    pub username: Text,
    /// A numeric session identifier, unique with the other fields.
    pub session_id: u64,
    /// The version of this description, incremented on each change
    /// (RFC 3264 §8).
    pub session_version: u64,
    /// The network type, `IN`.
    pub nettype: Text,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: Text,
    /// The originating host's address or name.
    pub address: Text,
}

/// A `c=` line (RFC 4566 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The network type, `IN`.
    pub nettype: Text,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: Text,
    /// The connection address as written (for multicast it may carry
    /// `/ttl` and `/count`).
    pub address: Text,
}

/// A `b=` line (RFC 4566 §5.8): `<bwtype>:<bandwidth>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// The modifier, e.g. `AS` or `CT`.
    pub bwtype: Text,
    /// The value, in kilobits per second for `AS` and `CT`.
    pub bandwidth: u64,
}

/// A `t=` line (RFC 4566 §5.9) and the `r=` lines after it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timing {
    /// Start time (NTP seconds; 0 for an unbounded session).
    pub start: u64,
    /// Stop time (NTP seconds; 0 for an unbounded session).
    pub stop: u64,
    /// `r=` values, as written.
    pub repeats: Vec<Text>,
}

/// An `a=` line (RFC 4566 §5.13): a property (`a=sendonly`) or a value
/// (`a=ptime:20`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name.
    pub name: Text,
    /// The value after the colon, if any.
    pub value: Option<Text>,
}

/// A media description (RFC 4566 §5.14): the `m=` line and the lines
/// after it up to the next `m=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// The media type: `audio`, `video`, `text`, `application`, `message`.
    pub media: Text,
    /// The transport port; 0 marks a rejected or disabled stream
    /// (RFC 3264 §6, §8.2).
    pub port: u16,
    /// The number of ports, when written as `<port>/<number>`.
    pub port_count: Option<u16>,
    /// The transport protocol, e.g. `RTP/AVP`.
    pub proto: Text,
    /// The media formats: RTP payload type numbers for RTP protocols.
    pub formats: Vec<Text>,
    /// `i=`: media title.
    pub information: Option<Text>,
    /// `c=` lines at media level (override the session's).
    pub connections: Vec<Connection>,
    /// `b=` lines at media level.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` at media level, as written.
    pub key: Option<Text>,
    /// `a=` lines at media level.
    pub attributes: Vec<Attribute>,
}

/// The direction of a media stream (RFC 3264 §5.1, RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv` (the default when none is given).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer gives a stream offered with this one
    /// (RFC 3264 §6.1): sendonly becomes recvonly and the reverse;
    /// sendrecv and inactive stay.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `a=rtpmap` value (RFC 4566 §6):
/// `<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The RTP payload type, 0 to 127.
    pub payload_type: u8,
    /// The encoding name, e.g. `PCMU` (compare case-insensitively).
    pub encoding: Text,
    /// The clock rate in Hz.
    pub clock_rate: u32,
    /// The encoding parameters (the channel count for audio).
    pub params: Option<Text>,
}

impl RtpMap {
    /// A mapping with no encoding parameters; `encoding` is a
    /// `&'static str`, a `String` or a [`Text`].
    pub fn new(payload_type: u8, encoding: impl Into<Text>, clock_rate: u32) -> Self {
        RtpMap {
            payload_type,
            encoding: encoding.into(),
            clock_rate,
            params: None,
        }
    }

    /// The mapping RFC 3551 §6 gives a static audio payload type, if any
    /// (PCMU, GSM, G723, PCMA, G722, G728, G729 and a few others).
    pub fn static_audio(payload_type: u8) -> Option<RtpMap> {
        let (name, rate) = static_audio_codec(payload_type)?;
        Some(RtpMap::new(payload_type, name, rate))
    }

    /// Whether this is the encoding `name` at `clock_rate`, with at most
    /// one channel.
    pub fn is(&self, name: &str, clock_rate: u32) -> bool {
        self.encoding.eq_ignore_ascii_case(name)
            && self.clock_rate == clock_rate
            && self.params.as_deref().is_none_or(|p| p == "1")
    }
}

impl Connection {
    /// `IN IP4 <ip>` or `IN IP6 <ip>`.
    pub fn new(ip: IpAddr) -> Self {
        Connection {
            nettype: Text::from_static("IN"),
            addrtype: Text::from_static(addrtype(ip)),
            address: ip_text(ip),
        }
    }

    /// The address as an IP address, when it is one (not a host name, no
    /// multicast `/ttl`).
    pub fn ip(&self) -> Option<IpAddr> {
        parse_ip(&self.address)
    }
}

impl Origin {
    /// A fresh origin for descriptions created here: user `-`, a random
    /// session id (also the first version), `IN IP4`/`IP6` `ip`.
    pub fn new(ip: IpAddr) -> Self {
        // 30 random bits: small enough for peers that store it in 32 bits.
        let id = crate::random::u64() >> 34;
        Origin {
            username: Text::from_static("-"),
            session_id: id,
            session_version: id,
            nettype: Text::from_static("IN"),
            addrtype: Text::from_static(addrtype(ip)),
            address: ip_text(ip),
        }
    }
}

impl Attribute {
    /// A property attribute (`a=<name>`); `name` is a `&'static str`, a
    /// `String` or a [`Text`].
    pub fn flag(name: impl Into<Text>) -> Self {
        Attribute {
            name: name.into(),
            value: None,
        }
    }

    /// A value attribute (`a=<name>:<value>`); `name` and `value` are
    /// each a `&'static str`, a `String` or a [`Text`].
    pub fn value(name: impl Into<Text>, value: impl Into<Text>) -> Self {
        Attribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// The encoding name and clock rate RFC 3551 §6 gives a static audio
/// payload type.
pub(super) fn static_audio_codec(payload_type: u8) -> Option<(&'static str, u32)> {
    Some(match payload_type {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        5 => ("DVI4", 8000),
        6 => ("DVI4", 16000),
        7 => ("LPC", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        12 => ("QCELP", 8000),
        13 => ("CN", 8000),
        15 => ("G728", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

pub(super) fn addrtype(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// Shared readers of an attribute list (session or media level).
pub(super) fn find<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name == name)
}

pub(super) fn direction_in(attrs: &[Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .find_map(|a| Direction::from_name(&a.name).filter(|_| a.value.is_none()))
}

pub(super) fn ptime_in(attrs: &[Attribute]) -> Option<u32> {
    find(attrs, "ptime")?
        .value
        .as_deref()
        .and_then(parse_digits)
        .and_then(|v| u32::try_from(v).ok())
}

impl MediaDescription {
    /// A media description with no attributes or other lines. `media`,
    /// `proto` and each format are a `&'static str`, a `String` or a
    /// [`Text`]; `formats` any collection of them (an array, a `Vec`).
    pub fn new(
        media: impl Into<Text>,
        port: u16,
        proto: impl Into<Text>,
        formats: impl IntoIterator<Item = impl Into<Text>>,
    ) -> Self {
        MediaDescription {
            media: media.into(),
            port,
            port_count: None,
            proto: proto.into(),
            formats: formats.into_iter().map(Into::into).collect(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// Whether the stream is rejected or disabled (port 0).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Whether the transport is an RTP profile (`RTP/AVP`, `RTP/SAVPF`,
    /// `UDP/TLS/RTP/SAVP`, ...), whose formats are payload type numbers.
    pub fn is_rtp(&self) -> bool {
        is_rtp_proto(&self.proto)
    }

    /// Whether this media description has the attribute `name`.
    pub fn has_attribute(&self, name: &str) -> bool {
        find(&self.attributes, name).is_some()
    }

    /// The value of the first attribute `name`, if it has one.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find(&self.attributes, name)?.value.as_deref()
    }

    /// The `a=rtpmap` values, in order (malformed ones are refused by the
    /// parser and skipped here).
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.attributes
            .iter()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| a.value.as_deref()?.parse().ok())
    }

    /// The encoding of payload type `pt`: its `a=rtpmap`, else the static
    /// assignment of RFC 3551 for audio.
    pub fn codec(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps()
            .find(|m| m.payload_type == pt)
            .or_else(|| RtpMap::static_audio(pt))
    }

    /// The direction attribute at media level, if any (see
    /// [`SessionDescription::direction_of`] for the effective one).
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// The `a=ptime` at media level, in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        ptime_in(&self.attributes)
    }
}

impl SessionDescription {
    /// Whether the session has the attribute `name` at session level.
    pub fn has_attribute(&self, name: &str) -> bool {
        find(&self.attributes, name).is_some()
    }

    /// The value of the first session-level attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find(&self.attributes, name)?.value.as_deref()
    }

    /// The effective direction of `media`: its own attribute, else the
    /// session's, else sendrecv (RFC 3264 §5.1).
    pub fn direction_of(&self, media: &MediaDescription) -> Direction {
        media
            .direction()
            .or_else(|| direction_in(&self.attributes))
            .unwrap_or(Direction::SendRecv)
    }

    /// The effective `ptime` of `media`: its own, else the session's.
    pub fn ptime_of(&self, media: &MediaDescription) -> Option<u32> {
        media.ptime().or_else(|| ptime_in(&self.attributes))
    }

    /// The effective connection of `media`: its first `c=`, else the
    /// session's.
    pub fn connection_of<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connections.first().or(self.connection.as_ref())
    }

    /// Makes this description the next version of `previous`, one sent
    /// earlier in the same session (RFC 3264 §8): the `o=` line is
    /// `previous`'s, its version incremented when anything else changed
    /// and kept when nothing did.
    pub fn continue_from(&mut self, previous: &SessionDescription) {
        let mut same = self.clone();
        same.origin = previous.origin.clone();
        let changed = same != *previous;
        self.origin = previous.origin.clone();
        if changed {
            self.origin.session_version = previous.origin.session_version.wrapping_add(1);
        }
    }
}

impl SessionDescription {
    /// An empty description from `ip`: a fresh [`Origin`], `s=-`, a
    /// session-level `c=` for `ip`, `t=0 0`, no media.
    pub fn new(ip: IpAddr) -> Self {
        SessionDescription::with_timing(ip, vec![Timing::default()])
    }

    /// [`new`](Self::new) with `timing` for its `t=` lines (an answer
    /// takes the offer's, and need not allocate `t=0 0` first).
    pub(super) fn with_timing(ip: IpAddr, timing: Vec<Timing>) -> Self {
        let origin = Origin::new(ip);
        // The origin's address text, copied rather than written again.
        let connection = Connection {
            nettype: origin.nettype.clone(),
            addrtype: origin.addrtype.clone(),
            address: origin.address.clone(),
        };
        SessionDescription {
            origin,
            session_name: Text::from_static("-"),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: Some(connection),
            bandwidths: Vec::new(),
            timing,
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }
}

/// `1*DIGIT` that fits a `u64`.
pub(super) fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    // One pass, checking and accumulating (`str::parse` would check the
    // digits again, and accepts a `+`).
    s.bytes().try_fold(0u64, |n, b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Whether a media line's protocol is RTP-based (`RTP/AVP`, `UDP/TLS/RTP/SAVPF`, …).
pub(super) fn is_rtp_proto(proto: &str) -> bool {
    crate::message::grammar::split_byte(proto, b'/').any(|part| part.eq_ignore_ascii_case("RTP"))
}
