//! The ladder as a self-contained SVG image: no script, no external font
//! or style sheet, every size computed here so that the picture is the
//! same wherever it is shown.

use super::layout::{Ladder, Row, width};
use super::{Flow, MessageKind};
use std::fmt::Write;

const MARGIN: usize = 12;
/// The font size, in pixels; the font is the viewer's monospace one.
const FONT: usize = 12;
const ROW_H: usize = 28;
const HEAD_LINE: usize = 16;
const HEAD_PAD: usize = 6;
const TIME_PAD: usize = 10;
const MIN_COL: usize = 150;
/// Room kept along an arrow beside its label, in pixels.
const ARROW_PAD: usize = 40;
const NOTE_H: usize = 18;
/// The width of the little loop a message to its sender draws.
const LOOP_W: usize = 36;

/// The width of `n` characters in pixels: a monospace advance is 0.6 em,
/// rounded up to 7.5 px at 12 px so that no label overflows its arrow.
fn text_px(n: usize) -> usize {
    (n * 15).div_ceil(2)
}

/// Renders `flow` as a standalone SVG document: a box per participant
/// (name and address), vertical lifelines, one arrow per message (a
/// `<line>` with an arrowhead marker, or a small `<path>` loop for a
/// message to its own sender) with its label above it and the time on the
/// left, coloured by kind (requests blue, 1xx grey, 2xx green, 3xx–6xx
/// red); retransmissions dashed. Each message is a `<g class="message">`
/// whose `<title>` (a tooltip in browsers) gives its Call-ID, CSeq, branch,
/// transport, addresses and size. `width` and `height` are set from the
/// number of participants and messages; all text is XML-escaped.
pub fn render_svg(flow: &Flow) -> String {
    let ladder = Ladder::new(flow);
    let geometry = Geometry::new(&ladder);
    let mut out = String::new();
    let (w, h) = (geometry.width, geometry.height);
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="monospace" font-size="{FONT}">"##
    );
    out.push_str("<defs>\n");
    for kind in KINDS {
        let _ = writeln!(
            out,
            r##"<marker id="head-{}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"##,
            kind_name(kind),
            colour(kind)
        );
    }
    out.push_str("</defs>\n");
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##
    );
    header(&ladder, &geometry, &mut out);
    for (i, row) in ladder.rows.iter().enumerate() {
        message(row, geometry.row_y(i), &geometry, &mut out);
    }
    for (i, note) in ladder.notes.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text class="note" x="{MARGIN}" y="{}" fill="#444444">{}</text>"##,
            geometry.notes_y + i * NOTE_H,
            escape(note)
        );
    }
    out.push_str("</svg>\n");
    out
}

const KINDS: [MessageKind; 5] = [
    MessageKind::Request,
    MessageKind::Provisional,
    MessageKind::Success,
    MessageKind::Failure,
    MessageKind::Unparsable,
];

fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Request => "request",
        MessageKind::Provisional => "provisional",
        MessageKind::Success => "success",
        MessageKind::Failure => "failure",
        MessageKind::Unparsable => "unparsable",
    }
}

fn colour(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Request => "#1f4e9c",
        MessageKind::Provisional => "#6b6b6b",
        MessageKind::Success => "#2e7d32",
        MessageKind::Failure => "#c62828",
        MessageKind::Unparsable => "#8d6e63",
    }
}

/// Where everything goes, in whole pixels.
struct Geometry {
    width: usize,
    height: usize,
    time_w: usize,
    col_w: usize,
    head_h: usize,
    /// The y of the first message's arrow.
    first_y: usize,
    /// Where the lifelines end.
    bottom: usize,
    notes_y: usize,
}

impl Geometry {
    fn new(ladder: &Ladder<'_>) -> Self {
        let time_chars = ladder.rows.iter().map(|r| width(&r.time)).max();
        let time_w = text_px(time_chars.unwrap_or(0).max(width("+0.000s"))) + 2 * TIME_PAD;
        let head_chars = ladder
            .columns
            .iter()
            .map(|c| width(&c.addr).max(c.name.as_deref().map_or(0, width)))
            .max()
            .unwrap_or(0);
        let mut col_w = MIN_COL.max(text_px(head_chars) + 2 * HEAD_PAD + 16);
        for r in &ladder.rows {
            let need = text_px(width(&r.label)) + ARROW_PAD;
            col_w = col_w.max(match r.from.abs_diff(r.to) {
                0 => need + LOOP_W,
                span => need.div_ceil(span),
            });
        }
        let lines = if ladder.named() { 2 } else { 1 };
        let head_h = lines * HEAD_LINE + 2 * HEAD_PAD;
        let first_y = MARGIN + head_h + ROW_H;
        let bottom = first_y + ladder.rows.len().saturating_sub(1) * ROW_H + ROW_H / 2 + 4;
        let columns = ladder.columns.len();
        let (mut total_w, notes_y) = if columns == 0 {
            (2 * MARGIN, MARGIN + FONT)
        } else {
            (2 * MARGIN + time_w + columns * col_w, bottom + 24)
        };
        let note_chars = ladder.notes.iter().map(|n| width(n)).max().unwrap_or(0);
        total_w = total_w.max(2 * MARGIN + text_px(note_chars));
        let height = if ladder.notes.is_empty() {
            bottom + MARGIN
        } else {
            notes_y + (ladder.notes.len() - 1) * NOTE_H + 6 + MARGIN
        };
        Geometry {
            width: total_w,
            height,
            time_w,
            col_w,
            head_h,
            first_y,
            bottom,
            notes_y,
        }
    }

    /// The x of column `i`'s lifeline.
    fn x(&self, i: usize) -> usize {
        MARGIN + self.time_w + self.col_w / 2 + i * self.col_w
    }

    fn row_y(&self, i: usize) -> usize {
        self.first_y + i * ROW_H
    }
}

fn header(ladder: &Ladder<'_>, g: &Geometry, out: &mut String) {
    let box_w = g.col_w - 16;
    let top = MARGIN + g.head_h;
    for (i, c) in ladder.columns.iter().enumerate() {
        let x = g.x(i);
        let _ = writeln!(
            out,
            r##"<line class="lifeline" x1="{x}" y1="{top}" x2="{x}" y2="{}" stroke="#9aa5b1" stroke-width="1"/>"##,
            g.bottom
        );
        let _ = writeln!(
            out,
            r##"<rect class="participant" x="{}" y="{MARGIN}" width="{box_w}" height="{}" rx="4" fill="#f3f6fb" stroke="#1f4e9c"/>"##,
            x - box_w / 2,
            g.head_h
        );
        let mut y = MARGIN + HEAD_PAD + HEAD_LINE - 4;
        if ladder.named() {
            if let Some(name) = &c.name {
                let _ = writeln!(
                    out,
                    r##"<text class="name" x="{x}" y="{y}" text-anchor="middle" font-weight="bold">{}</text>"##,
                    escape(name)
                );
            }
            y += HEAD_LINE;
        }
        let _ = writeln!(
            out,
            r##"<text class="address" x="{x}" y="{y}" text-anchor="middle">{}</text>"##,
            escape(&c.addr)
        );
    }
}

fn message(row: &Row<'_>, y: usize, g: &Geometry, out: &mut String) {
    let e = row.entry;
    let kind = kind_name(e.kind);
    let colour = colour(e.kind);
    let dash = if e.retransmission {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    let class = if e.retransmission {
        "message retransmission"
    } else {
        "message"
    };
    let _ = writeln!(out, r#"<g class="{class} {kind}">"#);
    let mut title = format!(
        "{}\n{} {} \u{2192} {}, {} bytes",
        e.label, e.protocol, e.source, e.destination, e.bytes
    );
    for (name, value) in [
        ("Call-ID", &e.call_id),
        ("CSeq", &e.cseq),
        ("branch", &e.branch),
    ] {
        if let Some(v) = value {
            title.push_str(&format!("\n{name}: {v}"));
        }
    }
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let (x1, x2) = (g.x(row.from), g.x(row.to));
    let (lx, ly, anchor) = if x1 == x2 {
        let _ = writeln!(
            out,
            r##"<path class="arrow" d="M{x1},{} h{LOOP_W} v12 h-{LOOP_W}" fill="none" stroke="{colour}" stroke-width="1.5"{dash} marker-end="url(#head-{kind})"/>"##,
            y - 6
        );
        (x1 + LOOP_W + 6, y + 4, "start")
    } else {
        let _ = writeln!(
            out,
            r##"<line class="arrow" x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="1.5"{dash} marker-end="url(#head-{kind})"/>"##
        );
        ((x1 + x2) / 2, y - 6, "middle")
    };
    let _ = writeln!(
        out,
        r##"<text class="label" x="{lx}" y="{ly}" text-anchor="{anchor}" fill="{colour}">{}</text>"##,
        escape(&row.label)
    );
    let _ = writeln!(
        out,
        r##"<text class="time" x="{}" y="{}" text-anchor="end" fill="#444444">{}</text>"##,
        MARGIN + g.time_w - TIME_PAD,
        y + 4,
        escape(&row.time)
    );
    out.push_str("</g>\n");
}

/// `s` as XML character data or attribute text: markup characters as
/// entities, characters XML 1.0 forbids as `?`.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}
