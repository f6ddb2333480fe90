//! RTCP (RFC 3550 §6): compound packets parsed and built, the report
//! interval (§6.3.1, §A.7), and NTP timestamps (§4).
//!
//! A compound packet is parsed whole ([`parse_compound`]) after the
//! validity checks of §A.2: version 2 everywhere, an SR or RR first,
//! padding only on the last packet, and lengths that add up to the
//! datagram. SR, RR, SDES (CNAME; other items skipped), and BYE are
//! decoded; other packet types (APP, the feedback messages of RFC 4585,
//! XR…) are stepped over by their length and reported as
//! [`RtcpPacket::Other`]. [`write_compound`] builds the packets we send.

mod interval;
mod ntp;
mod parse;
#[cfg(test)]
mod tests;
mod write;

pub use interval::{RtcpInterval, average_packet_size};
pub use ntp::{NtpTimestamp, round_trip_time, to_delay_units};
pub use parse::parse_compound;
pub use write::write_compound;

/// The packet type of a sender report (RFC 3550 §6.4.1).
pub const SR: u8 = 200;
/// The packet type of a receiver report (RFC 3550 §6.4.2).
pub const RR: u8 = 201;
/// The packet type of a source description (RFC 3550 §6.5).
pub const SDES: u8 = 202;
/// The packet type of a goodbye (RFC 3550 §6.6).
pub const BYE: u8 = 203;
/// The packet type of an application-defined packet (RFC 3550 §6.7).
pub const APP: u8 = 204;

/// The most report blocks, sources or chunks one packet holds: the
/// five-bit count of its header.
pub const MAX_COUNT: usize = 31;

/// Why a datagram is not a valid compound RTCP packet, or a packet cannot
/// be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Empty, or a packet header cut short.
    #[error("truncated RTCP header")]
    TooShort,
    /// A version other than 2 (RFC 3550 §A.2).
    #[error("RTCP version {0}, not 2")]
    BadVersion(u8),
    /// The first packet is not an SR or RR (RFC 3550 §6.1, §A.2); holds
    /// its packet type.
    #[error("compound packet starting with packet type {0}, not SR or RR")]
    FirstNotReport(u8),
    /// The padding bit is set on a packet other than the last (RFC 3550
    /// §6.4.1, §A.2).
    #[error("padding before the last packet")]
    PaddingNotLast,
    /// The pad count is zero or longer than the packet.
    #[error("bad padding count")]
    BadPadding,
    /// A packet's length runs past the end of the datagram, so the
    /// lengths do not add up to it (RFC 3550 §A.2).
    #[error("packet length past the end of the datagram")]
    LengthMismatch,
    /// A packet's counts do not fit in its length, or an SDES chunk or
    /// BYE reason is cut short; holds the packet type.
    #[error("malformed RTCP packet of type {0}")]
    Malformed(u8),
    /// When writing: more than 31 report blocks, sources or chunks in one
    /// packet.
    #[error("more than 31 items in one RTCP packet")]
    TooManyItems,
    /// When writing: a CNAME or BYE reason over 255 octets.
    #[error("RTCP text over 255 octets")]
    TextTooLong,
    /// When writing: an empty list, or a first packet other than SR or RR.
    #[error("a compound packet must start with an SR or RR")]
    NotReportFirst,
    /// When writing: a packet type this writer does not build.
    #[error("cannot write RTCP packet type {0}")]
    Unwritable(u8),
}

/// One packet of a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// A sender report (SR, §6.4.1).
    SenderReport(SenderReport),
    /// A receiver report (RR, §6.4.2).
    ReceiverReport(ReceiverReport),
    /// A source description (SDES, §6.5): one chunk per source.
    SourceDescription(Vec<SdesChunk>),
    /// A goodbye (BYE, §6.6).
    Goodbye(Goodbye),
    /// A packet of another type, stepped over (not written).
    Other {
        /// Its packet type (e.g. 204 APP, 205 RTPFB, 206 PSFB, 207 XR).
        packet_type: u8,
        /// The five-bit count or subtype field of its header.
        count: u8,
        /// Its length in octets, header included and padding excluded.
        len: usize,
    },
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// What the sender has sent.
    pub sender: SenderInfo,
    /// What the sender has received from each source it reports on.
    pub reports: Vec<ReportBlock>,
}

/// The sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// The wallclock time of the report.
    pub ntp: NtpTimestamp,
    /// The same instant on the RTP timestamp clock of the sender's media.
    pub rtp_timestamp: u32,
    /// Packets sent since the stream started (wrapping).
    pub packet_count: u32,
    /// Payload octets sent since the stream started (wrapping).
    pub octet_count: u32,
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// What the reporter has received from each source.
    pub reports: Vec<ReportBlock>,
}

/// A report block: reception statistics about one source (RFC 3550
/// §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Packets lost since the previous report, as a fraction of those
    /// expected, in 1/256 (§A.3).
    pub fraction_lost: u8,
    /// Packets lost since reception began: expected minus received, which
    /// duplicates can make negative; 24-bit signed on the wire, clamped
    /// to -8 388 608..=8 388 607 when written.
    pub cumulative_lost: i32,
    /// The highest sequence number received, extended with the count of
    /// wrap-arounds in the high 16 bits (§A.1).
    pub highest_sequence: u32,
    /// The interarrival jitter, in timestamp units (§6.4.1, §A.8).
    pub jitter: u32,
    /// The middle 32 bits of the NTP timestamp of the last SR received
    /// from the source (LSR), 0 if none.
    pub last_sr: u32,
    /// The delay since that SR was received, in 1/65536 s (DLSR), 0 if
    /// none.
    pub delay_since_last_sr: u32,
}

/// One chunk of an SDES packet: a source and its CNAME (RFC 3550 §6.5.1).
/// Other items (NAME, EMAIL, TOOL, NOTE…) are skipped when parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its canonical name, if the chunk holds one; text not in UTF-8 is
    /// replaced (`U+FFFD`).
    pub cname: Option<String>,
}

/// A goodbye: sources leaving the session (RFC 3550 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goodbye {
    /// The sources leaving.
    pub sources: Vec<u32>,
    /// Why, if given; text not in UTF-8 is replaced (`U+FFFD`).
    pub reason: Option<String>,
}

impl RtcpPacket {
    /// The packet type this packet has on the wire.
    pub fn packet_type(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => SR,
            RtcpPacket::ReceiverReport(_) => RR,
            RtcpPacket::SourceDescription(_) => SDES,
            RtcpPacket::Goodbye(_) => BYE,
            RtcpPacket::Other { packet_type, .. } => *packet_type,
        }
    }
}
