//! Memory per live transaction, measured with a counting allocator: 100,000
//! server transactions held in one `TransactionLayer`, each created from
//! its own parsed receive buffer, as a server under load would hold them.
//! Four states are measured: INVITE and REGISTER transactions before the
//! TU answers, an INVITE after the TU's 180 and a REGISTER after its 200.
//!
//! A figure is every heap byte the layer holds once the TU has taken the
//! request (and dropped it) and sent its response (if any), divided by the
//! number of live transactions: the slab slot holding the state machine,
//! the transaction's owned key and branch, its match-table bucket, its
//! timer-heap entry (if a timer runs), and the message text it must keep.
//! The figures count the bytes asked of the allocator; its rounding and
//! per-block overhead come on top.
//!
//! Run with `--nocapture` to see the figures.

use bytes::Bytes;
use parrot::message::{HeaderName, Message, Request, Response, StatusCode, parse_datagram};
use parrot::transaction::{LayerEvent, LayerOutput, TimerConfig, TransactionLayer};
use std::sync::atomic::Ordering;
use std::time::Instant;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{Counting, LIVE};

#[global_allocator]
static ALLOC: Counting = Counting;

const N: usize = 100_000;

fn request(method: &str, i: usize) -> Request {
    let text = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{i:08x};rport=5060;received=192.0.2.10\r\n\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob@biloxi.example.com>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710-{i}@pc33.atlanta.example.com\r\n\
         CSeq: 314159 {method}\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_datagram(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// What the TU answers before the measurement, if anything.
#[derive(Clone, Copy)]
enum Answer {
    /// Nothing yet: the transaction was just created.
    None,
    /// `180 Ringing` with a To tag (an INVITE stays in Proceeding).
    Ringing,
    /// `200 OK` with a To tag, Contact and Expires (a REGISTER moves to
    /// Completed, where Timer J keeps it for 32 s).
    Ok,
}

/// The response the TU builds from the request, as a UAS core would
/// (§8.2.6: its headers share the request's receive buffer).
fn tu_response(req: &Request, answer: Answer) -> Option<Response> {
    let status = match answer {
        Answer::None => return None,
        Answer::Ringing => StatusCode::RINGING,
        Answer::Ok => StatusCode::OK,
    };
    let mut resp = req.reply(status);
    let to = resp.headers.get(HeaderName::To).unwrap().clone();
    resp.headers
        .set(HeaderName::To, format!("{to};tag=a6c85cf"));
    if matches!(answer, Answer::Ok) {
        resp.headers.append(
            HeaderName::Contact,
            "<sip:alice@192.0.2.10:5060>;expires=3600",
        );
        resp.headers.append(HeaderName::Expires, "3600");
    }
    Some(resp)
}

/// Bytes of message text in `resp`: reason, header names and values, body.
fn text_len(resp: &Response) -> usize {
    resp.reason.len()
        + resp.body.len()
        + resp
            .headers
            .iter()
            .map(|h| h.name().len() + h.value().len())
            .sum::<usize>()
}

/// Per live transaction: (bytes in all, of which the message text the
/// transaction must keep to (re)send its responses).
fn measure(method: &str, answer: Answer) -> (isize, isize) {
    let t0 = Instant::now();
    let before = LIVE.load(Ordering::Relaxed);
    let mut kept = 0;
    let mut layer: TransactionLayer<()> = TransactionLayer::new(TimerConfig::default());
    for i in 0..N {
        let req = request(method, i);
        let response = tu_response(&req, answer);
        kept += match &response {
            Some(r) => text_len(r),
            // An INVITE server transaction keeps the §8.2.6 headers for its
            // own 100 Trying and the 487 that answers a CANCEL.
            None if method == "INVITE" => text_len(&req.reply(StatusCode::TRYING)),
            None => 0,
        };
        layer.handle_request(t0, req, (), false);
        let mut id = None;
        // The TU takes the request away (here: drops it).
        while let Some(out) = layer.poll_output() {
            if let LayerOutput::Event(LayerEvent::Request { id: i, .. }) = out {
                id = Some(i);
            }
        }
        if let Some(response) = response {
            layer.respond(t0, id.unwrap(), response).unwrap();
            while let Some(out) = layer.poll_output() {
                let _: LayerOutput<()> = out;
            }
        }
    }
    assert_eq!(layer.len(), N);
    let total = (LIVE.load(Ordering::Relaxed) - before) / N as isize;
    drop(layer);
    (total, kept as isize / N as isize)
}

#[test]
fn memory_per_live_transaction() {
    // (method, what the TU answered, description, limit in bytes). The
    // limits are the figures measured when they were set plus ~15%.
    let cases = [
        (
            "INVITE",
            Answer::None,
            "INVITE server transaction, no response yet (Proceeding, its own 100 Trying due)",
            600,
        ),
        (
            "REGISTER",
            Answer::None,
            "REGISTER server transaction, no response yet (Trying)",
            260,
        ),
        (
            "INVITE",
            Answer::Ringing,
            "INVITE server transaction after the TU's 180 Ringing (Proceeding)",
            615,
        ),
        (
            "REGISTER",
            Answer::Ok,
            "REGISTER server transaction after the TU's 200 OK (Completed, Timer J running)",
            680,
        ),
    ];
    let mut failures = Vec::new();
    for (method, answer, what, limit) in cases {
        let (total, kept) = measure(method, answer);
        let kept_what = match answer {
            Answer::None if method == "INVITE" => {
                "header text kept to build its own 100 Trying and a 487 for CANCEL \
                 (the request's Via, To, From, Call-ID and CSeq; Timestamp if present)"
            }
            Answer::None => "message text (nothing of the request is kept)",
            _ => {
                "text of the last response (reason, header names and values, body), \
             kept to retransmit it"
            }
        };
        eprintln!(
            "{what}:\n    {total} bytes per live transaction in all (limit {limit}) = \
             {kept} bytes of {kept_what}\n    + {} bytes of bookkeeping (slab slot holding the \
             state machine, owned key and branch, match-table bucket, timer-heap entry if a \
             timer runs, length prefixes)",
            total - kept
        );
        if total > limit {
            failures.push(format!("{what}: {total} bytes > {limit}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
