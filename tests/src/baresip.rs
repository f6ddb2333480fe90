//! What the baresip tests share: free ports for a baresip (it listens for
//! TLS on its SIP port plus one), and its configuration without a sound
//! card (a sine source, a file sink, G.711 only, one account without
//! registration).

use crate::free_port;
use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;

/// A port whose successor is free too: baresip listens for TLS on its SIP
/// port plus one.
pub fn port_pair() -> u16 {
    for _ in 0..50 {
        let port = free_port();
        let next = port + 1;
        if UdpSocket::bind(("127.0.0.1", next)).is_ok()
            && TcpListener::bind(("127.0.0.1", next)).is_ok()
        {
            return port;
        }
    }
    panic!("no pair of free loopback ports");
}

/// Writes baresip's `config`, `accounts` and `contacts` into `dir`: SIP
/// on `127.0.0.1:port`, and the `ctrl_tcp` interface on `ctrl` when
/// given.
pub fn configure(dir: &Path, port: u16, ctrl: Option<u16>) {
    let ctrl = ctrl
        .map(|c| format!("module\t\t\tctrl_tcp.so\nctrl_tcp_listen\t\t127.0.0.1:{c}\n"))
        .unwrap_or_default();
    let config = format!(
        "poll_method\t\tpoll\n\
         sip_listen\t\t127.0.0.1:{port}\n\
         audio_player\t\taufile,{out}\n\
         audio_source\t\tausine,440\n\
         audio_alert\t\taufile,{out}\n\
         ausrc_srate\t\t48000\n\
         auplay_srate\t\t48000\n\
         ausrc_channels\t\t2\n\
         auplay_channels\t\t2\n\
         rtp_ports\t\t{rtp}-{rtp_end}\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\tausine.so\n\
         module\t\t\taufile.so\n\
         module\t\t\tmenu.so\n\
         module\t\t\taccount.so\n\
         {ctrl}",
        out = dir.join("out.wav").display(),
        rtp = port + 2,
        rtp_end = port + 20,
    );
    fs::write(dir.join("config"), config).unwrap();
    fs::write(
        dir.join("accounts"),
        format!("<sip:alice@127.0.0.1:{port}>;regint=0\n"),
    )
    .unwrap();
    fs::write(dir.join("contacts"), "").unwrap();
}
