use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite<T: Default>(&mut self, _req: &Request) -> StatusCode {
        let _ = T::default();
        StatusCode::OK
    }

    async fn bye<'a>(&'a mut self, _req: &'a Request) -> StatusCode {
        StatusCode::OK
    }
}

fn main() {}
