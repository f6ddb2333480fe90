// A generic handler, the attribute by path, and a crate where nothing of
// parrot is imported and `Result`, `Send` and `Future` are shadowed: the
// expansion names everything by absolute path.
#![allow(dead_code)]

struct Result;
struct Future;
trait Send {}

struct Counter<T> {
    hits: T,
}

#[parrot::uas_handler]
impl<T> Counter<T>
where
    T: core::ops::AddAssign + From<u8> + core::marker::Send + 'static,
{
    async fn invite(&mut self, req: &parrot::message::Request) -> parrot::message::Response {
        self.hits += T::from(1);
        req.reply(parrot::message::StatusCode::OK)
    }

    async fn init(
        &mut self,
        _req: &parrot::message::Request,
    ) -> core::result::Result<(), parrot::message::StatusCode> {
        Ok(())
    }
}

fn main() {
    fn handler<H: parrot::server::UasHandler>() {}
    handler::<Counter<u32>>();
    handler::<Counter<u64>>();
}
