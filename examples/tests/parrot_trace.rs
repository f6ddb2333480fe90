//! `parrot-trace` run as a process on captures and logs made here: a pcap
//! of a UDP call, a pcapng of a call over TCP with a message split across
//! segments, damaged files, a `--trace-sip` log; and the SVG drawn into a
//! PNG by `rsvg-convert` (Debian package librsvg2-bin), checked for its
//! size and for being more than a blank page.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_parrot-trace");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run parrot-trace: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A directory of its own for each test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parrot-trace-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ALICE: &str = "192.0.2.1:5060";
const BOB: &str = "192.0.2.2:5080";

/// A message of the test call.
fn sip(start: &str, branch: &str, cseq: &str, to_tag: bool, body: &str) -> Vec<u8> {
    let tag = if to_tag { ";tag=b1" } else { "" };
    let via = if start.starts_with("SIP/") {
        format!("Via: SIP/2.0/UDP {ALICE};branch={branch}\r\n")
    } else {
        format!("Via: SIP/2.0/UDP {ALICE};branch={branch}\r\nMax-Forwards: 70\r\n")
    };
    format!(
        "{start}\r\n{via}From: <sip:alice@atlanta.example.com>;tag=a1\r\n\
         To: <sip:bob@biloxi.example.com>{tag}\r\nCall-ID: trace-1@192.0.2.1\r\n\
         CSeq: {cseq}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// INVITE / 200 / ACK / BYE / 200, with the times (ms) they were seen
/// and whether alice sent them.
fn call() -> Vec<(u64, bool, Vec<u8>)> {
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
               m=audio 4000 RTP/AVP 0\r\n";
    vec![
        (
            0,
            true,
            sip(
                "INVITE sip:bob@biloxi.example.com SIP/2.0",
                "z9hG4bK1",
                "1 INVITE",
                false,
                sdp,
            ),
        ),
        (
            250,
            false,
            sip("SIP/2.0 200 OK", "z9hG4bK1", "1 INVITE", true, sdp),
        ),
        (
            252,
            true,
            sip(
                "ACK sip:bob@192.0.2.2:5080 SIP/2.0",
                "z9hG4bK2",
                "1 ACK",
                true,
                "",
            ),
        ),
        (
            5000,
            true,
            sip(
                "BYE sip:bob@192.0.2.2:5080 SIP/2.0",
                "z9hG4bK3",
                "2 BYE",
                true,
                "",
            ),
        ),
        (
            5012,
            false,
            sip("SIP/2.0 200 OK", "z9hG4bK3", "2 BYE", true, ""),
        ),
    ]
}

fn v4(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

/// An IPv4 header for `payload` of `protocol` (checksum left zero).
fn ipv4(src: SocketAddrV4, dst: SocketAddrV4, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).unwrap();
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0]);
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    p.extend_from_slice(payload);
    p
}

/// An Ethernet frame around an IPv4 packet.
fn ethernet(ip: Vec<u8>) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend(ip);
    f
}

fn udp_frame(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ethernet(ipv4(src, dst, 17, &u))
}

fn tcp_frame(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&src.port().to_be_bytes());
    t.extend_from_slice(&dst.port().to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ethernet(ipv4(src, dst, 6, &t))
}

/// A little-endian pcap (microseconds, Ethernet) of `frames` (ms, frame).
fn pcap(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for (ms, frame) in frames {
        let t = 1_700_000_000_000 + ms;
        f.extend_from_slice(&u32::try_from(t / 1000).unwrap().to_le_bytes());
        f.extend_from_slice(&u32::try_from(t % 1000 * 1000).unwrap().to_le_bytes());
        let len = u32::try_from(frame.len()).unwrap().to_le_bytes();
        f.extend_from_slice(&len);
        f.extend_from_slice(&len);
        f.extend_from_slice(frame);
    }
    f
}

/// A pcapng block: type, length, body (padded), length.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = u32::try_from(12 + body.len()).unwrap().to_le_bytes();
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&len);
    b.extend(body);
    b.extend_from_slice(&len);
    b
}

/// A little-endian pcapng with one Ethernet interface counting time in
/// nanoseconds (`if_tsresol` 9).
fn pcapng(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut f = block(0x0a0d_0d0a, &shb);
    let mut idb = 1u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&65_535u32.to_le_bytes());
    idb.extend_from_slice(&9u16.to_le_bytes());
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&[9, 0, 0, 0]);
    idb.extend_from_slice(&[0, 0, 0, 0]);
    f.extend(block(1, &idb));
    for (ms, frame) in frames {
        let ns = (1_700_000_000_000 + ms) * 1_000_000;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&u32::try_from(ns >> 32).unwrap().to_le_bytes());
        epb.extend_from_slice(&u32::try_from(ns & 0xffff_ffff).unwrap().to_le_bytes());
        let len = u32::try_from(frame.len()).unwrap().to_le_bytes();
        epb.extend_from_slice(&len);
        epb.extend_from_slice(&len);
        epb.extend_from_slice(frame);
        f.extend(block(6, &epb));
    }
    f
}

/// The call over UDP, with an RTP packet in the middle to be skipped.
fn udp_capture() -> Vec<u8> {
    let (a, b) = (v4(ALICE), v4(BOB));
    let mut frames: Vec<(u64, Vec<u8>)> = call()
        .into_iter()
        .map(|(ms, from_alice, m)| {
            let frame = if from_alice {
                udp_frame(a, b, &m)
            } else {
                udp_frame(b, a, &m)
            };
            (ms, frame)
        })
        .collect();
    let rtp = udp_frame(
        v4("192.0.2.1:4000"),
        v4("192.0.2.2:4002"),
        &[0x80, 0, 0, 1, 0, 0, 0, 0],
    );
    frames.insert(3, (300, rtp));
    pcap(&frames)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_pcap_of_a_call_is_drawn_in_each_format() {
    let dir = scratch("pcap");
    let input = write(&dir, "call.pcap", &udp_capture());

    let out = run(&[
        "--name",
        &format!("{ALICE}=alice"),
        "--name",
        &format!("{BOB}=bob"),
        &input,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("alice") && lines[0].contains("bob"),
        "{text}"
    );
    assert!(lines[1].contains(ALICE) && lines[1].contains(BOB), "{text}");
    let arrows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with('+'))
        .collect();
    assert_eq!(arrows.len(), 5, "{text}");
    let expect = [
        ("+0.000s", "INVITE bob@biloxi.example.com", "->|"),
        ("+0.250s", "200 OK", "|<-"),
        ("+0.252s", "ACK bob@192.0.2.2", "->|"),
        ("+5.000s", "BYE bob@192.0.2.2", "->|"),
        ("+5.012s", "200 OK", "|<-"),
    ];
    for (line, (time, label, arrow)) in arrows.iter().zip(expect) {
        assert!(line.starts_with(time), "{line}");
        assert!(line.contains(label), "{line}");
        assert!(line.contains(arrow), "{line}");
    }

    let out = run(&["--format", "mermaid", &input]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "sequenceDiagram\n\
         \x20   participant P1 as 192.0.2.1:5060\n\
         \x20   participant P2 as 192.0.2.2:5080\n\
         \x20   P1->>P2: +0.000s INVITE bob@biloxi.example.com\n\
         \x20   P2->>P1: +0.250s 200 OK\n\
         \x20   P1->>P2: +0.252s ACK bob@192.0.2.2\n\
         \x20   P1->>P2: +5.000s BYE bob@192.0.2.2\n\
         \x20   P2->>P1: +5.012s 200 OK\n"
    );

    let svg_path = dir.join("call.svg");
    let out = run(&["-f", "svg", "-o", svg_path.to_str().unwrap(), &input]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert_eq!(svg.matches("class=\"arrow\"").count(), 5);
    assert_eq!(svg.matches("<g class=\"message").count(), 5);
    assert!(svg.contains(">INVITE bob@biloxi.example.com</text>"));
    assert!(svg.trim_end().ends_with("</svg>"));

    let out = run(&["--calls", &input]);
    assert_eq!(stdout(&out), "5\ttrace-1@192.0.2.1\n");
    let out = run(&["--call", "trace-1@192.0.2.1", &input]);
    assert_eq!(
        stdout(&out).lines().filter(|l| l.starts_with('+')).count(),
        5
    );
    let out = run(&["--call", "nope", &input]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no message of call \"nope\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_pcapng_of_a_call_over_tcp_is_put_back_together() {
    let (a, b) = (v4("192.0.2.1:40000"), v4("192.0.2.2:5060"));
    let mut frames = vec![
        (0, tcp_frame(a, b, 999, 0x02, b"")),
        (0, tcp_frame(b, a, 4999, 0x12, b"")),
    ];
    let (mut sa, mut sb) = (1000u32, 5000u32);
    for (ms, from_alice, m) in call() {
        let (src, dst, seq) = if from_alice {
            (a, b, &mut sa)
        } else {
            (b, a, &mut sb)
        };
        // Each message in two segments, split inside the header block;
        // the first segment sent twice (a TCP retransmission).
        let (head, tail) = m.split_at(30);
        frames.push((ms, tcp_frame(src, dst, *seq, 0x18, head)));
        frames.push((ms, tcp_frame(src, dst, *seq, 0x18, head)));
        frames.push((ms + 1, tcp_frame(src, dst, *seq + 30, 0x18, tail)));
        *seq += u32::try_from(m.len()).unwrap();
    }
    let dir = scratch("pcapng");
    let input = write(&dir, "call.pcapng", &pcapng(&frames));
    let out = run(&["--format", "mermaid", &input]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mmd = stdout(&out);
    let messages: Vec<&str> = mmd.lines().filter(|l| l.contains("->>")).collect();
    assert_eq!(
        messages,
        [
            "    P1->>P2: +0.000s INVITE bob@biloxi.example.com",
            "    P2->>P1: +0.250s 200 OK",
            "    P1->>P2: +0.252s ACK bob@192.0.2.2",
            "    P1->>P2: +5.000s BYE bob@192.0.2.2",
            "    P2->>P1: +5.012s 200 OK",
        ],
        "{mmd}"
    );
    // The SVG's tooltips say TCP.
    let out = run(&["--format", "svg", &input]);
    assert!(stdout(&out).contains("TCP 192.0.2.1:40000 → 192.0.2.2:5060"));
}

#[test]
fn damaged_input_is_refused_clearly() {
    let dir = scratch("damaged");
    let whole = udp_capture();
    // Cut inside the third packet (ACK): two packets read.
    let header = 24;
    let first = 16 + udp_frame(v4(ALICE), v4(BOB), &call()[0].2).len();
    let second = 16 + udp_frame(v4(BOB), v4(ALICE), &call()[1].2).len();
    let cut = header + first + second + 30;
    let input = write(&dir, "cut.pcap", &whole[..cut]);
    let out = run(&[&input]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "truncated at byte offset {}",
            header + first + second
        )),
        "{err}"
    );
    assert!(err.contains("after 2 packets (2 SIP messages)"), "{err}");
    assert!(out.stdout.is_empty());
    // --partial draws the two messages read, and still fails.
    let out = run(&["--partial", &input]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out).lines().filter(|l| l.starts_with('+')).count(),
        2
    );
    assert!(stderr(&out).contains("drawing what was read before it"));

    // Every prefix of the capture: an answer, never a panic.
    for n in (0..whole.len()).step_by(13) {
        let input = write(&dir, "prefix.pcap", &whole[..n]);
        let out = run(&[&input]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "prefix {n}: {}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("panicked"),
            "prefix {n}: {}",
            stderr(&out)
        );
    }
    // A pcapng cut inside its header.
    let ng = pcapng(&[(0, udp_frame(v4(ALICE), v4(BOB), &call()[0].2))]);
    let input = write(&dir, "cut.pcapng", &ng[..20]);
    let out = run(&[&input]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a pcapng file"),
        "{}",
        stderr(&out)
    );
    // Binary garbage, and a missing file.
    let input = write(&dir, "garbage.bin", &[0x00, 0xff, 0x13, 0x37, 0x00, 0x42]);
    let out = run(&[&input]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("neither a pcap or pcapng capture nor a text log"));
    let out = run(&[dir.join("missing.pcap").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.pcap"), "{}", stderr(&out));
    // Text with no trace in it.
    let input = write(&dir, "empty.log", b"nothing to see\n");
    let out = run(&[&input]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no SIP message found"),
        "{}",
        stderr(&out)
    );
}

/// A message as the text trace logs it, after the `fmt` subscriber's
/// prefix: the header line, the lines, the event's fields at the end.
fn logged(time: &str, verb: &str, local: &str, peer: &str, m: &[u8]) -> String {
    let text = String::from_utf8_lossy(m);
    let shown = text.trim_end_matches(['\r', '\n']).replace("\r\n", "\n");
    let (dir, arrow) = if verb == "recv" {
        ("in", "<-")
    } else {
        ("out", "->")
    };
    format!(
        "{time}  INFO parrot::sip: {verb} {} bytes UDP {local} {arrow} {peer}\n{shown} \
         direction={dir} protocol=UDP local={local} peer={peer} bytes={}\n",
        m.len(),
        m.len()
    )
}

#[test]
fn a_trace_log_is_drawn() {
    // bob's server log: it received the INVITE, ACK and BYE and sent the
    // responses; other log lines in between.
    let mut log = String::from(
        "2023-11-14T22:13:20.000000Z  INFO parrot::server: listening on 192.0.2.2:5080\n",
    );
    for (i, (ms, from_alice, m)) in call().into_iter().enumerate() {
        let time = format!(
            "2023-11-14T22:13:{:02}.{:03}000Z",
            20 + ms / 1000,
            ms % 1000
        );
        let (verb, local, peer) = if from_alice {
            ("recv", BOB, ALICE)
        } else {
            ("send", BOB, ALICE)
        };
        log.push_str(&logged(&time, verb, local, peer, &m));
        if i == 1 {
            log.push_str("2023-11-14T22:13:20.251000Z DEBUG request{call_id=trace-1}: parrot::server: answered\n");
        }
    }
    let dir = scratch("log");
    let input = write(&dir, "bob.log", log.as_bytes());
    let out = run(&[
        "--format",
        "mermaid",
        "--name",
        &format!("{BOB}=bob"),
        &input,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "sequenceDiagram\n\
         \x20   participant P1 as 192.0.2.1:5060\n\
         \x20   participant P2 as bob 192.0.2.2:5080\n\
         \x20   P1->>P2: +0.000s INVITE bob@biloxi.example.com\n\
         \x20   P2->>P1: +0.250s 200 OK\n\
         \x20   P1->>P2: +0.252s ACK bob@192.0.2.2\n\
         \x20   P1->>P2: +5.000s BYE bob@192.0.2.2\n\
         \x20   P2->>P1: +5.012s 200 OK\n"
    );
    // The messages came back whole: their bodies were read.
    let out = run(&["--format", "svg", &input]);
    let svg = stdout(&out);
    assert_eq!(svg.matches("<g class=\"message").count(), 5, "{svg}");
    assert!(!svg.contains("message unparsable"), "{svg}");

    // The same events as --log-json writes them.
    let mut json = String::new();
    for (ms, from_alice, m) in call() {
        let text = String::from_utf8_lossy(&m);
        let shown = text.trim_end_matches(['\r', '\n']).replace("\r\n", "\n");
        let (verb, arrow) = if from_alice {
            ("recv", "<-")
        } else {
            ("send", "->")
        };
        let message = format!(
            "{verb} {} bytes UDP {BOB} {arrow} {ALICE}\n{shown}",
            m.len()
        );
        let escaped = message
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        json.push_str(&format!(
            "{{\"timestamp\":\"2023-11-14T22:13:{:02}.{:03}000Z\",\"level\":\"INFO\",\
             \"fields\":{{\"message\":\"{escaped}\",\"bytes\":{}}},\"target\":\"parrot::sip\"}}\n",
            20 + ms / 1000,
            ms % 1000,
            m.len()
        ));
    }
    let input = write(&dir, "bob.json", json.as_bytes());
    let out = run(&["--format", "text", &input]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines().filter(|l| l.starts_with('+')).count(),
        5,
        "{text}"
    );
    assert!(text.contains("+5.012s"), "{text}");
}

/// The width and height a PNG's IHDR chunk gives.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn svg_size(svg: &str) -> (u32, u32) {
    let attr = |name: &str| -> u32 {
        let at = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        let end = svg[at..].find('"').unwrap();
        svg[at..at + end].parse().unwrap()
    };
    (attr("width"), attr("height"))
}

fn rsvg(svg: &Path, png: &Path) {
    let out = Command::new("rsvg-convert")
        .arg("-o")
        .arg(png)
        .arg(svg)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run rsvg-convert ({e}): install it (Debian package librsvg2-bin; \
                 scripts/test.sh does), or set PARROT_SKIP_IMAGE_TESTS=1 to skip this test"
            )
        });
    assert!(out.status.success(), "rsvg-convert: {}", stderr(&out));
}

#[test]
fn the_svg_draws_a_picture_of_its_stated_size() {
    if std::env::var_os("PARROT_SKIP_IMAGE_TESTS").is_some_and(|v| v == "1") {
        eprintln!("PARROT_SKIP_IMAGE_TESTS=1: the SVG is not drawn");
        return;
    }
    let dir = scratch("image");
    let input = write(&dir, "call.pcap", &udp_capture());
    let svg_path = dir.join("call.svg");
    let out = run(&[
        "-f",
        "svg",
        "--name",
        &format!("{ALICE}=alice"),
        "-o",
        svg_path.to_str().unwrap(),
        &input,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let (w, h) = svg_size(&svg);
    let png_path = dir.join("call.png");
    rsvg(&svg_path, &png_path);
    let png = std::fs::read(&png_path).unwrap();
    assert_eq!(png_size(&png), (w, h));

    // A white page of the same size compresses to next to nothing; the
    // drawing (boxes, lines, text) does not.
    let blank_svg = dir.join("blank.svg");
    std::fs::write(
        &blank_svg,
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\">\
             <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/></svg>"
        ),
    )
    .unwrap();
    let blank_png = dir.join("blank.png");
    rsvg(&blank_svg, &blank_png);
    let blank = std::fs::read(&blank_png).unwrap();
    assert_eq!(png_size(&blank), (w, h));
    assert!(
        png.len() > 4 * blank.len() && png.len() > 4096,
        "the drawing ({} bytes) is hardly more than a blank page ({} bytes)",
        png.len(),
        blank.len()
    );
}
