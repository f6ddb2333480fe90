//! A real [Kamailio](https://www.kamailio.org/) (5.6, Debian packages
//! `kamailio` and `kamailio-tls-modules`) for the SIP-over-TLS tests, run
//! as a child process on loopback with a configuration generated per test.
//!
//! [`Kamailio::start`] picks two free loopback ports, one for UDP and one
//! for TLS, writes into a temporary directory a certificate for
//! `localhost` and `127.0.0.1` issued by the test's [`TestCa`], the `tls`
//! module's `tls.cfg` and a `kamailio.cfg`, runs `kamailio -DD -E` (in the
//! foreground, logging to `kamailio.log` there) in a process group of its
//! own, and waits until its UDP port answers an `OPTIONS` and its TLS port
//! accepts connections. Dropping the [`Kamailio`] ends the whole process
//! group (the main process and every worker it forked): `SIGTERM`, then
//! `SIGKILL` for what is left after a second, so a failed test leaves no
//! Kamailio running.
//!
//! What the generated script does:
//!
//! - `OPTIONS` outside a dialog: a stateless `200 OK` with
//!   `X-Received-Over: <proto>`, the transport Kamailio received it over
//!   (`udp`, `tls`): the readiness probe, and the test of Parrot's
//!   outgoing TLS.
//! - With a relay target ([`Kamailio::start`]'s `relay_to`): every other
//!   request is relayed statefully (`tm`, `t_relay`) over TLS to
//!   `sip:<relay_to>;transport=tls`. An initial INVITE is Record-Routed (two
//!   entries, `enable_double_rr`, since the transport changes); an
//!   in-dialog request follows its Route set when it has one (`loose_route`)
//!   and otherwise goes to the same TLS hop (SIPp's built-in `uac` sends
//!   its ACK and BYE to Kamailio without Route headers). Every reply
//!   relayed back gets `X-Relayed-Over: <proto>`, the transport the reply
//!   came to Kamailio over; every request relayed is logged as
//!   `e2e: relayed <method> <CSeq number> of <Call-ID> to <destination>`.
//! - Without one: `404` for everything but `OPTIONS`.
//!
//! The binary is `kamailio` on `PATH` (or `/usr/sbin/kamailio`), or
//! [`KAMAILIO_ENV`]; the module directory is the one holding `tls.so`
//! under `/usr/lib/<triplet>/kamailio/modules` (Debian), or
//! [`KAMAILIO_MODULES_ENV`]. A missing binary or `tls.so` fails the test:
//! `./scripts/test.sh` installs both.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{KEEP_ENV, LOOPBACK, TestCa, await_udp_answer, free_port, read_lossy, sanitize, tail};

/// Environment variable naming the Kamailio binary (default: `kamailio` on
/// `PATH`, else `/usr/sbin/kamailio`).
pub const KAMAILIO_ENV: &str = "KAMAILIO";

/// Environment variable naming Kamailio's module directory (default: the
/// Debian one that holds `tls.so`).
pub const KAMAILIO_MODULES_ENV: &str = "KAMAILIO_MODULES";

/// How long Kamailio may take to answer its first `OPTIONS`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// How long Kamailio gets to exit after `SIGTERM` before `SIGKILL`.
const TERM_GRACE: Duration = Duration::from_secs(1);

/// How long to wait for the process group to be gone after `SIGKILL`.
const KILL_WAIT: Duration = Duration::from_secs(3);

/// Shared memory (`-m`) and private memory per process (`-M`), in MB:
/// enough for a few hundred transactions, small enough for parallel tests.
const SHM_MB: u32 = 32;
const PKG_MB: u32 = 8;

/// A Kamailio running on `127.0.0.1` (UDP and TLS) for one test.
pub struct Kamailio {
    name: String,
    dir: PathBuf,
    udp: SocketAddr,
    tls: Option<SocketAddr>,
    child: Option<Child>,
}

impl fmt::Debug for Kamailio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kamailio")
            .field("name", &self.name)
            .field("udp", &self.udp)
            .field("tls", &self.tls)
            .field("dir", &self.dir)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish()
    }
}

impl Kamailio {
    /// Starts Kamailio with a certificate from `ca` for `localhost` and
    /// `127.0.0.1` on its TLS port, relaying calls over TLS to `relay_to`
    /// when given (see the module documentation), and waits until it
    /// answers. Tries again on new ports if it stops early or never
    /// answers; panics with its log after three attempts, or at once if
    /// Kamailio or its `tls` module is not installed.
    ///
    /// Kamailio is told to end when the thread that started it ends
    /// (`PR_SET_PDEATHSIG`), so that a test process killed from outside
    /// leaves none behind: start it on the test's own thread.
    pub fn start(name: &str, ca: &TestCa, relay_to: Option<SocketAddr>) -> Kamailio {
        let modules = module_dir();
        let cert = ca.issue(&["localhost", "127.0.0.1"]);
        Kamailio::launch(name, |dir, write| {
            write("ca.pem", ca.pem());
            write("kamailio.pem", &cert.cert_pem);
            write("kamailio.key", &cert.key_pem);
            write("tls.cfg", &tls_cfg(dir));
            let udp = SocketAddr::from((LOOPBACK, free_port()));
            let tls = SocketAddr::from((LOOPBACK, free_port()));
            write(
                "kamailio.cfg",
                &kamailio_cfg(dir, &modules, udp, tls, relay_to),
            );
            (udp, Some(tls))
        })
    }

    /// Starts Kamailio as the edge of a cluster of `nodes` (UDP only; see
    /// [`crate::kamailio_edge`] for what its script does) and waits until
    /// it answers.
    pub fn start_edge(name: &str, nodes: &[SocketAddr]) -> Kamailio {
        let modules = module_dir();
        Kamailio::launch(name, |dir, write| {
            let udp = SocketAddr::from((LOOPBACK, free_port()));
            write(
                "dispatcher.list",
                &crate::kamailio_edge::dispatcher_list(nodes),
            );
            write(
                "kamailio.cfg",
                &crate::kamailio_edge::config(dir, &modules, udp),
            );
            (udp, None)
        })
    }

    /// Runs Kamailio on the files `prepare` writes into a fresh directory
    /// (it returns the UDP address, and the TLS one if any), and waits
    /// until it answers. Tries again on new ports if it stops early or
    /// never answers; panics with its log after three attempts.
    fn launch(
        name: &str,
        prepare: impl Fn(&Path, &dyn Fn(&str, &str)) -> (SocketAddr, Option<SocketAddr>),
    ) -> Kamailio {
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let binary = kamailio_binary();
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            let dir = std::env::temp_dir().join(format!(
                "parrot-e2e-kamailio-{}-{}-{}",
                sanitize(name),
                std::process::id(),
                RUNS.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("run"))
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            let write = |file: &str, text: &str| {
                fs::write(dir.join(file), text)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", dir.join(file).display()));
            };
            let (udp, tls) = prepare(&dir, &write);
            let mut kamailio = Kamailio {
                name: name.to_owned(),
                dir,
                udp,
                tls,
                child: None,
            };
            kamailio.spawn(&binary);
            match kamailio.wait_until_answering(READY_TIMEOUT) {
                Ok(()) => {
                    eprintln!(
                        "[e2e] kamailio `{name}` on udp:{udp}{} (pid {}), attempt {attempt}; files \
                         in {}",
                        tls.map(|t| format!(" and tls:{t}")).unwrap_or_default(),
                        kamailio.pid(),
                        kamailio.dir.display()
                    );
                    return kamailio;
                }
                Err(reason) => {
                    kamailio.terminate();
                    failures.push(format!(
                        "attempt {attempt} on udp:{udp}: {reason}\n---- kamailio.log (tail) \
                         ----\n{}",
                        tail(&kamailio.log(), 3000)
                    ));
                    // Its directory is removed on drop; the log is in the message.
                }
            }
        }
        panic!("kamailio `{name}` never came up:\n{}", failures.join("\n"));
    }

    /// Kamailio's UDP address (`listen=udp:…`).
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp
    }

    /// Kamailio's TLS address (`listen=tls:…`); panics for an edge
    /// Kamailio, which has none.
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls.expect("this Kamailio listens for TLS")
    }

    /// The directory holding `kamailio.cfg`, `tls.cfg`, the certificates
    /// and `kamailio.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything Kamailio has logged so far (its stdout and stderr).
    pub fn log(&self) -> String {
        read_lossy(&self.dir.join("kamailio.log"))
    }

    /// Waits up to `timeout` for a line of Kamailio's log that contains
    /// `needle`; returns it, or `None`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return Some(line.to_owned());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `ERROR` and `CRITICAL` lines Kamailio has logged so far.
    pub fn error_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(" ERROR: ") || l.contains(" CRITICAL: "))
            .map(str::to_owned)
            .collect()
    }

    /// Asserts that Kamailio is still running (it did not stop or crash
    /// during the test), then stops it. The panic message carries the
    /// tail of its log.
    pub fn stop(mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "kamailio `{}` stopped during the test ({status}); logs kept in {}\n{}",
                self.name,
                self.dir.display(),
                tail(&self.log(), 6000)
            );
        }
        self.terminate();
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn spawn(&mut self, binary: &str) {
        let log = File::create(self.dir.join("kamailio.log")).expect("create kamailio.log");
        let log2 = log.try_clone().expect("clone the log file handle");
        let dir = self.dir.display().to_string();
        let mut command = Command::new(binary);
        command
            .args(["-DD", "-E", "-f"])
            .arg(self.dir.join("kamailio.cfg"))
            .arg("-P")
            .arg(self.dir.join("kamailio.pid"))
            .args(["-m", &SHM_MB.to_string(), "-M", &PKG_MB.to_string()])
            .arg("-Y")
            .arg(self.dir.join("run"))
            .args(["-w", &dir])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Its own process group, so that the workers it forks are
            // ended with it (see `terminate`).
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and
        // only calls prctl(2), which is async-signal-safe. If the test
        // process dies without dropping the `Kamailio` (killed by a
        // timeout, say), the kernel sends SIGTERM to Kamailio's main
        // process, which then ends its workers.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn();
        match child {
            Ok(child) => self.child = Some(child),
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
                "Kamailio is not installed: the end-to-end TLS tests need the `{binary}` binary \
                 (Debian/Ubuntu packages `kamailio` and `kamailio-tls-modules`: \
                 `apt-get install -y kamailio kamailio-tls-modules`; ./scripts/test.sh installs \
                 them; or set {KAMAILIO_ENV}=/path/to/kamailio)"
            ),
            Err(e) => panic!("cannot run `{binary}`: {e}"),
        }
    }

    /// Kamailio's exit status if its main process has exited.
    fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("cannot wait for it: {e}")),
        }
    }

    /// Sends `OPTIONS` over UDP until Kamailio answers, then checks that
    /// its TLS port accepts a connection.
    fn wait_until_answering(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        await_udp_answer(self.udp, deadline, timeout, b"SIP/2.0 200 ", || {
            self.exited()
                .map(|status| format!("kamailio exited: {status}"))
        })?;
        let Some(tls) = self.tls else {
            return Ok(());
        };
        loop {
            match TcpStream::connect_timeout(&tls, Duration::from_millis(500)) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("UDP answers but the TLS port refuses: {e}"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
            if let Some(status) = self.exited() {
                return Err(format!("kamailio exited: {status}"));
            }
        }
    }

    /// Ends Kamailio's whole process group: `SIGTERM`, then `SIGKILL` if
    /// the main process is still there after [`TERM_GRACE`] or a worker
    /// is; waits (bounded) until none is left.
    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
            let _ = child.kill();
            let _ = child.wait();
            return;
        };
        signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + TERM_GRACE;
        let mut main_exited = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                main_exited = true;
                if !group_alive(pgid) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(pgid, libc::SIGKILL);
        if !main_exited {
            let _ = child.wait();
        }
        let deadline = Instant::now() + KILL_WAIT;
        while group_alive(pgid) {
            if Instant::now() >= deadline {
                eprintln!(
                    "[e2e] kamailio `{}`: processes of group {pgid} still present {KILL_WAIT:?} \
                     after SIGKILL",
                    self.name
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Kamailio {
    /// Ends Kamailio (every process of its group) and removes its
    /// directory, unless the thread is panicking or `PARROT_E2E_KEEP` is
    /// set.
    fn drop(&mut self) {
        self.terminate();
        if std::thread::panicking() || std::env::var_os(KEEP_ENV).is_some() {
            eprintln!(
                "[e2e] kamailio `{}` files and log kept in {}",
                self.name,
                self.dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Sends `signal` to every process of group `pgid`.
fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) takes no pointers; a negative pid names the process
    // group this harness created for Kamailio (`process_group(0)`).
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Whether any process of group `pgid` is left (zombies included, until
/// they are reaped).
fn group_alive(pgid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// The Kamailio binary: [`KAMAILIO_ENV`], else `kamailio` on `PATH`, else
/// `/usr/sbin/kamailio` (Debian's place, often not on a user's `PATH`).
fn kamailio_binary() -> String {
    if let Ok(binary) = std::env::var(KAMAILIO_ENV) {
        return binary;
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("kamailio").is_file()))
        .unwrap_or(false);
    if !on_path {
        for candidate in ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"] {
            if Path::new(candidate).is_file() {
                return candidate.to_owned();
            }
        }
    }
    "kamailio".to_owned()
}

/// Kamailio's module directory: [`KAMAILIO_MODULES_ENV`], else the first
/// of Debian's multiarch directories (`/usr/lib/<triplet>/kamailio/modules`)
/// and the usual others that holds `tls.so`. Panics when none does.
fn module_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(KAMAILIO_MODULES_ENV) {
        return PathBuf::from(dir);
    }
    let mut candidates: Vec<PathBuf> = fs::read_dir("/usr/lib")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("kamailio/modules"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.extend(
        [
            "/usr/lib/kamailio/modules",
            "/usr/lib64/kamailio/modules",
            "/usr/local/lib64/kamailio/modules",
            "/usr/local/lib/kamailio/modules",
        ]
        .map(PathBuf::from),
    );
    candidates
        .into_iter()
        .find(|dir| dir.join("tls.so").is_file())
        .unwrap_or_else(|| {
            panic!(
                "Kamailio's TLS module (tls.so) is not installed: the end-to-end TLS tests need \
                 the Debian/Ubuntu package `kamailio-tls-modules` (`apt-get install -y kamailio \
                 kamailio-tls-modules`; ./scripts/test.sh installs it; or set \
                 {KAMAILIO_MODULES_ENV}=/path/to/kamailio/modules)"
            )
        })
}

/// The `tls` module's configuration: the server side presents the test
/// certificate and asks for no client certificate; the client side (to
/// Parrot) verifies nothing. TLS 1.2 and newer, as rustls speaks.
fn tls_cfg(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "# Generated by tests/src/kamailio.rs.\n\
         [server:default]\n\
         method = TLSv1.2+\n\
         verify_certificate = no\n\
         require_certificate = no\n\
         certificate = {dir}/kamailio.pem\n\
         private_key = {dir}/kamailio.key\n\
         ca_list = {dir}/ca.pem\n\
         \n\
         [client:default]\n\
         method = TLSv1.2+\n\
         verify_certificate = no\n\
         require_certificate = no\n"
    )
}

/// The main configuration; see the module documentation for what the
/// script does.
fn kamailio_cfg(
    dir: &Path,
    modules: &Path,
    udp: SocketAddr,
    tls: SocketAddr,
    relay_to: Option<SocketAddr>,
) -> String {
    let (request, routes) = match relay_to {
        Some(parrot) => (
            RELAY_REQUEST.replace("@PARROT@", &parrot.to_string()),
            RELAY_ROUTES,
        ),
        None => (NO_RELAY_REQUEST.to_owned(), ""),
    };
    CONFIG
        .replace("@UDP@", &udp.to_string())
        .replace("@TLS@", &tls.to_string())
        .replace("@MODULES@", &modules.display().to_string())
        .replace("@DIR@", &dir.display().to_string())
        .replace("@REQUEST@", &request)
        .replace("@ROUTES@", routes)
}

const CONFIG: &str = r#"#!KAMAILIO
# Generated by tests/src/kamailio.rs for one end-to-end test.

debug=2
log_stderror=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no
children=2
tcp_children=2
enable_tls=yes
listen=udp:@UDP@
listen=tls:@TLS@
server_header="Server: kamailio-e2e"
user_agent_header="User-Agent: kamailio-e2e"

mpath="@MODULES@"
loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"

modparam("tls", "config", "@DIR@/tls.cfg")
# Two Record-Route entries when a request changes transport (UDP in,
# TLS out), so that each side routes back over its own.
modparam("rr", "enable_double_rr", 1)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    # OPTIONS outside a dialog are for Kamailio itself: the readiness
    # probe, and Parrot's outgoing TLS. The reply says what they came over.
    if (is_method("OPTIONS") && !has_totag()) {
        append_to_reply("X-Received-Over: $pr\r\n");
        sl_send_reply("200", "OK");
        exit;
    }
@REQUEST@
}

@ROUTES@"#;

/// The rest of `request_route` with a relay target.
const RELAY_REQUEST: &str = r#"    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            route(RELAY);
        }
        exit;
    }
    if (has_totag()) {
        # In-dialog: follow the Route set when the UA sent one back.
        if (loose_route()) {
            route(RELAY);
        }
        # SIPp's built-in uac sends its ACK and BYE to Kamailio without
        # Route headers: they go to Parrot over TLS like the INVITE.
    } else if (is_method("INVITE")) {
        record_route();
    }
    $du = "sip:@PARROT@;transport=tls";
    route(RELAY);"#;

/// The routes `RELAY_REQUEST` uses.
const RELAY_ROUTES: &str = r#"route[RELAY] {
    t_on_reply("FROM_NEXT_HOP");
    if (!t_relay()) {
        sl_reply_error();
        exit;
    }
    xlog("L_NOTICE", "e2e: relayed $rm $cs of $ci to $du\n");
    exit;
}

onreply_route[FROM_NEXT_HOP] {
    # The transport the reply came to Kamailio over.
    append_hf("X-Relayed-Over: $pr\r\n");
}
"#;

/// The rest of `request_route` without a relay target.
const NO_RELAY_REQUEST: &str = r#"    sl_send_reply("404", "Nothing Relayed Here");
    exit;"#;
