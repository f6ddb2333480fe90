//! Parrot: a SIP (RFC 3261) application framework.
//!
//! The crate is layered so that data flows one way:
//! socket → transport → parse → transaction → dialog → handler, and back.
//! This release provides the [`message`] layer: the SIP data model, a parser
//! for datagrams and streams, and a serializer.
#![warn(missing_docs)]

pub mod endpoint;
pub mod message;
pub mod random;
pub mod transaction;
pub mod transport;

pub use message::{
    Header, HeaderName, Headers, Message, Method, ParseError, Request, Response, StatusCode, Text,
    Uri, Version,
};
