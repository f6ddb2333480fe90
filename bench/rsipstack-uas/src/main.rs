//! `rsipstack-uas`: the rsipstack peer of the load benchmark
//! (`bench/load.sh`), written the way rsipstack's own examples
//! (`examples/client`, `src/bin/bench_ua.rs`) write a UAS:
//!
//! - an `Endpoint` on one UDP transport, driven by `endpoint.serve()`;
//! - the incoming-transaction loop: a request with a To tag goes to its
//!   dialog (`DialogLayer::match_dialog` + `handle`), an INVITE creates a
//!   server dialog (`get_or_create_server_invite`) whose `handle` runs the
//!   INVITE transaction on its own task, anything else out of dialog gets
//!   `200`;
//! - the dialog-state loop: `Calling` → `accept` with an SDP answer
//!   (`200 OK` with Contact and `Content-Type: application/sdp`); the ACK
//!   confirms the dialog inside rsipstack; BYE gets `200` from the dialog
//!   (`Terminated`), which is then removed from the dialog layer.
//!
//! usage: `rsipstack-uas [--listen IP:PORT]` (default 127.0.0.1:5080).
//! Logs: `RUST_LOG` (default `warn`).

// rsipstack's `Error` is large; its own binaries allow this too.
#![allow(clippy::result_large_err)]

use rsipstack::dialog::dialog::{Dialog, DialogState, DialogStateReceiver, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{self, Header, Method, StatusCode};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transport::{TransportLayer, udp::UdpConnection};
use rsipstack::{EndpointBuilder, Error, Result};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs on tokio's multi-thread runtime, or on a current-thread one with
/// `RSUAS_RUNTIME=current-thread` (the load benchmark measures both and
/// compares against the cheaper).
fn main() -> Result<()> {
    let mut runtime = match std::env::var("RSUAS_RUNTIME").as_deref() {
        Ok("current-thread") => tokio::runtime::Builder::new_current_thread(),
        Ok("multi-thread") | Err(_) => tokio::runtime::Builder::new_multi_thread(),
        Ok(other) => {
            return Err(Error::Error(format!(
                "RSUAS_RUNTIME={other}: current-thread or multi-thread"
            )));
        }
    };
    runtime
        .enable_all()
        .build()
        .map_err(|e| Error::Error(format!("tokio runtime: {e}")))?
        .block_on(serve())
}

async fn serve() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let listen: SocketAddr = parse_listen()?;
    let token = CancellationToken::new();
    let transport_layer = TransportLayer::new(token.clone());
    let connection =
        UdpConnection::create_connection(listen, None, Some(token.child_token())).await?;
    transport_layer.add_transport(connection.into());

    let endpoint = EndpointBuilder::new()
        .with_cancel_token(token.clone())
        .with_transport_layer(transport_layer)
        .with_user_agent("rsipstack-uas")
        .build();

    let first_addr = endpoint
        .get_addrs()
        .first()
        .cloned()
        .ok_or_else(|| Error::Error("no address found".into()))?;
    let contact = sip::Uri {
        scheme: Some(sip::Scheme::Sip),
        auth: None,
        host_with_port: first_addr.addr,
        params: vec![],
        headers: vec![],
    };
    let sdp = Arc::new(answer_sdp(listen.ip()));

    let incoming = endpoint.incoming_transactions()?;
    let dialog_layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let (state_sender, state_receiver) = dialog_layer.new_dialog_state_channel();
    eprintln!("rsipstack-uas listening on udp:{listen}");

    tokio::select! {
        _ = endpoint.serve() => {}
        r = process_incoming(dialog_layer.clone(), incoming, state_sender, contact) => r?,
        r = process_dialogs(dialog_layer.clone(), state_receiver, sdp) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    token.cancel();
    Ok(())
}

fn parse_listen() -> Result<SocketAddr> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:5080".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                listen = args
                    .next()
                    .ok_or_else(|| Error::Error("--listen needs IP:PORT".into()))?
            }
            "-h" | "--help" => {
                println!("usage: rsipstack-uas [--listen IP:PORT]");
                std::process::exit(0);
            }
            other => return Err(Error::Error(format!("unknown argument {other}"))),
        }
    }
    listen
        .parse()
        .map_err(|e| Error::Error(format!("bad --listen {listen}: {e}")))
}

/// The incoming-transaction loop of rsipstack's examples.
async fn process_incoming(
    dialog_layer: Arc<DialogLayer>,
    mut incoming: TransactionReceiver,
    state_sender: DialogStateSender,
    contact: sip::Uri,
) -> Result<()> {
    while let Some(mut tx) = incoming.recv().await {
        if tx.original.to_header()?.tag()?.is_some() {
            match dialog_layer.match_dialog(&tx) {
                Some(mut dialog) => {
                    tokio::spawn(async move { dialog.handle(&mut tx).await });
                }
                None if tx.original.method == Method::Ack => {}
                None => {
                    tx.reply(StatusCode::CallTransactionDoesNotExist).await.ok();
                }
            }
            continue;
        }
        match tx.original.method {
            Method::Invite => {
                let mut dialog = match dialog_layer.get_or_create_server_invite(
                    &tx,
                    state_sender.clone(),
                    None,
                    Some(contact.clone()),
                ) {
                    Ok(dialog) => dialog,
                    Err(_) => {
                        tx.reply(StatusCode::CallTransactionDoesNotExist).await.ok();
                        continue;
                    }
                };
                tokio::spawn(async move { dialog.handle(&mut tx).await });
            }
            Method::Ack => {}
            _ => {
                tx.reply(StatusCode::OK).await.ok();
            }
        }
    }
    Ok(())
}

/// The dialog-state loop: answer new calls, forget ended ones.
async fn process_dialogs(
    dialog_layer: Arc<DialogLayer>,
    mut states: DialogStateReceiver,
    sdp: Arc<Vec<u8>>,
) -> Result<()> {
    while let Some(state) = states.recv().await {
        match state {
            DialogState::Calling(id) => {
                if let Some(Dialog::Invite(dialog)) = dialog_layer.get_dialog(&id) {
                    let headers = vec![Header::ContentType("application/sdp".into())];
                    dialog
                        .accept(Some(headers), Some(sdp.as_ref().clone()))
                        .ok();
                }
            }
            DialogState::Terminated(id, _) => dialog_layer.remove_dialog(&id),
            _ => {}
        }
    }
    Ok(())
}

/// A fixed PCMU answer, as a UAS without media would send.
fn answer_sdp(ip: std::net::IpAddr) -> Vec<u8> {
    format!(
        "v=0\r\n\
         o=rsipstack 1 1 IN IP4 {ip}\r\n\
         s=-\r\n\
         c=IN IP4 {ip}\r\n\
         t=0 0\r\n\
         m=audio 40000 RTP/AVP 0\r\n\
         a=rtpmap:0 PCMU/8000\r\n"
    )
    .into_bytes()
}
