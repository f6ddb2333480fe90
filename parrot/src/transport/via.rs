//! The Via rules of the transport layer, as pure functions: stamping
//! `received`/`rport` on received requests (RFC 3261 §18.2.1, RFC 3581 §4),
//! choosing where a response goes (RFC 3261 §18.2.2, RFC 3581 §4) and
//! rewriting the transport of a request switched to TCP (§18.1.1).

use super::Protocol;
use crate::message::typed::Via;
use crate::message::{Headers, Host, ParseError, ParseErrorKind};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// Stamps a received request's Via with its packet source (RFC 3261
/// §18.2.1, RFC 3581 §4). Returns whether the Via changed.
///
/// * An empty `rport` is filled with the source port.
/// * `received=<source IP>` is added when the sent-by host is a domain name
///   or an IP address other than the source, and always when `rport` is
///   present. A `received` the sender wrote itself is overwritten: it would
///   otherwise steer responses away from the real source.
pub fn stamp_via(via: &mut Via, source: SocketAddr) -> bool {
    let stamp = Stamp::of(via, source);
    if let Some(port) = stamp.rport {
        via.set_rport(port);
    }
    if let Some(ip) = stamp.received {
        via.set_received(ip);
    }
    !stamp.is_empty()
}

/// What [`stamp_via`] changes, worked out without touching the Via, so that
/// the common case (nothing to change) needs no copy of a borrowed one.
struct Stamp {
    rport: Option<u16>,
    received: Option<IpAddr>,
}

impl Stamp {
    fn of(via: &Via, source: SocketAddr) -> Stamp {
        let ip = source.ip().to_canonical();
        let rport = via.rport();
        // RFC 3581 §4: "the server MUST set the value of the parameter to
        // the source port of the request".
        let fill = (rport == Some(None)).then_some(source.port());
        let differs = via.host.ip().is_none_or(|h| h.to_canonical() != ip);
        // RFC 3581 §4: with rport, received is added "even if it is
        // identical to the value of the sent-by component".
        let wanted = differs || rport.is_some() || via.params.contains("received");
        Stamp {
            rport: fill,
            received: (wanted && via.received() != Some(ip)).then_some(ip),
        }
    }

    fn is_empty(&self) -> bool {
        self.rport.is_none() && self.received.is_none()
    }
}

/// Applies [`stamp_via`] to the top Via of `headers` and writes it back if
/// it changed (other Via values are left untouched). The decoded Via the
/// parser cached is read and, after a change, updated with it, so later
/// readers of the top Via do not decode it again.
pub fn stamp_top_via(headers: &mut Headers, source: SocketAddr) -> Result<bool, ParseError> {
    let via = top_via(headers)?;
    if Stamp::of(&via, source).is_empty() {
        return Ok(false);
    }
    let mut via = via.into_owned();
    stamp_via(&mut via, source);
    headers.replace_top_via(via);
    Ok(true)
}

/// Sets the transport of the top Via to `protocol`, as a request switched
/// from UDP to TCP must say (RFC 3261 §18.1.1). Returns whether it changed.
pub fn set_top_via_transport(
    headers: &mut Headers,
    protocol: Protocol,
) -> Result<bool, ParseError> {
    let via = top_via(headers)?;
    let transport = protocol.via_transport();
    if via.transport == transport {
        return Ok(false);
    }
    let mut via = via.into_owned();
    via.transport = transport;
    headers.replace_top_via(via);
    Ok(true)
}

/// The top Via of `headers`, decoded (the parser's cached copy if any).
pub(crate) fn top_via(headers: &Headers) -> Result<Cow<'_, Via>, ParseError> {
    headers.top_via_decoded().unwrap_or_else(|| {
        Err(ParseError::new(
            ParseErrorKind::MissingHeader,
            "Missing Via header",
        ))
    })
}

/// Where a response goes when it is not (or cannot be) sent over the
/// connection its request arrived on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseDestination {
    /// The host: an IP address, or a domain name to resolve.
    pub host: Host,
    /// The port.
    pub port: u16,
    /// The multicast TTL to use, when `host` is a multicast `maddr`
    /// (the `ttl` parameter, or 1; RFC 3261 §18.2.2).
    pub ttl: Option<u8>,
}

/// Computes where a response goes from its top Via (RFC 3261 §18.2.2,
/// RFC 3581 §4), for use when there is no open connection to answer on.
///
/// Reliable transports (TCP, TLS, SCTP, WS): the `received` address if
/// present, else the sent-by host, at the sent-by port or the transport's
/// default port. (`rport` is deliberately not used here: for a stream it is
/// the ephemeral source port of a connection that is gone; RFC 3581 §4
/// applies it to unreliable transports only.)
///
/// Unreliable transports (UDP), in order:
/// 1. `maddr`: that address, at the sent-by port or 5060 (with the `ttl`
///    for a multicast address);
/// 2. `received` and an `rport` value: `received:rport` (RFC 3581 §4);
/// 3. `received`: that address at the sent-by port or 5060;
/// 4. otherwise the sent-by host and port (5060 by default); an `rport`
///    value without `received` (which RFC 3581 servers never produce) still
///    gives the port.
pub fn response_destination(via: &Via) -> ResponseDestination {
    let default_port = via.transport.default_port().unwrap_or(5060);
    let sent_by_port = via.port.unwrap_or(default_port);
    let rport = via.rport().flatten();
    let unicast = |host: Host, port: u16| ResponseDestination {
        host,
        port,
        ttl: None,
    };
    if via.transport.is_reliable() {
        let host = via.received().map_or_else(|| via.host.clone(), Host::from);
        return unicast(host, sent_by_port);
    }
    if let Some(maddr) = via.maddr() {
        let ttl = maddr
            .ip()
            .is_some_and(|ip| ip.is_multicast())
            .then(|| via.ttl().unwrap_or(1));
        return ResponseDestination {
            host: maddr,
            port: sent_by_port,
            ttl,
        };
    }
    match (via.received(), rport) {
        (Some(ip), Some(port)) => unicast(Host::from(ip), port),
        (Some(ip), None) => unicast(Host::from(ip), sent_by_port),
        (None, Some(port)) => unicast(via.host.clone(), port),
        (None, None) => unicast(via.host.clone(), sent_by_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::typed::TypedHeader;
    use crate::message::{Header, HeaderName};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn via(s: &str) -> Via {
        Via::parse_str(s).unwrap()
    }

    fn stamped(s: &str, source: &str) -> String {
        let mut v = via(s);
        stamp_via(&mut v, source.parse().unwrap());
        v.to_string()
    }

    fn dest(s: &str) -> (String, u16, Option<u8>) {
        let d = response_destination(&via(s));
        (d.host.to_string(), d.port, d.ttl)
    }

    #[test]
    fn received_only_when_sent_by_differs() {
        // §18.2.1: same IP, no rport: untouched.
        let mut v = via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1");
        assert!(!stamp_via(&mut v, "192.0.2.1:5060".parse().unwrap()));
        assert_eq!(v.to_string(), "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1");
        // Different IP.
        assert_eq!(
            stamped("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", "198.51.100.7:4000"),
            "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;received=198.51.100.7"
        );
        // A domain name always gets received.
        assert_eq!(
            stamped(
                "SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK1",
                "192.0.2.1:5060"
            ),
            "SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bK1;received=192.0.2.1"
        );
        // Same IP, different port, no rport: nothing (§18.2.1 compares hosts).
        assert_eq!(
            stamped(
                "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1",
                "192.0.2.1:1234"
            ),
            "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1"
        );
    }

    #[test]
    fn rport_filled_and_received_forced() {
        // RFC 3581 §4 example: received added even though identical.
        assert_eq!(
            stamped(
                "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bK1",
                "10.1.1.1:4540"
            ),
            "SIP/2.0/UDP 10.1.1.1:4540;rport=4540;branch=z9hG4bK1;received=10.1.1.1"
        );
        // Behind a NAT.
        assert_eq!(
            stamped(
                "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bK1",
                "192.0.2.1:9988"
            ),
            "SIP/2.0/UDP 10.1.1.1:4540;rport=9988;branch=z9hG4bK1;received=192.0.2.1"
        );
        // An rport value already there is kept.
        assert_eq!(
            stamped("SIP/2.0/UDP 10.1.1.1;rport=7;branch=z9hG4bK1", "10.1.1.1:9"),
            "SIP/2.0/UDP 10.1.1.1;rport=7;branch=z9hG4bK1;received=10.1.1.1"
        );
        // A forged received is overwritten.
        assert_eq!(
            stamped("SIP/2.0/UDP 10.1.1.1;received=203.0.113.9", "10.1.1.1:9"),
            "SIP/2.0/UDP 10.1.1.1;received=10.1.1.1"
        );
    }

    #[test]
    fn ipv6_stamping() {
        // RFC 5118 §4.5: received holds an IPv6address without brackets.
        assert_eq!(
            stamped(
                "SIP/2.0/UDP [2001:db8::9:1];rport;branch=z9hG4bK1",
                "[2001:db8::9:255]:5066"
            ),
            "SIP/2.0/UDP [2001:db8::9:1];rport=5066;branch=z9hG4bK1;received=2001:db8::9:255"
        );
        assert_eq!(
            stamped("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1", "[::1]:5060"),
            "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1"
        );
        // An IPv4-mapped source (dual-stack socket) compares as IPv4.
        assert_eq!(
            stamped(
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1",
                "[::ffff:192.0.2.1]:5060"
            ),
            "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"
        );
        assert_eq!(
            stamped(
                "SIP/2.0/UDP a.example;branch=z9hG4bK1",
                "[::ffff:192.0.2.1]:5060"
            ),
            "SIP/2.0/UDP a.example;branch=z9hG4bK1;received=192.0.2.1"
        );
    }

    #[test]
    fn stamp_top_only() {
        let mut h = Headers::new();
        h.push(Header::new(
            "v",
            "SIP/2.0/UDP a.example;rport;branch=z9hG4bK1, SIP/2.0/UDP b.example;branch=z9hG4bK2",
        ));
        h.push(Header::new("Via", "SIP/2.0/TCP c.example;branch=z9hG4bK3"));
        assert!(stamp_top_via(&mut h, "192.0.2.1:1000".parse().unwrap()).unwrap());
        let vias: Vec<_> = h.values(HeaderName::Via).collect();
        assert_eq!(
            vias,
            vec![
                "SIP/2.0/UDP a.example;rport=1000;branch=z9hG4bK1;received=192.0.2.1",
                "SIP/2.0/UDP b.example;branch=z9hG4bK2",
                "SIP/2.0/TCP c.example;branch=z9hG4bK3",
            ]
        );
        // Nothing to do: headers untouched (still the compact name).
        let mut h = Headers::new();
        h.push(Header::new("v", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"));
        assert!(!stamp_top_via(&mut h, "192.0.2.1:1".parse().unwrap()).unwrap());
        assert_eq!(h.iter().next().unwrap().name(), "v");
        // Missing or bad Via.
        assert!(stamp_top_via(&mut Headers::new(), "192.0.2.1:1".parse().unwrap()).is_err());
        let mut h = Headers::new();
        h.push(Header::new("Via", "garbage"));
        assert!(stamp_top_via(&mut h, "192.0.2.1:1".parse().unwrap()).is_err());
    }

    #[test]
    fn a_stamped_via_keeps_its_place() {
        let mut h = Headers::new();
        h.push(Header::new(
            "Via",
            "SIP/2.0/UDP a.example;rport;branch=z9hG4bK1",
        ));
        h.push(Header::new("From", "<sip:a@a.example>;tag=1"));
        h.push(Header::new("Via", "SIP/2.0/UDP b.example;branch=z9hG4bK2"));
        assert!(stamp_top_via(&mut h, "192.0.2.1:1000".parse().unwrap()).unwrap());
        let fields: Vec<_> = h
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.value()))
            .collect();
        assert_eq!(
            fields,
            [
                "Via: SIP/2.0/UDP a.example;rport=1000;branch=z9hG4bK1;received=192.0.2.1",
                "From: <sip:a@a.example>;tag=1",
                "Via: SIP/2.0/UDP b.example;branch=z9hG4bK2",
            ]
        );
    }

    #[test]
    fn stamp_keeps_decoded_via() {
        use crate::message::{Message, parse_datagram};
        let raw = "OPTIONS sip:b@example.com SIP/2.0\r\n\
            v: SIP/2.0/UDP a.example;rport;branch=z9hG4bK1, SIP/2.0/UDP b.example\r\n\
            Max-Forwards: 70\r\nTo: <sip:b@example.com>\r\n\
            From: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\n\
            CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let Message::Request(mut req) = parse_datagram(raw.into()).unwrap() else {
            panic!("not a request")
        };
        assert!(stamp_top_via(&mut req.headers, "192.0.2.1:1000".parse().unwrap()).unwrap());
        let cached = req.headers.top_via().unwrap().into_owned();
        let fresh = req.headers.typed::<Via>().unwrap().unwrap();
        assert_eq!(cached.to_string(), fresh.to_string());
        assert_eq!(cached.received(), Some("192.0.2.1".parse().unwrap()));
        assert!(set_top_via_transport(&mut req.headers, Protocol::Tcp).unwrap());
        let cached = req.headers.top_via().unwrap().into_owned();
        let fresh = req.headers.typed::<Via>().unwrap().unwrap();
        assert_eq!(cached.to_string(), fresh.to_string());
        assert!(cached.transport.is_reliable());
    }

    #[test]
    fn transport_rewrite() {
        let mut h = Headers::new();
        h.push(Header::new(
            "Via",
            "SIP/2.0/UDP a.example:5060;branch=z9hG4bK1;rport",
        ));
        h.push(Header::new("Via", "SIP/2.0/UDP b.example;branch=z9hG4bK2"));
        assert!(set_top_via_transport(&mut h, Protocol::Tcp).unwrap());
        assert!(!set_top_via_transport(&mut h, Protocol::Tcp).unwrap());
        let vias: Vec<_> = h.values(HeaderName::Via).collect();
        assert_eq!(
            vias,
            vec![
                "SIP/2.0/TCP a.example:5060;branch=z9hG4bK1;rport",
                "SIP/2.0/UDP b.example;branch=z9hG4bK2"
            ]
        );
    }

    #[test]
    fn udp_destinations() {
        // §18.2.2: sent-by host and port, 5060 by default.
        assert_eq!(
            dest("SIP/2.0/UDP a.example;branch=z9hG4bK1"),
            ("a.example".into(), 5060, None)
        );
        assert_eq!(
            dest("SIP/2.0/UDP a.example:5070"),
            ("a.example".into(), 5070, None)
        );
        // received, sent-by port.
        assert_eq!(
            dest("SIP/2.0/UDP a.example:5070;received=192.0.2.1"),
            ("192.0.2.1".into(), 5070, None)
        );
        assert_eq!(
            dest("SIP/2.0/UDP a.example;received=192.0.2.1"),
            ("192.0.2.1".into(), 5060, None)
        );
        // RFC 3581 §4: received and rport.
        assert_eq!(
            dest("SIP/2.0/UDP 10.1.1.1:4540;rport=9988;received=192.0.2.1"),
            ("192.0.2.1".into(), 9988, None)
        );
        // An rport without value is ignored.
        assert_eq!(
            dest("SIP/2.0/UDP 10.1.1.1:4540;rport;received=192.0.2.1"),
            ("192.0.2.1".into(), 4540, None)
        );
        // rport without received: sent-by host, rport port.
        assert_eq!(
            dest("SIP/2.0/UDP 10.1.1.1:4540;rport=7"),
            ("10.1.1.1".into(), 7, None)
        );
        // Unknown transports are treated as unreliable.
        assert_eq!(
            dest("SIP/2.0/XYZ h;received=192.0.2.1"),
            ("192.0.2.1".into(), 5060, None)
        );
    }

    #[test]
    fn maddr_destinations() {
        // maddr wins over received/rport; multicast gets ttl (default 1).
        assert_eq!(
            dest(
                "SIP/2.0/UDP a.example:5070;maddr=239.255.255.1;ttl=16;received=192.0.2.1;rport=9"
            ),
            ("239.255.255.1".into(), 5070, Some(16))
        );
        assert_eq!(
            dest("SIP/2.0/UDP a.example;maddr=224.0.1.75"),
            ("224.0.1.75".into(), 5060, Some(1))
        );
        // A unicast maddr has no ttl.
        assert_eq!(
            dest("SIP/2.0/UDP a.example;maddr=192.0.2.9"),
            ("192.0.2.9".into(), 5060, None)
        );
        assert_eq!(
            dest("SIP/2.0/UDP a.example;maddr=relay.example"),
            ("relay.example".into(), 5060, None)
        );
    }

    #[test]
    fn reliable_destinations() {
        // §18.2.2: received IP with the sent-by port; rport is not used.
        assert_eq!(
            dest("SIP/2.0/TCP a.example:5080;rport=40000;received=192.0.2.1"),
            ("192.0.2.1".into(), 5080, None)
        );
        assert_eq!(
            dest("SIP/2.0/TCP a.example"),
            ("a.example".into(), 5060, None)
        );
        assert_eq!(
            dest("SIP/2.0/TLS a.example;received=192.0.2.1"),
            ("192.0.2.1".into(), 5061, None)
        );
        // maddr does not apply to reliable transports.
        assert_eq!(
            dest("SIP/2.0/TCP a.example;maddr=224.0.1.75"),
            ("a.example".into(), 5060, None)
        );
    }

    #[test]
    fn ipv6_destinations() {
        let d = response_destination(&via(
            "SIP/2.0/UDP [2001:db8::9:1]:5062;rport=6000;received=2001:db8::9:255",
        ));
        assert_eq!(d.host, Host::Ipv6("2001:db8::9:255".parse().unwrap()));
        assert_eq!(d.port, 6000);
        let d = response_destination(&via("SIP/2.0/UDP [2001:db8::9:1]:5062;received=[::1]"));
        assert_eq!(d.host.ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(d.port, 5062);
        let d = response_destination(&via("SIP/2.0/TCP [2001:db8::9:1]"));
        assert_eq!(d.host, Host::Ipv6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(d.port, 5060);
        let d = response_destination(&via("SIP/2.0/UDP [::1];maddr=[ff02::1]"));
        assert_eq!(d.ttl, Some(1));
        // Round trip: stamp then route.
        let mut v = via("SIP/2.0/UDP [2001:db8::1]:5060;rport;branch=z9hG4bK1");
        stamp_via(&mut v, "[2001:db8::2]:40000".parse().unwrap());
        let d = response_destination(&v);
        assert_eq!(d.host.ip(), Some("2001:db8::2".parse().unwrap()));
        assert_eq!(d.port, 40000);
        let mut v = via("SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1");
        stamp_via(&mut v, SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 1)));
        assert_eq!(response_destination(&v).port, 1);
    }
}
