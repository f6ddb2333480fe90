//! Authentication headers (RFC 3261 §20.7, §20.27, §20.28, §20.44, §22;
//! Digest per RFC 3261 §25.1, RFC 7616 and RFC 8760).
//!
//! ```text
//! challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
//! credentials = ("Digest" LWS digest-response) / other-response
//! auth-param  = auth-param-name EQUAL ( token / quoted-string )
//! ```
//!
//! The four headers are not list headers: the commas separate auth-params
//! inside one value. Several challenges come in several header fields.

use super::TypedHeader;
use super::simple::{leading, rename_error};
use crate::message::grammar::{
    is_token, is_token_byte, quote, skip_ws, split_quoted, trim_ws, unquote,
};
use crate::message::{HeaderName, ParseError, Text};
use std::borrow::Cow;
use std::fmt;

/// One `auth-param`: `name=value`. The value is stored unquoted, with its
/// escapes resolved; `quoted` says how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam {
    /// The parameter name as written.
    pub name: Text,
    /// The value, without quotes.
    pub value: Text,
    /// Whether the value is written as a quoted-string. Values that are not
    /// tokens are always quoted.
    pub quoted: bool,
}

/// The `auth-param`s of a challenge or credentials, in order, with
/// case-insensitive lookup (parameter names are tokens, RFC 3261 §7.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthParams {
    list: Vec<AuthParam>,
}

impl AuthParams {
    /// No parameters.
    pub const fn new() -> Self {
        AuthParams { list: Vec::new() }
    }

    /// The parameter `name`, if present.
    pub fn find(&self, name: &str) -> Option<&AuthParam> {
        self.list.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The (unquoted) value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).map(|p| p.value.as_str())
    }

    /// Sets `name` to `value`, replacing an existing parameter in place or
    /// appending a new one.
    pub fn set(&mut self, name: impl Into<Text>, value: impl Into<Text>, quoted: bool) {
        let name = name.into();
        let value = value.into();
        match self
            .list
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(&name))
        {
            Some(p) => {
                p.value = value;
                p.quoted = quoted;
            }
            None => self.list.push(AuthParam {
                name,
                value,
                quoted,
            }),
        }
    }

    /// Removes every parameter named `name`.
    pub fn remove(&mut self, name: &str) {
        self.list.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// The parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, AuthParam> {
        self.list.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a> IntoIterator for &'a AuthParams {
    type Item = &'a AuthParam;
    type IntoIter = std::slice::Iter<'a, AuthParam>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// Whether a Digest parameter is a challenge's or a response's: `qop` is
/// quoted in the first and bare in the second.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Challenge,
    Credentials,
}

/// How Digest writes the value of `name`: `Some(true)` quoted,
/// `Some(false)` bare, `None` for parameters it does not define.
fn digest_quoting(role: Role, name: &str) -> Option<bool> {
    // RFC 3261 §25.1 (digest-cln, dig-resp) and RFC 7616 §3.3, §3.4.
    const QUOTED: [&str; 8] = [
        "realm", "domain", "nonce", "opaque", "username", "uri", "response", "cnonce",
    ];
    const BARE: [&str; 6] = [
        "algorithm",
        "stale",
        "nc",
        "charset",
        "userhash",
        "username*",
    ];
    if name.eq_ignore_ascii_case("qop") {
        // qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT
        // message-qop = "qop" EQUAL qop-value
        return Some(role == Role::Challenge);
    }
    if QUOTED.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return Some(true);
    }
    BARE.iter()
        .any(|n| n.eq_ignore_ascii_case(name))
        .then_some(false)
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
/// (RFC 7235 §2.1), as used by `Bearer` (RFC 8898).
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// What a challenge or credentials value is made of.
struct AuthParts {
    scheme: Text,
    token68: Option<Text>,
    params: AuthParams,
}

/// Parses `scheme [LWS (token68 / auth-param *(COMMA auth-param))]`.
fn parse_auth(src: &Text, s: &str, role: Role, header: &str) -> Result<AuthParts, ParseError> {
    let err = |what: &'static str| ParseError::header(header, what);
    let s = trim_ws(s);
    let n = leading(s, is_token_byte);
    if n == 0 {
        return Err(err("missing scheme"));
    }
    let (scheme, rest) = s.split_at(n);
    let digest = scheme.eq_ignore_ascii_case("Digest");
    let mut parts = AuthParts {
        scheme: src.slice_ref(scheme),
        token68: None,
        params: AuthParams::new(),
    };
    if rest.is_empty() {
        return Ok(parts);
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(err("bad scheme"));
    }
    let mut rest = skip_ws(rest);
    // Digest always uses auth-params (RFC 7616 §3.3, §3.4).
    if !digest && is_token68(rest) {
        parts.token68 = Some(src.slice_ref(rest));
        return Ok(parts);
    }
    loop {
        // Tolerate empty list elements (RFC 7230 §7 `#rule`).
        rest = skip_ws(rest);
        while let Some(r) = rest.strip_prefix(',') {
            rest = skip_ws(r);
        }
        if rest.is_empty() {
            break;
        }
        let n = leading(rest, is_token_byte);
        if n == 0 {
            return Err(err("bad parameter name"));
        }
        let (name, r) = rest.split_at(n);
        // EQUAL = SWS "=" SWS
        let r = skip_ws(r)
            .strip_prefix('=')
            .ok_or_else(|| err("missing '='"))?;
        let r = skip_ws(r);
        let (value, written_quoted, after) = if r.starts_with('"') {
            let (q, after) = split_quoted(r).map_err(|e| rename_error(e, header))?;
            let value = match unquote(q) {
                Cow::Borrowed(v) => src.slice_ref(v),
                Cow::Owned(v) => Text::from(v),
            };
            (value, true, after)
        } else {
            let n = leading(r, is_token_byte);
            if n == 0 {
                return Err(err("bad parameter value"));
            }
            (src.slice_ref(&r[..n]), false, &r[n..])
        };
        // Digest writes each parameter one way; others keep their form.
        let rule = if digest {
            digest_quoting(role, name)
        } else {
            None
        };
        let quoted = rule.unwrap_or(written_quoted) || !is_token(&value);
        parts.params.list.push(AuthParam {
            name: src.slice_ref(name),
            value,
            quoted,
        });
        rest = skip_ws(after);
        if !rest.is_empty() && !rest.starts_with(',') {
            return Err(err("expected ','"));
        }
    }
    Ok(parts)
}

/// Writes `scheme token68` or `scheme p1=v1, p2="v2"`.
fn write_auth(
    f: &mut fmt::Formatter<'_>,
    scheme: &str,
    token68: Option<&Text>,
    params: &AuthParams,
) -> fmt::Result {
    f.write_str(scheme)?;
    if let Some(t) = token68 {
        // token68 and auth-params exclude each other (RFC 7235 §2.1); the
        // token wins.
        return write!(f, " {t}");
    }
    for (i, p) in params.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        if p.quoted || !is_token(&p.value) {
            write!(f, "{}={}", p.name, quote(&p.value))?;
        } else {
            write!(f, "{}={}", p.name, p.value)?;
        }
    }
    Ok(())
}

macro_rules! auth_value {
    ($(#[$doc:meta])* $ty:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty {
            /// The auth-scheme (`Digest`, `Bearer`, ...), as written.
            pub scheme: Text,
            /// A `token68` in place of parameters (RFC 7235 §2.1), as
            /// `Bearer` uses (RFC 8898).
            pub token68: Option<Text>,
            /// The auth-params, in order; unknown ones are kept.
            pub params: AuthParams,
        }

        impl $ty {
            /// A value of `scheme` with no parameters.
            pub fn new(scheme: impl Into<Text>) -> Self {
                $ty {
                    scheme: scheme.into(),
                    token68: None,
                    params: AuthParams::new(),
                }
            }

            /// Parses a value of `header` (used in error reasons); `s` is
            /// a sub-slice of `src`.
            pub fn parse(src: &Text, s: &str, header: HeaderName) -> Result<Self, ParseError> {
                let p = parse_auth(src, s, $role, header.as_str())?;
                let v = $ty {
                    scheme: p.scheme,
                    token68: p.token68,
                    params: p.params,
                };
                v.check().map_err(|what| ParseError::header(header.as_str(), what))?;
                Ok(v)
            }

            /// Whether the scheme is `Digest` (case-insensitive).
            pub fn is_digest(&self) -> bool {
                self.scheme.eq_ignore_ascii_case("Digest")
            }

            /// The (unquoted) value of the parameter `name`.
            pub fn get(&self, name: &str) -> Option<&str> {
                self.params.get(name)
            }

            /// Sets the parameter `name`, quoting it as Digest requires
            /// for the parameters it defines (RFC 3261 §25.1, RFC 7616),
            /// and otherwise only if `value` is not a token.
            pub fn set_param(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
                let name = name.into();
                let value = value.into();
                let rule = if self.is_digest() { digest_quoting($role, &name) } else { None };
                let quoted = rule.unwrap_or(false) || !is_token(&value);
                self.params.set(name, value, quoted);
            }

            /// Builder form of [`Self::set_param`].
            pub fn with_param(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Self {
                self.set_param(name, value);
                self
            }

            /// Sets the `algorithm` parameter (`MD5`, `SHA-256`, ...;
            /// RFC 8760).
            pub fn with_algorithm(self, algorithm: impl Into<Text>) -> Self {
                self.with_param("algorithm", algorithm)
            }

            /// Sets the `opaque` parameter.
            pub fn with_opaque(self, opaque: impl Into<Text>) -> Self {
                self.with_param("opaque", opaque)
            }

            /// The `realm` parameter.
            pub fn realm(&self) -> Option<&str> {
                self.get("realm")
            }

            /// The `nonce` parameter.
            pub fn nonce(&self) -> Option<&str> {
                self.get("nonce")
            }

            /// The `opaque` parameter.
            pub fn opaque(&self) -> Option<&str> {
                self.get("opaque")
            }

            /// The `algorithm` parameter. Absent means `MD5` (RFC 7616
            /// §3.3).
            pub fn algorithm(&self) -> Option<&str> {
                self.get("algorithm")
            }

            /// Whether `userhash=true` (RFC 7616 §3.3, §3.4).
            pub fn userhash(&self) -> bool {
                self.get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_auth(f, &self.scheme, self.token68.as_ref(), &self.params)
            }
        }
    };
}

auth_value!(
    /// A `challenge` (RFC 3261 §25.1), carried by `WWW-Authenticate` and
    /// `Proxy-Authenticate`.
    Challenge,
    Role::Challenge
);

impl Challenge {
    /// A Digest challenge: `Digest realm="<realm>", nonce="<nonce>"`
    /// (RFC 3261 §22.4).
    pub fn digest(realm: impl Into<Text>, nonce: impl Into<Text>) -> Self {
        Challenge::new(Text::from_static("Digest"))
            .with_param("realm", realm)
            .with_param("nonce", nonce)
    }

    /// Sets `qop` to the given options (written quoted, comma-separated).
    pub fn with_qop(self, options: &[&str]) -> Self {
        self.with_param("qop", options.join(","))
    }

    /// Sets `stale` (RFC 7616 §3.3: the nonce was stale, not the
    /// credentials wrong).
    pub fn with_stale(self, stale: bool) -> Self {
        self.with_param("stale", if stale { "true" } else { "false" })
    }

    /// Sets `domain` to the given space-separated URIs.
    pub fn with_domain(self, uris: &[&str]) -> Self {
        self.with_param("domain", uris.join(" "))
    }

    /// Whether `stale=true` (case-insensitive).
    pub fn stale(&self) -> bool {
        self.get("stale")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The `qop` options (`auth`, `auth-int`), in order.
    pub fn qop(&self) -> impl Iterator<Item = &str> {
        self.get("qop")
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(trim_ws)
            .filter(|o| !o.is_empty())
    }

    /// The URIs of the `domain` parameter (space-separated), in order.
    pub fn domain(&self) -> impl Iterator<Item = &str> {
        self.get("domain")
            .into_iter()
            .flat_map(|v| v.split([' ', '\t']))
            .filter(|u| !u.is_empty())
    }

    /// The `charset` parameter (RFC 7616 §3.3; only `UTF-8` is defined).
    pub fn charset(&self) -> Option<&str> {
        self.get("charset")
    }

    fn check(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

auth_value!(
    /// `credentials` (RFC 3261 §25.1), carried by `Authorization` and
    /// `Proxy-Authorization`.
    Credentials,
    Role::Credentials
);

impl Credentials {
    /// Digest credentials with the mandatory parameters of RFC 3261
    /// §22.4: `username`, `realm`, `nonce`, `uri` and `response`.
    pub fn digest(
        username: impl Into<Text>,
        realm: impl Into<Text>,
        nonce: impl Into<Text>,
        uri: impl Into<Text>,
        response: impl Into<Text>,
    ) -> Self {
        Credentials::new(Text::from_static("Digest"))
            .with_param("username", username)
            .with_param("realm", realm)
            .with_param("nonce", nonce)
            .with_param("uri", uri)
            .with_param("response", response)
    }

    /// `Bearer <token>` (RFC 8898 §2.4 with RFC 6750 §2.1).
    pub fn bearer(token: impl Into<Text>) -> Self {
        let mut c = Credentials::new(Text::from_static("Bearer"));
        c.token68 = Some(token.into());
        c
    }

    /// Sets `qop`, `nc` (written as 8 hex digits) and `cnonce`, which go
    /// together (RFC 3261 §22.4, RFC 7616 §3.4).
    pub fn with_qop(self, qop: impl Into<Text>, nc: u32, cnonce: impl Into<Text>) -> Self {
        self.with_param("qop", qop)
            .with_param("nc", format!("{nc:08x}"))
            .with_param("cnonce", cnonce)
    }

    /// The `username` parameter.
    pub fn username(&self) -> Option<&str> {
        self.get("username")
    }

    /// The `uri` parameter (`digest-uri`).
    pub fn uri(&self) -> Option<&str> {
        self.get("uri")
    }

    /// The `response` parameter (`request-digest`).
    pub fn response(&self) -> Option<&str> {
        self.get("response")
    }

    /// The `cnonce` parameter.
    pub fn cnonce(&self) -> Option<&str> {
        self.get("cnonce")
    }

    /// The `qop` parameter (a single value in credentials).
    pub fn qop(&self) -> Option<&str> {
        self.get("qop")
    }

    /// The `nc` parameter (`nc-value = 8LHEX`), as a number.
    pub fn nc(&self) -> Option<u32> {
        self.get("nc").and_then(parse_nc)
    }

    fn check(&self) -> Result<(), &'static str> {
        // nonce-count = "nc" EQUAL nc-value; nc-value = 8LHEX (§25.1)
        if self.is_digest() && self.get("nc").is_some_and(|v| parse_nc(v).is_none()) {
            return Err("bad nc");
        }
        Ok(())
    }
}

/// `8LHEX` as a number. Upper-case hex digits are accepted too.
fn parse_nc(v: &str) -> Option<u32> {
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(v, 16).ok()
}

macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident($inner:ident), $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty(pub $inner);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const SPLIT: bool = false;

            fn decode(src: &Text, value: &str) -> Result<Self, ParseError> {
                $inner::parse(src, value, HeaderName::$name).map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$inner> for $ty {
            fn from(v: $inner) -> Self {
                $ty(v)
            }
        }
    };
}

auth_header!(
    /// `WWW-Authenticate` (RFC 3261 §20.44): a challenge in a 401.
    WwwAuthenticate(Challenge),
    WwwAuthenticate
);

auth_header!(
    /// `Proxy-Authenticate` (RFC 3261 §20.27): a challenge in a 407.
    ProxyAuthenticate(Challenge),
    ProxyAuthenticate
);

auth_header!(
    /// `Authorization` (RFC 3261 §20.7): credentials for a UAS or
    /// registrar.
    Authorization(Credentials),
    Authorization
);

auth_header!(
    /// `Proxy-Authorization` (RFC 3261 §20.28): credentials for a proxy.
    ProxyAuthorization(Credentials),
    ProxyAuthorization
);

#[cfg(test)]
mod tests {
    use super::*;

    fn rt<T: TypedHeader + PartialEq + fmt::Debug>(s: &str) -> T {
        let v = T::parse_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(
            T::parse_str(&v.to_string()).unwrap(),
            v,
            "round trip of {s:?}"
        );
        v
    }

    #[test]
    fn www_authenticate_rfc3261_example() {
        // RFC 3261 §20.44
        let s = r#"Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5"#;
        let WwwAuthenticate(c) = rt(s);
        assert!(c.is_digest());
        assert_eq!(c.realm(), Some("atlanta.com"));
        assert_eq!(c.domain().collect::<Vec<_>>(), vec!["sip:boxesbybob.com"]);
        assert_eq!(c.qop().collect::<Vec<_>>(), vec!["auth"]);
        assert_eq!(c.nonce(), Some("f84f1cec41e6cbe5aea9c8e88d359"));
        assert_eq!(c.opaque(), Some(""));
        assert!(!c.stale());
        assert_eq!(c.algorithm(), Some("MD5"));
        // Written back exactly.
        assert_eq!(c.to_string(), s);
    }

    #[test]
    fn authorization_rfc3261_example() {
        // RFC 3261 §20.7
        let s = r#"Digest username="Alice", realm="atlanta.com", nonce="84a4cc6f3082121f32b42a2187831a9e", response="7587245234b3434cc3412213e5f113a5432""#;
        let Authorization(c) = rt(s);
        assert_eq!(c.username(), Some("Alice"));
        assert_eq!(c.realm(), Some("atlanta.com"));
        assert_eq!(c.nonce(), Some("84a4cc6f3082121f32b42a2187831a9e"));
        assert_eq!(c.response(), Some("7587245234b3434cc3412213e5f113a5432"));
        assert_eq!(c.uri(), None);
        assert_eq!(c.to_string(), s);
    }

    #[test]
    fn whitespace_and_quoting_rules() {
        let s = "Digest   username = \"bob\" ,realm=\"b.example\",  nonce=\"n\" , uri = \"sip:b.example\" ,\tresponse=\"abc\", algorithm = \"SHA-256\", cnonce=\"0a4f113b\", qop=\"auth\", nc=00000001, opaque=\"5ccc\", x-ext=tok, x-q=\"quoted\"";
        let ProxyAuthorization(c) = rt(s);
        assert_eq!(c.algorithm(), Some("SHA-256"));
        assert_eq!(c.qop(), Some("auth"));
        assert_eq!(c.nc(), Some(1));
        assert_eq!(c.cnonce(), Some("0a4f113b"));
        assert_eq!(c.get("X-EXT"), Some("tok"));
        assert_eq!(c.get("x-q"), Some("quoted"));
        // algorithm, qop and nc are bare in credentials; unknown
        // parameters keep their form.
        assert_eq!(
            c.to_string(),
            r#"Digest username="bob", realm="b.example", nonce="n", uri="sip:b.example", response="abc", algorithm=SHA-256, cnonce="0a4f113b", qop=auth, nc=00000001, opaque="5ccc", x-ext=tok, x-q="quoted""#
        );
        // A sloppy bare username is quoted on output.
        let Authorization(c) = rt("Digest username=bob, realm=r");
        assert_eq!(c.to_string(), r#"Digest username="bob", realm="r""#);
    }

    #[test]
    fn challenge_qop_list_and_escapes() {
        let ProxyAuthenticate(c) = rt(
            r#"Digest realm="a \"quoted\" realm", qop="auth,auth-int", nonce="n", stale=TRUE, domain="sip:a.example  sip:b.example", algorithm=SHA-256, userhash=true, charset=UTF-8"#,
        );
        assert_eq!(c.realm(), Some(r#"a "quoted" realm"#));
        assert_eq!(c.qop().collect::<Vec<_>>(), vec!["auth", "auth-int"]);
        assert!(c.stale());
        assert!(c.userhash());
        assert_eq!(c.charset(), Some("UTF-8"));
        assert_eq!(
            c.domain().collect::<Vec<_>>(),
            vec!["sip:a.example", "sip:b.example"]
        );
        assert!(
            c.to_string()
                .starts_with(r#"Digest realm="a \"quoted\" realm", qop="auth,auth-int""#)
        );
    }

    #[test]
    fn rfc4475_regaut01_unknown_scheme() {
        // §3.3.7: "Authorization: NoOneKnowsThisScheme opaque-data=here"
        let Authorization(c) = rt("NoOneKnowsThisScheme opaque-data=here");
        assert!(!c.is_digest());
        assert_eq!(c.scheme, "NoOneKnowsThisScheme");
        assert_eq!(c.get("opaque-data"), Some("here"));
        assert_eq!(c.to_string(), "NoOneKnowsThisScheme opaque-data=here");
    }

    #[test]
    fn token68_and_bare_scheme() {
        let Authorization(c) =
            rt("Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo=");
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(
            c.token68.as_deref(),
            Some("eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo=")
        );
        assert!(c.params.is_empty());
        assert_eq!(Credentials::bearer("abc").to_string(), "Bearer abc");
        let WwwAuthenticate(c) = rt(r#"Bearer realm="example", scope="openid""#);
        assert_eq!(c.realm(), Some("example"));
        assert_eq!(c.token68, None);
        let WwwAuthenticate(c) = rt("Negotiate");
        assert!(c.params.is_empty());
        assert_eq!(c.to_string(), "Negotiate");
    }

    #[test]
    fn constructors() {
        let c = Challenge::digest("atlanta.com", "abc123")
            .with_algorithm("SHA-256")
            .with_qop(&["auth", "auth-int"])
            .with_opaque("xyz")
            .with_stale(true)
            .with_domain(&["sip:a.example", "sip:b.example"]);
        assert_eq!(
            c.to_string(),
            r#"Digest realm="atlanta.com", nonce="abc123", algorithm=SHA-256, qop="auth,auth-int", opaque="xyz", stale=true, domain="sip:a.example sip:b.example""#
        );
        let w = WwwAuthenticate(c.clone());
        assert_eq!(WwwAuthenticate::parse_str(&w.to_string()).unwrap(), w);
        assert_eq!(
            ProxyAuthenticate::from(c.clone()).to_string(),
            c.to_string()
        );

        let cr = Credentials::digest(
            "bob",
            "atlanta.com",
            "abc123",
            "sip:bob@atlanta.com",
            "6629fae49393a05397450978507c4ef1",
        )
        .with_algorithm("MD5")
        .with_qop("auth", 1, "0a4f113b")
        .with_opaque("xyz");
        assert_eq!(
            cr.to_string(),
            r#"Digest username="bob", realm="atlanta.com", nonce="abc123", uri="sip:bob@atlanta.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b", opaque="xyz""#
        );
        let a = Authorization(cr);
        assert_eq!(Authorization::parse_str(&a.to_string()).unwrap(), a);
        assert_eq!(a.0.nc(), Some(1));
        // Values that are not tokens get quoted even when Digest says bare.
        let c = Challenge::new("Digest").with_param("algorithm", "a b");
        assert_eq!(c.to_string(), r#"Digest algorithm="a b""#);
        // Setting an existing parameter replaces it in place.
        let mut c = Credentials::digest("u", "r", "n", "sip:x", "0");
        c.set_param("NONCE", "n2");
        assert_eq!(c.nonce(), Some("n2"));
        c.params.remove("nonce");
        assert_eq!(c.nonce(), None);
        assert_eq!(c.params.len(), 4);
    }

    #[test]
    fn nc_values() {
        assert_eq!(parse_nc("0000000a"), Some(10));
        assert_eq!(parse_nc("FFFFFFFF"), Some(u32::MAX));
        assert_eq!(parse_nc("1"), None);
        assert_eq!(parse_nc("+0000001"), None);
        assert_eq!(parse_nc("0000000g"), None);
        assert!(Authorization::parse_str("Digest nc=1").is_err());
        assert_eq!(
            Authorization::parse_str("Digest nc=0x000001")
                .unwrap_err()
                .reason(),
            "Bad Authorization header: bad nc"
        );
        // nc is not checked for other schemes.
        assert!(Authorization::parse_str("Other nc=1").is_ok());
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            " ",
            "=x",
            "Digest,realm=x",
            "Digest realm",
            "Digest realm=",
            "Digest realm=\"open",
            "Digest realm=a b",
            "Digest realm=\"a\" nonce=\"b\"",
            "Digest realm=a;b",
            "Digest =x",
            "Digest realm=é",
            "Digest é=x",
            "\"Digest\" realm=x",
        ] {
            assert!(WwwAuthenticate::parse_str(bad).is_err(), "{bad:?}");
            assert!(ProxyAuthorization::parse_str(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            WwwAuthenticate::parse_str("Digest realm=\"open")
                .unwrap_err()
                .reason(),
            "Bad WWW-Authenticate header: unbalanced quotes"
        );
        assert_eq!(
            ProxyAuthenticate::parse_str("Digest realm")
                .unwrap_err()
                .reason(),
            "Bad Proxy-Authenticate header: missing '='"
        );
    }

    #[test]
    fn lenient_commas_and_utf8_in_quotes() {
        let WwwAuthenticate(c) = rt(r#"Digest realm="réalm" ,, nonce="n",  "#);
        assert_eq!(c.realm(), Some("réalm"));
        assert_eq!(c.params.len(), 2);
        assert_eq!(c.to_string(), r#"Digest realm="réalm", nonce="n""#);
    }

    #[test]
    fn shares_storage_when_unescaped() {
        // A value long enough not to be copied inline.
        let src = Text::from(r#"Digest realm="a-rather-long-realm.example.com""#);
        let c = Challenge::parse(&src, &src, HeaderName::WwwAuthenticate).unwrap();
        let realm = &c.params.find("realm").unwrap().value;
        assert_eq!(realm.as_bytes().as_ptr(), src.as_bytes()[14..].as_ptr());
    }
}
