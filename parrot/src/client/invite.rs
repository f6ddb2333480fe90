//! Placing a call: the INVITE (RFC 3261 §13.2.1) with what the client
//! supports, the header components of its target URI (§19.1.5) such as a
//! transfer's `Replaces` (RFC 3891), and the options of
//! [`InviteOptions`].

use super::{Client, ClientError, IntoUri, PendingCall, Prepared, call, initial_cseq, request};
use crate::dialog::{Replaces, TAG_REPLACES};
use crate::message::{Header, HeaderName, Method, NameAddr, Uri};

/// What an INVITE of [`Client::invite_with_options`] carries beyond the
/// defaults, and how its call behaves.
#[derive(Debug, Clone, Default)]
pub struct InviteOptions {
    headers: Vec<Header>,
    replaces: Option<Replaces>,
    peer_requests: bool,
}

impl InviteOptions {
    /// The defaults: what [`Client::invite`] sends.
    pub fn new() -> Self {
        InviteOptions::default()
    }

    /// The INVITE replaces the dialog `replaces` names at the callee (RFC
    /// 3891 §4: an attended transfer's or a call pickup's INVITE): it
    /// carries `Replaces` and `Require: replaces` (§6.2), so that a callee
    /// without the extension refuses it (`420`) rather than setting up a
    /// second call.
    pub fn replaces(mut self, replaces: Replaces) -> Self {
        self.replaces = Some(replaces);
        self
    }

    /// The INVITE carries the header `name: value` as well (e.g.
    /// `Referred-By`, RFC 3892). Headers the client builds itself (Via,
    /// From, To, Call-ID, CSeq, Max-Forwards, Contact, Content-Type,
    /// Content-Length) are not taken.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if !builds_itself(name) {
            self.headers
                .push(Header::new(name.to_owned(), value.to_owned()));
        }
        self
    }

    /// The peer's requests in the established call (re-INVITE and UPDATE
    /// with offers, REFER, INFO, MESSAGE...) go to the application, which
    /// answers each ([`Call::next_request`](super::Call::next_request));
    /// without it the client answers them itself (see
    /// [`Call`](super::Call)).
    pub fn peer_requests(mut self, take: bool) -> Self {
        self.peer_requests = take;
        self
    }
}

/// Whether the client builds header `name` of an INVITE itself.
fn builds_itself(name: &str) -> bool {
    [
        "via",
        "v",
        "from",
        "f",
        "to",
        "t",
        "call-id",
        "i",
        "cseq",
        "max-forwards",
        "contact",
        "m",
        "content-type",
        "c",
        "content-length",
        "l",
        "route",
        "record-route",
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(name))
}

impl Client {
    /// Starts a call: sends INVITE to `uri` with the SDP offer `sdp_offer`
    /// (`application/sdp`; empty for an INVITE without an offer) and
    /// returns the [`PendingCall`], which yields the provisional
    /// responses and then the outcome.
    ///
    /// The INVITE carries `Supported: 100rel`: each new reliable
    /// provisional response is acknowledged with a PRACK in its early
    /// dialog, and its retransmissions are not passed up (RFC 3262 §4).
    /// It carries `Supported: timer` too, with `Session-Expires` and
    /// `Min-SE` when the client asks for session timers (see
    /// [`ClientBuilder::session_timer`](super::ClientBuilder::session_timer), RFC 4028).
    /// Without an offer in the INVITE, an offer in a reliable provisional
    /// response is not answered in the PRACK (RFC 3262 §5 asks for it;
    /// not implemented): give the INVITE an offer.
    ///
    /// Header components of `uri` (`sip:bob@example.com?Replaces=...`, as
    /// a REFER's `Refer-To` carries them) become headers of the INVITE
    /// (RFC 3261 §19.1.5), but for those the client builds itself; a
    /// `Replaces` among them is sent as [`InviteOptions::replaces`] is.
    pub async fn invite(
        &self,
        uri: impl IntoUri,
        sdp_offer: impl Into<bytes::Bytes>,
    ) -> Result<PendingCall, ClientError> {
        self.invite_with_options(uri, sdp_offer, InviteOptions::default())
            .await
    }

    /// [`Client::invite`] with the [`InviteOptions`] `options`.
    pub async fn invite_with_options(
        &self,
        uri: impl IntoUri,
        sdp_offer: impl Into<bytes::Bytes>,
        mut options: InviteOptions,
    ) -> Result<PendingCall, ClientError> {
        let uri = uri.into_uri()?;
        // §19.1.5: the URI's headers go into the request, not its
        // Request-URI (§19.1.1, table 1).
        let uri = match uri {
            Uri::Sip(sip) if !sip.headers().is_empty() => {
                for h in sip.headers().iter() {
                    let (name, value) = (h.name(), h.value());
                    if name.eq_ignore_ascii_case("replaces") {
                        if options.replaces.is_none() {
                            let parsed = Replaces::parse(&value)
                                .map_err(|e| ClientError::InvalidUri(e.to_owned()))?;
                            options.replaces = Some(parsed);
                        }
                    } else if !name.eq_ignore_ascii_case("body") {
                        options = options.header(&name, &value);
                    }
                }
                Uri::Sip(sip.to_request_uri())
            }
            other => other,
        };
        let to = NameAddr::new(uri.clone());
        let p = self
            .prepare(Method::Invite, uri, to, None, initial_cseq(), true)
            .await?;
        let mut request = p.request;
        // §20.5: what the peer may send us in the call; the application
        // answering the peer's requests takes these too.
        if options.peer_requests {
            request.headers.append(
                HeaderName::Allow,
                format!("{}, REFER, INFO, MESSAGE", call::ALLOW),
            );
        } else {
            request.headers.append(HeaderName::Allow, call::ALLOW);
        }
        // RFC 3262 §4: the caller supports reliable provisional responses
        // (and acknowledges each with a PRACK); RFC 4028 §7.1: and session
        // timers, asked for (Session-Expires, Min-SE) when configured.
        request.headers.append(
            HeaderName::Supported,
            format!(
                "{}, {}",
                crate::dialog::TAG_100REL,
                crate::dialog::TAG_TIMER
            ),
        );
        if let Some(config) = &self.inner.session_timer {
            crate::dialog::uac_prepare(&mut request, config, None);
        }
        if let Some(replaces) = &options.replaces {
            request
                .headers
                .push(Header::new("Replaces", replaces.to_string()));
            request.headers.append(HeaderName::Require, TAG_REPLACES);
        }
        for h in options.headers {
            request.headers.push(h);
        }
        let request = request::with_body(request, "application/sdp", sdp_offer.into());
        let p = self.fit_transport(Prepared {
            request,
            target: p.target,
            fallbacks: p.fallbacks,
        })?;
        call::start(self.clone(), p, options.peer_requests).await
    }
}
