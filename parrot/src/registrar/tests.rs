use super::*;
use crate::message::HeaderName;
use crate::test_support::parse_req;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const A: &str = "sip:a@192.0.2.1";
const B: &str = "sip:b@192.0.2.2";

/// A REGISTER for alice from Call-ID `call_id` with CSeq `cseq`, the
/// `contacts` given, and `extra` header lines.
fn register(call_id: &str, cseq: u32, contacts: &[&str], extra: &[&str]) -> Request {
    let mut text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=t\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for c in contacts {
        text.push_str(&format!("Contact: {c}\r\n"));
    }
    for e in extra {
        text.push_str(e);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    parse_req(&text)
}

/// The (URI, expires) of every Contact of `resp`.
fn contacts(resp: &Response) -> Vec<(String, u32)> {
    resp.headers
        .typed_all::<Contact>()
        .map(|c| {
            let c = c.unwrap();
            (c.addr().unwrap().uri().to_string(), c.expires().unwrap())
        })
        .collect()
}

use crate::message::typed::{Contact, TypedHeader};

#[tokio::test(start_paused = true)]
async fn add_refresh_query_remove() {
    let r = Registrar::in_memory();
    let resp = r
        .register(&register("c1", 1, &[&format!("<{A}>")], &[]))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(contacts(&resp), [(A.to_owned(), 3600)]);
    assert!(resp.headers.get(HeaderName::Date).is_some());
    tokio::time::advance(Duration::from_secs(100)).await;
    // A query lists the remaining lifetime.
    let resp = r.register(&register("c1", 2, &[], &[])).await;
    assert_eq!(contacts(&resp), [(A.to_owned(), 3500)]);
    // A second contact with its own expires; the maximum caps.
    let resp = r
        .register(&register(
            "c1",
            3,
            &[&format!("<{B}>;expires=600;q=0.5")],
            &["Expires: 999999999"],
        ))
        .await;
    assert_eq!(contacts(&resp), [(A.to_owned(), 3500), (B.to_owned(), 600)]);
    let resp = r
        .register(&register(
            "c1",
            4,
            &[&format!("<{A}>")],
            &["Expires: 999999"],
        ))
        .await;
    assert_eq!(
        contacts(&resp),
        [(A.to_owned(), 86400), (B.to_owned(), 600)]
    );
    // Expires 0 removes one; `*` removes all.
    let resp = r
        .register(&register("c1", 5, &[&format!("<{B}>;expires=0")], &[]))
        .await;
    assert_eq!(contacts(&resp), [(A.to_owned(), 86400)]);
    let resp = r
        .register(&register("c1", 6, &["*"], &["Expires: 0"]))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(contacts(&resp).is_empty());
}

#[tokio::test(start_paused = true)]
async fn bindings_lapse_on_their_own() {
    let store = MemoryStore::new();
    let r = Registrar::new(Arc::new(store.clone()), RegistrarConfig::default());
    r.register(&register("c1", 1, &[&format!("<{A}>;expires=60")], &[]))
        .await;
    assert_eq!(store.bindings("sip:alice@example.com").len(), 1);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(store.bindings("sip:alice@example.com").is_empty());
    assert_eq!(store.sweep(), 1);
    assert_eq!(store.stored(), 0);
    assert_eq!(store.aors(), 0);
}

#[tokio::test]
async fn out_of_order_and_refusals_change_nothing() {
    let r = Registrar::in_memory();
    r.register(&register("c1", 5, &[&format!("<{A}>")], &[]))
        .await;
    for (req, status) in [
        // §10.3 step 7: same Call-ID, CSeq not higher.
        (
            register("c1", 5, &[&format!("<{A}>;expires=0")], &[]),
            StatusCode::SERVER_INTERNAL_ERROR,
        ),
        // Step 6: `*` needs Expires: 0 and to be alone.
        (register("c2", 1, &["*"], &[]), StatusCode::BAD_REQUEST),
        (
            register("c2", 1, &["*", &format!("<{B}>")], &["Expires: 0"]),
            StatusCode::BAD_REQUEST,
        ),
        // ... and is out of order too from the same Call-ID.
        (
            register("c1", 4, &["*"], &["Expires: 0"]),
            StatusCode::SERVER_INTERNAL_ERROR,
        ),
        // Step 7: below the minimum, 423 with Min-Expires.
        (
            register("c2", 1, &[&format!("<{B}>;expires=10")], &[]),
            StatusCode::INTERVAL_TOO_BRIEF,
        ),
        // Malformed Contact and Expires.
        (
            register("c2", 1, &["<sip:b@192.0.2.2"], &[]),
            StatusCode::BAD_REQUEST,
        ),
        (
            register("c2", 1, &[&format!("<{B}>")], &["Expires: soon"]),
            StatusCode::BAD_REQUEST,
        ),
        // RFC 3327 §5.3: a Path from a UA that does not support it.
        (
            register(
                "c2",
                1,
                &[&format!("<{B}>")],
                &["Path: <sip:edge.example.com;lr>"],
            ),
            StatusCode::BAD_EXTENSION,
        ),
    ] {
        let resp = r.register(&req).await;
        assert_eq!(resp.status, status, "{req:?}");
        if status == StatusCode::INTERVAL_TOO_BRIEF {
            assert_eq!(resp.headers.get("Min-Expires").unwrap(), "60");
        }
        if status == StatusCode::BAD_EXTENSION {
            assert_eq!(resp.headers.get("Unsupported").unwrap(), "path");
        }
    }
    let resp = r.register(&register("c3", 1, &[], &[])).await;
    assert_eq!(contacts(&resp), [(A.to_owned(), 3600)], "unchanged");
}

#[tokio::test]
async fn a_non_sip_or_huge_aor_is_a_bad_request() {
    let r = Registrar::in_memory();
    let mut req = register("c1", 1, &[&format!("<{A}>")], &[]);
    req.headers.set(HeaderName::To, "<tel:+15551234567>");
    let resp = r.register(&req).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert!(resp.reason.contains("address-of-record"), "{}", resp.reason);
    let mut req = register("c1", 1, &[&format!("<{A}>")], &[]);
    req.headers.set(
        HeaderName::To,
        format!("<sip:{}@example.com>", "a".repeat(5000)),
    );
    let resp = r.register(&req).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert!(resp.reason.contains("longer than"), "{}", resp.reason);
}

#[tokio::test]
async fn contacts_and_bindings_are_bounded() {
    let r = Registrar::in_memory();
    // 10,000 contacts (more than a datagram could carry: added after
    // parsing).
    let mut req = register("c1", 1, &[], &[]);
    for i in 0..10_000 {
        req.headers
            .append(HeaderName::Contact, format!("<sip:u{i}@192.0.2.1>"));
    }
    let resp = r.register(&req).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    // One at a time up to the limit, then refused.
    for i in 0..20 {
        let c = format!("<sip:u{i}@192.0.2.1>");
        let resp = r.register(&register("c1", 2 + i, &[&c], &[])).await;
        assert_eq!(resp.status, StatusCode::OK);
    }
    let resp = r
        .register(&register("c1", 100, &["<sip:one-more@192.0.2.1>"], &[]))
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert!(resp.reason.contains("20"), "{}", resp.reason);
    // Refreshing and removing at the limit still work.
    let resp = r
        .register(&register("c1", 101, &["<sip:u0@192.0.2.1>;expires=0"], &[]))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(contacts(&resp).len(), 19);
}

#[tokio::test]
async fn path_is_stored_echoed_and_routed_through() {
    let r = Registrar::in_memory();
    let resp = r
        .register(&register(
            "c1",
            1,
            &[&format!("<{A}>;q=0.5"), &format!("<{B}>")],
            &[
                "Supported: path",
                "Path: <sip:edge1.example.com;lr>, <sip:edge2.example.com;lr>",
            ],
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    let echoed: Vec<&str> = resp.headers.values(HeaderName::PathHeader).collect();
    assert_eq!(
        echoed,
        ["<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>"]
    );
    // Highest q first, one group per q, each through the Path.
    let groups = r
        .targets(&"sip:alice@example.com".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0][0].uri.to_string(), B);
    assert_eq!(groups[1][0].uri.to_string(), A);
    let route: Vec<String> = groups[0][0].route.iter().map(Uri::to_string).collect();
    assert_eq!(
        route,
        ["sip:edge1.example.com;lr", "sip:edge2.example.com;lr"]
    );
    // Equal q: one group.
    r.register(&register("c1", 2, &["<sip:c@192.0.2.3>;q=0.5"], &[]))
        .await;
    let groups = r
        .targets(&"sip:alice@EXAMPLE.com".parse().unwrap())
        .await
        .unwrap();
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 2]);
}

/// A store that fails, or never answers.
struct BrokenStore {
    hang: bool,
    called: AtomicBool,
}

impl BrokenStore {
    fn answer<T: Send>(&self) -> StoreFuture<'_, T> {
        self.called.store(true, Ordering::Relaxed);
        let hang = self.hang;
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Err(StoreError::Unavailable("connection refused".into()))
        })
    }
}

impl LocationStore for BrokenStore {
    fn update<'a>(&'a self, _: &'a str, _: &'a Update) -> StoreFuture<'a, Vec<Binding>> {
        self.answer()
    }
    fn lookup<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Vec<Binding>> {
        self.answer()
    }
    fn remove_flow<'a>(&'a self, _: crate::transport::ConnectionId) -> StoreFuture<'a, usize> {
        self.answer()
    }
    fn retain_open_flows<'a>(
        &'a self,
        _: &'a (dyn Fn(crate::transport::ConnectionId) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        self.answer()
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_down_or_silent_gives_503_with_retry_after() {
    for hang in [false, true] {
        let store = Arc::new(BrokenStore {
            hang,
            called: AtomicBool::new(false),
        });
        let r = Registrar::new(store.clone(), RegistrarConfig::default());
        let started = tokio::time::Instant::now();
        let resp = r
            .register(&register("c1", 1, &[&format!("<{A}>")], &[]))
            .await;
        assert!(store.called.load(Ordering::Relaxed));
        assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE, "hang {hang}");
        assert_eq!(resp.headers.get("Retry-After").unwrap(), "5");
        let waited = started.elapsed();
        if hang {
            assert_eq!(waited, DEFAULT_STORE_TIMEOUT);
        } else {
            assert_eq!(waited, Duration::ZERO);
        }
        assert!(
            r.lookup(&"sip:alice@example.com".parse().unwrap())
                .await
                .is_err()
        );
    }
}

#[test]
fn apply_checks_every_contact_before_changing_any() {
    let binding = |key: &str, call_id: &str, cseq: u32| Binding {
        contact: Contact::parse_str(&format!("<sip:{key}@h>")).unwrap(),
        key: key.to_owned(),
        call_id: call_id.to_owned(),
        cseq,
        expires: Duration::from_secs(60),
        path: Vec::new(),
        flow: None,
        outbound: None,
    };
    let mut current = vec![binding("a", "x", 5), binding("b", "y", 1)];
    let before = current.clone();
    let update = Update {
        call_id: "x".into(),
        cseq: 5,
        remove_all: false,
        changes: vec![
            Change::Set(Box::new(binding("c", "x", 5))),
            Change::Remove { key: "a".into() },
        ],
        max_bindings: 10,
    };
    assert_eq!(apply(&mut current, &update), Err(StoreError::OutOfOrder));
    assert_eq!(current, before);
    // Another Call-ID may change any binding whatever its CSeq.
    let update = Update {
        call_id: "z".into(),
        cseq: 1,
        ..update
    };
    apply(&mut current, &update).unwrap();
    let keys: Vec<&str> = current.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(keys, ["b", "c"]);
}

#[test]
fn binding_keys_follow_uri_equivalence() {
    let key = |s: &str| binding_key(&s.parse().unwrap(), None);
    assert_eq!(
        key("sip:%61lice@Example.COM:5060;transport=TCP;foo=bar"),
        key("sip:alice@example.com:5060;transport=tcp")
    );
    assert_ne!(
        key("sip:alice@example.com"),
        key("sip:alice@example.com:5060")
    );
    assert_ne!(key("sip:alice@example.com"), key("sips:alice@example.com"));
    assert_ne!(key("sip:Alice@example.com"), key("sip:alice@example.com"));
    let outbound = ("urn:uuid:1".to_owned(), 1);
    assert_eq!(
        binding_key(&"sip:a@h1".parse().unwrap(), Some(&outbound)),
        binding_key(&"sip:a@h2".parse().unwrap(), Some(&outbound))
    );
}

#[test]
fn canonical_aors() {
    for (uri, aor) in [
        ("sip:Alice@Example.COM", "sip:Alice@example.com"),
        ("sips:bob@example.com;transport=tcp", "sip:bob@example.com"),
        (
            "sip:%61lice@example.com:5070?subject=x",
            "sip:alice@example.com:5070",
        ),
        ("sip:example.com", "sip:example.com"),
    ] {
        assert_eq!(canonical_aor(&uri.parse().unwrap()).as_deref(), Some(aor));
    }
    assert_eq!(canonical_aor(&"tel:+15551234".parse().unwrap()), None);
}

#[test]
fn http_dates() {
    assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    let t = UNIX_EPOCH + Duration::from_secs(1_289_690_940);
    assert_eq!(http_date(t), "Sat, 13 Nov 2010 23:29:00 GMT");
    let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
    assert_eq!(http_date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert!(http_date(SystemTime::now()).ends_with(" GMT"));
}
