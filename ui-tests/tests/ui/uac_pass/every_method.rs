// Every `UacHandler` method, each return form, a helper kept beside them,
// a `#[cfg]`-gated method, and the handler run through `invite_with`'s
// bound.
use parrot::client::{Call, CallEnd, UacAction, UacHandler, uac_handler};
use parrot::message::Response;

#[derive(Default)]
struct Dialer {
    seen: Vec<u16>,
}

#[uac_handler]
impl Dialer {
    async fn provisional(&mut self, resp: &Response) -> UacAction {
        self.note(resp);
        UacAction::Continue
    }

    async fn success(&mut self, resp: &Response) {
        self.note(resp);
    }

    async fn redirect(&mut self, resp: &parrot::message::Response) -> Result<(), UacAction> {
        self.note(resp);
        Err(UacAction::Cancel)
    }

    async fn client_error(&mut self, resp: &Response) -> Result<UacAction, ()> {
        self.note(resp);
        Ok(UacAction::Continue)
    }

    async fn server_error(&mut self, resp: &Response) {
        self.note(resp);
    }

    async fn global_failure(&mut self, resp: &Response) {
        self.note(resp);
    }

    async fn call_established(&mut self, call: &mut Call) -> UacAction {
        if call.is_active() {
            UacAction::Hangup
        } else {
            UacAction::Continue
        }
    }

    #[cfg(all())]
    async fn call_ended(&mut self, _end: &CallEnd) {}

    fn note(&mut self, resp: &Response) {
        self.seen.push(resp.status.as_u16());
    }
}

fn is_handler<H: UacHandler>(_: &H) {}

fn main() {
    let dialer = Dialer::default();
    is_handler(&dialer);
    assert!(dialer.seen.is_empty());
}
