//! Packet loss concealment for G.711, at its simplest: a missing frame is
//! replaced by the last one heard, once; after that comes silence. One
//! repetition bridges a single lost packet almost inaudibly; repeating
//! longer turns into a buzz, which silence avoids (the full algorithm,
//! G.711 Appendix I, is not done here).

use super::FRAME_SAMPLES;
use super::g711::G711;
use super::jitter::Playout;

/// Turns each tick's [`Playout`] into the payload to decode and play.
#[derive(Debug, Clone)]
pub struct Concealer {
    law: G711,
    /// The last frame played, for one repetition.
    last: Vec<u8>,
    /// Whether the last frame was already repeated.
    repeated: bool,
    /// A frame of silence, as long as the last frame.
    silence: Vec<u8>,
}

impl Concealer {
    /// A concealer for a stream of this law; until a frame is heard,
    /// silence is a 20 ms frame.
    pub fn new(law: G711) -> Concealer {
        Concealer {
            law,
            last: Vec::new(),
            repeated: true,
            silence: vec![law.silence(); FRAME_SAMPLES],
        }
    }

    /// The payload to play for a tick: a frame as it came; for a missing
    /// frame the previous one once, then silence; silence while the
    /// buffer is empty. Silence is as long as the last frame heard.
    pub fn next<'a>(&'a mut self, playout: Playout<'a>) -> &'a [u8] {
        match playout {
            Playout::Frame(payload) => {
                self.last.clear();
                self.last.extend_from_slice(payload);
                self.repeated = false;
                if self.silence.len() != payload.len() {
                    self.silence.clear();
                    self.silence.resize(payload.len(), self.law.silence());
                }
                payload
            }
            Playout::Missing if !self.repeated => {
                self.repeated = true;
                &self.last
            }
            Playout::Missing | Playout::Empty => &self.silence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_the_last_frame_once_then_plays_silence() {
        let mut c = Concealer::new(G711::Pcma);
        assert_eq!(c.next(Playout::Empty), [0xD5; 160]);
        assert_eq!(
            c.next(Playout::Missing),
            [0xD5; 160],
            "nothing to repeat yet"
        );
        assert_eq!(c.next(Playout::Frame(&[1, 2, 3])), [1, 2, 3]);
        assert_eq!(c.next(Playout::Missing), [1, 2, 3]);
        assert_eq!(c.next(Playout::Missing), [0xD5; 3]);
        assert_eq!(c.next(Playout::Missing), [0xD5; 3]);
        assert_eq!(c.next(Playout::Frame(&[4; 160])), [4; 160]);
        assert_eq!(c.next(Playout::Empty), [0xD5; 160]);
        // The repetition is still owed after an empty tick.
        assert_eq!(c.next(Playout::Missing), [4; 160]);
        let mut c = Concealer::new(G711::Pcmu);
        assert_eq!(c.next(Playout::Empty), [0xFF; 160]);
    }
}
