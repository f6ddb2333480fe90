use super::*;
use crate::test_support::seeded_random;

const ALL: &[Protocol] = &[Protocol::Udp, Protocol::Tcp, Protocol::Tls];

fn uri(s: &str) -> Uri {
    s.parse().unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn naptr(order: u16, preference: u16, service: &str, replacement: &str) -> Naptr {
    Naptr::new(order, preference, "s", service, replacement)
}

fn query(protocol: Protocol, name: &str) -> SrvQuery {
    SrvQuery {
        protocol,
        name: name.to_owned(),
    }
}

#[test]
fn numeric_ip_needs_no_dns() {
    // §4.2: a numeric IP is the address; §4.1: UDP for sip:, TLS for sips:.
    assert_eq!(
        plan(&uri("sip:alice@192.0.2.1"), ALL).unwrap(),
        Plan::Direct(Target::udp(addr("192.0.2.1:5060")))
    );
    assert_eq!(
        plan(&uri("sips:alice@192.0.2.1"), ALL).unwrap(),
        Plan::Direct(Target::new(Protocol::Tls, addr("192.0.2.1:5061")))
    );
    assert_eq!(
        plan(&uri("sip:[2001:db8::1]:5070;transport=tcp"), ALL).unwrap(),
        Plan::Direct(Target::tcp(addr("[2001:db8::1]:5070")))
    );
}

#[test]
fn explicit_port_means_address_lookup_only() {
    assert_eq!(
        plan(&uri("sip:example.com:5070"), ALL).unwrap(),
        Plan::Address {
            host: "example.com".into(),
            port: 5070,
            protocol: Protocol::Udp
        }
    );
    assert_eq!(
        plan(&uri("sips:example.com:5071"), ALL).unwrap(),
        Plan::Address {
            host: "example.com".into(),
            port: 5071,
            protocol: Protocol::Tls
        }
    );
    // Without UDP, the first of TCP and TLS the client supports.
    assert_eq!(
        plan(
            &uri("sip:example.com:5070"),
            &[Protocol::Tls, Protocol::Tcp]
        )
        .unwrap(),
        Plan::Address {
            host: "example.com".into(),
            port: 5070,
            protocol: Protocol::Tcp
        }
    );
}

#[test]
fn transport_parameter_means_srv_for_that_transport() {
    assert_eq!(
        plan(&uri("sip:example.com;transport=tcp"), ALL).unwrap(),
        Plan::Srv {
            host: "example.com".into(),
            query: query(Protocol::Tcp, "_sip._tcp.example.com")
        }
    );
    // §4.2: a sip: URI over TLS uses the _sips service too.
    assert_eq!(
        plan(&uri("sip:example.com;transport=TLS"), ALL).unwrap(),
        Plan::Srv {
            host: "example.com".into(),
            query: query(Protocol::Tls, "_sips._tcp.example.com")
        }
    );
    // A sips: URI over TCP is TLS.
    assert_eq!(
        plan(&uri("sips:example.com;transport=tcp"), ALL).unwrap(),
        Plan::Srv {
            host: "example.com".into(),
            query: query(Protocol::Tls, "_sips._tcp.example.com")
        }
    );
}

#[test]
fn neither_transport_nor_port_means_naptr() {
    assert_eq!(
        plan(&uri("sips:bob@Example.COM"), ALL).unwrap(),
        Plan::Naptr {
            host: "Example.COM".into(),
            secure: true
        }
    );
}

#[test]
fn maddr_overrides_the_host() {
    assert_eq!(
        plan(&uri("sip:alice@example.com;maddr=192.0.2.9"), ALL).unwrap(),
        Plan::Direct(Target::udp(addr("192.0.2.9:5060")))
    );
    assert_eq!(
        plan(&uri("sip:alice@example.com:5080;maddr=[2001:db8::9]"), ALL).unwrap(),
        Plan::Direct(Target::udp(addr("[2001:db8::9]:5080")))
    );
    assert_eq!(
        plan(&uri("sip:alice@example.com;maddr=proxy.example.net"), ALL).unwrap(),
        Plan::Naptr {
            host: "proxy.example.net".into(),
            secure: false
        }
    );
}

#[test]
fn unusable_uris_are_refused() {
    for (u, supported) in [
        ("tel:+15551234567", ALL),
        ("sips:example.com;transport=udp", ALL),
        ("sip:example.com;transport=sctp", ALL),
        ("sip:example.com;transport=tcp", &[Protocol::Udp][..]),
        ("sips:192.0.2.1", &[Protocol::Udp, Protocol::Tcp][..]),
        ("sip:192.0.2.1", &[Protocol::Ws][..]),
        ("sips:example.com", &[Protocol::Udp, Protocol::Tcp][..]),
    ] {
        let e = plan(&uri(u), supported).unwrap_err();
        assert!(matches!(e, LocateError::Unsupported(_)), "{u}: {e:?}");
    }
}

#[test]
fn naptr_services() {
    assert_eq!(naptr_protocol("SIP+D2U", false), Some(Protocol::Udp));
    assert_eq!(naptr_protocol("sip+d2t", false), Some(Protocol::Tcp));
    assert_eq!(naptr_protocol("SIPS+D2T", false), Some(Protocol::Tls));
    assert_eq!(naptr_protocol("SIP+D2W", false), Some(Protocol::Ws));
    assert_eq!(naptr_protocol("SIPS+D2W", false), Some(Protocol::Wss));
    assert_eq!(naptr_protocol("SIP+D2S", false), None);
    // §4.1: a sips: URI keeps only SIPS services.
    assert_eq!(naptr_protocol("SIP+D2U", true), None);
    assert_eq!(naptr_protocol("SIP+D2T", true), None);
    assert_eq!(naptr_protocol("SIP+D2W", true), None);
    assert_eq!(naptr_protocol("SIPS+D2T", true), Some(Protocol::Tls));
    assert_eq!(naptr_protocol("SIPS+D2W", true), Some(Protocol::Wss));
}

#[test]
fn naptr_by_order_then_preference() {
    let records = [
        naptr(20, 10, "SIP+D2U", "_sip._udp.example.com"),
        naptr(10, 50, "SIP+D2T", "_sip._tcp.example.com"),
        naptr(10, 10, "SIPS+D2T", "_sips._tcp.example.com"),
    ];
    assert_eq!(
        choose_naptr(&records, false, ALL),
        NaptrChoice::Srv(vec![
            query(Protocol::Tls, "_sips._tcp.example.com"),
            query(Protocol::Tcp, "_sip._tcp.example.com"),
            query(Protocol::Udp, "_sip._udp.example.com"),
        ])
    );
}

#[test]
fn naptr_of_unsupported_transports_is_discarded() {
    let records = [
        naptr(10, 10, "SIPS+D2T", "_sips._tcp.example.com"),
        naptr(20, 10, "SIP+D2S", "_sip._sctp.example.com"),
        naptr(30, 10, "SIP+D2U", "_sip._udp.example.com"),
        Naptr::new(5, 10, "u", "SIP+D2T", "!^.*$!sip:x@example.com!"),
        naptr(5, 10, "SIP+D2T", "."),
    ];
    assert_eq!(
        choose_naptr(&records, false, &[Protocol::Udp, Protocol::Tcp]),
        NaptrChoice::Srv(vec![query(Protocol::Udp, "_sip._udp.example.com")])
    );
    assert_eq!(
        choose_naptr(&records, false, &[Protocol::Tcp]),
        NaptrChoice::None
    );
}

#[test]
fn sips_naptr_is_tls_only() {
    let records = [
        naptr(10, 10, "SIP+D2U", "_sip._udp.example.com"),
        naptr(10, 20, "SIP+D2T", "_sip._tcp.example.com"),
        naptr(30, 10, "SIPS+D2T", "_sips._tcp.example.com"),
    ];
    assert_eq!(
        choose_naptr(&records, true, ALL),
        NaptrChoice::Srv(vec![query(Protocol::Tls, "_sips._tcp.example.com")])
    );
    assert_eq!(choose_naptr(&records[..2], true, ALL), NaptrChoice::None);
}

#[test]
fn non_terminal_naptr_names_the_next_key() {
    let records = [
        Naptr::new(10, 10, "", "", "sip.example.net"),
        naptr(20, 10, "SIP+D2U", "_sip._udp.example.com"),
    ];
    assert_eq!(
        choose_naptr(&records, false, ALL),
        NaptrChoice::Next("sip.example.net".into())
    );
}

#[test]
fn srv_fallback_names() {
    assert_eq!(
        srv_fallback("example.com", false, ALL),
        [
            query(Protocol::Tls, "_sips._tcp.example.com"),
            query(Protocol::Tcp, "_sip._tcp.example.com"),
            query(Protocol::Udp, "_sip._udp.example.com"),
        ]
    );
    assert_eq!(
        srv_fallback("example.com", true, ALL),
        [query(Protocol::Tls, "_sips._tcp.example.com")]
    );
    assert_eq!(
        srv_fallback("example.com", false, &[Protocol::Udp]),
        [query(Protocol::Udp, "_sip._udp.example.com")]
    );
    assert!(srv_fallback("example.com", true, &[Protocol::Udp]).is_empty());
}

fn targets(records: &[Srv]) -> Vec<&str> {
    records.iter().map(|r| r.target.as_str()).collect()
}

#[test]
fn srv_by_priority() {
    let records = vec![
        Srv::new(30, 10, 5060, "c"),
        Srv::new(10, 0, 5060, "a"),
        Srv::new(20, 100, 5060, "b"),
        Srv::new(10, 0, 5060, "."),
    ];
    let mut random = seeded_random(1);
    assert_eq!(targets(&order_srv(records, &mut random)), ["a", "b", "c"]);
}

#[test]
fn srv_weights_share_first_place() {
    // RFC 2782: within a priority a record comes first with a chance
    // proportional to its weight. Over 0..=100, the running sums 60, 90,
    // 100 give 61, 30 and 10 of the 101 draws.
    let records = vec![
        Srv::new(10, 60, 5060, "a"),
        Srv::new(10, 30, 5060, "b"),
        Srv::new(10, 10, 5060, "c"),
        Srv::new(20, 50, 5060, "z"),
    ];
    let mut random = seeded_random(42);
    let mut first = [0u32; 3];
    for _ in 0..10_000 {
        let order = order_srv(records.clone(), &mut random);
        assert_eq!(order.len(), 4);
        assert_eq!(order[3].target, "z", "lower priority always last");
        first[(order[0].target.as_bytes()[0] - b'a') as usize] += 1;
    }
    let share = |n: u32| f64::from(n) / 10_000.0;
    assert!((share(first[0]) - 61.0 / 101.0).abs() < 0.02, "{first:?}");
    assert!((share(first[1]) - 30.0 / 101.0).abs() < 0.02, "{first:?}");
    assert!((share(first[2]) - 10.0 / 101.0).abs() < 0.02, "{first:?}");
}

#[test]
fn srv_weight_zero_has_a_small_chance() {
    let records = vec![
        Srv::new(10, 100, 5060, "heavy"),
        Srv::new(10, 0, 5060, "zero"),
    ];
    let mut random = seeded_random(7);
    let zero_first = (0..10_000)
        .filter(|_| order_srv(records.clone(), &mut random)[0].target == "zero")
        .count();
    // Drawn 0 out of 0..=100: about 1 in 101.
    assert!((50..200).contains(&zero_first), "{zero_first}");
    // All weights zero: DNS order.
    let zeros = vec![Srv::new(10, 0, 1, "x"), Srv::new(10, 0, 2, "y")];
    assert_eq!(targets(&order_srv(zeros, &mut random)), ["x", "y"]);
}

#[test]
fn failed_targets_go_last_in_order() {
    let t = |p: u16| Target::udp(SocketAddr::new([192, 0, 2, 1].into(), p));
    let list = vec![t(1), t(2), t(3), t(4), t(2)];
    let list = dedup(list);
    assert_eq!(list, [t(1), t(2), t(3), t(4)]);
    let out = failed_last(list, |x| x.addr.port() % 2 == 1);
    assert_eq!(out, [t(2), t(4), t(1), t(3)]);
}
