//! Compile-pass and compile-fail tests for the parrot macros.
//!
//! The tests are in `tests/ui.rs` (run with `cargo test -p ui-tests`):
//!
//! - `tests/ui/pass/*.rs` must compile and run: the forms `#[uas_handler]`
//!   accepts (the context parameter in every spelling, events, `init`,
//!   return types, generics, `#[cfg]`, the `crate = "..."` argument);
//! - `tests/ui/fail/*.rs` must fail with exactly the committed `.stderr`:
//!   one clear error per mistake, on the user's own token;
//! - `renamed/` is a crate that has `parrot` only under another name, so
//!   that it compiles only if `crate = "my_parrot"` is honoured.
