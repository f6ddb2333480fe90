//! Offer/answer for a call's audio (RFC 3264) bound to the media
//! session's real port: which codec, which payload types, where to send
//! and in which direction.
//!
//! One codec is chosen, G.711 µ-law or A-law in the offerer's order of
//! preference, and the answer lists only it (RFC 3264 §6.1 lets an answer
//! narrow the formats; sending one codec spares the peer a switch
//! mid-stream), plus `telephone-event` for DTMF (RFC 4733 §7) when the
//! offer has it, under the offer's payload type numbers.

use super::MediaError;
use crate::message::Text;
use crate::sdp::{
    Attribute, Direction, MediaDescription, RtpMap, SessionDescription, answer_timing, concat_text,
    decimal_text,
};
use std::net::SocketAddr;

/// The codec both sides use: a G.711 law.
pub use super::g711::G711 as Codec;

/// The law an `a=rtpmap` names, if it is G.711 at 8 kHz.
fn codec_of(map: &RtpMap) -> Option<Codec> {
    if map.is("PCMU", 8000) {
        Some(Codec::Pcmu)
    } else if map.is("PCMA", 8000) {
        Some(Codec::Pcma)
    } else {
        None
    }
}

/// The payload type our offers give `telephone-event` (a dynamic one,
/// RFC 3551 §3; 101 is the customary choice).
pub const OFFERED_DTMF_PAYLOAD_TYPE: u8 = 101;

/// The packetization time we send with, in milliseconds.
pub const PTIME_MS: u32 = 20;

/// What a negotiation settled for one audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaParams {
    /// The codec both sides use.
    pub codec: Codec,
    /// Its payload type number in this session.
    pub payload_type: u8,
    /// The payload type of `telephone-event`, when both sides have it.
    pub dtmf_payload_type: Option<u8>,
    /// Where the peer receives RTP, as its description says (symmetric
    /// RTP may move it, RFC 4961); `None` while the peer gives no address
    /// (`c=0.0.0.0`, the RFC 2543 hold).
    pub remote: Option<SocketAddr>,
    /// Our direction: whether we may send and whether the peer will.
    pub direction: Direction,
}

impl MediaParams {
    /// Whether we may send media (sendrecv or sendonly on our side).
    pub fn sends(&self) -> bool {
        matches!(self.direction, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether we expect media from the peer.
    pub fn receives(&self) -> bool {
        matches!(self.direction, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// The formats of `m` we take: the first G.711 codec in the offerer's
/// order, and `telephone-event/8000` if present.
fn pick(m: &MediaDescription) -> Option<(RtpMap, Codec, Option<RtpMap>)> {
    let maps: Vec<RtpMap> = m
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| m.codec(pt))
        .collect();
    let (map, codec) = maps
        .iter()
        .find_map(|map| codec_of(map).map(|c| (map.clone(), c)))?;
    let dtmf = maps
        .iter()
        .find(|map| map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == 8000)
        .cloned();
    Some((map, codec, dtmf))
}

/// Where a stream's media goes: its connection address and port, `None`
/// for the unspecified address (a hold in RFC 2543 style).
fn destination(sd: &SessionDescription, m: &MediaDescription) -> Option<SocketAddr> {
    let ip = sd.connection_of(m)?.ip()?;
    (!ip.is_unspecified() && m.port != 0).then(|| SocketAddr::new(ip, m.port))
}

fn is_rtp_audio(m: &MediaDescription) -> bool {
    !m.is_rejected()
        && m.media.eq_ignore_ascii_case("audio")
        && m.proto.eq_ignore_ascii_case("RTP/AVP")
}

/// The `m=audio` line we describe our side with.
fn our_stream(
    local_port: u16,
    codec: &RtpMap,
    dtmf: Option<&RtpMap>,
    direction: Direction,
) -> MediaDescription {
    let mut formats = Vec::with_capacity(2);
    formats.push(decimal_text(codec.payload_type.into()));
    formats.extend(dtmf.map(|d| decimal_text(d.payload_type.into())));
    let mut m = MediaDescription::new("audio", local_port, "RTP/AVP", formats);
    m.attributes
        .push(Attribute::value("rtpmap", codec.value_text()));
    if let Some(d) = dtmf {
        m.attributes
            .push(Attribute::value("rtpmap", d.value_text()));
        // RFC 4733 §7.1.1: the events we take, the 16 DTMF digits.
        m.attributes
            .push(Attribute::value("fmtp", dtmf_events(d.payload_type)));
    }
    m.attributes
        .push(Attribute::value("ptime", decimal_text(PTIME_MS.into())));
    m.attributes.push(Attribute::flag(direction.as_str()));
    m
}

/// The `a=fmtp` value that takes the 16 DTMF digits under payload type
/// `pt` (RFC 4733 §7.1.1): `<pt> 0-15`.
fn dtmf_events(pt: u8) -> Text {
    concat_text(&[itoa::Buffer::new().format(pt), " 0-15"])
}

/// Answers `offer` with our audio stream at `local` (RFC 3264 §6): the
/// first RTP/AVP audio stream offering PCMU or PCMA is accepted, every
/// other stream refused with port 0, in the offer's order. Our direction
/// mirrors the offer's (a `sendonly` offer, a hold, gets `recvonly`).
///
/// Fails with [`MediaError::NoCommonCodec`] when no stream qualifies (the
/// request then gets `488`).
pub fn answer(
    offer: &SessionDescription,
    local: SocketAddr,
) -> Result<(SessionDescription, MediaParams), MediaError> {
    let mut params = None;
    let media = offer
        .media
        .iter()
        .map(|m| {
            if params.is_none()
                && is_rtp_audio(m)
                && let Some((map, codec, dtmf)) = pick(m)
            {
                let direction = offer.direction_of(m).answer();
                params = Some(MediaParams {
                    codec,
                    payload_type: map.payload_type,
                    dtmf_payload_type: dtmf.as_ref().map(|d| d.payload_type),
                    remote: destination(offer, m),
                    direction,
                });
                return our_stream(local.port(), &map, dtmf.as_ref(), direction);
            }
            MediaDescription::new(m.media.clone(), 0, m.proto.clone(), m.formats.clone())
        })
        .collect();
    let params = params.ok_or(MediaError::NoCommonCodec)?;
    let sd = SessionDescription {
        media,
        // §6: the answer's t= lines match the offer's.
        timing: answer_timing(offer),
        ..SessionDescription::new(local.ip())
    };
    Ok((sd, params))
}

/// Our offer of one audio stream at `local`: PCMU and PCMA (that order),
/// `telephone-event` under [`OFFERED_DTMF_PAYLOAD_TYPE`], 20 ms, in
/// `direction`.
pub fn offer(local: SocketAddr, direction: Direction) -> SessionDescription {
    let mut m = MediaDescription::new(
        "audio",
        local.port(),
        "RTP/AVP",
        [
            decimal_text(Codec::Pcmu.payload_type().into()),
            decimal_text(Codec::Pcma.payload_type().into()),
            decimal_text(OFFERED_DTMF_PAYLOAD_TYPE.into()),
        ],
    );
    for (codec, name) in [(Codec::Pcmu, "PCMU"), (Codec::Pcma, "PCMA")] {
        let map = RtpMap::new(codec.payload_type(), name, 8000);
        m.attributes
            .push(Attribute::value("rtpmap", map.value_text()));
    }
    let dtmf = RtpMap::new(OFFERED_DTMF_PAYLOAD_TYPE, "telephone-event", 8000);
    m.attributes
        .push(Attribute::value("rtpmap", dtmf.value_text()));
    m.attributes.push(Attribute::value(
        "fmtp",
        dtmf_events(OFFERED_DTMF_PAYLOAD_TYPE),
    ));
    m.attributes
        .push(Attribute::value("ptime", decimal_text(PTIME_MS.into())));
    m.attributes.push(Attribute::flag(direction.as_str()));
    let mut sd = SessionDescription::new(local.ip());
    sd.media.push(m);
    sd
}

/// What the peer's `answer` to our offer settles (RFC 3264 §7): the
/// codec it chose among ours (the first it lists), DTMF if it kept it,
/// its address and our direction.
pub fn from_answer(answer: &SessionDescription) -> Result<MediaParams, MediaError> {
    let m = answer
        .media
        .iter()
        .find(|m| is_rtp_audio(m))
        .ok_or(MediaError::NoCommonCodec)?;
    let (map, codec, dtmf) = pick(m).ok_or(MediaError::NoCommonCodec)?;
    // The answerer's direction, seen from our side.
    let direction = answer.direction_of(m).answer();
    Ok(MediaParams {
        codec,
        payload_type: map.payload_type,
        dtmf_payload_type: dtmf.map(|d| d.payload_type),
        remote: destination(answer, m),
        direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(text: &str) -> SessionDescription {
        text.parse().expect("valid SDP")
    }

    const LOCAL: &str = "127.0.0.1:40000";

    #[test]
    fn answers_with_one_codec_and_dtmf_under_the_offers_numbers() {
        let offer = sdp(
            "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n\
             m=audio 5002 RTP/AVP 9 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n",
        );
        let (answer, params) = super::answer(&offer, LOCAL.parse().unwrap()).unwrap();
        assert_eq!(params.codec, Codec::Pcma, "the first G.711 in the offer");
        assert_eq!(params.payload_type, 8);
        assert_eq!(params.dtmf_payload_type, Some(96));
        assert_eq!(params.remote, Some("192.0.2.1:5002".parse().unwrap()));
        assert_eq!(params.direction, Direction::SendRecv);
        assert!(params.sends() && params.receives());
        let text = answer.to_string();
        assert!(text.contains("m=video 0 RTP/AVP 96\r\n"), "{text}");
        assert!(text.contains("m=audio 40000 RTP/AVP 8 96\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:96 telephone-event/8000\r\n"));
        assert!(text.contains("a=fmtp:96 0-15\r\n"));
        assert!(text.contains("c=IN IP4 127.0.0.1\r\n"));
    }

    #[test]
    fn hold_offers_and_refusals() {
        let offer = sdp(
            "v=0\r\no=a 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 5002 RTP/AVP 0\r\na=sendonly\r\n",
        );
        let (_, params) = super::answer(&offer, LOCAL.parse().unwrap()).unwrap();
        assert_eq!(params.direction, Direction::RecvOnly);
        assert!(!params.sends());
        assert_eq!(params.dtmf_payload_type, None);
        let old_hold = sdp(
            "v=0\r\no=a 1 3 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
             m=audio 5002 RTP/AVP 0\r\n",
        );
        let (_, params) = super::answer(&old_hold, LOCAL.parse().unwrap()).unwrap();
        assert_eq!(params.remote, None);
        let gsm = sdp(
            "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 5002 RTP/AVP 3\r\n",
        );
        assert!(matches!(
            super::answer(&gsm, LOCAL.parse().unwrap()),
            Err(MediaError::NoCommonCodec)
        ));
    }

    #[test]
    fn our_offer_and_the_peers_answer() {
        let ours = offer(LOCAL.parse().unwrap(), Direction::SendRecv).to_string();
        assert!(ours.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"), "{ours}");
        assert!(ours.contains("a=fmtp:101 0-15\r\n"));
        let reply = sdp(
            "v=0\r\no=b 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
             m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n",
        );
        let params = from_answer(&reply).unwrap();
        assert_eq!(params.codec, Codec::Pcma);
        assert_eq!(params.dtmf_payload_type, Some(101));
        assert_eq!(params.remote, Some("192.0.2.9:6000".parse().unwrap()));
        assert_eq!(params.direction, Direction::SendOnly);
    }
}
