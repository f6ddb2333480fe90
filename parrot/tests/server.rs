//! The server over loopback UDP, with a handler implemented by hand (the
//! macro's own tests live in ui-tests): defaults (405/501 with Allow,
//! OPTIONS), a call with To tag / Contact / BYE, 481, CSeq ordering, a
//! panicking handler, init refusal, overload, CANCEL, app events, and BYE
//! when the ACK never comes. Timers run on tokio's paused clock.

use parrot::message::{Message, Request, Response, StatusCode};
use parrot::server::Server;
use parrot::server::{Action, Context, DialogHandle, MethodSet, UasHandler};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

mod support;

use support::{parse_message, recv_datagram};

const WAIT: Duration = Duration::from_secs(60);

/// What the test handler should do, shared with the test.
#[derive(Default)]
struct Shared {
    handle: Option<DialogHandle<Hangup>>,
    cancelled: bool,
}

struct Hangup;

struct Phone {
    shared: Arc<Mutex<Shared>>,
}

impl UasHandler for Phone {
    type Event = Hangup;
    const METHODS: MethodSet = MethodSet::EMPTY.with("INVITE").with("BYE");

    fn init(
        &mut self,
        req: &Request,
        _cx: &mut Context<'_, Hangup>,
    ) -> impl Future<Output = Result<(), Action>> + Send {
        let refuse = req.uri.to_string().contains("refuse");
        async move {
            if refuse {
                Err(Action::Respond(Response::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                )))
            } else {
                Ok(())
            }
        }
    }

    fn invite(
        &mut self,
        req: &Request,
        cx: &mut Context<'_, Hangup>,
    ) -> impl Future<Output = Action> + Send {
        let uri = req.uri.to_string();
        let shared = self.shared.clone();
        async move {
            if uri.contains("panic") {
                panic!("handler bug");
            }
            if !uri.contains("quiet") {
                cx.ring().expect("a request awaits its answer");
            }
            if uri.contains("slow") || uri.contains("quiet") {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            shared.lock().unwrap().handle = Some(cx.handle());
            let req = cx.request().unwrap();
            Action::Respond(req.reply(StatusCode::OK).sdp("v=0\r\n"))
        }
    }

    fn bye(
        &mut self,
        req: &Request,
        _cx: &mut Context<'_, Hangup>,
    ) -> impl Future<Output = Action> + Send {
        let resp = req.reply(StatusCode::OK);
        async move { Action::Respond(resp) }
    }

    fn cancel(
        &mut self,
        _req: &Request,
        _cx: &mut Context<'_, Hangup>,
    ) -> impl Future<Output = Action> + Send {
        self.shared.lock().unwrap().cancelled = true;
        async { Action::NoReply }
    }

    async fn event(&mut self, _ev: Hangup, _cx: &mut Context<'_, Hangup>) -> Action {
        Action::Stop("app asked".into())
    }
}

struct Peer {
    sock: UdpSocket,
    server: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

async fn start(max_dialogs: usize) -> Peer {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let s2 = shared.clone();
    let running = Server::builder()
        .listen("127.0.0.1:0")
        .max_dialogs(max_dialogs)
        .handler(move || Phone { shared: s2.clone() })
        .bind()
        .await
        .expect("bind");
    let server = running
        .local_addr(parrot::transport::Protocol::Udp)
        .unwrap();
    tokio::spawn(running.serve().into_future());
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    Peer {
        sock,
        server,
        shared,
    }
}

impl Peer {
    fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bK{branch};rport",
            self.sock.local_addr().unwrap()
        )
    }

    async fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    async fn recv(&self) -> Message {
        parse_message(&recv_datagram(&self.sock, WAIT).await.0)
    }

    async fn response(&self) -> Response {
        loop {
            if let Message::Response(r) = self.recv().await {
                return r;
            }
        }
    }

    /// The next final response (provisionals skipped).
    async fn final_response(&self) -> Response {
        loop {
            let r = self.response().await;
            if r.status.is_final() {
                return r;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        method: &str,
        uri: &str,
        branch: &str,
        call: &str,
        cseq: u32,
        to_tag: Option<&str>,
    ) -> String {
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let cseq_method = method;
        format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: {}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1>;tag=caller\r\n\
             To: <sip:bob@127.0.0.1>{to_tag}\r\n\
             Call-ID: {call}\r\n\
             CSeq: {cseq} {cseq_method}\r\n\
             Contact: <sip:alice@{}>\r\n\
             Content-Length: 0\r\n\r\n",
            self.via(branch),
            self.sock.local_addr().unwrap(),
        )
    }
}

#[tokio::test]
async fn defaults_options_405_501() {
    let p = start(100).await;
    p.send(&p.request("OPTIONS", "sip:bob@127.0.0.1", "o1", "c-opt", 1, None))
        .await;
    let r = p.final_response().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers.get("Allow").unwrap(),
        "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK"
    );
    assert_eq!(r.headers.get("Accept").unwrap(), "application/sdp");
    assert!(
        r.headers.to_tag().is_some(),
        "§8.2.6.2: a To tag on every non-100 response"
    );

    p.send(&p.request("MESSAGE", "sip:bob@127.0.0.1", "m1", "c-msg", 1, None))
        .await;
    let r = p.final_response().await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers.get("Allow").unwrap(),
        "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK"
    );

    p.send(&p.request("FOO", "sip:bob@127.0.0.1", "f1", "c-foo", 1, None))
        .await;
    let r = p.final_response().await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert!(r.headers.contains("Allow"));
}

#[tokio::test]
async fn a_call_with_tags_contact_and_bye() {
    let p = start(100).await;
    p.send(&p.request("INVITE", "sip:bob@127.0.0.1", "i1", "c-call", 1, None))
        .await;
    let ringing = p.response().await;
    assert_eq!(ringing.status, StatusCode::RINGING);
    let tag = ringing
        .headers
        .to_tag()
        .expect("180 carries the To tag")
        .to_string();
    assert!(
        ringing.headers.contains("Contact"),
        "§12.1.1: dialog-creating 1xx has Contact"
    );
    let ok = p.final_response().await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.headers.to_tag().unwrap(),
        tag.as_str(),
        "one To tag per dialog"
    );
    assert!(ok.headers.contains("Contact"));
    assert_eq!(&ok.body[..], b"v=0\r\n");
    p.send(&p.request("ACK", "sip:bob@127.0.0.1", "a1", "c-call", 1, Some(&tag)))
        .await;

    // An out-of-order CSeq inside the dialog gets 500 (§12.2.2).
    p.send(&p.request("BYE", "sip:bob@127.0.0.1", "b0", "c-call", 1, Some(&tag)))
        .await;
    assert_eq!(
        p.final_response().await.status,
        StatusCode::SERVER_INTERNAL_ERROR
    );

    p.send(&p.request("BYE", "sip:bob@127.0.0.1", "b1", "c-call", 2, Some(&tag)))
        .await;
    assert_eq!(p.final_response().await.status, StatusCode::OK);
    // The dialog is gone: another BYE gets 481.
    p.send(&p.request("BYE", "sip:bob@127.0.0.1", "b2", "c-call", 3, Some(&tag)))
        .await;
    assert_eq!(
        p.final_response().await.status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
    let p = start(100).await;
    p.send(&p.request("INVITE", "sip:panic@127.0.0.1", "p1", "c-panic", 1, None))
        .await;
    assert_eq!(
        p.final_response().await.status,
        StatusCode::SERVER_INTERNAL_ERROR
    );
    p.send(&p.request("OPTIONS", "sip:bob@127.0.0.1", "p2", "c-after", 1, None))
        .await;
    assert_eq!(p.final_response().await.status, StatusCode::OK);
}

#[tokio::test]
async fn init_refusal_answers_503() {
    let p = start(100).await;
    p.send(&p.request("INVITE", "sip:refuse@127.0.0.1", "r1", "c-refuse", 1, None))
        .await;
    assert_eq!(
        p.final_response().await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(start_paused = true)]
async fn overload_gets_503_with_retry_after() {
    let p = start(1).await;
    p.send(&p.request("INVITE", "sip:slow@127.0.0.1", "s1", "c-slow1", 1, None))
        .await;
    assert_eq!(p.response().await.status, StatusCode::RINGING);
    p.send(&p.request("INVITE", "sip:slow@127.0.0.1", "s2", "c-slow2", 1, None))
        .await;
    let r = p.final_response().await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers.contains("Retry-After"));
}

#[tokio::test(start_paused = true)]
async fn cancel_of_a_ringing_invite() {
    let p = start(100).await;
    p.send(&p.request("INVITE", "sip:slow@127.0.0.1", "c1", "c-cancel", 1, None))
        .await;
    assert_eq!(p.response().await.status, StatusCode::RINGING);
    p.send(&p.request("CANCEL", "sip:slow@127.0.0.1", "c1", "c-cancel", 1, None))
        .await;
    let mut got = [p.final_response().await, p.final_response().await];
    got.sort_by_key(|r| r.status);
    assert_eq!(got[0].status, StatusCode::OK);
    assert_eq!(got[1].status, StatusCode::REQUEST_TERMINATED);
    // The handler's late 200 never goes out; the handler is notified.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(p.shared.lock().unwrap().cancelled, "cancel() was called");
}

#[tokio::test(start_paused = true)]
async fn cancel_before_any_provisional_still_notifies_the_handler() {
    let p = start(100).await;
    let invite = p.request("INVITE", "sip:quiet@127.0.0.1", "q1", "c-quiet", 1, None);
    p.send(&invite).await;
    // Before the handler answers (it takes 2 s, sending no 180).
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.send(&p.request("CANCEL", "sip:quiet@127.0.0.1", "q1", "c-quiet", 1, None))
        .await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let r = p.final_response().await;
        got.push(r.status);
    }
    got.sort();
    assert_eq!(got, [StatusCode::OK, StatusCode::REQUEST_TERMINATED]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(p.shared.lock().unwrap().cancelled, "cancel() was called");
}

#[tokio::test(start_paused = true)]
async fn a_2xx_that_lost_the_race_with_a_cancel_ends_the_call_quietly() {
    let p = start(100).await;
    // Sent together, so that the transaction task takes the CANCEL (487,
    // §9.2) before the handler's at-once 200 reaches it: the 200 is
    // refused, and the session, parked with it taken as accepted, hears
    // of the CANCEL afterwards.
    p.send(&p.request("INVITE", "sip:bob@127.0.0.1", "r1", "c-race", 1, None))
        .await;
    p.send(&p.request("CANCEL", "sip:bob@127.0.0.1", "r1", "c-race", 1, None))
        .await;
    let mut got = [p.final_response().await, p.final_response().await];
    got.sort_by_key(|r| r.status);
    assert_eq!(got[0].status, StatusCode::OK);
    assert_eq!(got[0].headers.cseq().unwrap().method.as_str(), "CANCEL");
    assert_eq!(got[1].status, StatusCode::REQUEST_TERMINATED);
    // §17.1.1.3: the 487 is acknowledged (with its To tag, same branch).
    let tag = got[1].headers.to_tag().unwrap().to_string();
    p.send(&p.request("ACK", "sip:bob@127.0.0.1", "r1", "c-race", 1, Some(&tag)))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(p.shared.lock().unwrap().cancelled, "cancel() was called");
    // No 200 to the INVITE, no BYE: the call ended as a cancelled one
    // (a dialog left waiting for an ACK would send its BYE after 64*T1).
    let mut buf = vec![0u8; 65535];
    let quiet = tokio::time::timeout(Duration::from_secs(40), p.sock.recv_from(&mut buf)).await;
    assert!(
        quiet.is_err(),
        "after the race: {:?}",
        quiet.map(|r| String::from_utf8_lossy(&buf[..r.unwrap().0]).into_owned())
    );
}

#[tokio::test(start_paused = true)]
async fn missing_ack_retransmits_the_2xx_then_sends_bye() {
    let p = start(100).await;
    p.send(&p.request("INVITE", "sip:bob@127.0.0.1", "n1", "c-noack", 1, None))
        .await;
    let mut oks = 0;
    let bye = loop {
        match p.recv().await {
            Message::Response(r) if r.status == StatusCode::OK => oks += 1,
            Message::Response(_) => {}
            Message::Request(r) => break r,
        }
    };
    assert_eq!(bye.method.as_str(), "BYE");
    // The first 200 plus retransmissions at 0.5, 1.5, 3.5, 7.5, 11.5, ...
    // 31.5 s (T1 doubling, capped at T2), until 64*T1.
    assert!(oks >= 9, "only {oks} copies of the 200");
    // Answer the BYE so the server's transaction completes.
    let mut ok = bye.reply(StatusCode::OK);
    ok.headers.push(parrot::message::Header::new(
        "Contact",
        "<sip:alice@127.0.0.1>",
    ));
    p.sock.send_to(&ok.to_bytes(), p.server).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_app_event_stops_the_dialog_with_bye() {
    let p = start(100).await;
    p.send(&p.request("INVITE", "sip:bob@127.0.0.1", "e1", "c-event", 1, None))
        .await;
    let ok = p.final_response().await;
    let tag = ok.headers.to_tag().unwrap().to_string();
    p.send(&p.request("ACK", "sip:bob@127.0.0.1", "e2", "c-event", 1, Some(&tag)))
        .await;
    let handle = p
        .shared
        .lock()
        .unwrap()
        .handle
        .clone()
        .expect("handle stored");
    assert!(handle.send(Hangup).is_ok());
    let bye = loop {
        if let Message::Request(r) = p.recv().await {
            break r;
        }
    };
    assert_eq!(bye.method.as_str(), "BYE");
    assert_eq!(
        bye.headers.from_tag().unwrap(),
        tag.as_str(),
        "our tag is the From tag now"
    );
    assert_eq!(
        bye.uri.to_string(),
        format!("sip:alice@{}", p.sock.local_addr().unwrap())
    );
}

/// The runtime's live tasks after `turns` turns of 10 ms (the clock is
/// paused): many turns, so that every datagram sent has been handled.
async fn tasks_after_turns(turns: usize) -> usize {
    for _ in 0..turns {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn held_calls_park_without_a_task_and_wake_for_their_requests() {
    const CALLS: usize = 20;
    let p = start(100).await;
    let mut tags = Vec::new();
    for n in 0..=CALLS {
        let call = format!("c-held-{n}");
        p.send(&p.request(
            "INVITE",
            "sip:bob@127.0.0.1",
            &format!("hi{n}"),
            &call,
            1,
            None,
        ))
        .await;
        let ok = p.final_response().await;
        assert_eq!(ok.status, StatusCode::OK);
        let tag = ok.headers.to_tag().unwrap().to_string();
        p.send(&p.request(
            "ACK",
            "sip:bob@127.0.0.1",
            &format!("ha{n}"),
            &call,
            1,
            Some(&tag),
        ))
        .await;
        tags.push(tag);
    }
    // Once each ACK is in, its dialog is parked: one held call or twenty
    // more run the same tasks.
    let settled = || tasks_after_turns(100);
    let with_calls = settled().await;
    // Every parked dialog wakes for its BYE and answers it.
    for (n, tag) in tags.iter().enumerate().skip(1) {
        let call = format!("c-held-{n}");
        p.send(&p.request(
            "BYE",
            "sip:bob@127.0.0.1",
            &format!("hb{n}"),
            &call,
            2,
            Some(tag),
        ))
        .await;
        assert_eq!(p.final_response().await.status, StatusCode::OK, "call {n}");
    }
    let after_byes = settled().await;
    assert_eq!(
        with_calls,
        after_byes,
        "{CALLS} held calls ran {} tasks of their own",
        with_calls.saturating_sub(after_byes)
    );
    // The remaining call is still there and ends normally.
    p.send(&p.request(
        "BYE",
        "sip:bob@127.0.0.1",
        "hb0",
        "c-held-0",
        2,
        Some(&tags[0]),
    ))
    .await;
    assert_eq!(p.final_response().await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn answered_calls_awaiting_their_ack_park_and_still_retransmit() {
    const CALLS: usize = 20;
    let p = start(100).await;
    // 0.4 s: less than T1.
    let settled = || tasks_after_turns(40);
    let invite = |n: usize| {
        p.request(
            "INVITE",
            "sip:bob@127.0.0.1",
            &format!("wi{n}"),
            &format!("c-wait-{n}"),
            1,
            None,
        )
    };
    p.send(&invite(0)).await;
    let first = p.final_response().await;
    assert_eq!(first.status, StatusCode::OK);
    let one_call = settled().await;
    let mut tags = vec![first.headers.to_tag().unwrap().to_string()];
    for n in 1..=CALLS {
        p.send(&invite(n)).await;
        let ok = p.final_response().await;
        assert_eq!(ok.status, StatusCode::OK);
        tags.push(ok.headers.to_tag().unwrap().to_string());
    }
    // Answered and not yet acknowledged, every call waits as data: twenty
    // more run no task of their own.
    let all_calls = settled().await;
    assert_eq!(
        one_call,
        all_calls,
        "{CALLS} calls awaiting their ACK ran {} tasks",
        all_calls.saturating_sub(one_call)
    );
    // §13.3.1.4: each parked 2xx is sent again at T1 (0.5 s after it
    // went; 0.4 s have passed).
    let mut again = std::collections::HashSet::new();
    while again.len() <= CALLS {
        let r = p.final_response().await;
        assert_eq!(r.status, StatusCode::OK);
        again.insert(r.headers.call_id().unwrap().to_string());
    }
    // The ACKs confirm the calls, whose BYEs are answered.
    for (n, tag) in tags.iter().enumerate() {
        let call = format!("c-wait-{n}");
        let ack = p.request(
            "ACK",
            "sip:bob@127.0.0.1",
            &format!("wa{n}"),
            &call,
            1,
            Some(tag),
        );
        p.send(&ack).await;
        let bye = p.request(
            "BYE",
            "sip:bob@127.0.0.1",
            &format!("wb{n}"),
            &call,
            2,
            Some(tag),
        );
        p.send(&bye).await;
        // Copies of the 200 to the INVITE sent before the ACK came may
        // still be on their way.
        let answer = loop {
            let r = p.final_response().await;
            if r.headers.cseq().is_some_and(|c| c.method.as_str() == "BYE") {
                break r;
            }
        };
        assert_eq!(answer.status, StatusCode::OK, "call {n}");
    }
}
