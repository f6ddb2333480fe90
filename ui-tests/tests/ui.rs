//! The `#[uas_handler]` diagnostics and accepted forms, checked with
//! trybuild: `tests/ui/pass` must compile and run, `tests/ui/fail` must fail
//! with exactly the committed `.stderr`.
//!
//! The `.stderr` files are pinned to the workspace toolchain (rustc 1.95);
//! after a toolchain change, regenerate them with
//! `TRYBUILD=overwrite cargo test -p ui-tests` and read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
    // `#[uac_handler]` (parrot::client).
    cases.pass("tests/ui/uac_pass/*.rs");
    cases.compile_fail("tests/ui/uac_fail/*.rs");
}

/// The `crate = "..."` argument in a crate that has `parrot` only under
/// another name (see `renamed/`): it compiled, and the impl is the one
/// written.
#[test]
fn renamed_dependency() {
    assert_eq!(
        renamed_parrot_user::allow(),
        "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK"
    );
}
