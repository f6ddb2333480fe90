//! The server side: challenging requests and verifying their credentials
//! (RFC 3261 §22.1–§22.4, RFC 7616 §3.3–§3.5, RFC 8760).

use super::algorithm::{
    Algorithm, DigestInput, Ha1Source, Hash, Qop, constant_time_eq, from_hex, to_hex,
};
use super::nonce::{NonceState, Nonces, UseRefused};
use crate::message::typed::{
    Authorization, Challenge, Credentials, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
};
use crate::message::{Request, Response, StatusCode, Uri};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a [`CredentialStore`] knows of a user.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The password in clear.
    Password(String),
    /// `HA1 = H(username ":" realm ":" password)` in hex, computed with the
    /// hash the lookup asked for (RFC 7616 §3.4.2), so that the password
    /// itself need not be stored.
    Ha1(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret itself.
        f.write_str(match self {
            Secret::Password(_) => "Secret::Password(..)",
            Secret::Ha1(_) => "Secret::Ha1(..)",
        })
    }
}

impl Secret {
    /// The `HA1` of `username` in `realm` with `password` for `hash`, the
    /// form to store instead of passwords.
    pub fn ha1(hash: Hash, username: &str, realm: &str, password: &str) -> Secret {
        Secret::Ha1(hash.hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()]))
    }
}

/// Where a [`DigestAuthenticator`] finds users: the application's user
/// database. Implemented for closures
/// `Fn(&str, &str, Hash) -> Option<Secret>` and by [`Users`].
pub trait CredentialStore: Send + Sync {
    /// The secret of `username` in `realm`, for the hash of the algorithm
    /// the client chose (it matters for [`Secret::Ha1`]); `None` for a user
    /// that does not exist. The authenticator answers an unknown user
    /// exactly as a wrong password.
    fn lookup(&self, username: &str, realm: &str, hash: Hash) -> Option<Secret>;
}

impl<F> CredentialStore for F
where
    F: Fn(&str, &str, Hash) -> Option<Secret> + Send + Sync,
{
    fn lookup(&self, username: &str, realm: &str, hash: Hash) -> Option<Secret> {
        self(username, realm, hash)
    }
}

/// A fixed table of usernames and passwords, valid in any realm.
#[derive(Clone, Default)]
pub struct Users {
    passwords: HashMap<String, String>,
}

impl Users {
    /// No users.
    pub fn new() -> Self {
        Users::default()
    }

    /// Adds (or replaces) `username` with `password`.
    pub fn insert(&mut self, username: impl Into<String>, password: impl Into<String>) {
        self.passwords.insert(username.into(), password.into());
    }

    /// Builder form of [`Users::insert`].
    pub fn with(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.insert(username, password);
        self
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }

    /// The usernames, in no particular order.
    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.passwords.keys().map(String::as_str)
    }
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.usernames().collect();
        names.sort_unstable();
        f.debug_struct("Users").field("usernames", &names).finish()
    }
}

impl CredentialStore for Users {
    fn lookup(&self, username: &str, _realm: &str, _hash: Hash) -> Option<Secret> {
        self.passwords
            .get(username)
            .map(|p| Secret::Password(p.clone()))
    }
}

/// Who a request was authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The `username` of the credentials.
    pub username: String,
    /// The realm.
    pub realm: String,
    /// The algorithm the client used.
    pub algorithm: Algorithm,
    /// The quality of protection, `None` for an RFC 2069-style response.
    pub qop: Option<Qop>,
    /// The nonce-count, with `qop`.
    pub nonce_count: Option<u32>,
}

/// Why a request is not authenticated, and so what to answer
/// ([`DigestAuthenticator::reject`]).
///
/// A wrong password and an unknown user are one variant,
/// [`AuthError::InvalidCredentials`], reached through the same computation:
/// nothing tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No Digest credentials for our realm: challenge (401/407).
    #[error("no credentials for this realm")]
    Missing,
    /// Credentials for our realm lacking a mandatory parameter (RFC 3261
    /// §22.4, RFC 7616 §3.4), or not parsing: `400 Bad Request`.
    #[error("malformed credentials: {0}")]
    Malformed(String),
    /// The `uri` parameter does not name the Request-URI (RFC 7616
    /// §3.4.6; RFC 2617 §3.2.2.5 answers `400 Bad Request`).
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
    /// An algorithm we did not offer: challenge again.
    #[error("algorithm not offered")]
    UnsupportedAlgorithm,
    /// A `qop` we did not offer: challenge again.
    #[error("qop not offered")]
    UnsupportedQop,
    /// A wrong password, or an unknown user: challenge again with a new
    /// nonce, `stale=false` (RFC 7235 §3.1: a `401` to a request with
    /// credentials means they were refused; `403` would say that no
    /// credentials can help, RFC 3261 §21.4.4).
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The digest is right but the nonce expired or is not ours (any more):
    /// challenge again with `stale=true` (RFC 7616 §3.3), and the client
    /// retries with the new nonce without asking the user.
    #[error("stale nonce")]
    Stale,
    /// The nonce-count did not increase, or a nonce used without `qop` came
    /// again: a replay (RFC 7616 §3.4, §5.5). Challenge again,
    /// `stale=false`.
    #[error("replayed nonce-count")]
    Replay,
}

impl AuthError {
    /// The status to answer with: `400` for [`AuthError::Malformed`] and
    /// [`AuthError::UriMismatch`], else `401` (or `407` when `proxy`).
    pub fn status(&self, proxy: bool) -> StatusCode {
        match self {
            AuthError::Malformed(_) | AuthError::UriMismatch => StatusCode::BAD_REQUEST,
            _ if proxy => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// Whether the new challenge says `stale=true`.
    pub fn is_stale(&self) -> bool {
        matches!(self, AuthError::Stale)
    }
}

/// The default nonce lifetime: five minutes.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// The default number of used nonces whose counts are tracked.
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 65_536;

/// Digest authentication for a UAS, registrar or proxy (RFC 3261 §22).
///
/// ```
/// use parrot::auth::{DigestAuthenticator, Users};
/// use parrot::message::{Method, Request, StatusCode};
///
/// let auth = DigestAuthenticator::new("example.com", Users::new().with("alice", "secret"));
/// let req = Request::new(Method::Register, "sip:example.com".parse().unwrap());
/// // No credentials: a 401 with one WWW-Authenticate per algorithm.
/// let err = auth.verify(&req, false).unwrap_err();
/// let resp = auth.reject(&req, &err, false);
/// assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
/// assert_eq!(resp.headers.count("WWW-Authenticate"), 2);
/// ```
///
/// - Challenges offer each configured algorithm in its own header, in the
///   configured order (default SHA-256 then MD5: RFC 8760 §2.3 wants the
///   preferred first, and MD5 last for older clients), all with
///   `qop="auth"` and one nonce.
/// - Nonces carry their issue time and a MAC under a random secret
///   ([`DigestAuthenticator::with_nonce_lifetime`], default 5 minutes);
///   the nonce-count of each nonce used is tracked so that a replay is
///   refused.
/// - The response digest is compared in constant time; an unknown user is
///   checked against a stand-in password derived from the secret, through
///   the same code, and refused with the same answer as a wrong password.
///
/// Share one authenticator (e.g. in an `Arc`) between every handler value
/// of a server: the nonce table must be one.
pub struct DigestAuthenticator {
    realm: String,
    algorithms: Vec<Algorithm>,
    qop: Vec<Qop>,
    store: Arc<dyn CredentialStore>,
    nonces: Nonces,
}

impl fmt::Debug for DigestAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestAuthenticator")
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .field("qop", &self.qop)
            .field("nonce_lifetime", &self.nonces.lifetime())
            .field("max_tracked_nonces", &self.nonces.max_tracked())
            .finish_non_exhaustive()
    }
}

/// The parameters of Digest credentials for our realm.
struct Answer<'a> {
    username: &'a str,
    nonce: &'a str,
    uri: &'a str,
    response: &'a str,
    algorithm: Option<Algorithm>,
    qop: Option<Qop>,
    nc: Option<(&'a str, u32)>,
    cnonce: &'a str,
}

impl DigestAuthenticator {
    /// An authenticator for `realm` over `store`: SHA-256 and MD5,
    /// `qop=auth`, nonces living [`DEFAULT_NONCE_LIFETIME`], signed with
    /// a fresh key from the operating system's random generator.
    ///
    /// # Panics
    ///
    /// When the operating system's random generator fails, which it does
    /// not once the system has booted; an authenticator with a guessable
    /// key would accept forged nonces.
    pub fn new(realm: impl Into<String>, store: impl CredentialStore + 'static) -> Self {
        DigestAuthenticator::with_store(realm, Arc::new(store))
    }

    /// [`DigestAuthenticator::new`] with a shared store.
    ///
    /// # Panics
    ///
    /// As [`DigestAuthenticator::new`].
    pub fn with_store(realm: impl Into<String>, store: Arc<dyn CredentialStore>) -> Self {
        // No `Result` to report through: a constructor used at start-up.
        let nonces = Nonces::new(DEFAULT_NONCE_LIFETIME, DEFAULT_MAX_TRACKED_NONCES)
            .unwrap_or_else(|e| {
                panic!(
                    "no key for Digest nonces: the operating system's random generator failed: {e}"
                )
            });
        DigestAuthenticator {
            realm: realm.into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            qop: vec![Qop::Auth],
            store,
            nonces,
        }
    }

    /// Offers `algorithms`, in this order of preference (duplicates
    /// dropped; an empty list keeps the current one).
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        let mut list = Vec::new();
        for a in algorithms {
            if !list.contains(a) {
                list.push(*a);
            }
        }
        if !list.is_empty() {
            self.algorithms = list;
        }
        self
    }

    /// Offers these qualities of protection (duplicates dropped). An empty
    /// list offers none: clients answer RFC 2069-style, without `nc`, and
    /// each nonce is then good for one request.
    pub fn with_qop(mut self, qop: &[Qop]) -> Self {
        self.qop.clear();
        for q in qop {
            if !self.qop.contains(q) {
                self.qop.push(*q);
            }
        }
        self
    }

    /// How long a nonce is accepted after it was issued; an older one gets
    /// a new challenge with `stale=true`.
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.nonces.set_lifetime(lifetime);
        self
    }

    /// How many used nonces are tracked for replay detection (default
    /// [`DEFAULT_MAX_TRACKED_NONCES`]). When full, the oldest are dropped
    /// and become stale.
    pub fn with_max_tracked_nonces(mut self, max: usize) -> Self {
        self.nonces.set_max_tracked(max);
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The algorithms offered, preferred first.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The qualities of protection offered.
    pub fn qop(&self) -> &[Qop] {
        &self.qop
    }

    /// How long nonces live.
    pub fn nonce_lifetime(&self) -> Duration {
        self.nonces.lifetime()
    }

    /// How many used nonces are tracked now.
    pub fn tracked_nonces(&self) -> usize {
        self.nonces.tracked()
    }

    /// The challenges for a new nonce, one per algorithm offered, in order
    /// (RFC 8760 §2.3: each header a different algorithm, the preferred
    /// first); `stale=true` on each when `stale`.
    pub fn challenges(&self, stale: bool) -> Vec<Challenge> {
        self.challenges_at(stale, Instant::now())
    }

    /// [`DigestAuthenticator::challenges`] at `now`.
    pub fn challenges_at(&self, stale: bool, now: Instant) -> Vec<Challenge> {
        let nonce = self.nonces.issue(now);
        let qop: Vec<&str> = self.qop.iter().map(|q| q.name()).collect();
        self.algorithms
            .iter()
            .map(|a| {
                let mut c = Challenge::digest(&self.realm, &nonce).with_algorithm(a.name());
                if !qop.is_empty() {
                    c = c.with_qop(&qop);
                }
                if stale {
                    c = c.with_stale(true);
                }
                c
            })
            .collect()
    }

    /// The most preferred challenge alone, for a new nonce.
    pub fn challenge(&self, stale: bool) -> Challenge {
        self.challenge_at(stale, Instant::now())
    }

    /// [`DigestAuthenticator::challenge`] at `now`.
    pub fn challenge_at(&self, stale: bool, now: Instant) -> Challenge {
        // `algorithms` is never empty, so there is a first.
        self.challenges_at(stale, now)
            .into_iter()
            .next()
            .unwrap_or_else(|| Challenge::digest(&self.realm, self.nonces.issue(now)))
    }

    /// A `401` with `WWW-Authenticate` (or, for a proxy, `407` with
    /// `Proxy-Authenticate`) challenging `req` (RFC 3261 §22.1, §22.3).
    pub fn challenge_response(&self, req: &Request, proxy: bool, stale: bool) -> Response {
        self.challenge_response_at(req, proxy, stale, Instant::now())
    }

    /// [`DigestAuthenticator::challenge_response`] at `now`.
    pub fn challenge_response_at(
        &self,
        req: &Request,
        proxy: bool,
        stale: bool,
        now: Instant,
    ) -> Response {
        let status = if proxy {
            StatusCode::PROXY_AUTHENTICATION_REQUIRED
        } else {
            StatusCode::UNAUTHORIZED
        };
        let mut resp = req.reply(status);
        for c in self.challenges_at(stale, now) {
            if proxy {
                resp.headers.push_typed(&ProxyAuthenticate(c));
            } else {
                resp.headers.push_typed(&WwwAuthenticate(c));
            }
        }
        resp
    }

    /// The answer to a request that failed [`DigestAuthenticator::verify`]
    /// with `err`: a new challenge (`stale=true` for [`AuthError::Stale`]),
    /// or `400` for malformed credentials.
    pub fn reject(&self, req: &Request, err: &AuthError, proxy: bool) -> Response {
        self.reject_at(req, err, proxy, Instant::now())
    }

    /// [`DigestAuthenticator::reject`] at `now`.
    pub fn reject_at(&self, req: &Request, err: &AuthError, proxy: bool, now: Instant) -> Response {
        match err {
            AuthError::Malformed(_) => req.reply(StatusCode::BAD_REQUEST).reason(if proxy {
                "Malformed Proxy-Authorization"
            } else {
                "Malformed Authorization"
            }),
            AuthError::UriMismatch => req
                .reply(StatusCode::BAD_REQUEST)
                .reason("Digest URI Mismatch"),
            _ => self.challenge_response_at(req, proxy, err.is_stale(), now),
        }
    }

    /// [`DigestAuthenticator::verify`], with the refusal already turned
    /// into the response to send ([`DigestAuthenticator::reject`]).
    pub fn authenticate(&self, req: &Request, proxy: bool) -> Result<AuthenticatedUser, Response> {
        self.authenticate_at(req, proxy, Instant::now())
    }

    /// [`DigestAuthenticator::authenticate`] at `now`.
    pub fn authenticate_at(
        &self,
        req: &Request,
        proxy: bool,
        now: Instant,
    ) -> Result<AuthenticatedUser, Response> {
        self.verify_at(req, proxy, now)
            .map_err(|e| self.reject_at(req, &e, proxy, now))
    }

    /// Checks the `Authorization` (or, when `proxy`, the
    /// `Proxy-Authorization`) credentials of `req` for our realm.
    pub fn verify(&self, req: &Request, proxy: bool) -> Result<AuthenticatedUser, AuthError> {
        self.verify_at(req, proxy, Instant::now())
    }

    /// [`DigestAuthenticator::verify`] at `now` (the clock nonces are
    /// issued and expire by).
    pub fn verify_at(
        &self,
        req: &Request,
        proxy: bool,
        now: Instant,
    ) -> Result<AuthenticatedUser, AuthError> {
        let creds = self.credentials(req, proxy)?;
        let a = parse_answer(&creds)?;

        // RFC 7616 §3.4.6 / RFC 2617 §3.2.2.5: the digest-uri must name
        // the Request-URI, or the response could be one computed for
        // another resource.
        if !uri_matches(a.uri, &req.uri) {
            return Err(AuthError::UriMismatch);
        }
        // Only what we offered (RFC 7616 §3.4: the client uses one of the
        // challenge's algorithms and qop options).
        let algorithm = match a.algorithm {
            Some(alg) if self.algorithms.contains(&alg) => alg,
            _ => return Err(AuthError::UnsupportedAlgorithm),
        };
        if let Some(q) = a.qop
            && !self.qop.contains(&q)
        {
            return Err(AuthError::UnsupportedQop);
        }
        if algorithm.is_session() && a.qop.is_none() {
            // A -sess HA1 needs the cnonce, only sent with qop.
            return Err(AuthError::Malformed("-sess algorithm without qop".into()));
        }

        // The digest, for a known user or a stand-in: the same work and
        // the same answer either way, so the user's existence never shows.
        // HA1 from a password is computed in every case (with the stand-in
        // password when the store has none), then replaced by a stored HA1.
        let found = self.store.lookup(a.username, &self.realm, algorithm.hash());
        let stand_in = self.stand_in_password(a.username);
        let password = match &found {
            Some(Secret::Password(p)) => p.as_str(),
            _ => stand_in.as_str(),
        };
        let from_password = algorithm.hash().hex(&[
            a.username.as_bytes(),
            self.realm.as_bytes(),
            password.as_bytes(),
        ]);
        let ha1 = match &found {
            Some(Secret::Ha1(h)) => h.as_str(),
            _ => from_password.as_str(),
        };
        let expected = DigestInput {
            algorithm,
            username: a.username,
            realm: &self.realm,
            secret: Ha1Source::Precomputed(ha1),
            nonce: a.nonce,
            cnonce: a.cnonce,
            nc: a.nc.map_or("", |(raw, _)| raw),
            qop: a.qop,
            method: req.method.as_str(),
            uri: a.uri,
            body: &req.body,
        }
        .response();
        let given = from_hex(a.response).unwrap_or_default();
        let expected = from_hex(&expected).unwrap_or_default();
        let matches = constant_time_eq(&given, &expected);
        if !(matches && found.is_some()) {
            return Err(AuthError::InvalidCredentials);
        }

        // The client knows the password; is the nonce still good? RFC 7616
        // §3.3: stale=true when "the nonce is invalid but with a valid
        // digest for that nonce".
        let key = match self.nonces.check(a.nonce, now) {
            NonceState::Fresh(key) => key,
            NonceState::Stale | NonceState::Unknown => return Err(AuthError::Stale),
        };
        // RFC 7616 §3.4 (nc), §5.5: refuse a count not above the last.
        match self.nonces.record(key, a.nc.map(|(_, n)| n), now) {
            Ok(()) => {}
            Err(UseRefused::Replay) => return Err(AuthError::Replay),
            Err(UseRefused::Stale) => return Err(AuthError::Stale),
        }
        Ok(AuthenticatedUser {
            username: a.username.to_owned(),
            realm: self.realm.clone(),
            algorithm,
            qop: a.qop,
            nonce_count: a.nc.map(|(_, n)| n),
        })
    }

    /// The Digest credentials of `req` for our realm (RFC 3261 §22.3: a
    /// request may carry credentials for several realms; each server
    /// takes its own).
    fn credentials(&self, req: &Request, proxy: bool) -> Result<Credentials, AuthError> {
        let all: Vec<Result<Credentials, String>> = if proxy {
            req.headers
                .typed_all::<ProxyAuthorization>()
                .map(|r| r.map(|h| h.0).map_err(|e| e.reason().to_owned()))
                .collect()
        } else {
            req.headers
                .typed_all::<Authorization>()
                .map(|r| r.map(|h| h.0).map_err(|e| e.reason().to_owned()))
                .collect()
        };
        let mut malformed = None;
        for c in all {
            match c {
                Ok(c) if c.is_digest() && c.realm() == Some(self.realm.as_str()) => return Ok(c),
                Ok(_) => {}
                Err(why) => malformed = malformed.or(Some(why)),
            }
        }
        // A header that does not parse may have been ours: 400 rather than
        // a challenge the client would answer the same way again.
        Err(malformed.map_or(AuthError::Missing, AuthError::Malformed))
    }

    /// The password an unknown user is checked against: unguessable
    /// (derived from the nonce secret) and fixed per username.
    fn stand_in_password(&self, username: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.nonces.secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"parrot unknown user\0");
        mac.update(username.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }
}

/// The mandatory and optional parameters of `c` (RFC 3261 §22.4, §25.1;
/// RFC 7616 §3.4).
fn parse_answer(c: &Credentials) -> Result<Answer<'_>, AuthError> {
    let need = |name: &'static str| {
        c.get(name)
            .ok_or_else(|| AuthError::Malformed(format!("missing {name}")))
    };
    let username = need("username")?;
    let nonce = need("nonce")?;
    let uri = need("uri")?;
    let response = need("response")?;
    let qop = match c.qop() {
        None => None,
        Some(q) => Some(Qop::from_name(q).ok_or_else(|| AuthError::Malformed("bad qop".into()))?),
    };
    // RFC 7616 §3.4: with qop, cnonce and nc MUST be sent.
    let (nc, cnonce) = if qop.is_some() {
        let raw = need("nc")?;
        let n = c
            .nc()
            .ok_or_else(|| AuthError::Malformed("bad nc".into()))?;
        (Some((raw, n)), need("cnonce")?)
    } else {
        (None, c.cnonce().unwrap_or(""))
    };
    Ok(Answer {
        username,
        nonce,
        uri,
        response,
        // `None` here means not supported; absent means MD5 (§3.3).
        algorithm: Algorithm::from_param(c.algorithm()),
        qop,
        nc,
        cnonce,
    })
}

/// Whether the digest-uri `uri` names `request_uri`: the same text, or
/// equivalent URIs (RFC 3261 §19.1.4).
fn uri_matches(uri: &str, request_uri: &Uri) -> bool {
    uri == request_uri.to_string() || uri.parse::<Uri>().is_ok_and(|u| u.equivalent(request_uri))
}
