//! SIP request methods (RFC 3261 §7.1, §27.4).

use super::error::{ParseError, ParseErrorKind};
use super::grammar::is_token;
use super::text::Text;
use std::fmt;

/// The one table of known methods: each row gives a variant, its wire
/// name and its doc. The enum, [`Method::KNOWN`], [`Method::NAMES`],
/// [`Method::from_known`] and [`Method::as_str`] are all generated from it,
/// so a method is added in one place; the name lookups stay `match`es,
/// which the compiler turns into length-then-bytes comparisons (parsing
/// is hot).
macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A SIP method. Methods are case-sensitive (RFC 3261 §7.1): `invite`
        /// is an extension method, not INVITE.
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub enum Method {
            $($(#[$doc])* $variant,)*
            /// Any other `token`.
            Extension(Text),
        }

        impl Method {
            /// Every method with a variant of its own, in a stable order
            /// (the order of [`Method::NAMES`]).
            pub const KNOWN: [Method; COUNT] = [$(Method::$variant),*];

            /// The wire names of [`Method::KNOWN`], in the same order.
            pub const NAMES: [&'static str; COUNT] = [$($name),*];

            /// The method for a known name, without allocating.
            /// Case-sensitive.
            pub fn from_known(s: &str) -> Option<Method> {
                Some(match s {
                    $($name => Method::$variant,)*
                    _ => return None,
                })
            }

            /// The method name as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Method::$variant => $name,)*
                    Method::Extension(t) => t,
                }
            }
        }

        /// How many methods have a variant of their own.
        const COUNT: usize = [$($name),*].len();
    };
}

methods! {
    /// INVITE (RFC 3261)
    Invite = "INVITE",
    /// ACK (RFC 3261)
    Ack = "ACK",
    /// BYE (RFC 3261)
    Bye = "BYE",
    /// CANCEL (RFC 3261)
    Cancel = "CANCEL",
    /// OPTIONS (RFC 3261)
    Options = "OPTIONS",
    /// REGISTER (RFC 3261)
    Register = "REGISTER",
    /// MESSAGE (RFC 3428)
    Message = "MESSAGE",
    /// INFO (RFC 6086)
    Info = "INFO",
    /// SUBSCRIBE (RFC 6665)
    Subscribe = "SUBSCRIBE",
    /// NOTIFY (RFC 6665)
    Notify = "NOTIFY",
    /// PUBLISH (RFC 3903)
    Publish = "PUBLISH",
    /// UPDATE (RFC 3311)
    Update = "UPDATE",
    /// PRACK (RFC 3262)
    Prack = "PRACK",
    /// REFER (RFC 3515)
    Refer = "REFER",
}

impl Method {
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

    /// The position of a known method's name in [`Method::NAMES`]; usable
    /// in constants (method sets built at compile time). Case-sensitive.
    pub const fn index_of(name: &str) -> Option<usize> {
        let m = name.as_bytes();
        let mut i = 0;
        while i < COUNT {
            let n = Method::NAMES[i].as_bytes();
            if n.len() == m.len() {
                let mut j = 0;
                while j < n.len() && n[j] == m[j] {
                    j += 1;
                }
                if j == n.len() {
                    return Some(i);
                }
            }
            i += 1;
        }
        None
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

    #[test]
    fn names_and_indexes_follow_the_table() {
        for (i, (m, n)) in Method::KNOWN.iter().zip(Method::NAMES).enumerate() {
            assert_eq!(m.as_str(), n);
            assert_eq!(Method::index_of(n), Some(i));
        }
        assert_eq!(Method::index_of("invite"), None);
        assert_eq!(Method::index_of("INVITEX"), None);
    }

    /// The proc-macro crate cannot depend on this one (it is a dependency
    /// of it), so it keeps its own list of the methods that have a handler
    /// method; it must be this table, in this order.
    mod macro_list {
        include!("../../../parrot-macros/src/methods.rs");
    }

    #[test]
    fn the_handler_macro_knows_the_same_methods() {
        let names: Vec<&str> = macro_list::SIP_METHODS.iter().map(|&(_, n)| n).collect();
        assert_eq!(names, Method::NAMES);
        for (handler, name) in macro_list::SIP_METHODS {
            assert_eq!(handler, name.to_ascii_lowercase());
        }
    }
}
