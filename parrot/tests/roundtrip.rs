//! Property tests for the parser, the stream framer and the serializer.
//!
//! * Robustness: arbitrary bytes, SIP-flavoured noise and mutations of
//!   valid messages (bit flips, truncations, insertions, deletions) never
//!   make `parse_datagram` or `StreamDecoder` panic or loop, and whatever
//!   parses serializes into something that parses again.
//! * Round trip: a generator of valid messages (every method, extension
//!   methods, responses 100–699, sip/sips/tel URIs with escapes, IPv4/IPv6
//!   and domain hosts, ports, parameters and URI headers, Via lists, From/To
//!   with quoted or token display names, Contact lists and `*`, compact
//!   names, unknown headers, text and binary bodies) renders text that must
//!   parse to `m1`, `m2 = parse(m1.to_bytes())` must equal `m1`, and
//!   `m2.to_bytes()` must equal `m1.to_bytes()`.

use bytes::Bytes;
use parrot::message::HeaderName;
use parrot::message::typed::{
    CSeq, CallId, Contact, From, MaxForwards, RecordRoute, Route, To, TypedHeader, Via,
};
use parrot::message::{
    Frame, Limits, Message, Method, StreamDecoder, parse_datagram, parse_datagram_with,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use std::net::{Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------------------
// Checks shared by the robustness properties
// ---------------------------------------------------------------------------

/// Reads everything a layer above might read; none of it may panic.
fn poke(m: &Message) {
    let h = m.headers();
    let _ = h.typed::<CSeq>();
    let _ = h.typed::<MaxForwards>();
    let _ = h.typed::<CallId>();
    for header in h {
        let _ = header.elements().count();
    }
    let _ = h.count(HeaderName::Via);
    let _ = h.values("contact").count();
    if let Message::Request(r) = m {
        let _ = r.uri.to_string();
        if let Some(s) = r.uri.as_sip() {
            let _ = (
                s.user(),
                s.password(),
                s.host().to_string(),
                s.port(),
                s.transport(),
            );
        }
    }
}

/// A message that parsed must serialize into one that parses.
fn reserialize(m: &Message) -> Result<(), TestCaseError> {
    poke(m);
    let out = m.to_bytes();
    match parse_datagram(out.clone()) {
        Ok(again) => {
            poke(&again);
            // From the second pass on the form is stable.
            prop_assert_eq!(
                again.to_bytes(),
                parse_datagram(again.to_bytes()).unwrap().to_bytes()
            );
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!(
            "parsed message serialized to something refused ({e}):\n{}",
            String::from_utf8_lossy(&out)
        ))),
    }
}

fn datagram(input: &[u8]) -> Result<(), TestCaseError> {
    for limits in [Limits::default(), small_limits()] {
        if let Ok(m) = parse_datagram_with(Bytes::copy_from_slice(input), &limits) {
            reserialize(&m)?;
        }
    }
    Ok(())
}

fn small_limits() -> Limits {
    Limits {
        max_head: 600,
        max_body: 300,
        max_headers: 12,
    }
}

/// Feeds `input` to a stream decoder in chunks of the given sizes,
/// decoding after each; stops at the first (fatal) error.
fn stream(input: &[u8], chunks: &[usize], limits: Limits) -> Result<(), TestCaseError> {
    let mut dec = StreamDecoder::new(limits);
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    let mut consumed_total = 0usize;
    loop {
        let n = (*sizes.next().unwrap_or(&1))
            .clamp(1, rest.len().max(1))
            .min(rest.len());
        dec.push(&rest[..n]);
        rest = &rest[n..];
        // Every frame consumes input, so this loop ends.
        let mut guard = 0;
        loop {
            guard += 1;
            prop_assert!(guard <= input.len() + 2, "decoder loops");
            let before = dec.buffered();
            match dec.decode() {
                Ok(Some(frame)) => {
                    prop_assert!(dec.buffered() < before, "a frame consumed nothing");
                    consumed_total += before - dec.buffered();
                    match frame {
                        Frame::Message(m) => reserialize(&m)?,
                        Frame::Malformed { raw, error } => {
                            prop_assert!(!raw.is_empty());
                            prop_assert!(!error.reason().contains(['\r', '\n']));
                        }
                        Frame::Ping | Frame::Pong => {}
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    prop_assert!(!e.reason().is_empty());
                    return Ok(());
                }
            }
        }
        prop_assert!(dec.buffered() + consumed_total <= input.len());
        if rest.is_empty() {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------

/// Pieces that make random input look enough like SIP to get past the
/// start line.
const NOISE: &[&str] = &[
    "\r\n",
    "\r\n\r\n",
    "\n",
    "\r",
    " ",
    "\t",
    ":",
    ";",
    ",",
    "=",
    "\"",
    "\\",
    "<",
    ">",
    "@",
    "%",
    "%00",
    "%4",
    "SIP/2.0",
    "SIP/2.0 200 OK\r\n",
    "INVITE sip:a@b SIP/2.0\r\n",
    "REGISTER sips:[::1]:5061 SIP/2.0\r\n",
    "Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n",
    "v: SIP/2.0/TCP [2001:db8::1]:5060;rport,SIP/2.0/UDP 10.0.0.1\r\n",
    "From: \"A\" <sip:a@b>;tag=1\r\n",
    "f: sip:a@b;tag=x\r\n",
    "To: <tel:+1-555>\r\n",
    "t: b <sip:b@c>\r\n",
    "Call-ID: x@y\r\n",
    "i: z\r\n",
    "CSeq: 1 INVITE\r\n",
    "CSeq: 4294967296 INVITE\r\n",
    "Max-Forwards: 70\r\n",
    "Max-Forwards: 256\r\n",
    "Content-Length: 0\r\n",
    "Content-Length: 5\r\n",
    "l: 99999999999999999999\r\n",
    "Contact: *\r\n",
    "m: <sip:c@d>;expires=0, <sip:e@f>\r\n",
    "X-Y: \u{e9}\u{65e5}\r\n",
    "\u{feff}",
    "\0",
    "\u{7f}",
    "\u{ff}",
];

fn noise() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            4 => select(NOISE).prop_map(|s| s.as_bytes().to_vec()),
            1 => vec(any::<u8>(), 1..6),
            1 => "[A-Za-z0-9.-]{1,8}".prop_map(String::into_bytes),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), select(&b"\r\n \t:;,<>\"\\%@0\x00\xff"[..]))
            .prop_map(|(i, b)| Mutation::Set(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), prop_oneof![noise(), vec(any::<u8>(), 1..8)])
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if v.is_empty() {
            v.push(b'\r');
        }
        match m {
            Mutation::Flip(i, bit) => {
                let i = i.index(v.len());
                v[i] ^= 1 << bit;
            }
            Mutation::Set(i, b) => {
                let i = i.index(v.len());
                v[i] = *b;
            }
            Mutation::Truncate(i) => {
                let i = i.index(v.len());
                v.truncate(i);
            }
            Mutation::Insert(i, bytes) => {
                let i = i.index(v.len() + 1);
                v.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let i = i.index(v.len());
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Mutation::Duplicate(i, n) => {
                let i = i.index(v.len());
                let end = (i + n).min(v.len());
                let copy = v[i..end].to_vec();
                v.splice(end..end, copy);
            }
        }
    }
    v
}

/// Valid messages to mutate: fixed ones, and generated ones.
const SEEDS: &[&str] = &[
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
     Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n\
     Max-Forwards: 70\r\n\
     To: Bob <sip:bob@biloxi.example.com>\r\n\
     From: \"Alice \\\"A\\\"\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
     Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
     CSeq: 314159 INVITE\r\n\
     Contact: <sip:alice@pc33.atlanta.example.com>, *\r\n\
     Content-Type: application/sdp\r\n\
     Content-Length: 13\r\n\r\n\
     v=0\r\no=x\r\n\0\r\n",
    "SIP/2.0 180 Ringing\r\n\
     v: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1;received=192.0.2.1,\r\n SIP/2.0/UDP a.b\r\n\
     t: <sips:%62ob@[::1]:5061;transport=tls>;tag=x\r\n\
     f: sip:alice@atlanta.example.com;tag=y\r\n\
     i: abc@def\r\n\
     CSeq: 2 INVITE\r\n\
     l: 0\r\n\r\n",
    "\r\nREGISTER sip:registrar.example.com SIP/2.0\r\n\
     Via: SIP/2.0/TCP h:5060;branch=z9hG4bKx;rport\r\n\
     Max-Forwards: 0070\r\n\
     To: <tel:+1-201-555-0123;ext=1>\r\n\
     From: Bob Smith <sip:bob@example.com?subject=hi&priority=urgent>;tag=1\r\n\
     Call-ID: z\r\n\
     CSeq: 0009 REGISTER\r\n\
     X-Unknown: ;;,,\r\n\
     Subject:\r\n\
     Content-Length: 0\r\n\r\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..1024), chunks in vec(1usize..64, 1..8)) {
        datagram(&input)?;
        stream(&input, &chunks, Limits::default())?;
        stream(&input, &chunks, small_limits())?;
    }

    #[test]
    fn sip_noise_never_panics(input in noise(), chunks in vec(1usize..64, 1..8)) {
        datagram(&input)?;
        stream(&input, &chunks, Limits::default())?;
        stream(&input, &chunks, small_limits())?;
    }

    #[test]
    fn mutated_seeds_never_panic(
        seed in select(SEEDS),
        muts in vec(mutation(), 1..8),
        chunks in vec(1usize..64, 1..8),
    ) {
        let input = apply(seed.as_bytes().to_vec(), &muts);
        datagram(&input)?;
        stream(&input, &chunks, Limits::default())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_generated_messages_never_panic(
        msg in sip_message(),
        muts in vec(mutation(), 1..6),
        chunks in vec(1usize..128, 1..8),
    ) {
        let input = apply(msg.render(), &muts);
        datagram(&input)?;
        stream(&input, &chunks, Limits::default())?;
        stream(&input, &chunks, small_limits())?;
    }
}

// ---------------------------------------------------------------------------
// Generator of valid messages
// ---------------------------------------------------------------------------

/// `token` (RFC 3261 §25.1).
const TOKEN: &str = "[A-Za-z0-9\\-.!%*_+`'~]{1,10}";

fn method() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(&Method::NAMES[..]).prop_map(str::to_owned),
        1 => "[A-Za-z][A-Za-z0-9\\-.!%*_+`'~]{0,10}",
    ]
    .boxed()
}

fn ipv4() -> impl Strategy<Value = String> {
    any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).to_string())
}

fn ipv6() -> impl Strategy<Value = String> {
    (any::<[u16; 8]>(), 0u8..4, any::<bool>()).prop_map(|(mut s, zeros, upper)| {
        // Runs of zeros so that `::` compression shows up.
        for x in s.iter_mut().skip(2).take(zeros.into()) {
            *x = 0;
        }
        let t = format!("[{}]", Ipv6Addr::from(s));
        if upper { t.to_ascii_uppercase() } else { t }
    })
}

fn domain() -> impl Strategy<Value = String> {
    (
        vec("[a-z0-9]([a-zA-Z0-9-]{0,6}[a-z0-9])?", 0..3),
        "[a-zA-Z]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?",
    )
        .prop_map(|(mut labels, top)| {
            labels.push(top);
            labels.join(".")
        })
}

fn host() -> BoxedStrategy<String> {
    prop_oneof![2 => domain(), 1 => ipv4(), 1 => ipv6()].boxed()
}

fn hostport() -> BoxedStrategy<String> {
    (host(), proptest::option::of(any::<u16>()))
        .prop_map(|(h, p)| match p {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
        .boxed()
}

/// `escaped = "%" HEX HEX`, upper or lower case.
const ESCAPED: &str = "%[0-9A-Fa-f][0-9A-Fa-f]";

fn user() -> BoxedStrategy<String> {
    vec(
        prop_oneof![
            4 => "[A-Za-z0-9\\-_.!~*'()]",
            1 => "[&=+$,;?/]",
            1 => ESCAPED,
        ],
        1..12,
    )
    .prop_map(|v| v.concat())
    .boxed()
}

fn password() -> BoxedStrategy<String> {
    vec(
        prop_oneof![4 => "[A-Za-z0-9\\-_.!~*'()&=+$,]", 1 => ESCAPED],
        0..8,
    )
    .prop_map(|v| v.concat())
    .boxed()
}

/// URI parameter names the generator must not produce at random, since
/// their values have a grammar of their own.
const SIP_PARAM_NAMES: [&str; 6] = ["transport", "user", "method", "ttl", "maddr", "lr"];

fn sip_param() -> BoxedStrategy<String> {
    let paramchar = prop_oneof![4 => "[A-Za-z0-9\\-_.!~*'()]", 1 => "[\\[\\]/:&+$]", 1 => ESCAPED];
    prop_oneof![
        select(&["udp", "tcp", "tls", "sctp", "ws", "wss", "UDP", "x-custom"][..])
            .prop_map(|t| format!(";transport={t}")),
        select(&["phone", "ip", "dialstring"][..]).prop_map(|u| format!(";user={u}")),
        // method-param = "method=" Method, but a token's `%`, `` ` `` and `'`
        // are not paramchars (RFC 3986 would read `%` as an escape); keep
        // to methods that are both.
        prop_oneof![
            select(&Method::NAMES[..]).prop_map(str::to_owned),
            "[A-Za-z][A-Za-z0-9\\-.!*_+~]{0,8}"
        ]
        .prop_map(|m| format!(";method={m}")),
        any::<u8>().prop_map(|t| format!(";ttl={t}")),
        host().prop_map(|h| format!(";maddr={h}")),
        Just(";lr".to_owned()),
        (
            "[a-z][a-z0-9\\-]{0,8}"
                .prop_filter("reserved name", |n| !SIP_PARAM_NAMES.contains(&n.as_str())),
            proptest::option::of(vec(paramchar, 1..8).prop_map(|v| v.concat())),
        )
            .prop_map(|(n, v)| match v {
                Some(v) => format!(";{n}={v}"),
                None => format!(";{n}"),
            }),
    ]
    .boxed()
}

fn uri_headers() -> BoxedStrategy<String> {
    let hchar = || prop_oneof![4 => "[A-Za-z0-9\\-_.!~*'()]", 1 => "[\\[\\]/?:+$]", 1 => ESCAPED];
    vec(
        (vec(hchar(), 1..6), vec(hchar(), 0..8))
            .prop_map(|(n, v)| format!("{}={}", n.concat(), v.concat())),
        1..3,
    )
    .prop_map(|hs| format!("?{}", hs.join("&")))
    .boxed()
}

/// A `sip:`/`sips:` URI; URI headers only if `with_headers`.
fn sip_uri(with_headers: bool) -> BoxedStrategy<String> {
    (
        select(&["sip", "sips", "SIP"][..]),
        proptest::option::of((user(), proptest::option::of(password()))),
        hostport(),
        vec(sip_param(), 0..4),
        proptest::option::weighted(0.3, uri_headers())
            .prop_map(move |h| h.filter(|_| with_headers)),
    )
        .prop_map(|(scheme, userinfo, hp, params, headers)| {
            let mut s = format!("{scheme}:");
            if let Some((u, p)) = userinfo {
                s.push_str(&u);
                if let Some(p) = p {
                    s.push(':');
                    s.push_str(&p);
                }
                s.push('@');
            }
            s.push_str(&hp);
            s.push_str(&params.concat());
            s.push_str(&headers.unwrap_or_default());
            s
        })
        .boxed()
}

/// A global `tel:` URI (RFC 3966) with parameters.
fn tel_uri() -> BoxedStrategy<String> {
    (
        "[0-9\\-.()]{0,4}[0-9][0-9\\-.()]{0,8}",
        vec(
            prop_oneof![
                "[0-9]{1,5}".prop_map(|e| format!(";ext={e}")),
                (
                    "[a-z][a-z0-9\\-]{0,6}".prop_filter("reserved name", |n| {
                        !["ext", "isub", "phone-context"].contains(&n.as_str())
                    }),
                    proptest::option::of("[A-Za-z0-9\\-_.!~*'()]{1,6}"),
                )
                    .prop_map(|(n, v)| match v {
                        Some(v) => format!(";{n}={v}"),
                        None => format!(";{n}"),
                    }),
            ],
            0..3,
        ),
    )
        .prop_map(|(digits, params)| format!("tel:+{digits}{}", params.concat()))
        .boxed()
}

fn request_uri() -> impl Strategy<Value = String> {
    prop_oneof![4 => sip_uri(false), 1 => tel_uri()]
}

fn address_uri() -> impl Strategy<Value = String> {
    prop_oneof![4 => sip_uri(true), 1 => tel_uri()]
}

/// A display name: `(wire form, expected decoded value)`.
fn display_name() -> BoxedStrategy<Option<(String, String)>> {
    let qchar = prop_oneof![
        6 => "[ !#-\\[\\]-~]",
        1 => Just("\"".to_owned()),
        1 => Just("\\".to_owned()),
        1 => "[\u{e0}-\u{ff}\u{4e00}-\u{4e20}\u{1f600}-\u{1f610}]",
    ];
    prop_oneof![
        1 => Just(None),
        1 => vec(TOKEN, 1..4).prop_map(|w| { let s = w.join(" "); Some((s.clone(), s)) }),
        1 => vec(qchar, 0..12).prop_map(|cs| {
            let plain = cs.concat();
            let quoted = plain.replace('\\', "\\\\").replace('"', "\\\"");
            Some((format!("\"{quoted}\""), plain))
        }),
    ]
    .boxed()
}

fn generic_param() -> BoxedStrategy<String> {
    (
        TOKEN.prop_filter("reserved name", |n| {
            ![
                "tag", "q", "expires", "branch", "received", "rport", "ttl", "maddr",
            ]
            .contains(&n.to_ascii_lowercase().as_str())
        }),
        proptest::option::of(prop_oneof![
            TOKEN.prop_map(|t| t),
            "[ !#-\\[\\]-~]{0,8}".prop_map(|s| format!("\"{s}\"")),
            host(),
        ]),
    )
        .prop_map(|(n, v)| match v {
            Some(v) => format!(";{n}={v}"),
            None => format!(";{n}"),
        })
        .boxed()
}

/// A name-addr or addr-spec with header parameters after it.
/// An address as generated: the wire form and what decoding it must give.
#[derive(Debug, Clone)]
struct Address {
    wire: String,
    display: Option<String>,
    uri: String,
    params: Vec<String>,
}

/// A name-addr or addr-spec with header parameters after it.
fn address_parts(params: impl Strategy<Value = Vec<String>> + 'static) -> BoxedStrategy<Address> {
    (
        display_name(),
        address_uri(),
        params,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, uri, params, spec_if_possible, tight)| {
            let p = params.concat();
            // addr-spec only when nothing in the URI could be taken for a
            // header parameter (RFC 3261 §20.10).
            let wire = if name.is_none() && spec_if_possible && !uri.contains([';', ',', '?']) {
                format!("{uri}{p}")
            } else {
                match &name {
                    Some((wire, _)) if tight && wire.starts_with('"') => {
                        format!("{wire}<{uri}>{p}")
                    }
                    Some((wire, _)) => format!("{wire} <{uri}>{p}"),
                    None => format!("<{uri}>{p}"),
                }
            };
            Address {
                wire,
                display: name.map(|(_, plain)| plain),
                uri,
                params,
            }
        })
        .boxed()
}

fn address(params: impl Strategy<Value = Vec<String>> + 'static) -> BoxedStrategy<String> {
    address_parts(params).prop_map(|a| a.wire).boxed()
}

fn tag() -> impl Strategy<Value = String> {
    TOKEN.prop_map(|t| format!(";tag={t}"))
}

fn contact_value() -> BoxedStrategy<String> {
    let cparam = prop_oneof![
        any::<u32>().prop_map(|e| format!(";expires={e}")),
        "0(\\.[0-9]{0,3})?|1(\\.0{0,3})?".prop_map(|q| format!(";q={q}")),
        "[0-9a-f]{8}"
            .prop_map(|u| format!(";+sip.instance=\"<urn:uuid:{u}-0000-0000-0000-000000000000>\"")),
        generic_param(),
    ];
    prop_oneof![
        1 => Just("*".to_owned()),
        6 => vec(address(vec(cparam, 0..3)), 1..4).prop_map(|v| v.join(", ")),
    ]
    .boxed()
}

fn via_value() -> BoxedStrategy<String> {
    let vparam = prop_oneof![
        ipv4().prop_map(|a| format!(";received={a}")),
        proptest::option::of(any::<u16>()).prop_map(|p| match p {
            Some(p) => format!(";rport={p}"),
            None => ";rport".to_owned(),
        }),
        any::<u8>().prop_map(|t| format!(";ttl={t}")),
        host().prop_map(|h| format!(";maddr={h}")),
        generic_param(),
    ];
    (
        select(&["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "udp", "X-NEW"][..]),
        hostport(),
        TOKEN,
        vec(vparam, 0..3),
        any::<bool>(),
    )
        .prop_map(|(transport, hp, branch, params, branch_first)| {
            let branch = format!(";branch=z9hG4bK{branch}");
            let params = params.concat();
            if branch_first {
                format!("SIP/2.0/{transport} {hp}{branch}{params}")
            } else {
                format!("SIP/2.0/{transport} {hp}{params}{branch}")
            }
        })
        .boxed()
}

fn call_id() -> BoxedStrategy<String> {
    let word = "[A-Za-z0-9\\-.!%*_+`'~()<>:\\\\\"/\\[\\]?{}]{1,16}";
    (word, proptest::option::of(word))
        .prop_map(|(a, b)| match b {
            Some(b) => format!("{a}@{b}"),
            None => a,
        })
        .boxed()
}

/// Header text for unknown headers and free-text values: printable ASCII,
/// spaces, tabs and non-ASCII UTF-8.
fn free_text() -> BoxedStrategy<String> {
    "[ -~\t\u{a0}-\u{2ff}\u{4e00}-\u{4e10}]{0,30}"
        .prop_map(|s| s.trim_matches([' ', '\t']).to_owned())
        .boxed()
}

/// One header line: `(name as written, value)`.
type Line = (String, String);

/// Picks how to write a known header's name: canonical, compact (either
/// case) or in another case.
fn name_of(long: &'static str) -> impl Strategy<Value = String> {
    let compact = HeaderName::lookup(long).and_then(HeaderName::compact);
    let mut forms = vec![
        long.to_owned(),
        long.to_ascii_lowercase(),
        long.to_ascii_uppercase(),
    ];
    if let Some(c) = compact {
        forms.push(c.to_string());
        forms.push(c.to_ascii_uppercase().to_string());
    }
    select(forms)
}

fn line(long: &'static str, value: impl Strategy<Value = String>) -> impl Strategy<Value = Line> {
    (name_of(long), value)
}

/// Extra headers that any message may carry.
fn optional_lines() -> BoxedStrategy<Vec<Line>> {
    vec(
        prop_oneof![
            3 => ("X-[A-Za-z0-9\\-]{1,10}", free_text()),
            1 => line("Contact", contact_value()),
            1 => line("Subject", free_text()),
            1 => line("Supported", vec("[a-z0-9.]{1,8}", 0..4).prop_map(|v| v.join(", "))),
            1 => line("Allow", vec(method(), 1..5).prop_map(|v| v.join(","))),
            1 => line("User-Agent", free_text()),
            1 => line("Route", vec(sip_uri(false).prop_map(|u| format!("<{u};lr>")), 1..3).prop_map(|v| v.join(", "))),
            1 => line("Record-Route", sip_uri(false).prop_map(|u| format!("<{u};lr>"))),
            1 => line("Expires", any::<u32>().prop_map(|n| n.to_string())),
            1 => line("Event", TOKEN),
        ],
        0..5,
    )
    .boxed()
}

/// A body and the lines that describe it.
fn body() -> BoxedStrategy<(Vec<u8>, Vec<Line>)> {
    (
        prop_oneof![
            2 => Just(Vec::new()),
            2 => "(v=0\r\n)?([a-z]=[ -~]{0,20}\r\n){0,6}".prop_map(String::into_bytes),
            2 => vec(any::<u8>(), 1..300),
            1 => vec(select(&b"\r\n\0-"[..]), 1..40),
        ],
        select(&["Content-Length", "content-length", "l", "L"][..]),
        0usize..4,
        select(
            &[
                "application/sdp",
                "application/octet-stream",
                "text/plain;charset=utf-8",
                "multipart/mixed;boundary=x",
            ][..],
        ),
        name_of("Content-Type"),
    )
        .prop_map(|(body, cl_name, zeros, ctype, ct_name)| {
            let mut lines = vec![(
                cl_name.to_owned(),
                format!("{}{}", "0".repeat(zeros), body.len()),
            )];
            if !body.is_empty() {
                lines.push((ct_name, ctype.to_owned()));
            }
            (body, lines)
        })
        .boxed()
}

/// What the generator promises the parser will find.
#[derive(Debug, Clone)]
struct Generated {
    start: String,
    /// `(name, value, style)`; style picks the spacing around the colon and
    /// whether list values are folded after commas.
    lines: Vec<(String, String, u8)>,
    body: Vec<u8>,
    method: Option<String>,
    uri: Option<String>,
    status: Option<(u16, String)>,
    call_id: String,
    cseq: (u32, String),
}

impl Generated {
    fn render(&self) -> Vec<u8> {
        let mut out = self.start.clone().into_bytes();
        out.extend_from_slice(b"\r\n");
        for (name, value, style) in &self.lines {
            let sep = match style % 4 {
                0 => ": ",
                1 => ":",
                2 => " :  ",
                _ => ":\t",
            };
            let value = if *style >= 4 && !value.contains('"') {
                value.replace(", ", ",\r\n ")
            } else {
                value.clone()
            };
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(sep.as_bytes());
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// The headers every message has: Via (one or more lines, possibly
/// comma-separated), From, To, Call-ID, CSeq.
fn core_lines(
    cseq_method: impl Strategy<Value = String> + 'static,
    to_tag: bool,
) -> BoxedStrategy<(Vec<Line>, String, (u32, String))> {
    (
        vec(vec(via_value(), 1..3).prop_map(|v| v.join(", ")), 1..3),
        name_of("Via"),
        line(
            "From",
            address(vec(generic_param(), 0..2).prop_flat_map(|p| {
                tag().prop_map(move |t| {
                    let mut p = p.clone();
                    p.insert(0, t);
                    p
                })
            })),
        ),
        line(
            "To",
            address(vec(generic_param(), 0..2).prop_flat_map(move |p| {
                proptest::option::weighted(if to_tag { 0.9 } else { 0.3 }, tag()).prop_map(
                    move |t| {
                        let mut p = p.clone();
                        p.extend(t);
                        p
                    },
                )
            })),
        ),
        (name_of("Call-ID"), call_id()),
        0u32..=CSeq::MAX,
        cseq_method,
        0usize..3,
    )
        .prop_map(
            |(vias, via_name, from, to, (cid_name, cid), seq, m, zeros)| {
                let mut lines: Vec<Line> =
                    vias.into_iter().map(|v| (via_name.clone(), v)).collect();
                lines.push(from);
                lines.push(to);
                lines.push((cid_name, cid.clone()));
                lines.push(("CSeq".to_owned(), format!("{}{seq} {m}", "0".repeat(zeros))));
                (lines, cid, (seq, m))
            },
        )
        .boxed()
}

fn styles(n: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(prop_oneof![6 => Just(0u8), 1 => 1u8..4, 1 => 4u8..8], n)
}

fn assemble(
    start: String,
    mut lines: Vec<Line>,
    extra: Vec<Line>,
    (body, body_lines): (Vec<u8>, Vec<Line>),
) -> (String, Vec<Line>, Vec<u8>) {
    lines.extend(extra);
    lines.extend(body_lines);
    (start, lines, body)
}

fn request() -> BoxedStrategy<Generated> {
    method()
        .prop_flat_map(|m| {
            (
                Just(m.clone()),
                request_uri(),
                core_lines(Just(m), false),
                line(
                    "Max-Forwards",
                    (0u8..=255, 0usize..3).prop_map(|(n, z)| format!("{}{n}", "0".repeat(z))),
                ),
                optional_lines(),
                body(),
            )
        })
        .prop_flat_map(|(m, uri, (core, cid, cseq), mf, extra, body)| {
            let mut core = core;
            core.push(mf);
            let (start, lines, body) = assemble(format!("{m} {uri} SIP/2.0"), core, extra, body);
            let n = lines.len();
            (
                Just((m, uri, start, body, cid, cseq)),
                Just(lines).prop_shuffle(),
                styles(n),
            )
        })
        .prop_map(
            |((m, uri, start, body, cid, cseq), lines, styles)| Generated {
                start,
                lines: lines
                    .into_iter()
                    .zip(styles)
                    .map(|((n, v), s)| (n, v, s))
                    .collect(),
                body,
                method: Some(m),
                uri: Some(uri),
                status: None,
                call_id: cid,
                cseq,
            },
        )
        .boxed()
}

fn reason() -> BoxedStrategy<String> {
    prop_oneof![
        1 => Just(String::new()),
        // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII
        //                  / UTF8-CONT / SP / HTAB)
        4 => vec(
            prop_oneof![
                8 => "[A-Za-z0-9;/?:@&=+$,\\-_.!~*'() \t\u{a0}-\u{2ff}\u{430}-\u{44f}]",
                1 => ESCAPED,
            ],
            1..24,
        )
        .prop_map(|v| v.concat()),
    ]
    .boxed()
}

fn response() -> BoxedStrategy<Generated> {
    (
        100u16..=699,
        reason(),
        core_lines(method(), true),
        optional_lines(),
        body(),
    )
        .prop_flat_map(|(code, reason, (core, cid, cseq), extra, body)| {
            let (start, lines, body) =
                assemble(format!("SIP/2.0 {code} {reason}"), core, extra, body);
            let n = lines.len();
            (
                Just((code, reason, start, body, cid, cseq)),
                Just(lines).prop_shuffle(),
                styles(n),
            )
        })
        .prop_map(
            |((code, reason, start, body, cid, cseq), lines, styles)| Generated {
                start,
                lines: lines
                    .into_iter()
                    .zip(styles)
                    .map(|((n, v), s)| (n, v, s))
                    .collect(),
                body,
                method: None,
                uri: None,
                status: Some((code, reason)),
                call_id: cid,
                cseq,
            },
        )
        .boxed()
}

fn sip_message() -> BoxedStrategy<Generated> {
    prop_oneof![3 => request(), 2 => response()].boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_messages_round_trip(g in sip_message()) {
        let text = g.render();
        let show = || String::from_utf8_lossy(&text).into_owned();
        let m1 = match parse_datagram(Bytes::from(text.clone())) {
            Ok(m) => m,
            Err(e) => return Err(TestCaseError::fail(format!("valid message refused: {e}\n{}", show()))),
        };

        // What was generated is what was parsed.
        prop_assert_eq!(&m1.body()[..], &g.body[..]);
        prop_assert_eq!(m1.headers().len(), g.lines.len(), "header count\n{}", show());
        match (&m1, &g.method, &g.status) {
            (Message::Request(r), Some(m), None) => {
                prop_assert_eq!(r.method.as_str(), m.as_str());
                prop_assert_eq!(r.uri.to_string(), g.uri.clone().unwrap());
            }
            (Message::Response(r), None, Some((code, reason))) => {
                prop_assert_eq!(r.status.as_u16(), *code);
                prop_assert_eq!(r.reason.as_str(), reason.as_str());
            }
            _ => return Err(TestCaseError::fail(format!("wrong kind of message\n{}", show()))),
        }
        let cid = m1.headers().typed::<CallId>().unwrap().unwrap();
        prop_assert_eq!(cid.as_str(), g.call_id.as_str());
        let cseq = m1.headers().typed::<CSeq>().unwrap().unwrap();
        prop_assert_eq!(cseq.seq, g.cseq.0);
        prop_assert_eq!(cseq.method.as_str(), g.cseq.1.as_str());
        if let Message::Request(r) = &m1 {
            prop_assert_eq!(&r.method, &cseq.method);
            prop_assert!(m1.headers().typed::<MaxForwards>().unwrap().is_ok());
        }
        // Every value of the address and Via headers decodes.
        for v in m1.headers().typed_all::<Via>() {
            prop_assert!(v.is_ok(), "{:?}\n{}", v, show());
        }
        for c in m1.headers().typed_all::<Contact>() {
            prop_assert!(c.is_ok(), "{:?}\n{}", c, show());
        }
        for r in m1.headers().typed_all::<Route>() {
            prop_assert!(r.is_ok(), "{:?}\n{}", r, show());
        }
        for r in m1.headers().typed_all::<RecordRoute>() {
            prop_assert!(r.is_ok(), "{:?}\n{}", r, show());
        }
        prop_assert!(m1.headers().typed::<From>().unwrap().is_ok());
        prop_assert!(m1.headers().typed::<To>().unwrap().is_ok());
        // Names come out as written.
        for (h, (name, _, _)) in m1.headers().iter().zip(&g.lines) {
            prop_assert_eq!(h.name().as_str(), name.as_str());
        }

        // The round trip.
        let out1 = m1.to_bytes();
        let m2 = match parse_datagram(out1.clone()) {
            Ok(m) => m,
            Err(e) => return Err(TestCaseError::fail(format!(
                "serialized message refused: {e}\n{}\nserialized from\n{}",
                String::from_utf8_lossy(&out1),
                show()
            ))),
        };
        prop_assert_eq!(&m2, &m1, "\n{}", String::from_utf8_lossy(&out1));
        prop_assert_eq!(m2.to_bytes(), out1);

        // The same bytes framed from a stream give the same message.
        let mut dec = StreamDecoder::new(Limits::default());
        dec.push(&text);
        match dec.decode() {
            Ok(Some(Frame::Message(m))) => prop_assert_eq!(m, m1),
            other => return Err(TestCaseError::fail(format!("stream gave {other:?}\n{}", show()))),
        }
        prop_assert_eq!(dec.buffered(), 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// From values decode to what was generated: the display name without
    /// quotes and escapes, the URI as written, the parameters in order.
    #[test]
    fn addresses_decode_as_generated(a in address_parts(vec(generic_param(), 0..3)), tag in TOKEN) {
        let wire = format!("{};tag={tag}", a.wire);
        let f = match From::parse_str(&wire) {
            Ok(f) => f,
            Err(e) => return Err(TestCaseError::fail(format!("{e}: {wire}"))),
        };
        prop_assert_eq!(f.addr.display_name().map(|d| d.into_owned()), a.display.clone(), "{}", wire);
        prop_assert_eq!(f.addr.uri().to_string(), a.uri.clone(), "{}", wire);
        prop_assert_eq!(f.params.len(), a.params.len() + 1, "{}", wire);
        prop_assert_eq!(f.tag(), Some(tag.as_str()));
        // Written back, it decodes to the same.
        let again = From::parse_str(&f.to_string());
        prop_assert_eq!(again.as_ref().ok(), Some(&f), "{} -> {}", wire, f);
    }

    /// Via values decode to what was generated and write back the same.
    #[test]
    fn vias_decode_and_write_back(v in via_value()) {
        let via = match Via::parse_str(&v) {
            Ok(via) => via,
            Err(e) => return Err(TestCaseError::fail(format!("{e}: {v}"))),
        };
        prop_assert!(via.branch().is_some_and(|b| b.starts_with("z9hG4bK")));
        prop_assert!(via.is_sip_2_0());
        let again = Via::parse_str(&via.to_string());
        prop_assert_eq!(again.as_ref().ok(), Some(&via), "{} -> {}", v, via);
    }
}
