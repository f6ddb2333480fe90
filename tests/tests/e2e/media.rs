//! Real audio with a real phone: baresip (Debian `baresip-core` 1.0, its
//! `ausine` source at 440 Hz and `aufile` sink) calls the media examples.
//!
//! - `echo`: what baresip heard (its `sndfile` module's recording) is its
//!   own tone come back: the
//!   recording's pitch is 440 Hz and it is loud, where a silent or broken
//!   echo would leave silence.
//! - `ivr`: digits sent by baresip (`sndcode`, RFC 4733 telephone-events)
//!   reach the menu one per press and in order: `1` plays the information
//!   prompt, `0` says goodbye and the IVR hangs up.
//! - `voicemail`: the message saved holds baresip's tone.
//!
//! baresip is driven through `ctrl_tcp`; each step waits for its event or
//! the server's report, except the few seconds the voicemail caller
//! "speaks", which is the point of that test.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use examples::ivr::IvrOptions;
use examples::voicemail::VoicemailOptions;
use tests::baresip::{Ctrl, STEP, configure, port_pair, reap};
use tests::{LOOPBACK, Server, free_port};

/// Samples of channel 0 of a 16-bit PCM WAV file, and its sample rate.
fn wav_channel0(path: &Path) -> (Vec<i16>, u32) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 44 && &bytes[0..4] == b"RIFF",
        "not a WAV file"
    );
    let (mut at, mut channels, mut rate) = (12, 1usize, 8000u32);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = at + 8;
        if id == b"fmt " {
            channels = usize::from(u16::from_le_bytes([bytes[body + 2], bytes[body + 3]]));
            rate = u32::from_le_bytes(bytes[body + 4..body + 8].try_into().unwrap());
            let bits = u16::from_le_bytes([bytes[body + 14], bytes[body + 15]]);
            assert_eq!(bits, 16, "16-bit PCM expected");
        }
        if id == b"data" {
            let end = (body + size).min(bytes.len());
            let samples = bytes[body..end]
                .chunks_exact(2 * channels)
                .map(|f| i16::from_le_bytes([f[0], f[1]]))
                .collect();
            return (samples, rate);
        }
        at = body + size + (size & 1);
    }
    panic!("no data chunk in {}", path.display());
}

/// The pitch (Hz, from zero crossings) and RMS level of `samples`.
fn pitch_and_level(samples: &[i16], rate: u32) -> (f64, f64) {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let seconds = samples.len() as f64 / f64::from(rate);
    let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt();
    (crossings as f64 / 2.0 / seconds, rms)
}

/// A baresip configured in a fresh directory, its SIP and ctrl ports.
fn baresip_dir(name: &str) -> (std::path::PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("parrot-e2e-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let port = port_pair();
    let ctrl = free_port();
    configure(&dir, port, Some(ctrl));
    (dir, ctrl)
}

fn spawn_baresip(dir: &Path, seconds: u64) -> std::process::Child {
    Command::new("baresip")
        .arg("-f")
        .arg(dir)
        .arg("-t")
        .arg(seconds.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baresip (Debian package baresip-core) must be installed")
}

#[test]
fn baresip_hears_its_own_tone_from_echo() {
    let server = Server::start("echo", examples::echo::serve);
    let (dir, ctrl_port) = baresip_dir("echo");
    let child = spawn_baresip(&dir, 40);
    let mut ctrl = Ctrl::connect(SocketAddr::from((LOOPBACK, ctrl_port)));
    ctrl.command("dial", &format!("sip:echo@{}", server.addr()));
    ctrl.wait_for(&["\"event\":true", "CALL_ESTABLISHED"], "CALL_CLOSED");
    // Two seconds of the echoed tone into baresip's recording.
    std::thread::sleep(Duration::from_secs(3));
    ctrl.command("hangup", "");
    ctrl.wait_for(&["\"event\":true", "CALL_CLOSED"], "\"never\"");
    ctrl.command("quit", "");
    let log = reap(child);
    // What baresip heard, as its sndfile module wrote it.
    let heard = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("no -dec.wav from baresip's sndfile\n{log}"));
    let (samples, rate) = wav_channel0(&heard);
    // The last second and a half of the call.
    let tail = &samples[samples.len().saturating_sub(rate as usize * 3 / 2)..];
    let (pitch, level) = pitch_and_level(tail, rate);
    eprintln!(
        "[echo] baresip recorded {pitch:.1} Hz at RMS {level:.0} ({} samples at {rate} Hz)",
        samples.len()
    );
    assert!((pitch - 440.0).abs() < 15.0, "pitch {pitch} Hz\n{log}");
    assert!(
        level > 1000.0,
        "level {level}: the echo is too quiet\n{log}"
    );
    let _ = fs::remove_dir_all(&dir);
    server.stop();
}

#[test]
fn baresip_digits_drive_the_ivr_menu_in_order() {
    let (choices_tx, mut choices) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::start("ivr", move |listen, shutdown| {
        let options = IvrOptions {
            choices: Some(choices_tx.clone()),
            ..IvrOptions::default()
        };
        examples::ivr::serve(listen, options, shutdown)
    });
    let (dir, ctrl_port) = baresip_dir("ivr");
    let child = spawn_baresip(&dir, 40);
    let mut ctrl = Ctrl::connect(SocketAddr::from((LOOPBACK, ctrl_port)));
    ctrl.command("dial", &format!("sip:menu@{}", server.addr()));
    ctrl.wait_for(&["\"event\":true", "CALL_ESTABLISHED"], "CALL_CLOSED");
    let mut next_choice = || {
        let start = Instant::now();
        loop {
            if let Ok(c) = choices.try_recv() {
                return c;
            }
            assert!(start.elapsed() < STEP, "no menu choice in {STEP:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    ctrl.command("sndcode", "1");
    assert_eq!(next_choice(), '1');
    ctrl.command("sndcode", "0");
    assert_eq!(next_choice(), '0');
    // Goodbye, then the IVR hangs up.
    let closed = ctrl.wait_for(&["\"event\":true", "CALL_CLOSED"], "\"never\"");
    ctrl.command("quit", "");
    let log = reap(child);
    eprintln!("[ivr] {closed}");
    assert!(
        choices.try_recv().is_err(),
        "each press counted once\n{log}"
    );
    let _ = fs::remove_dir_all(&dir);
    server.stop();
}

#[test]
fn baresip_leaves_a_voicemail_holding_its_tone() {
    let messages = std::env::temp_dir().join(format!("parrot-e2e-vm-{}", std::process::id()));
    let _ = fs::remove_dir_all(&messages);
    let (saved_tx, mut saved) = tokio::sync::mpsc::unbounded_channel();
    let server = {
        let messages = messages.clone();
        Server::start("voicemail", move |listen, shutdown| {
            let options = VoicemailOptions {
                dir: messages.clone(),
                saved: Some(saved_tx.clone()),
                ..VoicemailOptions::default()
            };
            examples::voicemail::serve(listen, options, shutdown)
        })
    };
    let (dir, ctrl_port) = baresip_dir("voicemail");
    let child = spawn_baresip(&dir, 40);
    let mut ctrl = Ctrl::connect(SocketAddr::from((LOOPBACK, ctrl_port)));
    ctrl.command("dial", &format!("sip:mailbox@{}", server.addr()));
    ctrl.wait_for(&["\"event\":true", "CALL_ESTABLISHED"], "CALL_CLOSED");
    // The greeting and the beep (0.8 s), then about three seconds of
    // message.
    std::thread::sleep(Duration::from_secs(4));
    ctrl.command("hangup", "");
    ctrl.wait_for(&["\"event\":true", "CALL_CLOSED"], "\"never\"");
    ctrl.command("quit", "");
    let log = reap(child);
    let start = Instant::now();
    let path = loop {
        if let Ok(p) = saved.try_recv() {
            break p;
        }
        assert!(start.elapsed() < STEP, "no message saved\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (samples, rate) = wav_channel0(&path);
    assert_eq!(rate, 8000);
    let seconds = samples.len() as f64 / 8000.0;
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let (pitch, level) = pitch_and_level(middle, rate);
    eprintln!(
        "[voicemail] {}: {seconds:.2} s, {pitch:.1} Hz at RMS {level:.0}",
        path.display()
    );
    assert!(seconds > 2.0, "{seconds} s recorded\n{log}");
    assert!((pitch - 440.0).abs() < 15.0, "pitch {pitch} Hz\n{log}");
    assert!(level > 1000.0, "level {level}\n{log}");
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&messages);
    server.stop();
}
