//! UDP transport over loopback (RFC 3261 §18, RFC 3581): stamping,
//! response routing, error responses, size limits and the §18.1.1 switch to
//! TCP. Every socket binds port 0, so tests run in parallel.

use bytes::Bytes;
use parrot::message::{HeaderName, StatusCode};
use parrot::message::{Limits, Message, parse_datagram};
use parrot::transport::{
    Incoming, ListenerConfig, Protocol, SendOptions, SentByFuture, SentByResolver, Target,
    TransportConfig, TransportLayer,
};
use std::net::SocketAddr;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::Receiver;

mod support;

use support::{WAIT, next, parse_request, recv_datagram, request, top_via};

async fn bind(listener: ListenerConfig) -> (TransportLayer, Receiver<Box<Incoming>>) {
    TransportLayer::bind(TransportConfig {
        listeners: vec![listener],
        ..TransportConfig::default()
    })
    .await
    .unwrap()
}

async fn recv_text(sock: &UdpSocket) -> (String, SocketAddr) {
    let (data, from) = recv_datagram(sock, WAIT).await;
    (String::from_utf8_lossy(&data).into_owned(), from)
}

#[tokio::test]
async fn request_is_stamped_and_response_goes_to_received_rport() {
    let (t, mut rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let server = t.local_addr(Protocol::Udp).unwrap();
    assert_ne!(server.port(), 0, "actual port is reported");
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();

    // The client claims a private address: the response must still come
    // back to the packet source (RFC 3581 §4).
    let raw = request(
        "OPTIONS",
        "SIP/2.0/UDP 10.9.9.9:5060;rport;branch=z9hG4bKudp1",
        "c1",
        "",
    );
    client.send_to(raw.as_bytes(), server).await.unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(inc.protocol, Protocol::Udp);
    assert_eq!(inc.source, me);
    assert_eq!(inc.local, server);
    assert_eq!(inc.connection, None);
    assert_eq!(
        top_via(&inc.message),
        format!(
            "SIP/2.0/UDP 10.9.9.9:5060;rport={};branch=z9hG4bKudp1;received=127.0.0.1",
            me.port()
        )
    );

    let Message::Request(req) = &inc.message else {
        panic!()
    };
    let sent = t
        .send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    assert_eq!(sent.protocol, Protocol::Udp);
    assert_eq!(sent.remote, me);
    let (text, from) = recv_text(&client).await;
    // Sent from the port the request arrived on (RFC 3581 §4).
    assert_eq!(from, server);
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
    assert!(text.contains(";received=127.0.0.1"));
}

#[tokio::test]
async fn sent_by_matching_source_is_left_alone() {
    let (t, mut rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let server = t.local_addr(Protocol::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    let via = format!("SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bKudp2", me.port());
    client
        .send_to(request("MESSAGE", &via, "c2", "hi").as_bytes(), server)
        .await
        .unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(top_via(&inc.message), via);
    assert_eq!(inc.message.body().as_ref(), b"hi");
    // A response without origin: routed by the Via alone (§18.2.2).
    let Message::Request(req) = &inc.message else {
        panic!()
    };
    t.send_response(&req.reply(StatusCode::ACCEPTED), None)
        .await
        .unwrap();
    let (text, _) = recv_text(&client).await;
    assert!(text.starts_with("SIP/2.0 202 Accepted\r\n"), "{text}");
}

#[tokio::test]
async fn garbage_but_addressable_request_gets_400_with_reason() {
    let (t, mut rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let server = t.local_addr(Protocol::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    let raw = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{};rport;branch=z9hG4bKbad1\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\n\
         f: <sip:alice@example.com>;tag=77\r\n\
         Call-ID: bad-1\r\n\
         CSeq: 1 INVITE\r\n\
         Content-Length: nope\r\n\r\n",
        me.port()
    );
    client.send_to(raw.as_bytes(), server).await.unwrap();
    let (text, from) = recv_text(&client).await;
    assert_eq!(from, server);
    assert!(
        text.starts_with("SIP/2.0 400 Bad Content-Length header\r\n"),
        "{text}"
    );
    let Ok(Message::Response(resp)) = parse_datagram(Bytes::from(text)) else {
        panic!("400 must parse")
    };
    assert_eq!(resp.headers.get(HeaderName::CallId).unwrap(), "bad-1");
    assert_eq!(resp.headers.get(HeaderName::CSeq).unwrap(), "1 INVITE");
    assert_eq!(
        resp.headers.get(HeaderName::From).unwrap(),
        "<sip:alice@example.com>;tag=77"
    );
    assert!(resp.headers.get(HeaderName::To).unwrap().contains(";tag="));
    let via = resp.headers.values(HeaderName::Via).next().unwrap();
    assert!(via.contains(&format!("rport={}", me.port())), "{via}");
    // Nothing was delivered upward.
    assert!(rx.try_recv().is_err());

    // One missing its Call-ID still gets a 400 naming it (RFC 4475
    // §3.3.1), without a Call-ID of course.
    let no_call_id = raw
        .replace("Call-ID: bad-1\r\n", "")
        .replace("Content-Length: nope", "Content-Length: 0");
    client.send_to(no_call_id.as_bytes(), server).await.unwrap();
    let (text, _) = recv_text(&client).await;
    assert!(
        text.starts_with("SIP/2.0 400 Missing Call-ID header\r\n"),
        "{text}"
    );
    assert!(!text.contains("\r\nCall-ID:"), "{text}");
    // An ACK gets nothing; the socket keeps working.
    let ack = raw
        .replace("INVITE sip", "ACK sip")
        .replace("1 INVITE", "1 ACK");
    client.send_to(ack.as_bytes(), server).await.unwrap();
    let ok = request(
        "OPTIONS",
        &format!("SIP/2.0/UDP 127.0.0.1:{}", me.port()),
        "after",
        "",
    );
    client.send_to(ok.as_bytes(), server).await.unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(
        inc.message.headers().get(HeaderName::CallId).unwrap(),
        "after"
    );
    let mut buf = [0u8; 100];
    assert!(
        client.try_recv_from(&mut buf).is_err(),
        "no reply to unanswerable requests"
    );
}

#[tokio::test]
async fn bad_top_via_gets_400_at_packet_source() {
    let (t, mut rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let server = t.local_addr(Protocol::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let raw = request("OPTIONS", "SIP/2.0/UDP host;ttl=999", "badvia", "");
    client.send_to(raw.as_bytes(), server).await.unwrap();
    let (text, _) = recv_text(&client).await;
    assert!(
        text.starts_with("SIP/2.0 400 Bad Via header: bad ttl\r\n"),
        "{text}"
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn malformed_response_is_dropped() {
    let (t, mut rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let server = t.local_addr(Protocol::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    let bad = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bKr\r\n\
         To: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        me.port()
    );
    client.send_to(bad.as_bytes(), server).await.unwrap();
    // CRLF keep-alives are ignored too.
    client.send_to(b"\r\n\r\n", server).await.unwrap();
    let good = bad.replace("CSeq:", "Call-ID: ok\r\nCSeq:");
    client.send_to(good.as_bytes(), server).await.unwrap();
    // The first thing delivered is the good response: the bad one vanished.
    let inc = next(&mut rx).await;
    let Message::Response(r) = &inc.message else {
        panic!()
    };
    assert_eq!(r.headers.get(HeaderName::CallId).unwrap(), "ok");
    let mut buf = [0u8; 100];
    assert!(client.try_recv_from(&mut buf).is_err(), "nothing answered");
}

#[tokio::test]
async fn oversized_datagram_request_gets_513() {
    let limits = Limits {
        max_body: 100,
        ..Limits::default()
    };
    let (t, mut rx) = TransportLayer::bind(TransportConfig {
        listeners: vec![ListenerConfig::udp("127.0.0.1:0".parse().unwrap())],
        limits,
        ..TransportConfig::default()
    })
    .await
    .unwrap();
    let server = t.local_addr(Protocol::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    let raw = request(
        "MESSAGE",
        &format!("SIP/2.0/UDP 127.0.0.1:{}", me.port()),
        "big",
        &"x".repeat(500),
    );
    client.send_to(raw.as_bytes(), server).await.unwrap();
    let (text, _) = recv_text(&client).await;
    assert!(
        text.starts_with("SIP/2.0 513 Message body too large\r\n"),
        "{text}"
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn large_request_switches_to_tcp_when_allowed() {
    let (a, mut a_rx) = bind(ListenerConfig::udp_tcp("127.0.0.1:0".parse().unwrap())).await;
    let (b, mut b_rx) = bind(ListenerConfig::udp_tcp("127.0.0.1:0".parse().unwrap())).await;
    let a_udp = a.local_addr(Protocol::Udp).unwrap();
    assert_eq!(
        a.local_addr(Protocol::Tcp).unwrap(),
        a_udp,
        "UDP and TCP share the port"
    );
    let b_port = b.local_addr(Protocol::Udp).unwrap().port();

    let via = format!("SIP/2.0/UDP 127.0.0.1:{b_port};rport;branch=z9hG4bKbig");
    let body = "y".repeat(1400);
    let mut req = parse_request(&request("MESSAGE", &via, "big-1", &body));
    let sent = b
        .send_request(&mut req, Target::udp(a_udp), SendOptions::default())
        .await
        .unwrap();
    // RFC 3261 §18.1.1: over TCP, and the Via says so.
    assert_eq!(sent.protocol, Protocol::Tcp);
    assert_eq!(sent.remote, a_udp);
    let conn = sent.connection.expect("a connection");
    assert_eq!(
        top_via(&Message::Request(req.clone())),
        via.replace("/UDP", "/TCP")
    );
    let inc = next(&mut a_rx).await;
    assert_eq!(inc.protocol, Protocol::Tcp);
    assert!(inc.connection.is_some());
    assert!(
        top_via(&inc.message).starts_with("SIP/2.0/TCP "),
        "{}",
        top_via(&inc.message)
    );
    assert_eq!(inc.message.body().len(), 1400);

    // The response comes back over the same connection.
    let Message::Request(got) = &inc.message else {
        panic!()
    };
    let rsent = a
        .send_response(&got.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    assert_eq!(rsent.connection, inc.connection);
    let resp = next(&mut b_rx).await;
    assert_eq!(resp.protocol, Protocol::Tcp);
    assert_eq!(resp.connection, Some(conn));
    assert!(matches!(resp.message, Message::Response(ref r) if r.status == StatusCode::OK));
    assert_eq!(b.connection_count(), 1);

    // Not allowed: stays on UDP.
    let mut req = parse_request(&request("MESSAGE", &via, "big-2", &body));
    let opts = SendOptions {
        allow_tcp_fallback: false,
        ..SendOptions::default()
    };
    let sent = b
        .send_request(&mut req, Target::udp(a_udp), opts)
        .await
        .unwrap();
    assert_eq!(sent.protocol, Protocol::Udp);
    assert_eq!(top_via(&Message::Request(req)), via);
    let inc = next(&mut a_rx).await;
    assert_eq!(inc.protocol, Protocol::Udp);
    assert!(top_via(&inc.message).starts_with("SIP/2.0/UDP "));

    // A small request stays on UDP.
    let mut req = parse_request(&request("MESSAGE", &via, "small", "hi"));
    let sent = b
        .send_request(&mut req, Target::udp(a_udp), SendOptions::default())
        .await
        .unwrap();
    assert_eq!(sent.protocol, Protocol::Udp);
    assert_eq!(next(&mut a_rx).await.protocol, Protocol::Udp);
}

#[tokio::test]
async fn switched_request_falls_back_to_udp_when_tcp_is_refused() {
    // A UDP-only peer: the TCP connection is refused, so §18.1.1 retries
    // over UDP with the original Via.
    let (a, mut a_rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let (b, _b_rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let a_udp = a.local_addr(Protocol::Udp).unwrap();
    let via = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKfb";
    let mut req = parse_request(&request("MESSAGE", via, "fb", &"z".repeat(2000)));
    let sent = b
        .send_request(&mut req, Target::udp(a_udp), SendOptions::default())
        .await
        .unwrap();
    assert_eq!(sent.protocol, Protocol::Udp);
    assert_eq!(top_via(&Message::Request(req)), via);
    let inc = next(&mut a_rx).await;
    assert_eq!(inc.protocol, Protocol::Udp);
    assert_eq!(inc.message.body().len(), 2000);
}

#[tokio::test]
async fn ipv6_udp() {
    let (t, mut rx) = bind(ListenerConfig::udp("[::1]:0".parse().unwrap())).await;
    let server = t.local_addr(Protocol::Udp).unwrap();
    assert!(server.is_ipv6());
    let client = UdpSocket::bind("[::1]:0").await.unwrap();
    let me = client.local_addr().unwrap();
    let raw = request(
        "OPTIONS",
        "SIP/2.0/UDP [2001:db8::1]:5060;rport;branch=z9hG4bK6",
        "v6",
        "",
    );
    client.send_to(raw.as_bytes(), server).await.unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(inc.source, me);
    assert_eq!(
        top_via(&inc.message),
        format!(
            "SIP/2.0/UDP [2001:db8::1]:5060;rport={};branch=z9hG4bK6;received=::1",
            me.port()
        )
    );
    let Message::Request(req) = &inc.message else {
        panic!()
    };
    t.send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    let (text, from) = recv_text(&client).await;
    assert_eq!(from, server);
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"));

    // Requests out of the IPv6 listener.
    let mut req = parse_request(&request(
        "OPTIONS",
        "SIP/2.0/UDP [::1];branch=z9hG4bK7",
        "v6-out",
        "",
    ));
    let sent = t
        .send_request(&mut req, Target::udp(me), SendOptions::default())
        .await
        .unwrap();
    assert_eq!(sent.local, server);
    let (text, _) = recv_text(&client).await;
    assert!(text.starts_with("OPTIONS sip:bob@example.com SIP/2.0\r\n"));
}

#[tokio::test]
async fn several_listeners_and_resolution() {
    let (t, mut rx) = TransportLayer::bind(TransportConfig::udp_tcp([
        "127.0.0.1:0".parse().unwrap(),
        "[::1]:0".parse().unwrap(),
    ]))
    .await
    .unwrap();
    assert_eq!(t.listeners().len(), 4);
    assert!(t.listeners().iter().all(|l| l.local_addr.port() != 0));
    let v4 = t.listeners()[0].local_addr;
    let v6 = t.listeners()[2].local_addr;
    assert!(v4.is_ipv4() && v6.is_ipv6());

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(
            request("OPTIONS", "SIP/2.0/UDP a.example", "l4", "").as_bytes(),
            v4,
        )
        .await
        .unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(inc.local, v4);
    // A domain sent-by always gets received (§18.2.1).
    assert!(top_via(&inc.message).ends_with(";received=127.0.0.1"));

    // Resolution: literals directly, `localhost` through the resolver.
    let target = Target::resolve(Protocol::Udp, "[::1]", Some(v6.port()))
        .await
        .unwrap();
    assert_eq!(target.addr, v6);
    let target = Target::resolve(Protocol::Tcp, "127.0.0.1", None)
        .await
        .unwrap();
    assert_eq!(target.addr, "127.0.0.1:5060".parse().unwrap());
    let local = parrot::transport::resolve("localhost", 5060).await.unwrap();
    assert!(local.ip().is_loopback());
    assert!(parrot::transport::resolve("bad host", 1).await.is_err());
}

#[tokio::test]
async fn protocols_without_a_way_there_are_refused() {
    let (t, _rx) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    // A WebSocket peer is reached only down a connection it opened.
    let err = t
        .send_raw(
            Bytes::from_static(b"x"),
            Target::new(Protocol::Ws, "127.0.0.1:1".parse().unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, parrot::transport::TransportError::NoRoute(_)));
    // TLS needs TLS settings.
    let err = t
        .send_raw(
            Bytes::from_static(b"x"),
            Target::new(Protocol::Tls, "127.0.0.1:1".parse().unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        parrot::transport::TransportError::Unsupported(Protocol::Tls)
    ));
    // No IPv6 UDP listener: cannot send to an IPv6 address.
    let err = t
        .send_raw(
            Bytes::from_static(b"x"),
            Target::udp("[::1]:5060".parse().unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        parrot::transport::TransportError::Unsupported(Protocol::Udp)
    ));
}

/// Answers every sent-by with `servers`, remembering what it was asked.
struct FixedServers {
    servers: Vec<SocketAddr>,
    asked: std::sync::Mutex<Vec<(String, Option<u16>, Protocol)>>,
}

impl SentByResolver for FixedServers {
    fn servers<'a>(
        &'a self,
        host: &'a str,
        port: Option<u16>,
        protocol: Protocol,
    ) -> SentByFuture<'a> {
        self.asked
            .lock()
            .unwrap()
            .push((host.to_owned(), port, protocol));
        let servers = self.servers.clone();
        Box::pin(async move { Ok(servers) })
    }
}

#[tokio::test]
async fn a_sent_by_host_name_is_located_through_the_resolver_hook() {
    let (t, _rx) = bind(ListenerConfig::udp_tcp("127.0.0.1:0".parse().unwrap())).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Nothing listens on the first: the TCP answer goes to the second.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = std::sync::Arc::new(FixedServers {
        servers: vec![client.local_addr().unwrap()],
        asked: Default::default(),
    });
    assert!(t.set_sent_by_resolver(hook.clone()));
    assert!(!t.set_sent_by_resolver(hook.clone()), "set once");

    // UDP, a host name and neither received nor rport (RFC 3263 §5).
    let req = parse_request(&request(
        "OPTIONS",
        "SIP/2.0/UDP phone.invalid;branch=z9hG4bKhook1",
        "hook-1",
        "",
    ));
    let sent = t
        .send_response(&req.reply(StatusCode::OK), None)
        .await
        .unwrap();
    assert_eq!(sent.remote, client.local_addr().unwrap());
    let (text, _) = recv_text(&client).await;
    assert!(text.contains("hook-1"), "{text}");
    assert_eq!(
        hook.asked.lock().unwrap().as_slice(),
        [("phone.invalid".to_owned(), None, Protocol::Udp)]
    );

    // TCP without a connection: each server in turn until one takes it.
    let tcp_hook = std::sync::Arc::new(FixedServers {
        servers: vec![dead_addr, live.local_addr().unwrap()],
        asked: Default::default(),
    });
    let (t2, _rx2) = bind(ListenerConfig::udp_tcp("127.0.0.1:0".parse().unwrap())).await;
    t2.set_sent_by_resolver(tcp_hook.clone());
    let req = parse_request(&request(
        "OPTIONS",
        "SIP/2.0/TCP phone.invalid:5099;branch=z9hG4bKhook2",
        "hook-2",
        "",
    ));
    let sent = t2
        .send_response(&req.reply(StatusCode::OK), None)
        .await
        .unwrap();
    assert_eq!(sent.remote, live.local_addr().unwrap());
    assert_eq!(
        tcp_hook.asked.lock().unwrap().as_slice(),
        [("phone.invalid".to_owned(), Some(5099), Protocol::Tcp)]
    );
    let (mut stream, _) = tokio::time::timeout(WAIT, live.accept())
        .await
        .unwrap()
        .unwrap();
    let mut buf = vec![0u8; 2048];
    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("hook-2"));

    // Without a resolver, an unknown host name is an error, not a hang.
    let (t3, _rx3) = bind(ListenerConfig::udp("127.0.0.1:0".parse().unwrap())).await;
    let req = parse_request(&request(
        "OPTIONS",
        "SIP/2.0/UDP phone.invalid;branch=z9hG4bKhook3",
        "hook-3",
        "",
    ));
    assert!(
        t3.send_response(&req.reply(StatusCode::OK), None)
            .await
            .is_err()
    );
}
