use parrot::prelude::*;

#[uas_handler]
async fn invite(req: &Request) -> Response {
    req.reply(StatusCode::OK)
}

fn main() {}
