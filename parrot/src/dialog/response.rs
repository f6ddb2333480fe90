//! What a UAS adds to the responses it sends in a dialog (RFC 3261
//! §12.1.1): the To tag, the Record-Route of the request, a Contact.

use super::kept::uri_text;
use crate::message::grammar::is_token;
use crate::message::typed::Contact;
use crate::message::{
    Header, HeaderName, Method, NameAddr, Request, Response, StatusCode, Text, Uri,
};

/// Whether a response with `status` to a request with `method` sent
/// outside any dialog creates a dialog.
///
/// * INVITE: 101–199 and 2xx (§12.1: "only 2xx and 101-199 responses with
///   a To tag, where the request was INVITE, will establish a dialog"; a
///   1xx makes it an early dialog).
/// * SUBSCRIBE: 2xx (RFC 6665, which extends §12 to subscriptions).
/// * REFER: 2xx, for its implicit subscription (RFC 3515 §2.4.4).
pub fn creates_dialog(method: &Method, status: StatusCode) -> bool {
    let code = status.as_u16();
    match method {
        Method::Invite => (101..=299).contains(&code),
        Method::Subscribe | Method::Refer => (200..=299).contains(&code),
        _ => false,
    }
}

/// Whether a request with `method` sent outside a dialog can create one
/// and so must carry a usable Contact (RFC 3261 §8.1.1.8): INVITE,
/// SUBSCRIBE (RFC 6665) and REFER, whose implicit subscription is a dialog
/// (RFC 3515 §2.4.4).
pub fn can_create_dialog(method: &Method) -> bool {
    matches!(method, Method::Invite | Method::Subscribe | Method::Refer)
}

/// What is wrong with the Contact of a request that can create a dialog,
/// as the reason phrase of the `400` that refuses it; `None` when it is
/// usable or the request creates none. §8.1.1.8: "The Contact header field
/// MUST be present and contain exactly one SIP or SIPS URI in any request
/// that can result in the establishment of a dialog", and a SIPS
/// Request-URI asks for a SIPS Contact; §12.1.1 makes that URI the remote
/// target, so a dialog without it could never be reached.
pub fn contact_fault(req: &Request) -> Option<&'static str> {
    check_contact(req).err()
}

/// [`contact_fault`], giving on success the remote target a dialog `req`
/// creates would have (§12.1.1): `Ok(None)` for a request that cannot
/// create one. The server checks first and creates the dialog later with
/// this target, so the Contact is decoded once.
pub(crate) fn check_contact(req: &Request) -> Result<Option<Text>, &'static str> {
    if req.headers.has_to_tag() || !can_create_dialog(&req.method) {
        return Ok(None);
    }
    let mut contacts = req.headers.typed_all::<Contact>();
    let contact = match contacts.next() {
        None => return Err("Missing Contact header"),
        Some(Err(_)) => return Err("Malformed Contact header"),
        Some(Ok(c)) => c,
    };
    if contacts.next().is_some() {
        return Err("Contact must hold exactly one URI");
    }
    let Some(addr) = contact.addr() else {
        return Err("Contact * cannot create a dialog");
    };
    match addr.uri() {
        Uri::Sip(u) if u.is_secure() => {}
        Uri::Sip(_) if req.uri.as_sip().is_some_and(|r| r.is_secure()) => {
            return Err("Contact must be a SIPS URI for a SIPS Request-URI");
        }
        Uri::Sip(_) => {}
        _ => return Err("Contact must be a SIP or SIPS URI"),
    }
    Ok(Some(uri_text(addr.uri())))
}

/// Whether requests with `method` are target refresh requests, whose
/// Contact replaces the dialog's remote target (§12.2.2): re-INVITE (RFC
/// 3261 §12.2), UPDATE (RFC 3311), SUBSCRIBE and NOTIFY (RFC 6665).
pub fn is_target_refresh(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify
    )
}

/// Completes a response the UAS is about to send to `request`, before a
/// [`Dialog`](super::Dialog) exists (typically the first `180 Ringing` or
/// the `200 OK`); [`Dialog::prepare_response`](super::Dialog::prepare_response)
/// does the same for a dialog's later responses.
///
/// * Unless the response is `100 Trying` (which §8.2.6.2 exempts and which
///   never creates a dialog), a To tag `local_tag` is added when the To
///   header has none (§8.2.6.2, §12.1.1). Use one fresh tag
///   ([`new_tag`](super::new_tag)) for every response to the request, and give
///   the response to [`Dialog::new_uas`](super::Dialog::new_uas), which
///   adopts it. A `local_tag` that is not a `token` (§25.1) is not added.
/// * If the response creates a dialog ([`creates_dialog`], for a request
///   without a To tag): every Record-Route value of the request is copied,
///   in order and verbatim, unless the response already has Record-Route
///   (§12.1.1: "The UAS MUST copy all Record-Route header field values
///   from the request into the response ... and MUST maintain the order"),
///   and `Contact: <contact>` is added when the response has no Contact
///   (§12.1.1: the response "MUST contain a Contact header field").
/// * A 2xx to an in-dialog target refresh request ([`is_target_refresh`])
///   gets the Contact too, since the peer takes its new remote target from
///   it (§12.2.1.2).
///
/// If the request's Request-URI, its top Record-Route (or its Contact
/// when it has no Record-Route) is a SIPS URI, `contact` must be a SIPS
/// URI (§12.1.1); choosing it is up to the caller.
pub fn prepare_response(request: &Request, resp: &mut Response, local_tag: &str, contact: &Uri) {
    prepare_response_with(request, resp, local_tag, || contact_value(contact));
}

/// The value of a `Contact: <uri>` header field.
pub(crate) fn contact_value(uri: &Uri) -> Text {
    Text::from(Contact::new(NameAddr::new(uri.clone())).to_string())
}

/// [`prepare_response`], with the Contact made only if the response
/// needs one (a 200 to BYE does not).
pub(crate) fn prepare_response_with(
    request: &Request,
    resp: &mut Response,
    local_tag: &str,
    contact: impl FnOnce() -> Text,
) {
    let in_dialog = request.headers.has_to_tag();
    let creating = !in_dialog && creates_dialog(&request.method, resp.status);
    let refresh = in_dialog && resp.status.is_success() && is_target_refresh(&request.method);
    let record_route = request
        .headers
        .get_all(HeaderName::RecordRoute)
        .filter(|_| creating);
    apply(
        resp,
        local_tag,
        record_route,
        (creating || refresh).then_some(contact),
    );
}

/// The duties shared by [`prepare_response`] and
/// [`Dialog::prepare_response`](super::Dialog::prepare_response): the To
/// tag, the given Record-Route fields (unless the response has some) and
/// the Contact (if given and the response has none). `100 Trying` is left
/// alone.
pub(super) fn apply<'a>(
    resp: &mut Response,
    local_tag: &str,
    record_route: impl IntoIterator<Item = &'a Header>,
    contact: Option<impl FnOnce() -> Text>,
) {
    if resp.status == StatusCode::TRYING {
        return;
    }
    add_to_tag(resp, local_tag);
    if !resp.headers.contains(HeaderName::RecordRoute) {
        for h in record_route {
            resp.headers.push(h.clone());
        }
    }
    if let Some(c) = contact
        && !resp.headers.contains(HeaderName::Contact)
    {
        resp.headers.append(HeaderName::Contact, c());
    }
}

/// Adds `tag` to the response's To header unless it has one (§8.2.6.2).
fn add_to_tag(resp: &mut Response, tag: &str) {
    // tag-param = "tag" EQUAL token (§25.1): anything else would make the
    // To header unparsable.
    if !is_token(tag) {
        return;
    }
    let Some(raw) = resp.headers.get(HeaderName::To) else {
        return;
    };
    // A field without the letters "tag" has no tag parameter: decoding the
    // To (the usual case, a response to a request outside a dialog) is
    // only needed when it might have one.
    let bytes = raw.as_bytes();
    let might_have_tag = memchr::memchr2_iter(b't', b'T', bytes).any(|i| {
        bytes
            .get(i + 1..i + 3)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"ag"))
    });
    if might_have_tag {
        match resp.headers.to_header() {
            Some(to) if to.tag().is_none() => {}
            _ => return,
        }
    }
    // Append the parameter to the field as it stands rather than encode
    // the whole To again: a tag is a header parameter whether or not the
    // address is in angle brackets (§20, §25.1 `to-param`).
    let field = raw.as_str().trim_end();
    let mut tagged = String::with_capacity(field.len() + 5 + tag.len());
    tagged.push_str(field);
    tagged.push_str(";tag=");
    tagged.push_str(tag);
    resp.headers.set(HeaderName::To, tagged);
}
