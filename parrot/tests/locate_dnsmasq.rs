//! RFC 3263 location against a real DNS server: dnsmasq (Debian package
//! `dnsmasq-base`, which scripts/test.sh installs) serving NAPTR, SRV and
//! A/AAAA records for test domains on 127.0.0.1 and a free high port,
//! asked through `HickoryResolver::with_nameserver`.
//!
//! The tests fail, with a message saying so, when dnsmasq is not
//! installed. Run them alone with
//! `cargo test -p parrot --test locate_dnsmasq`.

use parrot::locate::{
    CachingResolver, DnsError, DnsResolver, HickoryResolver, LocateError, Locator, ResolverOptions,
};
use parrot::transport::{Protocol, Target};
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use support::dnsmasq::Dnsmasq;

/// The records served: `example.test` prefers TCP, then UDP, then TLS by
/// NAPTR, and has two TCP servers of different priorities; `tls.test`
/// prefers TLS; `srvonly.test` has SRV records and no NAPTR;
/// `plain.test` has only an address.
const RECORDS: &[&str] = &[
    // --naptr-record=<name>,<order>,<preference>,<flags>,<service>,<regexp>,<replacement>
    "--naptr-record=example.test,10,10,S,SIP+D2T,,_sip._tcp.example.test",
    "--naptr-record=example.test,20,10,S,SIP+D2U,,_sip._udp.example.test",
    "--naptr-record=example.test,30,10,S,SIPS+D2T,,_sips._tcp.example.test",
    // --srv-host=<name>,<target>,<port>,<priority>,<weight>
    "--srv-host=_sip._tcp.example.test,sip2.example.test,5072,20,10",
    "--srv-host=_sip._tcp.example.test,sip1.example.test,5071,10,10",
    "--srv-host=_sip._udp.example.test,sip1.example.test,5060,10,10",
    "--srv-host=_sips._tcp.example.test,sip1.example.test,5061,10,10",
    "--naptr-record=tls.test,10,10,S,SIPS+D2T,,_sips._tcp.tls.test",
    "--naptr-record=tls.test,20,10,S,SIP+D2U,,_sip._udp.tls.test",
    "--srv-host=_sips._tcp.tls.test,sip3.example.test,5063,10,10",
    "--srv-host=_sip._udp.tls.test,sip3.example.test,5060,10,10",
    "--srv-host=_sip._udp.srvonly.test,sip1.example.test,5090,10,10",
    // --host-record=<name>,<IPv4>[,<IPv6>]: loopback addresses only.
    "--host-record=sip1.example.test,127.0.0.11",
    "--host-record=sip2.example.test,127.0.0.12,::1",
    "--host-record=sip3.example.test,127.0.0.13",
    "--host-record=plain.test,127.0.0.20",
];

fn t(protocol: Protocol, addr: &str) -> Target {
    Target::new(protocol, addr.parse().unwrap())
}

const ALL: &[Protocol] = &[Protocol::Udp, Protocol::Tcp, Protocol::Tls];

#[tokio::test]
async fn naptr_srv_and_addresses_from_dnsmasq() {
    let dns = Dnsmasq::start(RECORDS);
    let locator = Locator::new(Arc::new(CachingResolver::new(dns.resolver())), ALL);
    let targets = locator
        .locate(&"sip:alice@example.test".parse().unwrap())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", dns.log()));
    assert_eq!(
        targets,
        [
            // NAPTR order 10: TCP, its SRV targets by priority, each
            // target's A then AAAA records.
            t(Protocol::Tcp, "127.0.0.11:5071"),
            t(Protocol::Tcp, "127.0.0.12:5072"),
            t(Protocol::Tcp, "[::1]:5072"),
            // Order 20: UDP; order 30: TLS.
            t(Protocol::Udp, "127.0.0.11:5060"),
            t(Protocol::Tls, "127.0.0.11:5061"),
        ]
    );

    // A client without TLS or TCP never gets them.
    let udp_only = Locator::new(Arc::new(dns.resolver()), &[Protocol::Udp]);
    assert_eq!(
        udp_only
            .locate(&"sip:alice@example.test".parse().unwrap())
            .await
            .unwrap(),
        [t(Protocol::Udp, "127.0.0.11:5060")]
    );
}

#[tokio::test]
async fn tls_naptr_steers_sips_and_tls() {
    let dns = Dnsmasq::start(RECORDS);
    let locator = Locator::new(Arc::new(dns.resolver()), ALL);
    // sips: keeps only the SIPS+D2T record.
    assert_eq!(
        locator
            .locate(&"sips:alice@example.test".parse().unwrap())
            .await
            .unwrap(),
        [t(Protocol::Tls, "127.0.0.11:5061")]
    );
    // A domain whose NAPTR prefers TLS gets sip: requests over TLS first.
    assert_eq!(
        locator
            .locate(&"sip:bob@tls.test".parse().unwrap())
            .await
            .unwrap(),
        [
            t(Protocol::Tls, "127.0.0.13:5063"),
            t(Protocol::Udp, "127.0.0.13:5060"),
        ]
    );
}

#[tokio::test]
async fn srv_and_address_fallbacks() {
    let dns = Dnsmasq::start(RECORDS);
    let locator = Locator::new(Arc::new(dns.resolver()), ALL);
    // No NAPTR: the SRV names of the supported transports.
    assert_eq!(
        locator
            .locate(&"sip:srvonly.test".parse().unwrap())
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", dns.log())),
        [t(Protocol::Udp, "127.0.0.11:5090")]
    );
    // No SRV either: the address at UDP's default port.
    assert_eq!(
        locator
            .locate(&"sip:plain.test".parse().unwrap())
            .await
            .unwrap(),
        [t(Protocol::Udp, "127.0.0.20:5060")]
    );
    // Nothing at all: a negative answer, not a failure.
    assert_eq!(
        locator.locate(&"sip:nothing.test".parse().unwrap()).await,
        Err(LocateError::NotFound {
            domain: "nothing.test".into()
        })
    );
    let direct = dns.resolver();
    assert_eq!(direct.naptr("nothing.test").await, Err(DnsError::NotFound));
    let answers = direct.srv("_sip._tcp.example.test").await.unwrap();
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|a| a.ttl == Duration::from_secs(60)));
}

#[tokio::test]
async fn a_silent_server_times_out_in_time() {
    // A socket that never answers: queries to it go unanswered.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let options = ResolverOptions {
        timeout: Duration::from_millis(300),
        attempts: 2,
    };
    let resolver = HickoryResolver::with_nameserver_options(silent.local_addr().unwrap(), options);
    let started = Instant::now();
    assert_eq!(resolver.naptr("example.test").await, Err(DnsError::Timeout));
    let took = started.elapsed();
    // timeout × attempts, with room for a slow machine.
    assert!(took < Duration::from_millis(600 + 1000), "took {took:?}");

    let locator = Locator::new(Arc::new(resolver), ALL);
    let started = Instant::now();
    assert_eq!(
        locator
            .locate(&"sip:alice@example.test".parse().unwrap())
            .await,
        Err(LocateError::Dns {
            name: "example.test".into(),
            error: DnsError::Timeout
        })
    );
    assert!(started.elapsed() < Duration::from_millis(600 + 1000));
    drop(silent);
}
