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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use ticksync_arena::{ArenaEntity, ArenaSchema};
use ticksync_protocol::codec::{
    decode_client_message, encode, encode_snapshot, EncodedBody, SnapshotHeader,
};
use ticksync_protocol::replicated::view_checksum;
use ticksync_protocol::schema::subprotocol;
use ticksync_protocol::{
    ClientMessage, Entity, EntityId, PlayerId, ServerMessage, Welcome, WireFormat,
};
use ticksync_server::net::websocket_config;
use ticksync_server::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// Flags of the floor program.
#[derive(Debug, Parser)]
#[command(about = "The bare socket work of a ticksync server, for the performance floor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7990")]
    bind: SocketAddr,
    /// Frames per second to every connection.
    #[arg(long, default_value_t = 30)]
    tick_rate: u16,
    /// Approximate size of each frame in bytes (the real server's downlink per snapshot).
    #[arg(long, default_value_t = 170)]
    frame_bytes: usize,
}

/// Bytes one arena entity takes in a full snapshot, to size the filler.
const ENTITY_BYTES: usize = 17;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.bind).await.context("binding")?;
    let (tick_tx, tick_rx) = watch::channel(Bytes::new());
    let entities = filler_entities(args.frame_bytes);
    let config = Arc::new(ServerConfig::default());
    tokio::spawn(ticker(args.tick_rate, entities, tick_tx));
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

/// Entities whose full snapshot is about `bytes` long.
fn filler_entities(bytes: usize) -> Vec<Entity<ArenaEntity>> {
    (0..(bytes / ENTITY_BYTES).max(1) as u32)
        .map(|i| Entity {
            id: EntityId(i + 1),
            state: ArenaEntity {
                x: 64_000 + i as i32,
                y: 64_000,
                vx: 0,
                vy: 0,
                heading: 0,
            },
        })
        .collect()
}

/// Encodes one snapshot frame per tick and publishes it to every connection.
async fn ticker(tick_rate: u16, entities: Vec<Entity<ArenaEntity>>, frames: watch::Sender<Bytes>) {
    let body = match EncodedBody::new::<ArenaEntity>(&entities, &[], &[]) {
        Ok(body) => body,
        Err(error) => return eprintln!("cannot encode: {error}"),
    };
    let checksum = view_checksum(&entities);
    let period = Duration::from_secs_f64(1.0 / f64::from(tick_rate.max(1)));
    let mut interval = tokio::time::interval(period);
    let mut tick = 0u32;
    loop {
        interval.tick().await;
        tick += 1;
        let header = SnapshotHeader {
            tick,
            baseline_tick: 0,
            last_input_seq: 0,
            input_margin_100us: 0,
            checksum,
        };
        let mut frame = Vec::new();
        if encode_snapshot(header, &body, &mut frame).is_ok() {
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
    let protocol = HeaderValue::from_str(&subprotocol::<ArenaSchema>(WireFormat::Bincode))?;
    // The closure's signature is tungstenite's handshake callback; its error type is theirs.
    #[allow(clippy::result_large_err)]
    let callback = |_: &Request, mut response: Response| {
        response
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.clone());
        Ok(response)
    };
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        tcp,
        callback,
        Some(websocket_config(config.max_message_bytes)),
    )
    .await?;
    let (mut sink, mut stream) = ws.split();
    // Hello → Welcome.
    let Some(Ok(Message::Binary(_hello))) = stream.next().await else {
        return Ok(());
    };
    let welcome = ServerMessage::<ArenaSchema>::Welcome(Welcome {
        player_id: PlayerId(1),
        entity_id: Some(EntityId(1)),
        tick_rate_hz: tick_rate,
        tick: 0,
        resume_token: String::new(),
        resumed: false,
    });
    sink.send(Message::Binary(encode(&welcome)?.into())).await?;
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
