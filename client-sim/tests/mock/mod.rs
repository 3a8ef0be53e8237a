//! A minimal in-process stand-in for the server, playing the arena's schema: it checks the
//! subprotocol (refusing another game's with HTTP 400 and a body naming both, like the real
//! server), answers `Hello` with `Welcome` and the arena's `World` message, and every tick
//! sends a snapshot acking the last input — a delta against the latest tick the client
//! acknowledged while that is in its one-second history, a full snapshot otherwise, as the
//! real server does, with the protocol's own `delta::diff` and checksums. It answers `Ping`
//! and closes on `Leave`. It exists to test the client library and the swarm on their own;
//! the real server is exercised end to end in the workspace's `tests/`.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ticksync_arena::{ArenaEntity, ArenaMessage, ArenaSchema, MoveDir};
use ticksync_protocol::codec::{decode_client_message, encode};
use ticksync_protocol::delta::{diff, Delta};
use ticksync_protocol::replicated::view_checksum;
use ticksync_protocol::schema::subprotocol;
use ticksync_protocol::{
    close_code, EntityId, ErrorCode, ErrorMessage, PlayerId, Pong, Tick, Welcome, WireFormat,
};
use ticksync_sim::client::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use ticksync_sim::client::tungstenite::protocol::frame::coding::CloseCode;
use ticksync_sim::client::tungstenite::protocol::CloseFrame;
use ticksync_sim::client::tungstenite::Message;
use tokio::net::{TcpListener, TcpStream};

type ClientMessage = ticksync_protocol::ClientMessage<ArenaSchema>;
type ServerMessage = ticksync_protocol::ServerMessage<ArenaSchema>;
type Entity = ticksync_protocol::Entity<ArenaEntity>;
type Snapshot = ticksync_protocol::Snapshot<ArenaEntity>;

pub const TICK_RATE_HZ: u16 = 30;
/// A player with this name is refused, to test the refusal path.
pub const REFUSED_NAME: &str = "refuse-me";
/// A player with this name gets a wrong checksum in the snapshot of [`CORRUPT_TICK`].
pub const CORRUPTED_NAME: &str = "corrupt-me";
pub const CORRUPT_TICK: Tick = 5;
/// Ticks of views the mock keeps as possible baselines: one second, like the server.
const HISTORY_TICKS: usize = TICK_RATE_HZ as usize;
/// An entity that walks along y at constant speed: dead reckoning predicts it exactly.
pub const WALKER: EntityId = EntityId(1000);
/// An entity that exists for ten ticks out of twenty: created and removed over and over.
pub const BLINKER: EntityId = EntityId(1001);
/// The world's size, in the arena's `World` message.
pub const WORLD: (u32, u32) = (2000, 1500);

/// Starts the mock on a free loopback port and returns its WebSocket URL.
pub async fn start_mock_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next_id = 1;
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(stream, next_id));
            next_id += 1;
        }
    });
    format!("ws://{addr}/ws")
}

fn binary(message: &ServerMessage) -> Message {
    Message::Binary(encode(message).unwrap().into())
}

#[allow(clippy::result_large_err)] // the signature is tungstenite's callback type
fn check_subprotocol(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let served = subprotocol::<ArenaSchema>(WireFormat::Bincode);
    let offered = request
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !offered.split(',').any(|p| p.trim() == served) {
        let refusal = ticksync_sim::client::tungstenite::http::Response::builder()
            .status(400)
            .body(Some(format!(
                "this server speaks {served}; the client offered {offered}"
            )))
            .unwrap();
        return Err(refusal);
    }
    response
        .headers_mut()
        .insert("sec-websocket-protocol", served.parse().unwrap());
    Ok(response)
}

/// One client's world and what the mock remembers of it to encode deltas.
struct MockReplication {
    player: Entity,
    /// The views sent, oldest first, at most [`HISTORY_TICKS`].
    history: VecDeque<(Tick, Vec<Entity>)>,
    /// The latest tick the client acknowledged (0: none).
    acked: Tick,
}

impl MockReplication {
    fn new(id: u32) -> Self {
        MockReplication {
            player: Entity {
                id: EntityId(id),
                state: ArenaEntity {
                    x: 0,
                    y: 0,
                    vx: 0,
                    vy: 0,
                    heading: 0,
                },
            },
            history: VecDeque::new(),
            acked: 0,
        }
    }

    fn on_ack(&mut self, tick: Tick) {
        assert!(
            tick >= self.acked,
            "acks never go back: {tick} < {}",
            self.acked
        );
        self.acked = tick;
    }

    fn on_input(&mut self, move_dir: MoveDir) {
        self.player.state.vx = i16::from(move_dir.x);
        self.player.state.vy = i16::from(move_dir.y);
    }

    fn world(&mut self, tick: Tick) -> Vec<Entity> {
        let player = &mut self.player.state;
        player.x += i32::from(player.vx);
        player.y += i32::from(player.vy);
        let t = tick as i32;
        let mut view = vec![
            self.player.clone(),
            Entity {
                id: WALKER,
                state: ArenaEntity {
                    x: 500,
                    y: 7 * t,
                    vx: 0,
                    vy: 7,
                    heading: 16384,
                },
            },
        ];
        if (tick / 10) % 2 == 0 {
            view.push(Entity {
                id: BLINKER,
                state: ArenaEntity {
                    x: t,
                    y: -t,
                    vx: 0,
                    vy: 0,
                    heading: 0,
                },
            });
        }
        view.sort_by_key(|e| e.id);
        view
    }

    /// The snapshot of `tick`: a delta against the acknowledged view if still in history.
    fn snapshot(&mut self, tick: Tick, last_input_seq: u32) -> Snapshot {
        let view = self.world(tick);
        let acked = self.acked;
        let baseline = self.history.iter().find(|(t, _)| *t == acked && acked != 0);
        let mut delta = Delta::default();
        let baseline_tick = match baseline {
            Some((baseline_tick, baseline)) => {
                diff(baseline, &view, tick - baseline_tick, &mut delta);
                *baseline_tick
            }
            None => {
                delta.created = view.clone();
                0
            }
        };
        let checksum = view_checksum(&view);
        self.history.push_back((tick, view));
        if self.history.len() > HISTORY_TICKS {
            self.history.pop_front();
        }
        Snapshot {
            tick,
            baseline_tick,
            last_input_seq,
            input_margin_100us: 0,
            checksum,
            created: delta.created,
            changed: delta.changed,
            removed: delta.removed,
        }
    }
}

async fn serve(stream: TcpStream, id: u32) {
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, check_subprotocol)
        .await
        .unwrap();
    let Some(Ok(Message::Binary(hello))) = ws.next().await else {
        return;
    };
    let ClientMessage::Hello(hello) = decode_client_message::<ArenaSchema>(&hello).unwrap() else {
        panic!("first message was not Hello")
    };
    if hello.player_name == REFUSED_NAME {
        let error = ErrorMessage {
            code: ErrorCode::RoomFull,
            message: "room is full".into(),
        };
        let _ = ws.send(binary(&ServerMessage::Error(error))).await;
        let close = CloseFrame {
            code: CloseCode::from(close_code::ROOM_FULL),
            reason: "full".into(),
        };
        let _ = ws.close(Some(close)).await;
        return;
    }
    let corrupt = hello.player_name == CORRUPTED_NAME;
    let welcome = Welcome {
        player_id: PlayerId(id),
        entity_id: Some(EntityId(id)),
        tick_rate_hz: TICK_RATE_HZ,
        tick: 0,
        resume_token: format!("{id:032x}"),
        resumed: false,
    };
    ws.send(binary(&ServerMessage::Welcome(welcome)))
        .await
        .unwrap();
    let (width, height) = WORLD;
    let world = ArenaMessage::World { width, height };
    ws.send(binary(&ServerMessage::Message(world)))
        .await
        .unwrap();

    let mut ticks = tokio::time::interval(Duration::from_secs(1) / u32::from(TICK_RATE_HZ));
    let (mut tick, mut last_input_seq) = (0u32, 0u32);
    let mut replication = MockReplication::new(id);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                tick += 1;
                let mut snapshot = replication.snapshot(tick, last_input_seq);
                if corrupt && tick == CORRUPT_TICK {
                    snapshot.checksum ^= 0x5a5a;
                }
                if ws.send(binary(&ServerMessage::Snapshot(snapshot))).await.is_err() {
                    return;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(payload))) => match decode_client_message::<ArenaSchema>(&payload) {
                    Ok(ClientMessage::Input(input)) => {
                        assert_eq!(input.seq, last_input_seq + 1, "inputs must be sequenced");
                        last_input_seq = input.seq;
                        replication.on_ack(input.ack_tick);
                        replication.on_input(input.payload.move_dir);
                    }
                    Ok(ClientMessage::Ack(ack)) => replication.on_ack(ack.tick),
                    Ok(ClientMessage::Ping(ping)) => {
                        let pong = Pong { client_time_us: ping.client_time_us, server_tick: tick };
                        let _ = ws.send(binary(&ServerMessage::Pong(pong))).await;
                    }
                    Ok(ClientMessage::Leave) => {
                        let close = CloseFrame { code: CloseCode::Normal, reason: "bye".into() };
                        let _ = ws.close(Some(close)).await;
                        // Drain until the client's close reply ends the stream.
                        while let Some(Ok(_)) = ws.next().await {}
                        return;
                    }
                    Ok(ClientMessage::Message(never)) => match never {},
                    Ok(ClientMessage::Hello(_) | ClientMessage::Resume(_)) | Err(_) => return,
                },
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}
