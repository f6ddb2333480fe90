//! The core: routes every server event to the session that owns it.
//!
//! A request with a To tag belongs to a dialog (RFC 3261 §12.2.2) and goes
//! to that dialog's session, in arrival order; an unknown dialog gets
//! `481`. A new INVITE, SUBSCRIBE or REFER starts a dialog session with a fresh
//! handler value; any other out-of-dialog request gets a one-shot session
//! with its own value. A session runs as a task while it has work; an idle
//! dialog is kept here as data and woken by its next request or event.

use super::admission::{Admission, LossFeedback, OverloadConfig, ServerStats, ShedLog};
use super::dialog_table::DialogTable;
use super::handler::UasHandler;
use super::inbox::{Aside, DialogCommand, Inbox, ProxiedDialog};
use super::polled::{self, PolledSessions, Report};
use super::refusals::UasPolicy;
use super::relay::{self, Order};
use super::session::{self, Exit, Parked};
use super::session_state::Shared;
use super::{Factory, catch};
use crate::dialog::DialogId;
use crate::endpoint::{Endpoint, QueueProbe, ServerEvent, ServerEvents};
use crate::keyed::KeyedMap;
use crate::memory::{Trim, shrink_map};
use crate::message::{Method, Request, Response, StatusCode, Text};
use crate::transaction::{TimerConfig, TransactionId};
use crate::transport::Origin;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, warn};

/// Where the requests the server forwards go.
#[derive(Clone)]
pub(crate) struct Routing {
    /// Finds the servers of a URI (RFC 3263); one for every shard, so
    /// that they share what failed (§4.3).
    pub(crate) locator: Arc<crate::locate::Locator>,
    /// The proxy every forwarded request goes through, if any.
    pub(crate) outbound_proxy: Option<crate::message::Uri>,
    /// The location service proxy targets are looked up in, if any.
    pub(crate) location: Option<crate::registrar::Registrar>,
    /// The RTP port pairs of the calls' media.
    pub(crate) media_ports: Arc<crate::media::ports::PortAllocator>,
}

/// Bounds of the core.
#[derive(Clone)]
pub(crate) struct Limits {
    pub(crate) max_dialogs: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) overload: OverloadConfig,
    /// Hands freed memory back after a peak.
    pub(crate) release_memory: fn(),
}

/// How often the core gives memory back after a peak and logs its shed
/// summary: often enough that what a peak's end frees is handed back
/// within seconds, not left resident until a later sweep (a sweep with
/// nothing to give back is a few length checks).
const SWEEP: Duration = Duration::from_secs(2);

/// How often the load is looked at while shedding.
const RECHECK: Duration = Duration::from_millis(100);

/// Every this many passes, the core's select starts at a random branch
/// rather than at the event queue (see `Core::run`).
const FAIR_TURN: u32 = 16;

/// A dialog as the core holds it.
enum Slot<H: UasHandler> {
    /// Its session task is running; its inbox.
    Running {
        inbox: mpsc::UnboundedSender<Inbox<H::Event>>,
        /// The INVITE transaction that created it, while it may still be
        /// cancelled (a key of `Core::invites`).
        invite: Option<TransactionId>,
        /// Whether its call is known to be confirmed (its ACK came, or it
        /// parked with no 2xx awaiting one): what an INVITE with
        /// `Replaces` needs (RFC 3891 §3).
        confirmed: bool,
        /// Whether an INVITE created it.
        call: bool,
    },
    /// Idle: its whole state (with its entry in `Core::wakeups` if its
    /// session timer runs).
    Parked(Box<Parked<H>>),
}

pub(crate) struct Core<H: UasHandler> {
    endpoint: Endpoint,
    events: ServerEvents,
    factory: Factory<H>,
    limits: Limits,
    shared: Arc<Shared<H::Event>>,
    /// Dialogs by dialog id (local tag = our To tag).
    dialogs: DialogTable<Slot<H>>,
    /// Pending INVITE transactions, to deliver their CANCEL notification.
    invites: KeyedMap<TransactionId, DialogId>,
    /// Application events sent through dialog handles, what the runtime
    /// asks of dialogs (REFER progress reports, ending a replaced call),
    /// dialogs we proxied, and the shutdown signal.
    aside: mpsc::UnboundedReceiver<Aside<H::Event>>,
    /// Session tasks report here when they end or park.
    done_tx: mpsc::UnboundedSender<Report<Exit<H>>>,
    done_rx: mpsc::UnboundedReceiver<Report<Exit<H>>>,
    /// Live sessions (dialogs, parked or not, and one-shot requests).
    live: usize,
    /// Dialogs we proxied, by (Call-ID, tags in order).
    proxied: KeyedMap<(Text, Text, Text), ProxiedDialog>,
    draining: bool,
    /// Whether to take new requests, from the load.
    admission: Admission,
    /// The wait of events in `events`.
    probe: QueueProbe,
    shed_log: ShedLog,
    stats: ServerStats,
    /// When to give memory back after a peak.
    trim: Trim,
    /// The overload feedback for peers that ask (RFC 7339).
    feedback: LossFeedback,
    /// New requests that start work taken on so far.
    admitted: u64,
    /// When parked dialogs' session timers need them (RFC 4028), in
    /// order; a numbered key so that two dialogs may share an instant.
    /// Only parked dialogs have an entry: waking one removes it. The
    /// value is the dialog's hash in `dialogs`, where the parked dialog
    /// with this key is found (a copy of its id would take 96 bytes).
    wakeups: BTreeMap<(Instant, u64), u64>,
    wakeup_seq: u64,
    /// Whether the core polls the sessions itself (on the current-thread
    /// scheduler; see `Core::start_session`).
    inline: bool,
    /// The sessions it polls that wait.
    polled: PolledSessions<Exit<H>>,
    /// An empty session inbox no one else holds, kept from a session that
    /// parked for the next one to start (see [`Core::keep_inbox`]).
    spare_inbox: Option<InboxPair<H::Event>>,
}

/// A session inbox: the sender the core routes with and the receiver.
type InboxPair<E> = (
    mpsc::UnboundedSender<Inbox<E>>,
    mpsc::UnboundedReceiver<Inbox<E>>,
);

/// Everything a core is made of but its endpoint: what each shard of a
/// server builds its own core from.
pub(crate) struct CoreParts<H: UasHandler> {
    pub(crate) factory: Factory<H>,
    pub(crate) limits: Limits,
    pub(crate) timers: TimerConfig,
    pub(crate) policy: UasPolicy,
    pub(crate) routing: Routing,
}

impl<H: UasHandler> Clone for CoreParts<H> {
    fn clone(&self) -> Self {
        CoreParts {
            factory: self.factory.clone(),
            limits: self.limits.clone(),
            timers: self.timers,
            policy: self.policy.clone(),
            routing: self.routing.clone(),
        }
    }
}

impl<H: UasHandler> CoreParts<H> {
    /// A core over `endpoint`.
    pub(crate) fn build(self, endpoint: Endpoint, events: ServerEvents) -> Core<H> {
        Core::new(
            endpoint,
            events,
            self.factory,
            self.limits,
            self.timers,
            self.policy,
            self.routing,
        )
    }
}

impl<H: UasHandler> Core<H> {
    fn new(
        endpoint: Endpoint,
        events: ServerEvents,
        factory: Factory<H>,
        limits: Limits,
        timers: TimerConfig,
        policy: UasPolicy,
        routing: Routing,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (aside_tx, aside) = mpsc::unbounded_channel();
        let locator = routing.locator;
        // Responses whose connection is gone find their sent-by host by
        // RFC 3263 §5 with the same resolver as requests.
        endpoint.transport().set_sent_by_resolver(locator.clone());
        Core {
            shared: Arc::new(Shared {
                endpoint: endpoint.clone(),
                timers,
                aside: aside_tx,
                routable: Default::default(),
                contacts: Default::default(),
                policy,
                locator,
                outbound_proxy: routing.outbound_proxy,
                location: routing.location,
                referrals: Default::default(),
                media_ports: routing.media_ports,
            }),
            aside,
            proxied: KeyedMap::default(),
            endpoint,
            events,
            factory,
            dialogs: DialogTable::default(),
            invites: KeyedMap::default(),
            done_tx,
            done_rx,
            live: 0,
            draining: false,
            shed_log: ShedLog::new(limits.overload.log_interval),
            admission: Admission::new(limits.overload),
            limits,
            probe: QueueProbe::default(),
            stats: ServerStats::default(),
            trim: Trim::default(),
            feedback: LossFeedback::default(),
            admitted: 0,
            wakeups: BTreeMap::new(),
            wakeup_seq: 0,
            inline: false,
            polled: PolledSessions::default(),
            spare_inbox: None,
        }
    }

    /// The server's overload counters.
    pub(crate) fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Where to send [`Aside::Stop`] to end [`Core::run`] gracefully.
    pub(crate) fn stopper(&self) -> mpsc::UnboundedSender<Aside<H::Event>> {
        self.shared.aside.clone()
    }

    /// Runs until [`Aside::Stop`] (see [`Core::stopper`]), then until the
    /// live work has finished or the shutdown timeout has passed.
    pub(crate) async fn run(mut self) {
        self.inline = tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::CurrentThread;
        let mut recheck = tokio::time::interval(RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One sleep for the parked dialogs' timers and the sweep, reset
        // only when the earliest wake-up changes (a fresh one per event
        // would be registered with the timer and dropped again each time).
        let mut next_sweep = Instant::now() + SWEEP;
        let wake = tokio::time::sleep_until(next_sweep);
        tokio::pin!(wake);
        let mut armed = next_sweep;
        // Nearly every wake-up is for the event queue, and a select polls
        // (and registers with) each branch it passes: the biased select
        // takes the event queue first. Every FAIR_TURN-th pass starts at a
        // random branch instead, so that a queue that never empties under
        // load cannot starve the timers or the other queues.
        let mut turn: u32 = 0;
        macro_rules! next {
            ($($bias:tt)*) => { tokio::select! {
                $($bias)*
                ev = self.events.recv() => match ev {
                    Some(ev) => self.event(ev),
                    None => break,
                },
                report = self.polled.next() => self.finished(report),
                // Only session tasks report here: none on the
                // current-thread scheduler, where polling it is waste.
                Some(done) = self.done_rx.recv(), if !self.inline => self.finished(done),
                Some(aside) = self.aside.recv() => match aside {
                    Aside::Event(id, ev) => self.event_for(&id, ev),
                    Aside::Command(id, command) => self.command(&id, command),
                    Aside::Proxied(d) => self.add_proxied(*d),
                    Aside::Stop => {
                        info!(live = self.live, "shutting down: refusing new requests");
                        self.draining = true;
                        break;
                    }
                },
                // While shedding, the requests refused by the endpoint
                // never reach here: look at the load on a timer, so that
                // shedding ends when the load has gone.
                _ = recheck.tick(), if self.admission.shedding() => self.measure(Instant::now()),
                () = &mut wake => {
                    let now = Instant::now();
                    if now >= next_sweep {
                        self.sweep();
                        next_sweep = now + SWEEP;
                    }
                    self.wake_due(now);
                }
            } };
        }
        loop {
            let wakeup = self
                .next_wakeup()
                .map_or(next_sweep, |at| at.min(next_sweep));
            if wakeup != armed || wake.is_elapsed() {
                wake.as_mut().reset(wakeup);
                armed = wakeup;
            }
            turn = turn.wrapping_add(1);
            if turn.is_multiple_of(FAIR_TURN) {
                next!();
            } else {
                next!(biased;);
            }
            self.stats.set_live(self.live, self.dialogs.len());
        }
        // Graceful shutdown: let live dialogs and transactions finish,
        // bounded by the timeout; requests meanwhile get 503.
        let deadline = tokio::time::sleep(self.limits.shutdown_timeout);
        tokio::pin!(deadline);
        // Sessions own every transaction with work outstanding (including
        // the BYEs they send); the rest only absorb retransmissions.
        while self.live > 0 {
            tokio::select! {
                ev = self.events.recv() => match ev {
                    Some(ev) => self.event(ev),
                    None => break,
                },
                report = self.polled.next() => self.finished(report),
                Some(done) = self.done_rx.recv(), if !self.inline => self.finished(done),
                () = &mut deadline => {
                    warn!(live = self.live, "shutdown timeout: stopping with work in progress");
                    break;
                }
                // Parked dialogs' timers still run: a 2xx is retransmitted
                // until its ACK (§13.3.1.4).
                () = tokio::time::sleep(Duration::from_millis(100)) => self.wake_due(Instant::now()),
            }
        }
        self.endpoint.shutdown();
        info!("server stopped");
    }

    /// Gives memory back after a peak: a table far below its capacity
    /// shrinks to twice its length (checked here, every few seconds, not
    /// on every removal). Also logs the shed summary if one is due.
    fn sweep(&mut self) {
        self.dialogs.shrink();
        shrink_map(&mut self.invites);
        shrink_map(&mut self.proxied);
        self.shed_log.flush(Instant::now().into_std());
        // The transaction task shrinks its tables on its own sweep; once
        // the work has fallen well below its peak, the allocator's free
        // pages go back to the system too.
        let live = self.live + self.endpoint.live_transactions();
        if self.trim.passed_peak(live) {
            info!(live, "past a load peak: handing freed memory back");
            (self.limits.release_memory)();
        }
    }

    /// Takes a measure of the load as an event is picked up: how long
    /// events wait here and in the transaction task, and the transactions
    /// in progress. Tells the endpoint when shedding starts or stops, so
    /// that it refuses new requests before making transactions for them.
    fn measure(&mut self, now: Instant) {
        let load = self.endpoint.load();
        let delay = self
            .probe
            .delay(now, self.events.len())
            .max(load.queue_delay);
        let was = self.admission.shedding();
        let shedding = self
            .admission
            .observe(now.into_std(), delay, load.awaiting_tu);
        if shedding != was {
            // Debug only: under a steady overload it toggles many times a
            // second; the shed summary is what the log shows.
            debug!(
                ?delay,
                backlog = load.awaiting_tu,
                "{}",
                if shedding {
                    "overloaded: shedding new requests with 503"
                } else {
                    "load back to normal: taking new requests"
                }
            );
            self.endpoint.set_shedding(shedding);
        }
        // The endpoint's stateless refusals go into the same summary.
        let shed = (load.refused + load.dropped)
            .saturating_sub(self.stats.refused() + self.stats.dropped());
        self.shed_log.shed(now.into_std(), shed);
        self.stats.set(load.refused, load.dropped, shedding);
        if let Some(percent) =
            self.feedback
                .update(now.into_std(), self.admitted, load.refused + load.dropped)
        {
            self.endpoint.transport().set_overload_reduction(percent);
        }
    }

    /// Refuses a new request with `503` and a `Retry-After` (RFC 3261
    /// §21.5.4), counted and summed up in the log, not logged one by one.
    fn refuse(&mut self, id: TransactionId, request: &Request) {
        let resp =
            request.service_unavailable(self.admission.config().retry_after, &crate::random::tag());
        self.endpoint.respond(id, resp);
        self.stats.add_shed();
        self.shed_log.shed(Instant::now().into_std(), 1);
    }

    /// A session's report (polled or a task's): it parked or ended; one
    /// that panicked has ended.
    fn finished(&mut self, (id, exit): Report<Exit<H>>) {
        let exit = exit.unwrap_or(Exit::Ended);
        let Some(id) = id else {
            self.live = self.live.saturating_sub(1);
            return;
        };
        // Its hash names it in the timer table if it parks with a timer.
        let hash = self.dialogs.hash_of(&id);
        let Some(slot) = self.dialogs.get_mut_hashed(hash, &id) else {
            self.live = self.live.saturating_sub(1);
            return;
        };
        // The INVITE transaction kept for its CANCEL notification stays
        // kept while the dialog's 2xx awaits its ACK (a 2xx sent without
        // waiting for its verdict may have lost the race, §9.2); the
        // parked state names it then (`Parked::invite_awaiting_ack`).
        let keep_invite = matches!(&exit, Exit::Parked(state, _) if state.awaiting_ack());
        if let Slot::Running {
            invite: Some(invite),
            ..
        } = slot
            && !keep_invite
        {
            self.invites.remove(invite);
        }
        match exit {
            Exit::Ended => {
                self.dialogs.remove(&id);
                self.live = self.live.saturating_sub(1);
            }
            Exit::Parked(state, mut rx) => match rx.try_recv() {
                // Something arrived while the task was parking: go on.
                Ok(first) => {
                    if let Slot::Running {
                        inbox,
                        invite,
                        confirmed,
                        ..
                    } = slot
                    {
                        *invite = state.invite_awaiting_ack();
                        *confirmed |= !state.awaiting_ack();
                        let inbox = inbox.clone();
                        self.start_session(Some(id), state, first, rx, inbox);
                    }
                }
                Err(_) => {
                    let mut state = state;
                    state.wakeup = state.wake_at().map(|at| {
                        self.wakeup_seq += 1;
                        (at, self.wakeup_seq)
                    });
                    if let Some(key) = state.wakeup {
                        self.wakeups.insert(key, hash);
                    }
                    if let Slot::Running { inbox, .. } =
                        std::mem::replace(slot, Slot::Parked(state))
                    {
                        self.keep_inbox(inbox, rx);
                    }
                }
            },
        }
    }

    /// Keeps the inbox of a session that parked for the next session to
    /// start, when it is empty and its sender here is the last one (the
    /// session's own went with it): then nothing can reach the next
    /// session through it that was meant for this one. A channel costs an
    /// allocation and a block of slots to make, and every call's ACK and
    /// BYE would otherwise make one.
    fn keep_inbox(
        &mut self,
        tx: mpsc::UnboundedSender<Inbox<H::Event>>,
        rx: mpsc::UnboundedReceiver<Inbox<H::Event>>,
    ) {
        if self.spare_inbox.is_none() && tx.strong_count() == 1 && rx.is_empty() && !rx.is_closed()
        {
            self.spare_inbox = Some((tx, rx));
        }
    }

    /// The first parked dialog's timer.
    fn next_wakeup(&self) -> Option<Instant> {
        self.wakeups.first_key_value().map(|((at, _), _)| *at)
    }

    /// Wakes the parked dialogs whose timers are due.
    fn wake_due(&mut self, now: Instant) {
        // Taken out first: a dialog run here at once (`Core::start_session`) may
        // park again with a timer that is due already, which waits for the
        // next pass instead of keeping this one going.
        let mut due = Vec::new();
        while let Some(entry) = self.wakeups.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (key, hash) = entry.remove_entry();
            // The parked dialog that holds this (unique) key; its key is
            // cleared, as `deliver` would when it wakes it.
            let found = self.dialogs.find_by_hash(
                hash,
                |slot| matches!(slot, Slot::Parked(state) if state.wakeup == Some(key)),
            );
            if let Some((id, Slot::Parked(state))) = found {
                state.wakeup = None;
                due.push(id.clone());
            }
        }
        for id in due {
            let _ = self.deliver(&id, Inbox::Timer);
        }
    }

    /// Delivers a command of the runtime; one for an ended dialog is
    /// dropped.
    fn command(&mut self, id: &DialogId, command: DialogCommand) {
        let msg = match command {
            DialogCommand::Refer(report) => Inbox::Refer(report),
            DialogCommand::Replaced => Inbox::Replaced,
        };
        if self.deliver(id, msg).is_some() {
            debug!("command for an ended dialog dropped");
        }
    }

    /// Delivers an application event; one for an ended dialog is dropped.
    fn event_for(&mut self, id: &DialogId, ev: H::Event) {
        if self.deliver(id, Inbox::Event(ev)).is_some() {
            debug!("event for an ended dialog dropped");
        }
    }

    /// Hands `msg` to dialog `id`, waking it if it is parked. Gives the
    /// message back when there is no such dialog (or its task just ended).
    fn deliver(&mut self, id: &DialogId, msg: Inbox<H::Event>) -> Option<Inbox<H::Event>> {
        let Some(slot) = self.dialogs.get_mut(id) else {
            return Some(msg);
        };
        match slot {
            Slot::Running {
                inbox, confirmed, ..
            } => {
                // An ACK delivered to a running session: confirmed from now
                // on (a parked one says so itself).
                *confirmed |= matches!(msg, Inbox::Ack { .. });
                inbox.send(msg).err().map(|e| e.0)
            }
            Slot::Parked(state) => {
                // Woken: its timer entry goes (it is made again when it
                // parks).
                if let Some(key) = state.wakeup.take() {
                    self.wakeups.remove(&key);
                }
                let (tx, rx) = self
                    .spare_inbox
                    .take()
                    .unwrap_or_else(mpsc::unbounded_channel);
                let running = Slot::Running {
                    inbox: tx.clone(),
                    invite: state.invite_awaiting_ack(),
                    confirmed: !state.awaiting_ack(),
                    call: state.is_call(),
                };
                if let Slot::Parked(state) = std::mem::replace(slot, running) {
                    self.start_session(Some(id.clone()), state, msg, rx, tx);
                }
                None
            }
        }
    }

    /// Runs a session. On the current-thread scheduler the core polls it
    /// itself (see [`PolledSessions`]), its first poll at once: a session
    /// that answers and parks (or ends) without waiting costs no task. On
    /// the multi-thread scheduler, where it may run beside the core, it is
    /// a task that reports to `done_rx` when it ends or parks.
    fn start_session(
        &mut self,
        id: Option<DialogId>,
        state: Box<Parked<H>>,
        first: Inbox<H::Event>,
        rx: mpsc::UnboundedReceiver<Inbox<H::Event>>,
        tx: mpsc::UnboundedSender<Inbox<H::Event>>,
    ) {
        let span = tracing::Span::current();
        if self.inline {
            let session = session::boxed(|| session::run(state, first, rx, tx).instrument(span));
            if let Some(report) = self.polled.start(id, session) {
                self.finished(report);
            }
            return;
        }
        // Built inside the task, so the task stores it once.
        let done = self.done_tx.clone();
        tokio::spawn(
            async move {
                let report = polled::caught(id, session::run(state, first, rx, tx)).await;
                let _ = done.send(report);
            }
            .instrument(span),
        );
    }

    fn event(&mut self, ev: ServerEvent) {
        let now = Instant::now();
        self.probe.taken(now, self.events.len());
        self.measure(now);
        match ev {
            ServerEvent::Request {
                id,
                request,
                origin,
            } => self.request(id, request, origin),
            ServerEvent::Ack { request, origin } => {
                // §13.2.2.4 / §17.1.1.3: the ACK for a 2xx belongs to the
                // dialog; one for no dialog is dropped (never answered).
                // One lookup when it is ours: `deliver` gives it back
                // when it is not (or its dialog is ending).
                let undelivered = match DialogId::from_incoming_request(&request) {
                    Some(d) => match self.deliver(&d, Inbox::Ack { request }) {
                        Some(Inbox::Ack { request }) if !self.dialogs.contains_key(&d) => {
                            Some(*request)
                        }
                        Some(_) => {
                            debug!("ACK for an ending dialog dropped");
                            None
                        }
                        None => None,
                    },
                    None => Some(*request),
                };
                if let Some(request) = undelivered
                    && self.proxy_in_dialog(None, request, origin).is_some()
                {
                    debug!("ACK for no dialog dropped");
                }
            }
            ServerEvent::Cancelled { id } => {
                if let Some(d) = self.invites.remove(&id) {
                    self.deliver(&d, Inbox::Cancelled);
                }
            }
            ServerEvent::Timeout { id, timer } => {
                debug!(%id, ?timer, "server transaction timed out");
            }
            ServerEvent::TransportError { id } => {
                warn!(%id, "response could not be delivered");
            }
            ServerEvent::StrayResponse { response } => {
                // §16.7 step 3 / §16.11: a response with our Via on top and
                // no transaction left (e.g. a retransmitted 2xx) is relayed
                // statelessly to the next Via; anything else is dropped.
                let protocol = response
                    .headers
                    .top_via()
                    .and_then(|v| crate::transport::Protocol::from_via(&v.transport));
                let me = protocol.and_then(|p| relay::local(&self.endpoint, p));
                match me.and_then(|me| crate::proxy::strip_our_via(response, &me)) {
                    Some(up) => {
                        let endpoint = self.endpoint.clone();
                        tokio::spawn(async move {
                            if let Err(e) = endpoint.transport().send_response(&up, None).await {
                                debug!(error = %e, "stray response not relayed");
                            }
                        });
                    }
                    None => debug!("response matching no transaction dropped"),
                }
            }
        }
    }

    /// Remembers a dialog we proxied. Entries go when a BYE passes; ones
    /// whose BYE took another path are swept after a day, once the table
    /// is large.
    fn add_proxied(&mut self, d: ProxiedDialog) {
        if self.proxied.len() >= self.limits.max_dialogs {
            let day = Duration::from_secs(24 * 3600);
            self.proxied.retain(|_, d| d.since.elapsed() < day);
        }
        let key = ProxiedDialog::key(&d.call_id, &d.caller_tag, &d.callee_tag);
        self.proxied.insert(key, d);
    }

    /// Forwards a request inside a dialog that is not ours: one routed to
    /// us by a Route header (§16.4), or one of a dialog we proxied. Gives
    /// the request back (`Some`) when neither applies.
    fn proxy_in_dialog(
        &mut self,
        id: Option<TransactionId>,
        request: Request,
        origin: Origin,
    ) -> Option<Request> {
        let me = relay::local(&self.endpoint, origin.protocol);
        let routed_to_us = request
            .headers
            .typed::<crate::message::typed::Route>()
            .and_then(Result::ok)
            .zip(me.as_ref())
            .is_some_and(|(r, me)| me.is(r.addr.uri()));
        let mut order = Order::default();
        let (retarget, hop) = if routed_to_us {
            let mut hop = None;
            if let (Some(c), Some(f), Some(t)) = (
                request.headers.call_id(),
                request.headers.from_tag(),
                request.headers.to_tag(),
            ) {
                let key = ProxiedDialog::key(c, &f, &t);
                if let Some(d) = self.proxied.get_mut(&key) {
                    order = Order::next(d);
                    // The Route leads here, then by the Request-URI; but a
                    // side reached over a flow (a browser's `.invalid`
                    // Contact, RFC 7118 §5) is reached only through it.
                    let side = if f == d.caller_tag {
                        d.callee
                    } else {
                        d.caller
                    };
                    hop = side.flow.is_some().then_some(side);
                }
                if request.method == Method::Bye {
                    self.proxied.remove(&key);
                }
            }
            (None, hop)
        } else {
            let (Some(call_id), Some(from), Some(to)) = (
                request.headers.call_id(),
                request.headers.from_tag(),
                request.headers.to_tag(),
            ) else {
                return Some(request);
            };
            let key = ProxiedDialog::key(call_id, &from, &to);
            let Some(d) = self.proxied.get_mut(&key) else {
                return Some(request);
            };
            order = Order::next(d);
            let from_caller = from == d.caller_tag;
            let hop = if from_caller { d.callee } else { d.caller };
            // A request addressed to us goes to the callee's target.
            let to_us = me.as_ref().is_some_and(|me| me.is(&request.uri));
            let retarget = (from_caller && to_us).then(|| d.callee_uri.clone());
            if request.method == Method::Bye {
                self.proxied.remove(&key);
            }
            (retarget, Some(hop))
        };
        let endpoint = self.endpoint.clone();
        tokio::spawn(relay::forward_in_dialog(
            endpoint, id, origin, request, retarget, hop, order,
        ));
        None
    }

    /// Answers `request` with the refusal §8.2 prescribes before any
    /// handler runs, if one applies (see [`UasPolicy::refusal`]).
    fn refused(&self, id: TransactionId, request: &Request) -> bool {
        match self.shared.policy.refusal(request) {
            Some(resp) => {
                info!(status = %resp.status, reason = %resp.reason, "refused before the handler");
                self.endpoint.respond(id, resp);
                true
            }
            None => false,
        }
    }

    fn request(&mut self, id: TransactionId, request: Box<Request>, origin: Origin) {
        // One span per request, which its dialog's task inherits, so that
        // one call's lines can be picked out by Call-ID; at DEBUG a child
        // span adds the transaction's branch and the peer (formatting them
        // for every request costs ~4% more CPU per call at INFO).
        let span = tracing::info_span!(
            "sip",
            call_id = %request.headers.call_id().map_or("", |c| c.as_str()),
            method = %request.method,
        );
        let detail = tracing::debug_span!(
            parent: &span,
            "tx",
            branch = %request.headers.top_via().as_ref().and_then(|v| v.branch()).unwrap_or(""),
            peer = %origin.source,
            transport = %origin.protocol,
        );
        let _g = span.enter();
        let _d = detail.enter();
        if request.headers.has_to_tag() {
            // §12.2.2: a request inside a dialog.
            let dialog =
                DialogId::from_incoming_request(&request).filter(|d| self.dialogs.contains_key(d));
            match dialog {
                Some(d) => {
                    if self.refused(id, &request) {
                        return;
                    }
                    let msg = Inbox::Request {
                        id,
                        request,
                        origin,
                    };
                    // The dialog's task may have just ended.
                    if let Some(Inbox::Request { id, request, .. }) = self.deliver(&d, msg) {
                        self.endpoint.respond(
                            id,
                            request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                        );
                    }
                }
                None => {
                    let Some(request) = self.proxy_in_dialog(Some(id), *request, origin) else {
                        return;
                    };
                    if !self.routes_unmatched(&request, &origin) {
                        debug!("request for an unknown dialog: 481");
                        self.endpoint.respond(
                            id,
                            request.reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST),
                        );
                        return;
                    }
                    // §16.5: for a resource at this proxy; the handler
                    // routes it like a new request.
                    debug!("in-dialog request for a resource here, no dialog: to the handler");
                    return self.new_request(id, Box::new(request), origin);
                }
            }
            return;
        }
        self.new_request(id, request, origin);
    }

    /// Whether a request inside a dialog that matches none of ours nor
    /// any we proxied goes to the handler rather than getting `481`: a
    /// proxying server's request whose Request-URI is at this server (RFC
    /// 3261 §16.5: its target is found like any other's).
    fn routes_unmatched(&self, request: &Request, origin: &Origin) -> bool {
        !matches!(request.method, Method::Ack | Method::Cancel)
            && self.shared.policy.proxies(&request.method)
            && relay::local(&self.endpoint, origin.protocol).is_some_and(|me| me.is(&request.uri))
    }

    /// The dialog an INVITE with `Replaces` replaces, or its refusal (RFC
    /// 3891 §3): 481 when no call of ours matches (none, one that is not an
    /// INVITE dialog, or an early one: every dialog here is one we did not
    /// initiate), 486 for `early-only` and a confirmed call. A proxied
    /// INVITE's `Replaces` is the callee's business.
    fn replaced(&self, request: &Request) -> Result<Option<DialogId>, Response> {
        if request.headers.has_to_tag() || self.shared.policy.proxies(&Method::Invite) {
            return Ok(None);
        }
        let Some(replaces) = crate::dialog::replaces_of(request)? else {
            return Ok(None);
        };
        let id = replaces.dialog_id();
        let (confirmed, call) = match self.dialogs.get(&id) {
            None => (false, false),
            Some(Slot::Running {
                confirmed, call, ..
            }) => (*confirmed, *call),
            Some(Slot::Parked(p)) => (!p.awaiting_ack(), p.is_call()),
        };
        if !call || !confirmed {
            return Err(request
                .reply(StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
                .reason("Replaced dialog not found"));
        }
        if replaces.early_only {
            return Err(request.reply(StatusCode::BUSY_HERE));
        }
        Ok(Some(id))
    }

    /// A request that starts work: refusals, admission, then a handler.
    fn new_request(&mut self, id: TransactionId, request: Box<Request>, origin: Origin) {
        if self.refused(id, &request) {
            return;
        }
        let replaces = match self.replaced(&request) {
            Ok(r) => r,
            Err(refusal) => {
                info!(status = %refusal.status, reason = %refusal.reason, "INVITE with Replaces refused");
                self.endpoint.respond(id, refusal);
                return;
            }
        };
        // Shutdown or the dialog cap: refuse before making a handler value
        // or dialog state, instead of growing without bound. Overload is
        // shed below (at receipt and in the transaction layer): a request
        // that got this far is in the backlog already, and refusing it now
        // would cost nearly what serving it does.
        if self.draining || self.live >= self.limits.max_dialogs {
            debug!(live = self.live, draining = self.draining, "503");
            self.refuse(id, &request);
            return;
        }
        self.live += 1;
        if request.starts_new_work() {
            self.admitted += 1;
        }
        let handler = match catch::catch_call(|| (self.factory)()) {
            Ok(h) => h,
            Err(msg) => {
                warn!(panic = %msg, "handler factory panicked: 500");
                self.live -= 1;
                self.endpoint
                    .respond(id, request.reply(StatusCode::SERVER_INTERNAL_ERROR));
                return;
            }
        };
        // A request that carries a To tag already (one routed here by
        // `routes_unmatched`) makes no dialog of ours.
        let creates_dialog =
            crate::dialog::can_create_dialog(&request.method) && !request.headers.has_to_tag();
        let local_tag: Text = crate::random::tag();
        let call_id = request.headers.call_id().cloned();
        let from_tag = request.headers.from_tag();
        // A From without a tag (RFC 2543, §12.1.1) makes a dialog with an
        // empty remote tag.
        let is_dialog = creates_dialog && call_id.is_some();
        let dialog_id = DialogId::new(
            call_id.as_deref().unwrap_or(""),
            &local_tag,
            from_tag.as_deref().unwrap_or(""),
        );
        let (inbox_tx, inbox_rx) = self
            .spare_inbox
            .take()
            .unwrap_or_else(mpsc::unbounded_channel);
        let key = if is_dialog {
            let invite = (request.method == Method::Invite).then_some(id);
            if let Some(invite) = invite {
                self.invites.insert(invite, dialog_id.clone());
            }
            self.dialogs.insert(
                dialog_id.clone(),
                Slot::Running {
                    inbox: inbox_tx.clone(),
                    invite,
                    confirmed: false,
                    call: invite.is_some(),
                },
            );
            Some(dialog_id.clone())
        } else {
            None
        };
        let mut state = Parked::new(handler, self.shared.clone(), dialog_id, is_dialog);
        if let Some(old) = replaces {
            state.set_replaces(old);
        }
        let first = Inbox::Request {
            id,
            request,
            origin,
        };
        self.start_session(key, state, first, inbox_rx, inbox_tx);
    }
}
