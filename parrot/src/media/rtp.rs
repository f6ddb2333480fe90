//! RTP packets (RFC 3550 §5.1): a parser into a view borrowing the
//! datagram, a writer of the packets we send, and the rule that tells RTP
//! from RTCP and the other protocols sharing a port (RFC 5761 §4, RFC 7983
//! §7).

/// The fixed header: 12 octets (RFC 3550 §5.1).
pub const HEADER_LEN: usize = 12;
/// The only RTP version (RFC 3550 §5.1).
const VERSION: u8 = 2;

/// Why a datagram is not an RTP packet, or a packet cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Shorter than the 12-octet fixed header.
    #[error("shorter than an RTP header")]
    TooShort,
    /// A version other than 2.
    #[error("RTP version {0}, not 2")]
    BadVersion(u8),
    /// The CSRC list runs past the end of the datagram.
    #[error("CSRC list past the end of the packet")]
    CsrcPastEnd,
    /// The header extension runs past the end of the datagram.
    #[error("header extension past the end of the packet")]
    ExtensionPastEnd,
    /// The padding bit is set but the pad count is zero or longer than
    /// what follows the header (RFC 3550 §5.1, §A.1).
    #[error("bad padding count")]
    BadPadding,
    /// A payload type of 72–76, which an RTCP packet type would be
    /// mistaken for (RFC 5761 §4, RFC 3550 §A.1); or, when writing, above
    /// 127.
    #[error("payload type {0} not allowed")]
    BadPayloadType(u8),
    /// The buffer given to the writer cannot hold the packet; holds the
    /// octets needed.
    #[error("buffer too small: {0} octets needed")]
    BufferTooSmall(usize),
}

/// A parsed RTP packet, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The marker bit: for audio, the first packet of a talkspurt (RFC
    /// 3551 §4.1); for telephone-event, the start of an event (RFC 4733
    /// §2.5.1.2).
    pub marker: bool,
    /// The payload type (0–127).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The sampling instant of the first octet of the payload.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// The payload, without header, extension or padding.
    pub payload: &'a [u8],
    /// The CSRC list: four octets per source.
    csrcs: &'a [u8],
    /// The header extension, when the X bit is set.
    extension: Option<HeaderExtension<'a>>,
    /// The padding octets removed from the end (0 without the P bit).
    padding: u8,
}

/// An RTP header extension (RFC 3550 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The profile-defined 16 bits (e.g. 0xBEDE for RFC 8285's one-byte
    /// headers).
    pub profile: u16,
    /// The extension data: a whole number of 32-bit words.
    pub data: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses a datagram, enforcing RFC 3550 §5.1 and the header checks
    /// of §A.1: version 2, a payload type that cannot be RTCP, and the
    /// CSRC list, extension and padding inside the datagram.
    pub fn parse(datagram: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let Some(fixed) = datagram.first_chunk::<HEADER_LEN>() else {
            return Err(RtpError::TooShort);
        };
        let version = fixed[0] >> 6;
        if version != VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = usize::from(fixed[0] & 0x0F);
        let marker = fixed[1] & 0x80 != 0;
        let payload_type = fixed[1] & 0x7F;
        if is_rtcp_payload_type(payload_type) {
            return Err(RtpError::BadPayloadType(payload_type));
        }
        let mut pos = HEADER_LEN;
        let csrcs = datagram
            .get(pos..pos + 4 * csrc_count)
            .ok_or(RtpError::CsrcPastEnd)?;
        pos += csrcs.len();
        let extension = if has_extension {
            // §5.3.1: 16 profile bits, then the length in 32-bit words
            // not counting this 4-octet header.
            let head = datagram
                .get(pos..pos + 4)
                .ok_or(RtpError::ExtensionPastEnd)?;
            let profile = u16::from_be_bytes([head[0], head[1]]);
            let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let data = datagram
                .get(pos + 4..pos + 4 + 4 * words)
                .ok_or(RtpError::ExtensionPastEnd)?;
            pos += 4 + data.len();
            Some(HeaderExtension { profile, data })
        } else {
            None
        };
        let mut end = datagram.len();
        let padding = if has_padding {
            // §5.1: the last octet counts the padding, itself included,
            // so it is at least 1 and within what follows the header.
            let count = datagram[end - 1];
            if count == 0 || usize::from(count) > end - pos {
                return Err(RtpError::BadPadding);
            }
            end -= usize::from(count);
            count
        } else {
            0
        };
        Ok(RtpPacket {
            marker,
            payload_type,
            sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
            timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
            payload: &datagram[pos..end],
            csrcs,
            extension,
            padding,
        })
    }

    /// The contributing sources (a mixer's inputs), in order.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.csrcs
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// The header extension, if the X bit was set.
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        self.extension
    }

    /// How many padding octets followed the payload (0 without the P
    /// bit).
    pub fn padding(&self) -> u8 {
        self.padding
    }

    /// The header of this packet, to write it again (without CSRCs,
    /// extension or padding).
    pub fn header(&self) -> RtpHeader {
        RtpHeader {
            marker: self.marker,
            payload_type: self.payload_type,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        }
    }
}

/// The header of a packet to send. An end system writes neither CSRCs
/// (only mixers do, RFC 3550 §7.1) nor header extensions nor padding
/// (needed only for encryption): the 12-octet fixed header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpHeader {
    /// The marker bit.
    pub marker: bool,
    /// The payload type: 0–127, and not 72–76 (RFC 5761 §4).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Writes the header and `payload` at the start of `out` and returns
    /// the packet's length.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        let len = HEADER_LEN + payload.len();
        if out.len() < len {
            return Err(RtpError::BufferTooSmall(len));
        }
        out[..HEADER_LEN].copy_from_slice(&self.fixed()?);
        out[HEADER_LEN..len].copy_from_slice(payload);
        Ok(len)
    }

    /// Appends the packet (header and `payload`) to `out`.
    pub fn write_to(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), RtpError> {
        out.extend_from_slice(&self.fixed()?);
        out.extend_from_slice(payload);
        Ok(())
    }

    fn fixed(&self) -> Result<[u8; HEADER_LEN], RtpError> {
        let pt = self.payload_type;
        if pt > 0x7F || is_rtcp_payload_type(pt) {
            return Err(RtpError::BadPayloadType(pt));
        }
        let mut h = [0u8; HEADER_LEN];
        h[0] = VERSION << 6;
        h[1] = u8::from(self.marker) << 7 | pt;
        h[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        h[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        h[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        Ok(h)
    }
}

/// RFC 5761 §4: with the marker bit set, payload types 72–76 make the
/// second octet 200–204, RTCP's SR, RR, SDES, BYE and APP.
fn is_rtcp_payload_type(pt: u8) -> bool {
    (72..=76).contains(&pt)
}

/// What a datagram received on a media port is (RFC 7983 §7, RFC 5761
/// §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// An RTP packet.
    Rtp,
    /// An RTCP packet (or compound packet).
    Rtcp,
    /// A STUN message (first octet 0–3).
    Stun,
    /// A ZRTP packet (first octet 16–19).
    Zrtp,
    /// A DTLS record (first octet 20–63).
    Dtls,
    /// A TURN channel message (first octet 64–79).
    TurnChannel,
    /// Anything else: to be dropped.
    Unknown,
}

/// Classifies a datagram by its first two octets. RFC 7983 §7 sorts the
/// protocols by the first octet (128–191 is RTP or RTCP); RFC 5761 §4
/// then tells RTCP by its second octet, the packet type, in 192–223 —
/// which is why RTP must not use payload types 64–95 on a shared port.
pub fn classify(datagram: &[u8]) -> PacketKind {
    match *datagram {
        [] => PacketKind::Unknown,
        [0..=3, ..] => PacketKind::Stun,
        [16..=19, ..] => PacketKind::Zrtp,
        [20..=63, ..] => PacketKind::Dtls,
        [64..=79, ..] => PacketKind::TurnChannel,
        [128..=191, 192..=223, ..] => PacketKind::Rtcp,
        [128..=191, _, ..] => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests;
