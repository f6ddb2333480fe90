//! The open-loop generator: one thread, non-blocking UDP sockets.
//!
//! New calls go out on a fixed schedule whatever the server answers (open
//! loop: a server that slows down gets the same offered load, not less).
//! A call answered with 2xx is ACKed and, after the hold time, ended with a
//! BYE (retransmitted once); OPTIONS probes go out at their own fixed rate.
//! INVITEs are never retransmitted. Every final response to an INVITE is
//! ACKed, so that the server's transaction ends instead of retransmitting.
//!
//! Bounded: the schedule is a finite list of phases, the run stops sending
//! new requests at their end and stops altogether after a grace period;
//! state is kept only for calls and probes still waiting for something.

use std::collections::{HashMap, VecDeque};
use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sip::{self, Addrs, Owner};
use crate::stats::{Phase, Report, Second};

/// One step of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSpec {
    /// Name in the reports.
    pub name: String,
    /// New calls per second (0: only the probes).
    pub rate: u64,
    /// Length in seconds.
    pub seconds: u64,
}

/// A run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server.
    pub target: SocketAddr,
    /// The generator's address (its sockets bind there, any port).
    pub local_ip: IpAddr,
    /// The schedule.
    pub phases: Vec<PhaseSpec>,
    /// Number of sockets (source ports) calls are spread over.
    pub sockets: usize,
    /// Time between the 2xx and the BYE.
    pub hold: Duration,
    /// OPTIONS probes per second, through every phase.
    pub options_rate: u64,
    /// A call without a final response after this long is a timeout.
    pub invite_timeout: Duration,
    /// A BYE or OPTIONS without a final response after this long is lost.
    pub request_timeout: Duration,
    /// When the one BYE retransmission goes out.
    pub bye_retransmit: Duration,
    /// Socket buffer sizes, bytes (capped by the kernel's rmem_max/wmem_max).
    pub buffer: usize,
}

impl Config {
    /// Seconds of the whole schedule.
    pub fn schedule_seconds(&self) -> u64 {
        self.phases.iter().map(|p| p.seconds).sum()
    }

    /// How long the run waits after the schedule for outstanding answers
    /// before it stops for good.
    pub fn grace(&self) -> Duration {
        self.invite_timeout + self.hold + self.request_timeout + Duration::from_secs(1)
    }
}

enum State {
    Inviting,
    Holding {
        to: Box<str>,
        target: Box<str>,
    },
    Byeing {
        sent: Instant,
        retransmitted: bool,
        to: Box<str>,
        target: Box<str>,
    },
}

struct Call {
    phase: usize,
    state: State,
}

/// How far the generator may fall behind its schedule before it gives up
/// on the late INVITEs (counted as skipped): a tenth of a second of calls.
fn backlog_limit(rate: u64) -> u64 {
    (rate / 10).max(64)
}

/// Most INVITEs sent in one turn of the loop, so that receiving keeps up.
const SEND_BATCH: u64 = 256;
/// Most datagrams read from one socket in one turn.
const RECV_BATCH: usize = 64;

struct Run<'a> {
    cfg: &'a Config,
    addrs: Addrs,
    sockets: Vec<UdpSocket>,
    ports: Vec<u16>,
    start: Instant,
    /// Cumulative end of each phase, from the start.
    ends: Vec<Duration>,
    /// Cumulative number of calls each phase offers: call `n` belongs to
    /// the first phase whose figure is above `n`.
    call_ends: Vec<u64>,
    report: Report,
    calls: HashMap<u64, Call>,
    probes: HashMap<u64, (Instant, usize)>,
    invite_deadlines: VecDeque<(Instant, u64)>,
    bye_due: VecDeque<(Instant, u64)>,
    bye_retransmits: VecDeque<(Instant, u64)>,
    bye_deadlines: VecDeque<(Instant, u64)>,
    probe_deadlines: VecDeque<(Instant, u64)>,
    /// INVITEs sent or skipped so far (the next call's number).
    calls_done: u64,
    probes_sent: u64,
    out: Vec<u8>,
}

fn socket(cfg: &Config) -> io::Result<UdpSocket> {
    let domain = Domain::for_address(cfg.target);
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps both at its maximum.
    let _ = s.set_recv_buffer_size(cfg.buffer);
    let _ = s.set_send_buffer_size(cfg.buffer);
    s.bind(&SocketAddr::new(cfg.local_ip, 0).into())?;
    // Connected: plain send/recv, and datagrams from anyone else are
    // dropped by the kernel.
    s.connect(&cfg.target.into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Runs the schedule against the server and returns what it measured.
pub fn run(cfg: &Config) -> io::Result<Report> {
    let sockets = (0..cfg.sockets.max(1))
        .map(|_| socket(cfg))
        .collect::<io::Result<Vec<_>>>()?;
    let ports = sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect::<io::Result<Vec<_>>>()?;
    let mut total = Duration::ZERO;
    let ends = cfg
        .phases
        .iter()
        .map(|p| {
            total += Duration::from_secs(p.seconds);
            total
        })
        .collect();
    let mut offered = 0;
    let call_ends = cfg
        .phases
        .iter()
        .map(|p| {
            offered += p.rate * p.seconds;
            offered
        })
        .collect();
    let seconds = (cfg.schedule_seconds() + cfg.grace().as_secs() + 2) as usize;
    let mut run = Run {
        cfg,
        addrs: Addrs::new(cfg.target, &cfg.local_ip.to_string()),
        sockets,
        ports,
        start: Instant::now(),
        ends,
        call_ends,
        report: Report {
            target: cfg.target.to_string(),
            phases: cfg
                .phases
                .iter()
                .map(|p| Phase {
                    name: p.name.clone(),
                    rate: p.rate,
                    seconds: p.seconds,
                    ..Phase::default()
                })
                .collect(),
            seconds: vec![Second::default(); seconds],
            ..Report::default()
        },
        calls: HashMap::new(),
        probes: HashMap::new(),
        invite_deadlines: VecDeque::new(),
        bye_due: VecDeque::new(),
        bye_retransmits: VecDeque::new(),
        bye_deadlines: VecDeque::new(),
        probe_deadlines: VecDeque::new(),
        calls_done: 0,
        probes_sent: 0,
        out: Vec::with_capacity(1024),
    };
    run.start = Instant::now();
    run.run();
    // The timeline ends with the last second anything happened in.
    let seconds = &mut run.report.seconds;
    let used = seconds.iter().rposition(|s| !s.is_empty());
    seconds.truncate(used.map_or(0, |i| i + 1));
    Ok(run.report)
}

impl Run<'_> {
    fn run(&mut self) {
        let schedule = *self.ends.last().unwrap_or(&Duration::ZERO);
        let stop = self.start + schedule + self.cfg.grace();
        let total = self.call_ends.last().copied().unwrap_or(0);
        loop {
            let now = Instant::now();
            if now >= stop {
                break;
            }
            let elapsed = now - self.start;
            let mut busy = false;
            if elapsed < schedule {
                busy |= self.send_invites(elapsed);
                busy |= self.send_probes(elapsed);
            } else if self.calls_done < total {
                // The last calls, due at the very end of the schedule.
                busy |= self.send_invites(schedule);
            } else if self.calls.is_empty() && self.probes.is_empty() {
                break;
            }
            busy |= self.receive();
            busy |= self.timers(Instant::now());
            if !busy {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        self.give_up();
    }

    /// The phase running `elapsed` into the run (the last one after the end).
    fn phase_at(&self, elapsed: Duration) -> usize {
        self.ends
            .iter()
            .position(|&e| elapsed < e)
            .unwrap_or(self.ends.len().saturating_sub(1))
    }

    fn second(&mut self, at: Instant) -> &mut Second {
        let i = (at.saturating_duration_since(self.start).as_secs() as usize)
            .min(self.report.seconds.len() - 1);
        &mut self.report.seconds[i]
    }

    fn send(&mut self, sock: usize) {
        if self.sockets[sock].send(&self.out).is_err() {
            self.report.send_errors += 1;
        }
    }

    /// The phase that offers call `id` (by the schedule, not by when it
    /// actually goes out).
    fn phase_of_call(&self, id: u64) -> usize {
        self.call_ends
            .partition_point(|&end| end <= id)
            .min(self.call_ends.len() - 1)
    }

    fn send_invites(&mut self, elapsed: Duration) -> bool {
        let due = offered_by(&self.cfg.phases, elapsed);
        let backlog = due.saturating_sub(self.calls_done);
        if backlog == 0 {
            return false;
        }
        let limit = backlog_limit(self.cfg.phases[self.phase_at(elapsed)].rate);
        for _ in limit..backlog {
            let phase = self.phase_of_call(self.calls_done);
            self.report.phases[phase].skipped += 1;
            self.calls_done += 1;
        }
        let now = Instant::now();
        for _ in 0..backlog.min(limit).min(SEND_BATCH) {
            let id = self.calls_done;
            let phase = self.phase_of_call(id);
            self.calls_done += 1;
            let sock = (id % self.sockets.len() as u64) as usize;
            sip::invite(&self.addrs, id, self.ports[sock], &mut self.out);
            self.send(sock);
            self.calls.insert(
                id,
                Call {
                    phase,
                    state: State::Inviting,
                },
            );
            self.invite_deadlines
                .push_back((now + self.cfg.invite_timeout, id));
            self.report.phases[phase].sent += 1;
            self.second(now).sent += 1;
        }
        true
    }

    fn send_probes(&mut self, elapsed: Duration) -> bool {
        let due = (self.cfg.options_rate as u128 * elapsed.as_micros() / 1_000_000) as u64;
        if self.probes_sent >= due {
            return false;
        }
        let now = Instant::now();
        let phase = self.phase_at(elapsed);
        // One per turn: probes are few, and a late one is sent, not skipped.
        let n = self.probes_sent;
        self.probes_sent += 1;
        let sock = (n % self.sockets.len() as u64) as usize;
        sip::options(&self.addrs, n, self.ports[sock], &mut self.out);
        self.send(sock);
        self.probes.insert(n, (now, phase));
        self.probe_deadlines
            .push_back((now + self.cfg.request_timeout, n));
        true
    }

    fn receive(&mut self) -> bool {
        let mut buf = [0u8; 65_536];
        let mut any = false;
        for sock in 0..self.sockets.len() {
            for _ in 0..RECV_BATCH {
                match self.sockets[sock].recv(&mut buf) {
                    Ok(n) => {
                        any = true;
                        self.on_datagram(sock, &buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // E.g. ECONNREFUSED from an ICMP error for an earlier
                    // send: nothing to read, try the next socket.
                    Err(_) => break,
                }
            }
        }
        any
    }

    fn on_datagram(&mut self, sock: usize, d: &[u8]) {
        let Some(r) = sip::scan(d) else {
            self.report.unparsed += 1;
            return;
        };
        let now = Instant::now();
        match sip::call_id_of(r.call_id) {
            Some(Owner::Probe(n)) if r.status >= 200 => match self.probes.remove(&n) {
                Some((sent, phase)) => {
                    let us = (now - sent).as_micros() as u64;
                    self.report.phases[phase].options.record(us);
                    let s = self.second(now);
                    s.opt_ok += 1;
                    s.opt_max = s.opt_max.max(us);
                }
                None => self.report.stray += 1,
            },
            Some(Owner::Call(id)) if r.status >= 200 => {
                let to = String::from_utf8_lossy(r.to).into_owned();
                let contact = r.contact.map(|c| String::from_utf8_lossy(c).into_owned());
                match r.method {
                    b"INVITE" => self.on_invite_final(sock, id, r.status, &to, contact, now),
                    b"BYE" => self.on_bye_final(id, now),
                    _ => self.report.stray += 1,
                }
            }
            Some(_) => {} // provisional
            None => self.report.stray += 1,
        }
    }

    fn on_invite_final(
        &mut self,
        sock: usize,
        id: u64,
        status: u16,
        to: &str,
        contact: Option<String>,
        now: Instant,
    ) {
        let ok = (200..300).contains(&status);
        // Every final response is ACKed, retransmissions too (the ACK
        // needs only the response): 2xx to the remote target, a new
        // transaction; non-2xx within the INVITE transaction.
        let server_uri = self.addrs.server_uri();
        let target = contact.unwrap_or(server_uri);
        sip::ack(
            &self.addrs,
            id,
            self.ports[sock],
            to,
            ok.then_some(&*target),
            &mut self.out,
        );
        self.send(sock);
        let Some(call) = self.calls.get_mut(&id) else {
            self.report.stray += 1;
            return;
        };
        if !matches!(call.state, State::Inviting) {
            return; // a retransmitted final response
        }
        let phase = call.phase;
        let p = &mut self.report.phases[phase];
        if ok {
            p.ok += 1;
            call.state = State::Holding {
                to: to.into(),
                target: target.into(),
            };
            self.bye_due.push_back((now + self.cfg.hold, id));
            self.second(now).ok += 1;
        } else {
            if status == 503 {
                p.rejected += 1;
                self.second(now).rejected += 1;
            } else {
                p.other += 1;
                self.second(now).other += 1;
            }
            self.calls.remove(&id);
        }
    }

    fn on_bye_final(&mut self, id: u64, now: Instant) {
        let Some(Call {
            phase,
            state: State::Byeing { sent, .. },
            ..
        }) = self.calls.get(&id)
        else {
            self.report.stray += 1;
            return;
        };
        let (phase, us) = (*phase, (now - *sent).as_micros() as u64);
        self.calls.remove(&id);
        self.report.phases[phase].bye.record(us);
        let s = self.second(now);
        s.bye_ok += 1;
        s.bye_max = s.bye_max.max(us);
    }

    fn send_bye(&mut self, id: u64) {
        let sock = (id % self.sockets.len() as u64) as usize;
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let (State::Holding { to, target } | State::Byeing { to, target, .. }) = &call.state else {
            return;
        };
        sip::bye(&self.addrs, id, self.ports[sock], to, target, &mut self.out);
        self.send(sock);
    }

    /// Due timers, in order; each queue is in deadline order because every
    /// entry of a queue waits the same time.
    fn timers(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some(id) = pop_due(&mut self.invite_deadlines, now) {
            any = true;
            if let Some(Call {
                phase,
                state: State::Inviting,
                ..
            }) = self.calls.get(&id)
            {
                let phase = *phase;
                self.calls.remove(&id);
                self.report.phases[phase].timeouts += 1;
                self.second(now).timeouts += 1;
            }
        }
        while let Some(id) = pop_due(&mut self.bye_due, now) {
            any = true;
            self.send_bye(id);
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            let mut started = false;
            call.state = match std::mem::replace(&mut call.state, State::Inviting) {
                State::Holding { to, target } => {
                    started = true;
                    State::Byeing {
                        sent: now,
                        retransmitted: false,
                        to,
                        target,
                    }
                }
                other => other, // not waiting for its BYE: left alone
            };
            if started {
                self.bye_retransmits
                    .push_back((now + self.cfg.bye_retransmit, id));
                self.bye_deadlines
                    .push_back((now + self.cfg.request_timeout, id));
            }
        }
        while let Some(id) = pop_due(&mut self.bye_retransmits, now) {
            any = true;
            if let Some(Call {
                state: State::Byeing { retransmitted, .. },
                ..
            }) = self.calls.get_mut(&id)
                && !*retransmitted
            {
                *retransmitted = true;
                self.send_bye(id);
            }
        }
        while let Some(id) = pop_due(&mut self.bye_deadlines, now) {
            any = true;
            if let Some(Call {
                phase,
                state: State::Byeing { .. },
                ..
            }) = self.calls.get(&id)
            {
                let phase = *phase;
                self.calls.remove(&id);
                self.report.phases[phase].bye.lost += 1;
                self.second(now).bye_lost += 1;
            }
        }
        while let Some(n) = pop_due(&mut self.probe_deadlines, now) {
            any = true;
            if let Some((_, phase)) = self.probes.remove(&n) {
                self.report.phases[phase].options.lost += 1;
                self.second(now).opt_lost += 1;
            }
        }
        any
    }

    /// At the hard stop: whatever is still waiting counts as lost.
    fn give_up(&mut self) {
        for (_, call) in self.calls.drain() {
            let p = &mut self.report.phases[call.phase];
            match call.state {
                State::Inviting => p.timeouts += 1,
                State::Holding { .. } | State::Byeing { .. } => p.bye.lost += 1,
            }
        }
        for (_, (_, phase)) in self.probes.drain() {
            self.report.phases[phase].options.lost += 1;
        }
    }
}

/// Calls the schedule has offered by `elapsed` into the run.
fn offered_by(phases: &[PhaseSpec], elapsed: Duration) -> u64 {
    let mut begin = Duration::ZERO;
    let mut n = 0;
    for p in phases {
        let end = begin + Duration::from_secs(p.seconds);
        let t = elapsed.min(end).saturating_sub(begin);
        n += (u128::from(p.rate) * t.as_micros() / 1_000_000) as u64;
        begin = end;
    }
    n
}

fn pop_due(q: &mut VecDeque<(Instant, u64)>, now: Instant) -> Option<u64> {
    match q.front() {
        Some(&(at, id)) if at <= now => {
            q.pop_front();
            Some(id)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_limit_is_a_tenth_of_a_second() {
        assert_eq!(backlog_limit(36_000), 3_600);
        assert_eq!(backlog_limit(10), 64);
    }

    #[test]
    fn schedule_offers_rate_times_time_per_phase() {
        let phases = [
            PhaseSpec {
                name: "a".into(),
                rate: 1000,
                seconds: 2,
            },
            PhaseSpec {
                name: "b".into(),
                rate: 0,
                seconds: 1,
            },
            PhaseSpec {
                name: "c".into(),
                rate: 10,
                seconds: 1,
            },
        ];
        let at = |ms| offered_by(&phases, Duration::from_millis(ms));
        assert_eq!(at(0), 0);
        assert_eq!(at(1), 1);
        assert_eq!(at(1500), 1500);
        assert_eq!(at(2500), 2000);
        assert_eq!(at(3500), 2005);
        assert_eq!(at(99_000), 2010);
    }

    #[test]
    fn due_entries_pop_in_order() {
        let t0 = Instant::now();
        let mut q = VecDeque::from([(t0, 1), (t0 + Duration::from_secs(1), 2)]);
        assert_eq!(pop_due(&mut q, t0), Some(1));
        assert_eq!(pop_due(&mut q, t0), None);
        assert_eq!(pop_due(&mut q, t0 + Duration::from_secs(2)), Some(2));
    }
}
