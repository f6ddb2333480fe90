//! Being transferred (RFC 3515 as the transferee, RFC 5589 §6): the call a
//! REFER asks for, placed with a [`Client`], its progress reported to the
//! referrer through the REFER's implicit subscription.

use parrot::client::{CallError, Client, Progress};
use parrot::message::{StatusCode, Uri};
use parrot::server::ReferProgress;
use std::net::{IpAddr, SocketAddr};
use tokio::sync::OnceCell;
use tracing::{info, warn};

/// The client the transfers of this process place their calls with,
/// bound on first use (a server that is never referred binds none).
static CLIENT: OnceCell<Client> = OnceCell::const_new();

/// The client, bound on `ip` (port chosen by the system) the first time.
async fn client(ip: IpAddr) -> Option<&'static Client> {
    CLIENT
        .get_or_try_init(|| Client::builder().listen(SocketAddr::new(ip, 0)).bind())
        .await
        .map_err(|e| warn!(error = %e, "no client for transfers"))
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
