use parrot::prelude::*;

#[uas_handler]
struct Answer;

impl Answer {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

// The struct is still a `UasHandler`: no follow-on error here.
fn serve<H: UasHandler>(_: H) {}

fn main() {
    serve(Answer);
}
