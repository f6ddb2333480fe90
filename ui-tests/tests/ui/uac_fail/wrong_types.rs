use parrot::client::uac_handler;
use parrot::message::Response;

struct Dialer;

#[uac_handler]
impl Dialer {
    async fn success(&mut self, _resp: &Response) -> String {
        "answered".to_string()
    }

    async fn call_established(&mut self, _call: &mut Response) {}
}

fn main() {}
