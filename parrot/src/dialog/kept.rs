//! The texts a dialog keeps for the whole call: its URIs and addresses,
//! written once from the parsed values.

use crate::message::{NameAddr, Text, Uri};
use std::fmt::{self, Write as _};

/// `uri` as the text a dialog keeps. What the message types print parses
/// back to the same value (the round-trip property tests hold them to
/// it), so the text is not parsed again here.
pub(super) fn uri_text(uri: &Uri) -> Text {
    // A URI unchanged since it was parsed prints as the text it came
    // from: a detached copy of that, without writing it again.
    match uri.written() {
        Some(text) => text.detached(),
        None => display_text(uri),
    }
}

/// `addr` as the text a dialog keeps (see [`uri_text`]).
pub(super) fn addr_text(addr: &NameAddr) -> Text {
    display_text(addr)
}

/// `value` written into a string sized for an address up front (`to_string`
/// starts empty and grows it several times), then kept in a buffer of its
/// exact length: a dialog holds it for the whole call, and a text made
/// from the string itself would keep the string's spare capacity.
fn display_text(value: &dyn fmt::Display) -> Text {
    let mut out = String::with_capacity(96);
    // Writing into a `String` cannot fail.
    let _ = write!(out, "{value}");
    Text::from(&out)
}
