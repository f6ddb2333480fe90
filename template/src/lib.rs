//! {{project-name}}: a SIP user agent server (UAS) built on Parrot.
//!
//! [`Uas`] is the handler: one value per dialog, with one async method per
//! SIP method it serves. Everything else — `100 Trying`, ACK, CANCEL,
//! retransmissions and timers, OPTIONS, `405` for the methods not written
//! here — is the runtime's.

use parrot::prelude::*;
use parrot::sdp::{SessionDescription, answer_audio};
use parrot::server::BoundServer;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tracing::info;

/// The RTP port named in the SDP answers (no media is actually sent).
pub const MEDIA_PORT: u16 = 40000;

/// The handler: answers calls and takes instant messages.
#[derive(Debug, Clone)]
pub struct Uas {
    /// The address put in the SDP answers.
    media_ip: IpAddr,
}

impl Uas {
    /// A handler value whose SDP answers name `media_ip`.
    pub fn new(media_ip: IpAddr) -> Self {
        Uas { media_ip }
    }
}

#[uas_handler]
impl Uas {
    /// A call (or a re-INVITE): `200 OK` with an SDP answer taking PCMU or
    /// PCMA from the offer, `488 Not Acceptable Here` when it has neither.
    async fn invite(&mut self, req: &Request) -> Response {
        let offer = SessionDescription::from_bytes(&req.body).ok();
        match offer.and_then(|o| answer_audio(&o, self.media_ip, MEDIA_PORT)) {
            Some(answer) => {
                info!(to = %req.uri, "call answered");
                req.reply(StatusCode::OK).sdp(answer)
            }
            None => req.reply(StatusCode::NOT_ACCEPTABLE_HERE),
        }
    }

    /// The caller hangs up.
    async fn bye(&mut self, _req: &Request) -> StatusCode {
        info!("call ended");
        StatusCode::OK
    }

    /// An instant message (RFC 3428): logged and accepted.
    async fn message(&mut self, req: &Request) -> StatusCode {
        info!(text = %String::from_utf8_lossy(&req.body), "message");
        StatusCode::OK
    }
}

/// The address the SDP answers name for a server listening on `listen`:
/// that address, or loopback when it listens on every interface.
pub fn media_ip(listen: SocketAddr) -> IpAddr {
    match listen.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    }
}

/// Binds a server on `listen` (UDP and TCP; port 0 picks a free one),
/// ready to serve: its bound addresses are known before it runs.
pub async fn bind(listen: SocketAddr) -> parrot::Result<BoundServer<Uas>> {
    let media_ip = media_ip(listen);
    Server::builder()
        .listen(listen)
        .handler(move || Uas::new(media_ip))
        .bind()
        .await
}
