// The smallest useful handler: answer every INVITE with 200.
use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }
}

fn main() {
    assert_eq!(
        <Answer as UasHandler>::METHODS.allow(),
        "INVITE, ACK, CANCEL, OPTIONS, UPDATE, PRACK"
    );
}
