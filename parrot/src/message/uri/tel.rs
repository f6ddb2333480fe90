//! `tel:` URIs (RFC 3966).

use super::escape::is_visual_separator;
use super::{Detail, Uri, UriParams, params, uri_error};
use crate::message::error::ParseError;
use crate::message::text::Text;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A `tel:` URI (RFC 3966): a global (`+1-201-555-0123`) or local number
/// (which must carry `phone-context`) and parameters.
#[derive(Debug, Clone)]
pub struct TelUri {
    number: Text,
    params: UriParams,
    raw: Option<Text>,
}

impl PartialEq for TelUri {
    fn eq(&self, o: &Self) -> bool {
        self.number == o.number && self.params == o.params
    }
}

impl Eq for TelUri {}

/// Checks a `global-number-digits` or `local-number-digits` (RFC 3966 §3).
fn check_tel_number(n: &str) -> Result<(), Detail> {
    let bad = || Detail::from("bad telephone number");
    if let Some(d) = n.strip_prefix('+') {
        // global-number-digits = "+" *phonedigit DIGIT *phonedigit
        if !d
            .bytes()
            .all(|b| b.is_ascii_digit() || is_visual_separator(b))
            || !d.bytes().any(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
    } else {
        // local-number-digits =
        //   *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
        let key = |b: u8| b.is_ascii_hexdigit() || b == b'*' || b == b'#';
        if !n.bytes().all(|b| key(b) || is_visual_separator(b)) || !n.bytes().any(key) {
            return Err(bad());
        }
    }
    Ok(())
}

impl TelUri {
    /// A global number such as `+1-201-555-0123`.
    pub fn global(number: &str) -> Result<TelUri, ParseError> {
        if !number.starts_with('+') {
            return Err(uri_error("global number must start with '+'".into()));
        }
        check_tel_number(number).map_err(uri_error)?;
        Ok(TelUri {
            number: Text::from(number.to_owned()),
            params: UriParams::new(),
            raw: None,
        })
    }

    /// A local number with its `phone-context` (a domain name or a global
    /// number prefix), required by RFC 3966 §5.1.5.
    pub fn local(number: &str, context: &str) -> Result<TelUri, ParseError> {
        if number.starts_with('+') || context.is_empty() {
            return Err(uri_error("bad local number".into()));
        }
        check_tel_number(number).map_err(uri_error)?;
        let mut params = UriParams::new();
        params.set("phone-context", Some(context));
        Ok(TelUri {
            number: Text::from(number.to_owned()),
            params,
            raw: None,
        })
    }

    /// Parses what follows `tel:`.
    pub(super) fn parse_parts(src: &Text, whole: &str, rest: &str) -> Result<TelUri, Detail> {
        let (number, params) = match rest.split_once(';') {
            Some((n, p)) => (n, Some(p)),
            None => (rest, None),
        };
        if number.is_empty() {
            return Err("missing telephone number".into());
        }
        check_tel_number(number)?;
        let params = match params {
            Some(p) => params::parse(src, p)?,
            None => UriParams::new(),
        };
        // local-number = local-number-digits *par context *par
        // (RFC 3966 §3, §5.1.5).
        if !number.starts_with('+') && !params.contains("phone-context") {
            return Err("local number without phone-context".into());
        }
        Ok(TelUri {
            number: src.slice_ref(number),
            params,
            raw: Some(src.slice_ref(whole)),
        })
    }

    /// The number as written, visual separators included.
    pub fn number(&self) -> &Text {
        &self.number
    }

    /// The number without visual separators (`+12015550123`).
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    /// Whether the number is global (starts with `+`).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The decoded `phone-context` parameter.
    pub fn phone_context(&self) -> Option<Cow<'_, str>> {
        self.params.get("phone-context")
    }

    /// The parameters.
    pub fn params(&self) -> &UriParams {
        &self.params
    }

    /// The parameters, mutably.
    pub fn params_mut(&mut self) -> &mut UriParams {
        self.raw = None;
        &mut self.params
    }

    /// Builder: with the parameter `name[=value]` (unescaped).
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Self {
        self.params_mut().set(name, value);
        self
    }

    /// tel URI comparison (RFC 3966 §4): numbers compare without visual
    /// separators, case-insensitively; both must have the same parameter
    /// names, with case-insensitively equal values (a global-number
    /// `phone-context` compares without separators too).
    pub fn equivalent(&self, other: &TelUri) -> bool {
        if !self.digits().eq_ignore_ascii_case(&other.digits()) {
            return false;
        }
        let canon = |p: &UriParams| {
            let mut v = params::canonical(p);
            for (n, val) in &mut v {
                if n.as_slice() == b"phone-context"
                    && let Some(val) = val
                    && val.first() == Some(&b'+')
                {
                    val.retain(|&b| !is_visual_separator(b));
                }
            }
            v.sort();
            v
        };
        canon(&self.params) == canon(&other.params)
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(raw) = &self.raw {
            return f.write_str(raw);
        }
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

impl FromStr for TelUri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = Text::from(s.to_owned());
        match Uri::parse(&t, &t)? {
            Uri::Tel(u) => Ok(u),
            _ => Err(uri_error("not a tel URI".into())),
        }
    }
}
