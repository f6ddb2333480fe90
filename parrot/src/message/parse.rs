//! The message parser (RFC 3261 §7, §18.3, §25).
//!
//! One pass over the header block: the start line is split, each header
//! line is cut into name and value as slices of the receive buffer (line
//! folding is the only case that copies), and the headers every layer above
//! relies on are checked so that a message that parses is safe to route.

use super::error::{ParseError, ParseErrorKind};
use super::header_name::HeaderName;
use super::headers::{CoreHeaders, Header, Headers};
use super::method::Method;
use super::request::Request;
use super::response::Response;
use super::status::StatusCode;
use super::text::Text;
use super::typed::{CSeq, CallId, From, MaxForwards, To, Via};
use super::uri::Uri;
use super::version::Version;
use super::{Message, grammar};
use bytes::Bytes;
use memchr::memmem;
use std::sync::LazyLock;

/// Size limits applied while parsing and framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest start line plus header block, in bytes.
    pub max_head: usize,
    /// Largest body, in bytes.
    pub max_body: usize,
    /// Most header lines in one message.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 32 * 1024,
            max_body: 1024 * 1024,
            max_headers: 256,
        }
    }
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A datagram: the body runs to the end of the packet, cut at
    /// Content-Length if present (RFC 3261 §18.3).
    Datagram,
    /// A frame cut from a stream: Content-Length is mandatory and exact.
    Stream,
}

/// Parses one message received as a datagram, with default [`Limits`].
pub fn parse_datagram(buf: Bytes) -> Result<Message, ParseError> {
    parse_datagram_with(buf, &Limits::default())
}

/// Parses one message received as a datagram.
pub fn parse_datagram_with(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse_message(buf, limits, Framing::Datagram)
}

fn err(kind: ParseErrorKind, reason: &'static str, at: usize) -> ParseError {
    ParseError::new(kind, reason).at(at)
}

/// Bit flags for the headers whose presence or uniqueness is checked.
const SEEN_VIA: u8 = 1;
const SEEN_FROM: u8 = 2;
const SEEN_TO: u8 = 4;
const SEEN_CALL_ID: u8 = 8;
const SEEN_CSEQ: u8 = 16;
const SEEN_MAX_FORWARDS: u8 = 32;
const SEEN_CONTENT_LENGTH: u8 = 64;

pub(crate) fn parse_message(
    buf: Bytes,
    limits: &Limits,
    framing: Framing,
) -> Result<Message, ParseError> {
    let bytes = &buf[..];
    // §7.5: CRLFs before the start line are ignored.
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or_else(|| err(ParseErrorKind::StartLine, "Empty message", 0))?;

    // Fast path: when the text from the start of the buffer on is UTF-8
    // (every message with a text body, and any other whose body is cut
    // off below), the header loop finds the blank line itself, saving the
    // searches for it and a second pass for the UTF-8 check. It only
    // decides success: on any error the message is parsed again by the
    // checked path below, so errors and their order are those of the
    // checks made first there (size, termination, UTF-8).
    if let Some(text) = utf8_prefix(&buf, start + limits.max_head + 2)
        && let Ok(m) = parse_head(&buf, &text, 0, start, None, limits, framing)
    {
        return Ok(m);
    }

    // Find the blank line ending the header block: the first "\n\r\n"
    // (CRLF blank line) or "\n\n" (bare LF line ends, accepted for
    // robustness; CRLF is what we write). Two SIMD scans instead of a
    // line-by-line walk.
    static BLANK_CRLF: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\n\r\n"));
    static BLANK_LF: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\n\n"));
    let region = &bytes[start..];
    let crlf = BLANK_CRLF.find(region);
    let lf_scope = crlf.map_or(region.len(), |i| i + 2);
    let lf = BLANK_LF.find(&region[..lf_scope]);
    let (head_end, body_start) = match (lf, crlf) {
        (Some(i), _) => (start + i + 1, start + i + 2),
        (None, Some(i)) => (start + i + 1, start + i + 3),
        (None, None) => {
            if region.len() > limits.max_head {
                return Err(err(
                    ParseErrorKind::TooLarge,
                    "Message header too large",
                    start,
                ));
            }
            return Err(err(
                ParseErrorKind::Header,
                "Header block not terminated by an empty line",
                bytes.len(),
            ));
        }
    };
    if head_end - start > limits.max_head {
        return Err(err(
            ParseErrorKind::TooLarge,
            "Message header too large",
            start,
        ));
    }

    let head = Text::from_utf8(buf.slice(start..head_end)).map_err(|b| {
        let at = std::str::from_utf8(&b).err().map_or(0, |e| e.valid_up_to());
        err(
            ParseErrorKind::Header,
            "Invalid UTF-8 in message header",
            start + at,
        )
    })?;
    parse_head(
        &buf,
        &head,
        start,
        start,
        Some((head_end, body_start)),
        limits,
        framing,
    )
}

/// The longest UTF-8 prefix of `buf`, at most `max` bytes long, as text;
/// `None` if it would be empty.
fn utf8_prefix(buf: &Bytes, max: usize) -> Option<Text> {
    let cut = max.min(buf.len());
    match Text::from_utf8(buf.slice(..cut)) {
        Ok(t) => Some(t),
        // A binary body (or a character cut at `max`): the part before it
        // may still hold the whole head. Rare, so validated twice.
        Err(b) => {
            let valid = std::str::from_utf8(&b).err()?.valid_up_to();
            (valid > 0).then(|| Text::from_utf8(buf.slice(..valid)).ok())?
        }
    }
}

/// Parses the message in `buf` whose start line begins at `start`. `head`
/// is UTF-8 text from `buf[head_at..]` that holds the whole header block.
/// `end` is where the header block ends and the body starts, if known;
/// else the header loop stops at the first blank line, and a head without
/// one or larger than allowed is refused (with an error meant to be
/// discarded: see the fast path in [`parse_message`]).
fn parse_head(
    buf: &Bytes,
    head: &Text,
    head_at: usize,
    start: usize,
    end: Option<(usize, usize)>,
    limits: &Limits,
    framing: Framing,
) -> Result<Message, ParseError> {
    let head_str = &head.as_str()[start - head_at..];
    let checked = end.is_some();
    // What the fast path refuses with: `parse_message` parses such a
    // message again with the checks in their order, which report it.
    let unchecked = || ParseError::new(ParseErrorKind::Header, "Unchecked header block");
    let first_nl = memchr::memchr(b'\n', head_str.as_bytes()).unwrap_or(head_str.len());
    let start_line = head_str[..first_nl]
        .strip_suffix('\r')
        .unwrap_or(&head_str[..first_nl]);
    let start_line_kind = parse_start_line(head, start_line).map_err(|e| e.at(start))?;

    let mut headers = Headers::with_capacity(16);
    let mut seen = 0u8;
    let mut content_length: Option<usize> = None;
    let mut rest = &head_str[(first_nl + 1).min(head_str.len())..];
    let mut offset = start + first_nl + 1;
    // Index in `headers` of the first of each header `validate_headers`
    // decodes, in the order of the `SEEN_*` bits, so it need not search.
    let mut first = [0usize; 6];
    let mut blank = end;
    loop {
        if checked {
            if rest.is_empty() {
                break;
            }
        } else {
            // The first empty line ends the header block (§7): every LF
            // before it ends a line that the previous turn read, so none
            // is missed.
            match rest.as_bytes() {
                [b'\n', ..] => {
                    blank = Some((offset, offset + 1));
                    break;
                }
                [b'\r', b'\n', ..] => {
                    blank = Some((offset, offset + 2));
                    break;
                }
                [] => return Err(unchecked()),
                _ => {}
            }
        }
        // Gather one logical header line: the line plus its continuation
        // lines (those starting with SP/HT; RFC 3261 §7.3.1). The same scan
        // finds every CR that is not part of a line end: a CR is only valid
        // in CRLF (§7.3.1, §25.1), and one pass over the bytes costs half
        // of a search for line ends and another for CRs.
        let rb = rest.as_bytes();
        let mut from = 0;
        let mut folded = false;
        let mut bare_cr = false;
        let end = loop {
            let nl = match memchr::memchr2(b'\r', b'\n', &rb[from..]) {
                Some(i) if rb[from + i] == b'\r' => {
                    let cr = from + i;
                    if !matches!(rb.get(cr + 1), Some(b'\n') | None) {
                        bare_cr = true;
                        from = cr + 1;
                        continue;
                    }
                    cr + 1
                }
                Some(i) => from + i,
                None => rb.len(),
            };
            let next = nl + 1;
            if next < rb.len() && matches!(rb[next], b' ' | b'\t') {
                folded = true;
                from = next;
                continue;
            }
            break nl;
        };
        let logical = &rest[..end];
        let logical = logical.strip_suffix('\r').unwrap_or(logical);
        if headers.len() >= limits.max_headers {
            return Err(err(
                ParseErrorKind::TooLarge,
                "Too many header fields",
                offset,
            ));
        }
        let header = parse_header_line(head, logical, folded, bare_cr).map_err(|e| e.at(offset))?;
        if let Some(known) = header.known_name() {
            let flag = match known {
                HeaderName::Via => SEEN_VIA,
                HeaderName::From => SEEN_FROM,
                HeaderName::To => SEEN_TO,
                HeaderName::CallId => SEEN_CALL_ID,
                HeaderName::CSeq => SEEN_CSEQ,
                HeaderName::MaxForwards => SEEN_MAX_FORWARDS,
                HeaderName::ContentLength => SEEN_CONTENT_LENGTH,
                _ => 0,
            };
            // These headers take exactly one value (RFC 3261 §7.3.1, §20).
            if flag & !SEEN_VIA != 0 && seen & flag != 0 {
                let kind = if flag == SEEN_CONTENT_LENGTH {
                    ParseErrorKind::ContentLength
                } else {
                    ParseErrorKind::Header
                };
                return Err(ParseError::new(kind, format!("Multiple {known} headers")).at(offset));
            }
            if flag != 0 && flag < SEEN_CONTENT_LENGTH && seen & flag == 0 {
                first[flag.trailing_zeros() as usize] = headers.len();
            }
            seen |= flag;
            if known == HeaderName::ContentLength {
                let n = grammar::parse_u64(header.value())
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        err(
                            ParseErrorKind::ContentLength,
                            "Bad Content-Length header",
                            offset,
                        )
                    })?;
                content_length = Some(n);
            }
        }
        headers.push_parsed(header);
        let consumed = (end + 1).min(rest.len());
        offset += consumed;
        rest = &rest[consumed..];
    }

    let Some((head_end, body_start)) = blank else {
        return Err(unchecked());
    };
    if !checked && head_end - start > limits.max_head {
        return Err(unchecked());
    }

    // §8.1.1 / §8.2.2: the mandatory headers, every missing one named
    // (RFC 4475 §3.3.1). Max-Forwards is not among them: a UAS accepts a
    // request without it (RFC 2543 compatibility, RFC 4475 §3.4.1), and a
    // proxy adds one (§16.6 step 3).
    const MANDATORY: u8 = SEEN_VIA | SEEN_FROM | SEEN_TO | SEEN_CALL_ID | SEEN_CSEQ;
    let missing: Vec<&str> = if seen & MANDATORY == MANDATORY {
        Vec::new()
    } else {
        [
            (SEEN_VIA, HeaderName::Via),
            (SEEN_FROM, HeaderName::From),
            (SEEN_TO, HeaderName::To),
            (SEEN_CALL_ID, HeaderName::CallId),
            (SEEN_CSEQ, HeaderName::CSeq),
        ]
        .into_iter()
        .filter(|(flag, _)| seen & flag == 0)
        .map(|(_, name)| name.as_str())
        .collect()
    };
    if !missing.is_empty() {
        let noun = if missing.len() == 1 {
            "header"
        } else {
            "headers"
        };
        return Err(ParseError::new(
            ParseErrorKind::MissingHeader,
            format!("Missing {} {noun}", missing.join(", ")),
        ));
    }

    // Body (§18.3).
    let available = buf.len().saturating_sub(body_start);
    let body_len = match (content_length, framing) {
        (Some(n), _) if n > limits.max_body => {
            return Err(err(
                ParseErrorKind::TooLarge,
                "Message body too large",
                body_start,
            ));
        }
        (Some(n), _) if n > available => {
            return Err(err(
                ParseErrorKind::Body,
                "Content-Length larger than the message body",
                buf.len(),
            ));
        }
        (Some(n), _) => n,
        (None, Framing::Stream) => {
            return Err(err(
                ParseErrorKind::ContentLength,
                "Missing Content-Length header on a stream transport",
                head_end,
            ));
        }
        (None, Framing::Datagram) if available > limits.max_body => {
            return Err(err(
                ParseErrorKind::TooLarge,
                "Message body too large",
                body_start,
            ));
        }
        (None, Framing::Datagram) => available,
    };
    let body = buf.slice(body_start.min(buf.len())..body_start.min(buf.len()) + body_len);

    validate_headers(&mut headers, &start_line_kind, first, seen)?;

    Ok(match start_line_kind {
        StartLine::Request { method, uri } => Message::Request(Request {
            method,
            uri,
            version: Version::V2,
            headers,
            body,
        }),
        StartLine::Response { status, reason } => Message::Response(Response {
            version: Version::V2,
            status,
            reason,
            headers,
            body,
        }),
    })
}

enum StartLine {
    Request { method: Method, uri: Uri },
    Response { status: StatusCode, reason: Text },
}

fn parse_start_line(head: &Text, line: &str) -> Result<StartLine, ParseError> {
    let bad = |r: &'static str| ParseError::new(ParseErrorKind::StartLine, r);
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let (version, rest) =
            grammar::split_once_byte(line, b' ').ok_or_else(|| bad("Bad status line"))?;
        if Version::parse(version).is_none() {
            return Err(ParseError::new(
                ParseErrorKind::Version,
                "Unsupported SIP version",
            ));
        }
        let (code, reason) = grammar::split_once_byte(rest, b' ').unwrap_or((rest, ""));
        if reason.contains('\r') {
            return Err(bad("Bad reason phrase: bare CR"));
        }
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("Bad status code"));
        }
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(StatusCode::from_u16)
            .ok_or_else(|| bad("Status code out of range"))?;
        return Ok(StartLine::Response {
            status,
            reason: head.slice_ref(reason),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1):
    // single spaces, and no whitespace inside the Request-URI. Trailing
    // whitespace carries no meaning; accept it (RFC 4475 trws).
    let line = line.trim_end_matches([' ', '\t']);
    let (method, rest) =
        grammar::split_once_byte(line, b' ').ok_or_else(|| bad("Bad request line"))?;
    let (uri, version) = rest
        .rsplit_once(' ')
        .ok_or_else(|| bad("Bad request line"))?;
    let method = Method::parse(head, method)?;
    if Version::parse(version).is_none() {
        return Err(ParseError::new(
            ParseErrorKind::Version,
            "Unsupported SIP version",
        ));
    }
    if uri.starts_with([' ', '\t']) || uri.ends_with([' ', '\t']) {
        return Err(bad("Bad request line: extra whitespace between elements"));
    }
    if uri.starts_with('<') {
        return Err(ParseError::new(
            ParseErrorKind::Uri,
            "Bad Request-URI: enclosed in angle brackets",
        ));
    }
    let contains_ws =
        || ParseError::new(ParseErrorKind::Uri, "Bad Request-URI: contains whitespace");
    if uri.is_empty() {
        return Err(contains_ws());
    }
    // The URI parser refuses whitespace as it scans: a failed parse is
    // reported as whitespace if there is any, as if that were checked
    // first, without a pass of its own over every Request-URI.
    let uri = Uri::parse(head, uri).map_err(|e| {
        if uri.bytes().any(grammar::is_ws) {
            contains_ws()
        } else {
            e
        }
    })?;
    // §19.1.1 (table of URI components): headers are not allowed in a
    // Request-URI; a proxy must not act on smuggled ones.
    if uri.as_sip().is_some_and(|u| !u.headers().is_empty()) {
        return Err(ParseError::new(
            ParseErrorKind::Uri,
            "Bad Request-URI: headers are not allowed",
        ));
    }
    Ok(StartLine::Request { method, uri })
}

/// Parses one logical header line (its line end removed). `bare_cr` says
/// whether the line holds a CR that is not part of a line end; it is
/// reported after the checks of the name, as if the value were searched.
fn parse_header_line(
    head: &Text,
    line: &str,
    folded: bool,
    bare_cr: bool,
) -> Result<Header, ParseError> {
    // header-name HCOLON: whitespace may precede the colon (`To :`). Fast
    // path for a name that starts the line and is a token, as every name
    // is written: one pass over the name instead of a search for the
    // colon, a trim and a token check.
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && grammar::is_token_byte(b[i]) {
        i += 1;
    }
    let name_end = i;
    while i < b.len() && grammar::is_ws(b[i]) {
        i += 1;
    }
    let (name, colon) = if name_end > 0 && b.get(i) == Some(&b':') {
        // Neither token bytes nor whitespace are colons: this is the
        // first colon, and the name needs no trimming.
        (&line[..name_end], i)
    } else {
        let colon = memchr::memchr(b':', b)
            .ok_or_else(|| ParseError::new(ParseErrorKind::Header, "Bad header line: no colon"))?;
        let name = grammar::trim_ws(&line[..colon]);
        if !grammar::is_token(name) {
            return Err(ParseError::new(ParseErrorKind::Header, "Bad header name"));
        }
        (name, colon)
    };
    // A CR is only valid as part of a line end (§7.3.1, §25.1). The name
    // and the whitespace before the colon hold none, so it is in the value.
    if bare_cr {
        return Err(ParseError::new(
            ParseErrorKind::Header,
            "Bad header value: bare CR",
        ));
    }
    let raw_value = &line[colon + 1..];
    let value = if folded {
        Text::from(unfold(raw_value))
    } else {
        head.slice_ref(grammar::trim_ws(raw_value))
    };
    // Names spelled canonically (the common case) point at static text.
    Ok(match HeaderName::lookup_spelled(name) {
        Some((known, true)) => {
            Header::from_parts(Text::from_static(known.as_str()), Some(known), value)
        }
        Some((known, false)) => Header::from_parts(head.slice_ref(name), Some(known), value),
        None => Header::from_parts(head.slice_ref(name), None, value),
    })
}

/// Replaces each line break and the whitespace around it by one space
/// (RFC 3261 §7.3.1: folded LWS is equivalent to a single SP).
fn unfold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, piece) in raw.split('\n').enumerate() {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        if i == 0 {
            out.push_str(grammar::trim_ws(piece));
        } else {
            let piece = grammar::trim_ws(piece);
            if !piece.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(piece);
            }
        }
    }
    out
}

/// Checks the headers the transaction and dialog layers read, so that a
/// parsed message can always be matched and answered. `first` holds the
/// index of the first header of each `SEEN_*` bit set in `seen` (the
/// mandatory ones are all present by now).
fn validate_headers(
    headers: &mut Headers,
    start: &StartLine,
    first: [usize; 6],
    seen: u8,
) -> Result<(), ParseError> {
    let at = |flag: u8| first[flag.trailing_zeros() as usize];
    let cseq: CSeq = headers.typed_at(at(SEEN_CSEQ))?;
    if let StartLine::Request { method, .. } = start {
        // §8.1.1.5 / §8.2: the CSeq method matches the request method.
        if cseq.method != *method {
            return Err(ParseError::new(
                ParseErrorKind::Header,
                "Bad CSeq header: method does not match the request",
            ));
        }
        if seen & SEEN_MAX_FORWARDS != 0 {
            headers.typed_at::<MaxForwards>(at(SEEN_MAX_FORWARDS))?;
        }
    }
    // Only the top Via is read by this hop (§17.2.3 matching, §18.2.2
    // response routing); the others are opaque until they become the top.
    let via: Via = headers.typed_at(at(SEEN_VIA))?;
    let from: From = headers.typed_at(at(SEEN_FROM))?;
    let to: To = headers.typed_at(at(SEEN_TO))?;
    headers.typed_at::<CallId>(at(SEEN_CALL_ID))?;
    // Keep what was decoded: every layer above reads these.
    headers.set_core(CoreHeaders {
        via,
        from,
        to,
        cseq,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason `head` (a request head without its blank line) is
    /// refused for.
    fn refused(head: &str) -> String {
        let raw = format!("{head}\r\n\r\n");
        match parse_datagram(Bytes::from(raw)) {
            Ok(m) => panic!("{head:?} parsed: {m:?}"),
            Err(e) => e.reason().to_owned(),
        }
    }

    const REQUEST: &str = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS";

    #[test]
    fn header_line_errors_keep_their_order() {
        // A CR in the name is a bad name, not a bare CR.
        assert_eq!(
            refused(&format!("{REQUEST}\r\nX-F\roo: 1")),
            "Bad header name"
        );
        // No colon at all wins over a bare CR.
        assert_eq!(
            refused(&format!("{REQUEST}\r\nX-Foo 1\r")),
            "Bad header line: no colon"
        );
        assert_eq!(
            refused(&format!("{REQUEST}\r\nX-Foo: 1\r2")),
            "Bad header value: bare CR"
        );
        assert_eq!(
            refused(&format!("{REQUEST}\r\nX-Foo: 1\r\n 2\r3")),
            "Bad header value: bare CR"
        );
        assert_eq!(
            refused(&format!("{REQUEST}\r\nX Foo: 1")),
            "Bad header name"
        );
        assert_eq!(refused(&format!("{REQUEST}\r\n: 1")), "Bad header name");
    }

    #[test]
    fn head_found_whatever_the_body() {
        // A binary body: the head is still found without the checked path.
        let mut raw = format!("{REQUEST}\r\nContent-Length: 3\r\n\r\n").into_bytes();
        raw.extend_from_slice(&[0xff, b'\n', 0xfe]);
        let Message::Request(req) = parse_datagram(Bytes::from(raw)).unwrap() else {
            panic!()
        };
        assert_eq!(&req.body[..], &[0xff, b'\n', 0xfe]);
        // Bare LF line ends, and a body that looks like headers.
        let raw = format!("{}\n\nX: y\r\n\r\n", REQUEST.replace("\r\n", "\n"));
        let Message::Request(req) = parse_datagram(Bytes::from(raw)).unwrap() else {
            panic!()
        };
        assert_eq!(req.headers.len(), 5);
        assert_eq!(&req.body[..], b"X: y\r\n\r\n");
        // Invalid UTF-8 in the head is named, wherever the blank line is.
        let mut raw = b"OPTIONS sip:a@b SIP/2.0\r\nX: \xff\r\n".to_vec();
        raw.extend_from_slice(&REQUEST.as_bytes()[23..]);
        raw.extend_from_slice(b"\r\n\r\n");
        let e = parse_datagram(Bytes::from(raw)).unwrap_err();
        assert_eq!(e.reason(), "Invalid UTF-8 in message header");
    }

    #[test]
    fn names_spelled_any_way() {
        let raw = format!(
            "{REQUEST}\r\nsubject : a\r\n\t b\r\nS: c\r\nX-Foo\t:d\r\nCONTENT-length: 0\r\n\r\n"
        );
        let Message::Request(req) = parse_datagram(Bytes::from(raw)).unwrap() else {
            panic!()
        };
        let h: Vec<(&str, Option<HeaderName>, &str)> = req
            .headers
            .iter()
            .map(|h| (h.name().as_str(), h.known_name(), h.value().as_str()))
            .collect();
        assert_eq!(
            h[0],
            (
                "Via",
                Some(HeaderName::Via),
                "SIP/2.0/UDP h;branch=z9hG4bK1"
            )
        );
        assert_eq!(h[5], ("subject", Some(HeaderName::Subject), "a b"));
        assert_eq!(h[6], ("S", Some(HeaderName::Subject), "c"));
        assert_eq!(h[7], ("X-Foo", None, "d"));
        assert_eq!(
            h[8],
            ("CONTENT-length", Some(HeaderName::ContentLength), "0")
        );
    }

    #[test]
    fn request_uri_whitespace_is_named_before_other_faults() {
        assert_eq!(
            refused("OPTIONS sip:a@b\x01\tc SIP/2.0"),
            "Bad Request-URI: contains whitespace"
        );
        assert_eq!(
            refused("OPTIONS sip:a@b\x01c SIP/2.0"),
            "Bad URI: control character in URI"
        );
    }
}
