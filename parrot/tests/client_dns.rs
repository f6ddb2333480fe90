//! The client finding servers by DNS (RFC 3263) and failing over (§4.3),
//! against a real dnsmasq on loopback serving SRV records that point at
//! Parrot servers in this process: a server with nothing listening
//! (connection refused), one that answers `503`, one that never answers
//! (a timeout), and one that answers. Requests and calls must land on the
//! one that answers; a domain without records fails at once. Real time,
//! bounded by short timers (T1 = 20 ms: a timeout after 1.28 s).

use parrot::client::{Client, ClientError};
use parrot::locate::Locator;
use parrot::message::{Message, Request, Response, StatusCode};
use parrot::prelude::*;
use parrot::transaction::TimerConfig;
use parrot::transport::Protocol;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::dnsmasq::Dnsmasq;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// Answers everything, naming itself in the reason phrase.
struct Up;

#[uas_handler]
impl Up {
    async fn options(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).reason("up")
    }

    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).reason("up").sdp(SDP)
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

/// Answers OPTIONS naming itself: the outbound proxy of the test below.
struct Outbound;

#[uas_handler]
impl Outbound {
    async fn options(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).reason("outbound")
    }
}

/// Proxies everything to the server `up` at the port in the Request-URI's
/// user part.
struct ToUser;

#[uas_handler]
impl ToUser {
    async fn options(&mut self, req: &Request) -> Action {
        let port = req.uri.as_sip().and_then(|u| u.user()).unwrap_or_default();
        Action::proxy(format!("sip:bob@127.0.0.1:{port}").parse().unwrap())
    }
}

/// Answers, then hangs up as soon as the call is set up.
struct HangsUp;

#[uas_handler]
impl HangsUp {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn ack(&mut self, _req: &Request) -> Action {
        Action::Stop("done".into())
    }
}

/// Refuses everything with 503.
struct Unavailable;

#[uas_handler]
impl Unavailable {
    async fn options(&mut self, _req: &Request) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    async fn invite(&mut self, _req: &Request) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Proxies everything to `sip:bob@down.test`, whose first server refuses
/// connections.
struct ToDown;

#[uas_handler]
impl ToDown {
    async fn options(&mut self, _req: &Request) -> Action {
        Action::proxy("sip:bob@down.test".parse().unwrap())
    }
}

async fn serve<H: UasHandler>(make: fn() -> H) -> u16 {
    serve_with(make, None).await
}

async fn serve_with<H: UasHandler>(make: fn() -> H, locator: Option<Locator>) -> u16 {
    let mut builder = Server::builder().listen("127.0.0.1:0");
    if let Some(l) = locator {
        builder = builder.locator(l);
    }
    let server = builder.handler(make).bind().await.expect("bind");
    let port = server.local_addr(Protocol::Udp).unwrap().port();
    tokio::spawn(server.serve().into_future());
    port
}

struct World {
    dns: Dnsmasq,
    client: Client,
    /// The port of a proxy forwarding to `down.test`.
    proxy: u16,
    /// Held so that its port stays silent.
    _silent: UdpSocket,
}

async fn world() -> World {
    let up = serve(|| Up).await;
    let busy = serve(|| Unavailable).await;
    // A port with nothing listening for TCP: connections are refused.
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A UDP port that reads nothing and answers nothing.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let quiet = silent.local_addr().unwrap().port();
    let records = [
        format!("--srv-host=_sip._tcp.down.test,a.test,{down},10,10"),
        format!("--srv-host=_sip._tcp.down.test,a.test,{up},20,10"),
        format!("--srv-host=_sip._udp.busy.test,a.test,{busy},10,10"),
        format!("--srv-host=_sip._udp.busy.test,a.test,{up},20,10"),
        format!("--srv-host=_sip._udp.slow.test,a.test,{quiet},10,10"),
        format!("--srv-host=_sip._udp.slow.test,a.test,{up},20,10"),
        format!("--srv-host=_sip._udp.dead.test,a.test,{quiet},10,10"),
        format!("--srv-host=_sip._udp.dead.test,a.test,{busy},20,10"),
        "--host-record=a.test,127.0.0.1".to_owned(),
    ];
    let dns = Dnsmasq::start(&records);
    let protocols = [Protocol::Udp, Protocol::Tcp];
    let proxy = serve_with(
        || ToDown,
        Some(Locator::new(Arc::new(dns.resolver()), &protocols)),
    )
    .await;
    let client = Client::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .timers(TimerConfig {
            t1: Duration::from_millis(20),
            ..TimerConfig::default()
        })
        .locator(Locator::new(Arc::new(dns.resolver()), &protocols))
        .bind()
        .await
        .unwrap();
    World {
        dns,
        client,
        proxy,
        _silent: silent,
    }
}

#[tokio::test]
async fn requests_fail_over_to_the_next_srv_target() {
    let w = world().await;
    // Connection refused, a 503, a timeout: each time the next server.
    for domain in ["down.test", "busy.test", "slow.test"] {
        let started = Instant::now();
        let r = w
            .client
            .options(format!("sip:alice@{domain}").as_str())
            .await
            .unwrap_or_else(|e| panic!("{domain}: {e}\n{}", w.dns.log()));
        assert_eq!(r.status, StatusCode::OK, "{domain}");
        assert_eq!(r.reason, "up", "{domain}");
        println!(
            "{domain}: answered by the second server after {:?}",
            started.elapsed()
        );
        // Bounded by one timeout (64·T1 = 1.28 s) at most.
        assert!(started.elapsed() < Duration::from_secs(5), "{domain}");
    }
    // Every server failing: the last answer (the 503 of the second).
    let r = w.client.options("sip:alice@dead.test").await.unwrap();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_call_fails_over_and_is_set_up_on_the_next_server() {
    let w = world().await;
    let mut call = w
        .client
        .invite("sip:alice@down.test", SDP)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.dns.log()));
    assert_eq!(call.response().reason, "up");
    assert_eq!(call.bye().await.unwrap().status, StatusCode::OK);
    // Through a 503 as well.
    let call = w
        .client
        .invite("sip:alice@busy.test", SDP)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(call.response().reason, "up");
}

#[tokio::test]
async fn a_domain_without_records_fails_at_once() {
    let w = world().await;
    let started = Instant::now();
    match w.client.options("sip:alice@nowhere.test").await {
        Err(ClientError::Unresolvable(what)) => assert!(what.contains("nowhere.test"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_proxy_branch_fails_over_to_the_next_server() {
    let w = world().await;
    let r = w
        .client
        .options(format!("sip:bob@127.0.0.1:{}", w.proxy).as_str())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", w.dns.log());
    assert_eq!(r.reason, "up");
}

#[tokio::test]
async fn a_server_with_an_outbound_proxy_forwards_through_it() {
    let w = world().await;
    let up = serve(|| Up).await;
    let outbound = serve(|| Outbound).await;
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .outbound_proxy(&format!("sip:127.0.0.1:{outbound};lr"))
        .handler(|| ToUser)
        .bind()
        .await
        .unwrap();
    let port = server.local_addr(Protocol::Udp).unwrap().port();
    tokio::spawn(server.serve().into_future());
    // Bound for `up`, the request reaches the outbound proxy first.
    let r = w
        .client
        .options(format!("sip:{up}@127.0.0.1:{port}").as_str())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.reason, "outbound");
    // A URI that cannot be a proxy is refused when binding.
    let bad = Server::builder()
        .listen("127.0.0.1:0")
        .outbound_proxy("tel:+15551234")
        .handler(|| ToUser)
        .bind()
        .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn the_server_finds_a_host_name_contact_by_dns_for_its_bye() {
    let caller = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = caller.local_addr().unwrap();
    // Only the test's DNS server knows `caller.test`.
    let dns = Dnsmasq::start(&["--host-record=caller.test,127.0.0.1"]);
    let protocols = [Protocol::Udp, Protocol::Tcp];
    let server = serve_with(
        || HangsUp,
        Some(Locator::new(Arc::new(dns.resolver()), &protocols)),
    )
    .await;
    let server: SocketAddr = ([127, 0, 0, 1], server).into();
    let invite = format!(
        "INVITE sip:bob@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKdns1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@caller.test>;tag=a\r\n\
         To: <sip:bob@{server}>\r\n\
         Call-ID: dns-contact\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@caller.test:{port}>\r\n\
         Content-Length: 0\r\n\r\n",
        port = me.port()
    );
    caller.send_to(invite.as_bytes(), server).await.unwrap();
    let ok = loop {
        if let Message::Response(r) = next_message(&caller).await
            && r.status == StatusCode::OK
        {
            break r;
        }
    };
    let tag = ok.headers.to_tag().unwrap();
    let ack = format!(
        "ACK sip:bob@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKdns2\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@caller.test>;tag=a\r\n\
         To: <sip:bob@{server}>;tag={tag}\r\n\
         Call-ID: dns-contact\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    );
    caller.send_to(ack.as_bytes(), server).await.unwrap();
    // The BYE reaches us at the address only DNS could give.
    let bye = loop {
        if let Message::Request(r) = next_message(&caller).await {
            break r;
        }
    };
    assert_eq!(bye.method, parrot::message::Method::Bye, "{}", dns.log());
}

/// The next message on `sock`, within 10 s.
async fn next_message(sock: &tokio::net::UdpSocket) -> parrot::message::Message {
    let mut b = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut b))
        .await
        .expect("a message")
        .unwrap();
    parrot::message::parse_datagram(bytes::Bytes::copy_from_slice(&b[..n])).unwrap()
}

#[tokio::test]
async fn a_tls_naptr_record_steers_the_request_to_tls() {
    use parrot::transport::TlsConfig;
    let ca = support::pki::Ca::new("dns test CA");
    // The certificate names the SIP domain, which the client checks
    // (RFC 5922), not the host the SRV record points at.
    let tls = TlsConfig::server(ca.identity_for(&["tls.test"])).unwrap();
    let server = Server::builder()
        .tls("127.0.0.1:0", tls)
        .handler(|| Up)
        .bind()
        .await
        .unwrap();
    let tls_port = server.local_addr(Protocol::Tls).unwrap().port();
    tokio::spawn(server.serve().into_future());
    // Over UDP the domain would reach a server that answers otherwise.
    let udp = serve(|| Outbound).await;
    let records = [
        "--naptr-record=tls.test,10,10,S,SIPS+D2T,,_sips._tcp.tls.test".to_owned(),
        "--naptr-record=tls.test,20,10,S,SIP+D2U,,_sip._udp.tls.test".to_owned(),
        format!("--srv-host=_sips._tcp.tls.test,a.test,{tls_port},10,10"),
        format!("--srv-host=_sip._udp.tls.test,a.test,{udp},10,10"),
        "--host-record=a.test,127.0.0.1".to_owned(),
    ];
    let dns = Dnsmasq::start(&records);
    let client = Client::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .tls(
            TlsConfig::client()
                .unwrap()
                .with_roots_pem(ca.pem.as_bytes(), None)
                .unwrap(),
        )
        .locator(Locator::new(
            Arc::new(dns.resolver()),
            &[Protocol::Udp, Protocol::Tcp, Protocol::Tls],
        ))
        .bind()
        .await
        .unwrap();
    let r = client.options("sip:alice@tls.test").await.unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", dns.log());
    assert_eq!(r.reason, "up", "the NAPTR preferring TLS was not followed");
}
