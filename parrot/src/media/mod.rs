//! RTP media, sans-IO: the protocol logic of audio calls, driven by the
//! caller with packets and times, and performing no I/O and reading no
//! clock (the UDP sessions are built on top).
//!
//! - [`rtp`]: RTP packets (RFC 3550 §5), and telling RTP from RTCP and
//!   other protocols on one port (RFC 5761, RFC 7983);
//! - [`rtcp`]: compound RTCP packets (RFC 3550 §6), the report interval
//!   and NTP timestamps;
//! - [`receive`]: the reception statistics of a source (RFC 3550 §A.1,
//!   §A.3, §A.8), which its report blocks carry;
//! - [`jitter`]: a fixed-delay jitter buffer, and [`conceal`] for the
//!   frames it misses;
//! - [`g711`]: the PCMU and PCMA codecs;
//! - [`dtmf`]: RFC 4733 telephone-events and the DTMF of SIP INFO bodies;
//! - [`tone`]: sine and dual tones (in-band DTMF, ringback).
//!
//! Times come in as arguments: arrival times in RTP timestamp units,
//! wallclock instants for RTCP's delays, and one call per 20 ms tick for
//! playout.
//!
//! ```
//! use parrot::media::g711::G711;
//! use parrot::media::jitter::{JitterBuffer, JitterConfig, Playout};
//! use parrot::media::rtp::{RtpHeader, RtpPacket};
//! use parrot::media::tone::Tone;
//!
//! // A 20 ms frame of a 1 kHz tone, encoded as PCMU and sent as RTP.
//! let mut samples = Tone::new(1000.0, -10.0).frame();
//! let mut payload = [0u8; 160];
//! G711::Pcmu.encode(&samples, &mut payload);
//! let header = RtpHeader { marker: true, payload_type: 0, sequence: 1, timestamp: 160, ssrc: 7 };
//! let mut datagram = Vec::new();
//! header.write_to(&payload, &mut datagram)?;
//!
//! // Received: through the jitter buffer, decoded at the playout tick.
//! let packet = RtpPacket::parse(&datagram)?;
//! let mut buffer = JitterBuffer::new(JitterConfig::default());
//! buffer.push_packet(&packet);
//! let played = loop {
//!     match buffer.pop() {
//!         Playout::Frame(p) => break p.to_vec(),
//!         Playout::Empty => continue, // the buffer's 60 ms of delay
//!         Playout::Missing => unreachable!(),
//!     }
//! };
//! G711::Pcmu.decode(&played, &mut samples);
//! # Ok::<(), parrot::media::rtp::RtpError>(())
//! ```

pub mod conceal;
pub mod dtmf;
mod error;
pub mod g711;
pub mod jitter;
pub mod latch;
pub mod negotiate;
pub mod pacer;
pub mod ports;
pub mod receive;
pub mod rtcp;
pub mod rtp;
pub mod session;
pub mod tone;
pub mod wav;

pub use error::MediaError;

/// The sampling rate of G.711, and of telephone-event as usually
/// negotiated (RFC 3551 §4.5.14, RFC 4733 §2.1).
pub const CLOCK_RATE: u32 = 8000;
/// The samples of one 20 ms frame at [`CLOCK_RATE`]: the usual packet of
/// an audio call.
pub const FRAME_SAMPLES: usize = 160;

/// Where the calls' media goes: see
/// [`ServerBuilder::media`](crate::server::ServerBuilder::media).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// The address RTP sockets bind to; `None`: the first SIP listener's.
    pub bind_ip: Option<std::net::IpAddr>,
    /// The RTP ports: each call takes an even port and the next odd one
    /// (RTCP). Default [`ports::DEFAULT_PORTS`].
    pub ports: std::ops::RangeInclusive<u16>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            bind_ip: None,
            ports: ports::DEFAULT_PORTS,
        }
    }
}
