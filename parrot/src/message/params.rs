//! Header parameters: `*( SEMI generic-param )` (RFC 3261 §25.1).

use super::error::ParseError;
use super::grammar::{is_token_byte, skip_ws, split_quoted, trim_ws, unquote};
use super::text::Text;
use std::borrow::Cow;
use std::fmt;

/// One `name[=value]` parameter. The value is kept as written (a quoted
/// value keeps its quotes) so that output reproduces input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The parameter name as written.
    pub name: Text,
    /// The value as written, if any (quoted strings include their quotes).
    pub value: Option<Text>,
}

/// An ordered list of header parameters with case-insensitive lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    list: Vec<Param>,
}

impl Params {
    /// An empty list.
    pub const fn new() -> Self {
        Params { list: Vec::new() }
    }

    /// Parses parameters from `s`, a sub-slice of `src`, which must be empty
    /// or start with `;` (after optional whitespace). Stops at the first
    /// character that cannot continue a parameter list (e.g. `,` or `?`) and
    /// returns the rest.
    pub fn parse<'s>(src: &Text, s: &'s str) -> Result<(Params, &'s str), ParseError> {
        let mut list = Vec::new();
        let mut rest = skip_ws(s);
        while let Some(r) = rest.strip_prefix(';') {
            let r = skip_ws(r);
            let name_len = r.bytes().take_while(|&b| is_token_byte(b)).count();
            if name_len == 0 {
                return Err(ParseError::header("parameter", "empty parameter name"));
            }
            let name = src.slice_ref(&r[..name_len]);
            let mut r = skip_ws(&r[name_len..]);
            let mut value = None;
            if let Some(v) = r.strip_prefix('=') {
                let v = skip_ws(v);
                let (val, after) = if v.starts_with('"') {
                    split_quoted(v)?
                } else {
                    // gen-value = token / host; host may be an IPv6 reference.
                    let len = v
                        .bytes()
                        .take_while(|&b| is_token_byte(b) || matches!(b, b'[' | b']' | b':'))
                        .count();
                    (&v[..len], &v[len..])
                };
                if val.is_empty() {
                    return Err(ParseError::header("parameter", "empty parameter value"));
                }
                value = Some(src.slice_ref(val));
                r = after;
            }
            list.push(Param { name, value });
            rest = skip_ws(r);
        }
        Ok((Params { list }, rest))
    }

    /// Parses a whole string of parameters; anything left over is an error.
    pub fn parse_all(src: &Text, s: &str) -> Result<Params, ParseError> {
        let (p, rest) = Params::parse(src, s)?;
        if !trim_ws(rest).is_empty() {
            return Err(ParseError::header("parameter", "unexpected characters"));
        }
        Ok(p)
    }

    /// The parameter `name` (case-insensitive), if present.
    pub fn find(&self, name: &str) -> Option<&Param> {
        self.list.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether the parameter `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The value of `name` as written (quoted values keep their quotes).
    /// `None` if absent or if it has no value.
    pub fn raw(&self, name: &str) -> Option<&Text> {
        self.find(name).and_then(|p| p.value.as_ref())
    }

    /// The value of `name` with quotes and escapes removed.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.raw(name).map(|v| unquote(v))
    }

    /// Sets `name` to `value` (or a bare flag for `None`), replacing an
    /// existing parameter of that name in place or appending a new one.
    pub fn set(&mut self, name: impl Into<Text>, value: Option<Text>) {
        let name = name.into();
        if let Some(p) = self
            .list
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(&name))
        {
            p.value = value;
        } else {
            self.list.push(Param { name, value });
        }
    }

    /// Appends every parameter of `other`, in order.
    pub(crate) fn extend(&mut self, other: Params) {
        self.list.extend(other.list);
    }

    /// Removes every parameter named `name`.
    pub fn remove(&mut self, name: &str) {
        self.list.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// The parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Param> {
        self.list.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl fmt::Display for Params {
    /// Writes `;name=value` for each parameter.
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

impl<'a> IntoIterator for &'a Params {
    type Item = &'a Param;
    type IntoIter = std::slice::Iter<'a, Param>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let src = Text::from(";branch=z9hG4bK1 ; rport;received=[::1];x=\"a;b\" ,next");
        let (p, rest) = Params::parse(&src, &src).unwrap();
        assert_eq!(rest, ",next");
        assert_eq!(p.len(), 4);
        assert_eq!(p.get("BRANCH").as_deref(), Some("z9hG4bK1"));
        assert!(p.contains("rport"));
        assert_eq!(p.raw("rport"), None);
        assert_eq!(p.get("received").as_deref(), Some("[::1]"));
        assert_eq!(p.get("x").as_deref(), Some("a;b"));
        assert_eq!(
            p.to_string(),
            ";branch=z9hG4bK1;rport;received=[::1];x=\"a;b\""
        );
    }

    #[test]
    fn refuses_empty_names() {
        let src = Text::from(";=x");
        assert!(Params::parse(&src, &src).is_err());
    }

    #[test]
    fn set_and_remove() {
        let mut p = Params::new();
        p.set("tag", Some(Text::from("1")));
        p.set("TAG", Some(Text::from("2")));
        p.set("lr", None);
        assert_eq!(p.to_string(), ";tag=2;lr");
        p.remove("tag");
        assert_eq!(p.to_string(), ";lr");
    }
}
