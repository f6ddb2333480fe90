//! `fixed-answer`: parrot doing the application work the load benchmark's
//! reference servers do (`bench/rsipstack-uas`, `bench/kamailio/uas.cfg`):
//! every INVITE gets `200 OK` with one fixed SDP answer (PCMU), made once
//! at start; the ACK is absorbed; BYE gets `200`. The offer is not read,
//! and no session timer is imposed (a caller that asks for one still gets
//! it: that is the runtime's, RFC 4028).
//!
//! The `answer` example, which `bench/load.sh` measures as `parrot`,
//! negotiates: it parses each offer, picks G.711 in the caller's order,
//! writes a fresh answer continuing the call's `o=` line, and gives every
//! call a session timer. The benchmark measures this server beside it
//! (`parrot-fixed`) so that the runtime's cost can be compared with the
//! references' for the same work.
//!
//! usage: `fixed-answer [--listen IP:PORT]` and the other options of
//! the example servers (`--shards`, logging).

use bytes::Bytes;
use clap::Parser;
use examples::cli;
use examples::listen::{TlsArgs, reachable_ip};
use parrot::prelude::*;
use parrot::sdp::{Attribute, MediaDescription, SessionDescription};
use parrot::server::{Factory, ServerBuilder};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: cli::Allocator = cli::ALLOCATOR;

/// A SIP user agent that answers every call with one fixed SDP answer.
#[derive(Debug, Parser)]
#[command(name = "fixed-answer", after_help = cli::AFTER_HELP)]
struct Args {
    /// Where to listen, UDP and TCP (a bare port means every interface)
    #[arg(long, value_name = "ADDR", default_value = cli::DEFAULT_LISTEN_TEXT,
          value_parser = cli::parse_listen)]
    listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
}

/// The handler: one value per call, holding the shared answer.
struct FixedAnswer {
    sdp: Bytes,
}

#[uas_handler]
impl FixedAnswer {
    async fn invite(&mut self, req: &Request) -> Response {
        req.reply(StatusCode::OK).sdp(self.sdp.clone())
    }

    async fn bye(&mut self, _req: &Request) -> StatusCode {
        StatusCode::OK
    }
}

/// The answer (PCMU at port 40000, as the references' answers), naming
/// `ip` (or the loopback address of its family for a wildcard) as the
/// media address; written by parrot's SDP writer, so an IPv6 address gets
/// `IP6`.
fn answer_sdp(ip: IpAddr) -> Bytes {
    let ip = reachable_ip(ip);
    let mut audio = MediaDescription::new("audio", 40000, "RTP/AVP", ["0"]);
    audio
        .attributes
        .push(Attribute::value("rtpmap", "0 PCMU/8000"));
    let mut sdp = SessionDescription::new(ip);
    sdp.media.push(audio);
    Bytes::from(sdp.to_text())
}

/// The server, with no listen address yet: every call answered with
/// `sdp`.
fn server(sdp: Bytes) -> ServerBuilder<Factory<FixedAnswer>> {
    Server::builder()
        .release_memory_with(cli::release_memory)
        .handler(move || FixedAnswer { sdp: sdp.clone() })
}

fn main() -> ExitCode {
    cli::main(|args: Args| async move {
        let sdp = answer_sdp(args.listen.ip());
        args.tls
            .listen(args.listen)?
            .apply(server(sdp))
            .bind()
            .await?
            .serve()
            .with_graceful_shutdown(cli::ctrl_c())
            .await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parrot::testing::{Failure, Kit};

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\n\
                         t=0 0\r\nm=audio 6000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

    #[tokio::test(start_paused = true)]
    async fn every_call_gets_the_fixed_answer_then_bye_200() -> Result<(), Failure> {
        let sdp = answer_sdp("192.0.2.1".parse().unwrap());
        let kit = Kit::start(server(sdp.clone())).await;
        for _ in 0..2 {
            // The offer is not read: a PCMA offer gets the PCMU answer.
            let mut call = kit.invite("sip:uas@192.0.2.1").sdp(OFFER).send().await?;
            let ok = call.expect(200).await?;
            assert_eq!(ok.body, sdp);
            assert_eq!(
                ok.headers.get("Content-Type").map(|t| t.as_str()),
                Some("application/sdp")
            );
            assert!(ok.headers.get("Contact").is_some(), "the runtime's Contact");
            assert!(
                ok.headers.get("Session-Expires").is_none(),
                "no session timer imposed"
            );
            call.ack().await?;
            call.hang_up().await?;
        }
        Ok(())
    }

    #[test]
    fn the_answer_names_the_listen_address_or_loopback() {
        let sdp = |ip: &str| {
            let text = answer_sdp(ip.parse().unwrap());
            SessionDescription::from_bytes(&text).expect("the answer parses")
        };
        let named = sdp("192.0.2.7");
        assert_eq!(named.connection.as_ref().unwrap().address, "192.0.2.7");
        assert_eq!(named.media.len(), 1);
        assert_eq!(named.media[0].port, 40000);
        assert_eq!(named.media[0].formats, ["0"]);
        let v6 = sdp("2001:db8::7");
        assert_eq!(v6.connection.as_ref().unwrap().addrtype, "IP6");
        assert_eq!(
            sdp("0.0.0.0").connection.as_ref().unwrap().address,
            "127.0.0.1"
        );
    }
}
