//! SIP over TLS (RFC 3261 §26.2, RFC 5630): the certificate a TLS listener
//! presents (reloadable while the server runs), how outgoing connections
//! verify the servers they reach, accepting and connecting.
//!
//! A TLS connection is a TCP connection with a handshake in front; once it
//! is done, the connection is served by the task every stream protocol
//! shares (`stream`), under the same limits, deadlines and table.

use super::addr::canonical;
use super::connections::ConnHandle;
use super::shared::{Shared, shutdown_signal};
use super::stream::{spawn_connection, spawn_handshaking};
use super::{Protocol, TransportError};
use crate::message::{HeaderName, Host, NameAddr, Request};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, info, warn};

/// Pause after a failed `accept` (e.g. out of file descriptors) so the
/// listener does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

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
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(identity: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
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
    client: Arc<ClientConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server", &self.acceptor().is_some())
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
        let server = server_config(&identity)?;
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                server: RwLock::new(Some(server)),
                client: client_config(mozilla_roots(), None)?,
            }),
        })
    }

    /// Settings for outgoing connections only (no TLS listener), trusting
    /// Mozilla's root certificates.
    pub fn client() -> Result<TlsConfig, TlsError> {
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                server: RwLock::new(None),
                client: client_config(mozilla_roots(), None)?,
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
        let server = self.inner.server.read().map(|s| s.clone()).unwrap_or(None);
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                server: RwLock::new(server),
                client,
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
        let config = server_config(&identity)?;
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
        Ok(())
    }

    /// What accepts a TLS connection now, if there is a certificate.
    fn acceptor(&self) -> Option<TlsAcceptor> {
        let server = self
            .inner
            .server
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        server.clone().map(TlsAcceptor::from)
    }

    fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.inner.client.clone())
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

/// Accepts TLS connections until shutdown. Each handshake runs in the
/// connection's own task, already counted in the connection table (so the
/// caps apply to handshakes too) and bounded by the header deadline.
pub(crate) async fn run_listener(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    tls: TlsConfig,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            () = shutdown_signal(&mut shutdown) => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(error) => {
                warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let peer = canonical(peer);
        let Some(acceptor) = tls.acceptor() else {
            warn!(%peer, "TLS connection refused: no certificate configured");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn_local = stream.local_addr().unwrap_or(local);
        let handshake = async move { acceptor.accept(stream).await };
        match spawn_handshaking(&shared, handshake, Protocol::Tls, peer, conn_local) {
            Ok(h) => debug!(conn = %h.id, %peer, "accepted TLS connection"),
            Err(error) => warn!(%peer, %error, "refused connection"),
        }
    }
    debug!("listener stopped");
}

/// The name the server must prove for `request` (RFC 5922 §7.2): the host
/// of the URI its next hop was found from (the first Route's, else the
/// Request-URI's) when it is a domain name; `None` for an IP address, which
/// the server's certificate is then checked against.
pub(crate) fn server_name(request: &Request) -> Option<String> {
    let routed;
    let uri = match request.headers.get(HeaderName::Route) {
        Some(route) => {
            routed = NameAddr::parse(route, route.as_str()).ok()?.0;
            routed.uri()
        }
        None => &request.uri,
    };
    match uri.as_sip()?.host() {
        Host::Domain(d) => Some(d.to_string()),
        _ => None,
    }
}

/// Opens a TLS connection to `remote` (a canonical address), verifying
/// the server's certificate for `name` (RFC 5922 §7: the host of the URI
/// the request goes to), or for the address itself when there is none.
pub(crate) async fn connect(
    shared: &Arc<Shared>,
    remote: SocketAddr,
    name: Option<&str>,
) -> Result<ConnHandle, TransportError> {
    if shared.is_shutdown() {
        return Err(TransportError::Shutdown);
    }
    let tls = shared
        .config
        .tls
        .as_ref()
        .ok_or(TransportError::Unsupported(Protocol::Tls))?;
    if !shared.has_room() {
        return Err(TransportError::ConnectionLimit);
    }
    let server_name = match name {
        Some(n) => ServerName::try_from(n.to_owned())
            .map_err(|_| TransportError::NoRoute(format!("{n:?} is not a TLS server name")))?,
        None => ServerName::IpAddress(remote.ip().into()),
    };
    let stream = timeout(shared.config.connect_timeout, TcpStream::connect(remote))
        .await
        .map_err(|_| TransportError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let handshake = tls.connector().connect(server_name.clone(), stream);
    let stream = match timeout(shared.config.header_timeout, handshake).await {
        Ok(Ok(s)) => s,
        Ok(Err(error)) => {
            warn!(peer = %remote, name = ?server_name, %error, "TLS handshake failed");
            return Err(TransportError::Tls(error.to_string()));
        }
        Err(_) => {
            warn!(peer = %remote, "TLS handshake timed out");
            return Err(TransportError::Timeout);
        }
    };
    let h = spawn_connection(shared, stream, Protocol::Tls, remote, local, false)?;
    debug!(conn = %h.id, peer = %remote, %local, "connected over TLS");
    Ok(h)
}
