//! Parsing for `#[uac_handler]`: the arguments and the item, with the
//! messages worded for this attribute. The syntax trees are the ones
//! `#[uas_handler]` uses ([`Args`], [`Target`]).

use crate::diag::Errors;
use crate::parse::{Args, Target};
use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Item, Lit, Meta, Token};

/// Parses `#[uac_handler]` or `#[uac_handler(crate = "path::to::parrot")]`,
/// recording every problem (each spanned on the argument at fault) and
/// keeping whatever was valid.
pub(crate) fn args(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(e);
            return args;
        }
    };
    for meta in metas {
        if !meta.path().is_ident("crate") {
            errors.push(syn::Error::new_spanned(
                meta.path(),
                format!(
                    "unknown `uac_handler` argument `{}`; the only argument is `crate = \"path\"`",
                    path_text(meta.path()),
                ),
            ));
            continue;
        }
        let Meta::NameValue(nv) = &meta else {
            errors.push(syn::Error::new_spanned(
                &meta,
                "expected `crate = \"path\"`, the path of the `parrot` crate as a string",
            ));
            continue;
        };
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = &nv.value
        else {
            errors.push(syn::Error::new_spanned(
                &nv.value,
                "expected a string literal: `crate = \"my_parrot\"`",
            ));
            continue;
        };
        let Ok(path) = lit.parse_with(syn::Path::parse_mod_style) else {
            errors.push(syn::Error::new(
                lit.span(),
                format!("`{}` is not a path to a crate", lit.value()),
            ));
            continue;
        };
        if args.krate.is_some() {
            errors.push(syn::Error::new_spanned(
                meta.path(),
                "`crate` is given more than once",
            ));
            continue;
        }
        args.krate = Some(path);
    }
    args
}

/// Parses the item, recording an error (spanned on its leading tokens) when
/// it is not an inherent `impl` block.
pub(crate) fn item(tokens: TokenStream, errors: &mut Errors) -> Target {
    let item = match syn::parse2::<Item>(tokens) {
        Ok(item) => item,
        Err(e) => {
            errors.push(e);
            return Target::Other;
        }
    };
    let (spanned, message): (TokenStream, String) = match item {
        Item::Impl(imp) => match &imp.trait_ {
            None => return Target::Inherent(Box::new(imp)),
            Some((_, path, _)) => (
                path.to_token_stream(),
                format!(
                    "`#[uac_handler]` goes on an inherent `impl {} {{ ... }}` block: it writes the `{}` impl itself",
                    crate::parse::type_text(&imp.self_ty),
                    path_text(path),
                ),
            ),
        },
        Item::Struct(s) => {
            errors.push(syn::Error::new_spanned(
                &s.ident,
                on_type("struct", &s.ident),
            ));
            return if s.generics.params.is_empty() {
                Target::Type(s.ident)
            } else {
                Target::Other
            };
        }
        Item::Enum(e) => {
            errors.push(syn::Error::new_spanned(&e.ident, on_type("enum", &e.ident)));
            return if e.generics.params.is_empty() {
                Target::Type(e.ident)
            } else {
                Target::Other
            };
        }
        Item::Fn(f) => (
            f.sig.ident.to_token_stream(),
            format!(
                "`#[uac_handler]` goes on an `impl` block of the handler type, with `async fn {}(&mut self, resp: &Response)` inside it",
                f.sig.ident,
            ),
        ),
        other => (
            leading_token(&other),
            "`#[uac_handler]` goes on an `impl` block of the handler type".to_string(),
        ),
    };
    errors.push(syn::Error::new_spanned(spanned, message));
    Target::Other
}

fn on_type(what: &str, ident: &syn::Ident) -> String {
    format!("`#[uac_handler]` goes on an `impl {ident} {{ ... }}` block, not on the {what}")
}

/// The first token of an item after its attributes (the whole item's span
/// would underline its body too).
fn leading_token(item: &Item) -> TokenStream {
    let mut iter = item.to_token_stream().into_iter();
    while let Some(tt) = iter.next() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                iter.next();
            }
            other => return other.into(),
        }
    }
    TokenStream::new()
}

/// A path as the user would write it, for messages.
fn path_text(path: &syn::Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}
