use super::*;
use proptest::prelude::*;

/// FNV-1a over bytes: a fingerprint of a whole table, to compare with
/// the reference implementation's.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn ulaw_reference_values() {
    // ITU-T G.711 Table 2a, expanded to 16 bits as the reference
    // implementation does.
    assert_eq!(decode_ulaw(0xFF), 0);
    assert_eq!(decode_ulaw(0x7F), 0);
    assert_eq!(decode_ulaw(0x00), -32124);
    assert_eq!(decode_ulaw(0x80), 32124);
    assert_eq!(decode_ulaw(0x0F), -16764);
    assert_eq!(decode_ulaw(0x8F), 16764);
    assert_eq!(decode_ulaw(0x10), -15996);
    assert_eq!(decode_ulaw(0x70), -120);
    assert_eq!(decode_ulaw(0xFE), 8);
    assert_eq!(decode_ulaw(0x7E), -8);
    assert_eq!(encode_ulaw(0), 0xFF);
    assert_eq!(encode_ulaw(-1), 0x7E);
    assert_eq!(encode_ulaw(4), 0xFE);
    assert_eq!(encode_ulaw(100), 0xF2);
    assert_eq!(encode_ulaw(-100), 0x72);
    assert_eq!(encode_ulaw(1000), 0xCE);
    assert_eq!(encode_ulaw(-1000), 0x4E);
    assert_eq!(encode_ulaw(i16::MAX), 0x80);
    assert_eq!(encode_ulaw(i16::MIN), 0x00);
}

#[test]
fn alaw_reference_values() {
    // ITU-T G.711 Table 1a (even bits inverted on the wire: 0xD5 is +0).
    assert_eq!(decode_alaw(0xD5), 8);
    assert_eq!(decode_alaw(0x55), -8);
    assert_eq!(decode_alaw(0xAA), 32256);
    assert_eq!(decode_alaw(0x2A), -32256);
    assert_eq!(decode_alaw(0x80), 5504);
    assert_eq!(decode_alaw(0x00), -5504);
    assert_eq!(encode_alaw(0), 0xD5);
    assert_eq!(encode_alaw(-1), 0x55);
    assert_eq!(encode_alaw(100), 0xD3);
    assert_eq!(encode_alaw(-100), 0x53);
    assert_eq!(encode_alaw(1000), 0xFA);
    assert_eq!(encode_alaw(-1000), 0x7A);
    assert_eq!(encode_alaw(i16::MAX), 0xAA);
    assert_eq!(encode_alaw(i16::MIN), 0x2A);
}

#[test]
fn every_code_and_sample_matches_the_reference_implementation() {
    // Fingerprints of the Sun reference (as shipped in CPython's audioop):
    // the 256 decoded values of each law (little-endian) and the codes of
    // all 65 536 samples from -32768 up.
    let decoded = |law: G711| fnv((0..=255u8).flat_map(|c| law.decode_sample(c).to_le_bytes()));
    let encoded = |law: G711| fnv((i16::MIN..=i16::MAX).map(|s| law.encode_sample(s)));
    assert_eq!(decoded(G711::Pcmu), 0xb91e_65d6_8481_a1a8);
    assert_eq!(decoded(G711::Pcma), 0x693a_40ca_62a3_d2a5);
    assert_eq!(encoded(G711::Pcmu), 0xd5ee_23f7_d0ff_ae91);
    assert_eq!(encoded(G711::Pcma), 0xf030_666e_b780_cf25);
}

#[test]
fn decoding_then_encoding_gives_every_code_back() {
    for code in 0..=255u8 {
        let back = encode_ulaw(decode_ulaw(code));
        // µ-law has two zeros; +0 (0xFF) is the one an encoder produces.
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(back, expected, "µ-law {code:#04x}");
        assert_eq!(encode_alaw(decode_alaw(code)), code, "A-law {code:#04x}");
    }
}

#[test]
fn both_laws_are_monotonic() {
    for law in [G711::Pcmu, G711::Pcma] {
        let mut previous = i16::MIN;
        for s in i16::MIN..=i16::MAX {
            let level = law.decode_sample(law.encode_sample(s));
            assert!(level >= previous, "{law:?} at {s}: {level} < {previous}");
            previous = level;
        }
        // And the decoded levels, sorted, are 256 (A-law) or 255 (µ-law's
        // two zeros) distinct values.
        let mut levels: Vec<i16> = (0..=255u8).map(|c| law.decode_sample(c)).collect();
        levels.sort_unstable();
        levels.dedup();
        assert_eq!(levels.len(), if law == G711::Pcmu { 255 } else { 256 });
    }
}

#[test]
fn frames_encode_and_decode_into_caller_buffers() {
    let samples: Vec<i16> = (0..160).map(|i| (i * 200 - 16000) as i16).collect();
    for law in [G711::Pcmu, G711::Pcma] {
        let mut codes = [0u8; 160];
        assert_eq!(law.encode(&samples, &mut codes), 160);
        let mut back = [0i16; 160];
        assert_eq!(law.decode(&codes, &mut back), 160);
        for (a, b) in samples.iter().zip(&back) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 512);
        }
        // Mismatched lengths: the shorter one decides, nothing panics.
        assert_eq!(law.encode(&samples, &mut codes[..10]), 10);
        assert_eq!(law.decode(&codes[..5], &mut back), 5);
        assert_eq!(law.encode(&[], &mut codes), 0);
    }
}

#[test]
fn payload_types_and_silence() {
    assert_eq!(G711::from_payload_type(0), Some(G711::Pcmu));
    assert_eq!(G711::from_payload_type(8), Some(G711::Pcma));
    assert_eq!(G711::from_payload_type(18), None);
    for law in [G711::Pcmu, G711::Pcma] {
        assert_eq!(G711::from_payload_type(law.payload_type()), Some(law));
        assert_eq!(law.silence(), law.encode_sample(0));
    }
}

/// The quantization step of the segment a code lies in, on the 16-bit
/// scale.
fn step(law: G711, code: u8) -> i32 {
    match law {
        G711::Pcmu => 8 << ((!code & 0x70) >> 4),
        G711::Pcma => 16 << (((code ^ 0x55) & 0x70) >> 4).saturating_sub(1),
    }
}

proptest! {
    #[test]
    fn encoding_a_decoded_code_is_stable(code: u8) {
        for law in [G711::Pcmu, G711::Pcma] {
            let once = law.encode_sample(law.decode_sample(code));
            let twice = law.encode_sample(law.decode_sample(once));
            prop_assert_eq!(once, twice);
            prop_assert_eq!(law.decode_sample(once), law.decode_sample(code));
        }
    }

    #[test]
    fn the_error_stays_within_half_a_step(s: i16) {
        for law in [G711::Pcmu, G711::Pcma] {
            let code = law.encode_sample(s);
            let error = (i32::from(law.decode_sample(code)) - i32::from(s)).abs();
            // Half a step, plus the bits the reference drops before
            // quantizing (µ-law rounds 14-bit values with a bias of 3 on
            // the 16-bit scale); beyond ±32124 µ-law clips.
            let bound = match law {
                G711::Pcmu => step(law, code) / 2 + 3,
                G711::Pcma => step(law, code) / 2,
            };
            let clipped = law == G711::Pcmu && i32::from(s).abs() > 32124;
            prop_assert!(error <= bound || clipped, "{:?} {} -> {:#04x}: error {}", law, s, code, error);
        }
    }
}
