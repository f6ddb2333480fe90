//! The client side: answering a `401`/`407` challenge (RFC 3261 §22.2,
//! §22.3; RFC 7616 §3.4; RFC 8760 §2.4).

use super::algorithm::{Algorithm, DigestInput, Ha1Source, Qop};
use crate::message::typed::{
    Authorization, Challenge, Credentials, ProxyAuthenticate, ProxyAuthorization, TypedHeader,
    WwwAuthenticate,
};
use crate::message::{Header, HeaderName, Request, Response, StatusCode};
use std::fmt;

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The response is not a `401`/`407`, or carries no challenge.
    #[error("no challenge to answer")]
    NoChallenge,
    /// The challenge is not `Digest`.
    #[error("not a Digest challenge")]
    NotDigest,
    /// The challenge lacks `realm` or `nonce`.
    #[error("challenge without {0}")]
    MissingParameter(&'static str),
    /// An algorithm not supported here.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// Only `qop` options not supported here (or a `-sess` algorithm with
    /// no `qop`, which has no cnonce to go with it).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// The operating system's random generator failed, so there is no
    /// cnonce to send.
    #[error("the operating system's random generator failed")]
    NoRandomness,
}

/// A user's credentials, answering Digest challenges.
///
/// ```
/// use parrot::auth::DigestClient;
/// use parrot::message::typed::Challenge;
///
/// let challenge = Challenge::digest("example.com", "abc").with_qop(&["auth"]);
/// let me = DigestClient::new("alice", "secret");
/// let creds = me.answer(&challenge, "REGISTER", "sip:example.com", b"").unwrap();
/// assert_eq!(creds.username(), Some("alice"));
/// assert_eq!(creds.nc(), Some(1));
/// ```
#[derive(Clone)]
pub struct DigestClient {
    username: String,
    password: String,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl DigestClient {
    /// `username` with `password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        DigestClient {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The credentials answering `challenge` for a request `method` to
    /// `uri` with `body` (used by `qop=auth-int` only): nonce-count 1 and
    /// a fresh random cnonce, as for the first request with a new nonce.
    pub fn answer(
        &self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
        body: &[u8],
    ) -> Result<Credentials, AnswerError> {
        // RFC 7616 §3.4: the cnonce protects against chosen-plaintext
        // attacks by the server, so it must not be predictable.
        let cnonce = crate::random::cnonce().map_err(|_| AnswerError::NoRandomness)?;
        self.answer_with(challenge, method, uri, body, 1, &cnonce)
    }

    /// [`DigestClient::answer`] with the nonce-count `nc` and `cnonce`
    /// given (for a later request with the same nonce, or for tests).
    ///
    /// `qop=auth` is chosen when offered, else `auth-int`; a challenge
    /// without `qop` gets an RFC 2069-style answer (RFC 3261 §22.4). The
    /// `opaque` of the challenge is returned unchanged (RFC 7616 §3.4).
    pub fn answer_with(
        &self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
        body: &[u8],
        nc: u32,
        cnonce: &str,
    ) -> Result<Credentials, AnswerError> {
        let plan = plan(challenge)?;
        let nc_text = format!("{nc:08x}");
        let response = DigestInput {
            algorithm: plan.algorithm,
            username: &self.username,
            realm: plan.realm,
            secret: Ha1Source::Password(&self.password),
            nonce: plan.nonce,
            cnonce,
            nc: &nc_text,
            qop: plan.qop,
            method,
            uri,
            body,
        }
        .response();
        let mut creds = Credentials::digest(
            &self.username,
            plan.realm.to_owned(),
            plan.nonce.to_owned(),
            uri.to_owned(),
            response,
        )
        .with_algorithm(plan.algorithm.name());
        if let Some(q) = plan.qop {
            creds = creds.with_qop(q.name(), nc, cnonce.to_owned());
        }
        if let Some(opaque) = challenge.opaque() {
            creds = creds.with_opaque(opaque.to_owned());
        }
        Ok(creds)
    }

    /// Adds to `request` the credentials answering the challenges of
    /// `response` (a `401` gives `Authorization`, a `407`
    /// `Proxy-Authorization`; RFC 3261 §22.2, §22.3), one per realm
    /// challenged, each for the first challenge of that realm that can be
    /// answered (RFC 8760 §2.4: the topmost one the client supports;
    /// servers list the preferred first, §2.3).
    /// Credentials already in `request` for those realms are replaced.
    /// Returns the header name used.
    ///
    /// The caller sends the result as a new request: a new Via branch and
    /// the CSeq incremented (RFC 3261 §22.2, §8.1.3.5), and answers a
    /// challenge at most once, so that refused credentials do not loop (a
    /// second `401` for the retried request means they were refused, RFC
    /// 7235 §3.1; only `stale=true` invites an automatic retry, RFC 7616
    /// §3.3).
    pub fn authorize(
        &self,
        request: &mut Request,
        response: &Response,
    ) -> Result<HeaderName, AnswerError> {
        let (proxy, challenges): (bool, Vec<Challenge>) = match response.status {
            StatusCode::UNAUTHORIZED => (
                false,
                response
                    .headers
                    .typed_all::<WwwAuthenticate>()
                    .filter_map(|c| c.ok().map(|c| c.0))
                    .collect(),
            ),
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => (
                true,
                response
                    .headers
                    .typed_all::<ProxyAuthenticate>()
                    .filter_map(|c| c.ok().map(|c| c.0))
                    .collect(),
            ),
            _ => return Err(AnswerError::NoChallenge),
        };
        let mut realms: Vec<&str> = Vec::new();
        for c in &challenges {
            if let Some(r) = c.realm()
                && !realms.contains(&r)
            {
                realms.push(r);
            }
        }
        let uri = request.uri.to_string();
        let mut answers = Vec::new();
        let mut first_error = None;
        for realm in &realms {
            let of_realm = challenges.iter().filter(|c| c.realm() == Some(*realm));
            let Some(c) = select_challenge(of_realm) else {
                // Say why the first one of the realm cannot be answered.
                let why = challenges
                    .iter()
                    .find(|c| c.realm() == Some(*realm))
                    .map_or(AnswerError::NoChallenge, |c| {
                        plan(c).err().unwrap_or(AnswerError::NoChallenge)
                    });
                first_error = first_error.or(Some(why));
                continue;
            };
            answers.push(self.answer(c, request.method.as_str(), &uri, &request.body)?);
        }
        if answers.is_empty() {
            return Err(first_error.unwrap_or(AnswerError::NoChallenge));
        }
        let name = if proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        // Drop earlier credentials for the realms answered now.
        let answered: Vec<&str> = answers.iter().filter_map(|a| a.realm()).collect();
        let kept: Vec<Header> = request
            .headers
            .get_all(name)
            .filter(|h| {
                let realm = if proxy {
                    ProxyAuthorization::parse_str(h.value()).map(|c| c.0)
                } else {
                    Authorization::parse_str(h.value()).map(|c| c.0)
                };
                !realm.is_ok_and(|c| c.realm().is_some_and(|r| answered.contains(&r)))
            })
            .cloned()
            .collect();
        request.headers.remove(name);
        for h in kept {
            request.headers.push(h);
        }
        for a in &answers {
            if proxy {
                request.headers.push_typed(&ProxyAuthorization(a.clone()));
            } else {
                request.headers.push_typed(&Authorization(a.clone()));
            }
        }
        Ok(name)
    }
}

/// The credentials of `username` with `password` answering `challenge` for
/// a request `method` to `uri` with `body` (`None`: no body): nonce-count 1
/// and a fresh cnonce. See [`DigestClient::answer_with`].
pub fn answer_challenge(
    challenge: &Challenge,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    body: Option<&[u8]>,
) -> Result<Credentials, AnswerError> {
    DigestClient::new(username, password).answer(challenge, method, uri, body.unwrap_or_default())
}

/// The first of `challenges` this module can answer (RFC 8760 §2.4: a
/// server lists its challenges in order of preference, and the client
/// takes the first it supports).
pub fn select_challenge<'a>(
    challenges: impl IntoIterator<Item = &'a Challenge>,
) -> Option<&'a Challenge> {
    challenges.into_iter().find(|c| plan(c).is_ok())
}

/// What an answer to a challenge uses.
struct Plan<'a> {
    realm: &'a str,
    nonce: &'a str,
    algorithm: Algorithm,
    qop: Option<Qop>,
}

fn plan(c: &Challenge) -> Result<Plan<'_>, AnswerError> {
    if !c.is_digest() {
        return Err(AnswerError::NotDigest);
    }
    let realm = c.realm().ok_or(AnswerError::MissingParameter("realm"))?;
    let nonce = c.nonce().ok_or(AnswerError::MissingParameter("nonce"))?;
    let algorithm = Algorithm::from_param(c.algorithm())
        .ok_or_else(|| AnswerError::UnsupportedAlgorithm(c.algorithm().unwrap_or("").into()))?;
    let offered: Vec<Qop> = c.qop().filter_map(Qop::from_name).collect();
    let qop = if c.qop().next().is_none() {
        None
    } else if offered.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else if offered.contains(&Qop::AuthInt) {
        Some(Qop::AuthInt)
    } else {
        return Err(AnswerError::UnsupportedQop(
            c.get("qop").unwrap_or("").into(),
        ));
    };
    if algorithm.is_session() && qop.is_none() {
        return Err(AnswerError::UnsupportedQop(String::new()));
    }
    Ok(Plan {
        realm,
        nonce,
        algorithm,
        qop,
    })
}
