//! The protocol version (RFC 3261 §7.1).

use std::fmt;

/// The SIP version of a message. Only SIP/2.0 is accepted by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// `SIP/2.0`
    #[default]
    V2,
}

impl Version {
    /// Parses a version string; the protocol name is case-insensitive.
    pub fn parse(s: &str) -> Option<Version> {
        let (name, num) = super::grammar::split_once_byte(s, b'/')?;
        if name.eq_ignore_ascii_case("SIP") && num == "2.0" {
            Some(Version::V2)
        } else {
            None
        }
    }

    /// The version as written on the wire.
    pub fn as_str(&self) -> &'static str {
        "SIP/2.0"
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
