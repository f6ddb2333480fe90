//! The Digest algorithms and quality-of-protection options, and the
//! request-digest computation both sides share (RFC 7616 §3.4.1–§3.4.3,
//! with RFC 3261 §22.4 and RFC 8760 for SIP).

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;

/// A Digest `algorithm` (RFC 7616 §3.3; RFC 8760 registers the same names
/// for SIP). The hash is one of MD5, SHA-256 and SHA-512/256; the `-sess`
/// variants fold the nonce and cnonce into `HA1` (RFC 7616 §3.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the default when a challenge names none (RFC 7616 §3.3).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616, RFC 8760 §2.2).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`: SHA-512/256 (RFC 7616, RFC 8760 §2.2).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

/// The hash function under an [`Algorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// MD5 (RFC 1321), 128 bits.
    Md5,
    /// SHA-256 (FIPS 180-4), 256 bits.
    Sha256,
    /// SHA-512/256 (FIPS 180-4), 256 bits.
    Sha512_256,
}

impl Hash {
    /// `H(data)` in lower-case hex (RFC 7616 §3.4.1: "the output of H is
    /// represented as a sequence of lowercase hexadecimal characters").
    /// `parts` are hashed joined by `:`, as every Digest formula does.
    pub fn hex(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            to_hex(&d.finalize())
        }
        match self {
            Hash::Md5 => run::<Md5>(parts),
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha512_256 => run::<Sha512_256>(parts),
        }
    }

    /// Length of the hash output in bytes (its hex form is twice that).
    pub const fn output_len(self) -> usize {
        match self {
            Hash::Md5 => 16,
            Hash::Sha256 | Hash::Sha512_256 => 32,
        }
    }
}

impl Algorithm {
    /// Every algorithm, the stronger hashes first, the `-sess` variants
    /// last.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Sha512_256,
        Algorithm::Sha256,
        Algorithm::Md5,
        Algorithm::Sha512_256Sess,
        Algorithm::Sha256Sess,
        Algorithm::Md5Sess,
    ];

    /// The name as written in `algorithm=` (RFC 7616 §6.1).
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// The algorithm named `name` (case-insensitive), if supported.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The algorithm of a challenge or credentials' `algorithm` parameter:
    /// `MD5` when absent (RFC 7616 §3.3, RFC 3261 §25.1), `None` for a name
    /// not supported here.
    pub fn from_param(param: Option<&str>) -> Option<Algorithm> {
        match param {
            None => Some(Algorithm::Md5),
            Some(name) => Algorithm::from_name(name),
        }
    }

    /// The hash function.
    pub const fn hash(self) -> Hash {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Hash::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Hash::Sha256,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => Hash::Sha512_256,
        }
    }

    /// Whether this is a `-sess` variant.
    pub const fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the supported [`Algorithm`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Digest algorithm {0:?} (expected MD5, SHA-256 or SHA-512-256, optionally -sess)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(s).ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

/// A quality of protection (RFC 7616 §3.3 `qop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication of the method and digest-uri.
    Auth,
    /// `auth-int`: also the integrity of the body.
    AuthInt,
}

impl Qop {
    /// The token.
    pub const fn name(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// The option named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Qop> {
        [Qop::Auth, Qop::AuthInt]
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `HA1` is computed from.
#[derive(Clone, Copy)]
pub(crate) enum Ha1Source<'a> {
    /// `H(username ":" realm ":" password)`.
    Password(&'a str),
    /// A stored `H(username ":" realm ":" password)`, in hex.
    Precomputed(&'a str),
}

/// Everything the request-digest depends on.
pub(crate) struct DigestInput<'a> {
    pub algorithm: Algorithm,
    pub username: &'a str,
    pub realm: &'a str,
    pub secret: Ha1Source<'a>,
    pub nonce: &'a str,
    pub cnonce: &'a str,
    /// The `nc` exactly as written (8 hex digits).
    pub nc: &'a str,
    pub qop: Option<Qop>,
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
}

impl DigestInput<'_> {
    /// The `response` value: RFC 7616 §3.4.1 (with qop) or RFC 2069 as
    /// kept by RFC 3261 §22.4 (without), in lower-case hex.
    pub fn response(&self) -> String {
        let h = self.algorithm.hash();
        // §3.4.2: A1 = username ":" realm ":" passwd, and for -sess
        // H(username ":" realm ":" passwd) ":" nonce ":" cnonce.
        let mut ha1 = match self.secret {
            Ha1Source::Password(p) => h.hex(&[
                self.username.as_bytes(),
                self.realm.as_bytes(),
                p.as_bytes(),
            ]),
            Ha1Source::Precomputed(hex) => hex.to_ascii_lowercase(),
        };
        if self.algorithm.is_session() {
            ha1 = h.hex(&[
                ha1.as_bytes(),
                self.nonce.as_bytes(),
                self.cnonce.as_bytes(),
            ]);
        }
        // §3.4.3: A2 = Method ":" request-uri [":" H(entity-body)].
        let ha2 = match self.qop {
            Some(Qop::AuthInt) => {
                let body = h.hex(&[self.body]);
                h.hex(&[self.method.as_bytes(), self.uri.as_bytes(), body.as_bytes()])
            }
            _ => h.hex(&[self.method.as_bytes(), self.uri.as_bytes()]),
        };
        // §3.4.1: KD(H(A1), nonce:nc:cnonce:qop:H(A2)); without qop,
        // KD(H(A1), nonce:H(A2)) (RFC 2069, RFC 3261 §22.4).
        match self.qop {
            Some(q) => h.hex(&[
                ha1.as_bytes(),
                self.nonce.as_bytes(),
                self.nc.as_bytes(),
                self.cnonce.as_bytes(),
                q.name().as_bytes(),
                ha2.as_bytes(),
            ]),
            None => h.hex(&[ha1.as_bytes(), self.nonce.as_bytes(), ha2.as_bytes()]),
        }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    crate::random::push_hex(&mut s, bytes);
    s
}

/// The bytes of a hex string (either case); `None` if it is not hex.
pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let pairs = s.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// Compares `a` and `b` in time that depends only on their lengths, not on
/// where they differ, so that a response digest cannot be guessed byte by
/// byte from timing (RFC 7616 §5, security considerations). Lengths are
/// public: every digest of one algorithm has the same. The comparison is
/// `subtle`'s, written to resist the optimizer.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
