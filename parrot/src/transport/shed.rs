//! Shedding at receipt: the cheapest place an overloaded server can turn
//! new work away (RFC 6357 §3), before any transaction or dialog state is
//! made for it, and before it waits in a queue.
//!
//! Sans-IO: given a received request, whether new work is being shed and
//! the time, [`Shedder::verdict`] says whether to pass it on, refuse it
//! with `503` + `Retry-After` (RFC 3261 §21.5.4), or drop it. Refusals are
//! budgeted: under a flood several times what the server can serve, a
//! `503` for every excess request (and the work of absorbing its ACK)
//! would cost the capacity the server is protecting, so beyond the budget
//! new requests are dropped unanswered and counted; peers retransmitting
//! them meet the budget again.

use crate::message::{Method, Request, Response};
use crate::rate::TokenBucket;
use std::time::Instant;

/// What to do with a received request.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Pass it on.
    Pass,
    /// Answer it with this `503` and go no further.
    Refuse(Box<Response>),
    /// Drop it unanswered.
    Drop,
}

/// The shedding decision of one receive path, with its refusal budget.
#[derive(Debug, Clone)]
pub(crate) struct Shedder {
    budget: TokenBucket,
    retry_after: u32,
    stateless_tag: &'static str,
}

impl Shedder {
    /// A shedder sending at most `per_second` refusals a second, each with
    /// `Retry-After: retry_after`.
    pub(crate) fn new(per_second: u32, retry_after: u32) -> Self {
        Shedder {
            budget: TokenBucket::new(per_second),
            retry_after,
            stateless_tag: crate::random::stateless_tag(),
        }
    }

    /// Whether a refusal could be sent at `now` (the budget is not spent).
    pub(crate) fn can_refuse(&mut self, now: Instant) -> bool {
        self.budget.available(now)
    }

    /// The fate of `request`, received at `now` while new work is shed
    /// (`shedding`) or not.
    pub(crate) fn verdict(&mut self, request: &Request, shedding: bool, now: Instant) -> Verdict {
        if request.method == Method::Ack {
            // §17.2.1: the ACK of a non-2xx final response belongs to its
            // transaction; a stateless refusal has none, so its ACK (it
            // carries the refusal's To tag back) needs no further work.
            if request.headers.to_tag().as_deref() == Some(self.stateless_tag) {
                return Verdict::Drop;
            }
            return Verdict::Pass;
        }
        if !shedding || !request.starts_new_work() {
            return Verdict::Pass;
        }
        if self.budget.take(now) {
            Verdict::Refuse(Box::new(
                request.service_unavailable(self.retry_after, self.stateless_tag),
            ))
        } else {
            Verdict::Drop
        }
    }
}

/// Whether a raw datagram is, without doubt, a new request that starts
/// work (what [`Request::starts_new_work`] says of it once parsed): its
/// request line names a method other than ACK, CANCEL and OPTIONS, and its
/// one To header (full or compact name, §7.3.3) has no `tag` parameter.
/// A few hundred bytes scanned instead of a full parse, for what a flood
/// sheds without answering; anything unusual (folded lines, two To
/// headers, no To) says false and takes the full path.
pub(crate) fn is_plainly_new_work(data: &[u8]) -> bool {
    let Some(sp) = data.iter().position(|&b| b == b' ') else {
        return false;
    };
    let method = &data[..sp];
    if method.is_empty()
        || !method.iter().all(u8::is_ascii_uppercase)
        || matches!(method, b"ACK" | b"CANCEL" | b"OPTIONS")
    {
        return false;
    }
    let head_end = memchr::memmem::find(data, b"\r\n\r\n").unwrap_or(data.len());
    let mut to = None;
    for line in data[..head_end].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            // A folded line could continue the To header.
            return false;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii_end();
        if name.eq_ignore_ascii_case(b"to") || name.eq_ignore_ascii_case(b"t") {
            if to.is_some() {
                return false;
            }
            to = Some(&line[colon + 1..]);
        }
    }
    let Some(value) = to else {
        return false;
    };
    // Parameters follow the URI (after `>` when there is one, §20.39).
    let params = match value.iter().rposition(|&b| b == b'>') {
        Some(gt) => &value[gt..],
        None => value,
    };
    !mentions_tag(params)
}

/// Whether any `;`-separated parameter in `params` is named `tag`, with
/// whatever whitespace around the name (§25.1 SEMI and EQUAL allow it).
/// Errs towards yes: then the request takes the full parse.
fn mentions_tag(params: &[u8]) -> bool {
    params.split(|&b| b == b';').skip(1).any(|param| {
        let name = param.split(|&b| b == b'=').next().unwrap_or(param);
        name.trim_ascii().eq_ignore_ascii_case(b"tag")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{StatusCode, parse_datagram};
    use std::time::Duration;

    fn request(method: &str, to_tag: Option<&str>) -> Request {
        let to = match to_tag {
            Some(t) => format!("<sip:b@example.com>;tag={t}"),
            None => "<sip:b@example.com>".to_owned(),
        };
        let raw = format!(
            "{method} sip:b@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:a@example.com>;tag=a1\r\n\
             To: {to}\r\n\
             Call-ID: c1@example.com\r\n\
             CSeq: 1 {method}\r\n\
             Contact: <sip:a@192.0.2.1>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(bytes::Bytes::from(raw)) {
            Ok(crate::message::Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    fn raw(method: &str, to: &str) -> Vec<u8> {
        format!(
            "{method} sip:b@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:a@example.com>;tag=a1\r\n\
             {to}\r\n\
             Call-ID: c1@example.com\r\n\
             CSeq: 1 {method}\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn the_quick_scan_agrees_with_the_parsed_request() {
        let cases = [
            ("INVITE", "To: <sip:b@example.com>"),
            ("REGISTER", "t: sip:b@example.com"),
            ("INVITE", "To: <sip:b@example.com>;tag=x"),
            ("INVITE", "TO : \"B\" <sip:b@example.com> ; TAG=x"),
            ("BYE", "To: <sip:b@example.com;tag=in-uri>"),
            ("BYE", "To: <sip:b@example.com;tag=in-uri>;tag=y"),
            ("ACK", "To: <sip:b@example.com>"),
            ("OPTIONS", "To: <sip:b@example.com>"),
            ("CANCEL", "To: <sip:b@example.com>"),
            ("MESSAGE", "To: sip:b@example.com;tag=z"),
            ("BYE", "To: <sip:b@example.com> ;\tTag  = y"),
        ];
        for (method, to) in cases {
            let data = raw(method, to);
            let parsed = match parse_datagram(bytes::Bytes::from(data.clone())) {
                Ok(crate::message::Message::Request(r)) => r,
                other => panic!("{method} {to}: {other:?}"),
            };
            // The scan never calls new work what is not; where it says
            // yes, the parsed request agrees.
            if is_plainly_new_work(&data) {
                assert!(parsed.starts_new_work(), "{method} {to}");
            }
        }
        // The plain cases are caught by the scan.
        assert!(is_plainly_new_work(&raw(
            "INVITE",
            "To: <sip:b@example.com>"
        )));
        assert!(is_plainly_new_work(&raw(
            "REGISTER",
            "t: sip:b@example.com"
        )));
        assert!(!is_plainly_new_work(&raw("INVITE", "To: <sip:b@x>;tag=1")));
        assert!(!is_plainly_new_work(&raw("ACK", "To: <sip:b@x>")));
        assert!(!is_plainly_new_work(&raw(
            "BYE",
            "To: <sip:b@x> ;\tTag  = y"
        )));
        assert!(is_plainly_new_work(&raw(
            "INVITE",
            "To: <sip:b@x>;tagged=1"
        )));
        // A bare `tag` (which the parser refuses) is not called new work.
        assert!(!is_plainly_new_work(&raw(
            "INVITE",
            "To: <sip:b@x>;x=1;tag"
        )));
    }

    #[test]
    fn the_quick_scan_leaves_the_unusual_to_the_parser() {
        // Two To headers, none, a folded one, a response, garbage.
        let two = raw("INVITE", "To: <sip:b@x>\r\nTo: <sip:c@x>");
        let folded = raw("INVITE", "To: <sip:b@x>\r\n ;tag=1");
        let none = raw("INVITE", "Subject: hi");
        for data in [two, folded, none] {
            assert!(!is_plainly_new_work(&data));
        }
        assert!(!is_plainly_new_work(
            b"SIP/2.0 200 OK\r\nTo: <sip:b@x>\r\n\r\n"
        ));
        assert!(!is_plainly_new_work(b""));
        assert!(!is_plainly_new_work(b"\xff\xfe garbage"));
    }

    #[test]
    fn passes_everything_when_not_shedding() {
        let mut s = Shedder::new(10, 5);
        let now = Instant::now();
        for m in ["INVITE", "REGISTER", "OPTIONS", "BYE", "MESSAGE"] {
            assert!(matches!(
                s.verdict(&request(m, None), false, now),
                Verdict::Pass
            ));
        }
    }

    #[test]
    fn sheds_only_new_work() {
        let mut s = Shedder::new(10, 5);
        let now = Instant::now();
        for m in ["OPTIONS", "CANCEL", "ACK"] {
            assert!(
                matches!(s.verdict(&request(m, None), true, now), Verdict::Pass),
                "{m}"
            );
        }
        // Inside a dialog (To tag): work already taken on.
        for m in ["BYE", "INVITE", "UPDATE", "INFO"] {
            assert!(
                matches!(s.verdict(&request(m, Some("x")), true, now), Verdict::Pass),
                "{m}"
            );
        }
        for m in ["INVITE", "REGISTER", "SUBSCRIBE", "MESSAGE"] {
            assert!(
                matches!(s.verdict(&request(m, None), true, now), Verdict::Refuse(_)),
                "{m}"
            );
        }
    }

    #[test]
    fn refusal_is_a_503_with_retry_after_and_the_stateless_tag() {
        let mut s = Shedder::new(10, 7);
        let Verdict::Refuse(r) = s.verdict(&request("INVITE", None), true, Instant::now()) else {
            panic!("not refused");
        };
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers.get("Retry-After").map(|t| &**t), Some("7"));
        let tag = r.headers.to_tag().expect("To tag");
        assert_eq!(&*tag, crate::random::stateless_tag());
        // Its ACK is dropped at once; other ACKs pass.
        let ack = request("ACK", Some(&tag));
        assert!(matches!(
            s.verdict(&ack, false, Instant::now()),
            Verdict::Drop
        ));
        let ack = request("ACK", Some("dialog-tag"));
        assert!(matches!(
            s.verdict(&ack, true, Instant::now()),
            Verdict::Pass
        ));
    }

    #[test]
    fn refusals_beyond_the_budget_are_drops() {
        let mut s = Shedder::new(100, 5);
        let t = Instant::now();
        let invite = request("INVITE", None);
        let mut refused = 0;
        let mut dropped = 0;
        // 1000 requests within a second: the first 100 are answered.
        for i in 0..1000 {
            match s.verdict(&invite, true, t + Duration::from_micros(i)) {
                Verdict::Refuse(_) => refused += 1,
                Verdict::Drop => dropped += 1,
                Verdict::Pass => panic!("passed"),
            }
        }
        assert_eq!((refused, dropped), (100, 900));
        // The budget refills with time: 10 ms later, one more.
        let later = t + Duration::from_millis(11);
        assert!(matches!(
            s.verdict(&invite, true, later),
            Verdict::Refuse(_)
        ));
        assert!(matches!(s.verdict(&invite, true, later), Verdict::Drop));
        // A quiet second refills it whole, and no more than whole.
        let quiet = later + Duration::from_secs(5);
        let refused = (0..200)
            .filter(|_| matches!(s.verdict(&invite, true, quiet), Verdict::Refuse(_)))
            .count();
        assert_eq!(refused, 100);
    }
}
