// Everything in the block is kept as written: helper methods (async or
// not, with names near no handler's), associated consts and functions.
use parrot::prelude::*;

struct Registrar {
    bindings: Vec<String>,
}

#[uas_handler]
impl Registrar {
    const MAX_BINDINGS: usize = 2;

    fn new() -> Self {
        Registrar {
            bindings: Vec::new(),
        }
    }

    fn is_full(&self) -> bool {
        self.bindings.len() >= Self::MAX_BINDINGS
    }

    async fn remember(&mut self, req: &Request) -> bool {
        if self.is_full() {
            return false;
        }
        self.bindings.push(req.uri.to_string());
        true
    }

    // An async `&mut self` helper taking the request, named after nothing.
    async fn authorize(&mut self, _req: &Request) -> Result<(), StatusCode> {
        Ok(())
    }

    async fn register(&mut self, req: &Request) -> Result<Response, StatusCode> {
        self.authorize(req).await?;
        if !self.remember(req).await {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        Ok(req.reply(StatusCode::OK))
    }

    pub fn count(&self) -> usize {
        self.bindings.len()
    }
}

fn main() {
    let r = Registrar::new();
    assert_eq!(r.count(), 0);
    assert!(!r.is_full());
    assert_eq!(Registrar::MAX_BINDINGS, 2);
    assert_eq!(
        <Registrar as UasHandler>::METHODS.allow(),
        "OPTIONS, REGISTER"
    );
    assert_eq!(<Conditional as UasHandler>::METHODS.allow(), "BYE, OPTIONS");
}

// A handler method under `#[cfg]`: forwarded, and listed in `METHODS`, only
// where it exists.
struct Conditional;

#[uas_handler]
impl Conditional {
    #[cfg(any())]
    async fn invite(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    #[cfg(all())]
    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}
