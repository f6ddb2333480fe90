//! `echo`: the classic test number. Answers every call with a real RTP
//! port (G.711, RFC 4733 DTMF) and sends the caller back what it says,
//! 60 ms later (the jitter buffer's delay). Digits the caller presses are
//! logged.
//!
//! The media session is the call's ([`Context::answer_media`]): it ends
//! with the call, however the call ends, and its ports are free again.

use crate::listen::Listen;
use parrot::prelude::*;
use parrot::server::BoundServer;
use std::future::Future;
use tracing::{info, warn};

/// Echoes each caller's audio.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

/// Answers an INVITE with the call's media: `200` with the SDP answer (or
/// our offer, for an INVITE without one), or the refusal
/// [`Context::answer_media`] gives (`488`, `503`...).
pub fn answer_with_media<E: Send + 'static>(
    req: &Request,
    cx: &mut Context<'_, E>,
) -> Result<Response, Response> {
    let sdp = cx.answer_media()?;
    Ok(req.reply(StatusCode::OK).sdp(sdp))
}

/// On the ACK: takes the peer's answer when the INVITE had no offer
/// (RFC 3261 §13.2.1), else nothing; an unusable answer ends the call.
pub fn take_answer_from_ack<E: Send + 'static>(req: &Request, cx: &mut Context<'_, E>) -> Action {
    if !req.body.is_empty()
        && let Err(e) = cx.take_media_answer()
    {
        warn!(call_id = cx.call_id(), error = %e, "no usable SDP answer in the ACK");
        return Action::Stop("no usable SDP answer in the ACK".into());
    }
    Action::NoReply
}

#[uas_handler]
impl Echo {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Result<Response, Response> {
        info!(call_id = cx.call_id(), uri = %req.uri, "echo call");
        answer_with_media(req, cx)
    }

    async fn ack(&mut self, req: &Request, cx: &mut Context) -> Action {
        if let Action::Stop(reason) = take_answer_from_ack(req, cx) {
            return Action::Stop(reason);
        }
        let Some(media) = cx.media() else {
            return Action::NoReply;
        };
        if media.echo(true).is_err() {
            return Action::NoReply;
        }
        let call_id = cx.call_id().to_owned();
        tokio::spawn(async move {
            while let Some(digit) = media.next_digit().await {
                info!(%call_id, digit = %digit.as_char(), "digit");
            }
        });
        Action::NoReply
    }

    async fn bye(&mut self, _req: &Request, cx: &mut Context) -> StatusCode {
        if let Some(stats) = match cx.media() {
            Some(m) => m.stats().await.ok(),
            None => None,
        } {
            info!(
                call_id = cx.call_id(),
                received = stats.packets_received,
                sent = stats.packets_sent,
                concealed = stats.concealed,
                "echo call ended"
            );
        }
        StatusCode::OK
    }
}

/// Binds the `echo` example on `listen` (UDP and TCP; port 0 picks one).
pub async fn bind(listen: impl Into<Listen>) -> parrot::Result<BoundServer<Echo>> {
    listen
        .into()
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory)
        .handler(|| Echo)
        .bind()
        .await
}

/// Serves the `echo` example until `shutdown` completes.
pub async fn serve(
    listen: impl Into<Listen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    bind(listen)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
