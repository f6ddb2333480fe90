//! The UAC side of dialog creation (RFC 3261 §12.1.2): a dialog built from
//! the request we sent and a dialog-creating response we received.
//!
//! A child of the `uas` module so that it fills in the same [`Dialog`]
//! state; everything else (in-dialog requests, §12.2.1.1; checking the
//! peer's requests, §12.2.2; BYE, §15) is shared with the UAS side.

use super::{Dialog, DialogError, Side};
#[cfg(doc)]
use crate::dialog::response::creates_dialog;
use crate::message::{Request, Response};

impl Dialog {
    /// The dialog created by `response`, received for `request`, which we
    /// sent outside any dialog (§12.1.2):
    ///
    /// * the local tag is the From tag of the request, the remote tag the
    ///   To tag of the response (empty if the peer sent none, §12.1.2:
    ///   "the remote tag MUST be set to null");
    /// * "The route set MUST be set to the list of URIs in the
    ///   Record-Route header field from the response, taken in reverse
    ///   order and preserving all URI parameters";
    /// * "The remote target MUST be set to the URI from the Contact header
    ///   field of the response" (a 1xx without Contact keeps the
    ///   Request-URI until the 2xx brings one; a 2xx without Contact is an
    ///   error);
    /// * "The local sequence number MUST be set to the value of the
    ///   sequence number in the CSeq header field of the request. The
    ///   remote sequence number MUST be empty";
    /// * "The local URI MUST be set to the URI in the From field, and the
    ///   remote URI MUST be set to the URI in the To field";
    /// * secure if the request was sent over TLS to a SIPS Request-URI;
    /// * Early for a 1xx (101–199), Confirmed for a 2xx (§12.1). An early
    ///   dialog is replaced by the one its 2xx creates (§13.2.2.4: "the
    ///   route set for the dialog MUST be recomputed based on the 2xx").
    ///
    /// The request must be an INVITE or SUBSCRIBE without a To tag, with a
    /// From tag; the response must match its Call-ID and CSeq and create a
    /// dialog ([`creates_dialog`]).
    pub fn new_uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        Dialog::create(Side::Uac, request, response, None)
    }
}
