//! Registration (RFC 3261 §10.2): one REGISTER, or a binding kept alive
//! by refreshing it before it expires (§10.2.4) and removed with
//! `Expires: 0` (§10.2.2).

use super::{Client, ClientError, Prepared};
use crate::message::typed::{Contact, Expires, From, MinExpires};
use crate::message::{Method, NameAddr, Response, StatusCode, Uri};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// A binding of a Contact to an address-of-record at a registrar.
pub(crate) struct Binding {
    client: Client,
    registrar: Uri,
    aor: Uri,
    /// The Contact to bind; `None`: this client's own address.
    contact: Option<Uri>,
}

/// One REGISTER's outcome.
pub(crate) struct Sent {
    /// The Contact URI the request carried.
    pub(crate) contact: Uri,
    /// The expiry requested last (raised to Min-Expires after a 423).
    pub(crate) requested: u32,
    /// The final response.
    pub(crate) response: Response,
}

impl Binding {
    pub(crate) fn new(client: &Client, registrar: Uri, aor: Uri, contact: Option<Uri>) -> Binding {
        Binding {
            client: client.clone(),
            registrar,
            aor,
            contact,
        }
    }

    /// Sends REGISTER for `expires` seconds (§10.2): Request-URI = the
    /// registrar, To = From = the address-of-record (§10.2: From "is the
    /// same as the To header field unless the request is a third-party
    /// registration"), the client's registration Call-ID with the next
    /// CSeq, our Contact, `Expires`. A `423 Interval Too Brief` is retried
    /// once with the Min-Expires it names (§10.2.8).
    pub(crate) async fn send(&self, expires: u32) -> Result<Sent, ClientError> {
        let mut requested = expires;
        let mut retried = false;
        loop {
            let sent = self.send_once(requested).await?;
            if sent.response.status == StatusCode::INTERVAL_TOO_BRIEF && !retried {
                retried = true;
                // §10.2.8: "the UA MAY retry the registration with an
                // expiration interval that is greater than or equal to the
                // interval in the Min-Expires header field".
                if let Some(Ok(MinExpires(min))) = sent.response.headers.typed::<MinExpires>()
                    && min > requested
                {
                    info!(
                        min,
                        "423 Interval Too Brief: registering again with Min-Expires"
                    );
                    requested = min;
                    continue;
                }
            }
            return Ok(Sent { requested, ..sent });
        }
    }

    async fn send_once(&self, expires: u32) -> Result<Sent, ClientError> {
        let client = &self.client;
        let cseq = client.next_register_cseq(0);
        let to = NameAddr::new(self.aor.clone());
        let Prepared {
            mut request,
            target,
            fallbacks,
        } = client
            .prepare(
                Method::Register,
                self.registrar.clone(),
                to.clone(),
                Some(client.register_call_id().clone()),
                cseq,
                true,
            )
            .await?;
        let contact = match &self.contact {
            Some(c) => c.clone(),
            None => client.contact_for(&target, super::is_sips(&request.uri))?,
        };
        let h = &mut request.headers;
        if let Some(from) = h.from_header().map(|f| f.into_owned()) {
            let mut addr = to;
            if let Some(name) = from.addr.display_name() {
                addr.set_display(Some(&name));
            }
            let mut aor_from = From::new(addr);
            if let Some(tag) = from.tag() {
                aor_from.set_tag(crate::message::Text::from(tag.to_owned()));
            }
            h.set_typed(&aor_from);
        }
        h.set_typed(&Contact::new(NameAddr::new(contact.clone())));
        h.push_typed(&Expires(expires));
        debug!(registrar = %self.registrar, aor = %self.aor, expires, "sending REGISTER");
        let (sent, response) = client
            .transact(Prepared {
                request,
                target,
                fallbacks,
            })
            .await;
        // A resubmission with credentials used a higher CSeq: the next
        // REGISTER must go above it (§10.2).
        if let Some(c) = sent.headers.cseq() {
            client.next_register_cseq(c.seq);
        }
        Ok(Sent {
            contact,
            requested: expires,
            response,
        })
    }
}

/// The expiry a 2xx to REGISTER grants our Contact (§10.2.4, §10.3 step
/// 8): the `expires` parameter of the Contact matching ours, else the
/// Expires header, else what we asked for.
pub(crate) fn granted(response: &Response, contact: &Uri, requested: u32) -> u32 {
    let ours = response
        .headers
        .typed_all::<Contact>()
        .filter_map(Result::ok)
        .find(|c| c.addr().is_some_and(|a| a.uri().equivalent(contact)));
    if let Some(e) = ours.as_ref().and_then(Contact::expires) {
        return e;
    }
    match response.headers.typed::<Expires>() {
        Some(Ok(Expires(e))) => e,
        _ => requested,
    }
}

/// When to refresh a binding granted for `granted` seconds: at half of
/// it, and not sooner than one second from now.
pub(crate) fn refresh_after(granted: u32) -> Duration {
    Duration::from_millis(u64::from(granted) * 500).max(Duration::from_secs(1))
}

/// When to try again after a refresh failed: half the requested expiry,
/// between 1 and 30 seconds.
fn retry_after(requested: u32) -> Duration {
    Duration::from_millis(u64::from(requested) * 500)
        .clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// The state of a [`Registration`], as its refresh task last saw it.
#[derive(Debug, Clone)]
struct State {
    response: Response,
    granted: u32,
    registered: bool,
    refreshes: u32,
}

/// A binding kept alive by [`Client::register_and_refresh`].
///
/// A task re-registers at half the granted expiry (same Call-ID, next
/// CSeq, §10.2.4); a failed refresh is tried again after a short delay.
/// [`Registration::unregister`] removes the binding (`Expires: 0`,
/// §10.2.2); dropping the handle only stops refreshing, and the registrar
/// lets the binding expire.
pub struct Registration {
    binding: Arc<Binding>,
    state: watch::Receiver<State>,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("Registration")
            .field("aor", &self.binding.aor.to_string())
            .field("registered", &s.registered)
            .field("expires", &s.granted)
            .field("refreshes", &s.refreshes)
            .finish()
    }
}

impl Registration {
    pub(crate) async fn start(binding: Binding, expires: u32) -> Result<Registration, ClientError> {
        let sent = binding.send(expires).await?;
        if !sent.response.status.is_success() {
            return Err(ClientError::Rejected(Box::new(sent.response)));
        }
        let granted = granted(&sent.response, &sent.contact, sent.requested);
        info!(aor = %binding.aor, granted, "registered");
        let (tx, state) = watch::channel(State {
            response: sent.response,
            granted,
            registered: true,
            refreshes: 0,
        });
        let binding = Arc::new(binding);
        let task = tokio::spawn(refresh(binding.clone(), tx, sent.requested, granted));
        Ok(Registration {
            binding,
            state,
            task,
        })
    }

    /// The expiry the registrar granted last.
    pub fn expires(&self) -> Duration {
        Duration::from_secs(u64::from(self.state.borrow().granted))
    }

    /// The final response to the last REGISTER (the first, or the last
    /// refresh).
    pub fn last_response(&self) -> Response {
        self.state.borrow().response.clone()
    }

    /// Whether the last REGISTER succeeded with a non-zero expiry.
    pub fn is_registered(&self) -> bool {
        self.state.borrow().registered
    }

    /// How many refreshes succeeded.
    pub fn refreshes(&self) -> u32 {
        self.state.borrow().refreshes
    }

    /// Waits for the next refresh attempt and returns its final response.
    pub async fn refreshed(&mut self) -> Option<Response> {
        self.state.changed().await.ok()?;
        Some(self.state.borrow_and_update().response.clone())
    }

    /// Stops refreshing and removes the binding: REGISTER with
    /// `Expires: 0` (§10.2.2). Returns its final response.
    pub async fn unregister(self) -> Result<Response, ClientError> {
        self.task.abort();
        Ok(self.binding.send(0).await?.response)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn refresh(
    binding: Arc<Binding>,
    state: watch::Sender<State>,
    mut requested: u32,
    granted: u32,
) {
    let mut wait = refresh_after(granted);
    loop {
        tokio::time::sleep(wait).await;
        match binding.send(requested).await {
            Ok(sent) if sent.response.status.is_success() => {
                requested = sent.requested;
                let granted = self::granted(&sent.response, &sent.contact, requested);
                debug!(aor = %binding.aor, granted, "registration refreshed");
                state.send_modify(|s| {
                    s.response = sent.response;
                    s.granted = granted;
                    s.registered = granted > 0;
                    s.refreshes += 1;
                });
                wait = if granted > 0 {
                    refresh_after(granted)
                } else {
                    retry_after(requested)
                };
            }
            Ok(sent) => {
                warn!(aor = %binding.aor, status = %sent.response.status, "registration refresh refused");
                requested = sent.requested;
                state.send_modify(|s| {
                    s.response = sent.response;
                    s.registered = false;
                });
                wait = retry_after(requested);
            }
            Err(e) => {
                warn!(aor = %binding.aor, error = %e, "registration refresh not sent");
                state.send_modify(|s| s.registered = false);
                wait = retry_after(requested);
            }
        }
    }
}
