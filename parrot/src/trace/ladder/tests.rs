//! The renderers on known flows, compared with the expectations in
//! `testdata/` (`PARROT_BLESS=1` rewrites them after a deliberate change);
//! the SVG checked by parsing it.

use super::*;
use crate::transport::Direction;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One SIP message of a test flow, written out in full.
struct Msg<'a> {
    start: &'a str,
    /// The Vias, top first (host and branch).
    vias: Vec<(&'a str, &'a str)>,
    call_id: &'a str,
    cseq: &'a str,
    from_tag: &'a str,
    to_tag: Option<&'a str>,
}

impl Msg<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut s = format!("{}\r\n", self.start);
        for (host, branch) in &self.vias {
            s.push_str(&format!("Via: SIP/2.0/UDP {host};branch={branch}\r\n"));
        }
        if !self.start.starts_with("SIP/") {
            s.push_str("Max-Forwards: 70\r\n");
        }
        s.push_str(&format!(
            "From: <sip:alice@atlanta.example.com>;tag={}\r\n",
            self.from_tag
        ));
        match self.to_tag {
            Some(t) => s.push_str(&format!("To: <sip:bob@biloxi.example.com>;tag={t}\r\n")),
            None => s.push_str("To: <sip:bob@biloxi.example.com>\r\n"),
        }
        s.push_str(&format!(
            "Call-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            self.call_id, self.cseq
        ));
        s.into_bytes()
    }
}

/// Pushes a message at `ms` milliseconds.
fn push(flow: &mut Flow, ms: u64, from: &str, to: &str, m: Msg<'_>) {
    let data = m.bytes();
    assert!(flow.push(Captured::offset(
        Duration::from_millis(ms),
        addr(from),
        addr(to),
        Protocol::Udp,
        &data,
    )));
}

const ALICE: &str = "192.0.2.1:5060";
const BOB: &str = "192.0.2.2:5060";
const PROXY: &str = "192.0.2.10:5060";
const CAROL: &str = "192.0.2.21:5060";
const DAVE: &str = "192.0.2.22:5060";

/// A request from alice (one Via) or its response.
fn simple<'a>(start: &'a str, branch: &'a str, cseq: &'a str, to_tag: Option<&'a str>) -> Msg<'a> {
    Msg {
        start,
        vias: vec![(ALICE, branch)],
        call_id: "call-1@192.0.2.1",
        cseq,
        from_tag: "a1",
        to_tag,
    }
}

/// INVITE / 100 / 180 / 200 / ACK / BYE / 200.
fn basic_call() -> Flow {
    let mut f = Flow::new();
    f.name(addr(ALICE), "alice").name(addr(BOB), "bob");
    let inv = "INVITE sip:bob@biloxi.example.com SIP/2.0";
    push(
        &mut f,
        0,
        ALICE,
        BOB,
        simple(inv, "z9hG4bK1", "1 INVITE", None),
    );
    let b1 = "z9hG4bK1";
    push(
        &mut f,
        12,
        BOB,
        ALICE,
        simple("SIP/2.0 100 Trying", b1, "1 INVITE", None),
    );
    push(
        &mut f,
        40,
        BOB,
        ALICE,
        simple("SIP/2.0 180 Ringing", b1, "1 INVITE", Some("b1")),
    );
    push(
        &mut f,
        2212,
        BOB,
        ALICE,
        simple("SIP/2.0 200 OK", b1, "1 INVITE", Some("b1")),
    );
    let ack = "ACK sip:bob@192.0.2.2:5060 SIP/2.0";
    push(
        &mut f,
        2214,
        ALICE,
        BOB,
        simple(ack, "z9hG4bK2", "1 ACK", Some("b1")),
    );
    let bye = "BYE sip:bob@192.0.2.2:5060 SIP/2.0";
    push(
        &mut f,
        9000,
        ALICE,
        BOB,
        simple(bye, "z9hG4bK3", "2 BYE", Some("b1")),
    );
    push(
        &mut f,
        9013,
        BOB,
        ALICE,
        simple("SIP/2.0 200 OK", "z9hG4bK3", "2 BYE", Some("b1")),
    );
    f
}

/// INVITE / 100 / CANCEL / 200 (CANCEL) / 487 / ACK.
fn cancelled_call() -> Flow {
    let mut f = Flow::new();
    f.name(addr(ALICE), "alice").name(addr(BOB), "bob");
    let b = "z9hG4bK7";
    let inv = "INVITE sip:bob@biloxi.example.com SIP/2.0";
    push(&mut f, 0, ALICE, BOB, simple(inv, b, "1 INVITE", None));
    push(
        &mut f,
        10,
        BOB,
        ALICE,
        simple("SIP/2.0 100 Trying", b, "1 INVITE", None),
    );
    let cancel = "CANCEL sip:bob@biloxi.example.com SIP/2.0";
    push(
        &mut f,
        3000,
        ALICE,
        BOB,
        simple(cancel, b, "1 CANCEL", None),
    );
    push(
        &mut f,
        3011,
        BOB,
        ALICE,
        simple("SIP/2.0 200 OK", b, "1 CANCEL", Some("b7")),
    );
    let terminated = "SIP/2.0 487 Request Terminated";
    push(
        &mut f,
        3012,
        BOB,
        ALICE,
        simple(terminated, b, "1 INVITE", Some("b7")),
    );
    let ack = "ACK sip:bob@biloxi.example.com SIP/2.0";
    push(
        &mut f,
        3013,
        ALICE,
        BOB,
        simple(ack, b, "1 ACK", Some("b7")),
    );
    f
}

/// alice calls through a proxy that forks to carol and dave: dave is
/// busy, carol answers.
fn forked_call() -> Flow {
    let mut f = Flow::new();
    f.name(addr(ALICE), "alice")
        .name(addr(PROXY), "proxy")
        .name(addr(CAROL), "carol")
        .name(addr(DAVE), "dave");
    let a = (ALICE, "z9hG4bKa");
    let to_c = (PROXY, "z9hG4bKp1");
    let to_d = (PROXY, "z9hG4bKp2");
    let m = |start, vias: &[(&'static str, &'static str)], cseq, to_tag| Msg {
        start,
        vias: vias.to_vec(),
        call_id: "fork-1",
        cseq,
        from_tag: "a1",
        to_tag,
    };
    let inv = "INVITE sip:bob@biloxi.example.com SIP/2.0";
    let (c, d) = (
        "INVITE sip:carol@192.0.2.21 SIP/2.0",
        "INVITE sip:dave@192.0.2.22 SIP/2.0",
    );
    push(&mut f, 0, ALICE, PROXY, m(inv, &[a], "1 INVITE", None));
    push(
        &mut f,
        2,
        PROXY,
        ALICE,
        m("SIP/2.0 100 Trying", &[a], "1 INVITE", None),
    );
    push(&mut f, 3, PROXY, CAROL, m(c, &[to_c, a], "1 INVITE", None));
    push(&mut f, 3, PROXY, DAVE, m(d, &[to_d, a], "1 INVITE", None));
    let ringing = "SIP/2.0 180 Ringing";
    push(
        &mut f,
        30,
        CAROL,
        PROXY,
        m(ringing, &[to_c, a], "1 INVITE", Some("c1")),
    );
    push(
        &mut f,
        31,
        PROXY,
        ALICE,
        m(ringing, &[a], "1 INVITE", Some("c1")),
    );
    let busy = "SIP/2.0 486 Busy Here";
    push(
        &mut f,
        45,
        DAVE,
        PROXY,
        m(busy, &[to_d, a], "1 INVITE", Some("d1")),
    );
    let ack_d = "ACK sip:dave@192.0.2.22 SIP/2.0";
    push(
        &mut f,
        46,
        PROXY,
        DAVE,
        m(ack_d, &[to_d], "1 ACK", Some("d1")),
    );
    let ok = "SIP/2.0 200 OK";
    push(
        &mut f,
        1500,
        CAROL,
        PROXY,
        m(ok, &[to_c, a], "1 INVITE", Some("c1")),
    );
    push(
        &mut f,
        1501,
        PROXY,
        ALICE,
        m(ok, &[a], "1 INVITE", Some("c1")),
    );
    let ack = "ACK sip:carol@192.0.2.21 SIP/2.0";
    push(
        &mut f,
        1520,
        ALICE,
        PROXY,
        m(ack, &[(ALICE, "z9hG4bKb")], "1 ACK", Some("c1")),
    );
    let relayed = [(PROXY, "z9hG4bKp3"), (ALICE, "z9hG4bKb")];
    push(
        &mut f,
        1521,
        PROXY,
        CAROL,
        m(ack, &relayed, "1 ACK", Some("c1")),
    );
    f
}

/// An INVITE sent twice before the 100, and a 200 sent twice before the
/// ACK.
fn retransmitted_invite() -> Flow {
    let mut f = Flow::new();
    let b = "z9hG4bK9";
    let inv = "INVITE sip:bob@biloxi.example.com SIP/2.0";
    push(&mut f, 0, ALICE, BOB, simple(inv, b, "1 INVITE", None));
    push(&mut f, 500, ALICE, BOB, simple(inv, b, "1 INVITE", None));
    push(
        &mut f,
        510,
        BOB,
        ALICE,
        simple("SIP/2.0 100 Trying", b, "1 INVITE", None),
    );
    push(
        &mut f,
        900,
        BOB,
        ALICE,
        simple("SIP/2.0 200 OK", b, "1 INVITE", Some("b9")),
    );
    push(
        &mut f,
        1400,
        BOB,
        ALICE,
        simple("SIP/2.0 200 OK", b, "1 INVITE", Some("b9")),
    );
    let ack = "ACK sip:bob@192.0.2.2:5060 SIP/2.0";
    push(
        &mut f,
        1401,
        ALICE,
        BOB,
        simple(ack, "z9hG4bKa", "1 ACK", Some("b9")),
    );
    f
}

/// Compares `got` with the file `testdata/{name}`, or rewrites the file
/// when `PARROT_BLESS` is set.
fn expect(name: &str, got: &str, want: &str) {
    expect_file(&format!("src/trace/ladder/testdata/{name}"), got, want);
}

/// [`expect`] for any file, named from the crate's directory.
fn expect_file(path: &str, got: &str, want: &str) {
    if std::env::var_os("PARROT_BLESS").is_some() {
        let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(path, got).unwrap();
        return;
    }
    assert_eq!(
        got, want,
        "{path} differs; got:\n{got}\n(PARROT_BLESS=1 rewrites it)"
    );
}

#[test]
fn basic_call_text_and_mermaid() {
    let f = basic_call();
    expect(
        "basic.txt",
        &render_text(&f),
        include_str!("testdata/basic.txt"),
    );
    expect(
        "basic.mmd",
        &render_mermaid(&f),
        include_str!("testdata/basic.mmd"),
    );
    // Deterministic.
    assert_eq!(render_text(&f), render_text(&basic_call()));
}

#[test]
fn cancelled_call_text_and_mermaid() {
    let f = cancelled_call();
    expect(
        "cancel.txt",
        &render_text(&f),
        include_str!("testdata/cancel.txt"),
    );
    expect(
        "cancel.mmd",
        &render_mermaid(&f),
        include_str!("testdata/cancel.mmd"),
    );
}

#[test]
fn forked_call_text_and_mermaid() {
    let f = forked_call();
    expect(
        "fork.txt",
        &render_text(&f),
        include_str!("testdata/fork.txt"),
    );
    expect(
        "fork.mmd",
        &render_mermaid(&f),
        include_str!("testdata/fork.mmd"),
    );
}

#[test]
fn retransmissions_are_marked() {
    let f = retransmitted_invite();
    let marked: Vec<bool> = f.entries().iter().map(|e| e.retransmission).collect();
    assert_eq!(marked, [false, true, false, false, true, false]);
    expect(
        "retransmit.txt",
        &render_text(&f),
        include_str!("testdata/retransmit.txt"),
    );
    expect(
        "retransmit.mmd",
        &render_mermaid(&f),
        include_str!("testdata/retransmit.mmd"),
    );
    let mmd = render_mermaid(&f);
    assert!(
        mmd.contains("P1-->>P2: +0.500s INVITE bob@biloxi.example.com ↻"),
        "{mmd}"
    );
}

#[test]
fn forked_provisional_responses_are_not_retransmissions() {
    // The proxy relays two 180s with the same branch, Call-ID and CSeq
    // to alice: different To tags, so neither repeats the other.
    let mut f = Flow::new();
    for tag in ["c1", "d1"] {
        let m = Msg {
            start: "SIP/2.0 180 Ringing",
            vias: vec![(ALICE, "z9hG4bKa")],
            call_id: "fork-2",
            cseq: "1 INVITE",
            from_tag: "a1",
            to_tag: Some(tag),
        };
        push(&mut f, 1, PROXY, ALICE, m);
    }
    assert!(f.entries().iter().all(|e| !e.retransmission));
}

#[test]
fn entries_carry_the_summary() {
    let f = forked_call();
    let e = &f.entries()[2];
    assert_eq!(e.label, "INVITE carol@192.0.2.21");
    assert_eq!(e.kind, MessageKind::Request);
    assert_eq!(e.call_id.as_deref(), Some("fork-1"));
    assert_eq!(e.cseq.as_deref(), Some("1 INVITE"));
    assert_eq!(e.branch.as_deref(), Some("z9hG4bKp1"));
    assert_eq!(f.entries()[6].label, "486 Busy Here");
    assert_eq!(f.entries()[6].kind, MessageKind::Failure);
    assert_eq!(f.entries()[1].kind, MessageKind::Provisional);
    assert_eq!(f.entries()[8].kind, MessageKind::Success);
}

/// Parses an SVG and returns the document.
fn parse_svg(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"))
}

fn has_class(n: &roxmltree::Node<'_, '_>, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split(' ').any(|w| w == class))
}

#[test]
fn svg_structure_matches_the_flow() {
    for (f, columns) in [
        (basic_call(), 2),
        (cancelled_call(), 2),
        (forked_call(), 4),
        (retransmitted_invite(), 2),
    ] {
        let svg = render_svg(&f);
        let doc = parse_svg(&svg);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        // The size follows from the columns and rows.
        let width: usize = root.attribute("width").unwrap().parse().unwrap();
        let height: usize = root.attribute("height").unwrap().parse().unwrap();
        let rows = f.len();
        assert!(width >= 2 * 12 + columns * 150, "{width}");
        assert!(height >= rows * 28, "{height}");
        assert_eq!(
            root.attribute("viewBox").unwrap(),
            format!("0 0 {width} {height}")
        );
        let lifelines = doc
            .descendants()
            .filter(|n| n.has_tag_name("line") && has_class(n, "lifeline"))
            .count();
        assert_eq!(lifelines, columns);
        let boxes = doc
            .descendants()
            .filter(|n| has_class(n, "participant"))
            .count();
        assert_eq!(boxes, columns);
        let messages: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && has_class(n, "message"))
            .collect();
        assert_eq!(messages.len(), rows);
        for (g, entry) in messages.iter().zip(f.entries()) {
            // One arrow with its head, one label, one time each.
            let arrows: Vec<_> = g.children().filter(|n| has_class(n, "arrow")).collect();
            assert_eq!(arrows.len(), 1);
            let marker = arrows[0].attribute("marker-end").unwrap();
            let id = marker
                .strip_prefix("url(#")
                .and_then(|m| m.strip_suffix(')'))
                .unwrap();
            assert!(
                doc.descendants()
                    .any(|n| n.has_tag_name("marker") && n.attribute("id") == Some(id)),
                "no marker {id}"
            );
            assert_eq!(
                arrows[0].attribute("stroke-dasharray").is_some(),
                entry.retransmission
            );
            let label = g.children().find(|n| has_class(n, "label")).unwrap();
            let mut want = entry.label.clone();
            if entry.retransmission {
                want.push_str(" ↻");
            }
            assert_eq!(label.text(), Some(want.as_str()));
            assert!(g.children().any(|n| has_class(&n, "time")));
            // Everything drawn lies inside the picture.
            for attr in ["x1", "x2", "x"] {
                if let Some(x) = arrows[0].attribute(attr) {
                    assert!(x.parse::<usize>().unwrap() <= width);
                }
            }
        }
    }
}

#[test]
fn the_documented_picture_is_current() {
    // docs/flows/invite.svg, shown in the README, is this flow's SVG.
    let svg = render_svg(&basic_call());
    expect_file(
        "../docs/flows/invite.svg",
        &svg,
        include_str!("../../../../docs/flows/invite.svg"),
    );
}

#[test]
fn svg_size_grows_with_participants_and_messages() {
    let small = parse_svg(&render_svg(&basic_call()))
        .root_element()
        .attribute("width")
        .unwrap()
        .parse::<usize>()
        .unwrap();
    let svg = render_svg(&forked_call());
    let doc = parse_svg(&svg);
    let wide: usize = doc
        .root_element()
        .attribute("width")
        .unwrap()
        .parse()
        .unwrap();
    assert!(wide > small);
    // The exact formula: margins, the time column (`+1.521s`, 7
    // characters of 7.5 px and padding) and four columns as wide as the
    // widest label over one gap needs (`INVITE bob@biloxi.example.com`,
    // 29 characters, and 40 px of arrow).
    let col_w = (29 * 15usize).div_ceil(2) + 40;
    let time_w = (7 * 15usize).div_ceil(2) + 20;
    assert_eq!(wide, 2 * 12 + time_w + 4 * col_w);
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    // Call-ID's `word` allows quotes and angle brackets (RFC 3261 §25.1).
    let evil_call_id = "x\"/><script>alert(1)</script><g";
    let uri = "sip:%3Cb%3E@evil.example.com";
    let data = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
         Max-Forwards: 70\r\nTo: <sip:b@evil.example.com>\r\n\
         From: <sip:a@evil.example.com>;tag=1\r\nCall-ID: {evil_call_id}\r\n\
         CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    let reply = format!(
        "SIP/2.0 404 <Not> & \"Found\";%%x#1\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=b\r\n\
         To: <sip:b@evil.example.com>;tag=2\r\nFrom: <sip:a@evil.example.com>;tag=1\r\n\
         Call-ID: {evil_call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    let mut f = Flow::new();
    f.push(Captured::offset(
        Duration::ZERO,
        addr(ALICE),
        addr(BOB),
        Protocol::Udp,
        data.as_bytes(),
    ));
    f.push(Captured::offset(
        Duration::from_millis(5),
        addr(BOB),
        addr(ALICE),
        Protocol::Udp,
        reply.as_bytes(),
    ));
    f.name(addr(ALICE), "<alice & \"co\">\n;%%");
    assert_eq!(f.entries()[0].call_id.as_deref(), Some(evil_call_id));
    assert_eq!(f.entries()[1].label, "404 <Not> & \"Found\";%%x#1");

    let svg = render_svg(&f);
    let doc = parse_svg(&svg);
    // No element came from the text: only what the renderer writes.
    let allowed = [
        "svg", "defs", "marker", "path", "rect", "line", "text", "g", "title",
    ];
    for n in doc.descendants().filter(|n| n.is_element()) {
        assert!(
            allowed.contains(&n.tag_name().name()),
            "{}",
            n.tag_name().name()
        );
    }
    assert!(!svg.contains("<script"));
    let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
    assert!(title.text().unwrap().contains(evil_call_id));
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| has_class(n, "label"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(
        labels,
        [
            "INVITE %3Cb%3E@evil.example.com",
            "404 <Not> & \"Found\";%%x#1"
        ]
    );
    let name = doc.descendants().find(|n| has_class(n, "name")).unwrap();
    assert_eq!(name.text(), Some("<alice & \"co\">?;%%"));

    // Mermaid: no statement separator, comment or markup survives.
    let mmd = render_mermaid(&f);
    let body: Vec<&str> = mmd.lines().skip(1).collect();
    assert_eq!(body.len(), 4, "{mmd}");
    for line in &body {
        // The text of each statement (after `as` or the first `:`), with
        // the entity codes taken out, has nothing Mermaid reads as syntax.
        let text = match line.split_once(" as ") {
            Some((_, t)) => t,
            None => line.split_once(": ").unwrap().1,
        };
        let plain = without_entities(text);
        for bad in [";", "#", "%", "<", ">", "\"", "&"] {
            assert!(!plain.contains(bad), "{line} -> {plain} has {bad}");
        }
    }
    assert!(
        mmd.contains("404 #60;Not#62; #38; #34;Found#34;#59;#37;#37;x#35;1"),
        "{mmd}"
    );

    // Text: control characters never reach the terminal.
    let text = render_text(&f);
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
}

/// `s` without its Mermaid entity codes (`#59;`).
fn without_entities(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(';') {
            rest = &after[digits + 1..];
        } else {
            out.push('#');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn unparsable_bytes_get_a_label() {
    let mut f = Flow::new();
    f.push(Captured::offset(
        Duration::ZERO,
        addr(ALICE),
        addr(BOB),
        Protocol::Tcp,
        b"\x16\x03\x01 not sip at all",
    ));
    f.push(Captured::offset(
        Duration::from_secs(1),
        addr(ALICE),
        addr(BOB),
        Protocol::Tcp,
        b"\x16\x03\x01 not sip at all",
    ));
    assert_eq!(f.entries()[0].label, "(unparsable, 18 bytes)");
    assert_eq!(f.entries()[0].kind, MessageKind::Unparsable);
    assert!(f.entries()[1].retransmission);
    assert!(f.call_ids().is_empty());
    let text = render_text(&f);
    assert!(text.contains("(unparsable, 18 bytes) ↻"), "{text}");
    parse_svg(&render_svg(&f));
}

#[test]
fn labels_are_capped() {
    let long_user = "u".repeat(200);
    let data = format!(
        "MESSAGE sip:{long_user}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
         Max-Forwards: 70\r\nTo: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n\
         Call-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    );
    let mut f = Flow::new();
    f.push(Captured::offset(
        Duration::ZERO,
        addr(ALICE),
        addr(BOB),
        Protocol::Udp,
        data.as_bytes(),
    ));
    let label = &f.entries()[0].label;
    assert_eq!(label.chars().count(), MAX_LABEL);
    assert!(label.ends_with('…'));
    let text = render_text(&f);
    assert!(text.lines().all(|l| l.chars().count() < 200), "{text}");
}

#[test]
fn flows_are_bounded_and_say_so() {
    let mut f = Flow::with_limit(3);
    let mut calls = basic_call().entries().len();
    let src = basic_call();
    // Replay the basic call's messages into a flow of three.
    let bytes: Vec<Vec<u8>> = (0..calls)
        .map(|i| format!("garbage {i}").into_bytes())
        .collect();
    for (i, b) in bytes.iter().enumerate() {
        let e = &src.entries()[i];
        f.push(Captured::new(
            e.time,
            e.source,
            e.destination,
            e.protocol,
            b,
        ));
    }
    calls -= 3;
    assert_eq!((f.len(), f.omitted(), f.limit()), (3, calls, 3));
    let text = render_text(&f);
    assert!(
        text.contains("(4 more messages not recorded (a flow keeps at most 3))"),
        "{text}"
    );
    assert!(render_svg(&f).contains("4 more messages not recorded"));
    assert!(render_mermaid(&f).contains("4 more messages not recorded"));

    // Columns: at most MAX_PARTICIPANTS; the rest counted.
    let mut f = Flow::new();
    for i in 0..(MAX_PARTICIPANTS as u16 + 5) {
        let to = SocketAddr::from(([192, 0, 2, 1], 6000 + i));
        f.push(Captured::offset(
            Duration::ZERO,
            addr(ALICE),
            to,
            Protocol::Udp,
            b"x",
        ));
    }
    let svg = render_svg(&f);
    let doc = parse_svg(&svg);
    let lifelines = doc
        .descendants()
        .filter(|n| has_class(n, "lifeline"))
        .count();
    assert_eq!(lifelines, MAX_PARTICIPANTS);
    assert!(
        svg.contains("6 more messages between further participants not drawn"),
        "{svg}"
    );
}

#[test]
fn a_call_can_be_picked_out() {
    let mut f = basic_call();
    assert_eq!(forked_call().call_ids(), ["fork-1"]);
    let other = Msg {
        call_id: "other",
        from_tag: "o",
        ..simple("OPTIONS sip:x@y SIP/2.0", "z9hG4bKo", "9 OPTIONS", None)
    };
    push(&mut f, 50, BOB, ALICE, other);
    assert_eq!(f.call_ids(), ["call-1@192.0.2.1", "other"]);
    let one = f.call("call-1@192.0.2.1");
    assert_eq!(one.len(), 7);
    assert_eq!(one.name_of(addr(ALICE)), Some("alice"));
    assert_eq!(render_text(&one), render_text(&basic_call()));
    assert!(f.call("nope").is_empty());
}

#[test]
fn empty_flow_renders_a_note() {
    let f = Flow::default();
    assert_eq!(render_text(&f), "(no messages)\n");
    let svg = render_svg(&f);
    parse_svg(&svg);
    assert!(svg.contains("no messages"));
    assert!(render_mermaid(&f).starts_with("sequenceDiagram\n"));
}

#[test]
fn a_message_to_itself_loops() {
    let mut f = Flow::new();
    let inv = "OPTIONS sip:self@192.0.2.1 SIP/2.0";
    push(
        &mut f,
        0,
        ALICE,
        ALICE,
        simple(inv, "z9hG4bKs", "1 OPTIONS", None),
    );
    let text = render_text(&f);
    assert!(text.contains("|<-' OPTIONS self@192.0.2.1"), "{text}");
    let svg = render_svg(&f);
    let doc = parse_svg(&svg);
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("path") && has_class(&n, "arrow"))
    );
}

#[test]
fn recorder_collects_tapped_messages() {
    let recorder = FlowRecorder::new();
    let sent_only = FlowRecorder::only(Direction::Out);
    let data = simple(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0",
        "z9hG4bKr",
        "1 OPTIONS",
        None,
    )
    .bytes();
    let local = addr(BOB);
    let peer = addr(ALICE);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let received = TappedMessage {
        direction: Direction::In,
        protocol: Protocol::Udp,
        local,
        peer,
        timestamp: t0,
        data: &data,
    };
    let reply = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr\r\n\
        To: <sip:bob@biloxi.example.com>;tag=t\r\nFrom: <sip:alice@atlanta.example.com>;tag=a1\r\n\
        Call-ID: call-1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let sent = TappedMessage {
        direction: Direction::Out,
        timestamp: t0 + Duration::from_millis(3),
        data: reply,
        ..received
    };
    for m in [&received, &sent] {
        recorder.observe(m);
        sent_only.observe(m);
    }
    let flow = recorder.flow();
    assert_eq!(flow.len(), 2);
    assert_eq!(
        (flow.entries()[0].source, flow.entries()[0].destination),
        (peer, local)
    );
    assert_eq!(
        (flow.entries()[1].source, flow.entries()[1].destination),
        (local, peer)
    );
    assert_eq!(sent_only.flow().len(), 1);
    assert_eq!(sent_only.flow().entries()[0].label, "200 OK");
    let text = render_text(&flow);
    assert!(text.contains("+0.003s"), "{text}");
    // A conversion for other uses of the tap.
    let c = Captured::from(sent);
    assert_eq!(
        (c.source, c.destination, c.time),
        (local, peer, sent.timestamp)
    );
    recorder.shared().lock().unwrap().name(local, "server");
    recorder.clear();
    assert!(recorder.flow().is_empty());
    assert_eq!(recorder.flow().name_of(local), Some("server"));
    let joined = FlowRecorder::with_flow(recorder.shared());
    joined.observe(&received);
    assert_eq!(recorder.flow().len(), 1);
}

#[test]
fn a_full_flow_renders() {
    // The largest flow, between more addresses than are drawn: every
    // renderer finishes and says what it left out.
    let mut f = Flow::new();
    for i in 0..=MAX_MESSAGES {
        let from = SocketAddr::from(([192, 0, 2, 1], 5000 + (i % 40) as u16));
        let data = format!("packet {i}");
        f.push(Captured::offset(
            Duration::from_millis(i as u64),
            from,
            addr(BOB),
            Protocol::Udp,
            data.as_bytes(),
        ));
    }
    assert_eq!((f.len(), f.omitted()), (MAX_MESSAGES, 1));
    let text = render_text(&f);
    // bob and the first 31 senders fill the columns: the messages of 9
    // senders in every 40 are left out.
    let drawn = MAX_MESSAGES - MAX_MESSAGES / 40 * 9;
    assert_eq!(text.lines().filter(|l| l.starts_with('+')).count(), drawn);
    assert!(text.contains(&format!(
        "({} more messages between further participants not drawn",
        MAX_MESSAGES - drawn
    )));
    assert!(text.contains("(1 more message not recorded (a flow keeps at most 10000))"));
    let svg = render_svg(&f);
    assert_eq!(svg.matches("<g class=\"message").count(), drawn);
    assert_eq!(
        render_mermaid(&f)
            .lines()
            .filter(|l| l.contains("->>"))
            .count(),
        drawn
    );
}
