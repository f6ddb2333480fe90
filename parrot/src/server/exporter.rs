//! The metrics listener of [`ServerBuilder::metrics`](super::ServerBuilder::metrics):
//! a small HTTP/1.1 server answering `GET /metrics` with every metric in
//! Prometheus' text format and `GET /health` with `200 ok` while the SIP
//! server serves (`503` while it starts or shuts down), for a readiness
//! probe.
//!
//! The recorder is metrics-exporter-prometheus', installed as the
//! process's global `metrics` recorder the first time a listener is bound.
//! Event counters are recorded as messages go by (`crate::telemetry`);
//! the gauges (live transactions, dialogs, sessions, open connections) and
//! the overload counters are read from the server when scraped.
//!
//! Defences: one request per connection, at most [`MAX_REQUEST`] bytes of
//! request head (a larger one is answered `431` and closed), the head
//! complete within [`READ_DEADLINE`] (else the connection is closed), the
//! answer written within [`WRITE_DEADLINE`], and at most
//! [`MAX_CONNECTIONS`] connections at once (more are closed at once).

use super::admission::ServerStats;
use crate::endpoint::Endpoint;
use crate::telemetry::{
    CONNECTIONS_OPEN, DESCRIPTIONS, DIALOGS_LIVE, Kind, OVERLOAD_REJECTIONS, QUEUE_DELAY,
    RESPONSE_TIME, RESPONSE_TIME_BUCKETS, RETRANSMISSIONS_ABSORBED, SESSIONS_LIVE,
    TRANSACTIONS_LIVE,
};
use crate::transport::Protocol;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

/// The longest request head taken, in bytes.
pub(crate) const MAX_REQUEST: usize = 4096;
/// How long a client has to send a complete request head.
pub(crate) const READ_DEADLINE: Duration = Duration::from_secs(2);
/// How long writing the answer may take.
pub(crate) const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// How long the listener reads and drops what follows an answered head.
const LINGER: Duration = Duration::from_secs(1);
/// The most it reads and drops then.
const MAX_LINGER_BYTES: usize = 64 * 1024;
/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 16;

const STARTING: u8 = 0;
const SERVING: u8 = 1;
const STOPPING: u8 = 2;

/// The Prometheus recorder's handle, once installed.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the global `metrics` recorder,
/// once per process, and describes every metric.
fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Histograms as Prometheus histograms (buckets), not summaries:
        // buckets add up across servers and over time.
        let recorder = match PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(RESPONSE_TIME.into()), &RESPONSE_TIME_BUCKETS)
        {
            Ok(builder) => builder,
            Err(e) => {
                warn!(error = %e, "response time buckets refused: recorded as a summary");
                PrometheusBuilder::new()
            }
        }
        .build_recorder();
        let handle = recorder.handle();
        match metrics::set_global_recorder(recorder) {
            Ok(()) => {
                for (name, kind, description) in DESCRIPTIONS {
                    match kind {
                        Kind::Counter => metrics::describe_counter!(name, description),
                        Kind::Gauge => metrics::describe_gauge!(name, description),
                        Kind::Histogram => metrics::describe_histogram!(name, description),
                    }
                }
            }
            Err(_) => warn!(
                "another metrics recorder is installed already: /metrics shows only what this exporter records"
            ),
        }
        crate::telemetry::enable();
        handle
    })
}

/// What a scrape reads from the server.
struct Sources {
    /// Every shard's endpoint (one unless [`super::ServerBuilder::shards`]).
    endpoints: Vec<Endpoint>,
    stats: ServerStats,
    health: AtomicU8,
}

impl Sources {
    /// Sets the gauges and the overload counters from the server's own.
    fn sample(&self) {
        let endpoints = &self.endpoints;
        let transactions: usize = endpoints.iter().map(Endpoint::live_transactions).sum();
        gauge!(TRANSACTIONS_LIVE).set(transactions as f64);
        let delay = endpoints.iter().map(|e| e.load().queue_delay).max();
        gauge!(QUEUE_DELAY).set(delay.unwrap_or_default().as_secs_f64());
        gauge!(DIALOGS_LIVE).set(self.stats.live_dialogs() as f64);
        gauge!(SESSIONS_LIVE).set(self.stats.live_sessions() as f64);
        let mut open = [0usize; 4];
        // The shards share one connection table: the first lists them all.
        let connections = endpoints.first().map(|e| e.transport().connections());
        for c in connections.into_iter().flatten() {
            match c.protocol {
                Protocol::Tcp => open[0] += 1,
                Protocol::Tls => open[1] += 1,
                Protocol::Ws => open[2] += 1,
                Protocol::Wss => open[3] += 1,
                Protocol::Udp => {}
            }
        }
        gauge!(CONNECTIONS_OPEN, "transport" => "tcp").set(open[0] as f64);
        gauge!(CONNECTIONS_OPEN, "transport" => "tls").set(open[1] as f64);
        gauge!(CONNECTIONS_OPEN, "transport" => "ws").set(open[2] as f64);
        gauge!(CONNECTIONS_OPEN, "transport" => "wss").set(open[3] as f64);
        counter!(OVERLOAD_REJECTIONS, "stage" => "core").absolute(self.stats.shed());
        counter!(OVERLOAD_REJECTIONS, "stage" => "refused").absolute(self.stats.refused());
        counter!(OVERLOAD_REJECTIONS, "stage" => "dropped").absolute(self.stats.dropped());
        let absorbed = endpoints
            .iter()
            .map(Endpoint::retransmissions_absorbed)
            .sum();
        counter!(RETRANSMISSIONS_ABSORBED).absolute(absorbed);
    }
}

/// The bound metrics listener; its task ends when this is dropped.
pub(crate) struct MetricsListener {
    addr: SocketAddr,
    sources: Arc<Sources>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsListener {
    /// Installs the recorder (once per process) and binds the listener.
    pub(crate) async fn bind(
        addr: SocketAddr,
        endpoints: Vec<Endpoint>,
        stats: ServerStats,
    ) -> std::io::Result<MetricsListener> {
        let handle = handle();
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        info!(%addr, "metrics listening (GET /metrics, GET /health)");
        let sources = Arc::new(Sources {
            endpoints,
            stats,
            health: AtomicU8::new(STARTING),
        });
        let task = tokio::spawn(accept(listener, handle, sources.clone()));
        Ok(MetricsListener {
            addr,
            sources,
            task,
        })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `/health` answers `200` from now on.
    pub(crate) fn serving(&self) {
        self.sources.health.store(SERVING, Ordering::Relaxed);
    }

    /// `/health` answers `503` from now on.
    pub(crate) fn stopping(&self) {
        self.sources.health.store(STOPPING, Ordering::Relaxed);
    }
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, handle: &'static PrometheusHandle, sources: Arc<Sources>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // E.g. out of file descriptors: wait rather than spin.
                debug!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!("metrics listener: too many connections; closing a new one");
            continue;
        };
        let sources = sources.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = answer(stream, handle, &sources).await {
                debug!(error = %e, "metrics request failed");
            }
        });
    }
}

/// Reads one request head and answers it.
async fn answer(
    mut stream: TcpStream,
    handle: &PrometheusHandle,
    sources: &Sources,
) -> std::io::Result<()> {
    let mut buf = [0u8; MAX_REQUEST];
    let Some(head) = read_head_in_time(&mut stream, &mut buf).await? else {
        debug!("metrics request: no complete head in time; closing");
        return Ok(());
    };
    let (status, content_type, body): (&str, &str, Vec<u8>) = match head {
        Head::Closed => return Ok(()),
        Head::TooLarge => (
            "431 Request Header Fields Too Large",
            "text/plain",
            b"request too large\n".to_vec(),
        ),
        Head::Complete(len) => route(&buf[..len], handle, sources),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    match tokio::time::timeout(WRITE_DEADLINE, async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    })
    .await
    {
        Ok(r) => r?,
        Err(_) => {
            debug!("metrics request: answer not taken in time; closing");
            return Ok(());
        }
    }
    // A lingering close: what the client sent beyond the head (a refused
    // huge request) is read and dropped for a while, so that closing with
    // unread data does not reset the connection before the client has read
    // the answer.
    let _ = tokio::time::timeout(LINGER, async {
        let mut drained = 0;
        while drained < MAX_LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// The head ends at this length (its blank line included).
    Complete(usize),
    /// [`MAX_REQUEST`] bytes without the blank line.
    TooLarge,
    /// The peer closed first.
    Closed,
}

/// Reads a request head into `buf` within [`READ_DEADLINE`] of the
/// connection's start, however the bytes trickle in: `None` when the
/// deadline passes first.
async fn read_head_in_time<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> std::io::Result<Option<Head>> {
    match tokio::time::timeout(READ_DEADLINE, read_head(stream, buf)).await {
        Err(_) => Ok(None),
        Ok(head) => head.map(Some),
    }
}

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> std::io::Result<Head> {
    let mut len = 0;
    loop {
        if let Some(i) = memchr::memmem::find(&buf[..len], b"\r\n\r\n") {
            return Ok(Head::Complete(i + 4));
        }
        if len == buf.len() {
            return Ok(Head::TooLarge);
        }
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        len += n;
    }
}

/// The answer to a request head: status line, content type and body.
fn route(
    head: &[u8],
    handle: &PrometheusHandle,
    sources: &Sources,
) -> (&'static str, &'static str, Vec<u8>) {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next());
    let path = target.map(|t| t.split(|&b| b == b'?').next().unwrap_or_default());
    if method != b"GET" {
        return (
            "405 Method Not Allowed",
            "text/plain",
            b"only GET\n".to_vec(),
        );
    }
    match path {
        Some(b"/metrics") => {
            sources.sample();
            handle.run_upkeep();
            (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                handle.render().into_bytes(),
            )
        }
        Some(b"/health") => match sources.health.load(Ordering::Relaxed) {
            SERVING => ("200 OK", "text/plain", b"ok\n".to_vec()),
            STARTING => (
                "503 Service Unavailable",
                "text/plain",
                b"starting\n".to_vec(),
            ),
            _ => (
                "503 Service Unavailable",
                "text/plain",
                b"stopping\n".to_vec(),
            ),
        },
        Some(_) => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        None => ("400 Bad Request", "text/plain", b"bad request\n".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_head_never_finished_is_given_up_at_the_deadline() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client
            .write_all(b"GET /metrics HTTP/1.1\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; MAX_REQUEST];
        let head = read_head_in_time(&mut server, &mut buf).await.unwrap();
        assert_eq!(head, None);
        assert_eq!(started.elapsed(), READ_DEADLINE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickled_head_does_not_extend_the_deadline() {
        let (mut client, mut server) = tokio::io::duplex(64);
        // One byte every 100 ms, never the blank line: the deadline runs
        // from the start, not from the last byte.
        let trickle = tokio::spawn(async move {
            for _ in 0..100 {
                if client.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let started = Instant::now();
        let mut buf = [0u8; MAX_REQUEST];
        let head = read_head_in_time(&mut server, &mut buf).await.unwrap();
        assert_eq!(head, None);
        assert_eq!(started.elapsed(), READ_DEADLINE);
        trickle.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn complete_oversized_and_closed_heads() {
        let mut buf = [0u8; MAX_REQUEST];
        let (mut client, mut server) = tokio::io::duplex(64);
        client
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nrest")
            .await
            .unwrap();
        let head = read_head_in_time(&mut server, &mut buf).await.unwrap();
        assert_eq!(head, Some(Head::Complete(33)));

        let (mut client, mut server) = tokio::io::duplex(MAX_REQUEST + 16);
        client.write_all(&[b'a'; MAX_REQUEST + 8]).await.unwrap();
        let head = read_head_in_time(&mut server, &mut buf).await.unwrap();
        assert_eq!(head, Some(Head::TooLarge));

        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(b"GET /").await.unwrap();
        drop(client);
        let head = read_head_in_time(&mut server, &mut buf).await.unwrap();
        assert_eq!(head, Some(Head::Closed));
    }
}
