//! Tests of the client: the request builders as pure functions, the UAC
//! dialog (§12.1.2), and loopback runs against a parrot `Server` and a
//! scripted peer on a UDP socket.

use super::request::{self, NextHop, OutOfDialog};
use super::*;
use crate::dialog::{Dialog, DialogError, DialogState};
use crate::message::typed::{Authorization, CSeq, TypedHeader, WwwAuthenticate};
use crate::message::{Header, Message, parse_datagram};
use crate::test_support::{parse_req, parse_resp};
use std::time::Duration;
use tokio::net::UdpSocket;

fn uri(s: &str) -> Uri {
    s.parse().unwrap()
}

fn via() -> Via {
    let mut v = Via::new(
        crate::message::typed::Transport::Udp,
        Host::from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        Some(5062),
        "z9hG4bKtest1",
    );
    v.request_rport();
    v
}

fn out_of_dialog(method: Method) -> OutOfDialog {
    OutOfDialog {
        method: method.clone(),
        request_uri: uri("sip:bob@biloxi.example.com;transport=udp?Subject=hi"),
        to: NameAddr::new(uri("sip:bob@biloxi.example.com")),
        from: NameAddr::new(uri("sip:alice@atlanta.example.com")).with_display("Alice"),
        from_tag: Text::from("9fxced76sl"),
        call_id: Text::from("3848276298220188511@atlanta.example.com"),
        cseq: 314159,
        via: via(),
        contact: (method == Method::Invite)
            .then(|| Contact::new(NameAddr::new(uri("sip:alice@192.0.2.1:5062")))),
        route: Some(uri("sip:proxy.example.com;lr")),
        user_agent: Some(Text::from("parrot-test")),
    }
}

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKnashds8;rport\r\n\
    Route: <sip:p1.example.com;lr>\r\n\
    Max-Forwards: 70\r\n\
    To: Bob <sip:bob@biloxi.example.com>\r\n\
    From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
    Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
    CSeq: 314159 INVITE\r\n\
    Contact: <sip:alice@192.0.2.1:5062>\r\n\
    Authorization: Digest username=\"alice\", realm=\"biloxi.example.com\", nonce=\"n\", uri=\"sip:bob@biloxi.example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n\
    Content-Type: application/sdp\r\n\
    Content-Length: 4\r\n\r\nv=0\n";

fn invite() -> Request {
    parse_req(INVITE)
}

/// A response to [`INVITE`] with a To tag, two Record-Routes and a Contact.
fn ok_2xx(status: &str) -> Response {
    parse_resp(&format!(
        "SIP/2.0 {status}\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKnashds8;rport=5062\r\n\
         Record-Route: <sip:p2.biloxi.example.com;lr>\r\n\
         Record-Route: <sip:p1.example.com;lr;foo=bar>\r\n\
         To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:bob@192.0.2.4:5070;transport=tcp>\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

// ---------------------------------------------------------------------------
// Request building (§8.1.1)
// ---------------------------------------------------------------------------

#[test]
fn requests_outside_a_dialog_follow_8_1_1() {
    let req = out_of_dialog(Method::Invite).build();
    // §19.1.1: no headers in a Request-URI; the transport parameter stays.
    assert_eq!(
        req.uri.to_string(),
        "sip:bob@biloxi.example.com;transport=udp"
    );
    let names: Vec<&str> = req.headers.iter().map(|h| h.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "Via",
            "Route",
            "Max-Forwards",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "User-Agent"
        ]
    );
    let h = &req.headers;
    let top = h.top_via().unwrap();
    assert!(top.has_magic_cookie());
    assert_eq!(top.rport(), Some(None));
    assert_eq!(h.get("max-forwards").unwrap(), "70");
    assert_eq!(h.from_tag().unwrap(), "9fxced76sl");
    assert_eq!(h.to_tag(), None, "§8.1.1.2: no To tag outside a dialog");
    assert_eq!(
        h.get("from").unwrap(),
        "Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl"
    );
    assert_eq!(h.get("route").unwrap(), "<sip:proxy.example.com;lr>");
    assert_eq!(h.cseq().unwrap(), CSeq::new(314159, Method::Invite));
    assert_eq!(h.get("contact").unwrap(), "<sip:alice@192.0.2.1:5062>");
    // It parses back.
    let again = parse_req(std::str::from_utf8(&req.to_bytes()).unwrap());
    assert_eq!(
        again.headers.call_id().unwrap(),
        "3848276298220188511@atlanta.example.com"
    );

    let options = out_of_dialog(Method::Options).build();
    assert!(!options.headers.contains(HeaderName::Contact));
    let with_body = request::with_body(options, "text/plain", bytes::Bytes::from_static(b"hi"));
    assert_eq!(with_body.headers.get("content-type").unwrap(), "text/plain");
    assert!(
        with_body
            .to_bytes()
            .ends_with(b"Content-Length: 2\r\n\r\nhi")
    );
}

#[test]
fn fresh_identifiers() {
    let a = new_call_id("192.0.2.1");
    let b = new_call_id("[2001:db8::1]");
    assert_ne!(a, b);
    assert!(a.ends_with("@192.0.2.1"));
    assert!(b.ends_with("@2001:db8::1"));
    for _ in 0..1000 {
        let c = initial_cseq();
        assert!((1..=0xffff).contains(&c));
    }
}

#[test]
fn uris_from_text() {
    assert_eq!(
        "sip:bob@example.com".into_uri().unwrap().to_string(),
        "sip:bob@example.com"
    );
    assert_eq!(
        " <sip:bob@example.com> ".into_uri().unwrap().to_string(),
        "sip:bob@example.com"
    );
    assert!(matches!(
        "not a uri".into_uri(),
        Err(ClientError::InvalidUri(_))
    ));
    assert!(matches!("".into_uri(), Err(ClientError::InvalidUri(_))));
}

// ---------------------------------------------------------------------------
// CANCEL (§9.1), ACK (§13.2.2.4), resubmission (§22.2)
// ---------------------------------------------------------------------------

#[test]
fn cancel_copies_what_9_1_requires() {
    let inv = invite();
    let cancel = crate::transaction::cancel_request(&inv).unwrap();
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, inv.uri);
    let h = &cancel.headers;
    assert_eq!(h.count("via"), 1);
    assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bKnashds8"));
    for name in ["from", "to", "call-id", "route"] {
        assert_eq!(h.get(name), inv.headers.get(name), "{name}");
    }
    assert_eq!(h.cseq().unwrap(), CSeq::new(314159, Method::Cancel));
    assert_eq!(h.get("max-forwards").unwrap(), "70");
    assert!(!h.contains("contact") && !h.contains("authorization"));
    assert!(cancel.body.is_empty());
    // A request without CSeq cannot be cancelled.
    let mut broken = inv.clone();
    broken.headers.remove(HeaderName::CSeq);
    assert!(crate::transaction::cancel_request(&broken).is_none());
}

#[test]
fn ack_for_2xx_follows_13_2_2_4() {
    let inv = invite();
    let ok = ok_2xx("200 OK");
    let mut dialog = Dialog::new_uac(&inv, &ok).unwrap();
    let ack = request::ack_for_2xx(&mut dialog, &inv).unwrap();
    let req = &ack.request;
    assert_eq!(req.method, Method::Ack);
    // Loose routing: the remote target is the Request-URI, the route set
    // (Record-Route reversed) the Route headers; the next hop its first.
    assert_eq!(req.uri.to_string(), "sip:bob@192.0.2.4:5070;transport=tcp");
    let routes: Vec<&str> = req.headers.values("route").collect();
    assert_eq!(
        routes,
        [
            "<sip:p1.example.com;lr;foo=bar>",
            "<sip:p2.biloxi.example.com;lr>"
        ]
    );
    assert_eq!(ack.next_hop.to_string(), "sip:p1.example.com;lr;foo=bar");
    assert_eq!(req.headers.cseq().unwrap(), CSeq::new(314159, Method::Ack));
    assert_eq!(req.headers.to_tag().unwrap(), "a6c85cf");
    assert_eq!(req.headers.from_tag().unwrap(), "1928301774");
    assert_eq!(
        req.headers.get("authorization"),
        inv.headers.get("authorization")
    );
    assert!(!req.headers.contains("via"), "the caller adds the Via");
    // The ACK does not use up a sequence number: the BYE gets the next.
    let bye = dialog.create_request(Method::Bye, None, None).unwrap();
    assert_eq!(bye.request.headers.cseq().unwrap().seq, 314160);
}

#[test]
fn resubmission_increments_cseq_and_changes_the_branch() {
    let inv = invite();
    let next = request::resubmit(&inv).unwrap();
    assert_eq!(
        next.headers.cseq().unwrap(),
        CSeq::new(314160, Method::Invite)
    );
    let (a, b) = (
        inv.headers.top_via().unwrap(),
        next.headers.top_via().unwrap(),
    );
    assert_ne!(a.branch(), b.branch());
    assert!(b.has_magic_cookie());
    assert_eq!(b.host, a.host);
    for name in ["from", "to", "call-id", "contact", "route", "authorization"] {
        assert_eq!(next.headers.get(name), inv.headers.get(name), "{name}");
    }
    assert_eq!(next.body, inv.body);
    let mut last = inv.clone();
    last.headers
        .set_typed(&CSeq::new(CSeq::MAX, Method::Invite));
    assert!(
        request::resubmit(&last).is_none(),
        "2**31 - 1 cannot be incremented"
    );
}

#[test]
fn challenges_are_answered_with_credentials() {
    let challenge = parse_resp(
        "SIP/2.0 401 Unauthorized\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKnashds8\r\n\
         To: <sip:bob@biloxi.example.com>;tag=x\r\n\
         From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: c1\r\n\
         CSeq: 1 REGISTER\r\n\
         WWW-Authenticate: Digest realm=\"biloxi.example.com\", nonce=\"abc\", qop=\"auth\", algorithm=MD5\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert!(is_challenge(&challenge));
    let reg = parse_req(
        "REGISTER sip:biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKreg1\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@biloxi.example.com>\r\n\
         From: <sip:bob@biloxi.example.com>;tag=456248\r\n\
         Call-ID: c1\r\n\
         CSeq: 1 REGISTER\r\n\
         Content-Length: 0\r\n\r\n",
    );
    let me = crate::auth::DigestClient::new("bob", "zanzibar");
    let mut next = reg.clone();
    me.authorize(&mut next, &challenge).unwrap();
    let next = request::resubmit(&next).unwrap();
    assert_eq!(next.headers.cseq().unwrap().seq, 2);
    let Some(Ok(Authorization(creds))) = next.headers.typed::<Authorization>() else {
        panic!("no Authorization: {next:?}")
    };
    assert_eq!(creds.username(), Some("bob"));
    assert_eq!(creds.uri(), Some("sip:biloxi.example.com"));
    assert_eq!(creds.realm(), Some("biloxi.example.com"));
    let _ = WwwAuthenticate::parse_str("Digest realm=\"r\", nonce=\"n\"").unwrap();
}

#[test]
fn responses_with_several_vias_are_discarded() {
    let one = ok_2xx("200 OK");
    assert!(request::acceptable(&one));
    let mut two = one.clone();
    two.headers.push_front(Header::known(
        HeaderName::Via,
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
    ));
    assert!(!request::acceptable(&two), "§8.1.3.3");
    let mut listed = one.clone();
    listed.headers.set(
        HeaderName::Via,
        "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
    );
    assert!(!request::acceptable(&listed));
}

#[test]
fn next_hops_from_uris() {
    let hop = |s: &str| NextHop::from_uri(&uri(s));
    assert_eq!(
        hop("sip:bob@192.0.2.4").unwrap(),
        NextHop {
            host: "192.0.2.4".into(),
            port: None,
            protocol: Protocol::Udp
        }
    );
    let h = hop("sip:bob@example.com:5070;transport=TCP").unwrap();
    assert_eq!(
        (h.host.as_str(), h.port, h.protocol),
        ("example.com", Some(5070), Protocol::Tcp)
    );
    let h = hop("sip:bob@example.com;maddr=192.0.2.9").unwrap();
    assert_eq!(h.host, "192.0.2.9", "maddr overrides the host");
    let h = hop("sip:[2001:db8::1]:5080").unwrap();
    assert_eq!((h.host.as_str(), h.port), ("2001:db8::1", Some(5080)));
    let h = hop("sips:bob@example.com").unwrap();
    assert_eq!((h.protocol, h.port), (Protocol::Tls, None), "sips: is TLS");
    let h = hop("sip:bob@example.com:5061;transport=TLS").unwrap();
    assert_eq!((h.protocol, h.port), (Protocol::Tls, Some(5061)));
    for bad in [
        "sips:bob@example.com;transport=udp",
        "tel:+15551234567",
        "sip:bob@example.com;transport=sctp",
    ] {
        assert!(
            matches!(hop(bad), Err(ClientError::Unsupported(_))),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------------------
// The UAC dialog (§12.1.2)
// ---------------------------------------------------------------------------

#[test]
fn dialog_from_a_2xx_follows_12_1_2() {
    let inv = invite();
    let ok = ok_2xx("200 OK");
    let d = Dialog::new_uac(&inv, &ok).unwrap();
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(
        d.id(),
        &DialogId::new(
            "a84b4c76e66710@pc33.atlanta.example.com",
            "1928301774",
            "a6c85cf"
        )
    );
    assert_eq!(
        d.route_set()
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>(),
        [
            "sip:p1.example.com;lr;foo=bar",
            "sip:p2.biloxi.example.com;lr"
        ],
        "Record-Route in reverse order"
    );
    assert_eq!(
        d.remote_target().to_string(),
        "sip:bob@192.0.2.4:5070;transport=tcp"
    );
    assert_eq!(d.local_seq(), 314159);
    assert_eq!(d.remote_seq(), None);
    assert_eq!(d.local_uri().to_string(), "sip:alice@atlanta.example.com");
    assert_eq!(d.remote_uri().to_string(), "sip:bob@biloxi.example.com");
    assert!(!d.is_secure());
    assert!(!d.invite_in_progress());
    // The dialog of the 2xx is the one its id names.
    assert_eq!(DialogId::from_incoming_response(&ok).as_ref(), Some(d.id()));
}

#[test]
fn dialog_from_a_1xx_is_early() {
    let inv = invite();
    let mut ringing = ok_2xx("180 Ringing");
    ringing.headers.remove(HeaderName::Contact);
    let d = Dialog::new_uac(&inv, &ringing).unwrap();
    assert_eq!(d.state(), DialogState::Early);
    // No Contact in a 1xx: the Request-URI until the 2xx brings one.
    assert_eq!(d.remote_target(), inv.uri);
    assert!(d.invite_in_progress());
}

#[test]
fn the_confirmed_dialog_continues_after_the_pracks() {
    let inv = invite();
    let mut early = Dialog::new_uac(&inv, &ok_2xx("183 Session Progress")).unwrap();
    let prack = early.create_request(Method::Prack, None, None).unwrap();
    assert_eq!(prack.request.headers.cseq().unwrap().seq, 314160);
    let mut confirmed = Dialog::new_uac(&inv, &ok_2xx("200 OK")).unwrap();
    // The ACK keeps the INVITE's number (§13.2.2.4) ...
    let ack = request::ack_for_2xx(&mut confirmed, &inv).unwrap();
    assert_eq!(ack.request.headers.cseq().unwrap().seq, 314159);
    // ... the next request follows the PRACK (§12.2.1.1); never lowered.
    confirmed.raise_local_seq(early.local_seq());
    confirmed.raise_local_seq(1);
    let bye = confirmed.create_request(Method::Bye, None, None).unwrap();
    assert_eq!(bye.request.headers.cseq().unwrap().seq, 314161);
    // Capped at 2**31 - 1 (§8.1.1.5).
    let mut d = Dialog::new_uac(&inv, &ok_2xx("200 OK")).unwrap();
    d.raise_local_seq(u32::MAX);
    assert_eq!(d.local_seq(), CSeq::MAX);
}

#[test]
fn the_peers_requests_are_checked_against_the_uac_dialog() {
    let inv = invite();
    let mut d = Dialog::new_uac(&inv, &ok_2xx("200 OK")).unwrap();
    // The callee's CSeq space is its own: any first number is in order.
    let bye = parse_req(
        "BYE sip:alice@192.0.2.1:5062 SIP/2.0\r\n\
         Via: SIP/2.0/TCP 192.0.2.4:5070;branch=z9hG4bKbye1\r\n\
         Max-Forwards: 70\r\n\
         From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
         To: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 7 BYE\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(DialogId::from_incoming_request(&bye).as_ref(), Some(d.id()));
    d.check_request(&bye).unwrap();
    assert_eq!(d.state(), DialogState::Terminated);
    assert_eq!(d.remote_seq(), Some(7));
}

#[test]
fn dialogs_are_not_made_from_unfit_messages() {
    let inv = invite();
    let ok = ok_2xx("200 OK");
    let mut no_contact = ok.clone();
    no_contact.headers.remove(HeaderName::Contact);
    assert_eq!(
        Dialog::new_uac(&inv, &no_contact).unwrap_err(),
        DialogError::BadHeader("Contact")
    );
    let mut other_call = ok.clone();
    other_call.headers.set(HeaderName::CallId, "other");
    assert_eq!(
        Dialog::new_uac(&inv, &other_call).unwrap_err(),
        DialogError::ResponseMismatch
    );
    let refused = ok.sibling(StatusCode::BUSY_HERE);
    assert_eq!(
        Dialog::new_uac(&inv, &refused).unwrap_err(),
        DialogError::NotDialogCreating
    );
    let mut no_tag = inv.clone();
    no_tag
        .headers
        .set(HeaderName::From, "<sip:alice@atlanta.example.com>");
    assert_eq!(
        Dialog::new_uac(&no_tag, &ok).unwrap_err(),
        DialogError::BadHeader("From")
    );
    let mut options = inv.clone();
    options.method = Method::Options;
    assert_eq!(
        Dialog::new_uac(&options, &ok).unwrap_err(),
        DialogError::NotDialogCreating
    );
}

// ---------------------------------------------------------------------------
// Registration bookkeeping (§10.2.4)
// ---------------------------------------------------------------------------

#[test]
fn granted_expiry_prefers_our_contacts_parameter() {
    let ours = uri("sip:alice@192.0.2.1:5062");
    let resp = |extra: &str| {
        parse_resp(&format!(
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1\r\n\
             To: <sip:alice@example.com>;tag=r\r\n\
             From: <sip:alice@example.com>;tag=l\r\n\
             Call-ID: c\r\n\
             CSeq: 2 REGISTER\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        ))
    };
    let both = resp(
        "Contact: <sip:other@192.0.2.9>;expires=10, <sip:alice@192.0.2.1:5062>;expires=1800\r\n\
         Expires: 600\r\n",
    );
    assert_eq!(register::granted(&both, &ours, 3600), 1800);
    assert_eq!(
        register::granted(&resp("Expires: 600\r\n"), &ours, 3600),
        600
    );
    assert_eq!(register::granted(&resp(""), &ours, 3600), 3600);
    assert_eq!(register::refresh_after(1800), Duration::from_secs(900));
    assert_eq!(register::refresh_after(1), Duration::from_secs(1));
}

// ---------------------------------------------------------------------------
// Loopback: a scripted peer on a UDP socket
// ---------------------------------------------------------------------------

/// A peer whose every message the test writes by hand.
struct Peer {
    socket: UdpSocket,
}

impl Peer {
    async fn bind() -> Peer {
        Peer {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn uri(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.addr())
    }

    async fn recv(&self) -> (Message, SocketAddr) {
        let mut buf = vec![0u8; 65535];
        let (n, from) =
            tokio::time::timeout(Duration::from_secs(5), self.socket.recv_from(&mut buf))
                .await
                .expect("the peer got nothing within 5 s")
                .unwrap();
        let msg = parse_datagram(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
        (msg, from)
    }

    /// The next request (responses are skipped).
    async fn request(&self) -> (Request, SocketAddr) {
        loop {
            if let (Message::Request(r), from) = self.recv().await {
                return (r, from);
            }
        }
    }

    /// Whether anything arrives within `d`.
    async fn quiet_for(&self, d: Duration) -> bool {
        let mut buf = vec![0u8; 65535];
        tokio::time::timeout(d, self.socket.recv_from(&mut buf))
            .await
            .is_err()
    }

    async fn send(&self, msg: impl Into<Message>, to: SocketAddr) {
        let msg: Message = msg.into();
        self.socket.send_to(&msg.to_bytes(), to).await.unwrap();
    }

    /// A response to `req` with our To tag and Contact.
    fn answer(&self, req: &Request, status: StatusCode) -> Response {
        let mut resp = req.reply(status);
        if let Some(to) = resp.headers.to_header().map(|t| t.into_owned()) {
            resp.headers.set_typed(&to.with_tag("peer-tag"));
        }
        if status != StatusCode::TRYING {
            resp.headers
                .append(HeaderName::Contact, format!("<{}>", self.uri("peer")));
        }
        resp
    }
}

async fn client() -> Client {
    Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@example.com")
        .credentials("alice", "secret")
        .bind()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_set_up_ack_retransmitted_2xx_and_remote_bye() {
    let peer = Peer::bind().await;
    let client = client().await;
    let mut pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    assert_eq!(inv.method, Method::Invite);
    assert_eq!(inv.headers.get("content-type").unwrap(), "application/sdp");
    assert!(inv.headers.contains("contact"));
    assert_eq!(inv.headers.get("allow").unwrap(), call::ALLOW);
    assert_eq!(pending.call_id(), inv.headers.call_id().unwrap().as_str());
    peer.send(peer.answer(&inv, StatusCode::RINGING), from)
        .await;
    let Some(Progress::Provisional(r)) = pending.next().await else {
        panic!("no 180")
    };
    assert_eq!(r.status, StatusCode::RINGING);
    let ok = peer
        .answer(&inv, StatusCode::OK)
        .body("application/sdp", "v=0\r\no=peer\r\n");
    peer.send(ok.clone(), from).await;
    let Some(Progress::Answered(mut call)) = pending.next().await else {
        panic!("no call")
    };
    assert!(pending.next().await.is_none());
    assert_eq!(call.remote_sdp(), Some("v=0\r\no=peer\r\n"));
    assert!(call.is_active());

    // §13.2.2.4: the ACK, to the Contact, the INVITE's CSeq number.
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.headers.iter().next().unwrap().name(), "Via");
    assert_eq!(ack.uri.to_string(), peer.uri("peer"));
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        inv.headers.cseq().unwrap().seq
    );
    assert_eq!(ack.headers.to_tag().unwrap(), "peer-tag");
    assert_ne!(
        ack.headers.top_via().unwrap().branch(),
        inv.headers.top_via().unwrap().branch()
    );
    // A retransmitted 2xx is acknowledged again, with the same ACK.
    peer.send(ok, from).await;
    let (again, _) = peer.request().await;
    assert_eq!(again.method, Method::Ack);
    assert_eq!(
        again.headers.top_via().unwrap().branch(),
        ack.headers.top_via().unwrap().branch()
    );

    // The peer hangs up.
    let bye = parse_req(&format!(
        "BYE sip:alice@{from} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKpeerbye\r\n\
         Max-Forwards: 70\r\n\
         From: <{peer_uri}>;tag=peer-tag\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        me = peer.addr(),
        peer_uri = peer.uri("bob"),
        to = inv.headers.get("from").unwrap(),
        call_id = call.call_id(),
    ));
    peer.send(bye, from).await;
    let (msg, _) = peer.recv().await;
    let Message::Response(r) = msg else {
        panic!("not a response: {msg:?}")
    };
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.cseq().unwrap().method, Method::Bye);
    let end = call.ended().await;
    assert!(matches!(end, CallEnd::RemoteBye(_)), "{end:?}");
    assert!(!call.is_active());
    assert!(matches!(call.bye().await, Err(CallError::Ended(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_bye_ends_the_call() {
    let peer = Peer::bind().await;
    let client = client().await;
    let pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    peer.send(peer.answer(&inv, StatusCode::OK), from).await;
    let mut call = pending.wait().await.unwrap();
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    let bye_task = tokio::spawn(async move {
        let r = call.bye().await;
        (r, call)
    });
    let (bye, from) = peer.request().await;
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri.to_string(), peer.uri("peer"));
    assert_eq!(
        bye.headers.cseq().unwrap().seq,
        inv.headers.cseq().unwrap().seq + 1,
        "§12.2.1.1: the next local sequence number"
    );
    assert_eq!(bye.headers.to_tag().unwrap(), "peer-tag");
    assert_eq!(bye.headers.from_tag(), inv.headers.from_tag());
    peer.send(bye.reply(StatusCode::OK), from).await;
    let (resp, mut call) = bye_task.await.unwrap();
    assert_eq!(resp.unwrap().status, StatusCode::OK);
    assert!(matches!(call.ended().await, CallEnd::LocalBye(r) if r.status == StatusCode::OK));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_waits_for_a_provisional_and_ends_with_487() {
    let peer = Peer::bind().await;
    let client = client().await;
    let mut pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    // Cancelled before any provisional: no CANCEL yet (§9.1).
    pending.cancel();
    assert!(peer.quiet_for(Duration::from_millis(300)).await);
    peer.send(peer.answer(&inv, StatusCode::RINGING), from)
        .await;
    let Some(Progress::Provisional(_)) = pending.next().await else {
        panic!("no 180")
    };
    let (cancel, from) = peer.request().await;
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, inv.uri);
    assert_eq!(
        cancel.headers.top_via().unwrap().branch(),
        inv.headers.top_via().unwrap().branch()
    );
    assert_eq!(
        cancel.headers.cseq().unwrap(),
        CSeq::new(inv.headers.cseq().unwrap().seq, Method::Cancel)
    );
    for name in ["from", "to", "call-id"] {
        assert_eq!(cancel.headers.get(name), inv.headers.get(name), "{name}");
    }
    peer.send(cancel.reply(StatusCode::OK), from).await;
    peer.send(peer.answer(&inv, StatusCode::REQUEST_TERMINATED), from)
        .await;
    let Some(Progress::Failed(e)) = pending.next().await else {
        panic!("no failure")
    };
    assert!(
        matches!(&e, CallError::Cancelled(r) if r.status == StatusCode::REQUEST_TERMINATED),
        "{e:?}"
    );
    assert_eq!(e.status(), Some(StatusCode::REQUEST_TERMINATED));
    // The transaction acknowledges the 487 itself (§17.1.1.3).
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.headers.top_via().unwrap().branch(),
        inv.headers.top_via().unwrap().branch()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenged_invite_is_sent_again_with_credentials() {
    let peer = Peer::bind().await;
    let client = client().await;
    let pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    let auth = crate::auth::DigestAuthenticator::new(
        "example.com",
        crate::auth::Users::new().with("alice", "secret"),
    );
    let challenge = auth.authenticate(&inv, false).unwrap_err();
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    let mut challenge = challenge;
    if let Some(to) = challenge.headers.to_header().map(|t| t.into_owned())
        && to.tag().is_none()
    {
        challenge.headers.set_typed(&to.with_tag("t401"));
    }
    peer.send(challenge, from).await;
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack, "the 401 is acknowledged");
    let (again, from) = peer.request().await;
    assert_eq!(again.method, Method::Invite);
    assert_eq!(
        again.headers.cseq().unwrap().seq,
        inv.headers.cseq().unwrap().seq + 1
    );
    assert_eq!(again.headers.call_id(), inv.headers.call_id());
    assert_eq!(again.headers.from_tag(), inv.headers.from_tag());
    assert_eq!(again.headers.to_tag(), None);
    assert!(auth.authenticate(&again, false).is_ok(), "{again:?}");
    peer.send(peer.answer(&again, StatusCode::OK), from).await;
    let call = pending.wait().await.unwrap();
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.headers.get("authorization"),
        again.headers.get("authorization"),
        "§13.2.2.4: the ACK carries the INVITE's credentials"
    );
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        again.headers.cseq().unwrap().seq
    );
    drop(call);
    // Dropping an active call hangs it up.
    let (bye, _) = peer.request().await;
    assert_eq!(bye.method, Method::Bye);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_challenge_is_the_answer() {
    let peer = Peer::bind().await;
    let client = client().await;
    let pending = client.invite(peer.uri("bob"), "").await.unwrap();
    let auth = crate::auth::DigestAuthenticator::new(
        "example.com",
        crate::auth::Users::new().with("alice", "other password"),
    );
    for round in 0..2 {
        let (inv, from) = peer.request().await;
        assert_eq!(inv.method, Method::Invite, "round {round}");
        assert!(inv.body.is_empty());
        let mut challenge = auth.authenticate(&inv, false).unwrap_err();
        challenge.headers.set_typed(
            &challenge
                .headers
                .to_header()
                .unwrap()
                .into_owned()
                .with_tag("t"),
        );
        peer.send(challenge, from).await;
        let (ack, _) = peer.request().await;
        assert_eq!(ack.method, Method::Ack);
    }
    let err = pending.wait().await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_from_another_fork_is_acknowledged_and_hung_up() {
    let peer = Peer::bind().await;
    let client = client().await;
    let pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    peer.send(peer.answer(&inv, StatusCode::OK), from).await;
    let call = pending.wait().await.unwrap();
    let (ack, _) = peer.request().await;
    assert_eq!(ack.headers.to_tag().unwrap(), "peer-tag");
    // §13.2.2.4: a 2xx with another To tag is another dialog.
    let mut fork = peer.answer(&inv, StatusCode::OK);
    let to = fork
        .headers
        .to_header()
        .unwrap()
        .into_owned()
        .with_tag("fork-tag");
    fork.headers.set_typed(&to);
    peer.send(fork, from).await;
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.headers.to_tag().unwrap(), "fork-tag");
    let (bye, from) = peer.request().await;
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.headers.to_tag().unwrap(), "fork-tag");
    peer.send(bye.reply(StatusCode::OK), from).await;
    assert!(call.is_active(), "our call goes on");
    // A CallHandle hangs up from elsewhere.
    let mut handle = call.handle();
    handle.hangup();
    let (bye, from) = peer.request().await;
    assert_eq!(bye.headers.to_tag().unwrap(), "peer-tag");
    peer.send(bye.reply(StatusCode::OK), from).await;
    assert!(matches!(handle.ended().await, CallEnd::LocalBye(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_after_the_invite_transaction_ended_is_acknowledged_again() {
    let peer = Peer::bind().await;
    // T1 = 10 ms: the INVITE transaction's Timer M (64·T1) ends it after
    // 640 ms, so a later 2xx matches no transaction (a stray response).
    let client = Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .timers(TimerConfig {
            t1: Duration::from_millis(10),
            ..TimerConfig::default()
        })
        .bind()
        .await
        .unwrap();
    let pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    let ok = peer.answer(&inv, StatusCode::OK);
    peer.send(ok.clone(), from).await;
    let call = pending.wait().await.unwrap();
    let (ack, _) = peer.request().await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(client.endpoint().live_transactions(), 0, "Timer M fired");
    peer.send(ok, from).await;
    let (again, _) = peer.request().await;
    assert_eq!(again.method, Method::Ack);
    assert_eq!(
        again.headers.top_via().unwrap().branch(),
        ack.headers.top_via().unwrap().branch()
    );
    assert!(call.is_active());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_without_contact_is_acknowledged_then_refused() {
    let peer = Peer::bind().await;
    let client = client().await;
    let pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    let mut ok = peer.answer(&inv, StatusCode::OK);
    ok.headers.remove(HeaderName::Contact);
    peer.send(ok, from).await;
    let err = pending.wait().await.unwrap_err();
    assert!(matches!(err, CallError::Protocol(_)), "{err:?}");
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, inv.uri);
    assert_eq!(ack.headers.to_tag().unwrap(), "peer-tag");
    assert_eq!(
        ack.headers.cseq().unwrap(),
        CSeq::new(inv.headers.cseq().unwrap().seq, Method::Ack)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_and_timeout() {
    let peer = Peer::bind().await;
    let client = Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .timers(TimerConfig {
            t1: Duration::from_millis(10),
            ..TimerConfig::default()
        })
        .bind()
        .await
        .unwrap();
    let pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    peer.send(peer.answer(&inv, StatusCode::BUSY_HERE), from)
        .await;
    let err = pending.wait().await.unwrap_err();
    assert!(matches!(&err, CallError::Rejected(r) if r.status == StatusCode::BUSY_HERE));

    // Nobody answers: Timer B (64·T1 = 640 ms here) gives 408.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = format!("sip:bob@{}", silent.local_addr().unwrap());
    let err = client
        .invite(target.as_str(), "v=0\r\n")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Timeout(r) if r.status == StatusCode::REQUEST_TIMEOUT),
        "{err:?}"
    );
    let resp = client.options(target.as_str()).await.unwrap();
    assert_eq!(resp.status, StatusCode::REQUEST_TIMEOUT, "§8.1.3.1");
    assert_eq!(resp.headers.to_tag(), None, "synthesized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peers_stray_requests_get_481_and_405() {
    let peer = Peer::bind().await;
    let client = client().await;
    let ours = client.local_addr(Protocol::Udp).unwrap();
    let unknown = parse_req(&format!(
        "BYE sip:alice@{ours} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKstray1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@example.com>;tag=b\r\n\
         To: <sip:alice@example.com>;tag=nope\r\n\
         Call-ID: nowhere\r\n\
         CSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        me = peer.addr()
    ));
    peer.send(unknown, ours).await;
    let (Message::Response(r), _) = peer.recv().await else {
        panic!()
    };
    assert_eq!(r.status, StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST);
    let invite = parse_req(&format!(
        "INVITE sip:alice@{ours} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKstray2\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:bob@example.com>;tag=b\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: incoming\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:bob@{me}>\r\n\
         Content-Length: 0\r\n\r\n",
        me = peer.addr()
    ));
    peer.send(invite, ours).await;
    loop {
        let (Message::Response(r), _) = peer.recv().await else {
            panic!()
        };
        if r.status == StatusCode::TRYING {
            continue;
        }
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers.get("allow").unwrap(), "ACK, BYE, CANCEL, OPTIONS");
        assert!(r.headers.has_to_tag());
        break;
    }
}

// ---------------------------------------------------------------------------
// Loopback: a parrot Server
// ---------------------------------------------------------------------------

struct Registrar {
    auth: Arc<crate::auth::DigestAuthenticator>,
    seen: Arc<AtomicU32>,
}

#[crate::uas_handler(crate = "crate")]
impl Registrar {
    async fn register(&mut self, req: &Request) -> Response {
        self.seen.fetch_add(1, Ordering::Relaxed);
        match self.auth.authenticate(req, false) {
            Ok(_) => {
                let expires = req.headers.get("expires").map_or("3600", |e| e.as_str());
                let granted = if expires == "0" { "0" } else { "2" };
                let contact = req.headers.get("contact").map_or("", |c| c.as_str());
                req.reply(StatusCode::OK)
                    .header("Contact", format!("{contact};expires={granted}"))
            }
            Err(challenge) => challenge,
        }
    }

    async fn message(&mut self, req: &Request) -> StatusCode {
        if req.body.as_ref() == b"hello" {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

async fn registrar() -> (SocketAddr, Arc<AtomicU32>, tokio::sync::oneshot::Sender<()>) {
    let seen = Arc::new(AtomicU32::new(0));
    let auth = Arc::new(crate::auth::DigestAuthenticator::new(
        "example.com",
        crate::auth::Users::new().with("alice", "secret"),
    ));
    let s = seen.clone();
    let server = crate::Server::builder()
        .listen("127.0.0.1:0")
        .handler(move || Registrar {
            auth: auth.clone(),
            seen: s.clone(),
        })
        .bind()
        .await
        .unwrap();
    let addr = server.local_addr(Protocol::Udp).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        server
            .serve()
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .into_future(),
    );
    (addr, seen, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_and_message_against_a_server() {
    let (addr, _, _stop) = registrar().await;
    let client = client().await;
    let target = format!("sip:service@{addr}");
    let pong = client.options(target.as_str()).await.unwrap();
    assert_eq!(pong.status, StatusCode::OK);
    assert!(pong.headers.get("allow").unwrap().contains("REGISTER"));
    let ok = client
        .message(target.as_str(), "text/plain", "hello")
        .await
        .unwrap();
    assert_eq!(ok.status, StatusCode::OK);
    let bad = client
        .message(target.as_str(), "text/plain", "bye")
        .await
        .unwrap();
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let tcp = client
        .options(format!("sip:service@{addr};transport=tcp"))
        .await
        .unwrap();
    assert_eq!(tcp.status, StatusCode::OK);
    let unallowed = client
        .request(Method::Info, target.as_str(), None)
        .await
        .unwrap();
    assert_eq!(unallowed.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(matches!(
        client.request(Method::Invite, target.as_str(), None).await,
        Err(ClientError::Unsupported(_))
    ));
    assert!(matches!(
        client.options("sip:bob@unresolvable.invalid").await,
        Err(ClientError::Unresolvable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_digest_refreshes_and_unregisters() {
    let (addr, seen, _stop) = registrar().await;
    let client = client().await;
    let registrar = format!("sip:{addr}");
    // One REGISTER: challenged, answered once.
    let resp = client
        .register(registrar.as_str(), "sip:alice@example.com", None, 60)
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(seen.load(Ordering::Relaxed), 2);
    // Wrong password: the second 401 is the answer.
    let wrong = Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .credentials("alice", "wrong")
        .bind()
        .await
        .unwrap();
    let resp = wrong
        .register(registrar.as_str(), "sip:alice@example.com", None, 60)
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert!(matches!(
        wrong
            .register_and_refresh(registrar.as_str(), "sip:alice@example.com", None, 60)
            .await,
        Err(ClientError::Rejected(r)) if r.status == StatusCode::UNAUTHORIZED
    ));

    // Kept alive: granted 2 s, refreshed after 1 s.
    let mut reg = client
        .register_and_refresh(registrar.as_str(), "sip:alice@example.com", None, 60)
        .await
        .unwrap();
    assert!(reg.is_registered());
    assert_eq!(reg.expires(), Duration::from_secs(2));
    let refreshed = tokio::time::timeout(Duration::from_secs(5), reg.refreshed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.status, StatusCode::OK);
    assert_eq!(reg.refreshes(), 1);
    let first = reg.last_response();
    assert_eq!(first.headers.call_id().unwrap(), client.register_call_id());
    let gone = reg.unregister().await.unwrap();
    assert_eq!(gone.status, StatusCode::OK);
    assert!(gone.headers.get("contact").unwrap().ends_with("expires=0"));
}

// ---------------------------------------------------------------------------
// The callback handler
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Recorder {
    events: Vec<String>,
}

#[crate::client::uac_handler(crate = "crate")]
impl Recorder {
    async fn provisional(&mut self, resp: &Response) {
        self.events.push(format!("provisional {}", resp.status));
    }

    async fn success(&mut self, resp: &Response) {
        self.events.push(format!("success {}", resp.status));
    }

    async fn client_error(&mut self, resp: &Response) {
        self.events.push(format!("client_error {}", resp.status));
    }

    async fn call_established(&mut self, call: &mut Call) -> UacAction {
        self.events
            .push(format!("established {}", call.is_active()));
        UacAction::Hangup
    }

    async fn call_ended(&mut self, end: &CallEnd) {
        self.events.push(match end {
            CallEnd::LocalBye(r) => format!("ended by us {}", r.status),
            other => format!("ended {other}"),
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uac_handler_sees_every_step() {
    let peer = Peer::bind().await;
    let client = client().await;
    let script = async {
        let (inv, from) = peer.request().await;
        peer.send(peer.answer(&inv, StatusCode::RINGING), from)
            .await;
        peer.send(peer.answer(&inv, StatusCode::OK), from).await;
        let (ack, _) = peer.request().await;
        assert_eq!(ack.method, Method::Ack);
        let (bye, from) = peer.request().await;
        assert_eq!(bye.method, Method::Bye);
        peer.send(bye.reply(StatusCode::OK), from).await;
        // A refused call next.
        let (inv, from) = peer.request().await;
        peer.send(peer.answer(&inv, StatusCode::NOT_FOUND), from)
            .await;
    };
    let mut recorder = Recorder::default();
    let run = async {
        let first = client
            .invite_with(peer.uri("bob"), "v=0\r\n", &mut recorder)
            .await
            .unwrap();
        let second = client
            .invite_with(peer.uri("nobody"), "v=0\r\n", &mut recorder)
            .await
            .unwrap();
        (first, second)
    };
    let ((first, second), ()) = tokio::join!(run, script);
    assert!(
        matches!(first, CallOutcome::Ended(CallEnd::LocalBye(_))),
        "{first:?}"
    );
    assert!(
        matches!(second, CallOutcome::Failed(CallError::Rejected(_))),
        "{second:?}"
    );
    assert_eq!(
        recorder.events,
        [
            "provisional 180",
            "success 200",
            "established true",
            "ended by us 200",
            "client_error 404"
        ]
    );
}

#[test]
fn a_tls_dialog_keeps_tls_unless_the_uri_names_a_transport() {
    let hop = |s: &str, p| NextHop::in_dialog(&uri(s), p).unwrap();
    assert_eq!(
        hop("sip:bob@192.0.2.4", Protocol::Tls).protocol,
        Protocol::Tls
    );
    assert_eq!(
        hop("sip:bob@192.0.2.4", Protocol::Udp).protocol,
        Protocol::Udp
    );
    assert_eq!(
        hop("sip:bob@192.0.2.4", Protocol::Tcp).protocol,
        Protocol::Udp
    );
    let h = hop("sip:bob@192.0.2.4;transport=tcp", Protocol::Tls);
    assert_eq!(h.protocol, Protocol::Tcp, "a named transport is obeyed");
    assert_eq!(
        hop("sips:bob@192.0.2.4", Protocol::Udp).protocol,
        Protocol::Tls
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reinvite_carries_our_offer_and_its_2xx_is_acknowledged() {
    let peer = Peer::bind().await;
    let client = client().await;
    let pending = client.invite(peer.uri("bob"), "v=0\r\n").await.unwrap();
    let (inv, from) = peer.request().await;
    peer.send(peer.answer(&inv, StatusCode::OK), from).await;
    let mut call = pending.wait().await.unwrap();
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    let task = tokio::spawn(async move {
        let r = call.reinvite("v=0\r\no=new\r\n").await;
        (r, call)
    });
    // RFC 3261 §14.1: a re-INVITE in the dialog with the new offer.
    let (reinvite, from) = peer.request().await;
    assert_eq!(reinvite.method, Method::Invite);
    assert_eq!(reinvite.headers.to_tag().unwrap(), "peer-tag");
    assert_eq!(
        reinvite.headers.cseq().unwrap().seq,
        inv.headers.cseq().unwrap().seq + 1
    );
    assert_eq!(
        reinvite.headers.get("content-type").unwrap(),
        "application/sdp"
    );
    assert_eq!(&reinvite.body[..], b"v=0\r\no=new\r\n");
    assert!(reinvite.headers.contains("contact"));
    let ok = peer
        .answer(&reinvite, StatusCode::OK)
        .body("application/sdp", "v=0\r\no=peer2\r\n");
    peer.send(ok.clone(), from).await;
    // §13.2.2.4: the 2xx is acknowledged with the re-INVITE's CSeq number.
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        reinvite.headers.cseq().unwrap().seq
    );
    let (resp, mut call) = task.await.unwrap();
    let resp = resp.unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(&resp.body[..], b"v=0\r\no=peer2\r\n");
    // A retransmission of the 2xx is acknowledged again.
    peer.send(ok, from).await;
    let (again, _) = peer.request().await;
    assert_eq!(again.method, Method::Ack);
    assert_eq!(
        again.headers.top_via().unwrap().branch(),
        ack.headers.top_via().unwrap().branch()
    );
    // The peer's BYE ends it.
    let (bye_task, (bye, from)) = (
        tokio::spawn(async move {
            let r = call.bye().await;
            (r, call)
        }),
        peer.request().await,
    );
    assert_eq!(bye.method, Method::Bye);
    peer.send(bye.reply(StatusCode::OK), from).await;
    let (r, _) = bye_task.await.unwrap();
    assert_eq!(r.unwrap().status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_offer_our_description_with_its_directions_changed() {
    const OFFER: &str = "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let peer = Peer::bind().await;
    let client = client().await;
    let pending = client.invite(peer.uri("bob"), OFFER).await.unwrap();
    let (inv, from) = peer.request().await;
    peer.send(
        peer.answer(&inv, StatusCode::OK)
            .body("application/sdp", OFFER.replace("o=- 7", "o=- 9")),
        from,
    )
    .await;
    let call = pending.wait().await.unwrap();
    let (ack, _) = peer.request().await;
    assert_eq!(ack.method, Method::Ack);
    let task = tokio::spawn(async move {
        let mut call = call;
        let held = call.hold().await.map(|r| r.status);
        let resumed = call.resume().await.map(|r| r.status);
        (held, resumed)
    });
    // RFC 3264 §8.4: on hold, our audio is sendonly and the o= version
    // goes up; off hold, sendrecv and up again (by re-INVITE, each ACKed).
    for (direction, version) in [("a=sendonly", "o=- 7 2 "), ("a=sendrecv", "o=- 7 3 ")] {
        let (reinvite, from) = peer.request().await;
        assert_eq!(reinvite.method, Method::Invite);
        let body = String::from_utf8_lossy(&reinvite.body).to_string();
        assert!(body.contains(direction), "{body}");
        assert!(body.contains(version), "{body}");
        peer.send(
            peer.answer(&reinvite, StatusCode::OK)
                .body("application/sdp", OFFER.replace("o=- 7", "o=- 9")),
            from,
        )
        .await;
        let (ack, _) = peer.request().await;
        assert_eq!(ack.method, Method::Ack);
    }
    let (held, resumed) = task.await.unwrap();
    assert_eq!(held.unwrap(), StatusCode::OK);
    assert_eq!(resumed.unwrap(), StatusCode::OK);
}
