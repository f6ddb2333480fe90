//! The `;name[=value]` parameters of SIP and tel URIs.

use super::Detail;
use super::escape::{
    canonical_lower, check_chars, is_param_byte, name_is, percent_decode, percent_encode,
};
use crate::message::grammar::split_once_byte;
use crate::message::text::Text;
use std::borrow::Cow;
use std::fmt;

/// One URI parameter `name[=value]`, kept as written (escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriParam {
    name: Text,
    value: Option<Text>,
}

impl UriParam {
    /// The name as written (may contain `%HH` escapes).
    pub fn name_raw(&self) -> &Text {
        &self.name
    }

    /// The name with escapes resolved.
    pub fn name(&self) -> Cow<'_, str> {
        percent_decode(&self.name)
    }

    /// The value as written, or `None` for a parameter without a value.
    pub fn value_raw(&self) -> Option<&Text> {
        self.value.as_ref()
    }

    /// The value with escapes resolved, or `None` for a parameter without
    /// a value (such as `lr`).
    pub fn value(&self) -> Option<Cow<'_, str>> {
        self.value.as_deref().map(percent_decode)
    }
}

/// The ordered `;name[=value]` parameters of a URI. Names compare
/// case-insensitively; values are kept escaped and decoded on access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriParams {
    list: Vec<UriParam>,
}

impl UriParams {
    /// No parameters.
    pub const fn new() -> Self {
        UriParams { list: Vec::new() }
    }

    /// Parses `;`-separated parameters (`s` without the leading `;`).
    pub(super) fn parse(src: &Text, s: &str) -> Result<UriParams, Detail> {
        let mut list = Vec::new();
        for p in s.split(';') {
            let (name, value) = match split_once_byte(p, b'=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            // uri-parameter: pname = 1*paramchar, pvalue = 1*paramchar
            // (RFC 3261 §25.1).
            if name.is_empty() {
                return Err("empty parameter name".into());
            }
            check_chars(name, is_param_byte, "parameter")?;
            if let Some(v) = value {
                if v.is_empty() {
                    return Err("empty parameter value".into());
                }
                check_chars(v, is_param_byte, "parameter")?;
            }
            list.push(UriParam {
                name: src.slice_ref(name),
                value: value.map(|v| src.slice_ref(v)),
            });
        }
        Ok(UriParams { list })
    }

    /// The first parameter called `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<&UriParam> {
        self.list.iter().find(|p| name_is(&p.name, name))
    }

    /// Whether a parameter `name` is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The decoded value of `name`; `None` if absent or without a value.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.find(name).and_then(UriParam::value)
    }

    /// The value of `name` as written; `None` if absent or without a value.
    pub fn raw(&self, name: &str) -> Option<&Text> {
        self.find(name).and_then(|p| p.value.as_ref())
    }

    /// Sets `name` to `value` (`None` for a bare flag such as `lr`),
    /// replacing the first parameter of that name or appending. Both are
    /// given unescaped; characters the grammar does not allow are escaped.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(|v| Text::from(percent_encode(v, is_param_byte)));
        if let Some(p) = self.list.iter_mut().find(|p| name_is(&p.name, name)) {
            p.value = value;
        } else {
            self.list.push(UriParam {
                name: Text::from(percent_encode(name, is_param_byte)),
                value,
            });
        }
    }

    /// Removes every parameter called `name`; returns whether any was.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|p| !name_is(&p.name, name));
        before != self.list.len()
    }

    /// The parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, UriParam> {
        self.list.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// (lower-cased canonical name, lower-cased canonical value), first
    /// occurrence of each name only.
    pub(super) fn canonical(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(self.list.len());
        for p in &self.list {
            let n = canonical_lower(&p.name);
            if out.iter().all(|(m, _)| *m != n) {
                out.push((n, p.value.as_deref().map(canonical_lower)));
            }
        }
        out
    }
}

impl fmt::Display for UriParams {
    /// Writes `;name=value` for each parameter, as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.list {
            f.write_str(";")?;
            f.write_str(&p.name)?;
            if let Some(v) = &p.value {
                f.write_str("=")?;
                f.write_str(v)?;
            }
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a UriParams {
    type Item = &'a UriParam;
    type IntoIter = std::slice::Iter<'a, UriParam>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}
