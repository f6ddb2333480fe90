use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

/// What a tick gave, with the frame's payload read as the number it was
/// made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tick {
    F(u32),
    Missing,
    Empty,
}
use Tick::{Empty as E, F, Missing as M};

fn payload(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

/// Packet `n` of a stream starting at sequence number `seq0` and
/// timestamp `ts0`, 160 units apart.
struct Stream {
    seq0: u16,
    ts0: u32,
}

impl Stream {
    const PLAIN: Stream = Stream { seq0: 0, ts0: 0 };

    fn push(&self, jb: &mut JitterBuffer, n: u32) -> Pushed {
        let seq = self.seq0.wrapping_add(n as u16);
        let ts = self.ts0.wrapping_add(n.wrapping_mul(160));
        jb.push(seq, ts, &payload(n))
    }
}

fn tick(jb: &mut JitterBuffer) -> Tick {
    match jb.pop() {
        Playout::Frame(p) => F(u32::from_be_bytes(p.try_into().unwrap())),
        Playout::Missing => M,
        Playout::Empty => E,
    }
}

fn ticks(jb: &mut JitterBuffer, n: usize) -> Vec<Tick> {
    (0..n).map(|_| tick(jb)).collect()
}

/// One packet pushed before each tick, in the order given.
fn run(stream: &Stream, order: &[u32]) -> (Vec<Tick>, JitterBuffer) {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut out = Vec::new();
    for &n in order {
        stream.push(&mut jb, n);
        out.push(tick(&mut jb));
    }
    out.extend(ticks(&mut jb, 4));
    (out, jb)
}

#[test]
fn in_order_packets_play_after_the_depth() {
    let (out, jb) = run(&Stream::PLAIN, &[0, 1, 2, 3, 4, 5]);
    assert_eq!(out, [E, E, E, F(0), F(1), F(2), F(3), F(4), F(5), M]);
    assert_eq!(jb.stats().played, 6);
    assert_eq!(jb.stats().lost, 0);
    assert_eq!(jb.stats().underruns, 1);
    assert_eq!(jb.buffered(), 0);
}

#[test]
fn reordered_packets_are_put_back_in_order() {
    let (out, jb) = run(&Stream::PLAIN, &[0, 2, 1, 3, 5, 4, 6]);
    assert_eq!(out[3..10], [F(0), F(1), F(2), F(3), F(4), F(5), F(6)]);
    assert_eq!(jb.stats().reordered, 2);
    // The first packet to arrive need not be the first sent: playout
    // starts from the earliest that comes during the wait.
    let (out, jb) = run(&Stream::PLAIN, &[1, 0, 2, 3]);
    assert_eq!(out[..6], [E, E, E, F(0), F(1), F(2)]);
    assert_eq!(jb.stats().reordered, 1);
}

#[test]
fn a_lost_packet_is_a_missing_tick() {
    let (out, jb) = run(&Stream::PLAIN, &[0, 1, 2, 4, 5, 6]);
    assert_eq!(out[3..9], [F(0), F(1), F(2), M, F(4), F(5)]);
    assert_eq!(jb.stats().lost, 1);
    // Arriving after its tick: late.
    let mut jb = JitterBuffer::new(JitterConfig::default());
    for n in 0..4 {
        Stream::PLAIN.push(&mut jb, n);
    }
    assert_eq!(ticks(&mut jb, 4), [E, E, E, F(0)]);
    Stream::PLAIN.push(&mut jb, 5);
    assert_eq!(ticks(&mut jb, 3), [F(1), F(2), F(3)]);
    assert_eq!(tick(&mut jb), M, "4 was due");
    assert_eq!(Stream::PLAIN.push(&mut jb, 4), Pushed::Late);
    assert_eq!(ticks(&mut jb, 2), [F(5), M]);
    assert_eq!(jb.stats().late, 1);
    assert_eq!(jb.stats().lost, 1);
}

#[test]
fn duplicates_are_dropped_whether_held_or_played() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    assert_eq!(Stream::PLAIN.push(&mut jb, 0), Pushed::Buffered);
    assert_eq!(Stream::PLAIN.push(&mut jb, 1), Pushed::Buffered);
    assert_eq!(Stream::PLAIN.push(&mut jb, 1), Pushed::Duplicate);
    assert_eq!(Stream::PLAIN.push(&mut jb, 0), Pushed::Duplicate);
    assert_eq!(ticks(&mut jb, 5), [E, E, E, F(0), F(1)]);
    assert_eq!(Stream::PLAIN.push(&mut jb, 0), Pushed::Duplicate);
    assert_eq!(Stream::PLAIN.push(&mut jb, 1), Pushed::Duplicate);
    assert_eq!(jb.stats().duplicate, 4);
    assert_eq!(jb.stats().late, 0);
    assert_eq!(tick(&mut jb), M);
}

#[test]
fn sequence_numbers_and_timestamps_wrap() {
    let stream = Stream {
        seq0: 65533,
        ts0: u32::MAX - 2 * 160 + 1,
    };
    let order = [0, 1, 3, 2, 4, 5, 6, 7];
    let (out, jb) = run(&stream, &order);
    assert_eq!(out[3..11], [F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7)]);
    assert_eq!(jb.stats().reordered, 1);
    assert_eq!(
        jb.stats().late + jb.stats().duplicate + jb.stats().dropped,
        0
    );
}

#[test]
fn a_burst_far_ahead_resyncs_instead_of_growing() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    for n in 0..4 {
        Stream::PLAIN.push(&mut jb, n);
    }
    assert_eq!(ticks(&mut jb, 5), [E, E, E, F(0), F(1)]);
    // One stray packet 1000 frames ahead: dropped, playout goes on.
    assert_eq!(Stream::PLAIN.push(&mut jb, 1000), Pushed::Jump);
    assert_eq!(ticks(&mut jb, 2), [F(2), F(3)]);
    // A burst there: the second packet confirms the move.
    assert_eq!(Stream::PLAIN.push(&mut jb, 2000), Pushed::Jump);
    assert_eq!(Stream::PLAIN.push(&mut jb, 2001), Pushed::Resync);
    // More than the ring holds, at once: the buffer keeps moving to the
    // newest packets (dropping older ones) rather than growing.
    for n in 2002..2100 {
        Stream::PLAIN.push(&mut jb, n);
        assert!(jb.buffered() <= jb.config().capacity);
    }
    assert!(jb.stats().resyncs > 1);
    assert!(jb.stats().dropped >= 2);
    let out = ticks(&mut jb, 25);
    assert_eq!(out[..3], [E, E, E]);
    let frames: Vec<u32> = out
        .iter()
        .filter_map(|t| if let F(n) = t { Some(*n) } else { None })
        .collect();
    assert!(!frames.is_empty() && frames.len() <= 16, "{frames:?}");
    assert!(frames.windows(2).all(|w| w[1] == w[0] + 1), "{frames:?}");
    assert_eq!(frames.last(), Some(&2099));
    // The old timeline is behind now: played frames are duplicates,
    // others late.
    assert_eq!(Stream::PLAIN.push(&mut jb, 2099), Pushed::Duplicate);
    assert_eq!(Stream::PLAIN.push(&mut jb, frames[0] - 1), Pushed::Late);
}

#[test]
fn an_idle_sender_restarts_with_the_full_delay() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    for n in 0..2 {
        Stream::PLAIN.push(&mut jb, n);
    }
    assert_eq!(ticks(&mut jb, 5), [E, E, E, F(0), F(1)]);
    // Sixteen empty ticks (the ring's size) and the buffer goes idle.
    assert_eq!(ticks(&mut jb, 16), [M; 16]);
    assert_eq!(tick(&mut jb), E);
    assert_eq!(jb.stats().underruns, 16);
    assert_eq!(jb.stats().lost, 0);
    // The sender comes back a minute later: no jump, a fresh start.
    assert_eq!(Stream::PLAIN.push(&mut jb, 3000), Pushed::Buffered);
    assert_eq!(ticks(&mut jb, 4), [E, E, E, F(3000)]);
    // A packet that was played before the pause is still a duplicate,
    // and one just behind the restart point is late.
    let mut jb = JitterBuffer::new(JitterConfig::default());
    Stream::PLAIN.push(&mut jb, 0);
    let expected = [&[E, E, E, F(0)][..], &[M; 16][..], &[E][..]].concat();
    assert_eq!(ticks(&mut jb, 4 + 16 + 1), expected);
    assert_eq!(Stream::PLAIN.push(&mut jb, 0), Pushed::Duplicate);
    assert_eq!(Stream::PLAIN.push(&mut jb, 5), Pushed::Late);
    assert_eq!(Stream::PLAIN.push(&mut jb, 20), Pushed::Buffered);
    // Restarted 3 frames after the old point: 0 is still known played.
    assert_eq!(Stream::PLAIN.push(&mut jb, 0), Pushed::Duplicate);
    assert_eq!(Stream::PLAIN.push(&mut jb, 19), Pushed::Buffered, "rebased");
    assert_eq!(ticks(&mut jb, 5), [E, E, E, F(19), F(20)]);
}

#[test]
fn a_pause_in_the_stream_gives_missing_ticks() {
    // Silence suppression: sequence numbers go on, timestamps skip two
    // frames.
    let mut jb = JitterBuffer::new(JitterConfig::default());
    jb.push(0, 0, &payload(0));
    jb.push(1, 160, &payload(1));
    jb.push(2, 640, &payload(4));
    assert_eq!(ticks(&mut jb, 8), [E, E, E, F(0), F(1), M, M, F(4)]);
    assert_eq!(jb.stats().lost, 2);
}

#[test]
fn configuration_is_clamped_and_payloads_bounded() {
    let jb = JitterBuffer::new(JitterConfig {
        depth: 0,
        frame_samples: 0,
        capacity: 0,
        max_payload: 8,
    });
    assert_eq!(jb.config().depth, 1);
    assert_eq!(jb.config().frame_samples, 1);
    assert_eq!(jb.config().capacity, 2);
    let jb = JitterBuffer::new(JitterConfig {
        depth: 10_000,
        capacity: 1_000_000,
        ..JitterConfig::default()
    });
    assert_eq!(jb.config().depth, 255);
    assert_eq!(jb.config().capacity, 256);
    let mut jb = JitterBuffer::new(JitterConfig {
        max_payload: 8,
        ..JitterConfig::default()
    });
    assert_eq!(jb.push(0, 0, &[0; 9]), Pushed::TooLarge);
    assert_eq!(jb.push(0, 0, &[0; 8]), Pushed::Buffered);
    assert_eq!(jb.stats().dropped, 1);
    // An RTP packet goes in as its sequence number, timestamp and payload.
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut bytes = Vec::new();
    crate::media::rtp::RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 1,
        timestamp: 160,
        ssrc: 1,
    }
    .write_to(&payload(1), &mut bytes)
    .unwrap();
    let packet = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(jb.push_packet(&packet), Pushed::Buffered);
    assert_eq!(ticks(&mut jb, 4), [E, E, E, F(1)]);
}

#[derive(Debug, Clone)]
enum Op {
    /// A packet this many frames from the sender's clock.
    Push(i32),
    /// The sender's clock jumps this many frames ahead, and sends.
    Jump(u32),
    /// The last packet again.
    Repeat,
    Pop,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (-60i32..40).prop_map(Op::Push),
        1 => (0u32..5000).prop_map(Op::Jump),
        1 => Just(Op::Repeat),
        6 => Just(Op::Pop),
    ]
}

#[test]
fn a_playout_fallen_behind_catches_up_by_skipping_frames() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let s = Stream::PLAIN;
    let next = std::cell::Cell::new(0u32);
    let push = |jb: &mut JitterBuffer, k: u32| {
        for _ in 0..k {
            s.push(jb, next.get());
            next.set(next.get() + 1);
        }
    };
    // A steady stream: never more than depth + 1 held, nothing skipped.
    for _ in 0..50 {
        push(&mut jb, 1);
        tick(&mut jb);
        assert!(jb.buffered() <= 4, "{}", jb.buffered());
    }
    assert_eq!(jb.stats().skipped, 0);
    // The player stalls for five frame times, then catches up: the
    // five frames that came meanwhile would otherwise stay as delay.
    push(&mut jb, 5);
    let mut held = Vec::new();
    for _ in 0..100 {
        push(&mut jb, 1);
        tick(&mut jb);
        held.push(jb.buffered());
    }
    assert!(jb.stats().skipped >= 3, "{:?}", jb.stats());
    assert!(held[60..].iter().all(|&h| h <= 3), "{held:?}");
    // Each frame played at most once, in order, and none lost but the
    // skipped ones.
    assert_eq!(
        jb.stats().played + jb.stats().skipped,
        u64::from(next.get()) - jb.buffered() as u64
    );
    // A brief burst (two frames) plays out whole.
    let skipped = jb.stats().skipped;
    push(&mut jb, 2);
    for _ in 0..50 {
        push(&mut jb, 1);
        tick(&mut jb);
    }
    assert_eq!(jb.stats().skipped, skipped, "{:?}", jb.stats());
}

proptest! {
    #[test]
    fn no_frame_plays_twice_and_memory_stays_bounded(
        seq0: u16,
        ts0: u32,
        capacity in 4usize..20,
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        let stream = Stream { seq0, ts0 };
        let mut jb = JitterBuffer::new(JitterConfig { capacity, ..JitterConfig::default() });
        let mut played = HashSet::new();
        let mut highest_played = None;
        // The sender's clock: a frame per tick, plus its jumps.
        let mut clock = 0i64;
        let mut last = None;
        for op in ops {
            let n = match op {
                Op::Push(d) => Some((clock + i64::from(d)).max(0) as u32),
                Op::Jump(j) => {
                    clock += i64::from(j);
                    Some(clock as u32)
                }
                Op::Repeat => last,
                Op::Pop => {
                    clock += 1;
                    if let F(n) = tick(&mut jb) {
                        prop_assert!(played.insert(n), "frame {} played twice", n);
                        highest_played = highest_played.max(Some(n));
                    }
                    None
                }
            };
            if let Some(n) = n {
                last = Some(n);
                // Packets from before a jump of the sender can be far
                // enough behind to move the timeline back; frames there
                // may then play again, as a restarted sender's would.
                if stream.push(&mut jb, n) == Pushed::Resync && Some(n) <= highest_played {
                    played.clear();
                }
            }
            prop_assert!(jb.buffered() <= jb.config().capacity);
            prop_assert_eq!(
                jb.buffered(),
                jb.slots.iter().filter(|s| s.filled).count()
            );
            for slot in &jb.slots {
                prop_assert!(slot.payload.capacity() <= 2 * jb.config().max_payload);
            }
        }
    }
}
