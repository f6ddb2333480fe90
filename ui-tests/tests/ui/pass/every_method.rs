// Every handler method name; `METHODS` lists the SIP methods written.
use parrot::prelude::*;

#[derive(Default)]
struct Everything;

#[uas_handler]
impl Everything {
    async fn init(&mut self, _req: &Request) {}
    async fn invite(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn ack(&mut self, _req: &Request) {}
    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn cancel(&mut self, _req: &Request) {}
    async fn options(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn register(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn message(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn info(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn subscribe(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn notify(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn publish(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn update(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn prack(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn refer(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn other(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
    async fn event(&mut self, _ev: ()) {}
}

fn main() {
    assert_eq!(
        <Everything as UasHandler>::METHODS.allow(),
        "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE, INFO, SUBSCRIBE, NOTIFY, PUBLISH, UPDATE, PRACK, REFER"
    );
}
