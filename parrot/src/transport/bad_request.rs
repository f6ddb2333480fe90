//! Best-effort answers to requests that cannot be parsed (RFC 3261 §8.2.6,
//! §21.4.1, §21.5.14).
//!
//! A request that fails to parse may still carry intact Via, From, To,
//! Call-ID and CSeq lines: enough for the sender to match a `400` to its
//! client transaction (§17.1.3). The extractor here reads those lines from
//! the raw bytes without trusting anything else in the message.

use crate::message::{HeaderName, ParseError, ParseErrorKind, Response, StatusCode};

/// The longest reason phrase copied from a parse error.
const MAX_REASON: usize = 160;

/// The header lines a response needs, read raw from a request that could
/// not be parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRequestHeaders {
    /// The method token of the request line, if it looks like one.
    pub method: Option<String>,
    /// Every Via header value, in order (a line may hold a comma list).
    pub via: Vec<String>,
    /// The first From value.
    pub from: Option<String>,
    /// The first To value.
    pub to: Option<String>,
    /// The first Call-ID value.
    pub call_id: Option<String>,
    /// The first CSeq value.
    pub cseq: Option<String>,
}

/// Which captured header a line belongs to.
#[derive(Clone, Copy)]
enum Slot {
    Via,
    From,
    To,
    CallId,
    CSeq,
}

impl RawRequestHeaders {
    /// Reads the header lines of `raw`. `None` if `raw` is empty or starts
    /// with a status line (a response is never answered). Invalid UTF-8 is
    /// replaced, control characters become spaces and folded lines are
    /// joined (§7.3.1); names match in long or compact form.
    pub fn extract(raw: &[u8]) -> Option<RawRequestHeaders> {
        let start = raw.iter().position(|&b| b != b'\r' && b != b'\n')?;
        let raw = &raw[start..];
        if raw.len() >= 4 && raw[..4].eq_ignore_ascii_case(b"SIP/") {
            return None;
        }
        let mut lines = raw
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let request_line = lines.next()?;
        let method = request_line
            .split(|&b| b == b' ')
            .next()
            .filter(|m| {
                !m.is_empty() && m.iter().all(|&b| crate::message::grammar::is_token_byte(b))
            })
            .map(|m| String::from_utf8_lossy(m).into_owned());

        let mut out = RawRequestHeaders {
            method,
            ..RawRequestHeaders::default()
        };
        // The slot the previous line filled, for folded continuation lines.
        let mut current: Option<Slot> = None;
        for line in lines {
            if line.is_empty() {
                break; // end of the header block
            }
            if matches!(line[0], b' ' | b'\t') {
                if let Some(slot) = current {
                    let more = clean(line);
                    if let Some(v) = out.slot_mut(slot)
                        && !more.is_empty()
                    {
                        v.push(' ');
                        v.push_str(&more);
                    }
                }
                continue;
            }
            current = None;
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let name = String::from_utf8_lossy(&line[..colon]);
            let slot = match HeaderName::lookup(name.trim_matches([' ', '\t'])) {
                Some(HeaderName::Via) => Slot::Via,
                Some(HeaderName::From) => Slot::From,
                Some(HeaderName::To) => Slot::To,
                Some(HeaderName::CallId) => Slot::CallId,
                Some(HeaderName::CSeq) => Slot::CSeq,
                _ => continue,
            };
            let value = clean(&line[colon + 1..]);
            match slot {
                Slot::Via => out.via.push(value),
                Slot::From => set_once(&mut out.from, value),
                Slot::To => set_once(&mut out.to, value),
                Slot::CallId => set_once(&mut out.call_id, value),
                Slot::CSeq => set_once(&mut out.cseq, value),
            }
            current = Some(slot);
        }
        Some(out)
    }

    /// Whether a response can be sent back: at least one non-empty Via.
    /// From, To, Call-ID and CSeq are copied when present; a request
    /// missing some is still answered (RFC 4475 §3.3.1), even though its
    /// sender may be unable to match the answer.
    pub fn is_addressable(&self) -> bool {
        // A Via is what routes the answer back (§18.2.2); the rest is
        // copied when present.
        self.via.iter().any(|v| !v.is_empty())
    }

    fn slot_mut(&mut self, slot: Slot) -> Option<&mut String> {
        match slot {
            Slot::Via => self.via.last_mut(),
            Slot::From => self.from.as_mut(),
            Slot::To => self.to.as_mut(),
            Slot::CallId => self.call_id.as_mut(),
            Slot::CSeq => self.cseq.as_mut(),
        }
    }
}

/// Keeps the first occurrence of a single-valued header.
fn set_once(slot: &mut Option<String>, value: String) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// Lossy UTF-8, control characters replaced by spaces, whitespace trimmed.
fn clean(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.trim_matches(' ').to_owned()
}

/// Builds the error response to a request that failed to parse, or `None`
/// when none must or can be sent: `raw` is a response or an ACK (never
/// answered, §17.1.1.3 / §17.2.1), or lacks the headers needed to address
/// one ([`RawRequestHeaders::is_addressable`]).
///
/// The status is `513 Message Too Large` for a request over the size limits
/// (§21.5.14) and `400` otherwise, with the parse error's reason as the
/// reason phrase (§21.4.1). Via, From, To, Call-ID and CSeq are copied
/// (§8.2.6.2); a To tag is added if there is none.
pub fn error_response(raw: &[u8], error: &ParseError) -> Option<Response> {
    let h = RawRequestHeaders::extract(raw)?;
    if h.method.as_deref() == Some("ACK") || !h.is_addressable() {
        return None;
    }
    let status = match error.kind() {
        ParseErrorKind::TooLarge => StatusCode::MESSAGE_TOO_LARGE,
        // §8.2, §21.5.6 (RFC 4475 §3.1.2.16): another SIP version.
        ParseErrorKind::Version => StatusCode::VERSION_NOT_SUPPORTED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut reason = error.reason().trim();
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason = &reason[..end];
    }
    let reason = if reason.is_empty() {
        status.reason().to_owned()
    } else {
        reason.to_owned()
    };
    let mut b = Response::builder(status).reason(reason);
    for via in h.via.into_iter().filter(|v| !v.is_empty()) {
        b = b.append(HeaderName::Via, via);
    }
    // What the request lacks, the answer lacks too (RFC 4475 §3.3.1: a
    // request missing Call-ID, From or To still gets its 400).
    let present = |v: Option<String>| v.filter(|s| !s.is_empty());
    if let Some(from) = present(h.from) {
        b = b.append(HeaderName::From, from);
    }
    if let Some(mut to) = present(h.to) {
        if !has_tag(&to) {
            to.push_str(";tag=");
            to.push_str(&new_tag());
        }
        b = b.append(HeaderName::To, to);
    }
    if let Some(call_id) = present(h.call_id) {
        b = b.append(HeaderName::CallId, call_id);
    }
    if let Some(cseq) = present(h.cseq) {
        b = b.append(HeaderName::CSeq, cseq);
    }
    Some(b.build())
}

/// Whether a To value carries a `tag` header parameter (after the `>` of a
/// name-addr, or anywhere in an addr-spec, §20.10).
fn has_tag(to: &str) -> bool {
    let params = to.rfind('>').map_or(to, |i| &to[i..]);
    params.split(';').skip(1).any(|p| {
        p.trim_matches([' ', '\t'])
            .get(..4)
            .is_some_and(|n| n.eq_ignore_ascii_case("tag="))
    })
}

/// A fresh random tag (§19.3: at least 32 bits of randomness).
fn new_tag() -> String {
    crate::random::tag().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse_datagram};

    const GOOD_HEADERS: &str = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
        v: SIP/2.0/UDP proxy.example;branch=z9hG4bK0, SIP/2.0/UDP p2.example\r\n\
        f: <sip:alice@example.com>;tag=abc\r\n\
        To: <sip:bob@example.com>\r\n\
        i: call-1@example\r\n\
        CSeq: 7 OPTIONS\r\n";

    fn bad(s: &str) -> Option<Response> {
        let err = match parse_datagram(s.to_owned().into()) {
            Err(e) => e,
            Ok(_) => panic!("parsed: {s:?}"),
        };
        error_response(s.as_bytes(), &err)
    }

    #[test]
    fn extracts_raw_lines() {
        let raw = format!(
            "\r\nOPTIONS sip:bob@example.com SIP/2.0\r\n{GOOD_HEADERS}Max-Forwards: x\r\n\r\nbody"
        );
        let h = RawRequestHeaders::extract(raw.as_bytes()).unwrap();
        assert_eq!(h.method.as_deref(), Some("OPTIONS"));
        assert_eq!(
            h.via,
            vec![
                "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
                "SIP/2.0/UDP proxy.example;branch=z9hG4bK0, SIP/2.0/UDP p2.example"
            ]
        );
        assert_eq!(h.from.as_deref(), Some("<sip:alice@example.com>;tag=abc"));
        assert_eq!(h.to.as_deref(), Some("<sip:bob@example.com>"));
        assert_eq!(h.call_id.as_deref(), Some("call-1@example"));
        assert_eq!(h.cseq.as_deref(), Some("7 OPTIONS"));
        assert!(h.is_addressable());
    }

    #[test]
    fn folding_lossy_and_first_wins() {
        let raw = b"FOO sip:x SIP/2.0\nVia: SIP/2.0/UDP h\n ;branch=z9hG4bK1\nTo: <sip:\xffb@x>\nTo: second\r\nCall-ID: a\x00b\n\nVia: after body\n";
        let h = RawRequestHeaders::extract(raw).unwrap();
        assert_eq!(h.via, vec!["SIP/2.0/UDP h ;branch=z9hG4bK1"]);
        assert_eq!(h.to.as_deref(), Some("<sip:\u{fffd}b@x>"));
        assert_eq!(h.call_id.as_deref(), Some("a b"));
        assert!(h.is_addressable(), "a Via is enough to answer");
    }

    #[test]
    fn builds_400_with_reason() {
        let r = bad(&format!("OPTIONS sip:bob@example.com SIP/2.0\r\n{GOOD_HEADERS}Max-Forwards: 70\r\nCSeq: 8 OPTIONS\r\n\r\n"))
            .unwrap();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.reason, "Multiple CSeq headers");
        let bytes = r.to_bytes();
        let Ok(Message::Response(parsed)) = parse_datagram(bytes) else {
            panic!("400 does not parse")
        };
        assert_eq!(parsed.headers.count(HeaderName::Via), 3);
        assert_eq!(parsed.headers.get(HeaderName::CSeq).unwrap(), "7 OPTIONS");
        assert_eq!(
            parsed.headers.get(HeaderName::CallId).unwrap(),
            "call-1@example"
        );
        let to = parsed.headers.get(HeaderName::To).unwrap();
        assert!(to.starts_with("<sip:bob@example.com>;tag="), "{to}");
    }

    #[test]
    fn keeps_existing_to_tag() {
        let raw = format!(
            "BYE sip:bob@example.com SIP/2.0\r\n{}Max-Forwards: 70\r\n\r\n",
            GOOD_HEADERS.replace(
                "To: <sip:bob@example.com>",
                "To: <sip:bob@example.com> ; TAG=xyz"
            )
        );
        let r = error_response(
            raw.as_bytes(),
            &ParseError::new(ParseErrorKind::Header, "Bad thing"),
        )
        .unwrap();
        assert_eq!(
            r.headers.get(HeaderName::To).unwrap(),
            "<sip:bob@example.com> ; TAG=xyz"
        );
        assert!(has_tag("sip:bob@example.com;tag=1"));
        assert!(!has_tag("<sip:bob@example.com;tag=1>"));
        assert!(!has_tag("<sip:bob@example.com>;tagx=1"));
    }

    #[test]
    fn too_large_is_513() {
        let raw = format!("OPTIONS sip:x SIP/2.0\r\n{GOOD_HEADERS}\r\n");
        let r = error_response(
            raw.as_bytes(),
            &ParseError::new(ParseErrorKind::TooLarge, "Message body too large"),
        )
        .unwrap();
        assert_eq!(r.status, StatusCode::MESSAGE_TOO_LARGE);
        assert_eq!(r.reason, "Message body too large");
    }

    #[test]
    fn refuses_what_cannot_be_answered() {
        let e = ParseError::new(ParseErrorKind::Header, "x");
        // Responses and ACKs are never answered.
        let resp = format!("SIP/2.0 200 OK\r\n{GOOD_HEADERS}\r\n");
        assert_eq!(RawRequestHeaders::extract(resp.as_bytes()), None);
        assert!(error_response(resp.as_bytes(), &e).is_none());
        let ack = format!("ACK sip:x SIP/2.0\r\n{GOOD_HEADERS}\r\n");
        assert!(error_response(ack.as_bytes(), &e).is_none());
        // Without a Via there is nowhere to send an answer.
        let no_via =
            "INVITE sip:x SIP/2.0\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        assert!(error_response(no_via.as_bytes(), &e).is_none());
        let empty_via = "INVITE sip:x SIP/2.0\r\nVia:\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        assert!(error_response(empty_via.as_bytes(), &e).is_none());
        // Pure garbage.
        for g in [
            &b""[..],
            b"\r\n\r\n",
            b"\xff\xfe\x00",
            b"hello",
            b":::\n:::\n\n",
        ] {
            assert!(error_response(g, &e).is_none());
        }
    }

    #[test]
    fn a_request_missing_call_id_from_or_to_still_gets_its_400() {
        // RFC 4475 §3.3.1: what is there is copied, what is not is left out.
        let raw = format!(
            "INVITE sip:x SIP/2.0\r\n{}\r\n",
            GOOD_HEADERS
                .replace("i: call-1@example\r\n", "")
                .replace("f: <sip:alice@example.com>;tag=abc\r\n", "")
        );
        let e = ParseError::new(
            ParseErrorKind::MissingHeader,
            "Missing From, Call-ID headers",
        );
        let r = error_response(raw.as_bytes(), &e).unwrap();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.reason, "Missing From, Call-ID headers");
        assert!(!r.headers.contains(HeaderName::CallId));
        assert!(!r.headers.contains(HeaderName::From));
        assert_eq!(r.headers.get(HeaderName::CSeq).unwrap(), "7 OPTIONS");
        assert_eq!(r.headers.count(HeaderName::Via), 3);
    }

    #[test]
    fn another_sip_version_is_505() {
        let raw = format!("OPTIONS sip:x SIP/7.0\r\n{GOOD_HEADERS}\r\n");
        let e = ParseError::new(ParseErrorKind::Version, "Unsupported SIP version");
        let r = error_response(raw.as_bytes(), &e).unwrap();
        assert_eq!(r.status, StatusCode::VERSION_NOT_SUPPORTED);
    }

    #[test]
    fn long_reason_is_cut() {
        let raw = format!("OPTIONS sip:x SIP/2.0\r\n{GOOD_HEADERS}\r\n");
        let long = "é".repeat(200);
        let r = error_response(
            raw.as_bytes(),
            &ParseError::new(ParseErrorKind::Header, long),
        )
        .unwrap();
        assert!(r.reason.len() <= MAX_REASON && !r.reason.is_empty());
    }

    #[test]
    fn tags_differ() {
        assert_ne!(new_tag(), new_tag());
    }
}
