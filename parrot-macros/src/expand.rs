//! Expansion: the user's block as written, and the `UasHandler` impl that
//! forwards to it (or, when there were errors, a stand-in impl that keeps
//! the rest of the crate free of follow-on errors).
//!
//! Every path goes through `<parrot>::__private`, so the output compiles
//! wherever the user's crate is and whatever it has in scope. Tokens that
//! can fail to type-check carry the user's spans, so that rustc reports
//! those failures on the user's signature rather than on generated code.

use crate::diag::Errors;
use crate::parse::{Args, Target};
use crate::validate::{self, Handler, Kind, Method};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{GenericArgument, ItemImpl, PathArguments, Type};

/// The whole output: the item, the errors, and the trait impl.
pub(crate) fn output(
    args: &Args,
    target: Target,
    original: TokenStream,
    handler: Option<Handler>,
    errors: Errors,
) -> TokenStream {
    let private = private_path(args);
    let Target::Inherent(mut item) = target else {
        // Not an inherent impl: the item as written, and the error.
        let errors = errors.into_compile_errors();
        return quote!(#original #errors);
    };
    let handler = handler.unwrap_or(Handler {
        methods: Vec::new(),
        event: None,
    });
    complete_context(&mut item, handler.event.as_ref());
    let trait_impl = if errors.is_empty() {
        trait_impl(&private, &item, &handler)
    } else {
        stand_in_impl(&private, &item, &handler)
    };
    let errors = errors.into_compile_errors();
    quote! {
        #item
        #errors
        #trait_impl
    }
}

/// `::parrot::__private`, or `<crate = "...">::__private`.
fn private_path(args: &Args) -> TokenStream {
    match &args.krate {
        Some(path) => quote!(#path::__private),
        None => quote!(::parrot::__private),
    }
}

/// The `UasHandler` impl forwarding to the methods written.
fn trait_impl(private: &TokenStream, item: &ItemImpl, handler: &Handler) -> TokenStream {
    let event = event_type(handler);
    let methods = handler.sip_methods();
    let forwarders = handler.methods.iter().map(|m| forwarder(private, m));
    impl_block(
        private,
        item,
        quote! {
            type Event = #event;
            const METHODS: #private::MethodSet = #private::MethodSet::EMPTY #(.with(#methods))*;
            #(#forwarders)*
        },
    )
}

/// The impl emitted when the block has errors: it makes the type a handler
/// (with every method defaulted) so that code using it reports nothing
/// further; the errors already recorded fail the build.
fn stand_in_impl(private: &TokenStream, item: &ItemImpl, handler: &Handler) -> TokenStream {
    let event = event_type(handler);
    impl_block(
        private,
        item,
        quote! {
            type Event = #event;
            const METHODS: #private::MethodSet = #private::MethodSet::EMPTY;
        },
    )
}

fn impl_block(private: &TokenStream, item: &ItemImpl, body: TokenStream) -> TokenStream {
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::UasHandler for #self_ty #where_clause {
            #body
        }
    }
}

fn event_type(handler: &Handler) -> TokenStream {
    match &handler.event {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    }
}

/// One trait method, calling the inherent method of the same name.
///
/// The spans: the argument passed for each parameter carries that
/// parameter's type span (a type mismatch points at the user's parameter);
/// the conversion of the result carries the return type's span (a type that
/// does not convert is reported on the user's return type); and the `Send`
/// bound of the returned future carries the `async` keyword's span (a
/// future that is not `Send` is reported on the user's `async fn`).
fn forwarder(private: &TokenStream, m: &Method) -> TokenStream {
    let ident = &m.ident;
    let arg_name = match m.kind {
        Kind::Event => format_ident!("event"),
        _ => format_ident!("req"),
    };
    let arg = quote_spanned!(m.arg_span=> #arg_name);
    let cx = m.cx_span.map(|span| quote_spanned!(span=> , cx));
    let arg_ty = match m.kind {
        Kind::Event => quote!(Self::Event),
        _ => quote!(&#private::Request),
    };
    let cx_param = match m.cx_span {
        Some(_) => quote!(cx),
        None => quote!(_),
    };
    let send = quote_spanned!(m.async_span=> #private::Send);
    let (output, convert) = match m.kind {
        Kind::Init => (
            quote!(::core::result::Result<(), #private::Action>),
            quote_spanned!(m.ret_span=> #private::into_init(future.await)),
        ),
        _ => (
            quote!(#private::Action),
            quote_spanned!(m.ret_span=> #private::into_action(future.await)),
        ),
    };
    quote! {
        fn #ident(
            &mut self,
            #arg_name: #arg_ty,
            #cx_param: &mut #private::Context<'_, Self::Event>,
        ) -> impl #private::Future<Output = #output> + #send {
            let future = Self::#ident(self, #arg #cx);
            async move { #convert }
        }
    }
}

/// Completes every `Context` written in a handler method's parameters:
/// the lifetime (`'_`) when it is left out, which an `async fn` does not
/// allow, and the handler's event type when the handler takes events. So
/// `cx: &mut Context` works in every handler method. This is the one change
/// made to the block as written.
fn complete_context(item: &mut ItemImpl, event: Option<&Type>) {
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(f) = impl_item else {
            continue;
        };
        let name = f.sig.ident.to_string();
        if !validate::HANDLERS.iter().any(|(n, _)| *n == name) {
            continue;
        }
        for input in &mut f.sig.inputs {
            let syn::FnArg::Typed(param) = input else {
                continue;
            };
            let mut ty = &mut *param.ty;
            while let Type::Reference(r) = ty {
                ty = &mut *r.elem;
            }
            let Type::Path(path) = ty else {
                continue;
            };
            if path.qself.is_some() {
                continue;
            }
            if let Some(segment) = path.path.segments.last_mut()
                && segment.ident == "Context"
            {
                complete_segment(segment, event);
            }
        }
    }
}

fn complete_segment(segment: &mut syn::PathSegment, event: Option<&Type>) {
    let span = segment.ident.span();
    if let PathArguments::None = segment.arguments {
        segment.arguments = PathArguments::AngleBracketed(syn::parse_quote_spanned!(span=> <>));
    }
    let PathArguments::AngleBracketed(args) = &mut segment.arguments else {
        return;
    };
    if !args
        .args
        .iter()
        .any(|a| matches!(a, GenericArgument::Lifetime(_)))
    {
        args.args
            .insert(0, GenericArgument::Lifetime(syn::Lifetime::new("'_", span)));
    }
    if let Some(event) = event
        && !args
            .args
            .iter()
            .any(|a| matches!(a, GenericArgument::Type(_)))
    {
        args.args.push(GenericArgument::Type(event.clone()));
    }
}
