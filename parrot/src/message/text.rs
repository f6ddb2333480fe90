//! `Text`: an immutable, cheaply cloned UTF-8 string backed by [`Bytes`].
//!
//! Parsed messages hand out `Text` values that are slices of the receive
//! buffer, so reading a header never copies it.

use bytes::Bytes;
use std::fmt;
use std::ops::Deref;

/// An immutable UTF-8 string that shares its storage with the buffer it was
/// parsed from. Cloning and slicing are O(1).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Bytes);

impl Text {
    /// An empty text.
    pub const fn new() -> Self {
        Text(Bytes::new())
    }

    /// A text over a `'static` string, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes that are valid UTF-8, or returns them back.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Bytes> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Text(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// The text as a string slice.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks (or is given) valid UTF-8 and the
        // bytes are immutable; slicing goes through `slice_ref`, which only
        // accepts sub-slices of an existing `&str`.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Returns a `Text` for `sub`, which must be a sub-slice of `self.as_str()`
    /// (as returned by `str` methods such as `trim` or `split`). Shares storage.
    ///
    /// If `sub` does not point inside `self`, it is copied instead.
    pub fn slice_ref(&self, sub: &str) -> Text {
        if sub.is_empty() {
            return Text::new();
        }
        let base = self.0.as_ptr() as usize;
        let p = sub.as_ptr() as usize;
        if p >= base && p + sub.len() <= base + self.0.len() {
            Text(self.0.slice_ref(sub.as_bytes()))
        } else {
            Text::from(sub.to_owned())
        }
    }

    /// Converts into the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
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
        &self.0
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text::from_static(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
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
    fn slice_ref_shares_storage() {
        let t = Text::from(String::from("hello world"));
        let w = t.slice_ref(&t[6..]);
        assert_eq!(w, "world");
        assert_eq!(w.as_bytes().as_ptr(), t.as_bytes()[6..].as_ptr());
    }

    #[test]
    fn slice_ref_copies_foreign_str() {
        let t = Text::from("abc");
        let other = String::from("xyz");
        assert_eq!(t.slice_ref(&other), "xyz");
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert!(Text::from_utf8(Bytes::from_static(b"\xff")).is_err());
    }
}
