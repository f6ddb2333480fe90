//! List-valued headers held as a whole list: `Allow` (RFC 3261 §20.5),
//! `Supported` (§20.37), `Require` (§20.32), `Proxy-Require` (§20.29),
//! `Unsupported` (§20.40), `Accept` (§20.1) and `Allow-Events` (RFC 6665
//! §8.2.2).
//!
//! These set [`TypedHeader::SPLIT`] to `false`: `decode` gets the whole
//! field value and splits it itself, so an empty value (allowed for some of
//! them) decodes to an empty list. Display writes `a, b, c`.

use super::TypedHeader;
use super::content_type::{ContentType, MediaRange};
use super::event::is_event_type;
use crate::message::grammar::{is_token, split_list};
use crate::message::{HeaderName, Method, ParseError, Text};
use std::fmt;

/// Splits `value` at top-level commas and parses each element with `item`.
/// An empty list is an error unless `allow_empty`.
fn decode_list<T>(
    value: &str,
    header: &str,
    allow_empty: bool,
    item: impl Fn(&str) -> Result<T, ParseError>,
) -> Result<Vec<T>, ParseError> {
    let items = split_list(value).map(item).collect::<Result<Vec<T>, _>>()?;
    if items.is_empty() && !allow_empty {
        return Err(ParseError::header(header, "empty list"));
    }
    Ok(items)
}

/// `option-tag = token` (RFC 3261 §25.1).
fn option_tag(src: &Text, s: &str, header: &str) -> Result<Text, ParseError> {
    if is_token(s) {
        Ok(src.slice_ref(s))
    } else {
        Err(ParseError::header(header, "bad option tag"))
    }
}

/// `event-type` (RFC 6665 §8.4).
fn event_type(src: &Text, s: &str, header: &str) -> Result<Text, ParseError> {
    if is_event_type(s) {
        Ok(src.slice_ref(s))
    } else {
        Err(ParseError::header(header, "bad event type"))
    }
}

fn method(src: &Text, s: &str, header: &str) -> Result<Method, ParseError> {
    Method::parse(src, s).map_err(|_| ParseError::header(header, "bad method"))
}

fn media_range(src: &Text, s: &str, _header: &str) -> Result<MediaRange, ParseError> {
    MediaRange::parse(src, s)
}

macro_rules! list_header {
    (
        $(#[$doc:meta])*
        $ty:ident($item:ty), $name:ident, allow_empty = $empty:expr, item = $parse:path
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $ty(pub Vec<$item>);

        impl $ty {
            /// An empty list.
            pub const fn new() -> Self {
                $ty(Vec::new())
            }

            /// The elements, in order.
            pub fn iter(&self) -> std::slice::Iter<'_, $item> {
                self.0.iter()
            }

            /// Number of elements.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Whether the list is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// Appends an element.
            pub fn push(&mut self, item: impl Into<$item>) {
                self.0.push(item.into());
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const SPLIT: bool = false;

            fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
                let h = HeaderName::$name.as_str();
                decode_list(value, h, $empty, |s| $parse(src, s, h)).map($ty)
            }
        }

        impl fmt::Display for $ty {
            /// Writes the elements separated by `", "`.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for (i, item) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
        }

        impl<T: Into<$item>> FromIterator<T> for $ty {
            fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
                $ty(iter.into_iter().map(Into::into).collect())
            }
        }

        impl<'a> IntoIterator for &'a $ty {
            type Item = &'a $item;
            type IntoIter = std::slice::Iter<'a, $item>;
            fn into_iter(self) -> Self::IntoIter {
                self.0.iter()
            }
        }
    };
}

/// Defines an option-tag list header with a case-insensitive `contains`.
macro_rules! option_tag_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, allow_empty = $empty:expr) => {
        list_header!($(#[$doc])* $ty(Text), $name, allow_empty = $empty, item = option_tag);

        impl $ty {
            /// Whether `tag` is listed. Option tags are tokens, which
            /// compare case-insensitively (RFC 3261 §7.3.1).
            pub fn contains(&self, tag: &str) -> bool {
                self.0.iter().any(|t| t.eq_ignore_ascii_case(tag))
            }
        }
    };
}

list_header!(
    /// `Allow` (RFC 3261 §20.5): the methods the sender supports. May be
    /// empty.
    Allow(Method),
    Allow,
    allow_empty = true,
    item = method
);

impl Allow {
    /// Whether `m` is listed (methods are case-sensitive, §7.1).
    pub fn contains(&self, m: &Method) -> bool {
        self.0.contains(m)
    }
}

option_tag_header!(
    /// `Supported` (RFC 3261 §20.37): the extensions the sender supports.
    /// May be empty.
    Supported,
    Supported,
    allow_empty = true
);

option_tag_header!(
    /// `Require` (RFC 3261 §20.32): extensions the UAS must support.
    Require,
    Require,
    allow_empty = false
);

option_tag_header!(
    /// `Proxy-Require` (RFC 3261 §20.29): extensions proxies must support.
    ProxyRequire,
    ProxyRequire,
    allow_empty = false
);

option_tag_header!(
    /// `Unsupported` (RFC 3261 §20.40): the required extensions a 420
    /// response refuses.
    Unsupported,
    Unsupported,
    allow_empty = false
);

list_header!(
    /// `Allow-Events` (RFC 6665 §8.2.2): the event packages the sender
    /// supports.
    AllowEvents(Text),
    AllowEvents,
    allow_empty = false,
    item = event_type
);

impl AllowEvents {
    /// Whether `package` is listed. Event types compare byte by byte
    /// (RFC 6665 §8.2.1).
    pub fn contains(&self, package: &str) -> bool {
        self.0.iter().any(|t| t == package)
    }
}

list_header!(
    /// `Accept` (RFC 3261 §20.1): the body types the sender accepts. An
    /// empty Accept is allowed and means no body is acceptable.
    Accept(MediaRange),
    Accept,
    allow_empty = true,
    item = media_range
);

impl Accept {
    /// Whether a body of type `ct` is acceptable: some range matches it
    /// with a `q` other than 0.
    pub fn accepts(&self, ct: &ContentType) -> bool {
        self.0.iter().any(|r| r.matches(ct) && r.q() != Some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Headers;

    fn rt<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) -> T {
        let v = T::parse_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(
            T::parse_str(&v.to_string()).unwrap(),
            v,
            "round trip of {s:?}"
        );
        v
    }

    #[test]
    fn allow() {
        let a: Allow = rt("INVITE, ACK,OPTIONS ,  CANCEL,BYE, NEWMETHOD");
        assert_eq!(a.len(), 6);
        assert!(a.contains(&Method::Invite));
        assert!(a.contains(&"NEWMETHOD".parse().unwrap()));
        assert!(!a.contains(&Method::Prack));
        assert_eq!(
            a.to_string(),
            "INVITE, ACK, OPTIONS, CANCEL, BYE, NEWMETHOD"
        );
        // Empty Allow is allowed (§20.5).
        assert!(rt::<Allow>("").is_empty());
        assert!(rt::<Allow>("  ").is_empty());
        assert_eq!(Allow::new().to_string(), "");
        assert!(Allow::parse_str("INVITE, BAD METHOD").is_err());
        assert_eq!(
            Allow::parse_str("IN VITE").unwrap_err().reason(),
            "Bad Allow header: bad method"
        );
        let a: Allow = [Method::Invite, Method::Ack].into_iter().collect();
        assert_eq!(a.to_string(), "INVITE, ACK");
    }

    #[test]
    fn option_tags() {
        let s: Supported = rt("100rel, timer,replaces");
        assert!(s.contains("100REL"));
        assert!(s.contains("timer"));
        assert!(!s.contains("path"));
        assert_eq!(s.to_string(), "100rel, timer, replaces");
        assert!(rt::<Supported>("").is_empty());
        // RFC 4475 §3.3.5 (bext01).
        let r: Require = rt("nothingSupportsThis, nothingSupportsThisEither");
        assert_eq!(r.len(), 2);
        let p: ProxyRequire = rt("noProxiesSupportThis, norDoAnyProxiesSupportThis");
        assert!(p.contains("noproxiessupportthis"));
        let u: Unsupported = rt("foo");
        assert_eq!(u.iter().next().unwrap(), "foo");
        for bad in ["", " , ", "a b", "a;b", "\"q\""] {
            assert!(Require::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ProxyRequire::parse_str("").unwrap_err().reason(),
            "Bad Proxy-Require header: empty list"
        );
        assert!(Unsupported::parse_str("").is_err());
        let mut s = Supported::new();
        s.push("path");
        s.push(Text::from("gruu"));
        assert_eq!(s.to_string(), "path, gruu");
        let s: Supported = ["a", "b"].into_iter().collect();
        assert_eq!(s.to_string(), "a, b");
    }

    #[test]
    fn allow_events() {
        let a: AllowEvents = rt("presence, dialog,presence.winfo, refer");
        assert!(a.contains("presence.winfo"));
        assert!(!a.contains("Presence"));
        assert!(AllowEvents::parse_str("presence..winfo").is_err());
        assert!(AllowEvents::parse_str("").is_err());
    }

    #[test]
    fn accept() {
        // RFC 4475 §3.3.15 (sdp01).
        let a: Accept = rt("text/nobodyknowsthis");
        assert!(!a.accepts(&ContentType::sdp()));
        let a: Accept = rt("application/sdp;level=1, application/*;q=0.5, text/html; q=0");
        assert_eq!(a.len(), 3);
        assert!(a.accepts(&ContentType::sdp()));
        assert!(a.accepts(&ContentType::new("application", "pidf+xml")));
        assert!(!a.accepts(&ContentType::new("text", "html")));
        assert_eq!(
            a.to_string(),
            "application/sdp;level=1, application/*;q=0.5, text/html;q=0"
        );
        // Empty Accept is allowed (§20.1).
        let a: Accept = rt("");
        assert!(a.is_empty());
        assert!(!a.accepts(&ContentType::sdp()));
        assert!(rt::<Accept>("*/*").accepts(&ContentType::sdp()));
        for bad in ["*/sdp", "text", "text/plain;q=5", "text/plain junk"] {
            assert!(Accept::parse_str(bad).is_err(), "{bad:?}");
        }
        let a: Accept = [ContentType::sdp()].into_iter().collect();
        assert_eq!(a.to_string(), "application/sdp");
    }

    #[test]
    fn whole_field_value_from_headers() {
        let mut h = Headers::new();
        h.append(HeaderName::Supported, "timer, 100rel");
        h.append(HeaderName::Supported, "");
        h.append(HeaderName::Allow, "INVITE, BYE");
        let s = h.typed::<Supported>().unwrap().unwrap();
        assert_eq!(s.len(), 2);
        let all: Vec<Supported> = h.typed_all::<Supported>().map(Result::unwrap).collect();
        assert_eq!(all.len(), 2);
        assert!(all[1].is_empty());
        h.set_typed(&Allow(vec![Method::Options]));
        assert_eq!(h.get(HeaderName::Allow).unwrap(), "OPTIONS");
    }

    #[test]
    fn no_panics() {
        for s in [",", ",,,", "\"", "<", "é, ü", "a/é", "\"a,b", "<a,b"] {
            let _ = Allow::parse_str(s);
            let _ = Accept::parse_str(s);
            let _ = Supported::parse_str(s);
            let _ = AllowEvents::parse_str(s);
        }
    }
}
