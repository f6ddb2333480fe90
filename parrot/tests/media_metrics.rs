//! The media sessions' counters on `/metrics`: a call answered with media
//! (`Context::answer_media`, echo on), 25 packets of PCMU sent to it, BYE;
//! then `parrot_rtp_packets_received_total` counts the 25 packets and
//! `parrot_rtp_packets_sent_total` what the session sent back (a session
//! adds its counts with its RTCP reports and when it ends).
//!
//! Its own test binary: the `metrics` recorder is process-global.

mod support;

use parrot::client::Client;
use parrot::media::rtp::RtpHeader;
use parrot::prelude::*;
use std::future::IntoFuture;
use std::time::Duration;
use support::http::{get, value};
use support::sdp_audio_addr;
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

/// The longest a loopback exchange may take here.
const WAIT: Duration = Duration::from_secs(10);
/// Packets the caller sends.
const PACKETS: u16 = 25;

struct Echo;

#[uas_handler]
impl Echo {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Result<Response, Response> {
        let sdp = cx.answer_media()?;
        Ok(req.reply(StatusCode::OK).sdp(sdp))
    }

    async fn ack(&mut self, _req: &Request, cx: &mut Context) {
        if let Some(media) = cx.media() {
            media.echo(true).expect("session alive");
        }
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_sessions_count_their_rtp_packets_on_the_metrics_page() {
    let server = Server::builder()
        .listen("127.0.0.1:0")
        .metrics("127.0.0.1:0")
        .handler(|| Echo)
        .bind()
        .await
        .expect("binds");
    let sip = server
        .local_addr(parrot::transport::Protocol::Udp)
        .expect("UDP");
    let metrics = server.metrics_addr().expect("a metrics listener");
    let running = tokio::spawn(server.serve().into_future());

    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let offer = format!(
        "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\n",
        phone.local_addr().unwrap().port()
    );
    let client = Client::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .from("sip:alice@127.0.0.1")
        .bind()
        .await
        .expect("client binds");
    let mut call = client
        .invite(format!("sip:echo@{sip}").as_str(), offer)
        .await
        .expect("INVITE sent")
        .wait()
        .await
        .expect("answered");
    let media = sdp_audio_addr(call.remote_sdp().expect("an SDP answer"));

    // 25 packets of audio, 20 ms apart, and what comes back until the
    // echo of the last one (the session also sends silence before).
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..PACKETS {
        tick.tick().await;
        let mut out = Vec::new();
        RtpHeader {
            marker: i == 0,
            payload_type: 0,
            sequence: i,
            timestamp: u32::from(i) * 160,
            ssrc: 7,
        }
        .write_to(&[0x55; 160], &mut out)
        .expect("writes");
        phone.send_to(&out, media).await.unwrap();
    }
    let mut echoed = 0;
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + WAIT;
    while echoed < u32::from(PACKETS) * 8 / 10 {
        let n = timeout(deadline - Instant::now(), phone.recv(&mut buf))
            .await
            .expect("the echo comes back in time")
            .unwrap();
        if n == 172 && buf[12..n].iter().all(|&b| b == 0x55) {
            echoed += 1;
        }
    }
    // The rest of the echo, until none of it has come for 200 ms (the
    // silence the session sends meanwhile does not count): by then it has
    // taken every packet sent, and the BYE that ends it cannot overtake
    // the last of them.
    let mut quiet_from = Instant::now();
    while echoed < u32::from(PACKETS)
        && quiet_from.elapsed() < Duration::from_millis(200)
        && Instant::now() < deadline
    {
        if let Ok(got) = timeout(Duration::from_millis(20), phone.recv(&mut buf)).await {
            let n = got.unwrap();
            if n == 172 && buf[12..n].iter().all(|&b| b == 0x55) {
                echoed += 1;
                quiet_from = Instant::now();
            }
        }
    }
    call.bye().await.expect("BYE answered");

    // The session adds its counts when it ends, with the call.
    let deadline = Instant::now() + WAIT;
    let page = loop {
        let page = get(metrics, "/metrics").await.1;
        if value(&page, "parrot_rtp_packets_received_total").is_some() {
            break page;
        }
        assert!(Instant::now() < deadline, "no RTP counters:\n{page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let count = |series: &str| value(&page, series).unwrap_or(0.0);
    assert_eq!(
        count("parrot_rtp_packets_received_total"),
        f64::from(PACKETS),
        "{page}"
    );
    // At least the echo of what it heard went out.
    assert!(
        count("parrot_rtp_packets_sent_total") >= f64::from(echoed),
        "{page}"
    );
    assert_eq!(count("parrot_rtp_packets_late_total"), 0.0, "{page}");
    assert!(
        page.contains("# TYPE parrot_rtp_packets_received_total counter"),
        "{page}"
    );
    assert!(
        page.contains("# HELP parrot_rtp_packets_sent_total "),
        "{page}"
    );
    running.abort();
}
