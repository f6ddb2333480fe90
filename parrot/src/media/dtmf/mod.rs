//! DTMF: RFC 4733 telephone-events (the payload, a sender producing the
//! packets of one key press, a receiver turning packets back into one
//! digit per press) and the SIP INFO bodies some peers use instead
//! (`application/dtmf-relay`, `application/dtmf`).
//!
//! ```
//! use parrot::media::dtmf::{Digit, EventReceiver, EventSender, EventSettings};
//! use std::time::Duration;
//!
//! let five = Digit::from_char('5').unwrap();
//! let packets: Vec<_> =
//!     EventSender::new(five, 48_000, Duration::from_millis(100), EventSettings::default())
//!         .collect();
//! // Updates every 20 ms, then the end three times.
//! assert_eq!(packets.len(), 4 + 3);
//! assert!(packets[0].marker);
//!
//! let mut receiver = EventReceiver::new();
//! let digits: Vec<Digit> = packets
//!     .iter()
//!     .filter_map(|p| receiver.receive(p.marker, p.timestamp, &p.event))
//!     .collect();
//! assert_eq!(digits, [five]);
//! ```

mod info;
mod receiver;
mod sender;
#[cfg(test)]
mod tests;

pub use info::{InfoDigit, parse_dtmf, parse_dtmf_relay, parse_info_body};
pub use receiver::EventReceiver;
pub use sender::{EventPacket, EventSender, EventSettings};

use std::fmt;

/// Why a telephone-event payload or a DTMF INFO body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// A telephone-event payload shorter than its 4 octets.
    #[error("telephone-event payload shorter than 4 octets")]
    TooShort,
    /// An INFO body that is not UTF-8.
    #[error("DTMF body not UTF-8")]
    NotUtf8,
    /// An INFO body without a digit (no `Signal=` line, or empty).
    #[error("no DTMF signal in the body")]
    NoSignal,
    /// A signal that is not one of 0–9, `*`, `#`, A–D.
    #[error("not a DTMF signal")]
    BadSignal,
    /// A `Duration=` that is not a number of milliseconds.
    #[error("bad DTMF duration")]
    BadDuration,
    /// A content type other than `application/dtmf-relay` or
    /// `application/dtmf`.
    #[error("not a DTMF content type")]
    NotDtmf,
}

/// A DTMF key: 0–9, `*`, `#`, A–D, numbered as RFC 4733 §3.2's event
/// codes 0–15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digit(u8);

/// The keys in event-code order (RFC 4733 §3.2).
const KEYS: &[u8; 16] = b"0123456789*#ABCD";

impl Digit {
    /// The digit of an event code 0–15 (RFC 4733 §3.2); other codes are
    /// not DTMF.
    pub fn from_event(code: u8) -> Option<Digit> {
        (code < 16).then_some(Digit(code))
    }

    /// The digit of a key: `0`–`9`, `*`, `#`, `A`–`D` (or `a`–`d`).
    pub fn from_char(key: char) -> Option<Digit> {
        let key = u8::try_from(key.to_ascii_uppercase()).ok()?;
        let code = KEYS.iter().position(|&k| k == key)?;
        // position < 16.
        Some(Digit(code as u8))
    }

    /// The RFC 4733 event code, 0–15.
    pub fn event(self) -> u8 {
        self.0
    }

    /// The key: `0`–`9`, `*`, `#`, `A`–`D`.
    pub fn as_char(self) -> char {
        char::from(KEYS[usize::from(self.0 & 0x0F)])
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// A telephone-event payload (RFC 4733 §2.3): the event, the end bit,
/// the volume and the duration so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// The event code (0–15 for DTMF, §3.2).
    pub event: u8,
    /// The E bit: the event has ended (§2.3.4).
    pub end: bool,
    /// The power level, in −dBm0 (0–63; for DTMF, 0–36 are meaningful,
    /// §2.3.3). Written modulo 64.
    pub volume: u8,
    /// The duration so far, in timestamp units, from the packet's
    /// timestamp (§2.3.5).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses a payload. Only the first 4 octets are read: more would be
    /// further events of the same packet (§2.5.1.5), not used for DTMF.
    /// The reserved bit is ignored (§2.3.2).
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, DtmfError> {
        let Some(&[event, flags, hi, lo]) = payload.first_chunk::<4>() else {
            return Err(DtmfError::TooShort);
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// The 4 octets of the payload.
    pub fn to_bytes(&self) -> [u8; 4] {
        let [hi, lo] = self.duration.to_be_bytes();
        let flags = (u8::from(self.end) << 7) | (self.volume & 0x3F);
        [self.event, flags, hi, lo]
    }

    /// The DTMF digit of this event, if it is one.
    pub fn digit(&self) -> Option<Digit> {
        Digit::from_event(self.event)
    }
}
