use super::*;
use crate::media::rtcp::NtpTimestamp;
use proptest::prelude::*;
use std::time::Duration;

/// A source whose packets so far were `seqs`, each 160 timestamp units
/// after the previous and arriving exactly on time.
fn source(seqs: impl IntoIterator<Item = u16>) -> (SourceStats, Vec<SequenceCheck>) {
    let mut seqs = seqs.into_iter().peekable();
    let first = *seqs.peek().unwrap();
    let mut s = SourceStats::new(0x5555, first);
    let checks = seqs
        .map(|q| {
            let ts = u32::from(q.wrapping_sub(first)) * 160;
            s.update(q, ts, ts + 1000)
        })
        .collect();
    (s, checks)
}

#[test]
fn a_source_is_valid_after_two_sequential_packets() {
    use SequenceCheck::*;
    let (s, checks) = source([100, 101, 102]);
    assert_eq!(checks, [Probation, Valid, Valid]);
    assert!(s.is_valid());
    // Statistics begin with the packet that ended the probation.
    assert_eq!(s.received(), 2);
    assert_eq!(s.expected(), 2);
    assert_eq!(s.extended_highest_sequence(), 102);
    // A non-sequential packet during probation starts it over.
    let (s, checks) = source([100, 105, 106, 107]);
    assert_eq!(checks, [Probation, Probation, Valid, Valid]);
    assert_eq!(s.received(), 2);
    let (mut s, checks) = source([7]);
    assert_eq!(checks, [Probation]);
    assert!(!s.is_valid());
    assert_eq!(s.report_block(Instant::now()), None);
}

#[test]
fn losses_give_the_fraction_and_the_cumulative_count() {
    // 0..=100 without 5, 15, …, 95: expected 100 (from 1, which ends
    // the probation), received 90.
    let (mut s, _) = source((0..=100).filter(|q| q % 10 != 5));
    assert_eq!(s.expected(), 100);
    assert_eq!(s.received(), 90);
    assert_eq!(s.lost(), 10);
    let now = Instant::now();
    let block = s.report_block(now).unwrap();
    assert_eq!(block.ssrc, 0x5555);
    assert_eq!(block.fraction_lost, (10 * 256 / 100) as u8);
    assert_eq!(block.cumulative_lost, 10);
    assert_eq!(block.highest_sequence, 100);
    assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
    // The next interval: 20 packets, none lost.
    for q in 101..=120 {
        s.update(q, 0, 0);
    }
    let block = s.report_block(now).unwrap();
    assert_eq!(block.fraction_lost, 0);
    assert_eq!(block.cumulative_lost, 10);
    // An interval where everything is lost cannot overflow the field:
    // a gap of 50, then one packet.
    s.update(171, 0, 0);
    let block = s.report_block(now).unwrap();
    assert_eq!(block.fraction_lost, (50 * 256 / 51) as u8);
    // Nothing since: no division by zero.
    assert_eq!(s.report_block(now).unwrap().fraction_lost, 0);
}

#[test]
fn the_sequence_number_wraps_into_cycles() {
    let seqs = (65530..=65535).chain(0..=10);
    let (s, checks) = source(seqs);
    assert!(checks[1..].iter().all(|c| *c == SequenceCheck::Valid));
    assert_eq!(s.extended_highest_sequence(), (1 << 16) + 10);
    assert_eq!(s.expected(), 16);
    assert_eq!(s.received(), 16);
    assert_eq!(s.lost(), 0);
}

#[test]
fn reordered_and_duplicated_packets_count() {
    let (s, checks) = source([1, 2, 3, 5, 4, 6, 6, 6]);
    assert!(checks[1..].iter().all(|c| *c == SequenceCheck::Valid));
    assert_eq!(s.extended_highest_sequence(), 6);
    assert_eq!(s.expected(), 5);
    assert_eq!(s.received(), 7);
    // More duplicates than losses: a negative count, as §A.3 has it.
    assert_eq!(s.lost(), -2);
    // A packet far behind (more than MAX_MISORDER) is a jump, not a
    // reordering: 300 back.
    let (mut s, _) = source(1000..1010);
    assert_eq!(s.update(709, 0, 0), SequenceCheck::Jump);
    assert_eq!(s.received(), 9);
    // Within MAX_MISORDER: counted.
    assert_eq!(s.update(950, 0, 0), SequenceCheck::Valid);
}

#[test]
fn a_large_jump_restarts_the_statistics_if_confirmed() {
    let (mut s, _) = source(0..50);
    // A stray packet 5000 ahead is dropped…
    assert_eq!(s.update(5049, 0, 0), SequenceCheck::Jump);
    assert_eq!(s.update(50, 0, 0), SequenceCheck::Valid);
    assert_eq!(s.extended_highest_sequence(), 50);
    // …but two sequential ones mean the source restarted.
    assert_eq!(s.update(20_000, 0, 0), SequenceCheck::Jump);
    assert_eq!(s.update(20_001, 0, 0), SequenceCheck::Valid);
    assert_eq!(s.expected(), 1);
    assert_eq!(s.received(), 1);
    assert_eq!(s.update(20_002, 0, 0), SequenceCheck::Valid);
    assert_eq!(s.extended_highest_sequence(), 20_002);
    assert_eq!(s.lost(), 0);
    // A jump of MAX_DROPOUT − 1 is a loss.
    assert_eq!(s.update(20_002 + 2999, 0, 0), SequenceCheck::Valid);
    assert_eq!(s.lost(), 2998);
}

#[test]
fn jitter_follows_a_8() {
    // On time: no jitter.
    let (s, _) = source(0..100);
    assert_eq!(s.jitter(), 0);
    // Arrivals alternately 40 units early and late: |D| = 80 each time,
    // and J converges to 80.
    let mut s = SourceStats::new(1, 0);
    for q in 0..500u16 {
        let ts = u32::from(q) * 160;
        let wobble = if q % 2 == 0 { 0 } else { 80 };
        s.update(q, ts, ts + 5000 + wobble);
    }
    assert!((78..=80).contains(&s.jitter()), "{}", s.jitter());
    // One delay of 160 units after a steady stream: J = 160/16 = 10.
    let mut s = SourceStats::new(1, 0);
    for q in 0..50u16 {
        let ts = u32::from(q) * 160;
        s.update(q, ts, ts + if q == 49 { 160 } else { 0 });
    }
    assert_eq!(s.jitter(), 10);
    // Timestamps and arrivals that wrap around 2^32 change nothing.
    let mut s = SourceStats::new(1, 0);
    for q in 0..50u16 {
        let ts = (u32::MAX - 3000).wrapping_add(u32::from(q) * 160);
        s.update(q, ts, ts.wrapping_add(7));
    }
    assert_eq!(s.jitter(), 0);
}

#[test]
fn the_last_sender_report_gives_lsr_and_dlsr() {
    let (mut s, _) = source(0..10);
    let t0 = Instant::now();
    // Seconds 0xB705, fraction 0x2000_1234: the middle is 0xB705_2000.
    s.sender_report(NtpTimestamp(0xB705_2000_1234), t0);
    let block = s.report_block(t0 + Duration::from_millis(5250)).unwrap();
    assert_eq!(block.last_sr, 0xB705_2000);
    assert_eq!(block.delay_since_last_sr, 0x0005_4000);
    // A report "before" the SR (clock confusion) gives zero, not a panic.
    let block = s.report_block(t0).unwrap();
    assert_eq!(block.delay_since_last_sr, 0);
}

proptest! {
    #[test]
    fn any_sequence_keeps_the_counts_consistent(
        start: u16,
        steps in proptest::collection::vec(-200i32..4000, 1..300),
    ) {
        let mut s = SourceStats::new(9, start);
        let mut seq = start;
        let now = Instant::now();
        for step in steps {
            seq = seq.wrapping_add(step as u16);
            let _ = s.update(seq, u32::from(seq) * 160, 0);
            if s.is_valid() {
                let block = s.report_block(now).unwrap();
                prop_assert_eq!(block.highest_sequence & 0xFFFF, u32::from(s.max_seq));
                prop_assert!((-0x80_0000..=0x7F_FFFF).contains(&block.cumulative_lost));
            }
        }
    }
}
