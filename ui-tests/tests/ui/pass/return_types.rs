// Every return type that converts into an action, including
// `Result<Response, StatusCode>` with `?`.
use parrot::prelude::*;

struct Returns;

fn caller(req: &Request) -> Result<String, StatusCode> {
    req.headers
        .get(HeaderName::From)
        .map(|v| v.to_string())
        .ok_or(StatusCode::BAD_REQUEST)
}

#[uas_handler]
impl Returns {
    async fn invite(&mut self, req: &Request) -> Result<Response, StatusCode> {
        let _from = caller(req)?;
        Ok(req.reply(StatusCode::OK))
    }
    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn ack(&mut self, _req: &Request) {}
    async fn cancel(&mut self, _req: &Request) -> () {}
    async fn message(&mut self, _req: &Request) -> Action {
        Action::Stop("done".into())
    }
    async fn options(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
    async fn info(&mut self, _req: &Request) -> Result<StatusCode, Action> {
        Err(Action::NoReply)
    }
    async fn other(&mut self, req: &Request) -> Result<Response, Response> {
        match req.method {
            Method::Extension(_) => Err(req.reply(StatusCode::NOT_IMPLEMENTED)),
            _ => Ok(req.reply(StatusCode::OK)),
        }
    }
}

fn main() {
    assert_eq!(
        <Returns as UasHandler>::METHODS.allow(),
        "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, PRACK"
    );
}
