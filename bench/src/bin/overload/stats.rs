//! Outcome counts per phase and per second, latency percentiles, and the
//! text, JSON and key-value reports.

use std::fmt::Write as _;

/// Latency samples in microseconds, and probes that got no answer in time.
#[derive(Debug, Default, Clone)]
pub struct Latency {
    samples: Vec<u32>,
    /// Requests without a final response before their deadline.
    pub lost: u64,
}

/// p50, p99 and max in microseconds; `None` stands for a lost request, which
/// ranks above every answered one (a probe that never returns is as bad as
/// the slowest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<u32>,
    /// 99th percentile.
    pub p99: Option<u32>,
    /// Largest.
    pub max: Option<u32>,
}

impl Latency {
    /// One answered request.
    pub fn record(&mut self, us: u64) {
        self.samples.push(us.min(u64::from(u32::MAX)) as u32);
    }

    /// Answered plus lost.
    pub fn count(&self) -> u64 {
        self.samples.len() as u64 + self.lost
    }

    /// The percentiles, or `None` without any request.
    pub fn percentiles(&mut self) -> Option<Percentiles> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        self.samples.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest value with at least q of the samples
            // at or below it.
            let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
            self.samples.get(rank as usize - 1).copied()
        };
        Some(Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

/// What happened to the calls and probes of one phase (by the time they
/// were started).
#[derive(Debug, Clone, Default)]
pub struct Phase {
    /// The phase's name.
    pub name: String,
    /// Offered new calls per second.
    pub rate: u64,
    /// Length in seconds.
    pub seconds: u64,
    /// INVITEs sent.
    pub sent: u64,
    /// INVITEs the generator could not send on time (it fell behind by more
    /// than its catch-up window): offered, but never sent.
    pub skipped: u64,
    /// Calls answered with 2xx: the goodput.
    pub ok: u64,
    /// Calls refused with 503.
    pub rejected: u64,
    /// Calls ended by another final response.
    pub other: u64,
    /// Calls without a final response before the INVITE timeout.
    pub timeouts: u64,
    /// BYE sent -> 200 received.
    pub bye: Latency,
    /// OPTIONS sent -> final response received.
    pub options: Latency,
}

/// Counts of one second of the run (by the time things happened).
#[derive(Debug, Clone, Copy, Default)]
pub struct Second {
    /// INVITEs sent.
    pub sent: u64,
    /// 2xx to INVITE received.
    pub ok: u64,
    /// 503 to INVITE received.
    pub rejected: u64,
    /// Other final responses to INVITE received.
    pub other: u64,
    /// INVITEs timed out.
    pub timeouts: u64,
    /// 200 to BYE received.
    pub bye_ok: u64,
    /// BYEs given up.
    pub bye_lost: u64,
    /// The slowest BYE answered, µs.
    pub bye_max: u64,
    /// OPTIONS answered.
    pub opt_ok: u64,
    /// OPTIONS given up.
    pub opt_lost: u64,
    /// The slowest OPTIONS answered, µs.
    pub opt_max: u64,
}

impl Second {
    /// Every count as (JSON name, timeline column, value), in timeline
    /// order; names ending in `_us` are the slowest answers, in µs.
    pub fn fields(&self) -> [(&'static str, &'static str, u64); 11] {
        [
            ("sent", "invite", self.sent),
            ("ok", "200", self.ok),
            ("rejected", "503", self.rejected),
            ("other", "other", self.other),
            ("timeouts", "timeout", self.timeouts),
            ("bye_ok", "bye-ok", self.bye_ok),
            ("bye_lost", "bye-lost", self.bye_lost),
            ("bye_max_us", "bye-ms", self.bye_max),
            ("opt_ok", "opt-ok", self.opt_ok),
            ("opt_lost", "opt-lost", self.opt_lost),
            ("opt_max_us", "opt-ms", self.opt_max),
        ]
    }

    /// Nothing happened in this second.
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|&(_, _, v)| v == 0)
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The server.
    pub target: String,
    /// Per phase.
    pub phases: Vec<Phase>,
    /// Per second since the start.
    pub seconds: Vec<Second>,
    /// Responses that matched no call or probe of the run (late, or
    /// retransmitted after the generator forgot the call).
    pub stray: u64,
    /// Datagrams that were not a SIP response the scanner understands.
    pub unparsed: u64,
    /// Sends that failed (e.g. a full socket buffer).
    pub send_errors: u64,
}

fn ms(v: Option<u32>) -> String {
    match v {
        Some(us) => format!("{:.1} ms", f64::from(us) / 1000.0),
        None => "lost".into(),
    }
}

fn json_ms(v: Option<u32>) -> String {
    match v {
        Some(us) => format!("{:.3}", f64::from(us) / 1000.0),
        None => "null".into(),
    }
}

impl Report {
    /// The per-second timeline (with `timeline`) and the per-phase
    /// summary, as text.
    pub fn text(&mut self, timeline: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "target {}", self.target);
        if timeline {
            self.timeline(&mut s);
        }
        self.summary(&mut s);
        s
    }

    fn timeline(&self, s: &mut String) {
        let _ = write!(s, "{:>4}", "sec");
        for (_, title, _) in Second::default().fields() {
            let _ = write!(s, " {title:>8}");
        }
        s.push('\n');
        for (i, x) in self.seconds.iter().enumerate() {
            let _ = write!(s, "{i:>4}");
            for (name, _, v) in x.fields() {
                if name.ends_with("_us") {
                    let _ = write!(s, " {:>8.1}", v as f64 / 1000.0);
                } else {
                    let _ = write!(s, " {v:>8}");
                }
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "stray responses {}, unparsed datagrams {}, send errors {}",
            self.stray, self.unparsed, self.send_errors
        );
    }

    fn summary(&mut self, s: &mut String) {
        for p in &mut self.phases {
            let secs = p.seconds.max(1) as f64;
            let _ = writeln!(
                s,
                "phase {} ({}/s for {} s): sent {} ({:.0}/s, {} skipped), 200 {} ({:.0}/s), \
                 503 {}, other {}, timeouts {}",
                p.name,
                p.rate,
                p.seconds,
                p.sent,
                p.sent as f64 / secs,
                p.skipped,
                p.ok,
                p.ok as f64 / secs,
                p.rejected,
                p.other,
                p.timeouts
            );
            for (what, l) in [("OPTIONS", &mut p.options), ("BYE", &mut p.bye)] {
                let lost = l.lost;
                let n = l.count();
                if let Some(q) = l.percentiles() {
                    let _ = writeln!(
                        s,
                        "  {what}: {n} sent, {lost} lost, p50 {}, p99 {}, max {}",
                        ms(q.p50),
                        ms(q.p99),
                        ms(q.max)
                    );
                }
            }
        }
    }

    /// The summary as `key value` lines, easy to read from a shell script:
    /// `phase.NAME.KEY VALUE`, latencies in ms (`-1`: lost).
    pub fn kv(&mut self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "stray {}", self.stray);
        let _ = writeln!(s, "unparsed {}", self.unparsed);
        let _ = writeln!(s, "send_errors {}", self.send_errors);
        for p in &mut self.phases {
            let n = &p.name;
            for (k, v) in [
                ("rate", p.rate),
                ("seconds", p.seconds),
                ("sent", p.sent),
                ("skipped", p.skipped),
                ("ok", p.ok),
                ("rejected", p.rejected),
                ("other", p.other),
                ("timeouts", p.timeouts),
            ] {
                let _ = writeln!(s, "phase.{n}.{k} {v}");
            }
            for (what, l) in [("options", &mut p.options), ("bye", &mut p.bye)] {
                let _ = writeln!(s, "phase.{n}.{what}.count {}", l.count());
                let _ = writeln!(s, "phase.{n}.{what}.lost {}", l.lost);
                if let Some(q) = l.percentiles() {
                    let v = |x: Option<u32>| {
                        x.map_or("-1".into(), |us| format!("{:.3}", f64::from(us) / 1000.0))
                    };
                    let _ = writeln!(s, "phase.{n}.{what}.p50 {}", v(q.p50));
                    let _ = writeln!(s, "phase.{n}.{what}.p99 {}", v(q.p99));
                    let _ = writeln!(s, "phase.{n}.{what}.max {}", v(q.max));
                }
            }
        }
        s
    }

    /// The whole report as JSON (latencies in ms, `null`: lost).
    pub fn json(&mut self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"target\":\"{}\",\"stray\":{},\"unparsed\":{},\"send_errors\":{},\"phases\":[",
            self.target, self.stray, self.unparsed, self.send_errors
        );
        for (i, p) in self.phases.iter_mut().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"name\":\"{}\",\"rate\":{},\"seconds\":{},\"sent\":{},\"skipped\":{},\"ok\":{},\
                 \"rejected\":{},\"other\":{},\"timeouts\":{}",
                p.name, p.rate, p.seconds, p.sent, p.skipped, p.ok, p.rejected, p.other, p.timeouts
            );
            for (what, l) in [("options", &mut p.options), ("bye", &mut p.bye)] {
                let _ = write!(
                    s,
                    ",\"{what}\":{{\"count\":{},\"lost\":{}",
                    l.count(),
                    l.lost
                );
                if let Some(q) = l.percentiles() {
                    let _ = write!(
                        s,
                        ",\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{}",
                        json_ms(q.p50),
                        json_ms(q.p99),
                        json_ms(q.max)
                    );
                }
                s.push('}');
            }
            s.push('}');
        }
        s.push_str("],\"seconds\":[");
        for (i, x) in self.seconds.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push('{');
            for (k, (name, _, v)) in x.fields().into_iter().enumerate() {
                let sep = if k > 0 { "," } else { "" };
                let _ = write!(s, "{sep}\"{name}\":{v}");
            }
            s.push('}');
        }
        s.push_str("]}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_rank_lost_requests_last() {
        let mut l = Latency::default();
        assert_eq!(l.percentiles(), None);
        for us in (1..=100).rev() {
            l.record(us * 1000);
        }
        let q = l.percentiles().unwrap();
        assert_eq!(
            (q.p50, q.p99, q.max),
            (Some(50_000), Some(99_000), Some(100_000))
        );
        l.lost = 2;
        let q = l.percentiles().unwrap();
        assert_eq!((q.p99, q.max), (None, None));
    }

    #[test]
    fn reports_render() {
        let mut r = Report {
            target: "127.0.0.1:5070".into(),
            phases: vec![Phase {
                name: "load".into(),
                rate: 10,
                seconds: 1,
                sent: 10,
                ok: 9,
                rejected: 1,
                ..Phase::default()
            }],
            seconds: vec![Second::default(); 2],
            ..Report::default()
        };
        r.phases[0].options.record(1500);
        assert!(r.kv().contains("phase.load.ok 9\n"));
        assert!(r.kv().contains("phase.load.options.p99 1.500\n"));
        assert!(r.text(true).contains("phase load (10/s for 1 s)"));
        let j = r.json();
        assert!(j.starts_with("{\"target\":\"127.0.0.1:5070\""));
        assert!(j.contains("\"p99_ms\":1.500"));
    }
}
