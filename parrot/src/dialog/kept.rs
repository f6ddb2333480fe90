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
    // An address in angle brackets around a URI unchanged since it was
    // parsed (every From and To a dialog starts from) is put together from
    // the texts it came from, as `Display` would write it, without the
    // formatter.
    if let (true, Some(uri)) = (addr.has_angle_brackets(), addr.uri().written()) {
        let display = addr.display_raw();
        let mut out = String::with_capacity(display.map_or(0, |d| d.len()) + uri.len() + 3);
        if let Some(display) = display {
            out.push_str(display);
            out.push(' ');
        }
        out.push('<');
        out.push_str(uri);
        out.push('>');
        return Text::from(&out);
    }
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
