#!/usr/bin/env python3
"""Call-setup latency on the wire, from a packet capture of SIPp's calls.

Usage: bench/wire_latency.py CAPTURE.pcap SERVER_PORT

Reads a capture (classic pcap, Ethernet framing as tcpdump writes for
`lo`, microsecond or nanosecond timestamps) of SIPp's built-in `uac`
against a server on SERVER_PORT, and prints, one per line, the time in
microseconds from each INVITE sent to the server to the first 200 the
server sent for that INVITE (same Call-ID, CSeq method INVITE). The
timestamps are the kernel's, taken as each datagram passed the loopback
device: the server's own setup time (its wake-up, receive, work and
send), without SIPp's scheduling or its message-log writing. Calls
without both packets in the capture are left out; the count of INVITEs
and of answered ones goes to stderr.

Only IPv4/UDP datagrams are read; anything else is skipped.
"""

import re
import struct
import sys

CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", re.I | re.M)
CSEQ = re.compile(rb"^cseq[ \t]*:[ \t]*\d+[ \t]+(\S+)", re.I | re.M)


def datagrams(path):
    """(timestamp in ns, source port, destination port, payload)."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        else:
            sys.exit("wire_latency.py: not a pcap file: %s" % path)
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        if linktype != 1:
            sys.exit("wire_latency.py: link type %d, not Ethernet" % linktype)
        record = struct.Struct(endian + "IIII")
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, caplen, _ = record.unpack(rh)
            frame = f.read(caplen)
            if len(frame) < caplen:
                return
            ns = sec * 1_000_000_000 + (frac if nano else frac * 1000)
            # Ethernet (14 bytes), IPv4 only.
            if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8:
                continue
            sport, dport = struct.unpack(">HH", ip[ihl : ihl + 4])
            yield ns, sport, dport, ip[ihl + 8 :]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: wire_latency.py CAPTURE.pcap SERVER_PORT")
    path, port = sys.argv[1], int(sys.argv[2])
    sent = {}
    answered = {}
    for ns, sport, dport, payload in datagrams(path):
        first = payload.split(b"\r\n", 1)[0]
        if dport == port and first.startswith(b"INVITE "):
            m = CALL_ID.search(payload)
            if m and m.group(1) not in sent:
                sent[m.group(1)] = ns
        elif sport == port and first.startswith(b"SIP/2.0 200"):
            m, c = CALL_ID.search(payload), CSEQ.search(payload)
            if m and c and c.group(1).upper() == b"INVITE" and m.group(1) not in answered:
                answered[m.group(1)] = ns
    n = 0
    out = []
    for cid, t in answered.items():
        t0 = sent.get(cid)
        if t0 is not None and t >= t0:
            out.append("%d" % ((t - t0 + 500) // 1000))
            n += 1
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    print("wire_latency.py: %d INVITEs, %d answered with 200" % (len(sent), n), file=sys.stderr)


if __name__ == "__main__":
    main()
