//! Parsing: the attribute's arguments and the item it is written on.
//!
//! Nothing here judges handler methods; it only turns tokens into syntax
//! trees and says what the attribute was put on.

use crate::diag::Errors;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Item, ItemImpl, Lit, Meta, Token};

/// The attribute's arguments: `#[uas_handler]` or
/// `#[uas_handler(crate = "path::to::parrot")]`.
#[derive(Default)]
pub(crate) struct Args {
    /// Where the `parrot` crate is, when it is not `::parrot`.
    pub(crate) krate: Option<syn::Path>,
}

/// Parses the arguments, recording every problem (each spanned on the
/// argument at fault) and keeping whatever was valid.
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
                    "unknown `uas_handler` argument `{}`; the only argument is `crate = \"path\"`",
                    path_text(meta.path()),
                ),
            ));
            continue;
        }
        let value = match &meta {
            Meta::NameValue(nv) => &nv.value,
            _ => {
                errors.push(syn::Error::new_spanned(
                    &meta,
                    "expected `crate = \"path\"`, the path of the `parrot` crate as a string",
                ));
                continue;
            }
        };
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = value
        else {
            errors.push(syn::Error::new_spanned(
                value,
                "expected a string literal: `crate = \"my_parrot\"`",
            ));
            continue;
        };
        let path = match lit.parse_with(syn::Path::parse_mod_style) {
            Ok(path) => path,
            Err(_) => {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!("`{}` is not a path to a crate", lit.value()),
                ));
                continue;
            }
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

/// What the attribute was written on.
pub(crate) enum Target {
    /// An inherent `impl` block: the one thing it belongs on.
    Inherent(Box<ItemImpl>),
    /// A struct or enum without generics (the error is already recorded):
    /// it gets a stand-in `UasHandler` impl, so that its uses as a handler
    /// report nothing further.
    Type(syn::Ident),
    /// Anything else; the error is already recorded.
    Other,
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
    let (spanned, message): (&dyn ToTokens, String) = match &item {
        Item::Impl(imp) => match &imp.trait_ {
            None => return Target::Inherent(Box::new(item_impl(item))),
            Some((_, path, _)) => (
                path,
                format!(
                    "`#[uas_handler]` goes on an inherent `impl {} {{ ... }}` block: it writes the `{}` impl itself",
                    type_text(&imp.self_ty),
                    path_text(path),
                ),
            ),
        },
        Item::Struct(s) => (&s.ident, on_type("struct", &s.ident)),
        Item::Enum(e) => (&e.ident, on_type("enum", &e.ident)),
        Item::Fn(f) => (
            &f.sig.ident,
            format!(
                "`#[uas_handler]` goes on an `impl` block of the handler type, with `async fn {}(&mut self, req: &Request)` inside it",
                f.sig.ident,
            ),
        ),
        other => (
            other,
            "`#[uas_handler]` goes on an `impl` block of the handler type".to_string(),
        ),
    };
    errors.push(syn::Error::new_spanned(leading_tokens(spanned), message));
    match &item {
        Item::Struct(s) if s.generics.params.is_empty() => Target::Type(s.ident.clone()),
        Item::Enum(e) if e.generics.params.is_empty() => Target::Type(e.ident.clone()),
        _ => Target::Other,
    }
}

fn on_type(what: &str, ident: &syn::Ident) -> String {
    format!("`#[uas_handler]` goes on an `impl {ident} {{ ... }}` block, not on the {what}")
}

fn item_impl(item: Item) -> ItemImpl {
    match item {
        Item::Impl(imp) => imp,
        _ => unreachable!("checked by the caller"),
    }
}

/// The tokens an error about the item is spanned on: a path or an
/// identifier whole, otherwise the first token after any attributes (a whole
/// item's span would underline its body too).
fn leading_tokens(tokens: &dyn ToTokens) -> TokenStream {
    let stream = tokens.to_token_stream();
    if syn::parse2::<syn::Path>(stream.clone()).is_ok() {
        return stream;
    }
    let mut iter = stream.into_iter();
    while let Some(tt) = iter.next() {
        match tt {
            // `#[...]`: skip the attribute.
            proc_macro2::TokenTree::Punct(p) if p.as_char() == '#' => {
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

/// A type as the user would write it, for messages.
pub(crate) fn type_text(ty: &syn::Type) -> String {
    let text = quote::quote!(#ty).to_string();
    text.replace(" < ", "<")
        .replace(" >", ">")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" ,", ",")
        .replace("& ", "&")
}
