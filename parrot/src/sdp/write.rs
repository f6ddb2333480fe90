//! Writing a session description (RFC 4566 §5), lines ending in CRLF.
//!
//! Every part is written into a string by appending slices and
//! decimals rather than through `write!`: a call's answer is written once
//! per call, and the formatting machinery cost several times as much. The
//! `Display` impls hand the same text to the formatter.

use super::model::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, RtpMap, SessionDescription,
};
use super::parse::RtpMapRef;
use crate::message::Text;
use bytes::Bytes;
use std::fmt;

/// Appends each slice in turn.
fn put(out: &mut String, parts: &[&str]) {
    for p in parts {
        out.push_str(p);
    }
}

/// Appends `n` in decimal.
fn decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// `n` in decimal (inline: at most 20 digits).
pub(crate) fn decimal_text(n: u64) -> Text {
    Text::copy_of(itoa::Buffer::new().format(n))
}

/// The parts, one after the other: assembled on the stack and kept
/// inline when they fit, else in one buffer.
#[inline]
pub(crate) fn concat_text(parts: &[&str]) -> Text {
    const INLINE: usize = 22;
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > INLINE {
        let mut out = String::with_capacity(len);
        put(&mut out, parts);
        return Text::from(out);
    }
    let mut buf = [0u8; INLINE];
    let mut at = 0;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p.as_bytes());
        at += p.len();
    }
    // Whole `str`s laid end to end: valid UTF-8.
    Text::copy_of(std::str::from_utf8(&buf[..len]).expect("whole strs"))
}

/// A `<type>=<value>` line.
fn line(out: &mut String, kind: &str, value: &str) {
    put(out, &[kind, "=", value, "\r\n"]);
}

impl Origin {
    fn write(&self, out: &mut String) {
        put(out, &[&self.username, " "]);
        decimal(out, self.session_id);
        out.push(' ');
        decimal(out, self.session_version);
        put(
            out,
            &[" ", &self.nettype, " ", &self.addrtype, " ", &self.address],
        );
    }
}

/// An `a=rtpmap` value: `<payload type> <encoding>/<clock rate>[/<params>]`.
fn rtpmap(
    out: &mut String,
    payload_type: u8,
    encoding: &str,
    clock_rate: u32,
    params: Option<&str>,
) {
    decimal(out, payload_type.into());
    put(out, &[" ", encoding, "/"]);
    decimal(out, clock_rate.into());
    if let Some(p) = params {
        put(out, &["/", p]);
    }
}

/// The `a=rtpmap` value of `map` (`0 PCMU/8000`), as [`RtpMap`] writes it
/// (inline when it fits, as a G.711 one does).
pub(super) fn rtpmap_text(map: &RtpMapRef<'_>) -> Text {
    let mut pt = itoa::Buffer::new();
    let mut rate = itoa::Buffer::new();
    let head = [
        pt.format(map.payload_type),
        " ",
        map.encoding,
        "/",
        rate.format(map.clock_rate),
    ];
    match map.params {
        Some(p) => concat_text(&[head[0], head[1], head[2], head[3], head[4], "/", p]),
        None => concat_text(&head),
    }
}

impl RtpMap {
    /// The `a=rtpmap` value, as `Display` writes it, inline when it fits
    /// (as a G.711 or `telephone-event/8000` one does).
    pub(crate) fn value_text(&self) -> Text {
        rtpmap_text(&RtpMapRef {
            payload_type: self.payload_type,
            encoding: &self.encoding,
            clock_rate: self.clock_rate,
            params: self.params.as_deref(),
        })
    }

    fn write(&self, out: &mut String) {
        rtpmap(
            out,
            self.payload_type,
            &self.encoding,
            self.clock_rate,
            self.params.as_deref(),
        );
    }
}

impl Connection {
    fn write(&self, out: &mut String) {
        put(
            out,
            &[&self.nettype, " ", &self.addrtype, " ", &self.address],
        );
    }
}

impl Bandwidth {
    fn write(&self, out: &mut String) {
        put(out, &[&self.bwtype, ":"]);
        decimal(out, self.bandwidth);
    }
}

impl Attribute {
    fn write(&self, out: &mut String) {
        out.push_str(&self.name);
        if let Some(v) = &self.value {
            put(out, &[":", v]);
        }
    }
}

/// `<kind>=`, the part, CRLF.
fn part_line(out: &mut String, kind: &str, write: impl FnOnce(&mut String)) {
    put(out, &[kind, "="]);
    write(out);
    out.push_str("\r\n");
}

impl MediaDescription {
    /// The `m=` section, each line ending in CRLF.
    fn write(&self, out: &mut String) {
        put(out, &["m=", &self.media, " "]);
        decimal(out, self.port.into());
        if let Some(n) = self.port_count {
            out.push('/');
            decimal(out, n.into());
        }
        put(out, &[" ", &self.proto]);
        for f in &self.formats {
            put(out, &[" ", f]);
        }
        out.push_str("\r\n");
        if let Some(i) = &self.information {
            line(out, "i", i);
        }
        for c in &self.connections {
            part_line(out, "c", |o| c.write(o));
        }
        for b in &self.bandwidths {
            part_line(out, "b", |o| b.write(o));
        }
        if let Some(k) = &self.key {
            line(out, "k", k);
        }
        for a in &self.attributes {
            part_line(out, "a", |o| a.write(o));
        }
    }
}

impl SessionDescription {
    /// The description in wire form (RFC 4566 §5 order, CRLF line ends).
    fn write(&self, out: &mut String) {
        out.push_str("v=0\r\n");
        part_line(out, "o", |o| self.origin.write(o));
        // §5.3: "s= " (one space) when there is no name.
        let name = if self.session_name.is_empty() {
            " "
        } else {
            &self.session_name
        };
        line(out, "s", name);
        if let Some(i) = &self.information {
            line(out, "i", i);
        }
        if let Some(u) = &self.uri {
            line(out, "u", u);
        }
        for e in &self.emails {
            line(out, "e", e);
        }
        for p in &self.phones {
            line(out, "p", p);
        }
        if let Some(c) = &self.connection {
            part_line(out, "c", |o| c.write(o));
        }
        for b in &self.bandwidths {
            part_line(out, "b", |o| b.write(o));
        }
        for t in &self.timing {
            part_line(out, "t", |o| {
                decimal(o, t.start);
                o.push(' ');
                decimal(o, t.stop);
            });
            for r in &t.repeats {
                line(out, "r", r);
            }
        }
        if let Some(z) = &self.time_zones {
            line(out, "z", z);
        }
        if let Some(k) = &self.key {
            line(out, "k", k);
        }
        for a in &self.attributes {
            part_line(out, "a", |o| a.write(o));
        }
        for m in &self.media {
            m.write(out);
        }
    }

    /// The description in wire form, as `to_string` writes it but without
    /// the formatter's copy (one allocation instead of two): for a
    /// description written once per call.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write(&mut out);
        out
    }
}

/// Hands what `write` appends to the formatter.
fn display(f: &mut fmt::Formatter<'_>, write: impl FnOnce(&mut String)) -> fmt::Result {
    let mut out = String::with_capacity(256);
    write(&mut out);
    f.write_str(&out)
}

/// `Display` through each type's byte writer.
macro_rules! display_by_write {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                display(f, |o| self.write(o))
            }
        }
    )*};
}

// A media description is its `m=` section and a session description its
// wire form, each line ending in CRLF.
display_by_write!(
    Origin,
    RtpMap,
    Connection,
    Bandwidth,
    Attribute,
    MediaDescription,
    SessionDescription
);

/// The description as a message body, so that
/// [`Response::sdp`](crate::message::Response::sdp) takes it directly.
/// (The message layer sits below `sdp` and cannot name the type; this
/// conversion is how it accepts one.)
impl From<&SessionDescription> for Bytes {
    fn from(sd: &SessionDescription) -> Bytes {
        Bytes::from(sd.to_text())
    }
}

/// The description as a message body; see the `&SessionDescription`
/// conversion.
impl From<SessionDescription> for Bytes {
    fn from(sd: SessionDescription) -> Bytes {
        Bytes::from(&sd)
    }
}
