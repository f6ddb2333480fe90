//! Expansion: the user's block as written, and the `UasHandler` impl that
//! forwards to it (or, when there were errors, a stand-in impl that keeps
//! the rest of the crate free of follow-on errors).
//!
//! Every path goes through `<parrot>::__private`, so the output compiles
//! wherever the user's crate is and whatever it has in scope. Tokens that
//! can fail to type-check carry the user's spans, so that rustc reports
//! those failures on the user's signature rather than on generated code.

use crate::common::{self, Attribute, Forward};
use crate::declare::Declarations;
use crate::validate::{self, Handler, Kind, Method};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{GenericArgument, ItemImpl, PathArguments, Type};

/// `#[uas_handler]` on the shared pipeline.
pub(crate) const UAS: Attribute<Handler> = Attribute {
    name: "uas_handler",
    example: "req: &Request",
    module: None,
    validate: validate::handler,
    stand_in: |private, item| stand_in_impl(private, item, &Handler::default()),
    expand: block,
    declares: true,
};

/// Prepares the block and returns the `UasHandler` impl (a stand-in one
/// unless `ok`).
fn block(
    private: &TokenStream,
    item: &mut ItemImpl,
    handler: Handler,
    declarations: &Declarations,
    ok: bool,
) -> TokenStream {
    prepare_block(item, &handler);
    if ok {
        trait_impl(private, item, &handler, declarations)
    } else {
        stand_in_impl(private, item, &handler)
    }
}

/// The `UasHandler` impl forwarding to the methods written.
fn trait_impl(
    private: &TokenStream,
    item: &ItemImpl,
    handler: &Handler,
    declarations: &Declarations,
) -> TokenStream {
    let declared = declarations.items();
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
            #declared
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
    common::impl_block(quote!(#private::UasHandler), item, body)
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
    let ident = &m.callee.ident;
    let (param, param_ty, arg) = match m.kind {
        Kind::Event => (
            quote!(event),
            event.clone(),
            quote_spanned!(m.callee.arg.first=> event),
        ),
        // `&*req` spans the user's whole `&Request`.
        _ => {
            let reborrow = quote_spanned!(m.callee.arg.first=> &*);
            let req = quote_spanned!(m.callee.arg.last=> req);
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
    let (returned, body) = Forward {
        private,
        callee: &m.callee,
        call_args: quote!(self, #arg #cx_arg),
        convert,
        output,
    }
    .tokens();
    let cfgs = &m.callee.cfgs;
    quote! {
        #(#cfgs)*
        fn #ident(
            &mut self,
            #param: #param_ty,
            #cx_param: &mut #private::Context<'_, #event>,
        ) -> #returned {
            #body
        }
    }
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
    common::allow_contract_lints(item, |ident| {
        handler.methods.iter().any(|m| m.callee.ident == *ident)
    });
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(f) = impl_item else {
            continue;
        };
        let name = f.sig.ident.to_string();
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
