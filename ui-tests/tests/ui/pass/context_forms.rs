// The context parameter in every form it may be written in, in a handler
// without events and in one with events.
use parrot::server as handler;
use parrot::prelude::*;

struct Plain;

#[uas_handler]
impl Plain {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
        cx.ring();
        req.reply(StatusCode::OK)
    }
    async fn bye(&mut self, _req: &Request, cx: &mut Context<'_>) -> StatusCode {
        let _ = cx.in_dialog();
        StatusCode::OK
    }
    async fn info(&mut self, _req: &Request, cx: &mut Context<()>) -> StatusCode {
        let _: DialogHandle<()> = cx.handle();
        StatusCode::OK
    }
    async fn message(&mut self, _req: &Request, _cx: &mut Context<'_, ()>) -> StatusCode {
        StatusCode::OK
    }
    async fn notify(&mut self, _req: &Request, _cx: &mut handler::Context) -> StatusCode {
        StatusCode::OK
    }
    async fn update(
        &mut self,
        _req: &Request,
        _cx: &mut parrot::server::Context<'_, ()>,
    ) -> StatusCode {
        StatusCode::OK
    }
    async fn refer(&mut self, _req: &Request, _cx: &mut Context<'_>) -> StatusCode {
        StatusCode::ACCEPTED
    }
}

#[derive(Debug)]
enum Tick {
    Once,
}

struct WithEvents;

#[uas_handler]
impl WithEvents {
    async fn invite(&mut self, req: &Request, cx: &mut Context) -> Response {
        let _: DialogHandle<Tick> = cx.handle();
        req.reply(StatusCode::OK)
    }
    async fn bye(&mut self, _req: &Request, cx: &mut Context<'_>) -> StatusCode {
        let _: DialogHandle<Tick> = cx.handle();
        StatusCode::OK
    }
    async fn info(&mut self, _req: &Request, cx: &mut Context<Tick>) -> StatusCode {
        let _: DialogHandle<Tick> = cx.handle();
        StatusCode::OK
    }
    async fn message(&mut self, _req: &Request, _cx: &mut Context<'_, Tick>) -> StatusCode {
        StatusCode::OK
    }
    async fn notify(&mut self, _req: &Request, _cx: &mut parrot::server::Context) -> StatusCode {
        StatusCode::OK
    }
    async fn update(&mut self, _req: &Request, _cx: &mut handler::Context<'_, Tick>) -> StatusCode {
        StatusCode::OK
    }
    async fn event(&mut self, ev: Tick, cx: &mut Context) -> Action {
        let _ = (ev, cx.call_id());
        Action::NoReply
    }
}

fn main() {
    fn events<H: UasHandler<Event = E>, E>() {}
    events::<Plain, ()>();
    events::<WithEvents, Tick>();
    println!("{:?}", Tick::Once);
}
