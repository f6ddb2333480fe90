//! TLS settings (RFC 3261 §26.2, RFC 5630): the certificate a TLS listener
//! presents, reloadable while the server runs, and how outgoing
//! connections verify the servers they reach. The listener and the
//! connecting are in `tls`.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tracing::info;

/// Why TLS settings could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM text holds no certificate.
    #[error("no certificate in {0}")]
    NoCertificate(String),
    /// A PEM text holds no private key (or one that cannot be read).
    #[error("no usable private key in {0}: {1}")]
    NoKey(String, String),
    /// A PEM text is malformed.
    #[error("malformed PEM in {0}: {1}")]
    Pem(String, String),
    /// rustls refused the certificate, key or roots.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A certificate chain and its private key, as PEM text or files.
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads a certificate chain (the end-entity certificate first) and
    /// its private key (PKCS#8, PKCS#1 or SEC1) from PEM files.
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Identity, TlsError> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        Identity::parse(&read(chain)?, &read(key)?, chain, key)
    }

    /// A certificate chain and private key given as PEM text.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Identity, TlsError> {
        Identity::parse(
            chain,
            key,
            Path::new("the certificate PEM"),
            Path::new("the key PEM"),
        )
    }

    fn parse(
        chain_pem: &[u8],
        key_pem: &[u8],
        chain_name: &Path,
        key_name: &Path,
    ) -> Result<Identity, TlsError> {
        let chain = certificates(chain_pem, chain_name)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::NoKey(key_name.display().to_string(), e.to_string()))?;
        Ok(Identity {
            chain,
            key: Arc::new(key),
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Every certificate in a PEM text; at least one.
fn certificates(pem: &[u8], name: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(name.display().to_string(), e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(name.display().to_string()));
    }
    Ok(chain)
}

/// The cryptography every configuration uses: rustls with ring.
///
/// rustls 0.23.48 deprecates ring's provider because it has no
/// post-quantum key exchange. ring stays (the provider parrot is built and
/// tested with, and its suites are those SIP peers offer today); the
/// allowance keeps a fresh resolution of the dependencies building
/// without warnings.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(
    identity: &Identity,
    clients: Option<&Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match clients {
        Some(verifier) => builder.with_client_cert_verifier(verifier.clone()),
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
    Ok(Arc::new(config))
}

/// The TLS settings of a transport: the certificate TLS listeners present
/// and how outgoing TLS connections verify the server they reach.
///
/// Cheap to clone; clones share the listener's certificate, so
/// [`reload`](Self::reload) on any clone changes what new connections get
/// (connections already open keep theirs).
///
/// ```no_run
/// use parrot::transport::{Identity, TlsConfig};
///
/// # fn run() -> Result<(), parrot::transport::TlsError> {
/// let tls = TlsConfig::server(Identity::from_pem_files("cert.pem", "key.pem")?)?;
/// // Later, on SIGHUP say: new connections get the renewed certificate.
/// tls.reload(Identity::from_pem_files("cert.pem", "key.pem")?)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    inner: Arc<Inner>,
}

struct Inner {
    /// What a TLS listener presents; `None` for a client-only setup.
    server: RwLock<Option<Arc<ServerConfig>>>,
    /// The certificate presented, to rebuild `server` with.
    identity: RwLock<Option<Identity>>,
    /// How clients' certificates are verified, when they are asked for.
    clients: Option<Arc<dyn ClientCertVerifier>>,
    client: Arc<ClientConfig>,
    /// Whether outgoing connections present a certificate (mutual TLS).
    presents_identity: bool,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server", &self.server_config().is_some())
            .finish_non_exhaustive()
    }
}

impl PartialEq for TlsConfig {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for TlsConfig {}

impl TlsConfig {
    /// Settings for a server presenting `identity` on its TLS listeners;
    /// its outgoing connections trust Mozilla's root certificates.
    pub fn server(identity: Identity) -> Result<TlsConfig, TlsError> {
        let server = server_config(&identity, None)?;
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                server: RwLock::new(Some(server)),
                identity: RwLock::new(Some(identity)),
                clients: None,
                client: client_config(mozilla_roots(), None)?,
                presents_identity: false,
            }),
        })
    }

    /// TLS listeners ask clients for a certificate and verify one given
    /// against the authorities in `pem` (mutual TLS). A client without one
    /// is still served; one with a certificate that does not verify is
    /// refused. A verified client may let its connection carry our
    /// requests to it (RFC 5923, the Via `alias` parameter), for the names
    /// its certificate proves.
    pub fn verify_clients_pem(self, pem: &[u8]) -> Result<TlsConfig, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in certificates(pem, Path::new("the client CA PEM"))? {
            roots.add(cert)?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
        let identity = self.identity();
        let server = identity
            .as_ref()
            .map(|id| server_config(id, Some(&verifier)))
            .transpose()?;
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                server: RwLock::new(server),
                identity: RwLock::new(identity),
                clients: Some(verifier),
                client: self.inner.client.clone(),
                presents_identity: self.inner.presents_identity,
            }),
        })
    }

    fn identity(&self) -> Option<Identity> {
        self.inner
            .identity
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Settings for outgoing connections only (no TLS listener), trusting
    /// Mozilla's root certificates.
    pub fn client() -> Result<TlsConfig, TlsError> {
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                server: RwLock::new(None),
                identity: RwLock::new(None),
                clients: None,
                client: client_config(mozilla_roots(), None)?,
                presents_identity: false,
            }),
        })
    }

    /// Outgoing connections trust only the certificate authorities in
    /// `pem` (e.g. a private CA), and present `identity` when the server
    /// asks for a client certificate (mutual TLS).
    pub fn with_roots_pem(
        self,
        pem: &[u8],
        identity: Option<Identity>,
    ) -> Result<TlsConfig, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in certificates(pem, Path::new("the CA PEM"))? {
            roots.add(cert)?;
        }
        let client = client_config(roots, identity.as_ref())?;
        let presents_identity = identity.is_some();
        let server = self.server_config();
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                server: RwLock::new(server),
                identity: RwLock::new(self.identity()),
                clients: self.inner.clients.clone(),
                client,
                presents_identity,
            }),
        })
    }

    /// [`with_roots_pem`](Self::with_roots_pem) from a file.
    pub fn with_roots_pem_file(
        self,
        path: impl AsRef<Path>,
        identity: Option<Identity>,
    ) -> Result<TlsConfig, TlsError> {
        let pem = read(path.as_ref())?;
        self.with_roots_pem(&pem, identity)
    }

    /// Replaces the certificate TLS listeners present: connections
    /// accepted from now on get `identity`, those open keep theirs. An
    /// error leaves the current certificate in place.
    pub fn reload(&self, identity: Identity) -> Result<(), TlsError> {
        let config = server_config(&identity, self.inner.clients.as_ref())?;
        let mut server = self
            .inner
            .server
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *server = Some(config);
        info!(
            certificates = identity.chain.len(),
            "TLS certificate reloaded"
        );
        *self
            .inner
            .identity
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(identity);
        Ok(())
    }

    /// Whether outgoing connections present a client certificate: then
    /// our Via offers the connection for reuse (`;alias`, RFC 5923).
    pub(crate) fn presents_identity(&self) -> bool {
        self.inner.presents_identity
    }

    /// What a TLS connection is accepted with now, if there is a
    /// certificate.
    pub(crate) fn server_config(&self) -> Option<Arc<ServerConfig>> {
        let server = self
            .inner
            .server
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        server.clone()
    }

    /// What outgoing TLS connections are made with.
    pub(crate) fn client_config(&self) -> Arc<ClientConfig> {
        self.inner.client.clone()
    }
}

fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn client_config(
    roots: RootCertStore,
    identity: Option<&Identity>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
