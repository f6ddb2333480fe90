//! Dialog identifiers (RFC 3261 §12).

use crate::message::{Request, Response, Text};
use std::fmt;

/// The identifier of a dialog as seen by this UA (RFC 3261 §12): the
/// Call-ID, the local tag and the remote tag.
///
/// All three are compared byte by byte: Call-IDs are case-sensitive
/// (§20.8) and tags are opaque tokens that the peer echoes exactly (§19.3).
/// An empty remote tag stands for a peer that sent no From tag (an RFC 2543
/// UA: "the remote tag MUST be set to null", §12.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: Text,
    /// Our tag: the To tag of the requests we receive as UAS.
    pub local_tag: Text,
    /// The peer's tag: the From tag of the requests we receive as UAS
    /// (empty if the peer sends none).
    pub remote_tag: Text,
}

impl DialogId {
    /// An identifier from its three parts. The parts are copied into
    /// storage of their own (see [`DialogId::from_incoming_request`]).
    pub fn new(call_id: &str, local_tag: &str, remote_tag: &str) -> Self {
        DialogId {
            call_id: Text::from(call_id.to_owned()),
            local_tag: Text::from(local_tag.to_owned()),
            remote_tag: Text::from(remote_tag.to_owned()),
        }
    }

    /// The dialog an incoming request belongs to, as seen by us (§12.2.2):
    /// local tag = the To tag, remote tag = the From tag (empty if From has
    /// none, §12.1.1). `None` if the request has no Call-ID or no To tag: it
    /// is then outside any dialog (§12.2.2, §8.2.2.2).
    ///
    /// The parts are copied out of the request, so the identifier can be
    /// kept (as a map key, say) without pinning the receive buffer.
    pub fn from_incoming_request(req: &Request) -> Option<DialogId> {
        let call_id = req.headers.call_id().filter(|c| !c.is_empty())?;
        let local_tag = req.headers.to_tag()?;
        let remote_tag = req.headers.from_tag().unwrap_or_default();
        Some(DialogId {
            call_id: call_id.detached(),
            local_tag: local_tag.detached(),
            remote_tag: remote_tag.detached(),
        })
    }

    /// Whether `req`, a request we received, belongs to this dialog: what
    /// `from_incoming_request(req) == Some(self)` says, without copying
    /// the parts (a dialog checks every request it is handed).
    pub fn is_of_incoming_request(&self, req: &Request) -> bool {
        req.headers
            .call_id()
            .is_some_and(|c| !c.is_empty() && *c == self.call_id)
            && req.headers.to_tag().is_some_and(|t| t == self.local_tag)
            && req.headers.from_tag().unwrap_or_default() == self.remote_tag
    }

    /// The dialog a response we receive (as UAC) belongs to (§12.1.2):
    /// local tag = the From tag, remote tag = the To tag (empty if absent).
    /// `None` if the response has no Call-ID or no From tag.
    pub fn from_incoming_response(resp: &Response) -> Option<DialogId> {
        let call_id = resp.headers.call_id().filter(|c| !c.is_empty())?;
        let local_tag = resp.headers.from_tag()?;
        let remote_tag = resp.headers.to_tag().unwrap_or_default();
        Some(DialogId {
            call_id: call_id.detached(),
            local_tag: local_tag.detached(),
            remote_tag: remote_tag.detached(),
        })
    }

    /// The same dialog as the peer identifies it: the tags swapped.
    pub fn reversed(&self) -> DialogId {
        DialogId {
            call_id: self.call_id.clone(),
            local_tag: self.remote_tag.clone(),
            remote_tag: self.local_tag.clone(),
        }
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};local-tag={};remote-tag={}",
            self.call_id, self.local_tag, self.remote_tag
        )
    }
}
