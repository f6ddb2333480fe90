//! The client as subscriber (RFC 6665 §4.1) and as referrer (RFC 3515,
//! RFC 4488), and its own requests in a call: against a parrot notifier
//! over loopback UDP, or a scripted peer where the order of messages
//! matters, on tokio's paused clock.

use parrot::client::{CallError, Client, ClientError, SubscribeOptions, SubscriptionEnd};
use parrot::dialog::SubscribeKind;
use parrot::message::typed::SubState;
use parrot::message::{HeaderName, Message, Method, Request, StatusCode, Uri};
use parrot::prelude::*;
use parrot::server::DialogHandle;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, timeout};

mod support;

use support::callee::Uas;

const SUMMARY: &str = "application/simple-message-summary";
const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

fn summary(new: u32) -> String {
    let waiting = if new > 0 { "yes" } else { "no" };
    format!("Messages-Waiting: {waiting}\r\nVoice-Message: {new}/0\r\n")
}

/// New messages in the mailbox; `u32::MAX` ends the subscriptions.
#[derive(Debug)]
struct Waiting(u32);

#[derive(Clone, Default)]
struct Shared {
    handles: Arc<Mutex<Vec<DialogHandle<Waiting>>>>,
    /// Each accepted SUBSCRIBE: what it did and when.
    subscribes: Arc<Mutex<Vec<(SubscribeKind, u32, Instant)>>>,
    refer_steps: Vec<StatusCode>,
}

struct Mwi(Shared);

#[uas_handler(events = "message-summary")]
impl Mwi {
    async fn subscribe(&mut self, _req: &Request, cx: &mut Context<'_, Waiting>) -> StatusCode {
        cx.set_state(SUMMARY, summary(0));
        if let Some(s) = cx.subscription() {
            self.0
                .subscribes
                .lock()
                .unwrap()
                .push((s.kind, s.expires, Instant::now()));
            if s.kind == SubscribeKind::New {
                self.0.handles.lock().unwrap().push(cx.handle());
            }
        }
        StatusCode::OK
    }

    async fn event(&mut self, ev: Waiting, cx: &mut Context<'_, Waiting>) -> Action {
        if ev.0 == u32::MAX {
            let _ = cx.end_subscriptions("noresource").await;
        } else {
            let _ = cx.notify(SUMMARY, summary(ev.0)).await;
        }
        Action::NoReply
    }

    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn refer(&mut self, _req: &Request, cx: &mut Context<'_, Waiting>) -> StatusCode {
        if let Some(mut progress) = cx.refer_progress() {
            let steps = self.0.refer_steps.clone();
            tokio::spawn(async move {
                for status in steps {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    progress.report(status);
                }
            });
        }
        StatusCode::ACCEPTED
    }
}

async fn server(shared: Shared) -> SocketAddr {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Mwi(shared.clone()))
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addr(parrot::transport::Protocol::Udp).unwrap();
    tokio::spawn(server.serve().into_future());
    addr
}

async fn client() -> Client {
    Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .credentials("alice", "secret")
        .udp_only()
        .bind()
        .await
        .unwrap()
}

fn options(expires: u32) -> SubscribeOptions {
    SubscribeOptions::new("message-summary")
        .expires(expires)
        .accept(SUMMARY)
}

#[tokio::test(start_paused = true)]
async fn subscribe_notify_refresh_and_unsubscribe() {
    let shared = Shared::default();
    let addr = server(shared.clone()).await;
    let client = client().await;
    let t0 = Instant::now();
    let mut sub = client
        .subscribe_with(format!("sip:alice@{addr}"), options(600))
        .await
        .unwrap();
    assert_eq!(
        sub.response().headers.get(HeaderName::Expires).unwrap(),
        "600"
    );

    // RFC 6665 §4.1.2.1: the first NOTIFY, with the state.
    let n = sub.next().await.unwrap();
    assert_eq!(n.state.to_string(), "active;expires=600");
    assert_eq!(n.content_type.as_deref(), Some(SUMMARY));
    assert_eq!(&n.body[..], summary(0).as_bytes());
    assert_eq!(Some(&n.dialog), sub.dialog_id());

    // An application event at the notifier.
    tokio::time::sleep(Duration::from_secs(100)).await;
    let handle = shared.handles.lock().unwrap()[0].clone();
    handle.send(Waiting(3)).unwrap();
    let n = sub.next().await.unwrap();
    assert_eq!(&n.body[..], summary(3).as_bytes());
    assert_eq!(n.state.to_string(), "active;expires=500");

    // RFC 6665 §4.1.2.2: the refresh, at 80% of the 600 s granted.
    let n = sub.next().await.unwrap();
    let at = Instant::now() - t0;
    assert!(
        at.abs_diff(Duration::from_secs(480)) < Duration::from_secs(1),
        "refreshed after {at:?}"
    );
    assert_eq!(n.state.to_string(), "active;expires=600");
    {
        let subs = shared.subscribes.lock().unwrap();
        assert_eq!(
            subs.len(),
            2,
            "{:?}",
            subs.iter().map(|s| s.0).collect::<Vec<_>>()
        );
        assert_eq!(subs[1].0, SubscribeKind::Refresh);
        assert_eq!(subs[1].1, 600);
    }

    // RFC 6665 §4.1.2.3: Expires 0, then the final NOTIFY.
    let ok = sub.unsubscribe().await.unwrap();
    assert_eq!(ok.status, StatusCode::OK);
    let n = sub.next().await.unwrap();
    assert_eq!(n.state.state, SubState::Terminated);
    assert!(sub.next().await.is_none());
    assert!(matches!(sub.end(), Some(SubscriptionEnd::Unsubscribed)));
    assert_eq!(
        shared.subscribes.lock().unwrap()[2].0,
        SubscribeKind::Unsubscribe
    );
}

#[tokio::test(start_paused = true)]
async fn a_423_is_retried_once_with_min_expires() {
    let shared = Shared::default();
    let addr = server(shared.clone()).await;
    let client = client().await;
    // The notifier's minimum is 60 s.
    let mut sub = client
        .subscribe_with(format!("sip:alice@{addr}"), options(30))
        .await
        .expect("retried with Min-Expires");
    assert_eq!(
        sub.response().headers.get(HeaderName::Expires).unwrap(),
        "60"
    );
    let n = sub.next().await.unwrap();
    assert_eq!(n.state.to_string(), "active;expires=60");
    // And refreshed for 60 s, at half of it.
    let t0 = Instant::now();
    let n = sub.next().await.unwrap();
    assert!((Instant::now() - t0).abs_diff(Duration::from_secs(30)) < Duration::from_secs(1));
    assert_eq!(n.state.to_string(), "active;expires=60");
}

#[tokio::test(start_paused = true)]
async fn a_package_not_served_is_489() {
    let addr = server(Shared::default()).await;
    let client = client().await;
    let err = client
        .subscribe(format!("sip:alice@{addr}"), "presence", 600)
        .await
        .unwrap_err();
    match err {
        ClientError::Rejected(r) => assert_eq!(r.status, StatusCode::BAD_EVENT),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_notifier_terminating_ends_the_subscription() {
    let shared = Shared::default();
    let addr = server(shared.clone()).await;
    let client = client().await;
    let mut sub = client
        .subscribe_with(format!("sip:alice@{addr}"), options(600))
        .await
        .unwrap();
    sub.next().await.unwrap();
    let handle = shared.handles.lock().unwrap()[0].clone();
    handle.send(Waiting(u32::MAX)).unwrap();
    let n = sub.next().await.unwrap();
    assert!(n.state.is_terminated());
    assert_eq!(n.state.reason(), Some("noresource"));
    assert!(sub.next().await.is_none());
    match sub.end() {
        Some(SubscriptionEnd::Terminated(s)) => assert_eq!(s.reason(), Some("noresource")),
        other => panic!("{other:?}"),
    }
    // No refresh follows a terminated subscription.
    tokio::time::sleep(Duration::from_secs(700)).await;
    assert_eq!(shared.subscribes.lock().unwrap().len(), 1);
}

/// A NOTIFY from the scripted notifier `uas` in the dialog of `sub` (the
/// SUBSCRIBE), with From tag `tag`.
fn notify_text(uas: &Uas, sub: &Request, tag: &str, cseq: u32, state: &str, body: &str) -> String {
    let h = &sub.headers;
    let contact = h.get(HeaderName::Contact).unwrap();
    let target = contact.trim_start_matches('<').trim_end_matches('>');
    format!(
        "NOTIFY {target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKn{tag}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@{me}>;tag={tag}\r\n\
         To: {to}\r\n\
         Call-ID: {call}\r\n\
         CSeq: {cseq} NOTIFY\r\n\
         Contact: <sip:bob@{me}>\r\n\
         Event: message-summary\r\n\
         Subscription-State: {state}\r\n\
         Content-Type: {SUMMARY}\r\n\
         Content-Length: {len}\r\n\r\n{body}",
        me = uas.addr(),
        to = h.get(HeaderName::From).unwrap(),
        call = h.get(HeaderName::CallId).unwrap(),
        len = body.len(),
    )
}

/// The next response to a request of the scripted peer.
#[tokio::test(start_paused = true)]
async fn a_notify_before_the_2xx_is_accepted_and_forks_make_dialogs() {
    let uas = Uas::bind().await;
    let client = client().await;
    let uri = uas.uri();
    let task = tokio::spawn(async move {
        let sub = client.subscribe(uri, "message-summary", 600).await;
        (client, sub)
    });
    let (sub, from) = uas.expect(Method::Subscribe).await;
    // RFC 6665 §4.1.2.4: the NOTIFY overtakes the 2xx; the notifier waits
    // for its answer before sending the 2xx.
    uas.send(
        &notify_text(&uas, &sub, "n1", 1, "active;expires=600", &summary(1)),
        from,
    )
    .await;
    let ok = uas.response_to("NOTIFY").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.to_tag(), sub.headers.from_tag());
    uas.send(
        &uas.reply(&sub, "200 OK", "n1", "Expires: 600\r\n", ""),
        from,
    )
    .await;
    let (_client, sub_result) = task.await.unwrap();
    let mut subscription = sub_result.unwrap();
    let n = subscription.next().await.unwrap();
    assert_eq!(&n.body[..], summary(1).as_bytes());
    assert_eq!(n.dialog.remote_tag.as_str(), "n1");

    // A second fork: its own dialog (RFC 6665 §4.1.2.4, §5.4.9).
    uas.send(
        &notify_text(&uas, &sub, "n2", 1, "active;expires=300", &summary(2)),
        from,
    )
    .await;
    assert_eq!(uas.response_to("NOTIFY").await.status, StatusCode::OK);
    let n2 = subscription.next().await.unwrap();
    assert_eq!(n2.dialog.remote_tag.as_str(), "n2");
    assert_eq!(n2.dialog.call_id, n.dialog.call_id);

    // RFC 6665 §4.1.3: a NOTIFY for another package gets 489.
    let wrong = notify_text(&uas, &sub, "n1", 2, "active", "")
        .replace("Event: message-summary", "Event: presence");
    uas.send(&wrong, from).await;
    assert_eq!(
        uas.response_to("NOTIFY").await.status,
        StatusCode::BAD_EVENT
    );

    // The second fork is refreshed at 80% of its 300 s, in its dialog.
    let t0 = Instant::now();
    let refresh = match uas.recv_within(Duration::from_secs(300)).await {
        Some((Message::Request(r), _)) if r.method == Method::Subscribe => r,
        other => panic!("expected the refresh, got {other:?}"),
    };
    assert!((Instant::now() - t0).abs_diff(Duration::from_secs(240)) < Duration::from_secs(1));
    assert_eq!(refresh.headers.to_tag().as_deref(), Some("n2"));
    assert_eq!(
        refresh.headers.get(HeaderName::Event).unwrap(),
        "message-summary"
    );
    uas.send(
        &uas.reply(&refresh, "481 Call Does Not Exist", "n2", "", ""),
        from,
    )
    .await;

    // Terminated by the first fork: the subscription is over once every
    // dialog's is.
    uas.send(
        &notify_text(
            &uas,
            &sub,
            "n1",
            3,
            "terminated;reason=rejected;retry-after=30",
            "",
        ),
        from,
    )
    .await;
    assert_eq!(uas.response_to("NOTIFY").await.status, StatusCode::OK);
    let last = subscription.next().await.unwrap();
    assert_eq!(last.state.retry_after(), Some(30));
    assert!(subscription.next().await.is_none());

    // RFC 6665 §4.1.3: a NOTIFY matching no subscription gets 481.
    uas.send(
        &notify_text(&uas, &sub, "n9", 1, "active;expires=60", ""),
        from,
    )
    .await;
    assert_eq!(
        uas.response_to("NOTIFY").await.status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
}

async fn call_to(addr: SocketAddr, client: &Client) -> parrot::client::Call {
    client
        .invite(format!("sip:bob@{addr}"), SDP)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn refer_yields_the_sipfrag_progress_until_terminated() {
    let shared = Shared {
        refer_steps: vec![StatusCode::RINGING, StatusCode::OK],
        ..Shared::default()
    };
    let addr = server(shared).await;
    let client = client().await;
    let mut call = call_to(addr, &client).await;
    let mut referral = call.refer("sip:carol@127.0.0.1").await.unwrap();
    assert_eq!(referral.response().status, StatusCode::ACCEPTED);
    let mut seen = Vec::new();
    while let Some(s) = timeout(Duration::from_secs(60), referral.next())
        .await
        .expect("progress")
    {
        seen.push(s.as_u16());
    }
    assert_eq!(seen, [100, 180, 200]);
    assert!(call.is_active());
    call.bye().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn refer_sub_false_expects_no_notify() {
    let shared = Shared {
        refer_steps: vec![StatusCode::OK],
        ..Shared::default()
    };
    let addr = server(shared).await;
    let client = client().await;
    let mut call = call_to(addr, &client).await;
    let mut referral = call.refer_with("sip:carol@127.0.0.1", false).await.unwrap();
    assert_eq!(
        referral.response().headers.get("Refer-Sub").map(|v| &**v),
        Some("false")
    );
    // RFC 4488 §4: no subscription, so no report; the referral is over.
    let next = timeout(Duration::from_secs(5), referral.next())
        .await
        .expect("the referral ends at once");
    assert_eq!(next, None);
    call.bye().await.unwrap();
}

/// Calls the scripted callee; returns the call, its INVITE and where the
/// callee sends to.
async fn scripted_call(uas: &Uas, client: &Client) -> (parrot::client::Call, Request, SocketAddr) {
    let pending = client.invite(uas.uri(), SDP).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    uas.send(&uas.reply(&inv, "200 OK", "uas", "", SDP), from)
        .await;
    let call = pending.wait().await.unwrap();
    uas.expect(Method::Ack).await;
    (call, inv, from)
}

#[tokio::test(start_paused = true)]
async fn an_in_dialog_request_challenged_401_is_sent_again_with_credentials() {
    let uas = Uas::bind().await;
    let client = client().await;
    let (mut call, _inv, from) = scripted_call(&uas, &client).await;
    let task = tokio::spawn(async move {
        let r = call
            .request(
                Method::Info,
                Some(("application/dtmf-relay", "Signal=5\r\n".into())),
            )
            .await;
        (call, r)
    });
    let (info, _) = uas.expect(Method::Info).await;
    assert_eq!(info.headers.to_tag().as_deref(), Some("uas"));
    assert!(info.headers.get(HeaderName::Authorization).is_none());
    let first = info.headers.cseq().unwrap().seq;
    uas.send(
        &uas.reply(
            &info,
            "401 Unauthorized",
            "uas",
            "WWW-Authenticate: Digest realm=\"example\", nonce=\"abc123\", algorithm=MD5, qop=\"auth\"\r\n",
            "",
        ),
        from,
    )
    .await;
    // RFC 3261 §22.2: the same request with credentials and the next CSeq.
    let (again, _) = uas.expect(Method::Info).await;
    let auth = again
        .headers
        .get(HeaderName::Authorization)
        .expect("credentials");
    assert!(auth.contains("username=\"alice\""), "{auth}");
    assert_eq!(again.headers.cseq().unwrap().seq, first + 1);
    assert_eq!(&again.body[..], b"Signal=5\r\n");
    uas.send(&uas.reply(&again, "200 OK", "uas", "", ""), from)
        .await;
    let (mut call, r) = task.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::OK);

    // The dialog's CSeq continues above the resubmission (§12.2.1.1).
    let task = tokio::spawn(async move {
        let r = call
            .request(Method::Message, Some(("text/plain", "hi".into())))
            .await;
        (call, r)
    });
    let (msg, _) = uas.expect(Method::Message).await;
    assert_eq!(msg.headers.cseq().unwrap().seq, first + 2);
    uas.send(&uas.reply(&msg, "200 OK", "uas", "", ""), from)
        .await;
    let (mut call, r) = task.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::OK);
    assert!(matches!(
        call.request(Method::Ack, None).await,
        Err(CallError::NotAllowed(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_notify_for_no_referral_of_ours_is_481() {
    let mut uas = Uas::bind().await;
    let client = client().await;
    let (_call, inv, from) = scripted_call(&uas, &client).await;
    let text = uas.request(&inv, "NOTIFY", "uas", "", 0).replace(
        "Content-Length: 0",
        "Event: refer;id=999\r\nSubscription-State: active\r\nContent-Type: message/sipfrag\r\nContent-Length: 20\r\n\r\nSIP/2.0 180 Ringing\n",
    );
    let text = text.trim_end_matches("\r\n\r\n").to_owned();
    let text = text.replace("\n\r\n\r\n", "\n");
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
}

#[tokio::test(start_paused = true)]
async fn an_attended_transfer_target_carries_replaces_escaped() {
    let uas = Uas::bind().await;
    let client = client().await;
    let (call, _inv, _from) = scripted_call(&uas, &client).await;
    let target = call.replaces_target().unwrap();
    let text = target.to_string();
    // RFC 3261 §19.1.1: ';' and '=' escaped in a URI header value.
    assert!(text.contains("?Replaces="), "{text}");
    assert!(text.contains("%3Bto-tag%3Duas%3Bfrom-tag%3D"), "{text}");
    let parsed: Uri = text.parse().unwrap();
    let replaces = parsed
        .as_sip()
        .unwrap()
        .headers()
        .get("Replaces")
        .unwrap()
        .into_owned();
    let id = call.dialog_id();
    assert_eq!(
        replaces,
        format!("{};to-tag=uas;from-tag={}", id.call_id, id.local_tag)
    );
    assert_eq!(parsed.as_sip().unwrap().user().as_deref(), Some("bob"));
}
