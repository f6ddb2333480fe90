//! Parser benchmarks for parrot, optionally against the `rsip` and
//! `ezk-sip-types` crates (feature `compare`).
//!
//! The measured unit of work is the same for every library: take a received
//! datagram as `&[u8]`, parse it into the library's message type, then read
//! what a transaction layer needs to match the message — the top Via's
//! branch and sent-by (host, port), the From and To tags, the Call-ID and
//! the CSeq number and method.
//!
//! Each library has a `visit_*` function that does this work and hands the
//! extracted values, borrowed where the library allows it, to a closure. The
//! benchmark passes them to [`std::hint::black_box`] so nothing is optimised
//! away, and no extra allocation is added to the measurement. The `work_*`
//! functions wrap `visit_*` and return an owned [`Extracted`] for tests.

#![warn(missing_docs)]

use std::fmt;
use std::net::IpAddr;

/// One message of the benchmark corpus.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Short name, used as the criterion group name.
    pub name: &'static str,
    /// The raw message (CRLF line endings), as received in a datagram.
    pub bytes: &'static [u8],
}

/// The benchmark corpus, from `bench/data/*.sip`.
pub const CORPUS: &[Sample] = &[
    Sample {
        name: "invite",
        bytes: include_bytes!("../data/invite.sip"),
    },
    Sample {
        name: "ok_invite",
        bytes: include_bytes!("../data/ok_invite.sip"),
    },
    Sample {
        name: "register",
        bytes: include_bytes!("../data/register.sip"),
    },
    Sample {
        name: "bye",
        bytes: include_bytes!("../data/bye.sip"),
    },
    Sample {
        name: "many_vias",
        bytes: include_bytes!("../data/many_vias.sip"),
    },
];

/// A host as written in a Via sent-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostRef<'a> {
    /// A domain name.
    Name(&'a str),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

/// The fields a transaction layer reads from a message, borrowed from the
/// parsed message where the library allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fields<'a> {
    /// The `branch` parameter of the top Via.
    pub branch: Option<&'a str>,
    /// The host of the top Via's sent-by.
    pub host: HostRef<'a>,
    /// The port of the top Via's sent-by, if written.
    pub port: Option<u16>,
    /// The From tag.
    pub from_tag: Option<&'a str>,
    /// The To tag.
    pub to_tag: Option<&'a str>,
    /// The Call-ID.
    pub call_id: &'a str,
    /// The CSeq sequence number.
    pub cseq: u32,
    /// The CSeq method.
    pub method: &'a str,
}

impl Fields<'_> {
    /// Copies the fields into an owned [`Extracted`].
    pub fn to_extracted(&self) -> Extracted {
        Extracted {
            branch: self.branch.map(str::to_owned),
            host: match self.host {
                HostRef::Name(n) => n.to_owned(),
                HostRef::Ip(ip) => ip.to_string(),
            },
            port: self.port,
            from_tag: self.from_tag.map(str::to_owned),
            to_tag: self.to_tag.map(str::to_owned),
            call_id: self.call_id.to_owned(),
            cseq: self.cseq,
            method: self.method.to_owned(),
        }
    }
}

/// Owned copy of [`Fields`], for comparing libraries in tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extracted {
    /// The `branch` parameter of the top Via.
    pub branch: Option<String>,
    /// The host of the top Via's sent-by (IP addresses in canonical form).
    pub host: String,
    /// The port of the top Via's sent-by, if written.
    pub port: Option<u16>,
    /// The From tag.
    pub from_tag: Option<String>,
    /// The To tag.
    pub to_tag: Option<String>,
    /// The Call-ID.
    pub call_id: String,
    /// The CSeq sequence number.
    pub cseq: u32,
    /// The CSeq method.
    pub method: String,
}

/// Why a library could not parse a message or extract a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err(what: &str, e: impl fmt::Display) -> Error {
    Error(format!("{what}: {e}"))
}

fn missing(what: &str) -> Error {
    Error(format!("missing {what}"))
}

/// parrot: parses `bytes` with `parrot::message::parse_datagram` and hands
/// the transaction fields to `f`.
///
/// The datagram is copied into a `Bytes` first, as a UDP receive loop that
/// reuses its buffer would do.
pub fn visit_parrot<R>(bytes: &[u8], f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Error> {
    use parrot::message::{Host, parse_datagram};

    // The accessors a transaction layer uses; the parser has already
    // decoded and validated these headers.
    let msg = parse_datagram(bytes::Bytes::copy_from_slice(bytes)).map_err(|e| err("parse", e))?;
    let headers = msg.headers();
    let via = headers.top_via().ok_or_else(|| missing("Via"))?;
    let from = headers.from_header().ok_or_else(|| missing("From"))?;
    let to = headers.to_header().ok_or_else(|| missing("To"))?;
    let call_id = headers.call_id().ok_or_else(|| missing("Call-ID"))?;
    let cseq = headers.cseq().ok_or_else(|| missing("CSeq"))?;
    let host = match &via.host {
        Host::Domain(d) => HostRef::Name(d),
        Host::Ipv4(a) => HostRef::Ip(IpAddr::V4(*a)),
        Host::Ipv6(a) => HostRef::Ip(IpAddr::V6(*a)),
    };
    Ok(f(Fields {
        branch: via.branch(),
        host,
        port: via.port,
        from_tag: from.tag(),
        to_tag: to.tag(),
        call_id: call_id.as_str(),
        cseq: cseq.seq,
        method: cseq.method.as_str(),
    }))
}

/// parrot: [`visit_parrot`] returning owned values.
pub fn work_parrot(bytes: &[u8]) -> Result<Extracted, Error> {
    visit_parrot(bytes, |f| f.to_extracted())
}

/// rsip: parses `bytes` with `rsip::SipMessage::try_from(&[u8])`, converts
/// the needed headers to their typed forms and hands the fields to `f`.
#[cfg(feature = "compare")]
pub fn visit_rsip<R>(bytes: &[u8], f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Error> {
    use rsip::prelude::*;

    let msg = rsip::SipMessage::try_from(bytes).map_err(|e| err("parse", e))?;
    let via = msg
        .via_header()
        .and_then(|v| v.typed())
        .map_err(|e| err("Via", e))?;
    let from = msg
        .from_header()
        .and_then(|v| v.typed())
        .map_err(|e| err("From", e))?;
    let to = msg
        .to_header()
        .and_then(|v| v.typed())
        .map_err(|e| err("To", e))?;
    let call_id = msg.call_id_header().map_err(|e| err("Call-ID", e))?;
    let cseq = msg
        .cseq_header()
        .and_then(|v| v.typed())
        .map_err(|e| err("CSeq", e))?;
    let sent_by = &via.uri.host_with_port;
    let host = match &sent_by.host {
        rsip::Host::Domain(d) => HostRef::Name(d.value()),
        rsip::Host::IpAddr(ip) => HostRef::Ip(*ip),
    };
    Ok(f(Fields {
        branch: via.branch().map(|b| b.value()),
        host,
        port: sent_by.port.map(|p| *p.value()),
        from_tag: from.tag().map(|t| t.value()),
        to_tag: to.tag().map(|t| t.value()),
        call_id: call_id.value(),
        cseq: cseq.seq,
        method: rsip_method(cseq.method),
    }))
}

/// rsip: [`visit_rsip`] returning owned values.
#[cfg(feature = "compare")]
pub fn work_rsip(bytes: &[u8]) -> Result<Extracted, Error> {
    visit_rsip(bytes, |f| f.to_extracted())
}

/// rsip's `Method` only has `Display` (which allocates via `to_uppercase`).
#[cfg(feature = "compare")]
fn rsip_method(m: rsip::Method) -> &'static str {
    use rsip::Method as M;
    match m {
        M::Ack => "ACK",
        M::Bye => "BYE",
        M::Cancel => "CANCEL",
        M::Info => "INFO",
        M::Invite => "INVITE",
        M::Message => "MESSAGE",
        M::Notify => "NOTIFY",
        M::Options => "OPTIONS",
        M::PRack => "PRACK",
        M::Publish => "PUBLISH",
        M::Refer => "REFER",
        M::Register => "REGISTER",
        M::Subscribe => "SUBSCRIBE",
        M::Update => "UPDATE",
    }
}

/// ezk-sip-types: assembles a message the way `ezk-sip-core`'s transport
/// layer does (the crate itself has no whole-message parser): split lines
/// with `PullParser`, parse the start line with `MessageLine` and each
/// header with `Line` into `Headers`, cut the body by Content-Length; then
/// decode the typed headers and hand the fields to `f`.
#[cfg(feature = "compare")]
pub fn visit_ezk<R>(bytes: &[u8], f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Error> {
    use ezk_sip_types::header::typed::{CSeq, CallID, ContentLength, FromTo, Via};
    use ezk_sip_types::host::Host;
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};

    let buffer = bytes::Bytes::copy_from_slice(bytes);
    let mut parser = PullParser::new(&buffer, 0);
    let mut start_line = None;
    let mut headers = Headers::new();
    for item in &mut parser {
        let line = item.map_err(|_| missing("end of header"))?;
        let line = std::str::from_utf8(line).map_err(|e| err("line", e))?;
        if start_line.is_none() {
            let (_, l) = MessageLine::parse(&buffer)(line).map_err(|e| err("start line", e))?;
            start_line = Some(l);
        } else {
            let (_, l) = Line::parse(&buffer, line).map_err(|e| err("header line", e))?;
            headers.insert(l.name, l.value);
        }
    }
    let start_line = start_line.ok_or_else(|| missing("start line"))?;
    let head_end = parser.head_end();
    let body = match headers.get_named::<ContentLength>() {
        Ok(ContentLength(0)) => bytes::Bytes::new(),
        Ok(ContentLength(n)) if buffer.len() >= head_end + n => {
            buffer.slice(head_end..head_end + n)
        }
        Ok(_) => return Err(missing("body bytes")),
        Err(_) => buffer.slice(head_end..),
    };
    std::hint::black_box((&start_line, &body));

    let via: Via = headers.get_named().map_err(|e| err("Via", e))?;
    let from: FromTo = headers.get(Name::FROM).map_err(|e| err("From", e))?;
    let to: FromTo = headers.get(Name::TO).map_err(|e| err("To", e))?;
    let call_id: CallID = headers.get_named().map_err(|e| err("Call-ID", e))?;
    let cseq: CSeq = headers.get_named().map_err(|e| err("CSeq", e))?;
    let host = match &via.sent_by.host {
        Host::Name(n) => HostRef::Name(n),
        Host::IP4(a) => HostRef::Ip(IpAddr::V4(*a)),
        Host::IP6(a) => HostRef::Ip(IpAddr::V6(*a)),
    };
    Ok(f(Fields {
        branch: via.params.get_val("branch").map(|b| b.as_str()),
        host,
        port: via.sent_by.port,
        from_tag: from.tag.as_deref(),
        to_tag: to.tag.as_deref(),
        call_id: call_id.0.as_str(),
        cseq: cseq.cseq,
        method: ezk_method(&cseq.method),
    }))
}

/// ezk-sip-types: [`visit_ezk`] returning owned values.
#[cfg(feature = "compare")]
pub fn work_ezk(bytes: &[u8]) -> Result<Extracted, Error> {
    visit_ezk(bytes, |f| f.to_extracted())
}

/// ezk's `Method` only has `Display`; map the well-known ones to `&str`.
#[cfg(feature = "compare")]
fn ezk_method(m: &ezk_sip_types::Method) -> &'static str {
    use ezk_sip_types::Method as M;
    const KNOWN: [(M, &str); 14] = [
        (M::INVITE, "INVITE"),
        (M::ACK, "ACK"),
        (M::CANCEL, "CANCEL"),
        (M::BYE, "BYE"),
        (M::REGISTER, "REGISTER"),
        (M::MESSAGE, "MESSAGE"),
        (M::UPDATE, "UPDATE"),
        (M::PRACK, "PRACK"),
        (M::OPTIONS, "OPTIONS"),
        (M::SUBSCRIBE, "SUBSCRIBE"),
        (M::NOTIFY, "NOTIFY"),
        (M::PUBLISH, "PUBLISH"),
        (M::INFO, "INFO"),
        (M::REFER, "REFER"),
    ];
    KNOWN
        .iter()
        .find(|(k, _)| k == m)
        .map_or("<other>", |(_, s)| s)
}

/// Ends the header block of a generated SIP message: an SDP `body` with
/// its Content-Type and Content-Length, or `Content-Length: 0`.
pub fn end_headers(message: &mut String, body: Option<&str>) {
    match body {
        Some(b) => {
            message.push_str("Content-Type: application/sdp\r\nContent-Length: ");
            message.push_str(&b.len().to_string());
            message.push_str("\r\n\r\n");
            message.push_str(b);
        }
        None => message.push_str("Content-Length: 0\r\n\r\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every library must extract from each corpus message.
    fn expected(name: &str) -> Extracted {
        let s = |v: &str| v.to_owned();
        let (branch, host, port, from_tag, to_tag, call_id, cseq, method) = match name {
            "invite" => (
                "z9hG4bK776asdhds",
                "pc33.atlanta.example.com",
                Some(5060),
                Some("1928301774"),
                None,
                "a84b4c76e66710@pc33.atlanta.example.com",
                314159,
                "INVITE",
            ),
            "ok_invite" => (
                "z9hG4bK776asdhds",
                "pc33.atlanta.example.com",
                Some(5060),
                Some("1928301774"),
                Some("a6c85cf"),
                "a84b4c76e66710@pc33.atlanta.example.com",
                314159,
                "INVITE",
            ),
            "register" => (
                "z9hG4bKnashds7",
                "192.0.2.201",
                Some(5060),
                Some("a73kszlfl"),
                None,
                "1j9FpLxk3uxtm8tn@192.0.2.201",
                1826,
                "REGISTER",
            ),
            "bye" => (
                "z9hG4bKnashds10",
                "192.0.2.201",
                Some(5060),
                Some("a6c85cf"),
                Some("1928301774"),
                "a84b4c76e66710@pc33.atlanta.example.com",
                231,
                "BYE",
            ),
            "many_vias" => (
                "z9hG4bKtop4711",
                "edge.chicago.example.com",
                None,
                Some("mon5a1"),
                None,
                "9d2e0c6b3f58@monitor.example.net",
                77,
                "OPTIONS",
            ),
            other => panic!("no expectation for {other}"),
        };
        Extracted {
            branch: Some(s(branch)),
            host: s(host),
            port,
            from_tag: from_tag.map(s),
            to_tag: to_tag.map(s),
            call_id: s(call_id),
            cseq,
            method: s(method),
        }
    }

    #[test]
    fn corpus_uses_crlf_and_exact_content_length() {
        for sample in CORPUS {
            let text = std::str::from_utf8(sample.bytes).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(
                !head.replace("\r\n", "").contains('\n'),
                "{}: bare LF",
                sample.name
            );
            assert!(
                !body.replace("\r\n", "").contains('\n'),
                "{}: bare LF",
                sample.name
            );
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(len, body.len(), "{}: Content-Length", sample.name);
        }
        let vias = std::str::from_utf8(CORPUS[4].bytes)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("Via:"))
            .count();
        assert_eq!(vias, 23);
    }

    #[test]
    fn parrot_extracts_expected_fields() {
        for sample in CORPUS {
            let got = work_parrot(sample.bytes)
                .unwrap_or_else(|e| panic!("parrot failed on {}: {e}", sample.name));
            assert_eq!(got, expected(sample.name), "parrot on {}", sample.name);
        }
    }

    #[cfg(feature = "compare")]
    #[test]
    fn rsip_extracts_expected_fields() {
        for sample in CORPUS {
            let got = work_rsip(sample.bytes)
                .unwrap_or_else(|e| panic!("rsip failed on {}: {e}", sample.name));
            assert_eq!(got, expected(sample.name), "rsip on {}", sample.name);
        }
    }

    #[cfg(feature = "compare")]
    #[test]
    fn ezk_extracts_expected_fields() {
        for sample in CORPUS {
            let got = work_ezk(sample.bytes)
                .unwrap_or_else(|e| panic!("ezk failed on {}: {e}", sample.name));
            assert_eq!(got, expected(sample.name), "ezk on {}", sample.name);
        }
    }

    #[cfg(feature = "compare")]
    #[test]
    fn all_libraries_agree() {
        for sample in CORPUS {
            let p = work_parrot(sample.bytes).unwrap();
            assert_eq!(
                p,
                work_rsip(sample.bytes).unwrap(),
                "rsip vs parrot on {}",
                sample.name
            );
            assert_eq!(
                p,
                work_ezk(sample.bytes).unwrap(),
                "ezk vs parrot on {}",
                sample.name
            );
        }
    }
}
