use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

// The handler is still a `UasHandler`: no follow-on error here.
fn serve<H: UasHandler>(_: H) {}

fn main() {
    serve(Answer);
}
