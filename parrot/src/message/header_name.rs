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
        #[cfg(test)]
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

/// The longest name [`HeaderName::lookup`] lower-cases: longer ones are
/// not known names.
const LOOKUP_MAX: usize = 24;

impl HeaderName {
    /// Looks up a header name as written (long or compact form,
    /// case-insensitive). `None` for an unknown (extension) header.
    pub fn lookup(name: &str) -> Option<HeaderName> {
        // Lower-case into a stack buffer, then one `match` the compiler turns
        // into a length-and-bytes decision tree: this runs for every header
        // line of every message.
        let b = name.as_bytes();
        let mut buf = [0u8; LOOKUP_MAX];
        if b.len() > buf.len() {
            return None;
        }
        for (d, s) in buf.iter_mut().zip(b) {
            *d = s.to_ascii_lowercase();
        }
        Some(match &buf[..b.len()] {
            b"accept" => HeaderName::Accept,
            b"accept-contact" | b"a" => HeaderName::AcceptContact,
            b"accept-encoding" => HeaderName::AcceptEncoding,
            b"accept-language" => HeaderName::AcceptLanguage,
            b"alert-info" => HeaderName::AlertInfo,
            b"allow" => HeaderName::Allow,
            b"allow-events" | b"u" => HeaderName::AllowEvents,
            b"authentication-info" => HeaderName::AuthenticationInfo,
            b"authorization" => HeaderName::Authorization,
            b"call-id" | b"i" => HeaderName::CallId,
            b"call-info" => HeaderName::CallInfo,
            b"contact" | b"m" => HeaderName::Contact,
            b"content-disposition" => HeaderName::ContentDisposition,
            b"content-encoding" | b"e" => HeaderName::ContentEncoding,
            b"content-language" => HeaderName::ContentLanguage,
            b"content-length" | b"l" => HeaderName::ContentLength,
            b"content-type" | b"c" => HeaderName::ContentType,
            b"cseq" => HeaderName::CSeq,
            b"date" => HeaderName::Date,
            b"error-info" => HeaderName::ErrorInfo,
            b"event" | b"o" => HeaderName::Event,
            b"expires" => HeaderName::Expires,
            b"from" | b"f" => HeaderName::From,
            b"identity" | b"y" => HeaderName::Identity,
            b"in-reply-to" => HeaderName::InReplyTo,
            b"max-forwards" => HeaderName::MaxForwards,
            b"mime-version" => HeaderName::MimeVersion,
            b"min-expires" => HeaderName::MinExpires,
            b"min-se" => HeaderName::MinSe,
            b"organization" => HeaderName::Organization,
            b"path" => HeaderName::PathHeader,
            b"priority" => HeaderName::Priority,
            b"proxy-authenticate" => HeaderName::ProxyAuthenticate,
            b"proxy-authorization" => HeaderName::ProxyAuthorization,
            b"proxy-require" => HeaderName::ProxyRequire,
            b"rack" => HeaderName::RAck,
            b"record-route" => HeaderName::RecordRoute,
            b"refer-to" | b"r" => HeaderName::ReferTo,
            b"referred-by" | b"b" => HeaderName::ReferredBy,
            b"reject-contact" | b"j" => HeaderName::RejectContact,
            b"reply-to" => HeaderName::ReplyTo,
            b"request-disposition" | b"d" => HeaderName::RequestDisposition,
            b"require" => HeaderName::Require,
            b"retry-after" => HeaderName::RetryAfter,
            b"route" => HeaderName::Route,
            b"rseq" => HeaderName::RSeq,
            b"server" => HeaderName::Server,
            b"session-expires" | b"x" => HeaderName::SessionExpires,
            b"sip-etag" => HeaderName::SipETag,
            b"sip-if-match" => HeaderName::SipIfMatch,
            b"subject" | b"s" => HeaderName::Subject,
            b"subscription-state" => HeaderName::SubscriptionState,
            b"supported" | b"k" => HeaderName::Supported,
            b"timestamp" => HeaderName::Timestamp,
            b"to" | b"t" => HeaderName::To,
            b"unsupported" => HeaderName::Unsupported,
            b"user-agent" => HeaderName::UserAgent,
            b"via" | b"v" => HeaderName::Via,
            b"warning" => HeaderName::Warning,
            b"www-authenticate" => HeaderName::WwwAuthenticate,
            _ => return None,
        })
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
