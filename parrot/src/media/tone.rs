//! Tones: one or two sine waves at 8 kHz, frame after frame with the
//! phase carried over, for DTMF sent in-band, ringback and other call
//! progress tones.

use super::dtmf::Digit;
use super::{CLOCK_RATE, FRAME_SAMPLES};
use std::f64::consts::TAU;

/// The peak amplitude of a 0 dBm0 sine on the 16-bit scale. G.711 puts
/// µ-law's full scale (8159 on its 14-bit scale, 32 636 on ours) at
/// +3.17 dBm0 (ITU-T G.711 §4, Table 5); 0 dBm0 is 3.17 dB below.
pub const DBM0_PEAK: f64 = 22_656.714;

/// The peak amplitude of a sine at `dbm0` (e.g. −10.0 for −10 dBm0).
pub fn amplitude(dbm0: f64) -> f64 {
    DBM0_PEAK * 10f64.powf(dbm0 / 20.0)
}

/// One sine wave.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Oscillator {
    /// Where in its cycle the next sample is, in [0, 1).
    phase: f64,
    /// Cycles per sample.
    step: f64,
    /// Peak amplitude.
    amplitude: f64,
}

impl Oscillator {
    fn new(frequency: f64, amplitude: f64) -> Oscillator {
        let step = frequency / f64::from(CLOCK_RATE);
        Oscillator {
            phase: 0.0,
            // A NaN or infinite frequency would poison every sample.
            step: if step.is_finite() {
                step.rem_euclid(1.0)
            } else {
                0.0
            },
            amplitude: if amplitude.is_finite() {
                amplitude
            } else {
                0.0
            },
        }
    }

    fn next(&mut self) -> f64 {
        let value = self.amplitude * (TAU * self.phase).sin();
        self.phase += self.step;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
        value
    }
}

/// A tone generator: the sum of one or two sines, sampled at 8 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct Tone {
    sines: [Oscillator; 2],
}

impl Tone {
    /// A sine at `frequency` Hz and `dbm0` dBm0.
    pub fn new(frequency: f64, dbm0: f64) -> Tone {
        Tone::with_amplitude(frequency, amplitude(dbm0))
    }

    /// A sine at `frequency` Hz with a peak amplitude on the 16-bit scale.
    pub fn with_amplitude(frequency: f64, peak: f64) -> Tone {
        Tone {
            sines: [Oscillator::new(frequency, peak), Oscillator::new(0.0, 0.0)],
        }
    }

    /// Two sines added, each at `dbm0` dBm0 (the sum's peaks are
    /// clipped to the 16-bit range if they exceed it).
    pub fn dual(low: f64, high: f64, dbm0: f64) -> Tone {
        let peak = amplitude(dbm0);
        Tone {
            sines: [Oscillator::new(low, peak), Oscillator::new(high, peak)],
        }
    }

    /// The in-band tone of a DTMF key (ITU-T Q.23): a row frequency
    /// (697, 770, 852, 941 Hz) and a column one (1209, 1336, 1477,
    /// 1633 Hz), each at `dbm0`.
    pub fn dtmf(digit: Digit, dbm0: f64) -> Tone {
        const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
        const COLUMNS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
        // The keypad: 1 2 3 A / 4 5 6 B / 7 8 9 C / * 0 # D.
        let (row, column) = match digit.as_char() {
            '1' => (0, 0),
            '2' => (0, 1),
            '3' => (0, 2),
            'A' => (0, 3),
            '4' => (1, 0),
            '5' => (1, 1),
            '6' => (1, 2),
            'B' => (1, 3),
            '7' => (2, 0),
            '8' => (2, 1),
            '9' => (2, 2),
            'C' => (2, 3),
            '*' => (3, 0),
            '0' => (3, 1),
            '#' => (3, 2),
            _ => (3, 3),
        };
        Tone::dual(ROWS[row], COLUMNS[column], dbm0)
    }

    /// The North American ringback tone's sound: 440 + 480 Hz at
    /// −19 dBm0 each (the cadence, 2 s on and 4 s off, is the caller's).
    pub fn ringback() -> Tone {
        Tone::dual(440.0, 480.0, -19.0)
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out {
            let value = self.sines[0].next() + self.sines[1].next();
            // `as` saturates at the i16 range: clipping, not wrapping.
            *sample = value.round() as i16;
        }
    }

    /// The next 20 ms frame.
    pub fn frame(&mut self) -> [i16; FRAME_SAMPLES] {
        let mut frame = [0; FRAME_SAMPLES];
        self.fill(&mut frame);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(tone: &mut Tone) -> Vec<i16> {
        (0..50).flat_map(|_| tone.frame()).collect()
    }

    fn zero_crossings(samples: &[i16]) -> usize {
        samples
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count()
    }

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / samples.len() as f64).sqrt()
    }

    /// The power of one frequency in the samples (Goertzel), normalized
    /// so that a sine of peak A gives about A²/4.
    fn power_at(samples: &[i16], frequency: f64) -> f64 {
        let w = TAU * frequency / f64::from(CLOCK_RATE);
        let coefficient = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s = f64::from(x) + coefficient * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let n = samples.len() as f64;
        (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (n * n)
    }

    #[test]
    fn a_sine_has_its_frequency_and_level() {
        for (frequency, dbm0) in [
            (440.0, -10.0),
            (1000.0, 0.0),
            (1004.0, -3.0),
            (350.0, -20.0),
        ] {
            let samples = second(&mut Tone::new(frequency, dbm0));
            let crossings = zero_crossings(&samples) as f64;
            assert!(
                (crossings - 2.0 * frequency).abs() <= 2.0,
                "{frequency} Hz: {crossings}"
            );
            let level = 20.0 * (rms(&samples) * 2f64.sqrt() / DBM0_PEAK).log10();
            assert!((level - dbm0).abs() < 0.01, "{dbm0} dBm0: {level}");
        }
        // The full scale of µ-law is +3.17 dBm0.
        assert!((amplitude(3.17) - 32_636.0).abs() < 1.0);
    }

    #[test]
    fn the_phase_carries_across_frames() {
        let mut framed = Tone::new(440.0, -10.0);
        let mut whole = framed.clone();
        let mut one_go = vec![0i16; 8000];
        whole.fill(&mut one_go);
        assert_eq!(second(&mut framed), one_go);
        // Odd-sized calls too.
        let mut pieces = Tone::new(440.0, -10.0);
        let mut out = vec![0i16; 8000];
        for chunk in out.chunks_mut(37) {
            pieces.fill(chunk);
        }
        assert_eq!(out, one_go);
    }

    #[test]
    fn dual_tones_hold_both_frequencies() {
        let five = Digit::from_char('5').unwrap();
        let samples = second(&mut Tone::dtmf(five, -7.0));
        let peak = amplitude(-7.0);
        for present in [770.0, 1336.0] {
            let p = power_at(&samples, present);
            assert!(
                (p / (peak * peak / 4.0) - 1.0).abs() < 0.05,
                "{present} Hz: {p}"
            );
        }
        for absent in [697.0, 852.0, 1209.0, 1477.0] {
            assert!(
                power_at(&samples, absent) < peak * peak / 4000.0,
                "{absent} Hz"
            );
        }
        // Each key its own pair.
        let keys = "0123456789*#ABCD";
        let mut pairs: Vec<[u64; 2]> = keys
            .chars()
            .map(|k| {
                let t = Tone::dtmf(Digit::from_char(k).unwrap(), 0.0);
                t.sines.map(|s| (s.step * 8000.0).round() as u64)
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        assert_eq!(pairs.len(), 16);
        // Ringback: two tones at −19 dBm0, their powers adding.
        let samples = second(&mut Tone::ringback());
        let expected = (2.0 * amplitude(-19.0).powi(2) / 2.0).sqrt();
        assert!((rms(&samples) / expected - 1.0).abs() < 0.01);
    }

    #[test]
    fn loud_or_nonsense_tones_clip_instead_of_wrapping() {
        let samples = second(&mut Tone::dual(500.0, 500.0, 6.0));
        assert!(samples.contains(&i16::MAX) && samples.contains(&i16::MIN));
        // 500 cycles: a crossing down in each, and up between each two.
        assert!((999..=1000).contains(&zero_crossings(&samples)));
        for t in [
            Tone::new(f64::NAN, 0.0),
            Tone::new(1000.0, f64::NAN),
            Tone::with_amplitude(f64::INFINITY, f64::INFINITY),
        ] {
            let mut t = t;
            assert!(t.frame().iter().all(|&s| s == 0));
        }
        // Above the sampling rate: aliased, still bounded.
        let _ = Tone::new(12_345.0, 0.0).frame();
    }
}
