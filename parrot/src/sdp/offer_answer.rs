//! The offer/answer model (RFC 3264) for G.711 audio.

use super::model::{Attribute, MediaDescription, SessionDescription, Timing};
use super::parse::{RtpMapRef, parse_payload_type};
use super::write::{decimal_text, rtpmap_text};
use super::{PCMA, PCMU};
use std::net::IpAddr;

/// Whether `map` is one of the codecs [`answer_audio`] accepts.
fn is_g711(map: &RtpMapRef<'_>) -> bool {
    map.is("PCMU", 8000) || map.is("PCMA", 8000)
}

/// The encoding of payload type `pt` in `m`, as [`MediaDescription::codec`]
/// finds it, borrowed rather than copied.
fn codec_ref(m: &MediaDescription, pt: u8) -> Option<RtpMapRef<'_>> {
    m.attributes
        .iter()
        .filter(|a| a.name == "rtpmap")
        .filter_map(|a| RtpMapRef::parse(a.value.as_deref()?))
        .find(|map| map.payload_type == pt)
        .or_else(|| RtpMapRef::static_audio(pt))
}

/// The answer to one offered stream, if it is an RTP/AVP audio stream
/// offering PCMU or PCMA.
fn answer_stream(
    offer: &SessionDescription,
    m: &MediaDescription,
    local_port: u16,
) -> Option<MediaDescription> {
    if m.is_rejected()
        || !m.media.eq_ignore_ascii_case("audio")
        || !m.proto.eq_ignore_ascii_case("RTP/AVP")
    {
        return None;
    }
    // The formats and their `a=rtpmap` lines in one pass, allocated once
    // the first G.711 format is found.
    let mut formats = Vec::new();
    let mut attributes = Vec::new();
    for pt in m.formats.iter().filter_map(|f| parse_payload_type(f)) {
        let Some(map) = codec_ref(m, pt).filter(is_g711) else {
            continue;
        };
        if formats.is_empty() {
            formats.reserve_exact(m.formats.len());
            // The rtpmaps, a ptime and a direction.
            attributes.reserve_exact(m.formats.len() + 2);
        }
        formats.push(decimal_text(pt.into()));
        attributes.push(Attribute::value("rtpmap", rtpmap_text(&map)));
    }
    if formats.is_empty() {
        return None;
    }
    if let Some(ptime) = offer.ptime_of(m) {
        attributes.push(Attribute::value("ptime", decimal_text(ptime.into())));
    }
    let direction = offer.direction_of(m).answer();
    attributes.push(Attribute::flag(direction.as_str()));
    let mut answer = MediaDescription::new("audio", local_port, m.proto.clone(), formats);
    answer.attributes = attributes;
    Some(answer)
}

/// A stream refused in an answer (RFC 3264 §6): port 0, the offer's media
/// type, protocol and formats, nothing else.
fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription::new(m.media.clone(), 0, m.proto.clone(), m.formats.clone())
}

/// Answers `offer` (RFC 3264 §6) with one audio stream at
/// `local_ip:local_port`, or `None` when nothing in it is acceptable (the
/// caller then answers `488 Not Acceptable Here`).
///
/// - The first `RTP/AVP` audio stream with a non-zero port that offers
///   PCMU or PCMA (static payload types 0 and 8, or a dynamic payload type
///   mapped to `PCMU/8000` or `PCMA/8000`) is accepted with those formats,
///   in the offerer's preference order, under the offer's payload type
///   numbers, each with its `a=rtpmap`.
/// - Every other stream is rejected with port 0, so that the answer has as
///   many `m=` lines as the offer, in the same order.
/// - The accepted stream's direction mirrors the offer's (sendonly ↔
///   recvonly), and it keeps the offer's `a=ptime`.
/// - The answer has a fresh `o=` line and one session-level `c=` line for
///   `local_ip`, `s=-`, and the offer's `t=` lines (§6: they must match).
///   For a re-INVITE, call [`SessionDescription::continue_from`] with the
///   previous answer to keep the `o=` line and bump its version.
pub fn answer_audio(
    offer: &SessionDescription,
    local_ip: impl Into<IpAddr>,
    local_port: u16,
) -> Option<SessionDescription> {
    let local_ip = local_ip.into();
    let mut accepted = false;
    let media: Vec<MediaDescription> = offer
        .media
        .iter()
        .map(|m| {
            if !accepted && let Some(a) = answer_stream(offer, m, local_port) {
                accepted = true;
                return a;
            }
            rejected(m)
        })
        .collect();
    if !accepted {
        return None;
    }
    let mut answer = SessionDescription::with_timing(local_ip, answer_timing(offer));
    answer.media = media;
    Some(answer)
}

/// The `t=` lines of an answer to `offer`: the offer's (RFC 3264 §6:
/// they must match), without repeat times.
pub(crate) fn answer_timing(offer: &SessionDescription) -> Vec<Timing> {
    offer
        .timing
        .iter()
        .map(|t| Timing {
            start: t.start,
            stop: t.stop,
            repeats: Vec::new(),
        })
        .collect()
}

/// An offer of one sendrecv audio stream at `local_ip:local_port` with
/// PCMU and PCMA (in that order) and `a=ptime:20`; for an INVITE that came
/// without an offer, whose answer then arrives in the ACK (RFC 3261
/// §13.2.1).
pub fn offer_audio(local_ip: impl Into<IpAddr>, local_port: u16) -> SessionDescription {
    let local_ip = local_ip.into();
    let mut audio = MediaDescription::new(
        "audio",
        local_port,
        "RTP/AVP",
        [PCMU, PCMA].map(|pt| decimal_text(pt.into())),
    );
    for pt in [PCMU, PCMA] {
        if let Some(map) = RtpMapRef::static_audio(pt) {
            audio
                .attributes
                .push(Attribute::value("rtpmap", rtpmap_text(&map)));
        }
    }
    audio.attributes.push(Attribute::value("ptime", "20"));
    audio.attributes.push(Attribute::flag("sendrecv"));
    let mut sd = SessionDescription::new(local_ip);
    sd.media.push(audio);
    sd
}

/// Whether `offer` has as many media streams as `ours`, of the same kinds
/// in the same order (`m=` lines): then `ours`, unchanged, is a valid
/// answer to it (RFC 3264 §6: one answer stream per offered stream; §8:
/// an unchanged description keeps its version). `false` when either does
/// not parse.
pub fn same_streams(ours: &[u8], offer: &[u8]) -> bool {
    let (Ok(ours), Ok(offer)) = (
        SessionDescription::from_bytes(ours),
        SessionDescription::from_bytes(offer),
    ) else {
        return false;
    };
    ours.media.len() == offer.media.len()
        && ours
            .media
            .iter()
            .zip(&offer.media)
            .all(|(a, b)| a.media.eq_ignore_ascii_case(&b.media))
}
