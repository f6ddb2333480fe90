use super::*;
use crate::message::typed::TypedHeader;
use crate::test_support::parse_req;

fn me() -> Local {
    Local {
        host: Host::Ipv4([10, 0, 0, 1].into()),
        port: 5060,
        protocol: Protocol::Udp,
    }
}

fn request(extra: &str) -> Request {
    let text = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKup\r\n\
         Max-Forwards: 5\r\n\
         From: <sip:alice@example.com>;tag=a\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: loop-1\r\n\
         CSeq: 1 INVITE\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    parse_req(&text)
}

fn our_via() -> Via {
    Via::parse_str("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKours").unwrap()
}

#[test]
fn forwarding_rewrites_uri_decrements_max_forwards_and_record_routes() {
    let req = request("");
    let target: Uri = "sip:bob@192.0.2.7:5080".parse().unwrap();
    let f = forward(&req, Some(&target), our_via(), &[me()]);
    assert_eq!(f.request.uri.to_string(), "sip:bob@192.0.2.7:5080");
    assert_eq!(f.request.headers.get("Max-Forwards").unwrap(), "4");
    assert_eq!(
        f.request.headers.get("Record-Route").unwrap(),
        "<sip:10.0.0.1:5060;lr>"
    );
    let top = f.request.headers.top_via().unwrap();
    assert!(top.branch().unwrap().starts_with("z9hG4bKours."));
    assert_eq!(f.request.headers.count("Via"), 2);
    assert_eq!(f.next_hop, target);
}

#[test]
fn record_route_over_tls_says_tls_and_is_sips_for_a_sips_request() {
    let tls = Local {
        protocol: Protocol::Tls,
        ..me()
    };
    let req = request("");
    let target: Uri = "sip:bob@192.0.2.7:5061;transport=tls".parse().unwrap();
    let f = forward(&req, Some(&target), our_via(), std::slice::from_ref(&tls));
    assert_eq!(
        f.request.headers.get("Record-Route").unwrap(),
        "<sip:10.0.0.1:5060;lr;transport=tls>"
    );
    // §16.6 step 4: a SIPS Request-URI gets a SIPS Record-Route.
    let target: Uri = "sips:bob@192.0.2.7".parse().unwrap();
    let f = forward(&req, Some(&target), our_via(), std::slice::from_ref(&tls));
    assert_eq!(
        f.request.headers.get("Record-Route").unwrap(),
        "<sips:10.0.0.1:5060;lr>"
    );
    let tcp = Local {
        protocol: Protocol::Tcp,
        ..me()
    };
    let f = forward(&req, None, our_via(), std::slice::from_ref(&tcp));
    assert_eq!(
        f.request.headers.get("Record-Route").unwrap(),
        "<sip:10.0.0.1:5060;lr;transport=tcp>"
    );
}

#[test]
fn max_forwards_zero_is_483_and_a_loop_is_482() {
    let mut req = request("").clone();
    req.headers.set(HeaderName::MaxForwards, "0");
    assert_eq!(
        check_and_preprocess(&mut req, &me()),
        Err(StatusCode::TOO_MANY_HOPS)
    );
    // The same request coming back with our Via on it loops.
    let req = request("");
    let f = forward(&req, None, our_via(), &[]);
    let mut back = f.request.clone();
    back.headers.push_front(Header::known(
        HeaderName::Via,
        "SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKx",
    ));
    assert_eq!(
        check_and_preprocess(&mut back, &me()),
        Err(StatusCode::LOOP_DETECTED)
    );
    // A spiral (retargeted Request-URI) is not a loop.
    back.uri = "sip:carol@example.com".parse().unwrap();
    assert_eq!(check_and_preprocess(&mut back, &me()), Ok(()));
}

#[test]
fn our_route_is_removed_and_the_next_route_is_the_next_hop() {
    let mut req = request("Route: <sip:10.0.0.1:5060;lr>, <sip:p2.example.com;lr>\r\n");
    check_and_preprocess(&mut req, &me()).unwrap();
    assert_eq!(req.headers.count("Route"), 1);
    let f = forward(&req, None, our_via(), &[]);
    assert_eq!(f.next_hop.to_string(), "sip:p2.example.com;lr");
    assert_eq!(f.request.uri.to_string(), "sip:bob@example.com");
}

#[test]
fn strict_routers_are_handled_both_ways() {
    // §16.4: a strict router put our URI in the Request-URI.
    let mut req = request("Route: <sip:bob@final.example.com>\r\n");
    req.uri = "sip:10.0.0.1:5060".parse().unwrap();
    check_and_preprocess(&mut req, &me()).unwrap();
    assert_eq!(req.uri.to_string(), "sip:bob@final.example.com");
    assert!(!req.headers.contains("Route"));
    // §16.6 step 6: a strict next hop gets the Request-URI as last route.
    let req = request("Route: <sip:strict.example.com>\r\n");
    let f = forward(&req, None, our_via(), &[]);
    assert_eq!(f.request.uri.to_string(), "sip:strict.example.com");
    assert_eq!(
        f.request.headers.get("Route").unwrap(),
        "<sip:bob@example.com>"
    );
}

#[test]
fn best_response_rules() {
    let req = request("");
    let r = |code| req.reply(StatusCode::from_u16(code).unwrap());
    assert_eq!(
        best_response(&[r(486), r(404)]).unwrap().status.as_u16(),
        486
    );
    assert_eq!(
        best_response(&[r(500), r(404), r(302)])
            .unwrap()
            .status
            .as_u16(),
        302
    );
    assert_eq!(
        best_response(&[r(404), r(603)]).unwrap().status.as_u16(),
        603
    );
    assert_eq!(best_response(&[r(503)]).unwrap().status.as_u16(), 500);
    assert!(best_response(&[]).is_none());
    let mut a = r(401);
    a.headers.append(
        HeaderName::WwwAuthenticate,
        "Digest realm=\"a\", nonce=\"1\"",
    );
    let mut b = r(407);
    b.headers.append(
        HeaderName::ProxyAuthenticate,
        "Digest realm=\"b\", nonce=\"2\"",
    );
    let best = best_response(&[a, b]).unwrap();
    assert_eq!(
        best.headers.count("WWW-Authenticate") + best.headers.count("Proxy-Authenticate"),
        2
    );
}

#[test]
fn responses_lose_our_via_and_foreign_ones_are_dropped() {
    let req = request("");
    let f = forward(&req, None, our_via(), &[]);
    let resp = f.request.reply(StatusCode::OK);
    let up = strip_our_via(resp, &me()).unwrap();
    assert_eq!(up.headers.top_via().unwrap().branch(), Some("z9hG4bKup"));
    let foreign = req.reply(StatusCode::OK);
    assert!(strip_our_via(foreign, &me()).is_none());
}

#[test]
fn cancel_copies_the_invite_fields() {
    let req = request("Route: <sip:p2.example.com;lr>\r\n");
    let f = forward(&req, None, our_via(), &[]);
    let c = crate::transaction::cancel_request(&f.request).unwrap();
    assert_eq!(c.method, Method::Cancel);
    assert_eq!(c.uri, f.request.uri);
    assert_eq!(c.headers.count("Via"), 1);
    assert_eq!(
        c.headers.top_via().unwrap().branch(),
        f.request.headers.top_via().unwrap().branch()
    );
    assert_eq!(c.headers.cseq().unwrap().seq, 1);
    assert_eq!(c.headers.cseq().unwrap().method, Method::Cancel);
    assert_eq!(c.headers.get("Route").unwrap(), "<sip:p2.example.com;lr>");
    assert_eq!(c.headers.get("Call-ID").unwrap(), "loop-1");
}

#[test]
fn a_change_of_transport_is_record_routed_twice_and_both_entries_are_taken_off() {
    let wss = Local {
        port: 8443,
        protocol: Protocol::Wss,
        ..me()
    };
    // Same hop in and out: one entry.
    assert_eq!(record_routes(&me(), &me()).len(), 1);
    // UDP in, TCP out on the same port: the UDP side's entry has no
    // transport parameter (a UDP-only phone is never told to use TCP),
    // the TCP side's says TCP.
    let tcp = Local {
        protocol: Protocol::Tcp,
        ..me()
    };
    let f = forward(&request(""), None, our_via(), &record_routes(&me(), &tcp));
    let entries: Vec<&str> = f.request.headers.values("Record-Route").collect();
    assert_eq!(
        entries,
        [
            "<sip:10.0.0.1:5060;lr;transport=tcp>",
            "<sip:10.0.0.1:5060;lr>"
        ]
    );
    // RFC 5658 §4: UDP in, WSS out: ours towards the caller, then towards
    // the callee on top.
    let rr = record_routes(&me(), &wss);
    let f = forward(&request(""), None, our_via(), &rr);
    let entries: Vec<String> = f
        .request
        .headers
        .values("Record-Route")
        .map(|v| v.to_string())
        .collect();
    assert_eq!(
        entries,
        [
            "<sips:10.0.0.1:8443;lr;transport=ws>",
            "<sip:10.0.0.1:5060;lr>"
        ]
    );
    // The callee's request comes back with both as Route, then a foreign
    // one: ours go, the foreign one stays.
    let mut back = request(
        "Route: <sips:10.0.0.1:8443;lr;transport=ws>\r\n\
         Route: <sip:10.0.0.1:5060;lr>\r\n\
         Route: <sip:192.0.2.50;lr>\r\n",
    );
    check_and_preprocess(&mut back, &wss).unwrap();
    pop_own_routes(&mut back, &[me(), wss.clone()]);
    let left: Vec<String> = back
        .headers
        .values("Route")
        .map(|v| v.to_string())
        .collect();
    assert_eq!(left, ["<sip:192.0.2.50;lr>"]);
}
