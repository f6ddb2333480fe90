//! The `;name[=value]` parameters of SIP and tel URIs: the URI syntax of
//! the shared [`Params`] list.

use super::Detail;
use super::escape::{
    canonical_lower, check_chars, is_param_byte, name_is, percent_decode, percent_encode,
};
use crate::message::grammar::split_once_byte;
use crate::message::params::{Param, ParamSyntax, Params, sealed};
use crate::message::text::Text;
use std::borrow::Cow;

/// URI parameters (`uri-parameter`, RFC 3261 §25.1; `par`, RFC 3966 §3):
/// names and values of `paramchar`s, other characters `%HH`-escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UriSyntax;

impl sealed::Sealed for UriSyntax {}

impl ParamSyntax for UriSyntax {
    /// Escaped names match their plain form (RFC 3261 §19.1.4).
    fn name_is(raw: &str, name: &str) -> bool {
        name_is(raw, name)
    }

    fn decode(raw: &str) -> Cow<'_, str> {
        percent_decode(raw)
    }

    fn encode_name(name: &str) -> Text {
        Text::from(percent_encode(name, is_param_byte))
    }

    fn encode_value(value: &str) -> Text {
        Text::from(percent_encode(value, is_param_byte))
    }
}

/// The ordered `;name[=value]` parameters of a URI. Names compare
/// case-insensitively; values are kept escaped and decoded on access.
pub type UriParams = Params<UriSyntax>;

/// One URI parameter `name[=value]`, kept as written (escaped).
pub type UriParam = Param<UriSyntax>;

/// Parses `;`-separated URI parameters (`s` without the leading `;`).
pub(super) fn parse(src: &Text, s: &str) -> Result<UriParams, Detail> {
    let mut params = UriParams::new();
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
        params.push(Param::new(
            src.slice_ref(name),
            value.map(|v| src.slice_ref(v)),
        ));
    }
    Ok(params)
}

/// (lower-cased canonical name, lower-cased canonical value) of `params`,
/// first occurrence of each name only: the form URI comparison uses.
pub(super) fn canonical(params: &UriParams) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(params.len());
    for p in params {
        let n = canonical_lower(&p.name);
        if out.iter().all(|(m, _)| *m != n) {
            out.push((n, p.value.as_deref().map(canonical_lower)));
        }
    }
    out
}
