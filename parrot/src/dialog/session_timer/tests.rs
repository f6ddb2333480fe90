//! Tests of the RFC 4028 negotiation and timer.

use super::*;
use crate::test_support::{parse_req, parse_resp};

const S: fn(u64) -> Duration = Duration::from_secs;

/// A request `method` from Alice with extra header lines (each ending
/// in CRLF).
fn request(method: &str, extra: &str) -> Request {
    parse_req(&format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob@biloxi.example.com>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 314159 {method}\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    ))
}

fn invite(extra: &str) -> Request {
    request("INVITE", extra)
}

/// A response `code` to a request `method`, with extra header lines.
fn response(code: u16, method: &str, extra: &str) -> Response {
    parse_resp(&format!(
        "SIP/2.0 {code} Whatever\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
         To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 314159 {method}\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    ))
}

fn ok_to_invite(extra: &str) -> Response {
    response(200, "INVITE", extra)
}

fn get<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.as_str())
}

/// `uas_negotiate` on a 200 to `req` with the default config.
fn negotiate(req: &Request) -> (Negotiated, Response) {
    let mut ok = req.reply(StatusCode::OK);
    let n = uas_negotiate(req, &mut ok, &SessionTimerConfig::default()).unwrap();
    (n, ok)
}

fn neg(interval: u64, we_refresh: bool, refresher: Refresher) -> Negotiated {
    Negotiated {
        interval: S(interval),
        we_refresh,
        refresher,
    }
}

#[test]
fn config() {
    let c = SessionTimerConfig::default();
    assert_eq!((c.interval, c.min_se), (S(1800), S(90)));
    assert_eq!(SessionTimerConfig::new(S(600)).min_se, S(90));
    assert_eq!(SessionTimerConfig::new(S(600)).interval, S(600));
    // Min-SE is never below 90 s (§5).
    assert_eq!(c.min_se(S(30)).min_se, S(90));
    assert_eq!(c.min_se(S(300)).min_se, S(300));
    // The fields are public: the floors apply when they are used.
    let raw = SessionTimerConfig {
        interval: S(10),
        min_se: S(5),
    };
    assert_eq!((raw.floor(), raw.ask()), (S(90), S(90)));
    assert_eq!(SessionTimerConfig::new(S(100)).min_se(S(200)).ask(), S(200));
}

// ---------------------------------------------------------------- UAS

#[test]
fn uas_check_422_when_too_small() {
    let req = invite("Supported: timer\r\nSession-Expires: 60\r\n");
    let resp = uas_check(&req, &SessionTimerConfig::default()).unwrap();
    assert_eq!(resp.status.as_u16(), 422);
    assert_eq!(get(&resp.headers, "Min-SE"), Some("90"));
    assert_eq!(resp.headers.call_id(), req.headers.call_id());
    assert_eq!(resp.headers.cseq(), req.headers.cseq());

    // Our own min_se, not the 90 s floor, decides and is sent.
    let config = SessionTimerConfig::default().min_se(S(120));
    let req = request("UPDATE", "Supported: timer\r\nx: 119;refresher=uac\r\n");
    let resp = uas_check(&req, &config).unwrap();
    assert_eq!(resp.status, StatusCode::SESSION_INTERVAL_TOO_SMALL);
    assert_eq!(get(&resp.headers, "Min-SE"), Some("120"));
    // Exactly the minimum is fine.
    let req = invite("Supported: timer\r\nSession-Expires: 120\r\n");
    assert!(uas_check(&req, &config).is_none());
}

#[test]
fn uas_check_lets_through() {
    let config = SessionTimerConfig::default();
    for extra in [
        // Large enough.
        "Supported: timer\r\nSession-Expires: 90\r\n",
        // No Session-Expires.
        "Supported: timer\r\n",
        "Supported: timer\r\nMin-SE: 30\r\n",
        // §9: no 422 to a UAC that does not support timers.
        "Session-Expires: 60\r\n",
        "Supported: 100rel\r\nSession-Expires: 60\r\n",
        // Unparsable counts as absent.
        "Supported: timer\r\nSession-Expires: soon\r\n",
    ] {
        assert!(uas_check(&invite(extra), &config).is_none(), "{extra:?}");
    }
    // Support shown through Require, in any case: 422.
    let req = invite("Require: TIMER\r\nSession-Expires: 60\r\n");
    assert!(uas_check(&req, &config).is_some());
    // Only INVITE and UPDATE carry session timers.
    let req = request("BYE", "Supported: timer\r\nSession-Expires: 60\r\n");
    assert!(uas_check(&req, &config).is_none());
}

#[test]
fn uas_refresher_from_request_param() {
    let req = invite("Supported: timer\r\nSession-Expires: 1800;refresher=uas\r\n");
    let (n, ok) = negotiate(&req);
    assert_eq!(n, neg(1800, true, Refresher::Uas));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("1800;refresher=uas")
    );

    let req = invite("Supported: timer\r\nSession-Expires: 1800;refresher=UAC\r\n");
    let (n, ok) = negotiate(&req);
    assert_eq!(n, neg(1800, false, Refresher::Uac));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("1800;refresher=uac")
    );
}

#[test]
fn uas_refresher_uac_when_supported() {
    let req = invite("Supported: 100rel, timer\r\nSession-Expires: 1800\r\n");
    let (n, ok) = negotiate(&req);
    assert_eq!(n, neg(1800, false, Refresher::Uac));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("1800;refresher=uac")
    );
    assert_eq!(get(&ok.headers, "Require"), Some("timer"));
    // Supported without any Session-Expires: we start one, UAC refreshes.
    let (n, ok) = negotiate(&invite("k: timer\r\n"));
    assert_eq!(n, neg(1800, false, Refresher::Uac));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("1800;refresher=uac")
    );
}

#[test]
fn uas_refresher_uas_when_not_supported() {
    // A proxy asked for the timer; the UAC knows nothing of it.
    let (n, ok) = negotiate(&invite("Session-Expires: 1800\r\nMin-SE: 90\r\n"));
    assert_eq!(n, neg(1800, true, Refresher::Uas));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("1800;refresher=uas")
    );
    // Even a refresher=uac param cannot make it refresh (§9 table).
    let (n, _) = negotiate(&invite("Session-Expires: 1800;refresher=uac\r\n"));
    assert_eq!(n, neg(1800, true, Refresher::Uas));
    // Nobody asked: we still may run a timer, refreshing ourselves.
    let (n, ok) = negotiate(&invite(""));
    assert_eq!(n, neg(1800, true, Refresher::Uas));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("1800;refresher=uas")
    );
}

#[test]
fn uas_keeps_the_handlers_session_expires() {
    let config = SessionTimerConfig::default();
    let req = invite("Supported: timer\r\nSession-Expires: 1800;refresher=uac\r\n");
    let mut ok = req.reply(StatusCode::OK);
    ok.headers
        .push_typed(&SessionExpires::new(600, Some(Refresher::Uas)));
    let n = uas_negotiate(&req, &mut ok, &config).unwrap();
    assert_eq!(n, neg(600, true, Refresher::Uas));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("600;refresher=uas")
    );
    assert_eq!(ok.headers.count("Session-Expires"), 1);

    // A missing refresher is filled in by the rules.
    let mut ok = req.reply(StatusCode::OK);
    ok.headers
        .append(HeaderName::SessionExpires, "700;x-keep=1");
    let n = uas_negotiate(&req, &mut ok, &config).unwrap();
    assert_eq!(n, neg(700, false, Refresher::Uac));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("700;refresher=uac;x-keep=1")
    );

    // But never refresher=uac towards a UAC without timer support.
    let req = invite("");
    let mut ok = req.reply(StatusCode::OK);
    ok.headers
        .push_typed(&SessionExpires::new(600, Some(Refresher::Uac)));
    let n = uas_negotiate(&req, &mut ok, &config).unwrap();
    assert_eq!(n, neg(600, true, Refresher::Uas));
    assert_eq!(
        get(&ok.headers, "Session-Expires"),
        Some("600;refresher=uas")
    );
    assert_eq!(get(&ok.headers, "Require"), None);
}

#[test]
fn uas_require_timer_only_when_supported() {
    let (_, ok) = negotiate(&invite("Session-Expires: 1800\r\n"));
    assert!(!ok.headers.contains("Require"));
    let (_, ok) = negotiate(&invite("Supported: timer\r\nSession-Expires: 1800\r\n"));
    assert_eq!(get(&ok.headers, "Require"), Some("timer"));

    // Merged into the handler's Require, not duplicated.
    let req = invite("Supported: timer, 100rel\r\nSession-Expires: 1800\r\n");
    let mut ok = req.reply(StatusCode::OK);
    ok.headers.append(HeaderName::Require, "100rel");
    uas_negotiate(&req, &mut ok, &SessionTimerConfig::default()).unwrap();
    assert_eq!(get(&ok.headers, "Require"), Some("100rel, timer"));
    assert_eq!(ok.headers.get_all("Require").count(), 1);
    let mut ok = req.reply(StatusCode::OK);
    ok.headers.append(HeaderName::Require, "Timer");
    uas_negotiate(&req, &mut ok, &SessionTimerConfig::default()).unwrap();
    assert_eq!(get(&ok.headers, "Require"), Some("Timer"));
    assert_eq!(ok.headers.count("Require"), 1);
}

#[test]
fn uas_interval_choice() {
    let config = SessionTimerConfig::new(S(600));
    let run = |extra: &str| {
        let req = invite(extra);
        let mut ok = req.reply(StatusCode::OK);
        uas_negotiate(&req, &mut ok, &config).unwrap().interval
    };
    // We may reduce the request's interval...
    assert_eq!(run("Supported: timer\r\nSession-Expires: 1800\r\n"), S(600));
    // ...but not below its Min-SE...
    assert_eq!(
        run("Supported: timer\r\nSession-Expires: 1800\r\nMin-SE: 1200\r\n"),
        S(1200)
    );
    // ...and never increase it.
    assert_eq!(run("Supported: timer\r\nSession-Expires: 300\r\n"), S(300));
    assert_eq!(run("Session-Expires: 95\r\nMin-SE: 90\r\n"), S(95));
    // Without a Session-Expires: ours, raised to the request's Min-SE.
    assert_eq!(run("Supported: timer\r\n"), S(600));
    assert_eq!(run("Supported: timer\r\nMin-SE: 2000\r\n"), S(2000));
    // Our interval is never below our own min_se.
    let config = SessionTimerConfig::new(S(100)).min_se(S(400));
    let req = invite("Supported: timer\r\nSession-Expires: 1800\r\n");
    let mut ok = req.reply(StatusCode::OK);
    let n = uas_negotiate(&req, &mut ok, &config).unwrap();
    assert_eq!(n.interval, S(400));
}

#[test]
fn uas_negotiate_ignores_other_responses() {
    let config = SessionTimerConfig::default();
    let req = invite("Supported: timer\r\nSession-Expires: 1800\r\n");
    for code in [StatusCode::RINGING, StatusCode::BUSY_HERE] {
        let mut resp = req.reply(code);
        let before = resp.headers.len();
        assert_eq!(uas_negotiate(&req, &mut resp, &config), None);
        assert_eq!(resp.headers.len(), before);
    }
    let req = request("OPTIONS", "Supported: timer\r\nSession-Expires: 1800\r\n");
    let mut ok = req.reply(StatusCode::OK);
    assert_eq!(uas_negotiate(&req, &mut ok, &config), None);
    assert!(!ok.headers.contains("Session-Expires"));
    // UPDATE is a session refresh like re-INVITE.
    let req = request(
        "UPDATE",
        "Supported: timer\r\nSession-Expires: 900;refresher=uac\r\n",
    );
    let mut ok = req.reply(StatusCode::OK);
    let n = uas_negotiate(&req, &mut ok, &config).unwrap();
    assert_eq!(n, neg(900, false, Refresher::Uac));
}

// ---------------------------------------------------------------- UAC

#[test]
fn uac_prepare_initial() {
    let config = SessionTimerConfig::default();
    let mut req = invite("Supported: 100rel\r\n");
    uac_prepare(&mut req, &config, None);
    assert_eq!(get(&req.headers, "Supported"), Some("100rel, timer"));
    assert_eq!(get(&req.headers, "Session-Expires"), Some("1800"));
    assert_eq!(get(&req.headers, "Min-SE"), Some("90"));

    // No duplicate tag; an old Session-Expires is replaced.
    let mut req = invite("Supported: TIMER\r\nSession-Expires: 30\r\n");
    let config = SessionTimerConfig::new(S(900)).min_se(S(300));
    uac_prepare(&mut req, &config, None);
    assert_eq!(get(&req.headers, "Supported"), Some("TIMER"));
    assert_eq!(get(&req.headers, "Session-Expires"), Some("900"));
    assert_eq!(req.headers.count("Session-Expires"), 1);
    assert_eq!(get(&req.headers, "Min-SE"), Some("300"));

    let mut req = invite("");
    uac_prepare(&mut req, &SessionTimerConfig::default(), None);
    assert_eq!(get(&req.headers, "Supported"), Some("timer"));
    // Only INVITE and UPDATE.
    let mut req = request("BYE", "");
    uac_prepare(&mut req, &SessionTimerConfig::default(), None);
    assert!(!req.headers.contains("Supported"));
    assert!(!req.headers.contains("Session-Expires"));
}

#[test]
fn uac_prepare_refresh() {
    let config = SessionTimerConfig::default();
    let mut req = request("UPDATE", "");
    uac_prepare(&mut req, &config, Some(&neg(1200, true, Refresher::Uas)));
    assert_eq!(
        get(&req.headers, "Session-Expires"),
        Some("1200;refresher=uac")
    );
    assert_eq!(get(&req.headers, "Min-SE"), Some("90"));
    assert_eq!(get(&req.headers, "Supported"), Some("timer"));

    // The peer refreshes: a re-INVITE of ours keeps it so.
    let mut req = invite("");
    uac_prepare(&mut req, &config, Some(&neg(1200, false, Refresher::Uac)));
    assert_eq!(
        get(&req.headers, "Session-Expires"),
        Some("1200;refresher=uas")
    );

    // Min-SE never above the Session-Expires sent.
    let mut req = invite("");
    let config = SessionTimerConfig::default().min_se(S(600));
    uac_prepare(&mut req, &config, Some(&neg(300, true, Refresher::Uac)));
    assert_eq!(
        get(&req.headers, "Session-Expires"),
        Some("300;refresher=uac")
    );
    assert_eq!(get(&req.headers, "Min-SE"), Some("300"));
}

#[test]
fn uac_negotiated_refresher() {
    let config = SessionTimerConfig::default();
    let r = ok_to_invite("Require: timer\r\nSession-Expires: 1800;refresher=uac\r\n");
    assert_eq!(
        uac_negotiated(&r, &config, false),
        Some(neg(1800, true, Refresher::Uac))
    );
    let r = ok_to_invite("Require: timer\r\nx: 900;refresher=uas\r\n");
    assert_eq!(
        uac_negotiated(&r, &config, false),
        Some(neg(900, false, Refresher::Uas))
    );
    // No refresher: we take the role.
    let r = ok_to_invite("Session-Expires: 600\r\n");
    assert_eq!(
        uac_negotiated(&r, &config, false),
        Some(neg(600, true, Refresher::Uac))
    );
    // A 2xx to UPDATE counts too.
    let r = response(200, "UPDATE", "Session-Expires: 600;refresher=uas\r\n");
    assert_eq!(
        uac_negotiated(&r, &config, true),
        Some(neg(600, false, Refresher::Uas))
    );
}

#[test]
fn uac_negotiated_without_session_expires() {
    let config = SessionTimerConfig::new(S(1200));
    let r = ok_to_invite("");
    assert_eq!(uac_negotiated(&r, &config, false), None);
    // §7.2: the UAC may keep a timer for itself, and refreshes it.
    assert_eq!(
        uac_negotiated(&r, &config, true),
        Some(neg(1200, true, Refresher::Uac))
    );
    // Unparsable counts as absent.
    let r = ok_to_invite("Session-Expires: never\r\n");
    assert_eq!(uac_negotiated(&r, &config, false), None);
    // Not a 2xx, or not to INVITE/UPDATE: nothing.
    let r = response(180, "INVITE", "Session-Expires: 600;refresher=uac\r\n");
    assert_eq!(uac_negotiated(&r, &config, true), None);
    let r = response(486, "INVITE", "");
    assert_eq!(uac_negotiated(&r, &config, true), None);
    let r = response(200, "BYE", "Session-Expires: 600;refresher=uac\r\n");
    assert_eq!(uac_negotiated(&r, &config, true), None);
}

#[test]
fn uac_retry_after_422() {
    let config = SessionTimerConfig::default();
    let r = response(422, "INVITE", "Min-SE: 3600\r\n");
    assert_eq!(uac_retry_interval(&r, &config), Some(S(3600)));
    assert_eq!(
        uac_retry_config(&r, &config),
        Some(SessionTimerConfig {
            interval: S(3600),
            min_se: S(3600)
        })
    );
    // Our interval is already larger: keep it, take the Min-SE.
    let r = response(422, "INVITE", "Min-SE: 600\r\n");
    assert_eq!(uac_retry_interval(&r, &config), Some(S(1800)));
    assert_eq!(uac_retry_config(&r, &config).unwrap().min_se, S(600));
    // Retrying with the result puts both in the request.
    let retry = uac_retry_config(&response(422, "UPDATE", "Min-SE: 2400\r\n"), &config);
    let mut req = request("UPDATE", "");
    uac_prepare(&mut req, &retry.unwrap(), None);
    assert_eq!(get(&req.headers, "Session-Expires"), Some("2400"));
    assert_eq!(get(&req.headers, "Min-SE"), Some("2400"));
    // Nothing usable.
    assert_eq!(
        uac_retry_interval(&response(422, "INVITE", ""), &config),
        None
    );
    let r = response(422, "INVITE", "Min-SE: lots\r\n");
    assert_eq!(uac_retry_interval(&r, &config), None);
    let r = response(423, "INVITE", "Min-SE: 3600\r\n");
    assert_eq!(uac_retry_interval(&r, &config), None);
}

#[test]
fn both_sides_agree() {
    // Our UAC's INVITE, answered by our UAS: exactly one refresher.
    let mut req = invite("");
    uac_prepare(&mut req, &SessionTimerConfig::new(S(1200)), None);
    let mut ok = req.reply(StatusCode::OK);
    let uas = uas_negotiate(&req, &mut ok, &SessionTimerConfig::new(S(900))).unwrap();
    let uac = uac_negotiated(&ok, &SessionTimerConfig::default(), false).unwrap();
    assert_eq!(uas.interval, S(900));
    assert_eq!(uac.interval, S(900));
    assert_eq!(uac.refresher, uas.refresher);
    assert!(uac.we_refresh);
    assert!(!uas.we_refresh);
    // The refresh keeps the roles.
    let mut update = request("UPDATE", "");
    uac_prepare(&mut update, &SessionTimerConfig::default(), Some(&uac));
    let mut ok = update.reply(StatusCode::OK);
    let uas2 = uas_negotiate(&update, &mut ok, &SessionTimerConfig::default()).unwrap();
    assert_eq!(uas2, uas);
}

// -------------------------------------------------------------- timer

#[test]
fn expiry_margins() {
    assert_eq!(expiry_margin(S(90)), S(30));
    assert_eq!(expiry_margin(S(96)), S(32));
    assert_eq!(expiry_margin(S(1800)), S(32));
}

#[test]
fn refresher_timer_90s() {
    let t0 = Instant::now();
    let mut t = SessionTimer::new(neg(90, true, Refresher::Uac), t0);
    assert_eq!(t.poll_timeout(), Some(t0 + S(45)));
    assert_eq!(
        t.handle_timeout(t0 + S(45) - Duration::from_millis(1)),
        None
    );
    assert_eq!(
        t.handle_timeout(t0 + S(45)),
        Some(SessionTimerAction::Refresh)
    );
    // At most once: next comes the expiry, 90 - min(32, 30) = 60 s.
    assert_eq!(t.handle_timeout(t0 + S(45)), None);
    assert_eq!(t.poll_timeout(), Some(t0 + S(60)));
    assert_eq!(t.handle_timeout(t0 + S(59)), None);
    assert_eq!(
        t.handle_timeout(t0 + S(60)),
        Some(SessionTimerAction::Expire)
    );
    assert!(t.is_expired());
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(t.handle_timeout(t0 + S(1000)), None);
}

#[test]
fn refresher_timer_1800s_and_refreshed() {
    let t0 = Instant::now();
    let n = neg(1800, true, Refresher::Uac);
    let mut t = SessionTimer::new(n, t0);
    assert_eq!(t.negotiated(), n);
    assert_eq!(t.poll_timeout(), Some(t0 + S(900)));
    assert_eq!(t.handle_timeout(t0 + S(899)), None);
    assert_eq!(
        t.handle_timeout(t0 + S(900)),
        Some(SessionTimerAction::Refresh)
    );
    assert_eq!(t.poll_timeout(), Some(t0 + S(1768)));

    // The refresh succeeds at 910 s, now with a 600 s interval.
    let t1 = t0 + S(910);
    let n2 = neg(600, true, Refresher::Uac);
    t.refreshed(n2, t1);
    assert_eq!(t.negotiated(), n2);
    assert_eq!(t.poll_timeout(), Some(t1 + S(300)));
    assert_eq!(t.handle_timeout(t1 + S(299)), None);
    assert_eq!(
        t.handle_timeout(t1 + S(300)),
        Some(SessionTimerAction::Refresh)
    );
    assert_eq!(t.poll_timeout(), Some(t1 + S(568)));
    assert_eq!(
        t.handle_timeout(t1 + S(568)),
        Some(SessionTimerAction::Expire)
    );
    // A refresh after expiry revives it.
    t.refreshed(n, t1 + S(600));
    assert!(!t.is_expired());
    assert_eq!(t.poll_timeout(), Some(t1 + S(600) + S(900)));
}

#[test]
fn non_refresher_never_refreshes() {
    let t0 = Instant::now();
    let mut t = SessionTimer::new(neg(1800, false, Refresher::Uac), t0);
    assert_eq!(t.poll_timeout(), Some(t0 + S(1768)));
    for s in [0, 900, 901, 1000, 1767] {
        assert_eq!(t.handle_timeout(t0 + S(s)), None, "{s}");
    }
    assert_eq!(
        t.handle_timeout(t0 + S(1768)),
        Some(SessionTimerAction::Expire)
    );

    let mut t = SessionTimer::new(neg(90, false, Refresher::Uas), t0);
    assert_eq!(t.poll_timeout(), Some(t0 + S(60)));
    assert_eq!(t.handle_timeout(t0 + S(45)), None);
    assert_eq!(
        t.handle_timeout(t0 + S(60)),
        Some(SessionTimerAction::Expire)
    );

    // The peer's refresh restarts the expiry; still no Refresh.
    let mut t = SessionTimer::new(neg(1800, false, Refresher::Uac), t0);
    t.refreshed(neg(1800, false, Refresher::Uac), t0 + S(900));
    assert_eq!(t.poll_timeout(), Some(t0 + S(900 + 1768)));
    assert_eq!(t.handle_timeout(t0 + S(1800)), None);
}

#[test]
fn late_wake_up_expires() {
    let t0 = Instant::now();
    let mut t = SessionTimer::new(neg(1800, true, Refresher::Uas), t0);
    assert_eq!(
        t.handle_timeout(t0 + S(2000)),
        Some(SessionTimerAction::Expire)
    );
    assert_eq!(t.handle_timeout(t0 + S(2000)), None);
}
