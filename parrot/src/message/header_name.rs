//! Known header names, their compact forms (RFC 3261 §7.3.3, §20) and
//! whether their grammar allows comma-separated lists (§7.3.1).

use std::fmt;

macro_rules! header_names {
    ($( $var:ident => $name:literal, $compact:expr, $list:expr; )*) => {
        /// A header name that this crate knows. Unknown headers are kept by
        /// their name as written (see [`super::Header::name`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( #[doc = concat!("`", $name, "`")] $var, )*
        }


        impl HeaderName {
            /// The canonical (long-form) name.
            pub const fn as_str(self) -> &'static str {
                match self { $( HeaderName::$var => $name, )* }
            }

            /// The compact form (RFC 3261 §7.3.3), if the header has one.
            pub const fn compact(self) -> Option<char> {
                match self { $( HeaderName::$var => { let c: Option<u8> = $compact; match c { Some(c) => Some(c as char), None => None } }, )* }
            }

            /// Whether the header's grammar is a comma-separated list, so a
            /// value may be split at top-level commas (RFC 3261 §7.3.1).
            pub const fn is_list(self) -> bool {
                match self { $( HeaderName::$var => $list, )* }
            }
        }

        /// Every known header name.
        const ALL: &[HeaderName] = &[$( HeaderName::$var, )*];
    };
}

header_names! {
    Accept => "Accept", None, true;
    AcceptContact => "Accept-Contact", Some(b'a'), true;
    AcceptEncoding => "Accept-Encoding", None, true;
    AcceptLanguage => "Accept-Language", None, true;
    AlertInfo => "Alert-Info", None, true;
    Allow => "Allow", None, true;
    AllowEvents => "Allow-Events", Some(b'u'), true;
    AuthenticationInfo => "Authentication-Info", None, false;
    Authorization => "Authorization", None, false;
    CallId => "Call-ID", Some(b'i'), false;
    CallInfo => "Call-Info", None, true;
    Contact => "Contact", Some(b'm'), true;
    ContentDisposition => "Content-Disposition", None, false;
    ContentEncoding => "Content-Encoding", Some(b'e'), true;
    ContentLanguage => "Content-Language", None, true;
    ContentLength => "Content-Length", Some(b'l'), false;
    ContentType => "Content-Type", Some(b'c'), false;
    CSeq => "CSeq", None, false;
    Date => "Date", None, false;
    ErrorInfo => "Error-Info", None, true;
    Event => "Event", Some(b'o'), false;
    Expires => "Expires", None, false;
    From => "From", Some(b'f'), false;
    Identity => "Identity", Some(b'y'), false;
    InReplyTo => "In-Reply-To", None, true;
    MaxForwards => "Max-Forwards", None, false;
    MimeVersion => "MIME-Version", None, false;
    MinExpires => "Min-Expires", None, false;
    MinSe => "Min-SE", None, false;
    Organization => "Organization", None, false;
    PathHeader => "Path", None, true;
    Priority => "Priority", None, false;
    ProxyAuthenticate => "Proxy-Authenticate", None, false;
    ProxyAuthorization => "Proxy-Authorization", None, false;
    ProxyRequire => "Proxy-Require", None, true;
    RAck => "RAck", None, false;
    RecordRoute => "Record-Route", None, true;
    ReferTo => "Refer-To", Some(b'r'), false;
    ReferredBy => "Referred-By", Some(b'b'), false;
    RejectContact => "Reject-Contact", Some(b'j'), true;
    ReplyTo => "Reply-To", None, false;
    RequestDisposition => "Request-Disposition", Some(b'd'), true;
    Require => "Require", None, true;
    RetryAfter => "Retry-After", None, false;
    Route => "Route", None, true;
    RSeq => "RSeq", None, false;
    Server => "Server", None, false;
    SessionExpires => "Session-Expires", Some(b'x'), false;
    SipETag => "SIP-ETag", None, false;
    SipIfMatch => "SIP-If-Match", None, false;
    Subject => "Subject", Some(b's'), false;
    SubscriptionState => "Subscription-State", None, false;
    Supported => "Supported", Some(b'k'), true;
    Timestamp => "Timestamp", None, false;
    To => "To", Some(b't'), false;
    Unsupported => "Unsupported", None, true;
    UserAgent => "User-Agent", None, false;
    Via => "Via", Some(b'v'), true;
    Warning => "Warning", None, true;
    WwwAuthenticate => "WWW-Authenticate", None, false;
}

/// The longest known name: longer ones are not looked up.
const LOOKUP_MAX: usize = 24;

/// Most known names of one length (seven of twelve bytes).
const MAX_PER_LEN: usize = 8;

/// A known name's long form and the name.
type Spelled = (&'static [u8], HeaderName);

/// The known names by length of their long form, each with its spelling,
/// for [`HeaderName::lookup_spelled`]: a name is compared only with the
/// few known names as long as it.
static BY_LEN: [[Option<Spelled>; MAX_PER_LEN]; LOOKUP_MAX + 1] = {
    let mut t = [[None; MAX_PER_LEN]; LOOKUP_MAX + 1];
    let mut i = 0;
    while i < ALL.len() {
        let name = ALL[i].as_str().as_bytes();
        let mut j = 0;
        // Overflowing MAX_PER_LEN fails the build.
        while t[name.len()][j].is_some() {
            j += 1;
        }
        t[name.len()][j] = Some((name, ALL[i]));
        i += 1;
    }
    t
};

/// The `N` bytes of `s` from `i`, as an integer to compare.
fn word<const N: usize>(s: &[u8], i: usize) -> [u8; N] {
    let mut w = [0; N];
    w.copy_from_slice(&s[i..i + N]);
    w
}

/// Whether `a` and `b`, of the same length of 2 to 24 bytes, are equal: two
/// or three overlapping fixed-size loads per side instead of a call to
/// `memcmp`.
fn same_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    debug_assert!(n == b.len() && (2..=LOOKUP_MAX).contains(&n));
    if n >= 8 {
        word::<8>(a, 0) == word::<8>(b, 0)
            && word::<8>(a, n - 8) == word::<8>(b, n - 8)
            && (n <= 16 || word::<8>(a, 8) == word::<8>(b, 8))
    } else if n >= 4 {
        word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4)
    } else {
        word::<2>(a, 0) == word::<2>(b, 0) && a[n - 1] == b[n - 1]
    }
}

/// The known names by compact form (RFC 3261 §7.3.3), either case.
static BY_COMPACT: [Option<HeaderName>; 256] = {
    let mut t = [None; 256];
    let mut i = 0;
    while i < ALL.len() {
        if let Some(c) = ALL[i].compact() {
            t[c as usize] = Some(ALL[i]);
            t[c.to_ascii_uppercase() as usize] = Some(ALL[i]);
        }
        i += 1;
    }
    t
};

impl HeaderName {
    /// Looks up a header name as written (long or compact form,
    /// case-insensitive). `None` for an unknown (extension) header.
    pub fn lookup(name: &str) -> Option<HeaderName> {
        HeaderName::lookup_spelled(name).map(|(h, _)| h)
    }

    /// [`HeaderName::lookup`], also telling whether `name` is spelled
    /// exactly as the canonical long form (so the parser can keep the
    /// static name instead of a slice of the message). This runs for every
    /// header line of every message: the length selects the few candidates
    /// and the first letter rules out nearly all but the right one.
    #[inline]
    pub(crate) fn lookup_spelled(name: &str) -> Option<(HeaderName, bool)> {
        let b = name.as_bytes();
        if b.len() == 1 {
            return BY_COMPACT[usize::from(b[0])].map(|h| (h, false));
        }
        let first = b.first()?.to_ascii_lowercase();
        for &entry in BY_LEN.get(b.len())? {
            let Some((c, h)) = entry else { break };
            if c[0].to_ascii_lowercase() != first {
                continue;
            }
            if same_short(b, c) {
                return Some((h, true));
            }
            if b.eq_ignore_ascii_case(c) {
                return Some((h, false));
            }
        }
        None
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_long_compact_and_case() {
        assert_eq!(HeaderName::lookup("via"), Some(HeaderName::Via));
        assert_eq!(HeaderName::lookup("V"), Some(HeaderName::Via));
        assert_eq!(HeaderName::lookup("call-id"), Some(HeaderName::CallId));
        assert_eq!(HeaderName::lookup("i"), Some(HeaderName::CallId));
        assert_eq!(HeaderName::lookup("CSEQ"), Some(HeaderName::CSeq));
        assert_eq!(HeaderName::lookup("X-Custom"), None);
        assert_eq!(HeaderName::lookup("q"), None);
        for c in "imelcfsktvourbxyajd".chars() {
            let n = HeaderName::lookup(&c.to_string()).unwrap();
            assert_eq!(n.compact(), Some(c));
        }
    }

    #[test]
    fn every_known_name_is_found_in_any_case() {
        for &h in ALL {
            let name = h.as_str();
            assert!(name.len() <= LOOKUP_MAX, "{name}");
            assert_eq!(HeaderName::lookup(name), Some(h));
            assert_eq!(HeaderName::lookup_spelled(name), Some((h, true)));
            assert_eq!(
                HeaderName::lookup_spelled(&name.to_ascii_uppercase()),
                Some((h, name == name.to_ascii_uppercase()))
            );
            assert_eq!(HeaderName::lookup(&name.to_ascii_lowercase()), Some(h));
            assert_eq!(HeaderName::lookup(&name.to_ascii_uppercase()), Some(h));
            if let Some(c) = h.compact() {
                assert_eq!(HeaderName::lookup(&c.to_string()), Some(h));
                assert_eq!(
                    HeaderName::lookup(&c.to_ascii_uppercase().to_string()),
                    Some(h)
                );
            }
        }
        for unknown in [
            "", "q", "Q", "1", "-", "\u{e9}", "vias", "vi", "X-Via", "Call-Id-",
        ] {
            assert_eq!(HeaderName::lookup(unknown), None, "{unknown:?}");
        }
    }

    proptest::proptest! {
        /// The lookup agrees with a plain search of every name.
        #[test]
        fn lookup_is_a_case_insensitive_search(name in "[a-zA-Z-]{0,20}|[A-Za-z]") {
            let expected = ALL.iter().copied().find(|h| {
                h.as_str().eq_ignore_ascii_case(&name)
                    || h.compact().is_some_and(|c| name.len() == 1 && name.eq_ignore_ascii_case(&c.to_string()))
            });
            proptest::prop_assert_eq!(HeaderName::lookup(&name), expected);
        }
    }
}
