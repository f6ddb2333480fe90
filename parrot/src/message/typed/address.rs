//! Address headers: From, To (RFC 3261 §20.20, §20.39), Contact (§20.10),
//! Route (§20.34) and Record-Route (§20.30).

use super::TypedHeader;
use crate::message::error::ParseError;
use crate::message::grammar::{is_token, parse_u64, trim_ws};
use crate::message::header_name::HeaderName;
use crate::message::name_addr::NameAddr;
use crate::message::params::Params;
use crate::message::text::Text;
use std::fmt;

/// Parses `( name-addr / addr-spec ) *( SEMI param )`, the whole of `value`.
/// Inlined into each decoder so that the address is built where the
/// header is, not moved through one more return value (a plain `inline`
/// left it a call, with two more moves of the address).
#[inline(always)]
fn decode_addr(name: &str, src: &Text, value: &str) -> Result<(NameAddr, Params), ParseError> {
    let (addr, rest) =
        NameAddr::parse_detail(src, value).map_err(|d| ParseError::header(name, d))?;
    if !rest.is_empty() && !rest.starts_with(';') {
        return Err(ParseError::header(
            name,
            "unexpected characters after address",
        ));
    }
    let params =
        Params::parse_all(src, rest).map_err(|e| ParseError::header(name, param_detail(&e)))?;
    Ok((addr, params))
}

/// The part of a [`Params`] error after its own `Bad parameter header:`
/// prefix, so it can be re-reported under the real header's name.
fn param_detail(e: &ParseError) -> String {
    let r = e.reason();
    match r.split_once(": ") {
        Some((_, d)) => format!("bad parameter: {d}"),
        None => r.to_owned(),
    }
}

/// Checks the `tag` parameter, if present: `tag-param = "tag" EQUAL token`
/// (RFC 3261 §25.1).
fn check_tag(name: &str, params: &Params) -> Result<(), ParseError> {
    match params.find("tag") {
        Some(p) if !p.value.as_deref().is_some_and(is_token) => {
            Err(ParseError::header(name, "bad tag"))
        }
        _ => Ok(()),
    }
}

macro_rules! from_to {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty {
            /// The address.
            pub addr: NameAddr,
            /// The header parameters (`tag` and extensions).
            pub params: Params,
        }

        impl $ty {
            /// A header for `addr`, without a tag.
            pub fn new(addr: impl Into<NameAddr>) -> Self {
                $ty {
                    addr: addr.into(),
                    params: Params::new(),
                }
            }

            /// The `tag` parameter (RFC 3261 §19.3).
            pub fn tag(&self) -> Option<&str> {
                self.params.raw("tag").map(|t| t.as_str())
            }

            /// Sets the `tag` parameter, which must be a `token`.
            pub fn set_tag(&mut self, tag: impl Into<Text>) {
                self.params.set_raw("tag", Some(tag.into()));
            }

            /// Builder: with the `tag` parameter.
            pub fn with_tag(mut self, tag: impl Into<Text>) -> Self {
                self.set_tag(tag);
                self
            }

            /// What `decode` gives for this header's value with `suffix`
            /// (a sub-slice of `src`) appended, when `suffix` is header
            /// parameters only (`;tag=...`): they follow the address, so
            /// the address need not be parsed again. `None` if `suffix` is
            /// anything else or the result would not decode.
            pub(crate) fn with_params_appended(&self, src: &Text, suffix: &str) -> Option<Self> {
                if !suffix.starts_with(';') {
                    return None;
                }
                let mut params = self.params.clone();
                params.extend(Params::parse_all(src, suffix).ok()?);
                check_tag(HeaderName::$name.as_str(), &params).ok()?;
                Some($ty {
                    addr: self.addr.clone(),
                    params,
                })
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;

            fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
                let name = HeaderName::$name.as_str();
                let (addr, params) = decode_addr(name, src, value)?;
                check_tag(name, &params)?;
                Ok($ty { addr, params })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", self.addr, self.params)
            }
        }
    };
}

from_to! {
    /// The From header (RFC 3261 §20.20): the request's initiator.
    ///
    /// ```
    /// use parrot::message::typed::{From, TypedHeader};
    ///
    /// let f = From::parse_str("\"Alice\" <sip:alice@atlanta.com>;tag=1928301774").unwrap();
    /// assert_eq!(f.tag(), Some("1928301774"));
    /// assert_eq!(f.addr.display_name().as_deref(), Some("Alice"));
    /// ```
    From, From
}

from_to! {
    /// The To header (RFC 3261 §20.39): the request's logical recipient.
    To, To
}

/// A Contact value (RFC 3261 §20.10): `*` or an address with parameters.
// `*` is rare and short-lived; boxing the common variant would cost an
// allocation per Contact for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `*`, used in a REGISTER to remove every binding (§10.2.2).
    Star,
    /// An address with its `contact-params` (`q`, `expires`, extensions).
    Address {
        /// The address.
        addr: NameAddr,
        /// The header parameters.
        params: Params,
    },
}

/// Parses a `qvalue`: `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
/// (RFC 3261 §25.1).
fn parse_qvalue(s: &str) -> Option<f32> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match int {
        "0" => {
            let mut thousandths = 0u32;
            for (i, b) in frac.bytes().enumerate() {
                thousandths += u32::from(b - b'0') * [100, 10, 1][i];
            }
            Some(thousandths as f32 / 1000.0)
        }
        "1" if frac.bytes().all(|b| b == b'0') => Some(1.0),
        _ => None,
    }
}

/// Writes `q` in `qvalue` form (clamped to 0..=1, three decimals at most).
fn format_qvalue(q: f32) -> String {
    let m = (q.clamp(0.0, 1.0) * 1000.0).round() as u32;
    match m {
        1000.. => "1".to_owned(),
        0 => "0".to_owned(),
        _ => {
            let s = format!("0.{m:03}");
            s.trim_end_matches('0').to_owned()
        }
    }
}

static NO_PARAMS: Params = Params::new();

impl Contact {
    /// A Contact for `addr`, with no parameters.
    pub fn new(addr: impl Into<NameAddr>) -> Self {
        Contact::Address {
            addr: addr.into(),
            params: Params::new(),
        }
    }

    /// `Contact: *`.
    pub fn star() -> Self {
        Contact::Star
    }

    /// Whether this is `*`.
    pub fn is_star(&self) -> bool {
        matches!(self, Contact::Star)
    }

    /// The address (`None` for `*`).
    pub fn addr(&self) -> Option<&NameAddr> {
        match self {
            Contact::Star => None,
            Contact::Address { addr, .. } => Some(addr),
        }
    }

    /// The parameters (empty for `*`).
    pub fn params(&self) -> &Params {
        match self {
            Contact::Star => &NO_PARAMS,
            Contact::Address { params, .. } => params,
        }
    }

    /// The parameters, mutably (`None` for `*`, which has none).
    pub fn params_mut(&mut self) -> Option<&mut Params> {
        match self {
            Contact::Star => None,
            Contact::Address { params, .. } => Some(params),
        }
    }

    /// The `q` parameter, a preference between 0 and 1 (validated when
    /// decoding).
    pub fn q(&self) -> Option<f32> {
        self.params().raw("q").and_then(|q| parse_qvalue(q))
    }

    /// The `expires` parameter in seconds; values beyond `u32` saturate
    /// (RFC 3261 §20.19 allows any 32-bit value).
    pub fn expires(&self) -> Option<u32> {
        let e = self.params().raw("expires")?;
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(parse_u64(e).map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    /// Sets `q` (clamped to 0..=1, rounded to three decimals). No effect
    /// on `*`.
    pub fn set_q(&mut self, q: f32) {
        if let Some(p) = self.params_mut() {
            p.set_raw("q", Some(Text::from(format_qvalue(q))));
        }
    }

    /// Sets `expires`. No effect on `*`.
    pub fn set_expires(&mut self, seconds: u32) {
        if let Some(p) = self.params_mut() {
            p.set_raw("expires", Some(Text::from(seconds.to_string())));
        }
    }

    /// Builder: with `q`.
    pub fn with_q(mut self, q: f32) -> Self {
        self.set_q(q);
        self
    }

    /// Builder: with `expires`.
    pub fn with_expires(mut self, seconds: u32) -> Self {
        self.set_expires(seconds);
        self
    }

    /// Builder: with a parameter. No effect on `*`.
    pub fn with_param(mut self, name: impl Into<Text>, value: Option<Text>) -> Self {
        if let Some(p) = self.params_mut() {
            p.set_raw(name, value);
        }
        self
    }
}

impl TypedHeader for Contact {
    const NAME: HeaderName = HeaderName::Contact;

    fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
        const NAME: &str = HeaderName::Contact.as_str();
        // Contact = ( STAR / (contact-param *(COMMA contact-param)) )
        if trim_ws(value) == "*" {
            return Ok(Contact::Star);
        }
        let (addr, params) = decode_addr(NAME, src, value)?;
        // contact-params-q = "q" EQUAL qvalue (RFC 3261 §25.1)
        if let Some(p) = params.find("q")
            && p.value.as_deref().and_then(parse_qvalue).is_none()
        {
            return Err(ParseError::header(NAME, "bad q value"));
        }
        // contact-params-expires = "expires" EQUAL delta-seconds
        if let Some(p) = params.find("expires") {
            let ok = p
                .value
                .as_deref()
                .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(ParseError::header(NAME, "bad expires value"));
            }
        }
        Ok(Contact::Address { addr, params })
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Star => f.write_str("*"),
            Contact::Address { addr, params } => {
                fmt::Display::fmt(addr, f)?;
                fmt::Display::fmt(params, f)
            }
        }
    }
}

macro_rules! route {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty {
            /// The address (always written in the `name-addr` form).
            pub addr: NameAddr,
            /// The header parameters.
            pub params: Params,
        }

        impl $ty {
            /// A value for `addr`, which is written with `<>`.
            pub fn new(addr: impl Into<NameAddr>) -> Self {
                let mut addr = addr.into();
                addr.set_angle_brackets(true);
                $ty {
                    addr,
                    params: Params::new(),
                }
            }

            /// Whether the URI has the `lr` parameter (RFC 3261 §16.12).
            pub fn lr(&self) -> bool {
                self.addr.uri().as_sip().is_some_and(|u| u.lr())
            }
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;

            fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
                let name = HeaderName::$name.as_str();
                let (addr, params) = decode_addr(name, src, value)?;
                // route-param / rec-route = name-addr *( SEMI rr-param )
                // (RFC 3261 §25.1): the brackets are mandatory.
                if !addr.has_angle_brackets() {
                    return Err(ParseError::header(name, "URI must be enclosed in '<>'"));
                }
                Ok($ty { addr, params })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", self.addr, self.params)
            }
        }
    };
}

route! {
    /// One Route value (RFC 3261 §20.34).
    Route, Route
}

route! {
    /// One Record-Route value (RFC 3261 §20.30).
    RecordRoute, RecordRoute
}

route! {
    /// One Path value (RFC 3327 §4): a proxy on the way of a REGISTER
    /// asks to be on the way of requests to the registered contact.
    Path, PathHeader
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::error::ParseErrorKind;
    use crate::message::headers::{Header, Headers};
    use crate::message::uri::Uri;

    fn round_trip<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) -> T {
        let v = T::parse_str(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let again = T::parse_str(&v.to_string()).unwrap();
        assert_eq!(again, v, "{s}");
        v
    }

    fn reason<T: TypedHeader + fmt::Debug>(s: &str) -> String {
        match T::parse_str(s) {
            Ok(v) => panic!("{s} decoded as {v:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ParseErrorKind::Header);
                e.reason().to_owned()
            }
        }
    }

    #[test]
    fn from_examples() {
        // RFC 3261 §20.20
        let f: From = round_trip(r#""A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s"#);
        assert_eq!(f.tag(), Some("a48s"));
        assert_eq!(f.addr.display_name().as_deref(), Some("A. G. Bell"));
        assert_eq!(
            f.to_string(),
            r#""A. G. Bell" <sip:agb@bell-telephone.com>;tag=a48s"#
        );
        let f: From = round_trip("sip:+12125551212@server.phone2net.com;tag=887s");
        assert_eq!(f.tag(), Some("887s"));
        assert_eq!(
            f.addr.uri().to_string(),
            "sip:+12125551212@server.phone2net.com"
        );
        assert_eq!(
            f.to_string(),
            "sip:+12125551212@server.phone2net.com;tag=887s"
        );
        let f: From = round_trip("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8");
        assert_eq!(f.addr.display_name().as_deref(), Some("Anonymous"));
        assert_eq!(f.tag(), Some("hyh8"));
    }

    #[test]
    fn to_examples() {
        // RFC 3261 §20.39
        let t: To = round_trip("The Operator <sip:operator@cs.columbia.edu>;tag=287447");
        assert_eq!(t.tag(), Some("287447"));
        let t: To = round_trip("sip:+12125551212@server.phone2net.com");
        assert_eq!(t.tag(), None);
        let t: To = round_trip("<sip:bob@biloxi.com;transport=tcp>");
        assert_eq!(
            t.addr.uri().as_sip().unwrap().transport().as_deref(),
            Some("tcp")
        );
        assert!(t.params.is_empty());
        assert_eq!(t.to_string(), "<sip:bob@biloxi.com;transport=tcp>");
    }

    #[test]
    fn from_to_builders() {
        let uri: Uri = "sip:alice@atlanta.com".parse().unwrap();
        let mut f =
            From::new(NameAddr::new(uri.clone()).with_display("Alice")).with_tag("1928301774");
        assert_eq!(
            f.to_string(),
            "Alice <sip:alice@atlanta.com>;tag=1928301774"
        );
        f.set_tag("x");
        assert_eq!(f.tag(), Some("x"));
        let t = To::new(uri);
        assert_eq!(t.to_string(), "<sip:alice@atlanta.com>");
        assert_eq!(To::parse_str(&t.to_string()).unwrap(), t);
    }

    #[test]
    fn from_to_errors() {
        assert!(reason::<From>("<sip:a@b>;tag").contains("tag"));
        assert!(reason::<From>("<sip:a@b>;tag=\"x\"").contains("tag"));
        assert!(reason::<To>("<sip:a@b> junk").starts_with("Bad To header: "));
        assert!(reason::<From>("\"Alice <sip:a@b>").contains("unbalanced quotes"));
        assert!(reason::<From>("<sip:a@b").contains("'>'"));
        assert_eq!(
            reason::<From>("<sip:a@b:x>"),
            "Bad From header: bad URI: bad port"
        );
        assert!(reason::<From>("<sip:a@b>;=x").starts_with("Bad From header: bad parameter"));
        assert!(reason::<From>("").contains("missing address"));
        // RFC 4475 §3.1.2.14
        assert!(From::parse_str("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        // RFC 4475 §3.1.2.13: tolerated (the spaces are unambiguous).
        assert!(To::parse_str("\"Watson, Thomas\" < sip:t.watson@example.org >").is_ok());
    }

    #[test]
    fn from_headers() {
        let headers: Headers = [Header::new("f", "Bob <sip:bob@biloxi.com>;tag=a6c85cf")]
            .into_iter()
            .collect();
        let f = headers.typed::<From>().unwrap().unwrap();
        assert_eq!(f.tag(), Some("a6c85cf"));
        // A non-list header gets its whole value, commas included.
        let headers: Headers = [Header::new("To", "\"Watson, Thomas\" <sip:t@x>")]
            .into_iter()
            .collect();
        let t = headers.typed::<To>().unwrap().unwrap();
        assert_eq!(t.addr.display_name().as_deref(), Some("Watson, Thomas"));
    }

    #[test]
    fn contact_examples() {
        // RFC 3261 §20.10
        let c: Contact = round_trip(
            r#""Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600"#,
        );
        assert_eq!(c.q(), Some(0.7));
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(
            c.to_string(),
            r#""Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7;expires=3600"#
        );
        let c: Contact = round_trip(r#""Mr. Watson" <mailto:watson@bell-telephone.com> ;q=0.1"#);
        assert_eq!(c.q(), Some(0.1));
        assert_eq!(c.addr().unwrap().uri().scheme(), "mailto");
        let c: Contact = round_trip("<sip:caller@u1.example.com>");
        assert_eq!(c.q(), None);
        assert_eq!(c.expires(), None);
        // addr-spec form: parameters belong to the header.
        let c: Contact = round_trip("sip:alice@192.0.2.4;expires=60");
        assert_eq!(c.expires(), Some(60));
        assert!(
            c.addr()
                .unwrap()
                .uri()
                .as_sip()
                .unwrap()
                .params()
                .is_empty()
        );
    }

    #[test]
    fn contact_star() {
        let c: Contact = round_trip("*");
        assert!(c.is_star());
        assert_eq!(c, Contact::star());
        assert_eq!(c.to_string(), "*");
        assert!(Contact::parse_str("  * ").unwrap().is_star());
        assert!(c.addr().is_none());
        assert!(c.params().is_empty());
        let mut s = Contact::star().with_q(0.5).with_expires(1);
        assert_eq!(s.to_string(), "*");
        assert!(s.params_mut().is_none());
        assert!(Contact::parse_str("*;q=1").is_err());
    }

    #[test]
    fn contact_qvalues() {
        for (q, v) in [
            ("0", 0.0),
            ("0.", 0.0),
            ("0.5", 0.5),
            ("0.75", 0.75),
            ("0.001", 0.001),
            ("0.999", 0.999),
            ("1", 1.0),
            ("1.", 1.0),
            ("1.000", 1.0),
        ] {
            let c = Contact::parse_str(&format!("<sip:a@b>;q={q}")).unwrap();
            assert_eq!(c.q(), Some(v), "{q}");
        }
        for q in [
            "1.5", "2", "0.1234", "-0.1", ".5", "1.001", "abc", "\"0.5\"", "00.5",
        ] {
            let s = format!("<sip:a@b>;q={q}");
            assert!(reason::<Contact>(&s).contains("q value"), "{q}");
        }
        assert!(reason::<Contact>("<sip:a@b>;q").contains("q value"));
        for q in [0.0f32, 0.1, 0.5, 0.123, 0.9999, 1.0, 7.0, -1.0, f32::NAN] {
            let c = Contact::new("sip:a@b".parse::<Uri>().unwrap()).with_q(q);
            let again = Contact::parse_str(&c.to_string()).unwrap();
            assert!(again.q().is_some());
        }
        assert_eq!(format_qvalue(0.5), "0.5");
        assert_eq!(format_qvalue(0.123), "0.123");
        assert_eq!(format_qvalue(1.0), "1");
        assert_eq!(format_qvalue(0.0), "0");
        assert_eq!(format_qvalue(0.9999), "1");
    }

    #[test]
    fn contact_expires() {
        assert_eq!(
            Contact::parse_str("<sip:a@b>;expires=0").unwrap().expires(),
            Some(0)
        );
        assert_eq!(
            Contact::parse_str("<sip:a@b>;expires=99999999999999999999999")
                .unwrap()
                .expires(),
            Some(u32::MAX)
        );
        assert!(reason::<Contact>("<sip:a@b>;expires=-1").contains("expires"));
        assert!(reason::<Contact>("<sip:a@b>;expires=soon").contains("expires"));
        assert!(reason::<Contact>("<sip:a@b>;expires").contains("expires"));
    }

    #[test]
    fn contact_builders_and_list() {
        let uri: Uri = "sip:alice@pc33.atlanta.com".parse().unwrap();
        let c = Contact::new(uri)
            .with_q(0.8)
            .with_expires(3600)
            .with_param("+sip.instance", Some(Text::from("\"<urn:uuid:1>\"")));
        assert_eq!(
            c.to_string(),
            "<sip:alice@pc33.atlanta.com>;q=0.8;expires=3600;+sip.instance=\"<urn:uuid:1>\""
        );
        let again = Contact::parse_str(&c.to_string()).unwrap();
        assert_eq!(again, c);

        let headers: Headers = [
            Header::new(
                "m",
                "<sip:a@x;lr>;q=0.5, \"B, C\" <sip:b@y>, sip:c@z;expires=10",
            ),
            Header::new("Contact", "*"),
        ]
        .into_iter()
        .collect();
        let all: Vec<Contact> = headers.typed_all::<Contact>().map(Result::unwrap).collect();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].q(), Some(0.5));
        assert_eq!(
            all[1].addr().unwrap().display_name().as_deref(),
            Some("B, C")
        );
        assert_eq!(all[2].expires(), Some(10));
        assert!(all[3].is_star());
    }

    #[test]
    fn route_headers() {
        let r: Route = round_trip("<sip:p1.example.com;lr>");
        assert!(r.lr());
        let r: RecordRoute = round_trip("<sip:server10.biloxi.com;lr>;foo=bar");
        assert!(r.lr());
        assert_eq!(r.params.get("foo").as_deref(), Some("bar"));
        let r: Route = round_trip("Proxy <sip:p2.domain.com>");
        assert!(!r.lr());
        assert_eq!(r.addr.display_name().as_deref(), Some("Proxy"));
        assert!(reason::<Route>("sip:p1.example.com;lr").contains("'<>'"));
        assert!(reason::<RecordRoute>("sip:p1.example.com").contains("'<>'"));
        assert!(reason::<Route>("<sip:p1.example.com").contains("'>'"));

        let uri: Uri = "sip:p1.example.com;lr".parse().unwrap();
        let r = Route::new(NameAddr::addr_spec(uri.clone()));
        assert_eq!(r.to_string(), "<sip:p1.example.com;lr>");
        let rr = RecordRoute::new(uri);
        assert_eq!(RecordRoute::parse_str(&rr.to_string()).unwrap(), rr);

        let headers: Headers = [Header::new(
            "Record-Route",
            "<sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>",
        )]
        .into_iter()
        .collect();
        let all: Vec<RecordRoute> = headers
            .typed_all::<RecordRoute>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[1].addr.uri().to_string(),
            "sip:bigbox3.site3.atlanta.com;lr"
        );
    }

    #[test]
    fn names() {
        assert_eq!(From::NAME, HeaderName::From);
        assert_eq!(To::NAME, HeaderName::To);
        assert_eq!(Contact::NAME, HeaderName::Contact);
        assert_eq!(Route::NAME, HeaderName::Route);
        assert_eq!(RecordRoute::NAME, HeaderName::RecordRoute);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,50}") {
            if let Ok(v) = From::parse_str(&s) {
                proptest::prop_assert_eq!(From::parse_str(&v.to_string()).unwrap(), v);
            }
            if let Ok(v) = Contact::parse_str(&s) {
                proptest::prop_assert_eq!(Contact::parse_str(&v.to_string()).unwrap(), v);
            }
            if let Ok(v) = Route::parse_str(&s) {
                proptest::prop_assert_eq!(Route::parse_str(&v.to_string()).unwrap(), v);
            }
        }

        #[test]
        fn addressy_round_trips(s in "(\"[a-z ,]{0,5}\" |[a-z]{1,4} )?<sip:[a-z]{1,4}@[a-z]{1,4}(;lr)?>(;(tag|q|expires|x)(=[0-9a-z.]{1,4})?){0,3}") {
            if let Ok(v) = From::parse_str(&s) {
                proptest::prop_assert_eq!(From::parse_str(&v.to_string()).unwrap(), v);
            }
            if let Ok(v) = Contact::parse_str(&s) {
                proptest::prop_assert_eq!(Contact::parse_str(&v.to_string()).unwrap(), v);
            }
        }
    }
}
