use parrot::client::{Call, CallEnd, uac_handler};
use parrot::message::Response;

struct Dialer;

#[uac_handler]
impl Dialer {
    fn provisional(&mut self, _resp: &Response) {}

    async fn success(&self, _resp: &Response) {}

    async fn redirect(&mut self) {}

    async fn client_error(&mut self, _resp: &Response, _extra: u32) {}

    async fn server_error(&mut self, _resp: &mut Response) {}

    async fn global_failure<T>(&mut self, _resp: &Response) {}

    async fn call_established(&mut self, _call: &Call) {}

    async fn call_ended(self: Box<Self>, _end: &CallEnd) {}
}

fn main() {}
