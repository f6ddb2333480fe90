//! Parameter lists: the `*( SEMI generic-param )` of headers (RFC 3261
//! §25.1) and the `uri-parameters` of SIP and tel URIs (RFC 3261 §19.1.1,
//! RFC 3966 §3).
//!
//! Both are one type, [`Params`], because they are the same ordered list
//! with case-insensitive names; only the spelling of names and values
//! differs (quoted strings in headers, `%HH` escapes in URIs). That
//! difference is the [`ParamSyntax`] parameter, applied when a value is
//! decoded ([`Params::get`]) or written ([`Params::set`]); values are kept
//! as written so that output reproduces input.

use super::error::ParseError;
use super::grammar::{is_token, is_token_byte, quote, skip_ws, split_quoted, trim_ws, unquote};
use super::text::Text;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// How the names and values of a parameter list are written: header
/// parameters ([`HeaderSyntax`]) or URI parameters
/// ([`UriSyntax`](super::UriSyntax)). Sealed: the two grammars are all
/// SIP has.
pub trait ParamSyntax:
    sealed::Sealed + fmt::Debug + Clone + Copy + PartialEq + Eq + Default
{
    /// Whether the written name `raw` is `name`, ignoring case.
    fn name_is(raw: &str, name: &str) -> bool;
    /// A written name or value with its quoting or escaping resolved.
    fn decode(raw: &str) -> Cow<'_, str>;
    /// `name` written in this syntax.
    fn encode_name(name: &str) -> Text;
    /// `value` written in this syntax.
    fn encode_value(value: &str) -> Text;
}

pub(crate) mod sealed {
    /// Keeps [`ParamSyntax`](super::ParamSyntax) to this crate's syntaxes.
    pub trait Sealed {}
}

/// Header parameters (`generic-param`, RFC 3261 §25.1): token names, and
/// values that are tokens, hosts or quoted strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderSyntax;

impl sealed::Sealed for HeaderSyntax {}

impl ParamSyntax for HeaderSyntax {
    fn name_is(raw: &str, name: &str) -> bool {
        raw.eq_ignore_ascii_case(name)
    }

    fn decode(raw: &str) -> Cow<'_, str> {
        unquote(raw)
    }

    /// Names are tokens and have no escapes: written as given.
    fn encode_name(name: &str) -> Text {
        Text::from(name.to_owned())
    }

    /// A token as it is, anything else as a quoted string (`gen-value`).
    fn encode_value(value: &str) -> Text {
        if is_token(value) {
            Text::from(value.to_owned())
        } else {
            Text::from(quote(value))
        }
    }
}

/// One `name[=value]` parameter. Name and value are kept as written (a
/// quoted header value keeps its quotes, a URI value its escapes) so that
/// output reproduces input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<S = HeaderSyntax> {
    /// The parameter name as written.
    pub name: Text,
    /// The value as written, if any (quoted strings include their quotes).
    pub value: Option<Text>,
    syntax: PhantomData<S>,
}

impl<S: ParamSyntax> Param<S> {
    /// A parameter from its name and value as written.
    pub fn new(name: impl Into<Text>, value: Option<Text>) -> Self {
        Param {
            name: name.into(),
            value,
            syntax: PhantomData,
        }
    }

    /// The name with escapes resolved.
    pub fn name(&self) -> Cow<'_, str> {
        S::decode(&self.name)
    }

    /// The value with quotes or escapes resolved, or `None` for a parameter
    /// without a value (such as `lr`).
    pub fn value(&self) -> Option<Cow<'_, str>> {
        self.value.as_deref().map(S::decode)
    }
}

/// An ordered list of parameters with case-insensitive lookup: header
/// parameters by default, URI parameters as
/// [`UriParams`](super::UriParams).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<S = HeaderSyntax> {
    list: Vec<Param<S>>,
}

impl<S: ParamSyntax> Params<S> {
    /// An empty list.
    pub const fn new() -> Self {
        Params { list: Vec::new() }
    }

    /// The parameter `name` (case-insensitive), if present.
    pub fn find(&self, name: &str) -> Option<&Param<S>> {
        self.list.iter().find(|p| S::name_is(&p.name, name))
    }

    /// Whether the parameter `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The value of `name` as written (quoted values keep their quotes,
    /// escaped ones their escapes). `None` if absent or without a value.
    pub fn raw(&self, name: &str) -> Option<&Text> {
        self.find(name).and_then(|p| p.value.as_ref())
    }

    /// The value of `name` with quotes or escapes resolved. `None` if
    /// absent or without a value.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.find(name).and_then(Param::value)
    }

    /// Sets `name` to `value` (`None` for a bare flag such as `lr`),
    /// replacing the first parameter of that name in place or appending.
    /// Both are given plain; the value is quoted or escaped as the syntax
    /// needs.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(S::encode_value);
        if let Some(p) = self.list.iter_mut().find(|p| S::name_is(&p.name, name)) {
            p.value = value;
        } else {
            self.list.push(Param::new(S::encode_name(name), value));
        }
    }

    /// [`Params::set`] with `name` and `value` given as written (no
    /// quoting or escaping added), so a [`Text`] is stored without a copy.
    pub fn set_raw(&mut self, name: impl Into<Text>, value: Option<Text>) {
        let name = name.into();
        if let Some(p) = self.list.iter_mut().find(|p| S::name_is(&p.name, &name)) {
            p.value = value;
        } else {
            self.list.push(Param::new(name, value));
        }
    }

    /// Appends every parameter of `other`, in order.
    pub(crate) fn extend(&mut self, other: Params<S>) {
        self.list.extend(other.list);
    }

    /// Appends a parameter as written, without looking for an existing one.
    pub(crate) fn push(&mut self, param: Param<S>) {
        self.list.push(param);
    }

    /// Removes every parameter named `name`; returns whether any was.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|p| !S::name_is(&p.name, name));
        before != self.list.len()
    }

    /// The parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Param<S>> {
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

/// A byte of an unquoted `gen-value` (RFC 3261 §25.1: token / host, whose
/// IPv6 reference adds `[`, `]` and `:`).
fn is_gen_value_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b'[' | b']' | b':')
}

impl Params<HeaderSyntax> {
    /// Parses parameters from `s`, a sub-slice of `src`, which must be empty
    /// or start with `;` (after optional whitespace). Stops at the first
    /// character that cannot continue a parameter list (e.g. `,` or `?`) and
    /// returns the rest.
    ///
    /// One pass of index loops over the bytes: this runs for the Via,
    /// From and To of every message, where iterator adapters cost several
    /// times the scan itself.
    pub fn parse<'s>(src: &Text, s: &'s str) -> Result<(Params, &'s str), ParseError> {
        let b = s.as_bytes();
        // Where the whitespace from `i` ends (`i` is always at an ASCII
        // byte or the end, a char boundary).
        let ws = |i: usize| s.len() - skip_ws(&s[i..]).len();
        let mut list = Vec::new();
        let mut i = ws(0);
        while b.get(i) == Some(&b';') {
            i = ws(i + 1);
            let name_start = i;
            while i < b.len() && is_token_byte(b[i]) {
                i += 1;
            }
            if i == name_start {
                return Err(ParseError::header("parameter", "empty parameter name"));
            }
            // Token bytes are ASCII: every cut here is a char boundary.
            let name = src.slice_ref(&s[name_start..i]);
            i = ws(i);
            let mut value = None;
            if b.get(i) == Some(&b'=') {
                i = ws(i + 1);
                let val = if b.get(i) == Some(&b'"') {
                    let (val, after) = split_quoted(&s[i..])?;
                    i = s.len() - after.len();
                    val
                } else {
                    // gen-value = token / host; host may be an IPv6 reference.
                    let start = i;
                    while i < b.len() && is_gen_value_byte(b[i]) {
                        i += 1;
                    }
                    &s[start..i]
                };
                if val.is_empty() {
                    return Err(ParseError::header("parameter", "empty parameter value"));
                }
                value = Some(src.slice_ref(val));
            }
            if list.capacity() == 0 {
                // Most lists hold one or two parameters (`;tag=`,
                // `;branch=...;rport`): allocated directly, without the
                // general growth path.
                list = Vec::with_capacity(2);
            }
            list.push(Param::new(name, value));
            i = ws(i);
        }
        Ok((Params { list }, &s[i..]))
    }

    /// Parses a whole string of parameters; anything left over is an error.
    pub fn parse_all(src: &Text, s: &str) -> Result<Params, ParseError> {
        let (p, rest) = Params::parse(src, s)?;
        if !trim_ws(rest).is_empty() {
            return Err(ParseError::header("parameter", "unexpected characters"));
        }
        Ok(p)
    }
}

impl<S> fmt::Display for Params<S> {
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

impl<'a, S> IntoIterator for &'a Params<S> {
    type Item = &'a Param<S>;
    type IntoIter = std::slice::Iter<'a, Param<S>>;
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
        let mut p: Params = Params::new();
        p.set_raw("tag", Some(Text::from("1")));
        p.set_raw("TAG", Some(Text::from("2")));
        p.set("lr", None);
        assert_eq!(p.to_string(), ";tag=2;lr");
        assert!(p.remove("tag"));
        assert!(!p.remove("tag"));
        assert_eq!(p.to_string(), ";lr");
        p.set("reason", Some("no answer"));
        p.set("id", Some("a1"));
        assert_eq!(p.to_string(), ";lr;reason=\"no answer\";id=a1");
        assert_eq!(p.get("reason").as_deref(), Some("no answer"));
    }
}
