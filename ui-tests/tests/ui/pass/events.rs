// `type Event` is the type of `event`'s parameter; `()` without `event`.
use parrot::prelude::*;

struct Ping(u32);

struct Pinged {
    seen: u32,
}

#[uas_handler]
impl Pinged {
    async fn invite(&mut self, req: &Request, cx: &mut Context<Ping>) -> Response {
        let handle = cx.handle();
        let _ = handle.send(Ping(1));
        req.reply(StatusCode::OK)
    }

    async fn event(&mut self, ev: Ping) {
        self.seen += ev.0;
    }
}

struct Stopper;

#[uas_handler]
impl Stopper {
    async fn event(&mut self, reason: String, cx: &mut Context<String>) -> Action {
        let _ = cx.bye().await;
        Action::Stop(reason)
    }
}

struct NoEvents;

#[uas_handler]
impl NoEvents {
    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

fn event_type<H: UasHandler<Event = E>, E>() {}

fn main() {
    event_type::<Pinged, Ping>();
    event_type::<Stopper, String>();
    event_type::<NoEvents, ()>();
    // `event` and `init` are not SIP methods.
    assert_eq!(<Stopper as UasHandler>::METHODS.allow(), "OPTIONS");
    let _ = Pinged { seen: 0 }.seen;
}
