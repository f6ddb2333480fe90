use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self, _req: &Request) -> String {
        "OK".to_string()
    }
}

fn main() {}
