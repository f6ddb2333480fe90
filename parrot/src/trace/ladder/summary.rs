//! A captured message reduced to what its arrow needs: a label, the
//! identifiers shown in the SVG's tooltips, and a fingerprint that equal
//! retransmissions share.

use super::{Captured, Entry, MAX_CALL_ID, MAX_LABEL, MessageKind, cut};
use crate::message::{Message, StatusClass, Uri, parse_datagram};
use bytes::Bytes;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Parses `m` and summarizes it (the retransmission flag is the flow's to
/// set).
pub(super) fn summarize(m: &Captured<'_>) -> Entry {
    let mut hasher = DefaultHasher::new();
    (m.source, m.destination).hash(&mut hasher);
    let mut entry = Entry {
        time: m.time,
        source: m.source,
        destination: m.destination,
        protocol: m.protocol,
        bytes: m.data.len(),
        kind: MessageKind::Unparsable,
        label: String::new(),
        call_id: None,
        cseq: None,
        branch: None,
        retransmission: false,
        fingerprint: 0,
    };
    match parse_datagram(Bytes::copy_from_slice(m.data)) {
        Ok(message) => {
            let headers = message.headers();
            let (kind, label) = match &message {
                Message::Request(r) => (
                    MessageKind::Request,
                    format!("{} {}", r.method.as_str(), short_uri(&r.uri)),
                ),
                Message::Response(r) => {
                    let kind = match r.status.class() {
                        StatusClass::Provisional => MessageKind::Provisional,
                        StatusClass::Success => MessageKind::Success,
                        _ => MessageKind::Failure,
                    };
                    (kind, format!("{} {}", r.status.as_u16(), r.reason.as_str()))
                }
            };
            entry.kind = kind;
            entry.call_id = headers
                .call_id()
                .map(|c| cut(c.as_str(), MAX_CALL_ID).to_owned());
            entry.cseq = headers
                .cseq()
                .map(|c| format!("{} {}", c.seq, c.method.as_str()));
            entry.branch = headers
                .top_via()
                .and_then(|v| v.branch().map(|b| cut(b, MAX_CALL_ID).to_owned()));
            // The full start line (not the cut label), the dialog's tags
            // and the transaction's identifiers: two forked 180s relayed
            // by one proxy differ only by their To tags.
            match &message {
                Message::Request(r) => (r.method.as_str(), r.uri.to_string()).hash(&mut hasher),
                Message::Response(r) => (r.status.as_u16(), r.reason.as_str()).hash(&mut hasher),
            }
            (
                headers.call_id().map(|c| c.as_str()),
                &entry.cseq,
                &entry.branch,
                headers.from_tag().as_ref().map(|t| t.as_str()),
                headers.to_tag().as_ref().map(|t| t.as_str()),
            )
                .hash(&mut hasher);
            entry.label = label;
        }
        Err(_) => {
            m.data.hash(&mut hasher);
            entry.label = format!("(unparsable, {} bytes)", m.data.len());
        }
    }
    entry.label = clean(&entry.label, MAX_LABEL);
    entry.fingerprint = hasher.finish();
    entry
}

/// The Request-URI as a label shows it: `user@host` or `host` for a SIP
/// URI (no port or parameters), the number of a `tel:` URI, any other
/// URI as written.
fn short_uri(uri: &Uri) -> String {
    match uri {
        Uri::Sip(u) => match u.user_raw() {
            Some(user) => format!("{}@{}", user.as_str(), u.host()),
            None => u.host().to_string(),
        },
        Uri::Tel(t) => format!("tel:{}", t.number().as_str()),
        Uri::Other(_) => uri.to_string(),
    }
}

/// `s` with control characters replaced by `?` and cut to at most `max`
/// characters (the last one then `…`): what a label or a name may show.
pub(super) fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (n, c) in s.chars().enumerate() {
        if n + 1 == max && s.chars().nth(max).is_some() {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_cuts_and_replaces_controls() {
        assert_eq!(clean("a\u{1b}[31mb", 60), "a?[31mb");
        assert_eq!(clean("abcdef", 6), "abcdef");
        assert_eq!(clean("abcdefg", 6), "abcde…");
        assert_eq!(clean("", 6), "");
    }
}
