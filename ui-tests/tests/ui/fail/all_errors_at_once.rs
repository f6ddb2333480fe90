// Every problem of one invocation is reported in one compile, arguments
// and methods alike, and nothing else.
use parrot::prelude::*;

struct Answer;

#[uas_handler(crate = 1)]
impl Answer {
    fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }

    async fn by(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn register(&self, _req: Request) -> StatusCode {
        StatusCode::OK
    }
}

fn serve<H: UasHandler>(_: H) {}

fn main() {
    serve(Answer);
}
