//! Plays a SIPp scenario file with a scripted [`Peer`]: an existing
//! SIPp test runs on the kit's paused clock (or against a real server
//! through [`Peer::udp`] / [`Peer::tcp`]), one call at a time.
//!
//! The subset supported, which covers SIPp's own `uac`/`uas`-style
//! scenarios and most hand-written ones:
//!
//! * `<send>` of a message in CDATA, each line's leading white space
//!   removed as SIPp does, with the keywords `[service]`, `[remote_ip]`,
//!   `[remote_port]`, `[local_ip]`, `[local_port]`, `[transport]`,
//!   `[call_id]`, `[call_number]`, `[pid]`, `[cseq]` (and `[cseq+N]`,
//!   `[cseq-N]`), `[branch]` (and `[branch-N]`), `[len]`,
//!   `[peer_tag_param]`, `[last_<Header>:]`, `[routes]`, `[next_url]`,
//!   `[media_ip]`, `[media_port]`, `[media_ip_type]`, `[local_ip_type]`;
//!   `retrans="ms"` retransmits until the next message arrives (doubling
//!   up to 4 s, 7 times at most).
//! * `<recv response="N">` and `<recv request="METHOD">`, with
//!   `optional="true"` (a message may match any later optional `recv`
//!   up to the next mandatory one, as in SIPp), `timeout="ms"` and
//!   `rrs="true"` (the route set and Contact for `[routes]` and
//!   `[next_url]`). Retransmissions of messages already received are
//!   passed over.
//! * `<pause milliseconds="N"/>` (a `<pause/>` without it waits 0) and
//!   `<timewait>` alike, and
//!   `<nop>`, which does nothing (its actions, RTP streaming among them,
//!   are not played).
//! * `<ResponseTimeRepartition>`, `<CallLengthRepartition>` and
//!   statistics attributes (`rtd`, `start_rtd`, `crlf`, `repeat_rtd`)
//!   are accepted and ignored.
//!
//! Refused when the scenario is read, with the element named: branching
//! (`next`, `test`, `chance`, `label`), `<action>` on a `recv` (regular
//! expressions, variables), `lost`, and any other element. The peer is
//! switched to [`manual_ack`](Peer::manual_ack): a scenario sends its own
//! ACKs.

use super::journal::Failure;
use super::peer::{Peer, Pick, Received};
use crate::message::{Message, Method};
use bytes::Bytes;
use std::fmt;
use std::time::Duration;

/// Retransmissions of one `send retrans` at most.
const MAX_RETRANS: u32 = 7;
/// The longest retransmission interval (T2).
const MAX_INTERVAL: Duration = Duration::from_secs(4);

/// A SIPp scenario, read and checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    steps: Vec<Step>,
    service: String,
    media_port: u16,
}

#[derive(Debug, Clone)]
enum Step {
    Send {
        text: String,
        retrans: Option<Duration>,
    },
    Recv {
        expect: Expect,
        optional: bool,
        timeout: Option<Duration>,
        rrs: bool,
    },
    Pause(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Response(u16),
    Request(String),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Response(c) => write!(f, "response {c}"),
            Expect::Request(m) => write!(f, "request {m}"),
        }
    }
}

/// Why a scenario file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError(String);

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIPp scenario: {}", self.0)
    }
}

impl std::error::Error for ScenarioError {}

fn refuse<T>(what: impl Into<String>) -> Result<T, ScenarioError> {
    Err(ScenarioError(what.into()))
}

const IGNORED_ATTRIBUTES: &[&str] = &["rtd", "start_rtd", "repeat_rtd", "crlf", "counter"];

impl Scenario {
    /// Reads a scenario file's text; refuses what the kit cannot play.
    pub fn parse(xml: &str) -> Result<Scenario, ScenarioError> {
        // SIPp's files declare a DTD that is not shipped with them.
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(xml, options)
            .or_else(|e| refuse(format!("not XML: {e}")))?;
        let root = doc.root_element();
        if root.tag_name().name() != "scenario" {
            return refuse("the root element is not <scenario>");
        }
        let mut steps = Vec::new();
        for node in root.children().filter(roxmltree::Node::is_element) {
            let name = node.tag_name().name();
            let line = doc.text_pos_at(node.range().start).row;
            for a in node.attributes() {
                let known = match name {
                    "send" => ["retrans"].contains(&a.name()),
                    "recv" => {
                        ["response", "request", "optional", "timeout", "rrs"].contains(&a.name())
                    }
                    "pause" | "timewait" => a.name() == "milliseconds",
                    _ => true,
                };
                if !known && !IGNORED_ATTRIBUTES.contains(&a.name()) {
                    return refuse(format!(
                        "line {line}: <{name} {}=...> is not supported",
                        a.name()
                    ));
                }
            }
            let ms = |attr: &str| -> Result<Option<Duration>, ScenarioError> {
                match node.attribute(attr) {
                    None => Ok(None),
                    Some(v) => v
                        .trim()
                        .parse()
                        .map(|n| Some(Duration::from_millis(n)))
                        .or_else(|_| {
                            refuse(format!("line {line}: {attr}=\"{v}\" is not a number"))
                        }),
                }
            };
            match name {
                "send" => {
                    let text: String = node
                        .children()
                        .filter_map(|c| c.text())
                        .collect::<Vec<_>>()
                        .concat();
                    steps.push(Step::Send {
                        text,
                        retrans: ms("retrans")?,
                    });
                }
                "recv" => {
                    if let Some(child) = node.children().find(roxmltree::Node::is_element) {
                        return refuse(format!(
                            "line {line}: <recv> with <{}> is not supported",
                            child.tag_name().name()
                        ));
                    }
                    let expect = match (node.attribute("response"), node.attribute("request")) {
                        (Some(code), None) => match code.trim().parse() {
                            Ok(c) => Expect::Response(c),
                            Err(_) => return refuse(format!("line {line}: response=\"{code}\"")),
                        },
                        (None, Some(m)) => Expect::Request(m.trim().to_owned()),
                        _ => {
                            return refuse(format!(
                                "line {line}: <recv> needs response= or request="
                            ));
                        }
                    };
                    steps.push(Step::Recv {
                        expect,
                        optional: node.attribute("optional") == Some("true"),
                        timeout: ms("timeout")?,
                        rrs: node.attribute("rrs") == Some("true"),
                    });
                }
                "pause" | "timewait" => {
                    steps.push(Step::Pause(ms("milliseconds")?.unwrap_or_default()));
                }
                "nop" | "ResponseTimeRepartition" | "CallLengthRepartition" | "Reference" => {}
                other => return refuse(format!("line {line}: <{other}> is not supported")),
            }
        }
        Ok(Scenario {
            steps,
            service: "service".to_owned(),
            media_port: 6000,
        })
    }

    /// The `[service]` (SIPp's `-s`; default `service`).
    pub fn service(mut self, service: &str) -> Scenario {
        self.service = service.to_owned();
        self
    }

    /// The `[media_port]` (SIPp's `-mp`; default 6000).
    pub fn media_port(mut self, port: u16) -> Scenario {
        self.media_port = port;
        self
    }

    /// Plays the scenario as call number 1 of `peer`.
    pub async fn run(&self, peer: &Peer) -> Result<(), Failure> {
        peer.manual_ack();
        let mut play = Play {
            scenario: self,
            peer,
            cseq: 0,
            last: None,
            routes: Vec::new(),
            next_url: None,
            retrans: None,
        };
        let mut i = 0;
        while i < self.steps.len() {
            i = match &self.steps[i] {
                Step::Send { text, retrans } => {
                    play.send(i, text, *retrans).await?;
                    i + 1
                }
                Step::Recv { .. } => play.recv(i).await?,
                Step::Pause(d) => {
                    tokio::time::sleep(*d).await;
                    i + 1
                }
            };
        }
        Ok(())
    }
}

/// Reads and plays a scenario file's text with `peer`; a scenario the
/// kit cannot play fails before anything is sent.
pub async fn run(peer: &Peer, xml: &str) -> Result<(), Failure> {
    let scenario = Scenario::parse(xml).map_err(|e| peer.inner_failure(&e.to_string()))?;
    scenario.run(peer).await
}

struct Play<'a> {
    scenario: &'a Scenario,
    peer: &'a Peer,
    cseq: u32,
    last: Option<Received>,
    routes: Vec<String>,
    next_url: Option<String>,
    /// The message to retransmit while waiting, where to, its next
    /// interval and how many times it went.
    retrans: Option<(Bytes, std::net::SocketAddr, Duration, u32)>,
}

impl Play<'_> {
    async fn send(
        &mut self,
        index: usize,
        text: &str,
        retrans: Option<Duration>,
    ) -> Result<(), Failure> {
        let message = self.render(index, text)?;
        // A response goes back where the request came from.
        let to = match &self.last {
            Some(r) if message.starts_with(b"SIP/2.0 ") => r.from,
            _ => self.peer.server(),
        };
        self.peer.transmit(message.clone(), to).await?;
        self.retrans = retrans.map(|t| (message, to, t, 0));
        Ok(())
    }

    /// The message text: lines left-trimmed, keywords replaced, the body
    /// after the first empty line, CRLF line ends.
    fn render(&mut self, index: usize, text: &str) -> Result<Bytes, Failure> {
        let lines: Vec<&str> = text.lines().map(str::trim_start).collect();
        let start = lines
            .iter()
            .position(|l| !l.is_empty())
            .unwrap_or(lines.len());
        let lines = &lines[start..];
        let split = lines
            .iter()
            .position(|l| l.is_empty())
            .unwrap_or(lines.len());
        let head = &lines[..split];
        let mut body_lines: Vec<&str> = lines[split..].iter().skip(1).copied().collect();
        while body_lines.last().is_some_and(|l| l.is_empty()) {
            body_lines.pop();
        }
        let is_request = head.first().is_some_and(|l| !l.starts_with("SIP/"));
        let method = head
            .first()
            .and_then(|l| l.split(' ').next())
            .unwrap_or_default();
        if is_request && method != "ACK" && method != "CANCEL" {
            self.cseq += 1;
        }
        let body = if body_lines.is_empty() {
            String::new()
        } else {
            format!("{}\r\n", body_lines.join("\r\n"))
        };
        let body = self.substitute(index, &body, 0)?;
        let head = self.substitute(index, &head.join("\r\n"), body.len())?;
        // A keyword that expands to nothing leaves an empty line.
        let head: Vec<&str> = head.split("\r\n").filter(|l| !l.is_empty()).collect();
        Ok(Bytes::from(format!("{}\r\n\r\n{body}", head.join("\r\n"))))
    }

    fn substitute(&self, index: usize, text: &str, len: usize) -> Result<String, Failure> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('[') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find(']') else {
                out.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let keyword = &rest[open + 1..open + close];
            match self.keyword(index, keyword, len) {
                Some(value) => out.push_str(&value),
                // IPv6 references and the like: not a keyword.
                None if keyword.contains(':') && !keyword.starts_with("last_") => {
                    out.push_str(&rest[open..=open + close]);
                }
                None => {
                    return Err(self
                        .peer
                        .inner_failure(&format!("a SIPp keyword the kit knows, not [{keyword}]")));
                }
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn keyword(&self, index: usize, keyword: &str, len: usize) -> Option<String> {
        let peer = self.peer;
        let local = peer.addr();
        let remote = peer.server();
        let ip_type = |a: std::net::SocketAddr| if a.is_ipv4() { "4" } else { "6" };
        let host = |a: std::net::SocketAddr| match a {
            std::net::SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            a => a.ip().to_string(),
        };
        let offset = |name: &str| -> Option<i64> {
            let tail = keyword.strip_prefix(name)?;
            if tail.is_empty() {
                return Some(0);
            }
            tail.parse().ok()
        };
        Some(match keyword {
            "service" => self.scenario.service.clone(),
            "remote_ip" => host(remote),
            "remote_port" => remote.port().to_string(),
            "local_ip" | "media_ip" => host(local),
            "local_port" => local.port().to_string(),
            "transport" => peer.protocol().to_string(),
            "call_number" => "1".to_owned(),
            "pid" => std::process::id().to_string(),
            "call_id" => format!("1-{}@{}", std::process::id(), host(local)),
            "len" => len.to_string(),
            "media_port" => self.scenario.media_port.to_string(),
            "media_ip_type" | "local_ip_type" => ip_type(local).to_owned(),
            "peer_tag_param" => self
                .peer_tag()
                .map(|t| format!(";tag={t}"))
                .unwrap_or_default(),
            "routes" if self.routes.is_empty() => String::new(),
            "routes" => format!("Route: {}", self.routes.join(", ")),
            "next_url" => self.next_url.clone().unwrap_or_default(),
            k if k.starts_with("last_") && k.ends_with(':') => self.last_header(&k[5..k.len() - 1]),
            k if k.starts_with("cseq") => (i64::from(self.cseq) + offset("cseq")?).to_string(),
            k if k.starts_with("branch") => {
                let n = index as i64 + offset("branch")?;
                format!("z9hG4bK-{}-1-{n}", std::process::id())
            }
            _ => return None,
        })
    }

    /// The other side's tag: the To tag of a response, the From tag of a
    /// request.
    fn peer_tag(&self) -> Option<String> {
        match &self.last.as_ref()?.message {
            Message::Response(r) => r.headers.to_tag().map(|t| t.to_string()),
            Message::Request(r) => r.headers.from_tag().map(|t| t.to_string()),
        }
    }

    /// Every field `name` of the last message received, as lines.
    fn last_header(&self, name: &str) -> String {
        let Some(last) = &self.last else {
            return String::new();
        };
        let headers = match &last.message {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        };
        headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| format!("{}: {}", h.name(), h.value()))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    /// Waits for a message matching the `recv` at `index`, or an optional
    /// one after it; returns the step after the one matched.
    async fn recv(&mut self, index: usize) -> Result<usize, Failure> {
        let steps = &self.scenario.steps;
        // The recv steps this message may match: this one, and while they
        // are optional, the ones after it up to a mandatory one.
        let mut candidates = Vec::new();
        for (j, step) in steps.iter().enumerate().skip(index) {
            let Step::Recv {
                expect, optional, ..
            } = step
            else {
                break;
            };
            candidates.push((j, expect.clone()));
            if !optional {
                break;
            }
        }
        let timeout = match &steps[index] {
            Step::Recv { timeout, .. } => *timeout,
            _ => None,
        };
        let expected = candidates
            .iter()
            .map(|(_, e)| e.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        let received = self.wait(&expected, timeout).await?;
        let matched = candidates
            .iter()
            .find(|(_, e)| matches(e, &received.message))
            .map(|(j, _)| *j);
        let Some(j) = matched else {
            return Err(self.peer_failure(&expected, &received));
        };
        if let Step::Recv { rrs: true, .. } = &steps[j] {
            self.record_routes(&received);
        }
        self.last = Some(received);
        Ok(j + 1)
    }

    /// The next new message, retransmitting the last `send retrans` while
    /// waiting.
    async fn wait(
        &mut self,
        expected: &str,
        timeout: Option<Duration>,
    ) -> Result<Received, Failure> {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let slice = match (&self.retrans, deadline) {
                (Some((_, _, interval, _)), Some(d)) => {
                    (d - tokio::time::Instant::now()).min(*interval)
                }
                (Some((_, _, interval, _)), None) => *interval,
                (None, Some(d)) => d - tokio::time::Instant::now(),
                (None, None) => super::DEFAULT_TIMEOUT,
            };
            let got = tokio::time::timeout(
                slice,
                self.peer.wait_for(expected.to_owned(), |r| {
                    if r.retransmission {
                        Pick::Skip
                    } else {
                        Pick::Take(r.clone())
                    }
                }),
            )
            .await;
            match got {
                Ok(result) => {
                    self.retrans = None;
                    return result;
                }
                Err(_) if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) => {
                    return Err(self
                        .peer
                        .inner_failure(&format!("{expected} within {timeout:?}")));
                }
                Err(_) => match self.retrans.take() {
                    Some((message, to, interval, n)) if n < MAX_RETRANS => {
                        self.peer.transmit(message.clone(), to).await?;
                        let next = (interval * 2).min(MAX_INTERVAL);
                        self.retrans = Some((message, to, next, n + 1));
                    }
                    _ => return Err(self.peer.inner_failure(expected)),
                },
            }
        }
    }

    fn record_routes(&mut self, received: &Received) {
        let (headers, reverse) = match &received.message {
            Message::Response(r) => (&r.headers, true),
            Message::Request(r) => (&r.headers, false),
        };
        let mut routes: Vec<String> = headers
            .values(crate::message::HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        if reverse {
            routes.reverse();
        }
        self.routes = routes;
        self.next_url = headers
            .values(crate::message::HeaderName::Contact)
            .next()
            .map(|c| {
                let c = c.trim();
                match (c.find('<'), c.find('>')) {
                    (Some(a), Some(b)) if a < b => c[a + 1..b].to_owned(),
                    _ => c.to_owned(),
                }
            });
    }

    fn peer_failure(&self, expected: &str, received: &Received) -> Failure {
        self.peer.failure_with(expected, &received.raw)
    }
}

fn matches(expect: &Expect, message: &Message) -> bool {
    match (expect, message) {
        (Expect::Response(c), Message::Response(r)) => r.status.as_u16() == *c,
        (Expect::Request(m), Message::Request(r)) => {
            r.method.as_str() == m || (m == "ACK" && r.method == Method::Ack)
        }
        _ => false,
    }
}
