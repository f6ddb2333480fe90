//! WAV files for prompts and recordings: the RIFF/WAVE container with
//! 8 kHz mono audio as 16-bit linear PCM, A-law or µ-law (format tags 1,
//! 6 and 7, also inside `WAVE_FORMAT_EXTENSIBLE`), which is what telephony
//! prompts come as. Sans-IO: [`WavInfo::parse`] reads a file's bytes,
//! [`header`] writes the 44-byte header of a 16-bit PCM file.
//!
//! A prompt in any other rate or channel count is refused with an error
//! naming what it is, rather than played at the wrong speed.

use std::ops::Range;
use thiserror::Error;

/// The sample rate of telephone audio (G.711), in Hz.
pub const RATE: u32 = 8000;

/// How the samples of a WAV file are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    /// 16-bit signed little-endian linear PCM (format tag 1).
    Pcm16,
    /// G.711 A-law, one byte per sample (format tag 6).
    Alaw,
    /// G.711 µ-law, one byte per sample (format tag 7).
    Mulaw,
}

impl WavEncoding {
    /// Bytes per sample.
    pub fn sample_size(self) -> usize {
        match self {
            WavEncoding::Pcm16 => 2,
            WavEncoding::Alaw | WavEncoding::Mulaw => 1,
        }
    }
}

/// Why a WAV file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WavError {
    /// Not a RIFF/WAVE file.
    #[error("not a WAV file (no RIFF/WAVE header)")]
    NotWav,
    /// A chunk runs past the end of the file, or the `fmt ` chunk is too
    /// short.
    #[error("truncated WAV file: {0}")]
    Truncated(&'static str),
    /// No `fmt ` chunk before the `data` chunk.
    #[error("WAV file without a fmt chunk before its data")]
    NoFormat,
    /// No `data` chunk.
    #[error("WAV file without a data chunk")]
    NoData,
    /// An encoding other than 16-bit PCM, A-law or µ-law.
    #[error("unsupported WAV encoding (format tag {tag}, {bits} bits per sample)")]
    Encoding {
        /// The format tag.
        tag: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Not 8 kHz mono.
    #[error("WAV audio must be 8000 Hz mono, not {rate} Hz with {channels} channel(s)")]
    Layout {
        /// The file's sample rate.
        rate: u32,
        /// The file's channel count.
        channels: u16,
    },
}

/// What [`WavInfo::parse`] found in a WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavInfo {
    /// The samples' encoding.
    pub encoding: WavEncoding,
    /// Where the samples are in the file (whole samples only).
    pub data: Range<usize>,
}

const FORMAT_PCM: u16 = 1;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl WavInfo {
    /// Reads the header of a WAV file held in `bytes`: walks the RIFF
    /// chunks (each padded to an even length), takes the `fmt ` chunk and
    /// the `data` chunk, and skips the others (`LIST`, `fact`...). A data
    /// chunk whose stated size runs past the end of the file (a recording
    /// cut short) is taken up to the end.
    pub fn parse(bytes: &[u8]) -> Result<WavInfo, WavError> {
        if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err(WavError::NotWav);
        }
        let mut at = 12;
        let mut encoding = None;
        while at + 8 <= bytes.len() {
            let id = &bytes[at..at + 4];
            let size = u32_at(bytes, at + 4).ok_or(WavError::Truncated("chunk header"))? as usize;
            let body = at + 8;
            if id == b"data" {
                let encoding = encoding.ok_or(WavError::NoFormat)?;
                let end = body.saturating_add(size).min(bytes.len());
                let whole = (end - body) / WavEncoding::sample_size(encoding);
                return Ok(WavInfo {
                    encoding,
                    data: body..body + whole * WavEncoding::sample_size(encoding),
                });
            }
            let end = body
                .checked_add(size)
                .filter(|&e| e <= bytes.len())
                .ok_or(WavError::Truncated("a chunk runs past the end"))?;
            if id == b"fmt " {
                encoding = Some(format(&bytes[body..end])?);
            }
            // Chunks are padded to an even length.
            at = end + (size & 1);
        }
        Err(WavError::NoData)
    }
}

/// The encoding a `fmt ` chunk describes, if it is 8 kHz mono audio this
/// module takes.
fn format(fmt: &[u8]) -> Result<WavEncoding, WavError> {
    let field = |at| u16_at(fmt, at).ok_or(WavError::Truncated("fmt chunk"));
    let mut tag = field(0)?;
    let channels = field(2)?;
    let rate = u32_at(fmt, 4).ok_or(WavError::Truncated("fmt chunk"))?;
    let bits = field(14)?;
    if tag == FORMAT_EXTENSIBLE {
        // The sub-format GUID starts with the format tag it stands for.
        tag = u16_at(fmt, 24).ok_or(WavError::Truncated("extensible fmt chunk"))?;
    }
    let encoding = match (tag, bits) {
        (FORMAT_PCM, 16) => WavEncoding::Pcm16,
        (FORMAT_ALAW, 8) => WavEncoding::Alaw,
        (FORMAT_MULAW, 8) => WavEncoding::Mulaw,
        (tag, bits) => return Err(WavError::Encoding { tag, bits }),
    };
    if rate != RATE || channels != 1 {
        return Err(WavError::Layout { rate, channels });
    }
    Ok(encoding)
}

/// The 44-byte header of an 8 kHz mono 16-bit PCM WAV file holding
/// `samples` samples (sizes saturate at the format's 4 GiB limit).
pub fn header(samples: u32) -> [u8; 44] {
    let data = samples.saturating_mul(2);
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(RATE * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(fmt: &[u8], extra: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        out.extend_from_slice(fmt);
        out.extend_from_slice(extra);
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn fmt(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&channels.to_le_bytes());
        f.extend_from_slice(&rate.to_le_bytes());
        f.extend_from_slice(&(rate * u32::from(bits / 8)).to_le_bytes());
        f.extend_from_slice(&(bits / 8).to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        f
    }

    #[test]
    fn our_header_parses_back() {
        let mut wav = header(3).to_vec();
        wav.extend_from_slice(&[1, 0, 2, 0, 3, 0]);
        let info = WavInfo::parse(&wav).unwrap();
        assert_eq!(info.encoding, WavEncoding::Pcm16);
        assert_eq!(info.data, 44..50);
        assert_eq!(&wav[4..8], &42u32.to_le_bytes());
    }

    #[test]
    fn g711_files_and_skipped_chunks() {
        // A LIST chunk of odd length (padded) before the data.
        let list = b"LIST\x03\0\0\0abc\0";
        let wav = file(&fmt(7, 1, 8000, 8), list, &[0xFF; 160]);
        let info = WavInfo::parse(&wav).unwrap();
        assert_eq!(info.encoding, WavEncoding::Mulaw);
        assert_eq!(info.data.len(), 160);
        let wav = file(&fmt(6, 1, 8000, 8), b"", &[0xD5; 8]);
        assert_eq!(WavInfo::parse(&wav).unwrap().encoding, WavEncoding::Alaw);
    }

    #[test]
    fn extensible_format_names_its_subformat() {
        let mut f = fmt(FORMAT_EXTENSIBLE, 1, 8000, 16);
        f.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        f.extend_from_slice(&16u16.to_le_bytes()); // valid bits
        f.extend_from_slice(&4u32.to_le_bytes()); // channel mask
        f.extend_from_slice(&1u16.to_le_bytes()); // GUID: PCM
        f.extend_from_slice(&[0; 14]);
        let wav = file(&f, b"", &[0; 4]);
        assert_eq!(WavInfo::parse(&wav).unwrap().encoding, WavEncoding::Pcm16);
    }

    #[test]
    fn refusals_name_the_fault() {
        assert_eq!(WavInfo::parse(b"RIFX"), Err(WavError::NotWav));
        assert_eq!(
            WavInfo::parse(&file(&fmt(1, 1, 44100, 16), b"", &[0; 4])),
            Err(WavError::Layout {
                rate: 44100,
                channels: 1
            })
        );
        assert_eq!(
            WavInfo::parse(&file(&fmt(1, 2, 8000, 16), b"", &[0; 4])),
            Err(WavError::Layout {
                rate: 8000,
                channels: 2
            })
        );
        assert_eq!(
            WavInfo::parse(&file(&fmt(3, 1, 8000, 32), b"", &[0; 4])),
            Err(WavError::Encoding { tag: 3, bits: 32 })
        );
        assert_eq!(
            WavInfo::parse(&file(&[1, 0, 1], b"", &[0; 4])),
            Err(WavError::Truncated("fmt chunk"))
        );
        let mut no_fmt = b"RIFF\0\0\0\0WAVEdata\x02\0\0\0ab".to_vec();
        assert_eq!(WavInfo::parse(&no_fmt), Err(WavError::NoFormat));
        no_fmt.truncate(12);
        assert_eq!(WavInfo::parse(&no_fmt), Err(WavError::NoData));
        let mut cut = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
        cut.extend_from_slice(&[0; 4]);
        assert_eq!(
            WavInfo::parse(&cut),
            Err(WavError::Truncated("a chunk runs past the end"))
        );
    }

    #[test]
    fn a_data_chunk_cut_short_is_taken_to_the_end_in_whole_samples() {
        let mut wav = file(&fmt(1, 1, 8000, 16), b"", &[0; 10]);
        wav.truncate(wav.len() - 5);
        let info = WavInfo::parse(&wav).unwrap();
        assert_eq!(info.data.len(), 4);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for len in 0..400 {
            let mut b = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b.push(seed as u8);
            }
            let _ = WavInfo::parse(&b);
        }
    }
}
