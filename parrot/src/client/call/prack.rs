//! Reliable provisional responses on the caller's side (RFC 3262 §4): each
//! new reliable 1xx is acknowledged with a PRACK sent in the early dialog
//! it created; retransmissions and responses out of order are dropped.

use super::super::request::push_via;
use super::super::{Client, Prepared};
use crate::dialog::{Dialog, Reception, ReliableReceiver};
use crate::message::typed::RAck;
use crate::message::{Method, Request, Response};
use crate::transport::Target;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tracing::{Instrument, debug, info, warn};

/// An early dialog (§12.1.2: one per To tag of the provisional responses)
/// in which PRACKs went out.
struct Early {
    dialog: Dialog,
    /// The highest CSeq number a PRACK of this dialog was sent with: a
    /// PRACK resubmitted with credentials takes one more than the dialog
    /// gave it (§22.2), so the dialog alone does not know it.
    sent: Arc<AtomicU32>,
}

/// The caller's side of RFC 3262 for the current INVITE transaction.
#[derive(Default)]
pub(super) struct EarlyDialogs {
    receiver: ReliableReceiver,
    early: Vec<Early>,
}

impl EarlyDialogs {
    /// Forgets everything: a new INVITE transaction (a resubmission with
    /// credentials) numbers its reliable responses afresh (RFC 3262 §3),
    /// and the non-2xx final response ended the early dialogs (§12.3).
    pub(super) fn reset(&mut self) {
        *self = EarlyDialogs::default();
    }

    /// Takes provisional response `resp` to `invite` (sent to `target`):
    /// a new reliable one is acknowledged with a PRACK (RFC 3262 §4).
    /// Returns whether to pass it up to the application: not for a
    /// retransmission or one out of order, which "MUST NOT be acknowledged
    /// with a PRACK, and MUST NOT be processed further" (§4).
    pub(super) fn on_provisional(
        &mut self,
        client: &Client,
        invite: &Request,
        target: &Target,
        resp: &Response,
    ) -> bool {
        let Some(seq) = invite.headers.cseq().map(|c| c.seq) else {
            return true;
        };
        match self.receiver.receive(resp, seq) {
            Reception::Unreliable => true,
            Reception::Discard => {
                debug!(status = %resp.status, "reliable provisional response retransmitted or out of order: dropped (RFC 3262 §4)");
                false
            }
            Reception::New(rack) => {
                self.send_prack(client, invite, target, resp, rack);
                true
            }
        }
    }

    /// The next local sequence number the dialog of To tag `tag` must
    /// continue from: that of its last PRACK, if one was sent.
    pub(super) fn local_seq(&self, tag: &str) -> Option<u32> {
        self.early
            .iter()
            .find(|e| e.dialog.id().remote_tag.as_str() == tag)
            .map(|e| e.dialog.local_seq().max(e.sent.load(Ordering::Relaxed)))
    }

    /// Builds the PRACK for `resp` in its early dialog and sends it in a
    /// client transaction of its own, in the background, so that the
    /// INVITE's responses keep being read.
    fn send_prack(
        &mut self,
        client: &Client,
        invite: &Request,
        target: &Target,
        resp: &Response,
        rack: RAck,
    ) {
        let tag = resp.headers.to_tag().unwrap_or_default();
        let i = match self
            .early
            .iter()
            .position(|e| e.dialog.id().remote_tag.as_str() == tag.as_str())
        {
            Some(i) => i,
            None => match Dialog::new_uac(invite, resp) {
                Ok(dialog) => {
                    self.early.push(Early {
                        sent: Arc::new(AtomicU32::new(dialog.local_seq())),
                        dialog,
                    });
                    self.early.len() - 1
                }
                Err(e) => {
                    warn!(error = %e, status = %resp.status, "the reliable provisional response makes no usable early dialog: no PRACK");
                    return;
                }
            },
        };
        if invite.body.is_empty() && resp.headers.content_is_sdp() && !resp.body.is_empty() {
            // RFC 3262 §5: the answer to an offer in a reliable 1xx belongs
            // in the PRACK; we have none to give.
            warn!(
                "the reliable provisional response carries an SDP offer; the PRACK goes without an answer (not implemented)"
            );
        }
        let early = &mut self.early[i];
        // §4: "The PRACK request MUST contain an RAck header field"; it is
        // sent "within the dialog associated with the provisional
        // response" (§7.2), hence with the early dialog's next CSeq.
        let dr = match early.dialog.create_request(Method::Prack, None, None) {
            Ok(dr) => dr,
            Err(e) => {
                warn!(error = %e, "cannot build the PRACK");
                return;
            }
        };
        let mut request = dr.request;
        request.headers.push_typed(&rack);
        let next_hop = dr.next_hop;
        let sent = early.sent.clone();
        let client = client.clone();
        let protocol = target.protocol;
        let task = async move {
            let target = match client.resolve_in_dialog(&next_hop, protocol).await {
                Ok(t) => t,
                Err(e) => {
                    warn!(error = %e, next_hop = %next_hop, "cannot route the PRACK");
                    return;
                }
            };
            match client.via_for(&target) {
                Ok(via) => push_via(&mut request, &via),
                Err(e) => {
                    warn!(error = %e, "cannot send the PRACK");
                    return;
                }
            }
            info!(rack = %rack, to = %target.addr, "sending PRACK");
            let (last, resp) = client.transact(Prepared::to(request, target)).await;
            if let Some(c) = last.headers.cseq() {
                sent.fetch_max(c.seq, Ordering::Relaxed);
            }
            debug!(status = %resp.status, rack = %rack, "PRACK answered");
        };
        tokio::spawn(task.instrument(tracing::Span::current()));
    }
}
