//! A call's media session on loopback, against a scripted RTP peer: echo,
//! DTMF received as one digit per press, prompts played, recordings
//! written, bad packets counted and dropped, and the end (RTCP BYE, the
//! ports free again). The peer paces its packets every 20 ms as a phone
//! would; the waits are upper bounds, never assertions on timing.

use parrot::media::MediaError;
use parrot::media::dtmf::{Digit, EventSender, EventSettings};
use parrot::media::g711::G711;
use parrot::media::negotiate::MediaParams;
use parrot::media::rtcp::{RtcpPacket, parse_compound};
use parrot::media::rtp::{RtpHeader, RtpPacket};
use parrot::media::session::{MediaSession, PlayOutcome};
use parrot::media::tone::Tone;
use parrot::media::wav::{WavEncoding, WavInfo};
use parrot::sdp::Direction;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
const DTMF_PT: u8 = 101;

/// A bound RTP/RTCP pair on loopback (even port, odd port).
fn socket_pair() -> (std::net::UdpSocket, std::net::UdpSocket) {
    for _ in 0..100 {
        let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rtp.local_addr().unwrap().port();
        if !port.is_multiple_of(2) || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = std::net::UdpSocket::bind(("127.0.0.1", port + 1)) {
            rtp.set_nonblocking(true).unwrap();
            rtcp.set_nonblocking(true).unwrap();
            return (rtp, rtcp);
        }
    }
    panic!("no free port pair");
}

/// The scripted phone: its RTP and RTCP sockets.
#[derive(Clone)]
struct Peer {
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
}

/// What the phone sends: its sequence number and timestamp.
struct Stream {
    seq: u16,
    ts: u32,
}

impl Peer {
    fn new() -> Peer {
        let (rtp, rtcp) = socket_pair();
        Peer {
            rtp: Arc::new(UdpSocket::from_std(rtp).unwrap()),
            rtcp: Arc::new(UdpSocket::from_std(rtcp).unwrap()),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.rtp.local_addr().unwrap()
    }

    /// Starts a session whose peer is this phone.
    fn session(&self, law: G711, dtmf: bool) -> MediaSession {
        MediaSession::start(
            socket_pair(),
            MediaParams {
                codec: law,
                payload_type: law.payload_type(),
                dtmf_payload_type: dtmf.then_some(DTMF_PT),
                remote: Some(self.addr()),
                direction: Direction::SendRecv,
            },
        )
        .unwrap()
    }

    async fn send(
        &self,
        s: &mut Stream,
        to: SocketAddr,
        pt: u8,
        marker: bool,
        ts: u32,
        payload: &[u8],
    ) {
        let mut out = Vec::new();
        RtpHeader {
            marker,
            payload_type: pt,
            sequence: s.seq,
            timestamp: ts,
            ssrc: 0x5EED,
        }
        .write_to(payload, &mut out)
        .unwrap();
        s.seq = s.seq.wrapping_add(1);
        self.rtp.send_to(&out, to).await.unwrap();
    }

    /// Sends audio frames, one every 20 ms, in a task.
    fn talk(&self, to: SocketAddr, pt: u8, frames: Vec<[u8; 160]>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut s = Stream {
                seq: 1000,
                ts: 5000,
            };
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for f in &frames {
                tick.tick().await;
                let ts = s.ts;
                me.send(&mut s, to, pt, false, ts, f).await;
                s.ts = s.ts.wrapping_add(160);
            }
        })
    }

    /// The next RTP packet received: (payload type, sequence, payload).
    async fn receive(&self) -> (u8, u16, Vec<u8>) {
        let mut buf = [0u8; 2048];
        let n = timeout(WAIT, self.rtp.recv(&mut buf))
            .await
            .expect("RTP in time")
            .unwrap();
        let p = RtpPacket::parse(&buf[..n]).expect("valid RTP");
        (p.payload_type, p.sequence, p.payload.to_vec())
    }
}

/// A frame holding `n` in every byte, never silence.
fn marked_frame(n: u8) -> [u8; 160] {
    [n | 0x10; 160]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_sends_back_what_the_peer_sends() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, false);
    session.echo(true).unwrap();
    let frames: Vec<_> = (0..40u8).map(marked_frame).collect();
    let talking = peer.talk(session.local_addr(), 0, frames.clone());
    // What comes back: silence until the jitter buffer plays, then each
    // frame once, in order, as PCMU with consecutive sequence numbers.
    let mut echoed = Vec::new();
    let mut last_seq = None;
    while echoed.len() < frames.len() - 2 {
        let (pt, seq, payload) = peer.receive().await;
        assert_eq!(pt, 0);
        if let Some(last) = last_seq {
            assert_eq!(seq, u16::wrapping_add(last, 1), "consecutive");
        }
        last_seq = Some(seq);
        if payload.iter().any(|&b| b != 0xFF) {
            echoed.push(<[u8; 160]>::try_from(payload).unwrap());
        }
    }
    assert_eq!(echoed[..], frames[..echoed.len()], "the frames, in order");
    talking.await.unwrap();
    let stats = session.stats().await.unwrap();
    assert_eq!(stats.packets_received, 40, "{stats:?}");
    assert_eq!(stats.malformed, 0);
    session.close();
    session.closed().await;
    assert_eq!(session.echo(true), Err(MediaError::Ended));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_presses_arrive_once_each_in_order() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcma, true);
    let to = session.local_addr();
    let sender = peer.clone();
    let pressing = tokio::spawn(async move {
        let mut s = Stream { seq: 7, ts: 80_000 };
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for key in ['5', '#', '5'] {
            let digit = Digit::from_char(key).unwrap();
            let packets = EventSender::new(
                digit,
                s.ts,
                Duration::from_millis(100),
                EventSettings::default(),
            );
            let mut last = Duration::ZERO;
            for p in packets {
                if p.offset > last {
                    tick.tick().await;
                    last = p.offset;
                }
                let payload = p.event.to_bytes();
                sender
                    .send(&mut s, to, DTMF_PT, p.marker, p.timestamp, &payload)
                    .await;
            }
            // A gap of audio between presses.
            s.ts = s.ts.wrapping_add(800 + 1600);
            tick.tick().await;
        }
    });
    let mut heard = Vec::new();
    while heard.len() < 3 {
        let d = timeout(WAIT, session.next_digit())
            .await
            .expect("a digit in time")
            .expect("session alive");
        heard.push(d.as_char());
    }
    pressing.await.unwrap();
    assert_eq!(heard, ['5', '#', '5']);
    let stats = session.stats().await.unwrap();
    assert_eq!(stats.digits, 3, "the repeated end packets count once");
    session.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_plays_then_silence_and_dtmf_barges_in() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, true);
    // 200 ms of a 1 kHz tone: 10 frames.
    let mut tone = Tone::new(1000.0, -10.0);
    let mut samples = vec![0i16; 1600];
    tone.fill(&mut samples);
    // The peer must have sent once for nothing else to be needed: the
    // session sends to the SDP's address from the start.
    let playing = {
        let s = session.clone();
        tokio::spawn(async move { s.play_samples(samples, false).await })
    };
    let mut loud = 0;
    let mut quiet_after = 0;
    while quiet_after < 5 {
        let (_, _, payload) = peer.receive().await;
        let mut pcm = [0i16; 160];
        G711::Pcmu.decode(&payload, &mut pcm);
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
        if peak > 5000 {
            loud += 1;
        } else if loud > 0 {
            quiet_after += 1;
        }
    }
    assert_eq!(loud, 10, "the prompt's 10 frames");
    assert_eq!(
        timeout(WAIT, playing).await.unwrap().unwrap(),
        Ok(PlayOutcome::Finished)
    );

    // A long prompt with barge-in, cut by a key press.
    let long: Vec<i16> = vec![8000; 8000 * 30];
    let playing = {
        let s = session.clone();
        tokio::spawn(async move { s.play_samples(long, true).await })
    };
    // Wait until it plays, then press 9.
    loop {
        let (_, _, payload) = peer.receive().await;
        if payload.iter().any(|&b| b != 0xFF) {
            break;
        }
    }
    let mut s = Stream { seq: 1, ts: 1 };
    let nine = Digit::from_char('9').unwrap();
    for p in EventSender::new(nine, 1, Duration::from_millis(40), EventSettings::default()) {
        let payload = p.event.to_bytes();
        peer.send(
            &mut s,
            session.local_addr(),
            DTMF_PT,
            p.marker,
            p.timestamp,
            &payload,
        )
        .await;
    }
    assert_eq!(
        timeout(WAIT, playing).await.unwrap().unwrap(),
        Ok(PlayOutcome::Interrupted(nine))
    );
    assert_eq!(session.next_digit().await, Some(nine), "queued as well");
    session.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_holds_what_the_peer_said() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, false);
    let dir = std::env::temp_dir().join(format!("parrot-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("call.wav");
    let recording = {
        let (s, path) = (session.clone(), path.clone());
        tokio::spawn(async move { s.record(&path, Duration::from_secs(60)).await })
    };
    // 25 frames of a tone and 5 of silence, then stop the recording
    // (what is concealed after the last frame, a repeat of it, is then
    // silence, whenever the stop lands).
    let mut tone = Tone::new(440.0, -6.0);
    let frames: Vec<[u8; 160]> = (0..30)
        .map(|i| {
            let mut f = [0u8; 160];
            if i < 25 {
                G711::Pcmu.encode(&tone.frame(), &mut f);
            } else {
                G711::Pcmu.encode(&[0; 160], &mut f);
            }
            f
        })
        .collect();
    peer.talk(session.local_addr(), 0, frames).await.unwrap();
    // Let the jitter buffer play its last frames out.
    timeout(WAIT, async {
        while session.stats().await.unwrap().played < 30 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("played out in time");
    session.stop_recording().unwrap();
    let rec = timeout(WAIT, recording).await.unwrap().unwrap().unwrap();
    assert!(rec.samples >= 30 * 160, "{rec:?}");
    let bytes = std::fs::read(&path).unwrap();
    let info = WavInfo::parse(&bytes).unwrap();
    assert_eq!(info.encoding, WavEncoding::Pcm16);
    assert_eq!(
        info.data.len(),
        rec.samples as usize * 2,
        "the header's sizes"
    );
    let pcm: Vec<i16> = bytes[info.data]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let loud = pcm
        .chunks(160)
        .filter(|f| f.iter().any(|s| s.abs() > 5000))
        .count();
    assert_eq!(loud, 25, "every frame of the tone, once");
    std::fs::remove_dir_all(&dir).unwrap();
    session.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packets_and_strangers_are_counted_and_dropped() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, false);
    let to = session.local_addr();
    // Garbage, truncated RTP, a bad version, RTCP on the RTP port, an
    // unknown payload type and comfort noise.
    for junk in [
        &b""[..],
        b"\x80",
        b"\x80\x00\x00",
        b"\x40\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01",
        b"\x81\xc8\x00\x01\x00\x00\x00\x01",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    ] {
        peer.rtp.send_to(junk, to).await.unwrap();
    }
    let mut s = Stream { seq: 1, ts: 1 };
    peer.send(&mut s, to, 13, false, 1, &[0x40]).await;
    peer.send(&mut s, to, 96, false, 1, &[0; 20]).await;
    // The peer latches; a stranger's packets are dropped.
    peer.send(&mut s, to, 0, false, 160, &[0x55; 160]).await;
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut out = Vec::new();
    RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 9,
        timestamp: 9,
        ssrc: 9,
    }
    .write_to(&[0x11; 160], &mut out)
    .unwrap();
    stranger.send_to(&out, to).await.unwrap();
    let stats = timeout(WAIT, async {
        loop {
            let stats = session.stats().await.unwrap();
            if stats.malformed + stats.ignored + stats.foreign + stats.packets_received >= 10 {
                break stats;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every packet accounted for in time");
    assert_eq!(stats.malformed, 6, "{stats:?}");
    assert_eq!(stats.ignored, 2, "{stats:?}");
    assert_eq!(stats.packets_received, 1, "{stats:?}");
    assert_eq!(stats.foreign, 1, "{stats:?}");
    session.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_sends_an_rtcp_bye_and_frees_the_ports() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, false);
    let local = session.local_addr();
    session.close();
    session.closed().await;
    // Our last RTCP: a report, our CNAME and a BYE.
    let mut buf = [0u8; 1500];
    let n = timeout(WAIT, peer.rtcp.recv(&mut buf))
        .await
        .expect("RTCP in time")
        .unwrap();
    let packets = parse_compound(&buf[..n]).unwrap();
    assert!(
        matches!(
            packets[..],
            [
                RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_),
                RtcpPacket::SourceDescription(_),
                RtcpPacket::Goodbye(_)
            ]
        ),
        "{packets:?}"
    );
    // The pair is free again.
    std::net::UdpSocket::bind(local).expect("RTP port released");
    std::net::UdpSocket::bind((local.ip(), local.port() + 1)).expect("RTCP port released");
    assert_eq!(session.stop(), Err(MediaError::Ended));
    assert!(session.next_digit().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_carries_each_callers_audio_to_the_other() {
    let (alice, bob) = (Peer::new(), Peer::new());
    // Alice talks µ-law, Bob A-law: the bridge transcodes through linear.
    let (a, b) = (
        alice.session(G711::Pcmu, false),
        bob.session(G711::Pcma, false),
    );
    a.bridge(&b).unwrap();
    let mut tone = Tone::new(700.0, -6.0);
    let frames: Vec<[u8; 160]> = (0..30)
        .map(|_| {
            let mut f = [0u8; 160];
            G711::Pcmu.encode(&tone.frame(), &mut f);
            f
        })
        .collect();
    let talking = alice.talk(a.local_addr(), 0, frames);
    // Bob hears Alice's tone, as PCMA.
    let mut loud = 0;
    while loud < 10 {
        let (pt, _, payload) = bob.receive().await;
        assert_eq!(pt, 8);
        let mut pcm = [0i16; 160];
        G711::Pcma.decode(&payload, &mut pcm);
        if pcm.iter().any(|s| s.unsigned_abs() > 5000) {
            loud += 1;
        }
    }
    talking.await.unwrap();
    a.unbridge().unwrap();
    b.unbridge().unwrap();
    a.close();
    b.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digit_sent_is_one_rfc4733_event_with_its_end_three_times() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, true);
    let star = Digit::from_char('*').unwrap();
    let sending = {
        let s = session.clone();
        tokio::spawn(async move { s.send_dtmf(star, Duration::from_millis(100)).await })
    };
    let mut events = Vec::new();
    while events.iter().filter(|(_, end, _)| *end).count() < 3 {
        let (pt, _, payload) = peer.receive().await;
        if pt != DTMF_PT {
            assert!(
                events.is_empty() || events.len() >= 3,
                "no audio amid the event"
            );
            continue;
        }
        let event = parrot::media::dtmf::TelephoneEvent::parse(&payload).unwrap();
        events.push((event.event, event.end, event.duration));
    }
    timeout(WAIT, sending).await.unwrap().unwrap().unwrap();
    assert!(events.iter().all(|(e, _, _)| *e == star.event()));
    let ends: Vec<_> = events.iter().filter(|(_, end, _)| *end).collect();
    assert_eq!(ends.len(), 3, "{events:?}");
    assert!(
        ends.iter().all(|(_, _, d)| *d == 800),
        "100 ms at 8 kHz: {events:?}"
    );
    // Updates before the end, with growing durations.
    let updates: Vec<_> = events
        .iter()
        .filter(|(_, end, _)| !*end)
        .map(|e| e.2)
        .collect();
    assert!(
        !updates.is_empty() && updates.windows(2).all(|w| w[0] < w[1]),
        "{events:?}"
    );
    session.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nat_the_peer_is_latched_after_packets_in_sequence_and_hears_the_echo() {
    let peer = Peer::new();
    // The SDP names an address the phone does not send from (NAT).
    let session = MediaSession::start(
        socket_pair(),
        MediaParams {
            codec: G711::Pcmu,
            payload_type: 0,
            dtmf_payload_type: None,
            remote: Some("127.0.0.1:9".parse().unwrap()),
            direction: Direction::SendRecv,
        },
    )
    .unwrap();
    session.echo(true).unwrap();
    let to = session.local_addr();
    // A stranger's lone packet first: not latched.
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut out = Vec::new();
    RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 500,
        timestamp: 1,
        ssrc: 666,
    }
    .write_to(&[0x22; 160], &mut out)
    .unwrap();
    stranger.send_to(&out, to).await.unwrap();
    // The phone talks: latched after two packets in sequence, and the
    // echo comes back to where it sends from.
    let frames: Vec<_> = (0..20u8).map(marked_frame).collect();
    let talking = peer.talk(to, 0, frames);
    let mut echoed = 0;
    while echoed < 5 {
        let (_, _, payload) = peer.receive().await;
        if payload.iter().any(|&b| b != 0xFF) {
            assert_ne!(payload[0], 0x22, "never the stranger's audio");
            echoed += 1;
        }
    }
    talking.await.unwrap();
    // Every packet accounted for: the stranger's and the phone's first
    // dropped, the phone's other 19 taken.
    let stats = timeout(WAIT, async {
        loop {
            let stats = session.stats().await.unwrap();
            if stats.foreign + stats.packets_received >= 21 {
                break stats;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every packet accounted for in time");
    assert_eq!(stats.foreign, 2, "{stats:?}");
    assert_eq!(stats.packets_received, 19, "{stats:?}");
    session.close();
}

/// A WAV file's bytes: a `fmt ` chunk of PCM with these channels, rate
/// and bits, then `data` bytes.
fn wav_bytes(channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"RIFF");
    f.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    f.extend_from_slice(b"WAVEfmt ");
    f.extend_from_slice(&16u32.to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    let block = channels * bits / 8;
    f.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    f.extend_from_slice(&block.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f.extend_from_slice(b"data");
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(data);
    f
}

/// Receives until a packet carries `frame` (the echo of it), skipping
/// the silence and the other frames before it.
async fn receive_frame(peer: &Peer, frame: &[u8; 160]) {
    timeout(WAIT, async {
        loop {
            let (_, _, payload) = peer.receive().await;
            if payload[..] == frame[..] {
                break;
            }
        }
    })
    .await
    .expect("the frame echoed in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_cannot_be_used_is_an_error_naming_it_and_the_call_goes_on() {
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, false);
    let dir = std::env::temp_dir().join(format!("parrot-media-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // A prompt that does not exist.
    let missing = dir.join("missing.wav");
    let err = session.play_file(&missing, true).await.unwrap_err();
    match &err {
        MediaError::File { path, source } => {
            assert_eq!(path, &missing);
            assert!(
                matches!(&**source, MediaError::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
                "{source:?}"
            );
        }
        other => panic!("expected MediaError::File, got {other:?}"),
    }
    assert!(err.to_string().contains("missing.wav"), "{err}");

    // A WAV file in a layout we do not play (44.1 kHz stereo), and a file
    // that is no WAV at all: the fault is named.
    let stereo = dir.join("stereo.wav");
    std::fs::write(&stereo, wav_bytes(2, 44_100, 16, &[0; 400])).unwrap();
    let err = session.play_file(&stereo, false).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("stereo.wav") && text.contains("not 44100 Hz with 2 channel(s)"),
        "{text}"
    );
    let notes = dir.join("notes.wav");
    std::fs::write(&notes, b"these are not samples").unwrap();
    let err = session.play_file(&notes, false).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("notes.wav") && text.contains("not a WAV file"),
        "{text}"
    );

    // A recording into a directory that does not exist.
    let nowhere = dir.join("no-such-dir").join("message.wav");
    let err = session
        .record(&nowhere, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MediaError::File { path, .. } if path == &nowhere),
        "{err:?}"
    );

    // The session goes on: the echo still works.
    session.echo(true).unwrap();
    let frames: Vec<_> = (0..25u8).map(marked_frame).collect();
    let talking = peer.talk(session.local_addr(), 0, frames);
    receive_frame(&peer, &marked_frame(3)).await;
    talking.await.unwrap();
    session.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_the_media_port_is_dropped_never_amplified_and_the_call_goes_on() {
    const STRANGER_PACKETS: u32 = 20_000;
    const PEER_PACKETS: u32 = 5_000;
    let started = std::time::Instant::now();
    let peer = Peer::new();
    let session = peer.session(G711::Pcmu, false);
    session.echo(true).unwrap();
    let to = session.local_addr();

    // The phone latches, then a stranger floods the port as fast as it
    // can, and so does the phone itself (its stream at full speed).
    let mut s = Stream { seq: 1, ts: 160 };
    peer.send(&mut s, to, 0, false, 160, &marked_frame(1)).await;
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut junk = Vec::new();
    RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 7,
        timestamp: 7,
        ssrc: 7,
    }
    .write_to(&[0x22; 160], &mut junk)
    .unwrap();
    for _ in 0..STRANGER_PACKETS {
        // The kernel may refuse some when its buffers are full.
        let _ = stranger.send_to(&junk, to);
    }
    for _ in 0..PEER_PACKETS {
        let ts = s.ts;
        peer.send(&mut s, to, 0, false, ts, &marked_frame(2)).await;
        s.ts = s.ts.wrapping_add(160);
    }

    // What reached the session is accounted for; the stranger's packets
    // never count as the call's.
    let stats = session.stats().await.expect("the session still answers");
    assert!(stats.foreign > 0, "{stats:?}");
    assert!(stats.foreign <= u64::from(STRANGER_PACKETS), "{stats:?}");
    assert!(
        stats.packets_received <= u64::from(PEER_PACKETS) + 1,
        "{stats:?}"
    );

    // The phone goes on talking at its pace, and hears itself again.
    let talker = peer.clone();
    let talking = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for _ in 0..200 {
            tick.tick().await;
            let ts = s.ts;
            talker
                .send(&mut s, to, 0, false, ts, &marked_frame(3))
                .await;
            s.ts = s.ts.wrapping_add(160);
        }
    });
    receive_frame(&peer, &marked_frame(3)).await;
    talking.abort();

    // Never amplified: one packet per frame at most, whatever came in
    // (the playout follows the peer's packets, never faster than one
    // frame per 18 ms: `media::pacer`).
    let stats = session.stats().await.unwrap();
    let frames = started.elapsed().as_millis() as u64 / 18;
    eprintln!("[flood] {frames} frame times: {stats:?}");
    assert!(
        stats.packets_sent <= frames + 5,
        "{} packets sent in {frames} frame times: {stats:?}",
        stats.packets_sent
    );
    session.close();
}
