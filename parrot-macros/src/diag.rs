//! Error collection: every problem found is kept and reported together, so
//! one compile shows them all.

use proc_macro2::TokenStream;

/// The errors found so far.
#[derive(Default)]
pub(crate) struct Errors {
    all: Option<syn::Error>,
    count: usize,
}

impl Errors {
    /// Records `error` after those already found.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.count += 1;
        match &mut self.all {
            Some(all) => all.combine(error),
            None => self.all = Some(error),
        }
    }

    /// Whether nothing went wrong.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many errors were recorded.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// One `compile_error!` per error, each spanned where it was found.
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.all
            .map(syn::Error::into_compile_error)
            .unwrap_or_default()
    }
}
