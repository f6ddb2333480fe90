use parrot::client::{UacHandler, uac_handler};

#[uac_handler]
struct Dialer;

struct Other;

#[uac_handler]
impl UacHandler for Other {}

struct Third;

#[uac_handler(crate = 7, mode = "fast")]
impl Third {}

fn needs<H: UacHandler>(_: &H) {}

fn main() {
    // The stand-in impl keeps this quiet.
    needs(&Dialer);
    needs(&Third);
}
