// `init` returning `()` or `Result<(), E>` where `E` converts into an action.
use parrot::prelude::*;

struct Guarded {
    calls: u32,
}

#[uas_handler]
impl Guarded {
    async fn init(&mut self, req: &Request) -> Result<(), StatusCode> {
        if req.uri.to_string().contains("blocked") {
            return Err(StatusCode::FORBIDDEN);
        }
        self.calls += 1;
        Ok(())
    }

    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

struct Announced;

#[uas_handler]
impl Announced {
    async fn init(&mut self, _req: &Request, cx: &mut Context) {
        cx.ring();
    }
}

struct Refusing;

#[uas_handler]
impl Refusing {
    async fn init(&mut self, req: &Request) -> Result<(), Response> {
        Err(req.reply(StatusCode::SERVICE_UNAVAILABLE))
    }
}

fn main() {
    let _ = Guarded { calls: 0 }.calls;
    assert_eq!(
        <Announced as UasHandler>::METHODS,
        parrot::server::MethodSet::EMPTY
    );
    assert_eq!(<Refusing as UasHandler>::METHODS.allow(), "OPTIONS");
}
