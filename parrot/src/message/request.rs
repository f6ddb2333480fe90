//! SIP requests (RFC 3261 §7.1) and a builder for them.

use super::error::{ParseError, ParseErrorKind};
use super::header_name::HeaderName;
use super::headers::{Header, Headers};
use super::method::Method;
use super::text::Text;
use super::uri::Uri;
use super::version::Version;
use bytes::Bytes;

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The protocol version.
    pub version: Version,
    /// The header fields, in order.
    pub headers: Headers,
    /// The body (may be empty).
    pub body: Bytes,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Request {
            method,
            uri,
            version: Version::V2,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Starts building a request.
    pub fn builder(method: Method, uri: Uri) -> RequestBuilder {
        RequestBuilder {
            req: Request::new(method, uri),
        }
    }
}

/// Builds a [`Request`]; [`RequestBuilder::build`] checks the mandatory
/// headers of RFC 3261 §8.1.1.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    req: Request,
}

impl RequestBuilder {
    /// Appends a header field with the given name and value.
    pub fn header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Self {
        self.req.headers.push(Header::new(name, value));
        self
    }

    /// Appends a known header field.
    pub fn append(mut self, name: HeaderName, value: impl Into<Text>) -> Self {
        self.req.headers.append(name, value);
        self
    }

    /// Appends a typed header field.
    pub fn typed<T: super::typed::TypedHeader>(mut self, value: &T) -> Self {
        self.req.headers.push_typed(value);
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: impl Into<Text>, body: impl Into<Bytes>) -> Self {
        self.req.headers.set(HeaderName::ContentType, content_type);
        self.req.body = body.into();
        self
    }

    /// Finishes the request, refusing it if a header RFC 3261 §8.1.1 makes
    /// mandatory (Via, From, To, Call-ID, CSeq, Max-Forwards) is missing.
    pub fn build(self) -> Result<Request, ParseError> {
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::MaxForwards,
        ] {
            if !self.req.headers.contains(name) {
                return Err(ParseError::new(
                    ParseErrorKind::MissingHeader,
                    format!("Missing {name} header"),
                ));
            }
        }
        Ok(self.req)
    }

    /// Finishes the request without checking it.
    pub fn build_unchecked(self) -> Request {
        self.req
    }
}
