//! Notice of connections closing, for state tied to a connection that
//! lives above the transport (a registrar's flows, RFC 5626 §5.3).

use super::ConnectionId;
use super::shared::Shared;
use std::sync::Weak;
use tokio::sync::broadcast;

/// What [`ConnectionClosings::next`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// This connection has closed.
    Closed(ConnectionId),
    /// Closings were missed (the receiver fell too far behind): check
    /// each connection held with [`ConnectionClosings::is_open`].
    Missed,
}

/// The connections of one transport as they close, from
/// [`TransportLayer::closed_connections`](super::TransportLayer::closed_connections).
/// Holding it does not keep the transport alive.
#[derive(Debug)]
pub struct ConnectionClosings {
    pub(crate) rx: broadcast::Receiver<ConnectionId>,
    pub(crate) shared: Weak<Shared>,
}

impl ConnectionClosings {
    /// The next closing; `None` once the transport is gone.
    pub async fn next(&mut self) -> Option<Closing> {
        match self.rx.recv().await {
            Ok(id) => Some(Closing::Closed(id)),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Closing::Missed),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// Whether `connection` is open (`false` once the transport is gone).
    pub fn is_open(&self, connection: ConnectionId) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|s| s.connection(connection).is_some())
    }
}
