//! Shortcuts for the header values every layer reads: Call-ID, CSeq, the
//! top Via, the From and To tags; and building a response to a request
//! (RFC 3261 §8.2.6).

use super::header_name::HeaderName;
use super::headers::Headers;
use super::request::Request;
use super::response::Response;
use super::status::StatusCode;
use super::text::Text;
use super::typed::{CSeq, From, To, Via};
use std::borrow::Cow;

impl Headers {
    /// The Call-ID value.
    pub fn call_id(&self) -> Option<&Text> {
        self.get(HeaderName::CallId)
    }

    /// The decoded CSeq, if present and well-formed.
    pub fn cseq(&self) -> Option<CSeq> {
        match self.core() {
            Some(c) => Some(c.cseq.clone()),
            None => self.typed::<CSeq>()?.ok(),
        }
    }

    /// The decoded top (first) Via, if present and well-formed.
    pub fn top_via(&self) -> Option<Cow<'_, Via>> {
        match self.core() {
            Some(c) => Some(Cow::Borrowed(&c.via)),
            None => self.typed::<Via>()?.ok().map(Cow::Owned),
        }
    }

    /// The decoded From header.
    pub fn from_header(&self) -> Option<Cow<'_, From>> {
        match self.core() {
            Some(c) => Some(Cow::Borrowed(&c.from)),
            None => self.typed::<From>()?.ok().map(Cow::Owned),
        }
    }

    /// The decoded To header.
    pub fn to_header(&self) -> Option<Cow<'_, To>> {
        match self.core() {
            Some(c) => Some(Cow::Borrowed(&c.to)),
            None => self.typed::<To>()?.ok().map(Cow::Owned),
        }
    }

    /// The From tag.
    pub fn from_tag(&self) -> Option<Text> {
        self.from_header()?.params.raw("tag").cloned()
    }

    /// The To tag (absent on an out-of-dialog request).
    pub fn to_tag(&self) -> Option<Text> {
        self.to_header()?.params.raw("tag").cloned()
    }
}

impl Request {
    /// A response to this request per RFC 3261 §8.2.6: the Via headers (in
    /// order), From, To, Call-ID, CSeq and Timestamp are copied; the reason
    /// phrase is the canonical one. The caller adds a To tag where needed.
    pub fn response(&self, status: StatusCode) -> Response {
        response_from(&self.headers, status)
    }

    /// The response a handler returns: same as [`Request::response`], to be
    /// refined with [`Response::with_header`], [`Response::sdp`] and
    /// friends. The runtime adds the To tag and Contact a dialog needs.
    pub fn reply(&self, status: StatusCode) -> Response {
        self.response(status)
    }
}

impl Response {
    /// A response with another status for the same request: the headers
    /// §8.2.6 copies from a request (Via, From, To, Call-ID, CSeq,
    /// Timestamp) are taken from this response.
    pub fn sibling(&self, status: StatusCode) -> Response {
        response_from(&self.headers, status)
    }
}

fn response_from(headers: &Headers, status: StatusCode) -> Response {
    let mut resp = Response::new(status);
    for h in headers {
        // §8.2.6.2: copy these; §8.2.6.1: Timestamp too.
        if matches!(
            h.known_name(),
            Some(
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
                    | HeaderName::Timestamp
            )
        ) {
            resp.headers.push(h.clone());
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use crate::message::{Message, parse_datagram};

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
        Max-Forwards: 70\r\n\
        f: Alice <sip:alice@example.com>;tag=abc\r\n\
        t: <sip:bob@example.com>\r\n\
        i: call-1@a\r\n\
        CSeq: 7 INVITE\r\n\
        Timestamp: 54\r\n\
        Subject: hi\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn shortcuts_and_response() {
        let Message::Request(req) = parse_datagram(INVITE.into()).unwrap() else {
            panic!("not a request")
        };
        let h = &req.headers;
        assert_eq!(h.call_id().unwrap(), "call-1@a");
        assert_eq!(h.cseq().unwrap().seq, 7);
        assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(h.from_tag().unwrap(), "abc");
        assert_eq!(h.to_tag(), None);

        let resp = req.response(crate::message::StatusCode::RINGING);
        assert_eq!(resp.reason, "Ringing");
        let names: Vec<_> = resp.headers.iter().map(|h| h.name().as_str()).collect();
        assert_eq!(names, ["v", "f", "t", "i", "CSeq", "Timestamp"]);
        assert_eq!(resp.headers.count("via"), 2);
    }
}
