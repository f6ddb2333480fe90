// `()` is a normal return for the methods that owe no answer: `ack` (an
// ACK is never answered), `cancel` (the runtime has answered the CANCEL and
// the INVITE), `event` and `init`; written or implied.
use parrot::prelude::*;

struct Quiet {
    acks: u32,
}

#[uas_handler]
impl Quiet {
    async fn init(&mut self, _req: &Request) {}

    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK)
    }

    async fn ack(&mut self, _req: &Request, _cx: &mut Context<u8>) -> () {
        self.acks += 1;
    }

    async fn cancel(&mut self, _req: &Request) {}

    async fn event(&mut self, _ev: u8) -> () {}
}

struct Results;

#[uas_handler]
impl Results {
    async fn init(&mut self, _req: &Request) -> Result<(), StatusCode> {
        Ok(())
    }

    async fn ack(&mut self, _req: &Request) -> Result<(), Action> {
        Ok(())
    }

    async fn cancel(&mut self, _req: &Request) -> Result<(), ()> {
        Err(())
    }
}

fn main() {
    assert_eq!(
        <Quiet as UasHandler>::METHODS.allow(),
        "INVITE, ACK, CANCEL, OPTIONS, UPDATE, PRACK"
    );
    assert_eq!(
        <Results as UasHandler>::METHODS.allow(),
        "ACK, CANCEL, OPTIONS"
    );
    let _ = Quiet { acks: 0 }.acks;
}
