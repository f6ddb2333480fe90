//! `Text`: an immutable, cheaply cloned UTF-8 string backed by [`Bytes`].
//!
//! Parsed messages hand out `Text` values that are slices of the receive
//! buffer, so reading a header never copies it.

use bytes::Bytes;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest text kept inline: copying this many bytes is cheaper than the
/// atomic reference count a shared slice costs to take and to drop, and
/// most SIP tokens (tags, branches, hosts, parameter names) are this short.
/// 23 is the most that keeps a `Text` at 32 bytes: the length and the
/// bytes fill the three words beside the shared form's vtable pointer, in
/// whose niche the enum keeps its variant (see the `stays_four_words`
/// test).
const INLINE: usize = 23;

/// An immutable UTF-8 string that shares its storage with the buffer it was
/// parsed from (or, when short, holds its bytes inline). Cloning and
/// slicing are O(1).
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Shared(Bytes),
    Inline { len: u8, buf: [u8; INLINE] },
}

impl Default for Text {
    fn default() -> Self {
        Text::new()
    }
}

impl Text {
    /// An empty text.
    pub const fn new() -> Self {
        Text(Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        })
    }

    /// A text over a `'static` string, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Text(Repr::Shared(Bytes::from_static(s.as_bytes())))
    }

    /// Wraps bytes that are valid UTF-8, or returns them back.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Bytes> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Text(Repr::Shared(bytes))),
            Err(_) => Err(bytes),
        }
    }

    /// `s`, at most [`INLINE`] bytes long, copied inline.
    fn inline(s: &str) -> Text {
        // Two overlapping fixed-size copies (from each end) instead of a
        // call to `memcpy` for a few bytes.
        fn copy<const N: usize>(buf: &mut [u8; INLINE], b: &[u8]) {
            let n = b.len();
            buf[..N].copy_from_slice(&b[..N]);
            buf[n - N..n].copy_from_slice(&b[n - N..]);
        }
        let b = s.as_bytes();
        let mut buf = [0; INLINE];
        match b.len() {
            16.. => copy::<16>(&mut buf, b),
            8..16 => copy::<8>(&mut buf, b),
            4..8 => copy::<4>(&mut buf, b),
            _ => buf.iter_mut().zip(b).for_each(|(d, s)| *d = *s),
        }
        Text(Repr::Inline {
            len: s.len() as u8,
            buf,
        })
    }

    /// The text as a string slice.
    pub fn as_str(&self) -> &str {
        let bytes: &[u8] = match &self.0 {
            Repr::Shared(b) => b,
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
        };
        // SAFETY: every constructor checks (or is given) valid UTF-8 and the
        // bytes are immutable; inline texts are copies of whole `&str`s and
        // shared slices are taken with `slice_ref` on sub-slices of a `&str`.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// Returns a `Text` for `sub`, which must be a sub-slice of `self.as_str()`
    /// (as returned by `str` methods such as `trim` or `split`). Shares storage
    /// (or copies a short text inline).
    ///
    /// If `sub` does not point inside `self`, it is copied instead.
    ///
    /// Inlined: the parser calls it for every header value and most parts
    /// of the headers it decodes, and the call costs a good part of it.
    #[inline]
    pub fn slice_ref(&self, sub: &str) -> Text {
        let Repr::Shared(b) = &self.0 else {
            return Text::copy_of(sub);
        };
        let base = b.as_ptr() as usize;
        let p = sub.as_ptr() as usize;
        if p < base || p + sub.len() > base + b.len() {
            return Text::copy_of(sub);
        }
        let offset = p - base;
        if sub.len() <= INLINE {
            // Copy a fixed-size window when the buffer has room for it: a
            // constant-size copy compiles to a few moves, not a call. Bytes
            // past `len` are never read.
            if let Some(window) = b.get(offset..offset + INLINE) {
                let mut buf = [0; INLINE];
                buf.copy_from_slice(window);
                return Text(Repr::Inline {
                    len: sub.len() as u8,
                    buf,
                });
            }
            return Text::inline(sub);
        }
        Text(Repr::Shared(b.slice(offset..offset + sub.len())))
    }

    /// A copy that shares no storage: short texts are (or become) inline,
    /// longer ones get their own buffer. For values kept long after the
    /// message they were parsed from, which would otherwise keep its whole
    /// receive buffer alive.
    pub fn detached(&self) -> Text {
        match &self.0 {
            Repr::Inline { .. } => self.clone(),
            Repr::Shared(_) => Text::copy_of(self.as_str()),
        }
    }

    /// A copy of `s`: inline when short (no allocation), else in a buffer
    /// of its own.
    pub(crate) fn copy_of(s: &str) -> Text {
        if s.len() <= INLINE {
            Text::inline(s)
        } else {
            Text(Repr::Shared(Bytes::copy_from_slice(s.as_bytes())))
        }
    }

    /// The text as [`Bytes`] (shares storage where it can).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Shared(b) => b.clone(),
            Repr::Inline { .. } => Bytes::copy_from_slice(self.as_str().as_bytes()),
        }
    }

    /// Converts into [`Bytes`].
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Shared(b) => b,
            Repr::Inline { .. } => Bytes::copy_from_slice(self.as_str().as_bytes()),
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text::from_static(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Text::inline(&s)
        } else {
            Text(Repr::Shared(Bytes::from(s)))
        }
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::copy_of(s)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_four_words() {
        // Every header, parameter and URI part holds one or more: a larger
        // `INLINE` must not make them larger.
        assert_eq!(std::mem::size_of::<Text>(), 32);
        let text = Text::copy_of(&"x".repeat(INLINE));
        assert!(matches!(text.0, Repr::Inline { .. }));
        let text = Text::copy_of(&"x".repeat(INLINE + 1));
        assert!(matches!(text.0, Repr::Shared(_)));
    }

    #[test]
    fn slice_ref_shares_storage() {
        let t = Text::from(String::from(
            "hello world, a text longer than the inline size",
        ));
        let w = t.slice_ref(&t[6..]);
        assert_eq!(w, "world, a text longer than the inline size");
        assert_eq!(w.as_ptr(), t[6..].as_ptr());
        // Short slices are copied inline.
        let short = t.slice_ref(&t[..5]);
        assert_eq!(short, "hello");
        assert_ne!(short.as_ptr(), t.as_ptr());
        assert_eq!(short, Text::from("hello"));
    }

    #[test]
    fn slice_ref_copies_foreign_str() {
        let t = Text::from("abc");
        let other = String::from("xyz");
        assert_eq!(t.slice_ref(&other), "xyz");
    }

    #[test]
    fn detached_copies_share_nothing() {
        let t = Text::from(String::from(
            "hello world, a text longer than the inline size",
        ));
        let long = t.slice_ref(&t[6..]).detached();
        assert_eq!(long, "world, a text longer than the inline size");
        assert_ne!(long.as_ptr(), t[6..].as_ptr());
        let short = Text::from_static("a static text").detached();
        assert_eq!(short, "a static text");
        assert!(matches!(short.0, Repr::Inline { .. }));
        let inline = t.slice_ref(&t[..5]);
        assert_eq!(inline.detached(), "hello");
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert!(Text::from_utf8(Bytes::from_static(b"\xff")).is_err());
    }
}
