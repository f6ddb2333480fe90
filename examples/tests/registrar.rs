//! The `registrar` example over loopback UDP (RFC 3261 §10.3): add,
//! refresh, per-contact expires, remove, `*`, 423, out-of-order CSeq,
//! canonical AORs, default and maximum lifetimes, expiry (paused clock)
//! both lazily and by the sweep; with `RegistrarOptions::auth`, Digest
//! authentication: challenge, success with SHA-256 and MD5, wrong password
//! and unknown user alike, another user's AOR (403), replay, stale nonces,
//! malformed credentials.

mod common;

use common::{Peer, Req, any_port, run, udp_addr, values};
use examples::registrar::{self, Location, RegistrarOptions};
use parrot::auth::{DigestAuthenticator, DigestClient, Users};
use parrot::message::StatusCode;
use parrot::message::typed::{Authorization, Challenge, Contact, TypedHeader, WwwAuthenticate};
use std::time::Duration;

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
fn bindings(resp: &parrot::message::Response) -> Vec<(String, u32)> {
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
    assert!(location.bindings("sip:alice@example.com").is_empty());
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
    assert_eq!(location.bindings("sip:Carol@example.com").len(), 1);
    // RFC 4475 §3.3.4: a non-SIP To is a bad request.
    let r = p.ask(&reg("c3", 1, &[]).to("tel:+15551234567")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
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
async fn options_lists_register_and_what_it_routes() {
    let (p, _) = start(RegistrarOptions::default()).await;
    let r = p.ask(&Req::new("OPTIONS", "o1")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers.get("Allow").unwrap(),
        "INVITE, ACK, CANCEL, OPTIONS, REGISTER, MESSAGE, INFO, SUBSCRIBE, NOTIFY, UPDATE, PRACK, REFER"
    );
}

#[tokio::test(start_paused = true)]
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

// --- Digest authentication (RFC 3261 §10.3 steps 3 and 4, §22) -----------

const REALM: &str = "example.com";
/// The Request-URI `Req` uses, which the digest `uri` must name.
const REQUEST_URI: &str = "sip:service@127.0.0.1";

fn with_auth(auth: DigestAuthenticator) -> RegistrarOptions {
    RegistrarOptions::default().with_auth(auth)
}

fn authenticator() -> DigestAuthenticator {
    DigestAuthenticator::new(
        REALM,
        Users::new()
            .with("alice", "wonderland")
            .with("bob", "builder"),
    )
}

/// The challenges of a 401.
fn challenges(resp: &parrot::message::Response) -> Vec<Challenge> {
    resp.headers
        .values("WWW-Authenticate")
        .map(|v| WwwAuthenticate::parse_str(v).expect("challenge parses").0)
        .collect()
}

/// The Authorization value answering `c` as `user`/`password`.
fn authorization(c: &Challenge, user: &str, password: &str) -> String {
    Authorization(
        DigestClient::new(user, password)
            .answer(c, "REGISTER", REQUEST_URI, b"")
            .unwrap(),
    )
    .to_string()
}

#[tokio::test]
async fn auth_challenge_then_200() {
    let (p, location) = start(with_auth(authenticator())).await;
    let r = p.ask(&reg("c1", 1, &["<sip:a@192.0.2.1>"])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let cs = challenges(&r);
    assert_eq!(cs.len(), 2, "one challenge per algorithm");
    assert_eq!(
        cs[0].algorithm(),
        Some("SHA-256"),
        "SHA-256 first (RFC 8760)"
    );
    assert_eq!(cs[1].algorithm(), Some("MD5"));
    assert!(cs.iter().all(|c| c.realm() == Some(REALM) && !c.stale()));
    assert_eq!(location.stored(), 0, "nothing registered unauthenticated");

    // SHA-256 ...
    let r = p
        .ask(&reg("c1", 2, &["<sip:a@192.0.2.1>"]).header(
            "Authorization",
            &authorization(&cs[0], "alice", "wonderland"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
    // ... or MD5, after a new challenge (the first nonce's nc=1 is spent).
    let r = p.ask(&reg("c1", 3, &[])).await;
    let md5 = &challenges(&r)[1];
    let r = p
        .ask(
            &reg("c1", 4, &["<sip:b@192.0.2.2>"])
                .header("Authorization", &authorization(md5, "alice", "wonderland")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(bindings(&r).len(), 2);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_new_challenge() {
    let (p, location) = start(with_auth(authenticator())).await;
    let c = &challenges(&p.ask(&reg("c1", 1, &[])).await)[0];
    let mut seen = Vec::new();
    for (user, password) in [("alice", "Wonderland"), ("mallory", "wonderland")] {
        let req = reg("c1", 2, &["<sip:a@192.0.2.1>"])
            .header("Authorization", &authorization(c, user, password));
        let r = p.ask(&req.to(&format!("sip:{user}@example.com"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{user}");
        let fresh = challenges(&r);
        assert_ne!(fresh[0].nonce(), c.nonce(), "a new nonce");
        assert!(fresh.iter().all(|c| !c.stale()));
        let shape: Vec<String> = fresh
            .into_iter()
            .map(|mut c| {
                c.set_param("nonce", "N");
                c.to_string()
            })
            .collect();
        seen.push((r.reason.clone(), shape));
    }
    assert_eq!(
        seen[0], seen[1],
        "nothing tells an unknown user from a wrong password"
    );
    assert_eq!(location.stored(), 0);
}

#[tokio::test]
async fn another_users_aor_is_forbidden() {
    let (p, location) = start(with_auth(authenticator())).await;
    let c = &challenges(&p.ask(&reg("c1", 1, &[])).await)[0];
    // bob's password is right, but the To is alice's.
    let r = p
        .ask(
            &reg("c1", 2, &["<sip:b@192.0.2.2>"])
                .header("Authorization", &authorization(c, "bob", "builder")),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(location.stored(), 0);
}

#[tokio::test]
async fn a_replayed_authorization_is_refused_but_a_retransmission_is_not() {
    let (p, location) = start(with_auth(authenticator())).await;
    let c = &challenges(&p.ask(&reg("c1", 1, &[])).await)[0];
    let auth = authorization(c, "alice", "wonderland");
    let first = reg("c1", 2, &["<sip:a@192.0.2.1>"])
        .header("Authorization", &auth)
        .branch("z9hG4bK-first-auth");
    assert_eq!(p.ask(&first).await.status, StatusCode::OK);
    // The same datagram again is a retransmission: the transaction layer
    // answers with the same 200, the authenticator never sees it.
    assert_eq!(p.ask(&first).await.status, StatusCode::OK);
    // The same Authorization in a new request (new branch, new CSeq): the
    // nonce-count did not increase, so it is a replay (RFC 7616 §3.4).
    let replay = reg("c1", 3, &["<sip:a@192.0.2.1>"])
        .header("Authorization", &auth)
        .header("Expires", "0");
    let r = p.ask(&replay).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(challenges(&r).iter().all(|c| !c.stale()));
    assert_eq!(location.stored(), 1, "the replayed removal changed nothing");
    // The next count with the same nonce is fine.
    let next = DigestClient::new("alice", "wonderland")
        .answer_with(c, "REGISTER", REQUEST_URI, b"", 2, "0a4f113b")
        .unwrap();
    let r = p
        .ask(
            &reg("c1", 4, &["<sip:a@192.0.2.1>"])
                .header("Authorization", &Authorization(next).to_string())
                .header("Expires", "0"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(location.stored(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_expired_nonce_gets_stale_true() {
    let auth = authenticator().with_nonce_lifetime(Duration::from_secs(60));
    let (p, _) = start(with_auth(auth)).await;
    let c = &challenges(&p.ask(&reg("c1", 1, &[])).await)[0];
    tokio::time::sleep(Duration::from_secs(61)).await;
    let r = p
        .ask(
            &reg("c1", 2, &["<sip:a@192.0.2.1>"])
                .header("Authorization", &authorization(c, "alice", "wonderland")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let fresh = challenges(&r);
    assert!(fresh.iter().all(Challenge::stale), "stale=true");
    let r = p
        .ask(&reg("c1", 3, &["<sip:a@192.0.2.1>"]).header(
            "Authorization",
            &authorization(&fresh[0], "alice", "wonderland"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_credentials_and_a_foreign_uri_get_400() {
    let (p, _) = start(with_auth(authenticator())).await;
    let c = &challenges(&p.ask(&reg("c1", 1, &[])).await)[0];
    let r = p
        .ask(&reg("c1", 2, &[]).header(
            "Authorization",
            r#"Digest username="alice", realm="example.com", nonce="#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = p
        .ask(&reg("c1", 3, &[]).header("Authorization", r#"Digest username="alice", realm="example.com", uri="sip:service@127.0.0.1", response="00""#))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no nonce");
    let elsewhere = Authorization(
        DigestClient::new("alice", "wonderland")
            .answer(c, "REGISTER", "sip:elsewhere.example.com", b"")
            .unwrap(),
    );
    let r = p
        .ask(&reg("c1", 4, &[]).header("Authorization", &elsewhere.to_string()))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.reason.as_str(), "Digest URI Mismatch");
    // Credentials for another realm only: a challenge for ours.
    let r = p
        .ask(&reg("c1", 5, &[]).header("Authorization", r#"Digest username="alice", realm="other.org", nonce="n", uri="sip:service@127.0.0.1", response="00""#))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_auth_credentials_are_ignored() {
    let (p, _) = start(RegistrarOptions::default()).await;
    let r = p
        .ask(&reg("c1", 1, &["<sip:a@192.0.2.1>"]).header("Authorization", "Digest garbage"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        parrot::registrar::Registrar::in_memory()
            .authorize(&parrot::message::Request::new(
                parrot::message::Method::Register,
                REQUEST_URI.parse().unwrap()
            ))
            .unwrap()
            .is_none()
    );
}

// --- Routing by location and flows (RFC 3261 §16.5, RFC 5626) ------------

const BOB_AOR: &str = "sip:bob@example.com";

/// A REGISTER for bob with one Contact.
fn reg_bob(call: &str, cseq: u32, contact: &str) -> Req {
    Req::new("REGISTER", call)
        .cseq(cseq)
        .to(BOB_AOR)
        .header("Contact", contact)
}

/// A request for bob's address-of-record.
fn to_bob(method: &'static str, call: &str) -> Req {
    let mut r = Req::new(method, call).to(BOB_AOR);
    r.uri = BOB_AOR.to_owned();
    r
}

#[tokio::test]
async fn a_request_for_a_registered_user_goes_to_its_contact() {
    let (alice, location) = start(RegistrarOptions::default()).await;
    let bob = Peer::new(alice.server).await;
    let contact = format!("<sip:bob@{}>", bob.local());
    let r = bob.ask(&reg_bob("b1", 1, &contact)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("Require").is_none(), "no outbound asked for");
    assert!(location.bindings("sip:bob@example.com")[0].flow.is_none());

    alice
        .send(&to_bob("MESSAGE", "m1").body("text/plain", "hello"))
        .await;
    let m = bob.request().await;
    assert_eq!(m.method.as_str(), "MESSAGE");
    assert_eq!(m.uri.to_string(), format!("sip:bob@{}", bob.local()));
    assert_eq!(
        m.headers.values("Via").count(),
        2,
        "the registrar's Via on top"
    );
    bob.ok(&m).await;
    assert_eq!(alice.final_response().await.status, StatusCode::OK);
}

/// RFC 3261 §16.5: an in-dialog request (To tag) for a user at this
/// server that matches no dialog (one this server never saw set up, as
/// after a restart) is routed by location, not answered 481.
#[tokio::test]
async fn an_unmatched_in_dialog_request_for_a_user_here_is_routed() {
    let (alice, _) = start(RegistrarOptions::default()).await;
    let bob = Peer::new(alice.server).await;
    let here = format!("sip:bob@{}", alice.server);
    let contact = format!("<sip:bob@{}>", bob.local());
    let r = bob
        .ask(
            &Req::new("REGISTER", "b-here")
                .to(&here)
                .header("Contact", &contact),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut msg = Req::new("MESSAGE", "m-tagged")
        .to(&here)
        .tagged("lost-dialog")
        .body("text/plain", "still there?");
    msg.uri = here.clone();
    alice.send(&msg).await;
    let m = bob.request().await;
    assert_eq!(m.method.as_str(), "MESSAGE");
    assert_eq!(m.uri.to_string(), format!("sip:bob@{}", bob.local()));
    bob.ok(&m).await;
    assert_eq!(alice.final_response().await.status, StatusCode::OK);
    // Not for a user here (another host): still 481.
    let mut msg = Req::new("MESSAGE", "m-elsewhere")
        .to(BOB_AOR)
        .tagged("lost-dialog")
        .body("text/plain", "hello?");
    msg.uri = BOB_AOR.to_owned();
    assert_eq!(
        alice.ask(&msg).await.status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
}

#[tokio::test]
async fn a_user_without_bindings_gets_480() {
    let (alice, _) = start(RegistrarOptions::default()).await;
    let r = alice
        .ask(&to_bob("MESSAGE", "m2").body("text/plain", "anyone?"))
        .await;
    assert_eq!(r.status, StatusCode::TEMPORARILY_UNAVAILABLE);
}

#[tokio::test]
async fn an_outbound_contact_is_reached_over_its_flow_and_replaced_by_reg_id() {
    let (alice, location) = start(RegistrarOptions::default()).await;
    let bob = Peer::new(alice.server).await;
    // An address that routes nowhere: only the flow reaches bob.
    let instance = "\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"";
    let contact = |host: &str| format!("<sip:bob@{host}>;reg-id=1;+sip.instance={instance}");
    let r = bob
        .ask(&reg_bob("b2", 1, &contact("a.invalid")).header("Supported", "outbound, path"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get("Require").unwrap(), "outbound", "RFC 5626 §6");

    // The same instance and reg-id from another Call-ID and URI replaces it.
    let r = bob
        .ask(&reg_bob("b3", 1, &contact("b.invalid")).header("Supported", "outbound"))
        .await;
    assert_eq!(bindings(&r).len(), 1, "{r:?}");
    let stored = location.bindings("sip:bob@example.com");
    assert_eq!(stored[0].uri().unwrap().to_string(), "sip:bob@b.invalid");
    let flow = stored[0].flow.expect("a flow");
    assert_eq!(flow.addr, bob.local());

    alice
        .send(&to_bob("MESSAGE", "m3").body("text/plain", "via the flow"))
        .await;
    let m = bob.request().await;
    assert_eq!(m.uri.to_string(), "sip:bob@b.invalid");
    bob.ok(&m).await;
    assert_eq!(alice.final_response().await.status, StatusCode::OK);

    // Without `Supported: outbound` the reg-id is not applied (§6).
    let r = bob.ask(&reg_bob("b4", 1, &contact("c.invalid"))).await;
    assert!(r.headers.get("Require").is_none());
    assert_eq!(bindings(&r).len(), 2);
}

/// Reads one response from a stream connection.
async fn read_response(conn: &mut tokio::net::TcpStream) -> parrot::message::Response {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(common::WAIT, conn.read(&mut chunk))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let bytes = bytes::Bytes::from(buf);
    match parrot::message::parse_datagram(bytes).expect("a response parses") {
        parrot::message::Message::Response(r) => r,
        other => panic!("not a response: {other:?}"),
    }
}

#[tokio::test]
async fn a_flow_binding_goes_when_its_connection_closes() {
    use tokio::io::AsyncWriteExt;
    let location = Location::new();
    let server = registrar::bind(any_port(), RegistrarOptions::default(), location.clone())
        .await
        .expect("bind");
    let tcp = server
        .local_addr(parrot::transport::Protocol::Tcp)
        .expect("a TCP listener");
    let mut closings = server.transport().closed_connections();
    let udp = udp_addr(&server);
    run(server);

    let mut conn = tokio::net::TcpStream::connect(tcp).await.unwrap();
    let local = conn.local_addr().unwrap();
    let peer = Peer::new(udp).await;
    let instance = "\"<urn:uuid:00000000-0000-1000-8000-00000000b0b0>\"";
    let text = peer
        .render(
            &reg_bob(
                "t1",
                1,
                &format!("<sip:bob@b.invalid;transport=tcp>;reg-id=1;+sip.instance={instance}"),
            )
            .header("Supported", "outbound"),
        )
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .replace(&peer.local().to_string(), &local.to_string());
    conn.write_all(text.as_bytes()).await.unwrap();
    let r = read_response(&mut conn).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(location.stored(), 1);
    let flow = location.bindings("sip:bob@example.com")[0]
        .flow
        .expect("a flow");
    assert_eq!(flow.addr, local);
    assert!(flow.flow.is_some(), "bound to the connection");

    drop(conn);
    let closed = tokio::time::timeout(common::WAIT, closings.next())
        .await
        .expect("the connection closes in time");
    assert_eq!(
        closed,
        Some(parrot::transport::Closing::Closed(flow.flow.unwrap()))
    );
    for _ in 0..1000 {
        if location.stored() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(location.stored(), 0, "the binding went with its flow");
    let r = peer
        .ask(&to_bob("MESSAGE", "t2").body("text/plain", "gone?"))
        .await;
    assert_eq!(r.status, StatusCode::TEMPORARILY_UNAVAILABLE);
}
