//! The `answer` example with its metrics listener (`--metrics`): after
//! SIPp's built-in `uac` calls, `GET /metrics` shows the calls' requests
//! and responses in the Prometheus text format, and `GET /health` says
//! `200 ok`. (The recorder is the process's: other tests running in this
//! process may add to the counters, so they are checked as lower bounds.)

use examples::listen::Listen;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use tests::{LOOPBACK, Server, Sipp, Transport, free_port};

/// `GET path` on `addr`: the status line and the body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("an answer");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// The value of the sample `name` (with its labels) in `page`.
fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{page}"))
}

#[test]
fn metrics_count_sipp_calls_and_health_answers() {
    let metrics = SocketAddr::from((LOOPBACK, free_port()));
    let server = Server::start("answer with metrics", move |addr, shutdown| {
        let mut listen = Listen::from(addr);
        listen.metrics = Some(metrics);
        examples::answer::serve(listen, shutdown)
    });
    let (status, body) = get(metrics, "/health");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let calls = 20;
    Sipp::builtin("uac", server.addr())
        .transport(Transport::Udp)
        .calls(calls)
        .rate(20)
        .run()
        .assert_all_successful();
    let (status, page) = get(metrics, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        page.contains("# TYPE parrot_requests_received_total counter"),
        "{page}"
    );
    let calls = f64::from(calls);
    for method in ["INVITE", "ACK", "BYE"] {
        let name = format!("parrot_requests_received_total{{method=\"{method}\"}}");
        assert!(
            sample(&page, &name) >= calls,
            "{name} below {calls}:\n{page}"
        );
    }
    // A 200 to each INVITE and to each BYE.
    assert!(sample(&page, "parrot_responses_sent_total{class=\"2xx\"}") >= 2.0 * calls);
    // Each INVITE's and BYE's response time is in the histogram.
    assert!(page.contains("# TYPE parrot_response_time_seconds histogram"));
    for method in ["INVITE", "BYE"] {
        let name = format!("parrot_response_time_seconds_count{{method=\"{method}\"}}");
        assert!(sample(&page, &name) >= calls, "{name} below {calls}");
    }
    eprintln!(
        "[metrics] {}",
        page.lines()
            .filter(|l| l.starts_with("parrot_") && !l.contains("bucket"))
            .collect::<Vec<_>>()
            .join("\n[metrics] ")
    );
    server.stop();
}
