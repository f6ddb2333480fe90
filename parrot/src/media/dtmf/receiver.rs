//! One digit per key press, from a stream of telephone-event packets
//! (RFC 4733 §2.5.2).
//!
//! All packets of an event carry the timestamp of its start (§2.5.1.2),
//! so the timestamp identifies the press: the digit is reported at the
//! first packet heard with a new timestamp — as soon as it is known, which
//! is what an IVR wants — and every later packet of that timestamp
//! (updates, the final packet and its retransmissions) is absorbed. A
//! lost end is harmless: the next press has a new timestamp. A packet
//! older than the current event (a late retransmission) is ignored, and
//! the segments of a long event (§2.5.2.3) continue it rather than start
//! new presses.

use super::{Digit, DtmfError, TelephoneEvent};
use crate::media::rtp::RtpPacket;

/// How far (in timestamp units, two segments) behind the current event a packet is
/// taken as belonging to an earlier one; further back, the sender's
/// timeline must have restarted, and the packet starts a new event.
const STALE_WINDOW: u32 = 0x2_0000;
/// The slack allowed around the start of the next segment of a long
/// event (§2.5.2.3: at the previous segment's timestamp plus 65 535).
const SEGMENT_SLACK: u32 = 0x1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Current {
    timestamp: u32,
    event: u8,
    ended: bool,
    /// The longest duration heard for it.
    duration: u16,
}

/// Turns telephone-event packets into one digit per key press.
#[derive(Debug, Clone, Default)]
pub struct EventReceiver {
    current: Option<Current>,
}

impl EventReceiver {
    /// A receiver that has heard nothing yet.
    pub fn new() -> EventReceiver {
        EventReceiver::default()
    }

    /// Forgets the current event (for a new source).
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Accounts for a telephone-event RTP packet; the digit if it starts
    /// a new key press.
    pub fn receive_packet(&mut self, packet: &RtpPacket<'_>) -> Result<Option<Digit>, DtmfError> {
        let event = TelephoneEvent::parse(packet.payload)?;
        Ok(self.receive(packet.marker, packet.timestamp, &event))
    }

    /// Accounts for a telephone-event packet: its marker bit, its RTP
    /// timestamp and its payload. Returns the digit when the packet starts
    /// a new key press. Events that are not DTMF (codes 16 and up) are
    /// followed the same way but never reported.
    pub fn receive(
        &mut self,
        marker: bool,
        timestamp: u32,
        event: &TelephoneEvent,
    ) -> Option<Digit> {
        if let Some(current) = &mut self.current {
            if timestamp == current.timestamp {
                current.ended |= event.end;
                current.duration = current.duration.max(event.duration);
                return None;
            }
            let behind = current.timestamp.wrapping_sub(timestamp);
            if behind < STALE_WINDOW {
                return None;
            }
            let ahead = timestamp.wrapping_sub(current.timestamp);
            let next_segment = u32::from(u16::MAX);
            let continues = !marker
                && !current.ended
                && event.event == current.event
                // A long event: more than half a segment heard.
                && current.duration >= 0x8000
                && ahead.abs_diff(next_segment) <= SEGMENT_SLACK;
            if continues {
                current.timestamp = timestamp;
                current.ended = event.end;
                current.duration = event.duration;
                return None;
            }
        }
        self.current = Some(Current {
            timestamp,
            event: event.event,
            ended: event.end,
            duration: event.duration,
        });
        event.digit()
    }
}
