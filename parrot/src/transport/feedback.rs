//! Overload feedback to peers that ask for it (RFC 7339, loss-based
//! algorithm): a response to a request whose top Via carries `oc` tells
//! that peer, in the same Via, what share of its new requests to hold back
//! (`oc`, a percentage), which algorithm (`oc-algo="loss"`), for how long
//! (`oc-validity`, in milliseconds) and when the figure was set (`oc-seq`,
//! so that the peer can tell newer feedback from older). A peer that
//! honours it rejects that share itself, before the requests cost this
//! server anything; peers that do not are shed here as before.

use crate::message::{Headers, Response, Text};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a peer applies the feedback it got (`oc-validity`): longer
/// than the interval the figure is refreshed at, so that a steady overload
/// needs no gap in it.
const VALIDITY_MS: u32 = 2000;

/// The feedback the transport stamps into responses; set by the TU.
#[derive(Debug, Default)]
pub(crate) struct Feedback {
    /// The share of new requests peers should hold back, in percent.
    reduction: AtomicU8,
    /// When it was last changed, in milliseconds since the Unix epoch.
    since_ms: AtomicU64,
}

impl Feedback {
    /// Sets the share of new requests peers should hold back.
    pub(crate) fn set(&self, percent: u8) {
        let percent = percent.min(100);
        if self.reduction.swap(percent, Ordering::Relaxed) != percent {
            self.since_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// The share of new requests peers are told to hold back.
    pub(crate) fn reduction(&self) -> u8 {
        self.reduction.load(Ordering::Relaxed)
    }

    /// `response` with the feedback in its top Via, if that Via asks for
    /// it (has `oc`, put there by the peer, RFC 7339 §5.1); `None` (and no
    /// copy) otherwise.
    pub(crate) fn stamped(&self, response: &Response) -> Option<Response> {
        if !asks(&response.headers) {
            return None;
        }
        let mut response = response.clone();
        self.stamp(&mut response.headers);
        Some(response)
    }

    /// Writes the feedback into the top Via of `headers`, if it asks for it.
    pub(crate) fn stamp(&self, headers: &mut Headers) {
        let Some(mut via) = headers
            .top_via()
            .filter(|v| v.params.contains("oc"))
            .map(|v| v.into_owned())
        else {
            return;
        };
        let since = self.since_ms.load(Ordering::Relaxed);
        let since = if since == 0 { now_ms() } else { since };
        via.params.set("oc", Some(&self.reduction().to_string()));
        // §5.2: the server names the one algorithm it picked.
        via.params
            .set_raw("oc-algo", Some(Text::from_static("\"loss\"")));
        via.params
            .set("oc-validity", Some(&VALIDITY_MS.to_string()));
        via.params.set(
            "oc-seq",
            Some(&format!("{}.{:03}", since / 1000, since % 1000)),
        );
        headers.replace_top_via(via);
    }
}

/// Whether the top Via of `headers` carries `oc`.
fn asks(headers: &Headers) -> bool {
    headers.top_via().is_some_and(|v| v.params.contains("oc"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, StatusCode, parse_datagram};

    fn response(via_params: &str) -> Response {
        let raw = format!(
            "INVITE sip:b@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1{via_params}\r\n\
             Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-0;oc\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:a@example.com>;tag=a1\r\n\
             To: <sip:b@example.com>\r\n\
             Call-ID: c1@example.com\r\n\
             CSeq: 1 INVITE\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(bytes::Bytes::from(raw)) {
            Ok(Message::Request(r)) => r.reply(StatusCode::SERVICE_UNAVAILABLE),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_peer_that_asks_gets_the_loss_feedback() {
        let f = Feedback::default();
        f.set(30);
        let r = f
            .stamped(&response(";oc;oc-algo=\"loss,A\""))
            .expect("stamped");
        let via = r.headers.top_via().unwrap().into_owned();
        assert_eq!(via.params.get("oc").as_deref(), Some("30"));
        assert_eq!(via.params.raw("oc-algo").map(|t| &**t), Some("\"loss\""));
        assert_eq!(via.params.get("oc-validity").as_deref(), Some("2000"));
        let seq = via.params.get("oc-seq").unwrap().into_owned();
        let (secs, frac) = seq.split_once('.').unwrap();
        assert!(secs.len() <= 12 && secs.bytes().all(|b| b.is_ascii_digit()));
        assert!(frac.len() == 3 && frac.bytes().all(|b| b.is_ascii_digit()));
        // Sent on the wire as Via parameters; only the top Via is ours to
        // answer: the next one keeps its bare `oc` for its own hop.
        let text = String::from_utf8(r.to_bytes().to_vec()).unwrap();
        assert!(
            text.contains(";oc=30;oc-algo=\"loss\";oc-validity=2000;oc-seq="),
            "{text}"
        );
        assert!(text.contains("branch=z9hG4bK-0;oc\r\n"), "{text}");
    }

    #[test]
    fn no_feedback_for_a_peer_that_did_not_ask() {
        let f = Feedback::default();
        f.set(50);
        assert!(f.stamped(&response("")).is_none());
    }

    #[test]
    fn the_sequence_moves_only_when_the_figure_does() {
        let f = Feedback::default();
        f.set(10);
        let first = f.since_ms.load(Ordering::Relaxed);
        assert!(first > 0);
        f.set(10);
        assert_eq!(f.since_ms.load(Ordering::Relaxed), first);
        f.set(200);
        assert_eq!(f.reduction(), 100);
    }
}
