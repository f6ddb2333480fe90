use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invte(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }

    async fn Bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }

    async fn regsiter(&mut self, _req: &Request, _cx: &mut Context) -> StatusCode {
        StatusCode::OK
    }

    async fn ack_(&mut self, _req: &parrot::message::Request) {}

    // Not flagged: helpers with unrelated names, non-async or `&self`
    // methods, and a near name whose handler is already written.
    async fn greet(&mut self, _req: &Request) {}
    fn invit(&mut self, _req: &Request) {}
    async fn optons(&self, _req: &Request) {}
    async fn info(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn infos(&mut self, _req: &Request) {}
}

fn main() {}
