//! RFC 4475, "Session Initiation Protocol (SIP) Torture Test Messages".
//!
//! Every message of §3.1.1 (valid), §3.1.2 (invalid) and the parse-level
//! ones of §3.2–§3.3 is written here the way the RFC prints it, markup
//! included, and turned into its exact octets by [`rfc`] (RFC 4475 §2):
//!
//! * every line ends in CRLF;
//! * the lines between `<allOneLine>` and `</allOneLine>` form one line,
//!   joined with nothing in between (whitespace at a fold point is written
//!   at the start of the next line);
//! * `<hex>…</hex>` stands for the octets it spells in hexadecimal;
//! * `<repeat count=N>…</repeat>` stands for its content N times.
//!
//! Each test is named after the RFC's message. Valid messages must parse,
//! read back the fields the RFC points out, and survive a serialize/parse
//! round trip unchanged. Invalid messages that the RFC says an element
//! rejects must give an error whose reason (the text of the 400) names the
//! fault. Where the RFC leaves the choice to the element, the test picks
//! what a robust proxy does and says why.

use bytes::Bytes;
use parrot::message::typed as t;
use parrot::message::typed::{CSeq, CallId, MaxForwards};
use parrot::message::{
    Frame, Limits, Message, ParseError, ParseErrorKind, Request, Response, StreamDecoder,
    parse_datagram,
};
use parrot::message::{HeaderName, Method};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The octets of a message written with RFC 4475's conventions (§2).
fn rfc(text: &str) -> Bytes {
    let text = text.strip_prefix('\n').unwrap_or(text);
    // Lines first: CRLF endings, <allOneLine> blocks joined.
    let mut joined = String::new();
    let mut one_line: Option<String> = None;
    for piece in text.split_inclusive('\n') {
        let (line, ended) = match piece.strip_suffix('\n') {
            Some(l) => (l, true),
            None => (piece, false),
        };
        match (line, one_line.as_mut()) {
            ("<allOneLine>", None) => one_line = Some(String::new()),
            ("</allOneLine>", Some(buf)) => {
                joined.push_str(buf);
                joined.push_str("\r\n");
                one_line = None;
            }
            (_, Some(buf)) => buf.push_str(line),
            (_, None) => {
                joined.push_str(line);
                if ended {
                    joined.push_str("\r\n");
                }
            }
        }
    }
    assert!(one_line.is_none(), "unterminated <allOneLine>");
    // Then the inline markup.
    let mut out = Vec::with_capacity(joined.len());
    let mut rest = joined.as_str();
    loop {
        let hex = rest.find("<hex>");
        let rep = rest.find("<repeat count=");
        let (at, is_hex) = match (hex, rep) {
            (None, None) => break,
            (Some(h), None) => (h, true),
            (None, Some(r)) => (r, false),
            (Some(h), Some(r)) => (h.min(r), h < r),
        };
        out.extend_from_slice(&rest.as_bytes()[..at]);
        rest = &rest[at..];
        if is_hex {
            let end = rest.find("</hex>").expect("unterminated <hex>");
            let digits: String = rest["<hex>".len()..end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
            for i in (0..digits.len()).step_by(2) {
                out.push(u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"));
            }
            rest = &rest[end + "</hex>".len()..];
        } else {
            let close = rest.find('>').expect("unterminated <repeat>");
            let count: usize = rest["<repeat count=".len()..close].parse().expect("count");
            let end = rest.find("</repeat>").expect("unterminated <repeat>");
            let unit = &rest[close + 1..end];
            for _ in 0..count {
                out.extend_from_slice(unit.as_bytes());
            }
            rest = &rest[end + "</repeat>".len()..];
        }
    }
    out.extend_from_slice(rest.as_bytes());
    Bytes::from(out)
}

/// Parses a message that must be accepted, and checks that serializing
/// and parsing it again changes nothing.
fn accept(raw: &Bytes) -> Message {
    let m = match parse_datagram(raw.clone()) {
        Ok(m) => m,
        Err(e) => panic!(
            "valid message refused: {e} (kind {:?})\n{}",
            e.kind(),
            String::from_utf8_lossy(raw)
        ),
    };
    let out = m.to_bytes();
    let again = parse_datagram(out.clone()).unwrap_or_else(|e| {
        panic!(
            "serialized message refused: {e}\n{}",
            String::from_utf8_lossy(&out)
        )
    });
    assert_eq!(again, m, "round trip changed the message");
    assert_eq!(again.to_bytes(), out, "second serialization differs");
    m
}

fn request(raw: &Bytes) -> Request {
    match accept(raw) {
        Message::Request(r) => r,
        Message::Response(r) => panic!("expected a request, got {} {}", r.status, r.reason),
    }
}

fn response(raw: &Bytes) -> Response {
    match accept(raw) {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected a response, got {}", r.method),
    }
}

/// Parses a message that must be refused; the reason must contain one of
/// `words` (case-insensitively) so that the 400 tells the sender what is
/// wrong.
fn reject(raw: &Bytes, words: &[&str]) -> ParseError {
    let e = match parse_datagram(raw.clone()) {
        Ok(m) => panic!(
            "invalid message accepted:\n{}\nparsed as {m:?}",
            String::from_utf8_lossy(raw)
        ),
        Err(e) => e,
    };
    let reason = e.reason().to_ascii_lowercase();
    assert!(
        words
            .iter()
            .any(|w| reason.contains(&w.to_ascii_lowercase())),
        "reason {:?} names none of {words:?}",
        e.reason()
    );
    assert!(
        !e.reason().contains(['\r', '\n']),
        "reason has a line break"
    );
    e
}

fn cseq(h: &parrot::message::Headers) -> CSeq {
    h.typed::<CSeq>()
        .expect("CSeq present")
        .expect("CSeq valid")
}

fn max_forwards(h: &parrot::message::Headers) -> u8 {
    h.typed::<MaxForwards>()
        .expect("Max-Forwards present")
        .expect("Max-Forwards valid")
        .0
}

fn call_id(h: &parrot::message::Headers) -> String {
    h.typed::<CallId>()
        .expect("Call-ID present")
        .expect("Call-ID valid")
        .as_str()
        .to_owned()
}

/// The SDP body most of the RFC's messages carry, with the given `o=` and
/// `c=` addresses (150 octets for a `192.0.2.N` address with one digit).
fn sdp(o: &str, c: &str) -> String {
    format!(
        "v=0\r\no=mhandley 29739 7272939 IN IP4 {o}\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\n\
         m=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
    )
}

#[test]
fn markup_decoder() {
    assert_eq!(&rfc("a\nb\n")[..], b"a\r\nb\r\n");
    assert_eq!(
        &rfc("a\n<allOneLine>\nb\n c\n</allOneLine>\nd")[..],
        b"a\r\nb c\r\nd"
    );
    assert_eq!(&rfc("x<hex>00 0D\n0A</hex>y\n")[..], b"x\x00\r\ny\r\n");
    assert_eq!(&rfc("1<repeat count=3>0</repeat>\n")[..], b"1000\r\n");
}

// ---------------------------------------------------------------------------
// §3.1.1 Valid messages
// ---------------------------------------------------------------------------

/// §3.1.1.1 A Short Tortuous INVITE.
const WSINV: &str = r#"
INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.3
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn wsinv() {
    let raw = rfc(WSINV);
    let req = request(&raw);
    let h = &req.headers;
    assert_eq!(req.method, Method::Invite);
    let ruri = req.uri.as_sip().expect("a SIP Request-URI");
    assert_eq!(ruri.user().as_deref(), Some("vivekg"));
    assert_eq!(ruri.host().to_string(), "chair-dnrc.example.com");
    assert!(ruri.params().contains("unknownparam"));
    assert_eq!(ruri.params().get("unknownparam"), None);

    // Header names as written, values unfolded; lookup ignores case.
    assert_eq!(
        h.get("to").unwrap(),
        "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"
    );
    assert_eq!(h.iter().next().unwrap().name(), "TO");
    assert_eq!(max_forwards(h), 68);
    assert_eq!(call_id(h), "wsinv.ndaksdj@192.0.2.1");
    let c = cseq(h);
    assert_eq!((c.seq, c.method), (9, Method::Invite));
    // `s :` is an empty Subject.
    assert_eq!(h.get(HeaderName::Subject).unwrap(), "");
    // Unknown headers are kept, folding replaced by one space.
    assert_eq!(
        h.get("newfangledheader").unwrap(),
        "newfangled value continued newfangled value"
    );
    assert_eq!(h.get("UnknownHeaderWithUnusualValue").unwrap(), ";;,,;;,;");
    // One Via line and two values in the `v:` line.
    assert_eq!(h.count(HeaderName::Via), 3);
    assert_eq!(req.body.len(), 150);
    typed_wsinv(&req);

    // The serialized form keeps the compact names and unknown headers.
    let out = req.to_bytes();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("\r\nv: "), "{text}");
    assert!(text.contains("\r\nm: "), "{text}");
    assert!(text.contains("\r\nNewFangledHeader: newfangled value continued newfangled value\r\n"));
}

/// §3.1.1.2 Wide Range of Valid Characters.
const INTMETH: &str = r#"
<allOneLine>
!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&
isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0
</allOneLine>
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~
<allOneLine>
To: "BEL:\<hex>07</hex> NUL:\<hex>00</hex> DEL:\<hex>7F</hex>" <sip:1_unusual.URI~(to-be!sure)
&isn't+it$/crazy?,/;;*@example.com>
</allOneLine>
<allOneLine>
From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=
"<hex>D180D0B0D0B1D0BED182D0B0D18ED189D0B8D0B9</hex>";tag=_token~1'+`*%!-.
</allOneLine>
Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{
CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~
Max-Forwards: 255
extensionHeader-!.%*+_`'~:<hex>EFBBBFE5A4A7E5819CE99BBB</hex>
Content-Length: 0

"#;

#[test]
fn intmeth() {
    let raw = rfc(INTMETH);
    let req = request(&raw);
    let h = &req.headers;
    // `%` is not an escape in a method: this is an extension method.
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(req.method.as_str(), method);
    assert!(matches!(req.method, Method::Extension(_)));
    let c = cseq(h);
    assert_eq!(c.seq, 139122385);
    assert_eq!(c.method, req.method);
    let ruri = req.uri.as_sip().expect("a SIP Request-URI");
    assert_eq!(
        ruri.user().as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password().as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(ruri.host().to_string(), "example.com");
    assert_eq!(call_id(h), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(max_forwards(h), 255);
    // The extension header's name has token punctuation; its value is
    // UTF-8 (a byte-order mark and 大停電).
    assert_eq!(
        h.get("extensionHeader-!.%*+_`'~").unwrap(),
        "\u{feff}大停電"
    );
    typed_intmeth(&req);
}

/// §3.1.1.3 Valid Use of the % Escaping Mechanism.
const ESC01: &str = r#"
INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 150

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn esc01() {
    let raw = rfc(ESC01);
    let req = request(&raw);
    let ruri = req.uri.as_sip().expect("a SIP Request-URI");
    // Escapes are decoded on access and kept as written on output.
    assert_eq!(ruri.user().as_deref(), Some("sips:user@example.com"));
    assert_eq!(ruri.user_raw().unwrap(), "sips%3Auser%40example.com");
    assert_eq!(ruri.host().to_string(), "example.net");
    assert_eq!(
        req.uri.to_string(),
        "sip:sips%3Auser%40example.com@example.net"
    );
    assert_eq!(call_id(&req.headers), "esc01.239409asdfakjkn23onasd0-3234");
    assert_eq!(
        req.headers.get(HeaderName::ContentType).unwrap(),
        "application/sdp"
    );
    assert_eq!(&req.body[..], sdp("192.0.2.1", "192.0.2.1").as_bytes());
    typed_esc01(&req);
}

/// §3.1.1.4 Escaped Nulls in URIs.
const ESCNULL: &str = r#"
REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
L:0

"#;

#[test]
fn escnull() {
    let raw = rfc(ESCNULL);
    let req = request(&raw);
    assert_eq!(req.method, Method::Register);
    assert_eq!(req.headers.count(HeaderName::Contact), 2);
    assert_eq!(req.headers.get("content-length").unwrap(), "0");
    assert!(req.body.is_empty());
    typed_escnull(&req);
}

/// §3.1.1.5 Use of % When It Is Not an Escape.
const ESC02: &str = r#"
RE%47IST%45R sip:registrar.example.com SIP/2.0
To: "%Z%45" <sip:resource@example.com>
From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234
CSeq: 29344 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0

"#;

#[test]
fn esc02() {
    let raw = rfc(ESC02);
    let req = request(&raw);
    // Not REGISTER: an unknown method.
    assert_eq!(req.method.as_str(), "RE%47IST%45R");
    assert_ne!(req.method, Method::Register);
    assert_eq!(cseq(&req.headers).method, req.method);
    // Two Contact values, and an unknown header named C%6Fntact.
    assert_eq!(req.headers.count(HeaderName::Contact), 2);
    assert_eq!(
        req.headers.get("C%6Fntact").unwrap(),
        "<sip:alias2@host2.example.com>"
    );
    assert_eq!(
        req.headers.get("contact").unwrap(),
        "<sip:alias1@host1.example.com>"
    );
    typed_esc02(&req);
}

/// §3.1.1.6 Message with No LWS between Display Name and <.
const LWSDISP: &str = r#"
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0

"#;

#[test]
fn lwsdisp() {
    let raw = rfc(LWSDISP);
    let req = request(&raw);
    assert_eq!(req.method, Method::Options);
    assert_eq!(
        req.headers.get("from").unwrap(),
        "caller<sip:caller@example.com>;tag=323"
    );
    typed_lwsdisp(&req);
}

/// §3.1.1.7 Long Values in Header Fields.
const LONGREQ: &str = r#"
INVITE sip:user@example.com SIP/2.0
<allOneLine>
To: "I have a user name of extremeextremeextremeextremeextremeextremeextremeextremeextremeextreme
 proportion"<sip:user@example.com:6000;unknownparam1=verylonglonglonglonglonglonglonglonglonglonglong
longlonglonglonglonglonglonglonglongvalue;longparamnamenamenamenamenamenamenamenamenamenamename
namenamenamenamenamenamenamenamenamenamenamenamenamename=shortvalue;verylonglonglonglonglonglong
longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue>
</allOneLine>
<allOneLine>
F: sip:amazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylongcallername
amazinglylongcallername@example.net;tag=12982982982982982982982982982982982982982982982982982982
982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982
424;unknownheaderparamnamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamename
name=unknowheaderparamvaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevalue
;unknownValuelessparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamname
paramname
</allOneLine>
<allOneLine>
Call-ID: longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreally
reallyreallyreallyreallyreallyreallyreallylongcallid
</allOneLine>
CSeq: 3882340 INVITE
<allOneLine>
Unknown-LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong-Name:
 unknown-longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong-value;
 unknown-longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong-parameter-name
 = unknown-longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong-parameter-value
</allOneLine>
Via: SIP/2.0/TCP sip33.example.com
v: SIP/2.0/TCP sip32.example.com
V: SIP/2.0/TCP sip31.example.com
Via: SIP/2.0/TCP sip30.example.com
ViA: SIP/2.0/TCP sip29.example.com
VIa: SIP/2.0/TCP sip28.example.com
VIA: SIP/2.0/TCP sip27.example.com
via: SIP/2.0/TCP sip26.example.com
viA: SIP/2.0/TCP sip25.example.com
vIa: SIP/2.0/TCP sip24.example.com
vIA: SIP/2.0/TCP sip23.example.com
V :  SIP/2.0/TCP sip22.example.com
v :  SIP/2.0/TCP sip21.example.com
V  : SIP/2.0/TCP sip20.example.com
v  : SIP/2.0/TCP sip19.example.com
Via : SIP/2.0/TCP sip18.example.com
Via  : SIP/2.0/TCP sip17.example.com
Via: SIP/2.0/TCP sip16.example.com
Via: SIP/2.0/TCP sip15.example.com
Via: SIP/2.0/TCP sip14.example.com
Via: SIP/2.0/TCP sip13.example.com
Via: SIP/2.0/TCP sip12.example.com
Via: SIP/2.0/TCP sip11.example.com
Via: SIP/2.0/TCP sip10.example.com
Via: SIP/2.0/TCP sip9.example.com
Via: SIP/2.0/TCP sip8.example.com
Via: SIP/2.0/TCP sip7.example.com
Via: SIP/2.0/TCP sip6.example.com
Via: SIP/2.0/TCP sip5.example.com
Via: SIP/2.0/TCP sip4.example.com
Via: SIP/2.0/TCP sip3.example.com
Via: SIP/2.0/TCP sip2.example.com
Via: SIP/2.0/TCP sip1.example.com
<allOneLine>
Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=verylonglonglonglonglonglonglonglonglonglong
longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong
longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongbranchvalue
</allOneLine>
Max-Forwards: 70
<allOneLine>
Contact: <sip:amazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylong
callernameamazinglylongcallername@host5.example.net>
</allOneLine>
Content-Type: application/sdp
l: 150

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn longreq() {
    let raw = rfc(LONGREQ);
    let req = request(&raw);
    let h = &req.headers;
    assert_eq!(h.count(HeaderName::Via), 34);
    // Every spelling of Via, long or compact, any case, is found.
    let vias: Vec<&str> = h.values("via").collect();
    assert_eq!(vias[0], "SIP/2.0/TCP sip33.example.com");
    assert_eq!(vias[11], "SIP/2.0/TCP sip22.example.com");
    assert_eq!(vias[32], "SIP/2.0/TCP sip1.example.com");
    let names: Vec<&str> = h
        .get_all(HeaderName::Via)
        .map(|v| v.name().as_str())
        .collect();
    assert_eq!(&names[..5], &["Via", "v", "V", "Via", "ViA"]);
    assert_eq!(
        call_id(h),
        format!("longreq.one{}longcallid", "really".repeat(20))
    );
    assert_eq!(cseq(h).seq, 3882340);
    let unknown = h
        .get("Unknown-LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong-Name")
        .unwrap();
    assert!(unknown.starts_with("unknown-longlong"));
    assert!(unknown.ends_with("-parameter-value"));
    assert_eq!(req.body.len(), 150);
    typed_longreq(&req);
}

/// §3.1.1.8 Extra Trailing Octets in a UDP Datagram.
const DBLREQ: &str = r#"
REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=43251j3j324
Max-Forwards: 8
I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
Contact: sip:j.user@host.example.com
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
Content-Length: 0

INVITE sip:joe@example.com SIP/2.0
t: sip:joe@example.com
From: sip:caller@example.net;tag=141334
Max-Forwards: 8
Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234
Content-Type: application/sdp
Content-Length: 150

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.15
s=-
c=IN IP4 192.0.2.15
t=0 0
m=audio 49217 RTP/AVP 0 12
m =video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn dblreq() {
    let raw = rfc(DBLREQ);
    let req = request(&raw);
    // The octets after the (empty) body are noise and are dropped.
    assert_eq!(req.method, Method::Register);
    assert!(req.body.is_empty());
    assert_eq!(
        call_id(&req.headers),
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );
    let out = req.to_bytes();
    assert!(!String::from_utf8_lossy(&out).contains("INVITE"));
    assert!(out.ends_with(b"Content-Length: 0\r\n\r\n"));
}

/// §3.1.1.9 Semicolon-Separated Parameters in URI User Part.
const SEMIURI: &str = r#"
OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
        multipart/mixed, multipart/signed,
        message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0

"#;

#[test]
fn semiuri() {
    let raw = rfc(SEMIURI);
    let req = request(&raw);
    let ruri = req.uri.as_sip().expect("a SIP Request-URI");
    assert_eq!(ruri.user().as_deref(), Some("user;par=u@example.net"));
    assert_eq!(ruri.host().to_string(), "example.com");
    assert!(ruri.params().is_empty());
    assert_eq!(req.headers.count(HeaderName::Accept), 6);
    assert_eq!(
        req.headers.get(HeaderName::Accept).unwrap(),
        "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, \
         message/sip, message/sipfrag"
    );
}

/// §3.1.1.10 Varied and Unknown Transport Types.
const TRANSPORTS: &str = r#"
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: <sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID:  transports.kijh4akdnaqjkwendsasfdj
Accept: application/sdp
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
l: 0

"#;

#[test]
fn transports() {
    let raw = rfc(TRANSPORTS);
    let req = request(&raw);
    assert_eq!(call_id(&req.headers), "transports.kijh4akdnaqjkwendsasfdj");
    assert_eq!(req.headers.count(HeaderName::Via), 5);
    typed_transports(&req);
}

/// §3.1.1.11 Multipart MIME Message. The second body part is binary and
/// holds NUL, CR and LF octets (553 octets of body in all).
const MPART01: &str = r#"
MESSAGE sip:kumiko@example.org SIP/2.0
<allOneLine>
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport
</allOneLine>
Max-Forwards: 70
Route: <sip:127.0.0.1:5080>
<allOneLine>
Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbn
Vq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQF
teeivUhkMWYUA=
</allOneLine>
Contact: <sip:fluffy@127.0.0.1:5070>
To: <sip:kumiko@example.org>
From: <sip:fluffy@example.com>;tag=2fb0dcc9
Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..
CSeq: 1 MESSAGE
Content-Transfer-Encoding: binary
Content-Type: multipart/mixed;boundary=7a9cbec02ceef655
Date: Sat, 15 Oct 2005 04:44:56 GMT
User-Agent: SIPimp.org/0.2.5 (curses)
Content-Length: 553

--7a9cbec02ceef655
Content-Type: text/plain
Content-Transfer-Encoding: binary

Hello
--7a9cbec02ceef655
Content-Type: application/octet-stream
Content-Transfer-Encoding: binary

<hex>3082015206092A864886F70D010702A08201433082013F02
01013109300706052B0E03021A300B06092A864886F70D010701318201203082
011C020101307C3070310B300906035504061302555331133011060355040813
0A43616C69666F726E69613111300F0603550407130853616E204A6F7365310E
300C060355040A1305736970697431293027060355040B132053697069742054
65737420436572746966696361746520417574686F7269747902080195007102
330113300706052B0E03021A300D06092A864886F70D01010105000481808EF4
66F948F0522DD2E5978E9D95AAE9F2FE15A06659716292E8DA2AA8D8350A68CE
FFAE3CBD2BFF1675DDD5648E593DD64728F26220F7E941749E330D9A15EDABDB
93D10C42102E7B7289D29CC0C9AE2EFBC7C0CFF9172F3B027E4FC027E1546DE4
B6AA3ABB3E66CCCB5DD6C64B8383149CB8E6FF182D944FE57B65BC99D005</hex>
--7a9cbec02ceef655--
"#;

#[test]
fn mpart01() {
    let raw = rfc(MPART01);
    let req = request(&raw);
    assert_eq!(req.method, Method::Message);
    assert_eq!(req.body.len(), 553);
    // The body is passed on octet for octet, NULs included.
    let body_start = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(&req.body[..], &raw[body_start..]);
    assert!(req.body.contains(&0));
    assert!(req.body.starts_with(b"--7a9cbec02ceef655\r\n"));
    assert!(req.body.ends_with(b"\r\n--7a9cbec02ceef655--\r\n"));
    assert_eq!(
        req.headers.get(HeaderName::ContentType).unwrap(),
        "multipart/mixed;boundary=7a9cbec02ceef655"
    );
    assert!(
        req.headers
            .get(HeaderName::Identity)
            .unwrap()
            .ends_with("UhkMWYUA=")
    );
    assert_eq!(
        req.headers.get("content-transfer-encoding").unwrap(),
        "binary"
    );
    // The same octets arrive intact over a stream as well.
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    match dec.decode().unwrap() {
        Some(Frame::Message(Message::Request(r))) => assert_eq!(r.body, req.body),
        other => panic!("expected the MESSAGE, got {other:?}"),
    }
    assert_eq!(dec.buffered(), 0);
}

/// §3.1.1.12 Unusual Reason Phrase.
const UNREASON: &str = r#"
<allOneLine>
SIP/2.0 200 = 2**3 * 5**2 <hex>D0BDD0BE20D181D182D0BE20D0B4D0B5D0B2D18FD0BDD0BED181D182D0BE20D0B4D0B5D0B2D18FD182D18C202D20D0BFD180D0BED181D182D0BED0B5</hex>
</allOneLine>
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 154
Content-Type: application/sdp
Contact: <sip:user@host198.example.com>

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.198
s=-
c=IN IP4 192.0.2.198
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn unreason() {
    let raw = rfc(UNREASON);
    let resp = response(&raw);
    assert_eq!(resp.status.as_u16(), 200);
    assert_eq!(
        resp.reason,
        "= 2**3 * 5**2 но сто девяносто девять - простое"
    );
    assert_eq!(resp.body.len(), 154);
    let c = cseq(&resp.headers);
    assert_eq!((c.seq, c.method), (35, Method::Invite));
    // No Max-Forwards in a response, and none needed.
    assert!(!resp.headers.contains(HeaderName::MaxForwards));
}

/// §3.1.1.13 Empty Reason Phrase (the SP after the code is there).
const NOREASON: &str = "
SIP/2.0 100 \n\
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: noreason.asndj203insdf99223ndf
CSeq: 35 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

";

#[test]
fn noreason() {
    let raw = rfc(NOREASON);
    assert!(raw.starts_with(b"SIP/2.0 100 \r\n"));
    let resp = response(&raw);
    assert_eq!(resp.status.as_u16(), 100);
    assert_eq!(resp.reason, "");
    assert!(resp.to_bytes().starts_with(b"SIP/2.0 100 \r\n"));
}

// ---------------------------------------------------------------------------
// §3.1.2 Invalid messages
// ---------------------------------------------------------------------------

/// §3.1.2.1 Extraneous Header Field Separators.
const BADINV01: &str = r#"
INVITE sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=134161461246
Max-Forwards: 7
Call-ID: badinv01.0ha0isndaksdjasdf3234nas
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;;,;,,
Contact: "Joe" <sip:joe@example.org>;;;;
Content-Length: 152
Content-Type: application/sdp

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.15
s=-
c=IN IP4 192.0.2.15
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn badinv01() {
    // "should respond with a 400": the Via is unusable for the response.
    reject(&rfc(BADINV01), &["Via"]);
}

/// §3.1.2.2 Content Length Larger Than Message.
const CLERR: &str = r#"
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 80
To: sip:j.user@example.com
From: sip:caller@example.net;tag=93942939o2
Contact: <sip:caller@hungry.example.net>
Call-ID: clerr.0ha0isndaksdjweiafasdk3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Content-Type: application/sdp
Content-Length: 9999

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.155
s=-
c=IN IP4 192.0.2.155
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn clerr() {
    // Over UDP: 400. (Over a stream the receiver can only wait for more.)
    let raw = rfc(CLERR);
    let e = reject(&raw, &["Content-Length"]);
    assert_eq!(e.kind(), ParseErrorKind::Body);
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    assert_eq!(
        dec.decode().unwrap(),
        None,
        "a stream waits for the rest of the body"
    );
}

/// §3.1.2.3 Negative Content-Length.
const NCL: &str = r#"
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 254
To: sip:j.user@example.com
From: sip:caller@example.net;tag=32394234
Call-ID: ncl.0ha0isndaksdj2193423r542w35
CSeq: 0 INVITE
Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw
Contact: <sip:caller@example53.example.net>
Content-Type: application/sdp
Content-Length: -999

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.53
s=-
c=IN IP4 192.0.2.53
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn ncl() {
    let raw = rfc(NCL);
    let e = reject(&raw, &["Content-Length"]);
    assert_eq!(e.kind(), ParseErrorKind::ContentLength);
    // Over a stream the framing is lost: a fatal error, not a frame.
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    assert!(dec.decode().is_err());
}

/// §3.1.2.4 Request Scalar Fields with Overlarge Values.
const SCALAR02: &str = r#"
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
Max-Forwards: 300
Expires: 1<repeat count=100>0</repeat>
Contact: <sip:user@host129.example.com>
  ;expires=280297596632815
Content-Length: 0

"#;

#[test]
fn scalar02() {
    // "should respond with a 400 Bad Request due to the CSeq error".
    reject(&rfc(SCALAR02), &["CSeq"]);
}

/// §3.1.2.5 Response Scalar Fields with Overlarge Values.
const SCALARLG: &str = r#"
SIP/2.0 503 Service Unavailable
<allOneLine>
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129
</allOneLine>
To: <sip:user@example.com>
From: <sip:other@example.net>;tag=2easdjfejw
CSeq: 9292394834772304023312 OPTIONS
Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r
Retry-After: 949302838503028349304023988
Warning: 1812 overture "In Progress"
Content-Length: 0

"#;

#[test]
fn scalarlg() {
    // A response with a CSeq that matches no transaction: dropped. The
    // parser refuses it so that nothing above has to cope with it.
    reject(&rfc(SCALARLG), &["CSeq"]);
}

/// §3.1.2.6 Unterminated Quoted String in Display Name.
const QUOTBAL: &str = r#"
INVITE sip:user@example.com SIP/2.0
To: "Mr. J. User <sip:j.user@example.com>
From: sip:caller@example.net;tag=93334
Max-Forwards: 10
Call-ID: quotbal.aksdj
Contact: <sip:caller@host59.example.net>
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234
Content-Type: application/sdp
Content-Length: 152

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.15
s=-
c=IN IP4 192.0.2.15
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn quotbal() {
    // "should return a 400": inferring the quote could pick the wrong URI.
    reject(&rfc(QUOTBAL), &["To"]);
}

/// §3.1.2.7 <> Enclosing Request-URI.
const LTGTRURI: &str = r#"
INVITE <sip:user@example.com> SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=39291
Max-Forwards: 23
Call-ID: ltgtruri.1@192.0.2.5
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.5
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 159

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.5
s=-
c=IN IP4 192.0.2.5
t=3149328700 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn ltgtruri() {
    let e = reject(&rfc(LTGTRURI), &["Request-URI"]);
    assert_eq!(e.kind(), ParseErrorKind::Uri);
}

/// §3.1.2.8 Malformed SIP Request-URI (embedded LWS).
const LWSRURI: &str = r#"
INVITE sip:user@example.com; lr SIP/2.0
To: sip:user@example.com;tag=3xfe-9921883-z9f
From: sip:caller@example.net;tag=231413434
Max-Forwards: 5
Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423
CSeq: 2130706432 INVITE
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 159

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=3149328700 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn lwsruri() {
    reject(&rfc(LWSRURI), &["Request-URI"]);
}

/// §3.1.2.9 Multiple SP Separating Request-Line Elements.
const LWSSTART: &str = r#"
INVITE  sip:user@example.com  SIP/2.0
Max-Forwards: 8
To: sip:user@example.com
From: sip:caller@example.net;tag=8814
Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com
CSeq: 1893884 INVITE
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 150

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn lwsstart() {
    // "It is acceptable to reject this request as malformed." The
    // Request-Line grammar is `Method SP Request-URI SP SIP-Version` with
    // single spaces; accepting extra ones means deciding which empty
    // "fields" to skip, and a proxy would have to rewrite the line anyway.
    // Rejecting is the simple, safe choice.
    reject(
        &rfc(LWSSTART),
        &["Request-URI", "request line", "Request-Line"],
    );
}

/// §3.1.2.10 SP Characters at End of Request-Line.
const TRWS: &str = "
OPTIONS sip:remote-target@example.com SIP/2.0  \n\
Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093
To: <sip:remote-target@example.com>
From: <sip:local-resource@example.com>;tag=329429089
Call-ID: trws.oicu34958239neffasdhr2345r
Accept: application/sdp
CSeq: 238923 OPTIONS
Max-Forwards: 70
Content-Length: 0

";

#[test]
fn trws() {
    // The RFC allows either rejecting or ignoring the trailing SP. A
    // robust proxy ignores it: trailing whitespace cannot change what the
    // line means (header values get the same treatment), and refusing
    // would break calls from sloppy but harmless peers. What it must not
    // do is forward the spaces, or call this an unsupported version.
    let raw = rfc(TRWS);
    assert!(raw.starts_with(b"OPTIONS sip:remote-target@example.com SIP/2.0  \r\n"));
    let req = request(&raw);
    assert_eq!(req.method, Method::Options);
    assert_eq!(req.uri.to_string(), "sip:remote-target@example.com");
    assert!(
        req.to_bytes()
            .starts_with(b"OPTIONS sip:remote-target@example.com SIP/2.0\r\n")
    );
}

/// §3.1.2.11 Escaped Headers in SIP Request-URI.
const ESCRURI: &str = r#"
INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=341518
Max-Forwards: 7
Contact: <sip:caller@host39923.example.net>
Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5
CSeq: 149209342 INVITE
Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw
Content-Type: application/sdp
Content-Length: 150

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn escruri() {
    // RFC 3261 §19.1.1 (table): headers are not allowed in a
    // Request-URI. The RFC lets an element reject (400) or strip them; a
    // proxy rejects, because a Route smuggled in the Request-URI must never
    // turn into a real header, and stripping silently changes the request.
    reject(&rfc(ESCRURI), &["Request-URI"]);
}

/// §3.1.2.12 Invalid Time Zone in Date Header Field.
const BADDATE: &str = r#"
INVITE sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=2234923
Max-Forwards: 70
Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234
CSeq: 1392934 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
Date: Fri, 01 Jan 2010 16:00:00 EST
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 150

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.5
s=-
c=IN IP4 192.0.2.5
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn baddate() {
    // "an element shouldn't [reject] unless the contents of the Date header
    // field were actually important to its processing". Routing never
    // reads Date, so the message is accepted and the field kept verbatim.
    let req = request(&rfc(BADDATE));
    assert_eq!(
        req.headers.get(HeaderName::Date).unwrap(),
        "Fri, 01 Jan 2010 16:00:00 EST"
    );
}

/// §3.1.2.13 Failure to Enclose name-addr URI in <>.
const REGBADCT: &str = r#"
REGISTER sip:example.com SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=998332
Max-Forwards: 70
Call-ID: regbadct.k345asrl3fdbv@10.0.0.1
CSeq: 1 REGISTER
Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw
Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E
l: 0

"#;

#[test]
fn regbadct() {
    // "It is reasonable ... to respond with a 400." The message-level parse
    // only vets what every layer needs (Via, From, To, Call-ID, CSeq,
    // Max-Forwards), so a proxy can still forward it untouched; the
    // registrar, which does read Contact, gets an error naming Contact.
    let req = request(&rfc(REGBADCT));
    typed_regbadct(&req);
}

/// §3.1.2.14 Spaces within addr-spec.
const BADASPEC: &str = r#"
OPTIONS sip:user@example.org SIP/2.0
Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234
Max-Forwards: 70
From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423
To: "Watson, Thomas" < sip:t.watson@example.org >
Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3
Accept: application/sdp
CSeq: 3923239 OPTIONS
l: 0

"#;

#[test]
fn badaspec() {
    // "Parsers receiving this request must not break. It is reasonable to
    // reject ... Elements attempting to be liberal may ignore the spaces."
    // The spaces are unambiguous, and a proxy forwards To untouched, so the
    // robust choice is to accept and read the URI without them.
    let req = request(&rfc(BADASPEC));
    assert_eq!(
        req.headers.get(HeaderName::To).unwrap(),
        "\"Watson, Thomas\" < sip:t.watson@example.org >"
    );
    typed_badaspec(&req);
}

/// §3.1.2.15 Non-token Characters in Display Name.
const BADDN: &str = r#"
OPTIONS sip:t.watson@example.org SIP/2.0
Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards:      70
From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43
To:      Watson, Thomas <sip:t.watson@example.org>
Call-ID: baddn.31415@c.example.com
Accept: application/sdp
CSeq:    3923239 OPTIONS
l: 0

"#;

#[test]
fn baddn() {
    // "It is reasonable always to reject this kind of error with a 400",
    // and a proxy must not forward a guess.
    reject(&rfc(BADDN), &["From", "To"]);
}

/// §3.1.2.16 Unknown Protocol Version.
const BADVERS: &str = r#"
OPTIONS sip:t.watson@example.org SIP/7.0
Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw
Max-Forwards:     70
From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe
To:      T. Watson <sip:t.watson@example.org>
Call-ID: badvers.31417@c.example.com
CSeq:    1 OPTIONS
l: 0

"#;

#[test]
fn badvers() {
    // Answered with 505, so the error kind must say it is the version.
    let e = reject(&rfc(BADVERS), &["version"]);
    assert_eq!(e.kind(), ParseErrorKind::Version);
}

/// §3.1.2.17 Start Line and CSeq Method Mismatch.
const MISMATCH01: &str = r#"
OPTIONS sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch01.dj0234sxdfl3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
l: 0

"#;

#[test]
fn mismatch01() {
    reject(&rfc(MISMATCH01), &["CSeq"]);
}

/// §3.1.2.18 Unknown Method with CSeq Method Mismatch.
const MISMATCH02: &str = r#"
NEWMETHOD sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch02.dj0234sxdfl3
CSeq: 8 INVITE
Contact: <sip:caller@host.example.net>
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
Content-Type: application/sdp
l: 138

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.1
c=IN IP4 192.0.2.1
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn mismatch02() {
    // 501 is preferred, "A 400 Bad Request is also acceptable"; the parser
    // cannot know the method is unsupported, but it does know the CSeq is
    // wrong, and says so.
    reject(&rfc(MISMATCH02), &["CSeq"]);
}

/// §3.1.2.19 Overlarge Response Code.
const BIGCODE: &str = r#"
SIP/2.0 4294967301 better not break the receiver
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
CSeq: 353494 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

"#;

#[test]
fn bigcode() {
    // "should simply drop it": refused, without overflowing anything.
    let e = reject(&rfc(BIGCODE), &["status"]);
    assert_eq!(e.kind(), ParseErrorKind::StartLine);
}

// ---------------------------------------------------------------------------
// §3.2 Transaction layer semantics, §3.3 application layer semantics
// (the parse-level ones)
// ---------------------------------------------------------------------------

/// §3.2.1 Missing Transaction Identifier.
const BADBRANCH: &str = r#"
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK
Accept: application/sdp
Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n
CSeq: 8 OPTIONS
l: 0

"#;

#[test]
fn badbranch() {
    // "A parser must not break when receiving this message." `z9hG4bK` is
    // a syntactically valid branch token; whether to answer 400 or fall
    // back to RFC 2543 matching is the transaction layer's call, which
    // needs the message parsed to make it.
    let req = request(&rfc(BADBRANCH));
    typed_badbranch(&req);
}

/// §3.3.1 Missing Required Header Fields.
const INSUF: &str = r#"
INVITE sip:user@example.com SIP/2.0
CSeq: 193942 INVITE
Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf
Content-Type: application/sdp
l: 152

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.95
s=-
c=IN IP4 192.0.2.95
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn insuf() {
    // "should respond with a 400 Bad Request" listing what is missing.
    let e = reject(&rfc(INSUF), &["To", "From", "Call-ID", "Max-Forwards"]);
    assert_eq!(e.kind(), ParseErrorKind::MissingHeader);
    assert!(e.reason().contains("Missing"), "{}", e.reason());
}

/// §3.3.8 Multiple Values in Single Value Required Fields.
const MULTI01: &str = r#"
INVITE sip:user@company.com SIP/2.0
Contact: <sip:caller@host25.example.net>
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw
Max-Forwards: 70
CSeq: 5 INVITE
Call-ID: multi01.98asdh@192.0.2.1
CSeq: 59 INVITE
Call-ID: multi01.98asdh@192.0.2.2
From: sip:caller@example.com;tag=3413415
To: sip:user@example.com
To: sip:other@example.net
From: sip:caller@example.net;tag=2923420123
Content-Type: application/sdp
l: 154
Contact: <sip:caller@host36.example.net>
Max-Forwards: 5

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.25
s=-
c=IN IP4 192.0.2.25
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn multi01() {
    // "should respond with a 400 Bad Request".
    let e = reject(&rfc(MULTI01), &["Multiple"]);
    assert!(
        ["CSeq", "Call-ID", "From", "To", "Max-Forwards"]
            .iter()
            .any(|h| e.reason().contains(h)),
        "{}",
        e.reason()
    );
}

/// §3.3.9 Multiple Content-Length Values.
const MCL01: &str = r#"
OPTIONS sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423
To: sip:user@example.com
From: sip:other@example.net;tag=3923942
Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf
CSeq: 15932 OPTIONS
Content-Length: 13
Max-Forwards: 60
Content-Length: 5
Content-Type: text/plain

There's no way to know how many octets are supposed to be here.
"#;

#[test]
fn mcl01() {
    // "should respond with a 400 Bad Request": the framing is ambiguous.
    let raw = rfc(MCL01);
    reject(&raw, &["Content-Length"]);
    let mut dec = StreamDecoder::new(Limits::default());
    dec.push(&raw);
    assert!(
        dec.decode().is_err(),
        "ambiguous framing on a stream is fatal"
    );
}

/// §3.3.10 200 OK Response with Broadcast Via Header Field Value.
const BCAST: &str = r#"
SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23
Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 154
Content-Type: application/sdp
Contact: <sip:user@host28.example.com>

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.198
s=-
c=IN IP4 192.0.2.198
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"#;

#[test]
fn bcast() {
    // Syntactically fine; the broadcast address is for the transport
    // layer to refuse to send to.
    let resp = response(&rfc(BCAST));
    assert_eq!(resp.headers.count(HeaderName::Via), 2);
    assert_eq!(resp.body.len(), 154);
}

// ---------------------------------------------------------------------------
// Typed views: From/To/Contact and Via.
// ---------------------------------------------------------------------------

fn from(h: &parrot::message::Headers) -> t::From {
    h.typed::<t::From>()
        .expect("From present")
        .expect("From valid")
}

fn to(h: &parrot::message::Headers) -> t::To {
    h.typed::<t::To>().expect("To present").expect("To valid")
}

fn vias(h: &parrot::message::Headers) -> Vec<t::Via> {
    h.typed_all::<t::Via>()
        .map(|v| v.expect("Via valid"))
        .collect()
}

fn contacts(h: &parrot::message::Headers) -> Vec<t::Contact> {
    h.typed_all::<t::Contact>()
        .map(|c| c.expect("Contact valid"))
        .collect()
}

fn user(uri: &parrot::message::Uri) -> Option<String> {
    uri.as_sip()
        .expect("a SIP URI")
        .user()
        .map(|u| u.into_owned())
}

fn typed_wsinv(req: &Request) {
    let h = &req.headers;
    let f = from(h);
    // "J Rosenberg \\\"" on the wire: a backslash and a quote.
    assert_eq!(f.addr.display_name().as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(f.tag(), Some("98asjd8"));
    assert_eq!(user(f.addr.uri()).as_deref(), Some("jdrosen"));
    let to = to(h);
    assert_eq!(to.addr.display_name(), None);
    assert_eq!(to.tag(), Some("1918181833n"));
    assert_eq!(user(to.addr.uri()).as_deref(), Some("vivekg"));

    let v = vias(h);
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].transport, t::Transport::Udp);
    assert_eq!(v[0].host.to_string(), "192.0.2.2");
    assert_eq!(v[0].branch(), Some("390skdjuw"));
    assert!(!v[0].has_magic_cookie());
    assert_eq!(v[1].transport, t::Transport::Tcp);
    assert_eq!(v[1].host.to_string(), "spindle.example.com");
    assert_eq!(v[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(v[2].transport, t::Transport::Udp);
    assert_eq!(v[2].host.to_string(), "192.168.255.111");
    assert_eq!(v[2].branch(), Some("z9hG4bK30239"));
    for via in &v {
        assert!(via.is_sip_2_0());
        assert_eq!(via.port, None);
    }

    let c = contacts(h);
    assert_eq!(c.len(), 1);
    let addr = c[0].addr().unwrap();
    assert_eq!(addr.display_name().as_deref(), Some("Quoted string \"\""));
    assert_eq!(user(addr.uri()).as_deref(), Some("jdrosen"));
    assert_eq!(c[0].params().get("newparam").as_deref(), Some("newvalue"));
    assert!(c[0].params().contains("secondparam"));
    assert_eq!(c[0].params().raw("secondparam"), None);
    assert_eq!(c[0].q(), Some(0.33));

    let route = h.typed::<t::Route>().unwrap().unwrap();
    assert!(route.lr());
    let ruri = route.addr.uri().as_sip().unwrap();
    assert_eq!(ruri.params().get("unknownwith").as_deref(), Some("value"));
    assert!(ruri.params().contains("unknown-no-value"));
}

fn typed_intmeth(req: &Request) {
    let h = &req.headers;
    let to = to(h);
    assert_eq!(
        to.addr.display_name().as_deref(),
        Some("BEL:\x07 NUL:\0 DEL:\x7f")
    );
    assert_eq!(
        user(to.addr.uri()).as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    let f = from(h);
    assert_eq!(
        f.addr.display_name().as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(f.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        f.params.get("fromParam''~+*_!.-%").as_deref(),
        Some("работающий")
    );
    assert_eq!(user(f.addr.uri()).as_deref(), Some("mundane"));
    let v = vias(h);
    assert_eq!(v[0].branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(v[0].transport, t::Transport::Tcp);
}

fn typed_esc01(req: &Request) {
    let h = &req.headers;
    assert_eq!(user(to(h).addr.uri()).as_deref(), Some("user"));
    assert_eq!(user(from(h).addr.uri()).as_deref(), Some("I have spaces"));
    assert_eq!(from(h).tag(), Some("938"));
    let c = contacts(h);
    let uri = c[0].addr().unwrap().uri().as_sip().unwrap();
    assert_eq!(uri.user().as_deref(), Some("caller"));
    // `%6C%72` is `lr`; `n%61me=v%61lue%25%34%31` is name=value%41
    // (decoded once, never recursively).
    assert!(uri.lr());
    assert_eq!(uri.params().get("name").as_deref(), Some("value%41"));
    assert_eq!(uri.params().len(), 2);
}

fn typed_escnull(req: &Request) {
    let h = &req.headers;
    assert_eq!(user(to(h).addr.uri()).as_deref(), Some("null-\0-null"));
    assert_eq!(user(from(h).addr.uri()).as_deref(), Some("null-\0-null"));
    let c = contacts(h);
    assert_eq!(c.len(), 2);
    let a = user(c[0].addr().unwrap().uri());
    let b = user(c[1].addr().unwrap().uri());
    assert_eq!(a.as_deref(), Some("\0"));
    assert_eq!(b.as_deref(), Some("\0\0"));
    // Two distinct bindings.
    assert!(
        !c[0]
            .addr()
            .unwrap()
            .uri()
            .as_sip()
            .unwrap()
            .equivalent(c[1].addr().unwrap().uri().as_sip().unwrap())
    );
}

fn typed_esc02(req: &Request) {
    let h = &req.headers;
    assert_eq!(to(h).addr.display_name().as_deref(), Some("%Z%45"));
    assert_eq!(from(h).addr.display_name().as_deref(), Some("%Z%45"));
    let c = contacts(h);
    let users: Vec<_> = c
        .iter()
        .map(|c| user(c.addr().unwrap().uri()).unwrap())
        .collect();
    assert_eq!(users, ["alias1", "alias3"]);
    assert_eq!(vias(h)[0].branch(), Some("z9hG4bK209%fzsnel234"));
}

fn typed_lwsdisp(req: &Request) {
    let f = from(&req.headers);
    assert_eq!(f.addr.display_name().as_deref(), Some("caller"));
    assert_eq!(user(f.addr.uri()).as_deref(), Some("caller"));
    assert_eq!(f.tag(), Some("323"));
}

fn typed_longreq(req: &Request) {
    let h = &req.headers;
    let to = to(h);
    assert_eq!(
        to.addr.display_name().as_deref(),
        Some(format!("I have a user name of {} proportion", "extreme".repeat(10)).as_str())
    );
    let uri = to.addr.uri().as_sip().unwrap();
    assert_eq!(uri.port(), Some(6000));
    assert_eq!(uri.params().len(), 3);
    assert_eq!(
        uri.params().get("unknownparam1").as_deref(),
        Some(format!("very{}value", "long".repeat(20)).as_str())
    );
    let f = from(h);
    assert_eq!(f.tag(), Some(format!("1{}2424", "298".repeat(50)).as_str()));
    assert_eq!(f.params.len(), 3);
    let v = vias(h);
    assert_eq!(v.len(), 34);
    for (i, via) in v[..33].iter().enumerate() {
        assert_eq!(via.host.to_string(), format!("sip{}.example.com", 33 - i));
        assert_eq!(via.transport, t::Transport::Tcp);
    }
    assert_eq!(v[33].received(), Some("192.0.2.5".parse().unwrap()));
    assert_eq!(
        v[33].branch(),
        Some(format!("very{}branchvalue", "long".repeat(50)).as_str())
    );
}

fn typed_transports(req: &Request) {
    let v = vias(&req.headers);
    let names: Vec<&str> = v.iter().map(|v| v.transport.as_str()).collect();
    assert_eq!(names, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert!(matches!(v[3].transport, t::Transport::Other(_)));
}

fn typed_regbadct(req: &Request) {
    let e = req
        .headers
        .typed::<t::Contact>()
        .expect("Contact present")
        .expect_err("a URI with '?' outside <> is not a valid Contact");
    assert!(e.reason().contains("Contact"), "{}", e.reason());
}

fn typed_badaspec(req: &Request) {
    let to = to(&req.headers);
    assert_eq!(to.addr.display_name().as_deref(), Some("Watson, Thomas"));
    assert_eq!(to.addr.uri().to_string(), "sip:t.watson@example.org");
    let f = from(&req.headers);
    assert_eq!(f.addr.display_name().as_deref(), Some("Bell, Alexander"));
}

fn typed_badbranch(req: &Request) {
    let v = vias(&req.headers);
    assert_eq!(v[0].branch(), Some("z9hG4bK"));
    assert!(v[0].has_magic_cookie());
}
