//! Tests of the notifier's subscription rules, with synthetic requests and
//! `Instant`s.

use super::*;
use crate::message::typed::SubState;
use crate::test_support::parse_req;

/// A SUBSCRIBE with the given extra header lines, inside a dialog when
/// `to_tag` is given.
fn subscribe(extra: &str, to_tag: Option<&str>) -> Request {
    let tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    parse_req(&format!(
        "SUBSCRIBE sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@biloxi.example.com>{tag}\r\n\
         From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: sub-1@pc33\r\n\
         CSeq: 7 SUBSCRIBE\r\n\
         Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    ))
}

const MWI: &[&str] = &["message-summary"];

#[test]
fn expires_is_granted_shortened_or_refused_as_too_brief() {
    let p = ExpiresPolicy {
        default: 600,
        min: 60,
        max: 3600,
    };
    assert_eq!(p.grant(None), Ok(600));
    assert_eq!(p.grant(Some(0)), Ok(0));
    assert_eq!(p.grant(Some(59)), Err(60));
    assert_eq!(p.grant(Some(60)), Ok(60));
    assert_eq!(p.grant(Some(7200)), Ok(3600));
    // A default above the maximum is the maximum.
    let p = ExpiresPolicy { default: 9000, ..p };
    assert_eq!(p.grant(None), Ok(3600));
}

#[test]
fn a_subscribe_without_one_good_event_header_is_a_400_naming_it() {
    let p = ExpiresPolicy::default();
    for (extra, reason) in [
        ("", "Missing Event header"),
        ("Event: ;x\r\n", "Malformed Event header"),
        (
            "Event: message-summary\r\nEvent: presence\r\n",
            "More than one Event header",
        ),
    ] {
        let err = check_subscribe(&subscribe(extra, None), MWI, &p, &[]).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{extra}");
        assert_eq!(err.reason.as_str(), reason);
    }
}

#[test]
fn an_unknown_package_is_a_489_listing_the_packages_served() {
    let req = subscribe("Event: presence\r\n", None);
    let err = check_subscribe(
        &req,
        &["message-summary", "dialog"],
        &ExpiresPolicy::default(),
        &[],
    )
    .unwrap_err();
    assert_eq!(err.status, StatusCode::BAD_EVENT);
    assert_eq!(
        err.headers.get(HeaderName::AllowEvents).map(|t| t.as_str()),
        Some("message-summary, dialog")
    );
    // No packages declared: the application decides.
    assert!(check_subscribe(&req, &[], &ExpiresPolicy::default(), &[]).is_ok());
}

#[test]
fn a_too_brief_subscription_is_a_423_with_min_expires() {
    let req = subscribe("Event: message-summary\r\nExpires: 10\r\n", None);
    let err = check_subscribe(&req, MWI, &ExpiresPolicy::default(), &[]).unwrap_err();
    assert_eq!(err.status, StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(
        err.headers.get(HeaderName::MinExpires).map(|t| t.as_str()),
        Some("60")
    );
    let bad = subscribe("Event: message-summary\r\nExpires: soon\r\n", None);
    let err = check_subscribe(&bad, MWI, &ExpiresPolicy::default(), &[]).unwrap_err();
    assert_eq!(err.status, StatusCode::BAD_REQUEST);
}

#[test]
fn kinds_new_fetch_refresh_unsubscribe_and_481_for_an_unknown_one() {
    let p = ExpiresPolicy::default();
    let now = Instant::now();
    let new = check_subscribe(
        &subscribe("Event: message-summary\r\nExpires: 120\r\n", None),
        MWI,
        &p,
        &[],
    )
    .unwrap();
    assert_eq!((new.kind, new.expires), (SubscribeKind::New, 120));
    let fetch = check_subscribe(
        &subscribe("Event: message-summary\r\nExpires: 0\r\n", None),
        MWI,
        &p,
        &[],
    )
    .unwrap();
    assert_eq!(fetch.kind, SubscribeKind::Fetch);

    let held = [Notifier::new(Event::new("message-summary"), 120, now)];
    let refresh = check_subscribe(
        &subscribe("Event: message-summary\r\n", Some("x")),
        MWI,
        &p,
        &held,
    )
    .unwrap();
    assert_eq!(
        (refresh.kind, refresh.expires),
        (SubscribeKind::Refresh, 3600)
    );
    let unsubscribe = check_subscribe(
        &subscribe("Event: message-summary\r\nExpires: 0\r\n", Some("x")),
        MWI,
        &p,
        &held,
    )
    .unwrap();
    assert_eq!(unsubscribe.kind, SubscribeKind::Unsubscribe);
    // Another id is another subscription: unsubscribing it is a 481.
    let other = subscribe("Event: message-summary;id=2\r\nExpires: 0\r\n", Some("x"));
    let err = check_subscribe(&other, MWI, &p, &held).unwrap_err();
    assert_eq!(err.status, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
    // A new subscription inside an existing dialog is one more usage.
    let other = subscribe("Event: message-summary;id=2\r\n", Some("x"));
    assert_eq!(
        check_subscribe(&other, MWI, &p, &held).unwrap().kind,
        SubscribeKind::New
    );
}

#[test]
fn a_notifier_counts_down_expires_and_times_out() {
    let t0 = Instant::now();
    let mut n = Notifier::new(Event::new("message-summary"), 100, t0);
    let at = |s| t0 + Duration::from_secs(s);
    assert_eq!(n.state(at(30)).expires(), Some(70));
    assert_eq!(n.state(at(30)).state, SubState::Active);
    assert_eq!(n.poll_timeout(), Some(at(100)));
    assert!(!n.handle_timeout(at(99)));
    n.refresh(100, at(50));
    assert!(!n.handle_timeout(at(100)));
    assert!(n.handle_timeout(at(150)));
    assert!(n.is_terminated());
    assert_eq!(n.state(at(150)).reason(), Some("timeout"));
    assert_eq!(n.poll_timeout(), None);
    // Terminated once: the first reason stays.
    n.terminate("noresource");
    assert_eq!(n.state(at(150)).reason(), Some("timeout"));
}

#[test]
fn a_failed_notify_removes_the_subscription() {
    let t0 = Instant::now();
    let mut n = Notifier::new(Event::new("presence"), 100, t0);
    assert!(!n.notify_answered(StatusCode::OK));
    assert!(!n.is_terminated());
    assert!(n.notify_answered(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST));
    assert!(n.is_terminated());
    let mut n = Notifier::new(Event::new("presence"), 100, t0);
    assert!(n.notify_answered(StatusCode::REQUEST_TIMEOUT));
}

#[test]
fn refer_checks_event_and_sipfrag() {
    let refer = |extra: &str| {
        parse_req(&format!(
            "REFER sip:bob@biloxi.example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK7\r\n\
             Max-Forwards: 70\r\n\
             To: <sip:bob@biloxi.example.com>;tag=b\r\n\
             From: <sip:alice@atlanta.example.com>;tag=a\r\n\
             Call-ID: call-1@pc33\r\n\
             CSeq: 93809823 REFER\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        ))
    };
    let ok = refer("Refer-To: <sip:carol@cleveland.example.org>\r\n");
    assert!(check_refer(&ok).is_ok());
    assert!(!refer_sub_false(&ok));
    let event = refer_event(&ok);
    assert_eq!(event.package.as_str(), "refer");
    assert_eq!(event.id(), Some("93809823"));
    let none = check_refer(&refer("")).unwrap_err();
    assert_eq!(none.reason.as_str(), "Missing Refer-To header");
    let two = check_refer(&refer(
        "Refer-To: <sip:carol@c.example.org>\r\nRefer-To: <sip:dave@d.example.org>\r\n",
    ))
    .unwrap_err();
    assert_eq!(two.status, StatusCode::BAD_REQUEST);
    assert!(refer_sub_false(&refer(
        "Refer-To: <sip:c@c.example.org>\r\nRefer-Sub: False\r\n"
    )));
    assert_eq!(sipfrag(StatusCode::RINGING), "SIP/2.0 180 Ringing\r\n");
    assert_eq!(
        sipfrag(StatusCode::from_u16(299).unwrap()),
        "SIP/2.0 299 Success\r\n"
    );
}

#[test]
fn one_notify_in_flight_and_the_changes_meanwhile_coalesced() {
    let t0 = Instant::now();
    let at = |s| t0 + Duration::from_secs(s);
    let mut n = Notifier::new(Event::new("message-summary"), 100, t0);
    // §4.2.1.2: the first NOTIFY is due at once.
    assert!(n.is_due());
    assert_eq!(n.poll_notify(t0).unwrap().to_string(), "active;expires=100");
    assert!(n.is_notifying());
    assert_eq!(n.poll_notify(t0), None);
    // Two changes while it is unanswered: one NOTIFY afterwards.
    assert!(n.state_changed());
    n.refresh(200, at(10));
    assert_eq!(n.poll_notify(at(10)), None);
    assert!(!n.notify_answered(StatusCode::OK));
    assert_eq!(
        n.poll_notify(at(20)).unwrap().to_string(),
        "active;expires=190"
    );
    assert_eq!(n.poll_notify(at(20)), None);
    // Terminated while a NOTIFY is in flight: the last one follows its
    // answer, and its answer removes the subscription.
    n.terminate("noresource");
    assert!(!n.notify_answered(StatusCode::OK));
    let last = n.poll_notify(at(21)).unwrap();
    assert_eq!(last.to_string(), "terminated;reason=noresource");
    assert!(n.notify_answered(StatusCode::OK));
    assert_eq!(n.poll_notify(at(22)), None);
}

#[test]
fn a_failed_notify_drops_what_was_due() {
    let t0 = Instant::now();
    let mut n = Notifier::new(Event::new("presence"), 100, t0);
    n.poll_notify(t0).unwrap();
    n.terminate("timeout");
    // §4.2.2: a timeout removes the subscription; no last NOTIFY to a
    // subscriber that does not answer.
    assert!(n.notify_answered(StatusCode::REQUEST_TIMEOUT));
    assert!(!n.is_due());
    assert_eq!(n.poll_notify(t0), None);
}

#[test]
fn a_pending_subscription_reveals_nothing_until_activated() {
    let t0 = Instant::now();
    let at = |s| t0 + Duration::from_secs(s);
    let mut n = Notifier::new_pending(Event::new("presence"), 600, t0);
    assert!(n.is_pending());
    assert!(!n.reveals_state());
    let first = n.poll_notify(t0).unwrap();
    assert_eq!(first.state, SubState::Pending);
    assert_eq!(first.to_string(), "pending;expires=600");
    assert!(!n.notify_answered(StatusCode::OK));
    // A change of the resource is not notified to a pending subscriber.
    assert!(!n.state_changed());
    assert!(!n.is_due());
    // A refresh keeps it pending.
    n.refresh(300, at(100));
    assert_eq!(
        n.poll_notify(at(100)).unwrap().to_string(),
        "pending;expires=300"
    );
    assert!(!n.notify_answered(StatusCode::OK));
    // Authorized: active with the seconds left, and the state shown.
    assert!(n.activate());
    assert!(!n.activate());
    assert!(n.reveals_state());
    assert_eq!(
        n.poll_notify(at(150)).unwrap().to_string(),
        "active;expires=250"
    );
    assert!(!n.notify_answered(StatusCode::OK));
    assert!(n.state_changed());
}

#[test]
fn a_pending_subscription_rejected_or_expired_ends_without_its_state() {
    let t0 = Instant::now();
    let mut n = Notifier::new_pending(Event::new("presence"), 600, t0);
    n.poll_notify(t0).unwrap();
    // §4.2.1.3: authorization declined later: terminated;reason=rejected.
    n.terminate("rejected");
    assert!(!n.is_pending());
    assert!(!n.reveals_state());
    assert!(!n.activate());
    assert!(!n.notify_answered(StatusCode::OK));
    let last = n.poll_notify(t0).unwrap();
    assert_eq!(last.to_string(), "terminated;reason=rejected");
    assert!(n.notify_answered(StatusCode::OK));

    let mut n = Notifier::new_pending(Event::new("presence"), 60, t0);
    assert!(n.handle_timeout(t0 + Duration::from_secs(60)));
    assert!(!n.reveals_state());
    assert_eq!(
        n.poll_notify(t0).unwrap().to_string(),
        "terminated;reason=timeout"
    );
}
