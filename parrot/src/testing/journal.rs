//! What a test saw: every message its peers sent and received, as a
//! ladder [`Flow`], with the faults injected; and the [`Failure`] a
//! broken expectation reports, which draws it.

use crate::trace::ladder::{Captured, Flow, render_text};
use crate::transport::Protocol;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

/// The shared record of one test's exchange.
#[derive(Clone)]
pub(crate) struct Journal {
    inner: Arc<Mutex<Record>>,
}

struct Record {
    flow: Flow,
    notes: Vec<String>,
    start: Instant,
}

impl Journal {
    pub(crate) fn new() -> Journal {
        Journal {
            inner: Arc::new(Mutex::new(Record {
                flow: Flow::new(),
                notes: Vec::new(),
                start: Instant::now(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Names a participant's column.
    pub(crate) fn name(&self, addr: SocketAddr, name: &str) {
        self.lock().flow.name(addr, name);
    }

    /// Records a message that went from `source` to `destination`.
    pub(crate) fn message(
        &self,
        source: SocketAddr,
        destination: SocketAddr,
        protocol: Protocol,
        data: &[u8],
    ) {
        let mut r = self.lock();
        let at = r.start.elapsed();
        r.flow
            .push(Captured::offset(at, source, destination, protocol, data));
    }

    /// Records an injected fault (shown under the ladder).
    pub(crate) fn note(&self, what: String) {
        let mut r = self.lock();
        let at = r.start.elapsed();
        r.notes.push(format!("{:>9.3}s {what}", at.as_secs_f64()));
    }

    pub(crate) fn flow(&self) -> Flow {
        self.lock().flow.clone()
    }

    /// The ladder so far, with the notes.
    pub(crate) fn ladder(&self) -> String {
        let r = self.lock();
        let mut out = render_text(&r.flow);
        if !r.notes.is_empty() {
            out.push_str("\nfaults injected:\n");
            for n in &r.notes {
                out.push_str(n);
                out.push('\n');
            }
        }
        out
    }

    /// A failure: what was expected, what came instead (the whole
    /// message, if one did), and the exchange so far.
    pub(crate) fn failure(&self, expected: String, got: Option<&[u8]>) -> Failure {
        Failure(Box::new(Report {
            expected,
            got: got.map(|b| String::from_utf8_lossy(b).into_owned()),
            ladder: self.ladder(),
            flow: self.flow(),
        }))
    }
}

/// A broken expectation of a test script: what was expected, the
/// message that came instead (in full), and the whole exchange so far as
/// a ladder diagram. Its `Debug` is its `Display`, so a test returning
/// `Result<(), Failure>` prints all of it.
#[derive(Clone)]
pub struct Failure(Box<Report>);

/// What a [`Failure`] holds (boxed: results carrying it stay small).
#[derive(Clone)]
struct Report {
    expected: String,
    got: Option<String>,
    ladder: String,
    flow: Flow,
}

impl Failure {
    /// What the script expected.
    pub fn expected(&self) -> &str {
        &self.0.expected
    }

    /// The message that came instead, as received; `None` when nothing
    /// came in time.
    pub fn got(&self) -> Option<&str> {
        self.0.got.as_deref()
    }

    /// The exchange up to the failure, as a text ladder diagram.
    pub fn ladder(&self) -> &str {
        &self.0.ladder
    }

    /// The exchange up to the failure, to render otherwise (e.g.
    /// [`render_svg`](crate::trace::ladder::render_svg) for a CI
    /// artefact).
    pub fn flow(&self) -> &Flow {
        &self.0.flow
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        writeln!(f, "expected {}", r.expected)?;
        match &r.got {
            Some(m) => writeln!(f, "got instead:\n{}", m.trim_end())?,
            None => writeln!(f, "got nothing")?,
        }
        write!(f, "\nthe exchange so far:\n{}", r.ladder)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}
