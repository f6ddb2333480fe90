//! A test kit for Parrot applications (cargo feature `testing`): start a
//! handler in-process on tokio's paused clock, with an in-memory network
//! instead of sockets, and drive it with scripted peers.
//!
//! ```
//! use parrot::prelude::*;
//! use parrot::testing::{Failure, Kit};
//!
//! struct Hello;
//!
//! #[uas_handler]
//! impl Hello {
//!     async fn invite(&mut self, _req: &Request) -> Response {
//!         Response::new(StatusCode::OK)
//!     }
//!     async fn bye(&mut self, _req: &Request) -> StatusCode {
//!         StatusCode::OK
//!     }
//! }
//!
//! #[tokio::test(start_paused = true)]
//! # async fn _doc() {}
//! async fn answers_and_hangs_up() -> Result<(), Failure> {
//!     let kit = Kit::start(Server::builder().handler(|| Hello)).await;
//!     let mut call = kit.invite("sip:hello@test").send().await?;
//!     call.expect(200).await?;
//!     call.ack().await?;
//!     kit.advance(std::time::Duration::from_secs(30)).await;
//!     call.hang_up().await
//! }
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() { answers_and_hangs_up().await.unwrap() }
//! ```
//!
//! * **What runs.** The server is the application's own
//!   [`ServerBuilder`], bound to a [`MemoryNetwork`] at
//!   [`Kit::SERVER`] (UDP only: nothing in it opens a socket, media
//!   aside). Its timers run on tokio's clock: under
//!   `#[tokio::test(start_paused = true)]` time stands still while
//!   anything can run and jumps to the next timer when nothing can, so
//!   retransmissions, ring timeouts and session timers fire as the test
//!   [`advance`](Kit::advance)s or waits, in no real time and in the same
//!   order every run.
//! * **Peers.** [`Kit::peer`] adds a scripted peer with its own address
//!   (the kit's first one, `alice`, sends [`Kit::invite`] and
//!   [`Kit::request`]). A [`Call`] expects the responses and requests of
//!   its Call-ID in order ([`Call::expect`]), skipping 100 Trying and
//!   retransmissions, and builds the dialog's requests (ACK, BYE, CANCEL,
//!   re-INVITE) from the answer. A peer ACKs non-2xx finals to its
//!   INVITEs itself, as its transaction layer would. Everything the server
//!   sent, retransmissions included, is in [`Peer::received`].
//! * **Faults.** [`Peer::inject`] loses, duplicates or delays (reorders)
//!   the next matching message either way: [`Fault`].
//! * **Failures.** An expectation not met returns a [`Failure`] that
//!   prints what was expected, the message that came instead in full,
//!   and the whole exchange so far as a ladder diagram.
//! * **Real servers.** [`Peer::udp`] and [`Peer::tcp`] run the same
//!   script against a server on a real address, in real time.
//! * **SIPp scenarios.** [`sipp::run`] plays a SIPp XML scenario (the
//!   subset its documentation lists) with a peer.

mod call;
mod fault;
mod journal;
mod link;
mod peer;
pub mod sipp;

pub use call::{Call, CallBuilder, InDialog, ReplyBuilder};
pub use fault::{Fault, FaultKind, Way};
pub use journal::Failure;
pub use peer::{DEFAULT_TIMEOUT, Peer, Received};

use crate::endpoint::Endpoint;
use crate::message::Method;
use crate::server::{Factory, ServerBuilder, ServerStats, UasHandler};
use crate::transport::MemoryNetwork;
use journal::Journal;
use link::Link;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

/// A server under test on an in-memory network, and its peers.
pub struct Kit {
    network: MemoryNetwork,
    journal: Journal,
    endpoint: Endpoint,
    stats: ServerStats,
    peers: Mutex<Vec<Peer>>,
    first: Peer,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Kit {
    /// The server's address on the kit's network.
    pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 5060);

    /// Binds the application's server on a fresh in-memory network and
    /// starts serving it, with one peer, `alice`. Panics if the server
    /// cannot be bound (its configuration is wrong: the message says
    /// why).
    pub async fn start<H: UasHandler>(builder: ServerBuilder<Factory<H>>) -> Kit {
        let network = MemoryNetwork::new();
        let server = builder
            .memory(network.clone(), Kit::SERVER)
            .bind()
            .await
            .unwrap_or_else(|e| panic!("the kit cannot start the server: {e}"));
        let endpoint = server.endpoint().clone();
        let stats = server.stats();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            let _ = server
                .serve()
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let journal = Journal::new();
        let first = Kit::new_peer(&network, &journal, "alice", 0);
        // Let the server's tasks start.
        tokio::task::yield_now().await;
        Kit {
            network,
            journal,
            endpoint,
            stats,
            peers: Mutex::new(vec![first.clone()]),
            first,
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    fn new_peer(network: &MemoryNetwork, journal: &Journal, name: &str, n: u8) -> Peer {
        let ip = Ipv4Addr::new(192, 0, 2, 10u8.saturating_add(n));
        let socket = network
            .bind(SocketAddr::new(IpAddr::V4(ip), 5060))
            .expect("a free address on the kit's network");
        Peer::new(name, Link::Memory(socket), Kit::SERVER, journal.clone())
    }

    /// A new scripted peer named `name` (its user part and its column in
    /// the ladder), at its own address 192.0.2.11, .12...
    pub fn peer(&self, name: &str) -> Peer {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let n = u8::try_from(peers.len()).unwrap_or(u8::MAX);
        let peer = Kit::new_peer(&self.network, &self.journal, name, n);
        peers.push(peer.clone());
        peer
    }

    /// The first peer, `alice`.
    pub fn alice(&self) -> &Peer {
        &self.first
    }

    /// An INVITE from `alice` to `uri`.
    pub fn invite(&self, uri: &str) -> CallBuilder {
        self.first.invite(uri)
    }

    /// A request with `method` from `alice` to `uri`.
    pub fn request(&self, method: Method, uri: &str) -> CallBuilder {
        self.first.request(method, uri)
    }

    /// Lets `by` pass on the clock: every timer due meanwhile fires, in
    /// order (instantly on the paused clock).
    pub async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }

    /// The in-memory network (to bind more sockets on it).
    pub fn network(&self) -> &MemoryNetwork {
        &self.network
    }

    /// The server's endpoint: its transaction and transport layers.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The server's counters (live dialogs, calls refused...).
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// Every peer's exchange so far, as a text ladder diagram.
    pub fn ladder(&self) -> String {
        self.journal.ladder()
    }

    /// Every peer's exchange so far, to render as SVG or Mermaid
    /// ([`trace::ladder`](crate::trace::ladder)).
    pub fn flow(&self) -> crate::trace::ladder::Flow {
        self.journal.flow()
    }

    /// Stops the server gracefully (as on SIGTERM) and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
    }
}

impl Drop for Kit {
    fn drop(&mut self) {
        if let Some(served) = &self.served {
            served.abort();
        }
    }
}
