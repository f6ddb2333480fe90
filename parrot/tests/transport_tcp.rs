//! TCP transport over loopback (RFC 3261 §18, RFC 5626 §3.5.1): framing,
//! keep-alives, misbehaving peers, connection cap, idle timeout, connection
//! reuse and response routing. Every socket binds port 0, so tests run in
//! parallel; waits are bounded and event-driven.

use bytes::Bytes;
use parrot::message::{Frame, Limits, Message, Response, StreamDecoder};
use parrot::message::{HeaderName, StatusCode};
use parrot::transport::{
    Incoming, ListenerConfig, Protocol, SendOptions, Target, TransportConfig, TransportError,
    TransportLayer,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

mod support;

use support::{WAIT, expect_closed, next, parse_request, request, top_via, wait_connections};

fn tcp_request(call_id: &str) -> String {
    request(
        "OPTIONS",
        "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKt",
        call_id,
        "",
    )
}

fn config(addr: &str) -> TransportConfig {
    TransportConfig {
        listeners: vec![ListenerConfig::tcp(addr.parse().unwrap())],
        ..TransportConfig::default()
    }
}

async fn bind(config: TransportConfig) -> (TransportLayer, Receiver<Box<Incoming>>, SocketAddr) {
    let (t, rx) = TransportLayer::bind(config).await.unwrap();
    let addr = t.local_addr(Protocol::Tcp).unwrap();
    (t, rx, addr)
}

fn call_id(inc: &Incoming) -> String {
    inc.message
        .headers()
        .get(HeaderName::CallId)
        .unwrap()
        .to_string()
}

/// Reads one frame from a raw client stream.
async fn read_frame(s: &mut TcpStream, dec: &mut StreamDecoder) -> Frame {
    timeout(WAIT, async {
        loop {
            if let Some(f) = dec.decode().expect("framing") {
                return f;
            }
            let n = s.read_buf(dec.buffer_mut()).await.expect("read");
            assert!(n > 0, "closed while waiting for a frame");
        }
    })
    .await
    .expect("no frame")
}

async fn read_response(s: &mut TcpStream) -> Response {
    let mut dec = StreamDecoder::new(Limits::default());
    match read_frame(s, &mut dec).await {
        Frame::Message(Message::Response(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test]
async fn two_messages_in_one_write() {
    let (t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let both = format!(
        "{}{}",
        tcp_request("one"),
        request("MESSAGE", "SIP/2.0/TCP 192.0.2.1", "two", "body!")
    );
    c.write_all(both.as_bytes()).await.unwrap();
    let a = next(&mut rx).await;
    let b = next(&mut rx).await;
    assert_eq!((call_id(&a), call_id(&b)), ("one".into(), "two".into()));
    assert_eq!(b.message.body().as_ref(), b"body!");
    assert_eq!(a.protocol, Protocol::Tcp);
    assert_eq!(a.source, c.local_addr().unwrap());
    assert_eq!(a.local, addr);
    assert!(a.connection.is_some());
    assert_eq!(a.connection, b.connection);
    // received is stamped on streams too (§18.2.1).
    let via = top_via(&a.message);
    assert!(via.ends_with(";received=127.0.0.1"), "{via}");
    assert_eq!(t.connection_count(), 1);
}

#[tokio::test]
async fn one_message_split_over_many_writes() {
    let (_t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    let msg = request(
        "MESSAGE",
        "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKs",
        "split",
        "0123456789",
    );
    for chunk in msg.as_bytes().chunks(7) {
        c.write_all(chunk).await.unwrap();
        c.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    let inc = next(&mut rx).await;
    assert_eq!(call_id(&inc), "split");
    assert_eq!(inc.message.body().as_ref(), b"0123456789");
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn crlf_ping_gets_pong() {
    let (_t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    // RFC 5626 §3.5.1: CRLFCRLF ping, CRLF pong.
    c.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    timeout(WAIT, c.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // Keep-alives around a message do not disturb it.
    c.write_all(format!("\r\n\r\n{}\r\n", tcp_request("after-ping")).as_bytes())
        .await
        .unwrap();
    timeout(WAIT, c.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    assert_eq!(call_id(&next(&mut rx).await), "after-ping");
}

#[tokio::test]
async fn garbage_peer_is_closed_others_unaffected() {
    let limits = Limits {
        max_head: 1024,
        ..Limits::default()
    };
    let (t, mut rx, addr) = bind(TransportConfig {
        limits,
        ..config("127.0.0.1:0")
    })
    .await;
    let mut good = TcpStream::connect(addr).await.unwrap();
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    let mut flood = TcpStream::connect(addr).await.unwrap();
    wait_connections(&t, 3).await;

    // No Content-Length: the framing is lost, the peer is dropped.
    garbage
        .write_all(b"HELLO garbage\r\nX: y\r\n\r\nmore garbage")
        .await
        .unwrap();
    expect_closed(&mut garbage).await;
    // A header block that never ends, past the limit.
    let _ = flood.write_all(&vec![b'A'; 4096]).await;
    expect_closed(&mut flood).await;
    wait_connections(&t, 1).await;

    good.write_all(tcp_request("still-here").as_bytes())
        .await
        .unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(call_id(&inc), "still-here");
    let Message::Request(req) = &inc.message else {
        panic!()
    };
    t.send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    assert_eq!(read_response(&mut good).await.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_framed_request_gets_400_and_connection_survives() {
    let (_t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let bad = tcp_request("bad").replace("Max-Forwards: 70\r\n", "Max-Forwards: lots\r\n");
    c.write_all(bad.as_bytes()).await.unwrap();
    let r = read_response(&mut c).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.reason, "Bad Max-Forwards header: not a number");
    assert_eq!(r.headers.get(HeaderName::CallId).unwrap(), "bad");
    // A malformed response is dropped silently, the stream stays usable.
    c.write_all(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    c.write_all(tcp_request("good").as_bytes()).await.unwrap();
    assert_eq!(call_id(&next(&mut rx).await), "good");
}

#[tokio::test]
async fn connection_cap_is_enforced() {
    let (t, mut rx, addr) = bind(TransportConfig {
        max_connections: 2,
        ..config("127.0.0.1:0")
    })
    .await;
    let mut c1 = TcpStream::connect(addr).await.unwrap();
    let _c2 = TcpStream::connect(addr).await.unwrap();
    wait_connections(&t, 2).await;
    let mut c3 = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut c3).await;
    assert_eq!(t.connection_count(), 2);
    // Outbound connections count too.
    let (other, _orx, other_addr) = bind(config("127.0.0.1:0")).await;
    let err = t
        .send_raw(Bytes::from(tcp_request("x")), Target::tcp(other_addr), None)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::ConnectionLimit), "{err}");
    assert_eq!(other.connection_count(), 0);
    // Existing connections keep working.
    c1.write_all(tcp_request("c1").as_bytes()).await.unwrap();
    assert_eq!(call_id(&next(&mut rx).await), "c1");
    // Once one closes, a new one is accepted.
    drop(c1);
    wait_connections(&t, 1).await;
    let mut c4 = TcpStream::connect(addr).await.unwrap();
    c4.write_all(tcp_request("c4").as_bytes()).await.unwrap();
    assert_eq!(call_id(&next(&mut rx).await), "c4");
}

#[tokio::test(start_paused = true)]
async fn idle_connection_is_closed() {
    let (t, mut rx, addr) = bind(TransportConfig {
        idle_timeout: Duration::from_secs(30),
        ..config("127.0.0.1:0")
    })
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(tcp_request("once").as_bytes()).await.unwrap();
    assert_eq!(call_id(&next(&mut rx).await), "once");
    let before = tokio::time::Instant::now();
    // Paused time auto-advances to the idle deadline.
    timeout(Duration::from_secs(300), async {
        let mut buf = [0u8; 16];
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("not closed");
    assert!(before.elapsed() >= Duration::from_secs(30));
    wait_connections(&t, 0).await;
}

#[tokio::test(start_paused = true)]
async fn traffic_defers_idle_timeout() {
    let (t, _rx, addr) = bind(TransportConfig {
        idle_timeout: Duration::from_secs(30),
        ..config("127.0.0.1:0")
    })
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    wait_connections(&t, 1).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(20)).await;
        c.write_all(b"\r\n\r\n").await.unwrap();
        let mut pong = [0u8; 2];
        timeout(WAIT, c.read_exact(&mut pong))
            .await
            .unwrap()
            .unwrap();
    }
    // 80 s in, still open thanks to the keep-alives.
    assert_eq!(t.connection_count(), 1);
}

#[tokio::test]
async fn response_goes_back_over_the_same_connection() {
    let (t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    // The Via points elsewhere: the open connection wins (§18.2.2).
    c.write_all(tcp_request("same").as_bytes()).await.unwrap();
    let inc = next(&mut rx).await;
    let Message::Request(req) = &inc.message else {
        panic!()
    };
    let sent = t
        .send_response(&req.reply(StatusCode::RINGING), Some(&inc.origin()))
        .await
        .unwrap();
    assert_eq!(sent.connection, inc.connection);
    assert_eq!(sent.remote, c.local_addr().unwrap());
    let r = read_response(&mut c).await;
    assert_eq!(r.status, StatusCode::RINGING);
    assert_eq!(r.headers.get(HeaderName::CallId).unwrap(), "same");
    assert_eq!(t.connection_count(), 1);
}

#[tokio::test]
async fn outgoing_request_reuses_inbound_connection() {
    let (t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(tcp_request("hello").as_bytes()).await.unwrap();
    let inc = next(&mut rx).await;
    let peer = c.local_addr().unwrap();
    assert_eq!(t.connection_to(Protocol::Tcp, peer), inc.connection);
    let mut req = parse_request(&request(
        "NOTIFY",
        "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKn",
        "reuse",
        "",
    ));
    let sent = t
        .send_request(&mut req, Target::tcp(peer), SendOptions::default())
        .await
        .unwrap();
    assert_eq!(sent.connection, inc.connection);
    let mut dec = StreamDecoder::new(Limits::default());
    let Frame::Message(Message::Request(got)) = read_frame(&mut c, &mut dec).await else {
        panic!()
    };
    assert_eq!(got.headers.get(HeaderName::CallId).unwrap(), "reuse");
    assert_eq!(t.connection_count(), 1);
}

/// RFC 5626 §5.3: a request to a flow goes on its connection and no
/// other; once that connection has closed the send fails with
/// `FlowFailed` instead of dialling the peer's ephemeral port, and the
/// closing is announced to `closed_connections`.
#[tokio::test]
async fn a_flow_is_its_connection_and_fails_when_it_closes() {
    let (t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut closings = t.closed_connections();
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(tcp_request("flow").as_bytes()).await.unwrap();
    let inc = next(&mut rx).await;
    let flow = Target::flow_of(&inc.origin());
    let id = inc.connection.expect("a stream connection");
    assert_eq!(flow.flow, Some(id));
    let notify = |call: &str| {
        parse_request(&request(
            "NOTIFY",
            "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKf",
            call,
            "",
        ))
    };
    let sent = t
        .send_request(&mut notify("on-flow"), flow, SendOptions::default())
        .await
        .unwrap();
    assert_eq!(sent.connection, Some(id));
    let mut dec = StreamDecoder::new(Limits::default());
    assert!(matches!(
        read_frame(&mut c, &mut dec).await,
        Frame::Message(Message::Request(_))
    ));

    drop(c);
    let closed = timeout(WAIT, closings.next())
        .await
        .expect("closing announced");
    assert_eq!(closed, Some(parrot::transport::Closing::Closed(id)));
    assert!(!closings.is_open(id));
    let err = t
        .send_request(&mut notify("after"), flow, SendOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::FlowFailed(f) if f == id),
        "{err}"
    );
    assert_eq!(t.connection_count(), 0, "no new connection was dialled");
}

#[tokio::test]
async fn transports_reuse_connections_both_ways() {
    let (a, mut a_rx, a_addr) = bind(config("127.0.0.1:0")).await;
    let (b, mut b_rx, _b_addr) = bind(config("127.0.0.1:0")).await;
    let mut req = parse_request(&request(
        "OPTIONS",
        "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1",
        "r1",
        "",
    ));
    let s1 = b
        .send_request(&mut req, Target::tcp(a_addr), SendOptions::default())
        .await
        .unwrap();
    let mut req = parse_request(&request(
        "OPTIONS",
        "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK2",
        "r2",
        "",
    ));
    let s2 = b
        .send_request(&mut req, Target::tcp(a_addr), SendOptions::default())
        .await
        .unwrap();
    assert_eq!(s1.connection, s2.connection);
    let i1 = next(&mut a_rx).await;
    let i2 = next(&mut a_rx).await;
    assert_eq!(i1.connection, i2.connection);
    // A sends a request back to B's ephemeral address: same connection.
    let mut req = parse_request(&request(
        "NOTIFY",
        "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK3",
        "back",
        "",
    ));
    let s3 = a
        .send_request(&mut req, Target::tcp(i1.source), SendOptions::default())
        .await
        .unwrap();
    assert_eq!(s3.connection, i1.connection);
    let back = next(&mut b_rx).await;
    assert_eq!(back.connection, s1.connection);
    assert_eq!((a.connection_count(), b.connection_count()), (1, 1));
}

#[tokio::test]
async fn response_reconnects_when_connection_is_gone() {
    // §18.2.2: the original connection closed, so a new one is opened to
    // received at the sent-by port.
    let (a, mut a_rx, a_addr) = bind(config("127.0.0.1:0")).await;
    let (_b, mut b_rx, b_addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(a_addr).await.unwrap();
    let via = format!(
        "SIP/2.0/TCP client.invalid:{};branch=z9hG4bKgone",
        b_addr.port()
    );
    c.write_all(request("OPTIONS", &via, "gone", "").as_bytes())
        .await
        .unwrap();
    let inc = next(&mut a_rx).await;
    drop(c);
    wait_connections(&a, 0).await;
    let Message::Request(req) = &inc.message else {
        panic!()
    };
    let sent = a
        .send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    assert_eq!(sent.remote, b_addr);
    assert_ne!(sent.connection, inc.connection);
    let got = next(&mut b_rx).await;
    assert!(matches!(got.message, Message::Response(ref r) if r.status == StatusCode::OK));
}

#[tokio::test]
async fn connection_table_never_leaks() {
    let (t, mut rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(tcp_request(&format!("leak-{i}")).as_bytes())
            .await
            .unwrap();
        clients.push(c);
    }
    for _ in 0..20 {
        next(&mut rx).await;
    }
    wait_connections(&t, 20).await;
    assert_eq!(t.connections().len(), 20);
    // Ten close from the client side...
    let mut rest = clients.split_off(10);
    drop(clients);
    wait_connections(&t, 10).await;
    let id_of = |c: &TcpStream| {
        let me = c.local_addr().unwrap();
        t.connections()
            .iter()
            .find(|i| i.remote == me)
            .map(|i| i.id)
            .unwrap()
    };
    let ids: Vec<_> = rest.iter().map(id_of).collect();
    // ...five are closed locally, five misbehave.
    for id in &ids[..5] {
        assert!(t.close_connection(*id));
    }
    for c in &mut rest[5..] {
        c.write_all(b"garbage\r\n\r\n").await.unwrap();
    }
    wait_connections(&t, 0).await;
    assert!(t.connections().is_empty());
    for c in &mut rest {
        expect_closed(c).await;
    }
    assert!(!t.close_connection(ids[0]));
    assert!(matches!(
        t.send_on(ids[0], Bytes::from_static(b"x")).await,
        Err(TransportError::ConnectionClosed)
    ));
}

#[tokio::test]
async fn shutdown_closes_everything() {
    let (t, _rx, addr) = bind(config("127.0.0.1:0")).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    wait_connections(&t, 1).await;
    t.shutdown();
    expect_closed(&mut c).await;
    wait_connections(&t, 0).await;
    let err = t
        .send_raw(Bytes::from_static(b"x"), Target::tcp(addr), None)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Shutdown), "{err}");
}

#[tokio::test]
async fn keepalive_ping_from_our_side() {
    let (a, _a_rx, a_addr) = bind(config("127.0.0.1:0")).await;
    let (b, _b_rx, _) = bind(config("127.0.0.1:0")).await;
    let mut req = parse_request(&request(
        "OPTIONS",
        "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKk",
        "k",
        "",
    ));
    let sent = b
        .send_request(&mut req, Target::tcp(a_addr), SendOptions::default())
        .await
        .unwrap();
    // A answers B's ping with a pong, which B consumes silently.
    b.send_keepalive(sent.connection.unwrap()).await.unwrap();
    b.send_keepalive(sent.connection.unwrap()).await.unwrap();
    assert_eq!(b.connection_count(), 1);
    assert_eq!(a.connection_count(), 1);
}

#[tokio::test]
async fn ipv6_tcp() {
    let (t, mut rx, addr) = bind(config("[::1]:0")).await;
    assert!(addr.is_ipv6());
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(
        request(
            "OPTIONS",
            "SIP/2.0/TCP [2001:db8::1];rport;branch=z9hG4bK6",
            "v6",
            "",
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let inc = next(&mut rx).await;
    let me = c.local_addr().unwrap();
    assert_eq!(inc.source, me);
    let via = top_via(&inc.message);
    assert_eq!(
        via,
        format!(
            "SIP/2.0/TCP [2001:db8::1];rport={};branch=z9hG4bK6;received=::1",
            me.port()
        )
    );
    let Message::Request(req) = &inc.message else {
        panic!()
    };
    t.send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    assert_eq!(read_response(&mut c).await.status, StatusCode::OK);
}
