//! `--log-json` and `--trace-sip` on a real `answer` process: every line
//! it logs is a JSON object, and the SIP trace of an OPTIONS exchange is
//! among them (target `parrot::sip`, both directions, the message text).

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn answer_logs_json_lines_with_the_sip_trace() {
    // A port free a moment ago; the process binds it (UDP and TCP).
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_answer"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-json",
            "--trace-sip",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("answer starts");
    // Its log, line by line, as it comes.
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let me = peer.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:answer@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-json-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@127.0.0.1>;tag=j1\r\n\
         To: <sip:answer@127.0.0.1>\r\n\
         Call-ID: json-trace-1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // Until the process listens: bounded by ten seconds.
    let started = Instant::now();
    let mut buf = [0u8; 65_536];
    let answered = loop {
        peer.send_to(options.as_bytes(), ("127.0.0.1", port))
            .unwrap();
        if let Ok((n, _)) = peer.recv_from(&mut buf) {
            break String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "answer did not answer OPTIONS within 10 s"
        );
    };
    assert!(answered.starts_with("SIP/2.0 200 OK"), "{answered}");
    // Read until the trace of our 200 (sent) has been logged: bounded.
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log
        .iter()
        .any(|l: &String| l.contains("\"direction\":\"out\"") && l.contains("json-trace-1"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => log.push(line),
            Err(_) => panic!("no trace of the 200 within 10 s:\n{}", log.join("\n")),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log = log.join("\n");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "nothing logged");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let traced: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["target"] == "parrot::sip")
        .filter(|l| l.to_string().contains("json-trace-1"))
        .collect();
    let directions: Vec<String> = traced
        .iter()
        .map(|l| l["fields"]["direction"].to_string())
        .collect();
    assert!(directions.iter().any(|d| d.contains("in")), "{log}");
    assert!(directions.iter().any(|d| d.contains("out")), "{log}");
}
