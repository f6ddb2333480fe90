//! Tests of the dialog layer, with synthetic messages and `Instant`s.

use super::*;
use crate::message::typed::{CSeq, Transport, Via};
use crate::message::{Method, Request, Response, StatusCode, Uri};
use crate::test_support::{parse_req, parse_resp};
use crate::transaction::TimerConfig;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const CALL_ID: &str = "a84b4c76e66710@pc33.atlanta.example.com";
const ALICE_TAG: &str = "1928301774";

/// An INVITE with the given Request-URI, Via transport and extra header
/// lines (each ending in CRLF).
fn invite_with(uri: &str, transport: &str, extra: &str) -> Request {
    parse_req(&format!(
        "INVITE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
         {extra}\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob@biloxi.example.com>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}\r\n\
         Call-ID: {CALL_ID}\r\n\
         CSeq: 314159 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

const RR: &str = "Record-Route: <sip:p2.biloxi.example.com;lr>;foo=bar\r\n\
    Record-Route: <sip:p1.atlanta.example.com;lr>\r\n";
const CONTACT: &str = "Contact: <sip:alice@pc33.atlanta.example.com>\r\n";

/// The INVITE of most tests: two loose routers, a Contact.
fn invite() -> Request {
    invite_with(
        "sip:bob@biloxi.example.com",
        "UDP",
        &format!("{RR}{CONTACT}"),
    )
}

fn our_contact() -> Uri {
    "sip:bob@192.0.2.4".parse().unwrap()
}

/// A confirmed dialog for `req` and the 200 OK sent to create it.
fn confirmed(req: &Request) -> (Dialog, Response) {
    let mut ok = req.reply(StatusCode::OK);
    let mut d = Dialog::new_uas(req, &ok).unwrap();
    d.prepare_response(&mut ok, &our_contact());
    (d, ok)
}

/// A request from Alice within dialog `d` (To tag = ours).
fn in_dialog(d: &Dialog, method: &str, seq: u32, extra: &str) -> Request {
    let cseq_method = method;
    parse_req(&format!(
        "{method} sip:bob@192.0.2.4 SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK{seq}{method}\r\n\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob@biloxi.example.com>;tag={}\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}\r\n\
         Call-ID: {CALL_ID}\r\n\
         CSeq: {seq} {cseq_method}\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n",
        d.id().local_tag
    ))
}

fn record_routes(resp: &Response) -> Vec<String> {
    resp.headers
        .get_all("Record-Route")
        .map(|h| h.value().to_string())
        .collect()
}

fn route_values(req: &Request) -> Vec<String> {
    req.headers.values("Route").map(str::to_owned).collect()
}

// ---------------------------------------------------------------------------
// DialogId
// ---------------------------------------------------------------------------

#[test]
fn dialog_id_from_incoming_request() {
    let (d, _) = confirmed(&invite());
    let bye = in_dialog(&d, "BYE", 314160, "");
    let id = DialogId::from_incoming_request(&bye).unwrap();
    // As seen by us: local = To tag, remote = From tag.
    assert_eq!(id.call_id, CALL_ID);
    assert_eq!(id.local_tag, d.id().local_tag);
    assert_eq!(id.remote_tag, ALICE_TAG);
    assert_eq!(&id, d.id());

    // Hashable: usable as a map key.
    let mut set = HashSet::new();
    set.insert(d.id().clone());
    assert!(set.contains(&id));
    assert!(!set.contains(&id.reversed()));
    assert_eq!(id.reversed().reversed(), id);
    assert_eq!(
        id.to_string(),
        format!(
            "{CALL_ID};local-tag={};remote-tag={ALICE_TAG}",
            d.id().local_tag
        )
    );

    // An out-of-dialog request (no To tag) has none.
    assert_eq!(DialogId::from_incoming_request(&invite()), None);
    // A peer without a From tag (RFC 2543): the remote tag is empty.
    let old = parse_req(
        "BYE sip:bob@192.0.2.4 SIP/2.0\r\n\
         Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@biloxi.example.com>;tag=abc\r\n\
         From: <sip:alice@atlanta.example.com>\r\n\
         Call-ID: x@y\r\n\
         CSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(
        DialogId::from_incoming_request(&old),
        Some(DialogId::new("x@y", "abc", ""))
    );
}

#[test]
fn a_dialog_knows_its_requests_as_their_identifier_says() {
    let (d, _) = confirmed(&invite());
    let bye = in_dialog(&d, "BYE", 314160, "");
    let old = |to: &str, from: &str, call_id: &str| {
        parse_req(&format!(
            "BYE sip:bob@192.0.2.4 SIP/2.0\r\n\
             Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
             To: <sip:bob@biloxi.example.com>{to}\r\n\
             From: <sip:alice@atlanta.example.com>{from}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 2 BYE\r\n\
             Content-Length: 0\r\n\r\n",
        ))
    };
    let ids = [
        d.id().clone(),
        d.id().reversed(),
        DialogId::new("x@y", "abc", ""),
        DialogId::new("x@y", "abc", "def"),
        DialogId::new("x@z", "abc", ""),
    ];
    let requests = [
        bye,
        invite(),
        old(";tag=abc", "", "x@y"),
        old(";tag=abc", ";tag=def", "x@y"),
        old(";tag=abd", "", "x@y"),
        old("", "", "x@y"),
        old(";tag=abc", "", "x@z"),
    ];
    let mut matched = 0;
    for id in &ids {
        for req in &requests {
            let expected = DialogId::from_incoming_request(req).as_ref() == Some(id);
            assert_eq!(id.is_of_incoming_request(req), expected, "{id} {req:?}");
            matched += usize::from(expected);
        }
    }
    // Each of the first, third, fourth and fifth identifiers has its request.
    assert_eq!(matched, 4);
}

#[test]
fn dialog_id_from_incoming_response() {
    let resp = parse_resp(
        "SIP/2.0 200 OK\r\n\
         Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
         To: <sip:alice@atlanta.example.com>;tag=theirs\r\n\
         From: <sip:bob@biloxi.example.com>;tag=ours\r\n\
         Call-ID: x@y\r\n\
         CSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(
        DialogId::from_incoming_response(&resp),
        Some(DialogId::new("x@y", "ours", "theirs"))
    );
    let mut no_call_id = resp.clone();
    no_call_id.headers.remove("Call-ID");
    assert_eq!(DialogId::from_incoming_response(&no_call_id), None);
}

// ---------------------------------------------------------------------------
// Creation (§12.1.1)
// ---------------------------------------------------------------------------

#[test]
fn uas_dialog_state_from_invite_and_2xx() {
    let req = invite();
    let (d, ok) = confirmed(&req);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.call_id(), CALL_ID);
    // Our tag was generated and added to the response.
    assert!(!d.id().local_tag.is_empty());
    assert_eq!(ok.headers.to_tag().unwrap(), d.id().local_tag);
    assert_eq!(d.id().remote_tag, ALICE_TAG);
    // Route set: the Record-Route URIs in order, parameters kept.
    let routes: Vec<String> = d.route_set().iter().map(Uri::to_string).collect();
    assert_eq!(
        routes,
        [
            "sip:p2.biloxi.example.com;lr",
            "sip:p1.atlanta.example.com;lr"
        ]
    );
    // Remote target: the request's Contact URI.
    assert_eq!(
        d.remote_target().to_string(),
        "sip:alice@pc33.atlanta.example.com"
    );
    assert_eq!(d.remote_seq(), Some(314159));
    // §8.1.1.5: below 2**31 (we keep it below 2**30).
    assert!(d.local_seq() < 1 << 30);
    assert_eq!(d.local_uri().to_string(), "sip:bob@biloxi.example.com");
    assert_eq!(d.remote_uri().to_string(), "sip:alice@atlanta.example.com");
    assert_eq!(d.local_address().display_name().as_deref(), Some("Bob"));
    assert_eq!(d.remote_address().display_name().as_deref(), Some("Alice"));
    assert!(!d.is_secure());
    assert!(!d.is_terminated());
    assert_eq!(d.initial_cseq(), &CSeq::new(314159, Method::Invite));
    assert!(!d.invite_in_progress());
}

#[test]
fn early_dialog_then_confirmed_with_a_stable_to_tag() {
    let req = invite();
    let contact = our_contact();
    let mut ringing = req.reply(StatusCode::RINGING);
    let mut d = Dialog::new_uas(&req, &ringing).unwrap();
    assert_eq!(d.state(), DialogState::Early);
    assert!(d.invite_in_progress());

    // 100 Trying is left alone (§8.2.6.2).
    let mut trying = req.reply(StatusCode::TRYING);
    d.prepare_response(&mut trying, &contact);
    assert_eq!(trying, req.reply(StatusCode::TRYING));

    d.prepare_response(&mut ringing, &contact);
    let mut progress = req.reply(StatusCode::SESSION_PROGRESS);
    d.prepare_response(&mut progress, &contact);
    let mut ok = req.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &contact);
    let tag = d.id().local_tag.clone();
    for r in [&ringing, &progress, &ok] {
        assert_eq!(r.headers.to_tag().unwrap(), tag, "{}", r.status);
        // §12.1.1: Record-Route copied in order, Contact added.
        assert_eq!(
            record_routes(r),
            [
                "<sip:p2.biloxi.example.com;lr>;foo=bar",
                "<sip:p1.atlanta.example.com;lr>"
            ]
        );
        assert_eq!(r.headers.get("Contact").unwrap(), "<sip:bob@192.0.2.4>");
    }
    assert_eq!(d.state(), DialogState::Confirmed);
    assert!(!d.invite_in_progress());

    // Preparing twice adds nothing.
    let before = ok.clone();
    d.prepare_response(&mut ok, &contact);
    assert_eq!(ok, before);
}

#[test]
fn early_dialog_ends_with_a_non_2xx_final_response() {
    let req = invite();
    let mut ringing = req.reply(StatusCode::RINGING);
    let mut d = Dialog::new_uas(&req, &ringing).unwrap();
    d.prepare_response(&mut ringing, &our_contact());
    let mut busy = req.reply(StatusCode::BUSY_HERE);
    d.prepare_response(&mut busy, &our_contact());
    // §12.3
    assert_eq!(d.state(), DialogState::Terminated);
    // The final response still gets our tag but neither Record-Route nor
    // Contact: it creates no dialog.
    assert_eq!(busy.headers.to_tag().unwrap(), d.id().local_tag);
    assert!(!busy.headers.contains("Record-Route"));
    assert!(!busy.headers.contains("Contact"));
}

#[test]
fn our_tag_goes_on_a_to_that_has_none_whatever_its_letters() {
    use crate::message::HeaderName;
    for (to, tag) in [
        ("\"Tag Team\" <sip:tagger@x.example>", Some("ours")),
        ("<sip:bob@x.example;TAG>", Some("ours")),
        ("<sip:bob@x.example>;tAg=theirs", Some("theirs")),
        ("<sip:bob@x.example>;xtag=1", Some("ours")),
        ("sip:bob@x.example;t", Some("ours")),
        ("<sip:bob@x.example>;ta", Some("ours")),
    ] {
        let req = invite();
        let mut ringing = req.reply(StatusCode::RINGING);
        ringing.headers.set(HeaderName::To, to.to_owned());
        prepare_response(&req, &mut ringing, "ours", &our_contact());
        assert_eq!(ringing.headers.to_tag().as_deref(), tag, "{to}");
    }
}

#[test]
fn dialog_adopts_the_tag_of_a_response_prepared_before_it() {
    let req = invite();
    let mut ringing = req.reply(StatusCode::RINGING);
    prepare_response(&req, &mut ringing, "mytag1", &our_contact());
    let mut d = Dialog::new_uas(&req, &ringing).unwrap();
    assert_eq!(d.id().local_tag, "mytag1");
    let mut ok = req.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &our_contact());
    assert_eq!(ok.headers.to_tag().unwrap(), "mytag1");
}

#[test]
fn subscribe_creates_a_dialog_with_its_2xx() {
    let sub = parse_req(&format!(
        "SUBSCRIBE sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKs1\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@biloxi.example.com>\r\n\
         From: <sip:alice@atlanta.example.com>;tag={ALICE_TAG}\r\n\
         Call-ID: sub-1\r\n\
         CSeq: 1 SUBSCRIBE\r\n\
         Event: presence\r\n\
         {CONTACT}\
         Content-Length: 0\r\n\r\n"
    ));
    let mut accepted = sub.reply(StatusCode::ACCEPTED);
    let mut d = Dialog::new_uas(&sub, &accepted).unwrap();
    d.prepare_response(&mut accepted, &our_contact());
    assert_eq!(d.state(), DialogState::Confirmed);
    assert!(d.route_set().is_empty());
    assert_eq!(
        accepted.headers.get("Contact").unwrap(),
        "<sip:bob@192.0.2.4>"
    );
    assert!(!accepted.headers.contains("Record-Route"));
    // A 1xx to SUBSCRIBE creates none.
    assert_eq!(
        Dialog::new_uas(&sub, &sub.reply(StatusCode::RINGING)).unwrap_err(),
        DialogError::NotDialogCreating
    );
}

#[test]
fn creation_errors() {
    let req = invite();
    let err = |req: &Request, resp: &Response| Dialog::new_uas(req, resp).unwrap_err();
    // Responses that create no dialog.
    for s in [
        StatusCode::TRYING,
        StatusCode::BUSY_HERE,
        StatusCode::MOVED_TEMPORARILY,
    ] {
        assert_eq!(err(&req, &req.reply(s)), DialogError::NotDialogCreating);
    }
    // Methods that create none.
    let mut options = req.clone();
    options.method = Method::Options;
    options.headers.set("CSeq".parse_header(), "314159 OPTIONS");
    assert_eq!(
        err(&options, &options.reply(StatusCode::OK)),
        DialogError::NotDialogCreating
    );
    // A request inside a dialog.
    let (d, _) = confirmed(&req);
    let reinvite = in_dialog(&d, "INVITE", 314160, CONTACT);
    assert_eq!(
        err(&reinvite, &reinvite.reply(StatusCode::OK)),
        DialogError::NotDialogCreating
    );
    // A response to another request.
    let mut other = req.reply(StatusCode::OK);
    other.headers.set("CSeq".parse_header(), "1 INVITE");
    assert_eq!(err(&req, &other), DialogError::ResponseMismatch);
    let mut other = req.reply(StatusCode::OK);
    other.headers.set("Call-ID".parse_header(), "other@x");
    assert_eq!(err(&req, &other), DialogError::ResponseMismatch);
    // Missing or unusable Contact (§8.1.1.8, §12.1.1).
    for extra in ["", "Contact: *\r\n", "Contact: <sip:a@b\r\n"] {
        let r = invite_with("sip:bob@biloxi.example.com", "UDP", extra);
        assert_eq!(
            err(&r, &r.reply(StatusCode::OK)),
            DialogError::BadHeader("Contact"),
            "{extra:?}"
        );
    }
    // Record-Route without brackets is malformed (§25.1 rec-route).
    let r = invite_with(
        "sip:bob@biloxi.example.com",
        "UDP",
        &format!("Record-Route: sip:p1.example.com;lr\r\n{CONTACT}"),
    );
    assert_eq!(
        err(&r, &r.reply(StatusCode::OK)),
        DialogError::BadHeader("Record-Route")
    );
    // Missing core headers (requests built by hand are not validated).
    let bare = Request::builder(Method::Invite, "sip:b@c".parse().unwrap())
        .header("CSeq", "1 INVITE")
        .header("Contact", "<sip:a@b>")
        .build_unchecked();
    let mut resp = Response::new(StatusCode::OK);
    resp.headers
        .append(crate::message::HeaderName::CSeq, "1 INVITE");
    assert_eq!(err(&bare, &resp), DialogError::BadHeader("Call-ID"));
    let bare = Request::builder(Method::Invite, "sip:b@c".parse().unwrap())
        .header("Call-ID", "c")
        .header("CSeq", "1 BYE")
        .build_unchecked();
    assert_eq!(err(&bare, &resp), DialogError::BadHeader("CSeq"));
    let bare = Request::builder(Method::Invite, "sip:b@c".parse().unwrap())
        .header("Call-ID", "c")
        .header("CSeq", "1 INVITE")
        .header("To", "<sip:b@c>")
        .build_unchecked();
    resp.headers.append(crate::message::HeaderName::CallId, "c");
    assert_eq!(err(&bare, &resp), DialogError::BadHeader("From"));
    assert!(!DialogError::BadHeader("From").to_string().is_empty());
}

/// `HeaderName` from a string, for `Headers::set` in tests.
trait ParseHeader {
    fn parse_header(&self) -> crate::message::HeaderName;
}

impl ParseHeader for str {
    fn parse_header(&self) -> crate::message::HeaderName {
        crate::message::HeaderName::lookup(self).unwrap()
    }
}

#[test]
fn secure_flag_needs_sips_and_tls() {
    for (uri, transport, secure) in [
        ("sips:bob@biloxi.example.com", "TLS", true),
        ("sips:bob@biloxi.example.com", "WSS", true),
        ("sips:bob@biloxi.example.com", "TCP", false),
        ("sip:bob@biloxi.example.com", "TLS", false),
        ("sip:bob@biloxi.example.com", "UDP", false),
    ] {
        let req = invite_with(uri, transport, CONTACT);
        let (d, _) = confirmed(&req);
        assert_eq!(d.is_secure(), secure, "{uri} over {transport}");
    }
}

// ---------------------------------------------------------------------------
// Responses (§12.1.1)
// ---------------------------------------------------------------------------

#[test]
fn free_prepare_response_for_the_first_response() {
    let req = invite();
    let contact = our_contact();
    let mut ok = req.reply(StatusCode::OK);
    prepare_response(&req, &mut ok, "t1", &contact);
    assert_eq!(ok.headers.to_tag().unwrap(), "t1");
    assert_eq!(
        record_routes(&ok),
        [
            "<sip:p2.biloxi.example.com;lr>;foo=bar",
            "<sip:p1.atlanta.example.com;lr>"
        ]
    );
    assert_eq!(ok.headers.get("Contact").unwrap(), "<sip:bob@192.0.2.4>");
    // The response still serializes and parses.
    let again = parse_resp(std::str::from_utf8(&ok.to_bytes()).unwrap());
    assert_eq!(again.headers.to_tag().unwrap(), "t1");

    // What the caller already put there is kept.
    let mut custom = req.reply(StatusCode::OK);
    custom.headers.append(
        crate::message::HeaderName::Contact,
        "<sip:bob@198.51.100.1;transport=tcp>",
    );
    custom.headers.append(
        crate::message::HeaderName::RecordRoute,
        "<sip:p9.example.com;lr>",
    );
    prepare_response(&req, &mut custom, "t1", &contact);
    assert_eq!(custom.headers.count("Contact"), 1);
    assert_eq!(
        custom.headers.get("Contact").unwrap(),
        "<sip:bob@198.51.100.1;transport=tcp>"
    );
    assert_eq!(record_routes(&custom), ["<sip:p9.example.com;lr>"]);

    // An existing tag is kept; a non-token tag is not added.
    let mut tagged = req.reply(StatusCode::OK);
    prepare_response(&req, &mut tagged, "first", &contact);
    prepare_response(&req, &mut tagged, "second", &contact);
    assert_eq!(tagged.headers.to_tag().unwrap(), "first");
    let mut bad = req.reply(StatusCode::RINGING);
    prepare_response(&req, &mut bad, "no good", &contact);
    assert_eq!(bad.headers.to_tag(), None);
    prepare_response(&req, &mut bad, "", &contact);
    assert_eq!(bad.headers.to_tag(), None);

    // A failure response: tag only.
    let mut busy = req.reply(StatusCode::BUSY_HERE);
    prepare_response(&req, &mut busy, "t1", &contact);
    assert_eq!(busy.headers.to_tag().unwrap(), "t1");
    assert!(!busy.headers.contains("Contact"));
    assert!(!busy.headers.contains("Record-Route"));

    // A response without To cannot get a tag; nothing panics.
    let mut bare = Response::new(StatusCode::OK);
    prepare_response(&req, &mut bare, "t1", &contact);
    assert_eq!(bare.headers.to_tag(), None);
}

#[test]
fn free_prepare_response_in_dialog() {
    let (d, _) = confirmed(&invite());
    let contact = our_contact();
    // A 2xx to a re-INVITE carries our Contact but no Record-Route, even
    // if the re-INVITE has some (§12.2: the route set does not change).
    let reinvite = in_dialog(
        &d,
        "INVITE",
        314160,
        &format!("Record-Route: <sip:p3.example.com;lr>\r\n{CONTACT}"),
    );
    let mut ok = reinvite.reply(StatusCode::OK);
    prepare_response(&reinvite, &mut ok, &d.id().local_tag, &contact);
    assert_eq!(ok.headers.get("Contact").unwrap(), "<sip:bob@192.0.2.4>");
    assert!(!ok.headers.contains("Record-Route"));
    assert_eq!(ok.headers.to_tag().unwrap(), d.id().local_tag);
    // A 200 to BYE needs no Contact.
    let bye = in_dialog(&d, "BYE", 314161, "");
    let mut ok = bye.reply(StatusCode::OK);
    prepare_response(&bye, &mut ok, &d.id().local_tag, &contact);
    assert!(!ok.headers.contains("Contact"));
}

#[test]
fn creates_dialog_and_target_refresh_tables() {
    for code in [101, 180, 183, 199, 200, 202, 299] {
        let s = StatusCode::from_u16(code).unwrap();
        assert!(creates_dialog(&Method::Invite, s), "{code}");
    }
    for code in [100, 300, 404, 486, 500, 603] {
        let s = StatusCode::from_u16(code).unwrap();
        assert!(!creates_dialog(&Method::Invite, s), "{code}");
    }
    assert!(creates_dialog(&Method::Subscribe, StatusCode::ACCEPTED));
    assert!(!creates_dialog(&Method::Subscribe, StatusCode::RINGING));
    assert!(creates_dialog(&Method::Refer, StatusCode::ACCEPTED));
    assert!(!creates_dialog(&Method::Refer, StatusCode::FORBIDDEN));
    for m in [
        Method::Options,
        Method::Bye,
        Method::Register,
        Method::Message,
    ] {
        assert!(!creates_dialog(&m, StatusCode::OK));
    }
    for m in [
        Method::Invite,
        Method::Update,
        Method::Subscribe,
        Method::Notify,
    ] {
        assert!(is_target_refresh(&m));
    }
    for m in [Method::Bye, Method::Info, Method::Ack, Method::Options] {
        assert!(!is_target_refresh(&m));
    }
}

#[test]
fn dialog_prepare_response_for_in_dialog_requests() {
    let req = invite();
    let (mut d, _) = confirmed(&req);
    let contact = our_contact();
    let reinvite = in_dialog(&d, "INVITE", 314160, CONTACT);
    d.check_request(&reinvite).unwrap();
    let mut ok = reinvite.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &contact);
    assert_eq!(ok.headers.get("Contact").unwrap(), "<sip:bob@192.0.2.4>");
    assert!(!ok.headers.contains("Record-Route"));
    assert_eq!(d.state(), DialogState::Confirmed);
    // A 200 to INFO: no Contact, no Record-Route.
    let info = in_dialog(&d, "INFO", 314161, "");
    d.check_request(&info).unwrap();
    let mut ok = info.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &contact);
    assert!(!ok.headers.contains("Contact"));
    // A failed re-INVITE does not end a confirmed dialog.
    let reinvite = in_dialog(&d, "INVITE", 314162, CONTACT);
    d.check_request(&reinvite).unwrap();
    let mut refused = reinvite.reply(StatusCode::NOT_ACCEPTABLE_HERE);
    d.prepare_response(&mut refused, &contact);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert!(!d.invite_in_progress());
}

// ---------------------------------------------------------------------------
// Requests received (§12.2.2)
// ---------------------------------------------------------------------------

#[test]
fn cseq_ordering() {
    let (mut d, _) = confirmed(&invite());
    // Lower: out of order, 500 (§12.2.2), nothing changes.
    let old = in_dialog(&d, "INFO", 314158, "");
    let e = d.check_request(&old).unwrap_err();
    assert_eq!(
        e,
        Refusal::OutOfOrder {
            cseq: 314158,
            remote_seq: 314159
        }
    );
    let resp = e.response(&old).unwrap();
    assert_eq!(resp.status, StatusCode::SERVER_INTERNAL_ERROR);
    assert!(!resp.headers.contains("Retry-After"));
    assert_eq!(d.remote_seq(), Some(314159));
    // Equal, for a new request: out of order too.
    let same = in_dialog(&d, "INFO", 314159, "");
    assert!(matches!(
        d.check_request(&same),
        Err(Refusal::OutOfOrder { .. })
    ));
    // Higher (not necessarily by one): accepted, remembered.
    let next = in_dialog(&d, "INFO", 314170, "");
    d.check_request(&next).unwrap();
    assert_eq!(d.remote_seq(), Some(314170));
    let stale = in_dialog(&d, "INFO", 314165, "");
    assert!(d.check_request(&stale).is_err());
}

#[test]
fn ack_and_cancel_are_not_ordered() {
    let (mut d, _) = confirmed(&invite());
    // The ACK carries the INVITE's number: accepted, no update.
    let ack = in_dialog(&d, "ACK", 314159, "");
    d.check_request(&ack).unwrap();
    assert_eq!(d.remote_seq(), Some(314159));
    // Also after a later request.
    d.check_request(&in_dialog(&d, "INFO", 314160, "")).unwrap();
    d.check_request(&ack).unwrap();
    assert_eq!(d.remote_seq(), Some(314160));
    // An ACK above every request matches no INVITE; it is not answered.
    let stray = in_dialog(&d, "ACK", 314200, "");
    let e = d.check_request(&stray).unwrap_err();
    assert_eq!(e, Refusal::NoMatchingInvite);
    assert_eq!(e.response(&stray), None);
    let cancel = in_dialog(&d, "CANCEL", 314200, "");
    let e = d.check_request(&cancel).unwrap_err();
    assert_eq!(
        e.response(&cancel).unwrap().status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
    d.check_request(&in_dialog(&d, "CANCEL", 314160, ""))
        .unwrap();
}

#[test]
fn requests_of_other_dialogs_and_bad_cseq() {
    let (mut d, _) = confirmed(&invite());
    let mut other = in_dialog(&d, "INFO", 314160, "");
    other
        .headers
        .set("To".parse_header(), "<sip:bob@biloxi.example.com>;tag=nope");
    let e = d.check_request(&other).unwrap_err();
    assert_eq!(e, Refusal::WrongDialog);
    assert_eq!(
        e.response(&other).unwrap().status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
    let mut other = in_dialog(&d, "INFO", 314160, "");
    other.headers.set(
        "From".parse_header(),
        "<sip:alice@atlanta.example.com>;tag=x",
    );
    assert_eq!(d.check_request(&other), Err(Refusal::WrongDialog));
    // CSeq naming another method.
    let mut bad = in_dialog(&d, "INFO", 314160, "");
    bad.headers.set("CSeq".parse_header(), "314160 BYE");
    let e = d.check_request(&bad).unwrap_err();
    assert_eq!(e, Refusal::BadCSeq);
    assert_eq!(e.response(&bad).unwrap().status, StatusCode::BAD_REQUEST);
    let mut bad = in_dialog(&d, "INFO", 314160, "");
    bad.headers.remove("CSeq");
    assert_eq!(d.check_request(&bad), Err(Refusal::BadCSeq));
    assert_eq!(d.remote_seq(), Some(314159));
}

#[test]
fn target_refresh_updates_the_remote_target() {
    let (mut d, _) = confirmed(&invite());
    let moved = "Contact: <sip:alice@198.51.100.7:5070;transport=tcp>\r\n";
    // INFO is no target refresh: its Contact is ignored.
    d.check_request(&in_dialog(&d, "INFO", 314160, moved))
        .unwrap();
    assert_eq!(
        d.remote_target().to_string(),
        "sip:alice@pc33.atlanta.example.com"
    );
    // A re-INVITE is (§12.2.2).
    let reinvite = in_dialog(&d, "INVITE", 314161, moved);
    d.check_request(&reinvite).unwrap();
    assert_eq!(
        d.remote_target().to_string(),
        "sip:alice@198.51.100.7:5070;transport=tcp"
    );
    let mut ok = reinvite.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &our_contact());
    // So is UPDATE; without Contact the target stays.
    d.check_request(&in_dialog(&d, "UPDATE", 314162, ""))
        .unwrap();
    assert_eq!(
        d.remote_target().to_string(),
        "sip:alice@198.51.100.7:5070;transport=tcp"
    );
    d.check_request(&in_dialog(&d, "UPDATE", 314163, CONTACT))
        .unwrap();
    assert_eq!(
        d.remote_target().to_string(),
        "sip:alice@pc33.atlanta.example.com"
    );
    // A malformed Contact: 400, and nothing changes.
    let bad = in_dialog(&d, "UPDATE", 314164, "Contact: *\r\n");
    let e = d.check_request(&bad).unwrap_err();
    assert_eq!(e, Refusal::BadContact);
    assert_eq!(e.response(&bad).unwrap().status, StatusCode::BAD_REQUEST);
    assert_eq!(d.remote_seq(), Some(314163));
    // The next BYE goes to the refreshed target.
    let (mut d, _) = confirmed(&invite_with("sip:bob@biloxi.example.com", "UDP", CONTACT));
    d.check_request(&in_dialog(&d, "INVITE", 314160, moved))
        .unwrap();
    let mut ok = in_dialog(&d, "INVITE", 314160, moved).reply(StatusCode::OK);
    d.prepare_response(&mut ok, &our_contact());
    let bye = d.create_request(Method::Bye, None, None).unwrap();
    assert_eq!(
        bye.request.uri.to_string(),
        "sip:alice@198.51.100.7:5070;transport=tcp"
    );
}

#[test]
fn overlapping_invites_are_refused() {
    // The initial INVITE is still pending in an early dialog (§14.2).
    let req = invite();
    let mut ringing = req.reply(StatusCode::RINGING);
    let mut d = Dialog::new_uas(&req, &ringing).unwrap();
    d.prepare_response(&mut ringing, &our_contact());
    let reinvite = in_dialog(&d, "INVITE", 314160, CONTACT);
    let e = d.check_request(&reinvite).unwrap_err();
    let Refusal::InvitePending { retry_after } = e else {
        panic!("{e:?}")
    };
    assert!(retry_after <= 10);
    let resp = e.response(&reinvite).unwrap();
    assert_eq!(resp.status, StatusCode::SERVER_INTERNAL_ERROR);
    let ra: crate::message::typed::RetryAfter = resp.headers.typed().unwrap().unwrap();
    assert_eq!(ra.seconds, retry_after);
    assert_eq!(d.remote_seq(), Some(314159));
    // Once the INVITE is answered, a re-INVITE is fine.
    let mut ok = req.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &our_contact());
    d.check_request(&reinvite).unwrap();
    // ... and blocks the next one until answered.
    let again = in_dialog(&d, "INVITE", 314161, CONTACT);
    assert!(matches!(
        d.check_request(&again),
        Err(Refusal::InvitePending { .. })
    ));
    assert_eq!(
        d.create_request(Method::Invite, None, Some(&our_contact())),
        Err(DialogError::InviteInProgress)
    );
    let mut ok = reinvite.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &our_contact());
    d.check_request(&again).unwrap();
}

#[test]
fn bye_received_terminates() {
    let (mut d, _) = confirmed(&invite());
    let bye = in_dialog(&d, "BYE", 314160, "");
    d.check_request(&bye).unwrap();
    assert_eq!(d.state(), DialogState::Terminated);
    let mut ok = bye.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &our_contact());
    assert_eq!(ok.headers.to_tag().unwrap(), d.id().local_tag);
    // Anything later is for a dialog that no longer exists.
    let info = in_dialog(&d, "INFO", 314161, "");
    let e = d.check_request(&info).unwrap_err();
    assert_eq!(e, Refusal::Terminated);
    assert_eq!(
        e.response(&info).unwrap().status,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
    assert_eq!(
        d.create_request(Method::Bye, None, None),
        Err(DialogError::Terminated)
    );
    // The caller may also BYE an early dialog (§15).
    let req = invite();
    let mut ringing = req.reply(StatusCode::RINGING);
    let mut d = Dialog::new_uas(&req, &ringing).unwrap();
    d.prepare_response(&mut ringing, &our_contact());
    d.check_request(&in_dialog(&d, "BYE", 314160, "")).unwrap();
    assert!(d.is_terminated());
}

#[test]
fn terminate() {
    let (mut d, _) = confirmed(&invite());
    d.terminate();
    assert_eq!(d.state(), DialogState::Terminated);
    d.terminate();
    assert!(d.is_terminated());
}

// ---------------------------------------------------------------------------
// Requests sent (§12.2.1.1)
// ---------------------------------------------------------------------------

#[test]
fn bye_with_loose_routes() {
    let (mut d, _) = confirmed(&invite());
    let seq = d.local_seq();
    let DialogRequest { request, next_hop } = d.create_request(Method::Bye, None, None).unwrap();
    assert_eq!(request.method, Method::Bye);
    // Request-URI = remote target; Route = route set in order.
    assert_eq!(
        request.uri.to_string(),
        "sip:alice@pc33.atlanta.example.com"
    );
    assert_eq!(
        route_values(&request),
        [
            "<sip:p2.biloxi.example.com;lr>",
            "<sip:p1.atlanta.example.com;lr>"
        ]
    );
    // §8.1.2: the first route.
    assert_eq!(next_hop.to_string(), "sip:p2.biloxi.example.com;lr");
    let h = &request.headers;
    assert_eq!(h.cseq().unwrap(), CSeq::new(seq + 1, Method::Bye));
    assert_eq!(d.local_seq(), seq + 1);
    assert_eq!(h.call_id().unwrap(), CALL_ID);
    let from = h.from_header().unwrap();
    assert_eq!(from.addr.uri().to_string(), "sip:bob@biloxi.example.com");
    assert_eq!(from.tag(), Some(d.id().local_tag.as_str()));
    let to = h.to_header().unwrap();
    assert_eq!(to.addr.uri().to_string(), "sip:alice@atlanta.example.com");
    assert_eq!(to.tag(), Some(ALICE_TAG));
    assert_eq!(h.get("Max-Forwards").unwrap(), "70");
    assert!(!h.contains("Via"));
    assert!(!h.contains("Contact"));
    // The callee's BYE ends the dialog (§15.1.1).
    assert_eq!(d.state(), DialogState::Terminated);

    // With a Via it is a complete request that survives the wire, and the
    // peer maps it to the same dialog, seen from its side.
    let (mut d, _) = confirmed(&invite());
    let via = Via::new(
        Transport::Udp,
        crate::message::Host::Domain("192.0.2.4".into()),
        Some(5060),
        crate::random::branch(),
    );
    let bye = d.create_request(Method::Bye, Some(&via), None).unwrap();
    assert_eq!(bye.request.headers.iter().next().unwrap().name(), "Via");
    let wire = parse_req(std::str::from_utf8(&bye.request.to_bytes()).unwrap());
    // The serializer adds Content-Length; everything else is as built.
    let mut wire_headers = wire.headers.clone();
    assert_eq!(wire_headers.remove("Content-Length"), 1);
    assert_eq!(wire_headers, bye.request.headers);
    assert_eq!(
        (&wire.method, &wire.uri),
        (&bye.request.method, &bye.request.uri)
    );
    let seen_by_peer = DialogId::from_incoming_request(&wire).unwrap();
    assert_eq!(seen_by_peer, d.id().reversed());
}

#[test]
fn bye_with_a_strict_router() {
    let req = invite_with(
        "sip:bob@biloxi.example.com",
        "UDP",
        &format!(
            "Record-Route: <sip:strict.example.com;maddr=192.0.2.9;method=INVITE?Subject=x>\r\n\
             Record-Route: <sip:p1.atlanta.example.com;lr>\r\n{CONTACT}"
        ),
    );
    let (mut d, _) = confirmed(&req);
    let out = d.create_request(Method::Bye, None, None).unwrap();
    // §12.2.1.1: Request-URI = the first route, stripped of what a
    // Request-URI may not carry; Route = the rest, then the remote target.
    assert_eq!(
        out.request.uri.to_string(),
        "sip:strict.example.com;maddr=192.0.2.9"
    );
    assert_eq!(
        route_values(&out.request),
        [
            "<sip:p1.atlanta.example.com;lr>",
            "<sip:alice@pc33.atlanta.example.com>"
        ]
    );
    // §8.1.2: sent to the Request-URI.
    assert_eq!(out.next_hop, out.request.uri);

    // A single strict router: only the remote target in Route.
    let req = invite_with(
        "sip:bob@biloxi.example.com",
        "UDP",
        &format!("Record-Route: <sip:strict.example.com>\r\n{CONTACT}"),
    );
    let (mut d, _) = confirmed(&req);
    let out = d.create_request(Method::Bye, None, None).unwrap();
    assert_eq!(out.request.uri.to_string(), "sip:strict.example.com");
    assert_eq!(
        route_values(&out.request),
        ["<sip:alice@pc33.atlanta.example.com>"]
    );
    assert_eq!(out.next_hop.to_string(), "sip:strict.example.com");
}

#[test]
fn request_without_route_set() {
    let req = invite_with(
        "sip:bob@biloxi.example.com",
        "UDP",
        "Contact: <sip:alice@pc33.atlanta.example.com;transport=tcp?Subject=hi>\r\n",
    );
    let (mut d, _) = confirmed(&req);
    let out = d.create_request(Method::Bye, None, None).unwrap();
    // Header components are not allowed in a Request-URI (§19.1.1).
    assert_eq!(
        out.request.uri.to_string(),
        "sip:alice@pc33.atlanta.example.com;transport=tcp"
    );
    assert!(!out.request.headers.contains("Route"));
    assert_eq!(out.next_hop, out.request.uri);
}

#[test]
fn request_sequence_numbers_and_methods() {
    let (mut d, _) = confirmed(&invite());
    d.set_local_seq(41);
    let contact = our_contact();
    let info = d.create_request(Method::Info, None, None).unwrap();
    assert_eq!(info.request.headers.cseq().unwrap().seq, 42);
    // A target refresh with our Contact.
    let reinvite = d
        .create_request(Method::Invite, None, Some(&contact))
        .unwrap();
    assert_eq!(
        reinvite.request.headers.cseq().unwrap(),
        CSeq::new(43, Method::Invite)
    );
    assert_eq!(
        reinvite.request.headers.get("Contact").unwrap(),
        "<sip:bob@192.0.2.4>"
    );
    assert!(d.invite_in_progress());
    // Its ACK carries the INVITE's number (§13.2.2.4).
    let ack = d.create_request(Method::Ack, None, None).unwrap();
    assert_eq!(
        ack.request.headers.cseq().unwrap(),
        CSeq::new(43, Method::Ack)
    );
    assert_eq!(d.local_seq(), 43);
    // CANCEL is not built here (§9.1).
    assert_eq!(
        d.create_request(Method::Cancel, None, None),
        Err(DialogError::UnsupportedMethod)
    );
    // §8.1.1.5: never past 2**31 - 1.
    d.set_local_seq(CSeq::MAX);
    assert_eq!(
        d.create_request(Method::Info, None, None),
        Err(DialogError::SequenceExhausted)
    );
    assert_eq!(d.local_seq(), CSeq::MAX);
    d.set_local_seq(CSeq::MAX - 1);
    let last = d.create_request(Method::Info, None, None).unwrap();
    assert_eq!(last.request.headers.cseq().unwrap().seq, CSeq::MAX);
}

#[test]
fn no_bye_on_an_early_dialog() {
    let req = invite();
    let mut ringing = req.reply(StatusCode::RINGING);
    let mut d = Dialog::new_uas(&req, &ringing).unwrap();
    d.prepare_response(&mut ringing, &our_contact());
    let seq = d.local_seq();
    assert_eq!(
        d.create_request(Method::Bye, None, None),
        Err(DialogError::ByeOnEarlyDialog)
    );
    // No re-INVITE while the INVITE is pending either (§14.1).
    assert_eq!(
        d.create_request(Method::Invite, None, None),
        Err(DialogError::InviteInProgress)
    );
    assert_eq!(d.local_seq(), seq);
    assert_eq!(d.state(), DialogState::Early);
    // Other requests (e.g. INFO) are allowed.
    d.create_request(Method::Info, None, None).unwrap();
}

#[test]
fn peer_without_from_tag() {
    let req = parse_req(&format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKold\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@biloxi.example.com>\r\n\
         From: <sip:alice@atlanta.example.com>\r\n\
         Call-ID: old-1\r\n\
         CSeq: 1 INVITE\r\n\
         {CONTACT}\
         Content-Length: 0\r\n\r\n"
    ));
    let (mut d, _) = confirmed(&req);
    assert_eq!(d.id().remote_tag, "");
    let bye = d.create_request(Method::Bye, None, None).unwrap();
    assert_eq!(bye.request.headers.to_tag(), None);
}

// ---------------------------------------------------------------------------
// Responses received to our requests (§12.2.1.2)
// ---------------------------------------------------------------------------

/// A response from Alice to our request `req`.
fn answer(req: &Request, status: StatusCode, extra: &str) -> Response {
    let mut resp = req.reply(status);
    for line in extra.lines().filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        resp.headers.push(crate::message::Header::new(
            name.to_owned(),
            value.trim().to_owned(),
        ));
    }
    resp
}

#[test]
fn responses_to_our_requests() {
    let (mut d, _) = confirmed(&invite());
    let contact = our_contact();
    let reinvite = d
        .create_request(Method::Invite, None, Some(&contact))
        .unwrap();
    // While our INVITE is pending, the peer's INVITE gets 491 (§14.2).
    let theirs = in_dialog(&d, "INVITE", 314160, CONTACT);
    let e = d.check_request(&theirs).unwrap_err();
    assert_eq!(e, Refusal::RequestPending);
    assert_eq!(
        e.response(&theirs).unwrap().status,
        StatusCode::REQUEST_PENDING
    );
    // A 1xx changes nothing.
    d.handle_response(&answer(&reinvite.request, StatusCode::RINGING, ""));
    assert!(d.invite_in_progress());
    // A 2xx with a new Contact refreshes the target and ends the INVITE.
    let ok = answer(
        &reinvite.request,
        StatusCode::OK,
        "Contact: <sip:alice@203.0.113.5>",
    );
    // A response for another dialog is ignored.
    let mut foreign = ok.clone();
    foreign.headers.set("Call-ID".parse_header(), "other");
    d.handle_response(&foreign);
    assert!(d.invite_in_progress());
    d.handle_response(&ok);
    assert!(!d.invite_in_progress());
    assert_eq!(d.remote_target().to_string(), "sip:alice@203.0.113.5");
    d.check_request(&theirs).unwrap();
    // A 481 to an in-dialog request ends the dialog.
    let info = d.create_request(Method::Info, None, None).unwrap();
    d.handle_response(&answer(
        &info.request,
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
        "",
    ));
    assert!(d.is_terminated());
}

// ---------------------------------------------------------------------------
// 2xx retransmission (§13.3.1.4)
// ---------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `r` to completion (or `limit`), firing each deadline exactly when
/// due; returns (offset in ms, output) for every output.
fn run(r: &mut Retransmit2xx, t0: Instant, limit: Duration) -> Vec<(u128, Retransmit2xxOutput)> {
    let mut seen = Vec::new();
    while let Some(t) = r.poll_timeout() {
        if t > t0 + limit {
            break;
        }
        // Nothing fires early.
        r.handle_timeout(t - ms(1));
        assert_eq!(r.poll_output(), None);
        r.handle_timeout(t);
        while let Some(o) = r.poll_output() {
            seen.push(((t - t0).as_millis(), o));
        }
    }
    seen
}

fn ack_for(d: &Dialog, seq: u32) -> Request {
    in_dialog(d, "ACK", seq, "")
}

#[test]
fn retransmit_2xx_schedule_and_give_up() {
    let (d, _) = confirmed(&invite());
    let t0 = Instant::now();
    let mut r = Retransmit2xx::new(d.id().clone(), 314159, &TimerConfig::default(), false, t0);
    assert_eq!(r.poll_timeout(), Some(t0 + ms(500)));
    let seen = run(&mut r, t0, Duration::from_secs(100));
    use Retransmit2xxOutput::*;
    // Intervals 0.5, 1, 2, 4, 4, ... s; give-up at 64·T1 = 32 s.
    assert_eq!(
        seen,
        [
            (500, Retransmit),
            (1500, Retransmit),
            (3500, Retransmit),
            (7500, Retransmit),
            (11500, Retransmit),
            (15500, Retransmit),
            (19500, Retransmit),
            (23500, Retransmit),
            (27500, Retransmit),
            (31500, Retransmit),
            (32000, GiveUp),
        ]
    );
    assert!(r.is_done());
    assert!(!r.is_acked());
    assert_eq!(r.poll_timeout(), None);
    r.handle_timeout(t0 + Duration::from_secs(1000));
    assert_eq!(r.poll_output(), None);
    // An ACK after giving up is still recognised (to be absorbed).
    assert!(r.handle_ack(&ack_for(&d, 314159)));
    assert!(!r.is_acked());
}

#[test]
fn retransmit_2xx_with_other_timers() {
    let (d, _) = confirmed(&invite());
    let t0 = Instant::now();
    let timers = TimerConfig {
        t1: ms(100),
        t2: ms(300),
        ..TimerConfig::default()
    };
    let mut r = Retransmit2xx::new(d.id().clone(), 314159, &timers, false, t0);
    let seen: Vec<u128> = run(&mut r, t0, Duration::from_secs(10))
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    // 100, +200, +300, +300, ... up to 6.4 s, then the give-up at 6.4 s.
    let mut expected = vec![100, 300];
    let mut t = 300;
    while t + 300 < 6400 {
        t += 300;
        expected.push(t);
    }
    expected.push(6400);
    assert_eq!(seen, expected);
}

#[test]
fn retransmit_2xx_reliable_only_waits() {
    let (d, _) = confirmed(&invite());
    let t0 = Instant::now();
    let mut r = Retransmit2xx::new(d.id().clone(), 314159, &TimerConfig::default(), true, t0);
    assert!(r.is_reliable());
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    let seen = run(&mut r, t0, Duration::from_secs(100));
    assert_eq!(seen, [(32000, Retransmit2xxOutput::GiveUp)]);

    // An ACK in time ends it silently.
    let mut r = Retransmit2xx::new(d.id().clone(), 314159, &TimerConfig::default(), true, t0);
    assert!(r.handle_ack(&ack_for(&d, 314159)));
    assert!(r.is_acked() && r.is_done());
    assert_eq!(r.poll_timeout(), None);
    r.handle_timeout(t0 + Duration::from_secs(40));
    assert_eq!(r.poll_output(), None);
}

#[test]
fn retransmit_2xx_stops_on_the_matching_ack() {
    let (d, _) = confirmed(&invite());
    let t0 = Instant::now();
    let mut r = Retransmit2xx::new(d.id().clone(), 314159, &TimerConfig::default(), false, t0);
    assert_eq!(r.id(), d.id());
    assert_eq!(r.invite_seq(), 314159);
    let seen = run(&mut r, t0, ms(2000));
    assert_eq!(seen.len(), 2);
    // Not an ACK of this 2xx: other CSeq, other dialog, other method.
    assert!(!r.handle_ack(&ack_for(&d, 314158)));
    let mut foreign = ack_for(&d, 314159);
    foreign.headers.set(
        "From".parse_header(),
        "<sip:alice@atlanta.example.com>;tag=zzz",
    );
    assert!(!r.handle_ack(&foreign));
    assert!(!r.handle_ack(&in_dialog(&d, "INFO", 314159, "")));
    assert_eq!(r.poll_timeout(), Some(t0 + ms(3500)));
    // The ACK.
    assert!(r.handle_ack(&ack_for(&d, 314159)));
    assert!(r.is_acked());
    assert_eq!(r.poll_timeout(), None);
    r.handle_timeout(t0 + Duration::from_secs(60));
    assert_eq!(r.poll_output(), None);
    // Retransmitted ACKs are still recognised.
    assert!(r.handle_ack(&ack_for(&d, 314159)));
}

#[test]
fn retransmit_2xx_late_caller_and_stop() {
    let (d, _) = confirmed(&invite());
    let t0 = Instant::now();
    let mut r = Retransmit2xx::new(d.id().clone(), 314159, &TimerConfig::default(), false, t0);
    // Called 10 s late: one retransmission, not a burst; the next one is
    // an interval (1 s, doubled once) from now.
    r.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(r.poll_output(), Some(Retransmit2xxOutput::Retransmit));
    assert_eq!(r.poll_output(), None);
    assert_eq!(r.poll_timeout(), Some(t0 + ms(11000)));
    // Past 64·T1: only the give-up.
    r.handle_timeout(t0 + Duration::from_secs(100));
    assert_eq!(r.poll_output(), Some(Retransmit2xxOutput::GiveUp));
    assert_eq!(r.poll_output(), None);

    let mut r = Retransmit2xx::new(d.id().clone(), 314159, &TimerConfig::default(), false, t0);
    r.stop();
    assert!(r.is_done() && !r.is_acked());
    assert_eq!(r.poll_timeout(), None);
    r.handle_timeout(t0 + Duration::from_secs(100));
    assert_eq!(r.poll_output(), None);

    // Degenerate timers neither panic nor spin.
    let zero = TimerConfig {
        t1: Duration::ZERO,
        t2: Duration::ZERO,
        t4: Duration::ZERO,
    };
    let mut r = Retransmit2xx::new(d.id().clone(), 1, &zero, false, t0);
    assert_eq!(r.poll_timeout(), Some(t0 + ms(1)));
    let seen = run(&mut r, t0, Duration::from_secs(1));
    assert_eq!(seen.last(), Some(&(64, Retransmit2xxOutput::GiveUp)));
    let huge = TimerConfig {
        t1: Duration::MAX,
        t2: Duration::MAX,
        t4: Duration::MAX,
    };
    let mut r = Retransmit2xx::new(d.id().clone(), 1, &huge, false, t0);
    r.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(r.poll_output(), None);
}

#[test]
fn uas_call_flow_end_to_end() {
    // INVITE → 180 → 200 (retransmitted once) → ACK → BYE from us.
    let req = invite();
    let contact = our_contact();
    let t0 = Instant::now();
    let mut ringing = req.reply(StatusCode::RINGING);
    let mut d = Dialog::new_uas(&req, &ringing).unwrap();
    d.prepare_response(&mut ringing, &contact);
    let mut ok = req.reply(StatusCode::OK);
    d.prepare_response(&mut ok, &contact);
    let mut rt = Retransmit2xx::new(
        d.id().clone(),
        d.initial_cseq().seq,
        &TimerConfig::default(),
        false,
        t0,
    );
    rt.handle_timeout(t0 + ms(500));
    assert_eq!(rt.poll_output(), Some(Retransmit2xxOutput::Retransmit));
    let ack = ack_for(&d, 314159);
    d.check_request(&ack).unwrap();
    assert!(rt.handle_ack(&ack));
    let bye = d.create_request(Method::Bye, None, None).unwrap();
    assert_eq!(bye.request.headers.cseq().unwrap().method, Method::Bye);
    assert!(d.is_terminated());
}

proptest::proptest! {
    /// Whatever CSeq numbers arrive, a new request is accepted exactly when
    /// its number is above every one accepted before.
    #[test]
    fn cseq_model(seqs in proptest::collection::vec(0u32..20, 1..30)) {
        let req = invite_with(
            "sip:bob@biloxi.example.com",
            "UDP",
            CONTACT,
        );
        let mut req = req;
        req.headers.set("CSeq".parse_header(), "5 INVITE");
        let (mut d, _) = confirmed(&req);
        let mut highest = 5;
        for s in seqs {
            let r = in_dialog(&d, "INFO", s, "");
            let ok = d.check_request(&r).is_ok();
            proptest::prop_assert_eq!(ok, s > highest);
            if ok {
                highest = s;
            }
            proptest::prop_assert_eq!(d.remote_seq(), Some(highest));
        }
    }

    /// Arbitrary header values never make the dialog layer panic.
    #[test]
    fn never_panics(
        to in "\\PC{0,30}",
        from in "\\PC{0,30}",
        contact in "\\PC{0,30}",
        rr in "\\PC{0,30}",
        cseq in "\\PC{0,12}",
    ) {
        let req = Request::builder(Method::Invite, "sip:b@c".parse().unwrap())
            .header("Via", "SIP/2.0/UDP a;branch=z9hG4bK1")
            .header("To", to.clone())
            .header("From", from.clone())
            .header("Call-ID", "c@d")
            .header("CSeq", cseq.clone())
            .header("Contact", contact.clone())
            .header("Record-Route", rr.clone())
            .build_unchecked();
        let mut resp = req.reply(StatusCode::OK);
        prepare_response(&req, &mut resp, "t", &our_contact());
        let _ = DialogId::from_incoming_request(&req);
        if let Ok(mut d) = Dialog::new_uas(&req, &resp) {
            d.prepare_response(&mut resp, &our_contact());
            let _ = d.check_request(&req);
            let _ = d.create_request(Method::Info, None, None);
            d.handle_response(&resp);
        }
    }
}

#[test]
fn the_to_tag_is_added_once_whatever_the_to_looks_like() {
    // (To field, whether it already carries a header tag)
    let cases = [
        ("Bob <sip:bob@biloxi.example.com>", false),
        ("sip:bob@biloxi.example.com", false),
        (
            "\"Tag Team\" <sip:tag@biloxi.example.com;tag=uri-param>",
            false,
        ),
        ("<sip:bob@biloxi.example.com> ; TAG = theirs", true),
        ("sip:bob@biloxi.example.com;tag=theirs", true),
    ];
    for (to, tagged) in cases {
        let mut resp = invite().reply(StatusCode::OK);
        resp.headers.set(crate::message::HeaderName::To, to);
        prepare_response(&invite(), &mut resp, "ours", &our_contact());
        let got = resp.headers.to_header().expect("the To still parses");
        let want = if tagged { "theirs" } else { "ours" };
        assert_eq!(got.tag(), Some(want), "{to}");
        assert_eq!(
            resp.headers.get("to").unwrap().matches(";tag=ours").count(),
            usize::from(!tagged),
            "{to}"
        );
    }
}

/// The remote target the server's Contact check hands to the dialog is
/// the one the dialog finds decoding the Contact itself (§12.1.1), and a
/// request that cannot create a dialog gives none.
#[test]
fn checked_contact_gives_the_dialogs_remote_target() {
    for contact in [
        CONTACT,
        "Contact: \"Alice\" <sips:alice@[2001:db8::1]:5061;transport=tcp;ob>;expires=60\r\n",
        "Contact: sip:alice@192.0.2.7\r\n",
    ] {
        let req = invite_with("sip:bob@biloxi.example.com", "UDP", contact);
        let ok = req.reply(StatusCode::OK);
        let target = check_contact(&req).unwrap().unwrap();
        let checked = Dialog::new_uas_checked(&req, &ok, Some(target)).unwrap();
        let decoded = Dialog::new_uas(&req, &ok).unwrap();
        assert_eq!(
            checked.remote_target(),
            decoded.remote_target(),
            "{contact}"
        );
        assert_eq!(
            checked.remote_target().to_string(),
            decoded.remote_target().to_string()
        );
    }
    let (d, _) = confirmed(&invite());
    let bye = in_dialog(&d, "BYE", 2, "");
    assert_eq!(check_contact(&bye), Ok(None));
    let missing = invite_with("sip:bob@biloxi.example.com", "UDP", "");
    assert_eq!(check_contact(&missing), Err("Missing Contact header"));
}
