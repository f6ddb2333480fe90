use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn init(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

fn main() {}
