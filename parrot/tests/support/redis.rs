//! A real Redis for the tests: redis-server (Debian package
//! `redis-server`, which scripts/test.sh installs) on 127.0.0.1 and a free
//! high port, with no configuration file and nothing saved to disk,
//! killed by pid when dropped. It can be stopped and started again on the
//! same port, and answers raw commands ([`RedisServer::cmd`]) over a
//! connection of its own.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server process, killed (by its pid) when dropped.
pub struct RedisServer {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A reply to a raw command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and the like.
    Status(String),
    /// `-ERR ...`.
    Error(String),
    /// `:n`.
    Int(i64),
    /// A bulk string, `None` for nil.
    Bulk(Option<Vec<u8>>),
    /// An array, `None` for nil.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The integer of an `Int` reply.
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("not an integer reply: {other:?}"),
        }
    }

    /// The text of a bulk string (`None` for nil).
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Bulk(b) => b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
            Reply::Status(s) => Some(s.clone()),
            other => panic!("not a string reply: {other:?}"),
        }
    }
}

/// The redis-server binary.
fn redis_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-server is not installed: these tests need a real Redis. \
                 Install the Debian package `redis-server` (apt-get install -y redis-server; \
                 scripts/test.sh does it)"
            )
        })
}

/// A TCP port free on 127.0.0.1 (at the time of asking).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it answers;
    /// retries on another port if the chosen one was taken meanwhile.
    pub fn start() -> RedisServer {
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!(
                "parrot-redis-{}-{port}-{attempt}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let mut server = RedisServer {
                child: None,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                dir,
            };
            if server.spawn() {
                return server;
            }
            last_log = server.log();
        }
        panic!("redis-server did not start:\n{last_log}");
    }

    /// The URL a client connects to.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// Kills the server (its data is gone: nothing is saved).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        // The port may linger a moment after the kill.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start again on {}:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// What the server printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs redis-server on `self.addr`; whether it came up.
    fn spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(redis_binary())
            .args(["--save", "", "--appendonly", "no"])
            .args(["--port", &self.addr.port().to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run redis-server: {e}"));
        self.child = Some(child);
        if self.ready() {
            true
        } else {
            self.stop();
            false
        }
    }

    /// Waits up to 5 s for the server to answer as our process (not
    /// another test's Redis that took the port first); false if it
    /// exited.
    fn ready(&mut self) -> bool {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return false;
        };
        let ours = format!("process_id:{pid}\r\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                return false;
            }
            if let Ok(Reply::Bulk(Some(info))) = self.try_cmd(&["INFO", "server"]) {
                return String::from_utf8_lossy(&info).contains(&ours);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends `args` as one command on a new connection and returns the
    /// connection, without reading the reply (for commands that block).
    pub fn send(&self, args: &[&str]) -> TcpStream {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("cannot connect to redis at {}: {e}", self.addr));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&encode(args)).unwrap();
        s
    }

    /// Runs one command on a new connection; panics on failure.
    pub fn cmd(&self, args: &[&str]) -> Reply {
        self.try_cmd(args)
            .unwrap_or_else(|e| panic!("redis command {args:?}: {e}"))
    }

    fn try_cmd(&self, args: &[&str]) -> std::io::Result<Reply> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(&encode(args))?;
        read_reply(&mut BufReader::new(s))
    }
}

/// `args` as a RESP array of bulk strings.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one RESP2 reply.
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    let bad = || std::io::Error::other(format!("bad reply line {line:?}"));
    let n = || rest.parse::<i64>().map_err(|_| bad());
    Ok(match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Int(n()?),
        "$" if n()? < 0 => Reply::Bulk(None),
        "$" => {
            let mut buf = vec![0; n()? as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(buf.len() - 2);
            Reply::Bulk(Some(buf))
        }
        "*" if n()? < 0 => Reply::Array(None),
        "*" => Reply::Array(Some(
            (0..n()?)
                .map(|_| read_reply(r))
                .collect::<std::io::Result<_>>()?,
        )),
        _ => return Err(bad()),
    })
}
