//! Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760): challenging
//! and verifying on the server side, answering challenges on the client
//! side.
//!
//! **Server.** A [`DigestAuthenticator`] holds a realm, the algorithms
//! offered (default SHA-256 then MD5), `qop=auth`, and a random secret that
//! signs its nonces. A handler asks it to check each request:
//!
//! ```
//! use parrot::auth::{DigestAuthenticator, Users};
//! use parrot::prelude::*;
//! use std::sync::Arc;
//!
//! struct Registrar {
//!     auth: Arc<DigestAuthenticator>,
//! }
//!
//! #[uas_handler]
//! impl Registrar {
//!     async fn register(&mut self, req: &Request) -> Response {
//!         match self.auth.authenticate(req, false) {
//!             // 200, once the bindings are updated.
//!             Ok(_user) => req.reply(StatusCode::OK),
//!             // 401 with a new challenge (or 400 for garbage).
//!             Err(challenge) => challenge,
//!         }
//!     }
//! }
//!
//! let auth = Arc::new(DigestAuthenticator::new(
//!     "example.com",
//!     Users::new().with("alice", "secret"),
//! ));
//! let _factory = move || Registrar { auth: auth.clone() };
//! ```
//!
//! What the server side enforces, and where the rule comes from:
//!
//! | rule | reference |
//! |------|-----------|
//! | no credentials for our realm → `401` (`407` for a proxy) with one challenge per algorithm, preferred first | RFC 3261 §22.1, §22.3; RFC 8760 §2.3 |
//! | the `uri` parameter must name the Request-URI, else `400` | RFC 7616 §3.4.6; RFC 2617 §3.2.2.5 |
//! | mandatory parameters missing (`username`, `nonce`, `uri`, `response`; `nc` and `cnonce` with `qop`) → `400` | RFC 3261 §22.4; RFC 7616 §3.4 |
//! | response digests compared in constant time | RFC 7616 §5 |
//! | wrong password and unknown user: same computation, same new `401` | — |
//! | nonce expired, or not ours, with a right digest → `401` with `stale=true` | RFC 7616 §3.3 |
//! | nonce-count not above the last one for the nonce, or a `qop`-less nonce reused → `401` | RFC 7616 §3.4, §5.5 |
//!
//! A wrong password gets a new `401` challenge rather than `403`: a `401`
//! to a request with credentials says that those were refused (RFC 7235
//! §3.1) while other credentials may still succeed, whereas `403` means
//! "authorization will not help" (RFC 3261 §21.4.4) — the registrar
//! example keeps `403` for a user authenticated but not allowed (§10.3
//! step 4). Nothing loops: a client does not send refused credentials
//! again ([`DigestClient::authorize`] answers one challenge once). An
//! application wanting `403` maps [`AuthError::InvalidCredentials`]
//! itself.
//!
//! **Client.** [`DigestClient::authorize`] adds `Authorization` (after a
//! `401`) or `Proxy-Authorization` (after a `407`) to the request to send
//! again; [`answer_challenge`] answers one challenge.
//!
//! Hashes come from RustCrypto's `md-5` and `sha2`, the nonce MAC from
//! `hmac`.

mod algorithm;
mod client;
mod nonce;
mod server;

pub use algorithm::{Algorithm, Hash, Qop, UnknownAlgorithm, constant_time_eq};
pub use client::{AnswerError, DigestClient, answer_challenge, select_challenge};
pub use server::{
    AuthError, AuthenticatedUser, CredentialStore, DEFAULT_MAX_TRACKED_NONCES,
    DEFAULT_NONCE_LIFETIME, DigestAuthenticator, Secret, Users,
};

#[cfg(test)]
mod tests;
