//! A call's media on tokio: one task per call owns its RTP and RTCP
//! sockets, receives (symmetric RTP, RFC 4961; the jitter buffer; DTMF
//! events, RFC 4733), and every 20 ms plays out what it heard to the
//! recorder, the echo or a bridged call, and sends one packet of what it
//! plays (a prompt, a tone, DTMF, the echo, the bridged call, or
//! silence). RTCP reports go out every few seconds (RFC 3550 §6.2) and a
//! BYE at the end.
//!
//! [`MediaSession`] is the handle: cheap to clone, usable from any task.
//! The session ends when [`MediaSession::close`] is called (the server
//! does it when the dialog ends, whatever ended it) or when every handle
//! is dropped; its ports are free again then, and operations fail with
//! [`MediaError::Ended`].

use super::MediaError;
use super::conceal::Concealer;
use super::dtmf::{Digit, EventPacket, EventReceiver, EventSender, EventSettings};
use super::g711::G711;
use super::jitter::{JitterBuffer, JitterConfig, Playout, Pushed};
use super::latch::{Latch, Verdict};
use super::negotiate::MediaParams;
use super::pacer::Pacer;
use super::receive::SourceStats;
use super::rtcp::{
    Goodbye, NtpTimestamp, ReceiverReport, RtcpInterval, RtcpPacket, SdesChunk, SenderInfo,
    SenderReport, parse_compound, write_compound,
};
use super::rtp::{PacketKind, RtpHeader, RtpPacket, classify};
use super::wav::{self, WavEncoding, WavInfo};
use super::{CLOCK_RATE, FRAME_SAMPLES};
use crate::telemetry;
use crate::transport::os_udp::OsUdpSocket;
use crate::transport::recv_batch::Batch;
use std::io::{Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, trace};

/// One 20 ms frame of linear samples.
pub type Frame = [i16; FRAME_SAMPLES];

/// The playout interval.
const TICK: Duration = Duration::from_millis(20);

/// The largest prompt file read, in bytes (about 17 minutes of 16-bit
/// audio): a prompt is loaded whole.
pub const MAX_PROMPT_BYTES: u64 = 16 * 1024 * 1024;

/// Frames a bridged call may have queued for us before the oldest are
/// dropped (a bridge must not build up delay).
const BRIDGE_QUEUE: usize = 5;

/// How a [`MediaSession::play_samples`] or [`MediaSession::play_file`]
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayOutcome {
    /// Played to the end.
    Finished,
    /// Cut short by a DTMF digit (barge-in), which is also queued for
    /// [`MediaSession::next_digit`].
    Interrupted(Digit),
    /// Stopped by [`MediaSession::stop`] or replaced by another play.
    Stopped,
}

/// Counters of a media session, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// RTP packets received from the peer and taken.
    pub packets_received: u64,
    /// Datagrams that were not valid RTP or RTCP: counted and dropped.
    pub malformed: u64,
    /// Packets from an address other than the latched peer's, or from a
    /// source not latched yet (see [`latch`](super::latch)), dropped.
    pub foreign: u64,
    /// Packets of a payload type not negotiated (comfort noise among
    /// them, RFC 3389: accepted and ignored).
    pub ignored: u64,
    /// Frames the jitter buffer played.
    pub played: u64,
    /// Frames missing at their playout time (lost or late), concealed.
    pub concealed: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Duplicated packets.
    pub duplicates: u64,
    /// DTMF digits received.
    pub digits: u64,
    /// RTCP packets received.
    pub rtcp_received: u64,
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recording {
    /// Samples written (8 kHz).
    pub samples: u32,
}

impl Recording {
    /// The recording's length.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(u64::from(self.samples) * 1_000_000 / u64::from(CLOCK_RATE))
    }
}

enum Command {
    Play {
        audio: Arc<[i16]>,
        interrupt: bool,
        done: oneshot::Sender<PlayOutcome>,
    },
    Stop,
    Echo(bool),
    Record {
        file: std::fs::File,
        max: Duration,
        done: oneshot::Sender<Result<Recording, MediaError>>,
    },
    StopRecording,
    SendDtmf {
        digit: Digit,
        duration: Duration,
        done: oneshot::Sender<()>,
    },
    Update(MediaParams),
    Forward(Option<mpsc::Sender<Frame>>),
    Digit(Digit),
    Stats(oneshot::Sender<MediaStats>),
    Close,
}

struct Handle {
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
    digits: tokio::sync::Mutex<mpsc::UnboundedReceiver<Digit>>,
    /// Where a bridged call sends us its frames.
    bridge_in: mpsc::Sender<Frame>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A call's media session (see the module documentation).
#[derive(Clone)]
pub struct MediaSession {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("local", &self.handle.local)
            .finish_non_exhaustive()
    }
}

impl MediaSession {
    /// Starts the media of a call on a bound RTP/RTCP socket pair (see
    /// [`PortAllocator::bind_pair`](super::ports::PortAllocator::bind_pair)),
    /// with what the offer/answer settled. Must be called inside a tokio
    /// runtime.
    pub fn start(
        sockets: (std::net::UdpSocket, std::net::UdpSocket),
        params: MediaParams,
    ) -> Result<MediaSession, MediaError> {
        let rtp = OsUdpSocket::from_std(sockets.0)?;
        let rtcp = OsUdpSocket::from_std(sockets.1)?;
        let local = rtp.local_addr()?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (digit_tx, digit_rx) = mpsc::unbounded_channel();
        let (bridge_in, bridge_rx) = mpsc::channel(BRIDGE_QUEUE);
        let task = Task::new(rtp, rtcp, params, digit_tx, bridge_rx);
        let join = tokio::spawn(task.run(command_rx));
        Ok(MediaSession {
            handle: Arc::new(Handle {
                commands,
                local,
                digits: tokio::sync::Mutex::new(digit_rx),
                bridge_in,
                task: Mutex::new(Some(join)),
            }),
        })
    }

    /// Our RTP address (the port the SDP names).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local
    }

    fn send(&self, command: Command) -> Result<(), MediaError> {
        self.handle
            .commands
            .send(command)
            .map_err(|_| MediaError::Ended)
    }

    /// Plays `audio` (8 kHz linear samples) to the peer and completes when
    /// it has been sent, or was stopped; with `barge_in`, a DTMF digit
    /// from the peer stops it. A play replaces the one in progress.
    pub async fn play_samples(
        &self,
        audio: impl Into<Arc<[i16]>>,
        barge_in: bool,
    ) -> Result<PlayOutcome, MediaError> {
        let (done, rx) = oneshot::channel();
        self.send(Command::Play {
            audio: audio.into(),
            interrupt: barge_in,
            done,
        })?;
        rx.await.map_err(|_| MediaError::Ended)
    }

    /// Plays a WAV file (8 kHz mono: 16-bit PCM, A-law or µ-law; at most
    /// [`MAX_PROMPT_BYTES`]), as [`play_samples`](Self::play_samples). A
    /// file that is missing, unreadable or in another format is
    /// [`MediaError::File`], naming it and the fault; the session goes on.
    pub async fn play_file(
        &self,
        path: impl AsRef<Path>,
        barge_in: bool,
    ) -> Result<PlayOutcome, MediaError> {
        let path = path.as_ref();
        let audio = load_wav(path).await.map_err(|e| e.of_file(path))?;
        self.play_samples(audio, barge_in).await
    }

    /// Stops what is playing (its `play` completes with
    /// [`PlayOutcome::Stopped`]).
    pub fn stop(&self) -> Result<(), MediaError> {
        self.send(Command::Stop)
    }

    /// Sends the peer back what it sends (after the jitter buffer), or
    /// stops doing so. A play or DTMF takes precedence while it lasts.
    pub fn echo(&self, on: bool) -> Result<(), MediaError> {
        self.send(Command::Echo(on))
    }

    /// Records what the peer sends to a new WAV file at `path` (8 kHz
    /// 16-bit PCM; lost frames as concealed, silence while nothing
    /// arrives) until [`stop_recording`](Self::stop_recording), `max`, or
    /// the end of the session; completes then with what was written.
    pub async fn record(
        &self,
        path: impl AsRef<Path>,
        max: Duration,
    ) -> Result<Recording, MediaError> {
        let path = path.as_ref().to_owned();
        let named = path.clone();
        let file = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let mut f = std::fs::File::create(path)?;
            f.write_all(&wav::header(0))?;
            Ok(f)
        })
        .await
        .map_err(|_| MediaError::Ended)?
        .map_err(|e| MediaError::Io(e).of_file(&named))?;
        let (done, rx) = oneshot::channel();
        self.send(Command::Record { file, max, done })?;
        rx.await.map_err(|_| MediaError::Ended)?
    }

    /// Ends the recording in progress.
    pub fn stop_recording(&self) -> Result<(), MediaError> {
        self.send(Command::StopRecording)
    }

    /// Sends a DTMF digit as RFC 4733 telephone-events (when negotiated;
    /// as an in-band tone otherwise) lasting `duration`; completes when
    /// its last packet is sent.
    pub async fn send_dtmf(&self, digit: Digit, duration: Duration) -> Result<(), MediaError> {
        let (done, rx) = oneshot::channel();
        self.send(Command::SendDtmf {
            digit,
            duration,
            done,
        })?;
        rx.await.map_err(|_| MediaError::Ended)
    }

    /// The next DTMF digit the peer pressed (RFC 4733 events, one per
    /// press; or from SIP INFO via [`push_digit`](Self::push_digit)), or
    /// `None` once the session has ended.
    pub async fn next_digit(&self) -> Option<Digit> {
        self.handle.digits.lock().await.recv().await
    }

    /// Collects up to `max` digits, until `terminator` (not included) or
    /// `timeout` without a digit.
    pub async fn collect_digits(
        &self,
        max: usize,
        terminator: Option<Digit>,
        timeout: Duration,
    ) -> Result<Vec<Digit>, MediaError> {
        let mut out = Vec::new();
        while out.len() < max {
            match tokio::time::timeout(timeout, self.next_digit()).await {
                Ok(Some(d)) if Some(d) == terminator => break,
                Ok(Some(d)) => out.push(d),
                Ok(None) if out.is_empty() => return Err(MediaError::Ended),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(out)
    }

    /// Takes a digit the peer sent outside RTP (SIP INFO, the server does
    /// it): queued for [`next_digit`](Self::next_digit), and a barge-in
    /// like an RFC 4733 event.
    pub fn push_digit(&self, digit: Digit) -> Result<(), MediaError> {
        self.send(Command::Digit(digit))
    }

    /// Applies a new offer/answer outcome (a re-INVITE: hold, resume, a
    /// new address); the port stays.
    pub fn update(&self, params: MediaParams) -> Result<(), MediaError> {
        self.send(Command::Update(params))
    }

    /// Bridges this call's media with `other`'s: each hears the other (a
    /// back-to-back user agent's media). Ends with [`unbridge`](Self::unbridge)
    /// or either session.
    pub fn bridge(&self, other: &MediaSession) -> Result<(), MediaError> {
        self.send(Command::Forward(Some(other.handle.bridge_in.clone())))?;
        other.send(Command::Forward(Some(self.handle.bridge_in.clone())))
    }

    /// Stops sending this call's audio to a bridged call (call it on both
    /// to end a bridge).
    pub fn unbridge(&self) -> Result<(), MediaError> {
        self.send(Command::Forward(None))
    }

    /// The session's counters.
    pub async fn stats(&self) -> Result<MediaStats, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx))?;
        rx.await.map_err(|_| MediaError::Ended)
    }

    /// Ends the session: an RTCP BYE goes out, the sockets close, pending
    /// plays complete as stopped and recordings are finished.
    pub fn close(&self) {
        let _ = self.handle.commands.send(Command::Close);
    }

    /// Waits until the session's task has ended (after [`close`](Self::close)).
    pub async fn closed(&self) {
        let join = self.handle.task.lock().ok().and_then(|mut t| t.take());
        if let Some(join) = join {
            let _ = join.await;
        }
    }
}

/// Reads a prompt file into linear samples (on the blocking pool: file
/// I/O would stall the runtime's thread).
async fn load_wav(path: &Path) -> Result<Arc<[i16]>, MediaError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || read_wav(&path))
        .await
        .map_err(|_| MediaError::Ended)?
}

fn read_wav(path: &Path) -> Result<Arc<[i16]>, MediaError> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    // One byte over the limit tells a file that is too large.
    file.take(MAX_PROMPT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PROMPT_BYTES {
        return Err(MediaError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("prompt larger than {MAX_PROMPT_BYTES} bytes"),
        )));
    }
    let info = WavInfo::parse(&bytes)?;
    let data = &bytes[info.data];
    Ok(match info.encoding {
        WavEncoding::Pcm16 => data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
        WavEncoding::Mulaw => data.iter().map(|&c| G711::Pcmu.decode_sample(c)).collect(),
        WavEncoding::Alaw => data.iter().map(|&c| G711::Pcma.decode_sample(c)).collect(),
    })
}

/// Where RTCP goes for a peer sending RTP from `rtp`: the next port
/// (RFC 3550 §11).
fn params_rtcp(rtp: &Option<SocketAddr>) -> Option<SocketAddr> {
    rtp.and_then(|a| Some(SocketAddr::new(a.ip(), a.port().checked_add(1)?)))
}

/// A digit being sent as telephone-events.
struct SendingDigit {
    packets: EventSender,
    /// The next packet, not yet due.
    next: Option<EventPacket>,
    /// Time since the event started.
    elapsed: Duration,
    done: oneshot::Sender<()>,
}

struct Playing {
    audio: Arc<[i16]>,
    at: usize,
    interrupt: bool,
    done: oneshot::Sender<PlayOutcome>,
}

struct Recorder {
    file: std::io::BufWriter<std::fs::File>,
    samples: u32,
    max_samples: u32,
    done: oneshot::Sender<Result<Recording, MediaError>>,
}

impl Recorder {
    fn write(&mut self, frame: &Frame) -> std::io::Result<()> {
        let mut bytes = [0u8; FRAME_SAMPLES * 2];
        for (out, s) in bytes.chunks_exact_mut(2).zip(frame) {
            out.copy_from_slice(&s.to_le_bytes());
        }
        self.file.write_all(&bytes)?;
        self.samples += FRAME_SAMPLES as u32;
        Ok(())
    }

    fn full(&self) -> bool {
        self.samples >= self.max_samples
    }

    /// Writes the sizes into the header and reports.
    fn finish(self) {
        let samples = self.samples;
        let result = (|| -> std::io::Result<()> {
            let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&wav::header(samples))?;
            file.flush()
        })();
        let _ = self.done.send(
            result
                .map(|()| Recording { samples })
                .map_err(MediaError::Io),
        );
    }
}

struct Task {
    rtp: OsUdpSocket,
    rtcp: OsUdpSocket,
    params: MediaParams,
    law: G711,
    /// Whose packets we take and where ours go (symmetric RTP, RFC 4961).
    latch: Latch,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// Set after a pause in what we send: the next packet's marker bit
    /// (RFC 3551 §4.1: the first packet of a talkspurt).
    talkspurt: bool,
    jitter: JitterBuffer,
    conceal: Concealer,
    dtmf_in: EventReceiver,
    dtmf_out: Option<SendingDigit>,
    playing: Option<Playing>,
    echo: bool,
    recorder: Option<Recorder>,
    forward: Option<mpsc::Sender<Frame>>,
    bridge_in: mpsc::Receiver<Frame>,
    digits: mpsc::UnboundedSender<Digit>,
    stats: MediaStats,
    /// The counts last added to the metrics (`telemetry::media_counts`).
    reported: MediaStats,
    out: Vec<u8>,
    /// The peer's stream's reception statistics (RFC 3550 §A.1), for our
    /// report blocks.
    source: Option<SourceStats>,
    /// When the session started: the origin of arrival times.
    started: tokio::time::Instant,
    /// Where RTCP goes: the port after the peer's RTP port (§11), or
    /// where its RTCP comes from.
    rtcp_remote: Option<SocketAddr>,
    /// Payload octets sent (for SRs).
    octets_sent: u32,
    /// Whether we sent RTP since the last report.
    sent_since_report: bool,
    /// Our CNAME (§6.5.1): random, as RFC 7022 advises for privacy.
    cname: String,
}

impl Task {
    fn new(
        rtp: OsUdpSocket,
        rtcp: OsUdpSocket,
        params: MediaParams,
        digits: mpsc::UnboundedSender<Digit>,
        bridge_in: mpsc::Receiver<Frame>,
    ) -> Task {
        let law = params.codec;
        let params_remote = params.remote;
        Task {
            rtp,
            rtcp,
            latch: Latch::new(params.remote),
            law,
            params,
            // RFC 3550 §5.1: random initial SSRC, sequence and timestamp.
            ssrc: crate::random::u64() as u32,
            sequence: crate::random::u64() as u16,
            timestamp: crate::random::u64() as u32,
            talkspurt: true,
            jitter: JitterBuffer::new(JitterConfig::default()),
            conceal: Concealer::new(law),
            dtmf_in: EventReceiver::new(),
            dtmf_out: None,
            playing: None,
            echo: false,
            recorder: None,
            forward: None,
            bridge_in,
            digits,
            stats: MediaStats::default(),
            reported: MediaStats::default(),
            out: Vec::with_capacity(12 + FRAME_SAMPLES),
            source: None,
            started: tokio::time::Instant::now(),
            rtcp_remote: params_rtcp(&params_remote),
            octets_sent: 0,
            sent_since_report: false,
            cname: format!("{:016x}@parrot", crate::random::u64()),
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // The playout clock: the peer's packets drive it while they come
        // regularly (one wake-up per packet), the fallback timer otherwise.
        let mut pacer = Pacer::new();
        let mut armed = pacer.deadline();
        let fallback = tokio::time::sleep_until(self.started + armed);
        tokio::pin!(fallback);
        let report = tokio::time::sleep(self.report_interval(true));
        tokio::pin!(report);
        // Two at a time: one back tells the socket is empty (one receive
        // call per packet); a media datagram of 2048 bytes at most is kept whole.
        let mut rtp_in = Batch::new(2, 2048);
        let mut rtcp_buf = vec![0u8; 2048];
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Close) | None => break,
                    Some(c) => self.command(c),
                },
                r = rtp_in.receive(&self.rtp) => match r {
                    Ok(()) => {
                        for i in 0..rtp_in.len() {
                            let (datagram, from) = rtp_in.get(i);
                            if self.received(datagram, from) {
                                let now = self.started.elapsed();
                                if pacer.arrival(now) {
                                    self.tick().await;
                                    pacer.played(now, true);
                                }
                            }
                        }
                    }
                    Err(e) => debug!(error = %e, "RTP receive failed"),
                },
                r = self.rtcp.recv_from(&mut rtcp_buf) => {
                    if let Ok((n, from)) = r {
                        self.rtcp_received(&rtcp_buf[..n], from);
                    }
                }
                () = &mut fallback => {
                    self.tick().await;
                    pacer.played(self.started.elapsed(), false);
                }
                () = &mut report => {
                    self.send_report(None).await;
                    self.report_counts();
                    report.as_mut().reset(tokio::time::Instant::now() + self.report_interval(false));
                }
            }
            if pacer.deadline() != armed {
                armed = pacer.deadline();
                fallback.as_mut().reset(self.started + armed);
            }
        }
        self.send_report(Some("call ended")).await;
        self.report_counts();
        self.end();
    }

    /// Adds what was counted since the last call to the metrics (a no-op
    /// while no metrics listener runs).
    fn report_counts(&mut self) {
        let (now, last) = (self.stats, self.reported);
        telemetry::media_counts(telemetry::MediaCounts {
            received: now.packets_received - last.packets_received,
            sent: now.packets_sent - last.packets_sent,
            late: now.late - last.late,
            concealed: now.concealed - last.concealed,
        });
        self.reported = now;
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Play {
                audio,
                interrupt,
                done,
            } => {
                if let Some(p) = self.playing.take() {
                    let _ = p.done.send(PlayOutcome::Stopped);
                }
                self.playing = Some(Playing {
                    audio,
                    at: 0,
                    interrupt,
                    done,
                });
            }
            Command::Stop => {
                if let Some(p) = self.playing.take() {
                    let _ = p.done.send(PlayOutcome::Stopped);
                }
            }
            Command::Echo(on) => self.echo = on,
            Command::Record { file, max, done } => {
                if let Some(r) = self.recorder.take() {
                    r.finish();
                }
                let max_samples = u32::try_from(max.as_millis() * u128::from(CLOCK_RATE) / 1000)
                    .unwrap_or(u32::MAX)
                    // The WAV size fields are 32 bits.
                    .min(u32::MAX / 2 - 64);
                self.recorder = Some(Recorder {
                    file: std::io::BufWriter::with_capacity(64 * 1024, file),
                    samples: 0,
                    max_samples,
                    done,
                });
            }
            Command::StopRecording => {
                if let Some(r) = self.recorder.take() {
                    r.finish();
                }
            }
            Command::SendDtmf {
                digit,
                duration,
                done,
            } => {
                if let Some(old) = self.dtmf_out.take() {
                    let _ = old.done.send(());
                }
                let mut packets =
                    EventSender::new(digit, self.timestamp, duration, EventSettings::default());
                let next = packets.next();
                self.dtmf_out = Some(SendingDigit {
                    packets,
                    next,
                    elapsed: Duration::ZERO,
                    done,
                });
            }
            Command::Update(params) => {
                // A changed address drops the latch: the peer moved.
                if params.remote != self.params.remote {
                    self.latch.reset(params.remote);
                    self.rtcp_remote = params_rtcp(&params.remote);
                }
                if params.codec != self.params.codec {
                    self.law = params.codec;
                    self.conceal = Concealer::new(self.law);
                }
                self.params = params;
            }
            Command::Forward(to) => self.forward = to,
            Command::Digit(d) => self.digit(d),
            Command::Stats(tx) => {
                let _ = tx.send(self.stats);
            }
            Command::Close => {}
        }
    }

    /// A datagram on the RTP port.
    /// Takes a datagram from the RTP port; true when it was the peer's
    /// (a packet of the call's audio or DTMF from the latched source).
    fn received(&mut self, datagram: &[u8], from: SocketAddr) -> bool {
        if classify(datagram) != PacketKind::Rtp {
            self.stats.malformed += 1;
            return false;
        }
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.stats.malformed += 1;
            return false;
        };
        let pt = packet.payload_type;
        let ours = pt == self.params.payload_type || Some(pt) == self.params.dtmf_payload_type;
        if !ours {
            // Comfort noise (RFC 3389) and anything not negotiated.
            self.stats.ignored += 1;
            return false;
        }
        // RFC 4961, guarded (see `latch`): only the latched source's
        // packets are taken, and ours go there.
        let was_latched = self.latch.is_latched();
        if self.latch.packet(from, packet.ssrc, packet.sequence) == Verdict::Drop {
            self.stats.foreign += 1;
            return false;
        }
        if !was_latched {
            self.rtcp_remote = params_rtcp(&Some(from));
        }
        self.stats.packets_received += 1;
        // Arrival time in timestamp units, for the jitter (§A.8).
        let arrival =
            (self.started.elapsed().as_micros() as u64 * u64::from(CLOCK_RATE) / 1_000_000) as u32;
        let source = self
            .source
            .get_or_insert_with(|| SourceStats::new(packet.ssrc, packet.sequence));
        if source.ssrc() == packet.ssrc {
            source.update(packet.sequence, packet.timestamp, arrival);
        } else {
            // A new source (the peer restarted its stream): start over.
            let mut fresh = SourceStats::new(packet.ssrc, packet.sequence);
            fresh.update(packet.sequence, packet.timestamp, arrival);
            self.source = Some(fresh);
        }
        if Some(pt) == self.params.dtmf_payload_type {
            match self.dtmf_in.receive_packet(&packet) {
                Ok(Some(digit)) => self.digit(digit),
                Ok(None) => {}
                Err(_) => self.stats.malformed += 1,
            }
            return true;
        }
        match self.jitter.push_packet(&packet) {
            Pushed::Late => self.stats.late += 1,
            Pushed::Duplicate => self.stats.duplicates += 1,
            _ => {}
        }
        true
    }

    fn digit(&mut self, digit: Digit) {
        self.stats.digits += 1;
        debug!(digit = %digit, "DTMF received");
        if let Some(p) = self.playing.take_if(|p| p.interrupt) {
            let _ = p.done.send(PlayOutcome::Interrupted(digit));
        }
        let _ = self.digits.send(digit);
    }

    /// One 20 ms step: play out what was heard, send what we play.
    async fn tick(&mut self) {
        let playout = self.jitter.pop();
        match playout {
            Playout::Frame(_) => self.stats.played += 1,
            Playout::Missing => self.stats.concealed += 1,
            Playout::Empty => {}
        }
        let heard_something = !matches!(playout, Playout::Empty);
        let heard_codes = self.conceal.next(playout);
        // Linear samples only for who needs them: the echo re-sends the
        // codes as they came.
        let mut heard: Frame = [0; FRAME_SAMPLES];
        if heard_something && (self.recorder.is_some() || self.forward.is_some()) {
            self.law.decode(heard_codes, &mut heard);
        }
        let echo_codes: Option<[u8; FRAME_SAMPLES]> = (self.echo && heard_something)
            .then(|| heard_codes.try_into().ok())
            .flatten();
        if let Some(r) = &mut self.recorder {
            let failed = r.write(&heard).is_err();
            if (failed || r.full())
                && let Some(r) = self.recorder.take()
            {
                r.finish();
            }
        }
        if let Some(to) = &self.forward
            && heard_something
        {
            // A full queue means the other side lags: drop, never delay.
            let _ = to.try_send(heard);
        }
        let bridged = self.bridge_in.try_recv().ok();
        self.send_frame(echo_codes, bridged).await;
    }

    /// Sends this tick's packet: DTMF, else the prompt, else the bridged
    /// call, else the echo, else silence.
    async fn send_frame(&mut self, echo: Option<[u8; FRAME_SAMPLES]>, bridged: Option<Frame>) {
        let Some(remote) = self.latch.destination().filter(|_| self.params.sends()) else {
            self.talkspurt = true;
            return;
        };
        if self.dtmf_out.is_some() && self.params.dtmf_payload_type.is_some() {
            self.send_digit(remote).await;
            return;
        }
        self.out.clear();
        {
            let mut codes = [self.law.silence(); FRAME_SAMPLES];
            if let Some(digit) = self.dtmf_out.take() {
                // No telephone-event negotiated: nothing to send it with.
                debug!("DTMF not negotiated: digit dropped");
                let _ = digit.done.send(());
            }
            if let Some(p) = &mut self.playing {
                let end = (p.at + FRAME_SAMPLES).min(p.audio.len());
                let mut frame: Frame = [0; FRAME_SAMPLES];
                frame[..end - p.at].copy_from_slice(&p.audio[p.at..end]);
                p.at = end;
                self.law.encode(&frame, &mut codes);
                if p.at >= p.audio.len()
                    && let Some(p) = self.playing.take()
                {
                    let _ = p.done.send(PlayOutcome::Finished);
                }
            } else if let Some(frame) = bridged {
                self.law.encode(&frame, &mut codes);
            } else if let Some(e) = echo {
                codes = e;
            }
            let header = RtpHeader {
                marker: std::mem::take(&mut self.talkspurt),
                payload_type: self.params.payload_type,
                sequence: self.sequence,
                timestamp: self.timestamp,
                ssrc: self.ssrc,
            };
            let _ = header.write_to(&codes, &mut self.out);
            self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        }
        self.transmit(remote).await;
    }

    /// Sends `self.out` as the next packet.
    async fn transmit(&mut self, remote: SocketAddr) {
        self.sequence = self.sequence.wrapping_add(1);
        match self.rtp.send_to(&self.out, remote).await {
            Ok(_) => {
                self.stats.packets_sent += 1;
                let payload = self.out.len().saturating_sub(super::rtp::HEADER_LEN);
                self.octets_sent = self.octets_sent.wrapping_add(payload as u32);
                self.sent_since_report = true;
            }
            Err(e) => trace!(error = %e, %remote, "RTP send failed"),
        }
    }

    /// Sends the telephone-event packets due this tick (RFC 4733 §2.5.1:
    /// updates every 20 ms, the end packet three times), no audio
    /// meanwhile; at the end the audio clock resumes after the event.
    async fn send_digit(&mut self, remote: SocketAddr) {
        let Some(pt) = self.params.dtmf_payload_type else {
            return;
        };
        loop {
            let Some(digit) = &mut self.dtmf_out else {
                return;
            };
            let Some(packet) = digit.next.filter(|p| p.offset <= digit.elapsed) else {
                break;
            };
            digit.next = digit.packets.next();
            self.out.clear();
            let header = RtpHeader {
                marker: packet.marker,
                payload_type: pt,
                sequence: self.sequence,
                timestamp: packet.timestamp,
                ssrc: self.ssrc,
            };
            let _ = header.write_to(&packet.event.to_bytes(), &mut self.out);
            self.transmit(remote).await;
        }
        let Some(digit) = &mut self.dtmf_out else {
            return;
        };
        digit.elapsed += TICK;
        if digit.next.is_none() {
            self.timestamp = digit.packets.end_timestamp();
            self.talkspurt = true;
            if let Some(digit) = self.dtmf_out.take() {
                let _ = digit.done.send(());
            }
        }
    }

    /// The time to the next RTCP report (RFC 3550 §6.3.1): two members,
    /// 5% of a G.711 call's 80 kbit/s.
    fn report_interval(&self, initial: bool) -> Duration {
        let random = (crate::random::u64() >> 11) as f64 / (1u64 << 53) as f64;
        RtcpInterval {
            members: 2,
            senders: 1 + u32::from(self.sent_since_report),
            rtcp_bandwidth: 500.0,
            we_sent: self.sent_since_report,
            avg_rtcp_size: 100.0,
            initial,
        }
        .interval(random)
    }

    /// A datagram on the RTCP port: counted, and an SR from the peer
    /// noted for our reports' LSR/DLSR (§6.4.1).
    fn rtcp_received(&mut self, datagram: &[u8], from: SocketAddr) {
        let Ok(packets) = parse_compound(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        if self.latch.is_latched() && self.latch.destination().map(|r| r.ip()) != Some(from.ip()) {
            self.stats.foreign += 1;
            return;
        }
        self.stats.rtcp_received += 1;
        self.rtcp_remote = Some(from);
        for p in packets {
            if let RtcpPacket::SenderReport(sr) = p
                && let Some(source) = &mut self.source
                && source.ssrc() == sr.ssrc
            {
                source.sender_report(sr.sender.ntp, std::time::Instant::now());
            }
        }
    }

    /// Sends a compound RTCP packet: SR if we sent since the last report
    /// (else RR) with a block about the peer's stream, SDES CNAME, and a
    /// BYE with `bye`'s reason at the end of the session (§6.1, §6.6).
    async fn send_report(&mut self, bye: Option<&str>) {
        let Some(to) = self.rtcp_remote else {
            return;
        };
        let reports: Vec<_> = self
            .source
            .as_mut()
            .and_then(|s| s.report_block(std::time::Instant::now()))
            .into_iter()
            .collect();
        let first = if self.sent_since_report {
            RtcpPacket::SenderReport(SenderReport {
                ssrc: self.ssrc,
                sender: SenderInfo {
                    ntp: NtpTimestamp::from_system_time(std::time::SystemTime::now()),
                    rtp_timestamp: self.timestamp,
                    packet_count: self.stats.packets_sent as u32,
                    octet_count: self.octets_sent,
                },
                reports,
            })
        } else {
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: self.ssrc,
                reports,
            })
        };
        self.sent_since_report = false;
        let mut packets = vec![
            first,
            RtcpPacket::SourceDescription(vec![SdesChunk {
                ssrc: self.ssrc,
                cname: Some(self.cname.clone()),
            }]),
        ];
        if let Some(reason) = bye {
            packets.push(RtcpPacket::Goodbye(Goodbye {
                sources: vec![self.ssrc],
                reason: Some(reason.to_owned()),
            }));
        }
        let mut out = Vec::with_capacity(128);
        if write_compound(&packets, &mut out).is_ok() {
            let _ = self.rtcp.send_to(&out, to).await;
        }
    }

    fn end(mut self) {
        if let Some(p) = self.playing.take() {
            let _ = p.done.send(PlayOutcome::Stopped);
        }
        if let Some(r) = self.recorder.take() {
            r.finish();
        }
        if let Some(digit) = self.dtmf_out.take() {
            let _ = digit.done.send(());
        }
        debug!(stats = ?self.stats, "media session ended");
    }
}
