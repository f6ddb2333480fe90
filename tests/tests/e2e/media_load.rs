//! Media under load: SIPp places 50 concurrent calls to the `echo` example,
//! each streaming G.711 PCMU with its `rtp_stream` (160 octets every
//! 20 ms from SIPp's media socket, `-mp`) for five seconds
//! (`tests/scenarios/echo_rtp_stream.xml`). SIPp never reads what comes
//! back, so `tcpdump` captures the loopback traffic of SIPp's media port
//! and the test checks, per call (per server RTP port), that SIPp's stream
//! reached the server and that the server sent it back: the returned
//! packets carry the caller's own PCMU frame, not silence.
//!
//! The audio is a 400 Hz tone made here (20 samples per period, so every
//! 20 ms frame encodes to the same 160 octets): an echoed packet is
//! recognised by its payload alone.

use std::collections::BTreeMap;
use std::fs;
use std::net::{SocketAddrV4, UdpSocket};
use std::time::Duration;

use parrot::media::FRAME_SAMPLES;
use parrot::media::g711::encode_ulaw;
use parrot::media::rtp::RtpPacket;
use tests::capture::{Capture, Datagram};
use tests::{LOOPBACK, Server, Sipp, free_port};

/// Concurrent calls.
const CALLS: u32 = 50;
/// How long each call streams (SIPp's `-d`, the scenario's pause).
const STREAM: Duration = Duration::from_secs(5);
/// Packets one call streams in that time, at one per 20 ms.
const EXPECTED_PER_CALL: u64 = STREAM.as_millis() as u64 / 20;

/// One 20 ms frame of a 400 Hz tone, encoded in PCMU.
fn tone_frame() -> [u8; FRAME_SAMPLES] {
    let mut frame = [0u8; FRAME_SAMPLES];
    for (i, code) in frame.iter_mut().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * 400.0 * i as f64 / 8000.0;
        *code = encode_ulaw((phase.sin() * 8000.0) as i16);
    }
    frame
}

/// An even loopback port `p` with `p + 2` free too (SIPp binds its audio
/// socket on `-mp` and its video socket two above).
fn free_media_port() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if port.is_multiple_of(2)
            && port < u16::MAX - 2
            && UdpSocket::bind((LOOPBACK, port + 2)).is_ok()
            && UdpSocket::bind((LOOPBACK, port + 1)).is_ok()
        {
            return port;
        }
    }
    panic!("no free even loopback port with the next two free");
}

/// Per server RTP port (one per call): what SIPp sent it and what it sent
/// back.
#[derive(Debug, Default, Clone, Copy)]
struct Stream {
    /// RTP packets from SIPp's media socket to the server.
    sent: u64,
    /// RTP packets from the server to SIPp's media socket.
    returned: u64,
    /// Of those, PCMU packets carrying the caller's tone frame.
    echoed: u64,
}

fn streams(
    datagrams: &[Datagram],
    sipp_media: SocketAddrV4,
    frame: &[u8],
) -> BTreeMap<u16, Stream> {
    let mut streams: BTreeMap<u16, Stream> = BTreeMap::new();
    for d in datagrams {
        let Ok(rtp) = RtpPacket::parse(&d.payload) else {
            continue;
        };
        if d.from == sipp_media {
            streams.entry(d.to.port()).or_default().sent += 1;
        } else if d.to == sipp_media {
            let s = streams.entry(d.from.port()).or_default();
            s.returned += 1;
            if rtp.payload_type == 0 && rtp.payload == frame {
                s.echoed += 1;
            }
        }
    }
    streams
}

#[test]
fn fifty_concurrent_sipp_rtp_streams_are_echoed() {
    let frame = tone_frame();
    let dir = std::env::temp_dir().join(format!("parrot-e2e-media-load-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    // One second of the tone, raw PCMU: SIPp's rtp_stream sends a file's
    // octets as they are, 160 per packet, looping (-1).
    let audio = dir.join("tone-400hz.pcmu");
    fs::write(&audio, frame.repeat(50)).unwrap();

    let server = Server::start("echo", examples::echo::serve);
    let media_port = free_media_port();
    let sipp_media = SocketAddrV4::new(LOOPBACK, media_port);
    let mut capture = Capture::start(
        "media-load",
        &format!("udp and host 127.0.0.1 and port {media_port}"),
    );
    let run = Sipp::scenario("echo_rtp_stream.xml", server.addr())
        .label("echo-rtp-stream")
        .calls(CALLS)
        .rate(25)
        .limit(CALLS)
        .timeout(Duration::from_secs(40))
        .key("rtp_stream", format!("{},-1,0", audio.display()))
        .arg("-mp")
        .arg(media_port.to_string())
        .arg("-d")
        .arg(STREAM.as_millis().to_string())
        .run();
    let datagrams = capture.stop();
    run.assert_all_successful();

    let streams = streams(&datagrams, sipp_media, &frame);
    let total = streams.values().fold(Stream::default(), |t, s| Stream {
        sent: t.sent + s.sent,
        returned: t.returned + s.returned,
        echoed: t.echoed + s.echoed,
    });
    eprintln!(
        "[echo-load] {CALLS} calls: SIPp streamed {} RTP packets to {} server ports \
         ({EXPECTED_PER_CALL} per call expected); the server sent {} back, {} of them \
         the caller's audio",
        total.sent,
        streams.len(),
        total.returned,
        total.echoed
    );
    let report = || {
        streams
            .iter()
            .map(|(port, s)| {
                format!(
                    "  :{port} sent {} returned {} echoed {}",
                    s.sent, s.returned, s.echoed
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Every call streamed to its own server port, about all of its packets.
    assert_eq!(
        streams.len(),
        CALLS as usize,
        "one RTP stream per call expected\n{}",
        report()
    );
    for (port, s) in &streams {
        assert!(
            s.sent >= EXPECTED_PER_CALL * 8 / 10,
            "SIPp streamed only {} packets to :{port}\n{}",
            s.sent,
            report()
        );
        // The echo of each call: most of what it sent came back, as sent.
        assert!(
            s.echoed >= s.sent / 2,
            "the echo on :{port} returned {} of {} packets with the caller's audio ({} \
             packets in all)\n{}",
            s.echoed,
            s.sent,
            s.returned,
            report()
        );
    }
    assert!(
        total.echoed >= total.sent * 9 / 10,
        "the echo returned {} of {} packets with the caller's audio\n{}",
        total.echoed,
        total.sent,
        report()
    );
    let _ = fs::remove_dir_all(&dir);
    server.stop();
}
