//! The registrar over a real Redis (`RedisStore`, feature `redis`):
//! redis-server (Debian package `redis-server`, which scripts/test.sh
//! installs) on 127.0.0.1 and a free high port, one per test, driven
//! through `Registrar` with hand-written REGISTER requests. Two stores on
//! one Redis stand for two servers sharing it.
//!
//! The tests fail, with a message saying so, when redis-server is not
//! installed. Run them with
//! `cargo test -p parrot --features redis --test registrar_redis`.
#![cfg(feature = "redis")]

use parrot::message::{Request, Response, StatusCode};
use parrot::registrar::{
    Binding, LocationStore, RedisConfig, RedisStore, Registrar, RegistrarConfig, StoreError,
};
use parrot::transport::{Incoming, ListenerConfig, Protocol, TransportConfig, TransportLayer};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod support;

use support::redis::{RedisServer, Reply};
use support::{WAIT, next, parse_request};

const AOR: &str = "sip:bob@example.com";

/// A REGISTER for bob with `headers` (Contact, Expires, ...) added.
fn register(call_id: &str, cseq: u32, headers: &[&str]) -> Request {
    register_text("UDP", call_id, cseq, headers)
}

fn register_text(transport: &str, call_id: &str, cseq: u32, headers: &[&str]) -> Request {
    parse_request(&register_wire(transport, call_id, cseq, headers))
}

fn register_wire(transport: &str, call_id: &str, cseq: u32, headers: &[&str]) -> String {
    let mut text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 192.0.2.1:5060;branch=z9hG4bK{call_id}-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@example.com>;tag=r1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

/// A store on `redis` with `config`.
async fn store(redis: &RedisServer, config: RedisConfig) -> RedisStore {
    RedisStore::connect(&redis.url(), config)
        .await
        .expect("connects to redis")
}

fn registrar(store: &RedisStore, config: RegistrarConfig) -> Registrar {
    Registrar::new(Arc::new(store.clone()), config)
}

/// The Contact values of a response.
fn contacts(resp: &Response) -> Vec<String> {
    resp.headers
        .values("Contact")
        .map(|v| v.to_string())
        .collect()
}

/// The `expires` of the contact of `resp` whose value contains `uri`.
fn expires_of(resp: &Response, uri: &str) -> u32 {
    let c = contacts(resp)
        .into_iter()
        .find(|c| c.contains(uri))
        .unwrap_or_else(|| panic!("no {uri} in {:?}", contacts(resp)));
    let (_, rest) = c.split_once("expires=").expect("an expires parameter");
    rest.split(';').next().unwrap().parse().unwrap()
}

fn ok(resp: &Response) {
    assert_eq!(
        resp.status,
        StatusCode::OK,
        "{} {}",
        resp.status,
        resp.reason
    );
}

/// The contact URIs of `bindings`, sorted.
fn uris(bindings: &[Binding]) -> Vec<String> {
    let mut v: Vec<String> = bindings
        .iter()
        .map(|b| b.uri().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Polls `check` every 20 ms until it holds, for at most `limit`.
async fn until<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "not so within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn register_refresh_remove_wildcard_and_query() {
    let redis = RedisServer::start();
    let a = store(&redis, RedisConfig::default()).await;
    let r = registrar(&a, RegistrarConfig::default());

    let resp = r
        .register(&register(
            "c1",
            1,
            &["Contact: <sip:bob@192.0.2.1:5060>;q=0.5", "Expires: 3600"],
        ))
        .await;
    ok(&resp);
    assert_eq!(expires_of(&resp, "192.0.2.1"), 3600);
    // The key expires with its last binding.
    let pttl = redis.cmd(&["PTTL", &a.key(AOR)]).int();
    assert!((3_590_000..=3_600_000).contains(&pttl), "PTTL {pttl}");

    // A second contact, with a Path, over the same Call-ID.
    let resp = r
        .register(&register(
            "c1",
            2,
            &[
                "Contact: <sip:bob@192.0.2.2:5070;transport=tcp>;expires=1800",
                "Path: <sip:edge.example.com;lr>",
                "Supported: path",
            ],
        ))
        .await;
    ok(&resp);
    assert_eq!(contacts(&resp).len(), 2, "{:?}", contacts(&resp));
    assert_eq!(expires_of(&resp, "192.0.2.2"), 1800);
    assert!(expires_of(&resp, "192.0.2.1") <= 3600);

    // Another server on the same Redis sees them as stored.
    let b = store(&redis, RedisConfig::default()).await;
    let seen = b.lookup(AOR).await.unwrap();
    assert_eq!(
        uris(&seen),
        [
            "sip:bob@192.0.2.1:5060",
            "sip:bob@192.0.2.2:5070;transport=tcp"
        ]
    );
    let first = seen.iter().find(|b| b.cseq == 1).unwrap();
    assert_eq!(first.q(), 0.5);
    assert!(first.path.is_empty());
    let second = seen.iter().find(|b| b.cseq == 2).unwrap();
    assert_eq!(second.path.len(), 1);
    assert_eq!(second.path[0].to_string(), "sip:edge.example.com;lr");
    assert_eq!(second.call_id, "c1");
    assert!(second.expires <= Duration::from_secs(1800));
    assert!(second.expires > Duration::from_secs(1790));

    // A query: no Contact.
    let resp = r.register(&register("q1", 1, &[])).await;
    ok(&resp);
    assert_eq!(contacts(&resp).len(), 2);

    // A refresh shortens the first; a lifetime of 0 removes the second.
    let resp = r
        .register(&register(
            "c1",
            3,
            &["Contact: <sip:bob@192.0.2.1:5060>;expires=600"],
        ))
        .await;
    ok(&resp);
    assert_eq!(expires_of(&resp, "192.0.2.1"), 600);
    let resp = r
        .register(&register(
            "c1",
            4,
            &["Contact: <sip:bob@192.0.2.2:5070;transport=tcp>;expires=0"],
        ))
        .await;
    ok(&resp);
    assert_eq!(contacts(&resp).len(), 1, "{:?}", contacts(&resp));
    let pttl = redis.cmd(&["PTTL", &a.key(AOR)]).int();
    assert!((590_000..=600_000).contains(&pttl), "PTTL {pttl}");

    // `*` removes everything, and the key with it.
    let resp = r
        .register(&register("c1", 5, &["Contact: *", "Expires: 0"]))
        .await;
    ok(&resp);
    assert!(contacts(&resp).is_empty(), "{:?}", contacts(&resp));
    assert_eq!(redis.cmd(&["EXISTS", &a.key(AOR)]).int(), 0);
    assert!(b.lookup(AOR).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_out_of_order_cseq_is_500_and_changes_nothing() {
    let redis = RedisServer::start();
    let a = store(&redis, RedisConfig::default()).await;
    let r = registrar(&a, RegistrarConfig::default());
    ok(&r
        .register(&register(
            "c1",
            5,
            &["Contact: <sip:bob@192.0.2.1>;expires=600"],
        ))
        .await);
    for cseq in [4, 5] {
        let resp = r
            .register(&register(
                "c1",
                cseq,
                &["Contact: <sip:bob@192.0.2.1>;expires=0"],
            ))
            .await;
        assert_eq!(
            resp.status,
            StatusCode::SERVER_INTERNAL_ERROR,
            "CSeq {cseq}"
        );
    }
    let resp = r
        .register(&register("c1", 4, &["Contact: *", "Expires: 0"]))
        .await;
    assert_eq!(resp.status, StatusCode::SERVER_INTERNAL_ERROR);
    let left = a.lookup(AOR).await.unwrap();
    assert_eq!(uris(&left), ["sip:bob@192.0.2.1"]);
    assert_eq!(left[0].cseq, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_registering_at_once_lose_nothing() {
    const PER_NODE: u32 = 50;
    const WORKERS: u32 = 5;
    let redis = RedisServer::start();
    let config = RegistrarConfig {
        max_bindings: 500,
        store_timeout: Duration::from_secs(20),
        ..RegistrarConfig::default()
    };
    // Ten writers on one address-of-record is far more contention than a
    // real one sees: room enough to retry on a slow, loaded machine. What
    // is tested is that nothing is lost.
    let patient = || RedisConfig {
        timeout: Duration::from_secs(10),
        max_attempts: 100,
        ..RedisConfig::default()
    };
    let nodes = [
        store(&redis, patient()).await,
        store(&redis, patient()).await,
    ];
    assert_ne!(nodes[0].node_id(), nodes[1].node_id());
    let mut tasks = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        let r = registrar(node, config.clone());
        // Several REGISTERs under way at once on each node.
        for w in 0..WORKERS {
            let r = r.clone();
            tasks.push(tokio::spawn(async move {
                for i in (w..PER_NODE).step_by(WORKERS as usize) {
                    let contact = format!("Contact: <sip:bob-{n}-{i}@192.0.2.{}>", n + 1);
                    let req = register(&format!("node{n}-{i}"), 1, &[&contact, "Expires: 600"]);
                    let resp = r.register(&req).await;
                    assert_eq!(resp.status, StatusCode::OK, "{}", resp.reason);
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = nodes[1].lookup(AOR).await.unwrap();
    assert_eq!(all.len(), 2 * PER_NODE as usize, "{:?}", uris(&all));
    for n in 0..2 {
        for i in 0..PER_NODE {
            let uri = format!("sip:bob-{n}-{i}@192.0.2.{}", n + 1);
            assert!(uris(&all).contains(&uri), "{uri} lost");
        }
    }
    eprintln!(
        "write conflicts retried: {} and {}",
        nodes[0].conflicts(),
        nodes[1].conflicts()
    );
}

#[tokio::test]
async fn bindings_lapse_on_redis_time() {
    let redis = RedisServer::start();
    let a = store(&redis, RedisConfig::default()).await;
    let r = registrar(
        &a,
        RegistrarConfig {
            min_expires: 1,
            ..RegistrarConfig::default()
        },
    );
    ok(&r
        .register(&register(
            "c1",
            1,
            &[
                "Contact: <sip:short@192.0.2.1>;expires=1",
                "Contact: <sip:long@192.0.2.1>;expires=60",
            ],
        ))
        .await);

    // The remaining lifetime goes down as Redis's clock moves.
    let before = a.lookup(AOR).await.unwrap();
    let long = |b: &[Binding]| {
        b.iter()
            .find(|b| b.cseq == 1 && b.key.contains("long"))
            .unwrap()
            .expires
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let after = a.lookup(AOR).await.unwrap();
    assert!(
        long(&after) < long(&before),
        "{:?} then {:?}",
        long(&before),
        long(&after)
    );
    assert!(long(&before) <= Duration::from_secs(60));
    assert_eq!(uris(&before).len(), 2);

    // The 1-second binding goes; the other stays.
    until(Duration::from_secs(3), || async {
        uris(&a.lookup(AOR).await.unwrap()) == ["sip:long@192.0.2.1"]
    })
    .await;
    let resp = r.register(&register("q", 1, &[])).await;
    assert_eq!(contacts(&resp).len(), 1, "{:?}", contacts(&resp));

    // An address-of-record whose only binding lapses leaves no key.
    let other = parse_request(
        &register_wire(
            "UDP",
            "c2",
            1,
            &["Contact: <sip:carol@192.0.2.3>;expires=1"],
        )
        .replace("sip:bob@example.com", "sip:carol@example.com"),
    );
    ok(&r.register(&other).await);
    let key = a.key("sip:carol@example.com");
    assert_eq!(redis.cmd(&["EXISTS", &key]).int(), 1);
    until(Duration::from_secs(3), || async {
        redis.cmd(&["EXISTS", &key]).int() == 0
    })
    .await;
}

/// A transport with a TCP listener, and a REGISTER from a client
/// connection to it, as received.
async fn register_over_tcp(
    transport: &TransportLayer,
    rx: &mut tokio::sync::mpsc::Receiver<Box<Incoming>>,
    call_id: &str,
    instance: &str,
) -> (TcpStream, Incoming) {
    let addr = transport.local_addr(Protocol::Tcp).unwrap();
    let mut client = TcpStream::connect(addr).await.unwrap();
    let text = register_wire(
        "TCP",
        call_id,
        1,
        &[
            &format!(
                "Contact: <sip:bob@192.0.2.9;transport=tcp;ob>;reg-id=1;+sip.instance=\"<urn:uuid:{instance}>\";expires=600"
            ),
            "Supported: path, outbound",
        ],
    );
    client.write_all(text.as_bytes()).await.unwrap();
    let incoming = next(rx).await;
    assert!(incoming.connection.is_some());
    (client, incoming)
}

#[tokio::test]
async fn a_flow_belongs_to_the_node_that_stored_it() {
    let redis = RedisServer::start();
    let a = store(&redis, RedisConfig::default()).await;
    let b = store(&redis, RedisConfig::default()).await;
    let ra = registrar(&a, RegistrarConfig::default());
    let rb = registrar(&b, RegistrarConfig::default());
    let (transport, mut rx) = TransportLayer::bind(TransportConfig {
        listeners: vec![ListenerConfig::tcp("127.0.0.1:0".parse().unwrap())],
        ..TransportConfig::default()
    })
    .await
    .unwrap();
    ra.spawn_flow_keeper(transport.closed_connections());

    // Node A receives an outbound REGISTER over TCP: bound to the flow.
    let (client, incoming) = register_over_tcp(
        &transport,
        &mut rx,
        "flow1",
        "00000000-0000-0000-0000-000000000001",
    )
    .await;
    let connection = incoming.connection.unwrap();
    let parrot::message::Message::Request(req) = &incoming.message else {
        panic!("not a request");
    };
    let resp = ra.register_from(req, Some(&incoming.origin())).await;
    ok(&resp);
    assert_eq!(resp.headers.get("Require").unwrap(), "outbound");
    let mine = a.lookup(AOR).await.unwrap();
    assert_eq!(mine.len(), 1);
    let flow = mine[0].flow.expect("node A sees its flow");
    assert_eq!(flow.flow, Some(connection));
    assert_eq!(flow.protocol, Protocol::Tcp);
    assert_eq!(a.flow_entries(), 1);

    // Node B sees the binding, not the flow.
    let theirs = b.lookup(AOR).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].flow, None);
    assert_eq!(theirs[0].outbound, mine[0].outbound);

    // Node B writes the address-of-record: A's flow is kept.
    ok(&rb
        .register(&register(
            "other",
            1,
            &["Contact: <sip:bob@192.0.2.10>", "Expires: 600"],
        ))
        .await);
    let mine = a.lookup(AOR).await.unwrap();
    assert_eq!(mine.len(), 2);
    let flowing: Vec<_> = mine.iter().filter_map(|b| b.flow).collect();
    assert_eq!(flowing.len(), 1, "{mine:?}");
    assert_eq!(flowing[0].flow, Some(connection));

    // The connection closes: node A removes its binding from Redis.
    drop(client);
    until(WAIT, || async {
        uris(&b.lookup(AOR).await.unwrap()) == ["sip:bob@192.0.2.10"]
    })
    .await;
    assert_eq!(a.flow_entries(), 0);

    // Closings missed: the flows of connections no longer open go.
    let (_client2, incoming) = register_over_tcp(
        &transport,
        &mut rx,
        "flow2",
        "00000000-0000-0000-0000-000000000002",
    )
    .await;
    let parrot::message::Message::Request(req) = &incoming.message else {
        panic!("not a request");
    };
    ok(&ra.register_from(req, Some(&incoming.origin())).await);
    assert_eq!(b.lookup(AOR).await.unwrap().len(), 2);
    let second = incoming.connection.unwrap();
    // Node B has no flow of its own to remove.
    assert_eq!(b.retain_open_flows(&|_| false).await.unwrap(), 0);
    assert_eq!(a.retain_open_flows(&|c| c == second).await.unwrap(), 0);
    assert_eq!(a.retain_open_flows(&|c| c != second).await.unwrap(), 1);
    assert_eq!(uris(&b.lookup(AOR).await.unwrap()), ["sip:bob@192.0.2.10"]);
}

/// A registrar whose store gives up after 500 ms.
const OP_TIMEOUT: Duration = Duration::from_millis(500);

fn quick() -> RedisConfig {
    RedisConfig {
        timeout: OP_TIMEOUT,
        ..RedisConfig::default()
    }
}

fn unavailable(resp: &Response) {
    assert_eq!(
        resp.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{} {}",
        resp.status,
        resp.reason
    );
    assert_eq!(resp.headers.get("Retry-After").unwrap(), "5");
}

#[tokio::test]
async fn redis_down_is_503_at_once_and_a_restart_is_picked_up() {
    let mut redis = RedisServer::start();
    let a = store(&redis, quick()).await;
    let r = registrar(&a, RegistrarConfig::default());
    let contact = ["Contact: <sip:bob@192.0.2.1>", "Expires: 600"];
    ok(&r.register(&register("c1", 1, &contact)).await);

    redis.stop();
    for cseq in [2, 3] {
        let t0 = Instant::now();
        let resp = r.register(&register("c1", cseq, &contact)).await;
        unavailable(&resp);
        assert!(
            t0.elapsed() < OP_TIMEOUT + Duration::from_millis(300),
            "503 after {:?}",
            t0.elapsed()
        );
        assert!(matches!(
            a.lookup(AOR).await,
            Err(StoreError::Unavailable(_))
        ));
    }

    // A store made meanwhile cannot connect, and says so quickly.
    let t0 = Instant::now();
    match RedisStore::connect(&redis.url(), quick()).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(t0.elapsed() < 4 * OP_TIMEOUT, "after {:?}", t0.elapsed());
    assert!(matches!(
        RedisStore::connect("http://nowhere/", quick()).await,
        Err(StoreError::Failed(_))
    ));

    // Started again (empty): the next REGISTER gets through.
    redis.restart();
    let resp = r.register(&register("c1", 4, &contact)).await;
    ok(&resp);
    assert_eq!(contacts(&resp).len(), 1);
    assert_eq!(redis.cmd(&["EXISTS", &a.key(AOR)]).int(), 1);
}

#[tokio::test]
async fn a_slow_redis_is_503_within_the_timeout() {
    let redis = RedisServer::start();
    let a = store(&redis, quick()).await;
    let r = registrar(&a, RegistrarConfig::default());
    let contact = ["Contact: <sip:bob@192.0.2.1>", "Expires: 600"];
    ok(&r.register(&register("c1", 1, &contact)).await);

    // Redis stops answering anyone for 1.5 s.
    assert_eq!(
        redis.cmd(&["CLIENT", "PAUSE", "1500", "ALL"]),
        Reply::Status("OK".into())
    );
    let t0 = Instant::now();
    let resp = r.register(&register("c1", 2, &contact)).await;
    unavailable(&resp);
    let took = t0.elapsed();
    assert!(
        took >= OP_TIMEOUT - Duration::from_millis(50),
        "503 after {took:?}"
    );
    assert!(
        took < OP_TIMEOUT + Duration::from_millis(300),
        "503 after {took:?}"
    );

    // Once it answers again, so does the store.
    let mut cseq = 3;
    until(Duration::from_secs(5), || {
        cseq += 1;
        let req = register("c1", cseq, &contact);
        let r = r.clone();
        async move { r.register(&req).await.status == StatusCode::OK }
    })
    .await;
}

/// Collects the events logged on this thread.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn garbage_in_redis_is_500_and_logged() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let redis = RedisServer::start();
    let a = store(&redis, RedisConfig::default()).await;
    let r = registrar(&a, RegistrarConfig::default());
    let key = a.key(AOR);
    let contact = ["Contact: <sip:bob@192.0.2.1>", "Expires: 600"];
    let far = "99999999999999";
    let garbage: &[&[&str]] = &[
        &["SET", &key, "garbage"],
        &["HSET", &key, "v", "1", "b", "{not json"],
        &["HSET", &key, "b", "[]"],
        &[
            "HSET",
            &key,
            "v",
            "1",
            "b",
            &format!(r#"[{{"c":"<<<","k":"x","i":"c","s":1,"l":{far}}}]"#),
        ],
        &[
            "HSET",
            &key,
            "v",
            "1",
            "b",
            &format!(r#"[{{"c":"<sip:a@b>","k":"x","i":"c","s":1,"l":{far},"p":["not a uri"]}}]"#),
        ],
    ];
    for (n, command) in garbage.iter().enumerate() {
        redis.cmd(&["DEL", &key]);
        let set = redis.cmd(command);
        assert!(!matches!(set, Reply::Error(_)), "{set:?}");
        let before = capture.lines().len();
        let resp = r.register(&register("c1", n as u32 + 1, &contact)).await;
        assert_eq!(
            resp.status,
            StatusCode::SERVER_INTERNAL_ERROR,
            "{command:?}: {} {}",
            resp.status,
            resp.reason
        );
        let logged = capture.lines()[before..].to_vec();
        assert!(
            logged
                .iter()
                .any(|l| l.starts_with("WARN") && l.contains("undecodable") && l.contains(&key)),
            "{command:?}: {logged:?}"
        );
        assert!(matches!(a.lookup(AOR).await, Err(StoreError::Failed(_))));
        // Left as it was.
        let kind = redis.cmd(&["TYPE", &key]).text().unwrap();
        assert_eq!(kind, if n == 0 { "string" } else { "hash" });
    }
}

#[tokio::test]
async fn beyond_the_in_flight_bound_503_at_once() {
    let redis = RedisServer::start();
    let a = store(
        &redis,
        RedisConfig {
            max_in_flight: 2,
            timeout: Duration::from_millis(1500),
            ..RedisConfig::default()
        },
    )
    .await;
    let r = registrar(&a, RegistrarConfig::default());
    let contact = ["Contact: <sip:bob@192.0.2.1>", "Expires: 600"];
    ok(&r.register(&register("c1", 1, &contact)).await);
    assert_eq!(a.in_flight(), 0);

    assert_eq!(
        redis.cmd(&["CLIENT", "PAUSE", "3000", "ALL"]),
        Reply::Status("OK".into())
    );
    let stuck: Vec<_> = (0..2)
        .map(|i| {
            let r = r.clone();
            let req = register(&format!("stuck{i}"), 1, &contact);
            tokio::spawn(async move { r.register(&req).await })
        })
        .collect();
    until(Duration::from_secs(1), || async { a.in_flight() == 2 }).await;

    let t0 = Instant::now();
    let resp = r.register(&register("c1", 2, &contact)).await;
    unavailable(&resp);
    assert!(
        t0.elapsed() < Duration::from_millis(200),
        "503 after {:?}",
        t0.elapsed()
    );
    for s in stuck {
        unavailable(&s.await.unwrap());
    }
    assert_eq!(a.in_flight(), 0);
}
