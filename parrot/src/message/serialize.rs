//! Serialization.
use super::{Request, Response};
use bytes::Bytes;
impl Request {
    /// Serializes.
    pub fn to_bytes(&self) -> Bytes { Bytes::new() }
}
impl Response {
    /// Serializes.
    pub fn to_bytes(&self) -> Bytes { Bytes::new() }
}
