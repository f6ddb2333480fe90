//! A call (or any request and what follows it) from the scripted peer's
//! side: building the request, expecting responses and requests of its
//! Call-ID, and the dialog's own requests (ACK, BYE, CANCEL, re-INVITE)
//! built from what the server answered (RFC 3261 §12.1.2, §12.2.1.1).

use super::journal::Failure;
use super::peer::{Peer, Pick};
use crate::message::{HeaderName, Message, Method, Request, Response, StatusCode, parse_datagram};
use bytes::Bytes;
use std::fmt::Write as _;

impl Peer {
    /// An INVITE to `uri`, to shape and send.
    pub fn invite(&self, uri: &str) -> CallBuilder {
        CallBuilder::new(self.clone(), Method::Invite, uri)
    }

    /// An out-of-dialog request with `method` to `uri` (OPTIONS, REGISTER,
    /// MESSAGE, SUBSCRIBE...), to shape and send.
    pub fn request(&self, method: Method, uri: &str) -> CallBuilder {
        CallBuilder::new(self.clone(), method, uri)
    }

    /// A response to a request the peer received, to shape and send.
    pub fn reply(&self, request: &Request, status: u16) -> ReplyBuilder {
        ReplyBuilder::new(self.clone(), request, status)
    }
}

/// A request to shape, then [`send`](CallBuilder::send).
#[must_use = "a request is sent by .send().await"]
pub struct CallBuilder {
    peer: Peer,
    method: Method,
    uri: String,
    from: Option<String>,
    to: Option<String>,
    headers: Vec<(String, String)>,
    without: Vec<String>,
    body: Option<(String, Bytes)>,
    call_id: Option<String>,
    cseq: Option<u32>,
}

impl CallBuilder {
    pub(crate) fn new(peer: Peer, method: Method, uri: &str) -> CallBuilder {
        CallBuilder {
            peer,
            method,
            uri: uri.to_owned(),
            from: None,
            to: None,
            headers: Vec::new(),
            without: Vec::new(),
            body: None,
            call_id: None,
            cseq: None,
        }
    }

    /// The Call-ID (default: a fresh random one). A later request with the
    /// same Call-ID (a REGISTER refresh) is a new `Call` built with it.
    pub fn call_id(mut self, call_id: &str) -> CallBuilder {
        self.call_id = Some(call_id.to_owned());
        self
    }

    /// The CSeq number of this first request (default 1); the call's
    /// later requests count on from it.
    pub fn cseq(mut self, seq: u32) -> CallBuilder {
        self.cseq = Some(seq);
        self
    }

    /// An SDP body (`application/sdp`).
    pub fn sdp(self, sdp: &str) -> CallBuilder {
        self.body("application/sdp", Bytes::from(sdp.to_owned()))
    }

    /// A body of this type.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> CallBuilder {
        self.body = Some((content_type.to_owned(), body.into()));
        self
    }

    /// An extra header field (or one replacing a default: `Contact`,
    /// `Max-Forwards`, `Expires`...).
    pub fn header(mut self, name: &str, value: &str) -> CallBuilder {
        self.without.push(name.to_ascii_lowercase());
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Leaves out a header field the peer would put in (to test how the
    /// server refuses a request without it).
    pub fn without(mut self, name: &str) -> CallBuilder {
        self.without.push(name.to_ascii_lowercase());
        self
    }

    /// The From URI (default: the peer's URI).
    pub fn from(mut self, uri: &str) -> CallBuilder {
        self.from = Some(uri.to_owned());
        self
    }

    /// The To URI (default: the Request-URI).
    pub fn to(mut self, uri: &str) -> CallBuilder {
        self.to = Some(uri.to_owned());
        self
    }

    /// Sends the request to the server; the [`Call`] then expects what
    /// follows.
    pub async fn send(self) -> Result<Call, Failure> {
        let peer = self.peer;
        let mut call = Call {
            call_id: self
                .call_id
                .unwrap_or_else(|| format!("{}@{}", crate::random::tag(), peer.addr().ip())),
            local_uri: self.from.unwrap_or_else(|| peer.uri()),
            remote_uri: self.to.unwrap_or_else(|| self.uri.clone()),
            local_tag: crate::random::tag().to_string(),
            remote_tag: None,
            cseq: self.cseq.unwrap_or(1).saturating_sub(1),
            request_uri: self.uri,
            target: None,
            route: Vec::new(),
            invite: None,
            last: None,
            peer,
        };
        let draft = Draft {
            method: self.method,
            headers: self.headers,
            without: self.without,
            body: self.body,
        };
        call.send_new(draft).await?;
        Ok(call)
    }
}

/// The parts of a request a script chose.
struct Draft {
    method: Method,
    headers: Vec<(String, String)>,
    without: Vec<String>,
    body: Option<(String, Bytes)>,
}

impl Draft {
    fn plain(method: Method) -> Draft {
        Draft {
            method,
            headers: Vec::new(),
            without: Vec::new(),
            body: None,
        }
    }

    fn keeps(&self, name: &str) -> bool {
        !self.without.iter().any(|w| w.eq_ignore_ascii_case(name))
    }
}

/// One call of a scripted peer: its Call-ID, its dialog once the server
/// answers, and the requests it sent. Expectations take the messages of
/// this Call-ID only; other calls' messages wait for their own.
pub struct Call {
    peer: Peer,
    call_id: String,
    local_uri: String,
    remote_uri: String,
    local_tag: String,
    remote_tag: Option<String>,
    cseq: u32,
    request_uri: String,
    /// The remote target: the Contact of the dialog's peer.
    target: Option<String>,
    /// The route set, in the order requests carry it.
    route: Vec<String>,
    /// The latest INVITE sent (for ACK and CANCEL).
    invite: Option<Request>,
    /// The last request sent.
    last: Option<Request>,
}

impl Call {
    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The peer's From tag.
    pub fn local_tag(&self) -> &str {
        &self.local_tag
    }

    /// The server's To tag, once a response carried one.
    pub fn remote_tag(&self) -> Option<&str> {
        self.remote_tag.as_deref()
    }

    /// The peer the call belongs to.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The last request the call sent, as sent.
    pub fn last_request(&self) -> Option<&Request> {
        self.last.as_ref()
    }

    /// The next response of this call, which must have `status` (a 100
    /// Trying is passed over unless `status` is 100, and so are
    /// retransmissions). The dialog follows it: the To tag, and for a
    /// 2xx to an INVITE the remote target and the route set.
    pub async fn expect(&mut self, status: u16) -> Result<Response, Failure> {
        let expected = format!("{status} on call {}", self.call_id);
        self.expect_response(expected, |code| match code {
            c if c == status => Pick::Take(()),
            100 => Pick::Skip,
            _ => Pick::Wrong,
        })
        .await
    }

    /// The next final response of this call, passing over provisional
    /// ones.
    pub async fn expect_final(&mut self) -> Result<Response, Failure> {
        let expected = format!("a final response on call {}", self.call_id);
        self.expect_response(expected, |code| {
            if code >= 200 {
                Pick::Take(())
            } else {
                Pick::Skip
            }
        })
        .await
    }

    /// The next response of this call that `judge` takes by its status
    /// code (retransmissions passed over, a request wrong); the dialog
    /// learns from it.
    async fn expect_response(
        &mut self,
        expected: String,
        judge: impl Fn(u16) -> Pick<()>,
    ) -> Result<Response, Failure> {
        let call_id = self.call_id.clone();
        let response = self
            .peer
            .wait_for(expected, |r| match &r.message {
                m if !is_of(m, &call_id) => Pick::Other,
                _ if r.retransmission => Pick::Skip,
                Message::Response(p) => match judge(p.status.as_u16()) {
                    Pick::Take(()) => Pick::Take(p.clone()),
                    Pick::Skip => Pick::Skip,
                    Pick::Other => Pick::Other,
                    Pick::Wrong => Pick::Wrong,
                },
                Message::Request(_) => Pick::Wrong,
            })
            .await?;
        self.learn(&response);
        Ok(response)
    }

    /// The next request of this call from the server (a BYE, a
    /// re-INVITE, a NOTIFY...), which must have `method`.
    pub async fn expect_request(&mut self, method: Method) -> Result<Request, Failure> {
        let expected = format!("a {method} on call {}", self.call_id);
        let call_id = self.call_id.clone();
        self.peer
            .wait_for(expected, |r| match &r.message {
                m if !is_of(m, &call_id) => Pick::Other,
                _ if r.retransmission => Pick::Skip,
                Message::Request(q) if q.method == method => Pick::Take(q.clone()),
                _ => Pick::Wrong,
            })
            .await
    }

    /// Sends the response `status` to a request the server sent.
    pub async fn reply(&self, request: &Request, status: u16) -> Result<(), Failure> {
        self.peer.reply(request, status).send().await
    }

    /// ACKs the 2xx answer to the INVITE (a new transaction, RFC 3261
    /// §13.2.2.4).
    pub async fn ack(&mut self) -> Result<(), Failure> {
        self.ack_with(None).await
    }

    /// ACKs the 2xx answer with an SDP answer (to an offer in the 2xx).
    pub async fn ack_sdp(&mut self, sdp: &str) -> Result<(), Failure> {
        self.ack_with(Some(sdp)).await
    }

    async fn ack_with(&mut self, sdp: Option<&str>) -> Result<(), Failure> {
        let mut draft = Draft::plain(Method::Ack);
        draft.body = sdp.map(|s| ("application/sdp".to_owned(), Bytes::from(s.to_owned())));
        self.send_ack(draft).await
    }

    async fn send_ack(&mut self, draft: Draft) -> Result<(), Failure> {
        let seq = self.invite_cseq();
        let text = self.render(&draft, seq, &crate::random::branch());
        self.put(text, draft.keeps("Route")).await
    }

    /// Sends BYE in the dialog.
    pub async fn bye(&mut self) -> Result<(), Failure> {
        self.send_in_dialog(Method::Bye, None).await
    }

    /// Sends BYE and expects its 200.
    pub async fn hang_up(&mut self) -> Result<(), Failure> {
        self.bye().await?;
        self.expect(200).await.map(|_| ())
    }

    /// Sends a re-INVITE with an SDP offer in the dialog.
    pub async fn reinvite(&mut self, sdp: &str) -> Result<(), Failure> {
        let body = ("application/sdp".to_owned(), Bytes::from(sdp.to_owned()));
        self.send_in_dialog(Method::Invite, Some(body)).await
    }

    /// Sends a request with `method` in the dialog (INFO, UPDATE,
    /// MESSAGE, REFER...), with an optional body and its type.
    pub async fn send_in_dialog(
        &mut self,
        method: Method,
        body: Option<(String, Bytes)>,
    ) -> Result<(), Failure> {
        let mut draft = Draft::plain(method);
        draft.body = body;
        self.send_new(draft).await
    }

    /// A request with `method` in the dialog, to shape (extra headers,
    /// headers left out — `Route` among them, which then also stops it
    /// following the route set — a body) and send. An ACK takes the
    /// INVITE's CSeq number; any other method the next one.
    pub fn in_dialog(&mut self, method: Method) -> InDialog<'_> {
        InDialog {
            call: self,
            draft: Draft::plain(method),
        }
    }

    /// Cancels the INVITE (RFC 3261 §9.1: its Request-URI, top Via,
    /// Call-ID, From, To and CSeq number, with CANCEL).
    pub async fn cancel(&mut self) -> Result<(), Failure> {
        let Some(invite) = &self.invite else {
            return Err(self.peer.inner_failure("an INVITE to cancel"));
        };
        let mut text = format!("CANCEL {} SIP/2.0\r\n", invite.uri);
        for name in [
            HeaderName::Via,
            HeaderName::Route,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            for h in invite.headers.get_all(name) {
                let _ = write!(text, "{}: {}\r\n", h.name(), h.value());
            }
        }
        let seq = self.invite_cseq();
        let _ = write!(
            text,
            "Max-Forwards: 70\r\nCSeq: {seq} CANCEL\r\nContent-Length: 0\r\n\r\n"
        );
        self.put(text, true).await
    }

    fn invite_cseq(&self) -> u32 {
        self.invite
            .as_ref()
            .and_then(|i| i.headers.cseq())
            .map_or(self.cseq, |c| c.seq)
    }

    /// Sends a new request of the call (a new CSeq and branch).
    async fn send_new(&mut self, draft: Draft) -> Result<(), Failure> {
        self.cseq += 1;
        let branch = crate::random::branch();
        let text = self.render(&draft, self.cseq, &branch);
        if draft.method == Method::Invite {
            let invite = parse_request(&text);
            if let Some(invite) = &invite {
                self.peer.remember_invite(&branch, invite.clone());
            }
            // The latest INVITE: what the next ACK or CANCEL answers to.
            self.invite = invite;
        }
        self.put(text, draft.keeps("Route")).await
    }

    /// Sends a request of the call: to the route set's first hop (unless
    /// `routed` is false), else to the remote target, else to the server.
    async fn put(&mut self, text: String, routed: bool) -> Result<(), Failure> {
        let request = parse_request(&text);
        let to = match self.route.first().filter(|_| routed) {
            Some(first) => self.peer.target_of(first),
            None => match &self.target {
                Some(t) => self.peer.target_of(t),
                None => self.peer.server(),
            },
        };
        self.last = request;
        self.peer.transmit(Bytes::from(text), to).await
    }

    /// The request's text (§8.1.1; in a dialog §12.2.1.1).
    fn render(&self, draft: &Draft, seq: u32, branch: &str) -> String {
        let peer = &self.peer;
        let uri = self.target.as_deref().unwrap_or(&self.request_uri);
        let method = &draft.method;
        let mut t = format!("{method} {uri} SIP/2.0\r\n");
        let _ = write!(
            t,
            "Via: SIP/2.0/{} {};branch={branch};rport\r\n",
            peer.protocol(),
            peer.addr()
        );
        let put = |t: &mut String, name: &str, value: &str| {
            if draft.keeps(name) {
                let _ = write!(t, "{name}: {value}\r\n");
            }
        };
        put(&mut t, "Max-Forwards", "70");
        for r in &self.route {
            put(&mut t, "Route", r);
        }
        put(
            &mut t,
            "From",
            &format!("<{}>;tag={}", self.local_uri, self.local_tag),
        );
        let to = match &self.remote_tag {
            Some(tag) => format!("<{}>;tag={tag}", self.remote_uri),
            None => format!("<{}>", self.remote_uri),
        };
        put(&mut t, "To", &to);
        put(&mut t, "Call-ID", &self.call_id);
        put(&mut t, "CSeq", &format!("{seq} {method}"));
        if !matches!(method, Method::Ack | Method::Cancel | Method::Bye) {
            put(&mut t, "Contact", &format!("<{}>", peer.uri()));
        }
        for (name, value) in &draft.headers {
            let _ = write!(t, "{name}: {value}\r\n");
        }
        let body: &[u8] = match &draft.body {
            Some((ctype, body)) => {
                put(&mut t, "Content-Type", ctype);
                body
            }
            None => &[],
        };
        put(&mut t, "Content-Length", &body.len().to_string());
        t.push_str("\r\n");
        t.push_str(&String::from_utf8_lossy(body));
        t
    }

    /// What a response tells the dialog (§12.1.2): the To tag; for a 2xx
    /// to the INVITE, the remote target and the route set (Record-Route
    /// reversed).
    fn learn(&mut self, response: &Response) {
        if self.remote_tag.is_none()
            && response.status.as_u16() > 100
            && let Some(tag) = response.headers.to_tag()
        {
            self.remote_tag = Some(tag.to_string());
        }
        let to_invite = response
            .headers
            .cseq()
            .is_some_and(|c| c.method == Method::Invite);
        if to_invite && response.status.is_success() {
            if let Some(contact) = response.headers.values(HeaderName::Contact).next() {
                self.target = Some(uri_in(contact).to_owned());
            }
            if self.route.is_empty() {
                let mut route: Vec<String> = response
                    .headers
                    .values(HeaderName::RecordRoute)
                    .map(str::to_owned)
                    .collect();
                route.reverse();
                self.route = route;
            }
        }
        if !response.status.is_success() && response.status.as_u16() >= 300 && !self.is_confirmed()
        {
            // A failed INVITE leaves no dialog.
            self.remote_tag = None;
        }
    }

    fn is_confirmed(&self) -> bool {
        self.target.is_some()
    }
}

/// A request in a call's dialog, to shape then [`send`](InDialog::send).
#[must_use = "a request is sent by .send().await"]
pub struct InDialog<'c> {
    call: &'c mut Call,
    draft: Draft,
}

impl InDialog<'_> {
    /// An extra header field (or one replacing a default).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.draft.without.push(name.to_ascii_lowercase());
        self.draft.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Leaves out a header field the call would put in; without `Route`
    /// the request goes straight to the remote target.
    pub fn without(mut self, name: &str) -> Self {
        self.draft.without.push(name.to_ascii_lowercase());
        self
    }

    /// A body of this type.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.draft.body = Some((content_type.to_owned(), body.into()));
        self
    }

    /// An SDP body.
    pub fn sdp(self, sdp: &str) -> Self {
        self.body("application/sdp", Bytes::from(sdp.to_owned()))
    }

    /// Sends it.
    pub async fn send(self) -> Result<(), Failure> {
        if self.draft.method == Method::Ack {
            self.call.send_ack(self.draft).await
        } else {
            self.call.send_new(self.draft).await
        }
    }
}

/// Whether a message belongs to the call.
fn is_of(m: &Message, call_id: &str) -> bool {
    let headers = match m {
        Message::Request(r) => &r.headers,
        Message::Response(r) => &r.headers,
    };
    headers.call_id().is_some_and(|c| c.as_str() == call_id)
}

/// The URI of a name-addr (`"Bob" <sip:bob@h>;expires=1` → `sip:bob@h`)
/// or of an addr-spec.
fn uri_in(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

fn parse_request(text: &str) -> Option<Request> {
    match parse_datagram(Bytes::from(text.to_owned())) {
        Ok(Message::Request(r)) => Some(r),
        _ => None,
    }
}

/// A response to shape, then [`send`](ReplyBuilder::send).
#[must_use = "a response is sent by .send().await"]
pub struct ReplyBuilder {
    peer: Peer,
    request: Request,
    status: u16,
    headers: Vec<(String, String)>,
    without: Vec<String>,
    tag: Option<String>,
    body: Option<(String, Bytes)>,
}

impl ReplyBuilder {
    pub(crate) fn new(peer: Peer, request: &Request, status: u16) -> ReplyBuilder {
        ReplyBuilder {
            peer,
            request: request.clone(),
            status,
            headers: Vec::new(),
            without: Vec::new(),
            tag: None,
            body: None,
        }
    }

    /// The To tag to answer with (default: the peer's tag for the
    /// Call-ID, [`Peer::tag`]); later responses on the Call-ID keep it.
    pub fn tag(mut self, tag: &str) -> ReplyBuilder {
        self.tag = Some(tag.to_owned());
        self
    }

    /// Leaves out a header field the response would carry (`Contact`,
    /// `Record-Route`...).
    pub fn without(mut self, name: &str) -> ReplyBuilder {
        self.without.push(name.to_ascii_lowercase());
        self
    }

    /// An SDP body.
    pub fn sdp(mut self, sdp: &str) -> ReplyBuilder {
        self.body = Some(("application/sdp".to_owned(), Bytes::from(sdp.to_owned())));
        self
    }

    /// An extra header field.
    pub fn header(mut self, name: &str, value: &str) -> ReplyBuilder {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends it to where the request's top Via says (RFC 3261 §18.2.2).
    /// The response copies the request's Via, Record-Route, From, To,
    /// Call-ID and CSeq (§8.2.6.2, §12.1.1), adds the peer's To tag above
    /// 100, and its Contact to a dialog-creating request's 1xx/2xx.
    pub async fn send(self) -> Result<(), Failure> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let req = &self.request;
        let keeps = |name: &str| !self.without.iter().any(|w| w.eq_ignore_ascii_case(name));
        let mut t = format!(
            "SIP/2.0 {} {}\r\n",
            self.status,
            status.canonical_reason().unwrap_or("Whatever")
        );
        let call_id = req
            .headers
            .call_id()
            .map(|c| c.to_string())
            .unwrap_or_default();
        if let Some(tag) = &self.tag {
            self.peer.set_tag(&call_id, tag);
        }
        for h in req.headers.iter() {
            let copied = match h.known_name() {
                Some(
                    HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq,
                ) => true,
                Some(HeaderName::RecordRoute) => self.status < 300,
                Some(HeaderName::To) => {
                    if keeps("To") {
                        let tag = if self.status > 100 && !req.headers.has_to_tag() {
                            format!(";tag={}", self.peer.tag(&call_id))
                        } else {
                            String::new()
                        };
                        let _ = write!(t, "To: {}{tag}\r\n", h.value());
                    }
                    false
                }
                _ => false,
            };
            if copied && keeps(h.name()) {
                let _ = write!(t, "{}: {}\r\n", h.name(), h.value());
            }
        }
        let dialog = matches!(
            req.method,
            Method::Invite | Method::Subscribe | Method::Refer
        );
        if dialog && self.status > 100 && self.status < 300 && keeps("Contact") {
            let _ = write!(t, "Contact: <{}>\r\n", self.peer.uri());
        }
        for (name, value) in &self.headers {
            let _ = write!(t, "{name}: {value}\r\n");
        }
        let body: &[u8] = match &self.body {
            Some((ctype, body)) => {
                let _ = write!(t, "Content-Type: {ctype}\r\n");
                body
            }
            None => &[],
        };
        let _ = write!(t, "Content-Length: {}\r\n\r\n", body.len());
        t.push_str(&String::from_utf8_lossy(body));
        let to = self.peer.response_target(req);
        self.peer.transmit(Bytes::from(t), to).await
    }
}
