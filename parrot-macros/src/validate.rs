//! Validation: which methods of the block are handler methods, whether each
//! has a signature the runtime can call, and which other methods look like
//! misspelled handler methods.
//!
//! Every problem is recorded, spanned on the user's own token; the methods
//! that pass are described by a [`Method`] for the expansion.

use crate::common::{self, Callee, Spans, Wording, edit_distance, params};
use crate::diag::Errors;
use crate::methods::SIP_METHODS;
use crate::returns;
use syn::{ImplItemFn, ItemImpl, Type};

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

/// The names the macro recognizes, as the trait spells them: one per
/// SIP method, then `other`, `init` and `event`.
pub(crate) const HANDLERS: &[(&str, Kind)] = &handlers();

/// Builds [`HANDLERS`] from the shared method list.
const fn handlers() -> [(&'static str, Kind); SIP_METHODS.len() + 3] {
    let mut out = [("", Kind::Other); SIP_METHODS.len() + 3];
    let mut i = 0;
    while i < SIP_METHODS.len() {
        let (handler, name) = SIP_METHODS[i];
        out[i] = (handler, Kind::Sip(name));
        i += 1;
    }
    out[i] = ("other", Kind::Other);
    out[i + 1] = ("init", Kind::Init);
    out[i + 2] = ("event", Kind::Event);
    out
}

/// A handler method that passed validation: what the expansion needs to
/// forward to it, with the user's spans for the checks it emits.
pub(crate) struct Method {
    pub(crate) kind: Kind,
    /// The method itself, for forwarding.
    pub(crate) callee: Callee,
    /// The context parameter's type, when the method takes one.
    pub(crate) cx: Option<Spans>,
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
            Kind::Sip(name) => Some((name, m.callee.cfgs.as_slice())),
            _ => None,
        })
    }
}

/// Validates every method of `item`, recording each problem.
pub(crate) fn handler(item: &ItemImpl, errors: &mut Errors) -> Handler {
    let mut handler = Handler::default();
    let (defined, fns) = common::classify(item, HANDLERS);
    for (f, kind) in fns {
        match kind {
            Some(kind) => {
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

/// The event type of an `event` method, when it has an event parameter.
fn event_type(f: &ImplItemFn) -> Option<Type> {
    params(f).first().map(|p| (*p.ty).clone())
}

/// Checks a handler method's signature.
fn method(f: &ImplItemFn, kind: Kind, errors: &mut Errors) -> Option<Method> {
    let sig = &f.sig;
    let name = &sig.ident;
    let before = errors.len();
    // Independent of the rest of the signature: reported alongside it.
    returns::check(sig, kind, errors);

    let what = match kind {
        Kind::Event => "ev: MyEvent",
        _ => "req: &Request",
    };
    let words = Wording {
        label: "handler method",
        hint: "",
        no_inputs: format!(
            "handler method `{name}` takes `&mut self` and `{what}`: `async fn {name}(&mut self, {what})`"
        ),
    };
    let async_span = common::check_header(sig, &words, errors)?;

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
            errors.push(syn::Error::new_spanned(
                common::extra_params(&params, 2),
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
        callee: Callee::new(f, async_span, params[0]),
        cx: params.get(1).map(|p| Spans::of(&p.ty)),
    })
}

/// Reports a method that looks like a misspelled handler method: an
/// `async fn` taking `&mut self` and a request whose name is a handler's name
/// in another case or within a small edit distance of one. Helpers with
/// other names, or whose intended name is already defined, pass. Returns
/// whether it reported the method.
fn near_miss(f: &ImplItemFn, defined: &[String], errors: &mut Errors) -> bool {
    let sig = &f.sig;
    let takes_request = params(f).first().is_some_and(|p| is_request(&p.ty));
    if !common::is_async_mut_self(sig) || !takes_request {
        return false;
    }
    let name = sig.ident.to_string();
    let lower = name.to_lowercase();
    let best = common::nearest(HANDLERS.iter().map(|(h, _)| *h), defined, |h| {
        let distance = if lower == h {
            0
        } else {
            edit_distance(&lower, h)
        };
        let allowed = if h.len() <= 4 { 1 } else { 2 };
        (distance <= allowed).then_some(distance)
    });
    let Some(suggestion) = best else {
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
