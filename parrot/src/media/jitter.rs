//! A jitter buffer for audio: packets go in as they arrive, in any order;
//! one frame comes out per playout tick (every 20 ms), in timestamp
//! order, a set delay behind.
//!
//! Playout is driven by RTP timestamps: each tick plays the frame whose
//! timestamp is the playout point, then moves the point on by one frame.
//! So a lost packet and a pause in the sender's stream (silence
//! suppression) alike give [`Playout::Missing`] for their ticks, and a
//! packet whose timestamp the point has passed is late and dropped. The
//! delay is the depth ([`JitterConfig::depth`] ticks before the first
//! frame plays); when the buffer holds more than two frames beyond a
//! steady stream's level for ten ticks in a row (its playout fell behind:
//! a hiccup of the player, a burst after a network stall, a sender's
//! clock running fast), it skips a frame in five until the delay is back
//! to the depth; memory is a fixed ring of [`JitterConfig::capacity`] slots
//! holding at most [`JitterConfig::max_payload`] octets each, their
//! buffers reused from packet to packet.
//!
//! A packet too far from the playout point to be jitter (beyond the ring
//! ahead, or more than 64 frames behind) is dropped; a second one
//! following it in sequence means the sender's timeline moved, and the
//! buffer starts over from there (like RFC 3550 §A.1's restart rule).
//! After a whole ring's worth of empty ticks the buffer goes idle and the
//! next packet starts it afresh, so a sender that stops for a while (hold,
//! silence) resumes with the normal delay.
//!
//! Packets of other payload types (telephone-event, comfort noise) do not
//! belong here: they share timestamps with audio.

use super::FRAME_SAMPLES;
use super::rtp::RtpPacket;

/// The most slots a buffer may have (5 s of 20 ms frames).
const MAX_SLOTS: usize = 256;
/// Frames beyond a steady stream's level (the depth and the frame
/// arriving) the buffer may hold before it catches up.
const EXCESS_SLACK: usize = 2;
/// Ticks in a row with more than that before frames are skipped.
const EXCESS_TICKS: usize = 10;
/// While catching up, one frame skipped in this many ticks.
const SKIP_EVERY: usize = 5;
/// How far behind the playout point (in frames) a packet is still taken
/// as late or duplicate rather than as a jump: the played-frame history
/// is one `u64`.
const HISTORY: u32 = 64;

/// The shape of a jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Ticks to wait after the first packet before playing it: the delay
    /// the buffer adds, and the most jitter it absorbs. Default 3 (60 ms
    /// of 20 ms frames).
    pub depth: usize,
    /// Timestamp units per frame (and per tick). Default 160 (20 ms at
    /// 8 kHz).
    pub frame_samples: u32,
    /// Slots in the ring: the most frames held, and how many frames ahead
    /// of the playout point a packet may be. Clamped to `depth + 1..=256`.
    /// Default 16 (320 ms).
    pub capacity: usize,
    /// The largest payload accepted, in octets; larger ones are dropped.
    /// Default 1500.
    pub max_payload: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            depth: 3,
            frame_samples: FRAME_SAMPLES as u32,
            capacity: 16,
            max_payload: 1500,
        }
    }
}

/// What a playout tick gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// The payload of the frame due now.
    Frame(&'a [u8]),
    /// The frame due now was lost, is late, or was never sent (a pause in
    /// the sender's stream): conceal it (see [`Concealer`](super::conceal::Concealer)).
    Missing,
    /// Nothing is playing: no packet yet, the buffer filling up to its
    /// depth, or idle after the sender stopped.
    Empty,
}

/// What became of a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pushed {
    /// Held for playout.
    Buffered,
    /// Its playout time has passed: dropped.
    Late,
    /// Its frame is already held or was already played: dropped.
    Duplicate,
    /// Too far from the playout point to be jitter: dropped, unless the
    /// next packet follows it.
    Jump,
    /// It followed a [`Pushed::Jump`]: the buffer started over from it.
    Resync,
    /// Larger than [`JitterConfig::max_payload`]: dropped.
    TooLarge,
}

/// What a jitter buffer has seen, since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterStats {
    /// Frames played.
    pub played: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Packets for a frame already held or played.
    pub duplicate: u64,
    /// Ticks without their frame while a later one was held: frames lost
    /// (or later than the buffer's depth), concealed.
    pub lost: u64,
    /// Ticks with nothing held at all while playing: the sender paused, or
    /// everything after this point is late.
    pub underruns: u64,
    /// Packets buffered after one with a higher sequence number: repaired
    /// reordering.
    pub reordered: u64,
    /// Times the buffer started over after a jump.
    pub resyncs: u64,
    /// Packets dropped as jumps or as too large.
    pub dropped: u64,
    /// Frames skipped to bring the delay back to the depth after the
    /// playout fell behind the sender.
    pub skipped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No packet yet, or the sender stopped.
    Idle,
    /// Packets arriving; this many ticks waited of the depth.
    Priming(usize),
    /// One frame per tick.
    Playing,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    filled: bool,
    payload: Vec<u8>,
}

/// A jitter buffer for one audio stream (one SSRC).
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    /// The ring; `slots[head]` holds the frame due at the next tick.
    slots: Vec<Slot>,
    head: usize,
    /// The timestamp of the frame at `head`.
    playout_ts: u32,
    state: State,
    /// Filled slots.
    buffered: usize,
    /// Bit i set: the frame i + 1 ticks behind the playout point was
    /// played.
    history: u64,
    /// The highest sequence number buffered, for the reordering count.
    highest_seq: Option<u16>,
    /// After a jump: the sequence number that would confirm it.
    pending_jump: Option<u16>,
    /// Whether `playout_ts` and `history` mean anything yet (a first
    /// packet came).
    timeline: bool,
    /// Consecutive ticks with nothing held.
    underrun_run: usize,
    /// Consecutive ticks holding more than a steady stream keeps, or
    /// ticks since the last frame skipped while catching up.
    excess_run: usize,
    /// Skipping frames until the steady level is back.
    catching_up: bool,
    /// The payload of the frame last played (swapped out of its slot).
    current: Vec<u8>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer. The configuration is clamped to sane values: a
    /// depth of at least 1, a frame of at least one timestamp unit, and
    /// `depth + 1..=256` slots.
    pub fn new(config: JitterConfig) -> JitterBuffer {
        let depth = config.depth.clamp(1, MAX_SLOTS - 1);
        let config = JitterConfig {
            depth,
            frame_samples: config.frame_samples.max(1),
            capacity: config.capacity.clamp(depth + 1, MAX_SLOTS),
            max_payload: config.max_payload,
        };
        JitterBuffer {
            slots: vec![Slot::default(); config.capacity],
            config,
            head: 0,
            playout_ts: 0,
            state: State::Idle,
            buffered: 0,
            history: 0,
            highest_seq: None,
            pending_jump: None,
            timeline: false,
            underrun_run: 0,
            excess_run: 0,
            catching_up: false,
            current: Vec::new(),
            stats: JitterStats::default(),
        }
    }

    /// The configuration in force (after clamping).
    pub fn config(&self) -> &JitterConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// Frames held.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Pushes a received packet's payload (of this buffer's stream).
    pub fn push_packet(&mut self, packet: &RtpPacket<'_>) -> Pushed {
        self.push(packet.sequence, packet.timestamp, packet.payload)
    }

    /// Pushes a received packet: its sequence number, its timestamp and
    /// its payload.
    pub fn push(&mut self, sequence: u16, timestamp: u32, payload: &[u8]) -> Pushed {
        if payload.len() > self.config.max_payload {
            self.stats.dropped += 1;
            return Pushed::TooLarge;
        }
        if !self.timeline {
            self.restart(sequence, timestamp, payload);
            return Pushed::Buffered;
        }
        let offset = self.offset_of(timestamp);
        let behind = if offset < 0 { offset.unsigned_abs() } else { 0 };
        if self.state == State::Idle && offset >= 0 {
            // The sender resumed (or moved on): start afresh. A packet
            // behind the point where playout stopped is old, and judged
            // below like any other: far behind, it takes two in sequence
            // to move the timeline back (a lone straggler of frames
            // already played must not play them again).
            self.restart(sequence, timestamp, payload);
            return Pushed::Buffered;
        }
        if offset >= self.slots.len() as i64 {
            return self.jump(sequence, timestamp, payload);
        }
        if offset < 0 {
            if matches!(self.state, State::Priming(_)) && self.can_rebase(behind) {
                // Before playout starts an earlier packet moves the start
                // back (the first packet to arrive need not be the first
                // sent).
                self.rebase(behind);
                return self.store(0, sequence, payload);
            }
            if behind > u64::from(HISTORY) {
                return self.jump(sequence, timestamp, payload);
            }
            if (self.history >> (behind - 1)) & 1 == 1 {
                self.stats.duplicate += 1;
                return Pushed::Duplicate;
            }
            self.stats.late += 1;
            return Pushed::Late;
        }
        // 0 ≤ offset < capacity ≤ 256.
        self.store(offset as usize, sequence, payload)
    }

    /// Holds a payload `offset` frames after the playout point.
    fn store(&mut self, offset: usize, sequence: u16, payload: &[u8]) -> Pushed {
        let index = (self.head + offset) % self.slots.len();
        let slot = &mut self.slots[index];
        if slot.filled {
            self.stats.duplicate += 1;
            return Pushed::Duplicate;
        }
        slot.filled = true;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        self.buffered += 1;
        match self.highest_seq {
            Some(highest) if (sequence.wrapping_sub(highest) as i16) < 0 => {
                self.stats.reordered += 1;
            }
            _ => self.highest_seq = Some(sequence),
        }
        Pushed::Buffered
    }

    /// A packet far from the playout point: dropped, unless it follows
    /// the previous such packet, which means the timeline moved.
    fn jump(&mut self, sequence: u16, timestamp: u32, payload: &[u8]) -> Pushed {
        if self.pending_jump == Some(sequence) {
            self.stats.resyncs += 1;
            self.restart(sequence, timestamp, payload);
            return Pushed::Resync;
        }
        self.pending_jump = Some(sequence.wrapping_add(1));
        self.stats.dropped += 1;
        Pushed::Jump
    }

    /// The signed distance from the playout point to a timestamp on the
    /// wrapping timestamp line, in frames (rounded down, so that a
    /// frame's own timestamp maps to its slot).
    fn offset_of(&self, timestamp: u32) -> i64 {
        let delta = i64::from(timestamp.wrapping_sub(self.playout_ts) as i32);
        delta.div_euclid(i64::from(self.config.frame_samples))
    }

    /// Empties the ring and starts priming from this packet.
    fn restart(&mut self, sequence: u16, timestamp: u32, payload: &[u8]) {
        // The history moves with the playout point when it moves a little
        // forward, so that frames already played are still known.
        let offset = self.offset_of(timestamp);
        self.history = match offset {
            0 if self.timeline => self.history,
            1..64 if self.timeline => self.history << offset,
            _ => 0,
        };
        for slot in &mut self.slots {
            slot.filled = false;
        }
        self.timeline = true;
        self.buffered = 0;
        self.head = 0;
        self.playout_ts = timestamp;
        self.state = State::Priming(0);
        self.highest_seq = None;
        self.pending_jump = None;
        self.underrun_run = 0;
        self.store(0, sequence, payload);
    }

    /// Whether the playout point can move `behind` frames back: no held
    /// frame falls off the far end of the ring, and none of the frames it
    /// moves over was played already.
    fn can_rebase(&self, behind: u64) -> bool {
        let len = self.slots.len();
        let furthest = (0..len)
            .filter(|o| self.slots[(self.head + o) % len].filled)
            .max()
            .unwrap_or(0);
        let fits = (furthest as u64).saturating_add(behind) < len as u64;
        // The `behind` low bits of the history: frames played there.
        let mask = u32::try_from(behind)
            .ok()
            .and_then(|b| 1u64.checked_shl(b))
            .map_or(u64::MAX, |bit| bit - 1);
        fits && self.history & mask == 0
    }

    fn rebase(&mut self, behind: u64) {
        let len = self.slots.len();
        // behind < len ≤ 256 (checked by can_rebase).
        let behind = behind as usize;
        self.head = (self.head + len - behind) % len;
        self.history = self.history.checked_shr(behind as u32).unwrap_or(0);
        let back = (behind as u32).wrapping_mul(self.config.frame_samples);
        self.playout_ts = self.playout_ts.wrapping_sub(back);
    }

    /// Skips frames when the buffer has held more than a steady stream
    /// keeps in it (the depth and the frame arriving) plus
    /// [`EXCESS_SLACK`] for [`EXCESS_TICKS`] ticks: the playout fell
    /// behind the sender (a hiccup of the player, a burst after a network
    /// stall, a sender's clock running fast), and a fixed delay would keep
    /// that lag for the rest of the call. Then one frame in every
    /// [`SKIP_EVERY`] ticks goes, until the steady level is back.
    fn catch_up(&mut self) {
        let steady = self.config.depth + 1;
        if self.buffered <= steady {
            self.excess_run = 0;
            self.catching_up = false;
            return;
        }
        self.excess_run += 1;
        if !self.catching_up {
            if self.buffered <= steady + EXCESS_SLACK {
                self.excess_run = 0;
                return;
            }
            if self.excess_run < EXCESS_TICKS {
                return;
            }
            self.catching_up = true;
        } else if self.excess_run < SKIP_EVERY {
            return;
        }
        self.excess_run = 0;
        let len = self.slots.len();
        let slot = &mut self.slots[self.head];
        let held = slot.filled;
        if held {
            slot.filled = false;
            self.buffered -= 1;
        }
        self.head = (self.head + 1) % len;
        self.playout_ts = self.playout_ts.wrapping_add(self.config.frame_samples);
        // A copy arriving later is a duplicate if this one was held.
        self.history = (self.history << 1) | u64::from(held);
        self.stats.skipped += 1;
    }

    /// The playout tick: the frame due now, if any. Call every frame
    /// duration (20 ms). The payload is valid until the next call.
    pub fn pop(&mut self) -> Playout<'_> {
        match self.state {
            State::Idle => return Playout::Empty,
            State::Priming(waited) if waited < self.config.depth => {
                self.state = State::Priming(waited + 1);
                return Playout::Empty;
            }
            State::Priming(_) => self.state = State::Playing,
            State::Playing => {}
        }
        self.catch_up();
        let len = self.slots.len();
        let slot = &mut self.slots[self.head];
        let played = slot.filled;
        if played {
            slot.filled = false;
            std::mem::swap(&mut slot.payload, &mut self.current);
            self.buffered -= 1;
        }
        self.head = (self.head + 1) % len;
        self.playout_ts = self.playout_ts.wrapping_add(self.config.frame_samples);
        self.history = (self.history << 1) | u64::from(played);
        if played {
            self.underrun_run = 0;
            self.stats.played += 1;
            return Playout::Frame(&self.current);
        }
        if self.buffered > 0 {
            self.stats.lost += 1;
        } else {
            self.stats.underruns += 1;
            self.underrun_run += 1;
            if self.underrun_run >= len {
                // The sender stopped: the next packet starts afresh.
                self.state = State::Idle;
            }
        }
        Playout::Missing
    }
}

#[cfg(test)]
mod tests;
