//! The packets of one key press (RFC 4733 §2.5.1): an iterator that
//! yields each packet with the moment to send it, so the caller's clock
//! (not a sleep here) paces them.

use super::{Digit, TelephoneEvent};
use std::collections::VecDeque;
use std::time::Duration;

/// The largest duration one packet carries (§2.5.1.3); longer events are
/// cut into segments of this length.
const MAX_SEGMENT: u64 = u16::MAX as u64;
/// How many times the final packet of an event or segment is sent
/// (§2.5.1.4).
const FINAL_COPIES: u8 = 3;

/// How telephone-events are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    /// The RTP clock rate of the telephone-event payload type (the rate in
    /// its `a=rtpmap`). Default 8000.
    pub clock_rate: u32,
    /// Timestamp units between packets (RFC 4733 §2.5.1.2 suggests the
    /// audio packet interval). Default 160: every 20 ms at 8 kHz.
    pub interval: u32,
    /// The volume, in −dBm0 (0–63). Default 10.
    pub volume: u8,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            clock_rate: 8000,
            interval: 160,
            volume: 10,
        }
    }
}

/// One telephone-event packet to send, in the RTP stream of the call
/// (the caller numbers it and gives it the negotiated payload type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// When to send it, from the start of the event.
    pub offset: Duration,
    /// The marker bit: set on the first packet of the event only
    /// (§2.5.1.2).
    pub marker: bool,
    /// The RTP timestamp: the start of the event, or of its segment
    /// (§2.5.1.3).
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

/// The packets of one key press: an update every interval with the
/// duration so far (all with the timestamp of the event's start), then
/// the final packet, with the E bit, three times (§2.5.1.4). An event
/// longer than 65 535 timestamp units is cut into segments (§2.5.1.3):
/// each segment's final packet has the largest duration and no E bit and
/// is sent three times, and the next segment starts at the timestamp
/// where it ended, without the marker.
#[derive(Debug, Clone)]
pub struct EventSender {
    event: u8,
    volume: u8,
    clock_rate: u32,
    interval: u64,
    /// The event's length, in timestamp units.
    total: u64,
    /// The RTP timestamp of the event's start.
    start: u32,
    /// The offset (timestamp units) of the next update.
    next_tick: u64,
    /// The offset where the current segment started.
    segment_start: u64,
    /// The timestamp of a finished segment, and how many more copies of
    /// its final packet are due.
    segment_final: Option<(u32, u8)>,
    /// Whether the first packet (with the marker) has been yielded.
    started: bool,
    /// Whether the end packets are queued.
    done: bool,
    /// Packets of the current tick not yet yielded (at most 5).
    queue: VecDeque<EventPacket>,
}

impl EventSender {
    /// The packets for `digit` pressed for `duration` (at least one
    /// interval), starting at RTP timestamp `timestamp`. The audio
    /// stream's next packet should carry a timestamp at or after the end
    /// of the event, and audio should not be sent meanwhile (§2.5.1.1).
    pub fn new(
        digit: Digit,
        timestamp: u32,
        duration: Duration,
        settings: EventSettings,
    ) -> EventSender {
        let clock_rate = settings.clock_rate.max(1);
        // An interval over a segment would skip segment ends.
        let interval = u64::from(settings.interval).clamp(1, MAX_SEGMENT);
        let units = duration.as_nanos() * u128::from(clock_rate) / 1_000_000_000;
        // Capped far beyond any key press (about 1000 years at 8 kHz), so
        // that offsets cannot overflow.
        let total = u64::try_from(units)
            .unwrap_or(u64::MAX)
            .clamp(interval, 1 << 48);
        EventSender {
            event: digit.event(),
            volume: settings.volume.min(63),
            clock_rate,
            interval,
            total,
            start: timestamp,
            next_tick: interval,
            segment_start: 0,
            segment_final: None,
            started: false,
            done: false,
            queue: VecDeque::with_capacity(5),
        }
    }

    /// The RTP timestamp just after the event: where audio resumes.
    pub fn end_timestamp(&self) -> u32 {
        // RTP timestamps are modulo 2^32.
        self.start.wrapping_add(self.total as u32)
    }

    fn packet(&mut self, at: u64, timestamp: u32, end: bool, duration: u64) -> EventPacket {
        let marker = !self.started;
        self.started = true;
        EventPacket {
            offset: self.offset(at),
            marker,
            timestamp,
            event: TelephoneEvent {
                event: self.event,
                end,
                volume: self.volume,
                // duration ≤ MAX_SEGMENT by construction.
                duration: u16::try_from(duration).unwrap_or(u16::MAX),
            },
        }
    }

    fn offset(&self, units: u64) -> Duration {
        let nanos = u128::from(units) * 1_000_000_000 / u128::from(self.clock_rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn segment_timestamp(&self) -> u32 {
        self.start.wrapping_add(self.segment_start as u32)
    }

    /// Queues the packets of the next tick.
    fn tick(&mut self) {
        let t = self.next_tick.min(self.total);
        if let Some((timestamp, left)) = self.segment_final {
            let p = self.packet(t, timestamp, false, MAX_SEGMENT);
            self.queue.push_back(p);
            self.segment_final = (left > 1).then_some((timestamp, left - 1));
        }
        if t - self.segment_start > MAX_SEGMENT {
            // The segment is full: its final packet, then a new segment
            // from where it ended (§2.5.1.3).
            let timestamp = self.segment_timestamp();
            let p = self.packet(t, timestamp, false, MAX_SEGMENT);
            self.queue.push_back(p);
            self.segment_final = Some((timestamp, FINAL_COPIES - 1));
            self.segment_start += MAX_SEGMENT;
        }
        let timestamp = self.segment_timestamp();
        let so_far = t - self.segment_start;
        if t >= self.total {
            for copy in 0..u64::from(FINAL_COPIES) {
                let p = self.packet(t + copy * self.interval, timestamp, true, so_far);
                self.queue.push_back(p);
            }
            self.done = true;
        } else {
            if so_far > 0 {
                let p = self.packet(t, timestamp, false, so_far);
                self.queue.push_back(p);
            }
            self.next_tick += self.interval;
        }
    }
}

impl Iterator for EventSender {
    type Item = EventPacket;

    fn next(&mut self) -> Option<EventPacket> {
        while self.queue.is_empty() && !self.done {
            self.tick();
        }
        self.queue.pop_front()
    }
}
