//! A real DNS server for the tests: dnsmasq (Debian package
//! `dnsmasq-base`, which scripts/test.sh installs) on 127.0.0.1 and a free
//! high port, answering only from the records a test gives, killed by pid
//! when dropped.

use parrot::locate::HickoryResolver;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A dnsmasq process, killed (by its pid) when dropped.
pub struct Dnsmasq {
    child: Child,
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The dnsmasq binary: Debian puts it in /usr/sbin, which may not be on
/// PATH.
fn dnsmasq_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("dnsmasq"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "dnsmasq is not installed: these tests need a real DNS server. \
                 Install the Debian package `dnsmasq-base` (apt-get install -y dnsmasq-base; \
                 scripts/test.sh does it)"
            )
        })
}

/// A port free for both UDP and TCP on 127.0.0.1 (at the time of asking).
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

impl Dnsmasq {
    /// Starts dnsmasq serving `records` (dnsmasq options such as
    /// `--srv-host=...`) and waits until it accepts connections; retries
    /// on another port if the chosen one was taken in the meantime.
    pub fn start<S: AsRef<str>>(records: &[S]) -> Dnsmasq {
        let binary = dnsmasq_binary();
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!(
                "parrot-dnsmasq-{}-{port}-{attempt}.log",
                std::process::id()
            ));
            let child = Command::new(&binary)
                .args([
                    "--no-daemon",
                    "--no-resolv",
                    "--no-hosts",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                    &format!("--port={port}"),
                    "--conf-file=/dev/null",
                    "--pid-file=",
                    // Answer only from the records below: NXDOMAIN or
                    // an empty answer for the rest of .test.
                    "--local=/test/",
                    "--local-ttl=60",
                ])
                .args(records.iter().map(AsRef::as_ref))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            let mut server = Dnsmasq {
                child,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                log,
            };
            if server.ready() {
                return server;
            }
            last_log = std::fs::read_to_string(&server.log).unwrap_or_default();
        }
        panic!("dnsmasq did not start:\n{last_log}");
    }

    /// Waits up to 5 s for dnsmasq to accept a TCP connection; false if
    /// it exited.
    fn ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A resolver asking this server.
    pub fn resolver(&self) -> HickoryResolver {
        HickoryResolver::with_nameserver(self.addr)
    }

    /// What dnsmasq logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(Path::new(&self.log)).unwrap_or_default()
    }
}
