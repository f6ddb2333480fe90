use parrot::prelude::*;

struct Answer;

impl Answer {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

fn serve<H: UasHandler>(_: H) {}

fn main() {
    serve(Answer);
}
