//! Subscriptions at the notifier (RFC 6665) and REFER's implicit
//! subscription (RFC 3515, RFC 4488), against a scripted subscriber over
//! loopback UDP on tokio's paused clock: the runtime's refusals (400, 489
//! with Allow-Events, 423 with Min-Expires, 481), the 2xx's Expires, the
//! NOTIFY after each accepted SUBSCRIBE, notifications driven by
//! application events, refresh, unsubscription, fetch, expiry, a NOTIFY
//! refused, and a REFER's sipfrag progress reports.

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

/// New messages in the mailbox.
#[derive(Debug)]
struct Waiting(u32);

/// What the tests watch from inside the handler.
#[derive(Clone, Default)]
struct Shared {
    /// The subscribed dialogs' handles.
    handles: Arc<Mutex<Vec<DialogHandle<Waiting>>>>,
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
    async fn subscribe(&mut self, req: &Request, cx: &mut Context<'_, Waiting>) -> StatusCode {
        if req.uri.to_string().starts_with("sip:nobody@") {
            return StatusCode::FORBIDDEN;
        }
        cx.set_state(SUMMARY, summary(0));
        if cx.subscription().map(|s| s.kind) == Some(SubscribeKind::New) {
            self.0.handles.lock().unwrap().push(cx.handle());
        }
        StatusCode::OK
    }

    async fn event(&mut self, ev: Waiting, cx: &mut Context<'_, Waiting>) -> Action {
        let outcome = cx.notify(SUMMARY, summary(ev.0)).await;
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

    async fn refer(&mut self, _req: &Request, cx: &mut Context<'_, Waiting>) -> StatusCode {
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
    handle.send(Waiting(2)).unwrap();
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
    assert!(handle.send(Waiting(1)).is_err());
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
