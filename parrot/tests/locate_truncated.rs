//! Truncated DNS answers (RFC 1035 §4.2.1, RFC 7766): a DNS server on
//! loopback whose every UDP answer has the TC bit set and no records.
//! With its TCP side answering, RFC 3263 location completes over TCP; with
//! nothing on TCP, it fails at once with an error that stands for `503`,
//! never a hang.
//!
//! The server is a few lines in this file (hickory's message codec over a
//! tokio socket): dnsmasq cannot be made to truncate every answer.

use parrot::locate::{HickoryResolver, LocateError, Locator, ResolverOptions};
use parrot::message::StatusCode;
use parrot::transport::{Protocol, Target};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The answer to `query`: an SRV record for `_sip._udp.trunc.test`, an A
/// record for its target, NXDOMAIN for the rest.
fn answer(query: &Message) -> Message {
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true);
    reply.add_queries(query.queries().to_vec());
    let Some(q) = query.queries().first() else {
        reply.set_response_code(ResponseCode::FormErr);
        return reply;
    };
    let name = q.name().to_ascii().to_ascii_lowercase();
    let record = match (name.trim_end_matches('.'), q.query_type()) {
        ("_sip._udp.trunc.test", RecordType::SRV) => Some(RData::SRV(SRV::new(
            10,
            10,
            5070,
            Name::from_ascii("sip.trunc.test.").unwrap(),
        ))),
        ("sip.trunc.test", RecordType::A) => Some(RData::A(A::new(127, 0, 0, 40))),
        ("sip.trunc.test", _) => None,
        _ => {
            reply.set_response_code(ResponseCode::NXDomain);
            None
        }
    };
    if let Some(rdata) = record {
        reply.add_answer(Record::from_rdata(q.name().clone(), 60, rdata));
    }
    reply
}

/// A DNS server on 127.0.0.1: over UDP, every answer truncated (TC set,
/// no records); over TCP on the same port, if `tcp`, full answers.
struct TruncatingServer {
    addr: SocketAddr,
    tcp_queries: Arc<AtomicUsize>,
    udp_queries: Arc<AtomicUsize>,
}

impl TruncatingServer {
    async fn start(tcp: bool) -> TruncatingServer {
        let (udp, listener) = loop {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            let port = udp.local_addr().unwrap().port();
            if !tcp {
                // Nothing on TCP: the port must refuse connections.
                if std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
                    break (udp, None);
                }
                continue;
            }
            if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
                break (udp, Some(l));
            }
        };
        let server = TruncatingServer {
            addr: udp.local_addr().unwrap(),
            tcp_queries: Arc::default(),
            udp_queries: Arc::default(),
        };
        let udp_queries = server.udp_queries.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                udp_queries.fetch_add(1, Ordering::Relaxed);
                let mut reply = answer(&query);
                reply.take_answers();
                reply.set_truncated(true);
                let _ = udp.send_to(&reply.to_vec().unwrap(), from).await;
            }
        });
        if let Some(listener) = listener {
            let tcp_queries = server.tcp_queries.clone();
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let tcp_queries = tcp_queries.clone();
                    tokio::spawn(async move {
                        // RFC 1035 §4.2.2: each message after its 2-byte length.
                        loop {
                            let Ok(len) = stream.read_u16().await else {
                                return;
                            };
                            let mut buf = vec![0u8; usize::from(len)];
                            if stream.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            let Ok(query) = Message::from_vec(&buf) else {
                                return;
                            };
                            tcp_queries.fetch_add(1, Ordering::Relaxed);
                            let reply = answer(&query).to_vec().unwrap();
                            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(&reply);
                            if stream.write_all(&framed).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
        server
    }
}

const OPTIONS: ResolverOptions = ResolverOptions {
    timeout: Duration::from_millis(500),
    attempts: 2,
};

#[tokio::test]
async fn a_truncated_answer_is_asked_again_over_tcp() {
    let dns = TruncatingServer::start(true).await;
    let resolver = HickoryResolver::with_nameserver_options(dns.addr, OPTIONS);
    let locator = Locator::new(Arc::new(resolver), &[Protocol::Udp]);
    let targets = locator
        .locate(&"sip:alice@trunc.test".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        targets,
        [Target::new(
            Protocol::Udp,
            "127.0.0.40:5070".parse().unwrap()
        )]
    );
    assert!(dns.udp_queries.load(Ordering::Relaxed) >= 2);
    // NAPTR, SRV and A each came back truncated, then over TCP.
    assert!(
        dns.tcp_queries.load(Ordering::Relaxed) >= 3,
        "{} TCP queries",
        dns.tcp_queries.load(Ordering::Relaxed)
    );
}

#[tokio::test]
async fn a_truncated_answer_without_tcp_fails_at_once_with_503() {
    let dns = TruncatingServer::start(false).await;
    let resolver = HickoryResolver::with_nameserver_options(dns.addr, OPTIONS);
    let locator = Locator::new(Arc::new(resolver), &[Protocol::Udp]);
    let started = Instant::now();
    let error = locator
        .locate(&"sip:alice@trunc.test".parse().unwrap())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&error, LocateError::Dns { name, .. } if name.ends_with("trunc.test")),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Refused over TCP: no waiting for timeouts (each is 500 ms).
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(dns.udp_queries.load(Ordering::Relaxed) >= 1);
}
