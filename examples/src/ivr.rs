//! `ivr`: a voice menu. Answers, plays a prompt, and acts on the digit
//! the caller presses (RFC 4733 events or SIP INFO), barging in on the
//! prompt:
//!
//! - `1`: plays the information prompt, then the menu again;
//! - `2`: transfers the caller to [`IvrOptions::transfer_to`] by REFER
//!   (RFC 3515), when one is set (else as `1`);
//! - `0`: plays goodbye and hangs up;
//! - anything else, or nothing within 10 s: the menu again, three times at
//!   most, then goodbye.
//!
//! Prompts are WAV files (8 kHz mono: 16-bit PCM, A-law or µ-law) in
//! [`IvrOptions::prompts`]: `menu.wav`, `info.wav` and `goodbye.wav`.
//! Without a directory, or for a file missing from it, tones stand in
//! (a rising pair for the menu, a steady 1 kHz for the information, a
//! falling pair for goodbye).

use crate::echo::{answer_with_media, take_answer_from_ack};
use crate::listen::Listen;
use parrot::media::session::{MediaSession, PlayOutcome};
use parrot::media::tone::Tone;
use parrot::prelude::*;
use parrot::server::{BoundServer, DialogHandle, Factory, ServerBuilder};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// How long the menu waits for a digit after its prompt.
const DIGIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times the menu is offered before giving up.
const ATTEMPTS: usize = 3;

/// What the `ivr` example serves.
#[derive(Debug, Clone, Default)]
pub struct IvrOptions {
    /// The directory of `menu.wav`, `info.wav` and `goodbye.wav`.
    pub prompts: Option<PathBuf>,
    /// Where `2` transfers the caller.
    pub transfer_to: Option<Uri>,
    /// Told each menu choice the caller makes, in order (for tests and
    /// dashboards).
    pub choices: Option<mpsc::UnboundedSender<char>>,
}

/// What the menu asks of its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrEvent {
    /// Hang up.
    HangUp,
    /// Transfer to this target.
    Transfer(Uri),
}

/// The handler: one per call.
#[derive(Debug, Clone)]
pub struct Ivr {
    options: Arc<IvrOptions>,
}

impl Ivr {
    /// A handler with `options`.
    pub fn new(options: Arc<IvrOptions>) -> Self {
        Ivr { options }
    }
}

#[uas_handler]
impl Ivr {
    async fn invite(
        &mut self,
        req: &Request,
        cx: &mut Context<'_, IvrEvent>,
    ) -> Result<Response, Response> {
        info!(call_id = cx.call_id(), uri = %req.uri, "ivr call");
        answer_with_media(req, cx)
    }

    async fn ack(&mut self, req: &Request, cx: &mut Context<'_, IvrEvent>) -> Action {
        if let Action::Stop(reason) = take_answer_from_ack(req, cx) {
            return Action::Stop(reason);
        }
        if let Some(media) = cx.media() {
            tokio::spawn(menu(media, cx.handle(), self.options.clone()));
        }
        Action::NoReply
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn event(&mut self, event: IvrEvent, cx: &mut Context<'_, IvrEvent>) -> Action {
        match event {
            IvrEvent::HangUp => Action::Stop("the caller chose to hang up".into()),
            IvrEvent::Transfer(target) => {
                match cx.refer(&target, None).await {
                    Ok(_) => info!(call_id = cx.call_id(), %target, "transfer accepted"),
                    Err(e) => warn!(call_id = cx.call_id(), error = %e, "transfer failed"),
                }
                Action::NoReply
            }
        }
    }
}

/// A prompt: the file if it is there, else its stand-in tones.
async fn play(
    media: &MediaSession,
    options: &IvrOptions,
    name: &str,
) -> Result<PlayOutcome, parrot::media::MediaError> {
    if let Some(dir) = &options.prompts {
        let path = dir.join(format!("{name}.wav"));
        if path.exists() {
            return media.play_file(&path, true).await;
        }
    }
    let (low, high) = match name {
        "menu" => (Tone::new(440.0, -12.0), Tone::new(660.0, -12.0)),
        "goodbye" => (Tone::new(660.0, -12.0), Tone::new(440.0, -12.0)),
        _ => (Tone::new(1000.0, -12.0), Tone::new(1000.0, -12.0)),
    };
    let mut samples = vec![0i16; 8000];
    let (first, second) = samples.split_at_mut(4000);
    let (mut low, mut high) = (low, high);
    low.fill(first);
    high.fill(second);
    media.play_samples(samples, true).await
}

/// The menu, run beside the call: ends with the call (its media session
/// ends and every operation fails) or with a choice that ends it.
async fn menu(media: MediaSession, call: DialogHandle<IvrEvent>, options: Arc<IvrOptions>) {
    for _ in 0..ATTEMPTS {
        if play(&media, &options, "menu").await.is_err() {
            return;
        }
        // A digit that cut the prompt short is queued too.
        let choice = match media.collect_digits(1, None, DIGIT_TIMEOUT).await {
            Ok(d) => d.first().map(|d| d.as_char()),
            Err(_) => return,
        };
        let Some(choice) = choice else {
            debug!("no choice: the menu again");
            continue;
        };
        info!(%choice, "menu choice");
        if let Some(tx) = &options.choices {
            let _ = tx.send(choice);
        }
        match (choice, &options.transfer_to) {
            ('0', _) => break,
            ('2', Some(target)) => {
                let _ = call.send(IvrEvent::Transfer(target.clone()));
                return;
            }
            ('1' | '2', _) if play(&media, &options, "info").await.is_err() => return,
            _ => {}
        }
    }
    if play(&media, &options, "goodbye").await.is_ok() {
        let _ = call.send(IvrEvent::HangUp);
    }
}

/// Binds the `ivr` example on `listen` (UDP and TCP; port 0 picks one).
pub async fn bind(
    listen: impl Into<Listen>,
    options: IvrOptions,
) -> parrot::Result<BoundServer<Ivr>> {
    listen.into().apply(server(options)).bind().await
}

/// The `ivr` example's server, with no listen address yet (to bind, or to
/// run on `parrot::testing`'s in-memory network).
pub fn server(options: IvrOptions) -> ServerBuilder<Factory<Ivr>> {
    let options = Arc::new(options);
    Server::builder()
        .release_memory_with(crate::cli::release_memory)
        .handler(move || Ivr::new(options.clone()))
}

/// Serves the `ivr` example until `shutdown` completes.
pub async fn serve(
    listen: impl Into<Listen>,
    options: IvrOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> parrot::Result<()> {
    bind(listen, options)
        .await?
        .serve()
        .with_graceful_shutdown(shutdown)
        .await
}
