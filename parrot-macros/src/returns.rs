//! The return-type rule: a handler method that owes the request a final
//! response cannot return `()`.
//!
//! `()` converts into `Action::NoReply`, which the runtime can only answer
//! with `500` for such a request (so that no transaction is left hanging),
//! and a method written without a return type returns `()`. That is always
//! a mistake, so it is refused here, on the user's token, rather than
//! answered `500` at run time.
//!
//! The check reads the return type as written: `()`, no return type, and a
//! `Result` (by its last path segment) with `()` on either side. A type
//! alias for one of those is not seen.

use crate::diag::Errors;
use crate::validate::Kind;
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, ReturnType, Signature, Type};

/// Whether a handler method of `kind` owes its request a final response:
/// every request does (RFC 3261 §8.2.6) except an ACK, which is never
/// answered (§13.2.2.4), and a CANCEL, which the runtime has
/// answered itself before the method is called (§9.2). `init` and `event`
/// answer nothing.
pub(crate) fn owes_response(kind: Kind) -> bool {
    match kind {
        Kind::Sip(method) => !matches!(method, "ACK" | "CANCEL"),
        Kind::Other => true,
        Kind::Init | Kind::Event => false,
    }
}

/// Records an error when `sig`, a handler method of `kind`, could return
/// `()` although it owes a final response.
pub(crate) fn check(sig: &Signature, kind: Kind, errors: &mut Errors) {
    if !owes_response(kind) {
        return;
    }
    let name = &sig.ident;
    let owes = format!("handler method `{name}` must answer the request");
    let (tokens, message) = match &sig.output {
        ReturnType::Default => (
            sig.to_token_stream(),
            format!(
                "{owes}: give it a return type, such as `-> Response`, `-> StatusCode` or \
                 `-> Action` (without one it returns `()`, and the runtime answers `500`)"
            ),
        ),
        ReturnType::Type(_, ty) => {
            let Some(unit) = unit_in(ty) else {
                return;
            };
            let message = match unit.side {
                Side::Whole => format!(
                    "{owes}: return a `Response`, a `StatusCode` or an `Action`, not `()` \
                     (the runtime would answer `500`)"
                ),
                Side::Ok => format!(
                    "{owes}: `Ok(())` is no answer (the runtime would answer `500`); return \
                     `Ok` of a `Response`, a `StatusCode` or an `Action`, e.g. \
                     `Result<Response, StatusCode>`"
                ),
                Side::Err => format!(
                    "{owes}: `Err(())` is no answer (the runtime would answer `500`); give the \
                     error a status, e.g. `Result<Response, StatusCode>`"
                ),
            };
            (unit.ty.to_token_stream(), message)
        }
    };
    errors.push(syn::Error::new_spanned(tokens, message));
}

/// Where a `()` sits in a return type.
enum Side {
    /// The return type itself.
    Whole,
    /// A `Result`'s success type.
    Ok,
    /// A `Result`'s error type.
    Err,
}

/// A `()` found in a return type, with its tokens (where it is reported).
struct Unit<'a> {
    ty: &'a Type,
    side: Side,
}

/// The first `()` that the return type `ty` can convert from: `ty` itself,
/// or either side of a `Result` (nested ones included).
fn unit_in(ty: &Type) -> Option<Unit<'_>> {
    let ty = unwrap(ty);
    if is_unit(ty) {
        return Some(Unit {
            ty,
            side: Side::Whole,
        });
    }
    let sides = result_sides(ty)?;
    sides.into_iter().enumerate().find_map(|(i, side)| {
        let side_ty = unwrap(side);
        if is_unit(side_ty) {
            Some(Unit {
                ty: side_ty,
                side: if i == 0 { Side::Ok } else { Side::Err },
            })
        } else {
            unit_in(side_ty)
        }
    })
}

/// `ty` without the parentheses (and invisible groups) around it.
fn unwrap(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Paren(p) => ty = &p.elem,
            Type::Group(g) => ty = &g.elem,
            _ => return ty,
        }
    }
}

/// Whether `ty` is the unit type, `()`.
fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// The type arguments of a `Result<T, E>` (or of a one-argument alias such
/// as `io::Result<T>`), by the path's last segment.
fn result_sides(ty: &Type) -> Option<Vec<&Type>> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
    )
}
