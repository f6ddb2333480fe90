use parrot::prelude::*;
use std::rc::Rc;

struct Answer;

async fn lookup() {}

#[uas_handler]
impl Answer {
    async fn invite(&mut self, req: &Request) -> Response {
        let cache = Rc::new(1);
        lookup().await;
        let _ = cache;
        req.reply(StatusCode::OK)
    }
}

fn main() {}
