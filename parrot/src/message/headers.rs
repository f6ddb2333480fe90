//! `Headers`: an ordered multimap of header fields that keeps names as
//! written and unknown headers verbatim.

use super::error::ParseError;
use super::grammar::{split_list, trim_ws};
use super::header_name::HeaderName;
use super::text::Text;
use super::typed::{CSeq, From, To, TypedHeader, Via};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// One header field: the name as written and its (unfolded, trimmed) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    name: Text,
    known: Option<HeaderName>,
    value: Text,
}

impl Header {
    /// A header with the given name (as it should be written) and value.
    pub fn new(name: impl Into<Text>, value: impl Into<Text>) -> Self {
        let name = name.into();
        let known = HeaderName::lookup(&name);
        Header {
            name,
            known,
            value: value.into(),
        }
    }

    /// A known header written with its canonical long name.
    pub fn known(name: HeaderName, value: impl Into<Text>) -> Self {
        Header {
            name: Text::from_static(name.as_str()),
            known: Some(name),
            value: value.into(),
        }
    }

    pub(crate) fn from_parts(name: Text, known: Option<HeaderName>, value: Text) -> Self {
        Header { name, known, value }
    }

    /// The name exactly as written (`v`, `VIA`, `X-Foo`, ...).
    pub fn name(&self) -> &Text {
        &self.name
    }

    /// The known header this is, whatever form its name was written in.
    pub fn known_name(&self) -> Option<HeaderName> {
        self.known
    }

    /// The value (line folding replaced by a single space, outer whitespace
    /// trimmed).
    pub fn value(&self) -> &Text {
        &self.value
    }

    /// Whether this header is `key` (compact and long forms are the same
    /// header; comparison is case-insensitive).
    pub fn is(&self, key: impl HeaderKey) -> bool {
        key.matches(self)
    }

    /// The list elements of this header's value: split at top-level commas
    /// if the header's grammar is a list, else the whole value.
    pub fn elements(&self) -> impl Iterator<Item = &str> {
        let list = self.known.is_some_and(HeaderName::is_list);
        let whole = (!list).then_some(self.value.as_str());
        let split = list.then(|| split_list(&self.value));
        whole.into_iter().chain(split.into_iter().flatten())
    }

    /// The value from its second list element on (`None` for one element).
    fn after_first_element(&self) -> Option<Text> {
        let second = self.elements().nth(1)?;
        let offset = second.as_ptr() as usize - self.value.as_ptr() as usize;
        Some(self.value.slice_ref(&self.value[offset..]))
    }
}

/// Something that identifies a header: a [`HeaderName`] or a name string.
pub trait HeaderKey: Copy {
    /// Whether `header` has this name.
    fn matches(self, header: &Header) -> bool;
}

impl HeaderKey for HeaderName {
    fn matches(self, header: &Header) -> bool {
        header.known == Some(self)
    }
}

impl HeaderKey for &str {
    fn matches(self, header: &Header) -> bool {
        // A field's `known` is what looking its name up gives (every
        // constructor sets it so): comparing the key with that header's
        // two spellings gives the lookup's answer without looking the key
        // up again for every field a search passes.
        match header.known {
            Some(n) => match self.as_bytes() {
                [c] => n
                    .compact()
                    .is_some_and(|k| k.eq_ignore_ascii_case(&char::from(*c))),
                _ => self.eq_ignore_ascii_case(n.as_str()),
            },
            None => header.name.eq_ignore_ascii_case(self),
        }
    }
}

/// The header fields of a message, in order.
///
/// A parsed message also carries the decoded forms of the headers every
/// layer reads (top Via, From, To, CSeq): the parser decodes them to
/// validate the message anyway, so keeping them makes the accessors in
/// `accessors.rs` free. A change to one of those headers drops its decoded
/// form (only that one). They are shared, not copied, with clones and with
/// the responses built from a request (§8.2.6.2 copies these headers
/// verbatim).
#[derive(Debug, Clone, Default)]
pub struct Headers {
    list: Vec<Header>,
    /// What the parser decoded, in one allocation.
    core: Option<Arc<CoreHeaders>>,
    /// Replacements for `core`'s Via, From and To, set when one is
    /// replaced while `core` is shared (a response changing the To it
    /// shares with its request) instead of copying the whole of `core`.
    /// One pointer, so that `Headers` (in every message) stays small.
    replaced: Option<Arc<Replaced>>,
    /// Which of the decoded headers still match `list` (the `CORE_*` bits).
    valid: u8,
}

/// Decoded core headers, kept by the parser (see [`Headers`]).
#[derive(Debug, Clone)]
pub(crate) struct CoreHeaders {
    pub(crate) via: Via,
    pub(crate) from: From,
    pub(crate) to: To,
    pub(crate) cseq: CSeq,
}

/// See [`Headers::replaced`]: each set one takes the place of `core`'s.
#[derive(Debug, Clone, Default)]
struct Replaced {
    via: Option<Via>,
    from: Option<From>,
    to: Option<To>,
}

/// A From or To decoded by [`Headers::extended_core`].
enum Extended {
    From(From),
    To(To),
}

const CORE_VIA: u8 = 1;
const CORE_FROM: u8 = 2;
const CORE_TO: u8 = 4;
const CORE_CSEQ: u8 = 8;
const CORE_ALL: u8 = CORE_VIA | CORE_FROM | CORE_TO | CORE_CSEQ;

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl Eq for Headers {}

/// The `CORE_*` bit of header `known`, 0 if its decoded form is not kept.
fn core_bit(known: Option<HeaderName>) -> u8 {
    match known {
        Some(HeaderName::Via) => CORE_VIA,
        Some(HeaderName::From) => CORE_FROM,
        Some(HeaderName::To) => CORE_TO,
        Some(HeaderName::CSeq) => CORE_CSEQ,
        _ => 0,
    }
}

impl Headers {
    /// No headers.
    pub const fn new() -> Self {
        Headers {
            list: Vec::new(),
            core: None,
            replaced: None,
            valid: 0,
        }
    }

    /// No headers, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Headers {
            list: Vec::with_capacity(n),
            core: None,
            replaced: None,
            valid: 0,
        }
    }

    /// Number of header fields (lines).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every header field in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.list.iter()
    }

    /// The value of the first header named `key`.
    pub fn get(&self, key: impl HeaderKey) -> Option<&Text> {
        self.list.iter().find(|h| key.matches(h)).map(|h| &h.value)
    }

    /// Whether a header named `key` is present.
    pub fn contains(&self, key: impl HeaderKey) -> bool {
        self.list.iter().any(|h| key.matches(h))
    }

    /// Every header field named `key`, in order.
    pub fn get_all<K: HeaderKey>(&self, key: K) -> impl Iterator<Item = &Header> {
        self.list.iter().filter(move |h| key.matches(h))
    }

    /// Every value of `key` across all its header fields, split into list
    /// elements where the header's grammar is a list (so `Via: a, b` and two
    /// `Via` lines give the same elements).
    pub fn values<K: HeaderKey>(&self, key: K) -> impl Iterator<Item = &str> {
        self.get_all(key).flat_map(Header::elements)
    }

    /// Number of values of `key` (list elements counted separately).
    pub fn count(&self, key: impl HeaderKey) -> usize {
        self.values(key).count()
    }

    /// The decoded core header `bit`, if the parser left it and nothing
    /// has changed it since.
    fn cached(&self, bit: u8) -> Option<&CoreHeaders> {
        self.core.as_deref().filter(|_| self.valid & bit != 0)
    }

    /// The cached decoded top Via (see [`Headers`]).
    pub(crate) fn cached_via(&self) -> Option<&Via> {
        self.cached_replaceable(CORE_VIA, |c| &c.via, |r| &r.via)
    }

    /// The cached decoded From.
    pub(crate) fn cached_from(&self) -> Option<&From> {
        self.cached_replaceable(CORE_FROM, |c| &c.from, |r| &r.from)
    }

    /// The cached decoded To.
    pub(crate) fn cached_to(&self) -> Option<&To> {
        self.cached_replaceable(CORE_TO, |c| &c.to, |r| &r.to)
    }

    /// One cached decoded header that may have been replaced (see
    /// [`Headers::put_core`]): its replacement if it has one, else the
    /// parser's.
    fn cached_replaceable<T>(
        &self,
        bit: u8,
        in_core: fn(&CoreHeaders) -> &T,
        in_replaced: fn(&Replaced) -> &Option<T>,
    ) -> Option<&T> {
        let c = self.cached(bit)?;
        let replacement = self
            .replaced
            .as_deref()
            .and_then(|r| in_replaced(r).as_ref());
        Some(replacement.unwrap_or_else(|| in_core(c)))
    }

    /// The cached decoded CSeq.
    pub(crate) fn cached_cseq(&self) -> Option<&CSeq> {
        self.cached(CORE_CSEQ).map(|c| &c.cseq)
    }

    /// Keeps what the parser decoded. Inlined into its one caller, so the
    /// decoded headers are written where the shared copy is built.
    #[inline(always)]
    pub(crate) fn set_core(&mut self, core: CoreHeaders) {
        // Allocated before it is filled: `Arc::new` builds its block on
        // the stack and copies it in, a second copy of 700 bytes.
        let mut shared = Arc::<CoreHeaders>::new_uninit();
        self.core = Some(match Arc::get_mut(&mut shared) {
            Some(slot) => {
                slot.write(core);
                // SAFETY: the value was written just above.
                unsafe { shared.assume_init() }
            }
            // Never: a new `Arc` has no other owner.
            None => Arc::new(core),
        });
        self.replaced = None;
        self.valid = CORE_ALL;
    }

    /// Shares `other`'s decoded core headers, for headers that hold copies
    /// of all of `other`'s Via, From, To and CSeq fields in the same order
    /// (so the first value of each decodes the same).
    pub(crate) fn share_core(&mut self, other: &Headers) {
        self.core = other.core.clone();
        self.replaced = other.replaced.clone();
        self.valid = other.valid;
    }

    /// The top Via, decoded: the cached one if there is one (no decoding),
    /// else decoded now. `None` if there is no Via, `Some(Err)` if the top
    /// one is malformed: the same answers as `typed::<Via>()`.
    pub(crate) fn top_via_decoded(&self) -> Option<Result<Cow<'_, Via>, ParseError>> {
        match self.cached_via() {
            Some(v) => Some(Ok(Cow::Borrowed(v))),
            None => Some(self.typed::<Via>()?.map(Cow::Owned)),
        }
    }

    /// Replaces the top Via value by `via` (the first list element of the
    /// first Via field, written as a field of its own in front of the other
    /// Vias) and keeps `via` as the decoded top Via, so that readers after
    /// a stamp (§18.2.1) do not decode it again.
    pub(crate) fn replace_top_via(&mut self, via: Via) {
        let valid = self.valid;
        let value = Text::from(via.to_string());
        match self
            .list
            .iter()
            .position(|h| h.known == Some(HeaderName::Via))
        {
            // Replaced where it stands, so the field keeps its place among
            // the others; of a comma list (§7.3.1) only the first element.
            Some(i) => {
                let rest = self.list[i].after_first_element();
                self.list[i].value = value;
                if let Some(rest) = rest {
                    self.list
                        .insert(i + 1, Header::known(HeaderName::Via, rest));
                }
            }
            None => self.list.insert(0, Header::known(HeaderName::Via, value)),
        }
        self.touch(Some(HeaderName::Via));
        if self.core.is_some() {
            // Normally not shared yet (stamping happens on receipt): then
            // replaced in place, without allocating.
            self.put_core(via, |c| &mut c.via, |r| &mut r.via);
            self.valid = valid | CORE_VIA;
        }
    }

    /// Puts `value` in the place of one decoded core header: into `core`
    /// itself when no other message shares it (dropping any replacement
    /// of that header), else as that header's replacement, so that a
    /// shared core is never copied. A replacement list is made only then.
    fn put_core<T>(
        &mut self,
        value: T,
        in_core: fn(&mut CoreHeaders) -> &mut T,
        in_replaced: fn(&mut Replaced) -> &mut Option<T>,
    ) {
        let Some(core) = &mut self.core else {
            return;
        };
        match Arc::get_mut(core) {
            Some(c) => {
                *in_core(c) = value;
                if let Some(r) = &mut self.replaced {
                    *in_replaced(Arc::make_mut(r)) = None;
                }
            }
            None => {
                let r = Arc::make_mut(self.replaced.get_or_insert_default());
                *in_replaced(r) = Some(value);
            }
        }
    }

    fn touch(&mut self, known: Option<HeaderName>) {
        self.valid &= !core_bit(known);
    }

    /// Appends a header field.
    pub fn push(&mut self, header: Header) {
        self.touch(header.known);
        self.list.push(header);
    }

    /// Appends a header field of a message being parsed, which has no
    /// decoded core headers yet to invalidate.
    pub(crate) fn push_parsed(&mut self, header: Header) {
        debug_assert!(self.core.is_none());
        self.list.push(header);
    }

    /// Appends a known header with its canonical name.
    pub fn append(&mut self, name: HeaderName, value: impl Into<Text>) {
        self.touch(Some(name));
        self.list.push(Header::known(name, value));
    }

    /// Inserts a header field before every other field of the same name, or
    /// at the end if there is none (e.g. a new top Via, RFC 3261 §16.6).
    pub fn push_front(&mut self, header: Header) {
        self.touch(header.known);
        let pos = match header.known {
            Some(n) => self.list.iter().position(|h| h.known == Some(n)),
            None => self
                .list
                .iter()
                .position(|h| h.name.eq_ignore_ascii_case(&header.name)),
        };
        match pos {
            Some(i) => self.list.insert(i, header),
            None => self.list.push(header),
        }
    }

    /// Replaces every field named `name` by one with `value`, kept at the
    /// position of the first one (or appended).
    pub fn set(&mut self, name: HeaderName, value: impl Into<Text>) {
        let value = value.into();
        let extended = self.extended_core(name, &value);
        self.touch(Some(name));
        if let (Some(_), Some(ext)) = (&self.core, extended) {
            // A response sharing its request's core gets a replacement.
            match ext {
                Extended::From(f) => self.put_core(f, |c| &mut c.from, |r| &mut r.from),
                Extended::To(t) => self.put_core(t, |c| &mut c.to, |r| &mut r.to),
            }
            self.valid |= core_bit(Some(name));
        }
        let header = Header::known(name, value);
        match self.list.iter().position(|h| h.known == Some(name)) {
            Some(i) => {
                self.list[i] = header;
                let mut idx = 0;
                self.list.retain(|h| {
                    idx += 1;
                    idx - 1 == i || h.known != Some(name)
                });
            }
            None => self.list.push(header),
        }
    }

    /// When `value`, the new From or To, is the current one with header
    /// parameters appended (as when a UAS adds its To tag, RFC 3261
    /// §8.2.6.2), its decoded form, derived from the cached one without
    /// parsing the address again.
    fn extended_core(&self, name: HeaderName, value: &Text) -> Option<Extended> {
        let suffix = || value.strip_prefix(self.get(name)?.as_str());
        match name {
            HeaderName::From => self
                .cached_from()?
                .with_params_appended(value, suffix()?)
                .map(Extended::From),
            HeaderName::To => self
                .cached_to()?
                .with_params_appended(value, suffix()?)
                .map(Extended::To),
            _ => None,
        }
    }

    /// Removes every field named `key`; returns how many were removed.
    pub fn remove(&mut self, key: impl HeaderKey) -> usize {
        let mut touched = 0;
        for h in self.list.iter().filter(|h| key.matches(h)) {
            touched |= core_bit(h.known);
        }
        self.valid &= !touched;
        let before = self.list.len();
        self.list.retain(|h| !key.matches(h));
        before - self.list.len()
    }

    /// Removes the first value of `key`: the first list element if the first
    /// field holds several, else the whole field (e.g. popping the top Via).
    pub fn remove_first_value(&mut self, key: impl HeaderKey) -> Option<Text> {
        let i = self.list.iter().position(|h| key.matches(h))?;
        self.touch(self.list[i].known);
        let h = &self.list[i];
        let first = h.elements().next().map(|s| h.value.slice_ref(s));
        let rest = h.after_first_element();
        match rest {
            Some(v) => self.list[i].value = v,
            None => {
                self.list.remove(i);
            }
        }
        first
    }

    /// Decodes the first value of the typed header `T`, if present.
    pub fn typed<T: TypedHeader>(&self) -> Option<Result<T, ParseError>> {
        let i = self.list.iter().position(|h| h.known == Some(T::NAME))?;
        Some(self.typed_at(i))
    }

    /// [`Headers::typed`] for the field at index `i`, which must be a `T`
    /// field (the parser knows where the first of each is).
    pub(crate) fn typed_at<T: TypedHeader>(&self, i: usize) -> Result<T, ParseError> {
        let h = &self.list[i];
        debug_assert_eq!(h.known, Some(T::NAME));
        // The first element of a list header, else the whole value (as
        // `elements` has it).
        let list = T::SPLIT && h.known.is_some_and(HeaderName::is_list);
        let first = if !list {
            h.value.as_str()
        } else if memchr::memchr(b',', h.value.as_bytes()).is_none() {
            // Without a comma the list has one element, the trimmed value
            // (empty if it is empty): what `elements` gives, found by one
            // SIMD search instead of a walk over quotes and brackets.
            trim_ws(&h.value)
        } else {
            split_list(&h.value).next().unwrap_or("")
        };
        T::decode(&h.value, first)
    }

    /// Decodes every value of the typed header `T`, in order.
    pub fn typed_all<T: TypedHeader>(&self) -> impl Iterator<Item = Result<T, ParseError>> {
        self.get_all(T::NAME).flat_map(|h| {
            let split = T::SPLIT.then(|| h.elements());
            let whole = (!T::SPLIT).then_some(h.value.as_str());
            split
                .into_iter()
                .flatten()
                .chain(whole)
                .map(move |e| T::decode(&h.value, e))
        })
    }

    /// Appends `value` as a header field of its type.
    pub fn push_typed<T: TypedHeader>(&mut self, value: &T) {
        self.append(T::NAME, encoded(value));
    }

    /// Replaces every field of `T`'s header by `value`.
    pub fn set_typed<T: TypedHeader>(&mut self, value: &T) {
        self.set(T::NAME, encoded(value));
    }
}

/// A header value written into a string sized for most values up front:
/// `to_string` starts empty and grows (reallocates) several times while a
/// Contact or Session-Expires is written into it, on every response.
fn encoded(value: &impl fmt::Display) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(64);
    // Writing into a `String` cannot fail.
    let _ = write!(out, "{value}");
    out
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl FromIterator<Header> for Headers {
    fn from_iter<I: IntoIterator<Item = Header>>(iter: I) -> Self {
        Headers {
            list: iter.into_iter().collect(),
            ..Headers::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        [
            Header::new("v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b"),
            Header::new("X-Foo", "1, 2"),
            Header::new("VIA", "SIP/2.0/UDP c"),
            Header::new("Subject", "hello, world"),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn lookup_and_lists() {
        let h = sample();
        assert_eq!(
            h.get("Via").unwrap(),
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b"
        );
        assert_eq!(h.get(HeaderName::Via), h.get("v"));
        assert_eq!(h.get("x-foo").unwrap(), "1, 2");
        assert_eq!(h.count(HeaderName::Via), 3);
        // Unknown headers and non-list headers are never split.
        assert_eq!(h.count("X-Foo"), 1);
        assert_eq!(h.values("s").collect::<Vec<_>>(), vec!["hello, world"]);
        assert_eq!(h.iter().next().unwrap().name(), "v");
    }

    #[test]
    fn pop_top_via() {
        let mut h = sample();
        assert_eq!(
            h.remove_first_value("via").unwrap(),
            "SIP/2.0/UDP a;branch=z9hG4bK1"
        );
        assert_eq!(h.get("via").unwrap(), "SIP/2.0/UDP b");
        assert_eq!(h.remove_first_value("via").unwrap(), "SIP/2.0/UDP b");
        assert_eq!(h.get("via").unwrap(), "SIP/2.0/UDP c");
    }

    #[test]
    fn push_front_set_remove() {
        let mut h = sample();
        h.push_front(Header::known(HeaderName::Via, "SIP/2.0/TCP new"));
        assert_eq!(h.values("Via").next(), Some("SIP/2.0/TCP new"));
        h.set(HeaderName::Via, "SIP/2.0/UDP only");
        assert_eq!(h.count("via"), 1);
        assert_eq!(h.iter().next().unwrap().value(), "SIP/2.0/UDP only");
        assert_eq!(h.remove("x-FOO"), 1);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn a_name_key_matches_as_its_lookup_says() {
        // The key's lookup, compared with the field's, as `&str` keys
        // matched before they were compared with the field's spellings.
        fn by_lookup(key: &str, h: &Header) -> bool {
            match HeaderName::lookup(key) {
                Some(n) => h.known_name() == Some(n),
                None => h.known_name().is_none() && h.name().eq_ignore_ascii_case(key),
            }
        }
        let mut names: Vec<String> = ["X-Foo", "x-foo", "Replaces", "q", "Q", "RequirE", "Call-ID"]
            .map(String::from)
            .to_vec();
        for c in "imelcfsktvourbxyajd".chars() {
            let long = HeaderName::lookup(&c.to_string()).unwrap().as_str();
            names.extend([
                c.to_string(),
                c.to_ascii_uppercase().to_string(),
                long.to_owned(),
                long.to_ascii_uppercase(),
                long.to_ascii_lowercase(),
            ]);
        }
        for field in &names {
            let h = Header::new(field.clone(), "v");
            for key in &names {
                assert_eq!(
                    HeaderKey::matches(key.as_str(), &h),
                    by_lookup(key, &h),
                    "{key} / {field}"
                );
            }
        }
    }
}
