//! `#[uac_handler]`: the client-side counterpart of `#[uas_handler]`, on
//! the same pipeline — `parse` (the arguments and the item), `validate`
//! (which methods are `UacHandler` methods, whether their signatures are
//! callable, which look misspelled; every problem spanned on the user's
//! token) and `expand` (the block as written plus the generated
//! `parrot::client::UacHandler` impl, or a stand-in impl after errors).

mod expand;
mod parse;
mod validate;

use crate::diag::Errors;
use crate::parse::Target;
use proc_macro2::TokenStream;

/// The pipeline, on `proc_macro2` tokens (so that unit tests can run it).
pub(crate) fn uac_handler2(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = parse::args(args, &mut errors);
    let target = parse::item(item.clone(), &mut errors);
    let handler = match &target {
        Target::Inherent(imp) => Some(validate::handler(imp, &mut errors)),
        Target::Type(_) | Target::Other => None,
    };
    expand::output(&args, target, item, handler, errors)
}

#[cfg(test)]
mod tests;
