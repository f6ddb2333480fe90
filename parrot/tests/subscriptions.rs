//! Subscriptions at the notifier (RFC 6665) and REFER's implicit
//! subscription (RFC 3515, RFC 4488), against a scripted subscriber over
//! loopback UDP on tokio's paused clock: the runtime's refusals (400, 489
//! with Allow-Events, 423 with Min-Expires, 481), the 2xx's Expires, the
//! NOTIFY after each accepted SUBSCRIBE, notifications driven by
//! application events, refresh, unsubscription, fetch, expiry, a NOTIFY
//! refused, a REFER's sipfrag progress reports, pending subscriptions
//! authorized or rejected later, and requests answered while a NOTIFY of
//! the runtime awaits its answer.

use parrot::dialog::SubscribeKind;
use parrot::message::typed::{Event, SubscriptionState};
use parrot::message::{HeaderName, Method, Request, Response, StatusCode};
use parrot::prelude::*;
use parrot::server::{DialogHandle, RequestError};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

mod support;

use support::caller::Caller;

const SUMMARY: &str = "application/simple-message-summary";
const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

fn summary(new: u32) -> String {
    let waiting = if new > 0 { "yes" } else { "no" };
    format!("Messages-Waiting: {waiting}\r\nVoice-Message: {new}/0\r\n")
}

/// The application's events.
#[derive(Debug)]
enum Ev {
    /// New messages in the mailbox.
    Waiting(u32),
    /// The owner authorizes the pending subscription; new messages.
    Authorize(u32),
    /// The owner refuses the pending subscription.
    Reject,
}

/// What the tests watch from inside the handler.
#[derive(Clone, Default)]
struct Shared {
    /// The subscribed dialogs' handles.
    handles: Arc<Mutex<Vec<DialogHandle<Ev>>>>,
    /// `notify` outcomes.
    notified: Option<mpsc::UnboundedSender<Result<usize, RequestError>>>,
    /// The statuses a REFER's call goes through (empty: the progress
    /// handle is dropped without a final report).
    refer_steps: Vec<StatusCode>,
    /// The Refer-To seen.
    refer_to: Arc<Mutex<Option<String>>>,
}

struct Mwi(Shared);

#[uas_handler(events = "message-summary")]
impl Mwi {
    async fn subscribe(&mut self, req: &Request, cx: &mut Context<'_, Ev>) -> StatusCode {
        if req.uri.to_string().starts_with("sip:nobody@") {
            return StatusCode::FORBIDDEN;
        }
        cx.set_state(SUMMARY, summary(0));
        if cx.subscription().map(|s| s.kind) == Some(SubscribeKind::New) {
            self.0.handles.lock().unwrap().push(cx.handle());
            // The mailbox's owner decides later (RFC 6665 §4.2.1.3).
            if req.uri.to_string().starts_with("sip:pending@") {
                assert!(cx.set_pending());
            }
        } else if cx.subscription().map(|s| s.kind) == Some(SubscribeKind::Refresh) {
            // A refresh keeps the subscription's state.
            assert!(!cx.set_pending());
        }
        StatusCode::OK
    }

    async fn event(&mut self, ev: Ev, cx: &mut Context<'_, Ev>) -> Action {
        let outcome = match ev {
            Ev::Waiting(new) => cx.notify(SUMMARY, summary(new)).await,
            Ev::Authorize(new) => {
                cx.set_state(SUMMARY, summary(new));
                cx.activate()
            }
            Ev::Reject => cx.end_subscriptions("rejected").await,
        };
        if let Some(tx) = &self.0.notified {
            let _ = tx.send(outcome);
        }
        Action::NoReply
    }

    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(SDP)
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn info(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn refer(&mut self, _req: &Request, cx: &mut Context<'_, Ev>) -> StatusCode {
        *self.0.refer_to.lock().unwrap() = cx.refer_to().map(|t| t.uri().to_string());
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

fn state_of(req: &Request) -> SubscriptionState {
    req.headers
        .typed::<SubscriptionState>()
        .expect("Subscription-State")
        .unwrap()
}

fn event_of(req: &Request) -> Event {
    req.headers.typed::<Event>().expect("Event").unwrap()
}

/// The next request, which must be a NOTIFY; answered with `status`.
async fn notify(c: &mut Caller, status: StatusCode) -> Request {
    let n = c.recv_request().await.expect("a NOTIFY");
    assert_eq!(n.method, Method::Notify, "{n:?}");
    c.answer(&n, status, "", "").await;
    n
}

/// Sends a SUBSCRIBE inside the dialog `tag` for `expires` seconds.
async fn resubscribe(c: &mut Caller, tag: &str, expires: u32) {
    let sub = c.text(
        "SUBSCRIBE",
        "alice",
        tag,
        &format!("Event: message-summary\r\nExpires: {expires}\r\n"),
        "",
    );
    c.send(&sub).await;
}

/// Subscribes for `expires` seconds; the 200 and the dialog's To tag.
async fn subscribe(c: &mut Caller, expires: u32) -> (Response, String) {
    let sub = c.text(
        "SUBSCRIBE",
        "alice",
        "",
        &format!("Event: message-summary\r\nExpires: {expires}\r\n"),
        "",
    );
    c.send(&sub).await;
    let ok = c.expect(StatusCode::OK, "SUBSCRIBE").await;
    let tag = ok.headers.to_tag().unwrap().to_string();
    (ok, tag)
}

#[tokio::test(start_paused = true)]
async fn an_accepted_subscription_is_notified_at_once_and_on_every_event() {
    let (tx, mut notified) = mpsc::unbounded_channel();
    let shared = Shared {
        notified: Some(tx),
        ..Shared::default()
    };
    let addr = server(shared.clone()).await;
    let mut c = Caller::new(addr, "mwi1").await;
    let (ok, tag) = subscribe(&mut c, 600).await;
    // RFC 6665 §4.2.1.1: the 2xx says the duration granted.
    assert_eq!(ok.headers.get(HeaderName::Expires).unwrap(), "600");
    assert!(ok.headers.get(HeaderName::Contact).is_some());

    // §4.2.1.2: the NOTIFY follows at once, in the dialog, with the state.
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(n.headers.to_tag().as_deref(), Some("a"));
    assert_eq!(n.headers.from_tag().as_deref(), Some(tag.as_str()));
    assert_eq!(event_of(&n).package.as_str(), "message-summary");
    let state = state_of(&n);
    assert_eq!(state.to_string(), "active;expires=600");
    assert_eq!(n.headers.get(HeaderName::ContentType).unwrap(), SUMMARY);
    assert_eq!(&n.body[..], summary(0).as_bytes());
    assert!(n.headers.get(HeaderName::Contact).is_some());

    // An application event: a voicemail arrived.
    tokio::time::sleep(Duration::from_secs(100)).await;
    let handle = shared.handles.lock().unwrap()[0].clone();
    handle.send(Ev::Waiting(2)).unwrap();
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(state_of(&n).to_string(), "active;expires=500");
    assert_eq!(&n.body[..], summary(2).as_bytes());
    assert_eq!(notified.recv().await.unwrap(), Ok(1));

    // A refresh: 200 with the new duration, then a NOTIFY with the state
    // the handler set.
    resubscribe(&mut c, &tag, 300).await;
    let ok = c.expect(StatusCode::OK, "SUBSCRIBE").await;
    assert_eq!(ok.headers.get(HeaderName::Expires).unwrap(), "300");
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(state_of(&n).to_string(), "active;expires=300");

    // Unsubscribing: 200 with Expires 0 and a last NOTIFY; the dialog is
    // gone afterwards.
    resubscribe(&mut c, &tag, 0).await;
    let ok = c.expect(StatusCode::OK, "SUBSCRIBE").await;
    assert_eq!(ok.headers.get(HeaderName::Expires).unwrap(), "0");
    let n = notify(&mut c, StatusCode::OK).await;
    assert!(state_of(&n).is_terminated(), "{n:?}");
    assert_eq!(state_of(&n).reason(), Some("timeout"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(handle.is_closed());
    resubscribe(&mut c, &tag, 300).await;
    c.expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "SUBSCRIBE")
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_subscription_not_refreshed_ends_with_a_timeout_notify() {
    let addr = server(Shared::default()).await;
    let mut c = Caller::new(addr, "mwi2").await;
    let start = Instant::now();
    // Shorter than the scripted peer's read wait.
    subscribe(&mut c, 100).await;
    notify(&mut c, StatusCode::OK).await;
    // The dialog parks; the core wakes it when the subscription expires.
    let n = notify(&mut c, StatusCode::OK).await;
    let at = (Instant::now() - start).as_millis();
    assert!(at.abs_diff(100_000) < 100, "expired after {at} ms");
    assert_eq!(state_of(&n).to_string(), "terminated;reason=timeout");
    assert_eq!(&n.body[..], summary(0).as_bytes());
    // Nothing more comes.
    assert!(c.recv_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_notify_refused_with_481_removes_the_subscription() {
    let (tx, mut notified) = mpsc::unbounded_channel();
    let shared = Shared {
        notified: Some(tx),
        ..Shared::default()
    };
    let addr = server(shared.clone()).await;
    let mut c = Caller::new(addr, "mwi3").await;
    let (_, tag) = subscribe(&mut c, 600).await;
    notify(&mut c, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // RFC 6665 §4.2.2: the subscription, and with it the dialog, is gone.
    let handle = shared.handles.lock().unwrap()[0].clone();
    assert!(handle.is_closed());
    assert!(handle.send(Ev::Waiting(1)).is_err());
    assert!(notified.try_recv().is_err());
    resubscribe(&mut c, &tag, 300).await;
    c.expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "SUBSCRIBE")
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_fetch_gets_one_final_notify() {
    let addr = server(Shared::default()).await;
    let mut c = Caller::new(addr, "mwi4").await;
    let (ok, _) = subscribe(&mut c, 0).await;
    assert_eq!(ok.headers.get(HeaderName::Expires).unwrap(), "0");
    let n = notify(&mut c, StatusCode::OK).await;
    assert!(state_of(&n).is_terminated());
    assert_eq!(&n.body[..], summary(0).as_bytes());
    assert!(c.recv_request().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn bad_subscriptions_are_refused_before_the_handler() {
    let addr = server(Shared::default()).await;
    let mut c = Caller::new(addr, "mwi5").await;
    let cases: [(&str, &str, StatusCode); 5] = [
        ("alice", "Expires: 600\r\n", StatusCode::BAD_REQUEST),
        (
            "alice",
            "Event: presence\r\nExpires: 600\r\n",
            StatusCode::BAD_EVENT,
        ),
        (
            "alice",
            "Event: message-summary\r\nExpires: 10\r\n",
            StatusCode::INTERVAL_TOO_BRIEF,
        ),
        (
            "alice",
            "Event: message-summary\r\nEvent: presence\r\n",
            StatusCode::BAD_REQUEST,
        ),
        (
            "nobody",
            "Event: message-summary\r\n",
            StatusCode::FORBIDDEN,
        ),
    ];
    for (user, extra, status) in cases {
        c.call = format!("mwi5-{}", status.as_u16());
        let sub = c.text("SUBSCRIBE", user, "", extra, "");
        c.send(&sub).await;
        let r = c.expect(status, "SUBSCRIBE").await;
        match status {
            StatusCode::BAD_REQUEST => assert!(r.reason.contains("Event"), "{r:?}"),
            StatusCode::BAD_EVENT => assert_eq!(
                r.headers.get(HeaderName::AllowEvents).unwrap(),
                "message-summary"
            ),
            StatusCode::INTERVAL_TOO_BRIEF => {
                assert_eq!(r.headers.get(HeaderName::MinExpires).unwrap(), "60")
            }
            _ => {}
        }
    }
    // No NOTIFY for any of them.
    assert!(c.recv_request().await.is_none());
}

/// Calls and acknowledges; the dialog's To tag.
async fn call(c: &mut Caller) -> String {
    let invite = c.text("INVITE", "bob", "", "", SDP);
    c.send(&invite).await;
    let ok = c.expect(StatusCode::OK, "INVITE").await;
    let tag = ok.headers.to_tag().unwrap().to_string();
    let ack = c.text("ACK", "bob", &tag, "", "");
    c.send(&ack).await;
    tag
}

#[tokio::test(start_paused = true)]
async fn an_accepted_refer_reports_its_call_in_sipfrag_notifies() {
    let shared = Shared {
        refer_steps: vec![StatusCode::RINGING, StatusCode::OK],
        ..Shared::default()
    };
    let addr = server(shared.clone()).await;
    let mut c = Caller::new(addr, "refer1").await;
    let tag = call(&mut c).await;
    let refer = c.text(
        "REFER",
        "bob",
        &tag,
        "Refer-To: <sip:carol@127.0.0.1:5099>\r\n",
        "",
    );
    let seq = c.cseq - 1;
    c.send(&refer).await;
    c.expect(StatusCode::ACCEPTED, "REFER").await;
    assert_eq!(
        shared.refer_to.lock().unwrap().as_deref(),
        Some("sip:carol@127.0.0.1:5099")
    );
    // RFC 3515 §2.4.4: NOTIFY 100 Trying at once; §2.4.6: id is the
    // REFER's CSeq number.
    let n = notify(&mut c, StatusCode::OK).await;
    let event = event_of(&n);
    assert_eq!(event.package.as_str(), "refer");
    assert_eq!(event.id(), Some(seq.to_string().as_str()));
    assert_eq!(state_of(&n).to_string(), "active;expires=300");
    assert_eq!(
        n.headers.get(HeaderName::ContentType).unwrap(),
        "message/sipfrag;version=2.0"
    );
    assert_eq!(&n.body[..], b"SIP/2.0 100 Trying\r\n");
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(&n.body[..], b"SIP/2.0 180 Ringing\r\n");
    assert!(!state_of(&n).is_terminated());
    // §2.4.7: the final report ends the subscription.
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(&n.body[..], b"SIP/2.0 200 OK\r\n");
    assert_eq!(state_of(&n).to_string(), "terminated;reason=noresource");
    // The call goes on: the transferor hangs up.
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
}

#[tokio::test(start_paused = true)]
async fn a_refer_subscription_outlives_the_call_it_came_in() {
    let shared = Shared {
        refer_steps: vec![StatusCode::BUSY_HERE],
        ..Shared::default()
    };
    let addr = server(shared).await;
    let mut c = Caller::new(addr, "refer2").await;
    let tag = call(&mut c).await;
    let refer = c.text(
        "REFER",
        "bob",
        &tag,
        "Refer-To: <sip:carol@example.com>\r\n",
        "",
    );
    c.send(&refer).await;
    c.expect(StatusCode::ACCEPTED, "REFER").await;
    notify(&mut c, StatusCode::OK).await;
    // The transferor hangs up at once; RFC 5057: the subscription keeps
    // the dialog, and the outcome still arrives.
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(&n.body[..], b"SIP/2.0 486 Busy Here\r\n");
    assert!(state_of(&n).is_terminated());
    // Then the dialog is over.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let info = c.text("INFO", "bob", &tag, "", "");
    c.send(&info).await;
    c.expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "INFO")
        .await;
}

#[tokio::test(start_paused = true)]
async fn refer_sub_false_and_a_dropped_progress_handle() {
    let addr = server(Shared::default()).await;
    let mut c = Caller::new(addr, "refer3").await;
    let tag = call(&mut c).await;
    // RFC 4488 §4: no subscription, said so in the 2xx, no NOTIFY.
    let refer = c.text(
        "REFER",
        "bob",
        &tag,
        "Refer-To: <sip:carol@example.com>\r\nRefer-Sub: false\r\n",
        "",
    );
    c.send(&refer).await;
    let ok = c.expect(StatusCode::ACCEPTED, "REFER").await;
    assert_eq!(ok.headers.get("Refer-Sub").unwrap(), "false");

    // RFC 3515 §2.4.1: one Refer-To, or 400.
    let refer = c.text("REFER", "bob", &tag, "", "");
    c.send(&refer).await;
    let r = c.expect(StatusCode::BAD_REQUEST, "REFER").await;
    assert_eq!(r.reason.as_str(), "Missing Refer-To header");

    // A handler that drops its progress handle without an outcome: the
    // runtime reports 503 rather than leave the referrer waiting.
    let refer = c.text(
        "REFER",
        "bob",
        &tag,
        "Refer-To: <sip:carol@example.com>\r\n",
        "",
    );
    c.send(&refer).await;
    c.expect(StatusCode::ACCEPTED, "REFER").await;
    let first = notify(&mut c, StatusCode::OK).await;
    assert_eq!(&first.body[..], b"SIP/2.0 100 Trying\r\n");
    let last = notify(&mut c, StatusCode::OK).await;
    assert_eq!(&last.body[..], b"SIP/2.0 503 Service Unavailable\r\n");
    assert!(state_of(&last).is_terminated());
}

/// The CSeq number of `req`.
fn seq_of(req: &Request) -> u32 {
    req.headers.cseq().unwrap().seq
}

/// Reads the server's requests for `wait`: none but retransmissions of
/// `sent` may come.
async fn only_retransmissions_of(c: &mut Caller, sent: &Request, wait: Duration) {
    let seq = seq_of(sent);
    let _ = tokio::time::timeout(wait, async {
        while let Some(r) = c.recv_request().await {
            assert_eq!(
                (r.method.clone(), seq_of(&r)),
                (Method::Notify, seq),
                "{r:?}"
            );
        }
    })
    .await;
}

/// The next NOTIFY after the one numbered `seq` (skipping retransmissions
/// of that one), answered with `status`.
async fn notify_after(c: &mut Caller, seq: u32, status: StatusCode) -> Request {
    loop {
        let n = c.recv_request().await.expect("a NOTIFY");
        assert_eq!(n.method, Method::Notify, "{n:?}");
        if seq_of(&n) > seq {
            c.answer(&n, status, "", "").await;
            return n;
        }
    }
}

/// Sends a request of `method` in dialog `tag`; its answer, and how long
/// it took.
async fn ask(c: &mut Caller, method: &str, tag: &str, status: StatusCode) -> Duration {
    let start = Instant::now();
    let req = c.text(method, "alice", tag, "", "");
    c.send(&req).await;
    c.expect(status, method).await;
    Instant::now() - start
}

/// Well before Timer F (32 s), which bounds a NOTIFY left unanswered.
const AT_ONCE: Duration = Duration::from_secs(4);

#[tokio::test(start_paused = true)]
async fn a_request_is_answered_while_the_notify_awaits_its_answer() {
    let (tx, mut notified) = mpsc::unbounded_channel();
    let shared = Shared {
        notified: Some(tx),
        ..Shared::default()
    };
    let addr = server(shared.clone()).await;
    let mut c = Caller::new(addr, "busy1").await;
    let start = Instant::now();
    let (_, tag) = subscribe(&mut c, 600).await;
    // The subscriber does not answer the NOTIFY.
    let first = c.recv_request().await.expect("a NOTIFY");
    assert_eq!(state_of(&first).to_string(), "active;expires=600");
    // An INFO in the same dialog is answered at once, not after the
    // NOTIFY's answer or Timer F.
    let took = ask(&mut c, "INFO", &tag, StatusCode::OK).await;
    assert!(took < AT_ONCE, "INFO answered after {took:?}");
    // A new state meanwhile: the handler's call returns at once, and the
    // NOTIFY waits behind the unanswered one.
    let handle = shared.handles.lock().unwrap()[0].clone();
    handle.send(Ev::Waiting(3)).unwrap();
    assert_eq!(notified.recv().await.unwrap(), Ok(1));
    assert!(Instant::now() - start < AT_ONCE);
    // Only the first NOTIFY comes, until it times out (RFC 6665 §4.2.2:
    // the subscription is removed, and the dialog with it).
    only_retransmissions_of(&mut c, &first, Duration::from_secs(60)).await;
    assert!(handle.is_closed());
    ask(
        &mut c,
        "INFO",
        &tag,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_unsubscribe_behind_an_unanswered_notify_is_answered_at_once() {
    let shared = Shared::default();
    let addr = server(shared.clone()).await;
    let mut c = Caller::new(addr, "busy2").await;
    let (_, tag) = subscribe(&mut c, 600).await;
    let first = c.recv_request().await.expect("a NOTIFY");
    // Unsubscribing while the first NOTIFY is unanswered: the 200 at once.
    let start = Instant::now();
    resubscribe(&mut c, &tag, 0).await;
    let ok = c.expect(StatusCode::OK, "SUBSCRIBE").await;
    assert_eq!(ok.headers.get(HeaderName::Expires).unwrap(), "0");
    assert!(Instant::now() - start < AT_ONCE);
    // The last NOTIFY waits for the answer to the first one.
    only_retransmissions_of(&mut c, &first, Duration::from_secs(5)).await;
    c.answer(&first, StatusCode::OK, "", "").await;
    let last = notify_after(&mut c, seq_of(&first), StatusCode::OK).await;
    assert_eq!(seq_of(&last), seq_of(&first) + 1);
    assert_eq!(state_of(&last).to_string(), "terminated;reason=timeout");
    assert_eq!(&last.body[..], summary(0).as_bytes());
    // Then the dialog is over.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(shared.handles.lock().unwrap()[0].is_closed());
    resubscribe(&mut c, &tag, 300).await;
    c.expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "SUBSCRIBE")
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_bye_is_answered_while_a_refer_notify_awaits_its_answer() {
    // The handler drops its progress handle: a final 503 report follows
    // the 100 Trying at once.
    let addr = server(Shared::default()).await;
    let mut c = Caller::new(addr, "busy3").await;
    let tag = call(&mut c).await;
    let refer = c.text(
        "REFER",
        "bob",
        &tag,
        "Refer-To: <sip:carol@example.com>\r\n",
        "",
    );
    c.send(&refer).await;
    c.expect(StatusCode::ACCEPTED, "REFER").await;
    let trying = c.recv_request().await.expect("a NOTIFY");
    assert_eq!(&trying.body[..], b"SIP/2.0 100 Trying\r\n");
    // The transferor hangs up without answering the NOTIFY.
    let start = Instant::now();
    let bye = c.text("BYE", "bob", &tag, "", "");
    c.send(&bye).await;
    c.expect(StatusCode::OK, "BYE").await;
    assert!(Instant::now() - start < AT_ONCE);
    // The final report waits for the first NOTIFY's answer, then comes.
    only_retransmissions_of(&mut c, &trying, Duration::from_secs(3)).await;
    c.answer(&trying, StatusCode::OK, "", "").await;
    let last = notify_after(&mut c, seq_of(&trying), StatusCode::OK).await;
    assert_eq!(&last.body[..], b"SIP/2.0 503 Service Unavailable\r\n");
    assert_eq!(state_of(&last).to_string(), "terminated;reason=noresource");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let info = c.text("INFO", "bob", &tag, "", "");
    c.send(&info).await;
    c.expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "INFO")
        .await;
}

/// Subscribes to the `pending` mailbox for `expires` seconds; the 200's
/// To tag, after checking the pending NOTIFY that follows.
async fn subscribe_pending(c: &mut Caller, expires: u32) -> String {
    let sub = c.text(
        "SUBSCRIBE",
        "pending",
        "",
        &format!("Event: message-summary\r\nExpires: {expires}\r\n"),
        "",
    );
    c.send(&sub).await;
    let ok = c.expect(StatusCode::OK, "SUBSCRIBE").await;
    assert_eq!(
        ok.headers.get(HeaderName::Expires).unwrap(),
        expires.to_string().as_str()
    );
    // RFC 6665 §4.2.1.2: a NOTIFY at once, here `pending` and without
    // the state (the handler set one: it is not shown).
    let n = notify(c, StatusCode::OK).await;
    assert_eq!(
        state_of(&n).to_string(),
        format!("pending;expires={expires}")
    );
    assert!(n.body.is_empty(), "{n:?}");
    assert!(n.headers.get(HeaderName::ContentType).is_none(), "{n:?}");
    ok.headers.to_tag().unwrap().to_string()
}

/// No request from the server for `wait`.
async fn no_request(c: &mut Caller, wait: Duration) {
    let got = tokio::time::timeout(wait, c.recv_request()).await;
    assert!(matches!(got, Err(_) | Ok(None)), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn a_pending_subscription_is_activated_later_with_the_state() {
    let (tx, mut notified) = mpsc::unbounded_channel();
    let shared = Shared {
        notified: Some(tx),
        ..Shared::default()
    };
    let addr = server(shared.clone()).await;
    let mut c = Caller::new(addr, "pending1").await;
    let tag = subscribe_pending(&mut c, 600).await;
    let handle = shared.handles.lock().unwrap()[0].clone();
    // A new state while pending: nothing sent (RFC 6665 §6.2).
    handle.send(Ev::Waiting(4)).unwrap();
    assert_eq!(notified.recv().await.unwrap(), Ok(0));
    no_request(&mut c, Duration::from_secs(5)).await;
    // A refresh keeps it pending.
    let sub = c.text(
        "SUBSCRIBE",
        "pending",
        &tag,
        "Event: message-summary\r\nExpires: 300\r\n",
        "",
    );
    c.send(&sub).await;
    c.expect(StatusCode::OK, "SUBSCRIBE").await;
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(state_of(&n).to_string(), "pending;expires=300");
    assert!(n.body.is_empty());
    // The owner authorizes it: active, the seconds left, the state.
    tokio::time::sleep(Duration::from_secs(100)).await;
    handle.send(Ev::Authorize(5)).unwrap();
    assert_eq!(notified.recv().await.unwrap(), Ok(1));
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(state_of(&n).to_string(), "active;expires=200");
    assert_eq!(n.headers.get(HeaderName::ContentType).unwrap(), SUMMARY);
    assert_eq!(&n.body[..], summary(5).as_bytes());
    // From then on, the state is notified.
    handle.send(Ev::Waiting(6)).unwrap();
    assert_eq!(notified.recv().await.unwrap(), Ok(1));
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(&n.body[..], summary(6).as_bytes());
}

#[tokio::test(start_paused = true)]
async fn a_pending_subscription_rejected_ends_without_the_state() {
    let (tx, mut notified) = mpsc::unbounded_channel();
    let shared = Shared {
        notified: Some(tx),
        ..Shared::default()
    };
    let addr = server(shared.clone()).await;
    let mut c = Caller::new(addr, "pending2").await;
    let tag = subscribe_pending(&mut c, 600).await;
    let handle = shared.handles.lock().unwrap()[0].clone();
    // RFC 6665 §4.2.1.3: authorization declined later.
    handle.send(Ev::Reject).unwrap();
    assert_eq!(notified.recv().await.unwrap(), Ok(1));
    let n = notify(&mut c, StatusCode::OK).await;
    assert_eq!(state_of(&n).to_string(), "terminated;reason=rejected");
    assert!(n.body.is_empty(), "{n:?}");
    assert!(n.headers.get(HeaderName::ContentType).is_none());
    // The subscription, and with it the dialog, is over.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(handle.is_closed());
    resubscribe(&mut c, &tag, 300).await;
    c.expect(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST, "SUBSCRIBE")
        .await;
}
