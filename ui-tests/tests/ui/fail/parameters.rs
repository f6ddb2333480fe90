use parrot::prelude::*;

struct Answer;

#[uas_handler]
impl Answer {
    async fn invite(&mut self) -> StatusCode {
        StatusCode::OK
    }

    async fn bye(&mut self, req: &Request, cx: &mut Context, extra: u32) -> StatusCode {
        let _ = (req, cx, extra);
        StatusCode::OK
    }

    async fn register(&mut self, req: Request) -> StatusCode {
        let _ = req;
        StatusCode::OK
    }

    async fn message(&mut self, _req: &mut Request) -> StatusCode {
        StatusCode::OK
    }

    async fn info(&mut self, _req: &Request, _cx: Context) -> StatusCode {
        StatusCode::OK
    }

    async fn event(&mut self) {}
}

fn main() {}
