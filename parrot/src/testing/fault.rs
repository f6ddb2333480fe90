//! Network faults a test injects on chosen messages: loss, duplication,
//! delay (which reorders: a later message overtakes a delayed one).

use crate::message::{Message, Method};
use std::time::Duration;

/// What happens to a matching message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// It is lost.
    Drop,
    /// It arrives twice.
    Duplicate,
    /// It arrives this much later (messages behind it overtake it).
    Delay(Duration),
}

/// Which way a fault applies, seen from the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Messages the peer receives.
    Incoming,
    /// Messages the peer sends.
    Outgoing,
    /// Either.
    Both,
}

/// A fault on the next matching message(s) a peer sends or receives:
/// `Fault::drop().response(180)` loses the next 180,
/// `Fault::duplicate().request(Method::Invite).outgoing()` sends the next
/// INVITE twice, `Fault::delay(d).response(200).times(2)` holds the next
/// two 200s back by `d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) way: Way,
    method: Option<Method>,
    status: Option<u16>,
    pub(crate) times: usize,
}

impl Fault {
    fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            way: Way::Both,
            method: None,
            status: None,
            times: 1,
        }
    }

    /// Loses the message.
    pub fn drop() -> Fault {
        Fault::new(FaultKind::Drop)
    }

    /// Delivers the message twice.
    pub fn duplicate() -> Fault {
        Fault::new(FaultKind::Duplicate)
    }

    /// Delivers the message `by` later.
    pub fn delay(by: Duration) -> Fault {
        Fault::new(FaultKind::Delay(by))
    }

    /// Only requests with this method (default: any message).
    pub fn request(mut self, method: Method) -> Fault {
        self.method = Some(method);
        self.status = None;
        self
    }

    /// Only responses with this status code.
    pub fn response(mut self, status: u16) -> Fault {
        self.status = Some(status);
        self.method = None;
        self
    }

    /// Only messages the peer receives.
    pub fn incoming(mut self) -> Fault {
        self.way = Way::Incoming;
        self
    }

    /// Only messages the peer sends.
    pub fn outgoing(mut self) -> Fault {
        self.way = Way::Outgoing;
        self
    }

    /// The next `n` matching messages (default 1).
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    pub(crate) fn matches(&self, message: &Message, way: Way) -> bool {
        if self.times == 0 || (self.way != Way::Both && self.way != way) {
            return false;
        }
        match (message, &self.method, self.status) {
            (_, None, None) => true,
            (Message::Request(r), Some(m), _) => &r.method == m,
            (Message::Response(r), _, Some(s)) => r.status.as_u16() == s,
            _ => false,
        }
    }
}

/// The first pending fault that matches, used up by one.
pub(crate) fn take(faults: &mut Vec<Fault>, message: &Message, way: Way) -> Option<FaultKind> {
    let i = faults.iter().position(|f| f.matches(message, way))?;
    let kind = faults[i].kind;
    faults[i].times -= 1;
    if faults[i].times == 0 {
        faults.remove(i);
    }
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse_datagram;

    fn msg(s: &str) -> Message {
        parse_datagram(bytes::Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    #[test]
    fn faults_match_their_kind_of_message_way_and_count() {
        let ringing = msg(
            "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        );
        let mut faults = vec![
            Fault::drop().request(Method::Invite),
            Fault::duplicate().response(180).outgoing(),
            Fault::delay(Duration::from_secs(1))
                .response(180)
                .incoming()
                .times(2),
        ];
        assert_eq!(
            take(&mut faults, &ringing, Way::Outgoing),
            Some(FaultKind::Duplicate)
        );
        assert_eq!(take(&mut faults, &ringing, Way::Outgoing), None);
        let delay = Some(FaultKind::Delay(Duration::from_secs(1)));
        assert_eq!(take(&mut faults, &ringing, Way::Incoming), delay);
        assert_eq!(take(&mut faults, &ringing, Way::Incoming), delay);
        assert_eq!(take(&mut faults, &ringing, Way::Incoming), None);
        assert_eq!(faults, vec![Fault::drop().request(Method::Invite)]);
    }
}
