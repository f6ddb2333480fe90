//! The pipeline on token streams: what is generated, and what is kept.

use quote::quote;

fn expand(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
    super::uas_handler2(args, item).to_string()
}

/// `s` with all whitespace removed, for comparisons independent of how
/// token streams print.
fn squash(s: &str) -> String {
    s.split_whitespace().collect()
}

#[test]
fn forwards_the_methods_written_and_lists_the_sip_ones() {
    let out = squash(&expand(
        quote!(),
        quote! {
            impl H {
                async fn invite(&mut self, req: &Request) -> Response { todo!() }
                async fn bye(&mut self, req: &Request, cx: &mut Context) -> StatusCode { todo!() }
                async fn init(&mut self, req: &Request) {}
                fn helper(&self) -> u32 { 1 }
            }
        },
    ));
    assert!(
        out.contains("impl::parrot::__private::UasHandlerforH"),
        "{out}"
    );
    assert!(out.contains("typeEvent=();"), "{out}");
    assert!(
        out.contains("letset=set.with(\"INVITE\");letset=set.with(\"BYE\");set"),
        "{out}"
    );
    assert!(!out.contains("\"INIT\""), "{out}");
    assert!(out.contains("fninvite("), "{out}");
    assert!(out.contains("fnbye("), "{out}");
    assert!(out.contains("fninit("), "{out}");
    assert!(!out.contains("fnack("), "{out}");
    // The block as written, helper included; `Context` completed.
    assert!(out.contains("fnhelper(&self)->u32{1}"), "{out}");
    assert!(out.contains("cx:&mutContext<'_>"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn event_type_comes_from_the_event_method() {
    let out = squash(&expand(
        quote!(),
        quote! {
            impl H {
                async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response { todo!() }
                async fn event(&mut self, ev: my::Ev, cx: &mut parrot::Context<'_>) {}
            }
        },
    ));
    assert!(out.contains("typeEvent=my::Ev;"), "{out}");
    assert!(out.contains("cx:&mutContext<'_,my::Ev>"), "{out}");
    assert!(out.contains("cx:&mutparrot::Context<'_,my::Ev>"), "{out}");
    assert!(out.contains("fnevent(&mutself,event:my::Ev,"), "{out}");
}

#[test]
fn crate_argument_changes_every_path() {
    let out = squash(&expand(
        quote!(crate = "my_parrot"),
        quote!(impl H { async fn bye(&mut self, req: &Request) -> StatusCode { todo!() } }),
    ));
    assert!(
        out.contains("implmy_parrot::__private::UasHandlerforH"),
        "{out}"
    );
    assert!(!out.contains("::parrot::"), "{out}");
}

#[test]
fn errors_keep_the_item_and_add_a_stand_in_impl() {
    let out = squash(&expand(
        quote!(),
        quote! {
            impl H {
                fn invite(&mut self, req: &Request) -> Response { todo!() }
                async fn event(&mut self, ev: u8) {}
            }
        },
    ));
    assert!(out.contains("compile_error!"), "{out}");
    assert!(
        out.contains("fninvite(&mutself,req:&Request)->Response"),
        "{out}"
    );
    assert!(out.contains("typeEvent=u8;constMETHODS:::parrot::__private::MethodSet=::parrot::__private::MethodSet::EMPTY;}"), "{out}");
}

#[test]
fn errors_are_all_reported() {
    let out = expand(
        quote!(krate = "x"),
        quote! {
            impl H {
                fn invite(&mut self, req: &Request) -> Response {}
                async fn bye(&self, req: &Request) -> Response {}
                async fn regster(&mut self, req: &Request) {}
            }
        },
    );
    assert_eq!(out.matches("compile_error").count(), 4, "{out}");
}

#[test]
fn misplaced_attribute() {
    let out = squash(&expand(
        quote!(),
        quote!(
            struct S;
        ),
    ));
    assert!(out.contains("compile_error!"), "{out}");
    assert!(out.contains("structS;"), "{out}");
    assert!(
        out.contains("impl::parrot::__private::UasHandlerforS"),
        "{out}"
    );

    let out = squash(&expand(
        quote!(),
        quote!(
            struct G<T>(T);
        ),
    ));
    assert!(out.contains("compile_error!"), "{out}");
    assert!(!out.contains("UasHandlerfor"), "{out}");

    let out = squash(&expand(quote!(), quote!(impl Display for S {})));
    assert!(out.contains("compile_error!"), "{out}");
    assert!(!out.contains("UasHandlerfor"), "{out}");
}

#[test]
fn helpers_near_no_handler_name_pass() {
    let out = expand(
        quote!(),
        quote! {
            impl H {
                async fn greet(&mut self, req: &Request) {}
                async fn invite(&mut self, req: &Request) -> Response { todo!() }
                async fn invite_(&mut self, req: &Request) {}
                fn bye_(&mut self, req: &Request) {}
                async fn ack_(&self, req: &Request) {}
                async fn byte(&mut self, n: u8) {}
            }
        },
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn unit_is_refused_where_a_final_response_is_owed() {
    for ret in [
        quote!(),
        quote!(-> ()),
        quote!(-> (())),
        quote!(-> Result<(), StatusCode>),
        quote!(-> ::core::result::Result<Response, ()>),
        quote!(-> Result<Result<(), StatusCode>, StatusCode>),
        quote!(-> io::Result<()>),
    ] {
        for name in [quote!(invite), quote!(bye), quote!(refer), quote!(other)] {
            let out = expand(
                quote!(),
                quote!(impl H { async fn #name(&mut self, req: &Request) #ret { todo!() } }),
            );
            assert_eq!(out.matches("compile_error").count(), 1, "{out}");
            assert!(out.contains("must answer the request"), "{out}");
        }
    }
}

#[test]
fn unit_is_accepted_where_no_answer_is_owed() {
    let out = expand(
        quote!(),
        quote! {
            impl H {
                async fn init(&mut self, req: &Request) -> Result<(), StatusCode> { todo!() }
                async fn ack(&mut self, req: &Request) {}
                async fn cancel(&mut self, req: &Request) -> () {}
                async fn event(&mut self, ev: u8) -> Result<(), Action> { todo!() }
                async fn invite(&mut self, req: &Request) -> Result<Response, StatusCode> { todo!() }
                async fn bye(&mut self, req: &Request) -> Action { todo!() }
            }
        },
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn unit_is_reported_with_the_other_errors() {
    // Not `async` and no return type: both are reported.
    let out = expand(
        quote!(),
        quote!(impl H { fn invite(&mut self, req: &Request) {} }),
    );
    assert_eq!(out.matches("compile_error").count(), 2, "{out}");
}
