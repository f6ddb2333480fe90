//! The `?name=value&...` header components of SIP URIs.

use super::Detail;
use super::escape::{
    canonical, canonical_lower, check_chars, is_header_byte, name_is, percent_decode,
    percent_encode,
};
use crate::message::text::Text;
use std::borrow::Cow;
use std::fmt;

/// One URI header component `name=value`, kept as written (escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriHeader {
    name: Text,
    value: Text,
}

impl UriHeader {
    /// The name as written.
    pub fn name_raw(&self) -> &Text {
        &self.name
    }

    /// The name with escapes resolved.
    pub fn name(&self) -> Cow<'_, str> {
        percent_decode(&self.name)
    }

    /// The value as written (may be empty).
    pub fn value_raw(&self) -> &Text {
        &self.value
    }

    /// The value with escapes resolved.
    pub fn value(&self) -> Cow<'_, str> {
        percent_decode(&self.value)
    }
}

/// The ordered `?name=value&...` header components of a SIP URI
/// (RFC 3261 §19.1.1). Names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriHeaders {
    list: Vec<UriHeader>,
}

impl UriHeaders {
    /// No headers.
    pub const fn new() -> Self {
        UriHeaders { list: Vec::new() }
    }

    /// Parses `&`-separated headers (`s` without the leading `?`).
    pub(super) fn parse(src: &Text, s: &str) -> Result<UriHeaders, Detail> {
        let mut list = Vec::new();
        for h in s.split('&') {
            // header = hname "=" hvalue; hname = 1*(...); hvalue = *(...)
            // (RFC 3261 §25.1).
            let Some((name, value)) = h.split_once('=') else {
                return Err("header without '='".into());
            };
            if name.is_empty() {
                return Err("empty header name".into());
            }
            check_chars(name, is_header_byte, "header")?;
            check_chars(value, is_header_byte, "header")?;
            list.push(UriHeader {
                name: src.slice_ref(name),
                value: src.slice_ref(value),
            });
        }
        Ok(UriHeaders { list })
    }

    /// The decoded value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.list
            .iter()
            .find(|h| name_is(&h.name, name))
            .map(UriHeader::value)
    }

    /// Whether a header called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.list.iter().any(|h| name_is(&h.name, name))
    }

    /// Appends a header; `name` and `value` are given unescaped.
    pub fn append(&mut self, name: &str, value: &str) {
        self.list.push(UriHeader {
            name: Text::from(percent_encode(name, is_header_byte)),
            value: Text::from(percent_encode(value, is_header_byte)),
        });
    }

    /// Removes every header called `name`; returns whether any was.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|h| !name_is(&h.name, name));
        before != self.list.len()
    }

    /// The headers in order.
    pub fn iter(&self) -> std::slice::Iter<'_, UriHeader> {
        self.list.iter()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Header components as an order-independent multiset.
    pub(super) fn canonical(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<_> = self
            .list
            .iter()
            .map(|h| (canonical_lower(&h.name), canonical(&h.value).into_owned()))
            .collect();
        v.sort();
        v
    }
}

impl fmt::Display for UriHeaders {
    /// Writes `?a=b&c=d` as written, or nothing when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, h) in self.list.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            f.write_str(&h.name)?;
            f.write_str("=")?;
            f.write_str(&h.value)?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a UriHeaders {
    type Item = &'a UriHeader;
    type IntoIter = std::slice::Iter<'a, UriHeader>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}
