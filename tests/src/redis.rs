//! A real Redis (`redis-server`, Debian package `redis-server`, which
//! `./scripts/test.sh` installs) for the scale-out tests: on 127.0.0.1 and
//! a free port, no persistence, no configuration file, killed by pid when
//! stopped or dropped. It can be stopped and started again on the same
//! port, as a Redis restart looks to its clients.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{LOOPBACK, free_port, read_lossy};

/// A `redis-server` on loopback.
#[derive(Debug)]
pub struct Redis {
    addr: SocketAddr,
    log: PathBuf,
    child: Option<Child>,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port and waits until it
    /// accepts connections; panics (saying what to install) when it is
    /// missing.
    pub fn start() -> Redis {
        let addr = SocketAddr::from((LOOPBACK, free_port()));
        let log = std::env::temp_dir().join(format!(
            "parrot-e2e-redis-{}-{}.log",
            std::process::id(),
            addr.port()
        ));
        let mut redis = Redis {
            addr,
            log,
            child: None,
        };
        redis.spawn();
        redis
    }

    /// The `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kills the server (its clients see their connections drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .unwrap_or("redis-server");
        let log = std::fs::File::create(&self.log).expect("create the redis log");
        let child = Command::new(binary)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.addr.port().to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): the scale-out tests need a real Redis \
                     (Debian package `redis-server`: apt-get install -y redis-server; \
                     ./scripts/test.sh installs it)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("redis-server exited ({status}):\n{}", read_lossy(&self.log));
            }
            assert!(
                Instant::now() < deadline,
                "redis-server not accepting connections on {} after 10 s:\n{}",
                self.addr,
                read_lossy(&self.log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}
