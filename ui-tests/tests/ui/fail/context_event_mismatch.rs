use parrot::prelude::*;

struct Tick;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self, _req: &Request, _cx: &mut Context<u32>) -> StatusCode {
        StatusCode::OK
    }

    async fn event(&mut self, _ev: Tick) {}
}

fn main() {}
