//! Stream framing (RFC 3261 §18.3, RFC 5626 §3.5.1): cuts one message at a
//! time out of a TCP byte stream by Content-Length, recognises CRLF
//! keep-alives between messages, and refuses headers or bodies over the
//! configured limits instead of buffering without bound.

use super::Message;
use super::error::{ParseError, ParseErrorKind};
use super::grammar;
use super::header_name::HeaderName;
use super::parse::{Framing, Limits, parse_message};
use bytes::{Bytes, BytesMut};

/// One item cut from a stream.
// Frames are consumed as soon as they are decoded, so the size difference
// between variants costs nothing worth a heap allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A well-formed message.
    Message(Message),
    /// A correctly framed message that failed to parse; the stream stays
    /// usable. `raw` holds its bytes so a `400` can be addressed.
    Malformed {
        /// Why the message was refused.
        error: ParseError,
        /// The bytes of the refused message.
        raw: Bytes,
    },
    /// A double-CRLF keep-alive ping; answer with a single CRLF.
    Ping,
    /// A single-CRLF keep-alive pong.
    Pong,
}

/// Incremental decoder for one stream connection.
///
/// Errors returned by [`StreamDecoder::decode`] are fatal for the
/// connection: the framing is lost (no or bad Content-Length) or a limit was
/// exceeded.
#[derive(Debug)]
pub struct StreamDecoder {
    buf: BytesMut,
    limits: Limits,
    /// How far the search for the end of the header block has got.
    scanned: usize,
}

impl StreamDecoder {
    /// A decoder with the given limits. Its buffer is allocated as bytes
    /// arrive (a connection that holds one keeps its room small while it
    /// waits; see [`buffer_mut`](Self::buffer_mut)).
    pub fn new(limits: Limits) -> Self {
        StreamDecoder {
            buf: BytesMut::new(),
            limits,
            scanned: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The receive buffer, for reading into directly (e.g. `read_buf`).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Returns the next complete frame, `Ok(None)` if more bytes are needed.
    pub fn decode(&mut self) -> Result<Option<Frame>, ParseError> {
        self.decode_inspecting(|_| ())
    }

    /// As [`decode`](Self::decode), showing `inspect` the raw bytes of a
    /// message frame (well-formed or not; not keep-alives) before it is
    /// parsed: for a trace of what was received.
    pub fn decode_inspecting(
        &mut self,
        inspect: impl FnOnce(&[u8]),
    ) -> Result<Option<Frame>, ParseError> {
        // Keep-alives between messages (RFC 5626 §3.5.1).
        if self.buf.starts_with(b"\r\n\r\n") {
            let _ = self.buf.split_to(4);
            return Ok(Some(Frame::Ping));
        }
        if self.buf.starts_with(b"\r\n") {
            if self.buf.len() == 3 && self.buf[2] == b'\r' {
                return Ok(None);
            }
            let _ = self.buf.split_to(2);
            self.scanned = 0;
            return Ok(Some(Frame::Pong));
        }
        if self.buf.starts_with(b"\n") {
            let _ = self.buf.split_to(1);
            return Ok(Some(Frame::Pong));
        }

        let Some(head_len) = self.find_head_end() else {
            if self.buf.len() > self.limits.max_head {
                return Err(ParseError::new(
                    ParseErrorKind::TooLarge,
                    "Message header too large",
                ));
            }
            return Ok(None);
        };
        if head_len > self.limits.max_head {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge,
                "Message header too large",
            ));
        }
        let body_len = content_length(&self.buf[..head_len])?;
        if body_len > self.limits.max_body {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge,
                "Message body too large",
            ));
        }
        let total = head_len + body_len;
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.scanned = 0;
        let raw = self.buf.split_to(total).freeze();
        inspect(&raw);
        Ok(Some(
            match parse_message(raw.clone(), &self.limits, Framing::Stream) {
                Ok(m) => Frame::Message(m),
                Err(error) => Frame::Malformed { error, raw },
            },
        ))
    }

    /// Length of the header block including its terminating blank line.
    fn find_head_end(&mut self) -> Option<usize> {
        let from = self.scanned.saturating_sub(3);
        match memchr::memmem::find(&self.buf[from..], b"\r\n\r\n") {
            Some(i) => Some(from + i + 4),
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }
}

/// Reads Content-Length from a raw header block (long or compact name).
/// Missing, malformed or conflicting values are fatal on a stream.
fn content_length(head: &[u8]) -> Result<usize, ParseError> {
    let bad = || ParseError::new(ParseErrorKind::ContentLength, "Bad Content-Length header");
    let mut found: Option<usize> = None;
    let mut lines = head.split(|&b| b == b'\n').skip(1).peekable();
    while let Some(line) = lines.next() {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = std::str::from_utf8(&line[..colon]).unwrap_or("");
        if matches!(line.first(), Some(b' ' | b'\t'))
            || HeaderName::lookup(grammar::trim_ws(name)) != Some(HeaderName::ContentLength)
        {
            continue;
        }
        // The value may continue on folded lines (§7.3.1).
        let mut value = String::from_utf8_lossy(&line[colon + 1..]).into_owned();
        while let Some(next) = lines.next_if(|l| matches!(l.first(), Some(b' ' | b'\t'))) {
            value.push(' ');
            value.push_str(&String::from_utf8_lossy(next));
        }
        let n = grammar::parse_u64(value.trim_matches([' ', '\t', '\r']))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(bad)?;
        if found.is_some_and(|f| f != n) {
            return Err(bad());
        }
        found = Some(n);
    }
    found.ok_or_else(|| {
        ParseError::new(
            ParseErrorKind::ContentLength,
            "Missing Content-Length header on a stream transport",
        )
    })
}
