//! Reliable provisional responses (RFC 3262) as sans-IO state, both sides.
//!
//! * [`ReliableProvisionals`]: the UAS's reliable 1xx to one INVITE: RSeq
//!   numbering, one unacknowledged response at a time (§3), retransmission
//!   at T1 doubling until the PRACK, the 64·T1 give-up, and matching PRACKs
//!   by their RAck.
//! * [`ReliableReceiver`]: the UAC's view: which provisional responses are
//!   reliable and new, and the RAck of the PRACK each one needs (§4).

use crate::message::typed::{RAck, RSeq};
use crate::message::{HeaderName, Method, Request, Response, Text};
use crate::transaction::TimerConfig;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The option tag of RFC 3262 (§10).
pub const TAG_100REL: &str = "100rel";

/// Something a [`ReliableProvisionals`] asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReliableOutput {
    /// Pass this response (a first sending or a retransmission) to the
    /// INVITE's server transaction.
    Send(Response),
    /// A reliable provisional response went unacknowledged for 64·T1: "the
    /// UAS SHOULD reject the original request with a 5xx response"
    /// (RFC 3262 §3). Nothing else is sent after it.
    GiveUp,
}

/// A PRACK that matched no unacknowledged provisional response: "the UAS
/// MUST respond to the PRACK with a 481" (RFC 3262 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMatch;

/// What a matching PRACK acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledged {
    /// The RSeq of the provisional response.
    pub rseq: u32,
    /// Whether this PRACK is a retransmission of one already matched
    /// (answered `200` again, RFC 3262 §3 matches it all the same).
    pub again: bool,
    /// Whether the provisional response carried a body (an SDP offer or
    /// answer, RFC 3262 §5).
    pub had_body: bool,
}

/// The reliable provisional response awaiting its PRACK.
#[derive(Debug, Clone)]
struct Unacked {
    response: Response,
    rseq: u32,
    /// The next retransmission (none on a reliable transport).
    retransmit_at: Option<Instant>,
    interval: Duration,
    give_up_at: Option<Instant>,
}

/// The UAS side of RFC 3262 for one INVITE.
///
/// [`send`](Self::send) stamps a provisional response with `RSeq` and
/// `Require: 100rel` and queues it; [`poll_output`](Self::poll_output)
/// yields it when it may go (§3: "the UAS MUST NOT send a second reliable
/// provisional response until the first is acknowledged") and yields its
/// retransmissions as [`handle_timeout`](Self::handle_timeout) finds them
/// due: "an interval that starts at T1 seconds and doubles for each
/// retransmission" (§3, with no T2 cap), only on an unreliable transport.
/// [`handle_prack`](Self::handle_prack) matches a PRACK's RAck to the
/// response (its RSeq, the INVITE's CSeq number and method).
#[derive(Debug, Clone)]
pub struct ReliableProvisionals {
    invite_seq: u32,
    /// The RSeq the next response gets.
    next_rseq: u32,
    t1: Duration,
    reliable_transport: bool,
    unacked: Option<Unacked>,
    queue: VecDeque<(u32, Response)>,
    /// The RSeq values acknowledged so far, for retransmitted PRACKs.
    acked: Vec<u32>,
    /// Bodies of the acknowledged responses, by position in `acked`.
    acked_body: Vec<bool>,
    out: VecDeque<ReliableOutput>,
    stopped: bool,
}

impl ReliableProvisionals {
    /// For the INVITE with CSeq number `invite_seq`, over a reliable
    /// transport or not. The first RSeq is random "between 1 and 2**31 - 1"
    /// (RFC 3262 §3).
    pub fn new(invite_seq: u32, timers: &TimerConfig, reliable_transport: bool) -> Self {
        let first = (crate::random::u64() % (u64::from(u32::MAX >> 1) - 1)) as u32 + 1;
        Self::starting_at(invite_seq, timers, reliable_transport, first)
    }

    /// As [`new`](Self::new), with the first RSeq given (tests).
    pub fn starting_at(
        invite_seq: u32,
        timers: &TimerConfig,
        reliable_transport: bool,
        first_rseq: u32,
    ) -> Self {
        ReliableProvisionals {
            invite_seq,
            next_rseq: first_rseq.max(1),
            t1: timers.t1.max(Duration::from_millis(1)),
            reliable_transport,
            unacked: None,
            queue: VecDeque::new(),
            acked: Vec::new(),
            acked_body: Vec::new(),
            out: VecDeque::new(),
            stopped: false,
        }
    }

    /// Queues provisional response `resp` (101–199) to go reliably: it
    /// gets the next `RSeq` and `Require: 100rel`, and is sent at once
    /// unless another is unacknowledged. Returns its RSeq, or `None` (and
    /// sends nothing) for a `100`, which is never sent reliably (§3), or
    /// once stopped.
    pub fn send(&mut self, mut resp: Response, now: Instant) -> Option<u32> {
        if self.stopped || !resp.status.is_provisional() || resp.status.as_u16() == 100 {
            return None;
        }
        if !resp.headers.lists(HeaderName::Require, TAG_100REL) {
            resp.headers.append(HeaderName::Require, TAG_100REL);
        }
        // §3: "Each subsequent reliable provisional response for the same
        // transaction MUST contain an RSeq value one higher".
        let rseq = self.next_rseq;
        self.next_rseq = self.next_rseq.wrapping_add(1).max(1);
        resp.headers.set_typed(&RSeq(rseq));
        self.queue.push_back((rseq, resp));
        self.next_in_line(now);
        Some(rseq)
    }

    /// Sends the next queued response if none is unacknowledged.
    fn next_in_line(&mut self, now: Instant) {
        if self.unacked.is_some() || self.stopped {
            return;
        }
        let Some((rseq, resp)) = self.queue.pop_front() else {
            return;
        };
        self.out.push_back(ReliableOutput::Send(resp.clone()));
        self.unacked = Some(Unacked {
            response: resp,
            rseq,
            retransmit_at: (!self.reliable_transport)
                .then(|| now.checked_add(self.t1))
                .flatten(),
            interval: self.t1,
            give_up_at: now.checked_add(self.t1.saturating_mul(64)),
        });
    }

    /// Matches `prack` (its RAck) against the responses sent. A match
    /// stops the retransmissions and lets the next queued response go.
    pub fn handle_prack(&mut self, prack: &Request, now: Instant) -> Result<Acknowledged, NoMatch> {
        let Some(Ok(rack)) = prack.headers.typed::<RAck>() else {
            return Err(NoMatch);
        };
        if rack.cseq != self.invite_seq || rack.method != Method::Invite {
            return Err(NoMatch);
        }
        if let Some(i) = self.acked.iter().position(|&r| r == rack.rseq) {
            return Ok(Acknowledged {
                rseq: rack.rseq,
                again: true,
                had_body: self.acked_body[i],
            });
        }
        match &self.unacked {
            Some(u) if u.rseq == rack.rseq => {
                let had_body = !u.response.body.is_empty();
                self.acked.push(u.rseq);
                self.acked_body.push(had_body);
                self.unacked = None;
                self.next_in_line(now);
                Ok(Acknowledged {
                    rseq: rack.rseq,
                    again: false,
                    had_body,
                })
            }
            _ => Err(NoMatch),
        }
    }

    /// Whether a response with a body (an SDP offer or answer) awaits its
    /// PRACK or its turn: "the UAS MUST NOT send a final response
    /// until those provisional responses are acknowledged" (§3), for a 2xx.
    pub fn body_unacknowledged(&self) -> bool {
        !self.stopped
            && (self
                .unacked
                .as_ref()
                .is_some_and(|u| !u.response.body.is_empty())
                || self.queue.iter().any(|(_, r)| !r.body.is_empty()))
    }

    /// Whether every response sent has been acknowledged and none waits.
    pub fn is_idle(&self) -> bool {
        self.unacked.is_none() && self.queue.is_empty()
    }

    /// Whether any reliable provisional response has been sent.
    pub fn any_sent(&self) -> bool {
        self.unacked.is_some() || !self.acked.is_empty()
    }

    /// The INVITE has its final response: no more sending (§3: a final
    /// response ends the provisional responses' retransmission). A late
    /// PRACK for the last response still matches.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.queue.clear();
        if let Some(u) = &mut self.unacked {
            u.retransmit_at = None;
            u.give_up_at = None;
        }
    }

    /// The next instant something is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let u = self.unacked.as_ref()?;
        match (u.retransmit_at, u.give_up_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(u) = &mut self.unacked else {
            return;
        };
        if u.give_up_at.is_some_and(|t| t <= now) {
            tracing::debug!(rseq = u.rseq, "reliable provisional never acknowledged");
            self.out.push_back(ReliableOutput::GiveUp);
            self.stop();
            return;
        }
        if let Some(at) = u.retransmit_at
            && at <= now
        {
            u.interval = u.interval.saturating_mul(2);
            u.retransmit_at = now.checked_add(u.interval);
            self.out.push_back(ReliableOutput::Send(u.response.clone()));
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<ReliableOutput> {
        self.out.pop_front()
    }
}

/// How a UAC takes a provisional response (RFC 3262 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reception {
    /// Not a reliable provisional response: handled as RFC 3261 says.
    Unreliable,
    /// A new reliable provisional response: pass it up and send a PRACK
    /// with this RAck.
    New(RAck),
    /// A retransmission, or one out of order: "MUST NOT be acknowledged
    /// with a PRACK, and MUST NOT be processed further" (§4).
    Discard,
}

/// The UAC side of RFC 3262 for one INVITE: the last RSeq seen from each
/// early dialog (each To tag, as forks number their responses apart).
#[derive(Debug, Clone, Default)]
pub struct ReliableReceiver {
    last: Vec<(Text, u32)>,
}

impl ReliableReceiver {
    /// A receiver with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes provisional response `resp` to our INVITE with CSeq number
    /// `invite_seq`.
    pub fn receive(&mut self, resp: &Response, invite_seq: u32) -> Reception {
        // §4: reliable when it has Require: 100rel and an RSeq; a 100 is
        // never reliable.
        if !resp.status.is_provisional()
            || resp.status.as_u16() == 100
            || !resp.headers.lists(HeaderName::Require, TAG_100REL)
        {
            return Reception::Unreliable;
        }
        let Some(Ok(RSeq(rseq))) = resp.headers.typed::<RSeq>() else {
            return Reception::Unreliable;
        };
        let tag = resp.headers.to_tag().unwrap_or_default();
        match self.last.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, last)) if rseq == last.wrapping_add(1) => *last = rseq,
            Some(_) => return Reception::Discard,
            None => self.last.push((Text::from(tag.as_str().to_owned()), rseq)),
        }
        Reception::New(RAck {
            rseq,
            cseq: invite_seq,
            method: Method::Invite,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, StatusCode, parse_datagram};

    fn invite() -> Request {
        let text = "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
            Max-Forwards: 70\r\n\
            To: <sip:bob@192.0.2.4>\r\n\
            From: <sip:alice@192.0.2.1>;tag=a\r\n\
            Call-ID: c1\r\n\
            CSeq: 7 INVITE\r\n\
            Supported: 100rel\r\n\
            Contact: <sip:alice@192.0.2.1>\r\n\
            Content-Length: 0\r\n\r\n";
        match parse_datagram(text.into()).unwrap() {
            Message::Request(r) => r,
            _ => unreachable!(),
        }
    }

    fn prack(rack: &str) -> Request {
        let text = format!(
            "PRACK sip:bob@192.0.2.4 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp\r\n\
            Max-Forwards: 70\r\n\
            To: <sip:bob@192.0.2.4>;tag=b\r\n\
            From: <sip:alice@192.0.2.1>;tag=a\r\n\
            Call-ID: c1\r\n\
            CSeq: 8 PRACK\r\n\
            RAck: {rack}\r\n\
            Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(text.into()).unwrap() {
            Message::Request(r) => r,
            _ => unreachable!(),
        }
    }

    fn sent(r: &mut ReliableProvisionals) -> Vec<ReliableOutput> {
        std::iter::from_fn(|| r.poll_output()).collect()
    }

    fn rseq_of(out: &ReliableOutput) -> u32 {
        match out {
            ReliableOutput::Send(r) => r.headers.typed::<RSeq>().unwrap().unwrap().0,
            ReliableOutput::GiveUp => panic!("gave up"),
        }
    }

    #[test]
    fn numbering_queueing_and_prack_matching() {
        let t0 = Instant::now();
        let timers = TimerConfig::default();
        let mut r = ReliableProvisionals::starting_at(7, &timers, false, 10);
        let inv = invite();
        assert_eq!(r.send(inv.reply(StatusCode::TRYING), t0), None);
        assert_eq!(r.send(inv.reply(StatusCode::RINGING), t0), Some(10));
        assert_eq!(
            r.send(inv.reply(StatusCode::SESSION_PROGRESS), t0),
            Some(11)
        );
        // Only the first goes until it is acknowledged.
        let out = sent(&mut r);
        assert_eq!(out.len(), 1);
        assert_eq!(rseq_of(&out[0]), 10);
        let ReliableOutput::Send(first) = &out[0] else {
            unreachable!()
        };
        assert!(first.headers.lists(HeaderName::Require, "100rel"));
        assert_eq!(r.handle_prack(&prack("11 7 INVITE"), t0), Err(NoMatch));
        assert_eq!(r.handle_prack(&prack("10 6 INVITE"), t0), Err(NoMatch));
        assert_eq!(r.handle_prack(&prack("10 7 BYE"), t0), Err(NoMatch));
        let ack = r.handle_prack(&prack("10 7 INVITE"), t0).unwrap();
        assert!(!ack.again && ack.rseq == 10);
        let out = sent(&mut r);
        assert_eq!(out.len(), 1);
        assert_eq!(rseq_of(&out[0]), 11);
        // A retransmitted PRACK still matches.
        assert!(r.handle_prack(&prack("10 7 INVITE"), t0).unwrap().again);
        assert!(!r.is_idle());
        r.handle_prack(&prack("11 7 INVITE"), t0).unwrap();
        assert!(r.is_idle());
    }

    #[test]
    fn retransmits_at_t1_doubling_without_cap_then_gives_up() {
        let t0 = Instant::now();
        let timers = TimerConfig::default();
        let t1 = timers.t1;
        let mut r = ReliableProvisionals::starting_at(7, &timers, false, 1);
        r.send(invite().reply(StatusCode::RINGING), t0);
        assert_eq!(sent(&mut r).len(), 1);
        let mut at = t0;
        let mut gaps = Vec::new();
        loop {
            let next = r.poll_timeout().unwrap();
            gaps.push(next - at);
            at = next;
            r.handle_timeout(at);
            let out = sent(&mut r);
            assert_eq!(out.len(), 1);
            if out[0] == ReliableOutput::GiveUp {
                break;
            }
        }
        // T1, 2T1, 4T1, 8T1, 16T1 (past T2: no cap), then 32T1 would pass
        // 64T1: the give-up comes at 64T1 after the first sending.
        assert_eq!(&gaps[..5], &[t1, 2 * t1, 4 * t1, 8 * t1, 16 * t1]);
        assert_eq!(at - t0, 64 * t1);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn reliable_transport_only_gives_up() {
        let t0 = Instant::now();
        let timers = TimerConfig::default();
        let mut r = ReliableProvisionals::starting_at(7, &timers, true, 1);
        r.send(invite().reply(StatusCode::RINGING), t0);
        sent(&mut r);
        assert_eq!(r.poll_timeout(), Some(t0 + 64 * timers.t1));
    }

    #[test]
    fn bodies_hold_back_the_2xx_and_stop_ends_sending() {
        let t0 = Instant::now();
        let timers = TimerConfig::default();
        let mut r = ReliableProvisionals::starting_at(7, &timers, false, 1);
        let mut resp = invite().reply(StatusCode::SESSION_PROGRESS);
        resp.body = bytes::Bytes::from_static(b"v=0\r\n");
        r.send(resp, t0);
        assert!(r.body_unacknowledged());
        r.stop();
        assert!(!r.body_unacknowledged());
        assert_eq!(r.poll_timeout(), None);
        sent(&mut r);
        // A late PRACK still matches the last response.
        assert!(r.handle_prack(&prack("1 7 INVITE"), t0).unwrap().had_body);
    }

    #[test]
    fn the_uac_acknowledges_each_new_reliable_response_once() {
        let inv = invite();
        let mut rx = ReliableReceiver::new();
        let plain = inv.reply(StatusCode::RINGING);
        assert_eq!(rx.receive(&plain, 7), Reception::Unreliable);
        let reliable = |rseq: u32, tag: &str| {
            let mut r = inv.reply(StatusCode::RINGING);
            r.headers.append(HeaderName::Require, "100rel");
            r.headers.append(HeaderName::RSeq, rseq.to_string());
            r.headers
                .set(HeaderName::To, format!("<sip:bob@192.0.2.4>;tag={tag}"));
            r
        };
        let Reception::New(rack) = rx.receive(&reliable(5, "x"), 7) else {
            panic!()
        };
        assert_eq!(rack.to_string(), "5 7 INVITE");
        assert_eq!(rx.receive(&reliable(5, "x"), 7), Reception::Discard);
        assert_eq!(rx.receive(&reliable(7, "x"), 7), Reception::Discard);
        assert!(matches!(
            rx.receive(&reliable(6, "x"), 7),
            Reception::New(_)
        ));
        // Another fork numbers its own.
        assert!(matches!(
            rx.receive(&reliable(900, "y"), 7),
            Reception::New(_)
        ));
    }
}
