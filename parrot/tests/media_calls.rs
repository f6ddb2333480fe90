//! Calls with media through the server: `Context::answer_media` answers
//! the offer with a real port and starts the call's session, which the
//! handler drives (echo, digits); the session ends with the call. Offers
//! without G.711 get 488, and a server out of ports refuses with 503.
//! Parrot's client plays the caller; a UDP socket of the test is its
//! phone's RTP port.

mod support;

use bytes::Bytes;
use parrot::client::{CallError, Client};
use parrot::media::MediaConfig;
use parrot::media::rtp::{RtpHeader, RtpPacket};
use parrot::prelude::*;
use parrot::sdp::SessionDescription;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;
use support::sdp_audio_addr;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// Echoes the caller's audio and reports the digits it hears.
#[derive(Clone)]
struct EchoDigits {
    digits: mpsc::UnboundedSender<char>,
}

#[uas_handler]
impl EchoDigits {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Result<Response, Response> {
        let sdp = cx.answer_media()?;
        Ok(req.reply(StatusCode::OK).sdp(sdp))
    }

    async fn ack(&mut self, _req: &Request, cx: &mut Context) {
        let Some(media) = cx.media() else {
            return;
        };
        media.echo(true).expect("session alive");
        let digits = self.digits.clone();
        tokio::spawn(async move {
            while let Some(d) = media.next_digit().await {
                let _ = digits.send(d.as_char());
            }
            // The session ended with the call.
            let _ = digits.send('.');
        });
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

fn offer(rtp: SocketAddr, formats: &str) -> String {
    format!(
        "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP {formats}\r\na=rtpmap:101 telephone-event/8000\r\n",
        rtp.port()
    )
}

async fn server(
    ports: Option<std::ops::RangeInclusive<u16>>,
) -> (SocketAddr, mpsc::UnboundedReceiver<char>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut builder = Server::builder().listen("127.0.0.1:0");
    if let Some(ports) = ports {
        builder = builder.media(MediaConfig {
            bind_ip: None,
            ports,
        });
    }
    let server = builder
        .handler(move || EchoDigits { digits: tx.clone() })
        .bind()
        .await
        .expect("binds");
    let addr = server
        .local_addr(parrot::transport::Protocol::Udp)
        .expect("UDP");
    tokio::spawn(server.serve().into_future());
    (addr, rx)
}

async fn client() -> Client {
    Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .bind()
        .await
        .expect("client binds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_gets_a_real_port_echo_and_info_digits_and_frees_it_at_bye() {
    let (addr, mut digits) = server(None).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = client().await;
    let uri = format!("sip:echo@{addr}");
    let mut call = client
        .invite(uri.as_str(), offer(phone.local_addr().unwrap(), "8 0 101"))
        .await
        .expect("INVITE sent")
        .wait()
        .await
        .expect("answered");
    let answer = call.remote_sdp().expect("an answer").to_owned();
    assert!(answer.contains("RTP/AVP 8 101\r\n"), "{answer}");
    let media = sdp_audio_addr(&answer);
    assert_ne!(media.port(), 0);
    assert_eq!(media.port() % 2, 0, "an even RTP port");

    // Audio out; the same audio back (after the jitter buffer).
    let phone = std::sync::Arc::new(phone);
    let task = {
        let p = phone.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for i in 0..30u16 {
                tick.tick().await;
                let mut out = Vec::new();
                RtpHeader {
                    marker: i == 0,
                    payload_type: 8,
                    sequence: i,
                    timestamp: u32::from(i) * 160,
                    ssrc: 42,
                }
                .write_to(&[0x33; 160], &mut out)
                .unwrap();
                p.send_to(&out, media).await.unwrap();
            }
        })
    };
    let mut echoed = 0;
    let mut buf = [0u8; 1500];
    while echoed < 20 {
        let n = timeout(WAIT, phone.recv(&mut buf))
            .await
            .expect("echo in time")
            .unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.payload_type, 8, "PCMA, as answered");
        if p.payload == [0x33; 160] {
            echoed += 1;
        }
    }
    task.await.unwrap();

    // A digit by SIP INFO (application/dtmf-relay) reaches the handler's
    // media session.
    let r = call
        .request(
            Method::Info,
            Some((
                "application/dtmf-relay",
                Bytes::from_static(b"Signal=7\r\nDuration=160\r\n"),
            )),
        )
        .await
        .expect("INFO answered");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(timeout(WAIT, digits.recv()).await.unwrap(), Some('7'));

    // Hold (RFC 3264 §8.4): the re-INVITE's sendonly offer is answered
    // recvonly on the same port, and the session stops sending.
    let r = call.hold().await.expect("re-INVITE answered");
    assert_eq!(r.status, StatusCode::OK);
    let held = String::from_utf8_lossy(&r.body).into_owned();
    assert!(held.contains("a=recvonly\r\n"), "{held}");
    assert_eq!(sdp_audio_addr(&held), media, "the port stays");
    let r = call.resume().await.expect("re-INVITE answered");
    let resumed = String::from_utf8_lossy(&r.body).into_owned();
    assert!(resumed.contains("a=sendrecv\r\n"), "{resumed}");
    // RFC 3264 §8: one o= line for the session, its version bumped.
    let origin = |sdp: &str| sdp.parse::<SessionDescription>().unwrap().origin;
    let (first, held, resumed) = (origin(&answer), origin(&held), origin(&resumed));
    assert_eq!(first.session_id, held.session_id);
    assert_eq!(held.session_id, resumed.session_id);
    assert_eq!(held.session_version, first.session_version + 1);
    assert_eq!(resumed.session_version, held.session_version + 1);

    let r = call.bye().await.expect("BYE answered");
    assert_eq!(r.status, StatusCode::OK);
    // The session ended with the call, and its ports are free.
    assert_eq!(timeout(WAIT, digits.recv()).await.unwrap(), Some('.'));
    timeout(WAIT, async {
        while std::net::UdpSocket::bind(media).is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the RTP port freed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_without_g711_get_488_and_no_port_left_gets_503() {
    // One port pair in the range.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let base = probe.local_addr().unwrap().port() & !1;
    drop(probe);
    let (addr, _digits) = server(Some(base..=base + 1)).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = client().await;
    let uri = format!("sip:echo@{addr}");

    let refused = client
        .invite(uri.as_str(), offer(phone.local_addr().unwrap(), "3 101"))
        .await
        .expect("INVITE sent")
        .wait()
        .await;
    match refused {
        Err(CallError::Rejected(r)) => {
            assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE_HERE);
            assert!(
                r.headers
                    .get("Warning")
                    .is_some_and(|w| w.starts_with("305 "))
            );
        }
        other => panic!("expected 488, got {other:?}"),
    }

    let mut first = client
        .invite(uri.as_str(), offer(phone.local_addr().unwrap(), "0"))
        .await
        .expect("INVITE sent")
        .wait()
        .await
        .expect("the first call gets the pair");
    let second = client
        .invite(uri.as_str(), offer(phone.local_addr().unwrap(), "0"))
        .await
        .expect("INVITE sent")
        .wait()
        .await;
    match second {
        Err(CallError::Rejected(r)) => {
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(r.headers.get("Retry-After").is_some());
        }
        other => panic!("expected 503, got {other:?}"),
    }
    first.bye().await.expect("BYE answered");
    // The pair comes back: a new call gets it.
    let third = timeout(WAIT, async {
        loop {
            let attempt = client
                .invite(uri.as_str(), offer(phone.local_addr().unwrap(), "0"))
                .await
                .expect("INVITE sent")
                .wait()
                .await;
            match attempt {
                Ok(call) => break call,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("the port pair is given back");
    assert!(third.remote_sdp().is_some());
}
