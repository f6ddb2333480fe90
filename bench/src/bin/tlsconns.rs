//! The client of `bench/tls.sh`: opens many TLS or secure WebSocket
//! connections to a SIP server and holds them idle (for the memory each
//! costs the server), or completes handshakes one after another (for the
//! handshakes a second it takes).
//!
//! usage: tlsconns hold|rate --target ADDR --ca FILE [--wss] [--count N]
//!                 [--hold SECONDS] [--concurrency N]
//!
//! `hold`: opens `--count` connections (each sends an OPTIONS and reads
//! the answer, so it is fully set up on both sides), prints `open N`,
//! keeps them idle for `--hold` seconds (default 30), then closes them.
//! `rate`: completes `--count` handshakes (TLS, or TLS and the WebSocket
//! upgrade) with `--concurrency` at a time (default 4), each connection
//! closed at once, and prints `handshakes N seconds S per_second R`.
//!
//! Source addresses cycle over 127.0.0.1-127.0.0.250 so that a server's
//! per-source connection limit is not what is measured. Every wait is
//! bounded; the process exits when done.

use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const WAIT: Duration = Duration::from_secs(20);

struct Args {
    mode: String,
    target: SocketAddr,
    ca: String,
    wss: bool,
    count: usize,
    hold: Duration,
    concurrency: usize,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("hold or rate")?;
    let mut a = Args {
        mode,
        target: "127.0.0.1:5061".parse().unwrap(),
        ca: String::new(),
        wss: false,
        count: 1000,
        hold: Duration::from_secs(30),
        concurrency: 4,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--target" => a.target = value()?.parse().map_err(|e| format!("--target: {e}"))?,
            "--ca" => a.ca = value()?,
            "--wss" => a.wss = true,
            "--count" => a.count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--hold" => {
                a.hold = Duration::from_secs(value()?.parse().map_err(|e| format!("--hold: {e}"))?)
            }
            "--concurrency" => {
                a.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.ca.is_empty() {
        return Err("--ca FILE is needed".into());
    }
    Ok(a)
}

fn connector(ca: &str) -> TlsConnector {
    let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("{ca}: {e}"));
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("a PEM certificate")).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

fn source(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % 250) as u8)), 0)
}

async fn tls(i: usize, a: &Args, c: &TlsConnector) -> std::io::Result<TlsStream<TcpStream>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(source(i))?;
    let tcp = socket.connect(a.target).await?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::IpAddress(a.target.ip().into());
    c.connect(name, tcp).await
}

fn options(i: usize, transport: &str) -> String {
    format!(
        "OPTIONS sip:bench@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} bench.invalid;branch=z9hG4bKconn{i}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bench@127.0.0.1>\r\n\
         From: <sip:conns@bench.invalid>;tag={i}\r\n\
         Call-ID: conn-{i}@bench\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A connection held open: a TLS stream, or a WebSocket over one.
enum Held {
    Tls(#[allow(dead_code)] Box<TlsStream<TcpStream>>),
    Ws(#[allow(dead_code)] Box<tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>>),
}

async fn answered<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<()> {
    let mut buf = [0u8; 2048];
    let n = s.read(&mut buf).await?;
    if n == 0 || !buf.starts_with(b"SIP/2.0 ") {
        return Err(std::io::Error::other("no SIP answer"));
    }
    Ok(())
}

async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    s: S,
    a: &Args,
) -> std::io::Result<tokio_tungstenite::WebSocketStream<S>> {
    let mut req = format!("wss://{}/", a.target)
        .into_client_request()
        .map_err(std::io::Error::other)?;
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    let (ws, _) = tokio_tungstenite::client_async(req, s)
        .await
        .map_err(std::io::Error::other)?;
    Ok(ws)
}

/// Opens connection `i` and has one request answered on it.
async fn open(i: usize, a: &Args, c: &TlsConnector) -> std::io::Result<Held> {
    let mut s = tls(i, a, c).await?;
    if !a.wss {
        s.write_all(options(i, "TLS").as_bytes()).await?;
        answered(&mut s).await?;
        return Ok(Held::Tls(Box::new(s)));
    }
    let mut ws = upgrade(s, a).await?;
    ws.send(Message::text(options(i, "WSS")))
        .await
        .map_err(std::io::Error::other)?;
    match timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) if t.starts_with("SIP/2.0 ") => Ok(Held::Ws(Box::new(ws))),
        other => Err(std::io::Error::other(format!("no SIP answer: {other:?}"))),
    }
}

async fn hold(a: Args) -> Result<(), String> {
    let c = connector(&a.ca);
    let mut held = Vec::with_capacity(a.count);
    let started = Instant::now();
    for i in 0..a.count {
        match timeout(WAIT, open(i, &a, &c)).await {
            Ok(Ok(h)) => held.push(h),
            Ok(Err(e)) => return Err(format!("connection {i}: {e}")),
            Err(_) => return Err(format!("connection {i}: timed out")),
        }
    }
    println!(
        "open {} in {:.1} s",
        held.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(a.hold).await;
    drop(held);
    Ok(())
}

async fn rate(a: Args) -> Result<(), String> {
    let a = Arc::new(a);
    let c = connector(&a.ca);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency.max(1) {
        let (a, c, next) = (a.clone(), c.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= a.count {
                    return Ok::<(), String>(());
                }
                let done = timeout(WAIT, async {
                    let s = tls(i, &a, &c).await?;
                    if a.wss {
                        upgrade(s, &a).await?;
                    }
                    Ok::<(), std::io::Error>(())
                })
                .await;
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(format!("handshake {i}: {e}")),
                    Err(_) => return Err(format!("handshake {i}: timed out")),
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "handshakes {} seconds {secs:.3} per_second {:.0}",
        a.count,
        a.count as f64 / secs
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tlsconns: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let r = match a.mode.as_str() {
        "hold" => hold(a).await,
        "rate" => rate(a).await,
        other => Err(format!("unknown mode {other} (hold or rate)")),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tlsconns: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
