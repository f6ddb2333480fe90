use super::escape::{is_user_byte, percent_decode, percent_encode};
use super::*;
use crate::message::host::Host;
use crate::message::method::Method;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

fn p(s: &str) -> Uri {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn sip(s: &str) -> SipUri {
    match p(s) {
        Uri::Sip(u) => u,
        other => panic!("not sip: {other:?}"),
    }
}

fn err(s: &str) -> String {
    match s.parse::<Uri>() {
        Ok(u) => panic!("{s} parsed as {u:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ParseErrorKind::Uri);
            e.reason().to_owned()
        }
    }
}

fn equiv(a: &str, b: &str) -> bool {
    let (a, b) = (p(a), p(b));
    assert_eq!(a.equivalent(&b), b.equivalent(&a), "symmetry");
    a.equivalent(&b)
}

#[test]
fn full_sip_uri() {
    let u = sip("sip:alice:secretword@atlanta.com;transport=tcp");
    assert!(!u.is_secure());
    assert_eq!(u.user().as_deref(), Some("alice"));
    assert_eq!(u.password().as_deref(), Some("secretword"));
    assert_eq!(u.host(), &Host::Domain("atlanta.com".into()));
    assert_eq!(u.port(), None);
    assert_eq!(u.transport().as_deref(), Some("tcp"));
    assert_eq!(
        u.to_string(),
        "sip:alice:secretword@atlanta.com;transport=tcp"
    );
}

#[test]
fn rfc3261_19_1_3_examples() {
    for s in [
        "sip:alice@atlanta.com",
        "sip:alice:secretword@atlanta.com;transport=tcp",
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sips:1212@gateway.com",
        "sip:alice@192.0.2.4",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:alice;day=tuesday@atlanta.com",
    ] {
        let u = p(s);
        assert_eq!(u.to_string(), s);
        assert_eq!(p(&u.to_string()), u);
    }
    let u = sip("sips:alice@atlanta.com?subject=project%20x&priority=urgent");
    assert!(u.is_secure());
    assert_eq!(u.scheme(), "sips");
    assert_eq!(u.headers().get("Subject").as_deref(), Some("project x"));
    assert_eq!(u.headers().get("priority").as_deref(), Some("urgent"));
    assert_eq!(u.headers().len(), 2);

    let u = sip("sip:+1-212-555-1212:1234@gateway.com;user=phone");
    assert_eq!(u.user().as_deref(), Some("+1-212-555-1212"));
    assert_eq!(u.password().as_deref(), Some("1234"));
    assert_eq!(u.user_param().as_deref(), Some("phone"));

    let u = sip("sip:alice@192.0.2.4");
    assert_eq!(u.host(), &Host::Ipv4(Ipv4Addr::new(192, 0, 2, 4)));

    let u = sip("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com");
    assert_eq!(u.user(), None);
    assert_eq!(u.method(), Some(Method::Register));
    assert_eq!(u.headers().get("to").as_deref(), Some("alice@atlanta.com"));
    assert_eq!(
        u.headers().iter().next().unwrap().value_raw(),
        "alice%40atlanta.com"
    );

    let u = sip("sip:alice;day=tuesday@atlanta.com");
    assert_eq!(u.user().as_deref(), Some("alice;day=tuesday"));
    assert!(u.params().is_empty());
}

#[test]
fn scheme_is_case_insensitive_and_preserved() {
    let u = p("SIP:Alice@AtLanTa.CoM;Transport=UDP");
    assert_eq!(u.scheme(), "sip");
    assert_eq!(u.to_string(), "SIP:Alice@AtLanTa.CoM;Transport=UDP");
    assert_eq!(u.as_sip().unwrap().transport().as_deref(), Some("UDP"));
    assert!(p("SiPs:a@b").as_sip().unwrap().is_secure());
    assert_eq!(p("TEL:+1234").scheme(), "tel");
}

#[test]
fn rfc4475_escaped_user() {
    // RFC 4475 §3.1.1.3 / RFC 3261 §19.1.4
    let u = sip("sip:%61lice@atlanta.com;transport=TCP");
    assert_eq!(u.user().as_deref(), Some("alice"));
    assert_eq!(u.user_raw().unwrap(), "%61lice");
    assert_eq!(u.to_string(), "sip:%61lice@atlanta.com;transport=TCP");

    let u = sip("sip:sips%3Auser%40example.com@example.net");
    assert_eq!(u.user().as_deref(), Some("sips:user@example.com"));
    assert_eq!(u.host().to_string(), "example.net");

    let u = sip("sip:%75se%72@example.com");
    assert_eq!(u.user().as_deref(), Some("user"));

    let u = sip("sip:I%20have%20spaces@example.net");
    assert_eq!(u.user().as_deref(), Some("I have spaces"));

    let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
    assert_eq!(u.user().as_deref(), Some("caller"));
    assert!(u.lr());
    assert_eq!(u.params().get("name").as_deref(), Some("value%41"));
    assert_eq!(u.params().iter().nth(1).unwrap().name(), "name");
    assert_eq!(
        u.to_string(),
        "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"
    );

    // RFC 4475 §3.1.1.4: %00 is a legal escape.
    let u = sip("sip:null-%00-null@example.com");
    assert_eq!(u.user().as_deref(), Some("null-\0-null"));
}

#[test]
fn rfc4475_semicolon_in_user() {
    // RFC 4475 §3.1.1.9
    let u = sip("sip:user;par=u%40example.net@example.com");
    assert_eq!(u.user().as_deref(), Some("user;par=u@example.net"));
    assert_eq!(u.host().to_string(), "example.com");
    assert!(u.params().is_empty());
}

#[test]
fn rfc4475_wide_range_of_characters() {
    // RFC 4475 §3.1.1.2
    let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
    let u = sip(s);
    assert_eq!(
        u.user().as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password().as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(u.to_string(), s);
}

#[test]
fn rfc4475_escaped_headers() {
    // RFC 4475 §3.1.2.10 (escaped) — syntactically valid.
    let u = sip("sip:user@example.com?Route=%3Csip:example.com%3E");
    assert_eq!(
        u.headers().get("route").as_deref(),
        Some("<sip:example.com>")
    );
    let u = sip("sip:user@host?Subject=foo&Call-Info=%3Chttp://www.foo.com%3E");
    assert_eq!(u.headers().get("Subject").as_deref(), Some("foo"));
    assert_eq!(
        u.headers().get("call-info").as_deref(),
        Some("<http://www.foo.com>")
    );
    assert_eq!(
        u.to_string(),
        "sip:user@host?Subject=foo&Call-Info=%3Chttp://www.foo.com%3E"
    );
    // Unescaped '<' '>' are not allowed.
    err("sip:user@host?Subject=foo&Call-Info=<http://www.foo.com>");
    // Empty header values are allowed; missing '=' is not.
    assert_eq!(sip("sip:a@b?x=").headers().get("x").as_deref(), Some(""));
    err("sip:a@b?x");
    err("sip:a@b?");
    err("sip:a@b?=v");
    err("sip:a@b?x=1&&y=2");
}

#[test]
fn ipv6_hosts() {
    // RFC 5118 §4
    let u = sip("sip:[2001:db8::10]:5070");
    assert_eq!(u.host(), &Host::Ipv6("2001:db8::10".parse().unwrap()));
    assert_eq!(u.port(), Some(5070));
    assert_eq!(u.host_port(), "[2001:db8::10]:5070");
    assert_eq!(
        u.socket_addr(),
        Some(SocketAddr::new(
            "2001:db8::10".parse::<IpAddr>().unwrap(),
            5070
        ))
    );
    let u = sip("sip:[2001:db8::10:5070]");
    assert_eq!(u.port(), None);
    assert!(!equiv("sip:[2001:db8::10]:5070", "sip:[2001:db8::10:5070]"));
    let u = sip("sip:user@[::ffff:192.0.2.10];transport=udp");
    assert_eq!(
        u.host().ip(),
        Some(IpAddr::V6("::ffff:192.0.2.10".parse().unwrap()))
    );
    assert!(equiv("sip:[2001:DB8::10]", "sip:[2001:db8:0::10]"));
    assert_eq!(p("sip:[2001:DB8::10]").to_string(), "sip:[2001:DB8::10]");
    // Missing brackets (RFC 5118 §4.2), unterminated bracket, junk.
    err("sip:2001:db8::10");
    err("sip:user@[2001:db8::10");
    err("sip:user@[2001:db8::10]x");
    err("sip:user@[2001:db8::zz]");
    assert_eq!(
        sip("sip:[::1]").socket_addr(),
        Some(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 5060))
    );
}

#[test]
fn ports() {
    assert_eq!(sip("sip:a@b:0").port(), Some(0));
    assert_eq!(sip("sip:a@b:65535").port(), Some(65535));
    assert_eq!(sip("sip:a@b:05060").port(), Some(5060));
    assert!(err("sip:a@b:65536").contains("port"));
    assert!(err("sip:a@b:").contains("port"));
    assert!(err("sip:a@b:x").contains("port"));
    assert!(err("sip:a@b:-1").contains("port"));
    assert!(err("sip:a@b:4294967301").contains("port"));
    assert!(err("sip:a@b:1:2").contains("port"));
    assert_eq!(sip("sip:a@b").port_or_default(), 5060);
    assert_eq!(sip("sips:a@b").port_or_default(), 5061);
    assert_eq!(sip("sip:a@b;transport=TLS").port_or_default(), 5061);
    assert_eq!(sip("sips:a@b:5070").port_or_default(), 5070);
    assert_eq!(
        sip("sip:10.0.0.1").socket_addr(),
        Some("10.0.0.1:5060".parse().unwrap())
    );
    assert_eq!(sip("sip:example.com:1").socket_addr(), None);
    assert_eq!(sip("sip:example.com").host_port(), "example.com");
}

#[test]
fn params() {
    let u = sip(
        "sip:proxy.example.com;lr;transport=udp;ttl=15;maddr=239.255.255.1;method=INVITE;x=%41;Y",
    );
    assert!(u.lr());
    assert_eq!(u.ttl(), Some(15));
    assert_eq!(u.maddr().as_deref(), Some("239.255.255.1"));
    assert_eq!(u.method(), Some(Method::Invite));
    assert_eq!(u.params().get("X").as_deref(), Some("A"));
    assert_eq!(u.params().raw("x").unwrap(), "%41");
    assert!(u.params().contains("y"));
    assert_eq!(u.params().get("y"), None);
    assert_eq!(u.params().len(), 7);
    assert_eq!(sip("sip:a@b;ttl=256").ttl(), None);
    assert_eq!(sip("sip:a@b;method=%20").method(), None);
    assert_eq!(sip("sip:a@b;maddr=[::1]").maddr().as_deref(), Some("[::1]"));
    err("sip:a@b;");
    err("sip:a@b;;lr");
    err("sip:a@b;x=");
    err("sip:a@b;=x");
    err("sip:a@b;x=a=b");
    err("sip:a@b;x=a@b");
    err("sip:a@b;x=\"q\"");
}

#[test]
fn rejects_malformed() {
    assert!(err("").contains("empty"));
    assert!(err("sip:user@example.com; lr").contains("whitespace"));
    assert!(err(" sip:a@b").contains("whitespace"));
    assert!(err("sip:a@b\r\n").contains("whitespace"));
    assert!(err("sip:a@b\0").contains("control"));
    // RFC 4475 §3.1.2.6: <> enclosing the Request-URI.
    assert!(err("<sip:user@example.com>").contains("angle"));
    assert!(err("alice@example.com").contains("scheme"));
    assert!(err("1sip:a@b").contains("scheme"));
    assert!(err(":a@b").contains("scheme"));
    assert!(err("sip:").contains("host"));
    assert!(err("sip:alice@").contains("host"));
    assert!(err("sip:@example.com").contains("user"));
    assert!(err("sip:;lr").contains("host"));
    assert!(err("sip:a@b@c").contains("host"));
    assert!(err("sip:exa_mple..com").contains("host"));
    assert!(err("sip:al\"ice@b").contains("user"));
    assert!(err("sip:alice:pa;ss@b").contains("password"));
    assert!(err("sip:alicé@b").contains("user"));
    assert!(err("sip:a@hóst").contains("host"));
}

#[test]
fn bad_escapes() {
    for s in [
        "sip:%6Glice@atlanta.com",
        "sip:a%2@atlanta.com",
        "sip:a%@atlanta.com",
        "sip:a:p%zz@atlanta.com",
        "sip:a@b;x=%",
        "sip:a@b;x%4=1",
        "sip:a@b?h=%4",
        "mailto:a%4",
    ] {
        assert!(err(s).contains("escape"), "{s}");
    }
    // An escape cut in the middle of a multi-byte character must not panic.
    assert!("sip:a%é@b".parse::<Uri>().is_err());
    assert!("sip:a%4é@b".parse::<Uri>().is_err());
}

#[test]
fn error_reason_is_phrase() {
    let e = "sip:a@b:x".parse::<Uri>().unwrap_err();
    assert_eq!(e.reason(), "Bad URI: bad port");
    let e = "sip:%zz@b".parse::<Uri>().unwrap_err();
    assert_eq!(e.reason(), "Bad URI: bad escape in user part");
}

#[test]
fn tel_uris() {
    let u = p("tel:+1-201-555-0123");
    let t = u.as_tel().unwrap();
    assert!(t.is_global());
    assert_eq!(t.number(), "+1-201-555-0123");
    assert_eq!(t.digits(), "+12015550123");
    assert_eq!(u.to_string(), "tel:+1-201-555-0123");

    let t: TelUri = "tel:7042;phone-context=example.com".parse().unwrap();
    assert!(!t.is_global());
    assert_eq!(t.phone_context().as_deref(), Some("example.com"));
    let t: TelUri = "tel:863-1234;phone-context=+1-914-555".parse().unwrap();
    assert_eq!(t.phone_context().as_deref(), Some("+1-914-555"));
    let t: TelUri = "tel:+1-201-555-0123;ext=1234;isub=%40x".parse().unwrap();
    assert_eq!(t.params().get("ext").as_deref(), Some("1234"));
    assert_eq!(t.params().get("isub").as_deref(), Some("@x"));
    let t: TelUri = "tel:*23#;phone-context=example.com".parse().unwrap();
    assert_eq!(t.number(), "*23#");

    // RFC 3966 §5.1.5: local numbers need phone-context.
    assert!(err("tel:7042").contains("phone-context"));
    err("tel:");
    err("tel:+");
    err("tel:+1-x");
    err("tel:;phone-context=a");
    err("tel:+1;x=");
    err("tel:+1?h=1");

    // Builders.
    let t = TelUri::global("+1-201-555-0123")
        .unwrap()
        .with_param("ext", Some("22"));
    assert_eq!(t.to_string(), "tel:+1-201-555-0123;ext=22");
    let t = TelUri::local("7042", "example.com").unwrap();
    assert_eq!(t.to_string(), "tel:7042;phone-context=example.com");
    assert_eq!(p(&t.to_string()).as_tel(), Some(&t));
    assert!(TelUri::global("7042").is_err());
    assert!(TelUri::local("+1", "x").is_err());
    assert!("sip:a@b".parse::<TelUri>().is_err());
}

#[test]
fn tel_equivalence() {
    // RFC 3966 §4
    assert!(equiv("tel:+1-201-555-0123", "tel:+1(201)555.0123"));
    assert!(equiv("TEL:+12015550123", "tel:+12015550123"));
    assert!(!equiv("tel:+12015550123", "tel:+12015550124"));
    assert!(equiv(
        "tel:7042;phone-context=example.com",
        "tel:7042;Phone-Context=EXAMPLE.com"
    ));
    assert!(equiv(
        "tel:863-1234;phone-context=+1-914-555",
        "tel:8631234;phone-context=+1914555"
    ));
    assert!(equiv("tel:+1;a=1;b=2", "tel:+1;b=2;a=1"));
    assert!(!equiv("tel:+1;a=1", "tel:+1"));
    assert!(!equiv("tel:+1", "sip:+1@example.com"));
}

#[test]
fn other_schemes() {
    let u = p("http://www.example.com/a?b=c#d");
    assert_eq!(u.scheme(), "http");
    let Uri::Other(a) = &u else { panic!() };
    assert_eq!(a.rest(), "//www.example.com/a?b=c#d");
    assert_eq!(u.to_string(), "http://www.example.com/a?b=c#d");
    assert_eq!(
        p("mailto:watson@bell-telephone.com").to_string(),
        "mailto:watson@bell-telephone.com"
    );
    assert_eq!(p("urn:service:sos").scheme(), "urn");
    assert!(equiv("HTTP://x/%7e", "http://x/~"));
    assert!(!equiv("http://x/%2F", "http://x//"));
    err("http:");
    err("http:a{b}");
    err("im:\"x\"");
    let a = AbsoluteUri::new("im", "alice@example.com").unwrap();
    assert_eq!(a.to_string(), "im:alice@example.com");
    assert_eq!(a.scheme(), "im");
    assert!(AbsoluteUri::new("sip", "a@b").is_err());
    assert!(AbsoluteUri::new("im", "a b").is_err());
}

#[test]
fn builders() {
    let u = SipUri::new(Host::Domain("example.com".into()))
        .with_user("alice")
        .with_port(5070)
        .with_transport("tcp")
        .with_lr()
        .with_param("x", Some("a b"))
        .with_header("Subject", "hi there");
    assert_eq!(
        u.to_string(),
        "sip:alice@example.com:5070;transport=tcp;lr;x=a%20b?Subject=hi%20there"
    );
    assert_eq!(u.params().get("x").as_deref(), Some("a b"));
    let again: Uri = u.to_string().parse().unwrap();
    assert_eq!(again, Uri::Sip(u.clone()));

    let u = SipUri::new(IpAddr::from([10, 0, 0, 1]))
        .secure()
        .with_user("a@b:c")
        .with_password("p@ss");
    assert_eq!(u.to_string(), "sips:a%40b%3Ac:p%40ss@10.0.0.1");
    assert_eq!(u.user().as_deref(), Some("a@b:c"));
    assert_eq!(u.password().as_deref(), Some("p@ss"));

    // A percent sign given to a builder is escaped, not taken as an escape.
    let u = SipUri::new(Host::Domain("h".into())).with_user("100%");
    assert_eq!(u.to_string(), "sip:100%25@h");
    assert_eq!(sip(&u.to_string()).user().as_deref(), Some("100%"));

    // Modifying a parsed URI re-serializes it from its components.
    let mut u = sip("SIP:bob@Biloxi.com:05060;transport=udp");
    assert_eq!(u.to_string(), "SIP:bob@Biloxi.com:05060;transport=udp");
    u.params_mut().set("transport", Some("tcp"));
    assert_eq!(u.to_string(), "sip:bob@Biloxi.com:5060;transport=tcp");
    u.params_mut().remove("transport");
    u.set_user(None);
    u.set_port(None);
    assert_eq!(u.to_string(), "sip:Biloxi.com");
    u.set_host(Host::Ipv6(Ipv6Addr::LOCALHOST));
    u.set_secure(true);
    assert_eq!(u.to_string(), "sips:[::1]");

    // Password without a user is not written.
    let u = SipUri::new(Host::Domain("h".into())).with_password("x");
    assert_eq!(u.to_string(), "sip:h");
    assert!("sip:alice@example.com".parse::<SipUri>().is_ok());
    assert!("tel:+1".parse::<SipUri>().is_err());
}

#[test]
fn request_uri_form() {
    let u = sip("sip:bob@b.com;method=INVITE;lr?Subject=x");
    let r = u.to_request_uri();
    assert_eq!(r.to_string(), "sip:bob@b.com;lr");
    let u = sip("sip:bob@b.com;lr");
    assert_eq!(u.to_request_uri().to_string(), "sip:bob@b.com;lr");
}

#[test]
fn structural_equality_ignores_spelling_of_scheme_and_port() {
    assert_eq!(p("SIP:a@b:05060"), p("sip:a@b:5060"));
    assert_ne!(p("sip:a@b"), p("sips:a@b"));
    assert_eq!(
        Uri::from(SipUri::new(Host::Domain("b".into())).with_user("a")),
        p("sip:a@b")
    );
}

#[test]
fn rfc3261_19_1_4_equivalent() {
    assert!(equiv(
        "sip:%61lice@atlanta.com;transport=TCP",
        "sip:alice@AtLanTa.CoM;Transport=tcp"
    ));
    assert!(equiv(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com;newparam=5"
    ));
    assert!(equiv(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com;security=on"
    ));
    assert!(equiv(
        "sip:carol@chicago.com;newparam=5",
        "sip:carol@chicago.com;security=on"
    ));
    assert!(equiv(
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
    ));
    assert!(equiv(
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
    ));
}

#[test]
fn rfc3261_19_1_4_not_equivalent() {
    assert!(!equiv(
        "SIP:ALICE@AtLanTa.CoM;Transport=udp",
        "sip:alice@AtLanTa.CoM;Transport=UDP"
    ));
    assert!(!equiv("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
    assert!(!equiv(
        "sip:bob@biloxi.com",
        "sip:bob@biloxi.com;transport=udp"
    ));
    assert!(!equiv(
        "sip:bob@biloxi.com",
        "sip:bob@biloxi.com:6000;transport=tcp"
    ));
    assert!(!equiv(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com?Subject=next%20meeting"
    ));
    assert!(!equiv(
        "sip:bob@phone21.boxesbybob.com",
        "sip:bob@192.0.2.4"
    ));
}

#[test]
fn equivalence_details() {
    assert!(!equiv("sip:a@b", "sips:a@b"));
    // user, ttl, method, maddr in only one URI never match.
    for p in [
        "user=phone",
        "ttl=1",
        "method=INVITE",
        "maddr=1.2.3.4",
        "transport=tcp",
    ] {
        assert!(!equiv("sip:a@b", &format!("sip:a@b;{p}")), "{p}");
    }
    assert!(!equiv("sip:a@b;x=1", "sip:a@b;x=2"));
    assert!(!equiv("sip:a@b;lr", "sip:a@b;lr=on"));
    assert!(equiv("sip:a@b;lr", "sip:a@b"));
    assert!(equiv("sip:a@b;x=%41", "sip:a@b;X=a"));
    // Reserved characters differ from their escapes.
    assert!(!equiv("sip:a%3Bb@h", "sip:a;b@h"));
    assert!(equiv("sip:a%3bb@h", "sip:a%3Bb@h"));
    assert!(!equiv("sip:a:x@h", "sip:a:X@h"));
    assert!(!equiv("sip:a:x@h", "sip:a@h"));
    assert!(!equiv("sip:h", "sip:a@h"));
    assert!(!equiv("sip:a@h?x=1", "sip:a@h?x=2"));
    assert!(equiv("sip:a@h?X=1", "sip:a@h?x=1"));
    assert!(!equiv("sip:a@h?x=1&x=1", "sip:a@h?x=1"));
    assert!(!equiv("sip:a@h", "tel:+1"));
    assert!(!equiv("sip:a@h", "http://h"));
}

#[test]
fn percent_helpers() {
    assert_eq!(percent_decode("a%20b"), "a b");
    assert_eq!(percent_decode("a%2"), "a%2");
    assert_eq!(percent_decode("%C3%A9"), "é");
    assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    assert!(matches!(percent_decode("plain"), Cow::Borrowed(_)));
    assert_eq!(percent_encode("a b%é", is_user_byte), "a%20b%25%C3%A9");
}

#[test]
fn zero_copy() {
    // A user part long enough not to be copied inline.
    let t = Text::from(String::from(
        "sip:alice-with-a-long-user-name@example.com;transport=tcp",
    ));
    let Uri::Sip(u) = Uri::parse(&t, &t).unwrap() else {
        panic!()
    };
    assert_eq!(u.user_raw().unwrap().as_ptr(), t[4..].as_ptr());
}

/// The scheme's colon, the first `@`, the first `;`/`?`, the first `;`/`?`
/// after the `@`.
type Found = (usize, Option<usize>, Option<usize>, Option<usize>);

proptest::proptest! {
    #[test]
    fn never_panics_and_round_trips(s in "\\PC{0,40}") {
        if let Ok(u) = s.parse::<Uri>() {
            proptest::prop_assert_eq!(u.to_string(), s.clone());
            let again: Uri = u.to_string().parse().unwrap();
            proptest::prop_assert!(again.equivalent(&u));
        }
    }

    #[test]
    fn sip_like_never_panics(s in "(sips?|tel|SIP):[a-z%0-9@:;=?&\\[\\]+.\\-]{0,30}") {
        if let Ok(u) = s.parse::<Uri>() {
            proptest::prop_assert_eq!(u.to_string(), s.clone());
            proptest::prop_assert!(u.equivalent(&u));
        }
    }

    /// The one-pass scan finds what a search per part finds: the scheme's
    /// colon, the first `@` after it, and the first `;`/`?` after each.
    #[test]
    fn marks_match_one_search_per_part(s in "[a-z@:;?<> \\x01.]{0,24}") {
        let naive = || -> Result<Found, ()> {
            if s.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'<' || b == b'>') {
                return Err(());
            }
            let colon = s.find(':').ok_or(())?;
            let rest = &s[colon + 1..];
            let at = rest.find('@').map(|i| colon + 1 + i);
            let delimiter = rest.find([';', '?']).map(|i| colon + 1 + i);
            let after_at = at.and_then(|a| s[a + 1..].find([';', '?']).map(|i| a + 1 + i));
            Ok((colon, at, delimiter, after_at))
        };
        let scanned = Marks::scan(&s).map(|m| (m.colon, m.at, m.delimiter, m.delimiter_after_at));
        proptest::prop_assert_eq!(scanned.map_err(|_| ()), naive());
    }

    #[test]
    fn built_uris_reparse(user in "\\PC{1,10}", v in "\\PC{1,10}", h in "\\PC{0,10}") {
        let u = SipUri::new(Host::Domain("example.com".into()))
            .with_user(&user)
            .with_param("p", Some(&v))
            .with_header("h", &h);
        let again: SipUri = u.to_string().parse().unwrap();
        proptest::prop_assert_eq!(again.user().map(Cow::into_owned), Some(user.clone()));
        proptest::prop_assert_eq!(again.params().get("p").map(Cow::into_owned), Some(v.clone()));
        proptest::prop_assert_eq!(again.headers().get("h").map(Cow::into_owned), Some(h.clone()));
        proptest::prop_assert_eq!(again, u);
    }
}
