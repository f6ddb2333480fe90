//! DTMF in SIP INFO bodies, the fallback of peers that do not send
//! telephone-events: `application/dtmf-relay` (`Signal=5` and
//! `Duration=160` lines, a de facto format from Cisco) and
//! `application/dtmf` (the key alone). Keys and values are read without
//! regard to case or surrounding whitespace.

use super::{Digit, DtmfError};
use std::time::Duration;

/// A key press signalled in an INFO request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InfoDigit {
    /// The key.
    pub digit: Digit,
    /// How long it was pressed, if the body says (`Duration=`, in
    /// milliseconds).
    pub duration: Option<Duration>,
}

/// Parses an INFO body by its content type: `application/dtmf-relay` or
/// `application/dtmf` (case-insensitive; parameters ignored).
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Result<InfoDigit, DtmfError> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/dtmf-relay") {
        parse_dtmf_relay(body)
    } else if essence.eq_ignore_ascii_case("application/dtmf") {
        parse_dtmf(body).map(|digit| InfoDigit {
            digit,
            duration: None,
        })
    } else {
        Err(DtmfError::NotDtmf)
    }
}

/// Parses an `application/dtmf-relay` body: `Signal=<key>` (required)
/// and `Duration=<ms>` (optional) lines, ending in CRLF or LF, in any
/// order; other lines are ignored. The first of repeated keys counts.
pub fn parse_dtmf_relay(body: &[u8]) -> Result<InfoDigit, DtmfError> {
    let text = std::str::from_utf8(body).map_err(|_| DtmfError::NotUtf8)?;
    let mut signal = None;
    let mut duration = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("signal") && signal.is_none() {
            signal = Some(parse_signal(value)?);
        } else if key.eq_ignore_ascii_case("duration") && duration.is_none() {
            let ms: u32 = value.trim().parse().map_err(|_| DtmfError::BadDuration)?;
            duration = Some(Duration::from_millis(u64::from(ms)));
        }
    }
    Ok(InfoDigit {
        digit: signal.ok_or(DtmfError::NoSignal)?,
        duration,
    })
}

/// Parses an `application/dtmf` body: the key alone.
pub fn parse_dtmf(body: &[u8]) -> Result<Digit, DtmfError> {
    let text = std::str::from_utf8(body).map_err(|_| DtmfError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(DtmfError::NoSignal);
    }
    parse_signal(text)
}

/// A key (`0`–`9`, `*`, `#`, `A`–`D`, any case), or its RFC 4733 event
/// code 10–15 (some devices send `Signal=11` for `#`).
fn parse_signal(value: &str) -> Result<Digit, DtmfError> {
    let value = value.trim();
    let mut chars = value.chars();
    let digit = match (chars.next(), chars.next()) {
        (Some(key), None) => Digit::from_char(key),
        (Some(_), Some(_)) => value.parse::<u8>().ok().and_then(Digit::from_event),
        (None, _) => return Err(DtmfError::NoSignal),
    };
    digit.ok_or(DtmfError::BadSignal)
}
