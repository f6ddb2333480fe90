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

        const TABLE: &[(&str, Option<u8>, HeaderName)] = &[
            $( ($name, $compact, HeaderName::$var), )*
        ];

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

impl HeaderName {
    /// Looks up a header name as written (long or compact form,
    /// case-insensitive). `None` for an unknown (extension) header.
    pub fn lookup(name: &str) -> Option<HeaderName> {
        let b = name.as_bytes();
        if b.len() == 1 {
            let c = b[0].to_ascii_lowercase();
            return TABLE.iter().find(|e| e.1 == Some(c)).map(|e| e.2);
        }
        TABLE
            .iter()
            .find(|e| e.0.len() == b.len() && e.0.as_bytes().eq_ignore_ascii_case(b))
            .map(|e| e.2)
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
}
