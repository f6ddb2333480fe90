//! Parsing a session description (RFC 4566 §5, §9).

use super::error::{SdpError, SdpErrorKind};
use super::model::{
    Attribute, Bandwidth, Connection, Direction, MediaDescription, Origin, RtpMap,
    SessionDescription, Timing, is_rtp_proto, parse_digits, static_audio_codec,
};
use crate::message::grammar::{split_byte, split_once_byte};
use crate::message::{Text, parse_ip};
use std::str::FromStr;

/// `token` (RFC 4566 §9): the characters of attribute names and encoding
/// names.
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| TOKEN[usize::from(b)])
}

/// Lookup table for [`is_token`]: SDP's `token-char` (§9), every printable
/// ASCII character but space and `"(),/:;<=>?@[\]`. A table, because
/// most fields of every offer go through it.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
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
            );
        i += 1;
    }
    t
};

pub(super) fn parse_payload_type(s: &str) -> Option<u8> {
    parse_digits(s)
        .filter(|&n| n <= 127)
        .and_then(|n| u8::try_from(n).ok())
}

/// The fields of a line, split on spaces.
fn fields(value: &str) -> impl Iterator<Item = &str> {
    split_byte(value, b' ').filter(|f| !f.is_empty())
}

/// The fields of a line when there are exactly `N` (no vector: a line is
/// parsed for every call's offer).
fn exact_fields<const N: usize>(value: &str) -> Option<[&str; N]> {
    let mut it = fields(value);
    let mut out = [""; N];
    for slot in &mut out {
        *slot = it.next()?;
    }
    it.next().is_none().then_some(out)
}

pub(super) fn parse_origin(value: &str) -> Option<Origin> {
    let [username, id, version, nettype, addrtype, address] = exact_fields(value)?;
    if !is_token(nettype) || !is_token(addrtype) {
        return None;
    }
    Some(Origin {
        username: Text::copy_of(username),
        session_id: parse_digits(id)?,
        session_version: parse_digits(version)?,
        nettype: Text::copy_of(nettype),
        addrtype: Text::copy_of(addrtype),
        address: Text::copy_of(address),
    })
}

pub(super) fn parse_connection(value: &str) -> Option<Connection> {
    let [nettype, addrtype, address] = exact_fields(value)?;
    if !is_token(nettype) || !is_token(addrtype) {
        return None;
    }
    // For the Internet, the address must fit its type (RFC 4566 §5.7):
    // an IP literal of the right family (with an optional multicast
    // suffix) or a host name.
    if nettype == "IN" {
        let host = split_byte(address, b'/').next().unwrap_or("");
        let ok = match (addrtype, parse_ip(host)) {
            ("IP4", Some(ip)) => ip.is_ipv4(),
            ("IP6", Some(ip)) => ip.is_ipv6(),
            (_, Some(_)) => false,
            (_, None) => is_hostname(host),
        };
        let suffix_ok = split_byte(address, b'/')
            .skip(1)
            .all(|p| parse_digits(p).is_some());
        if !ok || !suffix_ok || split_byte(address, b'/').count() > 3 {
            return None;
        }
    }
    Some(Connection {
        nettype: Text::copy_of(nettype),
        addrtype: Text::copy_of(addrtype),
        address: Text::copy_of(address),
    })
}

pub(super) fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // A name of digits and dots only is a mistyped IPv4 address.
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

pub(super) fn parse_bandwidth(value: &str) -> Option<Bandwidth> {
    let (bwtype, bw) = split_once_byte(value, b':')?;
    if !is_token(bwtype) {
        return None;
    }
    Some(Bandwidth {
        bwtype: Text::copy_of(bwtype),
        bandwidth: parse_digits(bw)?,
    })
}

pub(super) fn parse_timing(value: &str) -> Option<Timing> {
    let [start, stop] = exact_fields(value)?;
    Some(Timing {
        start: parse_digits(start)?,
        stop: parse_digits(stop)?,
        repeats: Vec::new(),
    })
}

pub(super) fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut f = fields(value);
    let (media, port, proto) = (f.next()?, f.next()?, f.next()?);
    let formats: Vec<Text> = f.map(Text::copy_of).collect();
    if !is_token(media) || formats.is_empty() {
        return None;
    }
    let (port, port_count) = match split_once_byte(port, b'/') {
        Some((p, n)) => (
            p,
            Some(parse_digits(n).and_then(|n| u16::try_from(n).ok())?),
        ),
        None => (port, None),
    };
    let port = u16::try_from(parse_digits(port)?).ok()?;
    if !split_byte(proto, b'/').all(is_token) {
        return None;
    }
    if is_rtp_proto(proto) && !formats.iter().all(|f| parse_payload_type(f).is_some()) {
        return None;
    }
    if !formats.iter().all(|f| is_token(f)) {
        return None;
    }
    let mut m = MediaDescription::new(Text::copy_of(media), port, Text::copy_of(proto), formats);
    m.port_count = port_count;
    Some(m)
}

/// Parses `name[:value]` and checks the attributes that matter to
/// offer/answer.
pub(super) fn parse_attribute(value: &str) -> Result<Attribute, SdpErrorKind> {
    let (name, val) = match split_once_byte(value, b':') {
        Some((n, v)) => (n, Some(v)),
        None => (value, None),
    };
    if !is_token(name) {
        return Err(SdpErrorKind::BadValue('a'));
    }
    let bad = || SdpErrorKind::BadAttribute(name.to_owned());
    match name {
        "rtpmap" => {
            val.and_then(RtpMapRef::parse).ok_or_else(bad)?;
        }
        "ptime" | "maxptime" => {
            val.and_then(parse_digits).ok_or_else(bad)?;
        }
        _ if Direction::from_name(name).is_some() && val.is_some() => return Err(bad()),
        _ => {}
    }
    Ok(Attribute {
        name: Text::copy_of(name),
        value: val.map(Text::copy_of),
    })
}

/// The position of each type letter in RFC 4566 §5's order, per level.
pub(super) fn session_rank(c: char) -> Option<u8> {
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

pub(super) fn media_rank(c: char) -> Option<u8> {
    Some(match c {
        'i' => 1,
        'c' => 2,
        'b' => 3,
        'k' => 4,
        'a' => 5,
        _ => return None,
    })
}

pub(super) fn set_once(
    slot: &mut Option<Text>,
    value: &str,
    n: usize,
    c: char,
) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(SdpError::new(n, SdpErrorKind::Repeated(c)));
    }
    *slot = Some(Text::copy_of(value));
    Ok(())
}

/// The lines of a description, each checked for the `<type>=<value>`
/// syntax (§5) as it is reached: `(line number, type, value)`.
struct Lines<'a> {
    rest: Option<&'a str>,
    n: usize,
    /// Whether the text has a NUL, or a CR that does not end a line:
    /// then each line is searched for them.
    suspect: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<(usize, char, &'a str), SdpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest?;
        self.n += 1;
        let n = self.n;
        // `\n` is ASCII, so both sides of it are char boundaries.
        let raw = match memchr::memchr(b'\n', r.as_bytes()) {
            Some(i) => {
                self.rest = Some(&r[i + 1..]);
                &r[..i]
            }
            None => {
                self.rest = None;
                r
            }
        };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // `<type>=<value>`, the type one lower-case letter (§5); a CR
        // only as part of a line end, no NUL anywhere (looked for line by
        // line only when the whole text has one).
        let &[c, b'=', ..] = line.as_bytes() else {
            return Some(Err(SdpError::new(n, SdpErrorKind::BadLine)));
        };
        if !c.is_ascii_lowercase()
            || (self.suspect && memchr::memchr2(b'\0', b'\r', line.as_bytes()).is_some())
        {
            return Some(Err(SdpError::new(n, SdpErrorKind::BadLine)));
        }
        // Two ASCII bytes: a char boundary.
        let value = &line[2..];
        Some(Ok((n, char::from(c), value)))
    }
}

/// The next line, which must be of type `want` (`v`, `o`, `s` come first,
/// in this order).
fn expect<'a>(lines: &mut Lines<'a>, want: char) -> Result<(usize, &'a str), SdpError> {
    match lines.next().transpose()? {
        Some((n, c, v)) if c == want => Ok((n, v)),
        Some((n, c, _)) if session_rank(c).is_some() || c == 'm' => {
            Err(SdpError::new(n, SdpErrorKind::Missing(want)))
        }
        Some((n, c, _)) => Err(SdpError::new(n, SdpErrorKind::UnknownType(c))),
        None => Err(SdpError::new(0, SdpErrorKind::Missing(want))),
    }
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
        let bytes = body.as_bytes();
        // Two scans of the whole text are cheaper than two per line.
        let suspect = memchr::memchr(b'\0', bytes).is_some()
            || memchr::memchr_iter(b'\r', bytes)
                .any(|i| i + 1 < bytes.len() && bytes[i + 1] != b'\n');
        let mut lines = Lines {
            rest: Some(body),
            n: 0,
            suspect,
        };
        // One pass over the lines, but a malformed line anywhere is the
        // error even when an earlier line is wrong in another way: the
        // lines not reached are checked only when there is an error.
        parse_lines(&mut lines).map_err(|e| match e.kind() {
            SdpErrorKind::BadLine => e,
            _ => lines.find_map(Result::err).unwrap_or(e),
        })
    }
}

/// The description in `lines`, whose line syntax is checked as they are
/// read.
fn parse_lines(lines: &mut Lines<'_>) -> Result<SessionDescription, SdpError> {
    let (n, v) = expect(lines, 'v')?;
    if v != "0" {
        return Err(SdpError::new(n, SdpErrorKind::BadValue('v')));
    }
    let (n, o) = expect(lines, 'o')?;
    let origin = parse_origin(o).ok_or(SdpError::new(n, SdpErrorKind::BadValue('o')))?;
    let (_, s) = expect(lines, 's')?;

    let mut sd = SessionDescription {
        origin,
        // "s= " is how an empty name is written (§5.3).
        session_name: if s == " " {
            Text::new()
        } else {
            Text::copy_of(s)
        },
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        // Almost always one `t=` line.
        timing: Vec::with_capacity(1),
        time_zones: None,
        key: None,
        attributes: Vec::new(),
        media: Vec::new(),
    };

    // Session level, up to the first `m=` line.
    let mut rank = 2;
    let mut first_media = None;
    for line in lines.by_ref() {
        let (n, c, value) = line?;
        if c == 'm' {
            first_media = Some((n, value));
            break;
        }
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
            'e' => sd.emails.push(Text::copy_of(value)),
            'p' => sd.phones.push(Text::copy_of(value)),
            'c' => {
                if sd.connection.is_some() {
                    return Err(SdpError::new(n, SdpErrorKind::Repeated(c)));
                }
                sd.connection = Some(parse_connection(value).ok_or(bad)?);
            }
            'b' => sd.bandwidths.push(parse_bandwidth(value).ok_or(bad)?),
            't' => sd.timing.push(parse_timing(value).ok_or(bad)?),
            'r' => match sd.timing.last_mut() {
                Some(t) if !value.is_empty() => t.repeats.push(Text::copy_of(value)),
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
        let n = first_media.map_or(0, |(n, _)| n);
        return Err(SdpError::new(n, SdpErrorKind::Missing('t')));
    }
    check_direction(&sd.attributes, 0)?;

    // Media level: the first `m=` line, then the rest.
    let Some((n, value)) = first_media else {
        return Ok(sd);
    };
    let first = parse_media(value).ok_or(SdpError::new(n, SdpErrorKind::BadValue('m')))?;
    // Almost always one stream (the offers of a call: audio).
    sd.media.reserve_exact(1);
    sd.media.push(first);
    let mut media_rank_now = 0;
    let mut media_line = n;
    for line in lines {
        let (n, c, value) = line?;
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

/// At most one direction attribute per level.
pub(super) fn check_direction(attrs: &[Attribute], line: usize) -> Result<(), SdpError> {
    let mut seen = attrs
        .iter()
        .filter(|a| Direction::from_name(&a.name).is_some());
    if let (Some(_), Some(second)) = (seen.next(), seen.next()) {
        return Err(SdpError::new(
            line,
            SdpErrorKind::BadAttribute(second.name.to_string()),
        ));
    }
    Ok(())
}

pub(super) fn check_media(
    sd: &SessionDescription,
    m: &MediaDescription,
    line: usize,
) -> Result<(), SdpError> {
    if sd.connection.is_none() && m.connections.is_empty() {
        return Err(SdpError::new(line, SdpErrorKind::MissingConnection));
    }
    check_direction(&m.attributes, line)
}

/// An `a=rtpmap` value's parts, borrowed from the text: what
/// [`RtpMap`] holds, without its allocations (the parser checks every
/// `rtpmap` and the answer reads the offered ones).
#[derive(Debug, Clone, Copy)]
pub(super) struct RtpMapRef<'a> {
    pub(super) payload_type: u8,
    pub(super) encoding: &'a str,
    pub(super) clock_rate: u32,
    pub(super) params: Option<&'a str>,
}

impl<'a> RtpMapRef<'a> {
    /// Parses `<payload type> <encoding name>/<clock rate>[/<encoding
    /// parameters>]` (RFC 4566 §6).
    pub(super) fn parse(s: &'a str) -> Option<Self> {
        let (pt, rest) = split_once_byte(s, b' ')?;
        let payload_type = parse_payload_type(pt)?;
        let rest = rest.trim_start_matches(' ');
        // `<encoding>/<clock rate>[/<params>]`; a further `/` is in
        // the params, where a token may not have it.
        let (encoding, rest) = split_once_byte(rest, b'/')?;
        if !is_token(encoding) {
            return None;
        }
        let (clock_rate, params) = match split_once_byte(rest, b'/') {
            Some((c, p)) if is_token(p) => (c, Some(p)),
            Some(_) => return None,
            None => (rest, None),
        };
        let clock_rate = u32::try_from(parse_digits(clock_rate)?).ok()?;
        Some(RtpMapRef {
            payload_type,
            encoding,
            clock_rate,
            params,
        })
    }

    /// The mapping RFC 3551 §6 gives a static audio payload type, if any.
    pub(super) fn static_audio(payload_type: u8) -> Option<RtpMapRef<'static>> {
        let (encoding, clock_rate) = static_audio_codec(payload_type)?;
        Some(RtpMapRef {
            payload_type,
            encoding,
            clock_rate,
            params: None,
        })
    }

    /// See [`RtpMap::is`].
    pub(super) fn is(&self, name: &str, clock_rate: u32) -> bool {
        self.encoding.eq_ignore_ascii_case(name)
            && self.clock_rate == clock_rate
            && self.params.is_none_or(|p| p == "1")
    }
}

impl FromStr for RtpMap {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let m = RtpMapRef::parse(s).ok_or(())?;
        Ok(RtpMap {
            payload_type: m.payload_type,
            encoding: Text::copy_of(m.encoding),
            clock_rate: m.clock_rate,
            params: m.params.map(Text::copy_of),
        })
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
}
