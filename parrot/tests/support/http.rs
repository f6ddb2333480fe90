//! The server's metrics listener seen from a test: one HTTP/1.1 request
//! per connection, the answer read until the listener closes, and the
//! samples of a Prometheus page.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long the listener may take to answer and close.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Sends `request` raw and reads until the listener closes: the status
/// code (0 for no status line) and the whole answer.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(request).await.expect("writes");
    let mut out = Vec::new();
    timeout(ANSWER_WAIT, s.read_to_end(&mut out))
        .await
        .expect("the listener answers and closes in time")
        .expect("reads");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// `GET path`: the status code and the whole answer.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
    )
    .await
}

/// The value of the sample `series` (name and labels, exactly as the
/// exporter writes them) in a `/metrics` page.
pub fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}
