//! Putting a session on hold and resuming it (RFC 3264 §8.4, RFC 6337
//! §5.3): new offers derived from the description in force, sans-IO.
//!
//! ```
//! use parrot::sdp::{Direction, SessionDescription};
//!
//! let in_force: SessionDescription = "v=0\r\n\
//!     o=bob 7 1 IN IP4 192.0.2.7\r\n\
//!     s=-\r\n\
//!     c=IN IP4 192.0.2.7\r\n\
//!     t=0 0\r\n\
//!     m=audio 40000 RTP/AVP 0\r\n"
//!     .parse()?;
//!
//! let held = in_force.held();
//! assert_eq!(held.media[0].direction(), Some(Direction::SendOnly));
//! assert_eq!(held.origin.session_version, 2);
//!
//! let resumed = held.resumed();
//! assert_eq!(resumed.media[0].direction(), Some(Direction::SendRecv));
//! assert_eq!(resumed.origin.session_version, 3);
//! # Ok::<(), parrot::sdp::SdpError>(())
//! ```

use super::model::{Attribute, Direction, MediaDescription, SessionDescription};

impl SessionDescription {
    /// The offer that puts this session on hold (RFC 3264 §8.4, RFC 6337
    /// §5.3): every active audio and video stream (port not zero) stops
    /// receiving from the peer — `sendrecv` becomes `sendonly`, `recvonly`
    /// becomes `inactive`; streams already `sendonly` or `inactive`, and
    /// other media, are left as they are. The `o=` line is this
    /// description's with its version incremented, or kept when nothing
    /// changed (RFC 3264 §8: a repeated hold offers the same description).
    pub fn held(&self) -> SessionDescription {
        self.redirected(|d| match d {
            Direction::SendRecv => Direction::SendOnly,
            Direction::RecvOnly => Direction::Inactive,
            other => other,
        })
    }

    /// The offer that takes this session off hold, the inverse of
    /// [`held`](Self::held) (RFC 6337 §5.3): every audio and video stream
    /// with a port — `sendonly` goes back to `sendrecv`, `inactive` to
    /// `recvonly`. The `o=` version is incremented when anything changed.
    ///
    /// A stream that was `sendonly` or `inactive` before the hold cannot
    /// be told apart here; to restore exactly what was in force before,
    /// use [`restored`](Self::restored) with that description.
    pub fn resumed(&self) -> SessionDescription {
        self.redirected(|d| match d {
            Direction::SendOnly => Direction::SendRecv,
            Direction::Inactive => Direction::RecvOnly,
            other => other,
        })
    }

    /// This description with the stream directions of `before` (a
    /// description of the same session sent earlier, e.g. the one in force
    /// before a hold), stream by stream in order (RFC 3264 §8: the streams
    /// of a later offer keep their positions); streams beyond `before`'s
    /// keep theirs. The `o=` version is incremented when anything changed.
    pub fn restored(&self, before: &SessionDescription) -> SessionDescription {
        let mut next = self.clone();
        for (i, media) in next.media.iter_mut().enumerate() {
            if let Some(old) = before.media.get(i) {
                let wanted = before.direction_of(old);
                if self.direction_of(&self.media[i]) != wanted {
                    set_direction(media, wanted);
                }
            }
        }
        next.continue_from(self);
        next
    }

    /// Whether every active audio and video stream is on hold from our
    /// side (`sendonly` or `inactive`), and there is at least one.
    pub fn is_held(&self) -> bool {
        let mut active = self.media.iter().filter(|m| holdable(m)).peekable();
        active.peek().is_some()
            && active.all(|m| {
                matches!(
                    self.direction_of(m),
                    Direction::SendOnly | Direction::Inactive
                )
            })
    }

    /// A copy with each holdable stream's effective direction mapped by
    /// `map` (written at media level where it changes), as the next
    /// version of this one.
    fn redirected(&self, map: impl Fn(Direction) -> Direction) -> SessionDescription {
        let mut next = self.clone();
        for (i, media) in next.media.iter_mut().enumerate() {
            if !holdable(media) {
                continue;
            }
            let now = self.direction_of(&self.media[i]);
            let wanted = map(now);
            if wanted != now {
                set_direction(media, wanted);
            }
        }
        next.continue_from(self);
        next
    }
}

/// Audio and video streams not rejected (RFC 3264 §8.4 holds "media
/// streams"; a port of zero is a rejected or removed one, §8.2).
fn holdable(media: &MediaDescription) -> bool {
    !media.is_rejected() && matches!(media.media.as_str(), "audio" | "video")
}

/// Writes `direction` as the media-level direction attribute of `media`
/// (which overrides a session-level one, RFC 3264 §5.1), in place of the
/// first one there or last.
fn set_direction(media: &mut MediaDescription, direction: Direction) {
    let is_direction = |a: &Attribute| {
        a.value.is_none()
            && matches!(
                a.name.as_str(),
                "sendrecv" | "sendonly" | "recvonly" | "inactive"
            )
    };
    let at = media.attributes.iter().position(is_direction);
    media.attributes.retain(|a| !is_direction(a));
    let attr = Attribute::flag(direction.as_str());
    match at {
        Some(i) => media.attributes.insert(i.min(media.attributes.len()), attr),
        None => media.attributes.push(attr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: &str = "v=0\r\n\
        o=bob 7 41 IN IP4 192.0.2.7\r\n\
        s=-\r\n\
        c=IN IP4 192.0.2.7\r\n\
        t=0 0\r\n\
        m=audio 40000 RTP/AVP 0 101\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=sendrecv\r\n\
        a=ptime:20\r\n\
        m=video 40002 RTP/AVP 96\r\n\
        a=rtpmap:96 H264/90000\r\n\
        a=recvonly\r\n\
        m=audio 0 RTP/AVP 0\r\n\
        m=application 5000 TCP/BFCP *\r\n";

    fn call() -> SessionDescription {
        CALL.parse().unwrap()
    }

    fn directions(sdp: &SessionDescription) -> Vec<Direction> {
        sdp.media.iter().map(|m| sdp.direction_of(m)).collect()
    }

    #[test]
    fn hold_makes_sendrecv_sendonly_and_recvonly_inactive() {
        let held = call().held();
        assert_eq!(
            directions(&held),
            [
                Direction::SendOnly,
                Direction::Inactive,
                // Rejected stream and non-RTP media untouched.
                Direction::SendRecv,
                Direction::SendRecv,
            ]
        );
        // The attribute is replaced where it was, the others kept.
        let text = held.to_string();
        assert!(
            text.contains("a=rtpmap:0 PCMU/8000\r\na=sendonly\r\na=ptime:20\r\n"),
            "{text}"
        );
        assert!(!text.contains("a=sendrecv"), "{text}");
        assert!(!held.media[2].has_attribute("sendonly"));
        assert!(!held.media[3].has_attribute("sendonly"));
        assert!(held.is_held());
        assert!(!call().is_held());
    }

    #[test]
    fn hold_increments_the_version_once() {
        let held = call().held();
        assert_eq!(held.origin.session_version, 42);
        assert_eq!(held.origin.session_id, 7);
        assert_eq!(held.origin.username, "bob");
        // Holding what is held changes nothing: same version (§8).
        let again = held.held();
        assert_eq!(again, held);
    }

    #[test]
    fn resume_is_the_inverse() {
        let resumed = call().held().resumed();
        assert_eq!(resumed.origin.session_version, 43);
        assert_eq!(
            directions(&resumed),
            [
                Direction::SendRecv,
                Direction::RecvOnly,
                Direction::SendRecv,
                Direction::SendRecv
            ]
        );
        assert!(!resumed.is_held());
    }

    #[test]
    fn an_implicit_or_session_level_direction_is_overridden_at_media_level() {
        let implicit: SessionDescription = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\n\
            c=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
            .parse()
            .unwrap();
        let held = implicit.held();
        assert_eq!(held.media[0].direction(), Some(Direction::SendOnly));
        assert_eq!(
            held.resumed().media[0].direction(),
            Some(Direction::SendRecv)
        );

        let session_level: SessionDescription = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\n\
            c=IN IP4 192.0.2.7\r\nt=0 0\r\na=recvonly\r\nm=audio 40000 RTP/AVP 0\r\n"
            .parse()
            .unwrap();
        let held = session_level.held();
        assert_eq!(held.direction_of(&held.media[0]), Direction::Inactive);
        assert_eq!(held.attribute("recvonly"), None);
        assert!(held.has_attribute("recvonly"));
    }

    #[test]
    fn restored_brings_back_the_directions_before_the_hold() {
        let before: SessionDescription = "v=0\r\no=- 1 5 IN IP4 192.0.2.7\r\ns=-\r\n\
            c=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendonly\r\n\
            m=video 40002 RTP/AVP 96\r\na=inactive\r\n"
            .parse()
            .unwrap();
        let held = before.held();
        // Nothing to change: a sendonly and an inactive stream.
        assert_eq!(held, before);
        let resumed = held.resumed();
        assert_eq!(
            directions(&resumed),
            [Direction::SendRecv, Direction::RecvOnly]
        );
        let restored = resumed.restored(&before);
        assert_eq!(
            directions(&restored),
            [Direction::SendOnly, Direction::Inactive]
        );
        assert_eq!(restored.origin.session_version, 7);
        // Restoring what is in force changes nothing.
        assert_eq!(before.restored(&before), before);
    }
}
