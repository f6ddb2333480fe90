//! The example servers under test, each started in-process on its own free
//! loopback port (UDP and TCP).

use std::time::Duration;

use examples::answer::AnswerOptions;
use tests::Server;

/// `answer` with the default options: 180 and 200 at once.
pub fn answer() -> Server {
    Server::start("answer", examples::answer::serve)
}

/// `answer` ringing for `ring_delay` between the 180 and the 200.
pub fn answer_ringing(ring_delay: Duration) -> Server {
    Server::start("answer (ringing)", move |listen, shutdown| {
        let options = AnswerOptions {
            ring_delay,
            ..AnswerOptions::default()
        };
        examples::answer::serve_with(listen, shutdown, options)
    })
}

/// `registrar` with the default options (Min-Expires 60).
pub fn registrar() -> Server {
    Server::start("registrar", examples::registrar::serve)
}

/// `im`: text/plain MESSAGEs.
pub fn im() -> Server {
    Server::start("im", examples::im::serve)
}

/// `mwi`: a message-waiting notifier.
pub fn mwi() -> Server {
    Server::start("mwi", examples::mwi::serve)
}

/// `busy`: 486 Busy Here.
pub fn busy() -> Server {
    Server::start("busy", examples::busy::serve)
}
