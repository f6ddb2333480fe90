//! SDP session descriptions (RFC 4566) for the offer/answer model
//! (RFC 3264): a parser that is strict where a mistake would change the
//! negotiation, a serializer, [`answer_audio`], which answers an audio
//! offer with G.711 (PCMU or PCMA), and the offers that put a session on
//! hold and resume it ([`SessionDescription::held`],
//! [`SessionDescription::resumed`], RFC 3264 §8.4).
//!
//! ```
//! use parrot::sdp::{answer_audio, Direction, SessionDescription};
//! use std::net::{IpAddr, Ipv4Addr};
//!
//! let offer: SessionDescription = "v=0\r\n\
//!     o=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\n\
//!     s=-\r\n\
//!     c=IN IP4 198.51.100.1\r\n\
//!     t=0 0\r\n\
//!     m=audio 49170 RTP/AVP 8 0 101\r\n\
//!     a=rtpmap:101 telephone-event/8000\r\n\
//!     a=ptime:30\r\n\
//!     a=sendonly\r\n"
//!     .parse()?;
//!
//! let ours = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
//! let answer = answer_audio(&offer, ours, 40000).expect("G.711 was offered");
//! let audio = &answer.media[0];
//! assert_eq!(audio.port, 40000);
//! assert_eq!(audio.formats, ["8", "0"]); // the offerer's order
//! assert_eq!(audio.direction(), Some(Direction::RecvOnly));
//! assert_eq!(audio.ptime(), Some(30));
//! assert!(answer.to_string().contains("c=IN IP4 192.0.2.7\r\n"));
//! # Ok::<(), parrot::sdp::SdpError>(())
//! ```
//!
//! What the parser enforces (RFC 4566 §5): the `<type>=<value>` line
//! syntax, only the type letters the RFC defines, their order and
//! multiplicity (`v`, `o`, `s` first; at least one `t`; `i`, `u`, `c`, `z`,
//! `k` at most once per level), the syntax of `v`, `o`, `c`, `b`, `t` and
//! `m`, RTP payload types between 0 and 127, the syntax of the `rtpmap` and
//! `ptime` attributes and of the direction attributes (RFC 3264 §5.1), and a
//! connection address for every media description. Everything else
//! (`i`, `u`, `e`, `p`, `r`, `z`, `k` and other attributes) is kept as
//! written. Lines may end in CRLF or a bare LF (§5 asks parsers to accept
//! both); the serializer writes CRLF.
//!
//! The model's text fields are [`Text`](crate::message::Text)s, which keep
//! short values (most of an offer's) inline, without allocating.

mod error;
mod hold;
mod model;
mod offer_answer;
mod parse;
#[cfg(test)]
mod tests;
mod write;

pub use error::{SdpError, SdpErrorKind};
pub use model::{
    Attribute, Bandwidth, Connection, Direction, MediaDescription, Origin, RtpMap,
    SessionDescription, Timing,
};
pub(crate) use offer_answer::answer_timing;
pub use offer_answer::{answer_audio, offer_audio, same_streams};
pub(crate) use write::{concat_text, decimal_text};

/// The static payload type of PCMU (G.711 µ-law, RFC 3551 §6).
pub const PCMU: u8 = 0;
/// The static payload type of PCMA (G.711 A-law, RFC 3551 §6).
pub const PCMA: u8 = 8;
