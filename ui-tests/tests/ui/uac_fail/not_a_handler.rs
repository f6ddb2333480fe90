use parrot::client::{Client, UacHandler};
use parrot::message::Response;

struct Dialer;

impl Dialer {
    async fn success(&mut self, _resp: &Response) {}
}

async fn dial(client: Client) {
    let mut dialer = Dialer;
    let _ = client
        .invite_with("sip:bob@192.0.2.4", "", &mut dialer)
        .await;
}

fn needs<H: UacHandler>(_: &H) {}

fn main() {
    needs(&Dialer);
    let _ = dial;
}
