//! Small tokio time helpers shared by every driver loop (endpoint, server
//! sessions, the relay, client calls).

use tokio::time::Instant;

/// Sleeps until `deadline`, or forever without one (the shape every
/// driver loop's timer arm needs).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
