//! The media session a dialog owns (see `Context::answer_media`).

use crate::media::session::MediaSession;

/// The media session a dialog owns: closed when dropped with the dialog's
/// state.
pub(crate) struct CallMedia(pub(crate) MediaSession);

impl Drop for CallMedia {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl std::fmt::Debug for CallMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
