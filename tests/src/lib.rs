//! Support code for the end-to-end tests: real [SIPp](https://sipp.sourceforge.net/)
//! and [Kamailio](https://www.kamailio.org/) against Parrot's example
//! servers on loopback.
//!
//! - [`free_port`] hands out loopback ports that are free for both UDP and
//!   TCP, never twice in one process, so tests run in parallel.
//! - [`Server`] runs an example server (`examples::answer::serve`, …) on its
//!   own thread and tokio runtime, waits until it answers an `OPTIONS`, and
//!   shuts it down through the `shutdown` future it was given;
//!   [`Server::start_tls`] does the same for a server listening for SIP
//!   over TLS, probing it over TLS.
//! - [`Sipp`] runs the `sipp` binary as a child process, bounded in calls and
//!   time, with its statistics, screen, error and message logs in a
//!   temporary directory, and returns the parsed final [`Stats`].
//! - [`TestCa`] makes a certificate authority and certificates at test time
//!   (rcgen) and the TLS settings that present or trust them;
//!   [`tls_client_transport`] is Parrot's transport set up to send over
//!   TLS.
//! - [`Kamailio`] runs a real Kamailio with a generated configuration,
//!   listening for UDP and TLS (see [`kamailio`]).
//!
//! A missing `sipp` or `kamailio` binary (or Kamailio's `tls` module) is a
//! test failure, not a skip: install the `sip-tester`, `kamailio` and
//! `kamailio-tls-modules` packages (`./scripts/test.sh` does it).
#![warn(missing_docs)]

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parrot::message::{Message, Request, parse_datagram};
use parrot::transport::{
    Identity, Incoming, ListenerConfig, Protocol, SendOptions, Target, TlsConfig, TransportConfig,
    TransportError, TransportLayer,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::sync::oneshot;

pub mod baresip;
pub mod capture;
pub mod kamailio;
pub mod kamailio_edge;
pub mod redis;
mod sipp;

pub use kamailio::Kamailio;
pub use sipp::{Sipp, SippRun, Stats, Transport, scenario_path};

/// The only interface the tests use.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// How long a freshly started server may take to answer its first `OPTIONS`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Server::stop`] waits for `serve` to return. A graceful
/// shutdown may legitimately take longer (it lets live transactions run
/// out, up to 32 s); the server is then left to finish in the background.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// Extra time SIPp gets beyond its own `-timeout` before the harness kills it.
const KILL_GRACE: Duration = Duration::from_secs(15);

/// Environment variable naming the SIPp binary (default: `sipp` on `PATH`).
pub const SIPP_ENV: &str = "SIPP";

/// Environment variable that keeps every SIPp log directory, even on success.
pub const KEEP_ENV: &str = "PARROT_E2E_KEEP";

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback port that was free for both UDP and TCP a moment ago and that
/// this process has not handed out before.
///
/// The sockets are closed before returning, so another process may still
/// take the port; [`Server::start`] and [`Sipp::run`] retry with a new port
/// when binding fails.
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let udp = UdpSocket::bind((LOOPBACK, 0)).expect("cannot bind a UDP socket on 127.0.0.1");
        let port = udp.local_addr().expect("UDP socket address").port();
        let Ok(tcp) = TcpListener::bind((LOOPBACK, port)) else {
            continue;
        };
        if HANDED_OUT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port)
        {
            drop(tcp);
            drop(udp);
            return port;
        }
    }
    panic!("found no loopback port free for both UDP and TCP in 200 attempts");
}

/// The `shutdown` future handed to an example server: completes when the
/// [`Server`] is stopped or dropped.
#[derive(Debug)]
pub struct Shutdown(oneshot::Receiver<()>);

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// An example server running in-process on `127.0.0.1:<port>` (UDP and TCP).
///
/// It runs on its own thread with its own multi-threaded tokio runtime, so
/// tests stay plain `#[test]` functions that block on SIPp.
#[derive(Debug)]
pub struct Server {
    name: String,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Server {
    /// Starts `serve(listen, shutdown)` on a free loopback port and waits
    /// until it answers an `OPTIONS` over UDP and accepts a TCP connection.
    ///
    /// `serve` is called again on a new port if the server stops early (for
    /// example because another process took the port) or never answers.
    /// Panics with the reason after five attempts.
    pub fn start<F, Fut, E>(name: &str, serve: F) -> Server
    where
        F: Fn(SocketAddr, Shutdown) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Debug,
    {
        Server::start_with(name, "UDP+TCP", serve, |server, timeout| {
            server.wait_until_answering(timeout)
        })
    }

    /// Starts `serve(listen, shutdown)`, a server listening for SIP over
    /// TLS only at `listen`, on a free loopback port, and waits until it
    /// answers an `OPTIONS` sent over TLS to `sip:127.0.0.1:<port>`
    /// by Parrot's own transport configured with `client` (which must trust
    /// the server's certificate for 127.0.0.1, e.g.
    /// [`TestCa::client_tls`]).
    ///
    /// Retries and panics as [`start`](Self::start) does.
    pub fn start_tls<F, Fut, E>(name: &str, client: TlsConfig, serve: F) -> Server
    where
        F: Fn(SocketAddr, Shutdown) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Debug,
    {
        Server::start_with(name, "TLS", serve, move |server, timeout| {
            server.wait_until_answering_tls(&client, timeout)
        })
    }

    /// Runs `serve` on a free port on its own thread until `ready` says it
    /// answers; five attempts.
    fn start_with<F, Fut, E>(
        name: &str,
        transports: &str,
        serve: F,
        ready: impl Fn(&mut Server, Duration) -> Result<(), String>,
    ) -> Server
    where
        F: Fn(SocketAddr, Shutdown) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Debug,
    {
        let mut failures = Vec::new();
        for attempt in 1..=5 {
            let addr = SocketAddr::from((LOOPBACK, free_port()));
            let (tx, rx) = oneshot::channel();
            let serve = serve.clone();
            let thread = std::thread::Builder::new()
                .name(format!("{name}@{}", addr.port()))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .thread_name("example-server")
                        .enable_all()
                        .build()
                        .map_err(|e| format!("cannot build a tokio runtime: {e}"))?;
                    let result = runtime.block_on(async move { serve(addr, Shutdown(rx)).await });
                    runtime.shutdown_timeout(Duration::from_secs(1));
                    result.map_err(|e| format!("{e:?}"))
                })
                .expect("cannot spawn a server thread");
            let mut server = Server {
                name: name.to_owned(),
                addr,
                shutdown: Some(tx),
                thread: Some(thread),
            };
            match ready(&mut server, READY_TIMEOUT) {
                Ok(()) => {
                    eprintln!("[e2e] {name} listening on {addr} ({transports}), attempt {attempt}");
                    return server;
                }
                Err(reason) => {
                    failures.push(format!("attempt {attempt} on {addr}: {reason}"));
                    server.shutdown_and_join(Duration::from_secs(2));
                }
            }
        }
        panic!(
            "example server `{name}` never came up:\n  {}",
            failures.join("\n  ")
        );
    }

    /// The address the server listens on (UDP and TCP; TLS for a server
    /// started with [`start_tls`](Self::start_tls)).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Asserts that the server is still running (it did not stop or fail
    /// during the test), then shuts it down. If `serve` returns within 0.5 s
    /// it must return `Ok(())`; a longer graceful drain is left to finish
    /// in the background.
    pub fn stop(mut self) {
        let name = self.name.clone();
        if let Some(reason) = self.finished_early() {
            panic!("example server `{name}` stopped during the test: {reason}");
        }
        match self.shutdown_and_join(STOP_GRACE) {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => panic!("example server `{name}` returned an error: {e}"),
            Some(Err(_)) => panic!("example server `{name}` panicked"),
            None => eprintln!(
                "[e2e] {name} on {} still draining {STOP_GRACE:?} after its shutdown signal; \
                 leaving it to finish in the background",
                self.addr
            ),
        }
    }

    /// Sends the shutdown signal and waits up to `timeout` for the thread.
    /// `None` if it is still running (it is then left behind, detached).
    fn shutdown_and_join(
        &mut self,
        timeout: Duration,
    ) -> Option<std::thread::Result<Result<(), String>>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let thread = self.thread.take()?;
        let deadline = Instant::now() + timeout;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(thread.join())
    }

    fn finished_early(&mut self) -> Option<String> {
        if !self.thread.as_ref().is_some_and(|t| t.is_finished()) {
            return None;
        }
        let outcome = self.thread.take().map(JoinHandle::join);
        Some(match outcome {
            Some(Ok(Ok(()))) => "serve returned Ok(()) before the shutdown signal".to_owned(),
            Some(Ok(Err(e))) => format!("serve returned an error: {e}"),
            _ => "the server thread panicked".to_owned(),
        })
    }

    /// Sends `OPTIONS` over UDP until any SIP response comes back, then
    /// checks that TCP connections are accepted.
    fn wait_until_answering(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        await_udp_answer(self.addr, deadline, timeout, b"SIP/2.0 ", || {
            self.finished_early()
        })?;
        // UDP answers; TCP must accept too.
        loop {
            match TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("UDP answers but TCP connect fails: {e}"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
            if let Some(reason) = self.finished_early() {
                return Err(reason);
            }
        }
    }

    /// Sends `OPTIONS` over TLS, with Parrot's transport configured with
    /// `client`, until a SIP response comes back over TLS.
    fn wait_until_answering_tls(
        &mut self,
        client: &TlsConfig,
        timeout: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build a tokio runtime: {e}"))?;
        runtime.block_on(async {
            let (transport, mut incoming) = tls_client_transport(client.clone())
                .await
                .map_err(|e| format!("cannot bind the probing transport: {e}"))?;
            let local = transport
                .local_addr(Protocol::Udp)
                .ok_or("the probing transport has no UDP listener")?;
            let target = Target::new(Protocol::Tls, self.addr);
            let mut probe = 0u32;
            let mut last_error = String::from("no response");
            let outcome = loop {
                if let Some(reason) = self.finished_early() {
                    break Err(reason);
                }
                if Instant::now() >= deadline {
                    break Err(format!(
                        "no SIP response to OPTIONS over TLS within {timeout:?} ({last_error})"
                    ));
                }
                probe += 1;
                let mut options = parse_request(&readiness_options("TLS", self.addr, local, probe));
                if let Err(e) = transport
                    .send_request(&mut options, target, SendOptions::default())
                    .await
                {
                    last_error = format!("send over TLS: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                match tokio::time::timeout(Duration::from_millis(500), incoming.recv()).await {
                    Ok(Some(inc))
                        if inc.protocol == Protocol::Tls
                            && matches!(inc.message, Message::Response(_)) =>
                    {
                        break Ok(());
                    }
                    Ok(Some(inc)) => {
                        last_error =
                            format!("a {} message that is not a SIP response", inc.protocol)
                    }
                    Ok(None) => break Err("the probing transport stopped".to_owned()),
                    Err(_) => last_error = "no response within 500 ms".to_owned(),
                }
            };
            transport.shutdown();
            outcome
        })
    }
}

/// A transport for sending over TLS as configured by `tls` (e.g.
/// [`TestCa::client_tls`]), with one UDP listener on an OS-chosen loopback
/// port (a transport needs a listener; its port makes a unique Via
/// sent-by), and the channel of what it receives, which must be kept for
/// its connections to live.
pub async fn tls_client_transport(
    tls: TlsConfig,
) -> Result<(TransportLayer, tokio::sync::mpsc::Receiver<Box<Incoming>>), TransportError> {
    let config = TransportConfig {
        listeners: vec![ListenerConfig::udp(SocketAddr::from((LOOPBACK, 0)))],
        tls: Some(tls),
        ..TransportConfig::default()
    };
    TransportLayer::bind(config).await
}

/// Parses the text of a SIP request; panics if it is not one.
pub fn parse_request(text: &str) -> Request {
    match parse_datagram(text.to_owned().into()) {
        Ok(Message::Request(request)) => request,
        other => panic!("not a SIP request ({other:?}):\n{text}"),
    }
}

/// A certificate authority made at test time with rcgen, which issues the
/// certificates of the servers under test (Parrot's TLS listener,
/// Kamailio's) and makes the TLS settings of clients that trust it.
pub struct TestCa {
    name: String,
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A certificate issued by a [`TestCa`] and its private key, as PEM text.
#[derive(Clone, Debug)]
pub struct IssuedCert {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// Its private key, PKCS#8 ECDSA P-256 (`-----BEGIN PRIVATE KEY-----`).
    pub key_pem: String,
}

impl IssuedCert {
    /// The certificate and key as a Parrot [`Identity`].
    pub fn identity(&self) -> Identity {
        Identity::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
            .expect("rcgen's certificate and key are valid PEM")
    }
}

impl TestCa {
    /// A new self-signed certificate authority with common name `name`.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate the CA's key");
        let mut params =
            CertificateParams::new(Vec::<String>::new()).expect("certificate parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params
            .self_signed(&key)
            .expect("self-sign the CA certificate")
            .pem();
        TestCa {
            name: name.to_owned(),
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// The authority's certificate as PEM text (a CA list for a client).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names`: each is a DNS name, or an IP
    /// address (`"127.0.0.1"`) that becomes an IP address entry.
    pub fn issue(&self, names: &[&str]) -> IssuedCert {
        let key = KeyPair::generate().expect("generate a key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("certificate parameters");
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign a certificate");
        IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// TLS settings for outgoing connections that trust this authority
    /// only.
    pub fn client_tls(&self) -> TlsConfig {
        TlsConfig::client()
            .and_then(|tls| tls.with_roots_pem(self.pem.as_bytes(), None))
            .expect("TLS client settings")
    }

    /// TLS settings for a server presenting a certificate from this
    /// authority for `names`, whose own outgoing TLS connections trust
    /// this authority only.
    pub fn server_tls(&self, names: &[&str]) -> TlsConfig {
        TlsConfig::server(self.issue(names).identity())
            .and_then(|tls| tls.with_roots_pem(self.pem.as_bytes(), None))
            .expect("TLS server settings")
    }
}

impl Drop for Server {
    /// Signals shutdown without waiting (the thread is detached).
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An `OPTIONS` to `sip:<server>` whose top Via says `transport` (`UDP`,
/// `TLS`) with `local` as its sent-by: what the harness sends to see
/// whether a server (Parrot or Kamailio) answers yet. No user part: an
/// OPTIONS for the server itself, which a proxy answers rather than
/// forwards (RFC 3261 §11).
fn readiness_options(transport: &str, server: SocketAddr, local: SocketAddr, probe: u32) -> String {
    format!(
        "OPTIONS sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK-e2e-ready-{port}-{probe};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:harness@{local}>;tag=ready{probe}\r\n\
         To: <sip:{server}>\r\n\
         Call-ID: e2e-ready-{port}-{probe}@{local}\r\n\
         CSeq: {probe} OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        port = local.port()
    )
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

fn tail_of_file(path: &Path, max: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return "(none)".to_owned();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        let _ = file.seek(SeekFrom::Start(len - max));
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Sends `OPTIONS` over UDP to `addr` until an answer starting with
/// `accept` comes back; an error at `deadline` (`timeout` after the start,
/// for the message) or as soon as `gone` says the server has stopped.
pub(crate) fn await_udp_answer(
    addr: SocketAddr,
    deadline: Instant,
    timeout: Duration,
    accept: &[u8],
    mut gone: impl FnMut() -> Option<String>,
) -> Result<(), String> {
    let socket = UdpSocket::bind((LOOPBACK, 0)).map_err(|e| format!("bind: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65_536];
    let mut probe = 0u32;
    let mut last_error = String::from("no response");
    loop {
        if let Some(reason) = gone() {
            return Err(reason);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no SIP response to OPTIONS over UDP within {timeout:?} ({last_error})"
            ));
        }
        probe += 1;
        let options = readiness_options("UDP", addr, local, probe);
        if let Err(e) = socket.send_to(options.as_bytes(), addr) {
            last_error = format!("send: {e}");
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == addr && buf[..n].starts_with(accept) => return Ok(()),
            Ok((n, _)) => {
                last_error = format!(
                    "unexpected answer: {:?}",
                    String::from_utf8_lossy(&buf[..n.min(200)])
                );
            }
            Err(e) => last_error = format!("recv: {e}"),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports: BTreeSet<u16> = (0..20).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 20);
    }
}
