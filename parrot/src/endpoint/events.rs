//! What the endpoint hands the server-side transaction user, and the
//! receiver it comes on.

use crate::message::{Request, Response};
use crate::transaction::{Timer, TransactionId};
use crate::transport::Origin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// What the endpoint tells the server-side transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A new request; answer it with
    /// [`Endpoint::respond`](super::Endpoint::respond). Retransmissions
    /// never appear here.
    Request {
        /// Its server transaction.
        id: TransactionId,
        /// The request (boxed: it is moved on to a session as it is).
        request: Box<Request>,
        /// Where it came from.
        origin: Origin,
    },
    /// An ACK for a 2xx (it belongs to the dialog, not to a transaction).
    Ack {
        /// The ACK.
        request: Box<Request>,
        /// Where it came from.
        origin: Origin,
    },
    /// The INVITE transaction `id` was cancelled: the endpoint answered the
    /// CANCEL with 200 and the INVITE with 487 (§9.2).
    Cancelled {
        /// The INVITE server transaction.
        id: TransactionId,
    },
    /// A server transaction gave up (Timer H: no ACK for a final response).
    Timeout {
        /// The transaction.
        id: TransactionId,
        /// The timer.
        timer: Timer,
    },
    /// A response could not be delivered (§17.2.4).
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// A response that matched no client transaction (e.g. a 2xx
    /// retransmission the UAC core must re-ACK, §13.2.2.4).
    StrayResponse {
        /// The response.
        response: Response,
    },
}

/// The receiver of [`ServerEvent`]s that [`Endpoint::bind`](super::Endpoint::bind)
/// returns.
///
/// The events travel boxed. A channel keeps every block of items it has
/// allocated for as long as it lives and reuses them, so after a peak the
/// blocks stay; a block of 32 pointers is small, a block of 32 events
/// (120 bytes each, their requests boxed) is nearly 4 KiB.
#[derive(Debug)]
pub struct ServerEvents {
    rx: mpsc::UnboundedReceiver<Box<ServerEvent>>,
}

impl ServerEvents {
    /// A receiver and the sender that feeds it.
    pub(super) fn channel() -> (mpsc::UnboundedSender<Box<ServerEvent>>, ServerEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, ServerEvents { rx })
    }

    /// The next event; `None` once the endpoint has stopped.
    pub async fn recv(&mut self) -> Option<ServerEvent> {
        self.rx.recv().await.map(|event| *event)
    }

    /// The next event if one is waiting (see
    /// [`mpsc::UnboundedReceiver::try_recv`]).
    pub fn try_recv(&mut self) -> Result<ServerEvent, mpsc::error::TryRecvError> {
        self.rx.try_recv().map(|event| *event)
    }

    /// Polls for the next event (see [`mpsc::UnboundedReceiver::poll_recv`]).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<ServerEvent>> {
        self.rx.poll_recv(cx).map(|event| event.map(|event| *event))
    }

    /// Events waiting to be taken.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}
