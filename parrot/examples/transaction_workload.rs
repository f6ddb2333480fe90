//! A fixed, deterministic transaction-layer workload for instruction
//! counting (no I/O, no clock reads inside the measured part):
//!
//! ```text
//! cargo build --release -p parrot --example transaction_workload
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*drive*' \
//!     target/release/examples/transaction_workload
//! ```
//!
//! Each of `CALLS` calls runs the server side of one call over UDP: an
//! INVITE, its retransmission, the TU's 180 and 200, the ACK, then a BYE
//! and its 200; REGISTERs answered 200 run beside them. Time then moves
//! past every wait timer so that all transactions end. The messages are
//! parsed before the measured part (`drive`) starts.

use bytes::Bytes;
use parrot::message::{HeaderName, Message, Request, StatusCode, parse_datagram};
use parrot::transaction::{LayerEvent, LayerOutput, TimerConfig, TransactionId, TransactionLayer};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Calls driven through the layer.
const CALLS: usize = 10_000;

fn request(method: &str, i: usize, branch: &str, cseq: u32) -> Request {
    let text = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{branch}{i:08x};rport=5060;received=192.0.2.10\r\n\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob@biloxi.example.com>{to_tag}\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710-{i}@pc33.atlanta.example.com\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         Content-Length: 0\r\n\r\n",
        to_tag = if method == "INVITE" || method == "REGISTER" {
            ""
        } else {
            ";tag=a6c85cf"
        },
    );
    match parse_datagram(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// One call's requests, parsed ahead of the measurement.
struct Call {
    invite: Request,
    invite_again: Request,
    ack: Request,
    bye: Request,
    register: Request,
}

/// The `Request` event among the layer's outputs; the rest is consumed
/// (as a transport would send it).
fn take_request(layer: &mut TransactionLayer<u32>) -> Option<(TransactionId, Request)> {
    let mut found = None;
    while let Some(out) = layer.poll_output() {
        match out {
            LayerOutput::Event(LayerEvent::Request { id, request, .. }) => {
                found = Some((id, *request))
            }
            other => {
                black_box(other);
            }
        }
    }
    found
}

/// Sends the TU's `status` response (with a To tag) on `id`.
fn respond(
    layer: &mut TransactionLayer<u32>,
    now: Instant,
    id: TransactionId,
    request: &Request,
    status: StatusCode,
) {
    let mut resp = request.reply(status);
    resp.headers.set(
        HeaderName::To,
        "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
    );
    layer.respond(now, id, resp).expect("respond");
    while let Some(out) = layer.poll_output() {
        black_box(out);
    }
}

/// Passes a request to the layer and takes the event it raises, if any.
fn receive(
    layer: &mut TransactionLayer<u32>,
    now: Instant,
    request: Request,
    peer: u32,
) -> Option<(TransactionId, Request)> {
    layer.handle_request(now, request, peer, false);
    take_request(layer)
}

#[inline(never)]
fn drive(calls: Vec<Call>, t0: Instant) -> usize {
    let mut layer: TransactionLayer<u32> = TransactionLayer::new(TimerConfig::default());
    let mut now = t0;
    for (i, call) in calls.into_iter().enumerate() {
        let peer = i as u32;
        now += Duration::from_micros(100);
        let (id, invite) = receive(&mut layer, now, call.invite, peer).expect("INVITE goes up");
        // A retransmission is absorbed by the transaction (§17.2.3).
        assert!(receive(&mut layer, now, call.invite_again, peer).is_none());
        respond(&mut layer, now, id, &invite, StatusCode::RINGING);
        respond(&mut layer, now, id, &invite, StatusCode::OK);
        // The ACK for the 2xx goes to the TU as an `Ack` event.
        assert!(receive(&mut layer, now, call.ack, peer).is_none());
        let (id, bye) = receive(&mut layer, now, call.bye, peer).expect("BYE goes up");
        respond(&mut layer, now, id, &bye, StatusCode::OK);
        let (id, register) =
            receive(&mut layer, now, call.register, peer).expect("REGISTER goes up");
        respond(&mut layer, now, id, &register, StatusCode::OK);
        layer.handle_timeout(now);
        while let Some(out) = layer.poll_output() {
            black_box(out);
        }
    }
    let peak = layer.len();
    // Past every wait timer (64·T1 at most): everything ends.
    now += Duration::from_secs(64);
    layer.handle_timeout(now);
    while let Some(out) = layer.poll_output() {
        black_box(out);
    }
    assert!(layer.is_empty(), "{} transactions left", layer.len());
    peak
}

fn main() {
    let calls: Vec<Call> = (0..CALLS)
        .map(|i| Call {
            invite: request("INVITE", i, "inv", 1),
            invite_again: request("INVITE", i, "inv", 1),
            ack: request("ACK", i, "ack", 1),
            bye: request("BYE", i, "bye", 2),
            register: request("REGISTER", i, "reg", 1),
        })
        .collect();
    let peak = drive(calls, Instant::now());
    println!("{CALLS} calls; {peak} transactions live at the peak");
}
