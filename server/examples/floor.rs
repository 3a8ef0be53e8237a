//! The floor: the bare socket work of a ticksync server, with no game, no room and no
//! replication — what the performance suite divides the real server's cost by.
//!
//! It accepts WebSocket connections with the server's settings (subprotocol, 4 KiB read
//! buffer, TCP_NODELAY, 64 KiB send buffer), answers `Hello` with a `Welcome`, then every tick
//! writes each connection one snapshot frame of a given size (encoded once per tick, the same
//! `Bytes` for everyone) and reads and decodes whatever the client sends. `ticksync-sim`
//! drives it like a real server: the frames are valid full snapshots with correct checksums.
//!
//! ```sh
//! cargo run --release -p ticksync-server --example floor -- --bind 127.0.0.1:7990 --frame-bytes 170
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use ticksync_arena::ArenaSchema;
use ticksync_protocol::codec::decode_client_message;
use ticksync_protocol::ClientMessage;
use ticksync_server::net::websocket_config;
use ticksync_server::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

mod floor_common;
use floor_common::{subprotocol_answer, welcome, FloorFlags, FloorSnapshot};

/// Flags of the floor program.
#[derive(Debug, Parser)]
#[command(about = "The bare socket work of a ticksync server, for the performance floor")]
struct Args {
    #[command(flatten)]
    floor: FloorFlags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse().floor;
    let listener = TcpListener::bind(args.bind).await.context("binding")?;
    let (tick_tx, tick_rx) = watch::channel(Bytes::new());
    let snapshot = FloorSnapshot::of_size(args.frame_bytes).context("encoding the snapshot")?;
    let config = Arc::new(ServerConfig::default());
    tokio::spawn(ticker(args.tick_rate, snapshot, tick_tx));
    eprintln!("floor listening on ws://{}/ws", args.bind);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        socket2::SockRef::from(&tcp).set_send_buffer_size(config.socket_send_buffer_bytes)?;
        let ticks = tick_rx.clone();
        let config = config.clone();
        let tick_rate = args.tick_rate;
        tokio::spawn(async move {
            let _ = serve(tcp, ticks, &config, tick_rate).await;
        });
    }
}

/// Encodes one snapshot frame per tick and publishes it to every connection.
async fn ticker(tick_rate: u16, snapshot: FloorSnapshot, frames: watch::Sender<Bytes>) {
    let period = Duration::from_secs_f64(1.0 / f64::from(tick_rate.max(1)));
    let mut interval = tokio::time::interval(period);
    let mut tick = 0u32;
    loop {
        interval.tick().await;
        tick += 1;
        let mut frame = Vec::new();
        if snapshot.encode(tick, &mut frame).is_ok() {
            frames.send_replace(Bytes::from(frame));
        }
    }
}

async fn serve(
    tcp: tokio::net::TcpStream,
    mut ticks: watch::Receiver<Bytes>,
    config: &ServerConfig,
    tick_rate: u16,
) -> anyhow::Result<()> {
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        tcp,
        subprotocol_answer()?,
        Some(websocket_config(config.max_message_bytes)),
    )
    .await?;
    let (mut sink, mut stream) = ws.split();
    // Hello → Welcome.
    let Some(Ok(Message::Binary(_hello))) = stream.next().await else {
        return Ok(());
    };
    sink.send(Message::Binary(welcome(tick_rate)?.into()))
        .await?;
    let reader = async {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Binary(payload) = message {
                // Decode like the server does, so the floor pays for it too.
                if let Ok(ClientMessage::Leave) = decode_client_message::<ArenaSchema>(&payload) {
                    return;
                }
            }
        }
    };
    let writer = async {
        while ticks.changed().await.is_ok() {
            let frame = ticks.borrow_and_update().clone();
            if sink.send(Message::Binary(frame)).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
    Ok(())
}
