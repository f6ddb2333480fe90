//! Parsing a compound RTCP packet (RFC 3550 §6.1, §6.4–§6.6, §A.2).

use super::{
    BYE, Goodbye, NtpTimestamp, RR, ReceiverReport, ReportBlock, RtcpError, RtcpPacket, SDES, SR,
    SdesChunk, SenderInfo, SenderReport,
};

/// The length of a report block (RFC 3550 §6.4.1).
const REPORT_BLOCK_LEN: usize = 24;
/// The length of an SR's sender information.
const SENDER_INFO_LEN: usize = 20;
/// The SDES item type of CNAME (RFC 3550 §6.5.1).
const CNAME: u8 = 1;

/// Parses a compound packet, after the validity checks of RFC 3550 §A.2:
/// every packet of version 2, the first an SR or RR, the padding bit only
/// on the last, and the packet lengths adding up to the datagram's.
/// Packets of unknown types are stepped over.
///
/// The list holds at most one packet per four octets of the datagram.
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    let mut packets = Vec::new();
    let mut rest = datagram;
    if rest.is_empty() {
        return Err(RtcpError::TooShort);
    }
    while !rest.is_empty() {
        let Some(&[first, packet_type, len_hi, len_lo]) = rest.first_chunk::<4>() else {
            // Octets after the last packet that cannot be one.
            return Err(if packets.is_empty() {
                RtcpError::TooShort
            } else {
                RtcpError::LengthMismatch
            });
        };
        let version = first >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        if packets.is_empty() && packet_type != SR && packet_type != RR {
            return Err(RtcpError::FirstNotReport(packet_type));
        }
        // The length counts 32-bit words, minus one (§6.4.1).
        let len = 4 * (usize::from(u16::from_be_bytes([len_hi, len_lo])) + 1);
        let Some(packet) = rest.get(..len) else {
            return Err(RtcpError::LengthMismatch);
        };
        rest = &rest[len..];
        let padded = first & 0x20 != 0;
        if padded && !rest.is_empty() {
            return Err(RtcpError::PaddingNotLast);
        }
        let mut body = &packet[4..];
        if padded {
            // The last octet counts the padding, itself included.
            let count = usize::from(*packet.last().unwrap_or(&0));
            if count == 0 || count > body.len() {
                return Err(RtcpError::BadPadding);
            }
            body = &body[..body.len() - count];
        }
        let count = first & 0x1F;
        packets.push(parse_packet(packet_type, count, body)?);
    }
    Ok(packets)
}

/// Decodes the body (after the 4-octet header, padding removed) of one
/// packet.
fn parse_packet(packet_type: u8, count: u8, body: &[u8]) -> Result<RtcpPacket, RtcpError> {
    let malformed = RtcpError::Malformed(packet_type);
    let count_usize = usize::from(count);
    match packet_type {
        SR => {
            let ssrc = read_u32(body, 0).ok_or(malformed)?;
            let info = body.get(4..4 + SENDER_INFO_LEN).ok_or(malformed)?;
            let sender = SenderInfo {
                ntp: NtpTimestamp(info.first_chunk().map_or(0, |b| u64::from_be_bytes(*b))),
                rtp_timestamp: read_u32(info, 8).unwrap_or(0),
                packet_count: read_u32(info, 12).unwrap_or(0),
                octet_count: read_u32(info, 16).unwrap_or(0),
            };
            let reports =
                report_blocks(&body[4 + SENDER_INFO_LEN..], count_usize).ok_or(malformed)?;
            Ok(RtcpPacket::SenderReport(SenderReport {
                ssrc,
                sender,
                reports,
            }))
        }
        RR => {
            let ssrc = read_u32(body, 0).ok_or(malformed)?;
            let reports = report_blocks(&body[4..], count_usize).ok_or(malformed)?;
            Ok(RtcpPacket::ReceiverReport(ReceiverReport { ssrc, reports }))
        }
        SDES => sdes_chunks(body, count_usize)
            .map(RtcpPacket::SourceDescription)
            .ok_or(malformed),
        BYE => goodbye(body, count_usize)
            .map(RtcpPacket::Goodbye)
            .ok_or(malformed),
        _ => Ok(RtcpPacket::Other {
            packet_type,
            count,
            len: 4 + body.len(),
        }),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// `count` report blocks at the start of `bytes`; what follows them is a
/// profile-specific extension (§6.4.1), ignored.
fn report_blocks(bytes: &[u8], count: usize) -> Option<Vec<ReportBlock>> {
    let blocks = bytes.get(..count * REPORT_BLOCK_LEN)?;
    Some(
        blocks
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(|b| ReportBlock {
                ssrc: read_u32(b, 0).unwrap_or(0),
                fraction_lost: b[4],
                // 24 bits, two's complement: shift the sign bit into
                // place and back.
                cumulative_lost: i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8,
                highest_sequence: read_u32(b, 8).unwrap_or(0),
                jitter: read_u32(b, 12).unwrap_or(0),
                last_sr: read_u32(b, 16).unwrap_or(0),
                delay_since_last_sr: read_u32(b, 20).unwrap_or(0),
            })
            .collect(),
    )
}

/// The chunks of an SDES body (§6.5): each an SSRC, then items (type,
/// length, text) up to a null octet, then nulls to the next 32-bit
/// boundary.
fn sdes_chunks(body: &[u8], count: usize) -> Option<Vec<SdesChunk>> {
    let mut chunks = Vec::with_capacity(count);
    let mut pos = 0;
    for _ in 0..count {
        let ssrc = read_u32(body, pos)?;
        pos += 4;
        let mut cname = None;
        loop {
            match *body.get(pos)? {
                0 => {
                    // The body starts on a 32-bit boundary, so aligning
                    // within it aligns within the packet.
                    pos = (pos + 4) & !3;
                    break;
                }
                item => {
                    let len = usize::from(*body.get(pos + 1)?);
                    let text = body.get(pos + 2..pos + 2 + len)?;
                    if item == CNAME {
                        cname = Some(String::from_utf8_lossy(text).into_owned());
                    }
                    pos += 2 + len;
                }
            }
        }
        chunks.push(SdesChunk { ssrc, cname });
    }
    Some(chunks)
}

/// A BYE body (§6.6): `count` SSRCs, then optionally a length octet and
/// the reason.
fn goodbye(body: &[u8], count: usize) -> Option<Goodbye> {
    let ids = body.get(..4 * count)?;
    let sources = ids
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let rest = &body[ids.len()..];
    let reason = match rest.first() {
        // No reason; or only the padding to the 32-bit boundary.
        None | Some(0) => None,
        Some(&len) => {
            let text = rest.get(1..1 + usize::from(len))?;
            Some(String::from_utf8_lossy(text).into_owned())
        }
    };
    Some(Goodbye { sources, reason })
}
