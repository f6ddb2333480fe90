//! Tests of the transaction layer: matching, CANCEL, caps and memory.

use super::super::table::Entry;
use super::*;
use crate::message::Method;
use crate::test_support::{at, request, response};
use std::time::Duration;

type Layer = TransactionLayer<&'static str>;

thread_local! {
    /// Whether `new_layer` makes every key hash to the same value.
    static COLLIDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A layer with the default timers (see [`COLLIDING`]).
fn new_layer() -> Layer {
    let mut layer = Layer::new(TimerConfig::default());
    layer.table.set_colliding(COLLIDING.get());
    layer
}

fn drain(layer: &mut Layer) -> Vec<LayerOutput<&'static str>> {
    std::iter::from_fn(|| layer.poll_output()).collect()
}

fn events<'a>(out: &'a [LayerOutput<&'static str>]) -> Vec<&'a LayerEvent<&'static str>> {
    out.iter()
        .filter_map(|o| match o {
            LayerOutput::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Whether each transmitted message is a retransmission.
fn retransmission_flags(out: &[LayerOutput<&'static str>]) -> Vec<bool> {
    out.iter()
        .filter_map(|o| match o {
            LayerOutput::Transmit { retransmission, .. } => Some(*retransmission),
            _ => None,
        })
        .collect()
}

fn sent_statuses(out: &[LayerOutput<&'static str>]) -> Vec<(u16, String)> {
    out.iter()
        .filter_map(|o| match o {
            LayerOutput::Transmit {
                message: Message::Response(r),
                ..
            } => Some((
                r.status.as_u16(),
                r.headers.cseq().unwrap().method.to_string(),
            )),
            _ => None,
        })
        .collect()
}

/// Runs every deadline up to `until`, returning all outputs.
fn run_until(layer: &mut Layer, until: Instant) -> Vec<LayerOutput<&'static str>> {
    let mut all = Vec::new();
    while let Some(t) = layer.poll_timeout() {
        if t > until {
            break;
        }
        layer.handle_timeout(t);
        all.extend(drain(layer));
    }
    all
}

fn request_id(out: &[LayerOutput<&'static str>]) -> TransactionId {
    events(out)
        .into_iter()
        .find_map(|e| match e {
            LayerEvent::Request { id, .. } => Some(*id),
            _ => None,
        })
        .expect("a request event")
}

#[test]
fn new_request_goes_up_once_and_retransmissions_are_absorbed() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let req = request(Method::Options, "z9hG4bKopt");
    layer.handle_request(t0, req.clone(), "peer", false);
    let id = request_id(&drain(&mut layer));
    layer.handle_request(at(t0, 100), req.clone(), "peer", false);
    assert!(drain(&mut layer).is_empty(), "retransmission absorbed");
    assert_eq!(layer.absorbed(), 1);
    layer.respond(at(t0, 150), id, response(&req, 200)).unwrap();
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), [(200, "OPTIONS".into())]);
    assert_eq!(retransmission_flags(&out), [false]);
    // A retransmission now re-sends the 200 (§17.2.2) without the TU,
    // marked for the retransmission counter.
    layer.handle_request(at(t0, 300), req.clone(), "peer", false);
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), [(200, "OPTIONS".into())]);
    assert_eq!(retransmission_flags(&out), [true]);
    assert!(events(&out).is_empty());
    assert_eq!(layer.absorbed(), 2);
    // Timer J ends it; every table empties.
    let out = run_until(&mut layer, at(t0, 60_000));
    assert!(matches!(events(&out)[..], [LayerEvent::Terminated { .. }]));
    assert_eq!(layer.len(), 0);
    assert_eq!(layer.table_sizes(), (0, 0, 0));
}

#[test]
fn invite_gets_100_trying_after_200ms_when_the_tu_is_silent() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.handle_request(t0, request(Method::Invite, "z9hG4bKinv"), "peer", false);
    drain(&mut layer);
    assert_eq!(layer.poll_timeout(), Some(at(t0, 200)));
    let out = run_until(&mut layer, at(t0, 200));
    assert_eq!(sent_statuses(&out), [(100, "INVITE".into())]);
}

#[test]
fn cancel_answers_200_and_487_and_tells_the_tu() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let invite = request(Method::Invite, "z9hG4bKc1");
    layer.handle_request(t0, invite.clone(), "peer", false);
    let id = request_id(&drain(&mut layer));
    let mut ringing = response(&invite, 180);
    ringing
        .headers
        .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=tu-tag");
    layer.respond(at(t0, 10), id, ringing).unwrap();
    drain(&mut layer);

    let mut cancel = request(Method::Cancel, "z9hG4bKc1");
    cancel.headers.set(HeaderName::CSeq, "314159 CANCEL");
    layer.handle_request(at(t0, 20), cancel.clone(), "peer", false);
    let out = drain(&mut layer);
    let statuses = sent_statuses(&out);
    assert_eq!(statuses, [(200, "CANCEL".into()), (487, "INVITE".into())]);
    assert!(events(&out).contains(&&LayerEvent::Cancelled { id }));
    // Both carry the To tag of the INVITE's provisional response (§9.2).
    for o in &out {
        if let LayerOutput::Transmit {
            message: Message::Response(r),
            ..
        } = o
        {
            assert_eq!(r.headers.to_tag().unwrap(), "tu-tag");
        }
    }
    // The TU's late 200 is refused: the INVITE is already answered.
    assert!(
        layer
            .respond(at(t0, 30), id, response(&invite, 200))
            .is_err()
    );
    // The ACK for the 487 is absorbed by the INVITE transaction.
    let mut ack = request(Method::Ack, "z9hG4bKc1");
    ack.headers
        .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=tu-tag");
    layer.handle_request(at(t0, 40), ack, "peer", false);
    assert!(events(&drain(&mut layer)).is_empty());
    run_until(&mut layer, at(t0, 120_000));
    assert_eq!(layer.len(), 0);
    assert_eq!(layer.table_sizes(), (0, 0, 0));
}

#[test]
fn cancel_without_a_matching_invite_gets_481() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let mut cancel = request(Method::Cancel, "z9hG4bKnone");
    cancel.headers.set(HeaderName::CSeq, "314159 CANCEL");
    layer.handle_request(t0, cancel, "peer", false);
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), [(481, "CANCEL".into())]);
    assert!(events(&out).is_empty(), "the TU never sees the CANCEL");
}

#[test]
fn cancel_after_the_final_response_gets_200_only() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let invite = request(Method::Invite, "z9hG4bKlate");
    layer.handle_request(t0, invite.clone(), "peer", false);
    let id = request_id(&drain(&mut layer));
    layer
        .respond(at(t0, 10), id, response(&invite, 486))
        .unwrap();
    drain(&mut layer);
    let mut cancel = request(Method::Cancel, "z9hG4bKlate");
    cancel.headers.set(HeaderName::CSeq, "314159 CANCEL");
    layer.handle_request(at(t0, 20), cancel, "peer", false);
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), [(200, "CANCEL".into())]);
    assert!(events(&out).is_empty());
}

#[test]
fn ack_for_a_2xx_goes_to_the_tu() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.handle_request(t0, request(Method::Ack, "z9hG4bKack2xx"), "peer", false);
    let out = drain(&mut layer);
    assert!(matches!(events(&out)[..], [LayerEvent::Ack { .. }]));
    assert_eq!(layer.len(), 0);
}

#[test]
fn client_transaction_times_out_with_timer_f_and_is_removed() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let id = layer
        .send_request(
            t0,
            request(Method::Options, "z9hG4bKcli"),
            "next-hop",
            false,
        )
        .unwrap();
    let first = drain(&mut layer);
    assert_eq!(first.len(), 1, "the request is transmitted at once");
    let out = run_until(&mut layer, at(t0, 40_000));
    let resent: Vec<_> = out
        .iter()
        .filter(|o| matches!(o, LayerOutput::Transmit { .. }))
        .collect();
    // 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, ... 31.5 s: 10 retransmissions.
    assert_eq!(resent.len(), 10);
    let ev = events(&out);
    assert!(ev.contains(&&LayerEvent::Timeout {
        id,
        timer: Timer::F
    }));
    assert!(ev.contains(&&LayerEvent::Terminated { id }));
    assert_eq!(layer.table_sizes(), (0, 0, 0));
}

#[test]
fn responses_reach_their_client_transaction_or_come_up_as_strays() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let req = request(Method::Invite, "z9hG4bKuac");
    let id = layer.send_request(t0, req.clone(), "hop", false).unwrap();
    drain(&mut layer);
    layer.handle_response(at(t0, 5), response(&req, 180));
    let out = drain(&mut layer);
    assert!(matches!(events(&out)[..], [LayerEvent::Response { id: i, .. }] if *i == id));
    let other = request(Method::Invite, "z9hG4bKother");
    layer.handle_response(at(t0, 6), response(&other, 200));
    let out = drain(&mut layer);
    assert!(matches!(
        events(&out)[..],
        [LayerEvent::StrayResponse { .. }]
    ));
    assert_eq!(layer.absorbed(), 0, "nothing repeated yet");
    // A final non-2xx goes up once; its retransmission is absorbed, and
    // the ACK re-sent is a retransmission (§17.1.1.2).
    layer.handle_response(at(t0, 7), response(&req, 486));
    let out = drain(&mut layer);
    assert_eq!(events(&out).len(), 1);
    assert_eq!(retransmission_flags(&out), [false]);
    layer.handle_response(at(t0, 500), response(&req, 486));
    let out = drain(&mut layer);
    assert!(events(&out).is_empty());
    assert_eq!(retransmission_flags(&out), [true]);
    assert_eq!(layer.absorbed(), 1);
}

#[test]
fn requests_beyond_the_cap_get_503_with_retry_after() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.set_max_transactions(1);
    layer.handle_request(t0, request(Method::Invite, "z9hG4bKcap1"), "peer", false);
    drain(&mut layer);
    layer.handle_request(t0, request(Method::Invite, "z9hG4bKcap2"), "peer", false);
    let out = drain(&mut layer);
    let [
        LayerOutput::Reply {
            message: Message::Response(r),
            ..
        },
    ] = &out[..]
    else {
        panic!("expected a stateless reply, got {out:?}");
    };
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers.get("Retry-After").unwrap(), "5");
    assert_eq!(layer.len(), 1);
    // ACKs are never refused (they are never answered).
    layer.handle_request(t0, request(Method::Ack, "z9hG4bKcap3"), "peer", false);
    assert!(matches!(
        events(&drain(&mut layer))[..],
        [LayerEvent::Ack { .. }]
    ));
}

#[test]
fn settled_transactions_do_not_count_toward_the_cap() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.set_max_transactions(1);
    // A call's INVITE, answered 200 (Accepted, Timer L), and its BYE,
    // answered 200 (Completed, Timer J): both only absorb
    // retransmissions for 32 s and leave room for new work.
    let invite = request(Method::Invite, "z9hG4bKset1");
    layer.handle_request(t0, invite.clone(), "peer", false);
    let id = request_id(&drain(&mut layer));
    assert_eq!((layer.in_progress(), layer.settled()), (1, 0));
    layer.respond(t0, id, response(&invite, 200)).unwrap();
    drain(&mut layer);
    assert_eq!((layer.in_progress(), layer.settled()), (0, 1));
    let bye = request(Method::Bye, "z9hG4bKset2");
    layer.handle_request(at(t0, 1), bye.clone(), "peer", false);
    let id = request_id(&drain(&mut layer));
    layer.respond(at(t0, 1), id, response(&bye, 200)).unwrap();
    drain(&mut layer);
    assert_eq!((layer.in_progress(), layer.settled()), (0, 2));
    // One request in progress fills the cap; the next gets 503.
    layer.handle_request(
        at(t0, 2),
        request(Method::Invite, "z9hG4bKset3"),
        "peer",
        false,
    );
    assert!(matches!(
        events(&drain(&mut layer))[..],
        [LayerEvent::Request { .. }]
    ));
    layer.handle_request(
        at(t0, 3),
        request(Method::Invite, "z9hG4bKset4"),
        "peer",
        false,
    );
    assert!(matches!(
        &drain(&mut layer)[..],
        [LayerOutput::Reply { message: Message::Response(r), .. }]
            if r.status == StatusCode::SERVICE_UNAVAILABLE
    ));
    assert_eq!((layer.in_progress(), layer.settled()), (1, 2));
    // The settled ones still absorb their retransmissions.
    layer.handle_request(at(t0, 4), bye, "peer", false);
    assert_eq!(sent_statuses(&drain(&mut layer)), [(200, "BYE".into())]);
    assert_eq!(layer.len(), 3);
}

#[test]
fn settled_transactions_beyond_their_cap_end_oldest_first() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.set_max_settled(2);
    let mut reqs = Vec::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let req = request(Method::Register, &format!("z9hG4bKold{i}"));
        layer.handle_request(at(t0, i), req.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        layer.respond(at(t0, i), id, response(&req, 200)).unwrap();
        let out = drain(&mut layer);
        if i == 2 {
            // The third to settle ends the first.
            assert!(
                events(&out).contains(&&LayerEvent::Terminated { id: ids[0] }),
                "{out:?}"
            );
        }
        reqs.push(req);
        ids.push(id);
    }
    assert_eq!((layer.len(), layer.settled()), (2, 2));
    assert!(layer.get(ids[0]).is_none());
    // The second still absorbs its retransmission; the first's is new
    // to the layer (the price of ending it early).
    layer.handle_request(at(t0, 5), reqs[1].clone(), "peer", false);
    assert_eq!(
        sent_statuses(&drain(&mut layer)),
        [(200, "REGISTER".into())]
    );
    layer.handle_request(at(t0, 6), reqs[0].clone(), "peer", false);
    assert!(matches!(
        events(&drain(&mut layer))[..],
        [LayerEvent::Request { .. }]
    ));
    assert_eq!((layer.in_progress(), layer.settled()), (1, 2));
    // Lowering the cap ends the oldest at once.
    layer.set_max_settled(1);
    assert!(layer.get(ids[1]).is_none());
    assert!(layer.get(ids[2]).is_some());
    assert_eq!((layer.len(), layer.settled()), (2, 1));
    // Everything still ends and leaves nothing behind.
    run_until(&mut layer, at(t0, 100) + Duration::from_secs(64));
    assert_eq!(layer.len(), 1, "the unanswered REGISTER is still live");
    assert_eq!(layer.settled(), 0);
    assert!(layer.settled_order.is_empty());
}

#[test]
fn a_burst_of_transactions_leaves_nothing_behind() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    for i in 0..2000 {
        let method = if i % 2 == 0 {
            Method::Invite
        } else {
            Method::Register
        };
        let req = request(method, &format!("z9hG4bKburst{i}"));
        layer.handle_request(at(t0, i), req.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        let code = if i % 3 == 0 { 200 } else { 404 };
        layer
            .respond(at(t0, i + 1), id, response(&req, code))
            .unwrap();
        drain(&mut layer);
    }
    assert_eq!(layer.len(), 2000);
    // As many chunks of slots as needed, none allocated beyond its size.
    let chunk = layer.table.chunk_slots();
    assert_eq!(layer.table.chunks().len(), 2000usize.div_ceil(chunk));
    assert!(layer.table.chunks().iter().all(|c| c.capacity() <= chunk));
    assert_eq!(layer.table_sizes().0, 2000);
    assert_eq!(layer.settled(), 2000);
    assert_eq!(layer.in_progress(), 0);
    run_until(&mut layer, at(t0, 2000) + Duration::from_secs(64));
    assert_eq!(layer.len(), 0);
    assert_eq!(layer.table_sizes(), (0, 0, 0));
    assert_eq!(layer.settled(), 0);
    assert!(layer.settled_order.is_empty());
}

#[test]
fn entries_are_small() {
    use std::mem::size_of;
    println!("slot: {}", size_of::<Option<Entry<()>>>());
    // The machine, plus the key (a boxed byte string), the boxed RFC
    // 2543 extra, the deadline and the serial; no tag for the slot.
    assert!(size_of::<Option<Entry<()>>>() <= size_of::<Transaction>() + 48);
    // A heap entry: deadline and slot.
    assert_eq!(size_of::<Reverse<(Instant, u32)>>(), 24);
}

fn rfc2543(method: Method) -> Request {
    let cancel = method == Method::Cancel;
    let mut req = request(method, "unused");
    req.headers
        .set(HeaderName::Via, "SIP/2.0/UDP pc33.atlanta.com;branch=1234");
    if cancel {
        req.headers.set(HeaderName::CSeq, "314159 CANCEL");
    }
    req
}

#[test]
fn rfc2543_invite_absorbs_the_ack_that_carries_its_to_tag() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let invite = rfc2543(Method::Invite);
    layer.handle_request(t0, invite.clone(), "peer", false);
    let id = request_id(&drain(&mut layer));
    // A retransmission matches on the RFC 2543 key.
    layer.handle_request(at(t0, 50), invite.clone(), "peer", false);
    assert!(drain(&mut layer).is_empty());
    let busy = response(&invite, 486);
    layer.respond(at(t0, 100), id, busy.clone()).unwrap();
    drain(&mut layer);
    // The key plus the alias for the ACK, which carries the To tag.
    assert_eq!(layer.table_sizes().0, 2);
    let mut ack = rfc2543(Method::Ack);
    ack.headers.set(HeaderName::CSeq, "314159 ACK");
    let mut stray = ack.clone();
    ack.headers.set(
        HeaderName::To,
        busy.headers.get(HeaderName::To).unwrap().clone(),
    );
    layer.handle_request(at(t0, 200), ack, "peer", false);
    assert!(drain(&mut layer).is_empty(), "absorbed by the transaction");
    assert_eq!(
        layer.get(id).map(|tx| match tx {
            Transaction::ServerInvite(tx) => tx.state(),
            _ => unreachable!(),
        }),
        Some(ServerInviteState::Confirmed)
    );
    // An ACK with another To tag is not this transaction's.
    stray
        .headers
        .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=other");
    layer.handle_request(at(t0, 300), stray, "peer", false);
    assert!(matches!(
        events(&drain(&mut layer))[..],
        [LayerEvent::Ack { .. }]
    ));
    run_until(&mut layer, at(t0, 60_000));
    assert_eq!(layer.len(), 0);
    assert_eq!(layer.table_sizes(), (0, 0, 0));
}

#[test]
fn rfc2543_invite_can_be_cancelled() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.handle_request(t0, rfc2543(Method::Invite), "peer", false);
    let id = request_id(&drain(&mut layer));
    layer.handle_request(at(t0, 10), rfc2543(Method::Cancel), "peer", false);
    let out = drain(&mut layer);
    assert_eq!(
        sent_statuses(&out),
        [(200, "CANCEL".into()), (487, "INVITE".into())]
    );
    assert!(events(&out).contains(&&LayerEvent::Cancelled { id }));
    // The 487 and the 200 carry the same To tag (§9.2).
    let tags: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            LayerOutput::Transmit {
                message: Message::Response(r),
                ..
            } => r.headers.to_tag(),
            _ => None,
        })
        .collect();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0], tags[1]);
    run_until(&mut layer, at(t0, 60_000));
    assert_eq!(layer.table_sizes(), (0, 0, 0));
}

#[test]
fn ids_are_never_reused_and_stale_ids_find_nothing() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let invite = request(Method::Invite, "z9hG4bKold");
    layer.handle_request(t0, invite.clone(), "peer", false);
    let old = request_id(&drain(&mut layer));
    // Its 100 Trying deadline stays in the heap after it ends.
    layer.transport_error(old);
    assert!(events(&drain(&mut layer)).contains(&&LayerEvent::Terminated { id: old }));
    assert!(layer.get(old).is_none());
    assert_eq!(layer.table_sizes(), (0, 0, 1));

    // The next transaction takes the freed slot, under a new id.
    let req = request(Method::Invite, "z9hG4bKnew");
    layer.handle_request(at(t0, 100), req.clone(), "peer", false);
    let new = request_id(&drain(&mut layer));
    assert_eq!(new.slot, old.slot);
    assert_ne!(new, old);
    assert!(old < new);
    assert_eq!(
        (old.to_string(), new.to_string()),
        ("tx1".into(), "tx2".into())
    );
    assert!(layer.get(old).is_none() && layer.peer(old).is_none());
    assert_eq!(
        layer.respond(at(t0, 150), old, response(&invite, 486)),
        Err(SendError::Terminated)
    );
    layer.transport_error(old);
    assert!(drain(&mut layer).is_empty());
    assert!(layer.get(new).is_some());
    // The stale deadline (200 ms) is skipped: the new transaction's is
    // 300 ms.
    assert_eq!(layer.poll_timeout(), Some(at(t0, 300)));
    let out = run_until(&mut layer, at(t0, 300));
    assert_eq!(sent_statuses(&out), [(100, "INVITE".into())]);
}

#[test]
fn client_keys_match_responses_exactly() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let invite = request(Method::Invite, "z9hG4bKsame");
    let cancel = request(Method::Cancel, "z9hG4bKsame");
    let i = layer
        .send_request(t0, invite.clone(), "hop", false)
        .unwrap();
    let c = layer
        .send_request(t0, cancel.clone(), "hop", false)
        .unwrap();
    drain(&mut layer);
    assert_eq!(layer.table_sizes().1, 2);
    // Same branch, told apart by the CSeq method (§17.1.3); the branch
    // compares ignoring case.
    let mut ok = response(&cancel, 200);
    ok.headers.set(
        HeaderName::Via,
        "SIP/2.0/UDP pc33.atlanta.com;branch=Z9HG4BKSAME",
    );
    layer.handle_response(at(t0, 5), ok);
    layer.handle_response(at(t0, 6), response(&invite, 487));
    let out = drain(&mut layer);
    let ids: Vec<_> = events(&out)
        .into_iter()
        .filter_map(|e| match e {
            LayerEvent::Response { id, response } => Some((*id, response.status.as_u16())),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [(c, 200), (i, 487)]);
}

/// A live transaction keeps owned copies of what it needs, never a
/// slice of the buffer its request (or the TU's response, built from
/// the request) was parsed from.
#[test]
fn live_transactions_keep_nothing_of_their_receive_buffers() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let parse = |buffer: &bytes::Bytes| match crate::message::parse_datagram(buffer.clone()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    };
    let text = |method: &str, branch: &str, cseq: &str| {
        bytes::Bytes::from(format!(
            "{method} sip:bob@biloxi.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP pc33.atlanta.com;branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             To: Bob <sip:bob@biloxi.com>\r\n\
             From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
             Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
             CSeq: {cseq} {method}\r\n\
             Timestamp: 54\r\n\
             Content-Length: 0\r\n\r\n"
        ))
    };
    let buffers = [
        text("INVITE", "z9hG4bKown1", "1"),
        text("REGISTER", "z9hG4bKown2", "2"),
        text("INVITE", "2543own", "3"),
        text("OPTIONS", "z9hG4bKown4", "4"),
        text("INVITE", "z9hG4bKown5", "5"),
        text("CANCEL", "z9hG4bKown5", "5"),
        text("INVITE", "z9hG4bKown7", "7"),
    ];
    for (i, buffer) in buffers.iter().enumerate() {
        layer.handle_request(t0, parse(buffer), "peer", false);
        let out = drain(&mut layer);
        let Some(id) = events(&out).into_iter().find_map(|e| match e {
            LayerEvent::Request { id, .. } => Some(*id),
            _ => None,
        }) else {
            continue;
        };
        drop(out);
        let req = parse(buffer);
        let answer = match i {
            0 => Some(180),
            1 | 2 => Some(486),
            _ => None,
        };
        if let Some(code) = answer {
            layer.respond(t0, id, response(&req, code)).unwrap();
            drain(&mut layer);
        }
    }
    assert_eq!(layer.len(), 7);
    for (i, buffer) in buffers.iter().enumerate() {
        assert!(
            buffer.is_unique(),
            "transaction {i} keeps its receive buffer"
        );
    }
    // They still answer from what they kept: the 180 to a
    // retransmission, the 100 Trying after 200 ms.
    layer.handle_request(at(t0, 100), parse(&buffers[0]), "peer", false);
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), [(180, "INVITE".into())]);
    let LayerOutput::Transmit {
        message: Message::Response(ringing),
        ..
    } = &out[0]
    else {
        unreachable!()
    };
    assert_eq!(ringing, &response(&parse(&buffers[0]), 180));
    let out = run_until(&mut layer, at(t0, 200));
    assert_eq!(sent_statuses(&out), [(100, "INVITE".into())]);
}

/// Every test above, with every key hashing to the same value: matching
/// must stay exact (every hit is confirmed against the stored key).
#[test]
fn matching_is_exact_when_every_hash_collides() {
    COLLIDING.set(true);
    new_request_goes_up_once_and_retransmissions_are_absorbed();
    invite_gets_100_trying_after_200ms_when_the_tu_is_silent();
    cancel_answers_200_and_487_and_tells_the_tu();
    cancel_without_a_matching_invite_gets_481();
    cancel_after_the_final_response_gets_200_only();
    ack_for_a_2xx_goes_to_the_tu();
    client_transaction_times_out_with_timer_f_and_is_removed();
    responses_reach_their_client_transaction_or_come_up_as_strays();
    requests_beyond_the_cap_get_503_with_retry_after();
    settled_transactions_do_not_count_toward_the_cap();
    settled_transactions_beyond_their_cap_end_oldest_first();
    a_burst_of_transactions_leaves_nothing_behind();
    rfc2543_invite_absorbs_the_ack_that_carries_its_to_tag();
    rfc2543_invite_can_be_cancelled();
    ids_are_never_reused_and_stale_ids_find_nothing();
    client_keys_match_responses_exactly();
    live_transactions_keep_nothing_of_their_receive_buffers();
    COLLIDING.set(false);
}

/// Whether handling `req` now gave a stateless 503.
fn shed(layer: &mut Layer, t: Instant, req: Request) -> bool {
    layer.handle_request(t, req, "peer", false);
    matches!(
        &drain(layer)[..],
        [LayerOutput::Reply { message: Message::Response(r), .. }]
            if r.status == StatusCode::SERVICE_UNAVAILABLE && r.headers.contains("Retry-After")
    )
}

#[test]
fn shedding_refuses_only_new_out_of_dialog_work() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let invite = request(Method::Invite, "z9hG4bKshed1");
    layer.handle_request(t0, invite.clone(), "peer", false);
    drain(&mut layer);
    layer.set_shedding(true);
    // New INVITE and REGISTER: refused, no transaction made.
    assert!(shed(
        &mut layer,
        t0,
        request(Method::Invite, "z9hG4bKshed2")
    ));
    assert!(shed(
        &mut layer,
        t0,
        request(Method::Register, "z9hG4bKshed3")
    ));
    assert_eq!((layer.len(), layer.refused()), (1, 2));
    // A retransmission of the INVITE admitted before is absorbed as ever.
    assert!(!shed(&mut layer, t0, invite));
    // OPTIONS, CANCEL and requests inside a dialog are served.
    assert!(!shed(
        &mut layer,
        t0,
        request(Method::Options, "z9hG4bKshed4")
    ));
    assert!(!shed(
        &mut layer,
        t0,
        request(Method::Cancel, "z9hG4bKshed1")
    ));
    let mut bye = request(Method::Bye, "z9hG4bKshed5");
    bye.headers
        .set(HeaderName::To, "Bob <sip:bob@biloxi.com>;tag=b1");
    assert!(!shed(&mut layer, t0, bye));
    assert_eq!(layer.refused(), 2);
    // Shedding off: new work is taken again.
    layer.set_shedding(false);
    assert!(!shed(
        &mut layer,
        t0,
        request(Method::Invite, "z9hG4bKshed6")
    ));
}

#[test]
fn tables_give_memory_back_after_a_peak() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    let peak = 5 * layer.table.chunk_slots() as u64;
    for i in 0..peak {
        let req = request(Method::Register, &format!("z9hG4bKpeak{i}"));
        layer.handle_request(at(t0, i), req.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        layer.respond(at(t0, i), id, response(&req, 200)).unwrap();
        drain(&mut layer);
    }
    let at_peak = layer.capacity();
    // Nothing to give back at the peak.
    layer.shrink();
    assert_eq!(layer.capacity(), at_peak);
    // The peak ends, a trickle goes on: live entries move to the low
    // slots as the high ones empty, and the tables shrink.
    let mut t = at(t0, peak) + Duration::from_secs(64);
    run_until(&mut layer, t);
    assert_eq!(layer.len(), 0);
    for i in 0..50 {
        layer.shrink();
        let req = request(Method::Register, &format!("z9hG4bKtrickle{i}"));
        layer.handle_request(t, req.clone(), "peer", false);
        let id = request_id(&drain(&mut layer));
        layer.respond(t, id, response(&req, 200)).unwrap();
        drain(&mut layer);
        t += Duration::from_secs(1);
        drain(&mut layer);
        run_until(&mut layer, t);
    }
    layer.shrink();
    let after = layer.capacity();
    assert!(
        after * 10 < at_peak,
        "capacity {at_peak} at the peak, {after} after"
    );
    assert!(layer.table.chunks().len() <= 1);
}

/// A request answered 200 at `now`: the request and its transaction.
fn answered(
    layer: &mut Layer,
    now: Instant,
    method: Method,
    branch: &str,
) -> (Request, TransactionId) {
    let req = request(method, branch);
    layer.handle_request(now, req.clone(), "peer", false);
    let id = request_id(&drain(layer));
    layer.respond(now, id, response(&req, 200)).unwrap();
    drain(layer);
    (req, id)
}

/// A layer that has taken `peak` REGISTERs at once and answered them 200
/// (settled until Timer J, 32 s later), and when.
fn after_a_peak(peak: usize) -> (Layer, Instant) {
    let t0 = Instant::now();
    let mut layer = new_layer();
    for i in 0..peak {
        answered(&mut layer, t0, Method::Register, &format!("z9hG4bKpeak{i}"));
    }
    (layer, t0)
}

#[test]
fn settled_transactions_left_high_after_a_peak_move_down_and_still_work() {
    // A peak's transactions take the first 2000 slots; 20 s later a
    // trickle takes the next 40, above them.
    let (mut layer, t0) = after_a_peak(2000);
    let late_at = at(t0, 20_000);
    let late: Vec<_> = (0..40)
        .map(|i| {
            answered(
                &mut layer,
                late_at,
                Method::Options,
                &format!("z9hG4bKlate{i}"),
            )
        })
        .collect();
    assert!(late.iter().all(|(_, id)| id.slot >= 2000));
    // The peak ends (Timer J); the trickle lives on for 19 s more, high
    // in the chunk.
    run_until(&mut layer, at(t0, 33_000));
    assert_eq!((layer.len(), layer.settled()), (40, 40));
    let before = layer.table.chunks()[0].capacity();
    layer.shrink();
    let after = layer.table.chunks()[0].capacity();
    assert!(
        before >= 2040 && after <= 64,
        "chunk capacity {before} before, {after} after"
    );
    assert!(late.iter().all(|(_, id)| layer.get(*id).is_none()), "moved");
    assert_eq!((layer.len(), layer.settled()), (40, 40));
    // A moved transaction still absorbs its request's retransmission.
    layer.handle_request(at(t0, 34_000), late[7].0.clone(), "peer", false);
    assert_eq!(sent_statuses(&drain(&mut layer)), [(200, "OPTIONS".into())]);
    assert_eq!(layer.absorbed(), 1);
    // The settled cap still finds the oldest of them.
    layer.set_max_settled(39);
    let out = drain(&mut layer);
    assert!(
        matches!(events(&out)[..], [LayerEvent::Terminated { .. }]),
        "{out:?}"
    );
    assert_eq!((layer.len(), layer.settled()), (39, 39));
    // Timer J ends the rest on time, and they leave nothing behind.
    let out = run_until(&mut layer, at(late_at, 31_999));
    assert!(events(&out).is_empty(), "{out:?}");
    let out = run_until(&mut layer, at(late_at, 33_000));
    let ended = events(&out)
        .iter()
        .filter(|e| matches!(e, LayerEvent::Terminated { .. }))
        .count();
    assert_eq!(ended, 39);
    assert_eq!((layer.len(), layer.settled()), (0, 0));
    assert!(layer.settled_order.is_empty());
}

#[test]
fn transactions_filling_more_than_half_their_slots_stay_put() {
    // 100 end at 32 s; the 101 that came 20 s later fill 101 of the 201
    // slots in use: packing them would free less than half.
    let (mut layer, t0) = after_a_peak(100);
    let later: Vec<_> = (0..101)
        .map(|i| {
            answered(
                &mut layer,
                at(t0, 20_000),
                Method::Options,
                &format!("z9hG4bKl{i}"),
            )
            .1
        })
        .collect();
    run_until(&mut layer, at(t0, 33_000));
    assert_eq!(layer.len(), 101);
    layer.shrink();
    assert!(
        later.iter().all(|id| layer.get(*id).is_some()),
        "none moved"
    );
    // One more ends early (the settled cap): now they are sparse.
    layer.set_max_settled(100);
    drain(&mut layer);
    layer.shrink();
    assert!(
        later[1..].iter().all(|id| layer.get(*id).is_none()),
        "all moved"
    );
    assert_eq!(layer.len(), 100);
}

#[test]
fn only_settled_non_invite_server_transactions_move() {
    let (mut layer, t0) = after_a_peak(100);
    // 20 s later: an INVITE answered 200 (Accepted: its TU may still name
    // it), a request not answered yet, and a settled OPTIONS.
    let late_at = at(t0, 20_000);
    let (_, invite) = answered(&mut layer, late_at, Method::Invite, "z9hG4bKinv");
    let pending_req = request(Method::Message, "z9hG4bKmsg");
    layer.handle_request(late_at, pending_req.clone(), "peer", false);
    let pending = request_id(&drain(&mut layer));
    let (_, options) = answered(&mut layer, late_at, Method::Options, "z9hG4bKopt");
    run_until(&mut layer, at(t0, 33_000));
    assert_eq!(layer.len(), 3);
    layer.shrink();
    assert!(layer.get(options).is_none(), "the OPTIONS moved");
    assert!(layer.get(invite).is_some());
    assert!(layer.get(pending).is_some());
    layer
        .respond(at(t0, 34_000), pending, response(&pending_req, 200))
        .unwrap();
    assert_eq!(sent_statuses(&drain(&mut layer)), [(200, "MESSAGE".into())]);
}

#[test]
fn shedding_drops_unreliable_requests_beyond_the_refusal_budget() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.set_refusals_per_second(3);
    layer.set_shedding(true);
    let answered = (0..10)
        .filter(|i| {
            shed(
                &mut layer,
                t0,
                request(Method::Invite, &format!("z9hG4bKbudget{i}")),
            )
        })
        .count();
    assert_eq!((answered, layer.refused(), layer.dropped()), (3, 3, 7));
    assert_eq!(layer.len(), 0);
    // A stream peer gets its 503 whatever the budget.
    layer.handle_request(
        t0,
        request(Method::Invite, "z9hG4bKbudget-tcp"),
        "peer",
        true,
    );
    assert!(matches!(
        &drain(&mut layer)[..],
        [LayerOutput::Reply { message: Message::Response(r), .. }]
            if r.status == StatusCode::SERVICE_UNAVAILABLE
    ));
    // The budget refills with time.
    let later = t0 + Duration::from_secs(1);
    assert!(shed(
        &mut layer,
        later,
        request(Method::Invite, "z9hG4bKbudget-later")
    ));
}

#[test]
fn the_backlog_counts_requests_the_tu_has_not_answered() {
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.handle_request(t0, request(Method::Invite, "z9hG4bKback1"), "peer", false);
    let invite = request_id(&drain(&mut layer));
    layer.handle_request(t0, request(Method::Register, "z9hG4bKback2"), "peer", false);
    let register = request_id(&drain(&mut layer));
    assert_eq!(layer.awaiting_tu(), 2);
    // The layer's own 100 Trying (after 200 ms) is not an answer.
    layer.handle_timeout(t0 + Duration::from_millis(250));
    drain(&mut layer);
    assert_eq!(layer.awaiting_tu(), 2);
    // A 180 is: the TU is ringing, not behind.
    let ringing = response(&request(Method::Invite, "z9hG4bKback1"), 180);
    layer.respond(t0, invite, ringing).unwrap();
    assert_eq!(layer.awaiting_tu(), 1);
    let ok = response(&request(Method::Register, "z9hG4bKback2"), 200);
    layer.respond(t0, register, ok).unwrap();
    assert_eq!(layer.awaiting_tu(), 0);
    // A new one counts until answered.
    layer.handle_request(t0, request(Method::Message, "z9hG4bKback3"), "peer", true);
    drain(&mut layer);
    assert_eq!(layer.awaiting_tu(), 1);
}

/// The events `out` holds for transaction `id`.
fn events_of(
    out: &[LayerOutput<&'static str>],
    id: TransactionId,
) -> Vec<LayerEvent<&'static str>> {
    events(out)
        .into_iter()
        .filter(|e| match e {
            LayerEvent::Response { id: i, .. }
            | LayerEvent::Timeout { id: i, .. }
            | LayerEvent::TransportError { id: i }
            | LayerEvent::Terminated { id: i } => *i == id,
            _ => false,
        })
        .cloned()
        .collect()
}

/// A client transaction over a reliable transport, its request sent.
fn reliable_client(layer: &mut Layer, t0: Instant, method: Method, branch: &str) -> TransactionId {
    let id = layer
        .send_request(t0, request(method, branch), "hop", true)
        .unwrap();
    drain(layer);
    id
}

#[test]
fn a_closing_connection_fails_the_client_transactions_sent_over_it() {
    use crate::transport::ConnectionId;
    let t0 = Instant::now();
    let mut layer = new_layer();
    let (x, y) = (ConnectionId(1), ConnectionId(2));
    let message = reliable_client(&mut layer, t0, Method::Message, "z9hG4bKx1");
    let invite = reliable_client(&mut layer, t0, Method::Invite, "z9hG4bKx2");
    let other = reliable_client(&mut layer, t0, Method::Message, "z9hG4bKy1");
    let udp = layer
        .send_request(t0, request(Method::Message, "z9hG4bKudp"), "hop", false)
        .unwrap();
    drain(&mut layer);
    layer.sent_over(message, x);
    layer.sent_over(invite, x);
    layer.sent_over(other, y);
    // A provisional does not end the wait: the INVITE still fails.
    layer.handle_response(
        at(t0, 5),
        response(&request(Method::Invite, "z9hG4bKx2"), 180),
    );
    drain(&mut layer);

    // §17.1.4: X closed, so both of its transactions fail at once, as
    // if the send had failed, and end.
    assert_eq!(layer.connection_closed(x), 2);
    let out = drain(&mut layer);
    for id in [message, invite] {
        assert_eq!(
            events_of(&out, id),
            [
                LayerEvent::TransportError { id },
                LayerEvent::Terminated { id }
            ]
        );
        assert!(layer.get(id).is_none());
    }
    // Y's transaction and the UDP one do not notice.
    for id in [other, udp] {
        assert!(events_of(&out, id).is_empty());
        assert!(layer.get(id).is_some());
    }
    assert_eq!(layer.awaited_connections(), [y]);
    // Closing X again, or a connection nothing went over, changes nothing.
    assert_eq!(layer.connection_closed(x), 0);
    assert_eq!(layer.connection_closed(ConnectionId(3)), 0);
    assert!(drain(&mut layer).is_empty());
    assert_eq!(layer.len(), 2);
}

#[test]
fn a_closing_connection_leaves_transactions_with_their_final_response_alone() {
    use crate::transport::ConnectionId;
    let t0 = Instant::now();
    let mut layer = new_layer();
    let conn = ConnectionId(9);
    let req = request(Method::Invite, "z9hG4bKacc");
    let invite = reliable_client(&mut layer, t0, Method::Invite, "z9hG4bKacc");
    layer.sent_over(invite, conn);
    // The 2xx arrives: the INVITE client transaction waits in Accepted
    // (Timer M, RFC 6026) for retransmissions of it, over any transport.
    layer.handle_response(at(t0, 10), response(&req, 200));
    drain(&mut layer);
    assert!(layer.get(invite).is_some_and(Transaction::is_settled));
    assert!(layer.awaited_connections().is_empty());
    // Recording it once settled does not index it either.
    layer.sent_over(invite, conn);
    assert!(layer.awaited_connections().is_empty());
    assert_eq!(layer.connection_closed(conn), 0);
    assert!(drain(&mut layer).is_empty());
    assert!(layer.get(invite).is_some());
}

#[test]
fn server_transactions_are_not_failed_by_a_closing_connection() {
    use crate::transport::ConnectionId;
    let t0 = Instant::now();
    let mut layer = new_layer();
    layer.handle_request(t0, request(Method::Message, "z9hG4bKsrv"), "peer", true);
    let id = request_id(&drain(&mut layer));
    layer.sent_over(id, ConnectionId(4));
    assert_eq!(layer.connection_closed(ConnectionId(4)), 0);
    assert!(drain(&mut layer).is_empty());
    assert!(layer.get(id).is_some());
}

#[test]
fn the_connection_index_empties_as_transactions_end() {
    use crate::transport::ConnectionId;
    let t0 = Instant::now();
    let mut layer = new_layer();
    for i in 0..100u64 {
        let branch = format!("z9hG4bKidx{i}");
        let method = if i % 2 == 0 {
            Method::Invite
        } else {
            Method::Message
        };
        let req = request(method.clone(), &branch);
        let id = reliable_client(&mut layer, t0, method, &branch);
        layer.sent_over(id, ConnectionId(i % 3));
        if i % 4 != 3 {
            layer.handle_response(at(t0, i), response(&req, 200));
        }
    }
    drain(&mut layer);
    // Answered ones left the index at once; the rest time out.
    assert_eq!(layer.connections.len(), 25);
    run_until(&mut layer, at(t0, 200_000));
    assert_eq!(layer.len(), 0);
    assert_eq!(layer.connections.len(), 0);
    assert!(layer.awaited_connections().is_empty());
    assert_eq!(layer.table_sizes(), (0, 0, 0));
}
