//! Validation: which methods of the block are handler methods, whether each
//! has a signature the runtime can call, and which other methods look like
//! misspelled handler methods.
//!
//! Every problem is recorded, spanned on the user's own token; the methods
//! that pass are described by a [`Method`] for the expansion.

use crate::diag::Errors;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, PatType, ReturnType, Type};

/// What a handler method is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// A SIP method; the name is the method's token (`"INVITE"`).
    Sip(&'static str),
    /// Extension methods (`other`).
    Other,
    /// `init`, called before the first request.
    Init,
    /// `event`, application events.
    Event,
}

/// The names the macro recognizes, as the trait spells them.
pub(crate) const HANDLERS: &[(&str, Kind)] = &[
    ("invite", Kind::Sip("INVITE")),
    ("ack", Kind::Sip("ACK")),
    ("bye", Kind::Sip("BYE")),
    ("cancel", Kind::Sip("CANCEL")),
    ("options", Kind::Sip("OPTIONS")),
    ("register", Kind::Sip("REGISTER")),
    ("message", Kind::Sip("MESSAGE")),
    ("info", Kind::Sip("INFO")),
    ("subscribe", Kind::Sip("SUBSCRIBE")),
    ("notify", Kind::Sip("NOTIFY")),
    ("publish", Kind::Sip("PUBLISH")),
    ("update", Kind::Sip("UPDATE")),
    ("prack", Kind::Sip("PRACK")),
    ("refer", Kind::Sip("REFER")),
    ("other", Kind::Other),
    ("init", Kind::Init),
    ("event", Kind::Event),
];

/// A handler method that passed validation: what the expansion needs to
/// forward to it, with the user's spans for the checks it emits.
pub(crate) struct Method {
    pub(crate) kind: Kind,
    /// The method's name, with the user's span.
    pub(crate) ident: syn::Ident,
    /// The `async` keyword (where a non-`Send` future is reported).
    pub(crate) async_span: Span,
    /// The return type, or the name when there is none (where a return type
    /// that does not convert is reported).
    pub(crate) ret: Spans,
    /// The second parameter's type (request or event).
    pub(crate) arg: Spans,
    /// The context parameter's type, when the method takes one.
    pub(crate) cx: Option<Spans>,
    /// The method's `#[cfg(...)]` attributes, which its forwarding (and its
    /// place in `METHODS`) must share.
    pub(crate) cfgs: Vec<syn::Attribute>,
}

/// The first and last tokens of a piece of the user's code: rustc shows an
/// expression spanning from one to the other as covering it all (a single
/// `Span` covers one token on stable Rust).
#[derive(Clone, Copy)]
pub(crate) struct Spans {
    pub(crate) first: Span,
    pub(crate) last: Span,
}

impl Spans {
    /// The first and last tokens of `tokens`.
    pub(crate) fn of(tokens: &dyn ToTokens) -> Spans {
        let stream = tokens.to_token_stream();
        let fallback = stream.span();
        let mut iter = stream.into_iter();
        let first = iter.next().map_or(fallback, |t| t.span());
        let last = iter.last().map_or(first, |t| t.span());
        Spans { first, last }
    }
}

/// The validated handler.
#[derive(Default)]
pub(crate) struct Handler {
    /// The handler methods written, in order.
    pub(crate) methods: Vec<Method>,
    /// The type of the `event` method's event parameter.
    pub(crate) event: Option<Type>,
    /// The methods reported as misspelled handler methods.
    pub(crate) misspelled: Vec<syn::Ident>,
}

impl Handler {
    /// The SIP methods written, for `METHODS`, each with its `cfg`s.
    pub(crate) fn sip_methods(&self) -> impl Iterator<Item = (&'static str, &[syn::Attribute])> {
        self.methods.iter().filter_map(|m| match m.kind {
            Kind::Sip(name) => Some((name, m.cfgs.as_slice())),
            _ => None,
        })
    }
}

/// Validates every method of `item`, recording each problem.
pub(crate) fn handler(item: &ItemImpl, errors: &mut Errors) -> Handler {
    let mut handler = Handler::default();
    let defined: Vec<String> = fns(item).map(|f| f.sig.ident.to_string()).collect();
    for f in fns(item) {
        let name = f.sig.ident.to_string();
        match HANDLERS.iter().find(|(n, _)| *n == name) {
            Some(&(_, kind)) => {
                if kind == Kind::Event {
                    handler.event = event_type(f);
                }
                if let Some(method) = method(f, kind, errors) {
                    handler.methods.push(method);
                }
            }
            None => {
                if near_miss(f, &defined, errors) {
                    handler.misspelled.push(f.sig.ident.clone());
                }
            }
        }
    }
    handler
}

/// The `fn` items of the block.
pub(crate) fn fns(item: &ItemImpl) -> impl Iterator<Item = &ImplItemFn> {
    item.items.iter().filter_map(|i| match i {
        ImplItem::Fn(f) => Some(f),
        _ => None,
    })
}

/// The parameters after the receiver (all of them when there is none).
pub(crate) fn params(f: &ImplItemFn) -> Vec<&PatType> {
    f.sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(t),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The event type of an `event` method, when it has an event parameter.
fn event_type(f: &ImplItemFn) -> Option<Type> {
    params(f).first().map(|p| (*p.ty).clone())
}

/// Checks a handler method's signature.
fn method(f: &ImplItemFn, kind: Kind, errors: &mut Errors) -> Option<Method> {
    let sig = &f.sig;
    let name = &sig.ident;
    let before = errors.len();

    let Some(asyncness) = sig.asyncness else {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("handler method `{name}` must be an `async fn`"),
        ));
        return None;
    };
    if let Some(unsafety) = sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            format!("handler method `{name}` cannot be `unsafe`"),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics.params,
            format!("handler method `{name}` cannot have generic parameters"),
        ));
    }

    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) if is_mut_self(r) => {}
        Some(FnArg::Receiver(r)) => errors.push(syn::Error::new_spanned(
            r,
            format!("handler method `{name}` must take `&mut self`"),
        )),
        Some(FnArg::Typed(t)) => errors.push(syn::Error::new_spanned(
            t,
            format!("handler method `{name}` must take `&mut self` first"),
        )),
        None => {
            let what = match kind {
                Kind::Event => "ev: MyEvent",
                _ => "req: &Request",
            };
            errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                format!("handler method `{name}` takes `&mut self` and `{what}`: `async fn {name}(&mut self, {what})`"),
            ));
            return None;
        }
    }

    let params = params(f);
    let shape = match kind {
        Kind::Event => "`ev: MyEvent` and optionally `cx: &mut Context`",
        _ => "`req: &Request` and optionally `cx: &mut Context`",
    };
    match params.len() {
        0 => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            match kind {
                Kind::Event => format!(
                    "handler method `{name}` takes the event: `async fn {name}(&mut self, ev: MyEvent)`"
                ),
                _ => format!(
                    "handler method `{name}` takes the request: `async fn {name}(&mut self, req: &Request)`"
                ),
            },
        )),
        1 | 2 => {}
        _ => {
            let extra: TokenStream = params[2..].iter().map(|p| p.to_token_stream()).collect();
            errors.push(syn::Error::new_spanned(
                extra,
                format!("too many parameters: handler method `{name}` takes {shape}"),
            ));
        }
    }
    if let Some(first) = params.first()
        && kind != Kind::Event
        && !matches!(&*first.ty, Type::Reference(r) if r.mutability.is_none())
    {
        errors.push(syn::Error::new_spanned(
            &first.ty,
            "the request parameter must be a shared reference: `req: &Request`",
        ));
    }
    if let Some(cx) = params.get(1)
        && !matches!(&*cx.ty, Type::Reference(r) if r.mutability.is_some())
    {
        errors.push(syn::Error::new_spanned(
            &cx.ty,
            "the context parameter must be a mutable reference: `cx: &mut Context`",
        ));
    }

    if errors.len() != before {
        return None;
    }
    Some(Method {
        kind,
        ident: name.clone(),
        async_span: asyncness.span,
        ret: match &sig.output {
            ReturnType::Type(_, ty) => Spans::of(ty),
            ReturnType::Default => Spans::of(name),
        },
        arg: Spans::of(&params[0].ty),
        cx: params.get(1).map(|p| Spans::of(&p.ty)),
        cfgs: f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .cloned()
            .collect(),
    })
}

/// Whether a receiver is `&mut self` (or `self: &mut Self`).
fn is_mut_self(r: &syn::Receiver) -> bool {
    match &*r.ty {
        Type::Reference(t) => {
            t.mutability.is_some()
                && matches!(&*t.elem, Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self"))
        }
        _ => false,
    }
}

/// Reports a method that looks like a misspelled handler method: an
/// `async fn` taking `&mut self` and a request whose name is a handler's name
/// in another case or within a small edit distance of one. Helpers with
/// other names, or whose intended name is already defined, pass. Returns
/// whether it reported the method.
fn near_miss(f: &ImplItemFn, defined: &[String], errors: &mut Errors) -> bool {
    let sig = &f.sig;
    let takes_mut_self = matches!(sig.inputs.first(), Some(FnArg::Receiver(r)) if is_mut_self(r));
    let takes_request = params(f).first().is_some_and(|p| is_request(&p.ty));
    if sig.asyncness.is_none() || !takes_mut_self || !takes_request {
        return false;
    }
    let name = sig.ident.to_string();
    let lower = name.to_lowercase();
    let best = HANDLERS
        .iter()
        .map(|(h, _)| *h)
        .filter(|h| !defined.iter().any(|d| d == h))
        .filter_map(|h| {
            let distance = if lower == h {
                0
            } else {
                edit_distance(&lower, h)
            };
            let allowed = if h.len() <= 4 { 1 } else { 2 };
            (distance <= allowed).then_some((distance, h))
        })
        .min();
    let Some((_, suggestion)) = best else {
        return false;
    };
    errors.push(syn::Error::new_spanned(
        &sig.ident,
        format!("unknown SIP handler method `{name}`; did you mean `{suggestion}`?"),
    ));
    true
}

/// Whether a type reads as a request: `&Request` or `&path::Request`.
fn is_request(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => matches!(
            &*r.elem,
            Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Request")
        ),
        _ => false,
    }
}

/// Levenshtein distance between two strings, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("invte", "invite"), 1);
        assert_eq!(edit_distance("bye_", "bye"), 1);
        assert_eq!(edit_distance("regsiter", "register"), 2);
        assert_eq!(edit_distance("", "ack"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("greet", "invite"), 5);
    }
}
