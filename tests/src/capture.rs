//! Packet captures on the loopback interface: `tcpdump` (Debian package
//! `tcpdump`) writes the UDP datagrams a filter selects to a pcap file
//! while a test runs; [`Capture::stop`] ends it and returns the datagrams.
//!
//! Capturing needs root (or `CAP_NET_RAW`): the end-to-end tests run as
//! root. tcpdump runs with `-Z root` so that it keeps writing to the
//! test's temporary directory.

use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pcap_file::pcap::PcapParser;
use pcap_file::{DataLink, TsResolution};

use crate::{KEEP_ENV, read_lossy, sanitize, tail};

/// Environment variable naming the tcpdump binary (default: `tcpdump` on
/// `PATH`).
pub const TCPDUMP_ENV: &str = "TCPDUMP";

/// How long tcpdump may take to start listening, and to exit once told.
const CAPTURE_GRACE: Duration = Duration::from_secs(10);

/// One UDP datagram over IPv4 seen on the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// When it was seen, since the Unix epoch.
    pub time: Duration,
    /// Its source.
    pub from: SocketAddrV4,
    /// Its destination.
    pub to: SocketAddrV4,
    /// The UDP payload (as much as the snapshot length kept).
    pub payload: Vec<u8>,
}

/// A running tcpdump on `lo` (see the module documentation); killed by pid
/// if dropped before [`Capture::stop`].
#[derive(Debug)]
pub struct Capture {
    child: Option<Child>,
    dir: PathBuf,
    file: PathBuf,
}

impl Capture {
    /// Starts tcpdump on `lo` with the BPF `filter` (e.g. `udp and port
    /// 6000`) and returns once it listens. Panics if tcpdump is missing or
    /// does not start listening within 10 s.
    pub fn start(label: &str, filter: &str) -> Capture {
        let dir = std::env::temp_dir().join(format!(
            "parrot-e2e-capture-{}-{}",
            sanitize(label),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let file = dir.join("capture.pcap");
        let stderr_path = dir.join("tcpdump.log");
        let stderr = File::create(&stderr_path).expect("create tcpdump.log");
        let binary = std::env::var(TCPDUMP_ENV).unwrap_or_else(|_| "tcpdump".to_owned());
        let child = Command::new(&binary)
            .args(["-i", "lo", "-n", "-U", "-s", "512", "-Z", "root", "-w"])
            .arg(&file)
            .arg(filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
                "tcpdump is not installed: the media load test needs the `{binary}` binary \
                 (Debian/Ubuntu package `tcpdump`; ./scripts/test.sh installs it; or set \
                 {TCPDUMP_ENV}=/path/to/tcpdump)"
            ),
            Err(e) => panic!("cannot run `{binary}`: {e}"),
        };
        let mut capture = Capture {
            child: Some(child),
            dir,
            file,
        };
        let deadline = Instant::now() + CAPTURE_GRACE;
        loop {
            if read_lossy(&stderr_path).contains("listening on") {
                return capture;
            }
            let exited = capture
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                panic!(
                    "tcpdump did not start listening on lo (exit: {exited:?}; capturing needs \
                     root or CAP_NET_RAW)\n{}",
                    tail(&read_lossy(&stderr_path), 2000)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops tcpdump (SIGTERM, which flushes the file; SIGKILL after 10 s)
    /// and returns every UDP/IPv4 datagram captured, in order. The file
    /// stays until the capture is dropped (and is kept if the test fails).
    pub fn stop(&mut self) -> Vec<Datagram> {
        if let Some(child) = self.child.take() {
            terminate(child);
        }
        let bytes = fs::read(&self.file)
            .unwrap_or_else(|e| panic!("no capture file {}: {e}", self.file.display()));
        parse_pcap(&bytes).unwrap_or_else(|e| {
            panic!(
                "unreadable capture {} ({e}); tcpdump said:\n{}",
                self.file.display(),
                tail(&read_lossy(&self.dir.join("tcpdump.log")), 2000)
            )
        })
    }

    /// The capture file (kept on failure, or with `PARROT_E2E_KEEP`).
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child);
        }
        if std::thread::panicking() || std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("[e2e] capture kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// SIGTERM to tcpdump (by pid), then SIGKILL if it has not exited in time.
fn terminate(mut child: Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) takes no pointers; `pid` is our child's.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + CAPTURE_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The UDP/IPv4 datagrams of a classic pcap file (microsecond or
/// nanosecond timestamps, either byte order; Ethernet, Linux cooked or raw
/// IP link types). Other packets are skipped.
pub fn parse_pcap(bytes: &[u8]) -> Result<Vec<Datagram>, String> {
    let (mut rest, parser) = PcapParser::new(bytes).map_err(|e| format!("not a pcap file: {e}"))?;
    let header = parser.header();
    let nanos = header.ts_resolution == TsResolution::NanoSecond;
    let mut out = Vec::new();
    // A record cut short by the kill ends the file like its end.
    while let Ok((next, packet)) = parser.next_raw_packet(rest) {
        rest = next;
        let frame = &packet.data[..];
        let time = Duration::from_secs(u64::from(packet.ts_sec))
            + if nanos {
                Duration::from_nanos(u64::from(packet.ts_frac))
            } else {
                Duration::from_micros(u64::from(packet.ts_frac))
            };
        let ip = match header.datalink {
            // Ethernet, IPv4 ethertype.
            DataLink::ETHERNET if frame.len() >= 14 && frame[12..14] == [0x08, 0x00] => {
                &frame[14..]
            }
            // Linux cooked: a 16-octet header.
            DataLink::LINUX_SLL if frame.len() >= 16 && frame[14..16] == [0x08, 0x00] => {
                &frame[16..]
            }
            DataLink::RAW => frame,
            _ => continue,
        };
        if let Some(datagram) = udp_of(ip, time) {
            out.push(datagram);
        }
    }
    Ok(out)
}

/// The UDP datagram in an IPv4 packet, if it is one (and not a fragment).
fn udp_of(ip: &[u8], time: Duration) -> Option<Datagram> {
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
        return None;
    }
    let header = usize::from(ip[0] & 0x0f) * 4;
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    if fragment != 0 || ip.len() < header + 8 {
        return None;
    }
    let address = |at: usize| Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]);
    let udp = &ip[header..];
    let port = |at: usize| u16::from_be_bytes([udp[at], udp[at + 1]]);
    let length = usize::from(port(4)).clamp(8, udp.len());
    Some(Datagram {
        time,
        from: SocketAddrV4::new(address(12), port(0)),
        to: SocketAddrV4::new(address(16), port(2)),
        payload: udp[8..length].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcap file (little-endian, microseconds, Ethernet) holding `frames`.
    fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&512u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        for (i, frame) in frames.iter().enumerate() {
            out.extend_from_slice(&(1_000 + i as u32).to_le_bytes());
            out.extend_from_slice(&250_000u32.to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(frame);
        }
        out
    }

    fn udp_frame(from: u16, to: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]);
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        f.extend_from_slice(&from.to_be_bytes());
        f.extend_from_slice(&to.to_be_bytes());
        f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn reads_udp_datagrams_and_skips_the_rest() {
        let mut tcp = udp_frame(1, 2, b"x");
        tcp[14 + 9] = 6;
        let bytes = pcap(&[
            udp_frame(6000, 16384, b"rtp"),
            tcp,
            udp_frame(16384, 6000, b""),
        ]);
        let got = parse_pcap(&bytes).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].from, "127.0.0.1:6000".parse().unwrap());
        assert_eq!(got[0].to, "127.0.0.1:16384".parse().unwrap());
        assert_eq!(got[0].payload, b"rtp");
        assert_eq!(got[0].time, Duration::from_micros(1_000_250_000));
        assert!(got[1].payload.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_pcap_file() {
        assert!(parse_pcap(b"not a capture file at all").is_err());
        assert!(parse_pcap(b"").is_err());
    }
}
