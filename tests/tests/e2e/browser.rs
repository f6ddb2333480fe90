//! A real browser over secure WebSocket (RFC 7118): headless Chromium
//! running [JsSIP](https://jssip.net/), driven by puppeteer-core from
//! `tests/browser/run.mjs`, against the `registrar`, `im` and `busy`
//! examples, each listening for WSS (certificate from a test CA, which
//! Chromium is told to accept with `--ignore-certificate-errors`) on
//! loopback:
//!
//! 1. REGISTER to `registrar`: JsSIP's `registered` event, a 200 listing
//!    the browser's Contact.
//! 2. MESSAGE (`ua.sendMessage`, text/plain) to `im`: `succeeded`, 200.
//! 3. An audio call (`ua.call`, getUserMedia on Chromium's fake devices)
//!    to `busy`: `failed`, 486 from the remote end, with an SDP offer in
//!    the INVITE.
//! 4. A browser called through the `registrar` (RFC 7118 §5, RFC 5626):
//!    `erin` registers from a second page and stays registered; `frank`
//!    sends her a MESSAGE (200, and her page got it) and calls her (her
//!    page answers with audio; confirmed on both sides, then frank's BYE
//!    ends it on hers): each request reached her `.invalid` Contact down
//!    her own WebSocket. Her page is closed without unregistering; the
//!    next MESSAGE to her gets 480, her binding gone with the connection.
//!
//! `node`, the npm packages of `tests/browser` (`npm ci` there) and
//! Chromium (`/usr/bin/chromium`, Debian package `chromium`) must be
//! installed: a missing one fails the test, it does not skip it
//! (`./scripts/test.sh` installs them). `NODE=/path/to/node` and
//! `CHROMIUM=/path/to/chromium` pick other binaries; `PARROT_BROWSER_DEBUG=1`
//! adds JsSIP's debug log to what the script prints on stderr.
//!
//! `run.mjs` runs in its own process group and gets `SIGTERM` if the test
//! process dies (`PR_SET_PDEATHSIG`); on a timeout or a panic the harness
//! sends `SIGTERM`, then `SIGKILL`, to that group and to Chromium's (which
//! puppeteer starts as a group leader and which the script names on
//! stderr), and the test checks that no Chromium process is left.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use examples::listen::{Listen, TlsListen};
use parrot::server::{BoundServer, UasHandler};
use parrot::transport::{Protocol, TlsConfig};
use tests::{LOOPBACK, Server, TestCa};

/// The whole browser run, as `run.mjs` bounds it (`--timeout-ms`).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// Extra time the script gets beyond its own timeout before the harness
/// kills it.
const KILL_GRACE: Duration = Duration::from_secs(15);

/// How long a process group gets to end after `SIGTERM`, and Chromium's
/// after the script exited.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Environment variable naming the Node.js binary (default: `node`).
const NODE_ENV: &str = "NODE";

/// Environment variable naming the Chromium binary.
const CHROMIUM_ENV: &str = "CHROMIUM";

/// Chromium from the Debian package `chromium`.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn jssip_in_chromium_registers_messages_and_gets_busy_over_wss() {
    let browser_dir = browser_dir();
    let chromium = chromium_binary();

    let ca = TestCa::new("parrot e2e browser CA");
    let tls = ca.server_tls(&["localhost", "127.0.0.1"]);
    let (registrar, registrar_wss) = start_wss("registrar (WSS)", tls.clone(), |listen| {
        examples::registrar::bind(
            listen,
            examples::registrar::RegistrarOptions::default(),
            examples::registrar::Location::new(),
        )
    });
    let (im, im_wss) = start_wss("im (WSS)", tls.clone(), examples::im::bind);
    let (busy, busy_wss) = start_wss("busy (WSS)", tls, examples::busy::bind);

    let run = BrowserRun::run(
        &browser_dir,
        &chromium,
        &[
            ("--registrar", format!("wss://{registrar_wss}")),
            ("--im", format!("wss://{im_wss}")),
            ("--busy", format!("wss://{busy_wss}")),
        ],
    );
    eprintln!("[e2e] browser: {}", run.stdout.trim());

    let results = run.results();
    let check = |ok: bool, what: &str| {
        if !ok {
            run.fail(what);
        }
    };
    check(
        results.get("completed") == Some(&Json::Bool(true)),
        "the script did not complete",
    );
    check(
        results.get("secure_context") == Some(&Json::Bool(true)),
        "the page is not a secure context (getUserMedia needs one)",
    );
    check(
        results.get("register_event") == Some(&Json::Str("registered".into())),
        "REGISTER: no `registered` event",
    );
    check(
        results.get("register_status") == Some(&Json::Num(200.0)),
        "REGISTER: not answered 200",
    );
    check(
        results.get("register_contacts") == Some(&Json::Num(1.0)),
        "REGISTER: the 200 does not list exactly the browser's Contact",
    );
    check(
        results.get("message_event") == Some(&Json::Str("succeeded".into())),
        "MESSAGE: no `succeeded` event",
    );
    check(
        results.get("message_status") == Some(&Json::Num(200.0)),
        "MESSAGE: not answered 200",
    );
    check(
        results.get("call_invite_sdp") == Some(&Json::Bool(true)),
        "INVITE: no audio SDP offer (getUserMedia / RTCPeerConnection failed?)",
    );
    check(
        results.get("call_event") == Some(&Json::Str("failed".into())),
        "INVITE: the call did not fail",
    );
    check(
        results.get("call_status") == Some(&Json::Num(486.0)),
        "INVITE: not answered 486",
    );
    check(
        results.get("call_originator") == Some(&Json::Str("remote".into())),
        "INVITE: the failure did not come from the remote end",
    );
    check(
        results.get("call_cause") == Some(&Json::Str("Busy".into())),
        "INVITE: JsSIP's cause is not `Busy`",
    );

    // The registrar routing to a browser over its flow.
    check(
        results.get("callee_register_status") == Some(&Json::Num(200.0)),
        "erin's REGISTER: not answered 200",
    );
    check(
        results.get("routed_message_status") == Some(&Json::Num(200.0)),
        "MESSAGE to erin through the registrar: not answered 200",
    );
    check(
        results.get("callee_messages") == Some(&Json::Str("Hello erin".into())),
        "erin's page did not receive frank's MESSAGE (once)",
    );
    check(
        results.get("routed_call_event") == Some(&Json::Str("confirmed".into())),
        "the call to erin through the registrar was not confirmed",
    );
    check(
        results.get("callee_calls") == Some(&Json::Num(1.0)),
        "erin's page did not get exactly one call",
    );
    check(
        matches!(results.get("callee_call_uri"), Some(Json::Str(u)) if u.contains(".invalid")),
        "the INVITE reaching erin is not addressed to her registered .invalid Contact",
    );
    check(
        results.get("routed_call_end") == Some(&Json::Str("Terminated".into())),
        "frank's hang-up did not end the call",
    );
    check(
        matches!(results.get("callee_call_events"), Some(Json::Str(e))
            if e.starts_with("confirmed,ended:remote")),
        "erin's page did not see the call confirmed (ACK) and ended by frank (BYE)",
    );
    check(
        results.get("after_close_status") == Some(&Json::Num(480.0)),
        "after erin's page closed, a MESSAGE to her was not refused with 480",
    );

    registrar.stop();
    im.stop();
    busy.stop();
}

/// `tests/browser`, with its npm packages installed.
fn browser_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let missing: Vec<&str> = ["jssip", "puppeteer-core", "esbuild"]
        .into_iter()
        .filter(|package| {
            !dir.join("node_modules")
                .join(package)
                .join("package.json")
                .is_file()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the npm packages of {} are not installed (missing: {}): run `npm ci` there \
         (./scripts/test.sh does it)",
        dir.display(),
        missing.join(", ")
    );
    dir
}

/// The Chromium binary, which must exist.
fn chromium_binary() -> String {
    let binary = std::env::var(CHROMIUM_ENV).unwrap_or_else(|_| DEFAULT_CHROMIUM.to_owned());
    assert!(
        Path::new(&binary).is_file(),
        "Chromium is not installed: the browser test needs `{binary}` (Debian package \
         `chromium`: `apt-get install -y chromium`; ./scripts/test.sh installs it; or set \
         {CHROMIUM_ENV}=/path/to/chromium)"
    );
    binary
}

/// Starts an example server listening for UDP and TCP (which the harness
/// probes) and for WSS on an OS-chosen loopback port presenting `tls`;
/// `bind` is the example's `bind`. Returns the server and its WSS address.
fn start_wss<H, B, Fut>(name: &str, tls: TlsConfig, bind: B) -> (Server, SocketAddr)
where
    H: UasHandler,
    B: Fn(Listen) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = parrot::Result<BoundServer<H>>>,
{
    let wss = Arc::new(Mutex::new(None));
    let bound_wss = wss.clone();
    let server = Server::start(name, move |addr, shutdown| {
        let mut listen = Listen::from(addr);
        listen.wss = Some(TlsListen {
            addr: SocketAddr::from((LOOPBACK, 0)),
            config: tls.clone(),
        });
        let bind = bind.clone();
        let wss = wss.clone();
        async move {
            let server = bind(listen).await?;
            *wss.lock().unwrap_or_else(|e| e.into_inner()) = server.local_addr(Protocol::Wss);
            server.serve().with_graceful_shutdown(shutdown).await
        }
    });
    let addr = bound_wss
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_else(|| panic!("`{name}` has no WSS listener"));
    eprintln!("[e2e] {name}: WSS on {addr}");
    (server, addr)
}

/// One finished run of `run.mjs`.
struct BrowserRun {
    command: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl BrowserRun {
    /// Runs `node run.mjs ARGS` in `dir` to completion (or until the
    /// harness kills it), and checks that no Chromium process is left.
    fn run(dir: &Path, chromium: &str, args: &[(&str, String)]) -> BrowserRun {
        let logs = std::env::temp_dir().join(format!("parrot-e2e-browser-{}", std::process::id()));
        fs::create_dir_all(&logs)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", logs.display()));
        let stdout_path = logs.join("stdout.log");
        let stderr_path = logs.join("stderr.log");
        let node = std::env::var(NODE_ENV).unwrap_or_else(|_| "node".to_owned());
        let mut command = Command::new(&node);
        command
            .arg("run.mjs")
            .args(["--chromium", chromium])
            .args([
                "--timeout-ms".to_owned(),
                SCRIPT_TIMEOUT.as_millis().to_string(),
            ])
            .args(
                args.iter()
                    .flat_map(|(flag, value)| [*flag, value.as_str()]),
            )
            .current_dir(dir)
            .env("PUPPETEER_SKIP_DOWNLOAD", "1")
            .env("PUPPETEER_SKIP_CHROMIUM_DOWNLOAD", "1")
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("create stdout.log"))
            .stderr(File::create(&stderr_path).expect("create stderr.log"))
            // Its own process group, ended as a whole (see `ScriptGuard`).
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and only
        // calls prctl(2), which is async-signal-safe. If the test process
        // dies without dropping the guard, the kernel sends SIGTERM to the
        // script, which closes the browser.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let command_line = format!("{command:?}");
        let started = Instant::now();
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
                "Node.js is not installed: the browser test needs the `{node}` binary \
                 (Debian package `nodejs`, with `npm`; or set {NODE_ENV}=/path/to/node)"
            ),
            Err(e) => panic!("cannot run `{node}`: {e}"),
        };
        let mut guard = ScriptGuard {
            child,
            stderr: stderr_path.clone(),
        };
        let deadline = started + SCRIPT_TIMEOUT + KILL_GRACE;
        let status = loop {
            match guard.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    drop(guard);
                    panic!(
                        "{command_line} still running {KILL_GRACE:?} after its own timeout; \
                         killed\nstderr:\n{}",
                        read_lossy(&stderr_path)
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("waiting for {command_line}: {e}"),
            }
        };
        let elapsed = started.elapsed();
        let stderr = read_lossy(&stderr_path);
        // The script closed the browser before exiting; its process group
        // must be gone (zombies are reaped by init shortly).
        let leftover = chromium_pid(&stderr)
            .filter(|&pgid| !wait_group_gone(pgid, EXIT_GRACE))
            .inspect(|&pgid| signal_group(pgid, libc::SIGKILL));
        drop(guard);
        let run = BrowserRun {
            command: command_line,
            status,
            stdout: read_lossy(&stdout_path),
            stderr,
            elapsed,
        };
        if let Some(pgid) = leftover {
            run.fail(&format!(
                "Chromium's process group {pgid} was still there {EXIT_GRACE:?} after the \
                 script exited (killed now)"
            ));
        }
        if std::env::var_os(tests::KEEP_ENV).is_none() {
            let _ = fs::remove_dir_all(&logs);
        }
        run
    }

    /// The script's JSON line, parsed; fails the test if there is none or
    /// the script did not exit 0.
    fn results(&self) -> BTreeMap<String, Json> {
        let Some(line) = self.stdout.lines().rev().find(|l| l.starts_with('{')) else {
            self.fail("the script printed no JSON line");
        };
        let results = parse_flat_json(line)
            .unwrap_or_else(|e| self.fail(&format!("its JSON line does not parse: {e}")));
        if !self.status.success() {
            self.fail("the script did not exit 0");
        }
        results
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "browser run failed: {what}\ncommand: {}\nexit status {} after {:.1?}\n\
             stdout:\n{}\nstderr:\n{}",
            self.command, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Ends the script's process group, and Chromium's, if the script is still
/// running when dropped (timeout, panic): `SIGTERM`, then `SIGKILL`.
struct ScriptGuard {
    child: Child,
    stderr: PathBuf,
}

impl Drop for ScriptGuard {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        let chromium = chromium_pid(&read_lossy(&self.stderr));
        signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + EXIT_GRACE;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group(pgid, libc::SIGKILL);
        let _ = self.child.wait();
        if let Some(chromium) = chromium {
            signal_group(chromium, libc::SIGKILL);
        }
    }
}

/// The pid of Chromium's main process, as `run.mjs` reports it on stderr
/// (`chromium pid N`); puppeteer starts it as its process group's leader.
fn chromium_pid(stderr: &str) -> Option<libc::pid_t> {
    stderr.lines().find_map(|line| {
        let rest = line.split("chromium pid ").nth(1)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().filter(|&pid| pid > 1)
    })
}

/// Whether process group `pgid` is gone within `timeout`.
fn wait_group_gone(pgid: libc::pid_t, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        // SAFETY: signal 0 only checks that the group exists.
        if unsafe { libc::kill(-pgid, 0) } != 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `signal` to every process of group `pgid`.
fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) takes no pointers; a negative pid names a process
    // group this test started (the script's, or Chromium's within it).
    unsafe {
        libc::kill(-pgid, signal);
    }
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// A value of the script's flat JSON object.
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// Parses a flat JSON object: string keys, and values that are strings,
/// numbers, booleans or null (what `run.mjs` prints).
fn parse_flat_json(text: &str) -> Result<BTreeMap<String, Json>, String> {
    let mut chars = text.trim().chars().peekable();
    let mut map = BTreeMap::new();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    let string = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Result<String, String> {
        if chars.next() != Some('"') {
            return Err("expected a string".into());
        }
        let mut s = String::new();
        loop {
            match chars.next().ok_or("unterminated string")? {
                '"' => return Ok(s),
                '\\' => match chars.next().ok_or("unterminated escape")? {
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .map_err(|_| format!("bad \\u escape {hex:?}"))?;
                        s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    c => s.push(c),
                },
                c => s.push(c),
            }
        }
    };
    skip_ws(&mut chars);
    if chars.next() != Some('{') {
        return Err("expected `{`".into());
    }
    skip_ws(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
        return Ok(map);
    }
    loop {
        skip_ws(&mut chars);
        let key = string(&mut chars)?;
        skip_ws(&mut chars);
        if chars.next() != Some(':') {
            return Err(format!("expected `:` after {key:?}"));
        }
        skip_ws(&mut chars);
        let value = match chars.peek() {
            Some('"') => Json::Str(string(&mut chars)?),
            Some(_) => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '}' || c.is_whitespace() {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                match word.as_str() {
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    "null" => Json::Null,
                    number => Json::Num(
                        number
                            .parse()
                            .map_err(|_| format!("{key:?}: not a flat JSON value: {number:?}"))?,
                    ),
                }
            }
            None => return Err("unexpected end".into()),
        };
        map.insert(key, value);
        skip_ws(&mut chars);
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => return Err(format!("expected `,` or `}}`, got {other:?}")),
        }
    }
    skip_ws(&mut chars);
    match chars.next() {
        None => Ok(map),
        Some(c) => Err(format!("trailing {c:?}")),
    }
}

#[test]
fn flat_json() {
    let map = parse_flat_json(
        r#"{"completed":true,"a":"x\"y\u00e9","n":486,"f":-1.5e2,"z":null,"b":false}"#,
    )
    .unwrap();
    assert_eq!(map["completed"], Json::Bool(true));
    assert_eq!(map["a"], Json::Str("x\"yé".into()));
    assert_eq!(map["n"], Json::Num(486.0));
    assert_eq!(map["f"], Json::Num(-150.0));
    assert_eq!(map["z"], Json::Null);
    assert_eq!(map["b"], Json::Bool(false));
    assert!(parse_flat_json(r#"{"a":{"b":1}}"#).is_err());
    assert!(parse_flat_json(r#"{"a":1"#).is_err());
    assert_eq!(
        chromium_pid("[run.mjs] chromium pid 4152: Chrome/156"),
        Some(4152)
    );
}
