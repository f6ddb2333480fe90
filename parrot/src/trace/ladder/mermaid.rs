//! The ladder as a Mermaid `sequenceDiagram`, for documents whose viewer
//! draws Mermaid.

use super::Flow;
use super::layout::Ladder;
use std::fmt::Write;

/// Renders `flow` as a Mermaid sequence diagram: each participant declared
/// with an alias (`participant P1 as alice 192.0.2.1:5060`), one message
/// per line with the time before its label (`P1->>P2: +0.000s INVITE
/// bob@biloxi.example.com`), retransmissions as dotted arrows ending in
/// `↻` (`P1-->>P2: ...`), and the notes (the `↻` mark, what was left
/// out) as a `Note` over every participant at the end. Every character of a label or a name that Mermaid could read as
/// syntax (`;`, `#`, `%`, `<`, ...) is written as an entity code
/// (`#59;`), so no text can end a statement or start another.
pub fn render_mermaid(flow: &Flow) -> String {
    let ladder = Ladder::new(flow);
    let mut out = String::from("sequenceDiagram\n");
    for (i, c) in ladder.columns.iter().enumerate() {
        let shown = match &c.name {
            Some(name) => format!("{name} {}", c.addr),
            None => c.addr.clone(),
        };
        let _ = writeln!(out, "    participant P{} as {}", i + 1, escape(&shown));
    }
    for r in &ladder.rows {
        let arrow = if r.entry.retransmission {
            "-->>"
        } else {
            "->>"
        };
        let _ = writeln!(
            out,
            "    P{}{arrow}P{}: {} {}",
            r.from + 1,
            r.to + 1,
            escape(&r.time),
            escape(&r.label)
        );
    }
    if !ladder.notes.is_empty() && !ladder.columns.is_empty() {
        let notes: Vec<String> = ladder.notes.iter().map(|n| escape(n)).collect();
        let last = ladder.columns.len();
        let over = if last == 1 {
            "P1".to_owned()
        } else {
            format!("P1,P{last}")
        };
        let _ = writeln!(out, "    Note over {over}: {}", notes.join("<br/>"));
    } else if !ladder.notes.is_empty() {
        // Mermaid draws nothing without a participant: the notes become
        // comments.
        for note in &ladder.notes {
            let _ = writeln!(out, "    %% {}", escape(note));
        }
    }
    out
}

/// `s` with everything but letters, digits, spaces and a few harmless
/// marks as Mermaid entity codes (`#59;` for `;`). A colon is harmless:
/// only a message's first one separates its arrow from its text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_alphanumeric()
            || matches!(
                c,
                ' ' | '.' | ':' | ',' | '@' | '_' | '-' | '+' | '/' | '(' | ')' | '↻' | '…'
            )
        {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}
