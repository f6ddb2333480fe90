// `crate = "..."`: parrot reached through a re-export.
mod framework {
    pub use parrot as sip;
}

use parrot::prelude::{Request, Response, StatusCode};

struct ViaReexport;

#[parrot::uas_handler(crate = "framework::sip")]
impl ViaReexport {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

struct ViaAbsolutePath;

#[parrot::uas_handler(crate = "::parrot")]
impl ViaAbsolutePath {
    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

fn main() {
    use parrot::server::UasHandler;
    assert_eq!(
        <ViaReexport as UasHandler>::METHODS.allow(),
        "INVITE, ACK, CANCEL, OPTIONS, UPDATE, PRACK"
    );
    assert_eq!(
        <ViaAbsolutePath as UasHandler>::METHODS.allow(),
        "BYE, OPTIONS"
    );
}
