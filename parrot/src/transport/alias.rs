//! Connection reuse for TLS (RFC 5923): a client that proved a
//! certificate, and offered its connection with the Via `alias`
//! parameter, gets our requests to it over that connection.

use super::Protocol;
use super::connections::ConnHandle;
use super::shared::Shared;
use crate::message::{Host, Message};
use rustls_pki_types::ServerName;
use tracing::debug;

/// RFC 5923: a request whose top Via carries `alias`, on a TLS connection
/// whose client proved a certificate valid for the Via's `sent-by` host,
/// lets that connection carry our requests to `sent-by` (its port, 5061
/// by default) for as long as it is open. Without a verified certificate,
/// or for a host it does not cover, nothing is aliased: anyone could
/// otherwise claim any address.
pub(crate) fn alias_connection(shared: &Shared, handle: &ConnHandle, message: &Message) {
    let (Some(cert), Message::Request(req)) = (handle.activity.peer_cert.get(), message) else {
        return;
    };
    let Some(via) = req.headers.top_via() else {
        return;
    };
    if !via.params.contains("alias") {
        return;
    }
    let (host, name) = match &via.host {
        Host::Domain(d) => match ServerName::try_from(d.to_ascii_lowercase()) {
            Ok(n) => (d.to_ascii_lowercase(), n),
            Err(_) => return,
        },
        Host::Ipv4(a) => (a.to_string(), ServerName::IpAddress((*a).into())),
        Host::Ipv6(a) => (a.to_string(), ServerName::IpAddress((*a).into())),
    };
    let valid = webpki::EndEntityCert::try_from(cert)
        .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok());
    if !valid {
        debug!(conn = %handle.id, %host, "Via alias for a name the client's certificate does not prove; ignored");
        return;
    }
    let port = via.port.unwrap_or(Protocol::Tls.default_port());
    debug!(conn = %handle.id, %host, port, "connection aliased (RFC 5923)");
    shared.alias(host, port, handle.id);
}
