//! Streaming and measurement: every stream's packets sent on schedule
//! from one socket, and what comes back matched to them.

use super::*;
use crate::sip::Media;

/// When the streams start, and the measured window.
#[derive(Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) start: Instant,
    pub(crate) window_start: Instant,
    pub(crate) window_end: Instant,
}

/// One stream's state: where it sends, its counter, the send times of its
/// recent packets, and what it saw of the packets sent in the window.
pub(crate) struct Stream {
    pub(crate) remote: SocketAddr,
    pub(crate) next: Instant,
    pub(crate) counter: u32,
    pub(crate) sequence: u16,
    pub(crate) sent_at: Vec<Option<(u32, Instant)>>,
    pub(crate) sent: u64,
    pub(crate) returned: u64,
    /// Return delays of the window's packets, µs.
    pub(crate) delays: Vec<u32>,
}

/// Totals of a run.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) sent: u64,
    pub(crate) returned: u64,
    pub(crate) lost: u64,
    pub(crate) late: u64,
    pub(crate) delays: Vec<u32>,
    /// How late our own sends were against their 20 ms schedule, µs (the
    /// generator keeping up).
    pub(crate) send_lag: Vec<u32>,
    /// Datagrams back that were not one of ours (silence, concealment,
    /// RTCP...).
    pub(crate) foreign: u64,
    /// Ours, but from outside the window or whose send time was forgotten.
    pub(crate) unmatched: u64,
}

/// Streams on one thread, one socket: every 20 ms each stream sends a
/// packet (phases spread over the 20 ms); between sends, reads what comes
/// back. Stops receiving `DRAIN` after the window.
pub(crate) fn stream_all(
    media: &Media,
    remotes: &[Option<SocketAddr>],
    schedule: Schedule,
) -> Totals {
    let mut streams: Vec<Stream> = remotes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.map(|remote| Stream {
                remote,
                next: schedule.start + PTIME * (i % 20) as u32 / 20,
                counter: 0,
                sequence: (i as u16).wrapping_mul(7919),
                sent_at: vec![None; RING],
                sent: 0,
                returned: 0,
                delays: Vec::new(),
            })
        })
        .collect();
    let index: Vec<usize> = remotes
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_some())
        .map(|(i, _)| i)
        .collect();
    // Stream number -> position in `streams`.
    let mut position = vec![usize::MAX; remotes.len()];
    for (p, &i) in index.iter().enumerate() {
        position[i] = p;
    }
    let mut totals = Totals::default();
    let mut packet = [0u8; 12 + FRAME];
    packet[0] = 0x80;
    packet[1] = 0; // PCMU
    packet[12..16].copy_from_slice(MAGIC);
    for (i, b) in packet[24..].iter_mut().enumerate() {
        *b = 0x20 + (i % 64) as u8;
    }
    let stop_sending = schedule.window_end + PTIME;
    let stop = schedule.window_end + DRAIN;
    let mut buf = [0u8; 2048];
    // Streams ordered by their next send (a binary heap of (time, pos)).
    let mut due: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, usize)>> = streams
        .iter()
        .enumerate()
        .map(|(p, s)| std::cmp::Reverse((s.next, p)))
        .collect();
    loop {
        let now = Instant::now();
        if now >= stop {
            break;
        }
        // Every packet due.
        while let Some(&std::cmp::Reverse((at, p))) = due.peek() {
            if at > now || at >= stop_sending {
                break;
            }
            due.pop();
            let s = &mut streams[p];
            let i = index[p] as u32;
            packet[2..4].copy_from_slice(&s.sequence.to_be_bytes());
            packet[4..8].copy_from_slice(&s.counter.wrapping_mul(FRAME as u32).to_be_bytes());
            packet[8..12].copy_from_slice(&(0x5254_0000 | i).to_be_bytes());
            packet[16..20].copy_from_slice(&i.to_be_bytes());
            packet[20..24].copy_from_slice(&s.counter.to_be_bytes());
            let sent_now = Instant::now();
            if media.rtp.send_to(&packet, s.remote).is_ok()
                && sent_now >= schedule.window_start
                && sent_now < schedule.window_end
            {
                s.sent += 1;
                totals
                    .send_lag
                    .push(sent_now.duration_since(at).as_micros() as u32);
            }
            s.sent_at[s.counter as usize % RING] = Some((s.counter, sent_now));
            s.counter = s.counter.wrapping_add(1);
            s.sequence = s.sequence.wrapping_add(1);
            s.next = at + PTIME;
            due.push(std::cmp::Reverse((s.next, p)));
        }
        // Read until the next send is due: what is queued, then wait
        // (ppoll, microsecond precision; SO_RCVTIMEO would round up to
        // a jiffy) for more or for the time to send.
        let next = due
            .peek()
            .map(|r| r.0.0)
            .filter(|&t| t < stop_sending)
            .unwrap_or(stop)
            .min(stop);
        loop {
            let n = match media.rtp.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let wait = next.saturating_duration_since(Instant::now());
                    if wait.is_zero() {
                        break;
                    }
                    wait_readable(&media.rtp, wait);
                    continue;
                }
                Err(_) => break,
            };
            let arrived = Instant::now();
            let p = &buf[..n];
            if n != 12 + FRAME || &p[12..16] != MAGIC {
                totals.foreign += 1;
            } else {
                let i = u32::from_be_bytes(p[16..20].try_into().unwrap()) as usize;
                let c = u32::from_be_bytes(p[20..24].try_into().unwrap());
                match position.get(i).and_then(|&pos| streams.get_mut(pos)) {
                    Some(s) => match s.sent_at[c as usize % RING] {
                        Some((sent_c, at)) if sent_c == c => {
                            s.sent_at[c as usize % RING] = None;
                            if at >= schedule.window_start && at < schedule.window_end {
                                s.returned += 1;
                                s.delays.push(arrived.duration_since(at).as_micros() as u32);
                            } else {
                                totals.unmatched += 1;
                            }
                        }
                        _ => totals.unmatched += 1,
                    },
                    None => totals.foreign += 1,
                }
            }
            if arrived >= next {
                break;
            }
        }
    }
    for s in streams {
        totals.sent += s.sent;
        totals.returned += s.returned;
        totals.lost += s.sent.saturating_sub(s.returned);
        if let Some(&fastest) = s.delays.iter().min() {
            let bound = fastest + LATE.as_micros() as u32;
            totals.late += s.delays.iter().filter(|&&d| d > bound).count() as u64;
        }
        totals.delays.extend(s.delays);
    }
    totals
}

/// Waits until `socket` is readable or `wait` has passed.
pub(crate) fn wait_readable(socket: &std::net::UdpSocket, wait: Duration) {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
    };
    // SAFETY: one valid pollfd and a valid timespec, both outliving the
    // call; no signal mask.
    unsafe {
        libc::ppoll(&mut fd, 1, &timeout, std::ptr::null());
    }
}
