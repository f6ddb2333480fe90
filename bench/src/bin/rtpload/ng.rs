//! rtpengine's ng protocol: bencoded dictionaries over UDP, each request
//! prefixed with a cookie that its answer repeats.

use super::*;

/// A bencoded value (the subset ng uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bencode {
    Bytes(Vec<u8>),
    Int(i64),
    List(Vec<Bencode>),
    Dict(Vec<(Vec<u8>, Bencode)>),
}

impl Bencode {
    pub(crate) fn str(s: &str) -> Bencode {
        Bencode::Bytes(s.as_bytes().to_vec())
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Bytes(b) => {
                out.extend_from_slice(b.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
            }
            Bencode::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Bencode::List(items) => {
                out.push(b'l');
                for i in items {
                    i.encode(out);
                }
                out.push(b'e');
            }
            Bencode::Dict(pairs) => {
                out.push(b'd');
                for (k, v) in pairs {
                    Bencode::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value at the start of `input`; returns it and the rest.
    pub(crate) fn decode(input: &[u8]) -> Option<(Bencode, &[u8])> {
        match *input.first()? {
            b'i' => {
                let end = input.iter().position(|&b| b == b'e')?;
                let n = std::str::from_utf8(&input[1..end]).ok()?.parse().ok()?;
                Some((Bencode::Int(n), &input[end + 1..]))
            }
            b'l' => {
                let mut rest = &input[1..];
                let mut items = Vec::new();
                while *rest.first()? != b'e' {
                    let (v, r) = Bencode::decode(rest)?;
                    items.push(v);
                    rest = r;
                }
                Some((Bencode::List(items), &rest[1..]))
            }
            b'd' => {
                let mut rest = &input[1..];
                let mut pairs = Vec::new();
                while *rest.first()? != b'e' {
                    let (Bencode::Bytes(k), r) = Bencode::decode(rest)? else {
                        return None;
                    };
                    let (v, r) = Bencode::decode(r)?;
                    pairs.push((k, v));
                    rest = r;
                }
                Some((Bencode::Dict(pairs), &rest[1..]))
            }
            b'0'..=b'9' => {
                let colon = input.iter().position(|&b| b == b':')?;
                let len: usize = std::str::from_utf8(&input[..colon]).ok()?.parse().ok()?;
                let body = input.get(colon + 1..colon + 1 + len)?;
                Some((Bencode::Bytes(body.to_vec()), &input[colon + 1 + len..]))
            }
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(pairs) => pairs
                .iter()
                .find(|(k, _)| k == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Bencode::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// One ng request (`command` with `fields`), retried; the answer's dict.
pub(crate) async fn ng_request(
    sock: &UdpSocket,
    target: SocketAddr,
    cookie: &str,
    command: &str,
    fields: Vec<(&str, Bencode)>,
) -> Result<Bencode, String> {
    let mut pairs = vec![(b"command".to_vec(), Bencode::str(command))];
    pairs.extend(fields.into_iter().map(|(k, v)| (k.as_bytes().to_vec(), v)));
    let mut out = format!("{cookie} ").into_bytes();
    Bencode::Dict(pairs).encode(&mut out);
    let mut buf = vec![0u8; 65536];
    for _ in 0..TRIES {
        sock.send_to(&out, target)
            .await
            .map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + REQUEST_WAIT;
        while let Ok(got) = timeout(
            deadline.saturating_duration_since(tokio::time::Instant::now()),
            sock.recv(&mut buf),
        )
        .await
        {
            let n = got.map_err(|e| e.to_string())?;
            let reply = &buf[..n];
            let Some(space) = reply.iter().position(|&b| b == b' ') else {
                continue;
            };
            if &reply[..space] != cookie.as_bytes() {
                continue; // an answer to an earlier try
            }
            let (dict, _) = Bencode::decode(&reply[space + 1..])
                .ok_or_else(|| format!("undecodable ng answer to {command}"))?;
            let result = dict.get("result").and_then(Bencode::text);
            if result.as_deref() != Some("ok") {
                let reason = dict.get("error-reason").and_then(Bencode::text);
                return Err(format!("ng {command}: {result:?} {reason:?}"));
            }
            return Ok(dict);
        }
    }
    Err(format!("no ng answer to {command} from {target}"))
}

/// An `offer` and an `answer` per endpoint, both with the endpoint's SDP:
/// what it sends to the port of the answer's SDP comes back to it.
pub(crate) async fn ng_setup(
    target: SocketAddr,
    media_port: u16,
    streams: usize,
) -> Result<(Vec<Option<SocketAddr>>, UdpSocket), String> {
    let sock = UdpSocket::bind((LOCALHOST, 0))
        .await
        .map_err(|e| e.to_string())?;
    let pid = std::process::id();
    let mut remote = Vec::with_capacity(streams);
    for i in 0..streams {
        let call_id = format!("rtpload-{pid}-{i}");
        let body = sdp(media_port, i);
        let common = |extra: Vec<(&'static str, Bencode)>| {
            let mut f = vec![
                ("call-id", Bencode::str(&call_id)),
                ("from-tag", Bencode::str("caller")),
                ("sdp", Bencode::str(&body)),
            ];
            f.extend(extra);
            f
        };
        let got = async {
            ng_request(&sock, target, &format!("o{i}"), "offer", common(vec![])).await?;
            let answer = ng_request(
                &sock,
                target,
                &format!("a{i}"),
                "answer",
                common(vec![("to-tag", Bencode::str("callee"))]),
            )
            .await?;
            let sdp = answer
                .get("sdp")
                .and_then(Bencode::text)
                .ok_or("ng answer without sdp")?;
            sdp_audio(&sdp).ok_or_else(|| format!("no m=audio in rtpengine's SDP:\n{sdp}"))
        }
        .await;
        match got {
            Ok(addr) => remote.push(Some(addr)),
            Err(e) => {
                eprintln!("rtpload: stream {i}: {e}");
                remote.push(None);
            }
        }
    }
    Ok((remote, sock))
}

pub(crate) async fn ng_teardown(sock: &UdpSocket, target: SocketAddr, up: &[bool]) -> usize {
    let pid = std::process::id();
    let mut done = 0;
    for (i, _) in up.iter().enumerate().filter(|(_, u)| **u) {
        let fields = vec![
            ("call-id", Bencode::str(&format!("rtpload-{pid}-{i}"))),
            ("from-tag", Bencode::str("caller")),
        ];
        if ng_request(sock, target, &format!("d{i}"), "delete", fields)
            .await
            .is_ok()
        {
            done += 1;
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencode_round_trips_an_ng_answer() {
        let text = b"d6:result2:ok3:sdp5:v=0\r\n4:listli1ei-2ee3:nodd1:x0:ee";
        let (v, rest) = Bencode::decode(text).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            v.get("result").and_then(Bencode::text).as_deref(),
            Some("ok")
        );
        assert_eq!(
            v.get("sdp").and_then(Bencode::text).as_deref(),
            Some("v=0\r\n")
        );
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out, text);
        assert!(Bencode::decode(b"d3:key").is_none());
    }
}
