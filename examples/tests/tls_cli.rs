//! `answer --tls ADDR --cert FILE --key FILE` as a process: it answers
//! over TLS with the given certificate, and on SIGHUP takes the renewed
//! files for new connections. Certificates are made at test time.

mod common;

use common::process::Process;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

const WAIT: Duration = Duration::from_secs(10);

/// A CA, and a server certificate it signed for 127.0.0.1, as PEM.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

fn pki(name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = params.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap()
        .pem();
    Pki {
        ca,
        cert,
        key: key.serialize_pem(),
    }
}

fn install(dir: &Path, p: &Pki) {
    std::fs::write(dir.join("cert.pem"), &p.cert).unwrap();
    std::fs::write(dir.join("key.pem"), &p.key).unwrap();
}

fn start(dir: &Path) -> (Process, SocketAddr) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let server = Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_answer"))
            .args(["--listen", "127.0.0.1:0", "--tls", "127.0.0.1:0", "--cert"])
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1"),
    );
    let addr = server.listening("Tls");
    (server, addr)
}

fn connector(ca: &str) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Sends an OPTIONS over TLS trusting `ca`; the status line of the answer,
/// or the handshake error.
async fn options(addr: SocketAddr, ca: &str) -> Result<String, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio::time::timeout(WAIT, connector(ca).connect(name, tcp))
        .await
        .map_err(|_| "handshake timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let request = "OPTIONS sip:answer@127.0.0.1 SIP/2.0\r\n\
                   Via: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKcli\r\n\
                   Max-Forwards: 70\r\n\
                   To: <sip:answer@127.0.0.1>\r\n\
                   From: <sip:test@127.0.0.1>;tag=1\r\n\
                   Call-ID: tls-cli\r\n\
                   CSeq: 1 OPTIONS\r\n\
                   Content-Length: 0\r\n\r\n";
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, tls.read(&mut buf))
        .await
        .expect("no answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parrot-tls-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn answer_serves_tls_and_reloads_its_certificate_on_sighup() {
    let dir = temp_dir();
    let (first, second) = (pki("First CA"), pki("Second CA"));
    install(&dir, &first);
    let (server, addr) = start(&dir);
    assert_eq!(
        options(addr, &first.ca).await.unwrap(),
        "SIP/2.0 200 OK",
        "answered over TLS"
    );
    // Renewed files, then SIGHUP.
    install(&dir, &second);
    let pid = libc::pid_t::try_from(server.id()).unwrap();
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    server.wait_for("SIGHUP: TLS certificate reloaded");
    assert_eq!(options(addr, &second.ca).await.unwrap(), "SIP/2.0 200 OK");
    assert!(
        options(addr, &first.ca).await.is_err(),
        "the old certificate is still presented"
    );
    // A broken file on SIGHUP keeps the current certificate.
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    server.wait_for("the current one stays");
    assert_eq!(options(addr, &second.ca).await.unwrap(), "SIP/2.0 200 OK");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_needs_a_certificate_and_a_key() {
    for args in [
        &["--tls", "127.0.0.1:0"][..],
        &["--tls", "127.0.0.1:0", "--cert", "c.pem"][..],
        &["--cert", "c.pem", "--key", "k.pem"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_answer"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // Files that cannot be read: a usage error naming them.
    let out = Command::new(env!("CARGO_BIN_EXE_answer"))
        .args(["--listen", "127.0.0.1:0", "--tls", "127.0.0.1:0"])
        .args([
            "--cert",
            "/nonexistent/cert.pem",
            "--key",
            "/nonexistent/key.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
}
