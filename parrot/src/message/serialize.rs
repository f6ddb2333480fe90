//! Serialization: each message is written once into one buffer.
//!
//! Header fields are written in order with their names as written and their
//! values as parsed, so untouched headers come out byte-identical to their
//! input (modulo line folding, which is written unfolded). Content-Length is
//! always made to match the body.

use super::grammar;
use super::header_name::HeaderName;
use super::headers::Headers;
use super::{Request, Response};
use bytes::Bytes;

impl Request {
    /// Serializes the request with a correct Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let uri = self.uri.to_string();
        let mut out = Vec::with_capacity(estimate(&self.headers, self.body.len()) + uri.len() + 32);
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(uri.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.version.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        write_rest(&mut out, &self.headers, &self.body);
        Bytes::from(out)
    }
}

impl Response {
    /// Serializes the response with a correct Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let mut out =
            Vec::with_capacity(estimate(&self.headers, self.body.len()) + self.reason.len() + 16);
        out.extend_from_slice(self.version.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.status.as_u16().to_string().as_bytes());
        out.push(b' ');
        write_sanitized(&mut out, &self.reason);
        out.extend_from_slice(b"\r\n");
        write_rest(&mut out, &self.headers, &self.body);
        Bytes::from(out)
    }
}

fn estimate(headers: &Headers, body: usize) -> usize {
    headers
        .iter()
        .map(|h| h.name().len() + h.value().len() + 4)
        .sum::<usize>()
        + body
        + 24
}

fn write_rest(out: &mut Vec<u8>, headers: &Headers, body: &Bytes) {
    let mut wrote_length = false;
    for h in headers {
        let is_length = h.known_name() == Some(HeaderName::ContentLength);
        if is_length && wrote_length {
            continue;
        }
        out.extend_from_slice(h.name().as_bytes());
        out.extend_from_slice(b": ");
        if is_length {
            wrote_length = true;
            // Keep the value as written when it is right (e.g. `005`).
            if grammar::parse_u64(h.value()) == Some(body.len() as u64) {
                out.extend_from_slice(h.value().as_bytes());
            } else {
                out.extend_from_slice(body.len().to_string().as_bytes());
            }
        } else {
            write_sanitized(out, h.value());
        }
        out.extend_from_slice(b"\r\n");
    }
    if !wrote_length {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Writes a value, turning any CR or LF into a space so a value built from
/// untrusted input cannot inject header lines.
fn write_sanitized(out: &mut Vec<u8>, value: &str) {
    let b = value.as_bytes();
    if memchr::memchr2(b'\r', b'\n', b).is_none() {
        out.extend_from_slice(b);
    } else {
        out.extend(
            b.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
    }
}
