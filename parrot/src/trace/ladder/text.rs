//! The ladder as monospace text: a header per participant, `|`
//! lifelines, one arrow per message with its label inside, the time on
//! the left.

use super::Flow;
use super::layout::{Ladder, width};

/// The narrowest gap between two lifelines, in characters.
const MIN_GAP: usize = 14;

/// Renders `flow` as a monospace ladder: the participants' names and
/// addresses as column headers, one line per message with an arrow
/// between the two columns (`--- INVITE bob@biloxi.example.com --->`,
/// `<-- 200 OK ---`), passing over the lifelines in between, and the time
/// since the earliest message on the left. A retransmission's label ends
/// with `↻`; notes under the ladder say what was left out. The same flow
/// always gives the same text; lines carry no trailing spaces.
///
/// ```text
///               alice                                 bob
///          192.0.2.1:5060                       192.0.2.2:5060
///                 |                                    |
/// +0.000s         |-- INVITE bob@biloxi.example.com -->|
/// +0.040s         |<----------- 180 Ringing -----------|
/// +2.212s         |<-------------- 200 OK -------------|
/// +2.214s         |-------- ACK bob@192.0.2.2 -------->|
///                 |                                    |
/// ```
pub fn render_text(flow: &Flow) -> String {
    let ladder = Ladder::new(flow);
    let mut out = String::new();
    if !ladder.columns.is_empty() {
        draw(&ladder, &mut out);
    }
    if !ladder.notes.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        for note in &ladder.notes {
            out.push_str(&format!("({note})\n"));
        }
    }
    out
}

fn draw(ladder: &Ladder<'_>, out: &mut String) {
    let time_w = ladder
        .rows
        .iter()
        .map(|r| width(&r.time))
        .max()
        .unwrap_or(0)
        .max(width("+0.000s"));
    let head_w = ladder
        .columns
        .iter()
        .map(|c| width(&c.addr).max(c.name.as_deref().map_or(0, width)))
        .max()
        .unwrap_or(0);
    let xs = lifelines_at(ladder, time_w + 2 + head_w / 2);
    let mut line = Line::default();
    if ladder.named() {
        for (c, &x) in ladder.columns.iter().zip(&xs) {
            if let Some(name) = &c.name {
                line.centre(x, name);
            }
        }
        line.flush(out);
    }
    for (c, &x) in ladder.columns.iter().zip(&xs) {
        line.centre(x, &c.addr);
    }
    line.flush(out);
    lifelines(&mut line, &xs, out);
    for r in &ladder.rows {
        line.put(time_w - width(&r.time), &r.time);
        for &x in &xs {
            line.put(x, "|");
        }
        arrow(&mut line, xs[r.from], xs[r.to], &r.label);
        line.flush(out);
    }
    lifelines(&mut line, &xs, out);
}

/// Where each lifeline goes, the first at `x0`: each gap wide enough for
/// the two headers beside it, and the gaps an arrow spans for its label
/// with a space, two dashes each side and the head. Each gap is only as
/// wide as it must be, so a long label widens its own columns, not all.
fn lifelines_at(ladder: &Ladder<'_>, x0: usize) -> Vec<usize> {
    let head = |c: &super::layout::Column| width(&c.addr).max(c.name.as_deref().map_or(0, width));
    let mut gaps: Vec<usize> = ladder
        .columns
        .windows(2)
        .map(|pair| MIN_GAP.max(head(&pair[0]).div_ceil(2) + head(&pair[1]).div_ceil(2) + 2))
        .collect();
    // Short spans first: a long arrow then only widens what its shorter
    // neighbours left too narrow, spreading the rest over its gaps.
    let mut spans: Vec<(usize, usize, usize)> = ladder
        .rows
        .iter()
        .map(|r| (r.from.min(r.to), r.from.max(r.to), width(&r.label) + 8))
        .collect();
    spans.sort_by_key(|&(a, b, _)| b - a);
    for (a, b, need) in spans {
        if a == b {
            // A message to itself: its label runs to the right.
            if let Some(g) = gaps.get_mut(a) {
                *g = (*g).max(need);
            }
            continue;
        }
        let have: usize = gaps[a..b].iter().sum();
        let short = need.saturating_sub(have);
        let n = b - a;
        for (k, g) in gaps[a..b].iter_mut().enumerate() {
            *g += short / n + usize::from(k < short % n);
        }
    }
    let mut xs = Vec::with_capacity(ladder.columns.len());
    let mut x = x0;
    for i in 0..ladder.columns.len() {
        xs.push(x);
        x += gaps.get(i).copied().unwrap_or(0);
    }
    xs
}

fn lifelines(line: &mut Line, xs: &[usize], out: &mut String) {
    for &x in xs {
        line.put(x, "|");
    }
    line.flush(out);
}

/// Draws the arrow from the lifeline at `from` to the one at `to`, the
/// label in its middle (the gap is wide enough for it).
fn arrow(line: &mut Line, from: usize, to: usize, label: &str) {
    if from == to {
        // A message to itself: a stub to the right.
        line.put(from + 1, &format!("<-' {label}"));
        return;
    }
    let (left, right) = (from.min(to), from.max(to));
    let inner = right - left - 1;
    let free = inner.saturating_sub(width(label) + 3);
    let (before, after) = if from < to {
        (free / 2, free - free / 2)
    } else {
        (free - free / 2, free / 2)
    };
    let body = format!(
        "{}{} {label} {}{}",
        if from < to { "" } else { "<" },
        "-".repeat(before),
        "-".repeat(after),
        if from < to { ">" } else { "" },
    );
    line.put(left + 1, &body);
}

/// One line being drawn, as cells.
#[derive(Default)]
struct Line(Vec<char>);

impl Line {
    /// Writes `s` from cell `x` on, over whatever was there.
    fn put(&mut self, x: usize, s: &str) {
        for (i, c) in s.chars().enumerate() {
            if self.0.len() <= x + i {
                self.0.resize(x + i + 1, ' ');
            }
            self.0[x + i] = c;
        }
    }

    /// Writes `s` centred on cell `x`.
    fn centre(&mut self, x: usize, s: &str) {
        self.put(x.saturating_sub(width(s) / 2), s);
    }

    /// Appends the line, without trailing spaces, to `out`, and clears it.
    fn flush(&mut self, out: &mut String) {
        let text: String = self.0.drain(..).collect();
        out.push_str(text.trim_end());
        out.push('\n');
    }
}
