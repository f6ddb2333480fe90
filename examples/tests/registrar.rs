//! The `registrar` example (RFC 3261 §10.3) on the test kit
//! (`parrot::testing`): add, refresh, per-contact expires, remove, `*`,
//! 423, out-of-order CSeq, canonical AORs, default and maximum lifetimes,
//! expiry (paused clock) both lazily and by the sweep; with
//! `RegistrarOptions::auth`, Digest authentication: challenge, success
//! with SHA-256 and MD5, wrong password and unknown user alike, another
//! user's AOR (403), replay, stale nonces, malformed credentials; routing
//! by location to a registered peer, over its flow for outbound (RFC 5626)
//! contacts.
//!
//! Two tests stay on real loopback sockets (the `common` harness), being
//! about what the kit's in-memory network (UDP only, no listener of its
//! own) does not have:
//! - `a_flow_binding_goes_when_its_connection_closes`: a binding bound to
//!   a TCP connection goes when that connection closes (RFC 5626 flows
//!   over TCP, and the flow keeper `bind` starts);
//! - `serve_returns_on_shutdown`: `registrar::serve` binds real listeners
//!   and returns on shutdown.
//!
//! The kit's `Call` follows the Call-ID it made up, so a REGISTER reusing
//! an earlier one's Call-ID (by a `Call-ID` header) has its response taken
//! through that earlier `Call` ([`Registrations`]).

mod common;

use examples::registrar::{self, Location, RegistrarOptions, Registry};
use parrot::auth::{DigestAuthenticator, DigestClient, Users};
use parrot::message::typed::{Authorization, Challenge, Contact, TypedHeader, WwwAuthenticate};
use parrot::message::{Message, Method, Request, Response, StatusCode};
use parrot::testing::{Call, CallBuilder, Failure, Kit, Peer};
use std::time::Duration;

const AOR_URI: &str = "sip:alice@example.com";
/// The Request-URI of every REGISTER (the domain, RFC 3261 §10.2), which
/// the digest `uri` must name.
const REQUEST_URI: &str = "sip:example.com";

/// The registrar on the kit, with its location service; the sweeper
/// started beside it, as `registrar::bind` does.
async fn start(options: RegistrarOptions) -> (Kit, Location) {
    let location = Location::new();
    let registry = Registry::new(&options, location.clone());
    let kit = Kit::start(registrar::server(&registry)).await;
    location.spawn_sweeper(options.sweep_interval);
    (kit, location)
}

/// The REGISTERs of one Call-ID from one peer (a UA keeps one for its
/// registrations, RFC 3261 §10.2.4): the first makes it up, the later ones
/// copy it, and every response is taken through the first one's `Call`.
struct Registrations {
    peer: Peer,
    call: Option<Call>,
    /// The last REGISTER sent, as sent.
    last: Option<Request>,
}

impl Registrations {
    fn new(peer: &Peer) -> Registrations {
        Registrations {
            peer: peer.clone(),
            call: None,
            last: None,
        }
    }

    /// A REGISTER of this Call-ID with `cseq` for alice's AOR, with these
    /// Contact values (none: a query).
    fn reg(&self, cseq: u32, contacts: &[&str]) -> CallBuilder {
        let mut r = self
            .peer
            .request(Method::Register, REQUEST_URI)
            .to(AOR_URI)
            .header("CSeq", &format!("{cseq} REGISTER"));
        if let Some(call) = &self.call {
            r = r.header("Call-ID", call.call_id());
        }
        if contacts.is_empty() {
            r = r.without("Contact");
        }
        for c in contacts {
            r = r.header("Contact", c);
        }
        r
    }

    /// Sends `req` (made by [`Registrations::reg`]) and expects `status`.
    async fn ask(&mut self, req: CallBuilder, status: u16) -> Result<Response, Failure> {
        let sent = req.send().await?;
        self.last = sent.last_request().cloned();
        self.call.get_or_insert(sent).expect(status).await
    }
}

/// The Contact URIs of a 200 with their `expires`.
fn bindings(resp: &Response) -> Vec<(String, u32)> {
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

/// Every value of header `name` (list headers split at commas).
fn values(resp: &Response, name: &str) -> Vec<String> {
    resp.headers.values(name).map(str::to_owned).collect()
}

const A: &str = "sip:a@192.0.2.1";
const B: &str = "sip:b@192.0.2.2";

#[tokio::test(start_paused = true)]
async fn add_refresh_second_contact_remove() -> Result<(), Failure> {
    let (kit, location) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());

    let r = c1
        .ask(
            c1.reg(1, &["<sip:a@192.0.2.1>"]).header("Expires", "3600"),
            200,
        )
        .await?;
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
    assert!(r.headers.get("Date").unwrap().ends_with(" GMT"));

    // Refresh with a shorter lifetime.
    let r = c1
        .ask(
            c1.reg(2, &["<sip:a@192.0.2.1>"]).header("Expires", "1800"),
            200,
        )
        .await?;
    assert_eq!(bindings(&r), [(A.to_owned(), 1800)]);

    // A second contact; its own expires overrides the Expires header.
    let r = c1
        .ask(
            c1.reg(3, &["<sip:b@192.0.2.2>;expires=600"])
                .header("Expires", "3600"),
            200,
        )
        .await?;
    assert_eq!(bindings(&r), [(A.to_owned(), 1800), (B.to_owned(), 600)]);

    // Remove the first with Expires: 0.
    let r = c1
        .ask(
            c1.reg(4, &["<sip:a@192.0.2.1>"]).header("Expires", "0"),
            200,
        )
        .await?;
    assert_eq!(bindings(&r), [(B.to_owned(), 600)]);

    // ... or with expires=0 on the contact, the header saying otherwise.
    let r = c1
        .ask(
            c1.reg(5, &["<sip:b@192.0.2.2>;expires=0"])
                .header("Expires", "3600"),
            200,
        )
        .await?;
    assert!(bindings(&r).is_empty());
    assert!(location.bindings("sip:alice@example.com").is_empty());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn remaining_lifetimes_count_down() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(c1.reg(1, &["<sip:a@192.0.2.1>"]), 200).await?;
    kit.advance(Duration::from_secs(100)).await;
    let mut c2 = Registrations::new(kit.alice());
    let r = c2.ask(c2.reg(1, &[]), 200).await?;
    assert_eq!(
        bindings(&r),
        [(A.to_owned(), 3500)],
        "default 3600 less 100 s"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn several_contacts_in_one_request_and_the_maximum() -> Result<(), Failure> {
    let options = RegistrarOptions {
        max_expires: 7200,
        ..RegistrarOptions::default()
    };
    let (kit, _) = start(options).await;
    let mut c1 = Registrations::new(kit.alice());
    let r = c1
        .ask(
            c1.reg(1, &["<sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>"])
                .header("Expires", "100000"),
            200,
        )
        .await?;
    let got = bindings(&r);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(_, e)| *e == 7200), "capped: {got:?}");
    let a = values(&r, "Contact")
        .into_iter()
        .find(|c| c.contains("sip:a@"))
        .unwrap();
    assert!(a.contains("q=0.5"), "parameters kept: {a}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn interval_too_brief_changes_nothing() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(c1.reg(1, &["<sip:a@192.0.2.1>"]), 200).await?;
    let r = c1
        .ask(
            c1.reg(2, &["<sip:b@192.0.2.2>", "<sip:c@192.0.2.3>"])
                .header("Expires", "30"),
            423,
        )
        .await?;
    assert_eq!(r.status, StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(r.headers.get("Min-Expires").unwrap(), "60");
    c1.ask(c1.reg(3, &["<sip:b@192.0.2.2>;expires=59"]), 423)
        .await?;
    let r = c1.ask(c1.reg(4, &[]), 200).await?;
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn wildcard_removes_everything_but_only_alone_with_expires_0() -> Result<(), Failure> {
    let (kit, location) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(c1.reg(1, &["<sip:a@192.0.2.1>", "<sip:b@192.0.2.2>"]), 200)
        .await?;

    for bad in [
        c1.reg(2, &["*"]),
        c1.reg(2, &["*"]).header("Expires", "60"),
        c1.reg(2, &["*", "<sip:a@192.0.2.1>"])
            .header("Expires", "0"),
    ] {
        c1.ask(bad, 400).await?;
    }
    assert_eq!(location.stored(), 2, "the refusals changed nothing");

    // From another Call-ID: every binding goes.
    let mut other = Registrations::new(kit.alice());
    let r = other
        .ask(other.reg(1, &["*"]).header("Expires", "0"), 200)
        .await?;
    assert!(!r.headers.contains("Contact"));
    assert_eq!(location.stored(), 0);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_out_of_order_cseq_changes_nothing() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(c1.reg(5, &["<sip:a@192.0.2.1>"]), 200).await?;
    c1.ask(
        c1.reg(4, &["<sip:a@192.0.2.1>"]).header("Expires", "0"),
        500,
    )
    .await?;
    c1.ask(c1.reg(4, &["*"]).header("Expires", "0"), 500)
        .await?;
    let r = c1.ask(c1.reg(6, &[]), 200).await?;
    assert_eq!(bindings(&r).len(), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_aor_is_canonical() -> Result<(), Failure> {
    let (kit, location) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(
        c1.reg(1, &["<sip:a@192.0.2.1>"])
            .to("sip:Carol@EXAMPLE.com;user=phone"),
        200,
    )
    .await?;
    let mut c2 = Registrations::new(kit.alice());
    let r = c2
        .ask(c2.reg(1, &[]).to("sips:%43arol@example.COM"), 200)
        .await?;
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
    assert_eq!(location.bindings("sip:Carol@example.com").len(), 1);
    // RFC 4475 §3.3.4: a non-SIP To is a bad request.
    let mut c3 = Registrations::new(kit.alice());
    c3.ask(c3.reg(1, &[]).to("tel:+15551234567"), 400).await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn malformed_headers_get_400() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(
        c1.reg(1, &["<sip:a@192.0.2.1>"]).header("Expires", "soon"),
        400,
    )
    .await?;
    c1.ask(c1.reg(2, &["<sip:a@192.0.2.1>;expires=x"]), 400)
        .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn bindings_lapse_lazily() -> Result<(), Failure> {
    let (kit, location) = start(RegistrarOptions {
        // No sweep during this test: only the lazy path removes.
        sweep_interval: Duration::from_secs(100_000),
        ..RegistrarOptions::default()
    })
    .await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(
        c1.reg(1, &["<sip:a@192.0.2.1>;expires=60", "<sip:b@192.0.2.2>"]),
        200,
    )
    .await?;
    kit.advance(Duration::from_secs(61)).await;
    assert_eq!(location.stored(), 2, "not swept yet");
    let mut c2 = Registrations::new(kit.alice());
    let r = c2.ask(c2.reg(1, &[]), 200).await?;
    assert_eq!(bindings(&r), [(B.to_owned(), 3539)]);
    assert_eq!(location.stored(), 1, "dropped on access");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_sweep_drops_lapsed_bindings() -> Result<(), Failure> {
    let (kit, location) = start(RegistrarOptions {
        sweep_interval: Duration::from_secs(30),
        ..RegistrarOptions::default()
    })
    .await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(c1.reg(1, &["<sip:a@192.0.2.1>;expires=60"]), 200)
        .await?;
    let mut c2 = Registrations::new(kit.alice());
    c2.ask(
        c2.reg(1, &["<sip:b@192.0.2.2>"]).to("sip:bob@example.com"),
        200,
    )
    .await?;
    assert_eq!(location.stored(), 2);
    kit.advance(Duration::from_secs(95)).await;
    assert_eq!(location.stored(), 1, "alice's binding swept, bob's kept");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn options_lists_register_and_what_it_routes() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    let r = kit
        .request(Method::Options, REQUEST_URI)
        .send()
        .await?
        .expect(200)
        .await?;
    assert_eq!(
        r.headers.get("Allow").unwrap(),
        "INVITE, ACK, CANCEL, OPTIONS, REGISTER, MESSAGE, INFO, SUBSCRIBE, NOTIFY, UPDATE, PRACK, REFER"
    );
    Ok(())
}

/// On real sockets: `serve` binds real listeners.
#[tokio::test(start_paused = true)]
async fn serve_returns_on_shutdown() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(registrar::serve(common::any_port(), async {
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
fn challenges(resp: &Response) -> Vec<Challenge> {
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

/// The first challenge of the 401 a query gets.
async fn challenge(c1: &mut Registrations) -> Result<Challenge, Failure> {
    let r = c1.ask(c1.reg(1, &[]), 401).await?;
    Ok(challenges(&r).remove(0))
}

#[tokio::test(start_paused = true)]
async fn auth_challenge_then_200() -> Result<(), Failure> {
    let (kit, location) = start(with_auth(authenticator())).await;
    let mut c1 = Registrations::new(kit.alice());
    let r = c1.ask(c1.reg(1, &["<sip:a@192.0.2.1>"]), 401).await?;
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
    let r = c1
        .ask(
            c1.reg(2, &["<sip:a@192.0.2.1>"]).header(
                "Authorization",
                &authorization(&cs[0], "alice", "wonderland"),
            ),
            200,
        )
        .await?;
    assert_eq!(bindings(&r), [(A.to_owned(), 3600)]);
    // ... or MD5, after a new challenge (the first nonce's nc=1 is spent).
    let r = c1.ask(c1.reg(3, &[]), 401).await?;
    let md5 = &challenges(&r)[1];
    let r = c1
        .ask(
            c1.reg(4, &["<sip:b@192.0.2.2>"])
                .header("Authorization", &authorization(md5, "alice", "wonderland")),
            200,
        )
        .await?;
    assert_eq!(bindings(&r).len(), 2);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn wrong_password_and_unknown_user_get_the_same_new_challenge() -> Result<(), Failure> {
    let (kit, location) = start(with_auth(authenticator())).await;
    let mut c1 = Registrations::new(kit.alice());
    let c = challenge(&mut c1).await?;
    let mut seen = Vec::new();
    for (user, password) in [("alice", "Wonderland"), ("mallory", "wonderland")] {
        let req = c1
            .reg(2, &["<sip:a@192.0.2.1>"])
            .header("Authorization", &authorization(&c, user, password))
            .to(&format!("sip:{user}@example.com"));
        let r = c1.ask(req, 401).await?;
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
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn another_users_aor_is_forbidden() -> Result<(), Failure> {
    let (kit, location) = start(with_auth(authenticator())).await;
    let mut c1 = Registrations::new(kit.alice());
    let c = challenge(&mut c1).await?;
    // bob's password is right, but the To is alice's.
    c1.ask(
        c1.reg(2, &["<sip:b@192.0.2.2>"])
            .header("Authorization", &authorization(&c, "bob", "builder")),
        403,
    )
    .await?;
    assert_eq!(location.stored(), 0);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_replayed_authorization_is_refused_but_a_retransmission_is_not() -> Result<(), Failure> {
    let (kit, location) = start(with_auth(authenticator())).await;
    let alice = kit.alice();
    let mut c1 = Registrations::new(alice);
    let c = challenge(&mut c1).await?;
    let auth = authorization(&c, "alice", "wonderland");
    let first = c1
        .reg(2, &["<sip:a@192.0.2.1>"])
        .header("Authorization", &auth);
    c1.ask(first, 200).await?;
    // The same datagram again is a retransmission: the transaction layer
    // answers with the same 200, the authenticator never sees it.
    let first = c1.last.clone().expect("the REGISTER sent");
    alice.send_raw(first.to_bytes()).await?;
    let again = alice.next().await?;
    let Message::Response(ok) = &again.message else {
        panic!("the 200 again, got {:?}\n{}", again.message, kit.ladder());
    };
    assert_eq!(ok.status, StatusCode::OK, "{}", kit.ladder());
    assert_eq!(ok.headers.cseq().unwrap().seq, 2);
    assert!(again.retransmission, "the same 200:\n{}", kit.ladder());
    // The same Authorization in a new request (new branch, new CSeq): the
    // nonce-count did not increase, so it is a replay (RFC 7616 §3.4).
    let replay = c1
        .reg(3, &["<sip:a@192.0.2.1>"])
        .header("Authorization", &auth)
        .header("Expires", "0");
    let r = c1.ask(replay, 401).await?;
    assert!(challenges(&r).iter().all(|c| !c.stale()));
    assert_eq!(location.stored(), 1, "the replayed removal changed nothing");
    // The next count with the same nonce is fine.
    let next = DigestClient::new("alice", "wonderland")
        .answer_with(&c, "REGISTER", REQUEST_URI, b"", 2, "0a4f113b")
        .unwrap();
    c1.ask(
        c1.reg(4, &["<sip:a@192.0.2.1>"])
            .header("Authorization", &Authorization(next).to_string())
            .header("Expires", "0"),
        200,
    )
    .await?;
    assert_eq!(location.stored(), 0);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_expired_nonce_gets_stale_true() -> Result<(), Failure> {
    let auth = authenticator().with_nonce_lifetime(Duration::from_secs(60));
    let (kit, _) = start(with_auth(auth)).await;
    let mut c1 = Registrations::new(kit.alice());
    let c = challenge(&mut c1).await?;
    kit.advance(Duration::from_secs(61)).await;
    let r = c1
        .ask(
            c1.reg(2, &["<sip:a@192.0.2.1>"])
                .header("Authorization", &authorization(&c, "alice", "wonderland")),
            401,
        )
        .await?;
    let fresh = challenges(&r);
    assert!(fresh.iter().all(Challenge::stale), "stale=true");
    c1.ask(
        c1.reg(3, &["<sip:a@192.0.2.1>"]).header(
            "Authorization",
            &authorization(&fresh[0], "alice", "wonderland"),
        ),
        200,
    )
    .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn malformed_credentials_and_a_foreign_uri_get_400() -> Result<(), Failure> {
    let (kit, _) = start(with_auth(authenticator())).await;
    let mut c1 = Registrations::new(kit.alice());
    let c = challenge(&mut c1).await?;
    c1.ask(
        c1.reg(2, &[]).header(
            "Authorization",
            r#"Digest username="alice", realm="example.com", nonce="#,
        ),
        400,
    )
    .await?;
    // No nonce.
    c1.ask(
        c1.reg(3, &[]).header(
            "Authorization",
            r#"Digest username="alice", realm="example.com", uri="sip:example.com", response="00""#,
        ),
        400,
    )
    .await?;
    let elsewhere = Authorization(
        DigestClient::new("alice", "wonderland")
            .answer(&c, "REGISTER", "sip:elsewhere.example.com", b"")
            .unwrap(),
    );
    let r = c1
        .ask(
            c1.reg(4, &[])
                .header("Authorization", &elsewhere.to_string()),
            400,
        )
        .await?;
    assert_eq!(r.reason.as_str(), "Digest URI Mismatch");
    // Credentials for another realm only: a challenge for ours.
    c1.ask(
        c1.reg(5, &[]).header(
            "Authorization",
            r#"Digest username="alice", realm="other.org", nonce="n", uri="sip:example.com", response="00""#,
        ),
        401,
    )
    .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn without_auth_credentials_are_ignored() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    let mut c1 = Registrations::new(kit.alice());
    c1.ask(
        c1.reg(1, &["<sip:a@192.0.2.1>"])
            .header("Authorization", "Digest garbage"),
        200,
    )
    .await?;
    assert!(
        parrot::registrar::Registrar::in_memory()
            .authorize(&Request::new(
                Method::Register,
                REQUEST_URI.parse().unwrap()
            ))
            .unwrap()
            .is_none()
    );
    Ok(())
}

// --- Routing by location and flows (RFC 3261 §16.5, RFC 5626) ------------

const BOB_AOR: &str = "sip:bob@example.com";

/// A request from alice for bob's address-of-record.
fn to_bob(kit: &Kit, method: Method) -> CallBuilder {
    kit.request(method, BOB_AOR)
}

#[tokio::test(start_paused = true)]
async fn a_request_for_a_registered_user_goes_to_its_contact() -> Result<(), Failure> {
    let (kit, location) = start(RegistrarOptions::default()).await;
    let bob = kit.peer("bob");
    let contact = format!("<{}>", bob.uri());
    let mut b1 = Registrations::new(&bob);
    let r = b1.ask(b1.reg(1, &[&contact]).to(BOB_AOR), 200).await?;
    assert!(r.headers.get("Require").is_none(), "no outbound asked for");
    assert!(location.bindings("sip:bob@example.com")[0].flow.is_none());

    let mut call = to_bob(&kit, Method::Message)
        .body("text/plain", "hello")
        .send()
        .await?;
    let m = bob.expect_request(Method::Message).await?;
    assert_eq!(m.uri.to_string(), bob.uri());
    assert_eq!(
        m.headers.values("Via").count(),
        2,
        "the registrar's Via on top"
    );
    bob.reply(&m, 200).send().await?;
    call.expect(200).await?;
    Ok(())
}

/// RFC 3261 §16.5: an in-dialog request (To tag) for a user at this
/// server that matches no dialog (one this server never saw set up, as
/// after a restart) is routed by location, not answered 481.
#[tokio::test(start_paused = true)]
async fn an_unmatched_in_dialog_request_for_a_user_here_is_routed() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    let bob = kit.peer("bob");
    let here = format!("sip:bob@{}", Kit::SERVER);
    let contact = format!("<{}>", bob.uri());
    let mut b1 = Registrations::new(&bob);
    b1.ask(b1.reg(1, &[&contact]).to(&here), 200).await?;
    let mut call = kit
        .request(Method::Message, &here)
        .header("To", &format!("<{here}>;tag=lost-dialog"))
        .body("text/plain", "still there?")
        .send()
        .await?;
    let m = bob.expect_request(Method::Message).await?;
    assert_eq!(m.uri.to_string(), bob.uri());
    bob.reply(&m, 200).send().await?;
    call.expect(200).await?;
    // Not for a user here (another host): still 481.
    to_bob(&kit, Method::Message)
        .header("To", &format!("<{BOB_AOR}>;tag=lost-dialog"))
        .body("text/plain", "hello?")
        .send()
        .await?
        .expect(481)
        .await?;
    bob.expect_silence(Duration::from_secs(2)).await
}

#[tokio::test(start_paused = true)]
async fn a_user_without_bindings_gets_480() -> Result<(), Failure> {
    let (kit, _) = start(RegistrarOptions::default()).await;
    to_bob(&kit, Method::Message)
        .body("text/plain", "anyone?")
        .send()
        .await?
        .expect(480)
        .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_outbound_contact_is_reached_over_its_flow_and_replaced_by_reg_id() -> Result<(), Failure>
{
    let (kit, location) = start(RegistrarOptions::default()).await;
    let bob = kit.peer("bob");
    // An address that routes nowhere: only the flow reaches bob.
    let instance = "\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"";
    let contact = |host: &str| format!("<sip:bob@{host}>;reg-id=1;+sip.instance={instance}");
    let mut b2 = Registrations::new(&bob);
    let r = b2
        .ask(
            b2.reg(1, &[&contact("a.invalid")])
                .to(BOB_AOR)
                .header("Supported", "outbound, path"),
            200,
        )
        .await?;
    assert_eq!(r.headers.get("Require").unwrap(), "outbound", "RFC 5626 §6");

    // The same instance and reg-id from another Call-ID and URI replaces it.
    let mut b3 = Registrations::new(&bob);
    let r = b3
        .ask(
            b3.reg(1, &[&contact("b.invalid")])
                .to(BOB_AOR)
                .header("Supported", "outbound"),
            200,
        )
        .await?;
    assert_eq!(bindings(&r).len(), 1, "{r:?}");
    let stored = location.bindings("sip:bob@example.com");
    assert_eq!(stored[0].uri().unwrap().to_string(), "sip:bob@b.invalid");
    let flow = stored[0].flow.expect("a flow");
    assert_eq!(flow.addr, bob.addr());

    let mut call = to_bob(&kit, Method::Message)
        .body("text/plain", "via the flow")
        .send()
        .await?;
    let m = bob.expect_request(Method::Message).await?;
    assert_eq!(m.uri.to_string(), "sip:bob@b.invalid");
    bob.reply(&m, 200).send().await?;
    call.expect(200).await?;

    // Without `Supported: outbound` the reg-id is not applied (§6).
    let mut b4 = Registrations::new(&bob);
    let r = b4
        .ask(b4.reg(1, &[&contact("c.invalid")]).to(BOB_AOR), 200)
        .await?;
    assert!(r.headers.get("Require").is_none());
    assert_eq!(bindings(&r).len(), 2);
    Ok(())
}

// --- On real sockets: a flow over TCP ------------------------------------

/// Reads one response from a stream connection.
async fn read_response(conn: &mut tokio::net::TcpStream) -> Response {
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
        Message::Response(r) => r,
        other => panic!("not a response: {other:?}"),
    }
}

/// A REGISTER for bob with one Contact, for the loopback harness.
fn reg_bob(call: &str, cseq: u32, contact: &str) -> common::Req {
    common::Req::new("REGISTER", call)
        .cseq(cseq)
        .to(BOB_AOR)
        .header("Contact", contact)
}

/// On real sockets: the binding is bound to a TCP connection, and the
/// flow keeper `bind` starts drops it when the connection closes.
#[tokio::test]
async fn a_flow_binding_goes_when_its_connection_closes() {
    use tokio::io::AsyncWriteExt;
    let location = Location::new();
    let server = registrar::bind(
        common::any_port(),
        RegistrarOptions::default(),
        location.clone(),
    )
    .await
    .expect("bind");
    let tcp = server
        .local_addr(parrot::transport::Protocol::Tcp)
        .expect("a TCP listener");
    let mut closings = server.transport().closed_connections();
    let udp = common::udp_addr(&server);
    common::run(server);

    let mut conn = tokio::net::TcpStream::connect(tcp).await.unwrap();
    let local = conn.local_addr().unwrap();
    let peer = common::Peer::new(udp).await;
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
    let mut gone = common::Req::new("MESSAGE", "t2")
        .to(BOB_AOR)
        .body("text/plain", "gone?");
    gone.uri = BOB_AOR.to_owned();
    let r = peer.ask(&gone).await;
    assert_eq!(r.status, StatusCode::TEMPORARILY_UNAVAILABLE);
}
