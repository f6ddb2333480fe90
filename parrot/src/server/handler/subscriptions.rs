//! What a handler's [`Context`] does with the dialog's subscriptions
//! (RFC 6665) and with an accepted REFER's implicit one (RFC 3515).

use super::Context;
use crate::dialog::SubscribeRequest;
use crate::message::{HeaderName, Method, NameAddr};
use crate::server::Referral;
use crate::server::error::RequestError;
use crate::server::inbox::CommandSink;
use crate::server::usage::ReferProgress;

impl<E: Send + 'static> Context<'_, E> {
    /// The SUBSCRIBE being handled, as the runtime checked it: its
    /// `Event`, whether it creates, refreshes or ends a subscription (or
    /// fetches the state once), and the duration granted. `None` outside
    /// `subscribe`.
    pub fn subscription(&self) -> Option<&SubscribeRequest> {
        self.session.subs.as_ref()?.current.as_ref()
    }

    /// Sets the state document (`content_type`, `body`) of this dialog's
    /// subscriptions. In `subscribe`, it is what the NOTIFY the runtime
    /// sends once the SUBSCRIBE is accepted carries (RFC 6665 §4.2.1.2);
    /// elsewhere it is what later NOTIFYs carry, e.g. the runtime's last
    /// one when a subscription expires, or the one that
    /// [`activate`](Self::activate)s a pending subscription. Nothing is
    /// sent by this call.
    pub fn set_state(&mut self, content_type: &str, body: impl Into<bytes::Bytes>) {
        self.session.set_state(content_type, body.into());
    }

    /// In `subscribe`: accepts the subscription the SUBSCRIBE creates as
    /// *pending*, its authorization not decided yet (RFC 6665 §4.2.1.3:
    /// the notifier answers at once and asks its owner later). The
    /// handler still returns a 2xx; the runtime's NOTIFY then says
    /// `Subscription-State: pending;expires=N` and carries no body, so
    /// that the subscriber learns nothing of the state (RFC 6665
    /// §4.2.1.2 allows "an empty or neutral body"; §6.2). While it is
    /// pending, [`notify`](Self::notify) sends it nothing, refreshes keep
    /// it pending, and its expiry ends it with `terminated;reason=timeout`
    /// (without the state).
    ///
    /// Decide later, typically in the `event` method on an application
    /// event sent through the dialog's [`handle`](Self::handle):
    /// [`activate`](Self::activate) authorizes it,
    /// [`end_subscriptions`](Self::end_subscriptions)`("rejected")`
    /// refuses it (§4.2.1.3).
    ///
    /// Returns `false`, and changes nothing, outside `subscribe` or when
    /// the SUBSCRIBE refreshes or ends a subscription (a refresh keeps
    /// the subscription's state, pending or active).
    pub fn set_pending(&mut self) -> bool {
        self.session.set_pending()
    }

    /// Authorizes the dialog's pending subscriptions (REFER's aside; see
    /// [`set_pending`](Self::set_pending)): each becomes `active` and gets
    /// a NOTIFY with `Subscription-State: active;expires=<seconds left>`
    /// and the state document ([`set_state`](Self::set_state), which may
    /// be given just before). Returns how many were pending (0 when all
    /// were active already); [`RequestError::NoSubscription`] when the
    /// dialog has none. Like [`notify`](Self::notify), it does not wait
    /// for the NOTIFYs' answers.
    pub fn activate(&mut self) -> Result<usize, RequestError> {
        self.session.activate_subscriptions()
    }

    /// Sends a NOTIFY with this state document on each of the dialog's
    /// active subscriptions (REFER's aside), with `Subscription-State:
    /// active` and the seconds left. A pending subscription gets no
    /// NOTIFY (telling it when the state changes would reveal what it is
    /// not authorized to see, RFC 6665 §6.2); the state is kept for the
    /// NOTIFY that [`activate`](Self::activate)s it.
    ///
    /// Returns how many subscriptions the NOTIFY goes to, without waiting
    /// for their answers: the dialog keeps serving its requests while
    /// they are in flight, and the runtime applies each outcome when it
    /// comes (a subscription whose NOTIFY is refused or times out is
    /// removed, RFC 6665 §4.2.2, and the dialog ends with its last
    /// usage; its [`DialogHandle`](crate::server::DialogHandle) then
    /// closes). A subscription whose previous NOTIFY is still unanswered
    /// gets this state once it is answered; several changes meanwhile
    /// make one NOTIFY with the newest state. [`RequestError::NoSubscription`]
    /// when the dialog has none.
    ///
    /// In `subscribe`, it only sets the state the NOTIFY following the
    /// 2xx carries (returning 0).
    pub async fn notify(
        &mut self,
        content_type: &str,
        body: impl Into<bytes::Bytes>,
    ) -> Result<usize, RequestError> {
        if self
            .session
            .subs
            .as_ref()
            .is_some_and(|s| s.current.is_some())
        {
            // In `subscribe`: the runtime's NOTIFY after the 2xx carries it.
            self.set_state(content_type, body);
            return Ok(0);
        }
        self.set_state(content_type, body);
        self.session.notify_subscriptions(None)
    }

    /// Ends the dialog's subscriptions (REFER's aside) with a last NOTIFY
    /// saying `Subscription-State: terminated;reason=<reason>` (RFC 6665
    /// §4.2.2: e.g. `noresource`, `rejected` for a pending subscription
    /// refused (§4.2.1.3), `deactivated`); a subscription that was never
    /// active gets no state in it. The dialog ends with its last usage,
    /// once the last NOTIFYs are answered (they are not awaited here).
    /// Returns how many were ended.
    pub async fn end_subscriptions(&mut self, reason: &str) -> Result<usize, RequestError> {
        self.session.notify_subscriptions(Some(reason))
    }

    /// The target of the REFER being handled (`Refer-To`, RFC 3515
    /// §2.1), with any headers its URI carries (an attended transfer's
    /// `Replaces`). `None` outside `refer`, or when it does not parse.
    pub fn refer_to(&self) -> Option<NameAddr> {
        let req = self.request.filter(|r| r.method == Method::Refer)?;
        req.headers.get(HeaderName::ReferTo)?.parse().ok()
    }

    /// The call the INVITE being handled replaces (RFC 3891 `Replaces`,
    /// as in an attended transfer or a call pickup), which the runtime
    /// found among this server's confirmed calls; once this INVITE is
    /// answered with a 2xx, the runtime ends that call with BYE. `None`
    /// for any other request.
    pub fn replaces(&self) -> Option<&crate::dialog::DialogId> {
        self.session.replaces.as_deref()
    }

    /// Transfers the peer (RFC 3515, as the referrer): sends REFER in this
    /// dialog with `Refer-To: <target>` and returns the [`Referral`] that
    /// yields the statuses of the call the peer places, from the NOTIFYs
    /// of the REFER's implicit subscription, which the runtime answers.
    /// With `replaces`, an attended transfer: the peer's INVITE will
    /// replace that dialog (RFC 3891; see [`refer_to_value`]).
    ///
    /// [`refer_to_value`]: crate::server::refer_to_value
    pub async fn refer(
        &mut self,
        target: &crate::message::Uri,
        replaces: Option<&crate::dialog::Replaces>,
    ) -> Result<Referral, RequestError> {
        let refer_to = crate::server::refer_to_value(target, replaces);
        self.session.refer(refer_to, true).await
    }

    /// [`refer`](Self::refer) asking for no subscription (`Refer-Sub:
    /// false`, RFC 4488): the returned [`Referral`] yields no statuses
    /// unless the peer ignores the request.
    pub async fn refer_without_subscription(
        &mut self,
        target: &crate::message::Uri,
    ) -> Result<Referral, RequestError> {
        let refer_to = crate::server::refer_to_value(target, None);
        self.session.refer(refer_to, false).await
    }

    /// A handle for reporting the progress of the call the REFER being
    /// handled asks for, once the handler accepts it with a 2xx: see
    /// [`ReferProgress`]. `None` outside `refer`, outside a dialog, or
    /// when the REFER asked for no subscription (`Refer-Sub: false`, RFC
    /// 4488). Without one, the subscription stays at `100 Trying` until it
    /// expires.
    pub fn refer_progress(&mut self) -> Option<ReferProgress> {
        let req = self.request.filter(|r| r.method == Method::Refer)?;
        if crate::dialog::refer_sub_false(req) || !self.session.is_dialog {
            return None;
        }
        let event = crate::dialog::refer_event(req);
        Some(ReferProgress {
            dialog: self.session.id.clone(),
            id: event.id().unwrap_or_default().to_owned(),
            tx: CommandSink::new(self.session.shared.aside.clone()),
            done: false,
        })
    }
}
