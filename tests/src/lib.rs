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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
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

pub mod kamailio;
pub mod kamailio_edge;
pub mod redis;

pub use kamailio::Kamailio;

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
) -> Result<(TransportLayer, tokio::sync::mpsc::Receiver<Incoming>), TransportError> {
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

/// The transport SIPp uses: one UDP socket (`-t u1`) or one TCP connection
/// (`-t t1`) for all calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `-t u1`
    Udp,
    /// `-t t1`
    Tcp,
}

impl Transport {
    fn sipp_mode(self) -> &'static str {
        match self {
            Transport::Udp => "u1",
            Transport::Tcp => "t1",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        })
    }
}

#[derive(Clone, Debug)]
enum Scenario {
    Builtin(String),
    File(PathBuf),
}

/// Path of a scenario in `tests/scenarios/`.
pub fn scenario_path(file: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    assert!(path.is_file(), "no SIPp scenario {}", path.display());
    path
}

/// One bounded SIPp run against `remote`, configured builder-style.
#[derive(Clone, Debug)]
pub struct Sipp {
    label: String,
    scenario: Scenario,
    remote: SocketAddr,
    transport: Transport,
    calls: u32,
    rate: u32,
    limit: Option<u32>,
    timeout: Duration,
    recv_timeout: Duration,
    retransmissions: bool,
    trace_messages: Option<bool>,
    keys: Vec<(String, String)>,
    extra: Vec<String>,
    stop: Option<Arc<AtomicBool>>,
}

impl Sipp {
    /// SIPp's built-in scenario `name` (`-sn uac`, …).
    pub fn builtin(name: &str, remote: SocketAddr) -> Sipp {
        Sipp::new(Scenario::Builtin(name.to_owned()), name, remote)
    }

    /// The scenario file `tests/scenarios/<file>` (`-sf`).
    pub fn scenario(file: &str, remote: SocketAddr) -> Sipp {
        let label = file.trim_end_matches(".xml");
        Sipp::new(Scenario::File(scenario_path(file)), label, remote)
    }

    fn new(scenario: Scenario, label: &str, remote: SocketAddr) -> Sipp {
        Sipp {
            label: label.to_owned(),
            scenario,
            remote,
            transport: Transport::Udp,
            calls: 1,
            rate: 10,
            limit: None,
            timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(10),
            retransmissions: true,
            trace_messages: None,
            keys: Vec::new(),
            extra: Vec::new(),
            stop: None,
        }
    }

    /// Name used in the printed counts and the log directory.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Transport (default UDP).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Number of calls to run (`-m`, default 1).
    pub fn calls(mut self, calls: u32) -> Self {
        self.calls = calls;
        self
    }

    /// New calls per second (`-r`, default 10).
    pub fn rate(mut self, rate: u32) -> Self {
        self.rate = rate;
        self
    }

    /// Maximum simultaneous calls (`-l`).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Global time bound (`-timeout` with `-timeout_error`, default 30 s).
    /// The harness kills SIPp 15 s after it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Default wait for an expected message (`-recv_timeout`, default 10 s);
    /// a `timeout` attribute in the scenario overrides it.
    pub fn recv_timeout(mut self, timeout: Duration) -> Self {
        self.recv_timeout = timeout;
        self
    }

    /// Disables SIPp's UDP retransmissions and its retransmission detection
    /// (`-nr`), so that identical responses reach the scenario.
    pub fn no_retransmissions(mut self) -> Self {
        self.retransmissions = false;
        self
    }

    /// Logs every message (`-trace_msg`); default: on for at most 50 calls.
    pub fn trace_messages(mut self, on: bool) -> Self {
        self.trace_messages = Some(on);
        self
    }

    /// Sets the scenario keyword `[name]` (`-key name value`).
    pub fn key(mut self, name: &str, value: impl Into<String>) -> Self {
        self.keys.push((name.to_owned(), value.into()));
        self
    }

    /// Ends the run once `stop` is set: SIPp gets `SIGUSR1` (its graceful
    /// quit, as pressing `q`: no new calls, the open ones finish or time
    /// out). For a callee whose number of calls is not known beforehand.
    pub fn stop_on(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Appends a raw SIPp argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra.push(arg.into());
        self
    }

    /// Runs SIPp to completion (or until the harness kills it, `timeout` +
    /// 15 s), prints its counts and returns them.
    ///
    /// Retries with another local port if SIPp cannot bind it. Panics if
    /// SIPp is not installed, cannot start, or leaves no statistics.
    pub fn run(&self) -> SippRun {
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let run_id = RUNS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "parrot-e2e-{}-{}-{}",
            sanitize(&self.label),
            std::process::id(),
            run_id
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));

        let mut attempt = 0;
        loop {
            attempt += 1;
            let local_port = free_port();
            let started = Instant::now();
            let status = self.run_once(&dir, local_port);
            let elapsed = started.elapsed();
            let stderr = read_lossy(&dir.join("stderr.log"));
            let bind_failed = status.code() == Some(254)
                || (status.code() == Some(255) && stderr.contains("bind"));
            if bind_failed && attempt < 3 {
                eprintln!(
                    "[e2e] {}: SIPp could not bind local port {local_port}, retrying\n{stderr}",
                    self.label
                );
                continue;
            }
            let stats = match Stats::read(&dir.join("stat.csv")) {
                Ok(stats) => stats,
                Err(e) => panic!(
                    "SIPp run `{}` left no statistics ({e}); exit status {status}\n\
                     command: {}\nstderr:\n{}\nlogs kept in {}",
                    self.label,
                    self.command_line(&dir, local_port),
                    tail(&stderr, 4000),
                    dir.display()
                ),
            };
            let command = self.command_line(&dir, local_port);
            let run = SippRun {
                label: format!("{} ({})", self.label, self.transport),
                calls: self.calls,
                exit_code: status.code(),
                elapsed,
                stats,
                dir,
                command,
            };
            eprintln!("{}", run.summary());
            return run;
        }
    }

    fn args(&self, dir: &Path, local_port: u16) -> Vec<String> {
        let mut args: Vec<String> = vec![self.remote.to_string()];
        match &self.scenario {
            Scenario::Builtin(name) => args.extend(["-sn".into(), name.clone()]),
            Scenario::File(path) => args.extend(["-sf".into(), path.display().to_string()]),
        }
        let path = |name: &str| dir.join(name).display().to_string();
        args.extend(
            [
                "-t",
                self.transport.sipp_mode(),
                "-i",
                "127.0.0.1",
                "-p",
                &local_port.to_string(),
                "-m",
                &self.calls.to_string(),
                "-r",
                &self.rate.to_string(),
                "-rp",
                "1000",
                "-timeout",
                &format!("{}s", self.timeout.as_secs().max(1)),
                "-timeout_error",
                "-recv_timeout",
                &self.recv_timeout.as_millis().max(1).to_string(),
                "-nostdin",
                "-trace_stat",
                "-stf",
                &path("stat.csv"),
                "-fd",
                "1",
                "-trace_screen",
                "-screen_file",
                &path("screen.log"),
                "-trace_err",
                "-error_file",
                &path("errors.log"),
            ]
            .map(String::from),
        );
        if self.trace_messages.unwrap_or(self.calls <= 50) {
            args.extend([
                "-trace_msg".into(),
                "-message_file".into(),
                path("messages.log"),
            ]);
        }
        if let Some(limit) = self.limit {
            args.extend(["-l".into(), limit.to_string()]);
        }
        if !self.retransmissions {
            args.push("-nr".into());
        }
        for (name, value) in &self.keys {
            args.extend(["-key".into(), name.clone(), value.clone()]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    fn command_line(&self, dir: &Path, local_port: u16) -> String {
        let mut line = sipp_binary();
        for arg in self.args(dir, local_port) {
            line.push(' ');
            line.push_str(&arg);
        }
        line
    }

    fn run_once(&self, dir: &Path, local_port: u16) -> ExitStatus {
        for stale in ["stat.csv", "screen.log", "errors.log", "messages.log"] {
            let _ = fs::remove_file(dir.join(stale));
        }
        let stdout = File::create(dir.join("stdout.log")).expect("create stdout.log");
        let stderr = File::create(dir.join("stderr.log")).expect("create stderr.log");
        let binary = sipp_binary();
        let child = Command::new(&binary)
            .args(self.args(dir, local_port))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
                "SIPp is not installed: the end-to-end tests need the `{binary}` binary \
                 (Debian/Ubuntu package `sip-tester`: `apt-get install -y sip-tester`; \
                 ./scripts/test.sh installs it; or set {SIPP_ENV}=/path/to/sipp)"
            ),
            Err(e) => panic!("cannot run `{binary}`: {e}"),
        };
        let mut child = ChildGuard(child);
        let deadline = Instant::now() + self.timeout + KILL_GRACE;
        let mut stopped = false;
        loop {
            if !stopped && self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                stopped = true;
                if let Ok(pid) = libc::pid_t::try_from(child.0.id()) {
                    // SAFETY: kill(2) takes no pointers; `pid` is SIPp's.
                    unsafe {
                        libc::kill(pid, libc::SIGUSR1);
                    }
                }
            }
            match child.0.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.0.kill();
                    let _ = child.0.wait();
                    panic!(
                        "SIPp run `{}` still running {:?} after its own timeout; killed. \
                         Logs kept in {}\nscreen:\n{}",
                        self.label,
                        KILL_GRACE,
                        dir.display(),
                        tail(&read_lossy(&dir.join("screen.log")), 4000)
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("waiting for SIPp: {e}"),
            }
        }
    }
}

/// Kills the child process if it is still running when dropped (a failing
/// assertion or a harness timeout never leaves SIPp behind).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn sipp_binary() -> String {
    std::env::var(SIPP_ENV).unwrap_or_else(|_| "sipp".to_owned())
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// SIPp's final cumulative counters, from the last line of its `-trace_stat`
/// CSV file (the `(C)` columns).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// `TotalCallCreated`
    pub created: u64,
    /// `SuccessfulCall(C)`
    pub successful: u64,
    /// `FailedCall(C)`
    pub failed: u64,
    /// `Retransmissions(C)`: messages SIPp itself retransmitted.
    pub retransmissions: u64,
    /// `FailedUnexpectedMessage(C)`: calls failed by an unexpected message.
    pub unexpected: u64,
    /// `FailedTimeoutOnRecv(C)`
    pub recv_timeouts: u64,
    /// `FailedMaxUDPRetrans(C)`
    pub max_udp_retrans: u64,
    /// `FailedRegexpDoesntMatch(C)` + `FailedRegexpShouldntMatch(C)` +
    /// `FailedRegexpHdrNotFound(C)`
    pub regexp_failures: u64,
    /// `OutOfCallMsgs(C)`: messages matching no call.
    pub out_of_call: u64,
    /// `DeadCallMsgs(C)`: messages for calls already finished.
    pub dead_call: u64,
    /// Every column of the final line, by name.
    pub raw: BTreeMap<String, String>,
}

impl Stats {
    /// Parses a SIPp statistics CSV (`;`-separated, header line first).
    pub fn read(path: &Path) -> Result<Stats, String> {
        let text =
            fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Stats::parse(&text)
    }

    /// Parses the text of a SIPp statistics CSV.
    pub fn parse(text: &str) -> Result<Stats, String> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or("empty statistics file")?;
        let last = lines
            .next_back()
            .ok_or("statistics file has no data line")?;
        let raw: BTreeMap<String, String> = header
            .split(';')
            .zip(last.split(';'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let count = |name: &str| -> Result<u64, String> {
            let value = raw
                .get(name)
                .ok_or_else(|| format!("statistics have no column {name}"))?;
            value
                .parse()
                .map_err(|_| format!("column {name} is not a count: {value:?}"))
        };
        Ok(Stats {
            created: count("TotalCallCreated")?,
            successful: count("SuccessfulCall(C)")?,
            failed: count("FailedCall(C)")?,
            retransmissions: count("Retransmissions(C)")?,
            unexpected: count("FailedUnexpectedMessage(C)")?,
            recv_timeouts: count("FailedTimeoutOnRecv(C)")?,
            max_udp_retrans: count("FailedMaxUDPRetrans(C)")?,
            regexp_failures: count("FailedRegexpDoesntMatch(C)")?
                + count("FailedRegexpShouldntMatch(C)")?
                + count("FailedRegexpHdrNotFound(C)")?,
            out_of_call: count("OutOfCallMsgs(C)")?,
            dead_call: count("DeadCallMsgs(C)")?,
            raw,
        })
    }
}

/// The outcome of one SIPp run. Its log directory is removed when dropped,
/// unless the thread is panicking (a failed assertion) or
/// `PARROT_E2E_KEEP` is set.
#[derive(Debug)]
pub struct SippRun {
    /// Scenario label and transport.
    pub label: String,
    /// Calls requested (`-m`).
    pub calls: u32,
    /// SIPp's exit code (0: every call succeeded).
    pub exit_code: Option<i32>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Final counters.
    pub stats: Stats,
    /// Directory holding `stat.csv`, `screen.log`, `errors.log`,
    /// `messages.log`, `stdout.log`, `stderr.log`.
    pub dir: PathBuf,
    command: String,
}

impl SippRun {
    /// One line with the counts, as printed after every run.
    pub fn summary(&self) -> String {
        let s = &self.stats;
        format!(
            "[sipp] {}: {} successful, {} failed, {} retransmissions, {} unexpected \
             (of {} calls; recv timeouts {}, out-of-call {}, dead-call {}; exit {}; {:.1} s)",
            self.label,
            s.successful,
            s.failed,
            s.retransmissions,
            s.unexpected,
            self.calls,
            s.recv_timeouts,
            s.out_of_call,
            s.dead_call,
            self.exit_code
                .map_or_else(|| "signal".to_owned(), |c| c.to_string()),
            self.elapsed.as_secs_f64()
        )
    }

    /// Asserts that every requested call succeeded: SIPp exited 0, the
    /// successful count equals the calls requested, nothing failed and no
    /// unexpected message arrived. On failure the panic message carries the
    /// SIPp screen, error log and the tail of the message log.
    pub fn assert_all_successful(&self) -> &Self {
        let s = &self.stats;
        let ok = self.exit_code == Some(0)
            && s.successful == u64::from(self.calls)
            && s.failed == 0
            && s.unexpected == 0;
        if !ok {
            self.fail(&format!(
                "expected all {} calls successful, 0 failed, 0 unexpected",
                self.calls
            ));
        }
        self
    }

    /// Asserts that SIPp retransmitted nothing.
    pub fn assert_no_retransmissions(&self) -> &Self {
        if self.stats.retransmissions != 0 {
            self.fail("expected no retransmissions from SIPp");
        }
        self
    }

    /// Panics with `what`, the counts and SIPp's logs.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n{}\ncommand: {}\nlogs kept in {}\n\
             ---- screen ----\n{}\n---- errors.log (tail) ----\n{}\n\
             ---- messages.log (tail) ----\n{}\n---- stderr ----\n{}",
            self.summary(),
            self.command,
            self.dir.display(),
            scenario_screen(&read_lossy(&self.dir.join("screen.log"))),
            tail_of_file(&self.dir.join("errors.log"), 4000),
            tail_of_file(&self.dir.join("messages.log"), 6000),
            tail_of_file(&self.dir.join("stderr.log"), 2000),
        )
    }
}

impl Drop for SippRun {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os(KEEP_ENV).is_some() {
            eprintln!(
                "[e2e] SIPp logs for {} kept in {}",
                self.label,
                self.dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The first "Scenario Screen" of a `-trace_screen` dump (the per-message
/// counters), or the whole text if there is none.
fn scenario_screen(screen: &str) -> String {
    let Some(start) = screen.find("Scenario Screen") else {
        return tail(screen, 4000).to_owned();
    };
    let rest = &screen[start..];
    let end = rest
        .find("Statistics Screen")
        .and_then(|i| rest[..i].rfind('\n'))
        .unwrap_or(rest.len());
    rest[..end].to_owned()
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
    fn parses_the_last_line_of_a_stat_file() {
        let text = "TotalCallCreated;SuccessfulCall(C);FailedCall(C);Retransmissions(C);\
                    FailedUnexpectedMessage(C);FailedTimeoutOnRecv(C);FailedMaxUDPRetrans(C);\
                    FailedRegexpDoesntMatch(C);FailedRegexpShouldntMatch(C);\
                    FailedRegexpHdrNotFound(C);OutOfCallMsgs(C);DeadCallMsgs(C);\n\
                    0;0;0;0;0;0;0;0;0;0;0;0;\n\
                    300;298;2;5;1;1;0;1;0;2;0;4;\n";
        let stats = Stats::parse(text).unwrap();
        assert_eq!(stats.created, 300);
        assert_eq!(stats.successful, 298);
        assert_eq!(stats.failed, 2);
        assert_eq!(stats.retransmissions, 5);
        assert_eq!(stats.unexpected, 1);
        assert_eq!(stats.recv_timeouts, 1);
        assert_eq!(stats.regexp_failures, 3);
        assert_eq!(stats.dead_call, 4);
    }

    #[test]
    fn refuses_a_stat_file_without_data() {
        assert!(Stats::parse("SuccessfulCall(C);\n").is_err());
        assert!(Stats::parse("").is_err());
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports: BTreeSet<u16> = (0..20).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 20);
    }

    #[test]
    fn keeps_only_the_scenario_screen() {
        let screen = "x\n--- Scenario Screen ---\n INVITE 1\n--- Statistics Screen ---\n";
        assert_eq!(scenario_screen(screen), "Scenario Screen ---\n INVITE 1");
    }
}
