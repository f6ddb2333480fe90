//! SIP responses (RFC 3261 §7.2) and a builder for them.

use super::header_name::HeaderName;
use super::headers::{Header, Headers};
use super::status::StatusCode;
use super::text::Text;
use super::version::Version;
use bytes::Bytes;

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase (may be empty).
    pub reason: Text,
    /// The header fields, in order.
    pub headers: Headers,
    /// The body (may be empty).
    pub body: Bytes,
}

impl Response {
    /// A response with the canonical reason phrase, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Response {
            version: Version::V2,
            status,
            reason: Text::from_static(status.reason()),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// This response with a header field appended.
    pub fn header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.headers.push(Header::new(name, value));
        self
    }

    /// This response with a typed header field appended.
    pub fn typed<T: super::typed::TypedHeader>(mut self, value: &T) -> Self {
        self.headers.push_typed(value);
        self
    }

    /// This response with a body of the given Content-Type.
    pub fn body(mut self, content_type: impl Into<Text>, body: impl Into<Bytes>) -> Self {
        self.headers.set(HeaderName::ContentType, content_type);
        self.body = body.into();
        self
    }

    /// This response with an SDP body (`Content-Type: application/sdp`):
    /// text, bytes, or a `parrot::sdp::SessionDescription` (which converts
    /// into [`Bytes`]).
    pub fn sdp(self, body: impl Into<Bytes>) -> Self {
        self.body("application/sdp", body)
    }

    /// This response with another reason phrase.
    pub fn reason(mut self, reason: impl Into<Text>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Starts building a response.
    pub fn builder(status: StatusCode) -> ResponseBuilder {
        ResponseBuilder {
            resp: Response::new(status),
        }
    }
}

/// Builds a [`Response`].
#[derive(Debug, Clone)]
pub struct ResponseBuilder {
    resp: Response,
}

impl ResponseBuilder {
    /// Replaces the reason phrase.
    pub fn reason(mut self, reason: impl Into<Text>) -> Self {
        self.resp.reason = reason.into();
        self
    }

    /// Appends a header field with the given name and value.
    pub fn header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.resp.headers.push(Header::new(name, value));
        self
    }

    /// Appends a known header field.
    pub fn append(mut self, name: HeaderName, value: impl Into<Text>) -> Self {
        self.resp.headers.append(name, value);
        self
    }

    /// Appends a typed header field.
    pub fn typed<T: super::typed::TypedHeader>(mut self, value: &T) -> Self {
        self.resp.headers.push_typed(value);
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: impl Into<Text>, body: impl Into<Bytes>) -> Self {
        self.resp.headers.set(HeaderName::ContentType, content_type);
        self.resp.body = body.into();
        self
    }

    /// Finishes the response.
    pub fn build(self) -> Response {
        self.resp
    }
}
