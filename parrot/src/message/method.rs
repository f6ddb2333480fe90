//! SIP request methods (RFC 3261 §7.1, §27.4).

use super::error::{ParseError, ParseErrorKind};
use super::grammar::is_token;
use super::text::Text;
use std::fmt;

/// A SIP method. Methods are case-sensitive (RFC 3261 §7.1): `invite` is an
/// extension method, not INVITE.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (RFC 3261)
    Invite,
    /// ACK (RFC 3261)
    Ack,
    /// BYE (RFC 3261)
    Bye,
    /// CANCEL (RFC 3261)
    Cancel,
    /// OPTIONS (RFC 3261)
    Options,
    /// REGISTER (RFC 3261)
    Register,
    /// MESSAGE (RFC 3428)
    Message,
    /// INFO (RFC 6086)
    Info,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// UPDATE (RFC 3311)
    Update,
    /// PRACK (RFC 3262)
    Prack,
    /// REFER (RFC 3515)
    Refer,
    /// Any other `token`.
    Extension(Text),
}

impl Method {
    /// Every method with a variant of its own, in a stable order.
    pub const KNOWN: [Method; 14] = [
        Method::Invite,
        Method::Ack,
        Method::Bye,
        Method::Cancel,
        Method::Options,
        Method::Register,
        Method::Message,
        Method::Info,
        Method::Subscribe,
        Method::Notify,
        Method::Publish,
        Method::Update,
        Method::Prack,
        Method::Refer,
    ];

    /// The method for a known name, without allocating. Case-sensitive.
    pub fn from_known(s: &str) -> Option<Method> {
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "MESSAGE" => Method::Message,
            "INFO" => Method::Info,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "REFER" => Method::Refer,
            _ => return None,
        })
    }

    /// Parses a method token; `src` owns `s` so extension names share storage.
    pub fn parse(src: &Text, s: &str) -> Result<Method, ParseError> {
        if let Some(m) = Method::from_known(s) {
            return Ok(m);
        }
        if !is_token(s) {
            return Err(ParseError::new(ParseErrorKind::Method, "Bad method"));
        }
        Ok(Method::Extension(src.slice_ref(s)))
    }

    /// The method name as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Message => "MESSAGE",
            Method::Info => "INFO",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Refer => "REFER",
            Method::Extension(t) => t,
        }
    }
}

impl std::str::FromStr for Method {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Method::parse(&Text::from(s.to_owned()), s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Method {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_extension() {
        for m in Method::KNOWN {
            assert_eq!(m.as_str().parse::<Method>().unwrap(), m);
        }
        let ext: Method = "NEWMETHOD".parse().unwrap();
        assert_eq!(ext, Method::Extension(Text::from("NEWMETHOD")));
        // Case matters: `invite` is an extension method.
        assert!(matches!(
            "invite".parse::<Method>().unwrap(),
            Method::Extension(_)
        ));
        // `%` is a token character, not an escape.
        assert_eq!("IN%56ITE".parse::<Method>().unwrap().as_str(), "IN%56ITE");
        assert!("BAD METHOD".parse::<Method>().is_err());
        assert!("".parse::<Method>().is_err());
    }
}
