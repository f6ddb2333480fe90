//! `voicemail`: answers, plays a greeting and a beep, and records the
//! caller to a WAV file (8 kHz 16-bit PCM) until the caller hangs up,
//! presses `#` (then the call is ended for them), or the length limit.
//! Each message is saved as `<directory>/<time>-<call>.wav`.
//!
//! The greeting is [`VoicemailOptions::greeting`] (a WAV file, 8 kHz
//! mono), or a short tone without one.

use crate::echo::{answer_with_media, take_answer_from_ack};
use crate::listen::Listen;
use parrot::media::dtmf::Digit;
use parrot::media::session::MediaSession;
use parrot::media::tone::Tone;
use parrot::prelude::*;
use parrot::server::{BoundServer, DialogHandle};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// What the `voicemail` example serves.
#[derive(Debug, Clone)]
pub struct VoicemailOptions {
    /// Where messages are saved (created if missing).
    pub dir: PathBuf,
    /// The greeting played before the beep.
    pub greeting: Option<PathBuf>,
    /// The longest message.
    pub max: Duration,
    /// Told the path of each message saved (for tests and notifiers).
    pub saved: Option<mpsc::UnboundedSender<PathBuf>>,
}

impl Default for VoicemailOptions {
    fn default() -> Self {
        VoicemailOptions {
            dir: PathBuf::from("voicemail"),
            greeting: None,
            max: Duration::from_secs(120),
            saved: None,
        }
    }
}

/// Asks the call to end (the caller pressed `#`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done;

/// The handler: one per call.
#[derive(Debug, Clone)]
pub struct Voicemail {
    options: Arc<VoicemailOptions>,
}

#[uas_handler]
impl Voicemail {
    async fn invite(
        &mut self,
        req: &Request,
        cx: &mut Context<'_, Done>,
    ) -> Result<Response, Response> {
        info!(call_id = cx.call_id(), uri = %req.uri, "voicemail call");
        answer_with_media(req, cx)
    }

    async fn ack(&mut self, req: &Request, cx: &mut Context<'_, Done>) -> Action {
        if let Action::Stop(reason) = take_answer_from_ack(req, cx) {
            return Action::Stop(reason);
        }
        if let Some(media) = cx.media() {
            let name = file_name(cx.call_id());
            tokio::spawn(take_message(media, cx.handle(), self.options.clone(), name));
        }
        Action::NoReply
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn event(&mut self, _done: Done, _cx: &mut Context<'_, Done>) -> Action {
        Action::Stop("message left (#)".into())
    }
}

/// `<unix time>-<call id>.wav`, the Call-ID reduced to characters safe
/// in a file name.
fn file_name(call_id: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let call: String = call_id
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{secs}-{call}.wav")
}

/// Greeting, beep, then the recording until the call ends, `#` or the
/// limit.
async fn take_message(
    media: MediaSession,
    call: DialogHandle<Done>,
    options: Arc<VoicemailOptions>,
    name: String,
) {
    let greeted = match &options.greeting {
        Some(path) => media.play_file(path, false).await,
        None => media.play_samples(tone(440.0, 4000), false).await,
    };
    if greeted.is_err() || media.play_samples(tone(1000.0, 2400), false).await.is_err() {
        return;
    }
    if let Err(e) = std::fs::create_dir_all(&options.dir) {
        warn!(error = %e, dir = %options.dir.display(), "cannot create the message directory");
        return;
    }
    let path = options.dir.join(name);
    let hash = Digit::from_char('#');
    let watcher = {
        let media = media.clone();
        tokio::spawn(async move {
            while let Some(d) = media.next_digit().await {
                if Some(d) == hash {
                    let _ = media.stop_recording();
                    let _ = call.send(Done);
                    return;
                }
            }
        })
    };
    match media.record(&path, options.max).await {
        Ok(recording) => {
            info!(path = %path.display(), seconds = recording.duration().as_secs_f64(), "message saved");
            if let Some(tx) = &options.saved {
                let _ = tx.send(path);
            }
        }
        Err(e) => warn!(error = %e, "message not recorded"),
    }
    watcher.abort();
}

/// `samples` samples of a tone at `frequency`.
fn tone(frequency: f64, samples: usize) -> Vec<i16> {
    let mut out = vec![0i16; samples];
    Tone::new(frequency, -12.0).fill(&mut out);
    out
}

/// Binds the `voicemail` example on `listen` (UDP and TCP; port 0 picks
/// one).
pub async fn bind(
    listen: impl Into<Listen>,
    options: VoicemailOptions,
) -> parrot::Result<BoundServer<Voicemail>> {
    let options = Arc::new(options);
    listen
        .into()
        .apply(Server::builder())
        .release_memory_with(crate::cli::release_memory)
        .handler(move || Voicemail {
            options: options.clone(),
        })
        .bind()
        .await
}

/// Serves the `voicemail` example until `shutdown` completes.
pub async fn serve(
    listen: impl Into<Listen>,
    options: VoicemailOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    bind(listen, options)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
