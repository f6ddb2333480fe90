//! Session timers (RFC 4028) on the client, against a scripted callee on
//! a loopback UDP socket, on tokio's paused clock: the INVITE's
//! Session-Expires and Min-SE, the 422 retry, our refresh by UPDATE or
//! re-INVITE (with its ACK) at half the interval, the fallback to
//! re-INVITE after 405, the BYE when the session expires unrefreshed or
//! the refresh gets 408, the end without BYE after 481, and the peer's
//! refresh (422 below our Min-SE, otherwise pushing the deadlines back).

use parrot::client::{Call, CallEnd, Client};
use parrot::dialog::SessionTimerConfig;
use parrot::message::{HeaderName, Message, Method, Request, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

mod support;

use support::callee::Uas;

/// Our offer: one audio stream.
const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
/// The callee's description: one audio stream.
const ANSWER: &str = "v=0\r\no=bob 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\n";

/// The callee allows UPDATE.
const WITH_UPDATE: &str = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE\r\n";
/// The callee does not allow UPDATE.
const WITHOUT_UPDATE: &str = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n";

async fn client(timer: Option<Duration>) -> Client {
    let mut builder = Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .udp_only();
    if let Some(interval) = timer {
        builder = builder.session_timer(SessionTimerConfig::new(interval));
    }
    builder.bind().await.unwrap()
}

fn cseq(r: &Request) -> u32 {
    r.headers.cseq().unwrap().seq
}

fn header(r: &Request, name: HeaderName) -> Option<&str> {
    r.headers.get(name).map(|v| &**v)
}

/// The next request from the client within `wait` (responses are
/// skipped), and when it came, relative to `t0`.
async fn next_request(uas: &Uas, t0: Instant, wait: Duration) -> (Request, SocketAddr, Duration) {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (msg, from) = uas
            .recv_within(left)
            .await
            .unwrap_or_else(|| panic!("no request within {wait:?}"));
        if let Message::Request(r) = msg {
            return (r, from, Instant::now() - t0);
        }
    }
}

/// Asserts that `at` is `expected` within 100 ms.
fn assert_at(at: Duration, expected: Duration, what: &str) {
    assert!(
        at.abs_diff(expected) < Duration::from_millis(100),
        "{what} after {at:?}, expected {expected:?}"
    );
}

/// Calls the callee, which answers the INVITE `200` with `extra` header
/// lines and [`ANSWER`]. Returns the call, the INVITE, where the callee
/// sends to, and the instant the call was set up; the ACK has been
/// received.
async fn call(uas: &Uas, client: &Client, extra: &str) -> (Call, Request, SocketAddr, Instant) {
    let pending = client.invite(uas.uri(), OFFER).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    uas.send(&uas.reply(&inv, "200 OK", "uas", extra, ANSWER), from)
        .await;
    let call = pending.wait().await.unwrap();
    let t0 = Instant::now();
    let (ack, _) = uas.expect(Method::Ack).await;
    assert_eq!(cseq(&ack), cseq(&inv));
    (call, inv, from, t0)
}

#[tokio::test(start_paused = true)]
async fn the_client_refreshes_by_update_at_half_the_interval() {
    let uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let pending = client.invite(uas.uri(), OFFER).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    // RFC 4028 §7.1: what the client asks for.
    assert_eq!(header(&inv, HeaderName::SessionExpires), Some("120"));
    assert_eq!(header(&inv, HeaderName::MinSe), Some("90"));
    assert!(inv.headers.lists(HeaderName::Supported, "timer"), "{inv:?}");
    assert!(
        inv.headers.lists(HeaderName::Supported, "100rel"),
        "{inv:?}"
    );
    let extra = format!("{WITH_UPDATE}Require: timer\r\nSession-Expires: 120;refresher=uac\r\n");
    uas.send(&uas.reply(&inv, "200 OK", "uas", &extra, ANSWER), from)
        .await;
    let call = pending.wait().await.unwrap();
    let t0 = Instant::now();
    uas.expect(Method::Ack).await;
    assert_eq!(call.session_interval(), Some(Duration::from_secs(120)));

    let mut last = cseq(&inv);
    for round in 1..=2u32 {
        let (update, ufrom, at) = next_request(&uas, t0, Duration::from_secs(200)).await;
        assert_eq!(update.method, Method::Update, "{update:?}");
        // §10: at half the interval, from the last refresh.
        assert_at(at, Duration::from_secs(60) * round, "refresh");
        assert!(update.body.is_empty(), "{update:?}");
        assert_eq!(cseq(&update), last + 1);
        last = cseq(&update);
        assert_eq!(update.headers.to_tag().unwrap(), "uas");
        // §7.4: the interval in force, and we stay the refresher.
        assert_eq!(
            header(&update, HeaderName::SessionExpires),
            Some("120;refresher=uac")
        );
        assert_eq!(header(&update, HeaderName::MinSe), Some("90"));
        assert!(update.headers.lists(HeaderName::Supported, "timer"));
        let ok = "Require: timer\r\nSession-Expires: 120;refresher=uac\r\n";
        uas.send(&uas.reply(&update, "200 OK", "uas", ok, ""), ufrom)
            .await;
    }
    assert!(call.is_active());
}

#[tokio::test(start_paused = true)]
async fn without_update_the_client_refreshes_by_reinvite_and_acks_it() {
    let uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let extra = format!("{WITHOUT_UPDATE}Require: timer\r\nSession-Expires: 120;refresher=uac\r\n");
    let (call, inv, _, t0) = call(&uas, &client, &extra).await;

    let (reinvite, rfrom, at) = next_request(&uas, t0, Duration::from_secs(200)).await;
    assert_eq!(reinvite.method, Method::Invite, "{reinvite:?}");
    assert_at(at, Duration::from_secs(60), "re-INVITE");
    // §10: the session as it is, offered again.
    assert!(reinvite.headers.content_is_sdp());
    assert_eq!(reinvite.body, OFFER.as_bytes());
    assert_eq!(cseq(&reinvite), cseq(&inv) + 1);
    assert_eq!(reinvite.headers.to_tag().unwrap(), "uas");
    assert_eq!(reinvite.headers.call_id(), inv.headers.call_id());
    assert_eq!(
        header(&reinvite, HeaderName::SessionExpires),
        Some("120;refresher=uac")
    );
    assert!(reinvite.headers.contains(HeaderName::Contact));
    let ok = uas.reply(
        &reinvite,
        "200 OK",
        "uas",
        "Require: timer\r\nSession-Expires: 120;refresher=uac\r\n",
        ANSWER,
    );
    uas.send(&ok, rfrom).await;
    // §13.2.2.4: the ACK carries the re-INVITE's number.
    let (ack, _, _) = next_request(&uas, t0, Duration::from_secs(5)).await;
    assert_eq!(ack.method, Method::Ack, "{ack:?}");
    assert_eq!(cseq(&ack), cseq(&reinvite));
    assert_eq!(ack.headers.cseq().unwrap().method, Method::Ack);
    // The 2xx again: acknowledged again.
    uas.send(&ok, rfrom).await;
    let (again, _, _) = next_request(&uas, t0, Duration::from_secs(5)).await;
    assert_eq!(again.method, Method::Ack, "{again:?}");
    assert_eq!(cseq(&again), cseq(&reinvite));

    // The 2xx restarted the timer: the next refresh 60 s after it.
    let (next, _, at) = next_request(&uas, t0, Duration::from_secs(200)).await;
    assert_eq!(next.method, Method::Invite, "{next:?}");
    assert_at(at, Duration::from_secs(120), "second re-INVITE");
    assert_eq!(cseq(&next), cseq(&reinvite) + 1);
    assert!(call.is_active());
}

#[tokio::test(start_paused = true)]
async fn an_update_refused_405_falls_back_to_reinvite() {
    let uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let extra = format!("{WITH_UPDATE}Require: timer\r\nSession-Expires: 120;refresher=uac\r\n");
    let (_call, _, _, t0) = call(&uas, &client, &extra).await;
    let (update, ufrom, at) = next_request(&uas, t0, Duration::from_secs(200)).await;
    assert_eq!(update.method, Method::Update);
    assert_at(at, Duration::from_secs(60), "UPDATE");
    let refused = uas.reply(&update, "405 Method Not Allowed", "uas", WITHOUT_UPDATE, "");
    uas.send(&refused, ufrom).await;
    let (reinvite, _, at) = next_request(&uas, t0, Duration::from_secs(5)).await;
    assert_eq!(reinvite.method, Method::Invite, "{reinvite:?}");
    assert_at(at, Duration::from_secs(60), "re-INVITE");
    assert_eq!(cseq(&reinvite), cseq(&update) + 1);
    assert_eq!(reinvite.body, OFFER.as_bytes());
}

#[tokio::test(start_paused = true)]
async fn the_client_hangs_up_when_the_peer_never_refreshes() {
    let uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let extra = format!("{WITH_UPDATE}Require: timer\r\nSession-Expires: 120;refresher=uas\r\n");
    let (mut call, _, _, t0) = call(&uas, &client, &extra).await;
    assert_eq!(call.session_interval(), Some(Duration::from_secs(120)));
    // §10: the BYE at 120 - min(32, 120/3) = 88 s, and no refresh before.
    let (bye, bfrom, at) = next_request(&uas, t0, Duration::from_secs(200)).await;
    assert_eq!(bye.method, Method::Bye, "{bye:?}");
    assert_at(at, Duration::from_secs(88), "BYE");
    uas.send(&uas.reply(&bye, "200 OK", "uas", "", ""), bfrom)
        .await;
    match call.ended().await {
        CallEnd::SessionExpired(r) => assert_eq!(r.status, StatusCode::OK),
        other => panic!("{other:?}"),
    }
    assert!(!call.is_active());
}

#[tokio::test(start_paused = true)]
async fn a_refresh_answered_408_hangs_up() {
    let uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let extra = format!("{WITH_UPDATE}Session-Expires: 120;refresher=uac\r\n");
    let (mut call, _, _, t0) = call(&uas, &client, &extra).await;
    let (update, ufrom, _) = next_request(&uas, t0, Duration::from_secs(200)).await;
    assert_eq!(update.method, Method::Update);
    uas.send(
        &uas.reply(&update, "408 Request Timeout", "uas", "", ""),
        ufrom,
    )
    .await;
    let (bye, bfrom, at) = next_request(&uas, t0, Duration::from_secs(5)).await;
    assert_eq!(bye.method, Method::Bye, "{bye:?}");
    assert_at(at, Duration::from_secs(60), "BYE");
    assert_eq!(cseq(&bye), cseq(&update) + 1);
    uas.send(&uas.reply(&bye, "200 OK", "uas", "", ""), bfrom)
        .await;
    assert!(matches!(call.ended().await, CallEnd::SessionExpired(_)));
}

#[tokio::test(start_paused = true)]
async fn a_refresh_answered_481_ends_the_call_without_bye() {
    let uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let extra = format!("{WITH_UPDATE}Session-Expires: 120;refresher=uac\r\n");
    let (mut call, _, _, t0) = call(&uas, &client, &extra).await;
    let (update, ufrom, _) = next_request(&uas, t0, Duration::from_secs(200)).await;
    assert_eq!(update.method, Method::Update);
    let gone = uas.reply(
        &update,
        "481 Call/Transaction Does Not Exist",
        "uas",
        "",
        "",
    );
    uas.send(&gone, ufrom).await;
    match call.ended().await {
        CallEnd::Terminated(why) => assert!(why.contains("481"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(
        uas.quiet_for(Duration::from_secs(100)).await,
        "a BYE went out"
    );
}

#[tokio::test(start_paused = true)]
async fn a_422_has_the_invite_resent_with_the_callees_min_se() {
    let uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let pending = client.invite(uas.uri(), OFFER).await.unwrap();
    let (first, from) = uas.expect(Method::Invite).await;
    assert_eq!(header(&first, HeaderName::SessionExpires), Some("120"));
    uas.send(
        &uas.reply(
            &first,
            "422 Session Interval Too Small",
            "uas",
            "Min-SE: 1800\r\n",
            "",
        ),
        from,
    )
    .await;
    // The transaction's ACK for the 422 (§17.1.1.3), then the new INVITE.
    let t0 = Instant::now();
    let second = loop {
        let (r, _, _) = next_request(&uas, t0, Duration::from_secs(5)).await;
        match r.method {
            Method::Ack => assert_eq!(cseq(&r), cseq(&first)),
            Method::Invite if cseq(&r) == cseq(&first) => {}
            _ => break r,
        }
    };
    assert_eq!(second.method, Method::Invite, "{second:?}");
    // RFC 4028 §7.3: the callee's Min-SE, as interval and as minimum.
    assert_eq!(header(&second, HeaderName::SessionExpires), Some("1800"));
    assert_eq!(header(&second, HeaderName::MinSe), Some("1800"));
    assert_eq!(cseq(&second), cseq(&first) + 1);
    assert_eq!(second.headers.call_id(), first.headers.call_id());
    assert_eq!(second.headers.from_tag(), first.headers.from_tag());
    assert!(second.headers.to_tag().is_none());
    assert_ne!(
        second.headers.top_via().unwrap().branch(),
        first.headers.top_via().unwrap().branch()
    );
    assert_eq!(second.body, OFFER.as_bytes());
    let extra = format!("{WITH_UPDATE}Require: timer\r\nSession-Expires: 1800;refresher=uac\r\n");
    uas.send(&uas.reply(&second, "200 OK", "uas", &extra, ANSWER), from)
        .await;
    let call = pending.wait().await.unwrap();
    assert_eq!(call.session_interval(), Some(Duration::from_secs(1800)));
    let (ack, _) = uas.expect(Method::Ack).await;
    assert_eq!(cseq(&ack), cseq(&second));
}

/// `text`, a request of the callee, with `extra` header lines.
fn with_headers(text: &str, extra: &str) -> String {
    text.replacen("Content-Length:", &format!("{extra}Content-Length:"), 1)
}

#[tokio::test(start_paused = true)]
async fn the_peers_refresh_pushes_the_deadlines_back() {
    let mut uas = Uas::bind().await;
    // Passive support: no Session-Expires in the INVITE.
    let client = client(None).await;
    let pending = client.invite(uas.uri(), OFFER).await.unwrap();
    let (inv, from) = uas.expect(Method::Invite).await;
    assert!(inv.headers.lists(HeaderName::Supported, "timer"), "{inv:?}");
    assert!(!inv.headers.contains(HeaderName::SessionExpires));
    assert!(!inv.headers.contains(HeaderName::MinSe));
    let extra = format!("{WITH_UPDATE}Require: timer\r\nSession-Expires: 120;refresher=uas\r\n");
    uas.send(&uas.reply(&inv, "200 OK", "uas", &extra, ANSWER), from)
        .await;
    let call = pending.wait().await.unwrap();
    uas.expect(Method::Ack).await;
    assert_eq!(call.session_interval(), Some(Duration::from_secs(120)));

    // At 50 s the peer refreshes, handing us the refresher's role.
    tokio::time::sleep(Duration::from_secs(50)).await;
    let text = uas.request(&inv, "UPDATE", "uas", "", 0);
    let text = with_headers(
        &text,
        "Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n",
    );
    uas.send(&text, from).await;
    let r = uas.response().await;
    let t1 = Instant::now();
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.headers.get(HeaderName::SessionExpires).map(|v| &**v),
        Some("120;refresher=uas")
    );
    assert!(r.headers.lists(HeaderName::Require, "timer"), "{r:?}");

    // No BYE at 88 s: our refresh 60 s after the peer's (at 110 s).
    let (update, ufrom, at) = next_request(&uas, t1, Duration::from_secs(200)).await;
    assert_eq!(update.method, Method::Update, "{update:?}");
    assert_at(at, Duration::from_secs(60), "our refresh");
    assert_eq!(
        header(&update, HeaderName::SessionExpires),
        Some("120;refresher=uac")
    );
    uas.send(&uas.reply(&update, "200 OK", "uas", "", ""), ufrom)
        .await;
    assert!(call.is_active());
}

#[tokio::test(start_paused = true)]
async fn the_peers_interval_below_our_min_se_gets_422() {
    let mut uas = Uas::bind().await;
    let client = client(Some(Duration::from_secs(120))).await;
    let extra = format!("{WITH_UPDATE}Session-Expires: 120;refresher=uas\r\n");
    let (call, inv, from, _) = call(&uas, &client, &extra).await;
    let text = uas.request(&inv, "UPDATE", "uas", "", 0);
    let text = with_headers(&text, "Supported: timer\r\nSession-Expires: 60\r\n");
    uas.send(&text, from).await;
    let r = uas.response().await;
    assert_eq!(r.status, StatusCode::SESSION_INTERVAL_TOO_SMALL, "{r:?}");
    assert_eq!(r.headers.get(HeaderName::MinSe).map(|v| &**v), Some("90"));
    assert_eq!(call.session_interval(), Some(Duration::from_secs(120)));
}
