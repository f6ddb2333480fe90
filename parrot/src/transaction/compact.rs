//! Compact owned copies of what live transactions keep.
//!
//! A parsed message is a set of [`Text`] slices of its receive buffer, so
//! keeping any part of it keeps the whole buffer (and a [`Response`] costs
//! 72 bytes per header field on top). A server transaction may live for
//! 32 s or more; it keeps its responses as a [`StoredResponse`]: one
//! allocation of exactly the text it needs, from which the response is
//! rebuilt when it is sent again. Transaction keys are kept in the same
//! spirit as canonical byte strings (see `key.rs`).

use crate::message::{
    Header, Headers, Request, Response, StatusCode, Text, Version, copied_to_response,
};
use bytes::Bytes;
use std::fmt;

/// Appends `n` as an unsigned LEB128 number.
pub(crate) fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Bytes [`put_len`] writes for `n`.
fn len_of_len(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
}

/// Appends `bytes`, preceded by their length.
pub(crate) fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_len(buf, bytes.len());
    buf.extend_from_slice(bytes);
}

/// Reads back what [`put_bytes`] wrote, as slices of one shared buffer.
struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn len(&mut self) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        while let Some(&b) = self.buf.get(self.pos) {
            self.pos += 1;
            n |= usize::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        n
    }

    fn bytes(&mut self) -> Bytes {
        let n = self.len();
        let end = (self.pos + n).min(self.buf.len());
        let b = self.buf.slice(self.pos..end);
        self.pos = end;
        b
    }

    fn text(&mut self) -> Text {
        // Always UTF-8: every text was copied from a `Text`.
        Text::from_utf8(self.bytes()).unwrap_or_default()
    }
}

/// A response as a server transaction keeps it: status and version inline,
/// and the reason phrase, header fields (names as written, values) and
/// body in one owned allocation of exactly their size. It holds no
/// reference to the buffer the response's text came from.
///
/// [`StoredResponse::to_response`] gives back a response equal to the one
/// stored.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StoredResponse {
    /// Reason, body, header count, then name and value of each header;
    /// each text preceded by its LEB128 length.
    buf: Box<[u8]>,
    status: StatusCode,
    version: Version,
}

impl StoredResponse {
    /// A compact copy of `response`.
    pub(crate) fn new(response: &Response) -> StoredResponse {
        StoredResponse::from_parts(
            response.status,
            response.version,
            &response.reason,
            &response.body,
            response.headers.iter(),
        )
    }

    /// The stored form of `request.reply(status)` (RFC 3261 §8.2.6),
    /// written straight from the request's fields without building that
    /// response first.
    pub(crate) fn response_to(request: &Request, status: StatusCode) -> StoredResponse {
        StoredResponse::from_parts(
            status,
            Version::V2,
            status.reason(),
            &[],
            request.headers.iter().filter(|h| copied_to_response(h)),
        )
    }

    fn from_parts<'a>(
        status: StatusCode,
        version: Version,
        reason: &str,
        body: &[u8],
        headers: impl Iterator<Item = &'a Header> + Clone,
    ) -> StoredResponse {
        let field = |n: usize| len_of_len(n) + n;
        let (count, fields) = headers.clone().fold((0, 0), |(c, f), h| {
            (c + 1, f + field(h.name().len()) + field(h.value().len()))
        });
        let size = field(reason.len()) + field(body.len()) + len_of_len(count) + fields;
        let mut buf = Vec::with_capacity(size);
        put_bytes(&mut buf, reason.as_bytes());
        put_bytes(&mut buf, body);
        put_len(&mut buf, count);
        for h in headers {
            put_bytes(&mut buf, h.name().as_bytes());
            put_bytes(&mut buf, h.value().as_bytes());
        }
        debug_assert_eq!(buf.len(), size);
        StoredResponse {
            buf: buf.into_boxed_slice(),
            status,
            version,
        }
    }

    /// The status code.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The response, rebuilt. Its texts share one new buffer.
    pub(crate) fn to_response(&self) -> Response {
        let mut r = Reader {
            buf: Bytes::copy_from_slice(&self.buf),
            pos: 0,
        };
        let reason = r.text();
        let body = r.bytes();
        let n = r.len();
        let mut headers = Headers::with_capacity(n);
        for _ in 0..n {
            let name = r.text();
            let value = r.text();
            // The parser and every constructor derive the known name from
            // the name as written, as `Header::new` does.
            headers.push(Header::new(name, value));
        }
        Response {
            version: self.version,
            status: self.status,
            reason,
            headers,
            body,
        }
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(crate) fn heap_size(&self) -> usize {
        self.buf.len()
    }
}

impl fmt::Debug for StoredResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StoredResponse")
            .field(&self.to_response())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{HeaderName, Message, parse_datagram};

    #[test]
    fn lengths() {
        for n in [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 21, usize::MAX] {
            let mut buf = Vec::new();
            put_len(&mut buf, n);
            assert_eq!(buf.len(), len_of_len(n), "{n}");
            let mut r = Reader {
                buf: Bytes::from(buf),
                pos: 0,
            };
            assert_eq!(r.len(), n);
        }
    }

    #[test]
    fn round_trip_is_exact_and_owns_its_text() {
        let wire = "SIP/2.0 486 Busy Here, really\r\n\
            v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
            Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n\
            To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n\
            f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
            Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
            CSeq: 314159 INVITE\r\n\
            Subject: Ünïcode ✓\r\n\
            X-Extension: 1\r\n\
            Content-Type: text/plain\r\n\
            Content-Length: 5\r\n\r\nhello";
        let buffer = Bytes::from(wire);
        let Ok(Message::Response(resp)) = parse_datagram(buffer.clone()) else {
            panic!()
        };
        let stored = StoredResponse::new(&resp);
        assert_eq!(stored.status(), resp.status);
        let back = stored.to_response();
        assert_eq!(back, resp);
        assert_eq!(back.headers.iter().next().unwrap().name(), "v");
        assert_eq!(
            back.headers.get(HeaderName::From).unwrap(),
            "Alice <sip:alice@atlanta.com>;tag=1928301774"
        );
        assert_eq!(&back.body[..], b"hello");
        let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
        assert!(!range.contains(&(stored.buf.as_ptr() as usize)));
        assert_eq!(stored.heap_size(), stored.buf.len());
        // Built responses too.
        let mut built = Response::new(StatusCode::OK);
        built.headers.append(HeaderName::Expires, "3600");
        built.reason = Text::from("");
        assert_eq!(StoredResponse::new(&built).to_response(), built);
        assert!(format!("{stored:?}").contains("486"));
    }
}
