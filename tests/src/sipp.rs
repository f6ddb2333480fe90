//! SIPp runs: a builder for one bounded run of SIPp (`sipp`, Debian
//! package `sip-tester`) against a server, and what the run left (its
//! statistics, logs and exit status).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{KEEP_ENV, KILL_GRACE, SIPP_ENV, free_port, read_lossy, sanitize, tail, tail_of_file};

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

#[cfg(test)]
mod tests {
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
    fn keeps_only_the_scenario_screen() {
        let screen = "x\n--- Scenario Screen ---\n INVITE 1\n--- Statistics Screen ---\n";
        assert_eq!(scenario_screen(screen), "Scenario Screen ---\n INVITE 1");
    }
}
