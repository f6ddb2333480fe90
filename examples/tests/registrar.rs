//! The `registrar` example over loopback UDP (RFC 3261 §10.3): add,
//! refresh, per-contact expires, remove, `*`, 423, out-of-order CSeq,
//! canonical AORs, default and maximum lifetimes, expiry (paused clock)
//! both lazily and by the sweep.

mod common;

use common::{Peer, Req, any_port, run, udp_addr, values};
use examples::registrar::{self, Location, RegistrarOptions};
use parrot::message::StatusCode;
use parrot::message::typed::{Contact, TypedHeader};
use std::time::Duration;
use tokio::time::Instant;

const AOR_URI: &str = "sip:alice@example.com";

async fn start(options: RegistrarOptions) -> (Peer, Location) {
    let location = Location::new();
    let server = registrar::bind(any_port(), options, location.clone())
        .await
        .expect("bind");
    let addr = udp_addr(&server);
    run(server);
    (Peer::new(addr).await, location)
}

/// A REGISTER for alice with these Contact values (none: a query).
fn reg(call: &str, cseq: u32, contacts: &[&str]) -> Req {
    let mut r = Req::new("REGISTER", call).cseq(cseq).to(AOR_URI);
    for c in contacts {
        r = r.header("Contact", c);
    }
    if contacts.is_empty() {
        r = r.without_contact();
    }
    r
}

/// The Contact URIs of a 200 with their `expires`.
fn bindings(resp: &parrot::Response) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = resp
        .headers
        .values("Contact")
        .map(|c| {
            let c = Contact::parse_str(c).expect("Contact parses");
            let uri = c.addr().unwrap().uri().to_string();
            (uri, c.expires().expect("every binding has expires"))
        })
        .collect();
    v.sort();
    v
}

const A: &str = "sip:a@192.0.2.1";
const B: &str = "sip:b@192.0.2.2";

#[tokio::test(start_paused = true)]
async fn add_refresh_second_contact_remove() {
    let (p, location) = start(RegistrarOptions::default()).await;

    let r = p
        .ask(&reg("c1", 1, &["<sip:a@192.0.2.1>"]).header("Expires", "3600"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
    assert!(r.headers.get("Date").unwrap().ends_with(" GMT"));

    // Refresh with a shorter lifetime.
    let r = p
        .ask(&reg("c1", 2, &["<sip:a@192.0.2.1>"]).header("Expires", "1800"))
        .await;
    assert_eq!(bindings(&r), [(A.to_owned(), 1800)]);

    // A second contact; its own expires overrides the Expires header.
    let r = p
        .ask(&reg("c1", 3, &["<sip:b@192.0.2.2>;expires=600"]).header("Expires", "3600"))
        .await;
    assert_eq!(bindings(&r), [(A.to_owned(), 1800), (B.to_owned(), 600)]);

    // Remove the first with Expires: 0.
    let r = p
        .ask(&reg("c1", 4, &["<sip:a@192.0.2.1>"]).header("Expires", "0"))
        .await;
    assert_eq!(bindings(&r), [(B.to_owned(), 600)]);

    // ... or with expires=0 on the contact, the header saying otherwise.
    let r = p
        .ask(&reg("c1", 5, &["<sip:b@192.0.2.2>;expires=0"]).header("Expires", "3600"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(bindings(&r).is_empty());
    assert!(
        location
            .bindings("sip:alice@example.com", Instant::now())
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn remaining_lifetimes_count_down() {
    let (p, _) = start(RegistrarOptions::default()).await;
    p.ask(&reg("c1", 1, &["<sip:a@192.0.2.1>"])).await;
    tokio::time::sleep(Duration::from_secs(100)).await;
    let r = p.ask(&reg("c2", 1, &[])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        bindings(&r),
        [(A.to_owned(), 3500)],
        "default 3600 less 100 s"
    );
}

#[tokio::test]
async fn several_contacts_in_one_request_and_the_maximum() {
    let options = RegistrarOptions {
        max_expires: 7200,
        ..RegistrarOptions::default()
    };
    let (p, _) = start(options).await;
    let r = p
        .ask(
            &reg("c1", 1, &["<sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>"])
                .header("Expires", "100000"),
        )
        .await;
    let got = bindings(&r);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(_, e)| *e == 7200), "capped: {got:?}");
    let a = values(&r, "Contact")
        .into_iter()
        .find(|c| c.contains("sip:a@"))
        .unwrap();
    assert!(a.contains("q=0.5"), "parameters kept: {a}");
}

#[tokio::test]
async fn interval_too_brief_changes_nothing() {
    let (p, _) = start(RegistrarOptions::default()).await;
    p.ask(&reg("c1", 1, &["<sip:a@192.0.2.1>"])).await;
    let r = p
        .ask(&reg("c1", 2, &["<sip:b@192.0.2.2>", "<sip:c@192.0.2.3>"]).header("Expires", "30"))
        .await;
    assert_eq!(r.status, StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(r.headers.get("Min-Expires").unwrap(), "60");
    let r = p
        .ask(&reg("c1", 3, &["<sip:b@192.0.2.2>;expires=59"]))
        .await;
    assert_eq!(r.status, StatusCode::INTERVAL_TOO_BRIEF);
    let r = p.ask(&reg("c1", 4, &[])).await;
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
}

#[tokio::test]
async fn wildcard_removes_everything_but_only_alone_with_expires_0() {
    let (p, location) = start(RegistrarOptions::default()).await;
    p.ask(&reg("c1", 1, &["<sip:a@192.0.2.1>", "<sip:b@192.0.2.2>"]))
        .await;

    for bad in [
        reg("c1", 2, &["*"]),
        reg("c1", 2, &["*"]).header("Expires", "60"),
        reg("c1", 2, &["*", "<sip:a@192.0.2.1>"]).header("Expires", "0"),
    ] {
        assert_eq!(p.ask(&bad).await.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    assert_eq!(location.stored(), 2, "the refusals changed nothing");

    // From another Call-ID: every binding goes.
    let r = p.ask(&reg("other", 1, &["*"]).header("Expires", "0")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers.contains("Contact"));
    assert_eq!(location.stored(), 0);
}

#[tokio::test]
async fn an_out_of_order_cseq_changes_nothing() {
    let (p, _) = start(RegistrarOptions::default()).await;
    p.ask(&reg("c1", 5, &["<sip:a@192.0.2.1>"])).await;
    let r = p
        .ask(&reg("c1", 4, &["<sip:a@192.0.2.1>"]).header("Expires", "0"))
        .await;
    assert_eq!(r.status, StatusCode::SERVER_INTERNAL_ERROR);
    let r = p.ask(&reg("c1", 4, &["*"]).header("Expires", "0")).await;
    assert_eq!(r.status, StatusCode::SERVER_INTERNAL_ERROR);
    let r = p.ask(&reg("c1", 6, &[])).await;
    assert_eq!(bindings(&r).len(), 1);
}

#[tokio::test]
async fn the_aor_is_canonical() {
    let (p, location) = start(RegistrarOptions::default()).await;
    p.ask(&reg("c1", 1, &["<sip:a@192.0.2.1>"]).to("sip:Carol@EXAMPLE.com;user=phone"))
        .await;
    let r = p
        .ask(&reg("c2", 1, &[]).to("sips:%43arol@example.COM"))
        .await;
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
    assert_eq!(
        location
            .bindings("sip:Carol@example.com", Instant::now())
            .len(),
        1
    );
    let r = p.ask(&reg("c3", 1, &[]).to("tel:+15551234567")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_headers_get_400() {
    let (p, _) = start(RegistrarOptions::default()).await;
    let r = p
        .ask(&reg("c1", 1, &["<sip:a@192.0.2.1>"]).header("Expires", "soon"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = p.ask(&reg("c1", 2, &["<sip:a@192.0.2.1>;expires=x"])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(start_paused = true)]
async fn bindings_lapse_lazily() {
    let (p, location) = start(RegistrarOptions {
        // No sweep during this test: only the lazy path removes.
        sweep_interval: Duration::from_secs(100_000),
        ..RegistrarOptions::default()
    })
    .await;
    p.ask(&reg(
        "c1",
        1,
        &["<sip:a@192.0.2.1>;expires=60", "<sip:b@192.0.2.2>"],
    ))
    .await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(location.stored(), 2, "not swept yet");
    let r = p.ask(&reg("c2", 1, &[])).await;
    assert_eq!(bindings(&r), [(B.to_owned(), 3539)]);
    assert_eq!(location.stored(), 1, "dropped on access");
}

#[tokio::test(start_paused = true)]
async fn the_sweep_drops_lapsed_bindings() {
    let (p, location) = start(RegistrarOptions {
        sweep_interval: Duration::from_secs(30),
        ..RegistrarOptions::default()
    })
    .await;
    p.ask(&reg("c1", 1, &["<sip:a@192.0.2.1>;expires=60"]))
        .await;
    p.ask(&reg("c2", 1, &["<sip:b@192.0.2.2>"]).to("sip:bob@example.com"))
        .await;
    assert_eq!(location.stored(), 2);
    tokio::time::sleep(Duration::from_secs(95)).await;
    assert_eq!(location.stored(), 1, "alice's binding swept, bob's kept");
}

#[tokio::test]
async fn options_lists_register() {
    let (p, _) = start(RegistrarOptions::default()).await;
    let r = p.ask(&Req::new("OPTIONS", "o1")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get("Allow").unwrap(), "OPTIONS, REGISTER");
}

#[tokio::test]
async fn serve_returns_on_shutdown() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(registrar::serve(any_port(), async {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(result.is_ok());
}
