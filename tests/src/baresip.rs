//! What the baresip tests share: free ports for a baresip (it listens for
//! TLS on its SIP port plus one), and its configuration without a sound
//! card (a sine source, a file sink, G.711 only, one account without
//! registration).

use crate::free_port;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// How long any one step of a baresip conversation may take before the
/// test fails.
pub const STEP: Duration = Duration::from_secs(15);

/// A port whose successor is free too: baresip listens for TLS on its SIP
/// port plus one.
pub fn port_pair() -> u16 {
    for _ in 0..50 {
        let port = free_port();
        let next = port + 1;
        if UdpSocket::bind(("127.0.0.1", next)).is_ok()
            && TcpListener::bind(("127.0.0.1", next)).is_ok()
        {
            return port;
        }
    }
    panic!("no pair of free loopback ports");
}

/// Writes baresip's `config`, `accounts` and `contacts` into `dir`: SIP
/// on `127.0.0.1:port`, and the `ctrl_tcp` interface on `ctrl` when
/// given. The `sndfile` module writes each call's audio into `dir`:
/// `dump-…-dec.wav` what baresip heard, `dump-…-enc.wav` what it sent.
pub fn configure(dir: &Path, port: u16, ctrl: Option<u16>) {
    let ctrl = ctrl
        .map(|c| format!("module\t\t\tctrl_tcp.so\nctrl_tcp_listen\t\t127.0.0.1:{c}\n"))
        .unwrap_or_default();
    let config = format!(
        "poll_method\t\tpoll\n\
         sip_listen\t\t127.0.0.1:{port}\n\
         audio_player\t\taufile,{out}\n\
         audio_source\t\tausine,440\n\
         audio_alert\t\taufile,{out}\n\
         ausrc_srate\t\t48000\n\
         auplay_srate\t\t48000\n\
         ausrc_channels\t\t2\n\
         auplay_channels\t\t2\n\
         rtp_ports\t\t{rtp}-{rtp_end}\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\tausine.so\n\
         module\t\t\taufile.so\n\
         module\t\t\tmenu.so\n\
         module\t\t\taccount.so\n\
         module\t\t\tsndfile.so\n\
         snd_path\t\t{dir}\n\
         {ctrl}",
        out = dir.join("out.wav").display(),
        dir = dir.display(),
        rtp = port + 2,
        rtp_end = port + 20,
    );
    fs::write(dir.join("config"), config).unwrap();
    fs::write(
        dir.join("accounts"),
        format!("<sip:alice@127.0.0.1:{port}>;regint=0\n"),
    )
    .unwrap();
    fs::write(dir.join("contacts"), "").unwrap();
}

/// baresip's `ctrl_tcp` connection: netstrings of JSON both ways.
pub struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Every message read, for the failure messages.
    pub seen: Vec<String>,
}

impl Ctrl {
    /// Connects to `addr`, retrying until baresip listens.
    pub fn connect(addr: SocketAddr) -> Ctrl {
        let start = Instant::now();
        loop {
            match TcpStream::connect(addr) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                    return Ctrl {
                        stream,
                        buf: Vec::new(),
                        seen: Vec::new(),
                    };
                }
                Err(e) if start.elapsed() > STEP => panic!("baresip's ctrl_tcp on {addr}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Sends the menu command `command` with `params`.
    pub fn command(&mut self, command: &str, params: &str) {
        let json = format!(r#"{{"command":"{command}","params":"{params}","token":"{command}"}}"#);
        let framed = format!("{}:{json},", json.len());
        self.stream.write_all(framed.as_bytes()).unwrap();
    }

    /// The next complete netstring, if one arrives within the read
    /// timeout.
    pub fn next_message(&mut self) -> Option<String> {
        loop {
            if let Some(colon) = self.buf.iter().position(|&b| b == b':')
                && let Ok(len) = std::str::from_utf8(&self.buf[..colon])
                    .unwrap_or_default()
                    .parse::<usize>()
                && self.buf.len() > colon + len
            {
                let msg =
                    String::from_utf8_lossy(&self.buf[colon + 1..colon + 1 + len]).into_owned();
                self.buf.drain(..colon + len + 2);
                self.seen.push(msg.clone());
                return Some(msg);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Waits for a message containing every one of `parts`; fails the test
    /// after [`STEP`], or at once on a message containing `fatal`.
    pub fn wait_for(&mut self, parts: &[&str], fatal: &str) -> String {
        let start = Instant::now();
        while start.elapsed() < STEP {
            if let Some(msg) = self.next_message() {
                assert!(
                    !msg.contains(fatal),
                    "baresip reported {msg}\nafter: {:#?}",
                    self.seen
                );
                if parts.iter().all(|p| msg.contains(p)) {
                    return msg;
                }
            }
        }
        panic!(
            "no {parts:?} from baresip in {STEP:?}; saw {:#?}",
            self.seen
        );
    }
}

/// Kills baresip by its pid if it is still running, and reaps it.
pub fn reap(mut child: Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
