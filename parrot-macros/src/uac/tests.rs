//! The `#[uac_handler]` pipeline on token streams.

use quote::quote;

fn expand(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
    super::uac_handler2(args, item)
        .to_string()
        .split_whitespace()
        .collect()
}

#[test]
fn forwards_the_methods_written() {
    let out = expand(
        quote!(),
        quote! {
            impl H {
                async fn provisional(&mut self, resp: &Response) {}
                async fn call_established(&mut self, call: &mut Call) -> UacAction { todo!() }
                async fn call_ended(&mut self, end: &parrot::client::CallEnd) {}
                fn helper(&self) -> u32 { 1 }
            }
        },
    );
    assert!(
        out.contains("impl::parrot::client::__private::UacHandlerforH"),
        "{out}"
    );
    assert!(
        out.contains("fnprovisional(&mutself,resp:&::parrot::client::__private::Response)"),
        "{out}"
    );
    assert!(
        out.contains("fncall_established(&mutself,call:&mut::parrot::client::__private::Call)"),
        "{out}"
    );
    assert!(
        out.contains("Self::call_established(self,&mut*call)"),
        "{out}"
    );
    assert!(
        out.contains("fncall_ended(&mutself,end:&::parrot::client::__private::CallEnd)"),
        "{out}"
    );
    assert!(!out.contains("fnsuccess("), "{out}");
    // The block as written, helper included.
    assert!(out.contains("fnhelper(&self)->u32{1}"), "{out}");
    assert!(
        out.contains(
            "#[allow(clippy::unused_async,clippy::needless_pass_by_ref_mut)]asyncfnprovisional"
        ),
        "{out}"
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn crate_argument_changes_every_path() {
    let out = expand(
        quote!(crate = "my_parrot"),
        quote!(impl H { async fn success(&mut self, resp: &Response) {} }),
    );
    assert!(
        out.contains("implmy_parrot::client::__private::UacHandlerforH"),
        "{out}"
    );
    assert!(!out.contains("::parrot::"), "{out}");
}

#[test]
fn errors_keep_the_item_and_add_a_stand_in_impl() {
    let out = expand(
        quote!(),
        quote! {
            impl H {
                fn success(&mut self, resp: &Response) {}
                async fn redirect(&self, resp: &Response) {}
                async fn call_established(&mut self, call: &Call) {}
                async fn client_eror(&mut self, resp: &Response) {}
                async fn handle_global_failure(&mut self, resp: &Response) {}
            }
        },
    );
    assert_eq!(out.matches("compile_error").count(), 5, "{out}");
    assert!(out.contains("mustbean`asyncfn`"), "{out}");
    assert!(out.contains("musttake`&mutself`"), "{out}");
    assert!(out.contains("mustbeamutablereference"), "{out}");
    assert!(out.contains("didyoumean`client_error`?"), "{out}");
    assert!(out.contains("didyoumean`global_failure`?"), "{out}");
    // The stand-in impl has no methods; the block is kept.
    assert!(out.contains("UacHandlerforH{}"), "{out}");
    assert!(
        out.contains("fnsuccess(&mutself,resp:&Response){}"),
        "{out}"
    );
}

#[test]
fn near_misses_need_a_fitting_parameter_and_a_free_name() {
    let out = expand(
        quote!(),
        quote! {
            impl H {
                async fn success(&mut self, resp: &Response) {}
                async fn sucess(&mut self, resp: &Response) {}
                async fn provisonal(&mut self, n: u32) {}
                async fn call_ende(&mut self, call: &mut Call) {}
                async fn greet(&mut self, resp: &Response) {}
            }
        },
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn the_wrong_item_is_reported_on_its_name() {
    let out = expand(
        quote!(),
        quote!(
            struct H;
        ),
    );
    assert!(out.contains("notonthestruct"), "{out}");
    assert!(out.contains("UacHandlerforH{}"), "{out}");
    let out = expand(quote!(), quote!(impl Trait for H {}));
    assert!(out.contains("writesthe`Trait`impl"), "{out}");
    let out = expand(quote!(bogus), quote!(impl H {}));
    assert!(out.contains("unknown`uac_handler`argument`bogus`"), "{out}");
}
