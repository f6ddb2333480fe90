//! Where an example server listens: UDP and TCP on one address, and when
//! asked SIP over TLS (`--tls ADDR`), over WebSocket (`--ws ADDR`) and
//! over secure WebSocket (`--wss ADDR`), the TLS ones presenting
//! `--cert FILE --key FILE`, reloaded on SIGHUP.

use crate::cli::{Error, LogArgs, parse_listen};
use parrot::server::ServerBuilder;
use parrot::transport::{Identity, TlsConfig, TransportConfig};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// The listeners of an example server.
#[derive(Debug, Clone)]
pub struct Listen {
    /// UDP and TCP on this address.
    pub addr: SocketAddr,
    /// SIP over TLS, if asked for.
    pub tls: Option<TlsListen>,
    /// SIP over WebSocket (RFC 7118), if asked for.
    pub ws: Option<SocketAddr>,
    /// SIP over secure WebSocket, if asked for.
    pub wss: Option<TlsListen>,
    /// Most stream connections open at once, and from one source address
    /// (the transport's defaults when `None`).
    pub max_connections: Option<(usize, usize)>,
    /// Whether every SIP message is logged in full (`--trace-sip`,
    /// [`ServerBuilder::trace_sip`]).
    pub trace_sip: bool,
    /// Where to serve metrics and the health check (`--metrics`,
    /// [`ServerBuilder::metrics`]), if anywhere.
    pub metrics: Option<SocketAddr>,
    /// How many shards serve (`--shards`, [`ServerBuilder::shards`]).
    pub shards: usize,
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
        Listen {
            addr,
            tls: None,
            ws: None,
            wss: None,
            max_connections: None,
            trace_sip: false,
            metrics: None,
            shards: 1,
        }
    }
}

impl Listen {
    /// The listeners added to a server being built.
    pub fn apply<F, S>(&self, builder: ServerBuilder<F, S>) -> ServerBuilder<F, S> {
        let mut builder = builder.listen(self.addr);
        if let Some((all, per_source)) = self.max_connections {
            builder = builder.transport_config(TransportConfig {
                max_connections: all,
                max_connections_per_source: per_source,
                ..TransportConfig::default()
            });
        }
        if let Some(t) = &self.tls {
            builder = builder.tls(t.addr, t.config.clone());
        }
        if let Some(addr) = self.ws {
            builder = builder.ws(addr);
        }
        if let Some(t) = &self.wss {
            builder = builder.wss(t.addr, t.config.clone());
        }
        if self.trace_sip {
            builder = builder.trace_sip();
        }
        if let Some(addr) = self.metrics {
            builder = builder.metrics(addr);
        }
        if self.shards > 1 {
            builder = builder.shards(self.shards);
        }
        builder
    }
}

/// The TLS, WebSocket, connection and logging options every server
/// binary takes.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Also listen for SIP over TLS here (a bare port means every
    /// interface; 5061 is the standard port); needs --cert and --key
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, requires_all = ["cert", "key"])]
    pub tls: Option<SocketAddr>,
    /// Also listen for SIP over WebSocket here (RFC 7118, browsers)
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub ws: Option<SocketAddr>,
    /// Also listen for SIP over secure WebSocket here; needs --cert and
    /// --key
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, requires_all = ["cert", "key"])]
    pub wss: Option<SocketAddr>,
    /// The certificate chain the TLS and WSS listeners present (PEM, the
    /// server's certificate first); reloaded with --key on SIGHUP
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Most TCP, TLS and WebSocket connections open at once
    #[arg(long, value_name = "N", default_value_t = TransportConfig::default().max_connections)]
    pub max_connections: usize,
    /// Most of them from one IP address
    #[arg(long, value_name = "N",
          default_value_t = TransportConfig::default().max_connections_per_source)]
    pub max_connections_per_source: usize,
    /// Serve with N shards, to use N CPUs: each a transport, a
    /// transaction layer and a server core on a thread of its own, the
    /// calls split among them by Call-ID
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub shards: u16,
    /// `--trace-sip`, `--log-json` and `--metrics`.
    #[command(flatten)]
    pub log: LogArgs,
}

impl TlsArgs {
    /// The listeners: UDP and TCP on `addr`, and TLS, WS and WSS as asked
    /// for, the certificate loaded now and reloaded on each SIGHUP (a bad
    /// file then is logged, and the current certificate kept). Must run
    /// inside the tokio runtime.
    pub fn listen(&self, addr: SocketAddr) -> Result<Listen, Error> {
        let mut listen = Listen::from(addr);
        listen.ws = self.ws;
        listen.max_connections = Some((self.max_connections, self.max_connections_per_source));
        listen.trace_sip = self.log.trace_sip;
        listen.metrics = self.log.metrics;
        listen.shards = usize::from(self.shards);
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            if self.cert.is_some() || self.key.is_some() {
                return Err(Error::Usage("--cert and --key go together".into()));
            }
            return Ok(listen);
        };
        if self.tls.is_none() && self.wss.is_none() {
            return Err(Error::Usage("--cert and --key need --tls or --wss".into()));
        }
        let config = Identity::from_pem_files(cert, key)
            .and_then(TlsConfig::server)
            .map_err(|e| Error::Usage(format!("--cert/--key: {e}")))?;
        reload_on_hangup(config.clone(), cert.clone(), key.clone());
        let with = |addr| TlsListen {
            addr,
            config: config.clone(),
        };
        listen.tls = self.tls.map(with);
        listen.wss = self.wss.map(with);
        Ok(listen)
    }
}

/// `ip`, or the loopback address of its family when it is a wildcard
/// (`0.0.0.0`, `::`): where a server listening on every interface can be
/// reached from this host, for an address it writes into a message.
pub fn reachable_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_become_loopback_of_their_family_others_stay() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(reachable_ip(ip("0.0.0.0")), ip("127.0.0.1"));
        assert_eq!(reachable_ip(ip("::")), ip("::1"));
        assert_eq!(reachable_ip(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(reachable_ip(ip("2001:db8::7")), ip("2001:db8::7"));
        assert_eq!(reachable_ip(ip("::1")), ip("::1"));
    }
}
