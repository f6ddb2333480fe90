//! What `#[uas_handler]` lets a handler declare besides `crate`: the SIP
//! option tags it supports itself (`supported = "replaces, norefersub"`)
//! and the body types its methods take (`accept(info =
//! "application/dtmf-relay")`), and the event packages it notifies
//! (`events = "message-summary, presence"`, RFC 6665). All are checked here, so that a typo
//! fails the build on the user's own token instead of refusing requests at
//! run time.

use crate::diag::Errors;
use crate::methods::SIP_METHODS;
use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

/// The declarations found in the arguments.
#[derive(Default)]
pub(crate) struct Declarations {
    /// Option tags.
    supported: Vec<String>,
    /// (method token, `Accept` value).
    accept: Vec<(&'static str, String)>,
    /// Event packages.
    events: Vec<String>,
}

/// RFC 3261 §25.1 `token` characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// RFC 6665 §8.4 `event-type`: `token-nodot`s joined by dots.
fn is_event_type(s: &str) -> bool {
    // `is_token` allows dots; splitting on them leaves the `token-nodot`s.
    s.split('.').all(is_token)
}

/// `type/subtype` (either may be `*`), parameters allowed after `;`.
fn is_media_range(s: &str) -> bool {
    let range = s.split(';').next().unwrap_or("").trim();
    match range.split_once('/') {
        Some((t, sub)) => is_token(t.trim()) && is_token(sub.trim()) && !(t == "*" && sub != "*"),
        None => false,
    }
}

/// The string literal `meta = "..."` holds, or an error on what is there.
fn string_value<'a>(meta: &'a Meta, example: &str, errors: &mut Errors) -> Option<&'a LitStr> {
    let Meta::NameValue(nv) = meta else {
        errors.push(syn::Error::new_spanned(
            meta,
            format!("expected `{example}`"),
        ));
        return None;
    };
    match &nv.value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                format!("expected a string literal: `{example}`"),
            ));
            None
        }
    }
}

impl Declarations {
    /// Takes `meta` if it is a declaration (recording what is wrong with
    /// it); `false` when it is not one.
    pub(crate) fn take(&mut self, meta: &Meta, errors: &mut Errors) -> bool {
        if meta.path().is_ident("supported") {
            self.supported(meta, errors);
            true
        } else if meta.path().is_ident("accept") {
            self.accept(meta, errors);
            true
        } else if meta.path().is_ident("events") {
            self.events(meta, errors);
            true
        } else {
            false
        }
    }

    /// `supported = "tag, tag"`.
    fn supported(&mut self, meta: &Meta, errors: &mut Errors) {
        let Some(lit) = string_value(meta, "supported = \"replaces\"", errors) else {
            return;
        };
        for tag in lit.value().split(',').map(str::trim) {
            if is_token(tag) {
                self.supported.push(tag.to_owned());
            } else {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!("`{tag}` is not a SIP option tag (a token, RFC 3261 §19.2)"),
                ));
            }
        }
    }

    /// `events = "package, package"`.
    fn events(&mut self, meta: &Meta, errors: &mut Errors) {
        let Some(lit) = string_value(meta, "events = \"message-summary\"", errors) else {
            return;
        };
        for package in lit.value().split(',').map(str::trim) {
            if !is_event_type(package) {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!("`{package}` is not an event package (RFC 6665 §8.4)"),
                ));
            } else if self.events.iter().any(|p| p == package) {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!("event package `{package}` is given more than once"),
                ));
            } else {
                self.events.push(package.to_owned());
            }
        }
    }

    /// `accept(method = "type/subtype, ...", ...)`.
    fn accept(&mut self, meta: &Meta, errors: &mut Errors) {
        let Meta::List(list) = meta else {
            errors.push(syn::Error::new_spanned(
                meta,
                "expected `accept(info = \"application/dtmf-relay\")`",
            ));
            return;
        };
        let entries = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(e);
                return;
            }
        };
        for entry in &entries {
            let name = entry
                .path()
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let Some(&(_, token)) = SIP_METHODS.iter().find(|(m, _)| *m == name) else {
                errors.push(syn::Error::new_spanned(
                    entry.path(),
                    format!(
                        "`{name}` is not a handler method; `accept` takes one of: {}",
                        SIP_METHODS.map(|(m, _)| m).join(", ")
                    ),
                ));
                continue;
            };
            let Some(lit) = string_value(entry, "info = \"application/dtmf-relay\"", errors) else {
                continue;
            };
            let value = lit.value();
            // An empty value accepts no body at all.
            let bad = value
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .find(|r| !is_media_range(r));
            if let Some(bad) = bad {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!("`{bad}` is not a media type (`type/subtype`, RFC 3261 §20.1)"),
                ));
                continue;
            }
            if self.accept.iter().any(|(m, _)| *m == token) {
                errors.push(syn::Error::new_spanned(
                    entry.path(),
                    format!("`accept` for `{name}` is given more than once"),
                ));
                continue;
            }
            self.accept.push((token, value));
        }
    }

    /// The trait's `SUPPORTED`, `ACCEPT` and `EVENTS` items (nothing when nothing was
    /// declared: the trait's defaults are empty).
    pub(crate) fn items(&self) -> TokenStream {
        let mut out = TokenStream::new();
        if !self.supported.is_empty() {
            let tags = &self.supported;
            out.extend(quote!(const SUPPORTED: &'static [&'static str] = &[#(#tags),*];));
        }
        if !self.accept.is_empty() {
            let methods = self.accept.iter().map(|(m, _)| m);
            let types = self.accept.iter().map(|(_, t)| t);
            out.extend(quote!(
                const ACCEPT: &'static [(&'static str, &'static str)] = &[#((#methods, #types)),*];
            ));
        }
        if !self.events.is_empty() {
            let packages = &self.events;
            out.extend(quote!(const EVENTS: &'static [&'static str] = &[#(#packages),*];));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declare(args: &str) -> (Declarations, usize) {
        let metas =
            syn::parse::Parser::parse_str(Punctuated::<Meta, Token![,]>::parse_terminated, args)
                .unwrap();
        let mut d = Declarations::default();
        let mut errors = Errors::default();
        for m in &metas {
            assert!(d.take(m, &mut errors));
        }
        (d, errors.len())
    }

    #[test]
    fn good_declarations_become_items() {
        let (d, errors) = declare(
            r#"supported = "replaces, norefersub", accept(info = "application/dtmf-relay", message = "text/*;q=0.5, */*", bye = ""), events = "message-summary, presence.winfo""#,
        );
        assert_eq!(errors, 0);
        let items = d.items().to_string();
        assert!(items.contains(r#""replaces" , "norefersub""#), "{items}");
        assert!(
            items.contains(r#"("INFO" , "application/dtmf-relay")"#),
            "{items}"
        );
        assert!(items.contains(r#"("BYE" , "")"#), "{items}");
        assert!(
            items.contains(
                r#"EVENTS : & 'static [& 'static str] = & ["message-summary" , "presence.winfo"]"#
            ),
            "{items}"
        );
    }

    #[test]
    fn mistakes_are_each_reported() {
        for (args, count) in [
            (r#"supported = "good, bad tag""#, 1),
            (r#"supported = 3"#, 1),
            (r#"supported("x")"#, 1),
            (r#"accept(inf = "text/plain")"#, 1),
            (r#"accept(info = "text")"#, 1),
            (r#"accept(info = "*/plain")"#, 1),
            (r#"accept(info = "a/b", info = "c/d")"#, 1),
            (r#"accept = "text/plain""#, 1),
            (r#"events = "presence, bad package""#, 1),
            (r#"events = "presence,,dialog""#, 1),
            (r#"events = "presence, presence""#, 1),
            (r#"events = "presence.winfo, message-summary""#, 0),
        ] {
            assert_eq!(declare(args).1, count, "{args}");
        }
    }
}
