//! A handler in a crate where `parrot` is a renamed dependency: `::parrot`
//! does not resolve here, so this compiles only if the macro's
//! `crate = "my_parrot"` argument is honoured.

use my_parrot::prelude::*;

/// A handler answering INVITE and BYE.
pub struct Renamed;

#[uas_handler(crate = "my_parrot")]
impl Renamed {
    async fn invite(
        &mut self,
        req: &Request,
        cx: &mut Context,
    ) -> Result<Response, my_parrot::server::ProvisionalError> {
        cx.ring()?;
        Ok(req.reply(StatusCode::OK))
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

/// The `Allow` value of [`Renamed`].
pub fn allow() -> String {
    <Renamed as UasHandler>::METHODS.allow()
}
