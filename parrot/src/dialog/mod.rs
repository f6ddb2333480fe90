//! The dialog layer for a UAS (RFC 3261 §12, §13.3, §15) as sans-IO state.
//!
//! Nothing here touches a socket or a clock: a runtime feeds in the
//! requests it receives and the responses it is about to send, and asks
//! for the requests it wants to send; time is passed in as [`Instant`]s.
//!
//! * [`DialogId`]: Call-ID, local tag, remote tag (§12), with
//!   [`DialogId::from_incoming_request`] to find the dialog of an
//!   in-dialog request.
//! * [`prepare_response`]: the §12.1.1 duties of a response that creates a
//!   dialog (To tag, Record-Route copied from the request, Contact), usable
//!   before any [`Dialog`] exists.
//! * [`Dialog`]: the UAS dialog state of §12.1.1 (route set, remote target,
//!   sequence numbers, URIs, secure flag; Early → Confirmed → Terminated),
//!   checking in-dialog requests (§12.2.2), building our own (§12.2.1.1)
//!   and ending with BYE (§15).
//! * [`Retransmit2xx`]: the UAS core's retransmission of a 2xx to INVITE
//!   until the ACK arrives, and the 64·T1 give-up (§13.3.1.4).
//! * [`ReliableProvisionals`] and [`ReliableReceiver`]: reliable
//!   provisional responses and their PRACKs (RFC 3262), UAS and UAC.
//! * Session timers (RFC 4028): [`uas_check`] and [`uas_negotiate`] for a
//!   UAS, [`uac_prepare`], [`uac_negotiated`] and [`uac_retry_config`] for
//!   a UAC, and the [`SessionTimer`] that says when to refresh the session
//!   and when to end it with BYE (§10).
//! * Subscription usages at the notifier (RFC 6665, and REFER's implicit
//!   one, RFC 3515): [`check_subscribe`], [`ExpiresPolicy`] and the
//!   [`Notifier`] state of each subscription; at the subscriber, the
//!   [`Subscriber`] state of each (forked) subscription, with
//!   [`refresh_delay`] and [`sipfrag_status`].
//! * [`Replaces`] (RFC 3891): the dialog a new INVITE replaces.
//! * [`glare_delay`]: the wait before sending again a request refused
//!   with 491 (§14.1).
//! * [`new_tag`] and [`new_branch`]: fresh random To tags and Via
//!   branches for the responses and requests built here.
//!
//! ```
//! use parrot::dialog::{Dialog, DialogId, DialogState};
//! use parrot::message::{Message, StatusCode, Uri, parse_datagram};
//!
//! let invite = "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
//!     Record-Route: <sip:p1.example.com;lr>\r\n\
//!     Max-Forwards: 70\r\n\
//!     To: Bob <sip:bob@biloxi.com>\r\n\
//!     From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
//!     Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
//!     CSeq: 314159 INVITE\r\n\
//!     Contact: <sip:alice@pc33.atlanta.com>\r\n\
//!     Content-Length: 0\r\n\r\n";
//! let Message::Request(invite) = parse_datagram(invite.into()).unwrap() else { panic!() };
//! let contact: Uri = "sip:bob@192.0.2.4".parse().unwrap();
//!
//! // Answer 200 OK: the dialog picks our To tag and completes the response.
//! let mut ok = invite.reply(StatusCode::OK);
//! let mut dialog = Dialog::new_uas(&invite, &ok).unwrap();
//! dialog.prepare_response(&mut ok, &contact);
//! assert_eq!(dialog.state(), DialogState::Confirmed);
//! assert_eq!(ok.headers.to_tag().as_deref(), Some(dialog.id().local_tag.as_str()));
//! assert_eq!(ok.headers.get("record-route").unwrap(), "<sip:p1.example.com;lr>");
//!
//! // Hang up: the BYE follows the route set to the remote target.
//! let bye = dialog.create_request(parrot::message::Method::Bye, None, None).unwrap();
//! assert_eq!(bye.request.uri.to_string(), "sip:alice@pc33.atlanta.com");
//! assert_eq!(bye.next_hop.to_string(), "sip:p1.example.com;lr");
//! assert_eq!(dialog.state(), DialogState::Terminated);
//! # let _ = DialogId::from_incoming_request(&invite);
//! ```
//!
//! [`Instant`]: std::time::Instant

mod glare;
mod id;
mod kept;
mod reliable;
mod replaces;
mod request;
mod response;
mod retransmit;
mod session_timer;
mod state;
mod subscriber;
mod subscription;

#[cfg(test)]
mod tests;

pub use glare::glare_delay;
pub use id::DialogId;
pub use reliable::{
    Acknowledged, NoMatch, Reception, ReliableOutput, ReliableProvisionals, ReliableReceiver,
    TAG_100REL,
};
pub use replaces::{Replaces, TAG_REPLACES, replaces_of};
pub use request::DialogRequest;
pub use response::{
    can_create_dialog, contact_fault, creates_dialog, is_target_refresh, prepare_response,
};
pub(crate) use response::{check_contact, contact_value, prepare_response_with};
pub use retransmit::{Retransmit2xx, Retransmit2xxOutput};
pub use session_timer::{
    Negotiated, SessionTimer, SessionTimerAction, SessionTimerConfig, TAG_TIMER, uac_negotiated,
    uac_prepare, uac_retry_config, uac_retry_interval, uas_check, uas_negotiate,
};
pub use state::{Dialog, DialogError, DialogState, Refusal};
pub use subscriber::{
    Subscriber, SubscriberAction, notify_state, refresh_delay, refresh_ends_subscription,
    sipfrag_status,
};
pub use subscription::{
    ExpiresPolicy, Notifier, REFER_PACKAGE, SIPFRAG, SubscribeKind, SubscribeRequest, check_refer,
    check_subscribe, event_of, refer_event, refer_sub_false, sipfrag,
};
// The identifiers a user of this layer makes itself: a To tag for
// `prepare_response`, a branch for the Via of a `DialogRequest`.
pub use crate::random::{branch as new_branch, tag as new_tag};
