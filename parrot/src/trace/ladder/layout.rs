//! What every renderer draws, worked out once: the columns (participants
//! in order of first appearance, with their names), one row per message
//! (its columns, time and label), and the notes about what was left out.

use super::summary::clean;
use super::{Entry, Flow, MAX_PARTICIPANTS};
use std::net::SocketAddr;
use std::time::Duration;

/// The longest participant name shown, in characters.
const MAX_NAME: usize = 32;

/// The mark a retransmission's label ends with.
pub(super) const RETRANSMISSION: &str = "↻";

/// One participant's column.
pub(super) struct Column {
    /// Its address as text.
    pub addr: String,
    /// Its name, if it was given one (cleaned and cut).
    pub name: Option<String>,
}

/// One message's row.
pub(super) struct Row<'f> {
    /// The sender's column.
    pub from: usize,
    /// The receiver's column.
    pub to: usize,
    /// The time since the earliest message, as `+0.212s`.
    pub time: String,
    /// The label, with ` ↻` after a retransmission's.
    pub label: String,
    /// The message.
    pub entry: &'f Entry,
}

/// A flow laid out for drawing.
pub(super) struct Ladder<'f> {
    pub columns: Vec<Column>,
    pub rows: Vec<Row<'f>>,
    /// Notes to print under the diagram (what was left out, the marks).
    pub notes: Vec<String>,
}

impl<'f> Ladder<'f> {
    pub fn new(flow: &'f Flow) -> Self {
        let origin = flow.entries.iter().map(|e| e.time).min();
        let mut addrs: Vec<SocketAddr> = Vec::new();
        let mut rows = Vec::with_capacity(flow.entries.len());
        let mut hidden = 0usize;
        for entry in &flow.entries {
            let Some((from, to)) = columns(&mut addrs, entry.source, entry.destination) else {
                hidden += 1;
                continue;
            };
            let since = origin
                .and_then(|o| entry.time.duration_since(o).ok())
                .unwrap_or(Duration::ZERO);
            let mut label = entry.label.clone();
            if entry.retransmission {
                label.push(' ');
                label.push_str(RETRANSMISSION);
            }
            rows.push(Row {
                from,
                to,
                time: format!("+{}.{:03}s", since.as_secs(), since.subsec_millis()),
                label,
                entry,
            });
        }
        let columns = addrs
            .iter()
            .map(|&a| Column {
                addr: a.to_string(),
                name: flow.name_of(a).map(|n| clean(n, MAX_NAME)),
            })
            .collect();
        let mut notes = Vec::new();
        if rows.iter().any(|r| r.entry.retransmission) {
            notes.push(format!("{RETRANSMISSION} retransmission"));
        }
        if hidden > 0 {
            notes.push(format!(
                "{hidden} more {} between further participants not drawn (at most {MAX_PARTICIPANTS} columns)",
                messages(hidden)
            ));
        }
        if flow.omitted > 0 {
            notes.push(format!(
                "{} more {} not recorded (a flow keeps at most {})",
                flow.omitted,
                messages(flow.omitted),
                flow.limit
            ));
        }
        if rows.is_empty() && hidden == 0 && flow.omitted == 0 {
            notes.push("no messages".to_owned());
        }
        Ladder {
            columns,
            rows,
            notes,
        }
    }

    /// Whether any column has a name (the header then has a name line).
    pub fn named(&self) -> bool {
        self.columns.iter().any(|c| c.name.is_some())
    }
}

/// The columns of `from` and `to`, added if new, or none if there is no
/// room for both (so no column is drawn without an arrow).
fn columns(
    addrs: &mut Vec<SocketAddr>,
    from: SocketAddr,
    to: SocketAddr,
) -> Option<(usize, usize)> {
    let new = [from, to]
        .iter()
        .enumerate()
        .filter(|&(i, a)| !addrs.contains(a) && (i == 0 || *a != from))
        .count();
    if addrs.len() + new > MAX_PARTICIPANTS {
        return None;
    }
    let mut index = |addr: SocketAddr| match addrs.iter().position(|&a| a == addr) {
        Some(i) => i,
        None => {
            addrs.push(addr);
            addrs.len() - 1
        }
    };
    Some((index(from), index(to)))
}

fn messages(n: usize) -> &'static str {
    if n == 1 { "message" } else { "messages" }
}

/// The number of characters of `s` (what a monospace cell counts).
pub(super) fn width(s: &str) -> usize {
    s.chars().count()
}
