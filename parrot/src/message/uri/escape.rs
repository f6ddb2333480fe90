//! Character classes and `%HH` escaping of URI components (RFC 3261
//! §25.1, RFC 3966 §3), and the canonical form URI comparison uses.

use super::Detail;
use std::borrow::Cow;

/// `unreserved = alphanum / mark`, `mark = - _ . ! ~ * ' ( )`.
const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// A 256-entry table of the `const fn` class `$class`: the classes below
/// are looked up for every byte of every user part and URI parameter.
macro_rules! table {
    ($class:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $class(i as u8);
            i += 1;
        }
        t
    }};
}

/// `user = 1*( unreserved / escaped / user-unreserved )`,
/// `user-unreserved = & = + $ , ; ? /`.
#[inline]
pub(crate) fn is_user_byte(b: u8) -> bool {
    const fn class(b: u8) -> bool {
        is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
    }
    static USER: [bool; 256] = table!(class);
    USER[usize::from(b)]
}

/// `password = *( unreserved / escaped / & = + $ , )`.
pub(crate) fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// `paramchar = param-unreserved / unreserved / escaped`,
/// `param-unreserved = [ ] / : & + $` (the same set in RFC 3966).
#[inline]
pub(crate) fn is_param_byte(b: u8) -> bool {
    const fn class(b: u8) -> bool {
        is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
    }
    static PARAM: [bool; 256] = table!(class);
    PARAM[usize::from(b)]
}

/// `hname`/`hvalue` characters: `hnv-unreserved / unreserved / escaped`,
/// `hnv-unreserved = [ ] / ? : + $`.
pub(crate) fn is_header_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// `reserved = ; / ? : @ & = + $ ,` (RFC 2396 §2.2).
fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
    )
}

/// `uric = reserved / unreserved / escaped`; `[`, `]` (RFC 2732) and `#`
/// are accepted as well so that common absolute URIs parse.
pub(crate) fn is_uric(b: u8) -> bool {
    is_reserved(b) || is_unreserved(b) || matches!(b, b'[' | b']' | b'#')
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(crate) fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// `visual-separator = - . ( )` (RFC 3966 §3).
pub(crate) fn is_visual_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Checks that every character of `s` is allowed or a valid `%HH` escape.
/// Generic and inlined so that `allowed` is a table lookup in the loop,
/// not a call per byte.
#[inline]
pub(crate) fn check_chars(
    s: &str,
    allowed: impl Fn(u8) -> bool,
    what: &'static str,
) -> Result<(), Detail> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            // escaped = "%" HEXDIG HEXDIG (RFC 3261 §25.1)
            let ok = matches!(
                (b.get(i + 1), b.get(i + 2)),
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
            );
            if !ok {
                return Err(format!("bad escape in {what}").into());
            }
            i += 3;
        } else if allowed(c) {
            i += 1;
        } else {
            return Err(format!("bad character in {what}").into());
        }
    }
    Ok(())
}

/// The byte a well-formed `%HH` escape at `b[i]` stands for.
fn escaped_byte(b: &[u8], i: usize) -> Option<u8> {
    if b[i] != b'%' {
        return None;
    }
    let h = b.get(i + 1).copied().and_then(hex_val)?;
    let l = b.get(i + 2).copied().and_then(hex_val)?;
    Some(h * 16 + l)
}

/// Resolves `%HH` escapes. Invalid escapes are kept literally and byte
/// sequences that are not UTF-8 are replaced by U+FFFD.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(v) = escaped_byte(b, i) {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Escapes every byte of `s` that `allowed` refuses (and `%` itself).
pub(crate) fn percent_encode(s: &str, allowed: fn(u8) -> bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b != b'%' && allowed(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    out
}

/// The canonical form used for comparison (RFC 3261 §19.1.4): characters
/// other than `reserved` ones are equivalent to their `%HH` encoding, so
/// those escapes are resolved; escaped reserved characters stay escaped
/// (with upper-case hex) and so differ from their literal form.
pub(crate) fn canonical(s: &str) -> Cow<'_, [u8]> {
    if !s.contains('%') {
        return Cow::Borrowed(s.as_bytes());
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(v) = escaped_byte(b, i) {
            if is_reserved(v) {
                out.extend_from_slice(&[b'%', HEX[usize::from(v >> 4)], HEX[usize::from(v & 0xf)]]);
            } else {
                out.push(v);
            }
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// [`canonical`], lower-cased (for case-insensitive components).
pub(crate) fn canonical_lower(s: &str) -> Vec<u8> {
    let mut v = canonical(s).into_owned();
    v.make_ascii_lowercase();
    v
}

/// Whether the written (possibly escaped) name `raw` is `name`, ignoring case.
pub(crate) fn name_is(raw: &str, name: &str) -> bool {
    if raw.contains('%') {
        percent_decode(raw).eq_ignore_ascii_case(name)
    } else {
        raw.eq_ignore_ascii_case(name)
    }
}
