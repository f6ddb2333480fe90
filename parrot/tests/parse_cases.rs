//! Hand-written cases for each construct the parser and the stream framer
//! must handle (RFC 3261 §7, §18.3, §20, §25; RFC 5626 §3.5.1 keep-alives).

use bytes::Bytes;
use parrot::message::typed::{CSeq, From, MaxForwards};
use parrot::message::{
    Frame, Limits, Message, ParseError, ParseErrorKind, Request, Response, StreamDecoder,
    parse_datagram, parse_datagram_with,
};
use parrot::message::{HeaderName, Method};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The mandatory headers of a request (RFC 3261 §8.1.1), in order.
const REQUEST_HEADERS: [&str; 6] = [
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@biloxi.example.com>",
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
];

/// The headers every response carries (RFC 3261 §8.2.6.2).
const RESPONSE_HEADERS: [&str; 5] = [
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
];

/// A message: the start line, the header lines, CRLFs and the body.
fn build(start: &str, headers: &[&str], body: &[u8]) -> Bytes {
    let mut out = Vec::new();
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// An INVITE with the mandatory headers plus `extra`.
fn invite(extra: &[&str], body: &[u8]) -> Bytes {
    let mut h: Vec<&str> = REQUEST_HEADERS.to_vec();
    h.extend_from_slice(extra);
    build("INVITE sip:bob@biloxi.example.com SIP/2.0", &h, body)
}

/// An INVITE with the mandatory headers, one of them replaced: the line
/// starting with `name:` becomes `line` (or is dropped if `line` is None).
fn invite_with(name: &str, line: Option<&str>, extra: &[&str]) -> Bytes {
    let prefix = format!("{name}:");
    let mut h: Vec<&str> = REQUEST_HEADERS
        .iter()
        .copied()
        .filter(|l| !l.starts_with(&prefix))
        .collect();
    assert_eq!(h.len(), REQUEST_HEADERS.len() - 1, "no {name} header");
    h.extend(line);
    h.extend_from_slice(extra);
    h.push("Content-Length: 0");
    build("INVITE sip:bob@biloxi.example.com SIP/2.0", &h, b"")
}

fn ok_with(raw: &Bytes, limits: &Limits) -> Message {
    match parse_datagram_with(raw.clone(), limits) {
        Ok(m) => m,
        Err(e) => panic!(
            "refused: {e} (kind {:?})\n{}",
            e.kind(),
            String::from_utf8_lossy(raw)
        ),
    }
}

/// Parses `raw`, which must be accepted, and checks that the serialized
/// form parses back to the same message.
fn ok(raw: &Bytes) -> Message {
    let m = ok_with(raw, &Limits::default());
    let out = m.to_bytes();
    let again = parse_datagram(out.clone())
        .unwrap_or_else(|e| panic!("own output refused: {e}\n{}", String::from_utf8_lossy(&out)));
    // The serializer always writes a Content-Length (appended if absent).
    let mut expected = m.clone();
    if !expected.headers().contains(HeaderName::ContentLength) {
        let n = expected.body().len().to_string();
        expected.headers_mut().append(HeaderName::ContentLength, n);
    }
    assert_eq!(again, expected, "round trip changed the message");
    assert_eq!(again.to_bytes(), out);
    m
}

fn ok_request(raw: &Bytes) -> Request {
    match ok(raw) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn ok_response(raw: &Bytes) -> Response {
    match ok(raw) {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

fn err_with(raw: &Bytes, limits: &Limits) -> ParseError {
    match parse_datagram_with(raw.clone(), limits) {
        Ok(m) => panic!("accepted:\n{}\nas {m:?}", String::from_utf8_lossy(raw)),
        Err(e) => {
            assert!(!e.reason().is_empty());
            assert!(!e.reason().contains(['\r', '\n']));
            e
        }
    }
}

/// Parses `raw`, which must be refused with a reason containing `word`.
fn err(raw: &Bytes, word: &str) -> ParseError {
    let e = err_with(raw, &Limits::default());
    assert!(
        e.reason()
            .to_ascii_lowercase()
            .contains(&word.to_ascii_lowercase()),
        "reason {:?} does not mention {word:?}",
        e.reason()
    );
    e
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------
// Header lines
// ---------------------------------------------------------------------------

#[test]
fn line_folding_in_values() {
    let raw = invite(
        &[
            "Subject: I know you're there,\r\n   pick up the phone\r\n\tand talk to me!",
            "X-Folded: a\r\n b\r\n  \r\n c",
            "Content-Length: 0",
        ],
        b"",
    );
    let req = ok_request(&raw);
    assert_eq!(
        req.headers.get("subject").unwrap(),
        "I know you're there, pick up the phone and talk to me!"
    );
    assert_eq!(req.headers.get("x-folded").unwrap(), "a b c");
    // Written back on one line.
    let out = text(&req.to_bytes());
    assert!(
        out.contains("\r\nSubject: I know you're there, pick up the phone and talk to me!\r\n")
    );
}

#[test]
fn folded_list_header_and_folded_mandatory_header() {
    let raw = build(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        &[
            "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,\r\n SIP/2.0/TCP b.example.com;branch=z9hG4bK2",
            "Max-Forwards:\r\n 70",
            "To: <sip:bob@biloxi.example.com>",
            "From: <sip:alice@atlanta.example.com>\r\n ;tag=1",
            "Call-ID: abc",
            "CSeq: 1\r\n OPTIONS",
            "Content-Length: 0",
        ],
        b"",
    );
    let req = ok_request(&raw);
    assert_eq!(req.headers.count(HeaderName::Via), 2);
    let vias: Vec<&str> = req.headers.values("v").collect();
    assert_eq!(
        vias,
        [
            "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
            "SIP/2.0/TCP b.example.com;branch=z9hG4bK2"
        ]
    );
    assert_eq!(req.headers.typed::<MaxForwards>().unwrap().unwrap().0, 70);
    assert_eq!(
        req.headers.typed::<CSeq>().unwrap().unwrap(),
        CSeq::new(1, Method::Options)
    );
}

#[test]
fn whitespace_before_colon() {
    let raw = build(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        &[
            "Via : SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
            "Max-Forwards\t: 70",
            "TO :<sip:bob@biloxi.example.com>",
            "From   :   <sip:alice@atlanta.example.com>;tag=1",
            "Call-ID: abc",
            "CSeq :1 OPTIONS",
            "X-Thing  : value",
            "Content-Length : 0",
        ],
        b"",
    );
    let req = ok_request(&raw);
    assert_eq!(
        req.headers.get("to").unwrap(),
        "<sip:bob@biloxi.example.com>"
    );
    assert_eq!(
        req.headers.get(HeaderName::To).unwrap(),
        "<sip:bob@biloxi.example.com>"
    );
    assert_eq!(req.headers.get("x-thing").unwrap(), "value");
    assert_eq!(req.headers.get("content-length").unwrap(), "0");
    // The name is kept as written, without the whitespace.
    let names: Vec<&str> = req.headers.iter().map(|h| h.name().as_str()).collect();
    assert_eq!(names[2], "TO");
    assert!(text(&req.to_bytes()).contains("\r\nTO: <sip:bob@biloxi.example.com>\r\n"));
}

/// Every compact form of RFC 3261 §7.3.3 and its extensions.
const COMPACT: [(&str, &str, &str); 17] = [
    (
        "i",
        "Call-ID",
        "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com",
    ),
    ("m", "Contact", "<sip:alice@pc33.atlanta.example.com>"),
    ("e", "Content-Encoding", "gzip"),
    ("l", "Content-Length", "0"),
    ("c", "Content-Type", "application/sdp"),
    ("f", "From", "<sip:alice@atlanta.example.com>;tag=88sja8x"),
    ("s", "Subject", "Need more boxes"),
    ("k", "Supported", "100rel, timer"),
    ("t", "To", "<sip:bob@biloxi.example.com>"),
    (
        "v",
        "Via",
        "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8",
    ),
    ("o", "Event", "refer"),
    ("u", "Allow-Events", "presence, dialog"),
    ("r", "Refer-To", "<sip:carol@chicago.example.com>"),
    ("b", "Referred-By", "<sip:alice@atlanta.example.com>"),
    ("x", "Session-Expires", "1800;refresher=uac"),
    (
        "y",
        "Identity",
        "ZYNBbHC00VMZr2kZt6VmCvPonWJMGvQTBDqghoWeLxJfzB2a1pxAr3VgrB0SsSAa",
    ),
    ("a", "Accept-Contact", "*;audio;require"),
];

#[test]
fn compact_names_kept_and_found() {
    let mut lines: Vec<String> = vec!["Max-Forwards: 70".into(), "CSeq: 1 REFER".into()];
    lines.extend(COMPACT.iter().map(|(c, _, v)| format!("{c}: {v}")));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let raw = build("REFER sip:bob@biloxi.example.com SIP/2.0", &refs, b"");
    let req = ok_request(&raw);
    let out = text(&req.to_bytes());
    for (c, long, v) in COMPACT {
        assert_eq!(req.headers.get(long).map(|t| t.as_str()), Some(v), "{long}");
        assert_eq!(req.headers.get(c).map(|t| t.as_str()), Some(v), "{c}");
        assert_eq!(
            req.headers.get(long.to_ascii_uppercase().as_str()),
            req.headers.get(c)
        );
        let known = HeaderName::lookup(long).unwrap();
        assert_eq!(known.compact(), c.chars().next());
        assert_eq!(req.headers.get(known).map(|t| t.as_str()), Some(v));
        // Written back in the form it came in.
        assert!(
            out.contains(&format!("\r\n{c}: {v}\r\n")),
            "{c} not kept:\n{out}"
        );
        assert!(
            !out.contains(&format!("\r\n{long}: ")),
            "{long} rewritten:\n{out}"
        );
    }
    // Upper-case compact forms are the same headers.
    let raw = build(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        &[
            "V: SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
            "Max-Forwards: 70",
            "T: <sip:bob@biloxi.example.com>",
            "F: <sip:alice@atlanta.example.com>;tag=1",
            "I: abc",
            "CSeq: 1 OPTIONS",
            "L: 0",
        ],
        b"",
    );
    let req = ok_request(&raw);
    assert_eq!(req.headers.get("call-id").unwrap(), "abc");
    assert!(text(&req.to_bytes()).contains("\r\nI: abc\r\n"));
}

#[test]
fn leading_zeros() {
    let raw = build(
        "INVITE sip:bob@biloxi.example.com SIP/2.0",
        &[
            "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
            "Max-Forwards: 0070",
            "To: <sip:bob@biloxi.example.com>",
            "From: <sip:alice@atlanta.example.com>;tag=1",
            "Call-ID: abc",
            "CSeq: 0000042 INVITE",
            "Content-Length: 0005",
        ],
        b"hello",
    );
    let req = ok_request(&raw);
    assert_eq!(
        req.headers.typed::<MaxForwards>().unwrap().unwrap(),
        MaxForwards(70)
    );
    assert_eq!(req.headers.typed::<CSeq>().unwrap().unwrap().seq, 42);
    assert_eq!(&req.body[..], b"hello");
    // A correct Content-Length is written back as it came.
    let out = text(&req.to_bytes());
    assert!(out.contains("\r\nContent-Length: 0005\r\n"), "{out}");
    assert!(out.contains("\r\nMax-Forwards: 0070\r\n"), "{out}");
}

#[test]
fn empty_header_values() {
    let raw = invite(
        &[
            "Subject:",
            "Supported:",
            "Organization:   ",
            "X-Nothing:",
            "Content-Length: 0",
        ],
        b"",
    );
    let req = ok_request(&raw);
    for name in ["subject", "supported", "organization", "x-nothing"] {
        assert_eq!(req.headers.get(name).unwrap(), "", "{name}");
    }
    // An empty list has no elements.
    assert_eq!(req.headers.count(HeaderName::Supported), 0);
}

#[test]
fn utf8_in_display_names_and_reason_phrases() {
    let from = "From: \"Jörg Müller 日本 \\\"Jo\\\"\" <sip:joerg@example.com>;tag=12";
    let raw = invite_with("From", Some(from), &["Subject: Grüße 👋"]);
    let req = ok_request(&raw);
    assert_eq!(
        req.headers.get(HeaderName::From).unwrap(),
        &from["From: ".len()..]
    );
    assert_eq!(req.headers.get("subject").unwrap(), "Grüße 👋");
    typed_utf8_display_name(&req);

    let raw = build("SIP/2.0 486 Occupé – 話し中 ☎", &RESPONSE_HEADERS, b"");
    let resp = ok_response(&raw);
    assert_eq!(resp.status.as_u16(), 486);
    assert_eq!(resp.reason, "Occupé – 話し中 ☎");
    assert!(
        resp.to_bytes()
            .starts_with("SIP/2.0 486 Occupé – 話し中 ☎\r\n".as_bytes())
    );
}

#[test]
fn invalid_utf8_in_header_refused() {
    // Header text is UTF-8 (RFC 3261 §25.1, TEXT-UTF8char); a Latin-1
    // byte is not.
    let mut raw = invite(&["Subject: caf", "Content-Length: 0"], b"").to_vec();
    let at = raw.windows(3).position(|w| w == b"caf").unwrap() + 3;
    raw.insert(at, 0xE9);
    let e = err_with(&Bytes::from(raw), &Limits::default());
    assert_eq!(e.kind(), ParseErrorKind::Header);
}

#[test]
fn response_reason_may_be_empty_or_missing() {
    let resp = ok_response(&build("SIP/2.0 180 ", &RESPONSE_HEADERS, b""));
    assert_eq!(resp.reason, "");
    // Without even the space (a liberal receiver accepts it).
    let resp = ok_response(&build("SIP/2.0 180", &RESPONSE_HEADERS, b""));
    assert_eq!(resp.reason, "");
}

// ---------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------

#[test]
fn binary_body_with_nul_and_bare_cr() {
    let body: &[u8] = b"\x00\x01\r\x00\xff\xfe\r\n\r\n\nend\r";
    let cl = format!("Content-Length: {}", body.len());
    let raw = invite(&["Content-Type: application/octet-stream", &cl], body);
    let req = ok_request(&raw);
    assert_eq!(&req.body[..], body);
    // Serialized byte for byte as received.
    assert_eq!(req.to_bytes(), raw);
}

#[test]
fn multipart_body_intact() {
    let body = "--boundary42\r\n\
        Content-Type: application/sdp\r\n\
        \r\n\
        v=0\r\n\
        o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n\
        \r\n\
        --boundary42\r\n\
        Content-Type: application/pidf+xml\r\n\
        \r\n\
        <?xml version=\"1.0\"?>\r\n\r\n\r\n<presence/>\r\n\
        --boundary42--\r\n";
    let cl = format!("Content-Length: {}", body.len());
    let raw = invite(
        &["Content-Type: multipart/mixed;boundary=boundary42", &cl],
        body.as_bytes(),
    );
    let req = ok_request(&raw);
    assert_eq!(&req.body[..], body.as_bytes());
    assert_eq!(req.to_bytes(), raw);
}

#[test]
fn bytes_after_content_length_discarded_on_datagrams() {
    let raw = invite(&["Content-Length: 5"], b"helloGARBAGE\r\n\r\nINVITE");
    let req = ok_request(&raw);
    assert_eq!(&req.body[..], b"hello");
    let out = req.to_bytes();
    assert!(out.ends_with(b"\r\n\r\nhello"));
}

#[test]
fn datagram_without_content_length_runs_to_the_end() {
    // RFC 3261 §18.3: on a datagram transport the body ends with the
    // packet when Content-Length is absent.
    let raw = invite(&[], b"v=0\r\n");
    let m = parse_datagram(raw).unwrap();
    assert_eq!(&m.body()[..], b"v=0\r\n");
    // The output always carries a correct Content-Length.
    assert!(text(&m.to_bytes()).contains("\r\nContent-Length: 5\r\n"));
}

#[test]
fn short_body_refused() {
    let raw = invite(&["Content-Length: 10"], b"hello");
    let e = err(&raw, "Content-Length");
    assert_eq!(e.kind(), ParseErrorKind::Body);
}

#[test]
fn bad_content_length_refused() {
    for value in [
        "-5",
        "-0",
        "five",
        "5 5",
        "0x10",
        "+5",
        "99999999999999999999999",
    ] {
        let line = format!("Content-Length: {value}");
        let raw = invite(&[&line], b"hello");
        let e = err(&raw, "Content-Length");
        assert!(
            matches!(
                e.kind(),
                ParseErrorKind::ContentLength | ParseErrorKind::TooLarge
            ),
            "{value}: {:?}",
            e.kind()
        );
    }
}

#[test]
fn repeated_content_length_refused() {
    // Even when the values agree, and whatever names are used.
    for pair in [
        ["Content-Length: 5", "Content-Length: 5"],
        ["Content-Length: 5", "l: 5"],
        ["l: 5", "Content-Length: 3"],
    ] {
        let raw = invite(&pair, b"hello");
        err(&raw, "Content-Length");
    }
}

// ---------------------------------------------------------------------------
// Scalar header values
// ---------------------------------------------------------------------------

#[test]
fn cseq_number_limits() {
    // RFC 3261 §8.1.1.5: less than 2**31.
    let raw = invite_with("CSeq", Some("CSeq: 2147483647 INVITE"), &[]);
    let req = ok_request(&raw);
    assert_eq!(
        req.headers.typed::<CSeq>().unwrap().unwrap().seq,
        2147483647
    );
    for n in [
        "2147483648",
        "4294967295",
        "4294967296",
        "36893488147419103232",
    ] {
        let line = format!("CSeq: {n} INVITE");
        err(&invite_with("CSeq", Some(&line), &[]), "CSeq");
    }
    for bad in [
        "CSeq: INVITE",
        "CSeq: 1",
        "CSeq: -1 INVITE",
        "CSeq: 1INVITE",
        "CSeq: x INVITE",
    ] {
        err(&invite_with("CSeq", Some(bad), &[]), "CSeq");
    }
}

#[test]
fn cseq_method_mismatch_refused() {
    err(&invite_with("CSeq", Some("CSeq: 1 BYE"), &[]), "CSeq");
    // Methods are case-sensitive: `invite` is not INVITE.
    err(&invite_with("CSeq", Some("CSeq: 1 invite"), &[]), "CSeq");
    // Extension methods must match too.
    let raw = build(
        "FOO sip:bob@biloxi.example.com SIP/2.0",
        &[
            REQUEST_HEADERS[0],
            REQUEST_HEADERS[1],
            REQUEST_HEADERS[2],
            REQUEST_HEADERS[3],
            REQUEST_HEADERS[4],
            "CSeq: 1 FOO",
        ],
        b"",
    );
    assert_eq!(ok_request(&raw).method.as_str(), "FOO");
    let raw = build(
        "FOO sip:bob@biloxi.example.com SIP/2.0",
        &[
            REQUEST_HEADERS[0],
            REQUEST_HEADERS[1],
            REQUEST_HEADERS[2],
            REQUEST_HEADERS[3],
            REQUEST_HEADERS[4],
            "CSeq: 1 BAR",
        ],
        b"",
    );
    err(&raw, "CSeq");
    // A response's CSeq names the request it answers, whatever it is.
    let mut h = RESPONSE_HEADERS.to_vec();
    h[4] = "CSeq: 7 BYE";
    let resp = ok_response(&build("SIP/2.0 200 OK", &h, b""));
    assert_eq!(
        resp.headers.typed::<CSeq>().unwrap().unwrap(),
        CSeq::new(7, Method::Bye)
    );
}

#[test]
fn max_forwards_range() {
    for (v, n) in [("0", 0), ("255", 255), ("00255", 255), ("69", 69)] {
        let line = format!("Max-Forwards: {v}");
        let req = ok_request(&invite_with("Max-Forwards", Some(&line), &[]));
        assert_eq!(req.headers.typed::<MaxForwards>().unwrap().unwrap().0, n);
    }
    for v in ["256", "300", "-1", "seventy", "", "7 0"] {
        let line = format!("Max-Forwards: {v}");
        err(
            &invite_with("Max-Forwards", Some(&line), &[]),
            "Max-Forwards",
        );
    }
}

#[test]
fn repeated_single_value_headers_refused() {
    for line in [
        "Max-Forwards: 70",
        "To: <sip:carol@chicago.example.com>",
        "From: <sip:carol@chicago.example.com>;tag=2",
        "Call-ID: other",
        "CSeq: 314159 INVITE",
    ] {
        let raw = invite(&[line, "Content-Length: 0"], b"");
        let e = err(&raw, "Multiple");
        let name = line.split(':').next().unwrap();
        assert!(e.reason().contains(name), "{}", e.reason());
    }
}

// ---------------------------------------------------------------------------
// Mandatory headers
// ---------------------------------------------------------------------------

#[test]
fn missing_mandatory_request_headers_refused() {
    for name in ["Via", "To", "From", "Call-ID", "CSeq"] {
        let raw = invite_with(name, None, &[]);
        let e = err(&raw, name);
        assert_eq!(e.kind(), ParseErrorKind::MissingHeader, "{name}");
        assert_eq!(e.reason(), format!("Missing {name} header"));
    }
    // RFC 4475 §3.3.1: every missing one is named.
    let mut h: Vec<&str> = REQUEST_HEADERS
        .iter()
        .copied()
        .filter(|l| {
            !["From:", "To:", "Call-ID:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    h.push("Content-Length: 0");
    let raw = build("INVITE sip:bob@biloxi.example.com SIP/2.0", &h, b"");
    let e = err(&raw, "From, To, Call-ID");
    assert_eq!(e.reason(), "Missing From, To, Call-ID headers");
}

#[test]
fn a_request_without_max_forwards_parses() {
    // RFC 3261 §8.2 / RFC 4475 §3.4.1: RFC 2543 clients send none; a UAS
    // accepts it (a proxy adds one when forwarding).
    let raw = invite_with("Max-Forwards", None, &[]);
    let Message::Request(req) = parse_datagram(raw).expect("parses") else {
        panic!("not a request")
    };
    assert!(!req.headers.contains(HeaderName::MaxForwards));
    // One that is there must still be well formed.
    let raw = invite_with("Max-Forwards", Some("seventy"), &[]);
    assert!(parse_datagram(raw).is_err());
}

#[test]
fn missing_mandatory_response_headers_refused() {
    for (i, line) in RESPONSE_HEADERS.iter().enumerate() {
        let name = line.split(':').next().unwrap();
        let mut h = RESPONSE_HEADERS.to_vec();
        h.remove(i);
        let e = err(&build("SIP/2.0 200 OK", &h, b""), name);
        assert_eq!(e.kind(), ParseErrorKind::MissingHeader, "{name}");
    }
    // Max-Forwards is a request header only.
    let resp = ok_response(&build("SIP/2.0 200 OK", &RESPONSE_HEADERS, b""));
    assert!(!resp.headers.contains(HeaderName::MaxForwards));
}

#[test]
fn mandatory_headers_found_in_compact_form() {
    let raw = build(
        "INVITE sip:bob@biloxi.example.com SIP/2.0",
        &[
            "v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
            "Max-Forwards: 70",
            "t: <sip:bob@biloxi.example.com>",
            "f: <sip:alice@atlanta.example.com>;tag=1",
            "i: abc",
            "CSeq: 1 INVITE",
        ],
        b"",
    );
    ok_request(&raw);
}

// ---------------------------------------------------------------------------
// Start lines
// ---------------------------------------------------------------------------

#[test]
fn bad_request_uris_refused() {
    for start in [
        "INVITE <sip:bob@biloxi.example.com> SIP/2.0",
        "INVITE sip:bob@biloxi.example.com;x y SIP/2.0",
        "INVITE sip:bob @biloxi.example.com SIP/2.0",
        "INVITE sip:bob@biloxi.example.com\t;lr SIP/2.0",
        "INVITE  SIP/2.0",
        "INVITE sip: SIP/2.0",
        "INVITE sip:bob@ SIP/2.0",
        "INVITE bob SIP/2.0",
    ] {
        let mut h = REQUEST_HEADERS.to_vec();
        h.push("Content-Length: 0");
        let e = err(&build(start, &h, b""), "URI");
        assert!(
            matches!(e.kind(), ParseErrorKind::Uri | ParseErrorKind::StartLine),
            "{start}: {:?}",
            e.kind()
        );
    }
}

#[test]
fn request_uri_schemes() {
    for uri in [
        "sip:bob@biloxi.example.com",
        "sips:bob@biloxi.example.com:5061;transport=tcp",
        "sip:192.0.2.4",
        "sip:[2001:db8::10]:5070;lr",
        "tel:+1-201-555-0123",
        "sip:%61lice@atlanta.example.com",
    ] {
        let raw = build(&format!("INVITE {uri} SIP/2.0"), &REQUEST_HEADERS, b"");
        let req = ok_request(&raw);
        assert_eq!(req.uri.to_string(), uri);
    }
}

#[test]
fn bad_methods_refused() {
    for start in [
        "INV ITE sip:bob@biloxi.example.com SIP/2.0",
        "INV\"ITE sip:bob@biloxi.example.com SIP/2.0",
        " INVITE sip:bob@biloxi.example.com SIP/2.0",
        "INVITE",
    ] {
        let mut h = REQUEST_HEADERS.to_vec();
        h.push("Content-Length: 0");
        err_with(&build(start, &h, b""), &Limits::default());
    }
}

#[test]
fn status_code_out_of_range_refused() {
    for start in [
        "SIP/2.0 099 Too Low",
        "SIP/2.0 000 Zero",
        "SIP/2.0 700 Too High",
        "SIP/2.0 999 Too High",
        "SIP/2.0 1000 Four Digits",
        "SIP/2.0 20 Two Digits",
        "SIP/2.0 2x0 Not Digits",
        "SIP/2.0 -200 Negative",
        "SIP/2.0  200 Two Spaces",
        "SIP/2.0",
    ] {
        let e = err_with(&build(start, &RESPONSE_HEADERS, b""), &Limits::default());
        assert_eq!(e.kind(), ParseErrorKind::StartLine, "{start}");
        assert!(
            e.reason().to_ascii_lowercase().contains("status"),
            "{start}: {}",
            e.reason()
        );
    }
    for (start, code) in [
        ("SIP/2.0 100 Trying", 100),
        ("SIP/2.0 699 Custom", 699),
        ("SIP/2.0 199 Early", 199),
    ] {
        assert_eq!(
            ok_response(&build(start, &RESPONSE_HEADERS, b""))
                .status
                .as_u16(),
            code
        );
    }
}

#[test]
fn bad_version_refused() {
    for v in [
        "SIP/3.0", "SIP/2.1", "SIP/1.0", "HTTP/1.1", "SIP/2", "SIP2.0",
    ] {
        let mut h = REQUEST_HEADERS.to_vec();
        h.push("Content-Length: 0");
        let e = err(
            &build(&format!("INVITE sip:bob@biloxi.example.com {v}"), &h, b""),
            "version",
        );
        assert_eq!(e.kind(), ParseErrorKind::Version, "{v}");
    }
    for v in ["SIP/3.0", "SIP/1.0", "SIP/2.1"] {
        let e = err(
            &build(&format!("{v} 200 OK"), &RESPONSE_HEADERS, b""),
            "version",
        );
        assert_eq!(e.kind(), ParseErrorKind::Version, "{v}");
    }
}

#[test]
fn leading_crlfs_ignored() {
    let mut raw = b"\r\n\r\n\r\n".to_vec();
    raw.extend_from_slice(&invite(&["Content-Length: 0"], b""));
    let req = ok_request(&Bytes::from(raw));
    assert_eq!(req.method, Method::Invite);
    // But a datagram of nothing but CRLFs is no message.
    err_with(&Bytes::from_static(b"\r\n\r\n"), &Limits::default());
    err_with(&Bytes::new(), &Limits::default());
}

#[test]
fn unterminated_header_block_refused() {
    let raw = invite(&["Content-Length: 0"], b"");
    let cut = raw.slice(..raw.len() - 2);
    err_with(&cut, &Limits::default());
}

#[test]
fn malformed_header_lines_refused() {
    for line in [
        "This is not a header",
        ": no name",
        "Bad Name: x",
        "X-Caf\u{e9}: x",
        "X-\"Quoted\": x",
        "X-Bare-CR: a\rb",
    ] {
        let raw = invite(&[line, "Content-Length: 0"], b"");
        let e = err_with(&raw, &Limits::default());
        assert_eq!(e.kind(), ParseErrorKind::Header, "{line:?}");
    }
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

#[test]
fn oversize_header_block_refused() {
    let big = format!("X-Big: {}", "a".repeat(4000));
    let raw = invite(&[&big, "Content-Length: 0"], b"");
    let small = Limits {
        max_head: 1024,
        ..Limits::default()
    };
    let e = err_with(&raw, &small);
    assert_eq!(e.kind(), ParseErrorKind::TooLarge);
    // The same message is fine under the default limits.
    ok_with(&raw, &Limits::default());
    // Also when the header block is never terminated.
    let cut = raw.slice(..3000);
    assert_eq!(err_with(&cut, &small).kind(), ParseErrorKind::TooLarge);
}

#[test]
fn too_many_header_lines_refused() {
    let extra: Vec<String> = (0..20).map(|i| format!("X-H{i}: {i}")).collect();
    let mut refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    refs.push("Content-Length: 0");
    let raw = invite(&refs, b"");
    let limits = Limits {
        max_headers: 10,
        ..Limits::default()
    };
    assert_eq!(err_with(&raw, &limits).kind(), ParseErrorKind::TooLarge);
    ok_with(&raw, &Limits::default());
}

#[test]
fn oversize_body_refused() {
    let body = vec![b'x'; 2000];
    let cl = format!("Content-Length: {}", body.len());
    let raw = invite(&[&cl], &body);
    let limits = Limits {
        max_body: 1000,
        ..Limits::default()
    };
    assert_eq!(err_with(&raw, &limits).kind(), ParseErrorKind::TooLarge);
    // Without Content-Length the datagram's remainder counts.
    let raw = invite(&[], &body);
    assert_eq!(err_with(&raw, &limits).kind(), ParseErrorKind::TooLarge);
}

// ---------------------------------------------------------------------------
// Stream framing
// ---------------------------------------------------------------------------

fn message(frame: Option<Frame>) -> Message {
    match frame {
        Some(Frame::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn register(cseq: u32, body: &str) -> Bytes {
    let cs = format!("CSeq: {cseq} REGISTER");
    let cl = format!("Content-Length: {}", body.len());
    build(
        "REGISTER sip:registrar.biloxi.example.com SIP/2.0",
        &[
            "Via: SIP/2.0/TCP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7",
            "Max-Forwards: 70",
            "To: Bob <sip:bob@biloxi.example.com>",
            "From: Bob <sip:bob@biloxi.example.com>;tag=456248",
            "Call-ID: 843817637684230@998sdasdh09",
            &cs,
            "Contact: <sip:bob@192.0.2.4>",
            &cl,
        ],
        body.as_bytes(),
    )
}

fn cseq_of(m: &Message) -> u32 {
    m.headers().typed::<CSeq>().unwrap().unwrap().seq
}

#[test]
fn stream_two_messages_in_one_push() {
    let mut all = register(1, "first").to_vec();
    all.extend_from_slice(&register(2, ""));
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&all);
    let a = message(dec.decode().unwrap());
    let b = message(dec.decode().unwrap());
    assert_eq!((cseq_of(&a), &a.body()[..]), (1, &b"first"[..]));
    assert_eq!((cseq_of(&b), &b.body()[..]), (2, &b""[..]));
    assert_eq!(dec.decode().unwrap(), None);
    assert_eq!(dec.buffered(), 0);
}

#[test]
fn stream_message_split_byte_by_byte() {
    let raw = register(7, "v=0\r\n\r\nbody with a blank line");
    let mut dec = StreamDecoder::new(Limits::default());
    let mut got = Vec::new();
    for b in raw.iter() {
        dec.push(std::slice::from_ref(b));
        while let Some(f) = dec.decode().unwrap() {
            got.push(f);
        }
    }
    assert_eq!(got.len(), 1, "{got:?}");
    let m = message(got.pop());
    assert_eq!(cseq_of(&m), 7);
    assert_eq!(&m.body()[..], b"v=0\r\n\r\nbody with a blank line");
    assert_eq!(m, parse_datagram(raw).unwrap());
}

#[test]
fn stream_partial_body_waits() {
    let raw = register(3, "0123456789");
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw[..raw.len() - 4]);
    assert_eq!(dec.decode().unwrap(), None);
    dec.push(&raw[raw.len() - 4..]);
    assert_eq!(&message(dec.decode().unwrap()).body()[..], b"0123456789");
}

#[test]
fn stream_keepalives_between_messages() {
    let mut all = b"\r\n\r\n".to_vec();
    all.extend_from_slice(&register(1, ""));
    all.extend_from_slice(b"\r\n");
    all.extend_from_slice(&register(2, "x"));
    all.extend_from_slice(b"\r\n\r\n");
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&all);
    assert_eq!(dec.decode().unwrap(), Some(Frame::Ping));
    assert_eq!(cseq_of(&message(dec.decode().unwrap())), 1);
    assert_eq!(dec.decode().unwrap(), Some(Frame::Pong));
    assert_eq!(cseq_of(&message(dec.decode().unwrap())), 2);
    assert_eq!(dec.decode().unwrap(), Some(Frame::Ping));
    assert_eq!(dec.decode().unwrap(), None);
    assert_eq!(dec.buffered(), 0);
}

#[test]
fn stream_compact_content_length_frames() {
    let raw = build(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        &[
            "v: SIP/2.0/TCP a.example.com;branch=z9hG4bK1",
            "Max-Forwards: 70",
            "t: <sip:bob@biloxi.example.com>",
            "f: <sip:alice@atlanta.example.com>;tag=1",
            "i: abc",
            "CSeq: 1 OPTIONS",
            "L : 3",
        ],
        b"abcOPTIONS",
    );
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    assert_eq!(&message(dec.decode().unwrap()).body()[..], b"abc");
    assert_eq!(dec.buffered(), "OPTIONS".len());
}

#[test]
fn stream_folded_content_length_frames() {
    // LWS (including a line fold) may follow the colon (RFC 3261 §7.3.1).
    let raw = invite(&["Content-Length:\r\n 5"], b"helloINVITE");
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    let m = message(dec.decode().unwrap());
    assert_eq!(&m.body()[..], b"hello");
    assert_eq!(dec.buffered(), "INVITE".len());
    // The datagram parser agrees.
    assert_eq!(&parse_datagram(raw).unwrap().body()[..], b"hello");
}

#[test]
fn stream_ping_split_across_reads() {
    for split in [1, 3] {
        let mut dec = StreamDecoder::new(Limits::default());
        dec.push(&b"\r\n\r\n"[..split]);
        assert_eq!(dec.decode().unwrap(), None, "split at {split}");
        dec.push(&b"\r\n\r\n"[split..]);
        assert_eq!(dec.decode().unwrap(), Some(Frame::Ping), "split at {split}");
        assert_eq!(dec.decode().unwrap(), None);
    }
}

#[test]
fn stream_missing_content_length_is_an_error() {
    let raw = build(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        &REQUEST_HEADERS[..5]
            .iter()
            .copied()
            .chain(["CSeq: 1 OPTIONS"])
            .collect::<Vec<_>>(),
        b"",
    );
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    let e = dec.decode().unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::ContentLength);
    assert!(e.reason().contains("Content-Length"), "{}", e.reason());
}

#[test]
fn stream_bad_content_length_is_an_error() {
    for cl in [
        "Content-Length: -1",
        "Content-Length: abc",
        "Content-Length: 1\r\nContent-Length: 2",
    ] {
        let raw = invite(&[cl], b"x");
        let mut dec = StreamDecoder::new(Limits::default());
        dec.push(&raw);
        assert!(dec.decode().is_err(), "{cl}");
    }
}

#[test]
fn stream_header_block_over_limit_without_buffering_beyond_it() {
    let limits = Limits {
        max_head: 1024,
        ..Limits::default()
    };
    let mut dec = StreamDecoder::new(limits);
    dec.push(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n");
    let chunk = b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut failed = false;
    for _ in 0..1000 {
        dec.push(chunk);
        match dec.decode() {
            Ok(None) => assert!(
                dec.buffered() <= limits.max_head,
                "buffered {} bytes of headers, limit {}",
                dec.buffered(),
                limits.max_head
            ),
            Ok(Some(f)) => panic!("unexpected frame {f:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ParseErrorKind::TooLarge);
                assert!(dec.buffered() <= limits.max_head + chunk.len());
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "no error for an endless header block");

    // A complete but oversize header block arriving in one piece.
    let big = format!("X-Big: {}", "a".repeat(2000));
    let raw = invite(&[&big, "Content-Length: 0"], b"");
    let mut dec = StreamDecoder::new(limits);
    dec.push(&raw);
    assert_eq!(dec.decode().unwrap_err().kind(), ParseErrorKind::TooLarge);
}

#[test]
fn stream_body_over_limit_refused_before_it_arrives() {
    let limits = Limits {
        max_body: 1000,
        ..Limits::default()
    };
    let raw = invite(&["Content-Length: 5000"], b"");
    let mut dec = StreamDecoder::new(limits);
    dec.push(&raw);
    let e = dec.decode().unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::TooLarge);
}

#[test]
fn stream_malformed_but_framed_message_then_next() {
    // Framed correctly (Content-Length is fine) but missing Call-ID.
    let bad = build(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        &[
            "Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK1",
            "Max-Forwards: 70",
            "To: <sip:bob@biloxi.example.com>",
            "From: <sip:alice@atlanta.example.com>;tag=1",
            "CSeq: 1 OPTIONS",
            "Content-Length: 4",
        ],
        b"abcd",
    );
    // Framed correctly, but the CSeq method is wrong.
    let mismatch = build(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        &[
            "Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK2",
            "Max-Forwards: 70",
            "To: <sip:bob@biloxi.example.com>",
            "From: <sip:alice@atlanta.example.com>;tag=1",
            "Call-ID: abc",
            "CSeq: 2 INVITE",
            "Content-Length: 0",
        ],
        b"",
    );
    let good = register(9, "ok");
    let mut all = bad.to_vec();
    all.extend_from_slice(&mismatch);
    all.extend_from_slice(&good);
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&all);
    match dec.decode().unwrap() {
        Some(Frame::Malformed { error, raw }) => {
            assert_eq!(error.kind(), ParseErrorKind::MissingHeader);
            assert!(error.reason().contains("Call-ID"), "{}", error.reason());
            assert_eq!(raw, bad);
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    match dec.decode().unwrap() {
        Some(Frame::Malformed { error, raw }) => {
            assert!(error.reason().contains("CSeq"), "{}", error.reason());
            assert_eq!(raw, mismatch);
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    let m = message(dec.decode().unwrap());
    assert_eq!((cseq_of(&m), &m.body()[..]), (9, &b"ok"[..]));
    assert_eq!(dec.decode().unwrap(), None);
}

#[test]
fn stream_and_datagram_agree() {
    let raw = register(4, "same");
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    assert_eq!(message(dec.decode().unwrap()), parse_datagram(raw).unwrap());
}

// ---------------------------------------------------------------------------
// Typed views that land with the address model.
// ---------------------------------------------------------------------------

fn typed_utf8_display_name(req: &Request) {
    let f = req.headers.typed::<From>().unwrap().unwrap();
    assert_eq!(
        f.addr.display_name().as_deref(),
        Some("Jörg Müller 日本 \"Jo\"")
    );
    assert_eq!(f.tag(), Some("12"));
}

/// Found by fuzzing: a header line ending in CR CR LF has a bare CR at the
/// end of its value, which must be refused like any other bare CR.
#[test]
fn bare_cr_before_the_line_end_is_refused() {
    let raw = "OPTIONS sip:a@b SIP/2.0\r\n\
        Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:a@b>;tag=1\r\n\
        To: <sip:a@b>\r\n\
        Call-ID: x\r\n\
        CSeq: 1 OPTIONS\r\n\
        Subject: trailing\r\r\n\
        Content-Length: 0\r\n\r\n";
    let err = parrot::message::parse_datagram(raw.into()).unwrap_err();
    assert!(err.reason().contains("bare CR"), "{err}");
}
