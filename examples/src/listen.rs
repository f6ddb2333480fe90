//! Where an example server listens: UDP and TCP on one address, and SIP
//! over TLS on another when asked (`--tls ADDR --cert FILE --key FILE`),
//! its certificate reloaded on SIGHUP.

use crate::cli::{Error, parse_listen};
use parrot::server::ServerBuilder;
use parrot::transport::{Identity, TlsConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The listeners of an example server.
#[derive(Debug, Clone)]
pub struct Listen {
    /// UDP and TCP on this address.
    pub addr: SocketAddr,
    /// SIP over TLS, if asked for.
    pub tls: Option<TlsListen>,
}

/// A TLS listener: where, and the certificate it presents.
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// The address (5061 is the standard port, RFC 3261 §26.2).
    pub addr: SocketAddr,
    /// The certificate, and how outgoing TLS verifies servers; a clone
    /// reloads it ([`TlsConfig::reload`]).
    pub config: TlsConfig,
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Self {
        Listen { addr, tls: None }
    }
}

impl Listen {
    /// The listeners added to a server being built.
    pub fn apply<F, S>(&self, builder: ServerBuilder<F, S>) -> ServerBuilder<F, S> {
        let builder = builder.listen(self.addr);
        match &self.tls {
            Some(t) => builder.tls(t.addr, t.config.clone()),
            None => builder,
        }
    }
}

/// The TLS options every server binary takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Also listen for SIP over TLS here (a bare port means every
    /// interface; 5061 is the standard port); needs --cert and --key
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, requires_all = ["cert", "key"])]
    pub tls: Option<SocketAddr>,
    /// The certificate chain the TLS listener presents (PEM, the server's
    /// certificate first); reloaded with --key on SIGHUP
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    /// The listeners: UDP and TCP on `addr`, and TLS if asked for, its
    /// certificate loaded now and reloaded on each SIGHUP (a bad file
    /// then is logged, and the current certificate kept). Must run inside
    /// the tokio runtime.
    pub fn listen(&self, addr: SocketAddr) -> Result<Listen, Error> {
        let (Some(at), Some(cert), Some(key)) = (self.tls, &self.cert, &self.key) else {
            return Ok(Listen { addr, tls: None });
        };
        let config = Identity::from_pem_files(cert, key)
            .and_then(TlsConfig::server)
            .map_err(|e| Error::Usage(format!("--cert/--key: {e}")))?;
        reload_on_hangup(config.clone(), cert.clone(), key.clone());
        Ok(Listen {
            addr,
            tls: Some(TlsListen { addr: at, config }),
        })
    }
}

/// Reloads the TLS certificate from `cert` and `key` on every SIGHUP.
fn reload_on_hangup(config: TlsConfig, cert: PathBuf, key: PathBuf) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP: no certificate reload");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match Identity::from_pem_files(&cert, &key).and_then(|id| config.reload(id)) {
                Ok(()) => {
                    tracing::info!(cert = %cert.display(), "SIGHUP: TLS certificate reloaded")
                }
                Err(error) => {
                    tracing::warn!(%error, "SIGHUP: TLS certificate not reloaded; the current one stays")
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (config, cert, key);
}
