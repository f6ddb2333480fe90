//! The values of the Contact header fields our responses carry, kept once
//! written: a dialog-creating response needs one, and writing a URI costs
//! more than finding the one written for the same address before.

use crate::message::Text;
use crate::transport::Protocol;
use std::net::IpAddr;
use std::sync::Mutex;

/// What our Contact for a request depends on (see
/// [`contact`](super::session_state::contact)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactKey {
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
    pub(crate) protocol: Protocol,
    pub(crate) sips: bool,
    /// The user part, the Request-URI's.
    pub(crate) user: Option<Text>,
}

/// The last few Contact values written. Few: a server answers on a few
/// addresses, and most of its calls are for a few users; a key not found
/// costs one comparison per entry.
#[derive(Debug, Default)]
pub(crate) struct ContactTexts {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    kept: Vec<(ContactKey, Text)>,
    /// The entry the next new key replaces once all are taken.
    next: usize,
}

/// How many values are kept.
const KEPT: usize = 4;

impl ContactTexts {
    /// The value for `key`: the one kept, or `write`'s, which is kept.
    pub(crate) fn get_or_write(&self, key: ContactKey, write: impl FnOnce() -> Text) -> Text {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, text)) = entries.kept.iter().find(|(k, _)| *k == key) {
            return text.clone();
        }
        // Written under the lock: a URI is quick to write, and one writer
        // keeps two sessions from writing the same value twice.
        let text = write();
        if entries.kept.len() < KEPT {
            entries.kept.push((key, text.clone()));
        } else {
            let at = entries.next;
            entries.kept[at] = (key, text.clone());
            entries.next = (at + 1) % KEPT;
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16, user: Option<&str>) -> ContactKey {
        ContactKey {
            ip: [127, 0, 0, 1].into(),
            port,
            protocol: Protocol::Udp,
            sips: false,
            user: user.map(Text::copy_of),
        }
    }

    #[test]
    fn a_value_is_written_once_per_key() {
        let texts = ContactTexts::default();
        let writes = std::cell::Cell::new(0);
        let get = |k: ContactKey, v: &str| {
            texts.get_or_write(k, || {
                writes.set(writes.get() + 1);
                Text::copy_of(v)
            })
        };
        assert_eq!(get(key(5060, Some("a")), "<sip:a@x>"), "<sip:a@x>");
        assert_eq!(get(key(5060, Some("a")), "other"), "<sip:a@x>");
        // Each part of the key tells values apart.
        assert_eq!(get(key(5060, Some("b")), "<sip:b@x>"), "<sip:b@x>");
        assert_eq!(get(key(5060, None), "<sip:x>"), "<sip:x>");
        assert_eq!(get(key(5061, None), "<sip:x:5061>"), "<sip:x:5061>");
        let mut tcp = key(5060, None);
        tcp.protocol = Protocol::Tcp;
        assert_eq!(get(tcp.clone(), "tcp"), "tcp");
        let mut sips = tcp;
        sips.sips = true;
        assert_eq!(get(sips, "sips"), "sips");
        assert_eq!(writes.get(), 6);
    }

    #[test]
    fn it_keeps_a_bounded_number_of_values() {
        let texts = ContactTexts::default();
        for port in 0..100 {
            texts.get_or_write(key(port, None), || Text::from(port.to_string()));
        }
        let entries = texts.entries.lock().unwrap();
        assert_eq!(entries.kept.len(), KEPT);
        // The newest are kept.
        assert!(entries.kept.iter().any(|(k, t)| k.port == 99 && t == "99"));
    }
}
