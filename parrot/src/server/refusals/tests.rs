use super::*;
use crate::message::typed::TypedHeader;
use crate::test_support::parse_req;

fn request(method: &str, uri: &str, extra: &str, body: &str) -> Request {
    parse_req(&format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: refusals\r\n\
         CSeq: 1 {method}\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

fn refusal(policy: &UasPolicy, req: &Request) -> Option<(u16, String)> {
    policy
        .refusal(req)
        .map(|r| (r.status.as_u16(), r.reason.to_string()))
}

#[test]
fn a_scheme_not_served_is_416_even_one_never_heard_of() {
    let p = UasPolicy::default();
    for uri in [
        "tel:+15551234",
        "urn:service:sos",
        "xyzzy:whatever",
        "mailto:bob@example.com",
    ] {
        let r = p.refusal(&request("INVITE", uri, "", "")).expect(uri);
        assert_eq!(r.status, StatusCode::UNSUPPORTED_URI_SCHEME, "{uri}");
    }
    assert!(
        p.refusal(&request("OPTIONS", "sips:bob@example.com", "", ""))
            .is_none()
    );
    let mut tel = UasPolicy::default();
    tel.add_scheme("TEL");
    assert!(
        tel.refusal(&request("OPTIONS", "tel:+15551234", "", ""))
            .is_none()
    );
}

#[test]
fn unknown_required_tags_are_420_listing_exactly_those() {
    let mut p = UasPolicy::default();
    p.add_supported("timer");
    let req = request(
        "INVITE",
        "sip:bob@example.com",
        "Require: timer, foo\r\nRequire: Bar, FOO\r\nProxy-Require: baz\r\n",
        "",
    );
    let r = p.refusal(&req).unwrap();
    assert_eq!(r.status, StatusCode::BAD_EXTENSION);
    assert_eq!(r.headers.get(HeaderName::Unsupported).unwrap(), "foo, Bar");
    assert_eq!(
        r.headers.get(HeaderName::Supported).unwrap(),
        "100rel, timer"
    );
    // Supported ones pass, case-insensitively; Proxy-Require is not ours.
    let req = request(
        "OPTIONS",
        "sip:bob@example.com",
        "Require: TIMER\r\nProxy-Require: baz\r\n",
        "",
    );
    assert_eq!(refusal(&p, &req), None);
    // Never for CANCEL or ACK.
    for m in ["CANCEL", "ACK"] {
        let req = request(m, "sip:bob@example.com", "Require: foo\r\n", "");
        assert_eq!(refusal(&p, &req), None, "{m}");
    }
    // Nor for a method the handler proxies.
    p.set_proxied(MethodSet::EMPTY.with("INVITE"));
    let req = request("INVITE", "sip:bob@example.com", "Require: foo\r\n", "");
    assert_eq!(refusal(&p, &req), None);
}

#[test]
fn bodies_the_method_does_not_take_are_415_with_accept() {
    let p = UasPolicy::default();
    let sdp = "v=0\r\n";
    // INVITE takes SDP, and only SDP.
    let ok = request(
        "INVITE",
        "sip:b@x",
        "Content-Type: application/sdp\r\n",
        sdp,
    );
    assert_eq!(refusal(&p, &ok), None);
    let isup = request(
        "INVITE",
        "sip:b@x",
        "Content-Type: application/isup\r\n",
        "x",
    );
    let r = p.refusal(&isup).unwrap();
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.headers.get(HeaderName::Accept).unwrap(),
        "application/sdp"
    );
    assert!(r.reason.contains("application/isup"), "{}", r.reason);
    // BYE takes no body at all: an empty Accept.
    let bye = request("BYE", "sip:b@x", "Content-Type: text/plain\r\n", "hi");
    let r = p.refusal(&bye).unwrap();
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.headers.get(HeaderName::Accept).unwrap(), "");
    // MESSAGE takes anything by default; the builder can narrow it.
    let msg = request("MESSAGE", "sip:b@x", "Content-Type: text/html\r\n", "<b>");
    assert_eq!(refusal(&p, &msg), None);
    let mut narrow = UasPolicy::default();
    narrow.set_accept(Method::Message, Accept::parse_str("text/plain").unwrap());
    assert_eq!(refusal(&narrow, &msg).unwrap().0, 415);
    // An encoding we cannot undo.
    let gz = request(
        "INVITE",
        "sip:b@x",
        "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n",
        sdp,
    );
    let r = p.refusal(&gz).unwrap();
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.headers.get(HeaderName::AcceptEncoding).unwrap(),
        "identity"
    );
    // A body without a type.
    let untyped = request("MESSAGE", "sip:b@x", "", "hello");
    assert_eq!(
        refusal(&p, &untyped),
        Some((400, "Missing Content-Type header".into()))
    );
}

#[test]
fn an_invite_whose_accept_rules_out_sdp_is_406() {
    let p = UasPolicy::default();
    let req = request("INVITE", "sip:b@x", "Accept: text/plain\r\n", "");
    assert_eq!(refusal(&p, &req).unwrap().0, 406);
    let req = request(
        "INVITE",
        "sip:b@x",
        "Accept: text/plain\r\nAccept: application/*\r\n",
        "",
    );
    assert_eq!(
        refusal(&p, &req),
        None,
        "one of the Accept lines allows SDP"
    );
    let req = request("INVITE", "sip:b@x", "", "");
    assert_eq!(refusal(&p, &req), None, "no Accept: SDP assumed (§20.1)");
    let req = request("MESSAGE", "sip:b@x", "Accept: text/plain\r\n", "");
    assert_eq!(refusal(&p, &req), None, "the answer to MESSAGE has no body");
}

#[test]
fn a_server_requiring_100rel_refuses_invites_without_it_with_421() {
    let p = UasPolicy {
        reliability: super::Reliability::Required,
        ..Default::default()
    };
    let req = request("INVITE", "sip:bob@example.com", "", "");
    let r = p.refusal(&req).unwrap();
    assert_eq!(r.status, StatusCode::EXTENSION_REQUIRED);
    assert_eq!(r.headers.get(HeaderName::Require).unwrap(), "100rel");
    let req = request("INVITE", "sip:bob@example.com", "Supported: 100rel\r\n", "");
    assert_eq!(refusal(&p, &req), None);
    // Only INVITEs need it.
    let req = request("OPTIONS", "sip:bob@example.com", "", "");
    assert_eq!(refusal(&p, &req), None);
}
