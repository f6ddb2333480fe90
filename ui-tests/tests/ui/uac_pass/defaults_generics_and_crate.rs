// An empty handler keeps every default; generic handlers and the
// `crate = "..."` argument work; a handler can be called directly.
use parrot::client::{UacAction, UacHandler, uac_handler};
use parrot::message::{Response, StatusCode};

struct Nothing;

#[uac_handler]
impl Nothing {}

struct Counter<T: Send> {
    count: u32,
    tag: T,
}

#[uac_handler(crate = "parrot")]
impl<T: Send> Counter<T> {
    async fn provisional(&mut self, _resp: &Response) {
        self.count += 1;
    }
}

fn main() {
    let runtime = tokio_free_block_on();
    let mut n = Nothing;
    let mut c = Counter { count: 0, tag: "x" };
    let resp = Response::new(StatusCode::RINGING);
    assert_eq!(
        runtime(Box::pin(UacHandler::provisional(&mut n, &resp))),
        UacAction::Continue
    );
    assert_eq!(
        runtime(Box::pin(UacHandler::provisional(&mut c, &resp))),
        UacAction::Continue
    );
    assert_eq!(c.count, 1);
    assert_eq!(
        runtime(Box::pin(UacHandler::call_ended(
            &mut c,
            &parrot::client::CallEnd::Terminated(String::new())
        ))),
        UacAction::Continue
    );
    let _ = c.tag;
}

/// A minimal executor: the futures here never wait.
fn tokio_free_block_on()
-> impl Fn(std::pin::Pin<Box<dyn std::future::Future<Output = UacAction> + '_>>) -> UacAction {
    |mut f| {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
