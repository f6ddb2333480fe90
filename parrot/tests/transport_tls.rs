//! SIP over TLS on loopback (IPv4 and IPv6), with a certificate authority
//! and certificates made at test time: messages both ways on a TLS
//! listener, responses on the connection the request came on, outgoing
//! connections that verify the server, certificate reload while running,
//! and the refusals: plain text on the TLS port, a handshake that never
//! comes, a client that does not trust the server.

use parrot::message::{HeaderName, Request, StatusCode};
use parrot::transport::{
    Incoming, ListenerConfig, Protocol, SendOptions, Target, TlsConfig, TransportConfig,
    TransportError, TransportLayer,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio_rustls::rustls::pki_types::ServerName;

mod support;

use support::pki::Ca;
use support::{WAIT, expect_closed, next, parse_response, request, wait_connections};

/// A transport with one TLS listener at `addr` presenting `identity`.
async fn tls_server(
    addr: &str,
    tls: TlsConfig,
) -> (TransportLayer, Receiver<Box<Incoming>>, SocketAddr) {
    let config = TransportConfig {
        listeners: vec![ListenerConfig::tls(addr.parse().unwrap())],
        tls: Some(tls),
        min_receive_bytes: 0,
        ..TransportConfig::default()
    };
    let (t, rx) = TransportLayer::bind(config).await.unwrap();
    let local = t.local_addr(Protocol::Tls).unwrap();
    (t, rx, local)
}

fn tls_request(call_id: &str) -> String {
    request(
        "OPTIONS",
        "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKtls",
        call_id,
        "",
    )
}

/// Reads one response off a stream (no body).
async fn read_response<S: AsyncRead + Unpin>(s: &mut S) -> parrot::message::Response {
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, async {
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before a response");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("no response");
    parse_response(&buf)
}

async fn connect_tls(
    ca: &Ca,
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    ca.connector().connect(name, tcp).await
}

/// A request over TLS reaches the transaction user marked as TLS, and the
/// response goes back on the same connection (RFC 3261 §18.2.2).
async fn round_trip(listen: &str, name: &str) {
    let ca = Ca::new("Parrot test CA");
    let tls = TlsConfig::server(ca.server_identity()).unwrap();
    let (t, mut rx, addr) = tls_server(listen, tls).await;
    let mut client = connect_tls(&ca, addr, name).await.unwrap();
    client
        .write_all(tls_request("tls-1").as_bytes())
        .await
        .unwrap();
    let inc = next(&mut rx).await;
    assert_eq!(inc.protocol, Protocol::Tls);
    assert!(inc.connection.is_some());
    let parrot::message::Message::Request(req) = &inc.message else {
        panic!("not a request");
    };
    let via = req.headers.get(HeaderName::Via).unwrap().to_string();
    assert!(via.starts_with("SIP/2.0/TLS"), "{via}");
    assert!(via.contains("received="), "{via}");
    let resp = req.reply(StatusCode::OK);
    let sent = t.send_response(&resp, Some(&inc.origin())).await.unwrap();
    assert_eq!(sent.protocol, Protocol::Tls);
    assert_eq!(sent.connection, inc.connection);
    let got = read_response(&mut client).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(t.connection_count(), 1);
}

#[tokio::test]
async fn request_and_response_over_tls_ipv4() {
    round_trip("127.0.0.1:0", "localhost").await;
}

#[tokio::test]
async fn request_and_response_over_tls_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    round_trip("[::1]:0", "::1").await;
}

#[tokio::test]
async fn a_tls_listener_without_a_certificate_is_refused_at_bind() {
    let config = TransportConfig {
        listeners: vec![ListenerConfig::tls("127.0.0.1:0".parse().unwrap())],
        ..TransportConfig::default()
    };
    let err = TransportLayer::bind(config).await.unwrap_err();
    assert!(matches!(err, TransportError::Tls(_)), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn plain_text_on_the_tls_port_is_closed_and_others_go_on() {
    let ca = Ca::new("Parrot test CA");
    let (t, mut rx, addr) = tls_server(
        "127.0.0.1:0",
        TlsConfig::server(ca.server_identity()).unwrap(),
    )
    .await;
    let mut good = connect_tls(&ca, addr, "localhost").await.unwrap();
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(tls_request("plain").as_bytes())
        .await
        .unwrap();
    expect_closed(&mut plain).await;
    assert_eq!(t.stats().handshake_failures, 1);
    // The TLS client was not affected.
    send_and_expect(&mut good, &mut rx, "still-fine").await;
    wait_connections(&t, 1).await;
}

#[tokio::test(start_paused = true)]
async fn a_handshake_that_never_comes_is_closed_at_the_header_deadline() {
    let ca = Ca::new("Parrot test CA");
    let config = TransportConfig {
        listeners: vec![ListenerConfig::tls("127.0.0.1:0".parse().unwrap())],
        tls: Some(TlsConfig::server(ca.server_identity()).unwrap()),
        header_timeout: Duration::from_secs(10),
        ..TransportConfig::default()
    };
    let (t, _rx) = TransportLayer::bind(config).await.unwrap();
    let addr = t.local_addr(Protocol::Tls).unwrap();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    wait_connections(&t, 1).await;
    let since = tokio::time::Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(60), silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    let after = since.elapsed();
    assert!(
        after >= Duration::from_secs(9) && after <= Duration::from_secs(11),
        "closed after {after:?}"
    );
    assert_eq!(t.stats().handshake_timeouts, 1);
    wait_connections(&t, 0).await;
}

#[tokio::test]
async fn handshaking_connections_count_against_the_per_source_limit() {
    let ca = Ca::new("Parrot test CA");
    let config = TransportConfig {
        listeners: vec![ListenerConfig::tls("127.0.0.1:0".parse().unwrap())],
        tls: Some(TlsConfig::server(ca.server_identity()).unwrap()),
        max_connections_per_source: 2,
        ..TransportConfig::default()
    };
    let (t, _rx) = TransportLayer::bind(config).await.unwrap();
    let addr = t.local_addr(Protocol::Tls).unwrap();
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    wait_connections(&t, 2).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut c).await;
    assert_eq!(t.stats().refused_per_source, 1);
}

#[tokio::test]
async fn reloading_the_certificate_serves_new_connections_and_keeps_open_ones() {
    let old_ca = Ca::new("Old CA");
    let new_ca = Ca::new("New CA");
    let tls = TlsConfig::server(old_ca.server_identity()).unwrap();
    let (t, mut rx, addr) = tls_server("127.0.0.1:0", tls.clone()).await;
    let mut before = connect_tls(&old_ca, addr, "localhost").await.unwrap();
    tls.reload(new_ca.server_identity()).unwrap();
    // New connections get the new certificate...
    let mut after = connect_tls(&new_ca, addr, "localhost").await.unwrap();
    assert!(
        connect_tls(&old_ca, addr, "localhost").await.is_err(),
        "the old certificate is still served"
    );
    // ...and the connection opened before goes on with its own.
    send_and_expect(&mut before, &mut rx, "before").await;
    send_and_expect(&mut after, &mut rx, "after").await;
    assert_eq!(t.connection_count(), 2);
}

/// Sends an OPTIONS with Call-ID `id` on `s`; it must be delivered.
async fn send_and_expect<S: AsyncWrite + Unpin>(
    s: &mut S,
    rx: &mut Receiver<Box<Incoming>>,
    id: &str,
) {
    s.write_all(tls_request(id).as_bytes()).await.unwrap();
    let inc = next(rx).await;
    assert_eq!(
        inc.message
            .headers()
            .get(HeaderName::CallId)
            .unwrap()
            .as_str(),
        id
    );
}

/// A transport that sends over TLS, trusting `ca` only (and the channel
/// of what it receives, which must be kept for its connections to live).
async fn tls_client(ca: &Ca) -> (TransportLayer, Receiver<Box<Incoming>>) {
    mutual_client(ca, None).await
}

/// An OPTIONS to `uri`, whose host is the name the TLS server must prove
/// (RFC 5922 §7.2).
fn options(uri: &str) -> Request {
    let text = tls_request("out-1").replacen("sip:bob@example.com", uri, 1);
    support::parse_request(&text)
}

#[tokio::test]
async fn outgoing_requests_verify_the_server_and_reuse_the_connection() {
    let ca = Ca::new("Parrot test CA");
    let (server, mut rx, addr) = tls_server(
        "127.0.0.1:0",
        TlsConfig::server(ca.server_identity()).unwrap(),
    )
    .await;
    let (client, mut client_rx) = tls_client(&ca).await;
    let mut req = options("sip:bob@localhost");
    let sent = client
        .send_request(
            &mut req,
            Target::new(Protocol::Tls, addr),
            SendOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(sent.protocol, Protocol::Tls);
    let inc = next(&mut rx).await;
    assert_eq!(inc.protocol, Protocol::Tls);
    // The server answers on that connection; the client gets it.
    let parrot::message::Message::Request(r) = &inc.message else {
        panic!("not a request");
    };
    server
        .send_response(&r.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    let answer = next(&mut client_rx).await;
    assert_eq!(answer.protocol, Protocol::Tls);
    assert_eq!(answer.connection, sent.connection);
    // A second request reuses the connection.
    let mut again = options("sip:bob@localhost");
    let sent2 = client
        .send_request(
            &mut again,
            Target::new(Protocol::Tls, addr),
            SendOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(sent2.connection, sent.connection);
    wait_connections(&client, 1).await;
    let _ = next(&mut rx).await;
}

#[tokio::test]
async fn a_server_the_client_does_not_trust_is_a_tls_error() {
    let server_ca = Ca::new("Server CA");
    let other_ca = Ca::new("Some other CA");
    let (_server, _rx, addr) = tls_server(
        "127.0.0.1:0",
        TlsConfig::server(server_ca.server_identity()).unwrap(),
    )
    .await;
    let (client, _client_rx) = tls_client(&other_ca).await;
    let mut req = options("sip:bob@127.0.0.1");
    let err = client
        .send_request(
            &mut req,
            Target::new(Protocol::Tls, addr),
            SendOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Tls(_)), "{err}");
    assert_eq!(client.connection_count(), 0);
}

#[tokio::test]
async fn the_server_must_prove_the_name_of_the_uri_routed_on() {
    let ca = Ca::new("Parrot test CA");
    let (_server, mut rx, addr) = tls_server(
        "127.0.0.1:0",
        TlsConfig::server(ca.server_identity()).unwrap(),
    )
    .await;
    let (client, _client_rx) = tls_client(&ca).await;
    let target = Target::new(Protocol::Tls, addr);
    // The certificate names localhost and 127.0.0.1, not this domain.
    let mut req = options("sip:bob@carrier.example");
    let err = client
        .send_request(&mut req, target, SendOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Tls(_)), "{err}");
    // The first Route, not the Request-URI, is what the next hop came from.
    let mut routed = options("sip:bob@carrier.example");
    routed.headers.set(HeaderName::Route, "<sip:localhost;lr>");
    client
        .send_request(&mut routed, target, SendOptions::default())
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await.protocol, Protocol::Tls);
    // An IP literal is checked against the certificate's addresses.
    let (other, _other_rx) = tls_client(&ca).await;
    let mut by_ip = options("sip:bob@127.0.0.1");
    other
        .send_request(&mut by_ip, target, SendOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn sending_over_tls_without_tls_settings_is_unsupported() {
    let config = TransportConfig {
        listeners: vec![ListenerConfig::udp("127.0.0.1:0".parse().unwrap())],
        ..TransportConfig::default()
    };
    let (client, _rx) = TransportLayer::bind(config).await.unwrap();
    let mut req = options("sip:bob@127.0.0.1");
    let err = client
        .send_request(
            &mut req,
            Target::new(Protocol::Tls, "127.0.0.1:5061".parse().unwrap()),
            SendOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Unsupported(Protocol::Tls)),
        "{err}"
    );
}

mod server {
    //! A `Server` with a TLS listener: the Contact of a dialog it answers
    //! says TLS (RFC 3261 §12.1.1, §19.1.1).

    use super::{Ca, connect_tls, read_response};
    use parrot::message::HeaderName;
    use parrot::prelude::*;
    use parrot::transport::{Protocol, TlsConfig};
    use tokio::io::AsyncWriteExt;

    struct Answer;

    #[uas_handler]
    impl Answer {
        async fn invite(&mut self, _req: &Request) -> StatusCode {
            StatusCode::OK
        }
    }

    fn invite(uri: &str, call_id: &str) -> String {
        format!(
            "INVITE {uri} SIP/2.0\r\n\
             Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK{call_id}\r\n\
             Max-Forwards: 70\r\n\
             To: <{uri}>\r\n\
             From: <sips:alice@example.com>;tag=88\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sips:alice@192.0.2.1:5061>\r\n\
             Content-Length: 0\r\n\r\n"
        )
    }

    /// The Contact of the 200 the server gives an INVITE to `uri` over TLS.
    async fn contact_for(uri: &str) -> String {
        let ca = Ca::new("Parrot test CA");
        let tls = TlsConfig::server(ca.server_identity()).unwrap();
        let server = Server::builder()
            .tls("127.0.0.1:0", tls)
            .handler(|| Answer)
            .bind()
            .await
            .unwrap();
        let addr = server.local_addr(Protocol::Tls).unwrap();
        let running = tokio::spawn(server.serve().into_future());
        let mut client = connect_tls(&ca, addr, "localhost").await.unwrap();
        client
            .write_all(invite(uri, "c1").as_bytes())
            .await
            .unwrap();
        let resp = read_response(&mut client).await;
        running.abort();
        assert_eq!(resp.status, StatusCode::OK);
        resp.headers
            .get(HeaderName::Contact)
            .expect("a Contact")
            .to_string()
    }

    #[tokio::test]
    async fn a_sip_dialog_over_tls_gets_a_contact_with_transport_tls() {
        let contact = contact_for("sip:bob@example.com").await;
        assert!(contact.starts_with("<sip:"), "{contact}");
        assert!(contact.contains(";transport=tls"), "{contact}");
    }

    #[tokio::test]
    async fn a_sips_dialog_gets_a_sips_contact() {
        let contact = contact_for("sips:bob@example.com").await;
        assert!(contact.starts_with("<sips:"), "{contact}");
        assert!(!contact.contains("transport="), "{contact}");
    }
}

mod client {
    //! The `Client` reaches a `sips:` URI over TLS, verifying the server,
    //! with no TLS listener of its own.

    use super::Ca;
    use parrot::client::Client;
    use parrot::message::{HeaderName, StatusCode};
    use parrot::prelude::*;
    use parrot::transport::{Protocol, TlsConfig};

    struct Pong;

    #[uas_handler]
    impl Pong {
        async fn options(&mut self, req: &Request) -> Response {
            // The Via the server saw, echoed back for the test to check.
            let via = req.headers.get(HeaderName::Via).unwrap().to_string();
            let mut resp = req.reply(StatusCode::OK);
            resp.headers
                .push(parrot::message::Header::new("X-Via", via));
            resp
        }
    }

    #[tokio::test]
    async fn options_to_a_sips_uri_goes_over_tls() {
        let ca = Ca::new("Parrot test CA");
        let server = Server::builder()
            .tls(
                "127.0.0.1:0",
                TlsConfig::server(ca.server_identity()).unwrap(),
            )
            .handler(|| Pong)
            .bind()
            .await
            .unwrap();
        let port = server.local_addr(Protocol::Tls).unwrap().port();
        let running = tokio::spawn(server.serve().into_future());
        let tls = TlsConfig::client()
            .unwrap()
            .with_roots_pem(ca.pem.as_bytes(), None)
            .unwrap();
        let client = Client::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .tls(tls)
            .bind()
            .await
            .unwrap();
        let resp = client
            .options(format!("sips:bob@localhost:{port}").as_str())
            .await
            .unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        let via = resp.headers.get("X-Via").unwrap().to_string();
        assert!(via.starts_with("SIP/2.0/TLS "), "{via}");
        // A client that does not trust the server's CA gets no answer
        // from it: the transport error becomes a 503 (§8.1.3.1).
        let stranger = Client::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .tls(
                TlsConfig::client()
                    .unwrap()
                    .with_roots_pem(Ca::new("Other CA").pem.as_bytes(), None)
                    .unwrap(),
            )
            .bind()
            .await
            .unwrap();
        let refused = stranger
            .options(format!("sips:bob@localhost:{port}").as_str())
            .await;
        match refused {
            Ok(r) => assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE),
            Err(e) => panic!("{e}"),
        }
        running.abort();
    }
}

/// A dialog set up over TLS stays on TLS: the peer's 200 names a Contact
/// without `transport=` (which by itself would mean UDP), yet the
/// `Client`'s ACK and BYE go over TLS, on the connection already open.
#[tokio::test]
async fn a_tls_dialog_keeps_its_ack_and_bye_on_tls() {
    let ca = Ca::new("parrot test CA");
    let tls = TlsConfig::server(ca.server_identity()).unwrap();
    let (peer, mut rx, addr) = tls_server("127.0.0.1:0", tls).await;
    let client = client_app(&ca, None).await;
    let uri = format!("sip:bob@127.0.0.1:{};transport=tls", addr.port());
    let pending = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .invite(uri.as_str(), "v=0\r\n")
                .await
                .unwrap()
                .wait()
                .await
        }
    });

    let inc = next(&mut rx).await;
    assert_eq!(inc.protocol, Protocol::Tls);
    let parrot::message::Message::Request(invite) = &inc.message else {
        panic!("not a request")
    };
    let mut ok = invite.reply(StatusCode::OK);
    ok.headers.set(
        HeaderName::To,
        format!("{};tag=peer", invite.headers.get(HeaderName::To).unwrap()),
    );
    // The peer's own TLS listener, named without a transport.
    ok.headers.set(
        HeaderName::Contact,
        format!("<sip:bob@127.0.0.1:{}>", addr.port()),
    );
    peer.send_response(&ok, Some(&inc.origin())).await.unwrap();

    let ack = next(&mut rx).await;
    assert_eq!(ack.protocol, Protocol::Tls, "the ACK stays on TLS");
    assert_eq!(ack.connection, inc.connection, "on the same connection");
    let mut call = timeout_call(pending).await;
    let bye = tokio::spawn(async move { call.bye().await });
    let inc = next(&mut rx).await;
    assert_eq!(inc.protocol, Protocol::Tls, "the BYE stays on TLS");
    let parrot::message::Message::Request(req) = &inc.message else {
        panic!("not a request")
    };
    assert_eq!(req.method, parrot::message::Method::Bye);
    peer.send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    let r = tokio::time::timeout(WAIT, bye)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
}

async fn timeout_call(
    pending: tokio::task::JoinHandle<Result<parrot::client::Call, parrot::client::CallError>>,
) -> parrot::client::Call {
    tokio::time::timeout(WAIT, pending)
        .await
        .expect("the call is set up in time")
        .unwrap()
        .expect("the call is set up")
}

/// Messages larger than a TLS record (16 KiB), and a burst of small ones
/// in one write, cross in both directions intact: the record layer's
/// buffers grow for them and are let go after.
#[tokio::test]
async fn large_messages_and_bursts_cross_tls_both_ways() {
    let ca = Ca::new("parrot test CA");
    let tls = TlsConfig::server(ca.server_identity()).unwrap();
    let (t, mut rx, addr) = tls_server("127.0.0.1:0", tls).await;
    let mut client = connect_tls(&ca, addr, "localhost").await.unwrap();

    // 40 KB of body: three records and more.
    let body: String = (0..40_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let big = request(
        "MESSAGE",
        "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKbig",
        "big-up",
        &body,
    );
    client.write_all(big.as_bytes()).await.unwrap();
    // Then twenty small ones in a single write.
    let burst: String = (0..20)
        .map(|i| tls_request(&format!("burst-{i}")))
        .collect();
    client.write_all(burst.as_bytes()).await.unwrap();

    let inc = next(&mut rx).await;
    let parrot::message::Message::Request(req) = &inc.message else {
        panic!("not a request")
    };
    assert_eq!(req.body.len(), body.len());
    assert_eq!(&req.body[..], body.as_bytes());
    for i in 0..20 {
        let inc = next(&mut rx).await;
        assert_eq!(
            inc.message.headers().get(HeaderName::CallId).unwrap(),
            format!("burst-{i}").as_str()
        );
    }

    // Down the same connection: a large request to the client.
    let mut down = parrot::message::parse_datagram(
        request(
            "MESSAGE",
            "SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKdown",
            "big-down",
            &body,
        )
        .into(),
    )
    .map(|m| match m {
        parrot::message::Message::Request(r) => r,
        _ => unreachable!(),
    })
    .unwrap();
    let sent = t
        .send_request(
            &mut down,
            Target {
                flow: inc.connection,
                ..Target::new(Protocol::Tls, inc.source)
            },
            SendOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(sent.connection, inc.connection);
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, async {
        let mut chunk = [0u8; 8192];
        while got.len() < down.to_bytes().len() {
            let n = client.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("the large request in time");
    assert_eq!(got, down.to_bytes().to_vec());
    assert_eq!(t.connection_count(), 1);
}

/// A client with a certificate (mutual TLS), and the transport it sends
/// from.
async fn mutual_client(
    ca: &Ca,
    identity: Option<parrot::transport::Identity>,
) -> (TransportLayer, Receiver<Box<Incoming>>) {
    let tls = TlsConfig::client()
        .unwrap()
        .with_roots_pem(ca.pem.as_bytes(), identity)
        .unwrap();
    let config = TransportConfig {
        listeners: vec![ListenerConfig::udp("127.0.0.1:0".parse().unwrap())],
        tls: Some(tls),
        ..TransportConfig::default()
    };
    TransportLayer::bind(config).await.unwrap()
}

/// RFC 5923: a client whose certificate the server verified, offering
/// its connection with `;alias` in its Via, gets the server's requests to
/// its `sent-by` over that connection; without the certificate, or for a
/// `sent-by` the certificate does not cover, or without `alias`, the
/// server dials `sent-by` as usual (here: nothing listens, so it fails).
#[tokio::test]
async fn a_verified_client_offering_alias_gets_requests_on_its_connection() {
    let ca = Ca::new("parrot test CA");
    let (server, mut rx, addr) = verifying_server(&ca).await;
    // Ports where nothing listens: only an alias reaches the client there.
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };

    // (name to send to, certificate?, Via sent-by, alias?, reused?)
    let cases = [
        ("localhost", true, "localhost", true, true),
        ("127.0.0.1", true, "127.0.0.1", true, true),
        ("localhost", true, "localhost", false, false),
        ("localhost", false, "localhost", true, false),
        ("elsewhere.example", true, "elsewhere.example", true, false),
    ];
    for (i, (name, with_cert, sent_by, alias, reused)) in cases.into_iter().enumerate() {
        let identity = with_cert.then(|| ca.server_identity());
        let (client, mut client_rx) = mutual_client(&ca, identity).await;
        let port = free();
        let alias_param = if alias { ";alias" } else { "" };
        let text = request(
            "OPTIONS",
            &format!("SIP/2.0/TLS {sent_by}:{port};branch=z9hG4bKal{i}{alias_param}"),
            &format!("alias-{i}"),
            "",
        );
        let mut req =
            support::parse_request(&text.replacen("sip:bob@example.com", "sip:bob@localhost", 1));
        let sent = client
            .send_request(
                &mut req,
                Target::new(Protocol::Tls, addr),
                SendOptions::default(),
            )
            .await
            .unwrap();
        let inc = next(&mut rx).await;
        assert_eq!(inc.protocol, Protocol::Tls);

        // The server's request to the client's sent-by.
        let uri = format!("sip:alice@{name}:{port};transport=tls");
        let mut back = support::parse_request(
            &request(
                "OPTIONS",
                "SIP/2.0/TLS 127.0.0.1;branch=z9hG4bKback",
                &format!("back-{i}"),
                "",
            )
            .replacen("sip:bob@example.com", &uri, 1),
        );
        let target = Target::new(Protocol::Tls, SocketAddr::from(([127, 0, 0, 1], port)));
        let r = server
            .send_request(&mut back, target, SendOptions::default())
            .await;
        if reused {
            let s = r.unwrap_or_else(|e| panic!("case {i}: {e}"));
            assert_eq!(
                s.connection, inc.connection,
                "case {i}: on the aliased connection"
            );
            let got = next(&mut client_rx).await;
            assert_eq!(got.connection, sent.connection, "case {i}");
        } else {
            assert!(
                r.is_err(),
                "case {i}: no alias, so a new connection, which fails"
            );
        }
        drop(client);
    }
}

/// RFC 5923 §5 from our side: a `Client` with a certificate offers its
/// TLS connection with `;alias` in its Via, so a server that verifies
/// client certificates sends its requests to us back down it.
#[tokio::test]
async fn a_client_with_a_certificate_offers_its_connection_with_alias() {
    let ca = Ca::new("parrot test CA");
    let (server, mut rx, addr) = verifying_server(&ca).await;
    let client = client_app(&ca, Some(ca.server_identity())).await;
    let uri = format!("sip:bob@127.0.0.1:{};transport=tls", addr.port());
    let options = tokio::spawn({
        let client = client.clone();
        async move { client.options(uri.as_str()).await }
    });
    let inc = next(&mut rx).await;
    let parrot::message::Message::Request(req) = &inc.message else {
        panic!("not a request")
    };
    let via = req.headers.get(HeaderName::Via).unwrap().to_string();
    assert!(via.contains(";alias"), "{via}");
    server
        .send_response(&req.reply(StatusCode::OK), Some(&inc.origin()))
        .await
        .unwrap();
    let top = req.headers.top_via().unwrap().into_owned();
    // The server's own request to our sent-by goes down our connection.
    let sent_by = SocketAddr::new(top.host.to_string().parse().unwrap(), top.port.unwrap());
    let mut back = support::parse_request(&tls_request("alias-back").replacen(
        "sip:bob@example.com",
        &format!("sip:alice@{sent_by};transport=tls"),
        1,
    ));
    let sent = server
        .send_request(
            &mut back,
            Target::new(Protocol::Tls, sent_by),
            SendOptions::default(),
        )
        .await
        .expect("sent on the aliased connection");
    assert_eq!(sent.connection, inc.connection);
    let _ = tokio::time::timeout(WAIT, options).await;
}

/// A `Client` on loopback trusting `ca`, presenting `identity` if given.
async fn client_app(
    ca: &Ca,
    identity: Option<parrot::transport::Identity>,
) -> parrot::client::Client {
    let tls = TlsConfig::client()
        .unwrap()
        .with_roots_pem(ca.pem.as_bytes(), identity)
        .unwrap();
    parrot::client::Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .tls(tls)
        .bind()
        .await
        .unwrap()
}

/// A TLS server on loopback that asks clients for a certificate from `ca`.
async fn verifying_server(ca: &Ca) -> (TransportLayer, Receiver<Box<Incoming>>, SocketAddr) {
    let tls = TlsConfig::server(ca.server_identity())
        .unwrap()
        .verify_clients_pem(ca.pem.as_bytes())
        .unwrap();
    tls_server("127.0.0.1:0", tls).await
}
