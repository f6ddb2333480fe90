//! Deadlines on an incomplete message received over a stream: the header
//! block and the body must each arrive in time, and while a message is
//! incomplete the peer must keep sending at a minimum rate. This bounds how
//! long a peer can hold a connection (and its buffer) with a message it
//! never finishes (slowloris).
//!
//! Pure bookkeeping over the receive buffer and a clock, so every stream
//! protocol's connection task can use it, and it is tested without sockets.

use std::time::Duration;
use tokio::time::Instant;

/// The longest delay honoured (about 30 years): a larger configured value
/// (e.g. `Duration::MAX` to disable a timer) must not overflow `Instant`.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `now + d`, with `d` capped at [`FOREVER`].
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now + d.min(FOREVER)
}

/// The limits [`Progress`] enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProgressLimits {
    /// Time to complete a header block from its first byte.
    pub(crate) header: Duration,
    /// Time to complete a body once its header block is complete.
    pub(crate) body: Duration,
    /// The window of the minimum-rate rule.
    pub(crate) window: Duration,
    /// Bytes each window must bring while a message is incomplete; 0
    /// disables the rule.
    pub(crate) min_bytes: usize,
}

/// Why a connection is to be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stalled {
    /// The header block was not complete in time.
    Header,
    /// The body was not complete in time.
    Body,
    /// Too few bytes arrived in a window.
    TooSlow,
}

/// The message being received.
#[derive(Debug)]
struct Partial {
    head_done: bool,
    /// How far the search for the end of the header block has got.
    scanned: usize,
    /// When the current phase (header block or body) must be complete.
    deadline: Instant,
    window_end: Instant,
    window_bytes: usize,
}

/// Receive progress of one connection.
#[derive(Debug)]
pub(crate) struct Progress {
    limits: ProgressLimits,
    partial: Option<Partial>,
}

impl Progress {
    pub(crate) fn new(limits: ProgressLimits) -> Self {
        Progress {
            limits,
            partial: None,
        }
    }

    /// Records a read of `read` bytes after which `buf` is left buffered;
    /// `cut` says whether a frame was taken from the buffer since the last
    /// update (what is left then begins a new message).
    pub(crate) fn update(&mut self, buf: &[u8], read: usize, cut: bool, now: Instant) {
        if buf.is_empty() {
            self.partial = None;
            return;
        }
        let limits = self.limits;
        let p = match &mut self.partial {
            Some(p) if !cut => {
                p.window_bytes = p.window_bytes.saturating_add(read);
                p
            }
            slot => slot.insert(Partial {
                head_done: false,
                scanned: 0,
                deadline: after(now, limits.header),
                window_end: after(now, limits.window),
                window_bytes: buf.len(),
            }),
        };
        if !p.head_done {
            // Resume where the last search stopped, keeping 3 bytes in case
            // the blank line straddles two reads (RFC 3261 §7.5: the header
            // block ends with an empty line).
            let from = p.scanned.saturating_sub(3).min(buf.len());
            if memchr::memmem::find(&buf[from..], b"\r\n\r\n").is_some() {
                p.head_done = true;
                p.deadline = after(now, limits.body);
            } else {
                p.scanned = buf.len();
            }
        }
    }

    /// Moves the deadlines of the message being received `by` later: time
    /// the connection spent not reading is not the peer's.
    pub(crate) fn defer(&mut self, by: Duration) {
        if let Some(p) = &mut self.partial {
            p.deadline = p.deadline.checked_add(by).unwrap_or(p.deadline);
            p.window_end = p.window_end.checked_add(by).unwrap_or(p.window_end);
        }
    }

    /// When [`Progress::check`] next has something to decide, if ever.
    pub(crate) fn next_check(&self) -> Option<Instant> {
        let p = self.partial.as_ref()?;
        Some(if self.limits.min_bytes > 0 {
            p.deadline.min(p.window_end)
        } else {
            p.deadline
        })
    }

    /// Whether the connection is to be closed at `now`; starts a new
    /// rate window when the current one has ended in good standing.
    pub(crate) fn check(&mut self, now: Instant) -> Result<(), Stalled> {
        let limits = self.limits;
        let Some(p) = &mut self.partial else {
            return Ok(());
        };
        if now >= p.deadline {
            return Err(if p.head_done {
                Stalled::Body
            } else {
                Stalled::Header
            });
        }
        if limits.min_bytes > 0 && now >= p.window_end {
            if p.window_bytes < limits.min_bytes {
                return Err(Stalled::TooSlow);
            }
            p.window_end = after(now, limits.window);
            p.window_bytes = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn progress(min_bytes: usize) -> Progress {
        with_header(10 * S, min_bytes)
    }

    fn with_header(header: Duration, min_bytes: usize) -> Progress {
        Progress::new(ProgressLimits {
            header,
            body: 30 * S,
            window: 5 * S,
            min_bytes,
        })
    }

    #[test]
    fn nothing_buffered_means_nothing_to_check() {
        let mut p = progress(100);
        let t0 = Instant::now();
        p.update(b"", 10, true, t0);
        assert_eq!(p.next_check(), None);
        assert_eq!(p.check(t0 + 1000 * S), Ok(()));
    }

    #[test]
    fn header_deadline_from_first_byte() {
        let mut p = progress(0);
        let t0 = Instant::now();
        p.update(b"INVITE sip:a", 12, false, t0);
        assert_eq!(p.next_check(), Some(t0 + 10 * S));
        p.update(b"INVITE sip:a SIP/2.0\r\n", 10, false, t0 + 5 * S);
        // More bytes do not move the deadline.
        assert_eq!(p.check(t0 + 9 * S), Ok(()));
        assert_eq!(p.check(t0 + 10 * S), Err(Stalled::Header));
    }

    #[test]
    fn body_deadline_once_header_complete() {
        let mut p = progress(0);
        let t0 = Instant::now();
        p.update(b"OPTIONS sip:a SIP/2.0\r\n", 23, false, t0);
        let head = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 9\r\n\r\nab";
        p.update(head, head.len() - 23, false, t0 + 2 * S);
        assert_eq!(p.next_check(), Some(t0 + 32 * S));
        assert_eq!(p.check(t0 + 31 * S), Ok(()));
        assert_eq!(p.check(t0 + 32 * S), Err(Stalled::Body));
    }

    #[test]
    fn blank_line_split_across_reads_is_found() {
        let mut p = progress(0);
        let t0 = Instant::now();
        p.update(b"A\r\nB: c\r\n\r", 10, false, t0);
        p.update(b"A\r\nB: c\r\n\r\nx", 2, false, t0 + S);
        assert_eq!(p.check(t0 + 20 * S), Ok(()));
    }

    #[test]
    fn a_cut_frame_starts_a_new_message() {
        let mut p = progress(0);
        let t0 = Instant::now();
        p.update(b"A\r\n\r\nbody", 9, false, t0);
        p.update(b"NEXT", 40, true, t0 + 20 * S);
        assert_eq!(p.next_check(), Some(t0 + 30 * S));
    }

    #[test]
    fn slow_sender_is_caught_by_the_rate_rule() {
        let mut p = with_header(60 * S, 100);
        let t0 = Instant::now();
        let mut buf = b"INVITE".to_vec();
        p.update(&buf, 6, false, t0);
        // A fast window passes...
        buf.extend([b'x'; 200]);
        p.update(&buf, 200, false, t0 + S);
        assert_eq!(p.next_check(), Some(t0 + 5 * S));
        assert_eq!(p.check(t0 + 5 * S), Ok(()));
        // ...a slow one does not.
        buf.push(b'y');
        p.update(&buf, 1, false, t0 + 6 * S);
        assert_eq!(p.check(t0 + 10 * S), Err(Stalled::TooSlow));
    }

    #[test]
    fn time_spent_not_reading_is_not_counted() {
        let mut p = progress(0);
        let t0 = Instant::now();
        p.update(b"INVITE", 6, false, t0);
        p.defer(4 * S);
        assert_eq!(p.next_check(), Some(t0 + 14 * S));
        assert_eq!(p.check(t0 + 12 * S), Ok(()));
    }

    #[test]
    fn huge_timeouts_do_not_overflow() {
        let mut p = Progress::new(ProgressLimits {
            header: Duration::MAX,
            body: Duration::MAX,
            window: Duration::MAX,
            min_bytes: 1,
        });
        let t0 = Instant::now();
        p.update(b"A", 1, false, t0);
        assert!(p.next_check().is_some());
        assert_eq!(p.check(t0 + 1000 * S), Ok(()));
    }
}
