//! UDP: the receive loop (RFC 3261 §18.2.1, §18.3) and sending datagrams
//! (§18.1.1, §18.2.2, RFC 3581 §4).

use super::addr::{canonical, resolve_host};
use super::datagram::DatagramSocket;
use super::inbound::{Inbound, classify, malformed};
use super::recv_batch::Batch;
use super::shared::{Shared, UdpEndpoint, shutdown_signal};
use super::shed::{self, Shedder, Verdict};
use super::stats::bump;
use super::tap::{Direction, tap};
use super::via::{response_destination, stamp_top_via, top_via};
use super::{Incoming, Origin, Protocol, Sent, TransportError};
use crate::message::typed::Via;
use crate::message::{Host, Message, Method, ParseError, Response, parse_datagram_with};
use bytes::Bytes;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{debug, trace, warn};

/// The largest UDP payload over IPv4 (65535 − 8 − 20).
const MAX_UDP_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65535 − 8).
const MAX_UDP_PAYLOAD_V6: usize = 65_527;
/// The largest UDP payload there can be.
const MAX_DATAGRAM: usize = 65_535;

/// Datagrams read in one go before the receiver lets other tasks run.
/// Reading until the socket is empty keeps the kernel from dropping what
/// arrives faster than it is processed (ACKs and BYEs among it); the
/// bound keeps one busy socket from starving the tasks that do the work.
const RECV_BATCH: usize = 512;

/// Datagrams one receive call asks for: fewer back tells that the socket
/// is empty, which saves the call that would find it so (one receive call
/// per datagram when quiet), and under load one call brings several.
const DATAGRAMS_PER_CALL: usize = 8;

/// Receives datagrams on one socket until shutdown or until nobody listens
/// for incoming messages any more.
pub(crate) async fn run(shared: Arc<Shared>, socket: Arc<DatagramSocket>, local: SocketAddr) {
    let size = shared.config.udp_recv_buffer.clamp(1, MAX_DATAGRAM);
    let mut batch = Batch::new(DATAGRAMS_PER_CALL, size);
    let mut shutdown = shared.shutdown.clone();
    // One wait for the whole loop: a fresh one per wake-up would take the
    // watch channel's lock to register and again to drop it.
    let stop = shutdown_signal(&mut shutdown);
    tokio::pin!(stop);
    let mut shedder = Shedder::new(shared.config.refusals_per_second, shared.config.retry_after);
    loop {
        // The socket first: most wake-ups are for it, and polling the
        // shutdown wait costs a lock. The flag is read on every pass, so a
        // socket that never empties cannot keep the shutdown unseen.
        if shared.is_shutdown() {
            break;
        }
        let ready = tokio::select! {
            biased;
            r = socket.readable() => r,
            () = &mut stop => break,
        };
        if let Err(error) = ready {
            warn!(%error, %local, "UDP socket failed; receiver stopping");
            break;
        }
        let mut taken = 0;
        while taken < RECV_BATCH {
            match socket.try_recv_batch(&mut batch) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    // E.g. an ICMP error reported on some platforms; the
                    // socket stays usable.
                    debug!(%error, "UDP receive error");
                    taken += 1;
                    continue;
                }
            }
            taken += batch.len();
            for i in 0..batch.len() {
                let (data, source) = batch.get(i);
                if !datagram(&shared, &mut shedder, data, size, canonical(source), local).await {
                    debug!("incoming channel closed; UDP receiver stopping");
                    return;
                }
            }
            if batch.len() < batch.capacity() {
                // The socket is empty.
                break;
            }
        }
        if taken >= RECV_BATCH {
            tokio::task::yield_now().await;
        }
    }
    debug!("UDP receiver stopped");
}

/// Handles one received datagram; false once nobody takes incoming
/// messages any more.
async fn datagram(
    shared: &Shared,
    shedder: &mut Shedder,
    data: &[u8],
    size: usize,
    source: SocketAddr,
    local: SocketAddr,
) -> bool {
    if data.len() >= size && size < MAX_DATAGRAM {
        // A full buffer may mean a truncated datagram.
        warn!(peer = %source, size = data.len(), "datagram fills the receive buffer; refused");
        return true;
    }
    if data.iter().all(|&b| b == b'\r' || b == b'\n') {
        // CRLF keep-alives (and empty datagrams) are ignored (§7.5).
        trace!(peer = %source, "keep-alive datagram");
        return true;
    }
    tap(
        &shared.config.tap,
        Direction::In,
        Protocol::Udp,
        local,
        source,
        data,
    );
    let now = tokio::time::Instant::now().into_std();
    let queue = &shared.incoming;
    let shedding =
        shared.shedding.load(Ordering::Relaxed) || queue.capacity() <= queue.max_capacity() / 2;
    if shedding && !shedder.can_refuse(now) && shed::is_plainly_new_work(data) {
        // Dropped unparsed: under a flood this is most of what arrives.
        bump(&shared.counters.dropped_at_receive);
        return true;
    }
    let origin = Origin {
        protocol: Protocol::Udp,
        source,
        local,
        connection: None,
    };
    let message = match parse_datagram_with(Bytes::copy_from_slice(data), &shared.config.limits) {
        Ok(message) => message,
        Err(error) => {
            if let Some(r) = malformed(data, &error, &origin) {
                send_reply(shared, &r, &origin).await;
            }
            return true;
        }
    };
    // The shard that owns the Call-ID, when another one does: new work for
    // it is shed as it is for us when its queue is half full.
    let owner = shared.shards.as_ref().and_then(|r| r.elsewhere(&message));
    let shedding = shedding || owner.is_some_and(|q| q.capacity() <= q.max_capacity() / 2);
    if let Message::Request(req) = &message {
        match shedder.verdict(req, shedding, now) {
            Verdict::Pass => {}
            Verdict::Refuse(mut r) => {
                bump(&shared.counters.shed_at_receive);
                // Routed like any response to this request (§18.2.2, RFC
                // 3581 §4); only the refusal's copy of the Via is stamped.
                let _ = stamp_top_via(&mut r.headers, source);
                shared.feedback.stamp(&mut r.headers);
                send_reply(shared, &r, &origin).await;
                return true;
            }
            Verdict::Drop => {
                if req.method != Method::Ack {
                    bump(&shared.counters.dropped_at_receive);
                }
                return true;
            }
        }
    }
    let reply = match classify(message, origin) {
        Inbound::Deliver(incoming) => {
            if let Some(owner) = owner {
                forward(shared, owner, incoming);
                return true;
            }
            return deliver(queue, incoming).await;
        }
        Inbound::Reply(r) => *r,
        Inbound::Drop => return true,
    };
    send_reply(shared, &reply, &origin).await;
    true
}

/// Passes a message up. Only the messages of work already taken on get
/// here while the queue is half full (new work was shed above), and they
/// wait for room: the half kept free is theirs. False once nobody takes
/// incoming messages any more.
async fn deliver(queue: &mpsc::Sender<Box<Incoming>>, incoming: Box<Incoming>) -> bool {
    match queue.try_send(incoming) {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full(incoming)) => queue.send(incoming).await.is_ok(),
    }
}

/// Hands a message to the shard that owns its Call-ID, without waiting:
/// a receiver waiting for another shard's room would stall its own shard
/// as well. A full queue drops the message (the peer retransmits over
/// UDP, RFC 3261 §17), counted with the drops at receive when it is a
/// request other than ACK.
fn forward(shared: &Shared, owner: &mpsc::Sender<Box<Incoming>>, incoming: Box<Incoming>) {
    match owner.try_send(incoming) {
        Ok(()) => {}
        Err(TrySendError::Full(incoming)) => {
            if let Message::Request(r) = &incoming.message
                && r.method != Method::Ack
            {
                bump(&shared.counters.dropped_at_receive);
            }
            debug!("the owning shard's queue is full; message dropped");
        }
        Err(TrySendError::Closed(_)) => debug!("the owning shard has stopped; message dropped"),
    }
}

/// Sends an error response generated by the transport itself (§18.2.2).
async fn send_reply(shared: &Shared, response: &Response, origin: &Origin) {
    let result = if shared.is_shutdown() {
        Err(TransportError::Shutdown)
    } else {
        send_response(
            shared,
            &response.to_bytes(),
            top_via(&response.headers),
            Some(origin),
        )
        .await
    };
    match result {
        Ok(sent) => {
            debug!(peer = %sent.remote, status = response.status.as_u16(), "sent error response")
        }
        Err(error) => warn!(peer = %origin.source, %error, "cannot send error response"),
    }
}

/// Sends a response over UDP to the destination its top Via names
/// (§18.2.2), or to the packet source when it has no usable Via.
pub(crate) async fn send_response(
    shared: &Shared,
    data: &[u8],
    via: Result<Cow<'_, Via>, ParseError>,
    origin: Option<&Origin>,
) -> Result<Sent, TransportError> {
    let (addr, ttl) = match &via {
        Ok(v) => {
            let d = response_destination(v);
            let addr = match &d.host {
                // RFC 3263 §5: a sent-by host name without `received`
                // (nor `maddr`, nor `rport`) is located, by SRV when it
                // has no port.
                Host::Domain(name) if d.host == v.host && v.rport().flatten().is_none() => {
                    shared.sent_by_servers(name, v.port, Protocol::Udp).await?[0]
                }
                host => resolve_host(host, d.port).await?,
            };
            (addr, d.ttl)
        }
        Err(error) => match origin {
            // Only the error responses to unparseable requests get
            // here: answer the packet source.
            Some(o) => {
                debug!(%error, peer = %o.source, "no usable Via; answering the packet source");
                (o.source, None)
            }
            None => return Err(TransportError::NoRoute(error.to_string())),
        },
    };
    // RFC 3581 §4: sent from the address and port the request arrived on.
    send(shared, data, addr, origin.map(|o| o.local), ttl).await
}

/// The UDP endpoint to send to `dest` from: the one bound to `local` if
/// given, else one of the same address family whose address can reach
/// `dest`, else a wildcard IPv6 socket (dual-stack) for an IPv4 `dest`.
fn endpoint(shared: &Shared, dest: SocketAddr, local: Option<SocketAddr>) -> Option<&UdpEndpoint> {
    if let Some(l) = local
        && let Some(ep) = shared.udp.iter().find(|ep| ep.local == l)
    {
        return Some(ep);
    }
    let same_family = |ep: &&UdpEndpoint| ep.local.is_ipv4() == dest.is_ipv4();
    let reachable = |ep: &&UdpEndpoint| {
        ep.local.ip().is_unspecified() || ep.local.ip().is_loopback() == dest.ip().is_loopback()
    };
    let local_ip = local.map(|l| l.ip());
    shared
        .udp
        .iter()
        .filter(same_family)
        .find(|ep| Some(ep.local.ip()) == local_ip)
        .or_else(|| shared.udp.iter().filter(same_family).find(reachable))
        .or_else(|| shared.udp.iter().find(same_family))
        .or_else(|| {
            shared
                .udp
                .iter()
                .find(|ep| dest.is_ipv4() && ep.local.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        })
}

/// Sends one datagram to `dest` from the endpoint [`endpoint`] picks;
/// `ttl` is the multicast TTL of a response (§18.2.2).
pub(crate) async fn send(
    shared: &Shared,
    data: &[u8],
    dest: SocketAddr,
    local: Option<SocketAddr>,
    ttl: Option<u8>,
) -> Result<Sent, TransportError> {
    let dest = canonical(dest);
    let ep = endpoint(shared, dest, local).ok_or(TransportError::Unsupported(Protocol::Udp))?;
    let max = if ep.local.is_ipv4() {
        MAX_UDP_PAYLOAD_V4
    } else {
        MAX_UDP_PAYLOAD_V6
    };
    if data.len() > max {
        return Err(TransportError::TooLarge {
            size: data.len(),
            max,
        });
    }
    let to = match (ep.local, dest.ip()) {
        (SocketAddr::V6(_), IpAddr::V4(v4)) => {
            SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), dest.port())
        }
        _ => dest,
    };
    if let (Some(ttl), IpAddr::V4(_)) = (ttl, to.ip()) {
        // §18.2.2: multicast responses use the Via ttl (default 1).
        ep.socket.set_multicast_ttl_v4(u32::from(ttl));
    }
    ep.socket.send_to(data, to).await?;
    tap(
        &shared.config.tap,
        Direction::Out,
        Protocol::Udp,
        ep.local,
        dest,
        data,
    );
    tracing::trace!(peer = %dest, local = %ep.local, size = data.len(), "sent UDP datagram");
    Ok(Sent {
        protocol: Protocol::Udp,
        local: ep.local,
        remote: dest,
        connection: None,
    })
}
