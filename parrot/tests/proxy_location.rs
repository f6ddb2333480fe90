//! Routing by location (RFC 3261 §16.5, §16.6): a proxy whose handler
//! forwards to the bindings `parrot::registrar` holds for the
//! Request-URI, by decreasing `q`: the highest group alone first, the next
//! group (in parallel) only once every branch of the first has failed, and
//! never after a 6xx; each binding through its Path (RFC 3327).
//!
//! Callees are Parrot servers on loopback that answer with a set status
//! and count what they receive; the caller is Parrot's client.

use parrot::client::Client;
use parrot::message::{Request, StatusCode};
use parrot::prelude::*;
use parrot::proxy::Proxy;
use parrot::registrar::Registrar;
use parrot::transport::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Routes MESSAGE to the bindings of its Request-URI; on 486 or 480, to
/// the fallback if there is one.
struct Routing(Registrar, Option<SocketAddr>);

#[uas_handler]
impl Routing {
    async fn message(&mut self, req: &Request) -> Action {
        match self.0.targets(&req.uri).await {
            Ok(groups) if groups.iter().any(|g| !g.is_empty()) => {
                let proxy = Proxy::fork_in_turn(groups);
                match self.1 {
                    Some(to) => proxy
                        .fallback(
                            format!("sip:voicemail@{to}")
                                .parse::<parrot::message::Uri>()
                                .unwrap(),
                            [StatusCode::BUSY_HERE, StatusCode::TEMPORARILY_UNAVAILABLE],
                        )
                        .into_action(),
                    None => proxy.into_action(),
                }
            }
            _ => req.reply(StatusCode::TEMPORARILY_UNAVAILABLE).into_action(),
        }
    }
}

/// Proxies MESSAGE to its own Request-URI: the runtime's location
/// service (`ServerBuilder::location`) does the rest.
struct ToRequestUri;

#[uas_handler]
impl ToRequestUri {
    async fn message(&mut self, req: &Request) -> Action {
        Action::proxy(req.uri.clone())
    }
}

/// A proxy routing by the runtime's location service over `registrar`.
async fn located_proxy(registrar: Registrar) -> SocketAddr {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .location(registrar)
        .handler(|| ToRequestUri)
        .bind()
        .await
        .unwrap();
    let addr = server.local_addr(Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    addr
}

/// Answers MESSAGE with `status`, counting it in `seen`; when `before` is
/// set, records how many requests `before` had seen at that moment.
struct Callee {
    status: StatusCode,
    seen: Arc<AtomicUsize>,
    before: Option<(Arc<AtomicUsize>, Arc<AtomicUsize>)>,
}

#[uas_handler]
impl Callee {
    async fn message(&mut self, _req: &Request) -> StatusCode {
        self.seen.fetch_add(1, Ordering::SeqCst);
        if let Some((other, noted)) = &self.before {
            noted.store(other.load(Ordering::SeqCst), Ordering::SeqCst);
        }
        self.status
    }
}

async fn callee(
    status: StatusCode,
    seen: Arc<AtomicUsize>,
    before: Option<(Arc<AtomicUsize>, Arc<AtomicUsize>)>,
) -> SocketAddr {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Callee {
            status,
            seen: seen.clone(),
            before: before.clone(),
        })
        .bind()
        .await
        .unwrap();
    let addr = server.local_addr(Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    addr
}

async fn proxy(registrar: Registrar) -> SocketAddr {
    proxy_with_fallback(registrar, None).await
}

async fn proxy_with_fallback(registrar: Registrar, fallback: Option<SocketAddr>) -> SocketAddr {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Routing(registrar.clone(), fallback))
        .bind()
        .await
        .unwrap();
    let addr = server.local_addr(Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    addr
}

/// Registers `contacts` for `sip:bob@{proxy}` straight into `registrar`.
async fn register(registrar: &Registrar, proxy: SocketAddr, contacts: &[String], extra: &str) {
    let mut text = format!(
        "REGISTER sip:{proxy} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKreg\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@{proxy}>;tag=r\r\n\
         To: <sip:bob@{proxy}>\r\n\
         Call-ID: reg-{}\r\n\
         CSeq: 1 REGISTER\r\n{extra}",
        contacts.len()
    );
    for c in contacts {
        text.push_str(&format!("Contact: {c}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    let req = match parrot::message::parse_datagram(text.into()).unwrap() {
        parrot::message::Message::Request(r) => r,
        _ => unreachable!(),
    };
    let resp = registrar.register(&req).await;
    assert_eq!(resp.status, StatusCode::OK, "{resp:?}");
}

async fn client() -> Client {
    Client::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .bind()
        .await
        .unwrap()
}

/// Sends `client` a MESSAGE to `user` at `host` and returns its final
/// response.
async fn say_hi(client: &Client, user: &str, host: SocketAddr) -> parrot::message::Response {
    client
        .message(format!("sip:{user}@{host}").as_str(), "text/plain", "hi")
        .await
        .unwrap()
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

#[tokio::test]
async fn higher_q_alone_first_then_the_next_group_in_parallel() {
    let registrar = Registrar::in_memory();
    let (first, second, third) = (counter(), counter(), counter());
    // What the second group had seen when the first was asked: nothing.
    let seen_then = Arc::new(AtomicUsize::new(usize::MAX));
    let busy = callee(
        StatusCode::BUSY_HERE,
        first.clone(),
        Some((second.clone(), seen_then.clone())),
    )
    .await;
    let away = callee(StatusCode::TEMPORARILY_UNAVAILABLE, second.clone(), None).await;
    let here = callee(StatusCode::OK, third.clone(), None).await;
    let proxy = proxy(registrar.clone()).await;
    register(
        &registrar,
        proxy,
        &[
            format!("<sip:bob@{away}>;q=0.5"),
            format!("<sip:bob@{busy}>;q=1.0"),
            format!("<sip:bob@{here}>;q=0.5"),
        ],
        "",
    )
    .await;
    let resp = say_hi(&client().await, "bob", proxy).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(first.load(Ordering::SeqCst), 1);
    assert_eq!(seen_then.load(Ordering::SeqCst), 0, "q=0.5 waited for q=1");
    assert_eq!(second.load(Ordering::SeqCst), 1, "both q=0.5 asked");
    assert_eq!(third.load(Ordering::SeqCst), 1, "both q=0.5 asked");
}

#[tokio::test]
async fn a_6xx_ends_the_search() {
    let registrar = Registrar::in_memory();
    let (first, second) = (counter(), counter());
    let declines = callee(StatusCode::DECLINE, first.clone(), None).await;
    let here = callee(StatusCode::OK, second.clone(), None).await;
    let proxy = proxy(registrar.clone()).await;
    register(
        &registrar,
        proxy,
        &[
            format!("<sip:bob@{declines}>;q=0.9"),
            format!("<sip:bob@{here}>;q=0.1"),
        ],
        "",
    )
    .await;
    let resp = say_hi(&client().await, "bob", proxy).await;
    assert_eq!(resp.status, StatusCode::DECLINE);
    assert_eq!(first.load(Ordering::SeqCst), 1);
    assert_eq!(second.load(Ordering::SeqCst), 0, "never tried after 603");
}

#[tokio::test]
async fn a_binding_is_reached_through_its_path() {
    let registrar = Registrar::in_memory();
    // The edge proxy of the Path: a socket that shows what reaches it.
    let edge = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let edge_addr = edge.local_addr().unwrap();
    let proxy = proxy(registrar.clone()).await;
    register(
        &registrar,
        proxy,
        &["<sip:bob@192.0.2.44:5060>".to_owned()],
        &format!("Supported: path\r\nPath: <sip:{edge_addr};lr>\r\n"),
    )
    .await;
    let client = client().await;
    let ask = tokio::spawn(async move {
        client
            .message(format!("sip:bob@{proxy}").as_str(), "text/plain", "hi")
            .await
    });
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), edge.recv_from(&mut buf))
        .await
        .expect("the request reaches the Path's proxy")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        text.starts_with("MESSAGE sip:bob@192.0.2.44:5060 SIP/2.0\r\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\r\nRoute: <sip:{edge_addr};lr>\r\n")),
        "{text}"
    );
    ask.abort();
}

#[tokio::test]
async fn the_fallback_answers_when_every_binding_is_busy_but_not_on_a_6xx() {
    let registrar = Registrar::in_memory();
    let (busy_seen, voicemail_seen, decline_seen) = (counter(), counter(), counter());
    let busy = callee(StatusCode::BUSY_HERE, busy_seen.clone(), None).await;
    let voicemail = callee(StatusCode::ACCEPTED, voicemail_seen.clone(), None).await;
    let proxy = proxy_with_fallback(registrar.clone(), Some(voicemail)).await;
    register(&registrar, proxy, &[format!("<sip:bob@{busy}>")], "").await;
    let client = client().await;
    let resp = say_hi(&client, "bob", proxy).await;
    assert_eq!(resp.status, StatusCode::ACCEPTED, "the fallback's answer");
    assert_eq!(busy_seen.load(Ordering::SeqCst), 1);
    assert_eq!(voicemail_seen.load(Ordering::SeqCst), 1);

    // A 603 is not among the fallback's statuses: the caller gets it.
    let registrar = Registrar::in_memory();
    let declines = callee(StatusCode::DECLINE, decline_seen.clone(), None).await;
    let proxy = proxy_with_fallback(registrar.clone(), Some(voicemail)).await;
    register(&registrar, proxy, &[format!("<sip:bob@{declines}>")], "").await;
    let resp = say_hi(&client, "bob", proxy).await;
    assert_eq!(resp.status, StatusCode::DECLINE);
    assert_eq!(voicemail_seen.load(Ordering::SeqCst), 1, "not asked again");
}

#[tokio::test]
async fn the_runtime_routes_an_address_of_record_by_location() {
    let config = parrot::registrar::RegistrarConfig {
        domains: vec!["127.0.0.1".into()],
        ..Default::default()
    };
    let registrar = Registrar::new(Arc::new(parrot::registrar::MemoryStore::new()), config);
    let (first, second) = (counter(), counter());
    let busy = callee(StatusCode::BUSY_HERE, first.clone(), None).await;
    let here = callee(StatusCode::OK, second.clone(), None).await;
    let proxy = located_proxy(registrar.clone()).await;
    register(
        &registrar,
        proxy,
        &[
            format!("<sip:bob@{here}>;q=0.2"),
            format!("<sip:bob@{busy}>;q=0.8"),
        ],
        "",
    )
    .await;
    let client = client().await;
    let resp = say_hi(&client, "bob", proxy).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(first.load(Ordering::SeqCst), 1, "q=0.8 first");
    assert_eq!(second.load(Ordering::SeqCst), 1, "then q=0.2");
    // A user of the served domain without a binding: 480.
    let resp = say_hi(&client, "carol", proxy).await;
    assert_eq!(resp.status, StatusCode::TEMPORARILY_UNAVAILABLE);
    // A registrar claiming no domain: a URI without bindings is routed
    // as it is (here: straight to a callee).
    let open = located_proxy(Registrar::in_memory()).await;
    let through_open = Client::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .outbound_proxy(format!("sip:{open};lr"))
        .bind()
        .await
        .unwrap();
    let resp = say_hi(&through_open, "someone", here).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(second.load(Ordering::SeqCst), 2);
}
