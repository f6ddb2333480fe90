// A method that owes its request a final response cannot return `()`
// (written or implied, or on either side of a `Result`): the runtime would
// answer `500`. The handler is still usable, so nothing else is reported.
use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self, _req: &Request) {}

    async fn bye(&mut self, _req: &Request, _cx: &mut Context) -> () {}

    async fn register(&mut self, _req: &Request) -> Result<(), StatusCode> {
        Ok(())
    }

    async fn message(&mut self, req: &Request) -> Result<Response, ()> {
        Ok(req.reply(StatusCode::OK))
    }

    async fn other(&mut self, _req: &Request) -> parrot::handler::Action {
        Action::NoReply
    }

    // Owing no answer, these may return `()`.
    async fn ack(&mut self, _req: &Request) {}

    async fn cancel(&mut self, _req: &Request) -> () {}
}

fn serve<H: UasHandler>(_: H) {}

fn main() {
    serve(Answer);
}
