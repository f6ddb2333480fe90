//! The `Replaces` header (RFC 3891): which dialog a new INVITE replaces,
//! as the UA receiving it names it (`to-tag` is its local tag, `from-tag`
//! the remote one, §6.1).
//!
//! ```text
//! Replaces        = "Replaces" HCOLON callid *(SEMI replaces-param)
//! replaces-param  = to-tag / from-tag / early-flag / generic-param
//! early-flag      = "early-only"
//! ```

use super::DialogId;
use crate::message::{Request, Response, StatusCode};
use std::fmt;

/// The option tag of RFC 3891.
pub const TAG_REPLACES: &str = "replaces";

/// A parsed `Replaces` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    /// The Call-ID of the dialog to replace.
    pub call_id: String,
    /// The tag of the receiving UA in that dialog.
    pub to_tag: String,
    /// The tag of the other UA in that dialog.
    pub from_tag: String,
    /// Only an early dialog may be replaced (`early-only`).
    pub early_only: bool,
}

impl Replaces {
    /// Parses a `Replaces` value; `Err` names what is wrong.
    pub fn parse(value: &str) -> Result<Replaces, &'static str> {
        let mut parts = value.split(';');
        let call_id = parts.next().unwrap_or_default().trim();
        if call_id.is_empty() || call_id.contains(char::is_whitespace) {
            return Err("Malformed Replaces header: no Call-ID");
        }
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for param in parts {
            let (name, value) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (param.trim(), None),
            };
            match (name.to_ascii_lowercase().as_str(), value) {
                ("to-tag", Some(v)) if !v.is_empty() => to_tag = Some(v.to_owned()),
                ("from-tag", Some(v)) if !v.is_empty() => from_tag = Some(v.to_owned()),
                ("early-only", None) => early_only = true,
                ("to-tag" | "from-tag" | "early-only", _) => {
                    return Err("Malformed Replaces header parameter");
                }
                _ => {}
            }
        }
        match (to_tag, from_tag) {
            (Some(to_tag), Some(from_tag)) => Ok(Replaces {
                call_id: call_id.to_owned(),
                to_tag,
                from_tag,
                early_only,
            }),
            _ => Err("Malformed Replaces header: to-tag and from-tag are required"),
        }
    }

    /// The dialog it names, seen from the UA receiving it.
    pub fn dialog_id(&self) -> DialogId {
        DialogId::new(&self.call_id, &self.to_tag, &self.from_tag)
    }
}

impl fmt::Display for Replaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};to-tag={};from-tag={}",
            self.call_id, self.to_tag, self.from_tag
        )?;
        if self.early_only {
            f.write_str(";early-only")?;
        }
        Ok(())
    }
}

/// The `Replaces` of an INVITE: `None` without one, `Err` with the `400`
/// for several or a malformed one (RFC 3891 §3). Other methods ignore the
/// header (§3: "MUST ignore").
pub fn replaces_of(req: &Request) -> Result<Option<Replaces>, Response> {
    if req.method != crate::message::Method::Invite {
        return Ok(None);
    }
    let mut values = req.headers.get_all("Replaces");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(req
            .reply(StatusCode::BAD_REQUEST)
            .reason("More than one Replaces header"));
    }
    Replaces::parse(first.value())
        .map(Some)
        .map_err(|reason| req.reply(StatusCode::BAD_REQUEST).reason(reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::parse_req;

    #[test]
    fn values_parse_and_print() {
        let r = Replaces::parse("425928@bobster.example.org;to-tag=7743;from-tag=6472").unwrap();
        assert_eq!(r.call_id, "425928@bobster.example.org");
        assert_eq!((r.to_tag.as_str(), r.from_tag.as_str()), ("7743", "6472"));
        assert!(!r.early_only);
        assert_eq!(
            r.to_string(),
            "425928@bobster.example.org;to-tag=7743;from-tag=6472"
        );
        let e = Replaces::parse(" x ; From-Tag=b ;to-tag=a; early-only;foo=1").unwrap();
        assert!(e.early_only);
        assert_eq!(e.dialog_id(), DialogId::new("x", "a", "b"));
        assert_eq!(e.to_string(), "x;to-tag=a;from-tag=b;early-only");
        for bad in [
            "",
            ";to-tag=a;from-tag=b",
            "x;to-tag=a",
            "x;to-tag=;from-tag=b",
            "x;early-only=1;to-tag=a;from-tag=b",
        ] {
            assert!(Replaces::parse(bad).is_err(), "{bad}");
        }
    }

    fn invite(extra: &str) -> Request {
        parse_req(&format!(
            "INVITE sip:bob@b.example SIP/2.0\r\n\
             Via: SIP/2.0/UDP a.example;branch=z9hG4bKr\r\n\
             Max-Forwards: 70\r\n\
             To: <sip:bob@b.example>\r\n\
             From: <sip:carol@c.example>;tag=c\r\n\
             Call-ID: new@c\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:carol@c.example>\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        ))
    }

    #[test]
    fn an_invite_has_none_one_or_a_400() {
        assert_eq!(replaces_of(&invite("")).unwrap(), None);
        let one = replaces_of(&invite("Replaces: old@a;to-tag=b;from-tag=a\r\n")).unwrap();
        assert_eq!(one.unwrap().dialog_id(), DialogId::new("old@a", "b", "a"));
        let two = replaces_of(&invite(
            "Replaces: old@a;to-tag=b;from-tag=a\r\nReplaces: x;to-tag=1;from-tag=2\r\n",
        ))
        .unwrap_err();
        assert_eq!(two.status, StatusCode::BAD_REQUEST);
        let bad = replaces_of(&invite("Replaces: old@a;to-tag=b\r\n")).unwrap_err();
        assert!(bad.reason.contains("from-tag"), "{}", bad.reason);
    }
}
