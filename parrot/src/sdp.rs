//! SDP session descriptions (RFC 4566) for the offer/answer model
//! (RFC 3264): a parser that is strict where a mistake would change the
//! negotiation, a serializer, and [`answer_audio`], which answers an audio
//! offer with G.711 (PCMU or PCMA).
//!
//! ```
//! use parrot::sdp::{answer_audio, Direction, SessionDescription};
//! use std::net::{IpAddr, Ipv4Addr};
//!
//! let offer: SessionDescription = "v=0\r\n\
//!     o=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\n\
//!     s=-\r\n\
//!     c=IN IP4 198.51.100.1\r\n\
//!     t=0 0\r\n\
//!     m=audio 49170 RTP/AVP 8 0 101\r\n\
//!     a=rtpmap:101 telephone-event/8000\r\n\
//!     a=ptime:30\r\n\
//!     a=sendonly\r\n"
//!     .parse()?;
//!
//! let ours = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
//! let answer = answer_audio(&offer, ours, 40000).expect("G.711 was offered");
//! let audio = &answer.media[0];
//! assert_eq!(audio.port, 40000);
//! assert_eq!(audio.formats, ["8", "0"]); // the offerer's order
//! assert_eq!(audio.direction(), Some(Direction::RecvOnly));
//! assert_eq!(audio.ptime(), Some(30));
//! assert!(answer.to_string().contains("c=IN IP4 192.0.2.7\r\n"));
//! # Ok::<(), parrot::sdp::SdpError>(())
//! ```
//!
//! What the parser enforces (RFC 4566 §5): the `<type>=<value>` line
//! syntax, only the type letters the RFC defines, their order and
//! multiplicity (`v`, `o`, `s` first; at least one `t`; `i`, `u`, `c`, `z`,
//! `k` at most once per level), the syntax of `v`, `o`, `c`, `b`, `t` and
//! `m`, RTP payload types between 0 and 127, the syntax of the `rtpmap` and
//! `ptime` attributes and of the direction attributes (RFC 3264 §5.1), and a
//! connection address for every media description. Everything else
//! (`i`, `u`, `e`, `p`, `r`, `z`, `k` and other attributes) is kept as
//! written. Lines may end in CRLF or a bare LF (§5 asks parsers to accept
//! both); the serializer writes CRLF.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The static payload type of PCMU (G.711 µ-law, RFC 3551 §6).
pub const PCMU: u8 = 0;
/// The static payload type of PCMA (G.711 A-law, RFC 3551 §6).
pub const PCMA: u8 = 8;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a session description was refused: what is wrong, and on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpError {
    line: usize,
    kind: SdpErrorKind,
}

/// The kinds of [`SdpError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpErrorKind {
    /// The description is empty.
    Empty,
    /// The description is not UTF-8.
    NotUtf8,
    /// A line is not `<letter>=<value>`, is empty, or holds a NUL or CR.
    BadLine,
    /// A type letter RFC 4566 does not define (§5: such a description
    /// must be ignored as a whole).
    UnknownType(char),
    /// A line of this type where it may not stand (RFC 4566 §5 order).
    OutOfOrder(char),
    /// A second line of a type allowed once per level.
    Repeated(char),
    /// A mandatory line (`v`, `o`, `s`, `t`) is missing.
    Missing(char),
    /// The value of a line of this type does not follow its syntax.
    BadValue(char),
    /// A known attribute (`rtpmap`, `ptime`, a direction) is malformed or,
    /// for a direction, repeated; holds the attribute name.
    BadAttribute(String),
    /// A media description has no connection address and the session has
    /// none either (RFC 4566 §5.7).
    MissingConnection,
}

impl SdpError {
    fn new(line: usize, kind: SdpErrorKind) -> Self {
        SdpError { line, kind }
    }

    /// The 1-based number of the offending line (0 when the error is about
    /// the description as a whole).
    pub fn line(&self) -> usize {
        self.line
    }

    /// What is wrong.
    pub fn kind(&self) -> &SdpErrorKind {
        &self.kind
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "SDP line {}: ", self.line)?;
        } else {
            f.write_str("SDP: ")?;
        }
        match &self.kind {
            SdpErrorKind::Empty => f.write_str("empty description"),
            SdpErrorKind::NotUtf8 => f.write_str("not UTF-8"),
            SdpErrorKind::BadLine => f.write_str("not a <type>=<value> line"),
            SdpErrorKind::UnknownType(c) => write!(f, "unknown type {c:?}"),
            SdpErrorKind::OutOfOrder(c) => write!(f, "{c}= out of order"),
            SdpErrorKind::Repeated(c) => write!(f, "{c}= repeated"),
            SdpErrorKind::Missing(c) => write!(f, "missing {c}= line"),
            SdpErrorKind::BadValue(c) => write!(f, "malformed {c}= line"),
            SdpErrorKind::BadAttribute(a) => write!(f, "malformed a={a} attribute"),
            SdpErrorKind::MissingConnection => {
                f.write_str("media description without a connection address (c=)")
            }
        }
    }
}

impl std::error::Error for SdpError {}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// A session description (RFC 4566 §5). The protocol version (`v=`) is
/// always 0 and not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`: who created the description, and its version.
    pub origin: Origin,
    /// `s=`: the session name (`-` when there is none, RFC 3264 §5).
    pub session_name: String,
    /// `i=`: session information.
    pub information: Option<String>,
    /// `u=`: a URI describing the session.
    pub uri: Option<String>,
    /// `e=`: email addresses.
    pub emails: Vec<String>,
    /// `p=`: phone numbers.
    pub phones: Vec<String>,
    /// `c=` at session level: the default for every media description.
    pub connection: Option<Connection>,
    /// `b=` at session level.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` repeat lines (at least one; `t=0 0` for
    /// a permanent session, the usual case in SIP).
    pub timing: Vec<Timing>,
    /// `z=`: time zone adjustments, as written.
    pub time_zones: Option<String>,
    /// `k=`: an encryption key, as written (obsolete; kept for fidelity).
    pub key: Option<String>,
    /// `a=` at session level.
    pub attributes: Vec<Attribute>,
    /// The media descriptions (`m=` sections), in order.
    pub media: Vec<MediaDescription>,
}

/// The `o=` line (RFC 4566 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user name on the originating host (`-` when none).
    pub username: String,
    /// A numeric session identifier, unique with the other fields.
    pub session_id: u64,
    /// The version of this description, incremented on each change
    /// (RFC 3264 §8).
    pub session_version: u64,
    /// The network type, `IN`.
    pub nettype: String,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: String,
    /// The originating host's address or name.
    pub address: String,
}

/// A `c=` line (RFC 4566 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The network type, `IN`.
    pub nettype: String,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: String,
    /// The connection address as written (for multicast it may carry
    /// `/ttl` and `/count`).
    pub address: String,
}

/// A `b=` line (RFC 4566 §5.8): `<bwtype>:<bandwidth>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// The modifier, e.g. `AS` or `CT`.
    pub bwtype: String,
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
    pub repeats: Vec<String>,
}

/// An `a=` line (RFC 4566 §5.13): a property (`a=sendonly`) or a value
/// (`a=ptime:20`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name.
    pub name: String,
    /// The value after the colon, if any.
    pub value: Option<String>,
}

/// A media description (RFC 4566 §5.14): the `m=` line and the lines
/// after it up to the next `m=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// The media type: `audio`, `video`, `text`, `application`, `message`.
    pub media: String,
    /// The transport port; 0 marks a rejected or disabled stream
    /// (RFC 3264 §6, §8.2).
    pub port: u16,
    /// The number of ports, when written as `<port>/<number>`.
    pub port_count: Option<u16>,
    /// The transport protocol, e.g. `RTP/AVP`.
    pub proto: String,
    /// The media formats: RTP payload type numbers for RTP protocols.
    pub formats: Vec<String>,
    /// `i=`: media title.
    pub information: Option<String>,
    /// `c=` lines at media level (override the session's).
    pub connections: Vec<Connection>,
    /// `b=` lines at media level.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` at media level, as written.
    pub key: Option<String>,
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

    fn from_name(name: &str) -> Option<Direction> {
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
    pub encoding: String,
    /// The clock rate in Hz.
    pub clock_rate: u32,
    /// The encoding parameters (the channel count for audio).
    pub params: Option<String>,
}

impl RtpMap {
    /// A mapping with no encoding parameters.
    pub fn new(payload_type: u8, encoding: &str, clock_rate: u32) -> Self {
        RtpMap {
            payload_type,
            encoding: encoding.to_owned(),
            clock_rate,
            params: None,
        }
    }

    /// The mapping RFC 3551 §6 gives a static audio payload type, if any
    /// (PCMU, GSM, G723, PCMA, G722, G728, G729 and a few others).
    pub fn static_audio(payload_type: u8) -> Option<RtpMap> {
        let (name, rate) = match payload_type {
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
        };
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

impl FromStr for RtpMap {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (pt, rest) = s.split_once(' ').ok_or(())?;
        let payload_type = parse_payload_type(pt).ok_or(())?;
        let rest = rest.trim_start_matches(' ');
        let mut parts = rest.splitn(3, '/');
        let encoding = parts.next().filter(|e| is_token(e)).ok_or(())?;
        let clock_rate = parts.next().and_then(parse_digits).ok_or(())?;
        let clock_rate = u32::try_from(clock_rate).map_err(|_| ())?;
        let params = match parts.next() {
            Some(p) if is_token(p) => Some(p.to_owned()),
            Some(_) => return Err(()),
            None => None,
        };
        Ok(RtpMap {
            payload_type,
            encoding: encoding.to_owned(),
            clock_rate,
            params,
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        if let Some(p) = &self.params {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

impl Connection {
    /// `IN IP4 <ip>` or `IN IP6 <ip>`.
    pub fn new(ip: IpAddr) -> Self {
        Connection {
            nettype: "IN".into(),
            addrtype: addrtype(ip).into(),
            address: ip.to_string(),
        }
    }

    /// The address as an IP address, when it is one (not a host name, no
    /// multicast `/ttl`).
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }
}

impl Origin {
    /// A fresh origin for descriptions created here: user `-`, a random
    /// session id (also the first version), `IN IP4`/`IP6` `ip`.
    pub fn new(ip: IpAddr) -> Self {
        // 30 random bits: small enough for peers that store it in 32 bits.
        let id = crate::random::u64() >> 34;
        Origin {
            username: "-".into(),
            session_id: id,
            session_version: id,
            nettype: "IN".into(),
            addrtype: addrtype(ip).into(),
            address: ip.to_string(),
        }
    }
}

impl Attribute {
    /// A property attribute (`a=<name>`).
    pub fn flag(name: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            value: None,
        }
    }

    /// A value attribute (`a=<name>:<value>`).
    pub fn value(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }
}

fn addrtype(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// Shared readers of an attribute list (session or media level).
fn find<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name == name)
}

fn direction_in(attrs: &[Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .find_map(|a| Direction::from_name(&a.name).filter(|_| a.value.is_none()))
}

fn ptime_in(attrs: &[Attribute]) -> Option<u32> {
    find(attrs, "ptime")?
        .value
        .as_deref()
        .and_then(parse_digits)
        .and_then(|v| u32::try_from(v).ok())
}

impl MediaDescription {
    /// A media description with no attributes or other lines.
    pub fn new(media: &str, port: u16, proto: &str, formats: Vec<String>) -> Self {
        MediaDescription {
            media: media.to_owned(),
            port,
            port_count: None,
            proto: proto.to_owned(),
            formats,
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
    /// Parses a description from bytes (UTF-8; see [`str::parse`] for
    /// text).
    pub fn from_bytes(bytes: &[u8]) -> Result<SessionDescription, SdpError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| SdpError::new(0, SdpErrorKind::NotUtf8))?;
        text.parse()
    }

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

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// `token` (RFC 4566 §9): the characters of attribute names and encoding
/// names.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'{'
                        | b'|'
                        | b'}'
                        | b'~'
                )
        })
}

/// `1*DIGIT` that fits a `u64`.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_payload_type(s: &str) -> Option<u8> {
    parse_digits(s)
        .filter(|&n| n <= 127)
        .and_then(|n| u8::try_from(n).ok())
}

fn is_rtp_proto(proto: &str) -> bool {
    proto
        .split('/')
        .any(|part| part.eq_ignore_ascii_case("RTP"))
}

/// The fields of a line, split on spaces.
fn fields(value: &str) -> Vec<&str> {
    value.split(' ').filter(|f| !f.is_empty()).collect()
}

fn parse_origin(value: &str) -> Option<Origin> {
    let f = fields(value);
    let [username, id, version, nettype, addrtype, address] = f[..] else {
        return None;
    };
    if !is_token(nettype) || !is_token(addrtype) {
        return None;
    }
    Some(Origin {
        username: username.to_owned(),
        session_id: parse_digits(id)?,
        session_version: parse_digits(version)?,
        nettype: nettype.to_owned(),
        addrtype: addrtype.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_connection(value: &str) -> Option<Connection> {
    let f = fields(value);
    let [nettype, addrtype, address] = f[..] else {
        return None;
    };
    if !is_token(nettype) || !is_token(addrtype) {
        return None;
    }
    // For the Internet, the address must fit its type (RFC 4566 §5.7):
    // an IP literal of the right family (with an optional multicast
    // suffix) or a host name.
    if nettype == "IN" {
        let host = address.split('/').next().unwrap_or("");
        let ok = match (addrtype, host.parse::<IpAddr>()) {
            ("IP4", Ok(ip)) => ip.is_ipv4(),
            ("IP6", Ok(ip)) => ip.is_ipv6(),
            (_, Ok(_)) => false,
            (_, Err(_)) => is_hostname(host),
        };
        let suffix_ok = address
            .split('/')
            .skip(1)
            .all(|p| parse_digits(p).is_some());
        if !ok || !suffix_ok || address.split('/').count() > 3 {
            return None;
        }
    }
    Some(Connection {
        nettype: nettype.to_owned(),
        addrtype: addrtype.to_owned(),
        address: address.to_owned(),
    })
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // A name of digits and dots only is a mistyped IPv4 address.
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn parse_bandwidth(value: &str) -> Option<Bandwidth> {
    let (bwtype, bw) = value.split_once(':')?;
    if !is_token(bwtype) {
        return None;
    }
    Some(Bandwidth {
        bwtype: bwtype.to_owned(),
        bandwidth: parse_digits(bw)?,
    })
}

fn parse_timing(value: &str) -> Option<Timing> {
    let f = fields(value);
    let [start, stop] = f[..] else {
        return None;
    };
    Some(Timing {
        start: parse_digits(start)?,
        stop: parse_digits(stop)?,
        repeats: Vec::new(),
    })
}

fn parse_media(value: &str) -> Option<MediaDescription> {
    let f = fields(value);
    let [media, port, proto, formats @ ..] = &f[..] else {
        return None;
    };
    if !is_token(media) || formats.is_empty() {
        return None;
    }
    let (port, port_count) = match port.split_once('/') {
        Some((p, n)) => (
            p,
            Some(parse_digits(n).and_then(|n| u16::try_from(n).ok())?),
        ),
        None => (*port, None),
    };
    let port = u16::try_from(parse_digits(port)?).ok()?;
    if !proto.split('/').all(is_token) {
        return None;
    }
    if is_rtp_proto(proto) && !formats.iter().all(|f| parse_payload_type(f).is_some()) {
        return None;
    }
    if !formats.iter().all(|f| is_token(f)) {
        return None;
    }
    let mut m = MediaDescription::new(
        media,
        port,
        proto,
        formats.iter().map(|s| (*s).to_owned()).collect(),
    );
    m.port_count = port_count;
    Some(m)
}

/// Parses `name[:value]` and checks the attributes that matter to
/// offer/answer.
fn parse_attribute(value: &str) -> Result<Attribute, SdpErrorKind> {
    let (name, val) = match value.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (value, None),
    };
    if !is_token(name) {
        return Err(SdpErrorKind::BadValue('a'));
    }
    let bad = || SdpErrorKind::BadAttribute(name.to_owned());
    match name {
        "rtpmap" => {
            val.ok_or_else(bad)?.parse::<RtpMap>().map_err(|_| bad())?;
        }
        "ptime" | "maxptime" => {
            val.and_then(parse_digits).ok_or_else(bad)?;
        }
        _ if Direction::from_name(name).is_some() && val.is_some() => return Err(bad()),
        _ => {}
    }
    Ok(Attribute {
        name: name.to_owned(),
        value: val.map(str::to_owned),
    })
}

/// The position of each type letter in RFC 4566 §5's order, per level.
fn session_rank(c: char) -> Option<u8> {
    Some(match c {
        'v' => 0,
        'o' => 1,
        's' => 2,
        'i' => 3,
        'u' => 4,
        'e' => 5,
        'p' => 6,
        'c' => 7,
        'b' => 8,
        't' | 'r' => 9,
        'z' => 10,
        'k' => 11,
        'a' => 12,
        _ => return None,
    })
}

fn media_rank(c: char) -> Option<u8> {
    Some(match c {
        'i' => 1,
        'c' => 2,
        'b' => 3,
        'k' => 4,
        'a' => 5,
        _ => return None,
    })
}

fn set_once(slot: &mut Option<String>, value: &str, n: usize, c: char) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(SdpError::new(n, SdpErrorKind::Repeated(c)));
    }
    *slot = Some(value.to_owned());
    Ok(())
}

impl FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(text: &str) -> Result<Self, SdpError> {
        let body = text
            .strip_suffix('\n')
            .map(|b| b.strip_suffix('\r').unwrap_or(b))
            .unwrap_or(text);
        if body.is_empty() {
            return Err(SdpError::new(0, SdpErrorKind::Empty));
        }
        let mut lines = Vec::new();
        for (i, raw) in body.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let bad = || SdpError::new(n, SdpErrorKind::BadLine);
            let mut chars = line.chars();
            let (Some(c), Some('=')) = (chars.next(), chars.next()) else {
                return Err(bad());
            };
            if !c.is_ascii_lowercase() {
                return Err(bad());
            }
            let value = &line[2..];
            if value.contains(['\0', '\r']) {
                return Err(bad());
            }
            lines.push((n, c, value));
        }

        let mut it = lines.into_iter().peekable();
        // v=, o=, s= come first, in this order.
        let mut expect = |want: char| -> Result<(usize, &str), SdpError> {
            match it.next() {
                Some((n, c, v)) if c == want => Ok((n, v)),
                Some((n, c, _)) if session_rank(c).is_some() || c == 'm' => {
                    Err(SdpError::new(n, SdpErrorKind::Missing(want)))
                }
                Some((n, c, _)) => Err(SdpError::new(n, SdpErrorKind::UnknownType(c))),
                None => Err(SdpError::new(0, SdpErrorKind::Missing(want))),
            }
        };
        let (n, v) = expect('v')?;
        if v != "0" {
            return Err(SdpError::new(n, SdpErrorKind::BadValue('v')));
        }
        let (n, o) = expect('o')?;
        let origin = parse_origin(o).ok_or(SdpError::new(n, SdpErrorKind::BadValue('o')))?;
        let (_, s) = expect('s')?;

        let mut sd = SessionDescription {
            origin,
            // "s= " is how an empty name is written (§5.3).
            session_name: if s == " " {
                String::new()
            } else {
                s.to_owned()
            },
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timing: Vec::new(),
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        };

        // Session level.
        let mut rank = 2;
        while let Some(&(n, c, value)) = it.peek() {
            if c == 'm' {
                break;
            }
            it.next();
            let r = match session_rank(c) {
                Some(r) => r,
                None if media_rank(c).is_some() || matches!(c, 'v' | 'o' | 's') => {
                    return Err(SdpError::new(n, SdpErrorKind::OutOfOrder(c)));
                }
                None => return Err(SdpError::new(n, SdpErrorKind::UnknownType(c))),
            };
            if r < rank || matches!(c, 'v' | 'o' | 's') {
                return Err(SdpError::new(n, SdpErrorKind::OutOfOrder(c)));
            }
            rank = r;
            let bad = SdpError::new(n, SdpErrorKind::BadValue(c));
            match c {
                'i' => set_once(&mut sd.information, value, n, c)?,
                'u' => set_once(&mut sd.uri, value, n, c)?,
                'e' => sd.emails.push(value.to_owned()),
                'p' => sd.phones.push(value.to_owned()),
                'c' => {
                    if sd.connection.is_some() {
                        return Err(SdpError::new(n, SdpErrorKind::Repeated(c)));
                    }
                    sd.connection = Some(parse_connection(value).ok_or(bad)?);
                }
                'b' => sd.bandwidths.push(parse_bandwidth(value).ok_or(bad)?),
                't' => sd.timing.push(parse_timing(value).ok_or(bad)?),
                'r' => match sd.timing.last_mut() {
                    Some(t) if !value.is_empty() => t.repeats.push(value.to_owned()),
                    Some(_) => return Err(bad),
                    None => return Err(SdpError::new(n, SdpErrorKind::OutOfOrder(c))),
                },
                'z' => set_once(&mut sd.time_zones, value, n, c)?,
                'k' => set_once(&mut sd.key, value, n, c)?,
                'a' => sd
                    .attributes
                    .push(parse_attribute(value).map_err(|k| SdpError::new(n, k))?),
                _ => unreachable!("every session-level letter is handled"),
            }
        }
        if sd.timing.is_empty() {
            let n = it.peek().map_or(0, |l| l.0);
            return Err(SdpError::new(n, SdpErrorKind::Missing('t')));
        }
        check_direction(&sd.attributes, 0)?;

        // Media level.
        let mut media_rank_now = 0;
        let mut media_line = 0;
        for (n, c, value) in it {
            if c == 'm' {
                if let Some(m) = sd.media.last() {
                    check_media(&sd, m, media_line)?;
                }
                let m = parse_media(value).ok_or(SdpError::new(n, SdpErrorKind::BadValue(c)))?;
                sd.media.push(m);
                media_rank_now = 0;
                media_line = n;
                continue;
            }
            let r = match media_rank(c) {
                Some(r) => r,
                None if session_rank(c).is_some() => {
                    return Err(SdpError::new(n, SdpErrorKind::OutOfOrder(c)));
                }
                None => return Err(SdpError::new(n, SdpErrorKind::UnknownType(c))),
            };
            if r < media_rank_now {
                return Err(SdpError::new(n, SdpErrorKind::OutOfOrder(c)));
            }
            media_rank_now = r;
            let bad = SdpError::new(n, SdpErrorKind::BadValue(c));
            let m = sd.media.last_mut().expect("a media line came first");
            match c {
                'i' => set_once(&mut m.information, value, n, c)?,
                'c' => m.connections.push(parse_connection(value).ok_or(bad)?),
                'b' => m.bandwidths.push(parse_bandwidth(value).ok_or(bad)?),
                'k' => set_once(&mut m.key, value, n, c)?,
                'a' => m
                    .attributes
                    .push(parse_attribute(value).map_err(|k| SdpError::new(n, k))?),
                _ => unreachable!("every media-level letter is handled"),
            }
        }
        if let Some(m) = sd.media.last() {
            check_media(&sd, m, media_line)?;
        }
        Ok(sd)
    }
}

/// At most one direction attribute per level.
fn check_direction(attrs: &[Attribute], line: usize) -> Result<(), SdpError> {
    let mut seen = attrs
        .iter()
        .filter(|a| Direction::from_name(&a.name).is_some());
    if let (Some(_), Some(second)) = (seen.next(), seen.next()) {
        return Err(SdpError::new(
            line,
            SdpErrorKind::BadAttribute(second.name.clone()),
        ));
    }
    Ok(())
}

fn check_media(sd: &SessionDescription, m: &MediaDescription, line: usize) -> Result<(), SdpError> {
    if sd.connection.is_none() && m.connections.is_empty() {
        return Err(SdpError::new(line, SdpErrorKind::MissingConnection));
    }
    check_direction(&m.attributes, line)
}

// ---------------------------------------------------------------------------
// Serializing
// ---------------------------------------------------------------------------

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address
        )
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.nettype, self.addrtype, self.address)
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bwtype, self.bandwidth)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}:{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl fmt::Display for MediaDescription {
    /// The `m=` section, each line ending in CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt_ in &self.formats {
            write!(f, " {fmt_}")?;
        }
        f.write_str("\r\n")?;
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        for c in &self.connections {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={k}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        Ok(())
    }
}

impl fmt::Display for SessionDescription {
    /// The description in wire form (RFC 4566 §5 order, CRLF line ends).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        write!(f, "o={}\r\n", self.origin)?;
        // §5.3: "s= " (one space) when there is no name.
        let name = if self.session_name.is_empty() {
            " "
        } else {
            &self.session_name
        };
        write!(f, "s={name}\r\n")?;
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        if let Some(u) = &self.uri {
            write!(f, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(f, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(f, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        for t in &self.timing {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        if let Some(z) = &self.time_zones {
            write!(f, "z={z}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={k}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            fmt::Display::fmt(m, f)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Offer/answer
// ---------------------------------------------------------------------------

/// Whether `map` is one of the codecs [`answer_audio`] accepts.
fn is_g711(map: &RtpMap) -> bool {
    map.is("PCMU", 8000) || map.is("PCMA", 8000)
}

/// The answer to one offered stream, if it is an RTP/AVP audio stream
/// offering PCMU or PCMA.
fn answer_stream(
    offer: &SessionDescription,
    m: &MediaDescription,
    local_port: u16,
) -> Option<MediaDescription> {
    if m.is_rejected()
        || !m.media.eq_ignore_ascii_case("audio")
        || !m.proto.eq_ignore_ascii_case("RTP/AVP")
    {
        return None;
    }
    let chosen: Vec<RtpMap> = m
        .formats
        .iter()
        .filter_map(|f| parse_payload_type(f))
        .filter_map(|pt| m.codec(pt))
        .filter(is_g711)
        .collect();
    if chosen.is_empty() {
        return None;
    }
    let mut answer = MediaDescription::new(
        "audio",
        local_port,
        &m.proto,
        chosen.iter().map(|c| c.payload_type.to_string()).collect(),
    );
    for c in &chosen {
        answer
            .attributes
            .push(Attribute::value("rtpmap", c.to_string()));
    }
    if let Some(ptime) = offer.ptime_of(m) {
        answer
            .attributes
            .push(Attribute::value("ptime", ptime.to_string()));
    }
    let direction = offer.direction_of(m).answer();
    answer.attributes.push(Attribute::flag(direction.as_str()));
    Some(answer)
}

/// A stream refused in an answer (RFC 3264 §6): port 0, the offer's media
/// type, protocol and formats, nothing else.
fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription::new(&m.media, 0, &m.proto, m.formats.clone())
}

/// Answers `offer` (RFC 3264 §6) with one audio stream at
/// `local_ip:local_port`, or `None` when nothing in it is acceptable (the
/// caller then answers `488 Not Acceptable Here`).
///
/// - The first `RTP/AVP` audio stream with a non-zero port that offers
///   PCMU or PCMA (static payload types 0 and 8, or a dynamic payload type
///   mapped to `PCMU/8000` or `PCMA/8000`) is accepted with those formats,
///   in the offerer's preference order, under the offer's payload type
///   numbers, each with its `a=rtpmap`.
/// - Every other stream is rejected with port 0, so that the answer has as
///   many `m=` lines as the offer, in the same order.
/// - The accepted stream's direction mirrors the offer's (sendonly ↔
///   recvonly), and it keeps the offer's `a=ptime`.
/// - The answer has a fresh `o=` line and one session-level `c=` line for
///   `local_ip`, `s=-`, and the offer's `t=` lines (§6: they must match).
///   For a re-INVITE, call [`SessionDescription::continue_from`] with the
///   previous answer to keep the `o=` line and bump its version.
pub fn answer_audio(
    offer: &SessionDescription,
    local_ip: IpAddr,
    local_port: u16,
) -> Option<SessionDescription> {
    let mut accepted = false;
    let media = offer
        .media
        .iter()
        .map(|m| {
            if !accepted && let Some(a) = answer_stream(offer, m, local_port) {
                accepted = true;
                return a;
            }
            rejected(m)
        })
        .collect();
    if !accepted {
        return None;
    }
    Some(SessionDescription {
        media,
        timing: offer
            .timing
            .iter()
            .map(|t| Timing {
                start: t.start,
                stop: t.stop,
                repeats: Vec::new(),
            })
            .collect(),
        ..SessionDescription::new(local_ip)
    })
}

/// An offer of one sendrecv audio stream at `local_ip:local_port` with
/// PCMU and PCMA (in that order) and `a=ptime:20`; for an INVITE that came
/// without an offer, whose answer then arrives in the ACK (RFC 3261
/// §13.2.1).
pub fn offer_audio(local_ip: IpAddr, local_port: u16) -> SessionDescription {
    let mut audio = MediaDescription::new(
        "audio",
        local_port,
        "RTP/AVP",
        vec![PCMU.to_string(), PCMA.to_string()],
    );
    for pt in [PCMU, PCMA] {
        if let Some(map) = RtpMap::static_audio(pt) {
            audio
                .attributes
                .push(Attribute::value("rtpmap", map.to_string()));
        }
    }
    audio.attributes.push(Attribute::value("ptime", "20"));
    audio.attributes.push(Attribute::flag("sendrecv"));
    let mut sd = SessionDescription::new(local_ip);
    sd.media.push(audio);
    sd
}

impl SessionDescription {
    /// An empty description from `ip`: a fresh [`Origin`], `s=-`, a
    /// session-level `c=` for `ip`, `t=0 0`, no media.
    pub fn new(ip: IpAddr) -> Self {
        SessionDescription {
            origin: Origin::new(ip),
            session_name: "-".into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: Some(Connection::new(ip)),
            bandwidths: Vec::new(),
            timing: vec![Timing::default()],
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

    /// RFC 4566 §5's example.
    const RFC4566: &str = "v=0\r\n\
        o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n\
        s=SDP Seminar\r\n\
        i=A Seminar on the session description protocol\r\n\
        u=http://www.example.com/seminars/sdp.pdf\r\n\
        e=j.doe@example.com (Jane Doe)\r\n\
        c=IN IP4 224.2.17.12/127\r\n\
        t=2873397496 2873404696\r\n\
        a=recvonly\r\n\
        m=audio 49170 RTP/AVP 0\r\n\
        m=video 51372 RTP/AVP 99\r\n\
        a=rtpmap:99 h263-1998/90000\r\n";

    /// RFC 3264 §10.1's first offer (Alice).
    const ALICE: &str = "v=0\r\n\
        o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n\
        s=\r\n\
        c=IN IP4 host.atlanta.example.com\r\n\
        t=0 0\r\n\
        m=audio 49170 RTP/AVP 0 8 97\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:97 iLBC/8000\r\n\
        m=video 51372 RTP/AVP 31 32\r\n\
        a=rtpmap:31 H261/90000\r\n\
        a=rtpmap:32 MPV/90000\r\n";

    fn parse(s: &str) -> SessionDescription {
        s.parse().unwrap_or_else(|e| panic!("{e}\n{s}"))
    }

    fn kind(s: &str) -> SdpErrorKind {
        match s.parse::<SessionDescription>() {
            Ok(sd) => panic!("accepted: {s:?} as {sd:?}"),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                e.kind().clone()
            }
        }
    }

    #[test]
    fn parses_the_rfc_4566_example() {
        let sd = parse(RFC4566);
        assert_eq!(sd.origin.username, "jdoe");
        assert_eq!(sd.origin.session_id, 2890844526);
        assert_eq!(sd.origin.session_version, 2890842807);
        assert_eq!(sd.origin.address, "10.47.16.5");
        assert_eq!(sd.session_name, "SDP Seminar");
        assert_eq!(sd.emails, ["j.doe@example.com (Jane Doe)"]);
        assert_eq!(sd.connection.as_ref().unwrap().address, "224.2.17.12/127");
        assert_eq!(sd.connection.as_ref().unwrap().ip(), None);
        assert_eq!(sd.timing[0].start, 2873397496);
        assert_eq!(sd.media.len(), 2);
        assert_eq!(sd.media[1].formats, ["99"]);
        let map = sd.media[1].codec(99).unwrap();
        assert_eq!(map.encoding, "h263-1998");
        assert_eq!(map.clock_rate, 90000);
        assert_eq!(sd.media[0].codec(0).unwrap().encoding, "PCMU");
        assert_eq!(sd.media[0].direction(), None);
        assert_eq!(sd.direction_of(&sd.media[0]), Direction::RecvOnly);
    }

    #[test]
    fn serializes_back_to_the_same_text() {
        assert_eq!(parse(RFC4566).to_string(), RFC4566);
        // LF-only input is accepted and written with CRLF.
        let lf = RFC4566.replace("\r\n", "\n");
        assert_eq!(parse(&lf).to_string(), RFC4566);
        // No final line end.
        assert_eq!(
            parse(RFC4566.trim_end()).to_string(),
            RFC4566,
            "a missing final CRLF is tolerated"
        );
        let sd = parse(ALICE);
        assert_eq!(parse(&sd.to_string()), sd);
        assert!(
            sd.to_string().contains("s= \r\n"),
            "empty s= is written as a space"
        );
    }

    #[test]
    fn keeps_the_optional_lines() {
        let text = "v=0\r\n\
            o=- 1 2 IN IP6 2001:db8::1\r\n\
            s=x\r\n\
            p=+1 617 555-6011\r\n\
            b=CT:128\r\n\
            t=0 0\r\n\
            r=7d 1h 0 25h\r\n\
            t=1 2\r\n\
            z=2882844526 -1h\r\n\
            k=prompt\r\n\
            a=tool:x\r\n\
            m=audio 5004/2 RTP/AVP 0\r\n\
            i=voice\r\n\
            c=IN IP6 2001:db8::2\r\n\
            c=IN IP6 2001:db8::3\r\n\
            b=AS:64\r\n\
            k=clear:x\r\n\
            a=maxptime:40\r\n";
        let sd = parse(text);
        assert_eq!(sd.to_string(), text);
        assert_eq!(sd.timing.len(), 2);
        assert_eq!(sd.timing[0].repeats, ["7d 1h 0 25h"]);
        assert_eq!(sd.bandwidths[0].bandwidth, 128);
        assert_eq!(sd.attribute("tool"), Some("x"));
        let m = &sd.media[0];
        assert_eq!(m.port_count, Some(2));
        assert_eq!(m.connections.len(), 2);
        assert_eq!(
            sd.connection_of(m).unwrap().ip(),
            Some(IpAddr::V6("2001:db8::2".parse::<Ipv6Addr>().unwrap()))
        );
        assert_eq!(m.attribute("maxptime"), Some("40"));
    }

    #[test]
    fn refuses_malformed_descriptions() {
        use SdpErrorKind as K;
        let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
        let with = |extra: &str| format!("{base}{extra}");
        assert_eq!(kind(""), K::Empty);
        assert_eq!(kind("\r\n"), K::Empty);
        assert_eq!(kind("v=1\r\n"), K::BadValue('v'));
        assert_eq!(kind("o=- 1 1 IN IP4 h\r\n"), K::Missing('v'));
        assert_eq!(kind("v=0\r\n"), K::Missing('o'));
        assert_eq!(kind("v=0\r\ns=-\r\n"), K::Missing('o'));
        assert_eq!(
            kind("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n"),
            K::BadValue('o')
        );
        assert_eq!(
            kind("v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"),
            K::BadValue('o')
        );
        assert_eq!(
            kind("v=0\r\no=- 99999999999999999999 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"),
            K::BadValue('o')
        );
        assert_eq!(kind("v=0\r\no=- 1 1 IN IP4 h\r\n"), K::Missing('s'));
        assert_eq!(kind("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n"), K::Missing('t'));
        assert_eq!(
            kind("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n"),
            K::Missing('t')
        );
        assert_eq!(kind(&with("x=1\r\n")), K::UnknownType('x'));
        assert_eq!(kind(&with("A=1\r\n")), K::BadLine);
        assert_eq!(kind(&with("a\r\n")), K::BadLine);
        assert_eq!(kind(&with("a =x\r\n")), K::BadLine);
        assert_eq!(kind(&with("\r\n")), K::BadLine);
        assert_eq!(kind(&with("é=1\r\n")), K::BadLine);
        assert_eq!(kind(&with("a=x\0y\r\n")), K::BadLine);
        assert_eq!(kind(&with("a=x\ry\r\n")), K::BadLine);
        assert_eq!(kind(&with("c=IN IP4 192.0.2.2\r\n")), K::OutOfOrder('c'));
        assert_eq!(kind(&with("v=0\r\n")), K::OutOfOrder('v'));
        assert_eq!(kind(&with("t=1\r\n")), K::BadValue('t'));
        assert_eq!(kind(&with("t=0 0 0\r\n")), K::BadValue('t'));
        assert_eq!(kind(&with("a=x\r\nt=0 0\r\n")), K::OutOfOrder('t'));
        assert_eq!(kind(&with("z=1 -1h\r\nz=2 0\r\n")), K::Repeated('z'));
        assert_eq!(kind(&with("m=audio\r\n")), K::BadValue('m'));
        assert_eq!(kind(&with("m=audio 1 RTP/AVP\r\n")), K::BadValue('m'));
        assert_eq!(kind(&with("m=audio 70000 RTP/AVP 0\r\n")), K::BadValue('m'));
        assert_eq!(kind(&with("m=audio x RTP/AVP 0\r\n")), K::BadValue('m'));
        assert_eq!(kind(&with("m=audio 1/x RTP/AVP 0\r\n")), K::BadValue('m'));
        assert_eq!(kind(&with("m=audio 1 RTP/AVP 128\r\n")), K::BadValue('m'));
        assert_eq!(kind(&with("m=audio 1 RTP/AVP pcmu\r\n")), K::BadValue('m'));
        assert_eq!(
            kind(&with("m=audio 1 RTP/AVP 0\r\na=x\r\ni=late\r\n")),
            K::OutOfOrder('i')
        );
        assert_eq!(
            kind(&with("m=audio 1 RTP/AVP 0\r\nt=0 0\r\n")),
            K::OutOfOrder('t')
        );
        assert_eq!(
            kind(&with("m=audio 1 RTP/AVP 0\r\nq=0\r\n")),
            K::UnknownType('q')
        );
        assert_eq!(
            kind(&with("m=audio 1 RTP/AVP 0\r\ni=a\r\ni=b\r\n")),
            K::Repeated('i')
        );
        for bad in [
            "a=rtpmap\r\n",
            "a=rtpmap:0\r\n",
            "a=rtpmap:0 PCMU\r\n",
            "a=rtpmap:0 PCMU/x\r\n",
            "a=rtpmap:200 PCMU/8000\r\n",
            "a=rtpmap:0 /8000\r\n",
            "a=rtpmap:0 PCMU/8000/\r\n",
        ] {
            assert_eq!(
                kind(&with(&format!("m=audio 1 RTP/AVP 0\r\n{bad}"))),
                K::BadAttribute("rtpmap".into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            kind(&with("a=ptime:fast\r\n")),
            K::BadAttribute("ptime".into())
        );
        assert_eq!(
            kind(&with("a=sendonly:yes\r\n")),
            K::BadAttribute("sendonly".into())
        );
        assert_eq!(
            kind(&with("m=audio 1 RTP/AVP 0\r\na=sendonly\r\na=recvonly\r\n")),
            K::BadAttribute("recvonly".into())
        );
        assert_eq!(kind(&with("a=:x\r\n")), K::BadValue('a'));
        assert_eq!(
            kind(&with("m=audio 1 RTP/AVP 0\r\nb=AS\r\n")),
            K::BadValue('b')
        );
        assert_eq!(kind(&with("r=\r\n")), K::BadValue('r'));
        assert_eq!(
            kind("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=7d 1h 0\r\nt=0 0\r\n"),
            K::OutOfOrder('r')
        );
        // No connection anywhere for a stream.
        let no_c = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n";
        let e = no_c.parse::<SessionDescription>().unwrap_err();
        assert_eq!(e.kind(), &K::MissingConnection);
        assert_eq!(e.line(), 5);
        // Connection addresses must fit their type.
        for c in [
            "c=IN IP4 2001:db8::1\r\n",
            "c=IN IP6 192.0.2.1\r\n",
            "c=IN IP4 300.1.1.1\r\n",
            "c=IN IP4 a..b\r\n",
            "c=IN IP4 224.2.1.1/x\r\n",
            "c=IN IP4\r\n",
        ] {
            let text =
                format!("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n{c}t=0 0\r\nm=audio 1 RTP/AVP 0\r\n");
            assert_eq!(kind(&text), K::BadValue('c'), "{c:?}");
        }
        assert_eq!(
            SessionDescription::from_bytes(b"v=0\r\n\xff")
                .unwrap_err()
                .kind(),
            &K::NotUtf8
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nbogus\r\n"
            .parse::<SessionDescription>()
            .unwrap_err();
        assert_eq!(e.line(), 5);
        assert_eq!(e.to_string(), "SDP line 5: not a <type>=<value> line");
    }

    #[test]
    fn answers_g711_in_the_offerers_order() {
        let offer = parse(ALICE);
        let answer = answer_audio(&offer, LOCAL, 40000).unwrap();
        assert_eq!(answer.media.len(), 2, "one m= line per offered stream");
        let audio = &answer.media[0];
        assert_eq!(audio.port, 40000);
        assert_eq!(audio.proto, "RTP/AVP");
        assert_eq!(audio.formats, ["0", "8"]);
        assert_eq!(
            audio.rtpmaps().map(|m| m.to_string()).collect::<Vec<_>>(),
            ["0 PCMU/8000", "8 PCMA/8000"]
        );
        assert_eq!(audio.direction(), Some(Direction::SendRecv));
        assert_eq!(audio.ptime(), None);
        let video = &answer.media[1];
        assert!(video.is_rejected());
        assert_eq!(video.media, "video");
        assert_eq!(video.formats, ["31", "32"]);
        assert!(video.attributes.is_empty());
        assert_eq!(answer.connection, Some(Connection::new(LOCAL)));
        assert_eq!(answer.origin.address, "192.0.2.10");
        assert_eq!(answer.timing, offer.timing);
        // The answer is itself valid SDP.
        assert_eq!(parse(&answer.to_string()), answer);

        let offer = parse(&ALICE.replace("RTP/AVP 0 8 97", "RTP/AVP 97 8 0"));
        let answer = answer_audio(&offer, LOCAL, 40000).unwrap();
        assert_eq!(answer.media[0].formats, ["8", "0"]);
    }

    #[test]
    fn accepts_dynamic_payload_types_and_static_ones_without_rtpmap() {
        let offer = parse(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n\
             m=audio 3456 RTP/AVP 96 8\r\na=rtpmap:96 pcmu/8000\r\n",
        );
        let answer = answer_audio(&offer, LOCAL, 1).unwrap();
        assert_eq!(answer.media[0].formats, ["96", "8"]);
        assert_eq!(answer.media[0].codec(96).unwrap().encoding, "pcmu");
        assert_eq!(answer.media[0].codec(8).unwrap().encoding, "PCMA");
        // A static number remapped to something else is not G.711.
        let offer = parse(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n\
             m=audio 3456 RTP/AVP 0\r\na=rtpmap:0 opus/48000/2\r\n",
        );
        assert_eq!(answer_audio(&offer, LOCAL, 1), None);
    }

    #[test]
    fn nothing_acceptable_means_no_answer() {
        for offer in [
            // Only codecs we do not have.
            ALICE.replace("RTP/AVP 0 8 97", "RTP/AVP 97"),
            // G.711 on a secure profile.
            ALICE.replace("RTP/AVP 0 8 97", "RTP/SAVP 0 8"),
            // G.711 in a stream the offerer disabled.
            ALICE.replace("audio 49170", "audio 0"),
            // Only video.
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n\
             m=video 1 RTP/AVP 0\r\n"
                .into(),
            // No media at all.
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n".into(),
        ] {
            assert_eq!(answer_audio(&parse(&offer), LOCAL, 1), None, "{offer}");
        }
    }

    #[test]
    fn only_the_first_acceptable_audio_stream_is_taken() {
        let offer = parse(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n\
             m=audio 1000 RTP/AVP 18\r\n\
             m=audio 2000 RTP/AVP 8\r\n\
             m=audio 3000 RTP/AVP 0\r\n",
        );
        let answer = answer_audio(&offer, LOCAL, 5).unwrap();
        let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
        assert_eq!(ports, [0, 5, 0]);
    }

    #[test]
    fn mirrors_direction_and_keeps_ptime() {
        let cases = [
            ("", "", Direction::SendRecv),
            ("a=sendonly\r\n", "", Direction::RecvOnly),
            ("", "a=recvonly\r\n", Direction::SendOnly),
            ("a=sendonly\r\n", "a=inactive\r\n", Direction::Inactive),
            ("a=inactive\r\n", "a=sendrecv\r\n", Direction::SendRecv),
        ];
        for (session, media, want) in cases {
            let offer = parse(&format!(
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n{session}\
                 a=ptime:30\r\nm=audio 1 RTP/AVP 0\r\n{media}"
            ));
            let answer = answer_audio(&offer, LOCAL, 1).unwrap();
            assert_eq!(answer.media[0].direction(), Some(want), "{session}{media}");
            assert_eq!(
                answer.media[0].ptime(),
                Some(30),
                "session-level ptime kept"
            );
        }
        let offer = parse(&ALICE.replace("a=rtpmap:0", "a=ptime:40\r\na=rtpmap:0"));
        let answer = answer_audio(&offer, LOCAL, 1).unwrap();
        assert_eq!(answer.media[0].ptime(), Some(40));
    }

    #[test]
    fn offers_g711() {
        let offer = offer_audio(LOCAL, 4000);
        let text = offer.to_string();
        assert!(text.contains("m=audio 4000 RTP/AVP 0 8\r\n"), "{text}");
        assert_eq!(parse(&text), offer);
        // Answering our own offer works, too.
        let answer = answer_audio(&offer, LOCAL, 5000).unwrap();
        assert_eq!(answer.media[0].formats, ["0", "8"]);
    }

    #[test]
    fn later_versions_keep_the_origin() {
        let offer = parse(ALICE);
        let first = answer_audio(&offer, LOCAL, 4000).unwrap();
        let mut same = answer_audio(&offer, LOCAL, 4000).unwrap();
        assert_ne!(same.origin.session_id, first.origin.session_id, "fresh ids");
        same.continue_from(&first);
        assert_eq!(same.origin, first.origin, "unchanged: same version");
        let mut moved = answer_audio(&offer, LOCAL, 4002).unwrap();
        moved.continue_from(&first);
        assert_eq!(moved.origin.session_id, first.origin.session_id);
        assert_eq!(
            moved.origin.session_version,
            first.origin.session_version + 1
        );
    }

    #[test]
    fn ipv6_answers() {
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        let answer = answer_audio(&parse(ALICE), ip, 4000).unwrap();
        let text = answer.to_string();
        assert!(text.contains("c=IN IP6 2001:db8::7\r\n"), "{text}");
        assert!(text.contains(" IN IP6 2001:db8::7\r\n"), "{text}");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_text_never_panics(s in "(([a-z]=[ -~]{0,20})?\r?\n){0,12}") {
                if let Ok(sd) = s.parse::<SessionDescription>() {
                    let again: SessionDescription = sd.to_string().parse().unwrap();
                    prop_assert_eq!(again, sd);
                }
            }

            #[test]
            fn sdp_like_text_round_trips(
                lines in proptest::collection::vec(
                    "(c=IN IP4 (192\\.0\\.2\\.[0-9]|h\\.example)|b=AS:[0-9]{1,3}|a=(rtpmap:[0-9]{1,3} [A-Za-z0-9]{1,5}/[0-9]{1,5}|ptime:[0-9]{1,2}|sendonly|recvonly|x:y)|m=(audio|video) [0-9]{1,5} RTP/AVP( [0-9]{1,3}){1,3}|i=t)",
                    0..10,
                )
            ) {
                let text = format!(
                    "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n{}\r\n",
                    lines.join("\r\n")
                );
                if let Ok(sd) = text.parse::<SessionDescription>() {
                    let again: SessionDescription = sd.to_string().parse().unwrap();
                    prop_assert_eq!(&again, &sd);
                    let _ = answer_audio(&sd, "192.0.2.1".parse().unwrap(), 1);
                }
            }
        }
    }
}
