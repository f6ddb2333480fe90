//! The text trace: each SIP message received or sent, in full, as one
//! `tracing` event under the [`TARGET`] target (like Kamailio's siptrace
//! or sngrep, in the log).

use crate::transport::{Direction, MessageObserver, TappedMessage};
use std::fmt;
use tracing::Level;

/// The `tracing` target of the text trace: `RUST_LOG=parrot::sip=off`
/// silences it, `RUST_LOG=info,parrot::sip=off` keeps the rest.
pub const TARGET: &str = "parrot::sip";

/// A [`MessageObserver`] that logs every message in full through
/// `tracing`, under the [`TARGET`] target, at INFO unless told otherwise.
///
/// Each event's message is a header line, then the SIP message (line ends
/// shown as `\n`, bytes that are not UTF-8 as `U+FFFD`):
///
/// ```text
/// recv 412 bytes UDP 127.0.0.1:5060 <- 192.0.2.7:5062
/// OPTIONS sip:bob@127.0.0.1 SIP/2.0
/// Via: ...
/// ```
///
/// `send ... ->` for a message sent. The event also carries the fields
/// `direction` (`in`/`out`), `protocol`, `local`, `peer` and `bytes`, for
/// JSON logs. The message is only formatted when the subscriber takes the
/// event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextTrace {
    level: Level,
}

impl TextTrace {
    /// A trace at INFO.
    pub const fn new() -> Self {
        TextTrace { level: Level::INFO }
    }

    /// A trace at `level`.
    pub const fn at(level: Level) -> Self {
        TextTrace { level }
    }

    /// The level its events have.
    pub const fn level(&self) -> Level {
        self.level
    }
}

impl Default for TextTrace {
    fn default() -> Self {
        TextTrace::new()
    }
}

/// One event at a level known only at run time (`tracing`'s macros want
/// a constant).
macro_rules! trace_event {
    ($level:expr, $m:expr) => {{
        let m = $m;
        match $level {
            Level::ERROR => trace_event!(@ Level::ERROR, m),
            Level::WARN => trace_event!(@ Level::WARN, m),
            Level::INFO => trace_event!(@ Level::INFO, m),
            Level::DEBUG => trace_event!(@ Level::DEBUG, m),
            Level::TRACE => trace_event!(@ Level::TRACE, m),
        }
    }};
    (@ $level:expr, $m:expr) => {
        tracing::event!(
            target: TARGET,
            $level,
            direction = %$m.direction,
            protocol = %$m.protocol,
            local = %$m.local,
            peer = %$m.peer,
            bytes = $m.data.len(),
            "{}",
            Shown($m)
        )
    };
}

impl MessageObserver for TextTrace {
    fn observe(&self, message: &TappedMessage<'_>) {
        trace_event!(self.level, message);
    }
}

/// A message as the text trace shows it: the header line, then the text.
struct Shown<'a, 'b>(&'a TappedMessage<'b>);

impl fmt::Display for Shown<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let (verb, arrow) = match m.direction {
            Direction::In => ("recv", "<-"),
            Direction::Out => ("send", "->"),
        };
        writeln!(
            f,
            "{verb} {} bytes {} {} {arrow} {}",
            m.data.len(),
            m.protocol,
            m.local,
            m.peer
        )?;
        // The blank line (or line ends) after the last header or body
        // line are left out.
        let end = m
            .data
            .iter()
            .rposition(|&b| b != b'\r' && b != b'\n')
            .map_or(0, |i| i + 1);
        for chunk in m.data[..end].utf8_chunks() {
            let mut lines = chunk.valid().split("\r\n");
            if let Some(first) = lines.next() {
                f.write_str(first)?;
            }
            for line in lines {
                f.write_str("\n")?;
                f.write_str(line)?;
            }
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Protocol;
    use std::time::SystemTime;

    fn shown(direction: Direction, data: &[u8]) -> String {
        let m = TappedMessage {
            direction,
            protocol: Protocol::Udp,
            local: "127.0.0.1:5060".parse().unwrap(),
            peer: "192.0.2.7:5062".parse().unwrap(),
            timestamp: SystemTime::UNIX_EPOCH,
            data,
        };
        Shown(&m).to_string()
    }

    #[test]
    fn header_line_then_the_message() {
        let text = shown(
            Direction::In,
            b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n\r\n",
        );
        assert_eq!(
            text,
            "recv 49 bytes UDP 127.0.0.1:5060 <- 192.0.2.7:5062\n\
             OPTIONS sip:bob@127.0.0.1 SIP/2.0\nCall-ID: x"
        );
        let text = shown(Direction::Out, b"SIP/2.0 200 OK\r\n\r\nbody\xff\r\n");
        assert_eq!(
            text,
            "send 25 bytes UDP 127.0.0.1:5060 -> 192.0.2.7:5062\n\
             SIP/2.0 200 OK\n\nbody\u{FFFD}"
        );
    }

    #[test]
    fn every_level_can_be_chosen() {
        for level in [
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::DEBUG,
            Level::TRACE,
        ] {
            let t = TextTrace::at(level);
            assert_eq!(t.level(), level);
            // No subscriber: nothing is formatted, nothing fails.
            t.observe(&TappedMessage {
                direction: Direction::In,
                protocol: Protocol::Tcp,
                local: "127.0.0.1:5060".parse().unwrap(),
                peer: "127.0.0.1:5070".parse().unwrap(),
                timestamp: SystemTime::now(),
                data: b"BYE sip:a@b SIP/2.0\r\n\r\n",
            });
        }
        assert_eq!(TextTrace::default(), TextTrace::new());
    }
}
