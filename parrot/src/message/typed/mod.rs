//! Typed views of header values, decoded on demand from the raw [`Text`].
//!
//! Each type implements [`TypedHeader`]: `decode` reads one value (one list
//! element for list headers such as Via or Contact, unless the type sets
//! [`TypedHeader::SPLIT`] to `false`) and `Display` writes it back in wire
//! form.

use super::error::ParseError;
use super::header_name::HeaderName;
use super::text::Text;
use std::fmt::Display;

mod address;
mod auth;
mod content_type;
mod cseq;
mod event;
mod reliable;
mod session_timer;
mod simple;
mod token_list;
mod via;

pub use address::*;
pub use auth::*;
pub use content_type::*;
pub use cseq::*;
pub use event::*;
pub use reliable::*;
pub use session_timer::*;
pub use simple::*;
pub use token_list::*;
pub use via::*;

/// A header with a typed representation.
pub trait TypedHeader: Sized + Display {
    /// The header this type decodes.
    const NAME: HeaderName;

    /// Whether [`TypedHeader::decode`] receives one list element (`true`,
    /// the default) or the whole field value (`false`, for types that hold
    /// the whole list, such as `Allow`).
    const SPLIT: bool = true;

    /// Decodes one value. `value` is a sub-slice of `src` (the whole header
    /// value) so the result can share storage via [`Text::slice_ref`].
    fn decode(src: &Text, value: &str) -> Result<Self, ParseError>;

    /// Decodes a standalone string (convenience for tests and builders).
    fn parse_str(s: &str) -> Result<Self, ParseError> {
        let src = Text::from(s.to_owned());
        Self::decode(&src, &src)
    }
}
