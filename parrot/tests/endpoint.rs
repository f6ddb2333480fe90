//! Transports and transactions together over loopback: requests answered
//! over UDP and TCP, retransmissions absorbed, CANCEL → 200 + 487, client
//! retransmission until Timer F / B, client transactions failing as soon
//! as the TCP connection their request went over closes unanswered, and
//! transactions completing across a lossy link. Every socket binds port 0 so tests run in parallel; timers
//! run on tokio's paused clock.

use parrot::endpoint::{ClientEvent, Endpoint, EndpointConfig, ServerEvent, ServerEvents};
use parrot::message::{Method, Request, Response, StatusCode};
use parrot::transaction::Timer;
use parrot::transport::{ListenerConfig, Protocol, Target, TransportConfig};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

mod support;

use support::{parse_request, parse_response, recv_datagram};

const WAIT: Duration = Duration::from_secs(120);

fn config() -> EndpointConfig {
    EndpointConfig {
        transport: TransportConfig {
            listeners: vec![ListenerConfig::udp_tcp("127.0.0.1:0".parse().unwrap())],
            ..TransportConfig::default()
        },
        ..EndpointConfig::default()
    }
}

async fn endpoint() -> (Endpoint, ServerEvents, SocketAddr) {
    let (ep, events) = Endpoint::bind(config()).await.expect("bind");
    let addr = ep.transport().local_addr(Protocol::Udp).unwrap();
    (ep, events, addr)
}

fn request_text(method: &str, via: &str, branch: &str, cseq_method: &str) -> String {
    format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{via};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         From: <sip:alice@127.0.0.1>;tag=1928301774\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 {cseq_method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

async fn recv_response(sock: &UdpSocket) -> Response {
    parse_response(&recv_datagram(sock, WAIT).await.0)
}

async fn next_request(events: &mut ServerEvents) -> (parrot::transaction::TransactionId, Request) {
    loop {
        match timeout(WAIT, events.recv())
            .await
            .expect("an event")
            .expect("open")
        {
            ServerEvent::Request { id, request, .. } => return (id, *request),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn udp_request_is_answered() {
    let (ep, mut events, addr) = endpoint().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let via = format!("UDP {}", sock.local_addr().unwrap());
    sock.send_to(
        request_text("OPTIONS", &via, "z9hG4bKudp1", "OPTIONS").as_bytes(),
        addr,
    )
    .await
    .unwrap();
    let (id, req) = next_request(&mut events).await;
    assert_eq!(req.method, Method::Options);
    ep.respond(id, req.reply(StatusCode::OK));
    let resp = recv_response(&sock).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.headers.top_via().unwrap().branch(),
        Some("z9hG4bKudp1")
    );
}

#[tokio::test]
async fn tcp_request_is_answered_on_its_connection() {
    let (ep, mut events, _) = endpoint().await;
    let addr = ep.transport().local_addr(Protocol::Tcp).unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let via = format!("TCP {}", stream.local_addr().unwrap());
    stream
        .write_all(request_text("REGISTER", &via, "z9hG4bKtcp1", "REGISTER").as_bytes())
        .await
        .unwrap();
    let (id, req) = next_request(&mut events).await;
    ep.respond(id, req.reply(StatusCode::OK));
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = timeout(WAIT, stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(parse_response(&got).status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn retransmitted_request_is_answered_by_the_transaction_not_the_tu() {
    let (ep, mut events, addr) = endpoint().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let via = format!("UDP {}", sock.local_addr().unwrap());
    let invite = request_text("INVITE", &via, "z9hG4bKretx", "INVITE");
    sock.send_to(invite.as_bytes(), addr).await.unwrap();
    let (id, req) = next_request(&mut events).await;
    ep.respond(id, req.reply(StatusCode::BUSY_HERE));
    assert_eq!(recv_response(&sock).await.status, StatusCode::BUSY_HERE);
    // The retransmitted INVITE gets the 486 again, from the transaction.
    sock.send_to(invite.as_bytes(), addr).await.unwrap();
    assert_eq!(recv_response(&sock).await.status, StatusCode::BUSY_HERE);
    // ACK it so the transaction can finish; nothing more reaches the TU.
    let ack = request_text("ACK", &via, "z9hG4bKretx", "ACK");
    sock.send_to(ack.as_bytes(), addr).await.unwrap();
    tokio::time::sleep(Duration::from_secs(40)).await;
    while let Ok(ev) = events.try_recv() {
        assert!(
            !matches!(ev, ServerEvent::Request { .. }),
            "the TU saw a retransmission: {ev:?}"
        );
    }
    assert_eq!(ep.live_transactions(), 0);
}

#[tokio::test(start_paused = true)]
async fn cancel_gets_200_and_the_invite_487() {
    let (_ep, mut events, addr) = endpoint().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let via = format!("UDP {}", sock.local_addr().unwrap());
    sock.send_to(
        request_text("INVITE", &via, "z9hG4bKcan", "INVITE").as_bytes(),
        addr,
    )
    .await
    .unwrap();
    let (id, _req) = next_request(&mut events).await;
    // The TU stays silent: the transaction sends 100 Trying at 200 ms.
    assert_eq!(recv_response(&sock).await.status, StatusCode::TRYING);
    sock.send_to(
        request_text("CANCEL", &via, "z9hG4bKcan", "CANCEL").as_bytes(),
        addr,
    )
    .await
    .unwrap();
    let mut got = [recv_response(&sock).await, recv_response(&sock).await];
    got.sort_by_key(|r| r.status);
    assert_eq!(got[0].status, StatusCode::OK);
    assert_eq!(got[0].headers.cseq().unwrap().method, Method::Cancel);
    assert_eq!(got[1].status, StatusCode::REQUEST_TERMINATED);
    assert_eq!(got[1].headers.cseq().unwrap().method, Method::Invite);
    loop {
        match timeout(WAIT, events.recv()).await.unwrap().unwrap() {
            ServerEvent::Cancelled { id: c } => {
                assert_eq!(c, id);
                break;
            }
            ServerEvent::Request { request, .. } => panic!("TU saw {request:?}"),
            _ => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn unanswered_non_invite_is_retransmitted_until_timer_f() {
    let (ep, _events, _) = endpoint().await;
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let req = client_request(&ep, Method::Options, Protocol::Udp);
    let tx = ep
        .request(req.clone(), Target::udp(silent.local_addr().unwrap()))
        .await
        .unwrap();
    let resp = timeout(WAIT, tx.final_response(&req)).await.unwrap();
    assert_eq!(resp.status, StatusCode::REQUEST_TIMEOUT);
    // 1 + 10 retransmissions (0.5, 1, 2, 4, 4, ... s until 32 s).
    assert_eq!(count_datagrams(&silent), 11);
}

#[tokio::test(start_paused = true)]
async fn unanswered_invite_is_retransmitted_until_timer_b() {
    let (ep, _events, _) = endpoint().await;
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let req = client_request(&ep, Method::Invite, Protocol::Udp);
    let mut tx = ep
        .request(req, Target::udp(silent.local_addr().unwrap()))
        .await
        .unwrap();
    let ev = timeout(WAIT, tx.next()).await.unwrap();
    assert_eq!(ev, Some(ClientEvent::Timeout(Timer::B)));
    // 1 + 6 retransmissions (0.5, 1, 2, 4, 8, 16 s gaps) before 32 s.
    assert_eq!(count_datagrams(&silent), 7);
}

/// Reads from `stream` until a whole message with an empty body (the
/// end of its header block) has arrived.
async fn read_header_block(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = timeout(WAIT, stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Waits for `tx`'s outcome: its final response, timeout or transport
/// error, and how long it took on the (paused) clock.
async fn outcome(
    tx: &mut parrot::endpoint::ClientTransaction,
    since: tokio::time::Instant,
) -> (ClientEvent, Duration) {
    loop {
        let ev = timeout(WAIT, tx.next())
            .await
            .expect("an outcome")
            .expect("an event before the transaction ends");
        if !matches!(&ev, ClientEvent::Response(r) if r.status.is_provisional()) {
            return (ev, since.elapsed());
        }
    }
}

/// RFC 3261 §17.1.4: a request written to a TCP peer that then closes
/// the connection without answering fails as soon as the closing is
/// seen, with a transport error (503 to the TU), not at Timer F 32 s
/// later: nothing is retransmitted over TCP, and the answer could only
/// have come back over that connection. Here the endpoint opened the
/// connection for the request.
#[tokio::test(start_paused = true)]
async fn request_fails_at_once_when_its_new_connection_closes_unanswered() {
    let (ep, _events, _) = endpoint().await;
    let peer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let req = client_request(&ep, Method::Message, Protocol::Tcp);
    let start = tokio::time::Instant::now();
    let tx = ep
        .request(req.clone(), Target::tcp(peer.local_addr().unwrap()))
        .await
        .unwrap();
    let (mut stream, _) = timeout(WAIT, peer.accept()).await.unwrap().unwrap();
    let got = parse_request(&String::from_utf8(read_header_block(&mut stream).await).unwrap());
    assert_eq!(got.method, Method::Message);
    // The peer hangs up without a word.
    drop(stream);
    let resp = timeout(WAIT, tx.final_response(&req)).await.unwrap();
    let took = start.elapsed();
    // 503, not Timer F's 408 (§8.1.3.1).
    assert_eq!(
        resp.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "after {took:?}"
    );
    assert!(took < Duration::from_secs(16), "failed only after {took:?}");
}

/// The same over a flow (RFC 5626 §5.3): the request goes down the
/// connection the peer opened, which the peer then closes unanswered.
#[tokio::test(start_paused = true)]
async fn request_over_a_flow_fails_at_once_when_the_peer_closes_it() {
    let (ep, mut events, _) = endpoint().await;
    let addr = ep.transport().local_addr(Protocol::Tcp).unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let via = format!("TCP {}", stream.local_addr().unwrap());
    stream
        .write_all(request_text("REGISTER", &via, "z9hG4bKflow1", "REGISTER").as_bytes())
        .await
        .unwrap();
    let (origin, register) = loop {
        match timeout(WAIT, events.recv()).await.unwrap().unwrap() {
            ServerEvent::Request {
                id,
                request,
                origin,
            } => {
                ep.respond(id, request.reply(StatusCode::OK));
                break (origin, request);
            }
            _ => continue,
        }
    };
    assert_eq!(register.method, Method::Register);
    read_header_block(&mut stream).await;
    let flow = Target::flow_of(&origin);
    assert!(flow.flow.is_some());

    // Two requests down the flow, one of them answered.
    let answered = client_request(&ep, Method::Options, Protocol::Tcp);
    let unanswered = client_request(&ep, Method::Message, Protocol::Tcp);
    let start = tokio::time::Instant::now();
    let mut answered_tx = ep.request(answered.clone(), flow).await.unwrap();
    let got = parse_request(&String::from_utf8(read_header_block(&mut stream).await).unwrap());
    assert_eq!(got.method, Method::Options);
    let ok = got.reply(StatusCode::OK);
    stream.write_all(&ok.to_bytes()).await.unwrap();
    let (ev, _) = outcome(&mut answered_tx, start).await;
    assert!(matches!(ev, ClientEvent::Response(r) if r.status == StatusCode::OK));
    let mut tx = ep.request(unanswered.clone(), flow).await.unwrap();
    let got = parse_request(&String::from_utf8(read_header_block(&mut stream).await).unwrap());
    assert_eq!(got.method, Method::Message);
    // A UDP transaction in progress meanwhile.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp = client_request(&ep, Method::Options, Protocol::Udp);
    let udp_start = tokio::time::Instant::now();
    let mut udp_tx = ep
        .request(udp, Target::udp(silent.local_addr().unwrap()))
        .await
        .unwrap();
    drop(stream);
    let (ev, took) = outcome(&mut tx, start).await;
    assert_eq!(ev, ClientEvent::TransportError, "after {took:?}");
    assert!(took < Duration::from_secs(16), "failed only after {took:?}");
    // The UDP one is not concerned: it runs until Timer F.
    let (ev, took) = outcome(&mut udp_tx, udp_start).await;
    assert_eq!(ev, ClientEvent::Timeout(Timer::F));
    assert!(took >= Duration::from_secs(32), "{took:?}");
}

fn count_datagrams(sock: &UdpSocket) -> usize {
    let mut buf = vec![0u8; 65535];
    let mut n = 0;
    while sock.try_recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

fn client_request(ep: &Endpoint, method: Method, protocol: Protocol) -> Request {
    let via = ep.via(protocol).unwrap();
    let branch = via.branch().unwrap().to_owned();
    let cseq = if method == Method::Invite {
        "INVITE"
    } else {
        method.as_str()
    };
    let text = format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         From: <sip:alice@127.0.0.1>;tag=1928301774\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 {cseq}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    parse_request(&text)
}

/// A UDP relay between a client and a server endpoint that drops a seeded
/// random fraction of the datagrams in both directions.
async fn lossy_relay(
    client: SocketAddr,
    server: SocketAddr,
    loss_percent: u64,
    seed: u64,
) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut state = seed;
        let mut buf = vec![0u8; 65535];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            // xorshift64: deterministic for a given seed.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state % 100 < loss_percent {
                continue;
            }
            let to = if from == client { server } else { client };
            let _ = sock.send_to(&buf[..n], to).await;
        }
    });
    addr
}

#[tokio::test(start_paused = true)]
async fn transactions_complete_across_a_lossy_link() {
    let (server, mut server_events, server_addr) = endpoint().await;
    let (client, _client_events, client_addr) = endpoint().await;
    let relay = lossy_relay(client_addr, server_addr, 25, 0x5eed_1234_abcd_0001).await;

    // The server TU: 200 to every non-INVITE, 486 to every INVITE (a
    // non-2xx final is retransmitted by the transaction itself, Timer G).
    let server_tu = server.clone();
    tokio::spawn(async move {
        while let Some(ev) = server_events.recv().await {
            if let ServerEvent::Request { id, request, .. } = ev {
                let status = if request.method == Method::Invite {
                    StatusCode::BUSY_HERE
                } else {
                    StatusCode::OK
                };
                server_tu.respond(id, request.reply(status));
            }
        }
    });

    let mut calls = Vec::new();
    for i in 0..60 {
        let method = if i % 2 == 0 {
            Method::Invite
        } else {
            Method::Message
        };
        let req = client_request(&client, method, Protocol::Udp);
        let tx = client
            .request(req.clone(), Target::udp(relay))
            .await
            .unwrap();
        calls.push(tokio::spawn(async move {
            (req.method.clone(), tx.final_response(&req).await.status)
        }));
    }
    for call in calls {
        let (method, status) = call.await.unwrap();
        let expected = if method == Method::Invite {
            StatusCode::BUSY_HERE
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "{method} did not complete");
    }
    // Every transaction ends on both sides: nothing leaks.
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert_eq!(client.live_transactions(), 0);
    assert_eq!(server.live_transactions(), 0);
}
