//! The few SIP messages the generator sends, and a minimal response scanner.
//!
//! The scanner reads only what the generator needs (status code, Call-ID,
//! CSeq method, To, Contact) straight from the datagram: parsing every
//! response into a full message would cost the one generator core more than
//! the server spends on it.

use std::fmt::Write as _;
use std::net::SocketAddr;

/// The SDP offer of every INVITE.
const SDP: &str = "v=0\r\no=gen 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Addresses shared by every message: the server and the generator's host.
#[derive(Debug, Clone)]
pub struct Addrs {
    /// The server, as `host:port` (Request-URI and To of new requests).
    pub server: String,
    /// The generator's IP address (Via, From, Contact).
    pub local_ip: String,
}

impl Addrs {
    /// The addresses of a run against `server` from `local_ip`.
    pub fn new(server: SocketAddr, local_ip: &str) -> Self {
        Addrs {
            server: server.to_string(),
            local_ip: local_ip.to_owned(),
        }
    }

    /// The Request-URI of out-of-dialog requests.
    pub fn server_uri(&self) -> String {
        format!("sip:uas@{}", self.server)
    }
}

/// Common headers of a request; `to` is the whole To header value.
struct Request<'a> {
    method: &'a str,
    uri: &'a str,
    branch: &'a str,
    port: u16,
    tag: &'a str,
    to: &'a str,
    call_id: &'a str,
    cseq: u32,
}

fn request(a: &Addrs, r: &Request<'_>, out: &mut Vec<u8>, body: Option<&str>) {
    let mut s = String::with_capacity(600);
    let ip = &a.local_ip;
    let _ = write!(
        s,
        "{m} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:gen@{ip}>;tag={tag}\r\n\
         To: {to}\r\n\
         Call-ID: {cid}\r\n\
         CSeq: {cseq} {m}\r\n",
        m = r.method,
        uri = r.uri,
        port = r.port,
        branch = r.branch,
        tag = r.tag,
        to = r.to,
        cid = r.call_id,
        cseq = r.cseq,
    );
    if r.method == "INVITE" {
        let _ = write!(s, "Contact: <sip:gen@{ip}:{}>\r\n", r.port);
    }
    bench::end_headers(&mut s, body);
    out.clear();
    out.extend_from_slice(s.as_bytes());
}

/// The Call-ID of call `id`; [`call_id_of`] reads it back.
pub fn call_call_id(id: u64) -> String {
    format!("c{id}@gen")
}

/// The Call-ID of OPTIONS probe `n`; [`call_id_of`] reads it back.
pub fn probe_call_id(n: u64) -> String {
    format!("o{n}@gen")
}

/// What a Call-ID of ours names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A call, by its number.
    Call(u64),
    /// An OPTIONS probe, by its number.
    Probe(u64),
}

/// Which call or probe a Call-ID belongs to; `None` when it is not ours.
pub fn call_id_of(call_id: &[u8]) -> Option<Owner> {
    let (&kind, rest) = call_id.split_first()?;
    let digits = rest.strip_suffix(b"@gen")?;
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    match kind {
        b'c' => Some(Owner::Call(n)),
        b'o' => Some(Owner::Probe(n)),
        _ => None,
    }
}

/// INVITE of call `id`, with an SDP offer, from local port `port`.
pub fn invite(a: &Addrs, id: u64, port: u16, out: &mut Vec<u8>) {
    let uri = a.server_uri();
    let to = format!("<{uri}>");
    let r = Request {
        method: "INVITE",
        uri: &uri,
        branch: &format!("i{id}"),
        port,
        tag: &format!("g{id}"),
        to: &to,
        call_id: &call_call_id(id),
        cseq: 1,
    };
    request(a, &r, out, Some(SDP));
}

/// ACK of call `id`. For a 2xx it is a new transaction sent to the remote
/// target (RFC 3261 §13.2.2.4); for a non-2xx it belongs to the INVITE
/// transaction: same branch and Request-URI (§17.1.1.3).
pub fn ack(a: &Addrs, id: u64, port: u16, to: &str, target: Option<&str>, out: &mut Vec<u8>) {
    let uri = a.server_uri();
    let (uri, branch) = match target {
        Some(t) => (t.to_owned(), format!("a{id}")),
        None => (uri, format!("i{id}")),
    };
    let r = Request {
        method: "ACK",
        uri: &uri,
        branch: &branch,
        port,
        tag: &format!("g{id}"),
        to,
        call_id: &call_call_id(id),
        cseq: 1,
    };
    request(a, &r, out, None);
}

/// BYE of call `id` to the remote target, To as in the 200 (with its tag).
pub fn bye(a: &Addrs, id: u64, port: u16, to: &str, target: &str, out: &mut Vec<u8>) {
    let r = Request {
        method: "BYE",
        uri: target,
        branch: &format!("b{id}"),
        port,
        tag: &format!("g{id}"),
        to,
        call_id: &call_call_id(id),
        cseq: 2,
    };
    request(a, &r, out, None);
}

/// OPTIONS probe `n`.
pub fn options(a: &Addrs, n: u64, port: u16, out: &mut Vec<u8>) {
    let uri = a.server_uri();
    let to = format!("<{uri}>");
    let r = Request {
        method: "OPTIONS",
        uri: &uri,
        branch: &format!("o{n}"),
        port,
        tag: &format!("p{n}"),
        to: &to,
        call_id: &probe_call_id(n),
        cseq: 1,
    };
    request(a, &r, out, None);
}

/// What the generator reads from a response.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// The Call-ID value.
    pub call_id: &'a [u8],
    /// The CSeq method.
    pub method: &'a [u8],
    /// The whole To header value (with the tag the server added).
    pub to: &'a [u8],
    /// The URI of the Contact header, without its angle brackets.
    pub contact: Option<&'a [u8]>,
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// The URI of a Contact value: between `<` and `>`, or up to the first `;`.
fn contact_uri(v: &[u8]) -> &[u8] {
    if let Some(open) = v.iter().position(|&b| b == b'<') {
        let rest = &v[open + 1..];
        let close = rest.iter().position(|&b| b == b'>').unwrap_or(rest.len());
        return &rest[..close];
    }
    let end = v.iter().position(|&b| b == b';').unwrap_or(v.len());
    trim(&v[..end])
}

/// Scans a response; `None` for a request or anything without a status
/// code, Call-ID and CSeq. Header names are case-insensitive, and the
/// compact forms `i`, `t`, `m` count (RFC 3261 §7.3.3); folded lines are
/// not expected from the servers measured and are not joined.
pub fn scan(d: &[u8]) -> Option<Response<'_>> {
    let rest = d.strip_prefix(b"SIP/2.0 ")?;
    let code = rest.get(..3)?;
    let status = std::str::from_utf8(code).ok()?.parse().ok()?;
    let mut r = Response {
        status,
        ..Response::default()
    };
    let mut lines = d.split(|&b| b == b'\n').skip(1);
    for line in lines.by_ref() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        let value = trim(&line[colon + 1..]);
        let is = |long: &[u8], short: &[u8]| {
            name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
        };
        if is(b"call-id", b"i") {
            r.call_id = value;
        } else if is(b"cseq", b"cseq") {
            r.method = value.rsplit(|&b| b == b' ').next().unwrap_or_default();
        } else if is(b"to", b"t") {
            r.to = value;
        } else if is(b"contact", b"m") && r.contact.is_none() {
            r.contact = Some(contact_uri(value));
        }
    }
    (!r.call_id.is_empty() && !r.method.is_empty()).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> Addrs {
        Addrs::new("127.0.0.1:5070".parse().unwrap(), "127.0.0.1")
    }

    #[test]
    fn invite_is_parsed_by_parrot() {
        let mut out = Vec::new();
        invite(&addrs(), 42, 7000, &mut out);
        let msg = parrot::message::parse_datagram(bytes::Bytes::from(out.clone()))
            .expect("a valid INVITE");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("INVITE sip:uas@127.0.0.1:5070 SIP/2.0\r\n"));
        assert!(text.contains("Call-ID: c42@gen\r\n"));
        assert!(text.ends_with("a=rtpmap:0 PCMU/8000\r\n"));
        drop(msg);
    }

    #[test]
    fn every_request_parses() {
        let a = addrs();
        let mut out = Vec::new();
        let to = "<sip:uas@127.0.0.1:5070>;tag=x";
        let target = "sip:uas@127.0.0.1:5070";
        type Build<'a> = &'a dyn Fn(&mut Vec<u8>);
        let builds: [Build<'_>; 4] = [
            &|o| ack(&a, 1, 7000, to, Some(target), o),
            &|o| ack(&a, 1, 7000, to, None, o),
            &|o| bye(&a, 1, 7000, to, target, o),
            &|o| options(&a, 3, 7000, o),
        ];
        for build in builds {
            build(&mut out);
            parrot::message::parse_datagram(bytes::Bytes::from(out.clone()))
                .expect("a valid request");
        }
    }

    #[test]
    fn call_ids_round_trip() {
        assert_eq!(call_id_of(call_call_id(9).as_bytes()), Some(Owner::Call(9)));
        assert_eq!(
            call_id_of(probe_call_id(3).as_bytes()),
            Some(Owner::Probe(3))
        );
        assert_eq!(call_id_of(b"x1@gen"), None);
        assert_eq!(call_id_of(b"c1@other"), None);
        assert_eq!(call_id_of(b""), None);
    }

    #[test]
    fn scans_a_response() {
        let d = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x\r\nt: <sip:uas@h>;tag=abc\r\n\
                  i: c5@gen\r\nCSeq: 1 INVITE\r\nContact: \"u\" <sip:uas@10.0.0.1:5070;ob>;q=1\r\n\
                  Content-Length: 0\r\n\r\n";
        let r = scan(d).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.call_id, b"c5@gen");
        assert_eq!(r.method, b"INVITE");
        assert_eq!(r.to, b"<sip:uas@h>;tag=abc");
        assert_eq!(r.contact, Some(&b"sip:uas@10.0.0.1:5070;ob"[..]));
    }

    #[test]
    fn rejects_requests_and_garbage() {
        assert_eq!(scan(b"INVITE sip:x SIP/2.0\r\n\r\n"), None);
        assert_eq!(scan(b"SIP/2.0 2"), None);
        assert_eq!(scan(b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n"), None);
        assert_eq!(scan(b""), None);
    }
}
