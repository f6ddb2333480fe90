//! What can go wrong with a call's media.

use super::wav::WavError;
use std::path::PathBuf;
use thiserror::Error;

/// An error of the media layer.
#[derive(Debug, Error)]
pub enum MediaError {
    /// The configured port range holds no RTP/RTCP pair.
    #[error("the RTP port range holds no even/odd port pair")]
    EmptyPortRange,
    /// Every port pair of the range is in use: the call should be refused
    /// with `503 Service Unavailable`.
    #[error("no RTP port pair free in the configured range")]
    PortsExhausted,
    /// The offer has no audio stream with a codec we speak (PCMU or
    /// PCMA): `488 Not Acceptable Here` (RFC 3261 §13.3.1.1).
    #[error("no audio stream with PCMU or PCMA in the offer")]
    NoCommonCodec,
    /// The media session has ended (the call is over).
    #[error("the media session has ended")]
    Ended,
    /// A WAV file could not be used.
    #[error("{0}")]
    Wav(#[from] WavError),
    /// An I/O error (binding a socket, reading or writing a file).
    #[error("media I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A prompt or recording file could not be used: the file, and why
    /// (it does not exist, cannot be read or written, or is not a WAV file
    /// that can be played). The session goes on.
    #[error("{}: {source}", path.display())]
    File {
        /// The file as the handler named it.
        path: PathBuf,
        /// Why it could not be used ([`MediaError::Io`] or
        /// [`MediaError::Wav`]).
        source: Box<MediaError>,
    },
}

impl MediaError {
    /// `self`, naming the file it concerns (an [`Ended`](Self::Ended)
    /// session stays as it is).
    pub(crate) fn of_file(self, path: &std::path::Path) -> MediaError {
        match self {
            MediaError::Ended => MediaError::Ended,
            e => MediaError::File {
                path: path.to_owned(),
                source: Box::new(e),
            },
        }
    }
}

impl PartialEq for MediaError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MediaError::Io(a), MediaError::Io(b)) => a.kind() == b.kind(),
            (MediaError::Wav(a), MediaError::Wav(b)) => a == b,
            (MediaError::File { path: p, source: a }, MediaError::File { path: q, source: b }) => {
                p == q && a == b
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}
