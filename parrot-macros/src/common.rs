//! What `#[uas_handler]` and `#[uac_handler]` share: the attribute's
//! arguments and item, the checks every handler method's signature passes,
//! near-miss suggestions, and the forwarding impl's skeleton and span
//! helpers. Each attribute keeps its own wording and its own methods.

use crate::declare::Declarations;
use crate::diag::Errors;
use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, FnArg, ImplItem, ImplItemFn, Item, ItemImpl, Lit, Meta, PatType, ReturnType,
    Signature, Token, Type,
};

/// One attribute's own parts, which [`run`] puts on the shared pipeline:
/// parse (the arguments and the item), validate (which methods are handler
/// methods and whether their signatures are callable) and expand.
pub(crate) struct Attribute<H> {
    /// The attribute's name: `uas_handler`.
    pub(crate) name: &'static str,
    /// A handler method's parameter, for the message about a `fn`.
    pub(crate) example: &'static str,
    /// The `parrot` module whose `__private` the output names (`None`: the
    /// crate root).
    pub(crate) module: Option<&'static str>,
    /// Validates every method of the block, recording each problem.
    pub(crate) validate: fn(&ItemImpl, &mut Errors) -> H,
    /// The stand-in impl for a type with the attribute in the wrong place.
    pub(crate) stand_in: fn(&TokenStream, &ItemImpl) -> TokenStream,
    /// Prepares the block as written and returns the trait impl (a
    /// stand-in one when there were errors: `false`), with the handler's
    /// declarations.
    pub(crate) expand: fn(&TokenStream, &mut ItemImpl, H, &Declarations, bool) -> TokenStream,
    /// Whether the attribute takes declarations (`supported`, `accept`)
    /// besides `crate`.
    pub(crate) declares: bool,
}

/// The pipeline, on `proc_macro2` tokens (so that unit tests can run it).
pub(crate) fn run<H: Default>(
    attr: &Attribute<H>,
    args: TokenStream,
    item: TokenStream,
) -> TokenStream {
    let mut errors = Errors::default();
    let args = self::args(args, attr, &mut errors);
    let target = self::item(item.clone(), attr.name, attr.example, &mut errors);
    let handler = match &target {
        Target::Inherent(imp) => (attr.validate)(imp, &mut errors),
        Target::Type(_) | Target::Other => H::default(),
    };
    let private = private_path(&args, attr.module);
    output(
        target,
        item,
        errors,
        |item| (attr.stand_in)(&private, item),
        |item, ok| (attr.expand)(&private, item, handler, &args.declarations, ok),
    )
}

// ----- Parsing -----

/// The attribute's arguments: `#[name]` or `#[name(crate = "path::to::parrot")]`.
#[derive(Default)]
struct Args {
    /// Where the `parrot` crate is, when it is not `::parrot`.
    krate: Option<syn::Path>,
    /// What the handler declares (`#[uas_handler]` only).
    declarations: Declarations,
}

/// Parses the arguments of `#[attr]`, recording every problem (each spanned
/// on the argument at fault) and keeping whatever was valid.
fn args<H>(tokens: TokenStream, attribute: &Attribute<H>, errors: &mut Errors) -> Args {
    let attr = attribute.name;
    let mut args = Args::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(e);
            return args;
        }
    };
    for meta in metas {
        if attribute.declares && args.declarations.take(&meta, errors) {
            continue;
        }
        if !meta.path().is_ident("crate") {
            let known = if attribute.declares {
                "the arguments are `crate = \"path\"`, `supported = \"tag, ...\"`, \
                 `accept(method = \"type/subtype, ...\")` and `events = \"package, ...\"`"
            } else {
                "the only argument is `crate = \"path\"`"
            };
            errors.push(syn::Error::new_spanned(
                meta.path(),
                format!(
                    "unknown `{attr}` argument `{}`; {known}",
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

/// What the attribute was written on.
enum Target {
    /// An inherent `impl` block: the one thing it belongs on.
    Inherent(Box<ItemImpl>),
    /// A struct or enum without generics (the error is already recorded):
    /// it gets a stand-in impl, so that its uses as a handler report
    /// nothing further.
    Type(syn::Ident),
    /// Anything else; the error is already recorded.
    Other,
}

/// Parses the item of `#[attr]`, recording an error (spanned on its leading
/// tokens) when it is not an inherent `impl` block. `example` is the
/// handler method's parameter, as the message about a `fn` shows it.
fn item(tokens: TokenStream, attr: &str, example: &str, errors: &mut Errors) -> Target {
    let item = match syn::parse2::<Item>(tokens) {
        Ok(item) => item,
        Err(e) => {
            errors.push(e);
            return Target::Other;
        }
    };
    let on_type = |what: &str, ident: &syn::Ident| {
        format!("`#[{attr}]` goes on an `impl {ident} {{ ... }}` block, not on the {what}")
    };
    let (spanned, message): (TokenStream, String) = match item {
        Item::Impl(imp) => match &imp.trait_ {
            None => return Target::Inherent(Box::new(imp)),
            Some((_, path, _)) => (
                path.to_token_stream(),
                format!(
                    "`#[{attr}]` goes on an inherent `impl {} {{ ... }}` block: it writes the `{}` impl itself",
                    type_text(&imp.self_ty),
                    path_text(path),
                ),
            ),
        },
        Item::Struct(s) => {
            errors.push(syn::Error::new_spanned(
                &s.ident,
                on_type("struct", &s.ident),
            ));
            return type_target(s.ident, &s.generics);
        }
        Item::Enum(e) => {
            errors.push(syn::Error::new_spanned(&e.ident, on_type("enum", &e.ident)));
            return type_target(e.ident, &e.generics);
        }
        Item::Fn(f) => (
            f.sig.ident.to_token_stream(),
            format!(
                "`#[{attr}]` goes on an `impl` block of the handler type, with `async fn {}(&mut self, {example})` inside it",
                f.sig.ident,
            ),
        ),
        other => (
            leading_token(&other),
            format!("`#[{attr}]` goes on an `impl` block of the handler type"),
        ),
    };
    errors.push(syn::Error::new_spanned(spanned, message));
    Target::Other
}

/// A struct or enum gets a stand-in impl when it has no generics.
fn type_target(ident: syn::Ident, generics: &syn::Generics) -> Target {
    if generics.params.is_empty() {
        Target::Type(ident)
    } else {
        Target::Other
    }
}

/// The first token of an item after its attributes (the whole item's span
/// would underline its body too).
fn leading_token(item: &Item) -> TokenStream {
    let mut iter = item.to_token_stream().into_iter();
    while let Some(tt) = iter.next() {
        match tt {
            // `#[...]`: skip the attribute.
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
    quote!(#path).to_string().replace(' ', "")
}

/// A type as the user would write it, for messages.
fn type_text(ty: &syn::Type) -> String {
    let text = quote!(#ty).to_string();
    text.replace(" < ", "<")
        .replace(" >", ">")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" ,", ",")
        .replace("& ", "&")
}

// ----- Validation -----

/// The first and last tokens of a piece of the user's code: rustc shows an
/// expression spanning from one to the other as covering it all (a single
/// `Span` covers one token on stable Rust).
#[derive(Clone, Copy)]
pub(crate) struct Spans {
    pub(crate) first: Span,
    pub(crate) last: Span,
}

impl Spans {
    /// The first and last tokens of `tokens`.
    pub(crate) fn of(tokens: &dyn ToTokens) -> Spans {
        let stream = tokens.to_token_stream();
        let fallback = stream.span();
        let mut iter = stream.into_iter();
        let first = iter.next().map_or(fallback, |t| t.span());
        let last = iter.last().map_or(first, |t| t.span());
        Spans { first, last }
    }
}

/// The `fn` items of the block.
fn fns(item: &ItemImpl) -> impl Iterator<Item = &ImplItemFn> {
    item.items.iter().filter_map(|i| match i {
        ImplItem::Fn(f) => Some(f),
        _ => None,
    })
}

/// The parameters after the receiver (all of them when there is none).
pub(crate) fn params(f: &ImplItemFn) -> Vec<&PatType> {
    f.sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(t),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// How the signature messages of one attribute are worded.
pub(crate) struct Wording<'a> {
    /// What a handler method is called: `handler method`.
    pub(crate) label: &'a str,
    /// Appended to the messages about `async` and the receiver (empty, or
    /// `: ` and the signature to write).
    pub(crate) hint: &'a str,
    /// The message when the method takes no parameter at all.
    pub(crate) no_inputs: String,
}

/// The checks every handler method passes before its parameters: `async`,
/// not `unsafe`, not generic, `&mut self` first. Returns the `async`
/// keyword's span, or `None` when the method cannot be checked further (not
/// `async`, or no parameters at all).
pub(crate) fn check_header(
    sig: &Signature,
    words: &Wording<'_>,
    errors: &mut Errors,
) -> Option<Span> {
    let name = &sig.ident;
    let Wording {
        label,
        hint,
        no_inputs,
    } = words;
    let Some(asyncness) = sig.asyncness else {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("{label} `{name}` must be an `async fn`{hint}"),
        ));
        return None;
    };
    if let Some(unsafety) = sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            format!("{label} `{name}` cannot be `unsafe`"),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics.params,
            format!("{label} `{name}` cannot have generic parameters"),
        ));
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) if is_mut_self(r) => {}
        Some(FnArg::Receiver(r)) => errors.push(syn::Error::new_spanned(
            r,
            format!("{label} `{name}` must take `&mut self`{hint}"),
        )),
        Some(FnArg::Typed(t)) => errors.push(syn::Error::new_spanned(
            t,
            format!("{label} `{name}` must take `&mut self` first{hint}"),
        )),
        None => {
            errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                no_inputs.clone(),
            ));
            return None;
        }
    }
    Some(asyncness.span)
}

/// The parameters past the first `keep`, as one token stream (where "too
/// many parameters" is reported).
pub(crate) fn extra_params(params: &[&PatType], keep: usize) -> TokenStream {
    params[keep..].iter().map(|p| p.to_token_stream()).collect()
}

/// What every validated handler method gives the expansion to forward to
/// it, with the user's spans for the checks it emits.
pub(crate) struct Callee {
    /// The method's name, with the user's span.
    pub(crate) ident: syn::Ident,
    /// The `async` keyword (where a non-`Send` future is reported).
    pub(crate) async_span: Span,
    /// The return type, or the name when there is none (where a return type
    /// that does not convert is reported).
    pub(crate) ret: Spans,
    /// The (first) parameter's type.
    pub(crate) arg: Spans,
    /// The method's `#[cfg(...)]` attributes, which its forwarding must
    /// share.
    pub(crate) cfgs: Vec<syn::Attribute>,
}

impl Callee {
    /// `f`, whose `async` keyword spans `async_span` and whose first
    /// parameter is `arg`.
    pub(crate) fn new(f: &ImplItemFn, async_span: Span, arg: &PatType) -> Callee {
        let sig = &f.sig;
        Callee {
            ident: sig.ident.clone(),
            async_span,
            ret: match &sig.output {
                ReturnType::Type(_, ty) => Spans::of(ty),
                ReturnType::Default => Spans::of(&sig.ident),
            },
            arg: Spans::of(&arg.ty),
            cfgs: f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .cloned()
                .collect(),
        }
    }
}

/// The names of the block's `fn`s, and each `fn` with what it is for when
/// its name is one of `handlers`.
pub(crate) fn classify<'a, K: Copy>(
    item: &'a ItemImpl,
    handlers: &'a [(&str, K)],
) -> (
    Vec<String>,
    impl Iterator<Item = (&'a ImplItemFn, Option<K>)>,
) {
    let defined = fns(item).map(|f| f.sig.ident.to_string()).collect();
    let classified = fns(item).map(|f| {
        let kind = handlers
            .iter()
            .find(|(n, _)| f.sig.ident == n)
            .map(|&(_, kind)| kind);
        (f, kind)
    });
    (defined, classified)
}

/// Whether a receiver is `&mut self` (or `self: &mut Self`).
fn is_mut_self(r: &syn::Receiver) -> bool {
    match &*r.ty {
        Type::Reference(t) => {
            t.mutability.is_some()
                && matches!(&*t.elem, Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self"))
        }
        _ => false,
    }
}

/// Whether a method could be a handler method under another name: an
/// `async fn` taking `&mut self`.
pub(crate) fn is_async_mut_self(sig: &Signature) -> bool {
    sig.asyncness.is_some()
        && matches!(sig.inputs.first(), Some(FnArg::Receiver(r)) if is_mut_self(r))
}

/// The closest of `candidates` not already `defined`, by `distance`
/// (`None`: too far); ties go to the alphabetically first name.
pub(crate) fn nearest<'a>(
    candidates: impl Iterator<Item = &'a str>,
    defined: &[String],
    distance: impl Fn(&str) -> Option<usize>,
) -> Option<&'a str> {
    candidates
        .filter(|h| !defined.iter().any(|d| d == h))
        .filter_map(|h| distance(h).map(|d| (d, h)))
        .min()
        .map(|(_, h)| h)
}

/// Levenshtein distance between two strings, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

// ----- Expansion -----

/// The whole output: the item, the errors, and the trait impl. A type with
/// the attribute in the wrong place gets `stand_in` for an empty block; an
/// `impl` block is given to `block`, which prepares it and returns the
/// trait impl (told whether there were no errors).
fn output(
    target: Target,
    original: TokenStream,
    errors: Errors,
    stand_in: impl FnOnce(&ItemImpl) -> TokenStream,
    block: impl FnOnce(&mut ItemImpl, bool) -> TokenStream,
) -> TokenStream {
    let mut item = match target {
        Target::Inherent(item) => item,
        Target::Type(ident) => {
            // A handler type with the attribute in the wrong place.
            let item: ItemImpl = syn::parse_quote!(impl #ident {});
            let stand_in = stand_in(&item);
            let errors = errors.into_compile_errors();
            return quote!(#original #errors #stand_in);
        }
        Target::Other => {
            let errors = errors.into_compile_errors();
            return quote!(#original #errors);
        }
    };
    let trait_impl = block(&mut item, errors.is_empty());
    let errors = errors.into_compile_errors();
    quote! {
        #item
        #errors
        #trait_impl
    }
}

/// `::parrot<module>::__private`, or `<crate = "...">::<module>::__private`.
fn private_path(args: &Args, module: Option<&str>) -> TokenStream {
    let module = module.map(|m| {
        let m = syn::Ident::new(m, Span::call_site());
        quote!(::#m)
    });
    match &args.krate {
        Some(path) => quote!(#path #module::__private),
        None => quote!(::parrot #module::__private),
    }
}

/// `impl <trait_name> for <the block's type> { body }`, the trait path
/// spanned on the type, like the type itself: a type that cannot be a
/// handler (not `Send`, not `'static`) is reported once, there.
pub(crate) fn impl_block(
    trait_path: TokenStream,
    item: &ItemImpl,
    body: TokenStream,
) -> TokenStream {
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let self_ty = &item.self_ty;
    let trait_path = respan(trait_path, Spans::of(self_ty).first);
    quote! {
        #[automatically_derived]
        impl #impl_generics #trait_path for #self_ty #where_clause {
            #body
        }
    }
}

/// A forwarding trait method's return type and body: `call_args` passed to
/// `Self::<ident>` (the call spanning the name, so that rustc keeps the
/// arguments' spans), its future awaited and `convert`ed in an `async
/// move` block. The conversion spans the user's return type (a type that
/// does not convert is reported there) and the `async` block the `async`
/// keyword (a future that is not `Send` is reported on the user's `async
/// fn`).
pub(crate) struct Forward<'a> {
    pub(crate) private: &'a TokenStream,
    pub(crate) callee: &'a Callee,
    pub(crate) call_args: TokenStream,
    pub(crate) convert: TokenStream,
    pub(crate) output: TokenStream,
}

impl Forward<'_> {
    /// `(returned type, body)`.
    pub(crate) fn tokens(self) -> (TokenStream, TokenStream) {
        let Forward {
            private,
            callee,
            call_args,
            convert,
            output,
        } = self;
        let Callee {
            ident,
            async_span,
            ret,
            ..
        } = callee;
        let (async_span, ret) = (*async_span, *ret);
        let span = ident.span();
        let call = quote_spanned!(span=> Self::#ident);
        let call_args = group(Delimiter::Parenthesis, call_args, span);
        // `future.await` spans the whole return type.
        let convert = respan(convert, ret.first);
        let future = quote_spanned!(ret.first=> future);
        let await_ = quote_spanned!(ret.last=> await);
        let converted = group(Delimiter::Parenthesis, quote!(#future.#await_), ret.last);
        let async_move = quote_spanned!(async_span=> async move);
        let body = group(Delimiter::Brace, quote!(#convert #converted), async_span);
        let returned = respan(
            quote!(impl #private::Future<Output = #output> + #private::Send),
            async_span,
        );
        let body = quote! {
            let future = #call #call_args;
            #async_move #body
        };
        (returned, body)
    }
}

/// Gives each method of the block for which `is_handler` holds
/// `#[allow(clippy::unused_async, clippy::needless_pass_by_ref_mut)]`: its
/// signature is the trait's contract, not a choice that lint could improve.
pub(crate) fn allow_contract_lints(item: &mut ItemImpl, is_handler: impl Fn(&syn::Ident) -> bool) {
    for impl_item in &mut item.items {
        if let ImplItem::Fn(f) = impl_item
            && is_handler(&f.sig.ident)
        {
            f.attrs.push(syn::parse_quote! {
                #[allow(clippy::unused_async, clippy::needless_pass_by_ref_mut)]
            });
        }
    }
}

/// A delimited group spanning `span`.
pub(crate) fn group(delimiter: Delimiter, tokens: TokenStream, span: Span) -> TokenTree {
    let mut group = Group::new(delimiter, tokens);
    group.set_span(span);
    TokenTree::Group(group)
}

/// `tokens` with every span set to `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
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

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("invte", "invite"), 1);
        assert_eq!(edit_distance("bye_", "bye"), 1);
        assert_eq!(edit_distance("regsiter", "register"), 2);
        assert_eq!(edit_distance("", "ack"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("greet", "invite"), 5);
    }
}
