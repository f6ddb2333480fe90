use parrot::server::{MethodSet, UasHandler};
use parrot::prelude::uas_handler;

struct Manual;

#[uas_handler]
impl UasHandler for Manual {
    type Event = ();
    const METHODS: MethodSet = MethodSet::EMPTY;
}

fn main() {}
