//! `floor-uas`: the floor of the load benchmark (`bench/load.sh`), the
//! least a UAS can do for SIPp's built-in `uac` call.
//!
//! It has no transaction, no dialog and no validation. A 200 is the
//! request's Via, From, To (given a tag), Call-ID and CSeq lines copied
//! behind a status line, with an SDP body for an INVITE; an ACK gets
//! nothing. It receives as parrot's UDP transport does (up to 8 datagrams
//! per `recvmmsg`, sleeping in the call until the first one comes) and
//! sends each response with one `sendto`. What it spends per call is
//! therefore the kernel's side of the call's five datagrams and of the
//! wake-ups between SIPp's bursts, which every server in the benchmark
//! pays as well: the CPU time per call no SIP server can go below on the
//! same machine. It is not a SIP server and must never face anything but
//! SIPp's `uac` on loopback.
//!
//! With `--parse` it also parses each request with parrot's parser
//! (`parrot::message::parse_datagram`, the whole validation every request
//! gets from parrot's transport) before answering as above: the least a
//! server pays when it validates requests as parrot does, the floor plus
//! parrot's parse.
//!
//! usage: `floor-uas [--listen IP:PORT] [--parse]` (default 127.0.0.1:5085).

use bytes::Bytes;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams per `recvmmsg`, as in parrot's UDP receiver.
const BATCH: usize = 8;
/// Room per datagram: SIPp's `uac` requests are about 500 bytes.
const SIZE: usize = 4096;

const SDP: &str = "v=0\r\no=floor 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn main() {
    let mut listen: SocketAddr = "127.0.0.1:5085"
        .parse()
        .expect("the default address parses");
    let mut parse = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--parse" {
            parse = true;
            continue;
        }
        match (arg.as_str(), args.next().and_then(|a| a.parse().ok())) {
            ("--listen", Some(addr)) => listen = addr,
            _ => {
                eprintln!("usage: floor-uas [--listen IP:PORT] [--parse]");
                std::process::exit(2);
            }
        }
    }
    let socket = match UdpSocket::bind(listen) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("floor-uas: cannot bind udp:{listen}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("floor-uas listening on udp:{listen}");
    serve(&socket, listen, parse);
}

/// Receives in batches and answers each request in turn, for ever; with
/// `parse`, answers only what parrot's parser accepts.
fn serve(socket: &UdpSocket, listen: SocketAddr, parse: bool) -> ! {
    let fd = socket.as_raw_fd();
    let contact = format!("Contact: <sip:floor@{listen}>\r\n");
    // What follows the Contact in a 200 to an INVITE, written once: the
    // floor allocates nothing per call.
    let invite_tail = format!(
        "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    );
    let mut bufs = vec![0u8; BATCH * SIZE];
    let mut out = Vec::with_capacity(2048);
    loop {
        // SAFETY: all-zero bytes are valid values of these C structs.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, ((msg, iov), name)) in msgs.iter_mut().zip(&mut iovs).zip(&mut names).enumerate() {
            iov.iov_base = bufs[i * SIZE..].as_mut_ptr().cast();
            iov.iov_len = SIZE;
            msg.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            msg.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every pointer in `msgs` points into `bufs`, `iovs` or
        // `names`, which outlive the call; the lengths are theirs.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        let Ok(n) = usize::try_from(n) else { continue };
        for (i, msg) in msgs.iter().enumerate().take(n) {
            let len = (msg.msg_len as usize).min(SIZE);
            let datagram = &bufs[i * SIZE..i * SIZE + len];
            // As parrot's transport hands a datagram to its parser: a
            // copy into a buffer of its own, parsed and validated whole.
            if parse && parrot::message::parse_datagram(Bytes::copy_from_slice(datagram)).is_err() {
                continue;
            }
            if respond(datagram, &contact, &invite_tail, &mut out) {
                // SAFETY: `out` and `names[i]` are valid for the lengths
                // given; the kernel filled `msg_namelen`.
                unsafe {
                    libc::sendto(
                        fd,
                        out.as_ptr().cast(),
                        out.len(),
                        0,
                        (&names[i] as *const libc::sockaddr_storage).cast(),
                        msg.msg_hdr.msg_namelen,
                    );
                }
            }
        }
    }
}

/// Writes the 200 for `request` into `out`, ending with `contact` and, for
/// an INVITE, `invite_tail` (its SDP body). False for an ACK (no response)
/// and for a datagram that is not a request.
fn respond(request: &[u8], contact: &str, invite_tail: &str, out: &mut Vec<u8>) -> bool {
    let Ok(text) = std::str::from_utf8(request) else {
        return false;
    };
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let method = lines
        .next()
        .and_then(|l| l.split(' ').next())
        .unwrap_or_default();
    if method.is_empty() || method == "ACK" || method.starts_with("SIP/") {
        return false;
    }
    out.clear();
    out.extend_from_slice(b"SIP/2.0 200 OK\r\n");
    for line in lines {
        let name = line.split(':').next().unwrap_or_default().trim();
        let copied = ["Via", "v", "From", "f", "Call-ID", "i", "CSeq"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        let to = name.eq_ignore_ascii_case("To") || name.eq_ignore_ascii_case("t");
        if copied || to {
            out.extend_from_slice(line.as_bytes());
            if to && !line.contains(";tag=") {
                out.extend_from_slice(b";tag=floor");
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(contact.as_bytes());
    if method == "INVITE" {
        out.extend_from_slice(invite_tail.as_bytes());
    } else {
        out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    }
    true
}
