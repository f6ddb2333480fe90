// The SIP methods that have a handler method of their own. This crate
// cannot depend on `parrot` (parrot depends on it), so the list is kept
// here; a unit test of `parrot::message::Method` includes this file and
// checks that it matches `Method::NAMES`, in order. Plain `//` comments
// only: the file is `include!`d there.

/// (handler method name, method token), in `Method::NAMES` order.
pub(crate) const SIP_METHODS: [(&str, &str); 14] = [
    ("invite", "INVITE"),
    ("ack", "ACK"),
    ("bye", "BYE"),
    ("cancel", "CANCEL"),
    ("options", "OPTIONS"),
    ("register", "REGISTER"),
    ("message", "MESSAGE"),
    ("info", "INFO"),
    ("subscribe", "SUBSCRIBE"),
    ("notify", "NOTIFY"),
    ("publish", "PUBLISH"),
    ("update", "UPDATE"),
    ("prack", "PRACK"),
    ("refer", "REFER"),
];
