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
        let method = self.method.as_str();
        let version = self.version.as_str();
        let len = method.len() + 1 + uri.len() + 1 + version.len() + 2;
        let mut out = Vec::with_capacity(len + rest_len(&self.headers, &self.body));
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(uri.as_bytes());
        out.push(b' ');
        out.extend_from_slice(version.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_rest(&mut out, &self.headers, &self.body);
        finish(out)
    }
}

impl Response {
    /// Serializes the response with a correct Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let version = self.version.as_str();
        let code = self.status.as_u16();
        let len = version.len() + 1 + digits(code.into()) + 1 + self.reason.len() + 2;
        let mut out = Vec::with_capacity(len + rest_len(&self.headers, &self.body));
        out.extend_from_slice(version.as_bytes());
        out.push(b' ');
        write_decimal(&mut out, code.into());
        out.push(b' ');
        write_sanitized(&mut out, &self.reason);
        out.extend_from_slice(b"\r\n");
        write_rest(&mut out, &self.headers, &self.body);
        finish(out)
    }
}

/// The buffer as `Bytes`. Sized exactly beforehand, so `Bytes` takes the
/// allocation over as it is (a spare capacity would cost it another
/// allocation for its shared header).
fn finish(out: Vec<u8>) -> Bytes {
    debug_assert_eq!(out.len(), out.capacity(), "serialized size mis-estimated");
    Bytes::from(out)
}

/// Whether a Content-Length value can be written as it is (it is right).
fn length_kept(value: &str, body: &Bytes) -> bool {
    grammar::parse_u64(value) == Some(body.len() as u64)
}

/// The exact number of bytes [`write_rest`] writes.
fn rest_len(headers: &Headers, body: &Bytes) -> usize {
    let mut len = 0;
    let mut wrote_length = false;
    for h in headers {
        let is_length = h.known_name() == Some(HeaderName::ContentLength);
        if is_length && wrote_length {
            continue;
        }
        len += h.name().len() + 4;
        if is_length {
            wrote_length = true;
            len += if length_kept(h.value(), body) {
                h.value().len()
            } else {
                digits(body.len() as u64)
            };
        } else {
            len += h.value().len();
        }
    }
    if !wrote_length {
        len += "Content-Length: \r\n".len() + digits(body.len() as u64);
    }
    len + 2 + body.len()
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
            if length_kept(h.value(), body) {
                out.extend_from_slice(h.value().as_bytes());
            } else {
                write_decimal(out, body.len() as u64);
            }
        } else {
            write_sanitized(out, h.value());
        }
        out.extend_from_slice(b"\r\n");
    }
    if !wrote_length {
        out.extend_from_slice(b"Content-Length: ");
        write_decimal(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Number of decimal digits of `n`.
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Writes `n` in decimal, without an intermediate string.
fn write_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Header, StatusCode};

    #[test]
    fn decimal() {
        for n in [0u64, 7, 9, 10, 99, 100, 486, 65535, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
            assert_eq!(digits(n), out.len());
        }
    }

    #[test]
    fn exact_size() {
        // Wrong, duplicate and missing Content-Length, a CR in a value:
        // the size computed beforehand (checked by `finish` in debug
        // builds) must match what is written.
        let mut r = Response::new(StatusCode::OK);
        r.headers.push(Header::new("l", "12345"));
        r.headers.push(Header::new("Content-Length", "0"));
        r.headers.push(Header::new("X", "a\rb"));
        r.body = Bytes::from_static(b"hello");
        let b = r.to_bytes();
        assert_eq!(
            &b[..],
            b"SIP/2.0 200 OK\r\nl: 5\r\nX: a b\r\n\r\nhello".as_slice()
        );
        r.headers = Headers::new();
        r.body = Bytes::new();
        r.status = StatusCode::from_u16(199).unwrap();
        assert_eq!(
            &r.to_bytes()[..],
            b"SIP/2.0 199 OK\r\nContent-Length: 0\r\n\r\n".as_slice()
        );
    }
}
