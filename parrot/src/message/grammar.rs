//! Lexical rules of RFC 3261 §25.1 shared by the parsers.

use super::error::ParseError;
use std::borrow::Cow;

/// `token` characters (RFC 3261 §25.1): alphanum / "-" / "." / "!" / "%" /
/// "*" / "_" / "+" / "`" / "'" / "~".
#[inline]
pub fn is_token_byte(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// Lookup table for [`is_token_byte`]: this runs for every byte of every
/// header name and most header values.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Whether `s` is a non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// `word` characters (used by Call-ID): token characters plus
/// `( ) < > : \ " / [ ] ? { }`.
#[inline]
pub fn is_word_byte(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Lookup table for [`is_word_byte`]: every byte of every Call-ID.
static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = TOKEN[i]
            || matches!(
                b,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            );
        i += 1;
    }
    t
};

/// Whether `s` is a non-empty `word`.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_word_byte)
}

/// Whitespace inside a (already unfolded) header value.
#[inline]
pub fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims spaces and tabs at both ends.
///
/// Plain index loops, inlined: this runs on every header value and most
/// of their parts, which rarely carry more than one space at either end.
#[inline]
pub fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    while start < b.len() && is_ws(b[start]) {
        start += 1;
    }
    let mut end = b.len();
    while end > start && is_ws(b[end - 1]) {
        end -= 1;
    }
    // The trimmed bytes are ASCII, so both cuts are char boundaries.
    &s[start..end]
}

/// Skips leading spaces and tabs.
#[inline]
pub fn skip_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut n = 0;
    while n < b.len() && is_ws(b[n]) {
        n += 1;
    }
    // The skipped bytes are ASCII, so `n` is a char boundary.
    &s[n..]
}

/// Splits a leading `quoted-string` off `s` (which must start with `"`).
/// Returns the whole quoted string including its quotes, and the rest.
pub fn split_quoted(s: &str) -> Result<(&str, &str), ParseError> {
    let b = s.as_bytes();
    debug_assert_eq!(b.first(), Some(&b'"'));
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                match b.get(i + 1) {
                    Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => i += 2,
                    _ => return Err(ParseError::header("quoted-string", "bad escape")),
                }
            }
            b'"' => return Ok((&s[..=i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    Err(ParseError::header("quoted-string", "unbalanced quotes"))
}

/// Removes the quotes of a `quoted-string` and resolves its `\` escapes.
/// A value that is not quoted is returned as is.
pub fn unquote(s: &str) -> Cow<'_, str> {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return Cow::Borrowed(s);
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes `s` as a `quoted-string`, escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits a header value at the commas that separate list elements
/// (RFC 3261 §7.3.1), ignoring commas inside quoted strings and `<...>`.
/// Elements are trimmed; empty elements are skipped.
pub fn split_list(value: &str) -> ListIter<'_> {
    ListIter { rest: value }
}

/// The bytes [`ListIter`] has to look at: quoting, escapes, angle brackets
/// and the comma.
static LIST_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\\' as usize] = true;
    t[b'"' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b',' as usize] = true;
    t
};

/// Iterator returned by [`split_list`].
#[derive(Debug, Clone)]
pub struct ListIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let b = self.rest.as_bytes();
            let mut i = 0;
            let mut in_quotes = false;
            let mut in_angle = false;
            while i < b.len() {
                // One lookup for the bytes that are plain text (nearly all).
                if !LIST_SPECIAL[usize::from(b[i])] {
                    i += 1;
                    continue;
                }
                match b[i] {
                    b'\\' if in_quotes => i += 1,
                    b'"' if !in_angle => in_quotes = !in_quotes,
                    b'<' if !in_quotes => in_angle = true,
                    b'>' if !in_quotes => in_angle = false,
                    b',' if !in_quotes && !in_angle => break,
                    _ => {}
                }
                i += 1;
            }
            let i = i.min(b.len());
            let item = trim_ws(&self.rest[..i]);
            self.rest = if i < b.len() { &self.rest[i + 1..] } else { "" };
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Parses an unsigned decimal integer (leading zeros allowed) that fits `u64`.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    // One pass. At most 19 significant digits, as before: they always fit.
    let mut n: u64 = 0;
    let mut significant = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        if significant > 0 || b != b'0' {
            significant += 1;
            if significant > 19 {
                return None;
            }
            n = n * 10 + u64::from(b - b'0');
        }
    }
    Some(n)
}

/// The position of the first `b` (ASCII) in `s`. A plain loop: the values
/// searched are short, where `str::find` with a `char` costs more in set-up
/// than the search itself.
#[inline]
pub(crate) fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// `s.split(b)` for an ASCII `b`, with [`find_byte`]: the pieces are short
/// (SDP lines and fields, URI parts), where the standard library's char
/// searcher costs several times a byte loop.
pub(crate) fn split_byte(s: &str, b: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_byte(r, b) {
            // `b` is ASCII, so both sides of it are char boundaries.
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The position of the first byte of `s` in `set` (ASCII bytes).
#[inline]
pub(crate) fn find_any(s: &str, set: &[u8]) -> Option<usize> {
    s.bytes().position(|c| set.contains(&c))
}

/// `s.split_once(b)` for an ASCII `b`, with [`find_byte`].
#[inline]
pub(crate) fn split_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    // `b` is ASCII, so both sides of it are char boundaries.
    find_byte(s, b).map(|i| (&s[..i], &s[i + 1..]))
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The same pieces as `str::split` on an ASCII byte.
        #[test]
        fn split_byte_is_str_split(s in "[a ;/\u{e9}]{0,12}", b in proptest::sample::select(vec![b' ', b';', b'/'])) {
            let ours: Vec<&str> = super::split_byte(&s, b).collect();
            let std: Vec<&str> = s.split(char::from(b)).collect();
            proptest::prop_assert_eq!(ours, std);
        }

        /// What `str::trim_matches` leaves when trimming spaces and tabs.
        #[test]
        fn trim_ws_is_trim_matches(s in "[ \t\ra\u{e9}]{0,10}") {
            proptest::prop_assert_eq!(super::trim_ws(&s), s.trim_matches([' ', '\t']));
        }
    }

    use super::*;

    #[test]
    fn tokens() {
        assert!(is_token("INVITE"));
        assert!(is_token("a-b.c!%*_+`'~"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a;b"));
    }

    #[test]
    fn quoted_strings() {
        let (q, rest) = split_quoted(r#""a \"b\" c" rest"#).unwrap();
        assert_eq!(q, r#""a \"b\" c""#);
        assert_eq!(rest, " rest");
        assert_eq!(unquote(q), r#"a "b" c"#);
        assert!(split_quoted("\"open").is_err());
        assert_eq!(quote(r#"x"y\"#), r#""x\"y\\""#);
        assert_eq!(unquote("plain"), "plain");
    }

    #[test]
    fn list_splitting() {
        let v: Vec<_> = split_list(r#"<sip:a,b@x>;q=1, "C, D" <sip:c>, ,sip:e"#).collect();
        assert_eq!(v, vec!["<sip:a,b@x>;q=1", r#""C, D" <sip:c>"#, "sip:e"]);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u64("000123"), Some(123));
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("00000000000000000000000001"), Some(1));
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("99999999999999999999"), None);
        assert_eq!(parse_u64(""), None);
    }
}
