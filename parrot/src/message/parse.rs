//! The message parser.
use super::Message;
use super::error::{ParseError, ParseErrorKind};
use bytes::Bytes;
/// Limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits;
/// Parses a datagram.
pub fn parse_datagram(_b: Bytes) -> Result<Message, ParseError> {
    Err(ParseError::new(ParseErrorKind::StartLine, "todo"))
}
/// Parses a datagram with limits.
pub fn parse_datagram_with(b: Bytes, _l: &Limits) -> Result<Message, ParseError> {
    parse_datagram(b)
}
