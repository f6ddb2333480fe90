use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }

    async fn bye(&self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn register(_req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn options() -> StatusCode {
        StatusCode::OK
    }
}

fn main() {}
