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
use crate::validate::{self, Handler, Kind, Method, Spans};
use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
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
    let mut item = match target {
        Target::Inherent(item) => item,
        Target::Type(ident) => {
            // A handler type with the attribute in the wrong place.
            let item: ItemImpl = syn::parse_quote!(impl #ident {});
            let stand_in = stand_in_impl(&private, &item, &Handler::default());
            let errors = errors.into_compile_errors();
            return quote!(#original #errors #stand_in);
        }
        Target::Other => {
            let errors = errors.into_compile_errors();
            return quote!(#original #errors);
        }
    };
    let handler = handler.unwrap_or_default();
    prepare_block(&mut item, &handler);
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
    let methods = handler.sip_methods().map(|(name, cfgs)| {
        quote! {
            #(#cfgs)*
            let set = set.with(#name);
        }
    });
    let forwarders = handler
        .methods
        .iter()
        .map(|m| forwarder(private, m, &event));
    impl_block(
        private,
        item,
        quote! {
            type Event = #event;
            const METHODS: #private::MethodSet = {
                let set = #private::MethodSet::EMPTY;
                #(#methods)*
                set
            };
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
    // Spanned on the type, like the type itself: a type that cannot be a
    // handler (not `Send`, not `'static`) is reported once, there.
    let trait_path = respan(quote!(#private::UasHandler), Spans::of(self_ty).first);
    quote! {
        #[automatically_derived]
        impl #impl_generics #trait_path for #self_ty #where_clause {
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
/// The spans: the argument passed for each parameter spans that parameter's
/// type (a type mismatch is reported on the user's parameter); the
/// conversion of the result spans the return type (a type that does not
/// convert is reported there); and the `async` block spans the `async`
/// keyword (a future that is not `Send` is reported on the user's
/// `async fn`). The call itself spans the method's name, so that rustc keeps
/// its arguments' spans rather than falling back to the attribute's.
fn forwarder(private: &TokenStream, m: &Method, event: &TokenStream) -> TokenStream {
    let ident = &m.ident;
    let (param, param_ty, arg) = match m.kind {
        Kind::Event => (
            quote!(event),
            event.clone(),
            quote_spanned!(m.arg.first=> event),
        ),
        // `&*req` spans the user's whole `&Request`.
        _ => {
            let reborrow = quote_spanned!(m.arg.first=> &*);
            let req = quote_spanned!(m.arg.last=> req);
            (
                quote!(req),
                quote!(&#private::Request),
                quote!(#reborrow #req),
            )
        }
    };
    let (cx_param, cx_arg) = match m.cx {
        Some(spans) => {
            let reborrow = quote_spanned!(spans.first=> &mut *);
            let cx = quote_spanned!(spans.last=> cx);
            (quote!(cx), Some(quote!(, #reborrow #cx)))
        }
        None => (quote!(_), None),
    };
    let span = ident.span();
    let call = quote_spanned!(span=> Self::#ident);
    let call_args = group(Delimiter::Parenthesis, quote!(self, #arg #cx_arg), span);
    let (output, convert) = match m.kind {
        Kind::Init => (
            quote!(::core::result::Result<(), #private::Action>),
            quote!(#private::IntoInit::into_init),
        ),
        _ => (
            quote!(#private::Action),
            quote!(#private::IntoAction::into_action),
        ),
    };
    // `future.await` spans the whole return type.
    let convert = respan(convert, m.ret.first);
    let future = quote_spanned!(m.ret.first=> future);
    let await_ = quote_spanned!(m.ret.last=> await);
    let converted = group(Delimiter::Parenthesis, quote!(#future.#await_), m.ret.last);
    let async_move = quote_spanned!(m.async_span=> async move);
    let body = group(Delimiter::Brace, quote!(#convert #converted), m.async_span);
    let cfgs = &m.cfgs;
    let returned = respan(
        quote!(impl #private::Future<Output = #output> + #private::Send),
        m.async_span,
    );
    quote! {
        #(#cfgs)*
        fn #ident(
            &mut self,
            #param: #param_ty,
            #cx_param: &mut #private::Context<'_, #event>,
        ) -> #returned {
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

/// The two changes made to the block as written, both to handler methods
/// only (and to misspelled ones, so that their error comes alone):
///
/// - every `Context` in their parameters is completed: the lifetime (`'_`)
///   when it is left out, which an `async fn` does not allow, and the
///   handler's event type when the handler takes events; so `cx: &mut
///   Context` works in every handler method;
/// - the valid ones get `#[allow(clippy::unused_async,
///   clippy::needless_pass_by_ref_mut)]`: their signature is the trait's
///   contract, not a choice that lint could improve.
fn prepare_block(item: &mut ItemImpl, handler: &Handler) {
    let event = handler.event.as_ref();
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(f) = impl_item else {
            continue;
        };
        let name = f.sig.ident.to_string();
        if handler.methods.iter().any(|m| m.ident == f.sig.ident) {
            f.attrs.push(syn::parse_quote! {
                #[allow(clippy::unused_async, clippy::needless_pass_by_ref_mut)]
            });
        }
        if !validate::HANDLERS.iter().any(|(n, _)| *n == name)
            && !handler.misspelled.contains(&f.sig.ident)
        {
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

/// Completes one `Context` path segment (see [`prepare_block`]).
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
