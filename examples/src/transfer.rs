//! Being transferred (RFC 3515 as the transferee, RFC 5589 §6): the call a
//! REFER asks for, placed with a [`Client`], its progress reported to the
//! referrer through the REFER's implicit subscription.

use parrot::client::{CallError, Client, Progress};
use parrot::message::{StatusCode, Uri};
use parrot::server::ReferProgress;
use std::net::{IpAddr, SocketAddr};
use tracing::{info, warn};

/// A client for one transfer, bound on `ip` (port chosen by the system).
/// Each transfer has its own: it lives as long as the call it places, and
/// belongs to the runtime of the server that was referred.
async fn client(ip: IpAddr) -> Option<Client> {
    Client::builder()
        .listen(SocketAddr::new(ip, 0))
        .bind()
        .await
        .map_err(|e| warn!(error = %e, "no client for the transfer"))
        .ok()
}

/// The status a failed call reports (RFC 3515 §2.4.5: the final response
/// the referenced request got).
fn status_of(e: &CallError) -> StatusCode {
    match e {
        CallError::Rejected(r)
        | CallError::Cancelled(r)
        | CallError::Timeout(r)
        | CallError::Unreachable(r) => r.status,
        _ => StatusCode::SERVER_INTERNAL_ERROR,
    }
}

/// Calls `target` from `ip` with the SDP `offer`, reporting each
/// provisional response and the outcome to `progress` (if the referrer
/// keeps a subscription). An answered call is kept until the far end
/// hangs up.
pub async fn follow(ip: IpAddr, target: Uri, offer: String, mut progress: Option<ReferProgress>) {
    let mut report = |status: StatusCode| {
        if let Some(p) = &mut progress {
            p.report(status);
        }
    };
    let Some(client) = client(ip).await else {
        report(StatusCode::SERVICE_UNAVAILABLE);
        return;
    };
    info!(%target, "transferred: calling the target");
    let mut pending = match client.invite(target.clone(), offer).await {
        Ok(p) => p,
        Err(e) => {
            warn!(%target, error = %e, "transfer call not placed");
            report(StatusCode::SERVICE_UNAVAILABLE);
            return;
        }
    };
    while let Some(step) = pending.next().await {
        match step {
            Progress::Provisional(r) if r.status != StatusCode::TRYING => report(r.status),
            Progress::Provisional(_) => {}
            Progress::Answered(mut call) => {
                report(StatusCode::OK);
                let end = call.ended().await;
                info!(%target, ?end, "transferred call ended");
                client.shutdown();
                return;
            }
            Progress::Failed(e) => {
                info!(%target, error = %e, "transfer call failed");
                report(status_of(&e));
                return;
            }
        }
    }
}
