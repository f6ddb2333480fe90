//! The `pbx` example on loopback: users register with Parrot's `Client`
//! (Digest, `401`), and call and message each other through the pbx,
//! which challenges them as a proxy (`407`), refuses callers posing as
//! someone else (`403`) and unknown callees (`404`), routes to the callee's
//! phone (a small Parrot server here), and sends a call nobody takes to
//! its voicemail, which answers and hangs up on its own.
//!
//! Real time throughout: the only waits that run out are bounded ones
//! for something that should have come (and the voicemail's own short
//! timer).

mod common;

use common::any_port;
use examples::answer;
use examples::pbx::{self, Accounts, PbxOptions};
use parrot::auth::Users;
use parrot::client::{Call, CallEnd, CallError, Client};
use parrot::message::{Method, Request, Response, StatusCode};
use parrot::prelude::*;
use parrot::registrar::{Binding, LocationStore, MemoryStore, StoreError, StoreFuture, Update};
use parrot::transport::{ConnectionId, Protocol};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// How long a test waits for something that should come.
const WAIT: Duration = Duration::from_secs(10);

/// The users every test but one configures: (name, password).
const USERS: [(&str, &str); 3] = [("alice", "wonder"), ("bob", "builder"), ("carol", "singer")];

fn password(user: &str) -> &'static str {
    USERS
        .iter()
        .find(|(n, _)| *n == user)
        .map_or("", |(_, p)| p)
}

fn with_accounts() -> PbxOptions {
    let mut users = Users::new();
    for (name, pw) in USERS {
        users.insert(name, pw);
    }
    PbxOptions {
        accounts: Some(Accounts::new("pbx.test", users)),
        ..PbxOptions::default()
    }
}

/// Starts the pbx over `store` (an empty memory store if `None`);
/// returns its UDP address.
async fn start_over(options: PbxOptions, store: Option<Arc<dyn LocationStore>>) -> SocketAddr {
    let store = store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
    let server = pbx::bind(any_port(), options, store).await.expect("bind");
    let addr = server.local_addr(Protocol::Udp).expect("a UDP listener");
    tokio::spawn(server.serve().into_future());
    addr
}

async fn start(options: PbxOptions) -> SocketAddr {
    start_over(options, None).await
}

/// `f`, or a failure naming `what` once [`WAIT`] has passed.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

/// A phone: answers INVITE with `answer` (`200` with an SDP answer, or a
/// refusal), BYE and MESSAGE with `200`, and passes on every request it
/// gets.
struct Phone {
    answer: StatusCode,
    seen: mpsc::UnboundedSender<Request>,
}

#[uas_handler]
impl Phone {
    async fn invite(&mut self, req: &Request) -> Result<Response, Response> {
        let _ = self.seen.send(req.clone());
        if self.answer != StatusCode::OK {
            return Err(req.reply(self.answer));
        }
        let ip = answer::media_ip(req, None);
        let sdp = answer::negotiate(req, ip, 40002)?.into_sdp();
        Ok(req.reply(StatusCode::OK).sdp(sdp.to_string()))
    }

    async fn ack(&mut self, req: &Request) {
        let _ = self.seen.send(req.clone());
    }

    async fn bye(&mut self, req: &Request) -> StatusCode {
        let _ = self.seen.send(req.clone());
        StatusCode::OK
    }

    async fn message(&mut self, req: &Request) -> StatusCode {
        let _ = self.seen.send(req.clone());
        StatusCode::OK
    }
}

/// Starts a phone answering INVITE with `answer`; returns its address and
/// what it receives.
async fn phone(answer: StatusCode) -> (SocketAddr, mpsc::UnboundedReceiver<Request>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Phone {
            answer,
            seen: tx.clone(),
        })
        .bind()
        .await
        .expect("bind the phone");
    let addr = server.local_addr(Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    (addr, rx)
}

/// The next request the phone got, which must be a `method`.
async fn next(seen: &mut mpsc::UnboundedReceiver<Request>, method: Method) -> Request {
    let req = within(&format!("{method} at the phone"), seen.recv())
        .await
        .expect("the phone runs");
    assert_eq!(req.method, method, "{req:?}");
    req
}

/// A client for `user` (From `sip:user@pbx`), with `user`'s password
/// when `authenticated`.
async fn client(pbx: SocketAddr, user: &str, authenticated: bool) -> Client {
    let mut builder = Client::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .from(format!("sip:{user}@{pbx}"));
    if authenticated {
        builder = builder.credentials(user, password(user));
    }
    builder.bind().await.expect("bind the client")
}

/// `user` registers its phone at `contact` with `client`.
async fn register(client: &Client, pbx: SocketAddr, user: &str, contact: SocketAddr) -> Response {
    let contact = format!("sip:{user}@{contact}").parse().unwrap();
    within(
        "REGISTER",
        client.register(
            format!("sip:{pbx}"),
            format!("sip:{user}@{pbx}"),
            Some(contact),
            3600,
        ),
    )
    .await
    .expect("REGISTER sent")
}

/// `bob` registers its phone at `contact`, with his password.
async fn bob_registers(pbx: SocketAddr, contact: SocketAddr) {
    let bob = client(pbx, "bob", true).await;
    let r = register(&bob, pbx, "bob", contact).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

/// An audio offer with PCMU and PCMA.
fn offer() -> String {
    common::offer("0 8", "", "")
}

/// `caller` calls `user` at the pbx: the established call, or why not.
async fn dial(caller: &Client, pbx: SocketAddr, user: &str) -> Result<Call, CallError> {
    let pending = caller
        .invite(format!("sip:{user}@{pbx}"), offer())
        .await
        .expect("INVITE sent");
    within("the call's outcome", pending.wait()).await
}

/// The status a call failed with.
fn refused(outcome: Result<Call, CallError>) -> Response {
    match outcome {
        Ok(call) => panic!("answered: {:?}", call.response()),
        Err(e) => e.response().cloned().unwrap_or_else(|| panic!("{e}")),
    }
}

/// Whether the 2xx came from the pbx's voicemail: its Contact is the pbx.
fn from_voicemail(call: &Call, pbx: SocketAddr) -> bool {
    call.response()
        .headers
        .get("Contact")
        .is_some_and(|c| c.contains(&pbx.to_string()))
}

#[tokio::test]
async fn register_needs_the_password_and_only_for_oneself() {
    let pbx = start(with_accounts()).await;
    let (phone_addr, _seen) = phone(StatusCode::OK).await;

    let anonymous = client(pbx, "bob", false).await;
    let r = register(&anonymous, pbx, "bob", phone_addr).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.get("WWW-Authenticate").is_some());

    let bob = client(pbx, "bob", true).await;
    let r = register(&bob, pbx, "bob", phone_addr).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(
        r.headers
            .get("Contact")
            .is_some_and(|c| c.contains(&phone_addr.to_string())),
        "{r:?}"
    );
    // bob may not register alice's address-of-record.
    let r = register(&bob, pbx, "alice", phone_addr).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn alice_calls_bob_through_the_pbx() {
    let pbx = start(with_accounts()).await;
    let (phone_addr, mut seen) = phone(StatusCode::OK).await;
    bob_registers(pbx, phone_addr).await;

    let alice = client(pbx, "alice", true).await;
    let mut call = dial(&alice, pbx, "bob").await.expect("bob answers");
    assert!(call.remote_sdp().is_some_and(|s| s.contains("m=audio")));
    assert!(!from_voicemail(&call, pbx), "bob's phone answered");

    let invite = next(&mut seen, Method::Invite).await;
    // The client sends credentials only once challenged: the 407 came
    // first, and the pbx record-routed the call.
    assert!(invite.headers.get("Proxy-Authorization").is_some());
    assert!(
        invite
            .headers
            .get("Record-Route")
            .is_some_and(|rr| rr.contains(&pbx.to_string()))
    );
    assert_eq!(invite.uri.to_string(), format!("sip:bob@{phone_addr}"));
    next(&mut seen, Method::Ack).await;

    let bye = within("BYE", call.bye()).await.expect("BYE sent");
    assert_eq!(bye.status, StatusCode::OK);
    next(&mut seen, Method::Bye).await;
}

#[tokio::test]
async fn no_call_without_credentials_nor_as_someone_else() {
    let pbx = start(with_accounts()).await;
    let (phone_addr, mut seen) = phone(StatusCode::OK).await;
    bob_registers(pbx, phone_addr).await;

    // No password: the proxy's challenge (RFC 3261 §22.3), nothing more.
    let anonymous = client(pbx, "alice", false).await;
    let r = refused(dial(&anonymous, pbx, "bob").await);
    assert_eq!(r.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    assert!(r.headers.get("Proxy-Authenticate").is_some(), "{r:?}");
    assert!(r.headers.get("WWW-Authenticate").is_none());

    // alice's password, bob's name in From.
    let impostor = Client::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .from(format!("sip:bob@{pbx}"))
        .credentials("alice", password("alice"))
        .bind()
        .await
        .unwrap();
    let r = refused(dial(&impostor, pbx, "bob").await);
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A wrong password: challenged again.
    let wrong = Client::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .from(format!("sip:alice@{pbx}"))
        .credentials("alice", "guess")
        .bind()
        .await
        .unwrap();
    let r = refused(dial(&wrong, pbx, "bob").await);
    assert_eq!(r.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);

    assert!(seen.try_recv().is_err(), "bob's phone never rang");

    // The voicemail by its plain name is no way around the challenge.
    let r = refused(dial(&anonymous, pbx, "voicemail").await);
    assert_eq!(r.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
}

#[tokio::test]
async fn an_unknown_user_is_not_found() {
    let pbx = start(with_accounts()).await;
    let alice = client(pbx, "alice", true).await;
    let r = refused(dial(&alice, pbx, "dave").await);
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = within(
        "MESSAGE",
        alice.message(format!("sip:dave@{pbx}"), "text/plain", "hi"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_voicemail_answers_an_unregistered_user_and_hangs_up() {
    let after = Duration::from_secs(1);
    let pbx = start(PbxOptions {
        voicemail_after: after,
        ..with_accounts()
    })
    .await;
    let alice = client(pbx, "alice", true).await;
    let started = Instant::now();
    let mut call = dial(&alice, pbx, "carol")
        .await
        .expect("the voicemail answers");
    assert!(from_voicemail(&call, pbx), "{:?}", call.response());
    let sdp = call.remote_sdp().expect("an SDP answer");
    assert!(sdp.contains("m=audio 40000"), "{sdp}");

    let end = within("the voicemail's BYE", call.ended()).await;
    assert!(matches!(end, CallEnd::RemoteBye(_)), "{end}");
    assert!(
        started.elapsed() >= after,
        "hung up only once its time was up"
    );
}

#[tokio::test]
async fn the_caller_may_leave_the_voicemail_first() {
    let pbx = start(with_accounts()).await;
    let alice = client(pbx, "alice", true).await;
    let mut call = dial(&alice, pbx, "carol")
        .await
        .expect("the voicemail answers");
    assert!(from_voicemail(&call, pbx));
    let bye = within("BYE", call.bye()).await.expect("BYE sent");
    assert_eq!(bye.status, StatusCode::OK);
}

#[tokio::test]
async fn a_busy_callee_sends_the_call_to_the_voicemail() {
    let pbx = start(with_accounts()).await;
    let (phone_addr, mut seen) = phone(StatusCode::BUSY_HERE).await;
    bob_registers(pbx, phone_addr).await;

    let alice = client(pbx, "alice", true).await;
    let mut call = dial(&alice, pbx, "bob")
        .await
        .expect("the voicemail answers");
    // bob's phone was tried first, and said busy.
    next(&mut seen, Method::Invite).await;
    assert!(from_voicemail(&call, pbx), "{:?}", call.response());
    let bye = within("BYE", call.bye()).await.expect("BYE sent");
    assert_eq!(bye.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unusable_offer_is_refused_by_the_voicemail() {
    let pbx = start(with_accounts()).await;
    let alice = client(pbx, "alice", true).await;
    let pending = alice
        .invite(format!("sip:carol@{pbx}"), common::offer("18", "", ""))
        .await
        .unwrap();
    let r = refused(within("the refusal", pending.wait()).await);
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE_HERE);
}

#[tokio::test]
async fn a_message_reaches_bob_and_not_an_absent_user() {
    let pbx = start(with_accounts()).await;
    let (phone_addr, mut seen) = phone(StatusCode::OK).await;
    bob_registers(pbx, phone_addr).await;

    let alice = client(pbx, "alice", true).await;
    let r = within(
        "MESSAGE",
        alice.message(format!("sip:bob@{pbx}"), "text/plain", "hello bob"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let message = next(&mut seen, Method::Message).await;
    assert_eq!(&message.body[..], b"hello bob");
    assert!(message.headers.get("Proxy-Authorization").is_some());

    // carol has an account but no phone; a MESSAGE has no voicemail.
    let r = within(
        "MESSAGE",
        alice.message(format!("sip:carol@{pbx}"), "text/plain", "hi"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::TEMPORARILY_UNAVAILABLE);
    // Without a password: challenged.
    let anonymous = client(pbx, "alice", false).await;
    let r = within(
        "MESSAGE",
        anonymous.message(format!("sip:bob@{pbx}"), "text/plain", "hi"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    assert!(seen.try_recv().is_err(), "only the one MESSAGE arrived");
}

#[tokio::test]
async fn without_accounts_anyone_registers_and_calls() {
    let pbx = start(PbxOptions::default()).await;
    let (phone_addr, mut seen) = phone(StatusCode::OK).await;
    let anybody = client(pbx, "mallory", false).await;
    let r = register(&anybody, pbx, "bob", phone_addr).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    let mut call = dial(&anybody, pbx, "bob").await.expect("bob answers");
    next(&mut seen, Method::Invite).await;
    within("BYE", call.bye()).await.unwrap();
    // Any user name is routed: without a binding, the voicemail.
    let mut voicemail = dial(&anybody, pbx, "dave").await.expect("the voicemail");
    assert!(from_voicemail(&voicemail, pbx));
    within("BYE", voicemail.bye()).await.unwrap();
}

/// A location store that is down.
struct Down;

impl LocationStore for Down {
    fn update<'a>(&'a self, _aor: &'a str, _update: &'a Update) -> StoreFuture<'a, Vec<Binding>> {
        Box::pin(async { Err(StoreError::Unavailable("down".into())) })
    }

    fn lookup<'a>(&'a self, _aor: &'a str) -> StoreFuture<'a, Vec<Binding>> {
        Box::pin(async { Err(StoreError::Unavailable("down".into())) })
    }

    fn remove_flow<'a>(&'a self, _connection: ConnectionId) -> StoreFuture<'a, usize> {
        Box::pin(async { Ok(0) })
    }

    fn retain_open_flows<'a>(
        &'a self,
        _is_open: &'a (dyn Fn(ConnectionId) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        Box::pin(async { Ok(0) })
    }
}

#[tokio::test]
async fn a_store_down_gives_503_with_retry_after() {
    let pbx = start_over(with_accounts(), Some(Arc::new(Down))).await;
    let alice = client(pbx, "alice", true).await;
    let r = within(
        "MESSAGE",
        alice.message(format!("sip:bob@{pbx}"), "text/plain", "hi"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers.get("Retry-After").map(|v| v.as_str()), Some("5"));
    let r = register(&alice, pbx, "alice", "127.0.0.1:9".parse().unwrap()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}
