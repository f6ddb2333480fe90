//! Validation for `#[uac_handler]`: which methods of the block are
//! `UacHandler` methods, whether each has a signature the driver can call,
//! and which other methods look like misspelled handler methods.

use crate::common::{self, Callee, Wording, edit_distance, params};
use crate::diag::Errors;
use syn::{ImplItemFn, ItemImpl, Type};

/// What a handler method's one parameter is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Param {
    /// `resp: &Response`.
    Response,
    /// `call: &mut Call`.
    Call,
    /// `end: &CallEnd`.
    End,
}

impl Param {
    /// The parameter as the user should write it.
    fn written(self) -> &'static str {
        match self {
            Param::Response => "resp: &Response",
            Param::Call => "call: &mut Call",
            Param::End => "end: &CallEnd",
        }
    }

    /// Whether the parameter is a `&mut` reference.
    pub(crate) fn is_mut(self) -> bool {
        self == Param::Call
    }

    /// The last path segment of the type the parameter refers to.
    fn type_name(self) -> &'static str {
        match self {
            Param::Response => "Response",
            Param::Call => "Call",
            Param::End => "CallEnd",
        }
    }
}

/// The names the macro recognizes, as `UacHandler` spells them.
pub(crate) const HANDLERS: &[(&str, Param)] = &[
    ("provisional", Param::Response),
    ("success", Param::Response),
    ("redirect", Param::Response),
    ("client_error", Param::Response),
    ("server_error", Param::Response),
    ("global_failure", Param::Response),
    ("call_established", Param::Call),
    ("call_ended", Param::End),
];

/// A handler method that passed validation, with the user's spans for the
/// checks the expansion emits.
pub(crate) struct Method {
    pub(crate) param: Param,
    /// The method itself, for forwarding.
    pub(crate) callee: Callee,
}

/// The validated handler.
#[derive(Default)]
pub(crate) struct Handler {
    /// The handler methods written, in order.
    pub(crate) methods: Vec<Method>,
}

/// Validates every method of `item`, recording each problem.
pub(crate) fn handler(item: &ItemImpl, errors: &mut Errors) -> Handler {
    let mut handler = Handler::default();
    let (defined, fns) = common::classify(item, HANDLERS);
    for (f, param) in fns {
        match param {
            Some(param) => {
                if let Some(m) = method(f, param, errors) {
                    handler.methods.push(m);
                }
            }
            None => near_miss(f, &defined, errors),
        }
    }
    handler
}

/// Checks a handler method's signature.
fn method(f: &ImplItemFn, param: Param, errors: &mut Errors) -> Option<Method> {
    let sig = &f.sig;
    let name = &sig.ident;
    let shape = format!("`async fn {name}(&mut self, {})`", param.written());
    let before = errors.len();

    let hint = format!(": {shape}");
    let words = Wording {
        label: "UAC handler method",
        hint: &hint,
        no_inputs: format!(
            "UAC handler method `{name}` takes `&mut self` and `{}`: {shape}",
            param.written()
        ),
    };
    let async_span = common::check_header(sig, &words, errors)?;
    let params = params(f);
    match params.len() {
        0 => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!(
                "UAC handler method `{name}` takes `{}`: {shape}",
                param.written()
            ),
        )),
        1 => {}
        _ => {
            errors.push(syn::Error::new_spanned(
                common::extra_params(&params, 1),
                format!(
                    "too many parameters: UAC handler method `{name}` takes only `{}`",
                    param.written()
                ),
            ));
        }
    }
    if let Some(first) = params.first() {
        let ok =
            matches!(&*first.ty, Type::Reference(r) if r.mutability.is_some() == param.is_mut());
        if !ok {
            let want = if param.is_mut() {
                "a mutable reference"
            } else {
                "a shared reference"
            };
            errors.push(syn::Error::new_spanned(
                &first.ty,
                format!(
                    "the parameter of `{name}` must be {want}: `{}`",
                    param.written()
                ),
            ));
        }
    }
    if errors.len() != before {
        return None;
    }
    Some(Method {
        param,
        callee: Callee::new(f, async_span, params[0]),
    })
}

/// The last path segment of the type a reference parameter refers to.
fn referent(ty: &Type) -> Option<String> {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Reports a method that looks like a misspelled handler method: an
/// `async fn` taking `&mut self` and one reference to a `Response`,
/// `Call` or `CallEnd`, whose name — in lower case, without a `handle_`
/// or `on_` prefix (the original Parrot's `handle_success`) — is a handler
/// method's name or within two edits of one. Only names whose handler is
/// not written themselves, and whose parameter fits, are suggested.
fn near_miss(f: &ImplItemFn, defined: &[String], errors: &mut Errors) {
    let sig = &f.sig;
    let params = params(f);
    let Some(arg) = params.first().and_then(|p| referent(&p.ty)) else {
        return;
    };
    if !common::is_async_mut_self(sig) || params.len() != 1 {
        return;
    }
    let name = sig.ident.to_string();
    let lower = name.to_lowercase();
    let bare = lower
        .strip_prefix("handle_")
        .or_else(|| lower.strip_prefix("on_"))
        .unwrap_or(&lower);
    let candidates = HANDLERS
        .iter()
        .filter(|(_, p)| p.type_name() == arg)
        .map(|(h, _)| *h);
    let best = common::nearest(candidates, defined, |h| {
        let distance =
            edit_distance(bare, h).min(edit_distance(&bare.replace('_', ""), &h.replace('_', "")));
        (distance <= 2).then_some(distance)
    });
    if let Some(suggestion) = best {
        errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!("unknown UAC handler method `{name}`; did you mean `{suggestion}`?"),
        ));
    }
}
