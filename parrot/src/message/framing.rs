//! Stream framing.
/// A frame.
pub enum Frame {}
/// Decoder.
pub struct StreamDecoder;
