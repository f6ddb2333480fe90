//! Building a compound RTCP packet (RFC 3550 §6.1, §6.4–§6.6).

use super::{Goodbye, MAX_COUNT, ReportBlock, RtcpError, RtcpPacket, SdesChunk};

/// The SDES item type of CNAME (RFC 3550 §6.5.1).
const CNAME: u8 = 1;

/// Appends a compound packet to `out`: the packets in order, without
/// padding (RFC 3550 §6.1: the first an SR or RR — even an empty RR —,
/// then typically an SDES with the CNAME, and a BYE last when leaving).
/// Nothing is appended on error.
pub fn write_compound(packets: &[RtcpPacket], out: &mut Vec<u8>) -> Result<(), RtcpError> {
    match packets.first() {
        Some(RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_)) => {}
        _ => return Err(RtcpError::NotReportFirst),
    }
    let start = out.len();
    for packet in packets {
        if let Err(e) = write_packet(packet, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(())
}

fn write_packet(packet: &RtcpPacket, out: &mut Vec<u8>) -> Result<(), RtcpError> {
    let start = out.len();
    let count = match packet {
        RtcpPacket::SenderReport(sr) => {
            check_count(sr.reports.len())?;
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&sr.ssrc.to_be_bytes());
            out.extend_from_slice(&sr.sender.ntp.0.to_be_bytes());
            out.extend_from_slice(&sr.sender.rtp_timestamp.to_be_bytes());
            out.extend_from_slice(&sr.sender.packet_count.to_be_bytes());
            out.extend_from_slice(&sr.sender.octet_count.to_be_bytes());
            write_blocks(&sr.reports, out);
            sr.reports.len()
        }
        RtcpPacket::ReceiverReport(rr) => {
            check_count(rr.reports.len())?;
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&rr.ssrc.to_be_bytes());
            write_blocks(&rr.reports, out);
            rr.reports.len()
        }
        RtcpPacket::SourceDescription(chunks) => {
            check_count(chunks.len())?;
            out.extend_from_slice(&[0; 4]);
            for chunk in chunks {
                write_chunk(chunk, start, out)?;
            }
            chunks.len()
        }
        RtcpPacket::Goodbye(bye) => {
            check_count(bye.sources.len())?;
            out.extend_from_slice(&[0; 4]);
            write_goodbye(bye, start, out)?;
            bye.sources.len()
        }
        RtcpPacket::Other { packet_type, .. } => return Err(RtcpError::Unwritable(*packet_type)),
    };
    // Every body above ends on a 32-bit boundary; the length field
    // counts words minus one (§6.4.1). An RTCP packet built from at most
    // 31 items of at most 260 octets stays far below 2^18 octets.
    let words = (out.len() - start) / 4 - 1;
    let words = u16::try_from(words).map_err(|_| RtcpError::TooManyItems)?;
    // count ≤ 31 was checked.
    out[start] = 0x80 | count as u8;
    out[start + 1] = packet.packet_type();
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

fn check_count(n: usize) -> Result<(), RtcpError> {
    if n > MAX_COUNT {
        Err(RtcpError::TooManyItems)
    } else {
        Ok(())
    }
}

fn write_blocks(blocks: &[ReportBlock], out: &mut Vec<u8>) {
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        out.push(b.fraction_lost);
        // 24-bit two's complement, clamped to its range (§6.4.1).
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF);
        out.extend_from_slice(&lost.to_be_bytes()[1..]);
        out.extend_from_slice(&b.highest_sequence.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.last_sr.to_be_bytes());
        out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
    }
}

/// One SDES chunk: the SSRC, the CNAME item if any, then one to four null
/// octets to end the list on a 32-bit boundary (§6.5).
fn write_chunk(chunk: &SdesChunk, start: usize, out: &mut Vec<u8>) -> Result<(), RtcpError> {
    out.extend_from_slice(&chunk.ssrc.to_be_bytes());
    if let Some(cname) = &chunk.cname {
        let len = u8::try_from(cname.len()).map_err(|_| RtcpError::TextTooLong)?;
        out.extend_from_slice(&[CNAME, len]);
        out.extend_from_slice(cname.as_bytes());
    }
    out.push(0);
    pad_to_word(start, out);
    Ok(())
}

/// The sources, then the reason (a length octet and the text) padded with
/// nulls to a 32-bit boundary (§6.6).
fn write_goodbye(bye: &Goodbye, start: usize, out: &mut Vec<u8>) -> Result<(), RtcpError> {
    for ssrc in &bye.sources {
        out.extend_from_slice(&ssrc.to_be_bytes());
    }
    if let Some(reason) = bye.reason.as_deref().filter(|r| !r.is_empty()) {
        let len = u8::try_from(reason.len()).map_err(|_| RtcpError::TextTooLong)?;
        out.push(len);
        out.extend_from_slice(reason.as_bytes());
        pad_to_word(start, out);
    }
    Ok(())
}

/// Nulls up to the next 32-bit boundary of the packet starting at
/// `start`.
fn pad_to_word(start: usize, out: &mut Vec<u8>) {
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
}
