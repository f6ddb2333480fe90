use parrot::client::{Call, uac_handler};
use parrot::message::Response;

struct Dialer;

#[uac_handler]
impl Dialer {
    async fn provisonal(&mut self, _resp: &Response) {}

    async fn handle_success(&mut self, _resp: &Response) {}

    async fn ClientError(&mut self, _resp: &parrot::message::Response) {}

    async fn call_establish(&mut self, _call: &mut Call) {}

    // Not flagged: unrelated names, non-async or `&self` methods, another
    // parameter type, and a near name whose method is written.
    async fn greet(&mut self, _resp: &Response) {}
    fn redirct(&mut self, _resp: &Response) {}
    async fn server_eror(&self, _resp: &Response) {}
    async fn global_failur(&mut self, _n: u32) {}
    async fn call_ended(&mut self, _end: &parrot::client::CallEnd) {}
    async fn call_end(&mut self, _end: &parrot::client::CallEnd) {}
}

fn main() {}
