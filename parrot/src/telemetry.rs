//! The metrics the layers record as messages go by, through the `metrics`
//! facade: their names, their descriptions and one function per event.
//!
//! Nothing is recorded until a metrics listener starts ([`enable`]): an
//! event then costs one relaxed load and a branch, so a server without
//! metrics does no more work per message. Enabled, recording allocates
//! nothing: every key, with its label, is a `static` built at compile
//! time, so an event costs a lookup of the recorder and an increment. The Prometheus exporter
//! and the values sampled when it is scraped (live transactions,
//! connections, overload refusals) are in `server::metrics`.
//!
//! A leaf module: it imports only [`message`](crate::message), so every
//! layer may call it.

use crate::message::{Method, StatusCode};
use metrics::{Key, Label, Level, Metadata};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Requests received (every request message that reached the transaction
/// layer, retransmissions included), by method.
pub(crate) const REQUESTS_RECEIVED: &str = "parrot_requests_received_total";
/// Responses sent by the transaction user or the transaction layer (not
/// retransmissions), by status class.
pub(crate) const RESPONSES_SENT: &str = "parrot_responses_sent_total";
/// Requests and responses sent again by a transaction (RFC 3261 §17).
pub(crate) const RETRANSMISSIONS: &str = "parrot_retransmissions_total";
/// Received retransmissions absorbed by their transaction (sampled).
pub(crate) const RETRANSMISSIONS_ABSORBED: &str = "parrot_retransmissions_absorbed_total";
/// Messages the transport could not send.
pub(crate) const TRANSPORT_ERRORS: &str = "parrot_transport_errors_total";
/// Received messages that could not be parsed.
pub(crate) const PARSE_FAILURES: &str = "parrot_parse_failures_total";
/// Handler (or handler factory) panics caught by the server.
pub(crate) const HANDLER_PANICS: &str = "parrot_handler_panics_total";
/// Transactions in the transaction layer (sampled).
pub(crate) const TRANSACTIONS_LIVE: &str = "parrot_transactions_live";
/// Dialogs the server core holds (sampled).
pub(crate) const DIALOGS_LIVE: &str = "parrot_dialogs_live";
/// Handler sessions in progress (sampled).
pub(crate) const SESSIONS_LIVE: &str = "parrot_sessions_live";
/// Stream connections open, by transport (sampled).
pub(crate) const CONNECTIONS_OPEN: &str = "parrot_connections_open";
/// New requests refused or dropped under overload, by stage (sampled).
pub(crate) const OVERLOAD_REJECTIONS: &str = "parrot_overload_rejections_total";
/// How long the server took to answer a request, by method: from the
/// request's arrival at the transaction layer to the first response other
/// than `100 Trying` (the session request delay of RFC 6076 §4.2 for an
/// INVITE, the time to the final response for other methods).
pub(crate) const RESPONSE_TIME: &str = "parrot_response_time_seconds";
/// How long received messages wait for the transaction layer (sampled).
pub(crate) const QUEUE_DELAY: &str = "parrot_queue_delay_seconds";
/// RTP packets the calls' media sessions took from their peers.
pub(crate) const RTP_RECEIVED: &str = "parrot_rtp_packets_received_total";
/// RTP packets the calls' media sessions sent.
pub(crate) const RTP_SENT: &str = "parrot_rtp_packets_sent_total";
/// RTP packets that reached a media session after their playout time.
pub(crate) const RTP_LATE: &str = "parrot_rtp_packets_late_total";
/// 20 ms frames missing at their playout time (lost or late), concealed.
pub(crate) const RTP_CONCEALED: &str = "parrot_rtp_frames_concealed_total";

/// The upper bounds of [`RESPONSE_TIME`]'s buckets, in seconds: from the
/// sub-millisecond answers of a server at rest to the seconds of a
/// handler that waits on a database or a person.
pub(crate) const RESPONSE_TIME_BUCKETS: [f64; 16] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

/// What kind of metric a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric with its description, for `describe_*` once a recorder is
/// installed: (name, kind, description).
pub(crate) const DESCRIPTIONS: [(&str, Kind, &str); 18] = [
    (
        REQUESTS_RECEIVED,
        Kind::Counter,
        "SIP requests received, retransmissions included, by method",
    ),
    (
        RESPONSES_SENT,
        Kind::Counter,
        "SIP responses sent (retransmissions excluded), by status class",
    ),
    (
        RETRANSMISSIONS,
        Kind::Counter,
        "SIP requests and responses retransmitted by a transaction",
    ),
    (
        RETRANSMISSIONS_ABSORBED,
        Kind::Counter,
        "Received SIP retransmissions absorbed by their transaction (not passed to the application)",
    ),
    (
        TRANSPORT_ERRORS,
        Kind::Counter,
        "SIP messages the transport failed to send",
    ),
    (
        PARSE_FAILURES,
        Kind::Counter,
        "Received SIP messages that could not be parsed (answered 400 when possible)",
    ),
    (
        HANDLER_PANICS,
        Kind::Counter,
        "Panics of handlers or handler factories, answered 500",
    ),
    (
        TRANSACTIONS_LIVE,
        Kind::Gauge,
        "Transactions in the transaction layer",
    ),
    (DIALOGS_LIVE, Kind::Gauge, "Dialogs held by the server"),
    (
        SESSIONS_LIVE,
        Kind::Gauge,
        "Handler sessions in progress (dialogs and out-of-dialog requests)",
    ),
    (
        CONNECTIONS_OPEN,
        Kind::Gauge,
        "Stream connections open, by transport",
    ),
    (
        OVERLOAD_REJECTIONS,
        Kind::Counter,
        "New requests refused with 503 or dropped under overload, by stage",
    ),
    (
        RESPONSE_TIME,
        Kind::Histogram,
        "Time from a request's arrival to its first response other than 100 Trying, by method",
    ),
    (
        QUEUE_DELAY,
        Kind::Gauge,
        "How long received messages wait for the transaction layer",
    ),
    (
        RTP_RECEIVED,
        Kind::Counter,
        "RTP packets the calls' media sessions took from their peers",
    ),
    (
        RTP_SENT,
        Kind::Counter,
        "RTP packets the calls' media sessions sent",
    ),
    (
        RTP_LATE,
        Kind::Counter,
        "RTP packets that reached a media session after their playout time",
    ),
    (
        RTP_CONCEALED,
        Kind::Counter,
        "20 ms audio frames missing at their playout time (lost or late), concealed",
    ),
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// One static key per label value.
macro_rules! keys {
    ($name:expr, $labels:ident, $($i:literal)*) => {
        [$(Key::from_static_parts($name, std::slice::from_ref(&$labels[$i]))),*]
    };
}

/// The `method` labels, in the order of [`Method::NAMES`], then `other`
/// for extension methods.
static METHOD_LABELS: [Label; Method::NAMES.len() + 1] = [
    Label::from_static_parts("method", "INVITE"),
    Label::from_static_parts("method", "ACK"),
    Label::from_static_parts("method", "BYE"),
    Label::from_static_parts("method", "CANCEL"),
    Label::from_static_parts("method", "OPTIONS"),
    Label::from_static_parts("method", "REGISTER"),
    Label::from_static_parts("method", "MESSAGE"),
    Label::from_static_parts("method", "INFO"),
    Label::from_static_parts("method", "SUBSCRIBE"),
    Label::from_static_parts("method", "NOTIFY"),
    Label::from_static_parts("method", "PUBLISH"),
    Label::from_static_parts("method", "UPDATE"),
    Label::from_static_parts("method", "PRACK"),
    Label::from_static_parts("method", "REFER"),
    Label::from_static_parts("method", "other"),
];

static REQUEST_KEYS: [Key; Method::NAMES.len() + 1] =
    keys!(REQUESTS_RECEIVED, METHOD_LABELS, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14);

/// The `class` labels: `1xx` to `6xx`.
static CLASS_LABELS: [Label; 6] = [
    Label::from_static_parts("class", "1xx"),
    Label::from_static_parts("class", "2xx"),
    Label::from_static_parts("class", "3xx"),
    Label::from_static_parts("class", "4xx"),
    Label::from_static_parts("class", "5xx"),
    Label::from_static_parts("class", "6xx"),
];

static RESPONSE_KEYS: [Key; 6] = keys!(RESPONSES_SENT, CLASS_LABELS, 0 1 2 3 4 5);

static RESPONSE_TIME_KEYS: [Key; Method::NAMES.len() + 1] =
    keys!(RESPONSE_TIME, METHOD_LABELS, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14);

static RETRANSMISSION_KEY: Key = Key::from_static_name(RETRANSMISSIONS);
static TRANSPORT_ERROR_KEY: Key = Key::from_static_name(TRANSPORT_ERRORS);
static PARSE_FAILURE_KEY: Key = Key::from_static_name(PARSE_FAILURES);
static HANDLER_PANIC_KEY: Key = Key::from_static_name(HANDLER_PANICS);
static RTP_RECEIVED_KEY: Key = Key::from_static_name(RTP_RECEIVED);
static RTP_SENT_KEY: Key = Key::from_static_name(RTP_SENT);
static RTP_LATE_KEY: Key = Key::from_static_name(RTP_LATE);
static RTP_CONCEALED_KEY: Key = Key::from_static_name(RTP_CONCEALED);

/// Whether events go to the `metrics` facade.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Sends the events to the `metrics` facade from now on (the metrics
/// listener's start does it, once its recorder is installed).
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether events are recorded: callers check it before measuring
/// anything an event needs (a clock read, a table entry).
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn increment(key: &'static Key) {
    if enabled() {
        metrics::with_recorder(|r| r.register_counter(key, &METADATA).increment(1));
    }
}

/// The index of `method`'s label in [`METHOD_LABELS`] (the method's
/// argument to [`response_time`]).
pub(crate) fn method_index(method: &Method) -> usize {
    match method {
        Method::Extension(_) => Method::NAMES.len(),
        m => Method::index_of(m.as_str()).unwrap_or(Method::NAMES.len()),
    }
}

/// The index of `status`'s class in [`CLASS_LABELS`] (a status code is
/// 100-699 once parsed; anything else counts as 6xx).
fn class_index(status: StatusCode) -> usize {
    usize::from(status.as_u16() / 100)
        .saturating_sub(1)
        .min(CLASS_LABELS.len() - 1)
}

/// A request was received.
pub(crate) fn request_received(method: &Method) {
    increment(&REQUEST_KEYS[method_index(method)]);
}

/// A response was sent (not a retransmission).
pub(crate) fn response_sent(status: StatusCode) {
    increment(&RESPONSE_KEYS[class_index(status)]);
}

/// A request of the method with label index `method` ([`method_index`])
/// got its first response other than `100 Trying` after `elapsed`.
pub(crate) fn response_time(method: usize, elapsed: Duration) {
    if enabled() {
        let key = &RESPONSE_TIME_KEYS[method.min(RESPONSE_TIME_KEYS.len() - 1)];
        metrics::with_recorder(|r| {
            r.register_histogram(key, &METADATA)
                .record(elapsed.as_secs_f64());
        });
    }
}

/// A transaction sent a message again.
pub(crate) fn retransmission() {
    increment(&RETRANSMISSION_KEY);
}

/// The transport failed to send a message.
pub(crate) fn transport_error() {
    increment(&TRANSPORT_ERROR_KEY);
}

/// A received message could not be parsed.
pub(crate) fn parse_failure() {
    increment(&PARSE_FAILURE_KEY);
}

/// A handler panicked.
pub(crate) fn handler_panic() {
    increment(&HANDLER_PANIC_KEY);
}

/// What a media session counted since it last reported: RTP packets
/// received, sent and late, and frames concealed. A session reports its
/// counts every few seconds (with its RTCP reports) and when it ends, not
/// per packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MediaCounts {
    pub(crate) received: u64,
    pub(crate) sent: u64,
    pub(crate) late: u64,
    pub(crate) concealed: u64,
}

/// Adds a media session's counts since its last report.
pub(crate) fn media_counts(counts: MediaCounts) {
    if !enabled() {
        return;
    }
    metrics::with_recorder(|r| {
        for (key, n) in [
            (&RTP_RECEIVED_KEY, counts.received),
            (&RTP_SENT_KEY, counts.sent),
            (&RTP_LATE_KEY, counts.late),
            (&RTP_CONCEALED_KEY, counts.concealed),
        ] {
            if n > 0 {
                r.register_counter(key, &METADATA).increment(n);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_follow_the_method_table() {
        for (i, name) in Method::NAMES.iter().enumerate() {
            assert_eq!(METHOD_LABELS[i].value(), *name);
            assert_eq!(method_index(&Method::KNOWN[i]), i);
        }
        let ext: Method = "FOO".parse().expect("a token");
        assert_eq!(
            METHOD_LABELS[method_index(&ext)].value(),
            "other",
            "extension methods share one label"
        );
    }

    #[test]
    fn status_classes() {
        let class = |n| CLASS_LABELS[class_index(StatusCode::from_u16(n).expect("valid"))].value();
        assert_eq!(class(100), "1xx");
        assert_eq!(class(200), "2xx");
        assert_eq!(class(302), "3xx");
        assert_eq!(class(487), "4xx");
        assert_eq!(class(503), "5xx");
        assert_eq!(class(699), "6xx");
    }

    #[test]
    fn recording_without_a_recorder_is_a_no_op() {
        request_received(&Method::Invite);
        response_sent(StatusCode::OK);
        retransmission();
        transport_error();
        parse_failure();
        handler_panic();
        response_time(method_index(&Method::Invite), Duration::from_millis(3));
        response_time(usize::MAX, Duration::ZERO);
        media_counts(MediaCounts {
            received: 1,
            sent: 2,
            late: 3,
            concealed: 4,
        });
    }

    #[test]
    fn every_metric_is_described_once() {
        let mut names: Vec<&str> = DESCRIPTIONS.iter().map(|(n, _, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DESCRIPTIONS.len());
        for name in [RTP_RECEIVED, RTP_SENT, RTP_LATE, RTP_CONCEALED] {
            assert!(names.contains(&name), "{name} not described");
        }
    }
}
