//! SIP control of the streams: each stream is a call (INVITE / 200 /
//! ACK, BYE at the end) whose SDP names the generator's media socket.

use super::*;

/// The generator's one media socket (every stream sends from it and is
/// sent to it; the payload says which stream a packet is of), its port,
/// and the RTCP socket above it (held, never read).
pub(crate) struct Media {
    pub(crate) rtp: std::net::UdpSocket,
    pub(crate) _rtcp: std::net::UdpSocket,
    pub(crate) port: u16,
}

/// Binds the first free even port pair from `base` up, with 8 MiB socket
/// buffers (Linux caps them at net.core.rmem_max / wmem_max).
pub(crate) fn bind_media(base: u16) -> Result<Media, String> {
    let mut port = base & !1;
    while port < u16::MAX - 1 {
        let pair = (
            std::net::UdpSocket::bind((LOCALHOST, port)),
            std::net::UdpSocket::bind((LOCALHOST, port + 1)),
        );
        if let (Ok(rtp), Ok(rtcp)) = pair {
            let sock = socket2::SockRef::from(&rtp);
            let _ = sock.set_recv_buffer_size(8 << 20);
            let _ = sock.set_send_buffer_size(8 << 20);
            rtp.set_nonblocking(true).map_err(|e| e.to_string())?;
            return Ok(Media {
                rtp,
                _rtcp: rtcp,
                port,
            });
        }
        port += 2;
    }
    Err(format!("no free port pair above {base}"))
}

pub(crate) fn sdp(port: u16, session: usize) -> String {
    format!(
        "v=0\r\no=rtpload {session} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
         t=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n\
         a=sendrecv\r\n"
    )
}

/// The address of the first `m=audio` line of an SDP body: its port, and
/// the media's `c=` line, else the session's.
pub(crate) fn sdp_audio(body: &str) -> Option<SocketAddr> {
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    let mut seen_media = false;
    for line in body.lines().map(str::trim_end) {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            let ip = c.split('/').next().and_then(|ip| ip.trim().parse().ok());
            match (seen_media, port.is_some()) {
                (false, _) => session_ip = ip,
                (true, true) => media_ip = media_ip.or(ip),
                (true, false) => {}
            }
        } else if let Some(m) = line.strip_prefix("m=") {
            if port.is_some() {
                break;
            }
            seen_media = true;
            if let Some(audio) = m.strip_prefix("audio ") {
                port = audio.split_whitespace().next().and_then(|p| p.parse().ok());
            }
        }
    }
    Some(SocketAddr::new(media_ip.or(session_ip)?, port?))
}

// SIP: INVITE / 200 / ACK per stream, BYE at the end.

pub(crate) struct SipCall {
    pub(crate) call_id: String,
    pub(crate) from_tag: String,
    pub(crate) to: String,
    pub(crate) contact: String,
}

pub(crate) fn sip_request(
    method: &str,
    uri: &str,
    local: SocketAddr,
    call: &SipCall,
    cseq: u32,
    branch: &str,
    body: Option<&str>,
) -> Vec<u8> {
    let mut s = String::with_capacity(700);
    let _ = write!(
        s,
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:rtpload@{ip}>;tag={tag}\r\n\
         To: {to}\r\n\
         Call-ID: {cid}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:rtpload@{local}>\r\n",
        ip = local.ip(),
        tag = call.from_tag,
        to = call.to,
        cid = call.call_id,
    );
    bench::end_headers(&mut s, body);
    s.into_bytes()
}

/// A response's status, Call-ID, CSeq method, To, Contact URI and body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) call_id: String,
    pub(crate) method: String,
    pub(crate) to: String,
    pub(crate) contact: Option<String>,
    pub(crate) body: String,
}

pub(crate) fn read_answer(datagram: &[u8]) -> Option<Answer> {
    let Ok(Message::Response(r)) = parse_datagram(Bytes::copy_from_slice(datagram)) else {
        return None;
    };
    let contact = r.headers.get("Contact").map(|c| {
        let c = c.as_str();
        match (c.find('<'), c.find('>')) {
            (Some(a), Some(b)) if a < b => c[a + 1..b].to_owned(),
            _ => c.split(';').next().unwrap_or(c).trim().to_owned(),
        }
    });
    Some(Answer {
        status: r.status.as_u16(),
        call_id: r.headers.call_id()?.as_str().to_owned(),
        method: r.headers.cseq()?.method.to_string(),
        to: r.headers.get("To")?.as_str().to_owned(),
        contact,
        body: String::from_utf8_lossy(&r.body).into_owned(),
    })
}

/// Sets up one call per endpoint at `rate` calls/s; returns, per endpoint,
/// the server's RTP address (None: the call failed) and the calls for BYE.
pub(crate) async fn sip_setup(
    target: SocketAddr,
    media_port: u16,
    streams: usize,
    rate: u32,
) -> Result<(Vec<Option<SocketAddr>>, UdpSocket, Vec<SipCall>), String> {
    let sock = UdpSocket::bind((LOCALHOST, 0))
        .await
        .map_err(|e| e.to_string())?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    let pid = std::process::id();
    let uri = format!("sip:echo@{target}");
    let mut calls: Vec<SipCall> = (0..streams)
        .map(|i| SipCall {
            call_id: format!("rtpload-{pid}-{i}"),
            from_tag: format!("t{pid}x{i}"),
            to: format!("<{uri}>"),
            contact: uri.clone(),
        })
        .collect();
    let index: HashMap<String, usize> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| (c.call_id.clone(), i))
        .collect();
    let mut remote: Vec<Option<SocketAddr>> = vec![None; streams];
    let mut failed = vec![false; streams];
    let invites: Vec<Vec<u8>> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let body = sdp(media_port, i);
            sip_request("INVITE", &uri, local, c, 1, &format!("inv{i}"), Some(&body))
        })
        .collect();
    let gap = Duration::from_secs(1) / rate;
    let mut buf = vec![0u8; 65536];
    for attempt in 0..TRIES {
        let pending: Vec<usize> = (0..streams)
            .filter(|&i| remote[i].is_none() && !failed[i])
            .collect();
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            eprintln!("rtpload: {} calls unanswered, INVITE again", pending.len());
        }
        let start = Instant::now();
        let mut next = 0;
        let end_wait = start + gap * pending.len() as u32 + REQUEST_WAIT;
        loop {
            let now = Instant::now();
            while next < pending.len() && start + gap * next as u32 <= now {
                sock.send_to(&invites[pending[next]], target)
                    .await
                    .map_err(|e| e.to_string())?;
                next += 1;
            }
            let wake = if next < pending.len() {
                start + gap * next as u32
            } else {
                end_wait
            };
            if next == pending.len()
                && (pending.iter().all(|&i| remote[i].is_some() || failed[i]) || now >= end_wait)
            {
                break;
            }
            let Ok(got) = timeout(wake.saturating_duration_since(now), sock.recv(&mut buf)).await
            else {
                continue;
            };
            let n = got.map_err(|e| e.to_string())?;
            let Some(a) = read_answer(&buf[..n]) else {
                continue;
            };
            let Some(&i) = index.get(&a.call_id) else {
                continue;
            };
            if a.method != "INVITE" || a.status < 200 {
                continue;
            }
            let c = &mut calls[i];
            c.to = a.to.clone();
            if let Some(contact) = &a.contact {
                c.contact = contact.clone();
            }
            let ack = sip_request("ACK", &c.contact, local, c, 1, &format!("ack{i}"), None);
            sock.send_to(&ack, target)
                .await
                .map_err(|e| e.to_string())?;
            if (200..300).contains(&a.status) {
                match sdp_audio(&a.body) {
                    Some(addr) if remote[i].is_none() => remote[i] = Some(addr),
                    Some(_) => {}
                    None => failed[i] = true,
                }
            } else {
                failed[i] = true;
            }
        }
    }
    Ok((remote, sock, calls))
}

/// BYE to every call set up; returns how many got their 200.
pub(crate) async fn sip_teardown(
    sock: &UdpSocket,
    target: SocketAddr,
    calls: &[SipCall],
    up: &[bool],
    rate: u32,
) -> usize {
    let Ok(local) = sock.local_addr() else {
        return 0;
    };
    let gap = Duration::from_secs(1) / rate.saturating_mul(2);
    let mut buf = vec![0u8; 65536];
    let mut done = 0usize;
    let mut sent = 0u32;
    let start = Instant::now();
    for (i, c) in calls.iter().enumerate() {
        if !up[i] {
            continue;
        }
        let bye = sip_request("BYE", &c.contact, local, c, 2, &format!("bye{i}"), None);
        let _ = sock.send_to(&bye, target).await;
        sent += 1;
        // Pace, reading answers meanwhile.
        let until = tokio::time::Instant::from_std(start + gap * sent);
        while let Ok(Ok(n)) = timeout(
            until.saturating_duration_since(tokio::time::Instant::now()),
            sock.recv(&mut buf),
        )
        .await
        {
            if read_answer(&buf[..n]).is_some_and(|a| a.method == "BYE" && a.status == 200) {
                done += 1;
            }
        }
    }
    while let Ok(Ok(n)) = timeout(REQUEST_WAIT, sock.recv(&mut buf)).await {
        if read_answer(&buf[..n]).is_some_and(|a| a.method == "BYE" && a.status == 200) {
            done += 1;
        }
        if done == sent as usize {
            break;
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_audio_address_of_an_sdp() {
        let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";
        assert_eq!(sdp_audio(sdp), Some("127.0.0.1:30000".parse().unwrap()));
        let media_c = "v=0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\n";
        assert_eq!(sdp_audio(media_c), Some("10.0.0.2:4000".parse().unwrap()));
        assert_eq!(sdp_audio("v=0\r\n"), None);
    }
}
