//! `--otlp URL` on a real `answer` process (the `otel` feature): the span
//! of an OPTIONS it answered reaches an OTLP/HTTP receiver run by the
//! test, with the request's Call-ID and method as attributes, its DEBUG
//! child span with the Via branch and the peer, and `service.name` =
//! `answer`; the last spans are sent when the process stops on SIGINT.
#![cfg(feature = "otel")]

use serde_json::Value;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// The bound on each wait for the process.
const WAIT: Duration = Duration::from_secs(20);

/// One request the receiver got: its path and its body, parsed as JSON.
type Post = (String, Value);

/// A minimal OTLP/HTTP receiver on loopback: every POST is answered
/// `200` with an empty JSON object (an export that fully succeeded) and
/// handed to the test.
async fn receiver() -> (SocketAddr, mpsc::UnboundedReceiver<Post>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve(conn, tx.clone()));
        }
    });
    (addr, rx)
}

/// Serves one connection's requests (the exporter keeps it open).
async fn serve(mut conn: TcpStream, posts: mpsc::UnboundedSender<Post>) {
    let mut buf = Vec::new();
    loop {
        // The head, up to the blank line.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        assert!(head.starts_with("POST "), "not a POST:\n{head}");
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/json"),
            "{head}"
        );
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Content-Length:\n{head}"));
        while buf.len() < length {
            let mut chunk = [0u8; 65_536];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..length).collect();
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("body not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        // Handed over before the answer: once the exporter has its 200,
        // the test has the body.
        let _ = posts.send((path, json));
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                      Content-Length: 2\r\n\r\n{}";
        if conn.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The `answer` process, killed if the test ends before it exits.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An OTLP attribute list's string value for `key`.
fn attribute<'a>(attributes: &'a Value, key: &str) -> Option<&'a str> {
    attributes
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?
        .pointer("/value/stringValue")?
        .as_str()
}

/// Every span received, each with its resource's `service.name`.
fn spans(posts: &[Post]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (_, body) in posts {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            let service = attribute(&resource["resource"]["attributes"], "service.name")
                .unwrap_or("")
                .to_owned();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    out.push((service.clone(), span.clone()));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_exports_the_request_span_over_otlp() {
    let (collector, mut posts) = receiver().await;
    // A port free a moment ago; the process binds it (UDP and TCP).
    let port = StdUdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_answer"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--otlp",
            &format!("http://{collector}"),
        ])
        // DEBUG for parrot: the `tx` child span too.
        .env("RUST_LOG", "info,parrot=debug")
        // The name must come from the binary.
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("answer starts");
    let mut process = Process(child);

    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = peer.local_addr().unwrap();
    let call_id = format!("otel-trace-{}", std::process::id());
    let options = format!(
        "OPTIONS sip:answer@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-otel-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@127.0.0.1>;tag=o1\r\n\
         To: <sip:answer@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // Until the process listens (a retransmission is absorbed by the
    // same transaction): bounded.
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 65_536];
    let answered = loop {
        peer.send_to(options.as_bytes(), ("127.0.0.1", port))
            .await
            .unwrap();
        if let Ok(Ok((n, _))) = timeout(Duration::from_millis(200), peer.recv_from(&mut buf)).await
        {
            break String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "answer did not answer OPTIONS in time"
        );
    };
    assert!(answered.starts_with("SIP/2.0 200 OK"), "{answered}");

    // SIGINT: a graceful stop, after which the export sends what it holds.
    let pid = libc::pid_t::try_from(process.0.id()).unwrap();
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "answer did not exit after SIGINT"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "answer exited with {status}");

    // Every export was answered before the process exited, so its body
    // is already here.
    let mut received = Vec::new();
    while let Ok(post) = posts.try_recv() {
        received.push(post);
    }
    assert!(!received.is_empty(), "nothing was exported");
    for (path, _) in &received {
        assert_eq!(path, "/v1/traces");
    }
    let spans = spans(&received);
    let dump = || serde_json::to_string_pretty(&spans).unwrap();
    let (service, request) = spans
        .iter()
        .find(|(_, s)| {
            s["name"] == "sip" && attribute(&s["attributes"], "call_id") == Some(&call_id)
        })
        .unwrap_or_else(|| panic!("no `sip` span with Call-ID {call_id}:\n{}", dump()));
    assert_eq!(service, "answer");
    assert_eq!(attribute(&request["attributes"], "method"), Some("OPTIONS"));
    // Its DEBUG child: same trace, the transaction's branch and our address.
    let tx = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s["name"] == "tx" && s["parentSpanId"] == request["spanId"])
        .unwrap_or_else(|| panic!("no `tx` span under the request's:\n{}", dump()));
    assert_eq!(tx["traceId"], request["traceId"]);
    assert_eq!(
        attribute(&tx["attributes"], "branch"),
        Some("z9hG4bK-otel-1")
    );
    assert_eq!(
        attribute(&tx["attributes"], "peer"),
        Some(me.to_string().as_str())
    );
}
