//! The SIP message layer: data model, parser, stream framing and serializer.
//!
//! ```
//! use parrot::message::{parse_datagram, Message};
//!
//! let raw = "OPTIONS sip:bob@example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKnashds8\r\n\
//!     Max-Forwards: 70\r\n\
//!     To: <sip:bob@example.com>\r\n\
//!     From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
//!     Call-ID: a84b4c76e66710\r\n\
//!     CSeq: 63104 OPTIONS\r\n\
//!     Content-Length: 0\r\n\r\n";
//! let Message::Request(req) = parse_datagram(raw.into()).unwrap() else { panic!() };
//! assert_eq!(req.method.as_str(), "OPTIONS");
//! assert_eq!(req.headers.get("call-id").unwrap(), "a84b4c76e66710");
//! ```

mod accessors;
pub(crate) use accessors::is_plain_sdp;
mod error;
mod framing;
pub mod grammar;
mod header_name;
mod headers;
mod host;
mod method;
mod name_addr;
mod params;
mod parse;
mod request;
mod response;
mod serialize;
mod status;
mod text;
pub mod typed;
mod uri;
mod version;

pub(crate) use accessors::copied_to_response;
pub use error::{ParseError, ParseErrorKind};
pub use framing::{Frame, StreamDecoder};
pub use header_name::HeaderName;
pub use headers::{Header, HeaderKey, Headers};
pub use host::{Host, parse_hostport};
pub(crate) use host::{ip_text, parse_ip};
pub use method::Method;
pub use name_addr::*;
pub use params::{HeaderSyntax, Param, ParamSyntax, Params};
pub use parse::{Limits, parse_datagram, parse_datagram_with};
pub use request::{Request, RequestBuilder};
pub use response::{Response, ResponseBuilder};
pub use status::{StatusClass, StatusCode};
pub use text::Text;
pub use uri::{
    AbsoluteUri, SipUri, TelUri, Uri, UriHeader, UriHeaders, UriParam, UriParams, UriSyntax,
};
pub use version::Version;

/// A SIP message: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The header fields, mutably.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    /// The body.
    pub fn body(&self) -> &bytes::Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    /// Serializes the message with a correct Content-Length.
    pub fn to_bytes(&self) -> bytes::Bytes {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}
