use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self, _req: &String) -> StatusCode {
        StatusCode::OK
    }
}

fn main() {}
