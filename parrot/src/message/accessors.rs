//! Shortcuts for the header values every layer reads: Call-ID, CSeq, the
//! top Via, the From and To tags; and building a response to a request
//! (RFC 3261 §8.2.6).

use super::header_name::HeaderName;
use super::headers::{Header, Headers};
use super::method::Method;
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
        match self.cached_cseq() {
            Some(c) => Some(c.clone()),
            None => self.typed::<CSeq>()?.ok(),
        }
    }

    /// The decoded top (first) Via, if present and well-formed.
    pub fn top_via(&self) -> Option<Cow<'_, Via>> {
        match self.cached_via() {
            Some(v) => Some(Cow::Borrowed(v)),
            None => self.typed::<Via>()?.ok().map(Cow::Owned),
        }
    }

    /// The decoded From header.
    pub fn from_header(&self) -> Option<Cow<'_, From>> {
        match self.cached_from() {
            Some(f) => Some(Cow::Borrowed(f)),
            None => self.typed::<From>()?.ok().map(Cow::Owned),
        }
    }

    /// The decoded To header.
    pub fn to_header(&self) -> Option<Cow<'_, To>> {
        match self.cached_to() {
            Some(t) => Some(Cow::Borrowed(t)),
            None => self.typed::<To>()?.ok().map(Cow::Owned),
        }
    }

    /// The From tag.
    pub fn from_tag(&self) -> Option<Text> {
        // The cached header read in place: a `Cow` of it is as large as
        // the header, and the tags are read several times per request.
        match self.cached_from() {
            Some(f) => f.params.raw("tag").cloned(),
            None => self.typed::<From>()?.ok()?.params.raw("tag").cloned(),
        }
    }

    /// The To tag (absent on an out-of-dialog request).
    pub fn to_tag(&self) -> Option<Text> {
        match self.cached_to() {
            Some(t) => t.params.raw("tag").cloned(),
            None => self.typed::<To>()?.ok()?.params.raw("tag").cloned(),
        }
    }

    /// Whether the To header has a tag: whether a request is inside a
    /// dialog (RFC 3261 §12.2), or a response came from a UAS.
    pub fn has_to_tag(&self) -> bool {
        match self.cached_to() {
            Some(t) => t.params.raw("tag").is_some(),
            None => self.to_tag().is_some(),
        }
    }

    /// Whether any `name` field (a list of option tags or methods, such as
    /// `Supported`, `Require` or `Allow`) lists `token`; tokens compare
    /// case-insensitively (RFC 3261 §7.3.1).
    pub fn lists(&self, name: HeaderName, token: &str) -> bool {
        self.values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether `Content-Type` says `application/sdp`.
    pub fn content_is_sdp(&self) -> bool {
        match self.get(HeaderName::ContentType) {
            // What nearly every user agent writes: decoding it would only
            // say so again.
            Some(v) if is_plain_sdp(v) => true,
            Some(_) => {
                matches!(self.typed::<super::typed::ContentType>(), Some(Ok(ct)) if ct.is_sdp())
            }
            None => false,
        }
    }

    /// Whether the message supports or requires option tag `tag`
    /// (`Supported` or `Require`, RFC 3261 §20.37, §20.32).
    pub fn supports(&self, tag: &str) -> bool {
        // One pass over the fields for both names (a request is asked
        // this several times, and most have neither field).
        self.iter()
            .filter(|h| {
                matches!(
                    h.known_name(),
                    Some(HeaderName::Supported | HeaderName::Require)
                )
            })
            .flat_map(Header::elements)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(tag))
    }
}

impl Request {
    /// A response to this request per RFC 3261 §8.2.6: the Via headers (in
    /// order), From, To, Call-ID, CSeq and Timestamp are copied; the reason
    /// phrase is the canonical one. Refine it with [`Response::header`],
    /// [`Response::sdp`] and friends. A handler's reply gets the To tag and
    /// Contact a dialog needs from the runtime; elsewhere the caller adds a
    /// To tag where needed.
    pub fn reply(&self, status: StatusCode) -> Response {
        response_from(&self.headers, status)
    }

    /// Whether overload control may refuse this request: a new request
    /// outside any dialog (no To tag, §12.2.2) that starts work, i.e. not an
    /// ACK, a CANCEL (both end work already admitted) or an OPTIONS ping
    /// (§11: how peers tell a live server from a dead one, so it stays
    /// answered under load). Shedding only these keeps the calls in
    /// progress completing (RFC 6357 §3).
    pub fn starts_new_work(&self) -> bool {
        !matches!(self.method, Method::Ack | Method::Cancel | Method::Options)
            && !self.headers.has_to_tag()
    }

    /// The `503 Service Unavailable` that refuses this request under
    /// overload, with a `Retry-After` of `retry_after` seconds telling the
    /// peer when to try again (§21.5.4, §20.33), and `to_tag` as the To
    /// tag if the request has none (§8.2.6.2).
    pub fn service_unavailable(&self, retry_after: u32, to_tag: &str) -> Response {
        let mut resp = self.reply(StatusCode::SERVICE_UNAVAILABLE);
        if !self.headers.has_to_tag()
            && let Some(to) = resp.headers.to_header()
        {
            let value = format!("{to};tag={to_tag}");
            resp.headers.set(HeaderName::To, value);
        }
        resp.headers
            .append(HeaderName::RetryAfter, retry_after.to_string());
        resp
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

/// Whether a response copies `header` from its request: §8.2.6.2 names
/// Via, From, To, Call-ID and CSeq; §8.2.6.1 adds Timestamp.
pub(crate) fn copied_to_response(header: &Header) -> bool {
    matches!(
        header.known_name(),
        Some(
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::Timestamp
        )
    )
}

/// Room kept for the fields a response usually gets after the copied
/// ones (Contact, Content-Type, Allow, ...), so adding them does not grow
/// the list again.
const SPARE_FIELDS: usize = 4;

fn response_from(headers: &Headers, status: StatusCode) -> Response {
    let mut resp = Response::new(status);
    let copied = headers.iter().filter(|h| copied_to_response(h));
    resp.headers = Headers::with_capacity(copied.clone().count() + SPARE_FIELDS);
    for h in copied {
        resp.headers.push(h.clone());
    }
    // Every Via, From, To and CSeq was copied in order: their decoded
    // forms are the request's.
    resp.headers.share_core(headers);
    resp
}

/// Whether a Content-Type value is exactly `application/sdp` (in any
/// case, without parameters): a value that decodes as that media type, so
/// that the common case needs no decoding.
pub(crate) fn is_plain_sdp(value: &str) -> bool {
    value.eq_ignore_ascii_case("application/sdp")
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
        assert!(!h.has_to_tag());

        let resp = req.reply(crate::message::StatusCode::RINGING);
        assert_eq!(resp.reason, "Ringing");
        let names: Vec<_> = resp.headers.iter().map(|h| h.name().as_str()).collect();
        assert_eq!(names, ["v", "f", "t", "i", "CSeq", "Timestamp"]);
        assert_eq!(resp.headers.count("via"), 2);
        // The response shares the request's decoded headers.
        assert!(resp.headers.cached_to().is_some());
        assert_eq!(resp.headers.from_tag().unwrap(), "abc");
    }

    #[test]
    fn content_is_sdp_agrees_with_the_decoded_type() {
        use crate::message::HeaderName;
        use crate::message::typed::ContentType;
        for value in [
            "application/sdp",
            "Application/SDP",
            "application/sdp;charset=utf-8",
            "application / sdp",
            "application/sdpx",
            "application/sd",
            "text/plain",
            "application/*",
            "",
        ] {
            let mut h = crate::message::Headers::default();
            h.append(HeaderName::ContentType, value.to_owned());
            let decoded = matches!(h.typed::<ContentType>(), Some(Ok(ct)) if ct.is_sdp());
            assert_eq!(h.content_is_sdp(), decoded, "{value:?}");
            assert!(!super::is_plain_sdp(value) || decoded, "{value:?}");
        }
        assert!(!crate::message::Headers::default().content_is_sdp());
    }

    /// The cached decoded headers always equal a fresh decode of the text.
    fn assert_cache_consistent(h: &crate::message::Headers) {
        use crate::message::typed::{From, To, Via};
        if let Some(v) = h.cached_via() {
            assert_eq!(
                v.to_string(),
                h.typed::<Via>().unwrap().unwrap().to_string()
            );
        }
        if let Some(f) = h.cached_from() {
            assert_eq!(*f, h.typed::<From>().unwrap().unwrap());
        }
        if let Some(t) = h.cached_to() {
            assert_eq!(*t, h.typed::<To>().unwrap().unwrap());
        }
    }

    #[test]
    fn cache_follows_changes() {
        use crate::message::HeaderName;
        for to in [
            "<sip:bob@example.com>",
            "sip:bob@example.com",
            "Bob <sip:bob@example.com;transport=tcp>;x=1",
            "\"Bob\" <sip:bob@example.com>",
            "sip:bob@example.com;x",
        ] {
            let raw = INVITE.replace("t: <sip:bob@example.com>", &format!("t: {to}"));
            let Message::Request(req) = parse_datagram(raw.into()).unwrap() else {
                panic!("not a request")
            };
            let mut resp = req.reply(crate::message::StatusCode::OK);
            // A tag appended (what a UAS does, §8.2.6.2) keeps the cache.
            let tagged = format!("{to};tag=xyz");
            resp.headers.set(HeaderName::To, tagged.clone());
            assert!(resp.headers.cached_to().is_some(), "{to}");
            assert_eq!(resp.headers.to_tag().unwrap(), "xyz");
            assert!(resp.headers.has_to_tag());
            assert_cache_consistent(&resp.headers);
            // A second tag: decode keeps the first, so does the cache.
            resp.headers.set(HeaderName::To, format!("{tagged};tag=2"));
            assert_eq!(resp.headers.to_tag().unwrap(), "xyz");
            assert_cache_consistent(&resp.headers);
            // Anything else drops the cached To only.
            resp.headers.set(HeaderName::To, "<sip:carol@example.com>");
            assert!(resp.headers.cached_to().is_none());
            assert!(resp.headers.cached_via().is_some());
            assert_eq!(resp.headers.to_tag(), None);
            assert!(!resp.headers.has_to_tag());
            // Read from the text when nothing is cached.
            resp.headers
                .set(HeaderName::To, "<sip:carol@example.com>;tag=t2");
            assert!(resp.headers.cached_to().is_none());
            assert_eq!(resp.headers.to_tag().unwrap(), "t2");
            assert!(resp.headers.has_to_tag());
            // A bad tag is not cached.
            resp.headers
                .set(HeaderName::To, "<sip:carol@example.com>;tag=a b");
            assert!(resp.headers.cached_to().is_none());
            assert_cache_consistent(&resp.headers);
            // The request is unaffected.
            assert_eq!(req.headers.to_header().unwrap().tag(), None);
            assert_cache_consistent(&req.headers);
        }
    }
}
