//! `#[uac_handler]`: the client-side counterpart of `#[uas_handler]`, on
//! the same pipeline ([`crate::common`]) — parsing (the arguments and the
//! item, worded for this attribute), `validate`
//! (which methods are `UacHandler` methods, whether their signatures are
//! callable, which look misspelled; every problem spanned on the user's
//! token) and `expand` (the block as written plus the generated
//! `parrot::client::UacHandler` impl, or a stand-in impl after errors).

mod expand;
mod validate;

use proc_macro2::TokenStream;

/// The pipeline, on `proc_macro2` tokens (so that unit tests can run it).
pub(crate) fn uac_handler2(args: TokenStream, item: TokenStream) -> TokenStream {
    crate::common::run(&expand::UAC, args, item)
}

#[cfg(test)]
mod tests;
