//! Expansion for `#[uac_handler]`: the user's block as written, and the
//! `UacHandler` impl that forwards to it (or, after errors, a stand-in impl
//! with every method defaulted, so that nothing else reports a follow-on
//! error).
//!
//! Every path goes through `<parrot>::client::__private`. Tokens that can
//! fail to type-check carry the user's spans, so that rustc reports those
//! failures on the user's signature rather than on generated code.

use super::validate::{Handler, Method, Param};
use crate::common::{self, Attribute, Forward, respan};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemImpl;

/// `#[uac_handler]` on the shared pipeline.
pub(crate) const UAC: Attribute<Handler> = Attribute {
    name: "uac_handler",
    example: "resp: &Response",
    module: Some("client"),
    validate: super::validate::handler,
    stand_in: |private, item| impl_block(private, item, TokenStream::new()),
    expand: |private, item, handler, _, ok| block(private, item, handler, ok),
    declares: false,
};

/// Marks the block's handler methods and returns the `UacHandler` impl
/// forwarding to them (a stand-in one, every method defaulted, unless
/// `ok`).
fn block(private: &TokenStream, item: &mut ItemImpl, handler: Handler, ok: bool) -> TokenStream {
    common::allow_contract_lints(item, |ident| {
        handler.methods.iter().any(|m| m.callee.ident == *ident)
    });
    let body = if ok {
        let forwarders = handler.methods.iter().map(|m| forwarder(private, m));
        quote!(#(#forwarders)*)
    } else {
        TokenStream::new()
    };
    impl_block(private, item, body)
}

/// The `UacHandler` impl around `body`, spanned on the type: a type that
/// cannot be a handler (not `Send`) is reported once, there.
fn impl_block(private: &TokenStream, item: &ItemImpl, body: TokenStream) -> TokenStream {
    common::impl_block(quote!(#private::UacHandler), item, body)
}

/// One trait method, calling the inherent method of the same name.
///
/// The argument spans the user's parameter type (a type mismatch is
/// reported there), the conversion of the result spans the return type,
/// and the `async` block the `async` keyword (a future that is not `Send`
/// is reported on the user's `async fn`).
fn forwarder(private: &TokenStream, m: &Method) -> TokenStream {
    let ident = &m.callee.ident;
    let (param, param_ty) = match m.param {
        Param::Response => (quote!(resp), quote!(&#private::Response)),
        Param::Call => (quote!(call), quote!(&mut #private::Call)),
        Param::End => (quote!(end), quote!(&#private::CallEnd)),
    };
    let reborrow = if m.param.is_mut() {
        quote_spanned!(m.callee.arg.first=> &mut *)
    } else {
        quote_spanned!(m.callee.arg.first=> &*)
    };
    let arg = respan(param.clone(), m.callee.arg.last);
    let (returned, body) = Forward {
        private,
        callee: &m.callee,
        call_args: quote!(self, #reborrow #arg),
        convert: quote!(#private::IntoUacAction::into_uac_action),
        output: quote!(#private::UacAction),
    }
    .tokens();
    let cfgs = &m.callee.cfgs;
    quote! {
        #(#cfgs)*
        fn #ident(&mut self, #param: #param_ty) -> #returned {
            #body
        }
    }
}
