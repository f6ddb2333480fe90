use super::*;
use crate::message::StatusCode;
use crate::test_support::seeded_random;
use crate::transport::TransportError;

const UDP_TCP_TLS: &[Protocol] = &[Protocol::Udp, Protocol::Tcp, Protocol::Tls];

fn uri(s: &str) -> Uri {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t(protocol: Protocol, addr: &str) -> Target {
    Target::new(protocol, addr.parse().unwrap())
}

fn locator(dns: StaticResolver, protocols: &[Protocol]) -> Locator {
    Locator::new(Arc::new(dns), protocols).with_random(seeded_random(3))
}

async fn locate(l: &Locator, u: &str) -> Result<Vec<Target>, LocateError> {
    l.locate(&uri(u)).await
}

/// A domain with NAPTR, SRV and address records for every transport.
fn example() -> StaticResolver {
    StaticResolver::new()
        .naptr(
            "example.com",
            [
                Naptr::new(20, 10, "s", "SIP+D2U", "_sip._udp.example.com"),
                Naptr::new(10, 20, "S", "SIP+D2T", "_sip._tcp.example.com"),
                Naptr::new(10, 10, "s", "SIPS+D2T", "_sips._tcp.example.com"),
            ],
        )
        .srv(
            "_sips._tcp.example.com",
            [Srv::new(10, 0, 5061, "tls.example.com.")],
        )
        .srv(
            "_sip._tcp.example.com",
            [
                Srv::new(20, 0, 5080, "backup.example.com."),
                Srv::new(10, 0, 5070, "main.example.com."),
            ],
        )
        .srv(
            "_sip._udp.example.com",
            [Srv::new(10, 0, 5060, "main.example.com.")],
        )
        .host("tls.example.com", [ip("192.0.2.10")])
        .host("main.example.com", [ip("192.0.2.1"), ip("2001:db8::1")])
        .host("backup.example.com", [ip("192.0.2.2")])
        .host("example.com", [ip("192.0.2.100")])
}

#[tokio::test]
async fn naptr_then_srv_then_addresses_in_order() {
    let l = locator(example(), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:alice@example.com").await.unwrap(),
        [
            t(Protocol::Tls, "192.0.2.10:5061"),
            t(Protocol::Tcp, "192.0.2.1:5070"),
            t(Protocol::Tcp, "[2001:db8::1]:5070"),
            t(Protocol::Tcp, "192.0.2.2:5080"),
            t(Protocol::Udp, "192.0.2.1:5060"),
            t(Protocol::Udp, "[2001:db8::1]:5060"),
        ]
    );
}

#[tokio::test]
async fn unsupported_transports_are_filtered_out() {
    let l = locator(example(), &[Protocol::Udp]);
    assert_eq!(
        locate(&l, "sip:alice@example.com").await.unwrap(),
        [
            t(Protocol::Udp, "192.0.2.1:5060"),
            t(Protocol::Udp, "[2001:db8::1]:5060"),
        ]
    );
}

#[tokio::test]
async fn sips_goes_over_tls_only() {
    let l = locator(example(), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sips:alice@example.com").await.unwrap(),
        [t(Protocol::Tls, "192.0.2.10:5061")]
    );
    // A client without TLS cannot reach a sips: URI.
    let l = locator(example(), &[Protocol::Udp, Protocol::Tcp]);
    assert!(matches!(
        locate(&l, "sips:alice@example.com").await,
        Err(LocateError::Unsupported(_))
    ));
}

#[tokio::test]
async fn without_naptr_the_supported_srv_names_are_tried() {
    let dns = StaticResolver::new()
        .srv(
            "_sip._udp.example.org",
            [Srv::new(1, 0, 5060, "u.example.org")],
        )
        .srv(
            "_sip._tcp.example.org",
            [Srv::new(1, 0, 5070, "t.example.org")],
        )
        .host("u.example.org", [ip("192.0.2.21")])
        .host("t.example.org", [ip("192.0.2.22")]);
    let l = locator(dns.clone(), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:example.org").await.unwrap(),
        [
            t(Protocol::Tcp, "192.0.2.22:5070"),
            t(Protocol::Udp, "192.0.2.21:5060"),
        ]
    );
    // A NAPTR set with nothing usable counts as none.
    let dns = dns.naptr(
        "example.org",
        [Naptr::new(1, 1, "s", "SIP+D2S", "_sip._sctp.example.org")],
    );
    let l = locator(dns, &[Protocol::Udp]);
    assert_eq!(
        locate(&l, "sip:example.org").await.unwrap(),
        [t(Protocol::Udp, "192.0.2.21:5060")]
    );
}

#[tokio::test]
async fn without_srv_the_domain_address_at_the_default_port() {
    let dns = StaticResolver::new().host("example.net", [ip("192.0.2.30")]);
    let l = locator(dns, UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:example.net").await.unwrap(),
        [t(Protocol::Udp, "192.0.2.30:5060")]
    );
    assert_eq!(
        locate(&l, "sips:example.net").await.unwrap(),
        [t(Protocol::Tls, "192.0.2.30:5061")]
    );
    // §4.2: the transport NAPTR chose, at its default port, when its SRV
    // name has no records.
    let dns = StaticResolver::new()
        .naptr(
            "example.net",
            [Naptr::new(1, 1, "s", "SIP+D2T", "_sip._tcp.example.net")],
        )
        .host("example.net", [ip("192.0.2.30")]);
    let l = locator(dns, UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:example.net").await.unwrap(),
        [t(Protocol::Tcp, "192.0.2.30:5060")]
    );
    let l = locator(StaticResolver::new(), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:nowhere.example").await,
        Err(LocateError::NotFound {
            domain: "nowhere.example".into()
        })
    );
}

#[tokio::test]
async fn explicit_port_skips_naptr_and_srv() {
    let l = locator(example(), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:example.com:5099").await.unwrap(),
        [t(Protocol::Udp, "192.0.2.100:5099")]
    );
    assert_eq!(
        locate(&l, "sips:example.com:5099").await.unwrap(),
        [t(Protocol::Tls, "192.0.2.100:5099")]
    );
}

#[tokio::test]
async fn transport_parameter_skips_naptr() {
    let l = locator(example(), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:example.com;transport=udp").await.unwrap(),
        [
            t(Protocol::Udp, "192.0.2.1:5060"),
            t(Protocol::Udp, "[2001:db8::1]:5060"),
        ]
    );
    // No SRV records for the transport: the address at its default port.
    let dns = StaticResolver::new().host("example.net", [ip("192.0.2.30")]);
    let l = locator(dns, UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:example.net;transport=tls").await.unwrap(),
        [t(Protocol::Tls, "192.0.2.30:5061")]
    );
}

#[tokio::test]
async fn numeric_ip_and_maddr_skip_dns() {
    // An empty table answers nothing: these need no lookup.
    let l = locator(StaticResolver::new(), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:bob@192.0.2.50").await.unwrap(),
        [t(Protocol::Udp, "192.0.2.50:5060")]
    );
    assert_eq!(
        locate(&l, "sip:bob@[2001:db8::50]:5070;transport=tcp")
            .await
            .unwrap(),
        [t(Protocol::Tcp, "[2001:db8::50]:5070")]
    );
    assert_eq!(
        locate(&l, "sip:bob@example.com;maddr=192.0.2.51")
            .await
            .unwrap(),
        [t(Protocol::Udp, "192.0.2.51:5060")]
    );
    // A maddr domain is located in place of the host.
    let l = locator(example(), &[Protocol::Udp]);
    assert_eq!(
        locate(&l, "sip:bob@elsewhere.example;maddr=example.com")
            .await
            .unwrap(),
        [
            t(Protocol::Udp, "192.0.2.1:5060"),
            t(Protocol::Udp, "[2001:db8::1]:5060"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn failed_targets_come_last_for_a_while() {
    let l = locator(example(), &[Protocol::Tcp]).with_failure_memory(Duration::from_secs(30));
    let main = t(Protocol::Tcp, "192.0.2.1:5070");
    l.failed(&main);
    assert!(l.is_failed(&main));
    assert_eq!(
        locate(&l, "sip:example.com").await.unwrap(),
        [
            t(Protocol::Tcp, "[2001:db8::1]:5070"),
            t(Protocol::Tcp, "192.0.2.2:5080"),
            main,
        ]
    );
    tokio::time::advance(Duration::from_secs(31)).await;
    assert!(!l.is_failed(&main));
    assert_eq!(locate(&l, "sip:example.com").await.unwrap()[0], main);
}

#[tokio::test]
async fn naptr_replacement_loops_are_cut() {
    let dns = StaticResolver::new()
        .naptr("a.example", [Naptr::new(1, 1, "", "", "b.example.")])
        .naptr("b.example", [Naptr::new(1, 1, "", "", "A.example")]);
    let l = locator(dns, UDP_TCP_TLS);
    let e = locate(&l, "sip:a.example").await.unwrap_err();
    assert_eq!(
        e,
        LocateError::Loop {
            chain: vec!["a.example".into(), "b.example".into(), "a.example".into()]
        }
    );
    assert!(
        e.to_string()
            .contains("a.example -> b.example -> a.example")
    );
}

#[tokio::test]
async fn lookups_are_bounded() {
    let mut dns = StaticResolver::new();
    for i in 0..100 {
        let next = format!("n{}.example", i + 1);
        dns = dns.naptr(&format!("n{i}.example"), [Naptr::new(1, 1, "", "", &next)]);
    }
    let l = locator(dns, UDP_TCP_TLS).with_max_lookups(10);
    assert_eq!(
        locate(&l, "sip:n0.example").await,
        Err(LocateError::TooManyLookups {
            domain: "n0.example".into(),
            limit: 10
        })
    );
}

#[tokio::test]
async fn non_terminal_naptr_is_followed() {
    let dns = StaticResolver::new()
        .naptr("example.com", [Naptr::new(1, 1, "", "", "sip.example.net")])
        .naptr(
            "sip.example.net",
            [Naptr::new(1, 1, "s", "SIP+D2U", "_sip._udp.example.net")],
        )
        .srv(
            "_sip._udp.example.net",
            [Srv::new(1, 1, 5062, "192.0.2.77")],
        );
    let l = locator(dns, UDP_TCP_TLS);
    // An SRV target written as an address needs no lookup.
    assert_eq!(
        locate(&l, "sip:example.com").await.unwrap(),
        [t(Protocol::Udp, "192.0.2.77:5062")]
    );
}

#[tokio::test]
async fn srv_targets_without_address_are_skipped() {
    let dns = StaticResolver::new()
        .srv(
            "_sip._udp.example.com",
            [
                Srv::new(1, 0, 5060, "gone.example.com"),
                Srv::new(2, 0, 5060, "here.example.com"),
            ],
        )
        .host("here.example.com", [ip("192.0.2.5")]);
    let l = locator(dns, &[Protocol::Udp]);
    assert_eq!(
        locate(&l, "sip:example.com").await.unwrap(),
        [t(Protocol::Udp, "192.0.2.5:5060")]
    );

    let nowhere = StaticResolver::new()
        .srv(
            "_sip._udp.example.com",
            [Srv::new(1, 0, 5060, "gone.example.com")],
        )
        .srv("_sip._tcp.example.com", [Srv::new(1, 0, 5060, ".")])
        .host("example.com", [ip("192.0.2.100")]);
    let l = locator(nowhere, UDP_TCP_TLS);
    // SRV records exist, so no fallback to the domain's address.
    assert_eq!(
        locate(&l, "sip:example.com").await,
        Err(LocateError::NoAddress {
            domain: "example.com".into()
        })
    );
}

#[tokio::test]
async fn duplicate_targets_are_listed_once() {
    let dns = StaticResolver::new()
        .srv(
            "_sip._udp.example.com",
            [
                Srv::new(1, 0, 5060, "a.example.com"),
                Srv::new(2, 0, 5060, "b.example.com"),
            ],
        )
        .host("a.example.com", [ip("192.0.2.5")])
        .host("b.example.com", [ip("192.0.2.5"), ip("192.0.2.6")]);
    let l = locator(dns, &[Protocol::Udp]);
    assert_eq!(
        locate(&l, "sip:example.com").await.unwrap(),
        [
            t(Protocol::Udp, "192.0.2.5:5060"),
            t(Protocol::Udp, "192.0.2.6:5060"),
        ]
    );
}

/// A resolver failing every lookup of some names.
struct Failing {
    table: StaticResolver,
    fail: Vec<(&'static str, DnsError)>,
}

impl Failing {
    fn answer<'a, T: Send + 'a>(&self, name: &str, table: DnsFuture<'a, T>) -> DnsFuture<'a, T> {
        match self.fail.iter().find(|(n, _)| *n == name) {
            Some((_, e)) => Box::pin(std::future::ready(Err(e.clone()))),
            None => table,
        }
    }
}

impl DnsResolver for Failing {
    fn naptr<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Naptr> {
        self.answer(name, DnsResolver::naptr(&self.table, name))
    }
    fn srv<'a>(&'a self, name: &'a str) -> DnsFuture<'a, Srv> {
        self.answer(name, DnsResolver::srv(&self.table, name))
    }
    fn ip<'a>(&'a self, name: &'a str) -> DnsFuture<'a, IpAddr> {
        self.answer(name, DnsResolver::ip(&self.table, name))
    }
}

#[tokio::test]
async fn dns_failures() {
    // A NAPTR timeout ends the procedure: nothing answers.
    let dns = Failing {
        table: example(),
        fail: vec![("example.com", DnsError::Timeout)],
    };
    let l = Locator::new(Arc::new(dns), UDP_TCP_TLS);
    assert_eq!(
        locate(&l, "sip:example.com").await,
        Err(LocateError::Dns {
            name: "example.com".into(),
            error: DnsError::Timeout
        })
    );

    // A failed SRV lookup is no proof of absence: no fallback to A.
    let dns = Failing {
        table: StaticResolver::new().host("example.org", [ip("192.0.2.1")]),
        fail: vec![("_sip._udp.example.org", DnsError::Failed("SERVFAIL".into()))],
    };
    let l = Locator::new(Arc::new(dns), &[Protocol::Udp]);
    assert_eq!(
        locate(&l, "sip:example.org").await,
        Err(LocateError::Dns {
            name: "_sip._udp.example.org".into(),
            error: DnsError::Failed("SERVFAIL".into())
        })
    );

    // A target whose lookup fails is skipped while others answer.
    let dns = Failing {
        table: example(),
        fail: vec![("main.example.com.", DnsError::Timeout)],
    };
    let l = Locator::new(Arc::new(dns), &[Protocol::Tcp]);
    assert_eq!(
        locate(&l, "sip:example.com").await.unwrap(),
        [t(Protocol::Tcp, "192.0.2.2:5080")]
    );
}

#[tokio::test]
async fn static_aliases() {
    let dns = StaticResolver::new()
        .cname("sip.example.com", "host.example.com")
        .host("host.example.com", [ip("192.0.2.8")])
        .cname("x.example", "y.example")
        .cname("y.example", "x.example");
    assert_eq!(
        dns.ip("SIP.example.com.").await.unwrap()[0].record,
        ip("192.0.2.8")
    );
    assert_eq!(dns.ip("x.example").await, Err(DnsError::Loop));
    assert_eq!(
        DnsResolver::srv(&dns, "host.example.com").await,
        Err(DnsError::NotFound)
    );
}

#[test]
fn errors_stand_for_503() {
    let e = LocateError::NotFound {
        domain: "example.com".into(),
    };
    assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
    let t: TransportError = e.into();
    assert!(matches!(t, TransportError::Resolve(ref m) if m.contains("example.com")));
}

#[test]
fn locator_is_shareable_and_its_future_sendable() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let l = locator(example(), UDP_TCP_TLS);
    send_sync(&l);
    let u = uri("sip:example.com");
    send(l.locate(&u));
}

#[tokio::test]
async fn a_sent_by_is_located_by_srv_without_a_port_and_by_address_with_one() {
    let l = locator(example(), UDP_TCP_TLS);
    let sent_by = |host, port, protocol| {
        let l = &l;
        async move { l.locate_sent_by(host, port, protocol).await }
    };
    // RFC 3263 §5: no port, the SRV records of the Via's transport (never
    // NAPTR: the TCP records, although NAPTR prefers TLS).
    assert_eq!(
        sent_by("example.com", None, Protocol::Tcp).await.unwrap(),
        [
            t(Protocol::Tcp, "192.0.2.1:5070"),
            t(Protocol::Tcp, "[2001:db8::1]:5070"),
            t(Protocol::Tcp, "192.0.2.2:5080"),
        ]
    );
    assert_eq!(
        sent_by("example.com", None, Protocol::Tls).await.unwrap(),
        [t(Protocol::Tls, "192.0.2.10:5061")]
    );
    // A port: the host's own addresses, SRV ignored.
    assert_eq!(
        sent_by("example.com", Some(5099), Protocol::Udp)
            .await
            .unwrap(),
        [t(Protocol::Udp, "192.0.2.100:5099")]
    );
    // No SRV records: the host's addresses at the default port.
    assert_eq!(
        sent_by("main.example.com", None, Protocol::Tls)
            .await
            .unwrap(),
        [
            t(Protocol::Tls, "192.0.2.1:5061"),
            t(Protocol::Tls, "[2001:db8::1]:5061"),
        ]
    );
    // A numeric sent-by needs no DNS.
    assert_eq!(
        sent_by("[2001:db8::9]", None, Protocol::Udp).await.unwrap(),
        [t(Protocol::Udp, "[2001:db8::9]:5060")]
    );
    assert_eq!(
        sent_by("nowhere.example", None, Protocol::Udp).await,
        Err(LocateError::NotFound {
            domain: "nowhere.example".into()
        })
    );
    // As the transport's hook: addresses, and a resolve error when none.
    let hook: &dyn SentByResolver = &l;
    assert_eq!(
        hook.servers("example.com", Some(5099), Protocol::Tcp)
            .await
            .unwrap(),
        ["192.0.2.100:5099".parse::<SocketAddr>().unwrap()]
    );
    assert!(matches!(
        hook.servers("nowhere.example", None, Protocol::Tcp).await,
        Err(TransportError::Resolve(_))
    ));
}
