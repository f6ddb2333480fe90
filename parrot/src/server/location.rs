//! Routing by location (RFC 3261 §16.5): a server built with
//! [`ServerBuilder::location`](super::ServerBuilder::location) replaces
//! each proxy target that is an address-of-record with bindings by those
//! bindings, before the branches start.

use crate::message::StatusCode;
use crate::proxy::{Proxy, ProxyTarget};
use crate::registrar::Registrar;
use tracing::{debug, warn};

/// `proxy` with its address-of-record targets replaced by their bindings
/// (a target of its own flow or routes is left alone), and the final
/// statuses of targets that could not be: `480` for a user of a domain
/// the registrar serves without a binding, `503` when the store fails.
///
/// A group that is one address-of-record becomes that user's bindings by
/// decreasing `q`, group after group (§16.6); in a group of several
/// targets, each address-of-record contributes all its bindings to the
/// group (in parallel).
pub(crate) async fn expand(registrar: &Registrar, proxy: Proxy) -> (Proxy, Vec<StatusCode>) {
    let Proxy {
        targets,
        later,
        fallback,
        record_route,
    } = proxy;
    let mut groups: Vec<Vec<ProxyTarget>> = Vec::new();
    let mut refusals = Vec::new();
    for group in std::iter::once(targets).chain(later) {
        let alone = group.len() == 1;
        let mut flat = Vec::new();
        for target in group {
            if target.flow.is_some() || !target.route.is_empty() {
                flat.push(target);
                continue;
            }
            match registrar.targets(&target.uri).await {
                Ok(found) if found.iter().any(|g| !g.is_empty()) => {
                    debug!(uri = %target.uri, groups = found.len(), "routed by location");
                    if alone {
                        groups.extend(found);
                    } else {
                        flat.extend(found.into_iter().flatten());
                    }
                }
                Ok(_) if registrar.serves(&target.uri) => {
                    debug!(uri = %target.uri, "a user here without a binding: 480");
                    refusals.push(StatusCode::TEMPORARILY_UNAVAILABLE);
                }
                Ok(_) => flat.push(target),
                Err(error) => {
                    warn!(uri = %target.uri, %error, "location service failed: 503");
                    refusals.push(StatusCode::SERVICE_UNAVAILABLE);
                }
            }
        }
        if !flat.is_empty() {
            groups.push(flat);
        }
    }
    let mut groups = groups.into_iter();
    let proxy = Proxy {
        targets: groups.next().unwrap_or_default(),
        later: groups.collect(),
        fallback,
        record_route,
    };
    (proxy, refusals)
}
