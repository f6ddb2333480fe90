//! The INVITE until its final response (RFC 3261 §13.2.2): provisional
//! responses passed up (and PRACKed, RFC 3262), one digest challenge and
//! one `422` answered by a resubmission, the next server after a failure
//! (RFC 3263 §4.3), and CANCEL (§9.1).

use super::super::request;
use super::super::{Prepared, is_challenge};
use super::{Accepted, CallError, Cancel, Command, Task, Update};
use crate::endpoint::{ClientEvent, ClientTransaction};
use crate::message::{Request, Response, StatusCode};
use crate::time::sleep_until;
use tokio::time::Instant;
use tracing::{debug, info, warn};

impl Task {
    /// The INVITE for the next server after ours failed with `status`
    /// (RFC 3263 §4.3), if there is one; the task's target moves on.
    fn fail_over(&mut self, status: StatusCode) -> Option<Request> {
        let p = Prepared {
            request: self.invite.clone(),
            target: self.target,
            fallbacks: std::mem::take(&mut self.fallbacks),
        };
        let next = self.client.fail_over(p, status)?;
        self.target = next.target;
        self.fallbacks = next.fallbacks;
        Some(next.request)
    }

    pub(super) async fn run(mut self) {
        if let Some(accepted) = self.calling().await {
            self.established(accepted).await;
        }
    }

    pub(super) fn fail(&self, error: CallError) {
        debug!(%error, "call failed");
        let _ = self.updates.send(Update::Failed(error));
    }

    async fn start_transaction(&self) -> Option<ClientTransaction> {
        match self
            .client
            .endpoint()
            .request(self.invite.clone(), self.target)
            .await
        {
            Ok(tx) => Some(tx),
            Err(e) => {
                warn!(error = %e, "cannot start the INVITE transaction");
                None
            }
        }
    }

    /// The INVITE until its final response (§13.2.2). `Some` with the 2xx.
    async fn calling(&mut self) -> Option<Accepted> {
        let Some(mut tx) = self.start_transaction().await else {
            self.fail(unreachable(&self.invite));
            return None;
        };
        let mut provisional = false;
        let mut cancel = Cancel::No;
        let mut challenged = false;
        let mut too_small = false;
        loop {
            let deadline = match cancel {
                Cancel::Sent(at) => Some(at),
                _ => None,
            };
            tokio::select! {
                ev = tx.next() => match ev {
                    Some(ClientEvent::Response(r)) => {
                        if !request::acceptable(&r) {
                            debug!(status = %r.status, "response with several Via values discarded (§8.1.3.3)");
                            continue;
                        }
                        if r.status.is_provisional() {
                            provisional = true;
                            if cancel == Cancel::Waiting {
                                cancel = self.send_cancel();
                            }
                            // RFC 3262 §4: a new reliable one is
                            // acknowledged; a repeated one goes no further.
                            if self.early.on_provisional(&self.client, &self.invite, &self.target, &r) {
                                let _ = self.updates.send(Update::Provisional(r));
                            }
                        } else if r.status.is_success() {
                            return Some(Accepted { ok: r, tx, cancelled: cancel != Cancel::No });
                        } else {
                            // §22.2, §22.3: answer one challenge; RFC 4028
                            // §7.3: and one 422. Either way with a new CSeq
                            // and the same Call-ID, From tag and To.
                            let next = if cancel != Cancel::No {
                                None
                            } else if is_challenge(&r) && !challenged {
                                challenged = true;
                                self.client.authorize(&self.invite, &r)
                            } else if r.status == StatusCode::SESSION_INTERVAL_TOO_SMALL && !too_small {
                                too_small = true;
                                self.interval_too_small(&r)
                            } else if r.status == StatusCode::SERVICE_UNAVAILABLE && !provisional {
                                // RFC 3263 §4.3: the next server.
                                self.fail_over(r.status)
                            } else {
                                None
                            };
                            if let Some(next) = next {
                                info!(status = %r.status, "INVITE refused; resubmitting it");
                                self.invite = next;
                                self.early.reset();
                                match self.start_transaction().await {
                                    Some(t) => {
                                        tx = t;
                                        provisional = false;
                                        continue;
                                    }
                                    None => {
                                        self.fail(unreachable(&self.invite));
                                        return None;
                                    }
                                }
                            }
                            let error = if cancel == Cancel::No {
                                CallError::Rejected(Box::new(r))
                            } else {
                                CallError::Cancelled(Box::new(r))
                            };
                            self.fail(error);
                            return None;
                        }
                    }
                    Some(ClientEvent::TransportError) | Some(ClientEvent::Timeout(_)) | None => {
                        let failed = if matches!(ev, Some(ClientEvent::TransportError)) {
                            unreachable(&self.invite)
                        } else {
                            timeout(&self.invite)
                        };
                        // RFC 3263 §4.3: a server that does not answer
                        // gives way to the next one.
                        if !provisional
                            && cancel == Cancel::No
                            && let Some(next) = self.fail_over(failed.status().unwrap_or(StatusCode::REQUEST_TIMEOUT))
                        {
                            self.invite = next;
                            self.early.reset();
                            if let Some(t) = self.start_transaction().await {
                                tx = t;
                                continue;
                            }
                        }
                        self.fail(failed);
                        return None;
                    }
                },
                cmd = self.commands.recv(), if self.commands_open => {
                    let command = match cmd {
                        Some(c) => c,
                        None => {
                            // The PendingCall is gone: nobody wants the call.
                            self.commands_open = false;
                            Command::Cancel
                        }
                    };
                    match command {
                        Command::Cancel | Command::Hangup => {
                            if cancel == Cancel::No {
                                cancel = if provisional { self.send_cancel() } else { Cancel::Waiting };
                            }
                        }
                        Command::Bye(reply) | Command::Update(_, reply) | Command::Request(_, reply) => {
                            let _ = reply.send(Err(CallError::NotEstablished));
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    // §9.1: "If there is no final response for the original
                    // request in 64*T1 seconds ..., the client SHOULD then
                    // consider the original transaction cancelled".
                    info!("no final response 64*T1 after CANCEL; giving up");
                    self.fail(CallError::Cancelled(Box::new(
                        self.invite.reply(StatusCode::REQUEST_TIMEOUT),
                    )));
                    return None;
                }
            }
        }
    }

    /// The INVITE to resend after `422 Session Interval Too Small` (RFC
    /// 4028 §7.3): Session-Expires and Min-SE raised to the 422's Min-SE,
    /// a new CSeq (§22.2's rule for a resubmission), the same Call-ID,
    /// From tag and To. `None` if the 422 has no usable Min-SE.
    fn interval_too_small(&mut self, r: &Response) -> Option<Request> {
        let current = self.timer_config.unwrap_or_default();
        let Some(config) = crate::dialog::uac_retry_config(r, &current) else {
            warn!("422 without a usable Min-SE: not retried");
            return None;
        };
        info!(
            interval = config.interval.as_secs(),
            "session interval too small; asking for the callee's Min-SE (RFC 4028 §7.3)"
        );
        let mut next = self.invite.clone();
        crate::dialog::uac_prepare(&mut next, &config, None);
        let next = request::resubmit(&next)?;
        // The refreshes use the raised Min-SE too (§7.3: the largest seen).
        self.timer_config = Some(config);
        Some(next)
    }

    /// Sends the CANCEL of the current INVITE in its own transaction,
    /// to the INVITE's destination (§9.1).
    fn send_cancel(&self) -> Cancel {
        let deadline = Instant::now() + self.client.timers().timer_b();
        let Some(cancel) = crate::transaction::cancel_request(&self.invite) else {
            return Cancel::Sent(deadline);
        };
        info!("sending CANCEL");
        let client = self.client.clone();
        let target = self.target;
        tokio::spawn(async move {
            let resp = client.one_transaction(&cancel, target).await;
            debug!(status = %resp.status, "CANCEL answered");
        });
        Cancel::Sent(deadline)
    }
}

fn timeout(invite: &Request) -> CallError {
    CallError::Timeout(Box::new(invite.reply(StatusCode::REQUEST_TIMEOUT)))
}

fn unreachable(invite: &Request) -> CallError {
    CallError::Unreachable(Box::new(invite.reply(StatusCode::SERVICE_UNAVAILABLE)))
}
