use super::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

/// RFC 4566 §5's example.
const RFC4566: &str = "v=0\r\n\
    o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n\
    s=SDP Seminar\r\n\
    i=A Seminar on the session description protocol\r\n\
    u=http://www.example.com/seminars/sdp.pdf\r\n\
    e=j.doe@example.com (Jane Doe)\r\n\
    c=IN IP4 224.2.17.12/127\r\n\
    t=2873397496 2873404696\r\n\
    a=recvonly\r\n\
    m=audio 49170 RTP/AVP 0\r\n\
    m=video 51372 RTP/AVP 99\r\n\
    a=rtpmap:99 h263-1998/90000\r\n";

/// RFC 3264 §10.1's first offer (Alice).
const ALICE: &str = "v=0\r\n\
    o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n\
    s=\r\n\
    c=IN IP4 host.atlanta.example.com\r\n\
    t=0 0\r\n\
    m=audio 49170 RTP/AVP 0 8 97\r\n\
    a=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:97 iLBC/8000\r\n\
    m=video 51372 RTP/AVP 31 32\r\n\
    a=rtpmap:31 H261/90000\r\n\
    a=rtpmap:32 MPV/90000\r\n";

fn parse(s: &str) -> SessionDescription {
    s.parse().unwrap_or_else(|e| panic!("{e}\n{s}"))
}

fn kind(s: &str) -> SdpErrorKind {
    match s.parse::<SessionDescription>() {
        Ok(sd) => panic!("accepted: {s:?} as {sd:?}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e.kind().clone()
        }
    }
}

#[test]
fn parses_the_rfc_4566_example() {
    let sd = parse(RFC4566);
    assert_eq!(sd.origin.username, "jdoe");
    assert_eq!(sd.origin.session_id, 2890844526);
    assert_eq!(sd.origin.session_version, 2890842807);
    assert_eq!(sd.origin.address, "10.47.16.5");
    assert_eq!(sd.session_name, "SDP Seminar");
    assert_eq!(sd.emails, ["j.doe@example.com (Jane Doe)"]);
    assert_eq!(sd.connection.as_ref().unwrap().address, "224.2.17.12/127");
    assert_eq!(sd.connection.as_ref().unwrap().ip(), None);
    assert_eq!(sd.timing[0].start, 2873397496);
    assert_eq!(sd.media.len(), 2);
    assert_eq!(sd.media[1].formats, ["99"]);
    let map = sd.media[1].codec(99).unwrap();
    assert_eq!(map.encoding, "h263-1998");
    assert_eq!(map.clock_rate, 90000);
    assert_eq!(sd.media[0].codec(0).unwrap().encoding, "PCMU");
    assert_eq!(sd.media[0].direction(), None);
    assert_eq!(sd.direction_of(&sd.media[0]), Direction::RecvOnly);
}

#[test]
fn serializes_back_to_the_same_text() {
    assert_eq!(parse(RFC4566).to_string(), RFC4566);
    // LF-only input is accepted and written with CRLF.
    let lf = RFC4566.replace("\r\n", "\n");
    assert_eq!(parse(&lf).to_string(), RFC4566);
    // No final line end.
    assert_eq!(
        parse(RFC4566.trim_end()).to_string(),
        RFC4566,
        "a missing final CRLF is tolerated"
    );
    let sd = parse(ALICE);
    assert_eq!(parse(&sd.to_string()), sd);
    assert!(
        sd.to_string().contains("s= \r\n"),
        "empty s= is written as a space"
    );
}

#[test]
fn keeps_the_optional_lines() {
    let text = "v=0\r\n\
        o=- 1 2 IN IP6 2001:db8::1\r\n\
        s=x\r\n\
        p=+1 617 555-6011\r\n\
        b=CT:128\r\n\
        t=0 0\r\n\
        r=7d 1h 0 25h\r\n\
        t=1 2\r\n\
        z=2882844526 -1h\r\n\
        k=prompt\r\n\
        a=tool:x\r\n\
        m=audio 5004/2 RTP/AVP 0\r\n\
        i=voice\r\n\
        c=IN IP6 2001:db8::2\r\n\
        c=IN IP6 2001:db8::3\r\n\
        b=AS:64\r\n\
        k=clear:x\r\n\
        a=maxptime:40\r\n";
    let sd = parse(text);
    assert_eq!(sd.to_string(), text);
    assert_eq!(sd.timing.len(), 2);
    assert_eq!(sd.timing[0].repeats, ["7d 1h 0 25h"]);
    assert_eq!(sd.bandwidths[0].bandwidth, 128);
    assert_eq!(sd.attribute("tool"), Some("x"));
    let m = &sd.media[0];
    assert_eq!(m.port_count, Some(2));
    assert_eq!(m.connections.len(), 2);
    assert_eq!(
        sd.connection_of(m).unwrap().ip(),
        Some(IpAddr::V6("2001:db8::2".parse::<Ipv6Addr>().unwrap()))
    );
    assert_eq!(m.attribute("maxptime"), Some("40"));
}

#[test]
fn refuses_malformed_descriptions() {
    use SdpErrorKind as K;
    let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
    let with = |extra: &str| format!("{base}{extra}");
    assert_eq!(kind(""), K::Empty);
    assert_eq!(kind("\r\n"), K::Empty);
    assert_eq!(kind("v=1\r\n"), K::BadValue('v'));
    assert_eq!(kind("o=- 1 1 IN IP4 h\r\n"), K::Missing('v'));
    assert_eq!(kind("v=0\r\n"), K::Missing('o'));
    assert_eq!(kind("v=0\r\ns=-\r\n"), K::Missing('o'));
    assert_eq!(
        kind("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n"),
        K::BadValue('o')
    );
    assert_eq!(
        kind("v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"),
        K::BadValue('o')
    );
    assert_eq!(
        kind("v=0\r\no=- 99999999999999999999 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"),
        K::BadValue('o')
    );
    assert_eq!(kind("v=0\r\no=- 1 1 IN IP4 h\r\n"), K::Missing('s'));
    assert_eq!(kind("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n"), K::Missing('t'));
    assert_eq!(
        kind("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n"),
        K::Missing('t')
    );
    assert_eq!(kind(&with("x=1\r\n")), K::UnknownType('x'));
    assert_eq!(kind(&with("A=1\r\n")), K::BadLine);
    assert_eq!(kind(&with("a\r\n")), K::BadLine);
    assert_eq!(kind(&with("a =x\r\n")), K::BadLine);
    assert_eq!(kind(&with("\r\n")), K::BadLine);
    assert_eq!(kind(&with("é=1\r\n")), K::BadLine);
    assert_eq!(kind(&with("a=x\0y\r\n")), K::BadLine);
    assert_eq!(kind(&with("a=x\ry\r\n")), K::BadLine);
    assert_eq!(kind(&with("c=IN IP4 192.0.2.2\r\n")), K::OutOfOrder('c'));
    assert_eq!(kind(&with("v=0\r\n")), K::OutOfOrder('v'));
    assert_eq!(kind(&with("t=1\r\n")), K::BadValue('t'));
    assert_eq!(kind(&with("t=0 0 0\r\n")), K::BadValue('t'));
    assert_eq!(kind(&with("a=x\r\nt=0 0\r\n")), K::OutOfOrder('t'));
    assert_eq!(kind(&with("z=1 -1h\r\nz=2 0\r\n")), K::Repeated('z'));
    assert_eq!(kind(&with("m=audio\r\n")), K::BadValue('m'));
    assert_eq!(kind(&with("m=audio 1 RTP/AVP\r\n")), K::BadValue('m'));
    assert_eq!(kind(&with("m=audio 70000 RTP/AVP 0\r\n")), K::BadValue('m'));
    assert_eq!(kind(&with("m=audio x RTP/AVP 0\r\n")), K::BadValue('m'));
    assert_eq!(kind(&with("m=audio 1/x RTP/AVP 0\r\n")), K::BadValue('m'));
    assert_eq!(kind(&with("m=audio 1 RTP/AVP 128\r\n")), K::BadValue('m'));
    assert_eq!(kind(&with("m=audio 1 RTP/AVP pcmu\r\n")), K::BadValue('m'));
    assert_eq!(
        kind(&with("m=audio 1 RTP/AVP 0\r\na=x\r\ni=late\r\n")),
        K::OutOfOrder('i')
    );
    assert_eq!(
        kind(&with("m=audio 1 RTP/AVP 0\r\nt=0 0\r\n")),
        K::OutOfOrder('t')
    );
    assert_eq!(
        kind(&with("m=audio 1 RTP/AVP 0\r\nq=0\r\n")),
        K::UnknownType('q')
    );
    assert_eq!(
        kind(&with("m=audio 1 RTP/AVP 0\r\ni=a\r\ni=b\r\n")),
        K::Repeated('i')
    );
    for bad in [
        "a=rtpmap\r\n",
        "a=rtpmap:0\r\n",
        "a=rtpmap:0 PCMU\r\n",
        "a=rtpmap:0 PCMU/x\r\n",
        "a=rtpmap:200 PCMU/8000\r\n",
        "a=rtpmap:0 /8000\r\n",
        "a=rtpmap:0 PCMU/8000/\r\n",
    ] {
        assert_eq!(
            kind(&with(&format!("m=audio 1 RTP/AVP 0\r\n{bad}"))),
            K::BadAttribute("rtpmap".into()),
            "{bad:?}"
        );
    }
    assert_eq!(
        kind(&with("a=ptime:fast\r\n")),
        K::BadAttribute("ptime".into())
    );
    assert_eq!(
        kind(&with("a=sendonly:yes\r\n")),
        K::BadAttribute("sendonly".into())
    );
    assert_eq!(
        kind(&with("m=audio 1 RTP/AVP 0\r\na=sendonly\r\na=recvonly\r\n")),
        K::BadAttribute("recvonly".into())
    );
    assert_eq!(kind(&with("a=:x\r\n")), K::BadValue('a'));
    assert_eq!(
        kind(&with("m=audio 1 RTP/AVP 0\r\nb=AS\r\n")),
        K::BadValue('b')
    );
    assert_eq!(kind(&with("r=\r\n")), K::BadValue('r'));
    assert_eq!(
        kind("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=7d 1h 0\r\nt=0 0\r\n"),
        K::OutOfOrder('r')
    );
    // No connection anywhere for a stream.
    let no_c = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n";
    let e = no_c.parse::<SessionDescription>().unwrap_err();
    assert_eq!(e.kind(), &K::MissingConnection);
    assert_eq!(e.line(), 5);
    // Connection addresses must fit their type.
    for c in [
        "c=IN IP4 2001:db8::1\r\n",
        "c=IN IP6 192.0.2.1\r\n",
        "c=IN IP4 300.1.1.1\r\n",
        "c=IN IP4 a..b\r\n",
        "c=IN IP4 224.2.1.1/x\r\n",
        "c=IN IP4\r\n",
    ] {
        let text = format!("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n{c}t=0 0\r\nm=audio 1 RTP/AVP 0\r\n");
        assert_eq!(kind(&text), K::BadValue('c'), "{c:?}");
    }
    assert_eq!(
        SessionDescription::from_bytes(b"v=0\r\n\xff")
            .unwrap_err()
            .kind(),
        &K::NotUtf8
    );
}

#[test]
fn errors_name_the_line() {
    let e = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nbogus\r\n"
        .parse::<SessionDescription>()
        .unwrap_err();
    assert_eq!(e.line(), 5);
    assert_eq!(e.to_string(), "SDP line 5: not a <type>=<value> line");
}

#[test]
fn answers_g711_in_the_offerers_order() {
    let offer = parse(ALICE);
    let answer = answer_audio(&offer, LOCAL, 40000).unwrap();
    assert_eq!(answer.media.len(), 2, "one m= line per offered stream");
    let audio = &answer.media[0];
    assert_eq!(audio.port, 40000);
    assert_eq!(audio.proto, "RTP/AVP");
    assert_eq!(audio.formats, ["0", "8"]);
    assert_eq!(
        audio.rtpmaps().map(|m| m.to_string()).collect::<Vec<_>>(),
        ["0 PCMU/8000", "8 PCMA/8000"]
    );
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    assert_eq!(audio.ptime(), None);
    let video = &answer.media[1];
    assert!(video.is_rejected());
    assert_eq!(video.media, "video");
    assert_eq!(video.formats, ["31", "32"]);
    assert!(video.attributes.is_empty());
    assert_eq!(answer.connection, Some(Connection::new(LOCAL)));
    assert_eq!(answer.origin.address, "192.0.2.10");
    assert_eq!(answer.timing, offer.timing);
    // The answer is itself valid SDP.
    assert_eq!(parse(&answer.to_string()), answer);

    let offer = parse(&ALICE.replace("RTP/AVP 0 8 97", "RTP/AVP 97 8 0"));
    let answer = answer_audio(&offer, LOCAL, 40000).unwrap();
    assert_eq!(answer.media[0].formats, ["8", "0"]);
}

#[test]
fn accepts_dynamic_payload_types_and_static_ones_without_rtpmap() {
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n\
         m=audio 3456 RTP/AVP 96 8\r\na=rtpmap:96 pcmu/8000\r\n",
    );
    let answer = answer_audio(&offer, LOCAL, 1).unwrap();
    assert_eq!(answer.media[0].formats, ["96", "8"]);
    assert_eq!(answer.media[0].codec(96).unwrap().encoding, "pcmu");
    assert_eq!(answer.media[0].codec(8).unwrap().encoding, "PCMA");
    // A static number remapped to something else is not G.711.
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n\
         m=audio 3456 RTP/AVP 0\r\na=rtpmap:0 opus/48000/2\r\n",
    );
    assert_eq!(answer_audio(&offer, LOCAL, 1), None);
}

#[test]
fn nothing_acceptable_means_no_answer() {
    for offer in [
        // Only codecs we do not have.
        ALICE.replace("RTP/AVP 0 8 97", "RTP/AVP 97"),
        // G.711 on a secure profile.
        ALICE.replace("RTP/AVP 0 8 97", "RTP/SAVP 0 8"),
        // G.711 in a stream the offerer disabled.
        ALICE.replace("audio 49170", "audio 0"),
        // Only video.
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n\
         m=video 1 RTP/AVP 0\r\n"
            .into(),
        // No media at all.
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n".into(),
    ] {
        assert_eq!(answer_audio(&parse(&offer), LOCAL, 1), None, "{offer}");
    }
}

#[test]
fn only_the_first_acceptable_audio_stream_is_taken() {
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\n\
         m=audio 1000 RTP/AVP 18\r\n\
         m=audio 2000 RTP/AVP 8\r\n\
         m=audio 3000 RTP/AVP 0\r\n",
    );
    let answer = answer_audio(&offer, LOCAL, 5).unwrap();
    let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 5, 0]);
}

#[test]
fn mirrors_direction_and_keeps_ptime() {
    let cases = [
        ("", "", Direction::SendRecv),
        ("a=sendonly\r\n", "", Direction::RecvOnly),
        ("", "a=recvonly\r\n", Direction::SendOnly),
        ("a=sendonly\r\n", "a=inactive\r\n", Direction::Inactive),
        ("a=inactive\r\n", "a=sendrecv\r\n", Direction::SendRecv),
    ];
    for (session, media, want) in cases {
        let offer = parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\n{session}\
             a=ptime:30\r\nm=audio 1 RTP/AVP 0\r\n{media}"
        ));
        let answer = answer_audio(&offer, LOCAL, 1).unwrap();
        assert_eq!(answer.media[0].direction(), Some(want), "{session}{media}");
        assert_eq!(
            answer.media[0].ptime(),
            Some(30),
            "session-level ptime kept"
        );
    }
    let offer = parse(&ALICE.replace("a=rtpmap:0", "a=ptime:40\r\na=rtpmap:0"));
    let answer = answer_audio(&offer, LOCAL, 1).unwrap();
    assert_eq!(answer.media[0].ptime(), Some(40));
}

#[test]
fn offers_g711() {
    let offer = offer_audio(LOCAL, 4000);
    let text = offer.to_string();
    assert!(text.contains("m=audio 4000 RTP/AVP 0 8\r\n"), "{text}");
    assert_eq!(parse(&text), offer);
    // Answering our own offer works, too.
    let answer = answer_audio(&offer, LOCAL, 5000).unwrap();
    assert_eq!(answer.media[0].formats, ["0", "8"]);
}

#[test]
fn later_versions_keep_the_origin() {
    let offer = parse(ALICE);
    let first = answer_audio(&offer, LOCAL, 4000).unwrap();
    let mut same = answer_audio(&offer, LOCAL, 4000).unwrap();
    assert_ne!(same.origin.session_id, first.origin.session_id, "fresh ids");
    same.continue_from(&first);
    assert_eq!(same.origin, first.origin, "unchanged: same version");
    let mut moved = answer_audio(&offer, LOCAL, 4002).unwrap();
    moved.continue_from(&first);
    assert_eq!(moved.origin.session_id, first.origin.session_id);
    assert_eq!(
        moved.origin.session_version,
        first.origin.session_version + 1
    );
}

#[test]
fn ipv6_answers() {
    let ip: IpAddr = "2001:db8::7".parse().unwrap();
    let answer = answer_audio(&parse(ALICE), ip, 4000).unwrap();
    let text = answer.to_string();
    assert!(text.contains("c=IN IP6 2001:db8::7\r\n"), "{text}");
    assert!(text.contains(" IN IP6 2001:db8::7\r\n"), "{text}");
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "(([a-z]=[ -~]{0,20})?\r?\n){0,12}") {
            if let Ok(sd) = s.parse::<SessionDescription>() {
                let again: SessionDescription = sd.to_string().parse().unwrap();
                prop_assert_eq!(again, sd);
            }
        }

        #[test]
        fn sdp_like_text_round_trips(
            lines in proptest::collection::vec(
                "(c=IN IP4 (192\\.0\\.2\\.[0-9]|h\\.example)|b=AS:[0-9]{1,3}|a=(rtpmap:[0-9]{1,3} [A-Za-z0-9]{1,5}/[0-9]{1,5}|ptime:[0-9]{1,2}|sendonly|recvonly|x:y)|m=(audio|video) [0-9]{1,5} RTP/AVP( [0-9]{1,3}){1,3}|i=t)",
                0..10,
            )
        ) {
            let text = format!(
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n{}\r\n",
                lines.join("\r\n")
            );
            if let Ok(sd) = text.parse::<SessionDescription>() {
                let again: SessionDescription = sd.to_string().parse().unwrap();
                prop_assert_eq!(&again, &sd);
                let _ = answer_audio(&sd, "192.0.2.1".parse::<std::net::IpAddr>().unwrap(), 1);
            }
        }
    }
}

#[test]
fn a_description_is_a_response_body() {
    use crate::message::{HeaderName, Response, StatusCode};
    let offer = offer_audio(Ipv4Addr::LOCALHOST, 40000);
    let text = offer.to_string();
    let resp = Response::new(StatusCode::OK).sdp(&offer);
    assert_eq!(resp.body, text.as_bytes());
    assert_eq!(
        resp.headers
            .get(HeaderName::ContentType)
            .map(|v| v.as_str()),
        Some("application/sdp")
    );
    let resp = Response::new(StatusCode::OK).sdp(offer);
    assert_eq!(resp.body, text.as_bytes());
    assert!(text.contains("c=IN IP4 127.0.0.1\r\n"));
    // Text still works, and an IPv6 address converts as well.
    let resp = Response::new(StatusCode::OK).sdp(text.clone());
    assert_eq!(resp.body, text.as_bytes());
    let v6 = offer_audio(std::net::Ipv6Addr::LOCALHOST, 40000);
    assert!(v6.to_string().contains("c=IN IP6 ::1\r\n"));
}

#[test]
fn error_texts() {
    use SdpErrorKind as K;
    let cases = [
        (0, K::Empty, "SDP: empty description"),
        (0, K::NotUtf8, "SDP: not UTF-8"),
        (3, K::BadLine, "SDP line 3: not a <type>=<value> line"),
        (2, K::UnknownType('y'), "SDP line 2: unknown type 'y'"),
        (4, K::OutOfOrder('c'), "SDP line 4: c= out of order"),
        (5, K::Repeated('i'), "SDP line 5: i= repeated"),
        (0, K::Missing('t'), "SDP: missing t= line"),
        (6, K::BadValue('m'), "SDP line 6: malformed m= line"),
        (
            7,
            K::BadAttribute("rtpmap".into()),
            "SDP line 7: malformed a=rtpmap attribute",
        ),
        (
            8,
            K::MissingConnection,
            "SDP line 8: media description without a connection address (c=)",
        ),
    ];
    for (line, kind, text) in cases {
        assert_eq!(SdpError::new(line, kind).to_string(), text);
    }
}

mod same_streams {
    use crate::sdp::same_streams;

    const AUDIO: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

    #[test]
    fn streams_compare_by_count_and_kind() {
        assert!(same_streams(AUDIO.as_bytes(), AUDIO.as_bytes()));
        let other_port = AUDIO.replace("40000", "50000");
        assert!(same_streams(AUDIO.as_bytes(), other_port.as_bytes()));
        let video = format!("{AUDIO}m=video 40002 RTP/AVP 96\r\n");
        assert!(!same_streams(AUDIO.as_bytes(), video.as_bytes()));
        let swapped = AUDIO.replace("m=audio", "m=video");
        assert!(!same_streams(AUDIO.as_bytes(), swapped.as_bytes()));
        assert!(!same_streams(AUDIO.as_bytes(), b"not sdp"));
    }
}
