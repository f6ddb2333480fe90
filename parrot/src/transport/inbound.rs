//! What the receive paths (UDP and streams) do with what they read:
//! RFC 3261 §18.2.1 for parsed messages, §8.2.6 / §18.2.2 error responses
//! for unparseable requests.

use super::bad_request::error_response;
use super::via::stamp_top_via;
use super::{Incoming, Origin};
use crate::message::{Message, ParseError, Response};
use tracing::{debug, warn};

/// What the receive path does with a parsed message.
// Matched and moved out at once: boxing the common case would cost an
// allocation per message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inbound {
    /// Deliver it upward.
    Deliver(Box<Incoming>),
    /// Answer it with this error response and drop it.
    Reply(Box<Response>),
    /// Drop it.
    Drop,
}

/// Applies RFC 3261 §18.2.1 to a received message.
pub(crate) fn classify(mut message: Message, origin: Origin) -> Inbound {
    // Stamped in place: the message is moved only into its box below.
    if let Message::Request(req) = &mut message
        && let Err(error) = stamp_top_via(&mut req.headers, origin.source)
    {
        crate::telemetry::parse_failure();
        warn!(peer = %origin.source, %error, "request with an unusable top Via");
        return match error_response(&req.to_bytes(), &error) {
            Some(r) => Inbound::Reply(Box::new(r)),
            None => Inbound::Drop,
        };
    }
    // Allocated before it is filled, so the message is copied once.
    Inbound::Deliver(Box::write(
        Box::new_uninit(),
        Incoming {
            message,
            source: origin.source,
            local: origin.local,
            protocol: origin.protocol,
            connection: origin.connection,
        },
    ))
}

/// Handles a message that failed to parse: the error response for a
/// request that can be answered, `None` (after logging) otherwise.
pub(crate) fn malformed(raw: &[u8], error: &ParseError, origin: &Origin) -> Option<Response> {
    crate::telemetry::parse_failure();
    let start = raw
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(raw.len());
    if raw.len() - start >= 4 && raw[start..start + 4].eq_ignore_ascii_case(b"SIP/") {
        warn!(peer = %origin.source, protocol = %origin.protocol, %error, "dropping malformed response");
        return None;
    }
    match error_response(raw, error) {
        Some(mut r) => {
            // The top Via gets received/rport like any request's (§18.2.1),
            // which also routes the answer (§18.2.2).
            let _ = stamp_top_via(&mut r.headers, origin.source);
            debug!(peer = %origin.source, %error, status = r.status.as_u16(), "answering malformed request");
            Some(r)
        }
        None => {
            warn!(peer = %origin.source, protocol = %origin.protocol, %error, "dropping malformed request that cannot be answered");
            None
        }
    }
}
