//! Expansion for `#[uac_handler]`: the user's block as written, and the
//! `UacHandler` impl that forwards to it (or, after errors, a stand-in impl
//! with every method defaulted, so that nothing else reports a follow-on
//! error).
//!
//! Every path goes through `<parrot>::client::__private`. Tokens that can
//! fail to type-check carry the user's spans, so that rustc reports those
//! failures on the user's signature rather than on generated code.

use super::validate::{Handler, Method, Param};
use crate::diag::Errors;
use crate::parse::{Args, Target};
use crate::validate::Spans;
use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::ItemImpl;

/// The whole output: the item, the errors, and the trait impl.
pub(crate) fn output(
    args: &Args,
    target: Target,
    original: TokenStream,
    handler: Option<Handler>,
    errors: Errors,
) -> TokenStream {
    let private = match &args.krate {
        Some(path) => quote!(#path::client::__private),
        None => quote!(::parrot::client::__private),
    };
    let mut item = match target {
        Target::Inherent(item) => item,
        Target::Type(ident) => {
            // A handler type with the attribute in the wrong place.
            let item: ItemImpl = syn::parse_quote!(impl #ident {});
            let stand_in = impl_block(&private, &item, TokenStream::new());
            let errors = errors.into_compile_errors();
            return quote!(#original #errors #stand_in);
        }
        Target::Other => {
            let errors = errors.into_compile_errors();
            return quote!(#original #errors);
        }
    };
    let handler = handler.unwrap_or_default();
    allow_contract_lints(&mut item, &handler);
    let body = if errors.is_empty() {
        let forwarders = handler.methods.iter().map(|m| forwarder(&private, m));
        quote!(#(#forwarders)*)
    } else {
        TokenStream::new()
    };
    let trait_impl = impl_block(&private, &item, body);
    let errors = errors.into_compile_errors();
    quote! {
        #item
        #errors
        #trait_impl
    }
}

fn impl_block(private: &TokenStream, item: &ItemImpl, body: TokenStream) -> TokenStream {
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    // Spanned on the type: a type that cannot be a handler (not `Send`) is
    // reported once, there.
    let trait_path = respan(quote!(#private::UacHandler), Spans::of(self_ty).first);
    quote! {
        #[automatically_derived]
        impl #impl_generics #trait_path for #self_ty #where_clause {
            #body
        }
    }
}

/// One trait method, calling the inherent method of the same name.
///
/// The argument spans the user's parameter type (a type mismatch is
/// reported there), the conversion of the result spans the return type,
/// and the `async` block the `async` keyword (a future that is not `Send`
/// is reported on the user's `async fn`).
fn forwarder(private: &TokenStream, m: &Method) -> TokenStream {
    let ident = &m.ident;
    let (param, param_ty) = match m.param {
        Param::Response => (quote!(resp), quote!(&#private::Response)),
        Param::Call => (quote!(call), quote!(&mut #private::Call)),
        Param::End => (quote!(end), quote!(&#private::CallEnd)),
    };
    let reborrow = if m.param.is_mut() {
        quote_spanned!(m.arg.first=> &mut *)
    } else {
        quote_spanned!(m.arg.first=> &*)
    };
    let arg = respan(param.clone(), m.arg.last);
    let span = ident.span();
    let call = quote_spanned!(span=> Self::#ident);
    let call_args = group(Delimiter::Parenthesis, quote!(self, #reborrow #arg), span);
    let convert = respan(
        quote!(#private::IntoUacAction::into_uac_action),
        m.ret.first,
    );
    let future = quote_spanned!(m.ret.first=> future);
    let await_ = quote_spanned!(m.ret.last=> await);
    let converted = group(Delimiter::Parenthesis, quote!(#future.#await_), m.ret.last);
    let async_move = quote_spanned!(m.async_span=> async move);
    let body = group(Delimiter::Brace, quote!(#convert #converted), m.async_span);
    let returned = respan(
        quote!(impl #private::Future<Output = #private::UacAction> + #private::Send),
        m.async_span,
    );
    let cfgs = &m.cfgs;
    quote! {
        #(#cfgs)*
        fn #ident(&mut self, #param: #param_ty) -> #returned {
            let future = #call #call_args;
            #async_move #body
        }
    }
}

/// A delimited group spanning `span`.
fn group(delimiter: Delimiter, tokens: TokenStream, span: Span) -> TokenTree {
    let mut group = Group::new(delimiter, tokens);
    group.set_span(span);
    TokenTree::Group(group)
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                tt = group(g.delimiter(), respan(g.stream(), span), span);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The one change made to the block as written: the valid handler methods
/// get `#[allow(clippy::unused_async, clippy::needless_pass_by_ref_mut)]`,
/// since their signature is the trait's contract.
fn allow_contract_lints(item: &mut ItemImpl, handler: &Handler) {
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(f) = impl_item
            && handler.methods.iter().any(|m| m.ident == f.sig.ident)
        {
            f.attrs.push(syn::parse_quote! {
                #[allow(clippy::unused_async, clippy::needless_pass_by_ref_mut)]
            });
        }
    }
}
