//! RFC 3261 §10.3 as pure functions: a REGISTER turned into the
//! [`Update`] of its address-of-record (or the response refusing it), and
//! the `200` listing the bindings afterwards.

use super::RegistrarConfig;
use super::binding::{Binding, binding_key, canonical_aor, outbound_key, stored_form};
use super::store::{Change, Update};
use crate::message::typed::{Contact, Expires, MinExpires, Path};
use crate::message::{HeaderName, Request, Response, StatusCode};
use crate::transport::{Origin, Target};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a REGISTER asks of the location service.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The canonical address-of-record (§10.3 step 5).
    pub aor: String,
    /// The update; `None` for a query (no Contact, §10.3 step 8).
    pub update: Option<Update>,
    /// Whether a contact was registered with outbound (RFC 5626 §6): the
    /// `200` then carries `Require: outbound`.
    pub outbound: bool,
    /// The Path values to echo in the `200` (RFC 3327 §5.3).
    pub path: Vec<Path>,
}

/// Reads a REGISTER (RFC 3261 §10.3 steps 5 to 7, RFC 3327, RFC 5626 §6)
/// that came from `origin`: the address-of-record and the update, or the
/// response refusing it.
pub fn registration(
    req: &Request,
    origin: Option<&Origin>,
    config: &RegistrarConfig,
) -> Result<Registration, Response> {
    let bad = |why: String| req.reply(StatusCode::BAD_REQUEST).reason(why);
    // Step 5: the address-of-record, which must be a SIP or SIPS URI.
    let to = req
        .headers
        .to_header()
        .ok_or_else(|| bad("Missing To header".into()))?;
    let aor = canonical_aor(to.addr.uri())
        .ok_or_else(|| bad("To is not a SIP address-of-record".into()))?;
    if aor.len() > config.max_aor_len {
        return Err(bad(format!(
            "Address-of-record longer than {} bytes",
            config.max_aor_len
        )));
    }
    let call_id = req
        .headers
        .call_id()
        .map(|c| c.to_string())
        .ok_or_else(|| bad("Missing Call-ID header".into()))?;
    let cseq = req
        .headers
        .cseq()
        .map(|c| c.seq)
        .ok_or_else(|| bad("Missing CSeq header".into()))?;
    let contacts = req
        .headers
        .typed_all::<Contact>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.reason().to_owned()))?;
    let header_expires = match req.headers.typed::<Expires>() {
        Some(Ok(e)) => Some(e.0),
        Some(Err(e)) => return Err(bad(e.reason().to_owned())),
        None => None,
    };
    let path = req
        .headers
        .typed_all::<Path>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.reason().to_owned()))?;
    // RFC 3327 §5.3: Path only for a UA that said it supports it.
    if !path.is_empty() && !req.headers.supports("path") {
        return Err(req
            .reply(StatusCode::BAD_EXTENSION)
            .header("Unsupported", "path"));
    }
    if contacts.len() > config.max_bindings {
        return Err(req
            .reply(StatusCode::FORBIDDEN)
            .reason(format!("More than {} contacts", config.max_bindings)));
    }
    let mut registration = Registration {
        aor,
        update: None,
        outbound: false,
        path: path.clone(),
    };
    if contacts.is_empty() {
        return Ok(registration);
    }
    let mut update = Update {
        call_id: call_id.clone(),
        cseq,
        remove_all: false,
        changes: Vec::with_capacity(contacts.len()),
        max_bindings: config.max_bindings,
    };
    if contacts.iter().any(Contact::is_star) {
        // Step 6: `*` only alone and with Expires: 0.
        if contacts.len() != 1 || header_expires != Some(0) {
            return Err(bad(
                "Wildcard Contact needs Expires: 0 and no other Contact".into(),
            ));
        }
        update.remove_all = true;
        registration.update = Some(update);
        return Ok(registration);
    }
    let supports_outbound = req.headers.supports("outbound");
    let route: Vec<_> = path.iter().map(|p| p.addr.uri().clone()).collect();
    for contact in contacts {
        let Some(uri) = contact.addr().map(|a| a.uri().clone()) else {
            return Err(bad("Contact without an address".into()));
        };
        // Step 7: the lifetime, refused below the minimum (423).
        let asked = contact
            .expires()
            .or(header_expires)
            .unwrap_or(config.default_expires);
        if asked != 0 && asked < config.min_expires {
            return Err(req
                .reply(StatusCode::INTERVAL_TOO_BRIEF)
                .typed(&MinExpires(config.min_expires)));
        }
        let outbound = supports_outbound.then(|| outbound_key(&contact)).flatten();
        registration.outbound |= outbound.is_some();
        let key = binding_key(&uri, outbound.as_ref());
        if asked == 0 {
            update.changes.push(Change::Remove { key });
            continue;
        }
        let flow = origin
            .filter(|o| outbound.is_some() || o.protocol.is_websocket())
            .map(Target::flow_of);
        update.changes.push(Change::Set(Box::new(Binding {
            contact: stored_form(contact),
            key,
            call_id: call_id.clone(),
            cseq,
            expires: Duration::from_secs(asked.min(config.max_expires).into()),
            path: route.clone(),
            flow,
            outbound,
        })));
    }
    registration.update = Some(update);
    Ok(registration)
}

/// The `200` to a REGISTER (§10.3 step 8): every current binding with its
/// remaining lifetime as `expires`, `Date`, the Path echoed (RFC 3327
/// §5.3) and `Require: outbound` when it was used (RFC 5626 §6).
pub fn registered(req: &Request, registration: &Registration, bindings: &[Binding]) -> Response {
    let mut resp = req.reply(StatusCode::OK);
    for b in bindings {
        resp.headers
            .push_typed(&b.contact.clone().with_expires(b.remaining_secs()));
    }
    for p in &registration.path {
        resp.headers.push_typed(p);
    }
    resp.headers
        .append(HeaderName::Date, http_date(SystemTime::now()));
    if registration.outbound {
        resp.headers.append(HeaderName::Require, "outbound");
    }
    resp
}

/// An HTTP-date (RFC 7231 §7.1.1.1, as RFC 3261 §20.17 wants it):
/// `Sat, 13 Nov 2010 23:29:00 GMT`.
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
    )
}
