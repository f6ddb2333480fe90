//! The refusals RFC 3261 §8.2 makes a UAS give before any application
//! logic runs, whatever the handler would answer: `416` for a Request-URI
//! scheme not served (§8.2.2.1), `420` with `Unsupported` for option tags
//! in `Require` that are not supported (§8.2.2.3), `415` with `Accept` /
//! `Accept-Encoding` for a body the handler cannot take (§8.2.3), and
//! `406` when the request's `Accept` rules out the body the answer needs
//! (§21.4.7). Sans-IO: [`UasPolicy::refusal`] is a pure function of the
//! request.

use crate::dialog::{SessionTimerConfig, TAG_100REL, TAG_TIMER};
use crate::message::is_plain_sdp;
use crate::message::typed::{Accept, ContentType, MediaRange, Require, Supported, Unsupported};
use crate::message::{HeaderName, Method, Request, Response, StatusCode, Text};
use crate::server::MethodSet;
use std::collections::HashMap;

/// When a UAS sends its provisional responses to an INVITE reliably (RFC
/// 3262); see [`ServerBuilder::reliable_provisionals`](super::ServerBuilder::reliable_provisionals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Reliability {
    /// Only when the INVITE requires it (`Require: 100rel`), or when the
    /// handler asks ([`Context::send_reliable`](super::Context::send_reliable)).
    #[default]
    WhenRequired,
    /// Whenever the INVITE supports it (`Supported: 100rel`).
    WhenSupported,
    /// Always: an INVITE that does not support 100rel is refused with
    /// `421 Extension Required` (RFC 3262 §3 leaves this to the UAS).
    Required,
}

/// What the server, as a user agent server, serves and understands; the
/// builder sets it ([`ServerBuilder::supported`](super::ServerBuilder::supported),
/// [`accept`](super::ServerBuilder::accept),
/// [`uri_schemes`](super::ServerBuilder::uri_schemes),
/// [`proxies`](super::ServerBuilder::proxies)).
#[derive(Debug, Clone)]
pub(crate) struct UasPolicy {
    /// Request-URI schemes served (lower case).
    schemes: Vec<String>,
    /// Option tags supported, in the order they are advertised.
    supported: Vec<String>,
    /// The same as a `Supported` value, made once.
    supported_value: String,
    /// Body types accepted per method, where they differ from the default.
    accept: HashMap<Method, Accept>,
    /// Methods the handler may proxy: Require and the body are the next
    /// hop's business there (§16: only Proxy-Require binds a proxy).
    proxied: MethodSet,
    /// How provisional responses go to an INVITE that supports 100rel.
    pub(crate) reliability: Reliability,
    /// Session timer settings (RFC 4028); `None` when not supported.
    pub(crate) session_timer: Option<SessionTimerConfig>,
    /// Whether every call gets a session timer, asked for or not (§9
    /// lets a UAS impose one).
    pub(crate) impose_timer: bool,
    /// The durations granted to subscriptions (RFC 6665 §4.2.1.1).
    pub(crate) subscription_expires: crate::dialog::ExpiresPolicy,
    /// What answers the challenges (401/407) to the requests sessions
    /// send in their dialogs (RFC 3261 §22.2, §22.3); `None`: no
    /// credentials, a challenge is the handler's answer.
    pub(crate) credentials: Option<crate::auth::DigestClient>,
    /// `application/sdp` and nothing: the defaults, parsed once.
    sdp: Accept,
    nothing: Accept,
}

impl Default for UasPolicy {
    fn default() -> Self {
        UasPolicy {
            schemes: vec!["sip".into(), "sips".into()],
            // What the runtime implements for every handler.
            supported: vec![TAG_100REL.into(), TAG_TIMER.into()],
            supported_value: format!("{TAG_100REL}, {TAG_TIMER}"),
            reliability: Reliability::WhenRequired,
            session_timer: Some(SessionTimerConfig::default()),
            impose_timer: false,
            accept: HashMap::new(),
            proxied: MethodSet::EMPTY,
            subscription_expires: crate::dialog::ExpiresPolicy::default(),
            credentials: None,
            sdp: [MediaRange::new(
                Text::from_static("application"),
                Text::from_static("sdp"),
            )]
            .into_iter()
            .collect(),
            nothing: Accept::new(),
        }
    }
}

impl UasPolicy {
    /// Serves `scheme` too (`tel`, `urn`, …).
    pub(crate) fn add_scheme(&mut self, scheme: &str) {
        let scheme = scheme.to_ascii_lowercase();
        if !self.schemes.contains(&scheme) {
            self.schemes.push(scheme);
        }
    }

    /// Supports option tag `tag`.
    pub(crate) fn add_supported(&mut self, tag: &str) {
        if !self.supports(tag) {
            self.supported.push(tag.to_owned());
            self.supported_value = self.supported.join(", ");
        }
    }

    /// No longer supports option tag `tag`.
    pub(crate) fn remove_supported(&mut self, tag: &str) {
        self.supported.retain(|t| !t.eq_ignore_ascii_case(tag));
        self.supported_value = self.supported.join(", ");
    }

    /// Accepts exactly `accept` as bodies of `method`.
    pub(crate) fn set_accept(&mut self, method: Method, accept: Accept) {
        self.accept.insert(method, accept);
    }

    /// Lets the handler proxy `methods` without the UAS checks.
    pub(crate) fn set_proxied(&mut self, methods: MethodSet) {
        self.proxied = methods;
    }

    /// Whether the handler may proxy `method`.
    pub(crate) fn proxies(&self, method: &Method) -> bool {
        self.proxied.contains(method)
    }

    /// Whether option tag `tag` is supported (option tags are tokens,
    /// compared case-insensitively, §7.3.1).
    pub(crate) fn supports(&self, tag: &str) -> bool {
        self.supported.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }

    /// Whether provisional responses go reliably to an INVITE that
    /// supports 100rel without requiring it.
    pub(crate) fn reliable_by_default(&self) -> bool {
        self.reliability != Reliability::WhenRequired
    }

    /// Whether any option tag is supported.
    pub(crate) fn has_supported(&self) -> bool {
        !self.supported.is_empty()
    }

    /// The `Supported` value: every supported option tag.
    pub(crate) fn supported(&self) -> &str {
        &self.supported_value
    }

    /// The body types `method` accepts, `None` for any. Unless the
    /// builder says otherwise: SDP for the offer/answer methods, no body
    /// at all for BYE, CANCEL, REGISTER and OPTIONS, anything for the rest
    /// (MESSAGE, INFO, NOTIFY, SUBSCRIBE, PUBLISH, REFER and extensions
    /// carry the application's own types).
    pub(crate) fn accepts(&self, method: &Method) -> Option<&Accept> {
        if let Some(a) = self.accept.get(method) {
            return Some(a);
        }
        match method {
            Method::Invite | Method::Update | Method::Prack | Method::Ack => Some(&self.sdp),
            Method::Bye | Method::Cancel | Method::Register | Method::Options => {
                Some(&self.nothing)
            }
            _ => None,
        }
    }

    /// The refusal `req` must get before the handler sees it, if any.
    /// ACK and CANCEL are never refused here (an ACK cannot be answered,
    /// and §8.2.2.3 exempts CANCEL from Require).
    pub(crate) fn refusal(&self, req: &Request) -> Option<Response> {
        // §8.2.2.1 (and §16.3 step 2 for a proxy).
        let scheme = req.uri.scheme();
        if !self.schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            return Some(
                req.reply(StatusCode::UNSUPPORTED_URI_SCHEME)
                    .reason(format!("Unsupported URI scheme: {scheme}")),
            );
        }
        if matches!(req.method, Method::Ack | Method::Cancel) || self.proxied.contains(&req.method)
        {
            return None;
        }
        self.unsupported_extensions(req)
            .or_else(|| self.extension_required(req))
            .or_else(|| {
                // RFC 4028 §9: 422 for an interval below our Min-SE.
                let config = self.session_timer.as_ref()?;
                crate::dialog::uas_check(req, config)
            })
            .or_else(|| self.unsupported_body(req))
            .or_else(|| self.not_acceptable(req))
    }

    /// §8.2.2.3: `420` listing exactly the required tags not supported.
    fn unsupported_extensions(&self, req: &Request) -> Option<Response> {
        let mut missing = Unsupported::default();
        for require in req.headers.typed_all::<Require>() {
            let Ok(require) = require else {
                return Some(bad_header(req, HeaderName::Require));
            };
            for tag in require.iter() {
                if !self.supports(tag) && !missing.contains(tag) {
                    missing.push(tag.clone());
                }
            }
        }
        if missing.is_empty() {
            return None;
        }
        let mut resp = req.reply(StatusCode::BAD_EXTENSION);
        resp.headers.push_typed(&missing);
        let supported: Supported = self.supported.iter().cloned().map(Text::from).collect();
        resp.headers.push_typed(&supported);
        Some(resp)
    }

    /// RFC 3261 §21.4.16 / RFC 3262 §3: an INVITE without 100rel support
    /// when the server requires reliable provisional responses.
    fn extension_required(&self, req: &Request) -> Option<Response> {
        if self.reliability != Reliability::Required
            || req.method != Method::Invite
            || req.headers.has_to_tag()
            || req.headers.supports(TAG_100REL)
        {
            return None;
        }
        let mut resp = req.reply(StatusCode::EXTENSION_REQUIRED);
        resp.headers.append(HeaderName::Require, TAG_100REL);
        Some(resp)
    }

    /// §8.2.3: a body whose type or encoding the method does not take.
    fn unsupported_body(&self, req: &Request) -> Option<Response> {
        if req.body.is_empty() {
            return None;
        }
        let Some(raw) = req.headers.get(HeaderName::ContentType) else {
            // §20.15: a body must say its type.
            return Some(
                req.reply(StatusCode::BAD_REQUEST)
                    .reason("Missing Content-Type header"),
            );
        };
        let ct = if is_plain_sdp(raw) {
            ContentType::sdp()
        } else {
            match req.headers.typed::<ContentType>() {
                Some(Ok(ct)) => ct,
                _ => return Some(bad_header(req, HeaderName::ContentType)),
            }
        };
        let encoded = req
            .headers
            .values(HeaderName::ContentEncoding)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"));
        if encoded {
            let mut resp = req
                .reply(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .reason("Unsupported Content-Encoding");
            resp.headers.append(HeaderName::AcceptEncoding, "identity");
            return Some(resp);
        }
        let accept = self.accepts(&req.method)?;
        if accept.accepts(&ct) {
            return None;
        }
        let mut resp = req
            .reply(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .reason(format!(
                "Unsupported Content-Type: {}/{}",
                ct.mtype, ct.subtype
            ));
        resp.headers.push_typed(accept);
        Some(resp)
    }

    /// §21.4.7: the request's `Accept` excludes the body an answer to it
    /// must carry (SDP, for INVITE and UPDATE).
    fn not_acceptable(&self, req: &Request) -> Option<Response> {
        if !matches!(req.method, Method::Invite | Method::Update) {
            return None;
        }
        let mut given = req
            .headers
            .typed_all::<Accept>()
            .filter_map(Result::ok)
            .peekable();
        given.peek()?;
        let sdp = ContentType::sdp();
        let mut any = false;
        for a in given {
            any |= a.accepts(&sdp);
        }
        if any {
            return None;
        }
        Some(
            req.reply(StatusCode::NOT_ACCEPTABLE)
                .reason("Accept excludes application/sdp"),
        )
    }
}

fn bad_header(req: &Request, name: HeaderName) -> Response {
    req.reply(StatusCode::BAD_REQUEST)
        .reason(format!("Bad {name} header"))
}

#[cfg(test)]
mod tests;
